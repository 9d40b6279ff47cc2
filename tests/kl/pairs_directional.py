"""Pair rows whose p is a directional family (see pairs.py for the format).

torch has no KL for these pairs, so the independent references are numerical integration
in float64 (over the circle for von Mises; for the sphere families a 1-D integral over the
cosine ``t = mu . x``, whose density on S^{d-1} carries the weight ``(1 - t^2)^{(d-3)/2}``),
with every normalising constant also integrated rather than taken from a closed form.
TensorFlow Probability's JAX substrate is compared in tests/kl/test_directional.py.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import integrate, special

from jaxkl import distributions as jd
from tests._generators import log_area, unit_vectors
from tests.kl._case import PairCase

D = 3  # event size of the sphere rows (tests/kl/test_directional.py covers other d)


# ---------------------------------------------------------------- von Mises


def _vm_params(rng):
    p = {
        "loc": rng.uniform(-3, 3, size=(3, 1)),
        "concentration": rng.uniform(0.05, 20.0, size=(3, 1)),
    }
    q = {"loc": rng.uniform(-3, 3, size=(4,)), "concentration": rng.uniform(0.05, 20.0, size=(4,))}
    return p, q


def _vm_log_density(loc, k):
    log_z = math.log(2 * math.pi) + math.log(special.i0e(k)) + k  # log(2 pi I0(k))
    return lambda th: k * np.cos(th - loc) - log_z


def _vm_reference(pp, qp):
    """KL by adaptive quadrature over one period, elementwise over the broadcast batch."""
    lp, kp, lq, kq = np.broadcast_arrays(
        pp["loc"], pp["concentration"], qp["loc"], qp["concentration"]
    )
    out = np.empty(lp.shape)
    for i in np.ndindex(lp.shape):
        fp, fq = _vm_log_density(lp[i], kp[i]), _vm_log_density(lq[i], kq[i])
        out[i] = integrate.quad(
            lambda th, fp=fp, fq=fq: np.exp(fp(th)) * (fp(th) - fq(th)),
            lp[i] - math.pi,
            lp[i] + math.pi,
            epsabs=1e-13,
            epsrel=1e-11,
            limit=200,
        )[0]
    return out


def _vm_mp_kl(p, q):
    kp, kq = p["concentration"], q["concentration"]
    a = mp.besseli(1, kp) / mp.besseli(0, kp)
    return mp.log(mp.besseli(0, kq) / mp.besseli(0, kp)) + a * (
        kp - kq * mp.cos(p["loc"] - q["loc"])
    )


# ---------------------------------------------------------------- sphere families


def _t_integral(f, d):
    """The integral over the sphere of a function of ``t = mu . x``.

    ``|S^{d-2}| * int_{-1}^{1} f(t) (1 - t^2)^{(d-3)/2} dt``: the integral over S^{d-1} of a
    function of ``t = mu . x``.
    """

    def w(t):
        return f(t) * (1.0 - t * t) ** (0.5 * (d - 3))

    return (
        math.exp(log_area(d - 1))
        * integrate.quad(w, -1.0, 1.0, epsabs=1e-14, epsrel=1e-12, limit=400, points=[0.9, 0.99])[0]
    )


def _vmf_log_kernel(k):
    return lambda t: k * (t - 1.0)  # scaled by exp(-k) for large k


def _ps_log_kernel(k):
    return lambda t: special.xlog1py(k, t) - k * math.log(2.0)  # scaled by 2^-k


def _normalised(log_kernel, d):
    log_z = math.log(_t_integral(lambda t: np.exp(log_kernel(t)), d))
    return lambda t: log_kernel(t) - log_z


def _kl_to_uniform(log_density, d):
    return _t_integral(lambda t: np.exp(log_density(t)) * (log_density(t) + log_area(d)), d)


def _sphere_reference(kernel):
    def ref(pp, qp):
        k = np.asarray(pp["concentration"])
        d = np.shape(pp["mean_direction"])[-1]
        shape = np.broadcast_shapes(k.shape, tuple(np.asarray(qp["batch_shape"]).reshape(-1)))
        k = np.broadcast_to(k, shape)
        return np.vectorize(lambda kk: _kl_to_uniform(_normalised(kernel(kk), d), d))(k)

    return ref


def _ps_vmf_reference(pp, qp):
    d = np.shape(pp["mean_direction"])[-1]
    mp_, kp = pp["mean_direction"], np.asarray(pp["concentration"])
    mq, kq = qp["mean_direction"], np.asarray(qp["concentration"])
    cos = np.sum(mp_ * mq, axis=-1)
    cos, kp, kq = np.broadcast_arrays(cos, kp, kq)
    out = np.empty(cos.shape)
    for i in np.ndindex(cos.shape):
        lp = _normalised(_ps_log_kernel(kp[i]), d)
        lq = _normalised(_vmf_log_kernel(kq[i]), d)
        neg_h = _t_integral(lambda t, lp=lp: np.exp(lp(t)) * lp(t), d)
        mean_t = _t_integral(lambda t, lp=lp: np.exp(lp(t)) * t, d)
        # E_p[log q(x)] = log C_q + kq (mu_q . E_p[x]), E_p[x] = E_p[t] mu_p by symmetry
        e_log_q = lq(1.0) - kq[i] + kq[i] * cos[i] * mean_t
        out[i] = neg_h - e_log_q
    return out


def _sphere_p_params(rng, low=0.05, high=25.0):
    return {
        "mean_direction": unit_vectors(rng, (3, 1, D)),
        "concentration": rng.uniform(low, high, size=(3, 1)),
    }


def _uniform_q(dimension=D, batch_shape=(4,)):
    return {"dimension": dimension, "batch_shape": np.asarray(batch_shape)}


def _build_uniform(d):
    return jd.SphericalUniform(
        int(np.asarray(d["dimension"])),
        tuple(int(n) for n in np.asarray(d["batch_shape"]).reshape(-1)),
    )


PAIRS = [
    PairCase(
        jd.VonMises,
        jd.VonMises,
        params=_vm_params,
        near=lambda eps: (
            {"loc": 0.3, "concentration": 2.0},
            {"loc": 0.3 + eps, "concentration": 2.0 * (1 + eps)},
        ),
        mp_kl=_vm_mp_kl,
        torch=None,
        reference=_vm_reference,
    ),
    PairCase(
        jd.VonMisesFisher,
        jd.SphericalUniform,
        params=lambda rng: (_sphere_p_params(rng), _uniform_q()),
        build_q=_build_uniform,
        torch=None,
        reference=_sphere_reference(_vmf_log_kernel),
        grad_params=("concentration",),
    ),
    PairCase(
        jd.PowerSpherical,
        jd.SphericalUniform,
        params=lambda rng: (_sphere_p_params(rng), _uniform_q()),
        build_q=_build_uniform,
        torch=None,
        reference=_sphere_reference(_ps_log_kernel),
        grad_params=("concentration",),
    ),
    PairCase(
        jd.PowerSpherical,
        jd.VonMisesFisher,
        params=lambda rng: (
            _sphere_p_params(rng),
            {
                "mean_direction": unit_vectors(rng, (4, D)),
                "concentration": rng.uniform(0.05, 25.0, size=(4,)),
            },
        ),
        torch=None,
        reference=_ps_vmf_reference,
    ),
]
