"""clu-style KL divergence metric: a frozen dataclass state (a pytree), as clu's metrics.

The state calls the tensor KL's own halves (:func:`jaxkl.functional._kl_rows` for the
per-row values and mask, :func:`jaxkl._checks.reduce_rows` for the batch sum), as
torchmetrics' ``KLDivergence`` calls ``_kld_update`` / ``_kld_compute``.

No ``from __future__ import annotations`` here: dataclass field types stay real types.

The state classes are :class:`jaxkl._pytree.Pytree` s (frozen dataclasses built by keyword,
every field a leaf), not ``flax.struct.dataclass`` es: JAX 0.10's ``register_dataclass``
treedefs of two classes with the same field names compare equal (with different hashes), so
a ``jit`` cache could hand a ``reduction="mean"`` state's compiled function, and output
class, to a ``"sum"`` state. Custom-node treedefs compare their types.
"""

import dataclasses
import functools
from typing import Any, ClassVar

import flax.serialization
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._pytree import Pytree
from jaxkl.functional import _kl_rows
from jaxkl.metrics import distributed as _dist

__all__ = ["KLDivergence"]


_INHERIT = object()  # configure(): option not given, keep the class's

_LIVE = {
    "mean": frozenset({"total", "count"}),
    "sum": frozenset({"total", "count"}),
    "none": frozenset({"values", "mask"}),
}


