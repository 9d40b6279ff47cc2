"""Numerically delicate helpers. Each one says why it exists; each is tested on its own.

Closed forms and the tensor KL call these instead of writing the tricks inline.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _atanh_tail(u2: jax.Array, terms: int) -> jax.Array:
    """``sum_{k=0}^{terms-1} u2**k / (2k + 3)`` by Horner's rule (the atanh series tail)."""
    acc = jnp.full_like(u2, 1.0 / (2 * (terms - 1) + 3))
    for k in range(terms - 2, -1, -1):
        acc = 1.0 / (2 * k + 3) + u2 * acc
    return acc


def x_minus_log1p(x: jax.Array) -> jax.Array:
    """``x - log1p(x)`` for x > -1, accurate to a few ulp also for tiny |x|.

    Why: ``x - log1p(x)`` is about ``x**2 / 2``, so the naive difference loses all digits
    when ``|x| < sqrt(eps)``. This is the cancellation behind ``ratio - 1 - log(ratio)``
    terms (Normal-Normal, Gamma-Gamma, the normalised tensor KL).

    How: with ``u = x / (2 + x)``, ``log1p(x) = 2 atanh(u)`` and ``x - 2u = x u``, so
    ``x - log1p(x) = x u - 2 u**3 (1/3 + u**2/5 + u**4/7 + ...)``. The two parts differ in
    magnitude by a factor ``~x/6``: no catastrophic cancellation. For ``|x| >= 0.5`` the
    direct difference is already accurate.
    """
    x = jnp.asarray(x)
    small = jnp.abs(x) < 0.5
    xs = jnp.where(small, x, 0.0)
    u = xs / (2.0 + xs)
    u2 = u * u
    terms = 14 if x.dtype == jnp.float64 else 7
    series = xs * u - 2.0 * u * u2 * _atanh_tail(u2, terms)
    xl = jnp.where(small, 1.0, x)  # keep the untaken branch away from log1p(-1)
    direct = xl - jnp.log1p(xl)
    return jnp.where(small, series, direct)


def log1p_minus_x(x: jax.Array) -> jax.Array:
    """``log1p(x) - x`` (<= 0) without cancellation near 0; see :func:`x_minus_log1p`."""
    return -x_minus_log1p(x)


def expm1_minus_x(x: jax.Array) -> jax.Array:
    """``expm1(x) - x`` (= x**2/2 + ...) accurate for tiny |x| (Taylor series below 0.5)."""
    x = jnp.asarray(x)
    small = jnp.abs(x) < 0.5
    xs = jnp.where(small, x, 0.0)
    terms = 18 if x.dtype == jnp.float64 else 10
    acc = jnp.ones_like(xs)
    for k in range(terms, 2, -1):
        acc = 1.0 + xs * acc / k
    series = xs * xs / 2.0 * acc
    return jnp.where(small, series, jnp.expm1(x) - x)


def ratio_minus_one_minus_log(r: jax.Array) -> jax.Array:
    """``r - 1 - log(r)`` for r > 0, written as ``x - log1p(x)`` with ``x = r - 1``."""
    return x_minus_log1p(jnp.asarray(r) - 1.0)
