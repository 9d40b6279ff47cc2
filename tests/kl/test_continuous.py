"""Quirks of the continuous closed forms (the generic checks run from pairs.py).

* Same-family pairs: extreme parameters, the accuracy of the hardest pairs in their most
  cancelling directions, and the continuous Bernoulli near probs = 1/2 (torch's ``lims``
  window). References: mpmath at 50 digits on the exact float32 parameters (the same mpmath
  forms as the pair table).
* Cross-family pairs: torch's two wrong boundaries (ContinuousBernoulli || Uniform,
  Uniform || ContinuousBernoulli), shown against quadrature; the always-infinite pairs are
  exactly torch's ``_kl_*_infinity`` pairs, and broadcast; every torch cross pair between
  these families dispatches to our closed form (not the exponential-family fallback);
  boundary values of the support masks, and an overflow torch's product form does not avoid.
* The further families: every row against quadrature in float64, Kumaraswamy-Beta where
  numpyro's series truncation fails, Chi2 as a Gamma.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td

from jaxkl import distributions as jd
from jaxkl.kl import infinite as kl_infinite
from jaxkl.kl import lookup
from jaxkl.kl.positive import _kl_chi2_gamma
from tests._generators import torch64
from tests.kl import pairs_continuous as P
from tests.kl.pairs_continuous import (
    _CLASSES,
    FURTHER_PAIRS,
    quad_kl,
    quad_kl_scalar,
    support_quad_kl,
)

# (id, class, p params, q params, mpmath form, relative tolerance)
EXTREME = [
    (
        "normal-tiny-scale",
        jd.Normal,
        {"loc": 0.0, "scale": 1e-20},
        {"loc": 1e-25, "scale": 1.00001e-20},
        P._mp_kl_normal,
        1e-4,
    ),
    (
        "normal-huge-scale",
        jd.Normal,
        {"loc": 0.0, "scale": 1e20},
        {"loc": 1e20, "scale": 3e20},
        P._mp_kl_normal,
        1e-5,
    ),
    (
        "halfnormal-tiny",
        jd.HalfNormal,
        {"scale": 1e-30},
        {"scale": 1.00001e-30},
        P._mp_kl_halfnormal,
        1e-4,
    ),
    ("halfnormal-huge", jd.HalfNormal, {"scale": 1e30}, {"scale": 4e30}, P._mp_kl_halfnormal, 1e-5),
    # scale ratios whose float32 value underflows (1e-40)
    (
        "normal-ratio-underflows",
        jd.Normal,
        {"loc": 0.0, "scale": 1e-20},
        {"loc": 1.0, "scale": 1e20},
        P._mp_kl_normal,
        1e-5,
    ),
    (
        "halfnormal-ratio-underflows",
        jd.HalfNormal,
        {"scale": 1e-20},
        {"scale": 1e20},
        P._mp_kl_halfnormal,
        1e-5,
    ),
    (
        "laplace-tiny",
        jd.Laplace,
        {"loc": 0.0, "scale": 1e-30},
        {"loc": 1e-35, "scale": 1.00001e-30},
        P._mp_kl_laplace,
        1e-4,
    ),
    (
        "laplace-huge",
        jd.Laplace,
        {"loc": 0.0, "scale": 1e30},
        {"loc": 5e30, "scale": 2e30},
        P._mp_kl_laplace,
        1e-5,
    ),
    (
        "cauchy-tiny",
        jd.Cauchy,
        {"loc": 0.0, "scale": 1e-30},
        {"loc": 1e-35, "scale": 1.00001e-30},
        P._mp_kl_cauchy,
        1e-4,
    ),
    (
        "cauchy-far",
        jd.Cauchy,
        {"loc": 0.0, "scale": 1e-10},
        {"loc": 1e10, "scale": 1e10},
        P._mp_kl_cauchy,
        1e-5,
    ),
    (
        "gumbel-tiny",
        jd.Gumbel,
        {"loc": 0.0, "scale": 1e-30},
        {"loc": 1e-35, "scale": 1.00001e-30},
        P._mp_kl_gumbel,
        1e-4,
    ),
    (
        "gumbel-left-shift",
        jd.Gumbel,
        {"loc": 0.0, "scale": 1.0},
        {"loc": 50.0, "scale": 1.0},
        P._mp_kl_gumbel,
        1e-5,
    ),
    (
        "gumbel-ratio-30",
        jd.Gumbel,
        {"loc": 0.0, "scale": 30.0},
        {"loc": 0.0, "scale": 1.0},
        P._mp_kl_gumbel,
        1e-4,
    ),
    (
        "exponential-tiny-rate",
        jd.Exponential,
        {"rate": 1e-30},
        {"rate": 1.00001e-30},
        P._mp_kl_exponential,
        1e-4,
    ),
    (
        "exponential-ratio",
        jd.Exponential,
        {"rate": 1e15},
        {"rate": 1e-15},
        P._mp_kl_exponential,
        1e-5,
    ),
    (
        "gamma-conc-1e-3",
        jd.Gamma,
        {"concentration": 1e-3, "rate": 1.0},
        {"concentration": 2e-3, "rate": 3.0},
        P._mp_kl_gamma,
        1e-4,
    ),
    (
        "gamma-conc-1e-3-near",
        jd.Gamma,
        {"concentration": 1e-3, "rate": 1e-6},
        {"concentration": 1.00001e-3, "rate": 1e-6},
        P._mp_kl_gamma,
        1e-4,
    ),
    (
        "gamma-conc-1e4",
        jd.Gamma,
        {"concentration": 1e4, "rate": 1.0},
        {"concentration": 1.1e4, "rate": 1.2},
        P._mp_kl_gamma,
        1e-4,
    ),
    (
        "gamma-conc-1e4-near-shape",
        jd.Gamma,
        {"concentration": 1e4, "rate": 1e6},
        {"concentration": 1.00001e4, "rate": 1e6},
        P._mp_kl_gamma,
        1e-4,
    ),
    (
        "gamma-rates-1e-6-1e6",
        jd.Gamma,
        {"concentration": 2.0, "rate": 1e-6},
        {"concentration": 3.0, "rate": 1e6},
        P._mp_kl_gamma,
        1e-5,
    ),
    (
        "beta-conc-1e-3",
        jd.Beta,
        {"concentration1": 1e-3, "concentration0": 1e-3},
        {"concentration1": 2e-3, "concentration0": 5e-3},
        P._mp_kl_beta,
        1e-4,
    ),
    (
        "beta-conc-1e-3-near",
        jd.Beta,
        {"concentration1": 1e-3, "concentration0": 2e-3},
        {"concentration1": 1.00001e-3, "concentration0": 2e-3},
        P._mp_kl_beta,
        1e-4,
    ),
    (
        "beta-conc-1e4",
        jd.Beta,
        {"concentration1": 1e4, "concentration0": 1e4},
        {"concentration1": 1.01e4, "concentration0": 0.99e4},
        P._mp_kl_beta,
        1e-4,
    ),
    (
        "beta-mixed",
        jd.Beta,
        {"concentration1": 1e-3, "concentration0": 1e4},
        {"concentration1": 1.00001e-3, "concentration0": 1e4},
        P._mp_kl_beta,
        1e-4,
    ),
    (
        "pareto-tiny",
        jd.Pareto,
        {"scale": 1e-30, "alpha": 1e-3},
        {"scale": 0.99999e-30, "alpha": 1.00001e-3},
        P._mp_kl_pareto,
        1e-4,
    ),
    (
        "pareto-huge",
        jd.Pareto,
        {"scale": 1e30, "alpha": 1e4},
        {"scale": 1e20, "alpha": 1e-3},
        P._mp_kl_pareto,
        1e-5,
    ),
    (
        "uniform-tiny",
        jd.Uniform,
        {"low": 1e-30, "high": 2e-30},
        {"low": 0.99999e-30, "high": 2e-30},
        P._mp_kl_uniform,
        1e-4,
    ),
    (
        "uniform-huge",
        jd.Uniform,
        {"low": -1e30, "high": 1e30},
        {"low": -1e35, "high": 1e35},
        P._mp_kl_uniform,
        1e-5,
    ),
    (
        "cb-probs-1e-6",
        jd.ContinuousBernoulli,
        {"probs": 1e-6},
        {"probs": 1.00001e-6},
        P._mp_kl_cb,
        1e-4,
    ),
    (
        "cb-probs-near-1",
        jd.ContinuousBernoulli,
        {"probs": 1 - 2**-20},
        {"probs": 1 - 2**-19},
        P._mp_kl_cb,
        1e-4,
    ),
    ("cb-across", jd.ContinuousBernoulli, {"probs": 1e-6}, {"probs": 1 - 1e-6}, P._mp_kl_cb, 1e-5),
    (
        "cb-in-lims",
        jd.ContinuousBernoulli,
        {"probs": 0.4995},
        {"probs": 0.50049},
        P._mp_kl_cb,
        1e-4,
    ),
    (
        "cb-in-lims-near",
        jd.ContinuousBernoulli,
        {"probs": 0.49999},
        {"probs": 0.50001},
        P._mp_kl_cb,
        1e-4,
    ),
    (
        "cb-logits-huge",
        jd.ContinuousBernoulli,
        {"logits": 80.0},
        {"logits": 80.001},
        P._mp_kl_cb,
        1e-4,
    ),
    (
        "normal-scale-ratio-1e-30",
        jd.Normal,
        {"loc": 0.0, "scale": 1e-15},
        {"loc": 0.0, "scale": 1e15},
        P._mp_kl_normal,
        1e-5,
    ),
    (
        "gamma-rate-ratio-1e-10",
        jd.Gamma,
        {"concentration": 2.0, "rate": 1e5},
        {"concentration": 2.0, "rate": 1e-5},
        P._mp_kl_gamma,
        1e-5,
    ),
    (
        "cb-logits-opposite",
        jd.ContinuousBernoulli,
        {"logits": -60.0},
        {"logits": 70.0},
        P._mp_kl_cb,
        1e-5,
    ),
]


def _mp_params(params):
    return {k: mp.mpf(float(np.float32(v))) for k, v in params.items()}


@pytest.mark.parametrize(
    "cls,pp,qp,mp_kl,rtol", [pytest.param(*row[1:], id=row[0]) for row in EXTREME]
)
def test_extreme_parameters_are_finite_and_accurate(cls, pp, qp, mp_kl, rtol):
    mp.mp.dps = 50
    p = cls(**{k: jnp.float32(v) for k, v in pp.items()})
    q = cls(**{k: jnp.float32(v) for k, v in qp.items()})
    got = float(jd.kl_divergence(p, q))
    want = float(mp_kl(_mp_params(pp), _mp_params(qp)))
    assert np.isfinite(got), got
    assert abs(got - want) <= rtol * want, (
        f"got {got!r}, mpmath {want!r}, rel err {abs(got - want) / want:.2e}"
    )


@pytest.mark.x64
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 2.0), (-1.0, 1.0)])
@pytest.mark.parametrize("probs", [0.2, 0.5, 0.9])
def test_torch_is_wrong_for_continuous_bernoulli_against_uniform_on_the_boundary(probs, low, high):
    """[0, 1] ⊆ [low, high]: the KL is finite; torch says +inf when low == 0 or high == 1."""
    want = support_quad_kl(
        "ContinuousBernoulli", {"probs": probs}, "Uniform", {"low": low, "high": high}
    )
    assert np.isfinite(want)
    torch_value = td.kl_divergence(
        td.ContinuousBernoulli(probs=torch64(probs)), td.Uniform(torch64(low), torch64(high))
    ).item()
    assert torch_value == np.inf  # torch's deviation
    got = jd.kl_divergence(
        jd.ContinuousBernoulli(probs=jnp.float64(probs)),
        jd.Uniform(jnp.float64(low), jnp.float64(high)),
    )
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 0.5), (0.5, 1.0)])
@pytest.mark.parametrize("probs", [0.2, 0.5, 0.9])
def test_torch_is_wrong_for_uniform_against_continuous_bernoulli_on_the_boundary(probs, low, high):
    """[low, high] ⊆ [0, 1]: the KL is finite; torch says +inf when low == 0 or high == 1."""
    want = support_quad_kl(
        "Uniform", {"low": low, "high": high}, "ContinuousBernoulli", {"probs": probs}
    )
    assert np.isfinite(want)
    torch_value = td.kl_divergence(
        td.Uniform(torch64(low), torch64(high)), td.ContinuousBernoulli(probs=torch64(probs))
    ).item()
    assert torch_value == np.inf  # torch's deviation
    got = jd.kl_divergence(
        jd.Uniform(jnp.float64(low), jnp.float64(high)),
        jd.ContinuousBernoulli(probs=jnp.float64(probs)),
    )
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize(
    "p_name, pp, q_name, qp",
    [
        (
            "Uniform",
            {"low": 0.0, "high": 0.6},
            "Beta",
            {"concentration1": 0.5, "concentration0": 2.0},
        ),
        (
            "Uniform",
            {"low": 0.3, "high": 1.0},
            "Beta",
            {"concentration1": 2.0, "concentration0": 0.4},
        ),
        (
            "Uniform",
            {"low": 0.0, "high": 1.0},
            "Beta",
            {"concentration1": 0.7, "concentration0": 3.0},
        ),
        ("Uniform", {"low": 0.0, "high": 2.0}, "Gamma", {"concentration": 0.4, "rate": 1.5}),
        ("Uniform", {"low": 0.0, "high": 2.0}, "Exponential", {"rate": 1.5}),
        ("Uniform", {"low": 0.7, "high": 2.0}, "Pareto", {"scale": 0.7, "alpha": 2.5}),
        (
            "Beta",
            {"concentration1": 0.5, "concentration0": 0.5},
            "Uniform",
            {"low": 0.0, "high": 1.0},
        ),
    ],
)
def test_support_boundaries_are_finite_and_match_torch_and_quadrature(p_name, pp, q_name, qp):
    p = _CLASSES[p_name](**{k: jnp.float64(v) for k, v in pp.items()})
    q = _CLASSES[q_name](**{k: jnp.float64(v) for k, v in qp.items()})
    got = float(jd.kl_divergence(p, q))
    want_torch = td.kl_divergence(
        getattr(td, p_name)(**{k: torch64(v) for k, v in pp.items()}),
        getattr(td, q_name)(**{k: torch64(v) for k, v in qp.items()}),
    ).item()
    np.testing.assert_allclose(got, want_torch, rtol=1e-10)
    np.testing.assert_allclose(got, support_quad_kl(p_name, pp, q_name, qp), rtol=1e-7)


@pytest.mark.x64
@pytest.mark.parametrize(
    "q_name, qp, alpha_edge",
    [
        ("Exponential", {"rate": 1.3}, 1.0),
        ("Gamma", {"concentration": 2.0, "rate": 0.7}, 1.0),
        ("Normal", {"loc": 0.5, "scale": 2.0}, 2.0),
    ],
)
def test_pareto_is_infinite_exactly_up_to_the_moment_condition(q_name, qp, alpha_edge):
    alpha = np.array(
        [alpha_edge - 0.5, alpha_edge, np.nextafter(alpha_edge, 10.0), alpha_edge + 0.5]
    )
    p = jd.Pareto(jnp.float64(1.2), jnp.asarray(alpha))
    q = _CLASSES[q_name](**{k: jnp.float64(v) for k, v in qp.items()})
    got = np.asarray(jd.kl_divergence(p, q))
    want = td.kl_divergence(
        td.Pareto(torch64(1.2), torch.as_tensor(alpha)),
        getattr(td, q_name)(**{k: torch64(v) for k, v in qp.items()}),
    ).numpy()
    np.testing.assert_array_equal(np.isinf(got), [True, True, False, False])
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[2:], want[2:], rtol=1e-9)


def test_masked_pairs_have_finite_gradients_next_to_the_mask():
    """Finite entries keep finite gradients next to +inf entries.

    Gradients of the finite entries stay finite while other entries of the batch are +inf
    (the masked inputs are made safe before the logs).
    """

    def total(alpha, low):
        kl1 = jd.kl_divergence(jd.Pareto(1.0, alpha), jd.Normal(0.0, 1.0))
        kl2 = jd.kl_divergence(jd.Uniform(low, low + 1.0), jd.Gamma(0.5, 2.0))
        kl3 = jd.kl_divergence(jd.Uniform(low, low + 1.0), jd.Beta(0.5, 2.0))
        kl = jnp.concatenate([kl1, kl2, kl3])
        return jnp.sum(jnp.where(jnp.isfinite(kl), kl, 0.0))

    alpha = jnp.array([1.0, 2.0, 3.0, 5.0])
    low = jnp.array([-0.5, 0.0, 0.25, -1e-3])
    ga, gl = jax.grad(total, argnums=(0, 1))(alpha, low)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gl))
    np.testing.assert_array_equal(np.asarray(ga)[:2], 0.0)  # the +inf entries do not leak


def _torch_univariate_continuous_pairs():
    names = set(_CLASSES)
    return {
        (a.__name__, b.__name__): fn.__name__
        for (a, b), fn in td.kl._KL_REGISTRY.items()
        if a is not b and a.__name__ in names and b.__name__ in names
    }


def test_infinite_pairs_are_exactly_torchs_infinity_pairs():
    torch_inf = {
        pair
        for pair, name in _torch_univariate_continuous_pairs().items()
        if name.endswith("_infinity")
    }
    ours = {(p.__name__, q.__name__) for p, q in kl_infinite.INFINITE_PAIRS}
    assert ours == torch_inf
    for p, q in kl_infinite.INFINITE_PAIRS:
        assert lookup(p, q) is kl_infinite._kl_infinite


def test_every_torch_cross_pair_of_these_families_has_its_own_closed_form():
    pairs = _torch_univariate_continuous_pairs()
    assert len(pairs) == 59
    for p_name, q_name in pairs:
        fn = lookup(_CLASSES[p_name], _CLASSES[q_name])
        assert fn is not None, (p_name, q_name)
        home = "jaxkl.kl." + _CLASSES[p_name].__module__.rsplit(".", 1)[1]  # the group of p
        assert fn.__module__ in (home, kl_infinite.__name__), (p_name, q_name, fn)


@pytest.mark.parametrize("p_first", [True, False])
def test_infinite_pairs_broadcast_to_both_batch_shapes(p_first):
    """Torch returns p's batch shape for these pairs; ours is the broadcast of both."""
    small, big = (
        (jnp.zeros((3, 1)), jnp.zeros((4,))) if p_first else (jnp.zeros((4,)), jnp.zeros((3, 1)))
    )
    p = jd.Normal(small, 1.0)
    q = jd.Exponential(big + 2.0)
    out = jd.kl_divergence(p, q)
    assert out.shape == (3, 4) and out.dtype == jnp.float32
    assert np.all(np.isposinf(np.asarray(out)))
    out_jit = jax.jit(jd.kl_divergence)(p, q)
    assert out_jit.shape == (3, 4) and np.all(np.isposinf(np.asarray(out_jit)))


