"""``log(sinh(h)/h)`` and its derivatives: the continuous Bernoulli log-normaliser.

The continuous Bernoulli's log-normaliser is ``A(eta) = eta/2 + log_sinhc(eta/2)``; its mean
and variance are the first two derivatives. Each is 0/0 or a cancellation of ``~1/h`` terms
near ``h = 0`` and overflows in the direct form for large ``|h|``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxkl._numerics.log_space import expm1_minus_x, x_minus_log1p
from jaxkl._numerics.series import BERNOULLI, horner, terms


def _log_sinhc_coeffs(count: int) -> list[float]:
    """``c_k = 4^k B_{2k} / (2k (2k)!)``: ``log(sinh h / h) = sum_{k>=1} c_k h^{2k}``."""
    return [
        float(4**k * BERNOULLI[2 * k] / (2 * k * math.factorial(2 * k)))
        for k in range(1, count + 1)
    ]


_LSC = _log_sinhc_coeffs(30)


def log_sinhc(h: jax.Array) -> jax.Array:
    """``log(sinh(h) / h)`` (even in h, 0 at h = 0), accurate for every real h.

    Why: the continuous Bernoulli's log-normaliser is ``A(eta) = eta/2 + log_sinhc(eta/2)``;
    ``log(expm1(eta)/eta)`` is 0/0 at ``eta = 0`` (torch patches a window around
    ``probs = 1/2`` with a two-term Taylor series) and overflows for large ``|eta|``.

    How: the power series ``sum_k 4^k B_2k h^2k / (2k (2k)!)`` (radius pi) for ``|h| < 1``,
    else ``|h| - log 2 + log1p(-exp(-2|h|)) - log|h|``.
    """
    h = jnp.asarray(h)
    small = jnp.abs(h) < 1
    hs = jnp.where(small, h, 0.0)
    h2 = hs * hs
    n = terms(h.dtype, 8, 16)
    acc = horner(_LSC[:n], h2)
    a = jnp.where(small, 1.0, jnp.abs(h))
    large = a - jnp.log(2.0) + jnp.log1p(-jnp.exp(-2 * a)) - jnp.log(a)
    return jnp.where(small, h2 * acc, large)


def coth_minus_inv(h: jax.Array) -> jax.Array:
    """``coth(h) - 1/h``, the derivative of :func:`log_sinhc` (odd, 0 at h = 0).

    Why: the continuous Bernoulli mean is ``1/2 + (coth h - 1/h)/2``; the two terms are
    ``~1/h`` and cancel for small h. Power series for ``|h| < 1``, direct otherwise.
    """
    h = jnp.asarray(h)
    small = jnp.abs(h) < 1
    hs = jnp.where(small, h, 0.0)
    h2 = hs * hs
    n = terms(h.dtype, 8, 16)
    acc = horner([2 * (k + 1) * _LSC[k] for k in range(n)], h2)
    hl = jnp.where(small, 1.0, h)
    return jnp.where(small, hs * acc, 1 / jnp.tanh(hl) - 1 / hl)


def log_sinhc_second_derivative(h: jax.Array) -> jax.Array:
    """``1/h^2 - 1/sinh(h)^2``, the second derivative of :func:`log_sinhc` (1/3 at h = 0).

    Why: 4x the continuous Bernoulli variance; both terms are ``~1/h^2`` and cancel for
    small h. Power series for ``|h| < 1``, direct otherwise.
    """
    h = jnp.asarray(h)
    small = jnp.abs(h) < 1
    hs = jnp.where(small, h, 0.0)
    h2 = hs * hs
    n = terms(h.dtype, 8, 16)
    acc = horner([(2 * k + 2) * (2 * k + 1) * _LSC[k] for k in range(n)], h2)
    hl = jnp.where(small, 1.0, h)
    return jnp.where(small, acc, 1 / hl**2 - 1 / jnp.sinh(hl) ** 2)


def log_sinhc_bregman(hp: jax.Array, delta: jax.Array) -> jax.Array:
    """``s(hp + delta) - s(hp) - delta s'(hp)`` for ``s = log_sinhc`` (>= 0: s is convex).

    Why: it is the KL between continuous Bernoullis (``h = logits/2``); for close
    parameters it is ``~ s''(hp) delta^2 / 2`` while each term is ``~ delta``, so the
    direct difference loses everything.

    How (``delta`` is given, exact for close floats), mirrored to ``hp >= 0``:

    * ``|hp| <= 1``, ``|hq| <= 1.25``: the power series of ``s`` gives
      ``sum_k c_k ((hp + delta)^2k - hp^2k - 2k delta hp^(2k-1))``; each bracket is
      ``delta^2 R_2k`` with ``R_1 = 0``, ``R_{n+1} = hq R_n + n hp^(n-1)`` (no cancellation);
    * ``hp > 1``, ``hq > 1/2``: with ``s(h) = h - log 2 + log1p(-e^{-2h}) - log h``,
      ``x_minus_log1p(delta/hp) - x_minus_log1p(w) - expm1_minus_x(-2 delta)/E``, where
      ``E = expm1(2 hp)``, ``w = -expm1(-2 delta)/E``: three non-cancelling pieces;
    * otherwise ``delta`` is not small (``>= 1/4``) and the direct difference is accurate.
    """
    hp = jnp.asarray(hp)
    delta = jnp.asarray(delta)
    neg = hp < 0
    hp = jnp.where(neg, -hp, hp)
    delta = jnp.where(neg, -delta, delta)
    hq = hp + delta
    series_ok = (hp <= 1) & (jnp.abs(hq) <= 1.25)
    decomp_ok = (hp > 1) & (hq > 0.5)
    # series
    a = jnp.where(series_ok, hp, 0.0)
    b = jnp.where(series_ok, hq, 0.0)
    d = jnp.where(series_ok, delta, 0.0)
    n_terms = terms(hp.dtype, 12, 24)
    r = jnp.zeros_like(a)
    apow = jnp.ones_like(a)  # a^(n-1)
    total = jnp.zeros_like(a)
    for n in range(1, 2 * n_terms):
        r = b * r + n * apow  # R_{n+1}
        apow = apow * a
        if (n + 1) % 2 == 0:
            total = total + _LSC[(n + 1) // 2 - 1] * r
    series = d * d * total
    # decomposition for hp > 1 (exp(-2 delta) cannot overflow: hq > 1/2 and hp > 1 keep
    # -2 delta < 2 hp, and E >= expm1(2))
    hp_d = jnp.where(decomp_ok, hp, 2.0)
    dl_d = jnp.where(decomp_ok, delta, 0.0)
    big_e = jnp.expm1(2 * hp_d)
    w = -jnp.expm1(-2 * dl_d) / big_e
    decomp = x_minus_log1p(dl_d / hp_d) - x_minus_log1p(w) - expm1_minus_x(-2 * dl_d) / big_e
    # direct
    direct = log_sinhc(hq) - log_sinhc(hp) - delta * coth_minus_inv(hp)
    out = jnp.where(series_ok, series, jnp.where(decomp_ok, decomp, direct))
    return jnp.maximum(out, 0.0)
