"""Merging metric states across devices and processes.

Every state field declares, once, how two copies of it combine (see
:func:`state_field`):

* ``"concatenate"``: per-sample values, joined along axis 0;
* ``"float_pair"``: a running float total kept as an unevaluated sum ``hi + lo`` in the last
  axis (shape ``[..., 2]``); two copies add by Knuth's two-sum, so a total built by a
  million merges of float32 partial sums keeps about 48 bits instead of 24;
* ``"count"``: an exact non-negative integer kept as two uint32 base-2^16 digits
  ``[high, low]`` (``high * 65536 + low``, exact up to 2^48), added digit-wise and then
  carried; a ``psum`` of the digits over up to 65536 devices cannot overflow.

Everything here is derived from that declaration:

* :func:`combine_pair`: merge two copies of a field;
* :func:`fold_leading_axis`: fold a stacked state (leading device/step axis) into one, as
  clu's ``Metric.reduce`` does, by a pairwise tree of :func:`combine_pair` (log-depth, no
  scan) or a reshape;
* :func:`all_reduce`: merge over a named axis inside ``pmap`` / ``shard_map``, one collective
  per live leaf (``psum`` for totals and counts, an all-gather for concatenations);
* :func:`merge_across_processes`: merge over the processes of a multi-process JAX run.
"""

import dataclasses
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

Combine = Literal["float_pair", "count", "concatenate"]
_COMBINES = ("float_pair", "count", "concatenate")

_COMBINE_KEY = "jaxkl_combine"

__all__ = [
    "all_reduce",
    "combine_pair",
    "combines",
    "count_value",
    "fold_leading_axis",
    "make_count",
    "make_float_pair",
    "float_pair_value",
    "merge_across_processes",
    "state_field",
]

_DIGIT = 1 << 16


def make_float_pair(x: jax.Array) -> jax.Array:
    """A ``"float_pair"`` field holding the float ``x`` (``lo = 0``)."""
    x = jnp.asarray(x)
    return jnp.stack([x, jnp.zeros_like(x)], axis=-1)


def float_pair_value(pair: jax.Array) -> jax.Array:
    """The value ``hi + lo`` of a ``"float_pair"`` field."""
    return pair[..., 0] + pair[..., 1]


