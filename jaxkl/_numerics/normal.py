"""The standard normal CDF ``Φ``: log-ratios and log-masses of intervals without cancellation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from jaxkl._numerics.constants import HALF_LOG_2PI
from jaxkl._numerics.series import terms


def log_ndtr_difference(a: jax.Array, b: jax.Array) -> jax.Array:
    r"""``log Φ(b) - log Φ(a)``, accurate for close arguments and never underflowing.

    Finite for any finite ``a``, ``b`` (Φ the standard normal CDF; probits of ±30 are fine).

    Why: the log-ratio of the outcome probabilities of two close ProbitBernoulli
    distributions. ``log_ndtr(b) - log_ndtr(a)`` cancels to ``O(b - a)`` and loses all
    digits as ``b -> a``; ``log(Φ(b) / Φ(a))`` underflows for probits below about -13 in
    float32.

    How: with ``h = b - a`` (exact for close floats) and the midpoint ``m``,
    ``Φ(b) - Φ(a) = h φ(m) g`` where ``g = Σ_k He_2k(m) (h/2)^{2k} / ((2k)! (2k + 1))``
    (integrate the Hermite generating function ``exp(-m s - s²/2)`` over
    ``|s| <= h/2``), so ``log Φ(b) - log Φ(a) = log1p(h g exp(log φ(m) - log Φ(a)))``. Used
    while ``|h| max(1, |m|) < 1/2`` (then the series converges like ``4^{-2k} / (2k)!``);
    farther apart the direct difference of ``log_ndtr`` has no harmful cancellation.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    h = b - a
    m = a + 0.5 * h
    near = jnp.abs(h) * jnp.maximum(1.0, jnp.abs(m)) < 0.5
    hs = jnp.where(near, h, 0.0)
    t2 = (0.5 * hs) ** 2
    # g = sum_k He_2k(m) t^2k / ((2k)! (2k+1)), He by the recurrence He_{n+1} = m He_n - n He_{n-1}
    he_prev, he = jnp.ones_like(m), m  # He_0, He_1
    g = jnp.ones_like(m)
    power = jnp.ones_like(m)
    fact = 1.0
    for k in range(1, terms(a.dtype, 4, 9)):
        n = 2 * k - 1  # advance twice: He_{2k-1} -> He_{2k}
        he_prev, he = he, m * he - n * he_prev  # He_{2k}
        power = power * t2
        fact *= (2 * k - 1) * (2 * k)
        g = g + he * power / (fact * (2 * k + 1))
        he_prev, he = he, m * he - (2 * k) * he_prev  # He_{2k+1}
    log_phi_m = -0.5 * m * m - HALF_LOG_2PI
    # the exponent is made safe in the untaken branch (exp overflow there would NaN the gradient)
    r = hs * g * jnp.exp(jnp.where(near, log_phi_m - jsp.log_ndtr(a), 0.0))
    close = jnp.log1p(jnp.where(near, r, 0.0))
    far = jsp.log_ndtr(b) - jsp.log_ndtr(a)
    return jnp.where(near, close, far)


def log_ndtr_interval(a: jax.Array, b: jax.Array) -> jax.Array:
    """``log(Phi(b) - Phi(a))`` for ``a < b`` (infinite ends allowed), without cancellation.

    The mass of a standard normal on ``[a, b]``: in the upper tail (``a > 0``) through the
    survival function ``Phi(-a) - Phi(-b)``, else through ``Phi(b) - Phi(a)``, each as
    ``log Phi(u) + log1p(-exp(log Phi(v) - log Phi(u)))`` (the larger term first). An
    infinite end drops the second term (``a = -inf`` takes ``u = b``, ``b = +inf`` takes
    ``u = -a``), so two ``log_ndtr`` evaluations serve every case; the finite stand-ins of
    the infinite ends keep the derivatives NaN-free.
    """
    a_inf, b_inf = a == -jnp.inf, b == jnp.inf
    a_s = jnp.where(a_inf, jnp.where(b_inf, 0.0, b) - 1.0, a)
    b_s = jnp.where(b_inf, a_s + 1.0, b)
    upper = jnp.where(a_inf, False, b_inf | (a_s > 0))
    u = jnp.where(upper, -a_s, b_s)
    v = jnp.where(upper, -b_s, a_s)
    lu, lv = jsp.log_ndtr(u), jsp.log_ndtr(v)
    # one infinite end: log Phi(b) or log Phi(-a) alone
    second = jnp.where(a_inf | b_inf, 0.0, jnp.exp(lv - lu))
    return jnp.where(a_inf & b_inf, jnp.zeros_like(lu), lu + jnp.log1p(-second))


def standardize_bound(bound: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    """``(bound - loc) / scale`` with infinite bounds kept infinite and NaN-free derivatives.

    Why: at ``bound = ±inf`` the quotient's derivative w.r.t. ``scale`` is infinite, so any
    zero cotangent (an infinite end that contributes nothing) turns into ``0 * inf = NaN``.
    The finite branch sees a finite stand-in; the infinite one passes the bound through.
    """
    fin = jnp.isfinite(bound)
    z = (jnp.where(fin, bound, 0.0) - loc) / scale
    return jnp.where(fin, z, bound)


def truncated_normal_moments(a: jax.Array, b: jax.Array, log_z: jax.Array, order: int):
    """``(E w, ..., E w^order)`` for a standard normal ``w`` truncated to ``[a, b]``.

    Why: the truncated normal's mean, variance and entropy, and the variances along the
    tilting path of its KL, need the raw moments with either bound infinite and NaN-free
    derivatives there.

    How: ``M_k = (k - 1) M_{k-2} + (a^{k-1} φ(a) - b^{k-1} φ(b)) / Z`` from ``M_0 = 1``,
    ``M_{-1} = 0``, with ``log Z`` given (:func:`log_ndtr_interval`); an infinite bound
    contributes nothing and enters the rest as 0 (double ``where``).
    """

    def edge(x):
        fin = jnp.isfinite(x)
        xs = jnp.where(fin, x, 0.0)
        return xs, jnp.where(fin, jnp.exp(-0.5 * xs * xs - HALF_LOG_2PI - log_z), 0.0)

    a, pa = edge(a)
    b, pb = edge(b)
    moments = []
    before, last = 0.0, 1.0  # M_{k-2}, M_{k-1}
    a_pow, b_pow = 1.0, 1.0  # a^(k-1), b^(k-1)
    for k in range(1, order + 1):
        moment = (k - 1) * before + a_pow * pa - b_pow * pb
        moments.append(moment)
        before, last = last, moment
        a_pow, b_pow = a_pow * a, b_pow * b
    return tuple(moments)