@pytest.mark.x64
def test_infinite_pairs_keep_float64():
    out = jd.kl_divergence(jd.Gumbel(jnp.zeros(2), 1.0), jd.Beta(jnp.float64(2.0), 3.0))
    assert out.dtype == jnp.float64 and out.shape == (2,)


@pytest.mark.x64
def test_gamma_gumbel_does_not_overflow_where_torch_does():
    """Gamma || Gumbel does not overflow where torch's product form does.

    Torch forms exp(mu/beta) * (1 + 1/(rate beta))^(-k) as a product: exp(720) overflows to
    +inf although the KL (~1e233) is finite. Reference: mpmath quadrature at 50 digits.
    """
    k, r, mu, beta = 60.0, 0.05, 720.0, 1.0
    torch_value = td.kl_divergence(
        td.Gamma(torch64(k), torch64(r)), td.Gumbel(torch64(mu), torch64(beta))
    ).item()
    assert torch_value == np.inf
    got = float(jd.kl_divergence(jd.Gamma(jnp.float64(k), r), jd.Gumbel(jnp.float64(mu), beta)))
    with mp.workdps(50):
        k_, r_, mu_, b_ = (mp.mpf(v) for v in (k, r, mu, beta))

        def log_p(x):
            return k_ * mp.log(r_) + (k_ - 1) * mp.log(x) - r_ * x - mp.loggamma(k_)

        def integrand(x):
            z = (x - mu_) / b_
            return mp.exp(log_p(x)) * (log_p(x) + mp.log(b_) + z + mp.exp(-z))

        want = mp.quad(integrand, [0, k_ / r_ / 4, k_ / r_, 4 * k_ / r_, mp.inf])
    np.testing.assert_allclose(got, float(want), rtol=1e-10)


