"""Quirks of the continuous pairs beyond torch's registry (jaxkl/kl/continuous_extra.py).

The generic checks (torch, TFP, jit/vmap, gradients, near-equal float32 accuracy, Monte
Carlo) run from tests/kl/pairs_continuous_extra.py; here: every pair against numerical
integration, Kumaraswamy-Beta where numpyro's truncated series fails, extreme parameters,
the edges where two families coincide, and the dispatch of the Chi2 pairs.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import distributions as jd
from jaxkl.kl import lookup
from jaxkl.kl.continuous_extra import _kl_chi2_gamma
import tests.kl.pairs  # noqa: F401  (collects the row modules first)
from tests.kl.pairs_continuous_extra import PAIRS, quad_kl, quad_kl_scalar

ROWS = [pytest.param(row, id=row.name) for row in PAIRS]


@pytest.mark.x64
@pytest.mark.parametrize("row", ROWS)
def test_closed_form_matches_quadrature_in_float64(row):
    pp, qp = row.params(np.random.default_rng(11))
    p = row.make_p({k: jnp.asarray(v, jnp.float64) for k, v in pp.items()})
    q = row.make_q({k: jnp.asarray(v, jnp.float64) for k, v in qp.items()})
    got = np.asarray(jd.kl_divergence(p, q), np.float64).reshape(-1)[::3]  # 4 of the 12 entries
    shape = np.broadcast_shapes(*(np.shape(v) for v in list(pp.values()) + list(qp.values())))
    sub = lambda d: {k: np.broadcast_to(v, shape).reshape(-1)[::3] for k, v in d.items()}  # noqa: E731
    want = quad_kl(row.p_type, row.q_type)(sub(pp), sub(qp))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


# -- Kumaraswamy-Beta -------------------------------------------------------------------------

#: parameters where the series E[log(1 - X)] = -sum_m (b/m) B(1 + m/a, b) converges slowly
#: (small b): numpyro's truncation of it is off by far more than 1%
_HARD = [(0.5, 0.2, 1.5, 2.0), (5.0, 0.1, 1.5, 2.0), (0.3, 0.05, 0.5, 3.0), (2.0, 0.3, 0.5, 4.0)]


@pytest.mark.parametrize("a, b, alpha, beta", _HARD)
def test_kumaraswamy_beta_matches_quadrature_where_a_truncated_series_fails(a, b, alpha, beta):
    want = quad_kl_scalar(
        "Kumaraswamy", {"concentration1": a, "concentration0": b}, "Beta", {"concentration1": alpha, "concentration0": beta}
    )
    got = float(jd.kl_divergence(jd.Kumaraswamy(a, b), jd.Beta(alpha, beta)))
    assert abs(got - want) <= 2e-6 * want, (got, want)


def test_numpyros_truncated_series_is_off_at_those_parameters():
    """Documents why the series is not ported: numpyro's Kumaraswamy-Beta KL, float32."""
    dist = pytest.importorskip("numpyro.distributions")
    worst = 0.0
    for a, b, alpha, beta in _HARD:
        want = quad_kl_scalar(
            "Kumaraswamy", {"concentration1": a, "concentration0": b}, "Beta", {"concentration1": alpha, "concentration0": beta}
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
    np.testing.assert_allclose(jd.kl_divergence(jd.Kumaraswamy(1.0, b), jd.Beta(1.0, b)), 0.0, atol=2e-6)
    np.testing.assert_allclose(jd.kl_divergence(jd.Kumaraswamy(b, 1.0), jd.Beta(b, 1.0)), 0.0, atol=2e-6)


# -- edges and dispatch --------------------------------------------------------------------------


def test_weibull_gamma_with_unit_concentrations_is_the_exponential_kl():
    lam = jnp.array([0.5, 1.3, 4.0])
    rate = jnp.array([2.0, 0.5, 0.3])
    got = jd.kl_divergence(jd.Weibull(lam, 1.0), jd.Gamma(1.0, rate))
    want = jd.kl_divergence(jd.Exponential(1 / lam), jd.Exponential(rate))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(jd.kl_divergence(jd.Weibull(lam, 1.0), jd.Gamma(1.0, 1 / lam)), 0.0, atol=1e-7)


def test_chi_and_chi2_kls_agree():
    # X -> X^2 is a bijection of [0, inf): the KL is the same
    kp, kq = jnp.array([0.7, 3.0, 12.0]), jnp.array([2.0, 3.3, 5.0])
    np.testing.assert_allclose(jd.kl_divergence(jd.Chi(kp), jd.Chi(kq)), jd.kl_divergence(jd.Chi2(kp), jd.Chi2(kq)), rtol=1e-6)


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


@pytest.mark.parametrize("p, q", [pytest.param(p, q, id=f"{type(p).__name__}-{type(q).__name__}-{i}") for i, (p, q) in enumerate(_EXTREME)])
def test_extreme_parameters_give_a_finite_non_negative_kl(p, q):
    value = float(jd.kl_divergence(p, q))
    assert np.isfinite(value) and value >= 0, value
