r"""Closed forms whose p is in the matrix group: Wishart, MatrixNormal.

Both reuse the Gaussian device of :mod:`jaxkl.kl.multivariate`: with ``M = L_q^{-1} L_p``
and ``X = M - I = L_q^{-1}(L_p - L_q)`` formed from the *difference* of the Cholesky
factors,

.. math::
    G(X) = \operatorname{tr}(M M^T) - d - 2\sum_i \log M_{ii}
         = \sum_{i>j} X_{ij}^2 + \sum_i \phi\big(X_{ii}(X_{ii} + 2)\big),
    \qquad \phi(x) = x - \log(1 + x),

a sum of non-negative terms that keeps full relative precision when p ≈ q.

Wishart
-------
.. math::
    D_{KL} = \tfrac{n_q}{2}\log\frac{|Σ_q|}{|Σ_p|} +
    \tfrac{n_p}{2}\big(\operatorname{tr}(Σ_q^{-1}Σ_p) - d\big)
    + \log\frac{Γ_d(n_q/2)}{Γ_d(n_p/2)} + \tfrac{n_p - n_q}{2}\,ψ_d(n_p/2)

rewritten as ``(n_p/2) G(X) + (n_p - n_q) Σ_i log M_ii + Σ_{j<d} B((n_p - j)/2, (n_p - n_q)/2)``
with ``B(x, h) = lgamma(x - h) - lgamma(x) + h ψ(x)`` the Bregman divergence of ``lgamma``
(:func:`jaxkl._numerics.lgamma_bregman`, no cancellation). When both scales are given as
``covariance_matrix`` (or both as ``precision_matrix``), the Cholesky factors would each
carry an ``eps κ`` error that swamps an ``O(δ²)`` KL; then ``G`` and ``Σ log M_ii`` come
from the eigenvalues ``λ`` of ``L_q^{-1}(Σ_p - Σ_q)L_q^{-T}`` (``Σ φ(λ)`` and
``½ Σ log1p(λ)``), formed from the exact difference of the given matrices (for precisions,
of ``L_{P_p}^{-1}(P_q - P_p)L_{P_p}^{-T}``, whose eigenvalues are the same).

MatrixNormal
------------
With ``U = A A^T`` (rows) and ``V = B B^T`` (columns), the KL of the vectorised normals
``N(vec M, V ⊗ U)`` is

.. math::
    2 D_{KL} = \operatorname{tr}(V_q^{-1}V_p)\operatorname{tr}(U_q^{-1}U_p) - np
    + p\log\frac{|U_q|}{|U_p|} + n\log\frac{|V_q|}{|V_p|}
    + \lVert A_q^{-1}(M_q - M_p)B_q^{-T}\rVert_F^2
    = p\,G(X_A) + n\,G(X_B) + αβ + \lVert Z\rVert_F^2

with ``α = tr(U_q^{-1}U_p) - n = 2 tr X_A + ‖X_A‖²`` and ``β`` likewise: each of ``α``,
``β`` is ``O(δ)`` and formed without cancellation, so their product is accurate. One
triangular solve against ``diag(A_q, B_q)`` gives ``X_A``, ``X_B``, ``A_q^{-1}ΔM`` and
``B_q^{-1}``.

References:
    Wishart: W. D. Penny (2001), "KL-divergences of normal, gamma, Dirichlet and Wishart
    densities", eq. (4.1); the matrix normal: A. K. Gupta & D. K. Nagar (1999), *Matrix
    Variate Distributions*, Thm. 2.3.10 (``vec X ~ N(vec M, V ⊗ U)``) with the Gaussian KL
    (Kullback 1959); TFP ``_kl_matrix_normal_matrix_normal`` (same values).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl._linalg import block_diag, cholesky, diagonal, factor_diagonal_terms, solve_lower
from jaxkl._numerics import lgamma_bregman, x_minus_log1p
from jaxkl.distributions.matrix import MatrixNormal, Wishart
from jaxkl.kl._registry import register_kl
from jaxkl.kl.multivariate import _factor_gap, _whitened_eigenvalues

__all__: list = []


def _t(x):
    return jnp.swapaxes(x, -1, -2)


def _tril_parts(l_p: jax.Array, l_q: jax.Array):
    """``(G, Σ log M_ii)`` from the Cholesky factors (one triangular solve)."""
    x = solve_lower(l_q, l_p - l_q)
    phi, log_m = factor_diagonal_terms(diagonal(l_p), diagonal(l_q))
    return _factor_gap(x, phi), jnp.sum(log_m, -1)


def _eig_parts(e: jax.Array, chol: jax.Array):
    """``(Σ φ(λ), ½ Σ log1p(λ))`` for the eigenvalues ``λ`` of ``L^{-1} E L^{-T}``."""
    lam, _ = _whitened_eigenvalues(e, chol, e[..., :0])
    return jnp.sum(x_minus_log1p(lam), -1), 0.5 * jnp.sum(jnp.log1p(lam), -1)


@register_kl(Wishart, Wishart, jit=True)
def _kl_wishart_wishart(p: Wishart, q: Wishart) -> jax.Array:
    r"""KL between Wishart distributions ``W(n_p, Σ_p)`` and ``W(n_q, Σ_q)``.

    ``(n_p/2) G + (n_p - n_q) Σ log M_ii + Σ_j B((n_p - j)/2, (n_p - n_q)/2)`` (module
    docstring).

    Accurate where p ≈ q (float32 relative error below 1e-4 down to relative parameter
    differences of 1e-5) for ``scale_tril``, ``covariance_matrix`` and
    ``precision_matrix`` given on both sides; mixed parametrisations go through the
    Cholesky factors. One triangular solve per evaluation.

    References: Penny (2001), eq. (4.1); torch has the class but no KL for it.

    Raises:
        ValueError: the matrices have different sizes.
    """
    d = p._dim
    if q._dim != d:
        raise ValueError(
            f"KL(Wishart || Wishart) needs matrices of the same size, got {d} x {d} and "
            f"{q._dim} x {q._dim}"
        )
    if p._covariance_matrix is not None and q._covariance_matrix is not None:
        g, log_m = _eig_parts(
            p._covariance_matrix - q._covariance_matrix, cholesky(q._covariance_matrix)
        )
    elif p._precision_matrix is not None and q._precision_matrix is not None:
        g, log_m = _eig_parts(
            q._precision_matrix - p._precision_matrix, cholesky(p._precision_matrix)
        )
    else:
        g, log_m = _tril_parts(p.scale_tril, q.scale_tril)
    n_p, n_q = p.df, q.df
    h = 0.5 * (n_p - n_q)
    gamma_part = sum(lgamma_bregman(0.5 * (n_p - j), h) for j in range(d))
    return 0.5 * n_p * g + (n_p - n_q) * log_m + gamma_part


@register_kl(MatrixNormal, MatrixNormal, jit=True)
def _kl_matrixnormal_matrixnormal(p: MatrixNormal, q: MatrixNormal) -> jax.Array:
    r"""KL between matrix normal distributions: the Gaussian KL of ``N(vec M, V ⊗ U)``.

    Written with the factors of ``U`` and ``V`` (module docstring):
    ``½[p G(X_A) + n G(X_B) + αβ + ‖A_q^{-1}(M_q - M_p)B_q^{-T}‖²]``.

    One triangular solve against ``diag(A_q, B_q)``; float32 relative error below 1e-4 down
    to relative parameter differences of 1e-5.

    References: Gupta & Nagar (1999), Thm. 2.3.10; TFP's
    ``_kl_matrix_normal_matrix_normal`` (same values).

    Raises:
        ValueError: the event shapes differ.
    """
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"KL(MatrixNormal || MatrixNormal) needs equal event shapes, got {p.event_shape} "
            f"and {q.event_shape}"
        )
    n, k = p.event_shape  # k columns (the docstring's p)
    a_p, a_q, b_p, b_q = p.scale_row, q.scale_row, p.scale_column, q.scale_column
    batch = a_q.shape[:-2]
    dtype = a_q.dtype

    def zeros(r, c):
        return jnp.zeros(batch + (r, c), dtype)

    top = jnp.concatenate([a_p - a_q, q.loc - p.loc, zeros(n, 2 * k)], -1)
    eye = jnp.broadcast_to(jnp.eye(k, dtype=dtype), batch + (k, k))
    bottom = jnp.concatenate([zeros(k, n + k), b_p - b_q, eye], -1)
    sol = solve_lower(block_diag(a_q, b_q), jnp.concatenate([top, bottom], -2))
    x_a = sol[..., :n, :n]
    y = sol[..., :n, n : n + k]
    x_b = sol[..., n:, n + k : n + 2 * k]
    b_inv = sol[..., n:, n + 2 * k :]
    xd_a = (diagonal(a_p) - diagonal(a_q)) / diagonal(a_q)
    xd_b = (diagonal(b_p) - diagonal(b_q)) / diagonal(b_q)
    phi_a, _ = factor_diagonal_terms(diagonal(a_p), diagonal(a_q))
    phi_b, _ = factor_diagonal_terms(diagonal(b_p), diagonal(b_q))
    g_a, g_b = _factor_gap(x_a, phi_a), _factor_gap(x_b, phi_b)
    alpha = (
        2.0 * jnp.sum(xd_a, -1)
        + jnp.sum(jnp.square(jnp.tril(x_a, -1)), (-2, -1))
        + jnp.sum(xd_a * xd_a, -1)
    )
    beta = (
        2.0 * jnp.sum(xd_b, -1)
        + jnp.sum(jnp.square(jnp.tril(x_b, -1)), (-2, -1))
        + jnp.sum(xd_b * xd_b, -1)
    )
    z = y @ _t(b_inv)
    return 0.5 * (k * g_a + n * g_b + alpha * beta + jnp.sum(z * z, (-2, -1)))
