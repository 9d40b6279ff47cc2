"""Multivariate families: full-covariance, low-rank and diagonal normals, and Dirichlet.

Shapes follow torch.distributions: a parameter with event dims (``loc`` and ``cov_diag``
``(..., d)``, the matrices ``(..., d, d)``, ``cov_factor`` ``(..., d, r)``) has the batch
shape in front; the batch shapes of the parameters broadcast at construction, and a
mismatch of event dims (``loc`` of size 3 with a 4 x 4 matrix) raises ``ValueError`` naming
both parameters, also under ``jit`` (shapes are static).

A note on linear algebra under ``jit`` on CPU: with jaxlib 0.10.2 a jitted function holding
two independent triangular solves can deadlock inside XLA's CPU runtime (README, known
issues). Each method here does at most one triangular solve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln, xlogy

from jaxkl._linalg import cholesky, diagonal, solve_lower
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params

__all__ = ["MultivariateNormal", "LowRankMultivariateNormal", "MultivariateNormalDiag", "Dirichlet"]

_LOG_2PI = math.log(2 * math.pi)

_MATRIX_PARAMS = ("covariance_matrix", "precision_matrix", "scale_tril")


# -- shape helpers ----------------------------------------------------------------------
def _event_size(cls_name: str, name: str, x: jax.Array, ndims: int) -> tuple[int, ...]:
    """Check that ``x`` has at least ``ndims`` dims and return its trailing event shape."""
    if x.ndim < ndims:
        raise ValueError(
            f"{cls_name}: parameter `{name}` must have at least {ndims} dimension(s) "
            f"(batch shape first, then the event), got shape {tuple(x.shape)}"
        )
    return tuple(x.shape[x.ndim - ndims :])


def _broadcast_batch(
    cls_name: str, named: Sequence[tuple[str, jax.Array, int]]
) -> tuple[jax.Array, ...]:
    """Broadcast the batch parts (all but the trailing ``k`` event dims) of the parameters."""
    batches = [tuple(x.shape[: x.ndim - k]) for _, x, k in named]
    try:
        batch = tuple(jnp.broadcast_shapes(*batches))
    except ValueError:
        desc = ", ".join(f"`{n}` {tuple(x.shape)}" for n, x, _ in named)
        raise ValueError(
            f"{cls_name}: the batch shapes of the parameters do not broadcast: {desc}"
        ) from None
    return tuple(jnp.broadcast_to(x, batch + tuple(x.shape[x.ndim - k :])) for _, x, k in named)


def _apply_columns(fn, mat: jax.Array, vec: jax.Array) -> jax.Array:
    """``fn(mat, v)`` for batched vectors, without broadcasting the matrix to their shape.

    ``vec`` has shape ``sample + batch' + (d,)``, ``mat`` shape ``batch + (d, d)``: extra
    leading dims of ``vec`` become right-hand-side columns (torch's ``_batch_mahalanobis``
    trick). ``fn(m, cols)`` maps ``(..., d, d), (..., d, n)`` to
    ``(..., d, n)``.
    """
    batch = tuple(mat.shape[:-2])
    d = vec.shape[-1]
    full = tuple(jnp.broadcast_shapes(vec.shape[:-1], batch))
    vec = jnp.broadcast_to(vec, full + (d,))
    nb = len(batch)
    tail = full[len(full) - nb :] if nb else ()
    lead = full[: len(full) - nb]
    mat = jnp.broadcast_to(mat, tail + (d, d))
    n = math.prod(lead)
    nl = len(lead)
    # lead + tail + (d,) -> tail + (d,) + lead -> tail + (d, n)
    perm = tuple(range(nl, nl + nb)) + (nl + nb,) + tuple(range(nl))
    cols = jnp.transpose(vec, perm).reshape(tail + (d, n))
    out = fn(mat, cols)
    out = out.reshape(tail + (d,) + lead)
    inv = tuple(range(nb + 1, nb + 1 + nl)) + tuple(range(nb)) + (nb,)
    return jnp.transpose(out, inv)


def _tril_solve(L: jax.Array, vec: jax.Array) -> jax.Array:
    """``L^{-1} v`` for lower-triangular ``L`` (batch + (d, d)) and vectors (..., d)."""
    return _apply_columns(lambda m, c: solve_lower(m, c), L, vec)


def _tril_matvec(L: jax.Array, vec: jax.Array) -> jax.Array:
    """``L v`` for matrices (batch + (d, d)) and vectors (..., d), see :func:`_apply_columns`."""
    return _apply_columns(jnp.matmul, L, vec)


def _transpose(x: jax.Array) -> jax.Array:
    return jnp.swapaxes(x, -1, -2)


def _eye_like(x: jax.Array) -> jax.Array:
    return jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)


def precision_to_scale_tril(precision: jax.Array) -> jax.Array:
    """Cholesky factor of ``inv(P)`` from the precision ``P`` without inverting ``P``.

    With ``J`` the exchange matrix, ``J P J = Lf Lf^T`` (a Cholesky factorisation), so
    ``P = U U^T`` with the *upper* triangular ``U = J Lf J`` and ``inv(P) = U^{-T} U^{-1}``:
    the lower factor is ``inv(U^T)``, one triangular solve (torch does the same).
    """
    lf = cholesky(jnp.flip(precision, (-2, -1)))
    l_inv = _transpose(jnp.flip(lf, (-2, -1)))
    return solve_lower(l_inv, _eye_like(l_inv))


def _square_size(cls_name: str, name: str, m: jax.Array) -> int:
    """The size ``d`` of a matrix parameter of shape ``batch + (d, d)``."""
    _event_size(cls_name, name, m, 2)
    if m.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"{cls_name}: `{name}` must be square in its last two dims, got shape {tuple(m.shape)}"
        )
    return m.shape[-1]


class CovarianceParametrised:
    """Mixin of the families given by one of three covariance parametrisations.

    Exactly one of ``covariance_matrix``, ``precision_matrix``, ``scale_tril`` is given,
    stored as ``_covariance_matrix``, ... with the others ``None``: ``given`` names it, the
    three public properties compute the rest. Shared by MultivariateNormal and Wishart,
    whose constructors start with :meth:`_one_matrix` and end with :meth:`_init_matrix`.
    """

    @classmethod
    def _one_matrix(cls, covariance_matrix, precision_matrix, scale_tril) -> tuple[str, object]:
        """``(name, value)`` of the one matrix given; ``ValueError`` unless exactly one is."""
        given = {
            n: v
            for n, v in zip(_MATRIX_PARAMS, (covariance_matrix, precision_matrix, scale_tril))
            if v is not None
        }
        if len(given) != 1:
            raise ValueError(
                f"{cls.__name__}: exactly one of `covariance_matrix`, `precision_matrix` or "
                f"`scale_tril` must be given, got {sorted(given) or 'none'}"
            )
        ((name, matrix),) = given.items()
        return name, matrix

    def _init_matrix(self, name: str, matrix: jax.Array, validate_args, **others) -> None:
        """The constructors' last step: the given matrix as ``_name``, the others ``None``."""
        fields = {f"_{n}": None for n in _MATRIX_PARAMS}
        fields[f"_{name}"] = matrix
        self._init(**others, **fields, validate_args=validate_args)

    @property
    def given(self) -> str:
        """Name of the matrix parameter the distribution was built with."""
        for name in _MATRIX_PARAMS:
            if getattr(self, f"_{name}") is not None:
                return name
        raise AssertionError("no matrix parameter")  # pragma: no cover

    @property
    def scale_tril(self) -> jax.Array:
        """Lower Cholesky factor ``L`` of the covariance (computed unless given)."""
        if self._scale_tril is not None:
            return self._scale_tril
        if self._covariance_matrix is not None:
            return cholesky(self._covariance_matrix)
        return precision_to_scale_tril(self._precision_matrix)

    @property
    def covariance_matrix(self) -> jax.Array:
        if self._covariance_matrix is not None:
            return self._covariance_matrix
        L = self.scale_tril
        return L @ _transpose(L)

    @property
    def precision_matrix(self) -> jax.Array:
        if self._precision_matrix is not None:
            return self._precision_matrix
        L = self.scale_tril
        l_inv = solve_lower(L, _eye_like(L))
        return _transpose(l_inv) @ l_inv


