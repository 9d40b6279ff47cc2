"""The student's output projection fused with the loss, chunked over tokens."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._checks import Reduction
from jaxkl.losses._core import (
    all_finite,
    as_input,
    by_beta,
    check_beta,
    check_flag,
    check_logits,
    check_temperature,
    check_vocab_size,
    check_where,
    first_entries,
    jsd_kind,
    psum,
    row_grads,
    row_stats,
)
from jaxkl.losses._topk import (
    check_topk_teacher,
    check_topk_values,
    topk_grads,
    topk_reverse_scaled,
    topk_stats,
)

Teacher = ArrayLike | tuple


#: Tokens per chunk on GPUs and TPUs. A chunk of c tokens reads the weight twice and reads
#: and writes the float32 weight-gradient accumulator once (about 12 H V bytes in bfloat16)
#: for three matmuls of 2 c H V FLOPs: c/2 FLOPs per byte, so 512 keeps that traffic within
#: 1.2x of the FLOP time on an H100 (ridge about 300 FLOPs per byte) and below it on a TPU
#: v5p (about 170); its temporaries are 512 rows of V (benchmarks/distillation.py).
_ACCELERATOR_CHUNK = 512


def _default_chunk_size(n: int, v: int, platform: str | None = None) -> int:
    """The fused losses' default tokens per chunk for ``n`` tokens of vocabulary ``v``.

    On accelerators ``_ACCELERATOR_CHUNK``; on CPU a power of two with ``chunk * V``
    about 4M elements (a 16 MiB float32 chunk, cache-sized). ``platform`` defaults to
    JAX's default backend.
    """
    if (platform or jax.default_backend()) != "cpu":
        return max(1, min(_ACCELERATOR_CHUNK, n))
    c = max(16, min(4096, 2 ** int(math.floor(math.log2(max(1, (1 << 22) // v))))))
    return max(1, min(c, n))


def _matmul(x, w, acc):
    return lax.dot_general(x, w, (((1,), (0,)), ((), ())), preferred_element_type=acc)


def _as_bits(x: jax.Array) -> jax.Array:
    """16-bit floats as their bits (see :func:`_upcast`); other dtypes unchanged."""
    if x.dtype in (jnp.bfloat16, jnp.float16):
        return lax.bitcast_convert_type(x, jnp.uint16)
    return x


def _upcast(bits: jax.Array, acc, dtype) -> jax.Array:
    """A chunk of :func:`_as_bits` back to ``dtype``, then to ``acc``.

    Why: XLA otherwise hoists the float32 conversion of the whole ``[N, V]``
    half-precision teacher out of the token loop, a float32 copy of the teacher logits in
    the temporary memory. Integer bits cannot be hoisted as a float conversion (XLA:CPU
    still keeps one 16-bit copy of them, half of that).
    """
    if bits.dtype == jnp.uint16:
        if dtype == jnp.bfloat16:  # bfloat16 is the top half of a float32: exact
            wide = lax.shift_left(bits.astype(jnp.uint32), jnp.uint32(16))
            return lax.bitcast_convert_type(wide, jnp.float32).astype(acc)
        return lax.bitcast_convert_type(bits, dtype).astype(acc)
    return bits.astype(acc)


def _topk_chunk(kind, teacher, start, chunk, keep, b, axis_name):
    """A chunk's top-k rows (keepdims) and a function giving their gradient w.r.t. ``b``."""
    _, tail, reverse = kind
    idx, lp = (lax.dynamic_slice_in_dim(x, start, chunk) for x in teacher)
    k = idx.shape[-1]
    # rows outside the mask may hold anything: a harmless uniform teacher instead
    lp = jnp.where(keep, lp.astype(b.dtype), jnp.full((), -math.log(k + 1.0), b.dtype))
    idx = jnp.where(keep, idx, jnp.arange(k, dtype=idx.dtype))
    if reverse:
        rows, pullback = jax.vjp(lambda b: topk_reverse_scaled(idx, lp, b, tail, axis_name), b)
        return rows[:, None], lambda: pullback(jnp.ones_like(rows))[0]
    rows, stats = topk_stats(idx, lp, b, tail, axis_name)
    return rows, lambda: topk_grads(idx, lp, b, stats, tail, axis_name)[1]