class KLDivergence(Pytree, init=True, eq=True, repr=True):
    r"""Running KL divergence between rows of (log-)probabilities, clu-style.

    .. math::
        D_{KL}(P \| Q) = \sum_{x} P(x) \log \frac{P(x)}{Q(x)}

    accumulated over batches, devices and processes with torchmetrics' ``KLDivergence``
    semantics: with ``log_prob=False`` each row is normalised first, with ``log_prob=True``
    the inputs are log-probabilities; ``reduction`` is ``"mean"`` (default, mean over all rows
    seen), ``"sum"``, or ``"none"`` (every row's value, in merge order). The event axis is the
    last one; every other axis is batch (token-level KLs of shape ``[batch, seq, vocab]`` work).

    The options are class attributes (static, never pytree leaves): the default class is
    ``log_prob=False, reduction="mean"``, and :meth:`configure` returns a configured subclass.

    State fields, each declaring once how two copies combine (``merge``, :meth:`reduce`,
    :meth:`all_reduce` and :meth:`merge_across_processes` are all derived from it):

    * ``total`` (float pair): sum of the per-row KL over unmasked rows, kept as ``hi + lo``
      in a float32 ``[2]`` array so that it stays accurate over 10^9 rows and 10^6 merges
      (compensated two-sum merging); ``count`` (count): the number of unmasked rows, exact
      up to 2^48, as two uint32 base-2^16 digits ``[high, low]``. Used by ``"mean"`` and
      ``"sum"``; :meth:`num_rows` reads the count.
    * ``values`` (concatenate): per-row KL, flattened, 0 at masked rows; ``mask``
      (concatenate): which of those rows were unmasked. Used by ``"none"``.

    Fields a configuration does not use are ``None`` (an empty subtree): they cost no memory
    and no communication, and the state has exactly two leaves.

    Masked rows (``mask=`` in :meth:`from_model_output`) count neither in ``"sum"`` nor in
    ``"mean"``'s denominator. For ``"none"``, :meth:`compute` returns every collected row with
    0 at masked rows (the tensor KL's ``"none"`` result, flattened; a static shape, so it
    works under ``jit``); drop them eagerly with ``state.compute()[state.mask]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl.metrics import KLDivergence
        >>> p = jnp.array([[0.36, 0.48, 0.16], [0.5, 0.25, 0.25]])
        >>> q = jnp.full((2, 3), 1 / 3)
        >>> state = KLDivergence.empty()
        >>> for i in range(2):
        ...     state = state.merge(KLDivergence.from_model_output(p=p[i:i + 1], q=q[i:i + 1]))
        >>> print(f"{state.compute():.4f}")
        0.0721
        >>> PerRow = KLDivergence.configure(reduction="none")
        >>> PerRow.from_model_output(p, q, mask=jnp.array([True, False])).compute()
        Array([0.0853, 0.    ], dtype=float32)

    The torch equivalent is ``torchmetrics.regression.KLDivergence(log_prob, reduction)``.
    """

    total: jax.Array | None = _dist.state_field("float_pair")
    count: jax.Array | None = _dist.state_field("count")
    values: jax.Array | None = _dist.state_field("concatenate")
    mask: jax.Array | None = _dist.state_field("concatenate")

    log_prob: ClassVar[bool] = False
    reduction: ClassVar[str] = "mean"

    def replace(self, **updates: Any) -> "KLDivergence":
        """A copy with the given fields replaced (``flax.struct``'s ``replace``)."""
        return dataclasses.replace(self, **updates)

    # ------------------------------------------------------------------ configuration
    @classmethod
    def configure(cls, *, log_prob: Any = _INHERIT, reduction: Any = _INHERIT):
        """Return a subclass with the given options as class attributes.

        Unspecified options are inherited from ``cls``. The same options return the same
        class (so treedefs, ``jit`` caches and ``lax.scan`` carries agree).

        Args:
            log_prob: ``True`` if ``p`` and ``q`` are log-probabilities.
            reduction: ``"mean"``, ``"sum"``, or ``"none"`` / ``None``.

        Returns:
            A frozen dataclass subclass of ``cls`` (a pytree).

        Raises:
            TypeError: if ``log_prob`` is not a bool (torchmetrics' error).
            ValueError: for an unknown ``reduction`` (torchmetrics' error).

        Examples:
            >>> from jaxkl.metrics import KLDivergence
            >>> SumKL = KLDivergence.configure(log_prob=True, reduction="sum")
            >>> SumKL.log_prob, SumKL.reduction, issubclass(SumKL, KLDivergence)
            (True, 'sum', True)
        """
        log_prob = cls.log_prob if log_prob is _INHERIT else log_prob
        reduction = cls.reduction if reduction is _INHERIT else reduction
        _checks.check_log_prob(log_prob)
        _checks.check_reduction(reduction)
        if reduction is None:
            reduction = "none"
        return _configured(_root(cls), log_prob, reduction)

    @classmethod
    def _fields(cls):
        return _dist.combines(cls)

    @classmethod
    def _live(cls) -> frozenset:
        return _LIVE[cls.reduction]

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls) -> "KLDivergence":
        """The identity of :meth:`merge`: no rows seen.

        ``empty().compute()`` is NaN for ``"mean"`` (0/0), 0 for ``"sum"`` and an empty
        array for ``"none"``.
        """
        if cls.reduction == "none":
            return cls(
                total=None,
                count=None,
                values=jnp.zeros((0,), jnp.float32),
                mask=jnp.zeros((0,), bool),
            )
        return cls(
            total=jnp.zeros((2,), jnp.float32),
            count=jnp.zeros((2,), jnp.uint32),
            values=None,
            mask=None,
        )

    @classmethod
    def from_model_output(
        cls, p: ArrayLike, q: ArrayLike, mask: ArrayLike | None = None, **_: Any
    ) -> "KLDivergence":
        """The state of one batch.

        Args:
            p: data distribution, shape ``[..., d]`` (event axis last; any batch shape).
            q: approximating distribution, same shape as ``p``.
            mask: optional boolean (or integer 0/1) mask broadcastable to the batch shape
                ``p.shape[:-1]``; rows where it is False are left out (clu's and nnx's
                ``mask`` output, the tensor KL's ``where``).
            **_: other model outputs (a clu ``Collection`` or an nnx ``MultiMetric`` passes
                every output to every metric); ignored.

        Returns:
            A state of this class. For ``"none"`` its ``values`` / ``mask`` have one entry
            per row of the batch (a static shape).

        Raises:
            ValueError, TypeError: as :func:`jaxkl.functional.kl_divergence` for bad shapes
                or values, and TypeError for a floating-point mask.
        """
        where = _checks.check_mask(mask, jnp.shape(p)[:-1], "mask")
        rows, row_mask = _kl_rows(p, q, log_prob=cls.log_prob, axis=-1, where=where)
        if cls.reduction == "none":
            return cls(
                total=None,
                count=None,
                values=jnp.reshape(rows, (-1,)),
                mask=jnp.reshape(row_mask, (-1,)),
            )
        return cls(
            total=_dist.make_float_pair(_checks.reduce_rows(rows, row_mask, "sum")),
            count=_dist.make_count(jnp.sum(row_mask, dtype=jnp.int32)),
            values=None,
            mask=None,
        )

    @classmethod
    def gather_from_model_output(cls, axis_name: Any = "batch", **outputs: Any) -> "KLDivergence":
        """:meth:`from_model_output` on each device's batch, merged over ``axis_name``.

        Call inside ``pmap`` / ``shard_map``; every device gets the merged state. The result
        equals clu's ``all_gather(...).reduce()`` with one collective per live field.
        """
        return cls.from_model_output(**outputs).all_reduce(axis_name)

    # ------------------------------------------------------------------ merging
    def _leaves(self) -> dict:
        return {name: getattr(self, name) for name, _ in self._fields()}

    def merge(self, other: "KLDivergence") -> "KLDivergence":
        """Accumulate two states: sums add, per-row values concatenate (``self`` first).

        Associative and commutative (``"none"``: up to the order of rows), with
        :meth:`empty` as identity.

        Raises:
            TypeError: if ``other`` is a state of another class or configuration.
        """
        if type(other) is not type(self):
            raise TypeError(
                f"Cannot merge a {_describe(type(self))} state with a {_describe(type(other))}"
                " state; configure both the same way"
            )
        a, b, live = self._leaves(), other._leaves(), self._live()
        return type(self)(
            **{
                n: _dist.combine_pair(a[n], b[n], c) if n in live else None
                for n, c in self._fields()
            }
        )

    def _reduce_merge(self, other: "KLDivergence") -> "KLDivergence":
        return self.merge(other)

    def reduce(self) -> "KLDivergence":
        """Fold a leading axis (devices or steps) into one state, as clu's ``reduce``.

        Used after ``lax.all_gather`` (clu's ``Collection.gather_from_model_output``) or on
        states stacked by ``vmap`` / ``lax.scan``. Sums are summed over the axis, per-row
        values are concatenated in axis order.

        Raises:
            ValueError: if the state has no leading axis to fold.
        """
        empty = type(self).empty()
        out = {}
        for name, combine in self._fields():
            if name not in self._live():
                out[name] = None
                continue
            x = jnp.asarray(getattr(self, name))
            if x.ndim != getattr(empty, name).ndim + 1:
                raise ValueError(
                    f"reduce() folds a leading axis, but field `{name}` has shape {x.shape}"
                    f" (a single state has rank {getattr(empty, name).ndim})"
                )
            out[name] = _dist.fold_leading_axis(x, combine)
        return type(self)(**out)

    def all_reduce(self, axis_name: Any) -> "KLDivergence":
        """Merge this state over a named axis inside ``pmap`` / ``shard_map``.

        One collective per live field: ``psum`` for sums, an all-gather for ``"none"``'s
        per-row fields (which concatenates in device order). Inside ``shard_map`` the result
        is replicated over ``axis_name`` (``out_specs=P()`` works with ``check_vma`` on).

        Args:
            axis_name: the ``pmap`` / ``shard_map`` axis name (or a tuple of names).
        """
        leaves = _dist.all_reduce(self._leaves(), self._fields(), self._live(), axis_name)
        return type(self)(**leaves)

    def merge_across_processes(self) -> "KLDivergence":
        """Merge the states of all processes of a multi-process JAX run (``jax.distributed``).

        Call eagerly (outside ``jit``) on every process with its local state; every process
        gets the merged state (``"none"``: rows in process order; processes may hold
        different numbers of rows). Identity with one process.
        """
        leaves = _dist.merge_across_processes(self._leaves(), self._fields(), self._live())
        return type(self)(**leaves)

    # ------------------------------------------------------------------ results
    def compute(self) -> jax.Array:
        """The metric value.

        Returns:
            ``"mean"``: a scalar, NaN when no unmasked row was seen; ``"sum"``: a scalar;
            ``"none"``: shape ``(rows,)`` with 0 at masked rows (see the class docstring).
        """
        if self.reduction == "none":
            return self.values
        total = _dist.float_pair_value(self.total)
        if self.reduction == "sum":
            return total
        return total / _dist.count_value(self.count, total.dtype)

    def num_rows(self) -> jax.Array:
        """The number of unmasked rows seen, as a float32 (exact below 2^24).

        For the exact count of a concrete state use
        ``int(high) * 65536 + int(low)`` with ``high, low = state.count``.
        """
        if self.reduction == "none":
            return jnp.sum(self.mask, dtype=jnp.float32)
        return _dist.count_value(self.count)

    def compute_value(self):
        """:meth:`compute` as a ``clu.values`` value (used by ``Collection.compute_values``)."""
        import clu.values

        value = self.compute()
        if self.reduction == "none":
            return clu.values.Histogram(value, num_buckets=32)
        return clu.values.Scalar(value)

    def plot(self, val: Any = None, ax: Any = None):
        """Plot this state's value, a value, or a sequence of values (matplotlib).

        See :func:`jaxkl.metrics.plot.plot_values`; returns ``(fig, ax)``.
        """
        from jaxkl.metrics import plot as _plot

        return _plot.plot_values(
            self.compute() if val is None else val,
            ax=ax,
            name=f"KLDivergence ({self.reduction})",
            per_sample=self.reduction == "none",
        )


