"""Quirks of the directional families.

Quirks of the directional families that the generic contract tests do not cover:
von Mises entropy / mean / circular variance, normalisation by quadrature, the samplers'
distributions (Kolmogorov-Smirnov against exact CDFs) for small, moderate and huge
concentrations, SphericalUniform (no array parameters), and validation.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
import torch
from jax.experimental import checkify
from scipy import integrate, special

import jaxkl
from jaxkl import distributions as jd
from tests._generators import log_area, unit_vectors

KAPPAS = [0.0, 1e-3, 0.7, 5.0, 40.0, 1e4, 1e6]


# ------------------------------------------------------------------ von Mises


def test_vonmises_log_prob_entropy_mean_variance_match_scipy_and_torch():
    loc = np.array([0.3, -2.0, 1.0, 0.0, 3.0])
    k = np.array([1e-3, 0.7, 5.0, 40.0, 1e4])
    d = jd.VonMises(jnp.asarray(loc, jnp.float32), jnp.asarray(k, jnp.float32))
    x = np.array([0.1, -1.0, 2.5, 0.05, 3.1])
    ref = st.vonmises(k, loc=loc)
    np.testing.assert_allclose(
        d.log_prob(jnp.asarray(x, jnp.float32)), ref.logpdf(x), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-5, atol=1e-6)
    t = torch.distributions.VonMises(torch.tensor(loc), torch.tensor(k))
    np.testing.assert_allclose(d.mean, t.mean.numpy(), rtol=1e-6)
    # torch's circular variance uses a polynomial Bessel approximation (off by 5e-4 relative at
    # kappa = 1e4): compare its values at moderate kappa, and all of them with scipy's ive
    np.testing.assert_allclose(d.variance[:3], t.variance.numpy()[:3], rtol=1e-5)
    np.testing.assert_allclose(d.variance, 1 - special.ive(1, k) / special.ive(0, k), rtol=1e-5)


def test_vonmises_is_finite_for_huge_concentrations():
    d = jd.VonMises(0.0, jnp.asarray([1e4, 1e6, 1e8], jnp.float32))
    # entropy -> log(2 pi e / kappa) / 2 (a wrapped normal with variance 1/kappa)
    want = 0.5 * np.log(2 * np.pi * np.e / np.array([1e4, 1e6, 1e8]))
    np.testing.assert_allclose(d.entropy(), want, rtol=1e-4)
    assert np.all(np.isfinite(np.asarray(d.log_prob(0.0))))


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 0.7, 5.0, 40.0])
def test_vonmises_sampler_matches_the_distribution(kappa):
    x = np.asarray(
        jax.jit(lambda k: jd.VonMises(0.5, k).sample(jax.random.key(0), (4000,)))(
            jnp.float32(kappa)
        ),
        np.float64,
    )
    assert np.all((x >= -np.pi) & (x < np.pi))
    # scipy's vonmises lives on [loc - pi, loc + pi]: compare the angle relative to loc
    y = np.mod(x - 0.5 + np.pi, 2 * np.pi) - np.pi
    ref = st.vonmises(kappa) if kappa > 0 else st.uniform(-np.pi, 2 * np.pi)
    assert st.kstest(y, ref.cdf).pvalue > 1e-3


def test_vonmises_sampler_for_huge_concentrations_is_a_narrow_normal():
    k = jnp.asarray([1e4, 1e6], jnp.float32)
    x = np.asarray(jd.VonMises(0.0, k).sample(jax.random.key(1), (4000,)), np.float64)
    z = x * np.sqrt(np.asarray(k, np.float64))
    for j in range(2):
        assert st.kstest(z[:, j], st.norm.cdf).pvalue > 1e-3


# ------------------------------------------------------------------ sphere families


@pytest.mark.parametrize("d", [2, 3, 5])
def test_vmf_and_power_spherical_log_prob_integrate_to_one(d):
    """Integral over S^{d-1} as |S^{d-2}| * int f(t) (1 - t^2)^{(d-3)/2} dt, t = mu . x."""
    mu = unit_vectors(np.random.default_rng(d), d)
    for cls in (jd.VonMisesFisher, jd.PowerSpherical):
        for kappa in (0.0, 0.7, 30.0):
            dist = cls(jnp.asarray(mu), jnp.float32(kappa))
            ts = np.linspace(-1, 1, 2001)
            # a point at cosine t: x = t mu + sqrt(1 - t^2) e, e orthogonal to mu
            e = unit_vectors(np.random.default_rng(0), d)
            e = e - (e @ mu) * mu
            e /= np.linalg.norm(e)
            pts = ts[:, None] * mu + np.sqrt(1 - ts**2)[:, None] * e
            lp = np.asarray(dist.log_prob(jnp.asarray(pts, jnp.float32)), np.float64)

            def f(t, ts=ts, lp=lp):
                return np.exp(np.interp(t, ts, lp)) * (1 - t * t) ** (0.5 * (d - 3))

            total = (
                math.exp(log_area(d - 1))
                * integrate.quad(f, -1, 1, limit=400, points=[0.99], epsrel=1e-6)[0]
            )
            assert abs(total - 1) < 3e-3, (cls.__name__, kappa, total)


@pytest.mark.parametrize("d", [2, 3, 5, 16, 128])
def test_vmf_entropy_matches_scipy_and_is_finite_for_huge_concentrations(d):
    mu = unit_vectors(np.random.default_rng(1), d)
    ks = np.array([1e-3, 0.7, 5.0, 40.0, 1e3])
    got = np.asarray(
        jd.VonMisesFisher(jnp.asarray(mu, jnp.float32), jnp.asarray(ks, jnp.float32)).entropy(),
        np.float64,
    )
    want = np.array([st.vonmises_fisher(mu, k).entropy() for k in ks])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    huge = jd.VonMisesFisher(jnp.asarray(mu, jnp.float32), jnp.asarray([1e4, 1e6], jnp.float32))
    # entropy -> log|S^{d-1}| - KL, and KL ~ ((d-1)/2) log(kappa / (2 pi e)) + ... : finite and
    # decreasing
    h = np.asarray(huge.entropy())
    assert np.all(np.isfinite(h)) and h[1] < h[0]
    assert np.all(np.isfinite(np.asarray(huge.log_prob(jnp.asarray(mu, jnp.float32)))))


def _t_cdf_vmf3(kappa):
    # d = 3: t has density kappa e^{kappa t} / (2 sinh kappa) on [-1, 1]
    return lambda t: np.expm1(kappa * (t + 1)) / np.expm1(2 * kappa) if kappa > 0 else (t + 1) / 2


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 0.7, 5.0, 40.0])
def test_vmf_sampler_cosine_matches_the_exact_law_in_3d(kappa):
    mu = np.array([0.6, 0.0, 0.8])
    x = np.asarray(
        jax.jit(
            lambda k: jd.VonMisesFisher(jnp.asarray(mu, jnp.float32), k).sample(
                jax.random.key(2), (4000,)
            )
        )(jnp.float32(kappa)),
        np.float64,
    )
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-5)
    assert st.kstest(x @ mu, _t_cdf_vmf3(kappa)).pvalue > 1e-3
    # the direction orthogonal to mu is uniform: its mean is ~0
    perp = x - (x @ mu)[:, None] * mu
    assert np.all(np.abs(perp.mean(0)) < 5 * 0.5 / np.sqrt(4000) + 1e-3)


@pytest.mark.parametrize("d", [5, 16, 128])
def test_vmf_sampler_mean_matches_bessel_ratio(d):
    mu = unit_vectors(np.random.default_rng(3), d)
    k = jnp.asarray([0.5, 10.0, 200.0], jnp.float32)
    dist = jd.VonMisesFisher(jnp.asarray(mu, jnp.float32), k)
    x = np.asarray(dist.sample(jax.random.key(3), (4000,)), np.float64)
    t = x @ mu
    want = special.ive(d / 2, np.asarray(k, np.float64)) / special.ive(
        d / 2 - 1, np.asarray(k, np.float64)
    )
    se = t.std(0) / np.sqrt(t.shape[0])
    assert np.all(np.abs(t.mean(0) - want) < 5 * se + 1e-5)


def test_vmf_sampler_is_finite_and_concentrated_for_huge_kappa():
    mu = jnp.asarray([0.0, 0.0, 1.0])
    x = np.asarray(
        jd.VonMisesFisher(mu, jnp.float32(1e6)).sample(jax.random.key(4), (2000,)), np.float64
    )
    assert np.all(np.isfinite(x))
    # 1 - t ~ Exponential(kappa) in 3-D
    assert st.kstest(1e6 * (1 - x[:, 2]), st.expon.cdf).pvalue > 1e-3 or np.mean(
        1e6 * (1 - x[:, 2])
    ) == pytest.approx(1, abs=0.2)


@pytest.mark.parametrize("kappa", [0.0, 0.7, 5.0, 40.0])
def test_power_spherical_sampler_cosine_is_a_shifted_beta(kappa):
    d = 4
    mu = unit_vectors(np.random.default_rng(4), d)
    x = np.asarray(
        jax.jit(
            lambda k: jd.PowerSpherical(jnp.asarray(mu, jnp.float32), k).sample(
                jax.random.key(5), (4000,)
            )
        )(jnp.float32(kappa)),
        np.float64,
    )
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-5)
    beta = (d - 1) / 2
    assert st.kstest((x @ mu + 1) / 2, st.beta(beta + kappa, beta).cdf).pvalue > 1e-3


def test_power_spherical_rsample_has_finite_gradients():
    mu = jnp.asarray([0.0, 0.6, 0.8])

    def f(m, k):
        return jnp.sum(
            jd.PowerSpherical(m, k, validate_args=False).rsample(jax.random.key(6), (64,))[..., 2]
        )

    gm, gk = jax.jit(jax.grad(f, argnums=(0, 1)))(mu, jnp.float32(3.0))
    assert np.all(np.isfinite(np.asarray(gm))) and np.isfinite(float(gk)) and float(gk) > 0


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 5.0, 1e6])
def test_power_spherical_entropy_and_moments_are_finite_and_consistent(kappa):
    d = 3
    dist = jd.PowerSpherical(jnp.asarray([0.0, 0.0, 1.0]), jnp.float32(kappa))
    # entropy by quadrature of -log p over t (d = 3: the t-density is p(t) * 2 pi)
    a, b = 1.0 + kappa, 1.0
    log_norm = (
        (a + b) * math.log(2) + b * math.log(math.pi) + special.gammaln(a) - special.gammaln(a + b)
    )
    if kappa < 1e3:

        def f(t):
            log_density = special.xlog1py(kappa, t) - log_norm
            return 2 * np.pi * np.exp(log_density) * (log_norm - special.xlog1py(kappa, t))

        want = integrate.quad(f, -1, 1, limit=200)[0]
    else:  # t = 2z - 1, z ~ Beta(1 + kappa, 1): H = log_norm - kappa E log(1 + t)
        want = log_norm - kappa * (math.log(2) + special.digamma(a) - special.digamma(a + b))
    np.testing.assert_allclose(float(dist.entropy()), want, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(np.asarray(dist.variance)))
    np.testing.assert_allclose(float(dist.mean[2]), kappa / (d - 1 + kappa), rtol=1e-6)


# ------------------------------------------------------------------ SphericalUniform


def test_spherical_uniform_shapes_values_and_pytree():
    u = jd.SphericalUniform(3, batch_shape=(2,))
    assert u.batch_shape == (2,) and u.event_shape == (3,)
    assert jax.tree_util.tree_leaves(u) == []
    again = jax.jit(lambda v: v)(u)
    assert (
        isinstance(again, jd.SphericalUniform)
        and again.batch_shape == (2,)
        and again.dimension == 3
    )
    np.testing.assert_allclose(u.entropy(), [math.log(4 * math.pi)] * 2, rtol=1e-6)
    x = u.sample(jax.random.key(7), (5000,))
    assert x.shape == (5000, 2, 3)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(x), axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(u.log_prob(x), -math.log(4 * math.pi), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(x).mean(0), u.mean, atol=5 * np.sqrt(1 / 3 / 5000))
    np.testing.assert_allclose(np.asarray(x).var(0), u.variance, rtol=0.05)
    assert u.expand((4, 2)).batch_shape == (4, 2)
    with pytest.raises(ValueError, match="batch_shape"):
        u.expand((3,))
    # the circle and S^127: |S^1| = 2 pi, log|S^{d-1}| from scipy's gammaln
    np.testing.assert_allclose(jd.SphericalUniform(2).entropy(), math.log(2 * math.pi), rtol=1e-6)
    want = math.log(2) + 64 * math.log(math.pi) - special.gammaln(64)
    np.testing.assert_allclose(jd.SphericalUniform(128).entropy(), want, rtol=1e-6)


def test_spherical_uniform_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dimension"):
        jd.SphericalUniform(0)
    with pytest.raises(TypeError, match="dimension"):
        jd.SphericalUniform(2.5)
    with pytest.raises(ValueError, match="batch_shape"):
        jd.SphericalUniform(3, batch_shape=(-1,))


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: jd.VonMises(0.0, -0.1), "concentration"),
        (lambda: jd.VonMisesFisher(jnp.asarray([1.0, 1.0]), 1.0), "mean_direction"),
        (lambda: jd.VonMisesFisher(jnp.asarray([0.0, 1.0]), -2.0), "concentration"),
        (lambda: jd.PowerSpherical(jnp.asarray([0.0, 0.5, 0.5]), 1.0), "mean_direction"),
        (lambda: jd.PowerSpherical(jnp.asarray(1.0), 1.0), "mean_direction"),
        (lambda: jd.VonMisesFisher(jnp.zeros((2, 3)), 1.0), "mean_direction"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_mean_direction_is_a_checkify_error_under_jit():
    f = checkify.checkify(jax.jit(lambda m: jd.VonMisesFisher(m, 1.0).concentration))
    with jaxkl.value_checks():
        err, _ = f(jnp.asarray([0.0, 2.0, 0.0]))
        assert "mean_direction" in err.get()
        err, _ = f(jnp.asarray([0.0, 1.0, 0.0]))
        assert err.get() is None


def test_unit_norm_tolerance_accepts_float32_rounding():
    v = np.array([1.0, 2.0, 3.0], np.float32)
    v = v / np.linalg.norm(v)
    jd.VonMisesFisher(jnp.asarray(v), 1.0)
    jd.PowerSpherical(jnp.asarray(v), 1.0)
