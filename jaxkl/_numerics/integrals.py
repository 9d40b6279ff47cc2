"""Expectations without a closed form, by fixed-node quadrature rules (jittable, differentiable)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxkl import _checks


def _tanh_sinh_unit(step: float, tau_max: float):
    """Tanh-sinh nodes on (0, 1) as float64 numpy arrays ``(log v, log(1 - v), weight)``.

    ``v = (1 + tanh z)/2`` with ``z = (pi/2) sinh(tau)``, ``tau = k * step``; the logs are
    formed from ``z`` (``log v = -softplus(-2z)``), so nodes within 1e-30 of an end keep
    their distance to it.
    """
    tau = np.arange(-tau_max, tau_max + step / 2, step)
    z = 0.5 * math.pi * np.sinh(tau)
    log_v = -np.logaddexp(0.0, -2.0 * z)
    log_1mv = -np.logaddexp(0.0, 2.0 * z)
    weight = step * 0.25 * math.pi * np.cosh(tau) / np.cosh(z) ** 2
    return log_v, log_1mv, weight


_TANH_SINH = {"float32": _tanh_sinh_unit(1.0 / 8, 3.5), "float64": _tanh_sinh_unit(1.0 / 16, 4.0)}


def kumaraswamy_log_ratio_mean(a: jax.Array, b: jax.Array) -> jax.Array:
    r"""``G(a, b) = E[log((1 - X^a) / (1 - X))]`` for ``X ~ Kumaraswamy(a, b)``.

    Why: the Kumaraswamy-Beta KL needs ``E[log(1 - X)] = -1/b - G(a, b)``, which has no closed
    form (``E[log(1 - X^a)] = -1/b`` does: ``1 - X^a ~ Beta(b, 1)``). The usual series
    ``-sum_m (b/m) B(1 + m/a, b)`` converges like ``m^-(1+b)``: numpyro truncates it, which is
    off by tens of percent for small ``b``.

    How: ``t = 1 - X^a = V^(1/b)`` with ``V`` uniform, so
    ``G = -int_0^1 log phi(V^(1/b)) dV`` with ``phi(t) = -expm1(log1p(-t)/a) / t``, a bounded,
    smooth integrand (between ``-log a`` at ``t = 0`` and 0 at ``t = 1``; exactly 0 for
    ``a = 1``). Tanh-sinh quadrature on fixed nodes (57 in float32, 129 in float64; the
    nodes' logs are exact in float64, so ``log(1 - t)`` is ``log(-expm1(log V / b))`` next to
    ``t = 1`` and ``log1p(-t)`` below ``t = 1/2``, accurate at both ends) handles the algebraic
    end-point behaviour; ``t < 1e-4``
    (``1e-8`` in float64) uses ``log phi = -log a + t (a - 1)/(2a)``. Checked against mpmath
    at 30 digits for ``a, b`` in [0.05, 100]: absolute error below 1e-7 (float32), 1e-10
    (float64).
    """
    a, b = jnp.broadcast_arrays(a, b)
    dtype = _checks.compute_dtype(a, b)
    log_v, _, weight = _TANH_SINH["float64" if dtype == jnp.float64 else "float32"]
    nodes = (1,) * a.ndim + (-1,)  # on a trailing axis
    lv = jnp.asarray(log_v, dtype).reshape(nodes)
    w = jnp.asarray(weight, dtype).reshape(nodes)
    a = a[..., None]
    b = b[..., None]
    lt = lv / b  # log t
    thr = math.log(1e-8 if dtype == jnp.float64 else 1e-4)
    small = lt < thr
    lts = jnp.where(small, thr, lt)
    near_one = lts > -math.log(2.0)
    log_1mt = jnp.where(
        near_one,
        jnp.log(-jnp.expm1(jnp.where(near_one, lts, -1.0))),
        jnp.log1p(-jnp.exp(jnp.minimum(lts, -math.log(2.0)))),
    )
    log_phi = jnp.log(-jnp.expm1(log_1mt / a)) - lts
    t = jnp.exp(jnp.where(small, lt, thr))
    log_phi_small = -jnp.log(a) + t * (a - 1) / (2 * a)
    return -jnp.sum(w * jnp.where(small, log_phi_small, log_phi), axis=-1)


#: trapezoid rule for E[f(Z)], Z ~ N(0, 1): nodes k/16 on [-10, 10]
_GAUSS_TRAPEZOID_STEP = 1.0 / 16
_GAUSS_TRAPEZOID_HALF = 160


def normal_expectation(fn, loc: jax.Array, scale: jax.Array) -> jax.Array:
    r"""``E[fn(Y)]`` for ``Y ~ Normal(loc, scale)``, elementwise over the batch of ``loc, scale``.

    Why: the logit-normal mean, variance and entropy are Gaussian expectations of
    ``sigmoid`` and ``softplus`` with no closed form. Gauss-Hermite rules converge slowly
    for them at large ``scale``: the integrands have poles at ``y = i pi``, a distance
    ``pi / scale`` from the real axis in the standardised variable.

    How: the trapezoid rule on the real line, step 1/16 on [-10, 10] (321 nodes), is
    exponentially accurate for functions analytic in a strip: its error is about
    ``exp(-2 pi d / step)`` with ``d = pi / scale``, i.e. below 1e-13 for ``scale <= 10`` and
    about 1e-7 at ``scale = 20``; the truncation at 10 standard deviations costs ``1e-23``.
    ``fn`` must map an array of ``Y`` values to an array of the same shape.
    """
    loc, scale = jnp.broadcast_arrays(loc, scale)
    dtype = _checks.compute_dtype(loc, scale)
    k = np.arange(-_GAUSS_TRAPEZOID_HALF, _GAUSS_TRAPEZOID_HALF + 1)
    z = k * _GAUSS_TRAPEZOID_STEP
    w = _GAUSS_TRAPEZOID_STEP * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    nodes = (1,) * loc.ndim + (-1,)  # on a trailing axis
    y = loc[..., None] + scale[..., None] * jnp.asarray(z, dtype).reshape(nodes)
    return jnp.sum(jnp.asarray(w, dtype).reshape(nodes) * fn(y), axis=-1)


def exp_sinh_integral(fn, log_center, log_width, num_points: int = 257) -> jax.Array:
    r"""``int_0^inf fn(t) dt`` by the exp-sinh rule, elementwise over a batch.

    Why: expectations of ``lgamma(K + a)`` under a count distribution (negative binomial
    and Poisson against a negative binomial) have no closed form, but Malmsten's integral
    ``lgamma(z) = int_0^inf [(z - 1) e^{-t} - (e^{-t} - e^{-z t}) / (1 - e^{-t})] dt / t``
    turns them into integrals of the probability generating function, which is closed:
    one smooth integral over ``t > 0`` whatever the size of the counts, where a series
    over ``k`` needs ever more terms (and a tail bound) as the mean grows.

    How: ``t = exp(c + w sinh s)``, the trapezoid rule in ``s`` on ``[-4, 4]``; integrands
    that are bounded at 0 and decay at least exponentially at infinity decay
    double-exponentially in ``s`` at both ends. ``log_center`` (``c``) and ``log_width``
    (``w``) place the nodes (arrays of the batch shape, no gradient); ``fn`` maps ``t`` of
    shape ``(num_points,) + batch`` to integrand values of that shape.
    """
    s = np.linspace(-4.0, 4.0, num_points)
    step = float(s[1] - s[0])
    c = jax.lax.stop_gradient(jnp.asarray(log_center))
    w = jax.lax.stop_gradient(jnp.asarray(log_width))
    dtype = c.dtype
    batch = (1,) * c.ndim
    sinh_s = jnp.asarray(np.sinh(s), dtype).reshape((-1,) + batch)
    cosh_s = jnp.asarray(np.cosh(s), dtype).reshape((-1,) + batch)
    log_t = c + w * sinh_s
    # nodes beyond the dtype's range would make 0 * inf: dropped (the integrand is
    # negligible there by assumption), evaluated at t = 1 instead
    bound = 0.5 * math.log(float(jnp.finfo(dtype).max))
    valid = jnp.abs(log_t) <= bound
    t = jnp.exp(jnp.where(valid, log_t, 0.0))
    # dt/ds = t w cosh s
    return step * jnp.sum(jnp.where(valid, fn(t) * t * w * cosh_s, 0.0), axis=0)