class _GaussianBase(Distribution):
    """Shared methods of the Gaussian families (they all have ``loc`` and ``scale_tril``)."""

    support = C.real_vector
    has_rsample = True

    @property
    def event_shape(self):
        return tuple(self.loc.shape[-1:])

    @property
    def mean(self):
        return self.loc

    mode = mean

    def _half_log_det(self) -> jax.Array:
        """``log det(Sigma) / 2``."""
        return jnp.sum(jnp.log(diagonal(self.scale_tril)), -1)

    def entropy(self):
        d = self.loc.shape[-1]
        return 0.5 * d * (1.0 + _LOG_2PI) + self._half_log_det()


class MultivariateNormal(CovarianceParametrised, _GaussianBase):
    r"""Multivariate normal ``N(loc, Sigma)``, torch's ``MultivariateNormal``.

    Exactly one of ``covariance_matrix`` (``Sigma``), ``precision_matrix`` (``inv(Sigma)``)
    or ``scale_tril`` (lower Cholesky factor ``L``, ``Sigma = L L^T``) is given. The given
    one is stored and the others are ``None`` leaves, so the parametrisation shows in the
    treedef; the properties ``covariance_matrix``, ``precision_matrix`` and ``scale_tril``
    compute the missing ones on access (the Cholesky factor when needed).

    .. math::
        \log p(x) = -\tfrac12 \lVert L^{-1}(x - \mu) \rVert^2 - \sum_i \log L_{ii}
        - \tfrac{d}{2}\log 2\pi

    Args:
        loc: mean, shape ``batch + (d,)``.
        covariance_matrix: symmetric positive-definite, ``batch + (d, d)``.
        precision_matrix: symmetric positive-definite, ``batch + (d, d)``.
        scale_tril: lower triangular with positive diagonal, ``batch + (d, d)``.
        validate_args: check the parameters (default on; see
            :func:`jaxkl.distributions.set_default_validate_args`).

    Raises:
        ValueError: not exactly one matrix given; event sizes of ``loc`` and the matrix
            differ; batch shapes do not broadcast; a matrix that is not positive definite
            (or a ``scale_tril`` that is not lower triangular with a positive diagonal) when
            the values are concrete (a ``checkify`` check under ``jit``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.MultivariateNormal(jnp.zeros(2), scale_tril=jnp.array([[1.0, 0.0], [0.5, 2.0]]))
        >>> p.event_shape, p.batch_shape
        ((2,), ())
        >>> print(f"{p.log_prob(jnp.array([0.5, -1.0])):.4f}")
        -2.8513
        >>> print(p.covariance_matrix)
        [[1.   0.5 ]
         [0.5  4.25]]
    """

    loc: jax.Array
    _covariance_matrix: jax.Array | None
    _precision_matrix: jax.Array | None
    _scale_tril: jax.Array | None
    arg_constraints = {
        "loc": C.real_vector,
        "covariance_matrix": C.positive_definite,
        "precision_matrix": C.positive_definite,
        "scale_tril": C.lower_cholesky,
    }
    # leaf names (used by batch_shape / expand) and the constructor's keyword names
    param_event_ndims = {
        "loc": 1,
        "_covariance_matrix": 2,
        "_precision_matrix": 2,
        "_scale_tril": 2,
        "covariance_matrix": 2,
        "precision_matrix": 2,
        "scale_tril": 2,
    }

    def __init__(
        self,
        loc,
        covariance_matrix=None,
        precision_matrix=None,
        scale_tril=None,
        *,
        validate_args=None,
    ):
        owner = "MultivariateNormal"
        name, matrix = self._one_matrix(covariance_matrix, precision_matrix, scale_tril)
        loc, matrix = as_float_params(owner, loc=loc, **{name: matrix}, broadcast=False)
        (d,) = _event_size(owner, "loc", loc, 1)
        m = _square_size(owner, name, matrix)
        if m != d:
            raise ValueError(
                f"{owner}: event shapes do not match: `loc` has event size {d} but `{name}` "
                f"is {m} x {m} (shapes {tuple(matrix.shape)})"
            )
        loc, matrix = _broadcast_batch(owner, [("loc", loc, 1), (name, matrix, 2)])
        self._init_matrix(name, matrix, validate_args, loc=loc)

    @property
    def variance(self):
        if self._covariance_matrix is not None:
            return diagonal(self._covariance_matrix)
        return jnp.sum(self.scale_tril**2, -1)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        eps = jax.random.normal(key, shape, self.loc.dtype)
        return self.loc + _tril_matvec(self.scale_tril, eps)

    def log_prob(self, value):
        value = jnp.asarray(value)
        z = _tril_solve(self.scale_tril, value - self.loc)
        d = self.loc.shape[-1]
        return -0.5 * jnp.sum(z * z, -1) - self._half_log_det() - 0.5 * d * _LOG_2PI