ROWS = [pytest.param(row, id=row.name) for row in FURTHER_PAIRS]


@pytest.mark.x64
@pytest.mark.parametrize("row", ROWS)
def test_closed_form_matches_quadrature_in_float64(row):
    pp, qp = row.params(np.random.default_rng(11))
    p = row.make_p({k: jnp.asarray(v, jnp.float64) for k, v in pp.items()})
    q = row.make_q({k: jnp.asarray(v, jnp.float64) for k, v in qp.items()})
    got = np.asarray(jd.kl_divergence(p, q), np.float64).reshape(-1)[::3]  # 4 of the 12 entries
    shape = np.broadcast_shapes(*(np.shape(v) for v in list(pp.values()) + list(qp.values())))

    def sub(d):
        return {k: np.broadcast_to(v, shape).reshape(-1)[::3] for k, v in d.items()}

    want = quad_kl(row.p_type, row.q_type)(sub(pp), sub(qp))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


# -- Kumaraswamy-Beta -------------------------------------------------------------------------

#: parameters where the series E[log(1 - X)] = -sum_m (b/m) B(1 + m/a, b) converges slowly
#: (small b): numpyro's truncation of it is off by far more than 1%
_HARD = [(0.5, 0.2, 1.5, 2.0), (5.0, 0.1, 1.5, 2.0), (0.3, 0.05, 0.5, 3.0), (2.0, 0.3, 0.5, 4.0)]


