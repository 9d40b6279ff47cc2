"""Bijective transforms for :class:`~jaxkl.distributions.TransformedDistribution`.

torch.distributions' names and keywords: ``AffineTransform(loc, scale, event_dim=0)``,
``ExpTransform()``, ``SigmoidTransform()``, ``TanhTransform()``, ``PowerTransform(exponent)``.
Each transform is an immutable dataclass registered as a pytree (its array parameters are
leaves, ``event_dim`` is static metadata), so a transform passes through ``jit``, ``vmap``
and ``grad`` like the distributions do. Unflattening never calls ``__init__``.

A transform ``t`` maps ``x`` in its domain to ``y = t(x)`` (also ``t.forward(x)``);
``t.inverse(y)`` (or ``t.inv(y)``, torch's spelling) maps back, and
``t.log_abs_det_jacobian(x, y)`` is ``log |dy/dx|``, elementwise (summed over the
``event_dim`` rightmost dimensions for an affine map with ``event_dim > 0``).

Unlike torch there is no caching (``cache_size`` is accepted for porting and ignored):
``jit`` removes the recomputation where it matters.

Two transforms compare equal (``==``) when they have the same type, the same static
configuration and equal parameters; this is torch's rule for the KL between two
transformed distributions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxkl import _checks
from jaxkl._linalg import sum_rightmost
from jaxkl._pytree import Pytree, static_field
from jaxkl.distributions import constraints as C

__all__ = [
    "Transform",
    "AffineTransform",
    "ExpTransform",
    "SigmoidTransform",
    "TanhTransform",
    "PowerTransform",
    "InverseTransform",
]


def _as_param(x: Any) -> jax.Array:
    """A transform parameter as a floating array.

    Python numbers stay weakly typed, so a scalar ``AffineTransform(0.0, 2.0)`` follows the dtype of
    the values it maps (also float64 ones) under strict dtype promotion.
    """
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        return jnp.asarray(float(x))
    _checks.check_real_input(x, "parameter", "transform ")
    return jnp.asarray(x, dtype=_checks.compute_dtype(x))


class Transform(Pytree, base=True):
    """Base class of the bijections.

    Subclasses declare annotated fields (leaves unless declared static) and implement ``_forward``,
    ``_inverse`` and ``_log_abs_det_jacobian``.
    """

    #: number of rightmost dimensions the transform acts on jointly (0: elementwise)
    event_dim: int = 0
    domain: ClassVar[C.Constraint] = C.real
    codomain: ClassVar[C.Constraint] = C.real

    def _set(self, **values: Any) -> None:
        self._set_fields(values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(
            f"{type(self).__name__} is immutable; cannot set {name!r}"
        )

    # -- the map -------------------------------------------------------------------
    def __call__(self, x: Any) -> jax.Array:
        return self.forward(x)

    def forward(self, x: Any) -> jax.Array:
        """``y = t(x)``."""
        return self._forward(jnp.asarray(x))

    def inverse(self, y: Any) -> jax.Array:
        """``x = t^{-1}(y)``."""
        return self._inverse(jnp.asarray(y))

    @property
    def inv(self) -> InverseTransform:
        """The inverse as a transform (torch's ``t.inv``; ``t.inv(y)`` is ``t.inverse(y)``)."""
        return InverseTransform(self)

    def log_abs_det_jacobian(self, x: Any, y: Any) -> jax.Array:
        """``log |det dy/dx|`` at ``x``, with ``y = t(x)``.

        Over the ``event_dim`` rightmost dimensions: shape ``x.shape[:x.ndim - event_dim]``
        (broadcast with the parameters).
        """
        return self._log_abs_det_jacobian(jnp.asarray(x), jnp.asarray(y))

    def forward_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``t(x)`` for ``x`` of ``shape`` (parameters broadcast)."""
        shapes = [tuple(jnp.shape(getattr(self, n))) for n in self._leaf_names]
        return tuple(jnp.broadcast_shapes(tuple(shape), *shapes))

    def inverse_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.forward_shape(shape)

    @property
    def sign(self) -> Any:
        """+1 for an increasing map, -1 for a decreasing one (elementwise transforms)."""
        return 1

    # -- equality ------------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        if type(self) is not type(other) or self._static_values() != other._static_values():
            return False
        for name in self._leaf_names:
            a, b = getattr(self, name), getattr(other, name)
            if a is b:
                continue
            if jnp.shape(a) != jnp.shape(b) and not _broadcast_equal_shapes(a, b):
                return False
            if not bool(jnp.all(jnp.asarray(a) == jnp.asarray(b))):
                return False
        return True

    def __ne__(self, other: Any) -> bool:
        return not self == other

    def __hash__(self) -> int:
        # consistent with __eq__: equal transforms share type and static configuration
        return hash((type(self), self._static_values()))

    def __repr__(self) -> str:
        parts = []
        for name in self._leaf_names:
            value = getattr(self, name)
            shape = tuple(jnp.shape(value))
            parts.append(
                f"{name}={float(value):g}"
                if shape == () and _is_concrete(value)
                else f"{name}: {shape}"
            )
        for name in self._static_names:
            if name != "event_dim" or getattr(self, name):
                parts.append(f"{name}={getattr(self, name)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- to implement --------------------------------------------------------------
    def _forward(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _inverse(self, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _log_abs_det_jacobian(self, x: jax.Array, y: jax.Array) -> jax.Array:
        raise NotImplementedError


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _broadcast_equal_shapes(a: Any, b: Any) -> bool:
    try:
        jnp.broadcast_shapes(jnp.shape(a), jnp.shape(b))
        return True
    except ValueError:
        return False


def transforms_equal_mask(ts_p: tuple[Transform, ...], ts_q: tuple[Transform, ...]) -> Any:
    """Whether two transform sequences are equal, in a form usable under ``jit``.

    Returns ``None`` when the sequences differ statically (length, types or static
    configuration), else a boolean scalar (a Python bool when every parameter is concrete
    or shared, a traced array otherwise) that is True when all parameters are equal.
    """
    if len(ts_p) != len(ts_q):
        return None
    ok: Any = True
    for a, b in zip(ts_p, ts_q):
        if type(a) is not type(b) or a._static_values() != b._static_values():
            return None
        for name in a._leaf_names:
            x, y = getattr(a, name), getattr(b, name)
            if x is y:
                continue
            if not _broadcast_equal_shapes(x, y):
                return None
            same = jnp.all(jnp.asarray(x) == jnp.asarray(y))
            if _is_concrete(x) and _is_concrete(y):
                if not bool(same):
                    return False
            else:
                ok = jnp.logical_and(ok, same)
    return ok


class InverseTransform(Transform):
    """The inverse of a transform (what ``t.inv`` returns)."""

    base: Transform

    def __init__(self, base: Transform):
        self._set(base=base)

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base.event_dim

    @property
    def domain(self):  # type: ignore[override]
        return self.base.codomain

    @property
    def codomain(self):  # type: ignore[override]
        return self.base.domain

    @property
    def inv(self) -> Transform:  # type: ignore[override]
        return self.base

    def forward_shape(self, shape):
        return self.base.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self.base.forward_shape(shape)

    @property
    def sign(self):
        return self.base.sign

    def _forward(self, x):
        return self.base._inverse(x)

    def _inverse(self, y):
        return self.base._forward(y)

    def _log_abs_det_jacobian(self, x, y):
        return -self.base._log_abs_det_jacobian(y, x)

    def __eq__(self, other):
        return type(other) is InverseTransform and self.base == other.base

    def __hash__(self):
        return hash((InverseTransform, hash(self.base)))

    def __repr__(self):
        return f"{self.base!r}.inv"


class AffineTransform(Transform):
    r"""``y = loc + scale * x`` (torch's ``AffineTransform(loc, scale, event_dim=0)``).

    .. math::
        \log |\det J| = \sum_{\text{event dims}} \log |\text{scale}|

    Args:
        loc, scale: arrays or numbers, broadcast against ``x``. ``scale`` may be negative
            (a decreasing map); zero is not a bijection.
        event_dim: how many rightmost dimensions form one event (the log-determinant is
            summed over them). Static.

    Examples:
        >>> from jaxkl.distributions.transforms import AffineTransform
        >>> t = AffineTransform(1.0, 2.0)
        >>> print(f"{t(3.0):.1f} {t.inverse(7.0):.1f} {t.log_abs_det_jacobian(3.0, 7.0):.4f}")
        7.0 3.0 0.6931
    """

    loc: jax.Array
    scale: jax.Array
    event_dim: int = static_field()

    def __init__(self, loc, scale, event_dim: int = 0, cache_size: int = 0):
        if not isinstance(event_dim, (int, np.integer)) or event_dim < 0:
            raise ValueError(
                f"AffineTransform: `event_dim` must be a non-negative int, got {event_dim!r}"
            )
        self._set(loc=_as_param(loc), scale=_as_param(scale), event_dim=int(event_dim))

    @property
    def domain(self):  # type: ignore[override]
        return C.independent(C.real, self.event_dim) if self.event_dim else C.real

    codomain = domain

    @property
    def sign(self):
        return jnp.sign(self.scale)

    def _forward(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def _log_abs_det_jacobian(self, x, y):
        shape = jnp.broadcast_shapes(jnp.shape(x), jnp.shape(self.scale))
        ladj = jnp.broadcast_to(jnp.log(jnp.abs(self.scale)), shape)
        return sum_rightmost(ladj, self.event_dim)


class ExpTransform(Transform):
    r"""``y = exp(x)``; :math:`\log |dy/dx| = x`.

    Examples:
        >>> from jaxkl.distributions.transforms import ExpTransform
        >>> print(f"{ExpTransform().inverse(1.0):.4f}")
        0.0000
    """

    codomain = C.positive

    def __init__(self, cache_size: int = 0):
        self._set()

    def _forward(self, x):
        return jnp.exp(x)

    def _inverse(self, y):
        return jnp.log(y)

    def _log_abs_det_jacobian(self, x, y):
        return x


class SigmoidTransform(Transform):
    r"""The logistic sigmoid transform.

    ``y = 1 / (1 + exp(-x))``; :math:`\log |dy/dx| = -\mathrm{softplus}(-x) -
    \mathrm{softplus}(x)`.

    The forward map is clipped to the open unit interval (as torch does) so that the
    inverse stays finite, and the inverse is ``log(y) - log1p(-y)``.

    Examples:
        >>> from jaxkl.distributions.transforms import SigmoidTransform
        >>> t = SigmoidTransform()
        >>> print(f"{t(0.0):.4f} {t.log_abs_det_jacobian(0.0, 0.5):.4f}")
        0.5000 -1.3863
    """

    codomain = C.unit_interval

    def __init__(self, cache_size: int = 0):
        self._set()

    def _forward(self, x):
        finfo = jnp.finfo(jnp.result_type(x, float))
        return jnp.clip(jax.nn.sigmoid(x), finfo.tiny, 1.0 - finfo.eps)

    def _inverse(self, y):
        finfo = jnp.finfo(jnp.result_type(y, float))
        y = jnp.clip(y, finfo.tiny, 1.0 - finfo.eps)
        return jnp.log(y) - jnp.log1p(-y)

    def _log_abs_det_jacobian(self, x, y):
        return -jax.nn.softplus(-x) - jax.nn.softplus(x)


class TanhTransform(Transform):
    r"""The hyperbolic tangent transform.

    ``y = tanh(x)``; :math:`\log |dy/dx| = 2(\log 2 - x - \mathrm{softplus}(-2x))`,
    the stable form of :math:`\log(1 - \tanh^2 x)`.

    Examples:
        >>> from jaxkl.distributions.transforms import TanhTransform
        >>> print(f"{TanhTransform().log_abs_det_jacobian(30.0, 1.0):.4f}")
        -58.6137
    """

    codomain = C.interval(-1.0, 1.0)

    def __init__(self, cache_size: int = 0):
        self._set()

    def _forward(self, x):
        return jnp.tanh(x)

    def _inverse(self, y):
        return jnp.arctanh(y)

    def _log_abs_det_jacobian(self, x, y):
        return 2.0 * (np.log(2.0) - x - jax.nn.softplus(-2.0 * x))


class PowerTransform(Transform):
    r"""The power transform ``y = x ** exponent`` on the positive reals.

    torch's ``PowerTransform(exponent)``;
    :math:`\log |dy/dx| = \log |\text{exponent} \cdot y / x|`.

    Examples:
        >>> from jaxkl.distributions.transforms import PowerTransform
        >>> t = PowerTransform(2.0)
        >>> print(f"{t(3.0):.1f} {t.inverse(9.0):.1f} {t.log_abs_det_jacobian(3.0, 9.0):.4f}")
        9.0 3.0 1.7918
    """

    exponent: jax.Array
    domain = C.positive
    codomain = C.positive

    def __init__(self, exponent, cache_size: int = 0):
        self._set(exponent=_as_param(exponent))

    @property
    def sign(self):
        return jnp.sign(self.exponent)

    def _forward(self, x):
        return jnp.power(x, self.exponent)

    def _inverse(self, y):
        return jnp.power(y, 1.0 / self.exponent)

    def _log_abs_det_jacobian(self, x, y):
        return jnp.log(jnp.abs(self.exponent)) + jnp.log(y) - jnp.log(x)