def _varying(x: jax.Array, axis_name) -> jax.Array:
    """``x`` typed as varying over the mesh axis ``axis_name`` (a loop carry that becomes so).

    JAX before its varying-axis types (``lax.pcast``; ``lax.pvary`` in between) needs none.
    """
    if axis_name is None:
        return x
    if hasattr(lax, "pcast"):
        return lax.pcast(x, axis_name, to="varying")
    if hasattr(lax, "pvary"):
        return lax.pvary(x, axis_name)
    return x


def _check_head(hidden: Any, weight: Any) -> tuple[jax.Array, jax.Array]:
    """``hidden [..., H]`` and ``weight [H, V]`` as arrays, their shapes checked."""
    hidden, weight = as_input(hidden, "hidden"), as_input(weight, "weight")
    if hidden.ndim < 1 or weight.ndim != 2 or hidden.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"Expected hidden [..., H] and weight [H, V] with the same H but got shapes "
            f"{hidden.shape} and {weight.shape}"
        )
    return hidden, weight


def _check_bias(bias: Any, v: int) -> jax.Array | None:
    if bias is None:
        return None
    bias = as_input(bias, "bias")
    if bias.shape != (v,):
        raise ValueError(f"Expected bias of shape ({v},) but got {bias.shape}")
    return bias