@pytest.mark.parametrize("a, b, alpha, beta", _HARD)
def test_kumaraswamy_beta_matches_quadrature_where_a_truncated_series_fails(a, b, alpha, beta):
    want = quad_kl_scalar(
        "Kumaraswamy",
        {"concentration1": a, "concentration0": b},
        "Beta",
        {"concentration1": alpha, "concentration0": beta},
    )
    got = float(jd.kl_divergence(jd.Kumaraswamy(a, b), jd.Beta(alpha, beta)))
    assert abs(got - want) <= 2e-6 * want, (got, want)


def test_numpyros_truncated_series_is_off_at_those_parameters():
    """Documents why the series is not ported: numpyro's Kumaraswamy-Beta KL, float32."""
    dist = pytest.importorskip("numpyro.distributions")
    worst = 0.0
    for a, b, alpha, beta in _HARD:
        want = quad_kl_scalar(
            "Kumaraswamy",
            {"concentration1": a, "concentration0": b},
            "Beta",
            {"concentration1": alpha, "concentration0": beta},
        )
        with jax.numpy_dtype_promotion("standard"):  # numpyro mixes int and float arrays
            theirs = float(dist.kl_divergence(dist.Kumaraswamy(a, b), dist.Beta(alpha, beta)))
        worst = max(worst, abs(theirs - want) / want)
    assert worst > 0.05


