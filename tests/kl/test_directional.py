"""Directional KL quirks.

Directional KL quirks: float32 accuracy near p = q and for extreme concentrations
against mpmath at 50 digits, dimensions d in {2, 3, 5, 16, 128}, finite gradients at
kappa = 0, and TensorFlow Probability's JAX substrate as a further reference (float64).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import distributions as jd

DIMS = [2, 3, 5, 16, 128]


def _mp_vmf_kl_uniform(d, k):
    """Kappa A_nu - log(Gamma(nu+1) (2/kappa)^nu I_nu(kappa)) at 50 digits."""
    with mp.workdps(50):
        k = mp.mpf(k)
        nu = mp.mpf(d) / 2 - 1
        i0, i1 = mp.besseli(nu, k), mp.besseli(nu + 1, k)
        return float(k * i1 / i0 - mp.log(mp.gamma(nu + 1) * (2 / k) ** nu * i0))


def _mp_ps_kl_uniform(d, k):
    with mp.workdps(50):
        k = mp.mpf(k)
        b = mp.mpf(d - 1) / 2
        out = mp.loggamma(2 * b + k) - mp.loggamma(2 * b) - mp.loggamma(b + k) + mp.loggamma(b)
        return float(out - k * (mp.digamma(2 * b + k) - mp.digamma(b + k)))


def _mp_vm_kl(lp, kp, lq, kq):
    with mp.workdps(50):
        lp, kp, lq, kq = (mp.mpf(v) for v in (lp, kp, lq, kq))
        a = mp.besseli(1, kp) / mp.besseli(0, kp)
        return float(
            mp.log(mp.besseli(0, kq) / mp.besseli(0, kp)) + a * (kp - kq * mp.cos(lp - lq))
        )


def _f64(x):
    return np.asarray(x, np.float64)


def _e(d):
    v = np.zeros(d, np.float32)
    v[-1] = 1.0
    return jnp.asarray(v)


_VM_KL = jax.jit(lambda a, b, c, d: jd.kl_divergence(jd.VonMises(a, b), jd.VonMises(c, d)))


@pytest.mark.parametrize("kappa", [0.01, 0.5, 9.5, 50.0, 1e3, 1e5])
def test_vonmises_kl_float32_accuracy_near_equal_at_many_concentrations(kappa):
    eps = np.array([1e-1, 1e-2, 1e-3, 1e-4, 1e-5, -1e-5])
    lp = jnp.full(eps.shape, 0.3, jnp.float32)
    kp = jnp.full(eps.shape, kappa, jnp.float32)
    lq = jnp.asarray(
        0.3 + eps / np.sqrt(kappa), jnp.float32
    )  # a location step ~ eps standard deviations
    kq = jnp.asarray(kappa * (1 + eps), jnp.float32)
    got = _f64(_VM_KL(lp, kp, lq, kq))  # one compilation for every kappa
    for i in range(eps.size):
        want = _mp_vm_kl(*(float(_f64(v)[i]) for v in (lp, kp, lq, kq)))
        assert abs(got[i] - want) <= 1e-4 * want, (kappa, eps[i], got[i], want)


@pytest.mark.parametrize("d", DIMS)
def test_vmf_uniform_kl_float32_matches_mpmath_from_tiny_to_huge_concentrations(d):
    ks = np.array([1e-5, 1e-3, 0.1, 1.0, 11.9, 12.1, 50.0, 1e3, 1e4, 1e6])
    k32 = jnp.asarray(ks, jnp.float32)
    got = _f64(
        jax.jit(lambda k: jd.kl_divergence(jd.VonMisesFisher(_e(d), k), jd.SphericalUniform(d)))(
            k32
        )
    )
    want = np.array([_mp_vmf_kl_uniform(d, float(k)) for k in _f64(k32)])
    np.testing.assert_allclose(got, want, rtol=1e-4)


@pytest.mark.parametrize("d", DIMS)
def test_power_spherical_uniform_kl_float32_matches_mpmath(d):
    ks = np.array([1e-5, 1e-3, 0.1, 1.0, 10.0, 80.0, 1e3, 1e6])
    k32 = jnp.asarray(ks, jnp.float32)
    got = _f64(
        jax.jit(lambda k: jd.kl_divergence(jd.PowerSpherical(_e(d), k), jd.SphericalUniform(d)))(
            k32
        )
    )
    want = np.array([_mp_ps_kl_uniform(d, float(k)) for k in _f64(k32)])
    np.testing.assert_allclose(got, want, rtol=1e-4)


@pytest.mark.parametrize("d", [3, 16, 128])
def test_power_spherical_vmf_kl_float32_matches_mpmath_for_extreme_concentrations(d):
    kp = np.array([1e-3, 1.0, 50.0, 1e4, 1e6, 1e6])
    kq = np.array([2.0, 1e-3, 40.0, 1e4, 1e6, 1e3])
    angle = 1e-3
    mq = np.zeros(d)
    mq[-1], mq[0] = math.cos(angle), math.sin(angle)
    f = jax.jit(
        lambda a, b: jd.kl_divergence(
            jd.PowerSpherical(_e(d), a), jd.VonMisesFisher(jnp.asarray(mq, jnp.float32), b)
        )
    )
    got = _f64(f(jnp.asarray(kp, jnp.float32), jnp.asarray(kq, jnp.float32)))
    # the reference is taken at the exactly normalised float32 directions
    m32 = _f64(jnp.asarray(mq, jnp.float32))
    for i in range(kp.size):
        a, b = float(np.float32(kp[i])), float(np.float32(kq[i]))
        with mp.workdps(50):
            c = mp.mpf(float(m32[-1])) / mp.sqrt(mp.fsum(mp.mpf(float(v)) ** 2 for v in m32))
            nu = mp.mpf(d) / 2 - 1
            h = mp.log(mp.gamma(nu + 1) * (2 / mp.mpf(b)) ** nu * mp.besseli(nu, b))
            to_uniform = _mp_ps_kl_uniform(d, a)
            want = to_uniform + float(h - b * c * mp.mpf(a) / (d - 1 + mp.mpf(a)))
        # KL(p || U) and the vMF terms cancel when PowerSpherical ~ vMF (d = 128, 50 vs 40:
        # KL 0.009 from terms ~ 10): float32 keeps 1e-4 of the terms' scale there
        assert abs(got[i] - want) <= 1e-4 * max(abs(want), to_uniform) + 1e-6, (
            d,
            a,
            b,
            got[i],
            want,
        )


def test_vonmises_kl_is_finite_with_finite_gradients_at_zero_and_huge_concentrations():
    kp = jnp.asarray([0.0, 1e-6, 1e4, 1e6, 3.0], jnp.float32)
    kq = jnp.asarray([2.0, 0.0, 1e6, 1e4, 3.0], jnp.float32)

    def total(a, b):
        return jnp.sum(jd.kl_divergence(jd.VonMises(0.1, a), jd.VonMises(-0.2, b)))

    value = jd.kl_divergence(jd.VonMises(0.1, kp), jd.VonMises(-0.2, kq))
    assert np.all(np.isfinite(np.asarray(value))) and np.all(np.asarray(value) >= 0)
    ga, gb = jax.jit(jax.grad(total, argnums=(0, 1)))(kp, kq)
    assert np.all(np.isfinite(np.asarray(ga))) and np.all(np.isfinite(np.asarray(gb)))
    for i in range(5):
        want = _mp_vm_kl(0.1, float(kp[i]), -0.2, float(kq[i]))
        assert abs(float(value[i]) - want) <= 1e-4 * want + 1e-6, (i, float(value[i]), want)


def test_sphere_kls_have_finite_gradients_at_zero_concentration():
    def total(k):
        p = jd.VonMisesFisher(_e(5), k)
        ps = jd.PowerSpherical(_e(5), k)
        u = jd.SphericalUniform(5)
        return jnp.sum(
            jd.kl_divergence(p, u)
            + jd.kl_divergence(ps, u)
            + jd.kl_divergence(ps, jd.VonMisesFisher(_e(5), k))
        )

    g = jax.jit(jax.grad(total))(jnp.asarray([0.0, 1e-7, 1e6], jnp.float32))
    assert np.all(np.isfinite(np.asarray(g)))


def test_kl_is_zero_when_p_is_q_or_uniform():
    u = jd.SphericalUniform(4)
    assert float(jd.kl_divergence(jd.VonMisesFisher(_e(4), 0.0), u)) == 0.0
    assert float(jd.kl_divergence(jd.PowerSpherical(_e(4), 0.0), u)) == 0.0
    vm = jd.VonMises(jnp.asarray([0.0, 2.0]), jnp.asarray([1e-3, 1e5]))
    np.testing.assert_array_equal(jd.kl_divergence(vm, vm), 0.0)


def test_event_shapes_must_match():
    with pytest.raises(ValueError, match="event shapes"):
        jd.kl_divergence(jd.VonMisesFisher(_e(3), 1.0), jd.SphericalUniform(4))


# ------------------------------------------------------------------ TFP's JAX substrate (float64)


@pytest.mark.x64
def test_matches_tensorflow_probability_jax_substrate_in_float64():
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd = tfp.distributions
    rng = np.random.default_rng(0)
    with jax.numpy_dtype_promotion("standard"):
        loc_p, loc_q = rng.uniform(-3, 3, 6), rng.uniform(-3, 3, 6)
        kp, kq = rng.uniform(0.1, 30, 6), rng.uniform(0.1, 30, 6)
        ours = jd.kl_divergence(jd.VonMises(loc_p, kp), jd.VonMises(loc_q, kq))
        theirs = tfd.kl_divergence(tfd.VonMises(loc_p, kp), tfd.VonMises(loc_q, kq))
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        for d in (3, 16):
            mu_p = rng.normal(size=(6, d))
            mu_p /= np.linalg.norm(mu_p, axis=-1, keepdims=True)
            mu_q = rng.normal(size=(6, d))
            mu_q /= np.linalg.norm(mu_q, axis=-1, keepdims=True)
            vmf_p, vmf_q = jd.VonMisesFisher(mu_p, kp), jd.VonMisesFisher(mu_q, kq)
            ps = jd.PowerSpherical(mu_p, kp)
            t_vmf_p, t_vmf_q = tfd.VonMisesFisher(mu_p, kp), tfd.VonMisesFisher(mu_q, kq)
            t_ps = tfd.PowerSpherical(mu_p, kp)
            u, tu = (
                jd.SphericalUniform(d, (6,)),
                tfd.SphericalUniform(d, batch_shape=(6,), dtype=jnp.float64),
            )
            np.testing.assert_allclose(
                jd.kl_divergence(vmf_p, u), tfd.kl_divergence(t_vmf_p, tu), rtol=1e-9
            )
            np.testing.assert_allclose(
                jd.kl_divergence(ps, u), tfd.kl_divergence(t_ps, tu), rtol=1e-9
            )
            np.testing.assert_allclose(
                jd.kl_divergence(ps, vmf_q), tfd.kl_divergence(t_ps, t_vmf_q), rtol=1e-9
            )
            np.testing.assert_allclose(vmf_p.entropy(), t_vmf_p.entropy(), rtol=1e-9)
            np.testing.assert_allclose(ps.entropy(), t_ps.entropy(), rtol=1e-9)
            x = vmf_p.sample(jax.random.key(1))
            np.testing.assert_allclose(vmf_p.log_prob(x), t_vmf_p.log_prob(x), rtol=1e-9)
            np.testing.assert_allclose(ps.log_prob(x), t_ps.log_prob(x), rtol=1e-9)
            np.testing.assert_allclose(vmf_p.mean, t_vmf_p.mean(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(ps.mean, t_ps.mean(), rtol=1e-9, atol=1e-12)
