"""Immutable dataclasses registered as pytrees: the base of ``Distribution`` and ``Transform``.

A subclass of :class:`Pytree` declares annotated fields in a fixed order; each becomes a
leaf unless declared with :func:`static_field`, which makes it hashable aux data.
``__init_subclass__`` turns every subclass into a frozen dataclass (by default
``init=False``, ``eq=False``, ``repr=False``; a class keyword such as ``init=True`` changes
an option for the class and its subclasses) and registers it with JAX. Unflattening never calls
``__init__``: JAX unflattens with tracers, ``ShapedArray`` s, ``object()`` sentinels and
``None``, so the instance is built with ``object.__new__`` and its fields are set directly
(as equinox and numpyro do).

A class that is only a base (``Distribution``, ``Transform``) passes ``base=True`` and is
neither a dataclass nor a pytree itself; its subclasses are. The metric states
(``jaxkl.metrics``) pass ``init=True, repr=True``: their fields are all leaves and they are
built by keyword. Registering through ``register_pytree_with_keys`` (not JAX's
``register_dataclass``) matters for them: in JAX 0.10 two ``register_dataclass`` treedefs of
different classes with the same field names compare equal, so a jit cache could return one
class's compiled function for the other.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is pytree metadata (hashable aux data), not a leaf."""
    return dataclasses.field(metadata={"static": True}, **kwargs)


class Pytree:
    """Base class: every subclass is a frozen dataclass registered as a pytree."""

    _leaf_names: tuple[str, ...] = ()
    _static_names: tuple[str, ...] = ()
    _dataclass_options: dict[str, bool] = {"init": False, "eq": False, "repr": False}

    def __init_subclass__(cls, *, base: bool = False, **options: bool) -> None:
        super().__init_subclass__()
        unknown = set(options) - set(Pytree._dataclass_options)
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown Pytree options {sorted(unknown)}")
        cls._dataclass_options = {**cls._dataclass_options, **options}
        if base:
            return
        dataclasses.dataclass(frozen=True, **cls._dataclass_options)(cls)
        fields = dataclasses.fields(cls)
        cls._leaf_names = tuple(f.name for f in fields if not f.metadata.get("static"))
        cls._static_names = tuple(f.name for f in fields if f.metadata.get("static"))
        jax.tree_util.register_pytree_with_keys(
            cls, cls._tree_flatten_with_keys, cls._tree_unflatten, cls._tree_flatten
        )

    def _static_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self._static_names)

    def _tree_flatten(self):
        return tuple(getattr(self, n) for n in self._leaf_names), self._static_values()

    def _tree_flatten_with_keys(self):
        leaves = tuple((jax.tree_util.GetAttrKey(n), getattr(self, n)) for n in self._leaf_names)
        return leaves, self._static_values()

    @classmethod
    def _tree_unflatten(cls, aux, leaves):
        obj = object.__new__(cls)
        for name, value in zip(cls._leaf_names, leaves):
            object.__setattr__(obj, name, value)
        for name, value in zip(cls._static_names, aux):
            object.__setattr__(obj, name, value)
        return obj

    def _set_fields(self, values: dict[str, Any]) -> None:
        """Set every field (``None`` for those missing from ``values``), bypassing frozenness."""
        for name in self._leaf_names + self._static_names:
            object.__setattr__(self, name, values.get(name))
