"""Quirks of the families in jaxkl/distributions/continuous_extra.py.

The contract tests run every row of cases_continuous_extra.py; here: support edges,
infinite moments, Chi2 as a Gamma, moments that cancel for extreme parameters (against
mpmath), the logit-normal quadratures at a large scale, and reparameterised samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import distributions as jd
import tests.distributions.cases  # noqa: F401,E402  (collects the row modules first)
from tests.distributions.cases_continuous_extra import LogitNormalRef  # noqa: E402


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
    grads = jax.grad(lambda ls: jnp.sum(jnp.where(jnp.isfinite(lp := jax.tree_util.tree_unflatten(treedef, ls).log_prob(x)), lp, 0.0)))(leaves)
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
    ids=["LogNormal", "Chi2", "Chi", "Weibull", "Kumaraswamy", "InverseGamma", "Moyal", "LogitNormal"],
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