class LowRankMultivariateNormal(_GaussianBase):
    r"""Normal with covariance ``W W^T + diag(D)``, torch's ``LowRankMultivariateNormal``.

    ``log_prob`` and ``entropy`` use the ``r x r`` capacitance matrix
    ``C = I + W^T D^{-1} W`` (Woodbury identity and matrix determinant lemma), so they cost
    ``O(d r^2)``; ``scale_tril`` / ``covariance_matrix`` form the ``d x d`` matrices.

    Args:
        loc: mean, ``batch + (d,)``.
        cov_factor: ``W``, ``batch + (d, r)``.
        cov_diag: ``D`` (positive), ``batch + (d,)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.LowRankMultivariateNormal(jnp.zeros(3), jnp.ones((3, 1)), jnp.ones(3))
        >>> print(f"{p.entropy():.4f}")
        4.9500
    """

    loc: jax.Array
    cov_factor: jax.Array
    cov_diag: jax.Array
    arg_constraints = {
        "loc": C.real_vector,
        "cov_factor": C.independent(C.real, 2),
        "cov_diag": C.positive_vector,
    }
    param_event_ndims = {"loc": 1, "cov_factor": 2, "cov_diag": 1}

    def __init__(self, loc, cov_factor, cov_diag, *, validate_args=None):
        loc, cov_factor, cov_diag = as_float_params(
            type(self).__name__, loc=loc, cov_factor=cov_factor, cov_diag=cov_diag, broadcast=False
        )
        name = "LowRankMultivariateNormal"
        (d,) = _event_size(name, "loc", loc, 1)
        df, _ = _event_size(name, "cov_factor", cov_factor, 2)
        (dd,) = _event_size(name, "cov_diag", cov_diag, 1)
        if df != d or dd != d:
            raise ValueError(
                f"{name}: event shapes do not match: `loc` {tuple(loc.shape)}, `cov_factor` "
                f"{tuple(cov_factor.shape)} (d x rank) and `cov_diag` {tuple(cov_diag.shape)} "
                "must share d"
            )
        loc, cov_factor, cov_diag = _broadcast_batch(
            name, [("loc", loc, 1), ("cov_factor", cov_factor, 2), ("cov_diag", cov_diag, 1)]
        )
        self._init(loc=loc, cov_factor=cov_factor, cov_diag=cov_diag, validate_args=validate_args)

    def _capacitance_tril(self) -> jax.Array:
        """Cholesky factor of ``C = I + W^T D^{-1} W`` (``r x r``)."""
        wt_dinv = _transpose(self.cov_factor / self.cov_diag[..., None])
        cap = wt_dinv @ self.cov_factor
        return cholesky(cap + _eye_like(cap))

    def _half_log_det(self):
        return jnp.sum(jnp.log(diagonal(self._capacitance_tril())), -1) + 0.5 * jnp.sum(
            jnp.log(self.cov_diag), -1
        )

    @property
    def covariance_matrix(self):
        W = self.cov_factor
        return W @ _transpose(W) + jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(self.cov_diag)

    @property
    def scale_tril(self):
        return cholesky(self.covariance_matrix)

    @property
    def precision_matrix(self):
        """Woodbury: ``D^{-1} - D^{-1} W C^{-1} W^T D^{-1}``."""
        a = solve_lower(
            self._capacitance_tril(), _transpose(self.cov_factor / self.cov_diag[..., None])
        )
        dinv = jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(1.0 / self.cov_diag)
        return dinv - _transpose(a) @ a

    @property
    def variance(self):
        return jnp.sum(self.cov_factor**2, -1) + self.cov_diag

    def sample(self, key, sample_shape=()):
        k1, k2 = jax.random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        d, r = self.cov_factor.shape[-2:]
        eps_w = jax.random.normal(k1, shape + (r,), self.loc.dtype)
        eps_d = jax.random.normal(k2, shape + (d,), self.loc.dtype)
        return (
            self.loc
            + jnp.einsum("...ij,...j->...i", self.cov_factor, eps_w)
            + jnp.sqrt(self.cov_diag) * eps_d
        )

    def log_prob(self, value):
        diff = jnp.asarray(value) - self.loc
        d, r = self.cov_factor.shape[-2:]
        scaled = diff / self.cov_diag
        # W^T D^{-1} x, then the Woodbury correction with the capacitance factor
        wt = jnp.einsum("...ij,...i->...j", self.cov_factor, scaled)
        u = _tril_solve(self._capacitance_tril(), wt)
        maha = jnp.sum(diff * scaled, -1) - jnp.sum(u * u, -1)
        return -0.5 * maha - self._half_log_det() - 0.5 * d * _LOG_2PI