def _check_chunk_size(chunk_size: Any, n: int, v: int) -> int:
    if chunk_size is None:
        return _default_chunk_size(n, v)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise ValueError(f"Expected `chunk_size` to be a positive int but got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"Expected `chunk_size` to be a positive int but got {chunk_size!r}")
    return max(1, min(int(chunk_size), n))


def _check_head_values(hidden, weight, bias, where) -> None:
    """Value checks of the student's hidden states and head (section 1's rule)."""
    tok = None if where is None else where[..., None]
    _checks.value_check(lambda: all_finite(hidden, tok), "`hidden` holds NaN or inf", hidden, where)
    _checks.value_check(lambda: all_finite(weight, None), "`weight` holds NaN or inf", weight)
    if bias is not None:
        _checks.value_check(lambda: all_finite(bias, None), "`bias` holds NaN or inf", bias)


def _fused_loop(
    hidden, weight, bias, teacher, mask, t, beta, row_scale, *, kind, chunk, axis_name, want_grads
):
    """One pass over token chunks: per-row losses and, if wanted, the parameter gradients.

    ``hidden [N, H]``, ``weight [H, V]``, ``teacher`` is ``[N, V]`` logits or
    ``(p_hidden [N, Hp], p_weight [Hp, V], p_bias | None)``; ``mask [N]`` or None.
    The last chunk starts at ``N - chunk`` (no padded copies): its rows already done by the
    previous chunk are masked out. ``row_scale [N]`` multiplies each row's gradient (the
    ``"none"`` backward); None means 1. Gradients are of ``sum(rows)``.
    """
    n, h = hidden.shape
    v = weight.shape[1]
    dtype = t.dtype
    grad_dtype = hidden.dtype
    cdt = jnp.promote_types(hidden.dtype, weight.dtype)
    hidden, weight = hidden.astype(cdt), weight.astype(cdt)
    acc = dtype  # float32, or float64 under x64 with float64 inputs
    n_chunks = -(-n // chunk)
    zero = jnp.zeros((), dtype)

    def student_logits(h_c):
        z = _matmul(h_c, weight, acc)
        if bias is not None:
            z = z + bias.astype(acc)[None, :]
        return z

    def teacher_logits(start):
        if isinstance(teacher, tuple):
            ph, pw, pb = teacher
            ph_c = lax.dynamic_slice_in_dim(ph, start, chunk)
            tdt = jnp.promote_types(ph.dtype, pw.dtype)
            zp = _matmul(ph_c.astype(tdt), pw.astype(tdt), acc)
            if pb is not None:
                zp = zp + pb.astype(acc)
            return zp
        return _upcast(lax.dynamic_slice_in_dim(teacher_bits, start, chunk), acc, teacher.dtype)

    teacher_bits = None if isinstance(teacher, tuple) else _as_bits(teacher)

    def body(i, carry):
        start = jnp.minimum(i * chunk, n - chunk)
        idx = start + jnp.arange(chunk)
        new = idx >= i * chunk
        valid = new if mask is None else new & lax.dynamic_slice_in_dim(mask, start, chunk)
        keep = valid[:, None]
        h_c = jnp.where(keep, lax.dynamic_slice_in_dim(hidden, start, chunk), 0)
        # Invalid rows: zero hidden states (finite logits); their values and gradients
        # are selected away below (a select, never a product, so NaN padding cannot leak).
        b = student_logits(h_c) / t
        if isinstance(kind, tuple):  # ("topk", tail, reverse): teacher = (indices, log-probs)
            rows, student_grad = _topk_chunk(kind, teacher, start, chunk, keep, b, axis_name)
        else:
            a = teacher_logits(start) / t
            rows, stats = row_stats(kind, a, b, beta, 1, axis_name)

            def student_grad():
                return row_grads(kind, a, b, beta, stats, want_a=False)[1]

        rows = jnp.where(valid, rows[:, 0], zero)
        out_rows = carry[0]
        old = lax.dynamic_slice_in_dim(out_rows, start, chunk)
        out_rows = lax.dynamic_update_slice_in_dim(out_rows, jnp.where(new, rows, old), start, 0)
        if not want_grads:
            return (out_rows,)
        _, dh_acc, dw_acc, db_acc = carry
        gz = student_grad()
        scale = 1 / t
        if row_scale is not None:
            scale = lax.dynamic_slice_in_dim(row_scale, start, chunk)[:, None] / t
        gz = jnp.where(keep, gz * scale, zero)
        gz_c = gz.astype(weight.dtype)
        dh = lax.dot_general(gz_c, weight, (((1,), (1,)), ((), ())), preferred_element_type=acc)
        # a vocabulary split over a mesh axis: each shard holds part of the hidden states'
        # gradient (its columns of the weight)
        dh = psum(dh, axis_name).astype(dh_acc.dtype)
        old = lax.dynamic_slice_in_dim(dh_acc, start, chunk)
        dh_acc = lax.dynamic_update_slice_in_dim(dh_acc, jnp.where(new[:, None], dh, old), start, 0)
        dw_acc = dw_acc + lax.dot_general(
            h_c, gz_c, (((0,), (0,)), ((), ())), preferred_element_type=acc
        )
        if db_acc is not None:
            db_acc = db_acc + jnp.sum(gz, axis=0)
        return out_rows, dh_acc, dw_acc, db_acc

    init = (jnp.zeros((n,), dtype),)
    if want_grads:
        init = init + (
            jnp.zeros((n, h), grad_dtype),
            _varying(jnp.zeros((h, v), acc), axis_name),  # per shard of the vocabulary
            None if bias is None else _varying(jnp.zeros((v,), acc), axis_name),
        )
    out = lax.fori_loop(0, n_chunks, body, init)
    if not want_grads:
        return out[0], None
    return out[0], out[1:]


def _cast_grads(grads, hidden, weight, bias, g):
    dh, dw, db = grads
    dh = (dh * g.astype(dh.dtype)).astype(hidden.dtype)
    dw = (dw * g.astype(dw.dtype)).astype(weight.dtype)
    db = None if bias is None else (db * g.astype(db.dtype)).astype(bias.dtype)
    return dh, dw, db


def _run_loop(primals, kind, chunk, axis_name, *, row_scale=None, want_grads):
    """``_fused_loop`` on the custom-VJP functions' primal arguments."""
    return _fused_loop(
        *primals, row_scale, kind=kind, chunk=chunk, axis_name=axis_name, want_grads=want_grads
    )


@partial(jax.custom_vjp, nondiff_argnums=(7, 8, 9))
def _fused_sum(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name):
    primals = (hidden, weight, bias, teacher, mask, t, beta)
    return jnp.sum(_run_loop(primals, kind, chunk, axis_name, want_grads=False)[0])


def _fused_sum_fwd(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name):
    # The loss is a scalar: the gradients are computed here, chunk by chunk, and the
    # backward only scales them (the matmul count of the unfused step).
    primals = (hidden, weight, bias, teacher, mask, t, beta)
    rows, grads = _run_loop(primals, kind, chunk, axis_name, want_grads=True)
    return jnp.sum(rows), (grads, hidden, weight, bias)


def _fused_sum_bwd(kind, chunk, axis_name, res, g):
    grads, hidden, weight, bias = res
    dh, dw, db = _cast_grads(grads, hidden, weight, bias, g)
    return dh, dw, db, None, None, None, None


_fused_sum.defvjp(_fused_sum_fwd, _fused_sum_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(7, 8, 9))
def _fused_rows(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name):
    primals = (hidden, weight, bias, teacher, mask, t, beta)
    return _run_loop(primals, kind, chunk, axis_name, want_grads=False)[0]


def _fused_rows_fwd(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name):
    rows = _fused_rows(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name)
    return rows, (hidden, weight, bias, teacher, mask, t, beta)


def _fused_rows_bwd(kind, chunk, axis_name, res, g):
    # "none": the cotangent differs per row, so the chunks are recomputed here (one more
    # matmul per chunk than the scalar reductions).
    primals = res
    t = primals[5]
    _, grads = _run_loop(
        primals, kind, chunk, axis_name, row_scale=g.astype(t.dtype), want_grads=True
    )
    hidden, weight, bias = primals[:3]
    dh, dw, db = _cast_grads(grads, hidden, weight, bias, jnp.ones((), t.dtype))
    return dh, dw, db, None, None, None, None


_fused_rows.defvjp(_fused_rows_fwd, _fused_rows_bwd)


# one compiled program for eager calls too (inlined under the caller's jit)
@partial(
    jax.jit,
    static_argnames=("kind", "chunk", "reduction", "batch_shape", "t_squared", "axis_name"),
)
def _fused_loss(
    hidden,
    weight,
    bias,
    teacher,
    mask,
    t,
    beta,
    *,
    kind,
    chunk,
    reduction,
    batch_shape,
    t_squared,
    axis_name,
):
    if isinstance(teacher, tuple):
        teacher = tuple(lax.stop_gradient(x) if x is not None else None for x in teacher)
    else:
        teacher = lax.stop_gradient(teacher)
    scale = t * t if t_squared else jnp.ones((), t.dtype)

    def loss(kind):
        if reduction is None or reduction == "none":
            rows = _fused_rows(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name)
            return rows.reshape(batch_shape) * scale
        total = _fused_sum(hidden, weight, bias, teacher, mask, t, beta, kind, chunk, axis_name)
        total = total * scale
        if reduction == "sum":
            return total
        count = hidden.shape[0] if mask is None else jnp.sum(mask, dtype=total.dtype)
        return total / jnp.asarray(count, total.dtype)

    return loss(kind) if kind is not None else by_beta(loss, beta)


def fused_linear_kl_divergence(
    hidden: ArrayLike,
    weight: ArrayLike,
    p_logits: Teacher,
    *,
    bias: ArrayLike | None = None,
    temperature: ArrayLike = 1.0,
    temperature_squared: bool = False,
    beta: ArrayLike | None = None,
    reverse: bool = False,
    vocab_size: int | None = None,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    chunk_size: int | None = None,
    axis_name: Any = None,
) -> jax.Array:
    r"""Distillation KL (or JSD(β)) fused with the student's output projection, chunked.

    The student's logits are ``q_logits = hidden @ weight (+ bias)``; the result equals
    ``kl_divergence_with_logits(p_logits, q_logits, temperature=T, where=where,
    reduction=reduction)`` (or :func:`jensen_shannon_with_logits` with ``beta``), but the
    ``[N, V]`` logits are never materialised, in the forward or the backward: the ``N``
    tokens (all axes of ``hidden`` but the last, flattened) are processed ``chunk_size`` at
    a time in a ``lax.fori_loop``. For ``"mean"`` and ``"sum"`` the gradients w.r.t.
    ``hidden``, ``weight`` and ``bias`` are computed chunk by chunk inside the forward pass
    (the loss is a scalar, so the backward only scales them): a training step does the
    same number of matmuls as the unfused one (one forward, two gradient matmuls per
    chunk). With ``reduction="none"`` the backward recomputes each chunk's logits (one more
    matmul per chunk). The teacher is a constant: no gradient flows to ``p_logits`` (or its
    hidden states and weights), nor to ``temperature`` / ``beta``.

    Matmuls run in the inputs' dtype with float32 accumulation
    (``preferred_element_type``), the softmax maths in float32 (float64 for float64
    inputs); gradients come back in the parameters' dtypes, the weight gradient accumulated
    in float32 over chunks. Edges are those of :func:`kl_divergence_with_logits`
    (identical student and teacher give exactly 0 and zero gradients; ``-inf`` teacher
    logits contribute 0).

    Args:
        hidden: the student's last hidden states ``[..., H]``.
        weight: the student's output projection ``[H, V]`` (torch's ``nn.Linear`` stores
            ``[V, H]``: pass ``weight.T``).
        p_logits: the teacher: logits ``[..., V]`` with the batch shape of ``hidden``, or a
            tuple ``(p_hidden, p_weight)`` / ``(p_hidden, p_weight, p_bias)`` with
            ``p_hidden [..., Hp]`` and ``p_weight [Hp, V]``, projected chunk by chunk too.
        bias: optional student bias ``[V]``.
        temperature: softmax temperature ``T > 0`` for both.
        temperature_squared: multiply the result (and so its gradients) by ``T**2``.
        beta: None for KL(teacher ‖ student); a float in [0, 1] for JSD(β) as in
            :func:`jensen_shannon_with_logits` (β = 0 is the forward KL, β = 1 the reverse).
        reverse: with ``beta=None``, the reverse KL(student ‖ teacher) instead.
        vocab_size: use only the first ``vocab_size`` columns of ``weight`` (and entries of
            ``bias``) and of the teacher's vocabulary: student and teacher vocabularies of
            different sizes. Without it, sizes that differ are an error.
        where: optional boolean token mask broadcastable to ``hidden.shape[:-1]``.
        reduction: ``"mean"`` over unmasked tokens, ``"sum"``, or ``"none"`` / ``None``.
        chunk_size: tokens per chunk. Default: 512 on GPUs and TPUs, where each chunk's
            reads of the weight and of the float32 weight-gradient accumulator must be
            amortised over enough FLOPs (512 keeps them within 1.2x of the matmuls' time
            on an H100); on CPU a power of two with ``chunk_size * V`` about 4M elements
            (128 tokens at V = 32768). Either way the temporary memory is flat in N.
        axis_name: inside ``shard_map`` with the vocabulary split over the mesh axis of
            this name (``weight [H, V/n]``, ``bias``, the teacher's logits or weight split
            alike; ``hidden`` replicated), the row statistics combine across the shards:
            the value and the gradients equal the unsharded ones (the weight's gradient
            stays sharded; the hidden states' is summed over the axis).

    Returns:
        float32 (float64 for float64 inputs): shape ``()``, or ``hidden.shape[:-1]`` for
        ``"none"``.

    Raises:
        ValueError: for an unknown ``reduction``; shape mismatches (named); a bad
            ``chunk_size``; a concrete ``temperature <= 0`` or ``beta`` outside [0, 1]. On
            concrete arrays, non-finite ``hidden`` / weights / bias or NaN / ``+inf``
            teacher logits (under a trace: section 1's rule).
        TypeError: for a non-boolean ``where``, a malformed teacher tuple or non-real
            inputs.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxkl import losses
        >>> h = jax.random.normal(jax.random.key(0), (2, 5, 8))
        >>> w = jax.random.normal(jax.random.key(1), (8, 32))
        >>> teacher = h @ w + 1.0
        >>> fused = losses.fused_linear_kl_divergence(h, w, teacher, chunk_size=4)
        >>> plain = losses.kl_divergence_with_logits(teacher, h @ w)
        >>> bool(jnp.allclose(fused, plain, atol=1e-5))
        True
        >>> print(losses.fused_linear_kl_divergence(h, w, (h, w)))  # teacher == student
        0.0
        >>> dh, dw = jax.grad(losses.fused_linear_kl_divergence, (0, 1))(h, w, teacher)
        >>> dw.shape
        (8, 32)
    """
    _checks.check_reduction(reduction)
    hidden, weight = _check_head(hidden, weight)
    batch_shape = hidden.shape[:-1]
    if vocab_size is not None:
        if isinstance(p_logits, (tuple, list)):
            teacher_v = as_input(p_logits[1], "p_logits[1]").shape[-1]
        else:
            teacher_v = as_input(p_logits, "p_logits").shape[-1]
        n = check_vocab_size(vocab_size, {"weight": weight.shape[1], "the teacher": teacher_v})
        weight = first_entries(weight, n)
        bias = None if bias is None else first_entries(as_input(bias, "bias"), n)
        if isinstance(p_logits, (tuple, list)):
            p_logits = tuple(
                x if i == 0 or x is None else first_entries(as_input(x, f"p_logits[{i}]"), n)
                for i, x in enumerate(p_logits)
            )
        else:
            p_logits = first_entries(as_input(p_logits, "p_logits"), n)
    v = weight.shape[1]
    bias = _check_bias(bias, v)
    dtypes = [x.dtype for x in (hidden, weight, bias) if x is not None]
    if isinstance(p_logits, (tuple, list)):
        if len(p_logits) not in (2, 3):
            raise TypeError(
                "Expected the teacher as logits or a tuple (p_hidden, p_weight[, p_bias]) but "
                f"got a sequence of length {len(p_logits)}"
            )
        ph, pw = as_input(p_logits[0], "p_logits[0]"), as_input(p_logits[1], "p_logits[1]")
        has_bias = len(p_logits) == 3 and p_logits[2] is not None
        pb = as_input(p_logits[2], "p_logits[2]") if has_bias else None
        if pw.ndim != 2 or pw.shape[1] != v or ph.shape != batch_shape + (pw.shape[0],):
            raise ValueError(
                f"Expected p_hidden {batch_shape + ('Hp',)} and p_weight (Hp, {v}) but got "
                f"shapes {ph.shape} and {pw.shape} (vocabularies of different sizes: pass "
                "vocab_size=)"
            )
        if pb is not None and pb.shape != (v,):
            raise ValueError(f"Expected p_bias of shape ({v},) but got {pb.shape}")
        dtypes += [ph.dtype, pw.dtype] + ([] if pb is None else [pb.dtype])
        teacher_arrays = [ph, pw] + ([] if pb is None else [pb])
        p_flat = None
    else:
        p = as_input(p_logits, "p_logits")
        if p.shape != batch_shape + (v,):
            raise ValueError(
                f"Expected p_logits of shape {batch_shape + (v,)} (hidden {hidden.shape}, "
                f"weight {weight.shape}) but got {p.shape} (vocabularies of different sizes: "
                "pass vocab_size=)"
            )
        dtypes.append(p.dtype)
        teacher_arrays = []
        p_flat = p
    dtype = _checks.compute_dtype(*dtypes)
    n = int(np.prod(batch_shape, dtype=np.int64))
    chunk = _check_chunk_size(chunk_size, n, v)
    where = check_where(where, batch_shape)
    t = check_temperature(temperature, dtype)
    b = None if beta is None else check_beta(beta, dtype)
    check_flag(temperature_squared, "temperature_squared")
    check_flag(reverse, "reverse")
    if reverse and beta is not None:
        raise ValueError("Expected one of `beta` (JSD) and `reverse=True` (KL(q || p)), not both")
    kind = ("reverse" if reverse else "forward") if b is None else jsd_kind(b)

    # Value checks (section 1's rule).
    if _checks.checks_wanted(hidden, weight, bias, p_flat, where, *teacher_arrays):
        tok = None if where is None else where[..., None]
        _check_head_values(hidden, weight, bias, where)
        if p_flat is not None:
            check_logits(p_flat, "p_logits", where, p_flat.ndim - 1, allow_empty_row=False)
        for name, x in zip(("p_hidden", "p_weight", "p_bias"), teacher_arrays):
            keep = tok if name == "p_hidden" else None
            _checks.value_check(
                lambda x=x, keep=keep: all_finite(x, keep), f"`{name}` holds NaN or inf", x, where
            )

    hidden2 = hidden.reshape(n, hidden.shape[-1])
    mask = None if where is None else where.reshape(n)
    if p_flat is not None:
        teacher = p_flat.reshape(n, v)
    else:
        teacher = (ph.reshape(n, ph.shape[-1]), pw, pb)
    return _fused_loss(
        hidden2,
        weight,
        bias,
        teacher,
        mask,
        t,
        b,
        kind=kind,
        chunk=chunk,
        reduction=reduction,
        batch_shape=batch_shape,
        t_squared=temperature_squared,
        axis_name=axis_name,
    )


def fused_linear_topk_kl_divergence(
    hidden: ArrayLike,
    weight: ArrayLike,
    p_indices: ArrayLike,
    p_logprobs: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    temperature: ArrayLike = 1.0,
    temperature_squared: bool = False,
    tail: bool = True,
    reverse: bool = False,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    chunk_size: int | None = None,
    axis_name: Any = None,
) -> jax.Array:
    r"""The top-k KL of :func:`topk_kl_divergence`, fused with the student's output projection.

    For teachers that give only their top-k tokens and log-probs (offline or served
    teachers): the result equals ``topk_kl_divergence(p_indices, p_logprobs, hidden @
    weight (+ bias), ...)``, but the student's ``[N, V]`` logits are never materialised,
    forward or backward: the tokens are taken in chunks (as in
    :func:`fused_linear_kl_divergence`, custom VJP, gradients w.r.t. ``hidden``, ``weight``
    and ``bias``; the teacher's log-probs get none). ``tail``, ``reverse``,
    ``temperature`` and ``temperature_squared`` mean what they mean there.

    Args:
        hidden: the student's last hidden states ``[..., H]``.
        weight: the student's output projection ``[H, V]``.
        p_indices: the teacher's token ids ``[..., k]`` (the batch shape of ``hidden``),
            distinct per row, in ``[0, V)``.
        p_logprobs: the teacher's log-probabilities at those tokens ``[..., k]``.
        bias: optional student bias ``[V]``.
        temperature: ``T > 0`` for the student's softmax.
        temperature_squared: multiply the result (and so its gradients) by ``T**2``.
        tail: the remaining mass as one bin (True) or renormalised over k (False).
        reverse: KL(student ‖ teacher) on the same bins.
        where: optional boolean token mask broadcastable to ``hidden.shape[:-1]``.
        reduction: ``"mean"`` over unmasked tokens, ``"sum"``, or ``"none"`` / ``None``.
        chunk_size: tokens per chunk (default as :func:`fused_linear_kl_divergence`).
        axis_name: inside ``shard_map`` with the vocabulary split over the mesh axis of
            this name (``weight [H, V/n]`` and ``bias`` split alike; ``hidden`` and the
            teacher's top-k replicated, their ids global in ``[0, V)``): the value and the
            gradients equal the unsharded ones, as in :func:`fused_linear_kl_divergence`.

    Returns:
        float32 (float64 for float64 inputs): shape ``()``, or ``hidden.shape[:-1]`` for
        ``"none"``.

    Raises:
        ValueError: as :func:`topk_kl_divergence` and :func:`fused_linear_kl_divergence`.
        TypeError: for non-integer indices, non-bool flags or a non-boolean ``where``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxkl import losses
        >>> h = jax.random.normal(jax.random.key(0), (8, 16))
        >>> w = jax.random.normal(jax.random.key(1), (16, 32)) / 4
        >>> teacher = jax.nn.log_softmax(h @ w * 2)
        >>> lp, idx = jax.lax.top_k(teacher, 5)
        >>> fused = losses.fused_linear_topk_kl_divergence(h, w, idx, lp, chunk_size=3)
        >>> plain = losses.topk_kl_divergence(idx, lp, h @ w)
        >>> bool(jnp.allclose(fused, plain, rtol=1e-5))
        True
    """
    _checks.check_reduction(reduction)
    for name, flag in (
        ("tail", tail),
        ("reverse", reverse),
        ("temperature_squared", temperature_squared),
    ):
        check_flag(flag, name)
    hidden, weight = _check_head(hidden, weight)
    batch_shape, v = hidden.shape[:-1], weight.shape[1]
    bias = _check_bias(bias, v)
    # the vocabulary of all the shards: the teacher's ids index it
    vocab = v if axis_name is None else v * lax.psum(1, axis_name)
    idx, lp = check_topk_teacher(p_indices, p_logprobs, batch_shape, vocab, "hidden")
    dtype = _checks.compute_dtype(*(x.dtype for x in (hidden, weight, bias, lp) if x is not None))
    n = int(np.prod(batch_shape, dtype=np.int64))
    chunk = _check_chunk_size(chunk_size, n, v)
    where = check_where(where, batch_shape)
    t = check_temperature(temperature, dtype)
    if _checks.checks_wanted(hidden, weight, bias, idx, lp, where):
        _check_head_values(hidden, weight, bias, where)
        check_topk_values(idx, lp, vocab, where)
    k = idx.shape[-1]
    return _fused_loss(
        hidden.reshape(n, hidden.shape[-1]),
        weight,
        bias,
        (idx.reshape(n, k), lp.reshape(n, k)),
        None if where is None else where.reshape(n),
        t,
        None,
        kind=("topk", tail, reverse),
        chunk=chunk,
        reduction=reduction,
        batch_shape=batch_shape,
        t_squared=temperature_squared,
        axis_name=axis_name,
    )
