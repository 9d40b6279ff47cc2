r"""Closed forms whose p is in the multivariate group (Gaussians, Dirichlet).

Gaussian KL, accurate where p ≈ q
---------------------------------
.. math::
    D_{KL} = \tfrac12\left[\operatorname{tr}(\Sigma_q^{-1}\Sigma_p) - d
    + \log\frac{\det\Sigma_q}{\det\Sigma_p} + \lVert L_q^{-1}(\mu_q - \mu_p)\rVert^2\right]

The trace, ``- d`` and log-determinant terms cancel to ``O(δ^2)`` when the parameters
differ by ``δ``. With ``M = L_q^{-1} L_p`` (lower triangular) and ``X = M - I =
L_q^{-1}(L_p - L_q)``, formed from the *difference* of the factors,

.. math::
    \operatorname{tr}(M M^T) - d - 2\sum_i\log M_{ii}
    = \sum_{i>j} X_{ij}^2 + \sum_i \phi\big(X_{ii}(X_{ii} + 2)\big),
    \qquad \phi(x) = x - \log(1 + x),

a sum of non-negative terms with no cancellation. ``X`` and ``L_q^{-1}(\mu_q - \mu_p)``
come from **one** triangular solve on the concatenated right-hand sides
``[L_p - L_q | μ_q - μ_p]``: with jaxlib 0.10.2 on CPU, a jitted function holding two
independent triangular solves can deadlock (README, known issues).

When both covariances are given as matrices (``covariance_matrix``, or the low-rank
form), the Cholesky factors would each carry an error of ``eps κ`` and destroy the
``O(δ^2)`` result. Then the closed form uses ``E = Σ_p - Σ_q`` (exact differences of the
parameters) and the eigenvalues ``λ`` of ``B = L_q^{-1} E L_q^{-T}``:
``KL = ½ Σ φ(λ_i) + ½‖z‖²``, with ``[L_q^{-1}E | z | L_q^{-1}]`` again from one solve.

References:
    The Gaussian KL: Kullback (1959); torch.distributions.kl
    (``_kl_multivariatenormal_multivariatenormal`` and the low-rank pairs); the Dirichlet
    KL: Penny (2001), "KL-divergences of normal, gamma, Dirichlet and Wishart densities".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxkl._linalg import diagonal, factor_diagonal_terms, solve_lower
from jaxkl._numerics import lgamma_bregman, x_minus_log1p
from jaxkl.distributions.multivariate import (
    Dirichlet,
    LowRankMultivariateNormal,
    MultivariateNormal,
    MultivariateNormalDiag,
)
from jaxkl.kl._registry import register_kl

__all__: list = []


def _vec_diag(v):
    return jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(v)


def _factor_gap(x: jax.Array, phi: jax.Array) -> jax.Array:
    """``G(X) = Σ_{i>j} X_ij² + Σ_i φ_i``: the Cholesky-factor part of a Gaussian KL.

    ``X = L_q^{-1}(L_p - L_q)``; ``φ_i = M_ii² - 1 - 2 log M_ii`` comes from the factors'
    diagonals (:func:`jaxkl._linalg.factor_diagonal_terms`).
    """
    return jnp.sum(jnp.square(jnp.tril(x, -1)), axis=(-2, -1)) + jnp.sum(phi, -1)


def _whitened_eigenvalues(e: jax.Array, l_q: jax.Array, rhs: jax.Array) -> tuple:
    """``(λ, L_q^{-1} rhs)``: ``λ`` the eigenvalues of ``L_q^{-1} E L_q^{-T}``, all > -1.

    One triangular solve on ``[E | rhs | I]`` gives ``L_q^{-1}E``, ``L_q^{-1} rhs`` and
    ``L_q^{-1}``. ``λ > -1`` when ``Σ_q + E`` is positive definite; the clamp only undoes
    rounding.
    """
    d = l_q.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(d, dtype=l_q.dtype), l_q.shape)
    sol = solve_lower(l_q, jnp.concatenate([e, rhs, eye], axis=-1))
    k = rhs.shape[-1]
    y, solved, l_inv = sol[..., :d], sol[..., d : d + k], sol[..., d + k :]
    b = y @ jnp.swapaxes(l_inv, -1, -2)
    lam = jnp.linalg.eigvalsh(0.5 * (b + jnp.swapaxes(b, -1, -2)))
    return jnp.maximum(lam, -1.0 + jnp.finfo(lam.dtype).eps), solved


def gaussian_kl_from_scale_tril(l_p: jax.Array, l_q: jax.Array, dmu: jax.Array) -> jax.Array:
    r"""KL between Gaussians from their Cholesky factors and ``dmu = μ_q - μ_p``.

    ``½[Σ_{i>j} X_ij² + Σ_i φ(X_ii (X_ii + 2)) + ‖z‖²]`` with
    ``[X | z] = L_q^{-1}[L_p - L_q | dmu]`` (a single triangular solve). The diagonal
    terms ``φ = m² - 1 - 2 log m``, ``m = L_p,ii / L_q,ii``, come from the factors directly
    (:func:`jaxkl._linalg.factor_diagonal_terms`: exact for m ≈ 1 and for m far from 1,
    where ``X_ii (X_ii + 2)`` would lose m < 1e-2 in float32).
    """
    d = l_p.shape[-1]
    rhs = jnp.concatenate([l_p - l_q, dmu[..., None]], axis=-1)
    sol = solve_lower(l_q, rhs)
    x, z = sol[..., :d], sol[..., d]
    phi, _ = factor_diagonal_terms(diagonal(l_p), diagonal(l_q))
    return 0.5 * (_factor_gap(x, phi) + jnp.sum(z * z, -1))


def gaussian_kl_from_covariance_difference(
    e: jax.Array, l_q: jax.Array, dmu: jax.Array
) -> jax.Array:
    r"""KL between Gaussians from ``E = Σ_p - Σ_q``, ``L_q`` and ``dmu = μ_q - μ_p``.

    ``½ Σ φ(λ_i) + ½‖z‖²`` with ``λ`` the eigenvalues of ``L_q^{-1} E L_q^{-T}`` (> -1
    since Σ_p is positive definite) and ``z = L_q^{-1} dmu``, from one triangular solve
    (:func:`_whitened_eigenvalues`).
    """
    lam, z = _whitened_eigenvalues(e, l_q, dmu[..., None])
    return 0.5 * (jnp.sum(x_minus_log1p(lam), -1) + jnp.sum(z * z, (-2, -1)))


def _lowrank_cov_difference(
    p: LowRankMultivariateNormal, q: LowRankMultivariateNormal
) -> jax.Array:
    """``Σ_p - Σ_q`` from the parameters' differences when the ranks agree."""
    wp, wq = p.cov_factor, q.cov_factor
    dd = _vec_diag(p.cov_diag - q.cov_diag)
    if wp.shape[-1] == wq.shape[-1]:
        dw = wp - wq
        t = dw @ jnp.swapaxes(wp, -1, -2)
        return t + jnp.swapaxes(t, -1, -2) - dw @ jnp.swapaxes(dw, -1, -2) + dd
    return wp @ jnp.swapaxes(wp, -1, -2) - wq @ jnp.swapaxes(wq, -1, -2) + dd


