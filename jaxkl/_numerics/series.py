"""Exact series coefficients and the polynomial evaluation the series helpers share."""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp


def _bernoulli_numbers(n: int) -> list[Fraction]:
    """Exact Bernoulli numbers ``B_0 .. B_n`` (``B_1 = -1/2``), by Akiyama-Tanigawa."""
    out = []
    a = [Fraction(0)] * (n + 1)
    for m in range(n + 1):
        a[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        out.append(a[0])
    if n >= 1:
        out[1] = -out[1]
    return out


#: ``B_0 .. B_64``, computed once, exactly (fractions).
BERNOULLI = _bernoulli_numbers(64)


def terms(dtype, f32: int, f64: int) -> int:
    """The number of series terms that reaches full precision in ``dtype``."""
    return f64 if jnp.dtype(dtype) == jnp.float64 else f32


def horner(coeffs, p: jax.Array) -> jax.Array:
    """``sum_k coeffs[k] p^k`` by Horner's rule (unrolled: one fused elementwise loop)."""
    acc = jnp.full_like(p, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = acc * p + c
    return acc