def test_kumaraswamy_beta_agrees_with_monte_carlo():
    """Moderate parameters (float32 samples resolve 1 - X): within 5 standard errors."""
    p = jd.Kumaraswamy(jnp.array([0.7, 2.0, 3.5]), jnp.array([1.5, 3.0, 0.8]))
    q = jd.Beta(jnp.array([1.2, 0.6, 2.5]), jnp.array([2.0, 1.5, 0.9]))
    x = p.sample(jax.random.key(0), (40000,))
    d = np.asarray(p.log_prob(x) - q.log_prob(x), np.float64)
    kl = np.asarray(jd.kl_divergence(p, q), np.float64)
    mean, se = d.mean(0), d.std(0) / np.sqrt(d.shape[0])
    assert np.all(np.abs(mean - kl) <= 5 * se), (kl, mean, se)


def test_kumaraswamy_beta_vanishes_where_the_families_coincide():
    # Kumaraswamy(1, b) = Beta(1, b) and Kumaraswamy(a, 1) = Beta(a, 1)
    b = jnp.array([0.2, 1.0, 3.0, 40.0])
    np.testing.assert_allclose(
        jd.kl_divergence(jd.Kumaraswamy(1.0, b), jd.Beta(1.0, b)), 0.0, atol=2e-6
    )
    np.testing.assert_allclose(
        jd.kl_divergence(jd.Kumaraswamy(b, 1.0), jd.Beta(b, 1.0)), 0.0, atol=2e-6
    )


