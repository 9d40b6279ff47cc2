"""KL and generalised Jensen-Shannon divergence between two tensors of logits."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._checks import Reduction
from jaxkl.losses._core import (
    as_input,
    by_beta,
    check_beta,
    check_flag,
    check_logits,
    check_temperature,
    check_vocab_axis,
    check_vocab_size,
    check_where,
    first_entries,
    jsd_kind,
    row_grads,
    row_stats,
    scaled,
)


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _logit_rows(p, q, t, beta, kind, axis, axis_name):
    """Per-row divergence ``kind`` of softmax(p/t) and softmax(q/t)."""
    return _logit_rows_fwd(p, q, t, beta, kind, axis, axis_name)[0]


def _logit_rows_fwd(p, q, t, beta, kind, axis, axis_name):
    a, b = scaled(p, t), scaled(q, t)
    rows, stats = row_stats(kind, a, b, beta, axis, axis_name)
    return jnp.squeeze(rows, axis), (p, q, t, beta, stats)


def _logit_rows_bwd(kind, axis, axis_name, res, g):
    p, q, t, beta, stats = res
    a, b = scaled(p, t), scaled(q, t)
    ga, gb = row_grads(kind, a, b, beta, stats, want_a=True)
    scale = jnp.expand_dims(g, axis) / t
    dp = (ga * scale).astype(p.dtype)
    dq = (gb * scale).astype(q.dtype)
    return dp, dq, None, None


_logit_rows.defvjp(_logit_rows_fwd, _logit_rows_bwd)


# one compiled program for eager calls too (inlined under the caller's jit)
@partial(jax.jit, static_argnames=("kind", "axis", "axis_name", "reduction", "t_squared"))
def _logits_loss(p, q, t, beta, where, *, kind, axis, axis_name, reduction, t_squared):
    if where is not None:
        # Masked rows may hold anything (padding): replace them, so that neither their
        # values nor their gradients can be NaN.
        keep = jnp.expand_dims(where, axis)
        p = jnp.where(keep, p, jnp.zeros((), p.dtype))
        q = jnp.where(keep, q, jnp.zeros((), q.dtype))

    def rows_of(kind):
        return _logit_rows(p, q, t, beta, kind, axis, axis_name)

    rows = rows_of(kind) if kind is not None else by_beta(rows_of, beta)
    if t_squared:
        rows = rows * (t * t)
    if where is not None:
        rows = jnp.where(where, rows, jnp.zeros((), rows.dtype))
    return _checks.reduce_rows(rows, where, reduction)


def _prepare_logits(p_logits, q_logits, axis, where, reduction, temperature, vocab_size):
    _checks.check_reduction(reduction)
    p, q = as_input(p_logits, "p_logits"), as_input(q_logits, "q_logits")
    if vocab_size is not None and p.ndim == q.ndim and p.ndim >= 1:
        axis = check_vocab_axis(axis, p.shape)
        n = check_vocab_size(vocab_size, {"p_logits": p.shape[axis], "q_logits": q.shape[axis]})
        p, q = first_entries(p, n, axis), first_entries(q, n, axis)
    elif p.ndim == q.ndim and p.ndim >= 1 and p.shape != q.shape:
        vocab = check_vocab_axis(axis, p.shape)
        others = p.shape[:vocab] + p.shape[vocab + 1 :] == q.shape[:vocab] + q.shape[vocab + 1 :]
        if others:
            raise ValueError(
                f"Expected p_logits and q_logits with the same vocabulary size but got "
                f"{p.shape[vocab]} and {q.shape[vocab]} (shapes {p.shape} and {q.shape}): "
                "pass vocab_size= to use the first entries of each (never pad with zeros)"
            )
    _checks.check_same_shape(p, q, "p_logits and q_logits")
    axis = check_vocab_axis(axis, p.shape)
    dtype = _checks.compute_dtype(p.dtype, q.dtype)
    where = check_where(where, p.shape[:axis] + p.shape[axis + 1 :])
    t = check_temperature(temperature, dtype)
    check_logits(p, "p_logits", where, axis, allow_empty_row=False)
    check_logits(q, "q_logits", where, axis, allow_empty_row=True)
    return p, q, axis, where, dtype, t


def kl_divergence_with_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    temperature_squared: bool = False,
    vocab_size: int | None = None,
    axis: int = -1,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    axis_name: Any = None,
) -> jax.Array:
    r"""KL divergence between the softmaxes of two logit tensors, per token.

    .. math::
        D_{KL}\big(\mathrm{softmax}(p/T) \,\|\, \mathrm{softmax}(q/T)\big)
        = \sum_j P_j (a_j - b_j) - \mathrm{lse}(a) + \mathrm{lse}(b),
        \quad a = p/T,\ b = q/T.

    One pass over the logits gives the per-row statistics (max, sum of exponentials, the
    cross term); a custom derivative rule then needs only the logits and those statistics:
    the gradient w.r.t. ``q_logits`` is :math:`(\mathrm{softmax}(q/T) -
    \mathrm{softmax}(p/T))/T` times the upstream cotangent, and w.r.t. ``p_logits``
    :math:`P_j(\log P_j - \log Q_j - D_{KL})/T`. No log-softmax is stored for the backward.
    ``temperature_squared=True`` multiplies the result by :math:`T^2` (Hinton's scaling, as
    tunix, MaxText and EasyDeL do; TRL and Liger do not). ``temperature`` is a constant for
    differentiation (no gradient).

    Edges: identical logits give exactly 0 and a zero gradient. ``-inf`` logits (a masked
    vocabulary) give the limits: a ``p`` entry at ``-inf`` contributes 0; ``q = -inf`` where
    ``p`` is finite gives ``+inf``. Gradients are never NaN: entries at ``-inf`` get 0; on a
    row whose value is ``+inf`` the gradient w.r.t. ``q_logits`` is still the finite
    ``(Q - P)/T`` and the gradient w.r.t. ``p_logits`` is 0. Rounding: an absolute error of a
    few ulps of 1 in the computing precision, so in float32 values below ~1e-6 are noise.

    Args:
        p_logits: the target's (teacher's, reference policy's) logits, any rank >= 1, the
            vocabulary at ``axis``. float16 / bfloat16 compute in float32, float64 in
            float64.
        q_logits: the trained model's logits, the same shape as ``p_logits``.
        temperature: softmax temperature ``T > 0`` applied to both (a scalar; may be a
            traced value).
        temperature_squared: multiply the result (and so its gradients) by ``T**2``.
        vocab_size: use only the first ``vocab_size`` entries of each vocabulary axis, for
            a teacher and a student whose vocabularies differ in size (embedding tables
            padded differently). Without it, sizes that differ are an error.
        axis: the vocabulary axis; every other axis is a token (batch) axis.
        where: optional boolean token mask broadcastable to the batch shape (the shape
            without ``axis``). Masked tokens count neither in the sum nor in the mean's
            denominator, are 0 in a ``"none"`` result, get a zero gradient, and may hold
            anything (NaN padding included).
        reduction: ``"mean"`` over unmasked tokens (NaN when there are none), ``"sum"``,
            or ``"none"`` / ``None`` for one value per token.
        axis_name: inside ``shard_map`` with the vocabulary axis split over the mesh axis
            (or axes) of this name, the row statistics are combined with ``pmax`` /
            ``psum``, so the value equals the unsharded one; the gradients stay sharded.

    Returns:
        A float32 array (float64 for float64 inputs): shape ``()`` for ``"mean"`` /
        ``"sum"``, the batch shape for ``"none"``.

    Raises:
        ValueError: for an unknown ``reduction``; if the shapes differ (both are named); for
            a scalar input or an ``axis`` out of range; for a ``where`` that does not
            broadcast to the batch shape; for a concrete ``temperature <= 0``. On concrete
            arrays also for NaN or ``+inf`` logits, or a ``p_logits`` row all ``-inf``;
            under a trace these value checks cost nothing unless turned on with
            ``jaxkl.value_checks()`` (then they are ``checkify`` checks).
        TypeError: for a non-boolean ``where`` or non-real inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import losses
        >>> teacher = jnp.array([[2.0, 1.0, 0.0], [0.0, 0.0, -jnp.inf]])
        >>> student = jnp.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
        >>> losses.kl_divergence_with_logits(teacher, student, reduction="none")
        Array([0.26621..., 0.35829...], dtype=float32)
        >>> print(losses.kl_divergence_with_logits(teacher, teacher))
        0.0

    The torch equivalent is ``F.kl_div(F.log_softmax(q / T, -1), F.log_softmax(p / T, -1),
    log_target=True, reduction="batchmean")`` for 2-D logits.
    """
    p, q, axis, where, dtype, t = _prepare_logits(
        p_logits, q_logits, axis, where, reduction, temperature, vocab_size
    )
    check_flag(temperature_squared, "temperature_squared")
    return _logits_loss(
        p,
        q,
        t,
        None,
        where,
        kind="forward",
        axis=axis,
        axis_name=axis_name,
        reduction=reduction,
        t_squared=temperature_squared,
    )


def jensen_shannon_with_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    beta: ArrayLike = 0.5,
    temperature: ArrayLike = 1.0,
    temperature_squared: bool = False,
    vocab_size: int | None = None,
    axis: int = -1,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    axis_name: Any = None,
) -> jax.Array:
    r"""Generalised Jensen-Shannon divergence JSD(β) between the softmaxes of two logit tensors.

    .. math::
        \mathrm{JSD}_\beta(P \| Q) = \beta\, D_{KL}(P \| M) + (1-\beta)\, D_{KL}(Q \| M),
        \quad M = \beta P + (1-\beta) Q,

    with ``P = softmax(p/T)``, ``Q = softmax(q/T)`` (the generalised JSD of on-policy
    distillation, GKD). ``beta = 0.5`` is the symmetric JSD, bounded by ``log 2``; for β in
    (0, 1) the divergence is finite, also with ``-inf`` logits (at most
    :math:`-\beta\log\beta - (1-\beta)\log(1-\beta)`).

    At the ends, as TRL's ``GKDTrainer.generalized_jsd_loss(student_logits,
    teacher_logits, beta=...)`` and Liger's ``LigerFusedLinearJSD(jsd_beta=...)`` (the same
    mixture, β weighting the teacher), β = 0 is the forward KL(P ‖ Q) and β = 1 the
    reverse KL(Q ‖ P): the JSD itself is 0 there, which nobody trains with. A concrete β
    picks its program when called; a traced β selects among the three with
    ``lax.switch``.

    Gradients (custom rule, from the logits and per-row statistics only): with
    ``g = β(log P − log M)`` and ``h = (1−β)(log Q − log M)`` per entry, the gradient w.r.t.
    ``q_logits`` is :math:`Q(h - \sum Q h)/T` and w.r.t. ``p_logits`` :math:`P(g - \sum P
    g)/T`; finite everywhere, 0 at ``-inf`` entries and for identical logits. ``beta`` and
    ``temperature`` are constants for differentiation.

    Args:
        p_logits: the target's (teacher's) logits, any rank >= 1, vocabulary at ``axis``.
        q_logits: the trained model's logits, same shape.
        beta: the mixture weight of ``p``, in [0, 1] (a scalar; may be traced).
        temperature: softmax temperature ``T > 0`` applied to both.
        temperature_squared: multiply the result (and so its gradients) by ``T**2``.
        vocab_size: use only the first ``vocab_size`` entries of each vocabulary axis (see
            :func:`kl_divergence_with_logits`).
        axis: the vocabulary axis.
        where: optional boolean token mask broadcastable to the batch shape.
        reduction: ``"mean"`` over unmasked tokens, ``"sum"``, or ``"none"`` / ``None``.
        axis_name: mesh axis name of a vocabulary sharded inside ``shard_map`` (see
            :func:`kl_divergence_with_logits`).

    Returns:
        float32 (float64 for float64 inputs); shape ``()`` or the batch shape for
        ``"none"``.

    Raises:
        ValueError: as :func:`kl_divergence_with_logits`, and for a concrete ``beta``
            outside [0, 1].
        TypeError: for a non-boolean ``where`` or non-real inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import losses
        >>> p = jnp.array([0.0, -jnp.inf])
        >>> q = jnp.array([-jnp.inf, 0.0])
        >>> print(f"{losses.jensen_shannon_with_logits(p, q):.6f}")  # disjoint: log 2
        0.693147
        >>> print(losses.jensen_shannon_with_logits(p, q, beta=0.0))  # KL(p || q)
        inf
    """
    p, q, axis, where, dtype, t = _prepare_logits(
        p_logits, q_logits, axis, where, reduction, temperature, vocab_size
    )
    b = check_beta(beta, dtype)
    check_flag(temperature_squared, "temperature_squared")
    return _logits_loss(
        p,
        q,
        t,
        b,
        where,
        kind=jsd_kind(b),
        axis=axis,
        axis_name=axis_name,
        reduction=reduction,
        t_squared=temperature_squared,
    )
