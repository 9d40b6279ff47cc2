"""Batched matrix and reduction helpers shared by ``distributions/`` and ``kl/``.

Every helper acts on the trailing axes and maps over any leading batch shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def diagonal(x: jax.Array) -> jax.Array:
    """The diagonals of a batch of square matrices: shape ``batch + (d,)``."""
    return jnp.diagonal(x, axis1=-2, axis2=-1)


def block_diag(a: jax.Array, b: jax.Array) -> jax.Array:
    """``[[a, 0], [0, b]]`` for batches of square matrices of equal batch shape."""
    batch = a.shape[:-2]
    n, p = a.shape[-1], b.shape[-1]
    top = jnp.concatenate([a, jnp.zeros(batch + (n, p), a.dtype)], -1)
    bottom = jnp.concatenate([jnp.zeros(batch + (p, n), a.dtype), b], -1)
    return jnp.concatenate([top, bottom], -2)


def sum_rightmost(x: jax.Array, n: int) -> jax.Array:
    """Sum over the ``n`` rightmost axes (``x`` itself for ``n <= 0``)."""
    return jnp.sum(x, axis=tuple(range(-n, 0))) if n > 0 else x
