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


# --- triangular solves without LAPACK on CPU ------------------------------------------------
#
# jaxlib 0.10.2 runs LAPACK on CPU as FFI custom calls on XLA's intra-op thread pool; two
# independent triangular solves in one program (``lapack_strsm_ffi``) can then deadlock
# (seen with two Gaussian KLs in one jitted function on 2 cores: a stall after 17-71
# calls). On CPU the solves below are built from matrix products instead, which XLA runs
# itself; elsewhere they are ``jax.scipy.linalg.solve_triangular`` (cuBLAS on GPU).

#: diagonal block size of the blocked forward substitution
_SOLVE_BLOCK = 32


def _substitute_lower(tri: jax.Array, b: jax.Array) -> jax.Array:
    """``L^-1 B`` by forward substitution, row by row (a ``fori_loop`` of ``n`` steps).

    ``x_i = (b_i - L[i, :] X) / L_ii``: the rows of ``X`` not yet computed are zero, so the
    product only sees rows ``< i``. LAPACK's ``trsv``/``trsm`` kernel, batched.
    """
    n = tri.shape[-1]
    batch = jnp.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
    tri = jnp.broadcast_to(tri, batch + tri.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    rows = jnp.arange(n)[:, None]

    def body(i, x):
        li = jax.lax.dynamic_index_in_dim(tri, i, axis=-2, keepdims=False)  # (..., n)
        bi = jax.lax.dynamic_index_in_dim(b, i, axis=-2, keepdims=False)  # (..., m)
        lii = jax.lax.dynamic_index_in_dim(li, i, axis=-1, keepdims=True)
        xi = (bi - jnp.einsum("...k,...km->...m", li, x)) / lii
        return jnp.where(rows == i, xi[..., None, :], x)

    return jax.lax.fori_loop(0, n, body, jnp.zeros_like(b))


def _solve_lower_blocked(tri: jax.Array, b: jax.Array) -> jax.Array:
    """``L^-1 B`` by blocked forward substitution: matrix products and small substitutions.

    Blocks of ``_SOLVE_BLOCK`` rows: ``X_i = D_i^-1 (B_i - L_{i,<i} X_{<i})`` block row by
    block row, each ``D_i^-1`` applied by :func:`_substitute_lower`, the update a matrix
    product (LAPACK's blocked ``trsm``, without the custom call).
    """
    d = tri.shape[-1]
    nb = _SOLVE_BLOCK
    if d <= nb:
        return _substitute_lower(tri, b)
    batch = jnp.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
    tri = jnp.broadcast_to(tri, batch + tri.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    xs = []
    for lo in range(0, d, nb):
        hi = min(lo + nb, d)
        r = b[..., lo:hi, :]
        if lo:
            r = r - tri[..., lo:hi, :lo] @ jnp.concatenate(xs, -2)
        xs.append(_substitute_lower(tri[..., lo:hi, lo:hi], r))
    return jnp.concatenate(xs, -2)


def _solve_lower_lapack(tri: jax.Array, b: jax.Array) -> jax.Array:
    return jax.scipy.linalg.solve_triangular(tri, b, lower=True)


@jax.jit  # eager calls run one program, not one dispatch per product
def solve_lower(tri: jax.Array, b: jax.Array) -> jax.Array:
    """``L^-1 B`` for lower-triangular ``L`` (..., d, d) and ``B`` (..., d, m).

    On CPU a blocked substitution from matrix products (no LAPACK custom call, which can
    deadlock: see above); on other platforms ``jax.scipy.linalg.solve_triangular``.
    """
    dtype = jnp.result_type(tri, b)
    tri = jnp.asarray(tri, dtype)
    b = jnp.asarray(b, dtype)
    return jax.lax.platform_dependent(tri, b, cpu=_solve_lower_blocked, default=_solve_lower_lapack)


def _cholesky_unblocked(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor of small (..., n, n) blocks, column by column (a ``fori_loop``).

    Column ``j`` is ``v = a[:, j] - L L[j, :]^T`` over the rows ``>= j`` (``L`` holds the
    columns done so far, zeros elsewhere), divided by ``sqrt(v_j)``; a matrix that is not
    positive definite gives NaN, as LAPACK's ``potrf`` through ``jnp.linalg.cholesky``.
    """
    n = a.shape[-1]
    rows = jnp.arange(n)

    def body(j, chol):
        lj = jnp.take(chol, j, axis=-2)  # row j: (..., n)
        v = jnp.take(a, j, axis=-1) - jnp.einsum("...ik,...k->...i", chol, lj)
        pivot = jnp.sqrt(jnp.take(v, j, axis=-1))[..., None]
        col = jnp.where(rows >= j, v / pivot, 0.0)
        return jnp.where(rows == j, col[..., :, None], chol)

    return jax.lax.fori_loop(0, n, body, jnp.zeros_like(a))


def _cholesky_blocked(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor by left-looking block columns of ``_SOLVE_BLOCK``.

    For block column ``[lo, hi)``: ``S = A[lo:, lo:hi] - L[lo:, :lo] L[lo:hi, :lo]^T`` (a
    matrix product), the diagonal block ``L_ii`` by :func:`_cholesky_unblocked`, the rows
    below as ``S_below L_ii^-T`` (by :func:`_substitute_lower`).
    """
    a = 0.5 * (a + jnp.swapaxes(a, -1, -2))  # as jnp.linalg.cholesky(symmetrize_input=True)
    d = a.shape[-1]
    nb = _SOLVE_BLOCK
    if d <= nb:
        return _cholesky_unblocked(a)
    batch = a.shape[:-2]
    cols = []  # block columns of L from their diagonal block down
    for lo in range(0, d, nb):
        hi = min(lo + nb, d)
        s = a[..., lo:, lo:hi]
        if lo:
            left = jnp.concatenate([c[..., lo - c_lo :, :] for c_lo, c in cols], -1)
            s = s - left @ jnp.swapaxes(left[..., : hi - lo, :], -1, -2)
        lii = _cholesky_unblocked(s[..., : hi - lo, :])
        below = jnp.swapaxes(
            _substitute_lower(lii, jnp.swapaxes(s[..., hi - lo :, :], -1, -2)), -1, -2
        )
        cols.append((lo, jnp.concatenate([lii, below], -2)))
    blocks = [
        jnp.concatenate([jnp.zeros(batch + (lo, c.shape[-1]), a.dtype), c], -2) for lo, c in cols
    ]
    return jnp.concatenate(blocks, -1)


def _cholesky_lapack(a: jax.Array) -> jax.Array:
    return jnp.linalg.cholesky(a)


@jax.jit  # eager calls run one program, not one dispatch per product
def cholesky(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor of symmetric positive definite ``a`` (..., d, d); NaN if not.

    On CPU a blocked factorisation from matrix products (two LAPACK ``potrf`` custom calls
    in one program can deadlock with jaxlib 0.10.2, as ``trsm`` does); elsewhere
    ``jnp.linalg.cholesky``.
    """
    return jax.lax.platform_dependent(a, cpu=_cholesky_blocked, default=_cholesky_lapack)


def factor_diagonal_terms(dp: jax.Array, dq: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(φ, log m)`` for the ratios ``m = dp / dq`` of two Cholesky factors' diagonals.

    ``φ = m**2 - 1 - 2 log m >= 0`` is the diagonal's share of a Gaussian KL. Near
    ``m = 1`` it is ``x**2 + 2 (x - log1p(x))`` with ``x = (dp - dq)/dq`` formed from the
    exact difference (no cancellation); elsewhere ``m**2 - 1 - 2 log m`` from ``m`` itself.
    Forming ``1 + x`` (or ``x (x + 2)``) instead loses ``m`` when it is small: in float32,
    factors 1e4 apart gave a relative error of 1e-5 and ``m < 3e-4`` gave ``+inf``.
    """
    from jaxkl._numerics import x_minus_log1p

    x = (dp - dq) / dq
    near = jnp.abs(x) < 0.5
    xn = jnp.where(near, x, 0.0)
    m = jnp.where(near, 1.0, dp / dq)
    log_m = jnp.where(near, jnp.log1p(xn), jnp.log(m))
    phi = jnp.where(near, xn * xn + 2.0 * x_minus_log1p(xn), (m * m - 1.0) - 2.0 * log_m)
    return phi, log_m