def _root(cls: type) -> type:
    """The unconfigured class a configured class derives from."""
    return getattr(cls, "_jaxkl_root", cls)


@functools.cache
def _configured(root: type, log_prob: bool, reduction: str) -> type:
    if log_prob == root.log_prob and reduction == root.reduction:
        return root
    name = f"{root.__name__}[log_prob={log_prob}, reduction={reduction!r}]"
    sub = type(
        name,
        (root,),
        {
            "log_prob": log_prob,
            "reduction": reduction,
            "_jaxkl_root": root,
            "__module__": root.__module__,
            "__qualname__": name,
        },
    )
    return _register_serialization(sub)


def _state_to_dict(state: "KLDivergence") -> dict:
    return {
        name: flax.serialization.to_state_dict(getattr(state, name)) for name, _ in state._fields()
    }


def _state_from_dict(target: "KLDivergence", state: dict) -> "KLDivergence":
    """Restore a checkpoint into ``target``'s class; a checkpoint of another kind is an error.

    A ``"none"`` checkpoint holds ``values``/``mask``, a ``"mean"``/``"sum"`` one ``total``/
    ``count``: restoring one into a target of the other kind raises ``ValueError`` naming
    both, and so does a field whose shape is not the target's.
    """
    cls = type(target)
    live = cls._live()
    present = frozenset(name for name, value in state.items() if value is not None)
    if present != live:
        found = "reduction='none'" if "values" in present else "reduction='mean' or 'sum'"
        raise ValueError(
            f"Cannot restore a checkpoint of a KLDivergence state with fields {sorted(present)}"
            f" ({found}) into a {_describe(cls)} target, whose fields are {sorted(live)};"
            " restore into a target configured like the saved state"
        )
    fields = {name: None for name, _ in cls._fields()}
    for name in live:
        value = flax.serialization.from_state_dict(getattr(target, name), state[name])
        expected = jnp.shape(getattr(target, name))
        if name in ("total", "count") and jnp.shape(value) != expected:
            raise ValueError(
                f"Cannot restore field `{name}` of shape {jnp.shape(value)} into a "
                f"{_describe(cls)} target, whose `{name}` has shape {expected}"
            )
        fields[name] = value
    return cls(**fields)


def _register_serialization(cls: type) -> type:
    flax.serialization.register_serialization_state(
        cls, _state_to_dict, _state_from_dict, override=True
    )
    return cls


def _describe(cls: type) -> str:
    log_prob, reduction = getattr(cls, "log_prob", "?"), getattr(cls, "reduction", "?")
    return f"{cls.__name__}(log_prob={log_prob}, reduction={reduction!r})"


_register_serialization(KLDivergence)
