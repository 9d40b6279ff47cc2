r"""Matrix-variate families: Wishart and MatrixNormal.

Shapes: a matrix parameter is ``batch + (rows, columns)``; the batch shapes of all
parameters broadcast at construction, and mismatched event sizes raise ``ValueError``
naming both parameters (also under ``jit``: shapes are static).

Linear algebra follows :mod:`jaxkl.distributions.multivariate`: Cholesky factors are lower
triangular, and each method does at most one triangular solve (with jaxlib 0.10.2 on CPU a
jitted function holding two independent triangular solves can deadlock inside XLA).
MatrixNormal needs the inverses of both scales: it solves once against the block-diagonal
matrix ``diag(scale_row, scale_column)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxkl._linalg import block_diag, cholesky, diagonal, solve_lower
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, as_float_params
from jaxkl.distributions.multivariate import (
    _LOG_2PI,
    CovarianceParametrised,
    _broadcast_batch,
    _event_size,
    _eye_like,
    _square_size,
    _transpose,
)

__all__ = ["Wishart", "MatrixNormal"]

_LOG_2 = math.log(2.0)
_LOG_PI = math.log(math.pi)


def mvlgamma(a: jax.Array, d: int) -> jax.Array:
    r"""Multivariate log-gamma ``log Γ_d(a) = d(d-1)/4 log π + Σ_{j<d} lgamma(a - j/2)``.

    torch's ``mvlgamma``.
    """
    a = jnp.asarray(a)
    return d * (d - 1) / 4 * _LOG_PI + sum(gammaln(a - 0.5 * j) for j in range(d))


def mvdigamma(a: jax.Array, d: int) -> jax.Array:
    r"""Multivariate digamma ``ψ_d(a) = Σ_{j<d} ψ(a - j/2)`` (derivative of :func:`mvlgamma`)."""
    a = jnp.asarray(a)
    return sum(digamma(a - 0.5 * j) for j in range(d))


class Wishart(CovarianceParametrised, Distribution):
    r"""Wishart distribution over ``d x d`` positive-definite matrices.

    torch's ``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``.

    ``X = Σ_{i=1}^{df} x_i x_i^T`` with ``x_i ~ N(0, Σ)`` for integer ``df``; any real
    ``df > d - 1`` is allowed. Exactly one of ``covariance_matrix`` (the scale ``Σ``),
    ``precision_matrix`` (``Σ^{-1}``) or ``scale_tril`` (``L``, ``Σ = L L^T``) is given; it
    is stored as given, the others are ``None`` leaves and computed on access.

    .. math::
        \log p(X) = \tfrac{df - d - 1}{2}\log|X| - \tfrac12\operatorname{tr}(Σ^{-1}X)
        - \tfrac{df\,d}{2}\log 2 - \tfrac{df}{2}\log|Σ| - \log Γ_d(\tfrac{df}{2})

    ``sample`` uses the Bartlett decomposition (chi-square diagonal, normal lower part);
    it is reparameterised through ``jax.random.gamma``'s implicit gradients.

    Args:
        df: degrees of freedom, ``> d - 1``; broadcasts with the matrix's batch shape.
        covariance_matrix: symmetric positive-definite scale matrix, ``batch + (d, d)``.
        precision_matrix: its inverse, ``batch + (d, d)``.
        scale_tril: lower Cholesky factor of the scale (positive diagonal).
        validate_args: check the parameters (default on).

    Raises:
        ValueError: not exactly one matrix; a non-square matrix; batch shapes that do not
            broadcast; ``df <= d - 1``, a matrix that is not positive definite or a
            ``scale_tril`` that is not lower triangular with a positive diagonal (when
            concrete; ``checkify`` checks under ``jit``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> w = jd.Wishart(4.0, covariance_matrix=jnp.array([[1.0, 0.5], [0.5, 2.0]]))
        >>> print(w.mean)
        [[4. 2.]
         [2. 8.]]
        >>> print(f"{w.log_prob(jnp.array([[3.0, 1.0], [1.0, 6.0]])):.4f} {w.entropy():.4f}")
        -6.0697 7.1408
    """

    df: jax.Array
    _covariance_matrix: jax.Array | None
    _precision_matrix: jax.Array | None
    _scale_tril: jax.Array | None
    arg_constraints = {
        "covariance_matrix": C.positive_definite,
        "precision_matrix": C.positive_definite,
        "scale_tril": C.lower_cholesky,
    }
    param_event_ndims = {"df": 0, "_covariance_matrix": 2, "_precision_matrix": 2, "_scale_tril": 2}
    support = C.positive_definite
    has_rsample = True

    def __init__(
        self,
        df,
        covariance_matrix=None,
        precision_matrix=None,
        scale_tril=None,
        *,
        validate_args=None,
    ):
        name, matrix = self._one_matrix(covariance_matrix, precision_matrix, scale_tril)
        df, matrix = as_float_params("Wishart", df=df, **{name: matrix}, broadcast=False)
        _square_size("Wishart", name, matrix)
        df, matrix = _broadcast_batch("Wishart", [("df", df, 0), (name, matrix, 2)])
        self._init_matrix(name, matrix, validate_args, df=df)

    def _validate_params(self) -> None:
        d = self._dim
        self._check_param(
            "df",
            self.df,
            self.df > d - 1,
            f"greater than d - 1 = {d - 1} (the matrix is {d} x {d})",
        )
        super()._validate_params()  # the matrix, by its constraint

    @property
    def _matrix(self) -> jax.Array:
        return getattr(self, f"_{self.given}")

    @property
    def _dim(self) -> int:
        return self._matrix.shape[-1]

    @property
    def event_shape(self):
        d = self._dim
        return (d, d)

    def _log_det_scale(self) -> jax.Array:
        """``log|Σ|``."""
        if self._precision_matrix is not None:
            return -2.0 * jnp.sum(jnp.log(diagonal(cholesky(self._precision_matrix))), -1)
        return 2.0 * jnp.sum(jnp.log(diagonal(self.scale_tril)), -1)

    @property
    def mean(self):
        return self.df[..., None, None] * self.covariance_matrix

    @property
    def mode(self):
        d = self._dim
        return jnp.maximum(self.df - d - 1, 0.0)[..., None, None] * self.covariance_matrix

    @property
    def variance(self):
        s = self.covariance_matrix
        v = diagonal(s)
        return self.df[..., None, None] * (s * s + v[..., :, None] * v[..., None, :])

    def entropy(self):
        d = self._dim
        half = 0.5 * self.df
        return (
            (d + 1) / 2 * self._log_det_scale()
            + d * (d + 1) / 2 * _LOG_2
            + mvlgamma(half, d)
            - (half - (d + 1) / 2) * mvdigamma(half, d)
            + half * d
        )

    def log_prob(self, value):
        x = jnp.asarray(value, self.df.dtype)
        d = self._dim
        x = 0.5 * (x + _transpose(x))
        shape = jnp.broadcast_shapes(x.shape, self.batch_shape + (d, d))
        cx = cholesky(jnp.broadcast_to(x, shape))
        log_det_x = 2.0 * jnp.sum(jnp.log(diagonal(cx)), -1)
        if self._precision_matrix is not None:
            # tr(P X) = ||U^T C_X||^2 with P = U U^T: no solve
            u = jnp.broadcast_to(cholesky(self._precision_matrix), shape)
            trace = jnp.sum(jnp.square(_transpose(u) @ cx), (-2, -1))
        else:
            L = jnp.broadcast_to(self.scale_tril, shape)
            trace = jnp.sum(jnp.square(solve_lower(L, cx)), (-2, -1))
        half = 0.5 * self.df
        lp = (
            (half - (d + 1) / 2) * log_det_x
            - 0.5 * trace
            - half * d * _LOG_2
            - half * self._log_det_scale()
            - mvlgamma(half, d)
        )
        return jnp.where(jnp.isfinite(log_det_x), lp, -jnp.inf)

    def sample(self, key, sample_shape=()):
        d = self._dim
        shape = tuple(sample_shape) + self.batch_shape
        k_chi, k_norm = jax.random.split(key)
        dtype = self.df.dtype
        # Bartlett: A_ii^2 ~ chi2(df - i), A_ij ~ N(0, 1) below the diagonal
        dof = self.df[..., None] - jnp.arange(d, dtype=dtype)
        chi2 = 2.0 * jax.random.gamma(
            k_chi, jnp.broadcast_to(0.5 * dof, shape + (d,)), shape + (d,), dtype
        )
        z = jax.random.normal(k_norm, shape + (d, d), dtype)
        a = jnp.tril(z, -1) + jnp.sqrt(chi2)[..., None] * jnp.eye(d, dtype=dtype)
        la = self.scale_tril @ a
        return la @ _transpose(la)


class MatrixNormal(Distribution):
    r"""Matrix normal distribution over ``n x p`` matrices.

    TFP's ``MatrixNormal`` with lower-triangular scales:
    ``MatrixNormal(loc, scale_row, scale_column)``.

    ``X = loc + A Z B^T`` with ``Z`` of independent standard normals, ``A = scale_row``
    (``n x n``) and ``B = scale_column`` (``p x p``), both lower triangular with a positive
    diagonal. Column-stacked, ``vec(X) ~ N(vec(loc), (B B^T) ⊗ (A A^T))``: ``A A^T`` is the
    covariance among rows, ``B B^T`` among columns.

    .. math::
        \log p(X) = -\tfrac12 \lVert A^{-1}(X - M)B^{-T}\rVert_F^2 - p\sum_i\log A_{ii}
        - n\sum_j\log B_{jj} - \tfrac{np}{2}\log 2π

    Args:
        loc: mean ``M``, ``batch + (n, p)``.
        scale_row: ``A``, ``batch + (n, n)``.
        scale_column: ``B``, ``batch + (p, p)``.
        validate_args: check the parameters (default on).

    Raises:
        ValueError: sizes that do not match ``loc``; batch shapes that do not broadcast; a
            scale that is not lower triangular with a positive diagonal, or a NaN ``loc``
            (when concrete; ``checkify`` checks under ``jit``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> d = jd.MatrixNormal(jnp.zeros((2, 3)), jnp.eye(2), 2.0 * jnp.eye(3))
        >>> d.event_shape
        (2, 3)
        >>> print(f"{d.log_prob(jnp.ones((2, 3))):.4f} {d.entropy():.4f}")
        -10.4225 12.6725
    """

    loc: jax.Array
    scale_row: jax.Array
    scale_column: jax.Array
    arg_constraints = {
        "loc": C.independent(C.real, 2),
        "scale_row": C.lower_cholesky,
        "scale_column": C.lower_cholesky,
    }
    param_event_ndims = {"loc": 2, "scale_row": 2, "scale_column": 2}
    support = C.independent(C.real, 2)
    has_rsample = True

    def __init__(self, loc, scale_row, scale_column, *, validate_args=None):
        name = "MatrixNormal"
        loc, scale_row, scale_column = as_float_params(
            name, loc=loc, scale_row=scale_row, scale_column=scale_column, broadcast=False
        )
        n, p = _event_size(name, "loc", loc, 2)
        if _square_size(name, "scale_row", scale_row) != n:
            raise ValueError(
                f"{name}: `scale_row` must be {n} x {n} for `loc` of shape {tuple(loc.shape)} "
                f"(n x p = {n} x {p}), got shape {tuple(scale_row.shape)}"
            )
        if _square_size(name, "scale_column", scale_column) != p:
            raise ValueError(
                f"{name}: `scale_column` must be {p} x {p} for `loc` of shape {tuple(loc.shape)} "
                f"(n x p = {n} x {p}), got shape {tuple(scale_column.shape)}"
            )
        loc, scale_row, scale_column = _broadcast_batch(
            name, [("loc", loc, 2), ("scale_row", scale_row, 2), ("scale_column", scale_column, 2)]
        )
        self._init(
            loc=loc, scale_row=scale_row, scale_column=scale_column, validate_args=validate_args
        )

    @property
    def event_shape(self):
        return tuple(self.loc.shape[-2:])

    @property
    def mean(self):
        return self.loc

    mode = mean

    @property
    def variance(self):
        row = jnp.sum(jnp.square(self.scale_row), -1)
        col = jnp.sum(jnp.square(self.scale_column), -1)
        return row[..., :, None] * col[..., None, :]

    @property
    def row_covariance(self) -> jax.Array:
        """``A A^T`` (``n x n``)."""
        return self.scale_row @ _transpose(self.scale_row)

    @property
    def column_covariance(self) -> jax.Array:
        """``B B^T`` (``p x p``)."""
        return self.scale_column @ _transpose(self.scale_column)

    def _half_log_det(self) -> jax.Array:
        """``log det(cov(vec X)) / 2 = p Σ log A_ii + n Σ log B_jj``."""
        n, p = self.event_shape
        return p * jnp.sum(jnp.log(diagonal(self.scale_row)), -1) + n * jnp.sum(
            jnp.log(diagonal(self.scale_column)), -1
        )

    def entropy(self):
        n, p = self.event_shape
        return 0.5 * n * p * (1.0 + _LOG_2PI) + self._half_log_det()

    def _inverse_scales(self):
        """``(A^{-1}, B^{-1})`` from one triangular solve against ``diag(A, B)``."""
        n, p = self.event_shape
        blocks = block_diag(self.scale_row, self.scale_column)
        inv = solve_lower(blocks, _eye_like(blocks))
        return inv[..., :n, :n], inv[..., n:, n:]

    def log_prob(self, value):
        n, p = self.event_shape
        a_inv, b_inv = self._inverse_scales()
        z = a_inv @ (jnp.asarray(value, self.loc.dtype) - self.loc) @ _transpose(b_inv)
        return -0.5 * jnp.sum(z * z, (-2, -1)) - self._half_log_det() - 0.5 * n * p * _LOG_2PI

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        z = jax.random.normal(key, shape, self.loc.dtype)
        return self.loc + self.scale_row @ z @ _transpose(self.scale_column)