@register_kl(MultivariateNormal, MultivariateNormal, jit=True)
def _kl_multivariatenormal_multivariatenormal(p: MultivariateNormal, q: MultivariateNormal):
    r"""KL between full-covariance normals (torch's values).

    With both ``covariance_matrix`` given, from ``E = Σ_p - Σ_q`` (eigenvalue form);
    otherwise from the Cholesky factors (``X = L_q^{-1}(L_p - L_q)`` form); see the module
    docstring. One triangular solve either way.
    """
    dmu = q.loc - p.loc
    if p._covariance_matrix is not None and q._covariance_matrix is not None:
        e = p._covariance_matrix - q._covariance_matrix
        return gaussian_kl_from_covariance_difference(e, q.scale_tril, dmu)
    return gaussian_kl_from_scale_tril(p.scale_tril, q.scale_tril, dmu)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal, jit=True)
def _kl_lowrankmultivariatenormal_lowrankmultivariatenormal(p, q):
    """KL between low-rank normals, from the covariance difference (eigenvalue form).

    ``E = W_p W_p^T - W_q W_q^T + diag(D_p - D_q)`` is formed from parameter differences.
    """
    return gaussian_kl_from_covariance_difference(
        _lowrank_cov_difference(p, q), q.scale_tril, q.loc - p.loc
    )