def _two_sum_pairs(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a + b`` for float pairs: Knuth's two-sum of the highs, then renormalised."""
    a_hi, a_lo = a[..., 0], a[..., 1]
    b_hi, b_lo = b[..., 0], b[..., 1]
    s = a_hi + b_hi
    v = s - a_hi
    err = (a_hi - (s - v)) + (b_hi - v)
    return _renormalise(s, err + a_lo + b_lo)


def _renormalise(hi: jax.Array, lo: jax.Array) -> jax.Array:
    """Fast two-sum: the pair ``(hi + lo, rounding error)``; non-finite totals stay as they are."""
    s = hi + lo
    err = lo - (s - hi)
    err = jnp.where(jnp.isfinite(s), err, jnp.zeros((), err.dtype))
    return jnp.stack([s, err], axis=-1)


def make_count(n: jax.Array) -> jax.Array:
    """A ``"count"`` field holding the non-negative integer ``n`` (below 2^31 here)."""
    n = jnp.asarray(n).astype(jnp.uint32)
    return jnp.stack([n // _DIGIT, n % _DIGIT], axis=-1)


def _carry(high: jax.Array, low: jax.Array) -> jax.Array:
    return jnp.stack([high + low // _DIGIT, low % _DIGIT], axis=-1)


def count_value(count: jax.Array, dtype: Any = jnp.float32) -> jax.Array:
    """The value of a ``"count"`` field as a float of ``dtype`` (exact below 2^24 in float32)."""
    count = _carry(count[..., 0], count[..., 1])
    return count[..., 0].astype(dtype) * _DIGIT + count[..., 1].astype(dtype)


def state_field(combine: Combine) -> Any:
    """A dataclass field (a pytree leaf) that declares how two copies combine.

    Args:
        combine: ``"float_pair"``, ``"count"`` or ``"concatenate"`` (see the module
            docstring).
    """
    if combine not in _COMBINES:
        raise ValueError(f"Expected `combine` to be one of {list(_COMBINES)} but got {combine!r}")
    return dataclasses.field(metadata={_COMBINE_KEY: combine})


def combines(state_type: type) -> tuple[tuple[str, Combine], ...]:
    """``(name, combine)`` for each declared field of a state class, in field order."""
    return tuple(
        (f.name, f.metadata[_COMBINE_KEY])
        for f in dataclasses.fields(state_type)
        if _COMBINE_KEY in f.metadata
    )


def combine_pair(a: jax.Array, b: jax.Array, combine: Combine) -> jax.Array:
    """Merge two copies of one field (explicit dtype promotion: strict mode safe)."""
    dtype = jnp.promote_types(jnp.asarray(a).dtype, jnp.asarray(b).dtype)
    a = jnp.asarray(a).astype(dtype)
    b = jnp.asarray(b).astype(dtype)
    if combine == "float_pair":
        return _two_sum_pairs(a, b)
    if combine == "count":
        return _carry(a[..., 0] + b[..., 0], a[..., 1] + b[..., 1])
    return jnp.concatenate([a, b], axis=0)


def fold_leading_axis(x: jax.Array, combine: Combine) -> jax.Array:
    """Merge the copies stacked along axis 0 (equal to folding :func:`combine_pair`)."""
    if combine == "concatenate":
        return jnp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))
    if x.shape[0] == 0:
        return jnp.zeros(x.shape[1:], x.dtype)
    while x.shape[0] > 1:  # a pairwise tree: log2(n) vectorised merges
        half = x.shape[0] // 2
        merged = combine_pair(x[:half], x[half : 2 * half], combine)
        x = jnp.concatenate([merged, x[2 * half :]], axis=0)
    return x[0]


def _gather_tiled(x: jax.Array, axis_name: Any) -> jax.Array:
    """Concatenate ``x`` over a named axis, as one ``psum`` of the shards in place.

    ``lax.all_gather`` returns a *varying* value inside ``shard_map``, which cannot leave it
    with a replicated ``out_specs`` while ``check_vma`` is on, and JAX has no public
    invariant all-gather; a ``psum`` result is invariant. Each shard writes itself at its
    offset in zeros and the sum is exact (``x + 0 = x``). Booleans travel as int32.
    """
    n = jax.lax.psum(1, axis_name)
    i = jax.lax.axis_index(axis_name)
    dtype = jnp.int32 if x.dtype == jnp.bool_ else x.dtype
    placed = jax.lax.dynamic_update_slice_in_dim(
        jnp.zeros((n * x.shape[0], *x.shape[1:]), dtype), x.astype(dtype), i * x.shape[0], 0
    )
    return jax.lax.psum(placed, axis_name).astype(x.dtype)


def all_reduce(leaves: dict[str, jax.Array], fields, live: frozenset, axis_name: Any) -> dict:
    """Merge per-field arrays over ``axis_name``: one collective per live field."""
    out = {}
    for name, combine in fields:
        x = leaves[name]
        if name not in live:
            out[name] = None  # unused by this configuration: nothing to send
        elif combine == "float_pair":
            total = jax.lax.psum(x, axis_name)
            out[name] = _renormalise(total[..., 0], total[..., 1])
        elif combine == "count":
            total = jax.lax.psum(x, axis_name)
            out[name] = _carry(total[..., 0], total[..., 1])
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
        elif combine != "concatenate":
            out[name] = fold_leading_axis(jnp.asarray(got[name]), combine)
        else:
            blocks = [np.asarray(got[name])[i, :n] for i, n in enumerate(lengths[name])]
            out[name] = jnp.asarray(np.concatenate(blocks, axis=0))
    return out