class MultivariateNormalDiag(_GaussianBase):
    r"""Normal with diagonal covariance ``diag(scale_diag)^2``, TFP's ``MultivariateNormalDiag``.

    An event of ``d`` independent normals (torch: ``Independent(Normal(loc, scale), 1)``).

    Args:
        loc: mean, ``batch + (d,)``.
        scale_diag: positive standard deviations, ``batch + (d,)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.MultivariateNormalDiag(jnp.zeros(2), jnp.array([1.0, 2.0]))
        >>> print(f"{p.log_prob(jnp.zeros(2)):.4f}")
        -2.5310
    """

    loc: jax.Array
    scale_diag: jax.Array
    arg_constraints = {"loc": C.real_vector, "scale_diag": C.positive_vector}
    param_event_ndims = {"loc": 1, "scale_diag": 1}

    def __init__(self, loc, scale_diag, *, validate_args=None):
        loc, scale_diag = as_float_params(
            type(self).__name__, loc=loc, scale_diag=scale_diag, broadcast=False
        )
        name = "MultivariateNormalDiag"
        (d,) = _event_size(name, "loc", loc, 1)
        (ds,) = _event_size(name, "scale_diag", scale_diag, 1)
        if ds != d and ds != 1 and d != 1:
            raise ValueError(
                f"{name}: event shapes do not match: `loc` {tuple(loc.shape)} and `scale_diag` "
                f"{tuple(scale_diag.shape)}"
            )
        shape = tuple(jnp.broadcast_shapes(loc.shape, scale_diag.shape))
        loc, scale_diag = jnp.broadcast_to(loc, shape), jnp.broadcast_to(scale_diag, shape)
        self._init(loc=loc, scale_diag=scale_diag, validate_args=validate_args)

    @property
    def scale_tril(self):
        return jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(self.scale_diag)

    @property
    def covariance_matrix(self):
        return jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(self.scale_diag**2)

    @property
    def precision_matrix(self):
        return jnp.vectorize(jnp.diag, signature="(d)->(d,d)")(self.scale_diag**-2)

    @property
    def variance(self):
        return self.scale_diag**2

    def _half_log_det(self):
        return jnp.sum(jnp.log(self.scale_diag), -1)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        return self.loc + self.scale_diag * jax.random.normal(key, shape, self.loc.dtype)

    def log_prob(self, value):
        z = (jnp.asarray(value) - self.loc) / self.scale_diag
        d = self.loc.shape[-1]
        return -0.5 * jnp.sum(z * z, -1) - self._half_log_det() - 0.5 * d * _LOG_2PI


