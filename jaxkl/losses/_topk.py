"""KL against a teacher that gives only its top-k tokens, with an exact tail bin."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._checks import Reduction
from jaxkl.losses._core import (
    NEG_INF,
    as_input,
    check_flag,
    check_logits,
    check_temperature,
    check_where,
    finite_or_neg_inf,
    psum,
    scaled,
)


def log1mexp(x):
    """``log(1 - e^x)`` for x <= 0 (Maechler's switch at -log 2); ``-inf`` at x = 0."""
    x = jnp.minimum(x, 0.0)
    near = x > -math.log(2.0)
    xn = jnp.where(near, x, -1.0)
    xf = jnp.where(near, -1.0, x)
    return jnp.where(near, jnp.log(-jnp.expm1(xn)), jnp.log1p(-jnp.exp(xf)))


def lse_last(x, axis_name=None):
    """Log-sum-exp over the last axis (keepdims), across the shards of ``axis_name`` too.

    ``-inf`` for an all ``-inf`` row, with a zero derivative there (autodiff of the reverse
    top-k goes through it).
    """
    m = jnp.max(x, axis=-1, keepdims=True)
    if axis_name is not None:  # the shift only steadies the sum: no derivative through it
        m = lax.pmax(lax.stop_gradient(m), axis_name)
    m = jnp.where(m > NEG_INF, m, jnp.zeros((), x.dtype))
    s = psum(jnp.sum(jnp.exp(x - m), axis=-1, keepdims=True), axis_name)
    return jnp.where(s > 0, m + jnp.log(jnp.where(s > 0, s, 1)), NEG_INF)


def _local_indices(idx, b, axis_name):
    """The teacher's token ids as positions in this shard's logits ``b``.

    Tokens another shard of the vocabulary holds get ``b.shape[-1]`` (one past the end);
    the second result says which are here (None without a sharded vocabulary).
    """
    if axis_name is None:
        return idx, None
    v = b.shape[-1]
    local = idx - lax.axis_index(axis_name) * v
    here = (local >= 0) & (local < v)
    return jnp.where(here, local, v), here


def gather_logits(b, idx, axis_name=None):
    """``b`` at the teacher's tokens; with a sharded vocabulary, from the shard holding each."""
    local, here = _local_indices(idx, b, axis_name)
    if here is None:
        return jnp.take_along_axis(b, idx, axis=-1)
    values = jnp.take_along_axis(b, jnp.where(here, local, 0), axis=-1)
    return psum(jnp.where(here, values, jnp.zeros((), b.dtype)), axis_name)


def _at_topk(x, idx, b, axis_name):
    """``x.at[rows, top-k tokens]`` as ``[n, V]``, tokens of other shards out of range."""
    local, _ = _local_indices(idx, b, axis_name)
    n = int(np.prod(x.shape[:-1], dtype=np.int64))
    k = idx.shape[-1]
    return x.reshape(n, x.shape[-1]).at[jnp.arange(n)[:, None], local.reshape(n, k)]


def outside_topk(b, idx, axis_name=None):
    """``b`` with ``-inf`` at the top-k tokens: the student's logits of the tail bin."""
    return _at_topk(b, idx, b, axis_name).set(NEG_INF, mode="drop").reshape(b.shape)


def topk_stats(idx, lp, b, tail: bool, axis_name=None):
    """Per-row top-k KL (keepdims) and the statistics of its derivative.

    With ``axis_name``, ``b`` is this shard's part of the vocabulary; the statistics
    combine across the shards, so every shard gets the full rows.
    """
    zero = jnp.zeros((), b.dtype)
    inf = jnp.asarray(jnp.inf, b.dtype)
    m = jnp.max(b, axis=-1, keepdims=True)
    if axis_name is not None:
        m = lax.pmax(m, axis_name)
    m = jnp.where(m > NEG_INF, m, zero)
    log_s = jnp.log(psum(jnp.sum(jnp.exp(b - m), axis=-1, keepdims=True), axis_name))
    bk = gather_logits(b, idx, axis_name)
    lqk = (bk - m) - log_s  # the student's log-probs at the teacher's tokens
    if not tail:
        lp = lp - lse_last(lp)
        lqk = lqk - lse_last(lqk)
    fp, fq = lp > NEG_INF, lqk > NEG_INF
    d = jnp.where(fp & fq, lp - lqk, zero)
    pk = jnp.exp(lp)
    rows = jnp.sum(pk * d, axis=-1, keepdims=True)
    miss = jnp.any(fp & ~fq, axis=-1, keepdims=True)
    if tail:
        # The student's tail from its own logits outside the top k (1 - sum Q_k would round
        # a confident student's 1e-9 tail to 0); the teacher's can only be 1 - sum P_k.
        lse_out = lse_last(outside_topk(b, idx, axis_name), axis_name)
        log_qt = lse_out - (m + log_s)
        log_pt = log1mexp(lse_last(lp))
        # an empty student tail (k = V, or a masked vocabulary) against a teacher tail
        # within the rounding of its own top-k sum: no tail bin, not +inf
        noise = float(np.log(idx.shape[-1] * np.finfo(b.dtype).eps))
        has_pt = (log_pt > NEG_INF) & ((log_qt > NEG_INF) | (log_pt > noise))
        rho = jnp.where(has_pt & (log_qt > NEG_INF), log_pt - log_qt, zero)
        rows = rows + jnp.where(has_pt, jnp.exp(log_pt) * rho, zero)
        miss = miss | (has_pt & (log_qt == NEG_INF))
        spread = jnp.where(has_pt & (log_qt > NEG_INF), log_pt - lse_out, NEG_INF)
    else:
        rho = spread = zero * rows
    rows = jnp.where(miss, inf, jnp.maximum(rows, zero))
    return rows, (m, log_s, lqk, rho, spread, rows)


def topk_grads(idx, lp, b, stats, tail: bool, axis_name=None):
    """Analytic gradients w.r.t. the teacher's log-probs and the student's scaled logits.

    tail=True: ``d/db = Q - P_t e^b / sum_tail e^b`` off the top-k (the teacher's tail mass
    spread like the student's, from the student's own tail log-sum-exp) and ``Q_k - P_k``
    on it; tail=False: ``Q'_k - P'_k`` (renormalised) on the top-k, 0 elsewhere. Rows with
    an infinite value get no tail term (finite gradients). With ``axis_name``: the
    gradient w.r.t. this shard's part of ``b``.
    """
    m, log_s, lqk, rho, spread, rows = stats
    zero = jnp.zeros((), b.dtype)
    finite_row = jnp.isfinite(rows)
    if tail:
        # log(P_t / sum_tail e^b): the tail mass spread like the student's tail
        log_tail = jnp.where(finite_row, spread, NEG_INF)
        gb = jnp.exp((b - m) - log_s) - jnp.exp(outside_topk(b, idx, axis_name) + log_tail)
        delta = -jnp.exp(lp)
        kl_term = rho
    else:
        lpn = lp - lse_last(lp)
        gb = jnp.zeros_like(b)
        delta = jnp.exp(lqk) - jnp.exp(lpn)
        lp = lpn
        kl_term = jnp.where(finite_row, rows, zero)
    gb = _at_topk(gb, idx, b, axis_name).add(delta.reshape(-1, idx.shape[-1]), mode="drop")
    fp, fq = lp > NEG_INF, lqk > NEG_INF
    d = jnp.where(fp & fq, lp - lqk, zero)
    glp = jnp.where(fp & finite_row, jnp.exp(lp) * (d - kl_term), zero)
    return glp, gb.reshape(b.shape)


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def topk_rows(idx, lp, q, t, tail):
    return _topk_rows_fwd(idx, lp, q, t, tail)[0]


def _topk_rows_fwd(idx, lp, q, t, tail):
    rows, stats = topk_stats(idx, lp.astype(t.dtype), scaled(q, t), tail)
    return rows[..., 0], (idx, lp, q, t, stats)


def _topk_rows_bwd(tail, res, g):
    idx, lp, q, t, stats = res
    glp, gb = topk_grads(idx, lp.astype(t.dtype), scaled(q, t), stats, tail)
    g = g[..., None]
    return None, (glp * g).astype(lp.dtype), (gb * (g / t)).astype(q.dtype), None


topk_rows.defvjp(_topk_rows_fwd, _topk_rows_bwd)


def xlogy_ratio(x_log, y_log):
    """``e^x (x - y)`` from logs, 0 where ``x = -inf``, +inf where ``y = -inf < x``."""
    zero = jnp.zeros((), x_log.dtype)
    fx, fy = x_log > NEG_INF, y_log > NEG_INF
    d = jnp.where(fx & fy, x_log - jnp.where(fy, y_log, zero), zero)
    term = jnp.exp(jnp.where(fx, x_log, NEG_INF)) * d
    return jnp.where(fx & ~fy, jnp.asarray(jnp.inf, x_log.dtype), term)


def topk_reverse_rows(idx, lp, q, t, tail):
    return topk_reverse_scaled(idx, lp.astype(t.dtype), scaled(q, t), tail)


def topk_reverse_scaled(idx, lp, b, tail, axis_name=None):
    """Per-row KL(student ‖ teacher) over the teacher's top k (and the tail bin).

    Plain autodiff: the student's log-probs at the k tokens and its tail from the
    log-sum-exp outside them, as in the forward direction; the teacher's tail is
    ``1 - sum P_k``, and within the rounding of its top-k sum (below ``k * eps``) it is
    empty, so a student tail against it is ``+inf`` unless that tail is empty too.
    ``axis_name``: ``b`` is this shard's part of the vocabulary.
    """
    lse = lse_last(b, axis_name)
    lqk = gather_logits(b, idx, axis_name) - lse
    if not tail:
        lpn, lqn = lp - lse_last(lp), lqk - lse_last(lqk)
        return jnp.maximum(jnp.sum(xlogy_ratio(lqn, lpn), axis=-1), 0.0)
    log_qt = lse_last(outside_topk(b, idx, axis_name), axis_name) - lse
    lse_p = lse_last(lp)
    has_tail = lse_p < float(np.log1p(-idx.shape[-1] * np.finfo(b.dtype).eps))
    log_pt = jnp.where(has_tail, log1mexp(jnp.where(has_tail, lse_p, -1.0)), NEG_INF)
    rows = jnp.sum(xlogy_ratio(lqk, lp), axis=-1) + xlogy_ratio(log_qt, log_pt)[..., 0]
    return jnp.maximum(rows, 0.0)


# one compiled program for eager calls too (inlined under the caller's jit)
@partial(jax.jit, static_argnames=("tail", "reverse", "reduction", "t_squared"))
def _topk_loss(idx, lp, q, t, where, *, tail, reverse, reduction, t_squared):
    if where is not None:
        keep = where[..., None]
        lp = jnp.where(keep, lp, jnp.full((), -math.log(idx.shape[-1] + 1.0), lp.dtype))
        q = jnp.where(keep, q, jnp.zeros((), q.dtype))
        idx = jnp.where(keep, idx, jnp.arange(idx.shape[-1], dtype=idx.dtype))
    if reverse:
        rows = topk_reverse_rows(idx, lp, q, t, tail)
    else:
        rows = topk_rows(idx, lp, q, t, tail)
    if t_squared:
        rows = rows * (t * t)
    if where is not None:
        rows = jnp.where(where, rows, jnp.zeros((), rows.dtype))
    return _checks.reduce_rows(rows, where, reduction)


def check_topk_teacher(p_indices, p_logprobs, batch_shape, v, student):
    """The teacher's top-k ``(indices, log-probs)`` as arrays, checked against the student."""
    idx, lp = as_input(p_indices, "p_indices"), as_input(p_logprobs, "p_logprobs")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"Expected integer `p_indices` but got dtype {idx.dtype}")
    _checks.check_same_shape(idx, lp, "p_indices and p_logprobs")
    if lp.ndim < 1 or lp.shape[:-1] != batch_shape:
        raise ValueError(
            f"Expected p_logprobs [..., k] with the batch shape {batch_shape} of {student} but "
            f"got {lp.shape}"
        )
    if lp.shape[-1] > v:
        raise ValueError(f"Expected k <= V but got k={lp.shape[-1]} and V={v}")
    return idx, lp


