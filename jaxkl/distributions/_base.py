"""The ``Distribution`` base class: immutable pytree dataclasses with validation.

A family is a subclass with annotated fields, in a fixed order::

    class Normal(Distribution):
        loc: jax.Array
        scale: jax.Array
        arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
        support = constraints.real

        def __init__(self, loc, scale, *, validate_args=None):
            loc, scale = as_float_params("Normal", loc=loc, scale=scale)
            self._init(loc=loc, scale=scale, validate_args=validate_args)

The pytree machinery is :class:`jaxkl._pytree.Pytree`'s (shared with the transforms):
``__init_subclass__`` turns every subclass into a frozen dataclass (``init=False``,
``eq=False``) and registers it as a pytree. Fields are leaves unless declared with
``jaxkl._pytree.static_field()``, which makes them hashable aux data (e.g.
``reinterpreted_batch_ndims``).
A leaf may be ``None`` (an absent alternative parametrisation, e.g. ``logits`` when
``probs`` was given): ``None`` is an empty subtree, so the choice shows in the treedef.

Unflattening never calls ``__init__`` (JAX unflattens with tracers, ``ShapedArray`` s,
``object()`` sentinels and ``None``); it builds the instance with ``object.__new__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxkl import _checks
from jaxkl._pytree import Pytree
from jaxkl.distributions import constraints as C

Shape = tuple[int, ...]

#: Default for ``validate_args`` when a constructor is not told; like torch's
#: ``Distribution.set_default_validate_args``.
_VALIDATE_DEFAULT = [True]


def set_default_validate_args(value: bool) -> None:
    """Turn parameter validation on (default) or off for distributions built afterwards."""
    _VALIDATE_DEFAULT[0] = bool(value)


def as_float_params(
    owner: str, *, broadcast: bool = True, **params: Any
) -> tuple[jax.Array | None, ...]:
    """The parameters, in the order given, converted to one floating dtype.

    ``owner`` (the family's name) and the keywords name the parameters in errors: complex,
    string or object inputs raise ``TypeError`` (``jnp.asarray(1 + 2j, float32)`` would
    keep the real part silently). The dtype is :func:`jaxkl._checks.compute_dtype`'s; with
    ``broadcast`` the arrays are broadcast to one shape (torch's ``broadcast_all``).
    ``None`` stays ``None``.
    """
    for name, x in params.items():
        _checks.check_real_input(x, name, f"{owner}: parameter ")
    dtype = _checks.compute_dtype(*params.values())
    arrs = [None if x is None else jnp.asarray(x, dtype=dtype) for x in params.values()]
    if broadcast:
        present = [a for a in arrs if a is not None]
        shape = jnp.broadcast_shapes(*(a.shape for a in present)) if present else ()
        arrs = [None if a is None else jnp.broadcast_to(a, shape) for a in arrs]
    return tuple(arrs)


class Distribution(Pytree, base=True):
    """Base class of every distribution. See the module docstring for how to subclass."""

    #: parameter name -> constraint, checked at construction (a ValueError on concrete
    #: values, a checkify check under a trace when value checks are switched on)
    arg_constraints: ClassVar[dict[str, C.Constraint]] = {}
    #: the support of the distribution (a constraint, or None when it depends on params)
    support: ClassVar[C.Constraint | None] = None
    #: parameter name -> number of trailing event dims of that parameter (default 0)
    param_event_ndims: ClassVar[dict[str, int]] = {}
    #: True when ``sample`` is reparameterised (gradients flow to the parameters)
    has_rsample: ClassVar[bool] = False

    # -- construction --------------------------------------------------------------
    def _init(self, validate_args: bool | None = None, **values: Any) -> None:
        """Set the fields (the constructor's last step) and validate the parameters."""
        names = set(self._leaf_names) | set(self._static_names)
        unknown = set(values) - names
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
        self._set_fields(values)
        if validate_args is None:
            validate_args = _VALIDATE_DEFAULT[0]
        if validate_args and _checks.checks_wanted(
            *(values.get(name) for name in self._leaf_names)
        ):
            self._validate_params()

    def _validate_params(self) -> None:
        """Check each present parameter against its constraint; subclasses may add checks."""
        for name, constraint in self.arg_constraints.items():
            # an alternative parametrisation is stored as ``_name`` (``probs`` is then a
            # property computing it from ``logits``): check what the user gave
            value = getattr(self, "_" + name if "_" + name in self._leaf_names else name, None)
            if value is not None:
                self._check_param(name, value, constraint.check(value), constraint.name)

    def _check_param(self, name: str, value: Any, ok: Any, requirement: str) -> None:
        """The value check of one parameter: "Family: parameter `name` must be ..., got v"."""
        self._value_check(
            jnp.all(ok),
            f"{type(self).__name__}: parameter `{name}` must be {requirement}"
            + _checks.shown(value),
            value,
        )

    @staticmethod
    def _value_check(ok: jax.Array, message: str, *arrays: Any) -> None:
        _checks.value_check(ok, message, *arrays)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(
            f"{type(self).__name__} is immutable; cannot set {name!r}"
        )

    # -- shapes --------------------------------------------------------------------
    @property
    def batch_shape(self) -> Shape:
        """Broadcast of the parameters' shapes without their event dims."""
        shapes = []
        for name in self._leaf_names:
            value = getattr(self, name)
            if value is None or isinstance(value, Distribution):
                continue
            k = self.param_event_ndims.get(name, 0)
            shape = tuple(jnp.shape(value))
            shapes.append(shape[: len(shape) - k] if k else shape)
        return tuple(jnp.broadcast_shapes(*shapes)) if shapes else ()

    @property
    def event_shape(self) -> Shape:
        return ()

    def expand(self, batch_shape: Sequence[int]) -> Distribution:
        """The same distribution with its parameters broadcast to ``batch_shape``.

        torch's ``expand``. Families whose leaves are not plain parameters override this.
        """
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        try:
            jnp.broadcast_shapes(self.batch_shape, batch_shape)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__} with batch_shape {self.batch_shape} cannot be expanded to "
                f"{batch_shape}"
            ) from None
        new = {}
        for name in self._leaf_names:
            value = getattr(self, name)
            if value is None:
                new[name] = None
            elif isinstance(value, Distribution):
                new[name] = value.expand(batch_shape)
            else:
                k = self.param_event_ndims.get(name, 0)
                shape = tuple(jnp.shape(value))
                event = shape[len(shape) - k :] if k else ()
                new[name] = jnp.broadcast_to(value, batch_shape + event)
        return self._replace(**new)

    def _replace(self, **values: Any) -> Distribution:
        """A copy with some fields replaced, without calling ``__init__`` (no validation)."""
        obj = object.__new__(type(self))
        for name in self._leaf_names + self._static_names:
            object.__setattr__(obj, name, values[name] if name in values else getattr(self, name))
        return obj

    def shape(self, sample_shape: Sequence[int] = ()) -> Shape:
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    # -- the interface families implement ------------------------------------------------
    def log_prob(self, value: Any) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}.log_prob")

    def sample(self, key: jax.Array, sample_shape: Sequence[int] = ()) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}.sample")

    def rsample(self, key: jax.Array, sample_shape: Sequence[int] = ()) -> jax.Array:
        """Reparameterised sample (torch's name).

        Same as :meth:`sample` where ``has_rsample``; otherwise raises.
        """
        if not self.has_rsample:
            raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler")
        return self.sample(key, sample_shape)

    def entropy(self) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}.entropy")

    @property
    def mean(self) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}.mean")

    @property
    def variance(self) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}.variance")

    @property
    def stddev(self) -> jax.Array:
        return jnp.sqrt(self.variance)

    def __repr__(self) -> str:
        parts = []
        for name in self._leaf_names + self._static_names:
            value = getattr(self, name)
            if value is None:
                continue
            if hasattr(value, "shape") and not isinstance(value, Distribution):
                parts.append(f"{name}: {tuple(value.shape)}")
            else:
                parts.append(f"{name}: {value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ExponentialFamily(Distribution):
    """Base of exponential families: ``p(x) = h(x) exp(<eta, T(x)> - A(eta))``.

    Subclasses give ``_natural_params`` (a tuple of arrays ``eta``) and
    ``_log_normalizer(*eta)`` (``A``, elementwise over the batch), as torch does.
    ``(ExponentialFamily, ExponentialFamily)`` KL is the Bregman divergence of ``A``
    (:func:`jaxkl.distributions.exponential_family_kl`).
    """

    @property
    def _natural_params(self) -> tuple[jax.Array, ...]:
        raise NotImplementedError

    def _log_normalizer(self, *natural_params: jax.Array) -> jax.Array:
        raise NotImplementedError
