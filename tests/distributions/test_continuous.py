"""Quirks of the univariate continuous families (the generic contract is in test_contract.py).

Also, for the further families (LogNormal ... LogitNormal): support edges, infinite moments,
Chi2 as a Gamma, moments that cancel for extreme parameters (against mpmath), the
logit-normal quadratures at a large scale, and reparameterised samples.
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

import jaxkl
from jaxkl import distributions as jd
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


@pytest.mark.parametrize(
    "make, params",
    [
        (lambda a, b: jd.LogNormal(a, b), (0.3, 0.8)),
        (lambda a, b: jd.Chi2(a * b), (2.0, 1.5)),
        (lambda a, b: jd.Chi(a * b), (2.0, 1.5)),
        (lambda a, b: jd.Weibull(a, b), (1.3, 2.0)),
        (lambda a, b: jd.Kumaraswamy(a, b), (2.0, 3.0)),
        (lambda a, b: jd.InverseGamma(a * 3, b), (2.0, 1.5)),
        (lambda a, b: jd.Moyal(a, b), (0.3, 0.8)),
        (lambda a, b: jd.LogitNormal(a, b), (0.3, 0.8)),
    ],
    ids=[
        "LogNormal",
        "Chi2",
        "Chi",
        "Weibull",
        "Kumaraswamy",
        "InverseGamma",
        "Moyal",
        "LogitNormal",
    ],
)
def test_samples_are_reparameterised(make, params):
    """d/dtheta of the sample mean matches d/dtheta of ``mean`` within Monte Carlo error."""
    a, b = (jnp.float32(v) for v in params)
    key = jax.random.key(0)
    g_mc = jax.grad(lambda a, b: jnp.mean(make(a, b).sample(key, (20000,))), argnums=(0, 1))(a, b)
    g_exact = jax.grad(lambda a, b: make(a, b).mean, argnums=(0, 1))(a, b)
    for gm, ge in zip(g_mc, g_exact):
        assert np.isfinite(float(gm))
        assert abs(float(gm) - float(ge)) <= 0.05 * abs(float(ge)) + 0.02, (float(gm), float(ge))