# -- edges and dispatch --------------------------------------------------------------------------


def test_weibull_gamma_with_unit_concentrations_is_the_exponential_kl():
    lam = jnp.array([0.5, 1.3, 4.0])
    rate = jnp.array([2.0, 0.5, 0.3])
    got = jd.kl_divergence(jd.Weibull(lam, 1.0), jd.Gamma(1.0, rate))
    want = jd.kl_divergence(jd.Exponential(1 / lam), jd.Exponential(rate))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(
        jd.kl_divergence(jd.Weibull(lam, 1.0), jd.Gamma(1.0, 1 / lam)), 0.0, atol=1e-7
    )


def test_chi_and_chi2_kls_agree():
    # X -> X^2 is a bijection of [0, inf): the KL is the same
    kp, kq = jnp.array([0.7, 3.0, 12.0]), jnp.array([2.0, 3.3, 5.0])
    np.testing.assert_allclose(
        jd.kl_divergence(jd.Chi(kp), jd.Chi(kq)),
        jd.kl_divergence(jd.Chi2(kp), jd.Chi2(kq)),
        rtol=1e-6,
    )


def test_chi2_pairs_dispatch_to_their_registration_without_ambiguity():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for tp, tq in ((jd.Chi2, jd.Chi2), (jd.Chi2, jd.Gamma), (jd.Gamma, jd.Chi2)):
            assert lookup(tp, tq) is _kl_chi2_gamma