@register_kl(LowRankMultivariateNormal, MultivariateNormal, jit=True)
def _kl_lowrankmultivariatenormal_multivariatenormal(p, q):
    """KL(low-rank normal || normal), from the Cholesky factors."""
    return gaussian_kl_from_scale_tril(p.scale_tril, q.scale_tril, q.loc - p.loc)


@register_kl(MultivariateNormal, LowRankMultivariateNormal, jit=True)
def _kl_multivariatenormal_lowrankmultivariatenormal(p, q):
    """KL(normal || low-rank normal), from the Cholesky factors."""
    return gaussian_kl_from_scale_tril(p.scale_tril, q.scale_tril, q.loc - p.loc)


@register_kl(MultivariateNormalDiag, MultivariateNormalDiag, jit=True)
def _kl_multivariatenormaldiag_multivariatenormaldiag(p, q):
    r"""Sum over the event of Normal-Normal KLs.

    ``½ Σ_i [φ(x_i) + ((μ_p,i - μ_q,i)/s_q,i)²]`` with
    ``x_i = (s_p,i - s_q,i)(s_p,i + s_q,i)/s_q,i²`` (no cancellation near p = q).
    """
    x = (p.scale_diag - q.scale_diag) * (p.scale_diag + q.scale_diag) / q.scale_diag**2
    z = (p.loc - q.loc) / q.scale_diag
    return 0.5 * jnp.sum(x_minus_log1p(x) + z * z, -1)


@register_kl(MultivariateNormalDiag, MultivariateNormal, jit=True)
@register_kl(MultivariateNormalDiag, LowRankMultivariateNormal, jit=True)
@register_kl(MultivariateNormal, MultivariateNormalDiag, jit=True)
@register_kl(LowRankMultivariateNormal, MultivariateNormalDiag, jit=True)
def _kl_gaussian_diag_cross(p, q):
    """KL between a diagonal normal and a full or low-rank normal (either order).

    From the Cholesky factors (the diagonal one's factor is ``diag(scale_diag)``).
    """
    return gaussian_kl_from_scale_tril(p.scale_tril, q.scale_tril, q.loc - p.loc)


@register_kl(Dirichlet, Dirichlet, jit=True)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet):
    r"""KL between Dirichlet distributions.

    .. math::
        D_{KL} = \log\Gamma(\alpha_0) - \log\Gamma(\beta_0)
        - \sum_i[\log\Gamma(\alpha_i) - \log\Gamma(\beta_i)]
        + \sum_i(\alpha_i - \beta_i)(\psi(\alpha_i) - \psi(\alpha_0))

    rewritten with the Bregman divergence of ``lgamma``,
    ``B(x, h) = lgamma(x - h) - lgamma(x) + h ψ(x)`` and ``h = α - β``:
    ``KL = Σ_i B(α_i, h_i) - B(α_0, Σ_i h_i)``, each ``B`` computed without cancellation
    (:func:`jaxkl._numerics.lgamma_bregman`).

    References: Penny (2001); torch's ``_kl_dirichlet_dirichlet``.
    """
    a, b = p.concentration, q.concentration
    # The cancellation-free form costs more than the textbook one and is only needed for a
    # row whose concentrations are all close to q's (then the KL is O(δ²) and the textbook
    # terms cancel). Without any such row the textbook form is accurate, so a `cond` picks
    # (under vmap it becomes a select and both run).
    near_row = jnp.all(jnp.abs(a - b) < 0.5 * jnp.minimum(a, b), axis=-1)
    near = jnp.any(near_row)
    return jax.lax.cond(near, _dirichlet_kl_bregman, _dirichlet_kl_direct, a, b)


def _dirichlet_kl_bregman(a, b):
    h = a - b
    return jnp.sum(lgamma_bregman(a, h), -1) - lgamma_bregman(jnp.sum(a, -1), jnp.sum(h, -1))


def _dirichlet_kl_direct(a, b):
    a0, b0 = jnp.sum(a, -1), jnp.sum(b, -1)
    return (
        gammaln(a0)
        - gammaln(b0)
        - jnp.sum(gammaln(a) - gammaln(b), -1)
        + jnp.sum((a - b) * (digamma(a) - digamma(a0)[..., None]), -1)
    )