def check_topk_values(idx, lp, v, where) -> None:
    keep = None if where is None else where[..., None]

    def in_range():
        bad = (idx < 0) | (idx >= v)
        return ~jnp.any(bad if keep is None else bad & keep)

    _checks.value_check(in_range, f"`p_indices` outside [0, {v})", idx, where)
    _checks.value_check(
        lambda: finite_or_neg_inf(lp, keep), "`p_logprobs` holds NaN or +inf", lp, where
    )


def topk_kl_divergence(
    p_indices: ArrayLike,
    p_logprobs: ArrayLike,
    q_logits: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    temperature_squared: bool = False,
    tail: bool = True,
    reverse: bool = False,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""KL(teacher ‖ student) when the teacher gives only its top-k tokens and log-probs.

    With the teacher's log-probs :math:`\ell_k` at tokens :math:`i_k` and the student's
    :math:`\log Q = \mathrm{log\_softmax}(q/T)`:

    * ``tail=True``: the teacher's remaining mass :math:`P_t = 1 - \sum_k e^{\ell_k}` is
      one more bin against the student's remaining mass :math:`Q_t = 1 - \sum_k Q_{i_k}`,

      .. math:: \sum_k e^{\ell_k}(\ell_k - \log Q_{i_k}) + P_t (\log P_t - \log Q_t),

      the student's tail from the log-sum-exp of its logits outside the top k (exact for
      a confident student's tail of 1e-12, where ``1 - sum Q_k`` rounds to 0), the
      teacher's as ``log1mexp(logsumexp(lp))``. With no token outside the top k (``k =
      V``, or a student with ``-inf`` logits there) a teacher tail within the rounding of
      its own top-k sum (below ``k * eps``) is no tail: ``k = V`` gives the full KL;
    * ``tail=False``: both are renormalised over the k tokens (KL of the two conditional
      distributions on the top-k set).

    Temperature: ``temperature`` divides the student's logits only; the teacher's
    log-probs are used as given, so compute them at the temperature you distil at (for
    ``tail=False``, ``p_logprobs / T`` gives the teacher's top-k restricted to
    temperature ``T``, since log-probs are logits up to a constant).

    Gradients (custom rule): w.r.t. ``q_logits``, ``(Q - P̃)/T`` where ``P̃`` is the teacher
    on its top-k and, with ``tail=True``, the tail mass spread like the student's
    (:math:`Q_j P_t/Q_t`) elsewhere; w.r.t. ``p_logprobs`` the analytic derivative. Rows
    whose value is ``+inf`` (student tail 0 against a teacher tail > 0, or ``q = -inf``
    at a teacher token) get finite gradients. Teacher log-probs of ``-inf`` contribute 0.
    When ``p_logprobs`` are bitwise the student's own log-probs
    (``jax.nn.log_softmax(q / T)`` gathered), the value and gradient are exactly 0.

    Args:
        p_indices: integer token ids ``[..., k]``, distinct per row, in ``[0, V)``.
        p_logprobs: the teacher's log-probabilities at those tokens ``[..., k]``.
        q_logits: the student's logits ``[..., V]`` (same batch shape).
        temperature: ``T > 0`` for the student's softmax.
        temperature_squared: multiply the result (and so its gradients) by ``T**2``.
        tail: add the remaining mass as one bin (True) or renormalise over k (False).
        reverse: KL(student ‖ teacher) on the same bins instead (the student's k
            log-probs and tail against the teacher's; gradients by autodiff). A teacher
            tail within the rounding of its top-k sum counts as empty, so a student tail
            against it is ``+inf`` (``k = V`` gives the full reverse KL).
        where: optional boolean token mask broadcastable to the batch shape.
        reduction: ``"mean"`` over unmasked tokens, ``"sum"``, or ``"none"`` / ``None``.

    Returns:
        float32 (float64 for float64 inputs); shape ``()`` or the batch shape.

    Raises:
        ValueError: for an unknown reduction, mismatched shapes (named), ``k > V``, a
            concrete ``temperature <= 0``; on concrete arrays for NaN / ``+inf`` values or
            indices outside ``[0, V)``.
        TypeError: for non-integer indices, a non-bool ``tail`` or a non-boolean ``where``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxkl import losses
        >>> q = jnp.array([[2.0, 1.0, 0.0, -1.0]])
        >>> idx = jnp.array([[0, 1]])
        >>> lp = jnp.log(jnp.array([[0.6, 0.3]]))
        >>> print(f"{losses.topk_kl_divergence(idx, lp, q):.5f}")
        0.01092
        >>> own = jnp.take_along_axis(jax.nn.log_softmax(q), idx, -1)
        >>> print(losses.topk_kl_divergence(idx, own, q))
        0.0
    """
    _checks.check_reduction(reduction)
    if not isinstance(tail, bool):
        raise TypeError(f"Expected `tail` to be a bool but got {tail!r}")
    q = as_input(q_logits, "q_logits")
    if q.ndim < 1:
        raise ValueError(f"Expected q_logits [..., V] but got shape {q.shape}")
    idx, lp = check_topk_teacher(p_indices, p_logprobs, q.shape[:-1], q.shape[-1], "q_logits")
    dtype = _checks.compute_dtype(lp.dtype, q.dtype)
    where = check_where(where, q.shape[:-1])
    t = check_temperature(temperature, dtype)
    if _checks.checks_wanted(idx, lp, q, where):
        check_topk_values(idx, lp, q.shape[-1], where)
        check_logits(q, "q_logits", where, q.ndim - 1, allow_empty_row=True)
    check_flag(temperature_squared, "temperature_squared")
    check_flag(reverse, "reverse")
    return _topk_loss(
        idx,
        lp,
        q,
        t,
        where,
        tail=tail,
        reverse=reverse,
        reduction=reduction,
        t_squared=temperature_squared,
    )