class Dirichlet(ExponentialFamily):
    r"""Dirichlet distribution on the simplex, torch's ``Dirichlet(concentration)``.

    .. math::
        \log p(x) = \sum_i (\alpha_i - 1)\log x_i - \sum_i \log\Gamma(\alpha_i)
        + \log\Gamma(\alpha_0), \qquad \alpha_0 = \sum_i \alpha_i

    An exponential family with natural parameter ``alpha`` and log-normaliser
    ``sum lgamma(alpha) - lgamma(alpha_0)``. ``sample`` is reparameterised (gradients of
    gamma variates by implicit differentiation, as ``jax.random.dirichlet``).

    Args:
        concentration: positive, ``batch + (k,)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.Dirichlet(jnp.array([1.0, 2.0, 3.0]))
        >>> print(p.mean)
        [0.16666667 0.33333334 0.5       ]
        >>> print(f"{p.log_prob(jnp.array([0.2, 0.3, 0.5])):.4f}")
        1.5041
    """

    concentration: jax.Array
    arg_constraints = {"concentration": C.positive_vector}
    param_event_ndims = {"concentration": 1}
    support = C.simplex
    has_rsample = True

    def __init__(self, concentration, *, validate_args=None):
        (concentration,) = as_float_params(type(self).__name__, concentration=concentration)
        _event_size("Dirichlet", "concentration", concentration, 1)
        self._init(concentration=concentration, validate_args=validate_args)

    @property
    def event_shape(self):
        return tuple(self.concentration.shape[-1:])

    def _total(self):
        return jnp.sum(self.concentration, -1)

    @property
    def mean(self):
        return self.concentration / self._total()[..., None]

    @property
    def mode(self):
        """The Dirichlet mode.

        ``(alpha - 1) / (alpha_0 - k)`` where every ``alpha_i > 1`` (torch's convention
        otherwise is not defined here; NaN).
        """
        k = self.concentration.shape[-1]
        mode = (self.concentration - 1) / (self._total() - k)[..., None]
        return jnp.where(jnp.all(self.concentration > 1, -1, keepdims=True), mode, jnp.nan)

    @property
    def variance(self):
        a0 = self._total()[..., None]
        return self.concentration * (a0 - self.concentration) / (a0 * a0 * (a0 + 1))

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return jax.random.dirichlet(key, self.concentration, shape, self.concentration.dtype)

    def log_prob(self, value):
        value = jnp.asarray(value)
        a = self.concentration
        return jnp.sum(xlogy(a - 1, value), -1) - self._log_normalizer(a)

    def entropy(self):
        a = self.concentration
        a0 = self._total()
        k = a.shape[-1]
        return self._log_normalizer(a) + (a0 - k) * digamma(a0) - jnp.sum((a - 1) * digamma(a), -1)

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, eta):
        return jnp.sum(gammaln(eta), -1) - gammaln(jnp.sum(eta, -1))