# -- extreme parameters -------------------------------------------------------------------------

_EXTREME = [
    (jd.LogNormal(1e3, 1e-3), jd.LogNormal(-1e3, 1e3)),
    (jd.LogitNormal(30.0, 1e-4), jd.LogitNormal(-30.0, 50.0)),
    (jd.InverseGamma(1e-3, 1e4), jd.InverseGamma(1e4, 1e-3)),
    (jd.Chi2(1e-3), jd.Chi2(1e4)),
    (jd.Chi2(1e4), jd.Gamma(1e-2, 1e-3)),
    (jd.Gamma(1e-3, 1e3), jd.Chi2(1e3)),
    (jd.Chi(1e-3), jd.Chi(1e4)),
    (jd.Weibull(1e-3, 50.0), jd.Weibull(1e3, 0.05)),
    (jd.Weibull(1e3, 0.1), jd.Gamma(1e-2, 1e-3)),
    (jd.Moyal(1e3, 1e-3), jd.Moyal(-10.0, 1e3)),
    (jd.Kumaraswamy(1e-2, 1e3), jd.Beta(1e3, 1e-2)),
    (jd.Kumaraswamy(1e3, 1e-2), jd.Beta(1e-2, 1e3)),
]


@pytest.mark.parametrize(
    "p, q",
    [
        pytest.param(p, q, id=f"{type(p).__name__}-{type(q).__name__}-{i}")
        for i, (p, q) in enumerate(_EXTREME)
    ],
)
def test_extreme_parameters_give_a_finite_non_negative_kl(p, q):
    value = float(jd.kl_divergence(p, q))
    assert np.isfinite(value) and value >= 0, value
