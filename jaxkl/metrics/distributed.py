"""Merging metric states across devices and processes.

Every state field declares, once, how two copies of it combine (see
:func:`state_field`): ``"sum"`` (running totals) or ``"concatenate"`` (per-sample values).
Everything here is derived from that declaration:

* :func:`fold_leading_axis`: fold a stacked state (leading device/step axis) into one, as
  clu's ``Metric.reduce`` does, with ``sum`` or a reshape instead of a scan;
* :func:`all_reduce`: merge over a named axis inside ``pmap`` / ``shard_map``, one collective
  per live leaf (``psum`` for sums, an all-gather for concatenations);
* :func:`merge_across_processes`: merge over the processes of a multi-process JAX run.
"""

from typing import Any, Literal

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

Combine = Literal["sum", "concatenate"]

_COMBINE_KEY = "jaxkl_combine"

try:  # Varying -> invariant all-gather: its result can leave shard_map with out_specs=P().
    from jax._src.lax.parallel import all_gather_invariant as _all_gather_invariant
except ImportError:  # pragma: no cover - older/newer jax without it
    _all_gather_invariant = None

__all__ = ["state_field", "combines", "fold_leading_axis", "all_reduce", "merge_across_processes"]


def state_field(combine: Combine) -> Any:
    """A ``flax.struct`` field (a pytree leaf) that declares how two copies combine.

    Args:
        combine: ``"sum"``: copies add; ``"concatenate"``: copies join along axis 0.
    """
    if combine not in ("sum", "concatenate"):
        raise ValueError(f"Expected `combine` to be 'sum' or 'concatenate' but got {combine!r}")
    import flax.struct

    return flax.struct.field(pytree_node=True, metadata={_COMBINE_KEY: combine})


def combines(state_type: type) -> tuple[tuple[str, Combine], ...]:
    """``(name, combine)`` for each declared field of a state class, in field order."""
    return tuple(
        (f.name, f.metadata[_COMBINE_KEY])
        for f in dataclasses.fields(state_type)
        if _COMBINE_KEY in f.metadata
    )


def combine_pair(a: jax.Array, b: jax.Array, combine: Combine) -> jax.Array:
    """Merge two copies of one field (explicit dtype promotion: strict mode safe)."""
    dtype = jnp.promote_types(a.dtype, b.dtype)
    a = jnp.asarray(a).astype(dtype)
    b = jnp.asarray(b).astype(dtype)
    if combine == "sum":
        return a + b
    return jnp.concatenate([a, b], axis=0)


def fold_leading_axis(x: jax.Array, combine: Combine) -> jax.Array:
    """Merge the copies stacked along axis 0 (equal to folding ``combine_pair``)."""
    if combine == "sum":
        return jnp.sum(x, axis=0, dtype=x.dtype)
    return jnp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def _gather_tiled(x: jax.Array, axis_name: Any) -> jax.Array:
    """Concatenate ``x`` over a named axis; replicated (invariant) output where JAX tracks it.

    ``lax.all_gather`` returns a *varying* value inside ``shard_map``, which cannot be returned
    with a replicated ``out_specs`` while ``check_vma`` is on; ``all_gather_invariant`` can.
    Under ``vmap`` with a named axis (no manual axes) it is not available, so plain
    ``all_gather`` is used there. Either way: one collective.
    """
    if _all_gather_invariant is not None:
        try:
            return _all_gather_invariant(x, axis_name, axis=0, tiled=True)
        except ValueError:  # vmap(axis_name=...): no shard_map context to be invariant in
            pass
    return jax.lax.all_gather(x, axis_name, axis=0, tiled=True)


def all_reduce(leaves: dict[str, jax.Array], fields, live: frozenset, axis_name: Any) -> dict:
    """Merge per-field arrays over ``axis_name``: one collective per live field."""
    out = {}
    for name, combine in fields:
        x = leaves[name]
        if name not in live:
            out[name] = None  # unused by this configuration: nothing to send
        elif combine == "sum":
            out[name] = jax.lax.psum(x, axis_name)
        else:
            out[name] = _gather_tiled(x, axis_name)
    return out


def merge_across_processes(leaves: dict[str, Any], fields, live: frozenset) -> dict:
    """Merge per-field arrays over all processes of a ``jax.distributed`` run (eager).

    Sums are gathered and added in process order; concatenated fields may differ in length
    between processes, so their lengths are gathered first and each process's block is padded
    to the longest before the gather, then trimmed. Identity with one process.
    """
    if jax.process_count() == 1:
        return dict(leaves)
    from jax.experimental import multihost_utils

    host = {name: np.asarray(leaves[name]) for name, _ in fields if name in live}
    concat = [name for name, combine in fields if combine == "concatenate" and name in live]
    lengths = {}
    if concat:
        local = np.array([host[name].shape[0] for name in concat], dtype=np.int32)
        gathered = np.asarray(multihost_utils.process_allgather(local))  # (processes, fields)
        lengths = {name: gathered[:, i] for i, name in enumerate(concat)}
    send = {}
    for name, combine in fields:
        if name not in live:
            continue
        x = host[name]
        if combine == "concatenate":
            longest = int(lengths[name].max())
            pad = np.zeros((longest - x.shape[0],) + x.shape[1:], dtype=x.dtype)
            x = np.concatenate([x, pad], axis=0)
        send[name] = x
    got = multihost_utils.process_allgather(send) if send else {}
    out = {}
    for name, combine in fields:
        if name not in live:
            out[name] = None
        elif combine == "sum":
            out[name] = jnp.asarray(np.sum(np.asarray(got[name]), axis=0, dtype=host[name].dtype))
        else:
            blocks = [np.asarray(got[name])[i, :n] for i, n in enumerate(lengths[name])]
            out[name] = jnp.asarray(np.concatenate(blocks, axis=0))
    return out

