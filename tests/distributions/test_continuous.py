"""Quirks of the univariate continuous families (the generic contract is in test_contract.py).

Also, for the further families (LogNormal ... LogitNormal): support edges, infinite moments,
Chi2 as a Gamma, moments that cancel for extreme parameters (against mpmath), the
logit-normal quadratures at a large scale; and, for every row of cases_continuous.py, the
sample gradient of each parameter against the implicit (inverse-cdf) one in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td
from jax.experimental import checkify
from scipy import special, stats

import jaxkl
from jaxkl import distributions as jd
from tests.distributions.cases_continuous import CASES as CONTINUOUS_CASES
from tests.distributions.cases_continuous import LogitNormalRef


@pytest.mark.parametrize(
    "dist,outside,boundary",
    [
        (lambda: jd.HalfNormal(1.5), -0.1, 0.0),
        (lambda: jd.Exponential(2.0), -1e-3, 0.0),
        (lambda: jd.Gamma(jnp.array([0.5, 1.0, 3.0]), 2.0), -1.0, 0.0),
        (lambda: jd.Beta(jnp.array([0.5, 1.0, 3.0]), 2.0), 1.5, 1.0),
        (lambda: jd.Pareto(1.0, 2.0), 0.5, 1.0),
        (lambda: jd.Uniform(0.0, 2.0), 2.0, 0.0),
        (lambda: jd.ContinuousBernoulli(probs=jnp.array([0.1, 0.5, 0.9])), 1.1, 1.0),
    ],
)
def test_log_prob_is_minus_inf_outside_and_never_nan_on_the_support(dist, outside, boundary):
    d = dist()
    assert np.all(np.asarray(d.log_prob(jnp.float32(outside))) == -np.inf)
    assert not np.any(np.isnan(np.asarray(d.log_prob(jnp.float32(boundary)))))


def test_gamma_and_beta_samples_have_finite_reparameterised_gradients():
    def mean_sample(c):
        g = jd.Gamma(c, 1.0).sample(jax.random.key(0), (64,))
        b = jd.Beta(c, 2.0).sample(jax.random.key(1), (64,))
        return jnp.mean(g) + jnp.mean(b)

    grad = jax.grad(mean_sample)(jnp.float32(1.5))
    assert np.isfinite(float(grad)) and float(grad) != 0.0


def test_uniform_needs_low_below_high_also_under_jit():
    with pytest.raises(ValueError, match="low"):
        jd.Uniform(1.0, 0.5)
    with jaxkl.value_checks():
        err, _ = checkify.checkify(jax.jit(lambda lo, hi: jd.Uniform(lo, hi).entropy()))(1.0, 0.5)
    with pytest.raises(Exception, match="low"):
        err.throw()


def test_continuous_bernoulli_takes_exactly_one_parametrisation():
    with pytest.raises(ValueError, match="probs"):
        jd.ContinuousBernoulli()
    with pytest.raises(ValueError, match="probs"):
        jd.ContinuousBernoulli(probs=0.3, logits=0.1)


def test_continuous_bernoulli_matches_torch_inside_and_around_lims_in_float64():
    probs = np.array([1e-6, 0.2, 0.4989, 0.499, 0.4995, 0.5, 0.5005, 0.501, 0.5011, 0.8, 1 - 1e-6])
    t = td.ContinuousBernoulli(probs=torch.tensor(probs, dtype=torch.float64))
    with jax.enable_x64(True):
        d = jd.ContinuousBernoulli(probs=jnp.asarray(probs, jnp.float64))
        x = jnp.asarray([0.0, 0.3, 1.0], jnp.float64)[:, None]
        lp = np.asarray(d.log_prob(x))
        mean, var, ent, logc = (
            np.asarray(v) for v in (d.mean, d.variance, d.entropy(), d._cont_bern_log_norm())
        )
    np.testing.assert_allclose(
        lp, t.log_prob(torch.tensor(np.asarray(x))).numpy(), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(mean, t.mean.numpy(), rtol=1e-9)
    # torch's direct variance formula cancels just outside lims (1e-8 relative at 0.499; mpmath
    # agrees with ours to 1e-15 there), hence the looser tolerance
    np.testing.assert_allclose(var, t.variance.numpy(), rtol=1e-7)
    np.testing.assert_allclose(ent, t.entropy().numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(logc, t._cont_bern_log_norm().numpy(), rtol=1e-9)


def test_continuous_bernoulli_sampler_stays_in_the_unit_interval_for_extreme_logits():
    d = jd.ContinuousBernoulli(logits=jnp.array([-200.0, -1e-8, 0.0, 1e-8, 200.0]))
    x = np.asarray(d.sample(jax.random.key(0), (256,)))
    assert np.all((x >= 0) & (x <= 1)) and not np.any(np.isnan(x))


def test_pareto_mean_and_variance_are_infinite_where_torch_says_so():
    alpha = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    d = jd.Pareto(1.0, jnp.asarray(alpha, jnp.float32))
    t = td.Pareto(torch.tensor(1.0), torch.tensor(alpha, dtype=torch.float32))
    np.testing.assert_allclose(np.asarray(d.mean), t.mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(d.variance), t.variance.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "dist, outside",
    [
        (jd.LogNormal(0.0, 1.0), [-1.0, 0.0]),
        (jd.Chi2(3.0), [-1.0]),
        (jd.Chi(3.0), [-0.5]),
        (jd.Weibull(1.0, 2.0), [-0.5]),
        (jd.Kumaraswamy(2.0, 3.0), [-0.1, 1.1]),
        (jd.InverseGamma(2.0, 1.0), [-1.0, 0.0]),
        (jd.LogitNormal(0.0, 1.0), [-0.1, 0.0, 1.0, 1.5]),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, jd.Distribution) else "",
)
def test_log_prob_is_minus_inf_outside_the_support_with_finite_gradients(dist, outside):
    x = jnp.asarray(outside, jnp.float32)
    np.testing.assert_array_equal(dist.log_prob(x), -np.inf)
    leaves, treedef = jax.tree_util.tree_flatten(dist)
    grads = jax.grad(
        lambda ls: jnp.sum(
            jnp.where(
                jnp.isfinite(lp := jax.tree_util.tree_unflatten(treedef, ls).log_prob(x)), lp, 0.0
            )
        )
    )(leaves)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_chi2_is_a_gamma_with_half_rate():
    d = jd.Chi2(jnp.array([1.0, 4.0]))
    assert isinstance(d, jd.Gamma)
    np.testing.assert_array_equal(d.concentration, [0.5, 2.0])
    np.testing.assert_array_equal(d.rate, [0.5, 0.5])
    np.testing.assert_array_equal(d.df, [1.0, 4.0])


def test_inverse_gamma_moments_are_infinite_where_they_diverge():
    d = jd.InverseGamma(jnp.array([0.5, 1.5, 2.5]), 1.0)
    np.testing.assert_allclose(d.mean, [np.inf, 2.0, 1.0 / 1.5], rtol=1e-6)
    np.testing.assert_allclose(d.variance, [np.inf, np.inf, 1.0 / (1.5**2 * 0.5)], rtol=1e-6)


def test_weibull_variance_keeps_its_digits_for_large_concentrations():
    mp.mp.dps = 50
    k = np.float32(200.0)
    got = float(jd.Weibull(1.0, k).variance)
    K = mp.mpf(float(k))
    want = float(mp.gamma(1 + 2 / K) - mp.gamma(1 + 1 / K) ** 2)
    assert abs(got - want) <= 1e-5 * want, (got, want)


def test_chi_mean_matches_mpmath_for_large_df():
    mp.mp.dps = 50
    for k in (0.3, 5.0, 1e4):
        got = float(jd.Chi(np.float32(k)).mean)
        K = mp.mpf(float(np.float32(k)))
        want = float(mp.sqrt(2) * mp.gamma((K + 1) / 2) / mp.gamma(K / 2))
        assert abs(got - want) <= 1e-6 * want, (k, got, want)


@pytest.mark.x64
def test_logit_normal_quadratures_hold_at_a_large_scale():
    params = {"loc": np.array([0.5, -2.0]), "scale": np.array([6.0, 10.0])}
    ref = LogitNormalRef(params)
    d = jd.LogitNormal(jnp.asarray(params["loc"]), jnp.asarray(params["scale"]))
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-9)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-8)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-9, atol=1e-10)


# -- reparameterised samples ------------------------------------------------------------
#
# A sampler that is a monotone transform of ONE parameter-free variable (an inverse cdf, a
# location-scale map, jax.random.gamma with its implicit gradient) has, at each draw x, the
# pathwise derivative v(x) = -(dF/dtheta)(x) / f(x) (differentiate F(x(theta); theta) = u).
# v is computed here in float64 from scipy's cdf (or sf, in the upper half) by a fourth-order
# central difference in theta, and compared per draw with the sampler's own derivative at the
# same draw. Samplers of two variables (Beta: two gammas; StudentT's df: a normal and a gamma)
# have only E[dx/dtheta | x] = v(x) (d/dtheta E[g(X)] = E[g'(X) dx/dtheta] = E[g'(X) v(X)]
# for every g); there the weighted mean of dx/dtheta - v(x) is checked to be 0 within 5
# standard errors.


class _ContinuousBernoulliCdf:
    """cdf ``expm1(eta x) / expm1(eta)``, its sf and density, in float64."""

    def __init__(self, eta):
        self.eta = np.asarray(eta, np.float64)

    def cdf(self, x):
        return np.expm1(self.eta * x) / np.expm1(self.eta)

    def sf(self, x):
        return np.exp(self.eta * x) * np.expm1(self.eta * (1 - x)) / np.expm1(self.eta)

    def pdf(self, x):
        return self.eta * np.exp(self.eta * x) / np.expm1(self.eta)


class _KumaraswamyCdf:
    """cdf ``1 - (1 - x^a)^b``, its sf and density, in float64."""

    def __init__(self, p):
        self.a, self.b = p["concentration1"], p["concentration0"]

    def cdf(self, x):
        return -np.expm1(self.b * np.log1p(-(x**self.a)))

    def sf(self, x):
        return np.exp(self.b * np.log1p(-(x**self.a)))

    def pdf(self, x):
        a, b = self.a, self.b
        return a * b * x ** (a - 1) * (1 - x**a) ** (b - 1)


class _LogitNormalCdf:
    """cdf ``Phi((logit x - loc) / scale)``, its sf and density, in float64."""

    def __init__(self, p):
        self.loc, self.scale = p["loc"], p["scale"]

    def _z(self, x):
        return (np.log(x) - np.log1p(-x) - self.loc) / self.scale

    def cdf(self, x):
        return special.ndtr(self._z(x))

    def sf(self, x):
        return special.ndtr(-self._z(x))

    def pdf(self, x):
        return stats.norm.pdf(self._z(x)) / (self.scale * x * (1 - x))


def _truncnorm(p):
    lo, hi = (p["low"] - p["loc"]) / p["scale"], (p["high"] - p["loc"]) / p["scale"]
    return stats.truncnorm(lo, hi, p["loc"], p["scale"])


#: params (float64, broadcast to the samples) -> object with float64 cdf / sf / pdf, for every
#: row of cases_continuous.py (a new row without an entry fails with a KeyError)
_CDF_REFS = {
    "Normal": lambda p: stats.norm(p["loc"], p["scale"]),
    "HalfNormal": lambda p: stats.halfnorm(scale=p["scale"]),
    "Laplace": lambda p: stats.laplace(p["loc"], p["scale"]),
    "Cauchy": lambda p: stats.cauchy(p["loc"], p["scale"]),
    "Gumbel": lambda p: stats.gumbel_r(p["loc"], p["scale"]),
    "Exponential": lambda p: stats.expon(scale=1 / p["rate"]),
    "Gamma": lambda p: stats.gamma(p["concentration"], scale=1 / p["rate"]),
    "Beta": lambda p: stats.beta(p["concentration1"], p["concentration0"]),
    "Pareto": lambda p: stats.pareto(p["alpha"], scale=p["scale"]),
    "Uniform": lambda p: stats.uniform(p["low"], p["high"] - p["low"]),
    "ContinuousBernoulli-probs": lambda p: _ContinuousBernoulliCdf(special.logit(p["probs"])),
    "ContinuousBernoulli-logits": lambda p: _ContinuousBernoulliCdf(p["logits"]),
    "LogNormal": lambda p: stats.lognorm(p["scale"], scale=np.exp(p["loc"])),
    "Chi2": lambda p: stats.chi2(p["df"]),
    "Chi": lambda p: stats.chi(p["df"]),
    "Weibull": lambda p: stats.weibull_min(p["concentration"], scale=p["scale"]),
    "Kumaraswamy": _KumaraswamyCdf,
    "InverseGamma": lambda p: stats.invgamma(p["concentration"], scale=p["rate"]),
    "Moyal": lambda p: stats.moyal(p["loc"], p["scale"]),
    "LogitNormal": _LogitNormalCdf,
    "StudentT": lambda p: stats.t(p["df"], p["loc"], p["scale"]),
    "StudentT-heavy": lambda p: stats.t(p["df"], p["loc"], p["scale"]),
    "HalfCauchy": lambda p: stats.halfcauchy(scale=p["scale"]),
    "Logistic": lambda p: stats.logistic(p["loc"], p["scale"]),
    "TruncatedNormal": _truncnorm,
    "TruncatedNormal[infinite bounds]": _truncnorm,
}

#: parameters whose sampler uses two random variables: checked in conditional mean only
_IN_MEAN = {
    "Beta": ("concentration1", "concentration0"),
    "StudentT": ("df",),
    "StudentT-heavy": ("df",),
}

#: rows whose sampler calls jax.random.gamma (Beta's log-space gammas excepted): compile time
#: is most of this test's time, and these run eagerly, where JAX caches each compiled
#: primitive, so the gamma sampler and its implicit gradient compile once for all of them
#: (under jit, 3-5 s a row)
_EAGER_ROWS = frozenset(("Gamma", "Chi2", "Chi", "InverseGamma", "StudentT", "StudentT-heavy"))


def _compile_group(row):
    """None: eager; Beta: a jit of its own; every other row: ONE jit for them all (5 s)."""
    if row.name in _EAGER_ROWS:
        return None
    return "Beta" if row.name == "Beta" else "shared"


#: draws per batch element, and the sampler's key
N_REPARAM = 1024
REPARAM_SEED = 11
#: per draw |dx/dtheta - v| <= REPARAM_RTOL (|v| + median |v|): a float32 bound (about 8000
#: float32 ulps, for the rounding of the float32 sampler amplified by its conditioning and the
#: rounding of x itself); a dropped or mis-scaled gradient errs by O(|v|)
REPARAM_RTOL = 1e-3

_REPARAM_ROWS = [row for row in CONTINUOUS_CASES if row.cls.has_rsample]
_REPARAM_CACHE = {}


def _reparam_draws(row):
    """(x, the sampler's dx/dtheta per parameter, the float32 parameters as float64).

    dx/dtheta is the forward derivative along ``ones`` in that parameter: each draw depends
    on one element of each parameter, so this is the derivative draw by draw. Computed for
    the whole compile group of the row at once.
    """
    if row.name not in _REPARAM_CACHE:
        group = _compile_group(row)
        rows = [row] if group is None else [r for r in _REPARAM_ROWS if _compile_group(r) == group]
        p32 = [
            {k: jnp.asarray(v, jnp.float32) for k, v in r.params(np.random.default_rng(0)).items()}
            for r in rows
        ]

        def one(r, params):
            key = jax.random.key(REPARAM_SEED)
            x, lin = jax.linearize(lambda q: r.make(q).sample(key, (N_REPARAM,)), params)
            ones = {
                j: {k: jnp.full_like(v, float(k == j)) for k, v in params.items()} for j in params
            }
            return x, {j: lin(t) for j, t in ones.items()}

        def run(ps):
            return [one(r, p) for r, p in zip(rows, ps)]

        for r, p, (x, dx) in zip(rows, p32, (run if group is None else jax.jit(run))(p32)):
            x = np.asarray(x, np.float64)
            _REPARAM_CACHE[r.name] = (
                x,
                {k: np.asarray(v, np.float64) for k, v in dx.items()},
                {k: np.broadcast_to(np.asarray(v, np.float64), x.shape) for k, v in p.items()},
            )
    return _REPARAM_CACHE[row.name]


def _implicit_gradient(ref, x, params, name):
    """``-(dF/dtheta)(x) / f(x)`` in float64; 0 where the parameter is infinite.

    dF/dtheta by a fourth-order central difference (step 1e-6 |theta|: truncation error
    ~1e-24, rounding ~1e-10 relative) of the cdf where it is below 1/2, else of -sf.
    """
    base = ref(params)
    upper = base.cdf(x) > 0.5
    theta = params[name]
    finite = np.isfinite(theta)
    h = 1e-6 * np.where(finite, np.maximum(np.abs(theta), 1.0), 1.0)

    def lower_tail(k):
        d = ref({**params, name: np.where(finite, theta + k * h, theta)})
        return np.where(upper, -d.sf(x), d.cdf(x))

    d_cdf = (8 * (lower_tail(1) - lower_tail(-1)) - (lower_tail(2) - lower_tail(-2))) / (12 * h)
    return np.where(finite, -d_cdf / base.pdf(x), 0.0)


@pytest.mark.parametrize(
    "row, name",
    [
        pytest.param(row, name, id=f"{row.name}-{name}")
        for row in _REPARAM_ROWS
        for name in row.params(np.random.default_rng(0))
    ],
)
def test_samples_are_reparameterised(row, name):
    """Each parameter's sample gradient against the implicit one, in float64, at the same draws.

    Draw by draw within REPARAM_RTOL (a float32 bound); for two-variable samplers, the
    weighted mean of the difference within 5 standard errors (see the comment above).
    """
    x, dx, params = _reparam_draws(row)
    t = dx[name]
    v = _implicit_gradient(_CDF_REFS[row.name], x, params, name)
    assert np.all(np.isfinite(t)) and np.all(np.isfinite(v))
    m = np.median(np.abs(v), axis=0)  # per batch element; 0 only for an infinite parameter
    if name not in _IN_MEAN.get(row.name, ()):
        err = np.abs(t - v)
        bound = REPARAM_RTOL * (np.abs(v) + m)
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), (
            f"{row.name} d/d{name}: sample {x[i]:.6g} has dx/dtheta {t[i]:.6g}, "
            f"implicit {v[i]:.6g}; {np.mean(err > bound):.1%} of the draws off"
        )
        return
    # E[(dx/dtheta - v(x)) w(x)] = 0 for any w; w = v / (1 + (v/m)^2) is bounded (heavy tails)
    # and makes a dropped gradient (dx/dtheta = 0) show as -E[w v] < 0
    w = v / (1 + (v / m) ** 2)
    d = w * (t - v)
    mean, se = d.mean(0), d.std(0, ddof=1) / np.sqrt(len(d))
    z = np.abs(mean) / se
    assert np.all(z <= 5), (
        f"{row.name} d/d{name}: E[w (dx/dtheta - v)] is {z.max():.1f} standard errors from 0 "
        f"(per element: {np.round(z, 1).ravel().tolist()})"
    )
    # the check has power: a dropped gradient would be off by at least twice the tolerance
    assert np.all(np.abs((w * v).mean(0)) >= 10 * se), ((w * v).mean(0), se)
