"""KL and Jensen-Shannon losses on logits for training steps: distillation, RL penalties.

As everywhere in jaxkl, ``p`` comes first and is the target (teacher, reference, the
distribution samples come from); ``q`` is the model being trained. Five functions:

* :func:`kl_divergence_with_logits` and :func:`jensen_shannon_with_logits`: one pass over
  the logits for the per-row statistics (max, log-sum-exp), a custom derivative rule whose
  backward needs only the logits and those statistics, and ``axis_name`` for a vocabulary
  sharded over a mesh axis inside ``shard_map``;
* :func:`fused_linear_kl_divergence`: the student's output projection fused with the loss,
  chunked over tokens, so that no ``[N, V]`` array exists in the forward or the backward;
* :func:`topk_kl_divergence`: a teacher that gives only its top-k tokens;
* :func:`sampled_kl`: Schulman's k1 / k2 / k3 estimators from sampled tokens.

This module imports only JAX (no flax, no optax): ``import jaxkl`` stays cheap.
"""

from __future__ import annotations

import math
import operator
from functools import partial
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._numerics import expm1_minus_x

Reduction = Literal["mean", "sum", "none"] | None
Teacher = ArrayLike | tuple

__all__ = [
    "kl_divergence_with_logits",
    "jensen_shannon_with_logits",
    "fused_linear_kl_divergence",
    "fused_linear_topk_kl_divergence",
    "topk_kl_divergence",
    "sampled_kl",
]

_NEG_INF = -jnp.inf


# --------------------------------------------------------------------------------------
# Static argument checks (they look at shapes, dtypes and Python values only).
# --------------------------------------------------------------------------------------


def _array(x: Any, name: str = "input") -> jax.Array:
    """``x`` as an array; ``TypeError`` naming ``name`` for complex, string or object input."""
    _checks.check_real_input(x, name)
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


def _compute_dtype(*dtypes) -> jnp.dtype:
    """float64 if any input is float64 (x64 on), else float32 (half precision and ints too)."""
    for d in dtypes:
        if not (jnp.issubdtype(d, jnp.floating) or jnp.issubdtype(d, jnp.integer)):
            raise TypeError(f"Expected real floating or integer inputs but got dtype {d}")
    if any(jnp.dtype(d) == jnp.float64 for d in dtypes):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)


def _check_axis(axis: Any, shape: tuple) -> int:
    if len(shape) == 0:
        raise ValueError(
            "Expected logits with at least one dimension (the vocabulary axis) but got shape ()"
        )
    if isinstance(axis, bool):
        raise ValueError(f"Expected `axis` to be an int but got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(f"Expected `axis` to be an int but got {axis!r}") from None
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"`axis`={axis} is out of range for logits of rank {len(shape)} (shape {shape})"
        )
    return axis % len(shape)


def _check_where(where: Any, batch_shape: tuple) -> jax.Array | None:
    if where is None:
        return None
    where = _array(where, "where")
    if where.dtype != jnp.bool_:
        raise TypeError(f"Expected `where` to be a boolean mask but got dtype {where.dtype}")
    try:
        broadcast = np.broadcast_shapes(where.shape, batch_shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(batch_shape):
        raise ValueError(
            f"`where` of shape {where.shape} does not broadcast to the batch shape {batch_shape}"
        )
    return jnp.broadcast_to(where, batch_shape)


def _check_same_shape(a: jax.Array, b: jax.Array, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"Expected {names} to have the same shape but got {a.shape} and {b.shape}")


def _check_temperature(temperature: Any, dtype) -> jax.Array:
    t = _array(temperature, "temperature")
    if t.ndim != 0:
        raise ValueError(f"Expected `temperature` to be a scalar but got shape {t.shape}")
    if _checks.is_concrete(t) and not float(np.asarray(t)) > 0:
        raise ValueError(f"Expected `temperature` > 0 but got {temperature!r}")
    return lax.stop_gradient(t.astype(dtype))


def _check_vocab_size(vocab_size: Any, sizes: dict[str, int]) -> int | None:
    """``vocab_size`` checked against the vocabulary sizes of the named inputs."""
    if vocab_size is None:
        return None
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise TypeError(f"Expected `vocab_size` to be an int but got {vocab_size!r}")
    if vocab_size < 1:
        raise ValueError(f"Expected `vocab_size` >= 1 but got {vocab_size}")
    for name, size in sizes.items():
        if size < vocab_size:
            raise ValueError(
                f"`vocab_size`={vocab_size} is larger than the vocabulary of {name} ({size})"
            )
    return int(vocab_size)


def _first(x: jax.Array, n: int | None, axis: int = -1) -> jax.Array:
    """The first ``n`` entries of ``x`` along ``axis`` (all of them for ``n = None``)."""
    return x if n is None or x.shape[axis] == n else lax.slice_in_dim(x, 0, n, axis=axis)


def _check_flag(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"Expected `{name}` to be a bool but got {value!r}")


def _check_beta(beta: Any, dtype) -> jax.Array:
    b = _array(beta, "beta")
    if b.ndim != 0:
        raise ValueError(f"Expected `beta` to be a scalar but got shape {b.shape}")
    if _checks.is_concrete(b) and not 0.0 <= float(np.asarray(b)) <= 1.0:
        raise ValueError(f"Expected `beta` in [0, 1] but got {beta!r}")
    return lax.stop_gradient(b.astype(dtype))


def _finite_or_neg_inf(x: jax.Array, keep: jax.Array | None) -> jax.Array:
    """True unless an unmasked entry is NaN or +inf (``keep`` broadcasts against ``x``)."""
    bad = jnp.isnan(x) | (x == jnp.inf)
    if keep is not None:
        bad = bad & keep
    return ~jnp.any(bad)


def _all_finite(x: jax.Array, keep: jax.Array | None) -> jax.Array:
    bad = ~jnp.isfinite(x)
    if keep is not None:
        bad = bad & keep
    return ~jnp.any(bad)


def _check_logits(x: jax.Array, name: str, where, axis: int, *, allow_empty_row: bool) -> None:
    """Value checks of logits (section 1's rule: concrete raise, traced free unless enabled)."""
    if not _checks.checks_wanted(x, where):
        return
    keep = None if where is None else jnp.expand_dims(where, axis)
    _checks.value_check(
        lambda: _finite_or_neg_inf(x, keep),
        f"`{name}` holds NaN or +inf, which are not logits",
        x,
        where,
    )
    if not allow_empty_row:

        def ok():
            empty = jnp.all(x == _NEG_INF, axis=axis)
            if where is not None:
                empty = empty & where
            return ~jnp.any(empty)

        _checks.value_check(
            ok, f"`{name}` has a row of -inf logits, which is no distribution", x, where
        )


def _reduce(rows: jax.Array, where: jax.Array | None, reduction: Reduction) -> jax.Array:
    """Rows are 0 where masked; "mean" is over unmasked rows (0/0 = NaN when none)."""
    if reduction is None or reduction == "none":
        return rows
    total = jnp.sum(rows)
    if reduction == "sum":
        return total
    count = rows.size if where is None else jnp.sum(where, dtype=rows.dtype)
    return total / jnp.asarray(count, rows.dtype)


# --------------------------------------------------------------------------------------
# Row kernels on scaled float logits a = p/T, b = q/T (reductions keep their axis).
# --------------------------------------------------------------------------------------


def _psum(x, axis_name):
    return x if axis_name is None else lax.psum(x, axis_name)


def _lse_parts(x: jax.Array, axis: int, axis_name) -> tuple[jax.Array, jax.Array]:
    """``(lse, log_s)`` per row, combined across vocabulary shards with pmax / psum.

    A row of ``-inf`` gives ``lse = -inf`` (its max is replaced by 0, its sum is 0).
    """
    m = jnp.max(x, axis=axis, keepdims=True)
    if axis_name is not None:
        m = lax.pmax(m, axis_name)
    m = jnp.where(m > _NEG_INF, m, jnp.zeros((), x.dtype))
    s = _psum(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True), axis_name)
    return m, s


def _kl_stats(a, b, axis, axis_name):
    """Per-row KL(softmax(a) || softmax(b)) (keepdims) and the statistics of its derivative.

    ``KL = C + (lse_b - lse_a)`` with ``C = sum_j P_j (a_j - b_j)``; the log-sum-exp
    difference is ``(m_b - m_a) + log1p((s_b - s_a)/s_a)``, which has no rounding of two
    large logarithms. Edges: ``a_j = -inf`` contributes 0; ``b_j = -inf < a_j`` makes the
    row ``+inf``.
    """
    m_a, s_a = _lse_parts(a, axis, axis_name)
    m_b, s_b = _lse_parts(b, axis, axis_name)
    fa, fb = a > _NEG_INF, b > _NEG_INF
    zero = jnp.zeros((), a.dtype)
    d = jnp.where(fa & fb, a - b, zero)
    c = _psum(jnp.sum(jnp.exp(a - m_a) * d, axis=axis, keepdims=True), axis_name) / s_a
    miss = jnp.max(jnp.where(fa & ~fb, jnp.ones((), a.dtype), zero), axis=axis, keepdims=True)
    if axis_name is not None:
        miss = lax.pmax(miss, axis_name)
    rows = jnp.maximum(c + (m_b - m_a) + jnp.log1p((s_b - s_a) / s_a), zero)
    rows = jnp.where(miss > 0, jnp.asarray(jnp.inf, a.dtype), rows)
    lse_a = m_a + jnp.log(s_a)
    lse_b = m_b + jnp.log(s_b)
    return rows, (lse_a, lse_b, c, rows)


def _kl_grads(a, b, stats, want_a: bool):
    """D KL / d a and d KL / d b (w.r.t. the scaled logits), from the saved row statistics.

    ``d/db = Q - P``; ``d/da_j = P_j (a_j - b_j - C)`` (``= P_j (log P_j - log Q_j - KL)``),
    set to 0 on rows whose value is ``+inf``.
    """
    lse_a, lse_b, c, rows = stats
    p = jnp.exp(a - lse_a)
    q = jnp.exp(b - lse_b)
    gb = q - p
    if not want_a:
        return None, gb
    zero = jnp.zeros((), a.dtype)
    d = jnp.where((a > _NEG_INF) & (b > _NEG_INF), a - b, zero)
    ga = jnp.where(jnp.isfinite(rows), p * (d - jnp.where(jnp.isfinite(c), c, zero)), zero)
    return ga, gb


def _log_mix(r, beta, log_beta, log_1m_beta):
    """``log(beta + (1 - beta) e^r)`` for finite r: exactly 0 at r = 0, no overflow.

    Near 0 it is ``log1p((1 - beta) expm1(r))`` (accurate, and exact at r = 0); elsewhere
    ``logaddexp(log beta, log(1 - beta) + r)`` (no overflow for large |r|, right at
    beta = 0 and beta = 1).
    """
    small = jnp.abs(r) < 0.5
    rs = jnp.where(small, r, jnp.zeros((), r.dtype))
    near = jnp.log1p((1 - beta) * jnp.expm1(rs))
    far = jnp.logaddexp(log_beta, log_1m_beta + r)
    return jnp.where(small, near, far)


def _jsd_elements(a, b, beta, lse_a, lse_b):
    """Per element: ``P, Q, g = d J/d P, h = d J/d Q`` (finite everywhere) and the masks.

    With ``r = log Q - log P`` and ``w(r, beta) = log(beta + (1 - beta) e^r)`` (``= log M -
    log P``): ``g = -beta w(r, beta)``, ``h = -(1 - beta) w(-r, 1 - beta)``; where only
    one of the two is positive the limits ``-beta log beta`` and ``-(1-beta) log(1-beta)``.
    """
    zero = jnp.zeros((), a.dtype)
    fa, fb = a > _NEG_INF, b > _NEG_INF
    lp = a - lse_a
    lq = b - lse_b
    p = jnp.exp(lp)
    q = jnp.exp(lq)
    both = fa & fb
    r = jnp.where(both, lq - lp, zero)
    one_m = 1 - beta
    log_b = jnp.log(beta)
    log_1mb = jnp.log1p(-beta)
    xlogx_b = jnp.where(beta > 0, beta * jnp.where(beta > 0, log_b, zero), zero)
    xlogx_1mb = jnp.where(one_m > 0, one_m * jnp.where(one_m > 0, log_1mb, zero), zero)
    g = jnp.where(both, -beta * _log_mix(r, beta, log_b, log_1mb), -xlogx_b)
    h = jnp.where(both, -one_m * _log_mix(-r, one_m, log_1mb, log_b), -xlogx_1mb)
    return p, q, g, h, fa, fb


def _jsd_stats(a, b, beta, axis, axis_name):
    """Per-row JSD(beta) = S1 + S2 with S1 = beta KL(P||M), S2 = (1-beta) KL(Q||M)."""
    m_a, s_a = _lse_parts(a, axis, axis_name)
    m_b, s_b = _lse_parts(b, axis, axis_name)
    lse_a = m_a + jnp.log(s_a)
    lse_b = m_b + jnp.log(s_b)
    zero = jnp.zeros((), a.dtype)
    p, q, g, h, fa, fb = _jsd_elements(a, b, beta, lse_a, lse_b)
    s1 = _psum(jnp.sum(jnp.where(fa, p * g, zero), axis=axis, keepdims=True), axis_name)
    s2 = _psum(jnp.sum(jnp.where(fb, q * h, zero), axis=axis, keepdims=True), axis_name)
    rows = jnp.maximum(s1 + s2, zero) + zero
    return rows, (lse_a, lse_b, s1, s2)


def _jsd_grads(a, b, beta, stats, want_a: bool):
    """``d J/d a = P (g - S1)``, ``d J/d b = Q (h - S2)`` (softmax's Jacobian applied)."""
    lse_a, lse_b, s1, s2 = stats
    zero = jnp.zeros((), a.dtype)
    p, q, g, h, fa, fb = _jsd_elements(a, b, beta, lse_a, lse_b)
    gb = jnp.where(fb, q * (h - s2), zero)
    ga = jnp.where(fa, p * (g - s1), zero) if want_a else None
    return ga, gb


#: What a logits loss computes: KL(P || Q), KL(Q || P) or JSD(beta). Static: each kind is
#: its own program.
Kind = Literal["forward", "reverse", "jsd"]


def _row_stats(kind: Kind, a, b, beta, axis, axis_name):
    """Per-row value (keepdims) and the statistics of its derivative."""
    if kind == "forward":
        return _kl_stats(a, b, axis, axis_name)
    if kind == "reverse":
        return _kl_stats(b, a, axis, axis_name)
    return _jsd_stats(a, b, beta, axis, axis_name)


def _row_grads(kind: Kind, a, b, beta, stats, want_a: bool):
    """``(d/da, d/db)`` of the per-row value (``d/da`` None unless ``want_a``)."""
    if kind == "forward":
        return _kl_grads(a, b, stats, want_a)
    if kind == "reverse":
        gb, ga = _kl_grads(b, a, stats, want_a=True)
        return (ga if want_a else None), gb
    return _jsd_grads(a, b, beta, stats, want_a)


def _jsd_kind(beta: jax.Array) -> Kind | None:
    """The kind of JSD(beta) for a concrete beta (its ends are KLs, as in TRL and Liger)."""
    if not _checks.is_concrete(beta):
        return None
    value = float(np.asarray(beta))
    # a subnormal beta is 0 inside XLA (flushed): the traced switch takes it for an end too
    if value < float(jnp.finfo(beta.dtype).tiny):
        return "forward"
    return "reverse" if value == 1.0 else "jsd"


def _by_beta(loss, beta):
    """``loss(kind)`` for JSD(beta): chosen now for a concrete beta, else by ``lax.switch``."""
    kind = _jsd_kind(beta)
    if kind is not None:
        return loss(kind)
    index = jnp.where(beta == 0, 1, jnp.where(beta == 1, 2, 0))
    return lax.switch(
        index, [lambda: loss("jsd"), lambda: loss("forward"), lambda: loss("reverse")]
    )


# --------------------------------------------------------------------------------------
# kl_divergence_with_logits / jensen_shannon_with_logits
# --------------------------------------------------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _logit_rows(p, q, t, beta, kind, axis, axis_name):
    """Per-row divergence ``kind`` of softmax(p/t) and softmax(q/t)."""
    return _logit_rows_fwd(p, q, t, beta, kind, axis, axis_name)[0]


def _scaled(x, t):
    return x.astype(t.dtype) / t


def _logit_rows_fwd(p, q, t, beta, kind, axis, axis_name):
    a, b = _scaled(p, t), _scaled(q, t)
    rows, stats = _row_stats(kind, a, b, beta, axis, axis_name)
    return jnp.squeeze(rows, axis), (p, q, t, beta, stats)


def _logit_rows_bwd(kind, axis, axis_name, res, g):
    p, q, t, beta, stats = res
    a, b = _scaled(p, t), _scaled(q, t)
    ga, gb = _row_grads(kind, a, b, beta, stats, want_a=True)
    scale = jnp.expand_dims(g, axis) / t
    dp = (ga * scale).astype(p.dtype)
    dq = (gb * scale).astype(q.dtype)
    return dp, dq, None, None


_logit_rows.defvjp(_logit_rows_fwd, _logit_rows_bwd)


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

    rows = rows_of(kind) if kind is not None else _by_beta(rows_of, beta)
    if t_squared:
        rows = rows * (t * t)
    if where is not None:
        rows = jnp.where(where, rows, jnp.zeros((), rows.dtype))
    return _reduce(rows, where, reduction)


def _prepare_logits(p_logits, q_logits, axis, where, reduction, temperature, vocab_size):
    _checks.check_reduction(reduction)
    p, q = _array(p_logits, "p_logits"), _array(q_logits, "q_logits")
    if vocab_size is not None and p.ndim == q.ndim and p.ndim >= 1:
        axis = _check_axis(axis, p.shape)
        n = _check_vocab_size(vocab_size, {"p_logits": p.shape[axis], "q_logits": q.shape[axis]})
        p, q = _first(p, n, axis), _first(q, n, axis)
    elif p.ndim == q.ndim and p.ndim >= 1 and p.shape != q.shape:
        vocab = _check_axis(axis, p.shape)
        others = p.shape[:vocab] + p.shape[vocab + 1 :] == q.shape[:vocab] + q.shape[vocab + 1 :]
        if others:
            raise ValueError(
                f"Expected p_logits and q_logits with the same vocabulary size but got "
                f"{p.shape[vocab]} and {q.shape[vocab]} (shapes {p.shape} and {q.shape}): "
                "pass vocab_size= to use the first entries of each (never pad with zeros)"
            )
    _check_same_shape(p, q, "p_logits and q_logits")
    axis = _check_axis(axis, p.shape)
    dtype = _compute_dtype(p.dtype, q.dtype)
    where = _check_where(where, p.shape[:axis] + p.shape[axis + 1 :])
    t = _check_temperature(temperature, dtype)
    _check_logits(p, "p_logits", where, axis, allow_empty_row=False)
    _check_logits(q, "q_logits", where, axis, allow_empty_row=True)
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
    _check_flag(temperature_squared, "temperature_squared")
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
    b = _check_beta(beta, dtype)
    _check_flag(temperature_squared, "temperature_squared")
    return _logits_loss(
        p,
        q,
        t,
        b,
        where,
        kind=_jsd_kind(b),
        axis=axis,
        axis_name=axis_name,
        reduction=reduction,
        t_squared=temperature_squared,
    )


# --------------------------------------------------------------------------------------
# fused_linear_kl_divergence
# --------------------------------------------------------------------------------------


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

    Why: XLA's CPU pipeline otherwise hoists the float32 conversion of the whole
    ``[N, V]`` half-precision teacher out of the token loop (measured: a float32 copy of
    the teacher logits in the temporary memory). With the integer bits it still makes one
    16-bit copy of the teacher (half of that); an open issue.
    """
    if bits.dtype == jnp.uint16:
        if dtype == jnp.bfloat16:  # bfloat16 is the top half of a float32: exact
            wide = lax.shift_left(bits.astype(jnp.uint32), jnp.uint32(16))
            return lax.bitcast_convert_type(wide, jnp.float32).astype(acc)
        return lax.bitcast_convert_type(bits, dtype).astype(acc)
    return bits.astype(acc)


def _topk_chunk(kind, teacher, start, chunk, keep, b):
    """A chunk's top-k rows (keepdims) and a function giving their gradient w.r.t. ``b``."""
    _, tail, reverse = kind
    idx, lp = (lax.dynamic_slice_in_dim(x, start, chunk) for x in teacher)
    k = idx.shape[-1]
    # rows outside the mask may hold anything: a harmless uniform teacher instead
    lp = jnp.where(keep, lp.astype(b.dtype), jnp.full((), -math.log(k + 1.0), b.dtype))
    idx = jnp.where(keep, idx, jnp.arange(k, dtype=idx.dtype))
    if reverse:
        rows, pullback = jax.vjp(lambda b: _topk_reverse_scaled(idx, lp, b, tail), b)
        return rows[:, None], lambda: pullback(jnp.ones_like(rows))[0]
    rows, stats = _topk_stats(idx, lp, b, tail)
    return rows, lambda: _topk_grads(idx, lp, b, stats, tail)[1]


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
    hidden, weight = _array(hidden, "hidden"), _array(weight, "weight")
    if hidden.ndim < 1 or weight.ndim != 2 or hidden.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"Expected hidden [..., H] and weight [H, V] with the same H but got shapes "
            f"{hidden.shape} and {weight.shape}"
        )
    return hidden, weight


def _check_bias(bias: Any, v: int) -> jax.Array | None:
    if bias is None:
        return None
    bias = _array(bias, "bias")
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
    _checks.value_check(
        lambda: _all_finite(hidden, tok), "`hidden` holds NaN or inf", hidden, where
    )
    _checks.value_check(lambda: _all_finite(weight, None), "`weight` holds NaN or inf", weight)
    if bias is not None:
        _checks.value_check(lambda: _all_finite(bias, None), "`bias` holds NaN or inf", bias)


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
            z = z + bias.astype(acc)
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
            rows, student_grad = _topk_chunk(kind, teacher, start, chunk, keep, b)
        else:
            a = teacher_logits(start) / t
            rows, stats = _row_stats(kind, a, b, beta, 1, axis_name)

            def student_grad():
                return _row_grads(kind, a, b, beta, stats, want_a=False)[1]

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
        dh = _psum(dh, axis_name).astype(dh_acc.dtype)
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

    return loss(kind) if kind is not None else _by_beta(loss, beta)


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
            teacher_v = _array(p_logits[1], "p_logits[1]").shape[-1]
        else:
            teacher_v = _array(p_logits, "p_logits").shape[-1]
        n = _check_vocab_size(vocab_size, {"weight": weight.shape[1], "the teacher": teacher_v})
        weight = _first(weight, n)
        bias = None if bias is None else _first(_array(bias, "bias"), n)
        if isinstance(p_logits, (tuple, list)):
            p_logits = tuple(
                x if i == 0 or x is None else _first(_array(x, f"p_logits[{i}]"), n)
                for i, x in enumerate(p_logits)
            )
        else:
            p_logits = _first(_array(p_logits, "p_logits"), n)
    v = weight.shape[1]
    bias = _check_bias(bias, v)
    dtypes = [x.dtype for x in (hidden, weight, bias) if x is not None]
    if isinstance(p_logits, (tuple, list)):
        if len(p_logits) not in (2, 3):
            raise TypeError(
                "Expected the teacher as logits or a tuple (p_hidden, p_weight[, p_bias]) but "
                f"got a sequence of length {len(p_logits)}"
            )
        ph, pw = _array(p_logits[0], "p_logits[0]"), _array(p_logits[1], "p_logits[1]")
        has_bias = len(p_logits) == 3 and p_logits[2] is not None
        pb = _array(p_logits[2], "p_logits[2]") if has_bias else None
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
        p = _array(p_logits, "p_logits")
        if p.shape != batch_shape + (v,):
            raise ValueError(
                f"Expected p_logits of shape {batch_shape + (v,)} (hidden {hidden.shape}, "
                f"weight {weight.shape}) but got {p.shape} (vocabularies of different sizes: "
                "pass vocab_size=)"
            )
        dtypes.append(p.dtype)
        teacher_arrays = []
        p_flat = p
    dtype = _compute_dtype(*dtypes)
    n = int(np.prod(batch_shape, dtype=np.int64))
    chunk = _check_chunk_size(chunk_size, n, v)
    where = _check_where(where, batch_shape)
    t = _check_temperature(temperature, dtype)
    b = None if beta is None else _check_beta(beta, dtype)
    _check_flag(temperature_squared, "temperature_squared")
    _check_flag(reverse, "reverse")
    if reverse and beta is not None:
        raise ValueError("Expected one of `beta` (JSD) and `reverse=True` (KL(q || p)), not both")
    kind = ("reverse" if reverse else "forward") if b is None else _jsd_kind(b)

    # Value checks (section 1's rule).
    if _checks.checks_wanted(hidden, weight, bias, p_flat, where, *teacher_arrays):
        tok = None if where is None else where[..., None]
        _check_head_values(hidden, weight, bias, where)
        if p_flat is not None:
            _check_logits(p_flat, "p_logits", where, p_flat.ndim - 1, allow_empty_row=False)
        for name, x in zip(("p_hidden", "p_weight", "p_bias"), teacher_arrays):
            keep = tok if name == "p_hidden" else None
            _checks.value_check(
                lambda x=x, keep=keep: _all_finite(x, keep), f"`{name}` holds NaN or inf", x, where
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
        _check_flag(flag, name)
    hidden, weight = _check_head(hidden, weight)
    batch_shape, v = hidden.shape[:-1], weight.shape[1]
    bias = _check_bias(bias, v)
    idx, lp = _check_topk_teacher(p_indices, p_logprobs, batch_shape, v, "hidden")
    dtype = _compute_dtype(*(x.dtype for x in (hidden, weight, bias, lp) if x is not None))
    n = int(np.prod(batch_shape, dtype=np.int64))
    chunk = _check_chunk_size(chunk_size, n, v)
    where = _check_where(where, batch_shape)
    t = _check_temperature(temperature, dtype)
    if _checks.checks_wanted(hidden, weight, bias, idx, lp, where):
        _check_head_values(hidden, weight, bias, where)
        _check_topk_values(idx, lp, v, where)
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
        axis_name=None,
    )


# --------------------------------------------------------------------------------------
# topk_kl_divergence
# --------------------------------------------------------------------------------------


def _log1mexp(x):
    """``log(1 - e^x)`` for x <= 0 (Maechler's switch at -log 2); ``-inf`` at x = 0."""
    x = jnp.minimum(x, 0.0)
    near = x > -math.log(2.0)
    xn = jnp.where(near, x, -1.0)
    xf = jnp.where(near, -1.0, x)
    return jnp.where(near, jnp.log(-jnp.expm1(xn)), jnp.log1p(-jnp.exp(xf)))


def _lse_last(x):
    """Log-sum-exp over the last axis (keepdims).

    ``-inf`` for an all ``-inf`` row, with a zero derivative there (autodiff of the reverse
    top-k goes through it).
    """
    m = jnp.max(x, axis=-1, keepdims=True)
    m = jnp.where(m > _NEG_INF, m, jnp.zeros((), x.dtype))
    s = jnp.sum(jnp.exp(x - m), axis=-1, keepdims=True)
    return jnp.where(s > 0, m + jnp.log(jnp.where(s > 0, s, 1)), _NEG_INF)


def _outside_topk(b, idx):
    """``b`` with ``-inf`` at the top-k tokens: the student's logits of the tail bin."""
    n = int(np.prod(b.shape[:-1], dtype=np.int64))
    k = idx.shape[-1]
    flat = b.reshape(n, b.shape[-1]).at[jnp.arange(n)[:, None], idx.reshape(n, k)]
    return flat.set(_NEG_INF).reshape(b.shape)


def _topk_stats(idx, lp, b, tail: bool):
    """Per-row top-k KL (keepdims) and the statistics of its derivative."""
    zero = jnp.zeros((), b.dtype)
    inf = jnp.asarray(jnp.inf, b.dtype)
    m = jnp.max(b, axis=-1, keepdims=True)
    m = jnp.where(m > _NEG_INF, m, zero)
    log_s = jnp.log(jnp.sum(jnp.exp(b - m), axis=-1, keepdims=True))
    bk = jnp.take_along_axis(b, idx, axis=-1)
    lqk = (bk - m) - log_s  # the student's log-probs at the teacher's tokens
    if not tail:
        lp = lp - _lse_last(lp)
        lqk = lqk - _lse_last(lqk)
    fp, fq = lp > _NEG_INF, lqk > _NEG_INF
    d = jnp.where(fp & fq, lp - lqk, zero)
    pk = jnp.exp(lp)
    rows = jnp.sum(pk * d, axis=-1, keepdims=True)
    miss = jnp.any(fp & ~fq, axis=-1, keepdims=True)
    if tail:
        # The student's tail from its own logits outside the top k (1 - sum Q_k would round
        # a confident student's 1e-9 tail to 0); the teacher's can only be 1 - sum P_k.
        lse_out = _lse_last(_outside_topk(b, idx))
        log_qt = lse_out - (m + log_s)
        log_pt = _log1mexp(_lse_last(lp))
        # an empty student tail (k = V, or a masked vocabulary) against a teacher tail
        # within the rounding of its own top-k sum: no tail bin, not +inf
        noise = float(np.log(idx.shape[-1] * np.finfo(b.dtype).eps))
        has_pt = (log_pt > _NEG_INF) & ((log_qt > _NEG_INF) | (log_pt > noise))
        rho = jnp.where(has_pt & (log_qt > _NEG_INF), log_pt - log_qt, zero)
        rows = rows + jnp.where(has_pt, jnp.exp(log_pt) * rho, zero)
        miss = miss | (has_pt & (log_qt == _NEG_INF))
        spread = jnp.where(has_pt & (log_qt > _NEG_INF), log_pt - lse_out, _NEG_INF)
    else:
        rho = spread = zero * rows
    rows = jnp.where(miss, inf, jnp.maximum(rows, zero))
    return rows, (m, log_s, lqk, rho, spread, rows)


def _topk_grads(idx, lp, b, stats, tail: bool):
    """Analytic gradients w.r.t. the teacher's log-probs and the student's scaled logits.

    tail=True: ``d/db = Q - P_t e^b / sum_tail e^b`` off the top-k (the teacher's tail mass
    spread like the student's, from the student's own tail log-sum-exp) and ``Q_k - P_k``
    on it; tail=False: ``Q'_k - P'_k`` (renormalised) on the top-k, 0 elsewhere. Rows with
    an infinite value get no tail term (finite gradients).
    """
    m, log_s, lqk, rho, spread, rows = stats
    zero = jnp.zeros((), b.dtype)
    finite_row = jnp.isfinite(rows)
    if tail:
        # log(P_t / sum_tail e^b): the tail mass spread like the student's tail
        log_tail = jnp.where(finite_row, spread, _NEG_INF)
        gb = jnp.exp((b - m) - log_s) - jnp.exp(_outside_topk(b, idx) + log_tail)
        delta = -jnp.exp(lp)
        kl_term = rho
    else:
        lpn = lp - _lse_last(lp)
        gb = jnp.zeros_like(b)
        delta = jnp.exp(lqk) - jnp.exp(lpn)
        lp = lpn
        kl_term = jnp.where(finite_row, rows, zero)
    batch = b.shape[:-1]
    n = int(np.prod(batch, dtype=np.int64))
    k = idx.shape[-1]
    gb2 = (
        gb.reshape(n, b.shape[-1])
        .at[jnp.arange(n)[:, None], idx.reshape(n, k)]
        .add(delta.reshape(n, k))
    )
    fp, fq = lp > _NEG_INF, lqk > _NEG_INF
    d = jnp.where(fp & fq, lp - lqk, zero)
    glp = jnp.where(fp & finite_row, jnp.exp(lp) * (d - kl_term), zero)
    return glp, gb2.reshape(b.shape)


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def _topk_rows(idx, lp, q, t, tail):
    return _topk_rows_fwd(idx, lp, q, t, tail)[0]


def _topk_rows_fwd(idx, lp, q, t, tail):
    rows, stats = _topk_stats(idx, lp.astype(t.dtype), _scaled(q, t), tail)
    return rows[..., 0], (idx, lp, q, t, stats)


def _topk_rows_bwd(tail, res, g):
    idx, lp, q, t, stats = res
    glp, gb = _topk_grads(idx, lp.astype(t.dtype), _scaled(q, t), stats, tail)
    g = g[..., None]
    return None, (glp * g).astype(lp.dtype), (gb * (g / t)).astype(q.dtype), None


_topk_rows.defvjp(_topk_rows_fwd, _topk_rows_bwd)


def _xlogy_ratio(x_log, y_log):
    """``e^x (x - y)`` from logs, 0 where ``x = -inf``, +inf where ``y = -inf < x``."""
    zero = jnp.zeros((), x_log.dtype)
    fx, fy = x_log > _NEG_INF, y_log > _NEG_INF
    d = jnp.where(fx & fy, x_log - jnp.where(fy, y_log, zero), zero)
    term = jnp.exp(jnp.where(fx, x_log, _NEG_INF)) * d
    return jnp.where(fx & ~fy, jnp.asarray(jnp.inf, x_log.dtype), term)


def _topk_reverse_rows(idx, lp, q, t, tail):
    return _topk_reverse_scaled(idx, lp.astype(t.dtype), _scaled(q, t), tail)


def _topk_reverse_scaled(idx, lp, b, tail):
    """Per-row KL(student ‖ teacher) over the teacher's top k (and the tail bin).

    Plain autodiff: the student's log-probs at the k tokens and its tail from the
    log-sum-exp outside them, as in the forward direction; the teacher's tail is
    ``1 - sum P_k``, and within the rounding of its top-k sum (below ``k * eps``) it is
    empty, so a student tail against it is ``+inf`` unless that tail is empty too.
    """
    lse = _lse_last(b)
    lqk = jnp.take_along_axis(b, idx, axis=-1) - lse
    if not tail:
        lpn, lqn = lp - _lse_last(lp), lqk - _lse_last(lqk)
        return jnp.maximum(jnp.sum(_xlogy_ratio(lqn, lpn), axis=-1), 0.0)
    log_qt = _lse_last(_outside_topk(b, idx)) - lse
    lse_p = _lse_last(lp)
    has_tail = lse_p < float(np.log1p(-idx.shape[-1] * np.finfo(b.dtype).eps))
    log_pt = jnp.where(has_tail, _log1mexp(jnp.where(has_tail, lse_p, -1.0)), _NEG_INF)
    rows = jnp.sum(_xlogy_ratio(lqk, lp), axis=-1) + _xlogy_ratio(log_qt, log_pt)[..., 0]
    return jnp.maximum(rows, 0.0)


@partial(jax.jit, static_argnames=("tail", "reverse", "reduction", "t_squared"))
def _topk_loss(idx, lp, q, t, where, *, tail, reverse, reduction, t_squared):
    if where is not None:
        keep = where[..., None]
        lp = jnp.where(keep, lp, jnp.full((), -math.log(idx.shape[-1] + 1.0), lp.dtype))
        q = jnp.where(keep, q, jnp.zeros((), q.dtype))
        idx = jnp.where(keep, idx, jnp.arange(idx.shape[-1], dtype=idx.dtype))
    if reverse:
        rows = _topk_reverse_rows(idx, lp, q, t, tail)
    else:
        rows = _topk_rows(idx, lp, q, t, tail)
    if t_squared:
        rows = rows * (t * t)
    if where is not None:
        rows = jnp.where(where, rows, jnp.zeros((), rows.dtype))
    return _reduce(rows, where, reduction)


def _check_topk_teacher(p_indices, p_logprobs, batch_shape, v, student):
    """The teacher's top-k ``(indices, log-probs)`` as arrays, checked against the student."""
    idx, lp = _array(p_indices, "p_indices"), _array(p_logprobs, "p_logprobs")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"Expected integer `p_indices` but got dtype {idx.dtype}")
    _check_same_shape(idx, lp, "p_indices and p_logprobs")
    if lp.ndim < 1 or lp.shape[:-1] != batch_shape:
        raise ValueError(
            f"Expected p_logprobs [..., k] with the batch shape {batch_shape} of {student} but "
            f"got {lp.shape}"
        )
    if lp.shape[-1] > v:
        raise ValueError(f"Expected k <= V but got k={lp.shape[-1]} and V={v}")
    return idx, lp


def _check_topk_values(idx, lp, v, where) -> None:
    keep = None if where is None else where[..., None]

    def in_range():
        bad = (idx < 0) | (idx >= v)
        return ~jnp.any(bad if keep is None else bad & keep)

    _checks.value_check(in_range, f"`p_indices` outside [0, {v})", idx, where)
    _checks.value_check(
        lambda: _finite_or_neg_inf(lp, keep), "`p_logprobs` holds NaN or +inf", lp, where
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
    q = _array(q_logits, "q_logits")
    if q.ndim < 1:
        raise ValueError(f"Expected q_logits [..., V] but got shape {q.shape}")
    idx, lp = _check_topk_teacher(p_indices, p_logprobs, q.shape[:-1], q.shape[-1], "q_logits")
    dtype = _compute_dtype(lp.dtype, q.dtype)
    where = _check_where(where, q.shape[:-1])
    t = _check_temperature(temperature, dtype)
    if _checks.checks_wanted(idx, lp, q, where):
        _check_topk_values(idx, lp, q.shape[-1], where)
        _check_logits(q, "q_logits", where, q.ndim - 1, allow_empty_row=True)
    _check_flag(temperature_squared, "temperature_squared")
    _check_flag(reverse, "reverse")
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


# --------------------------------------------------------------------------------------
# sampled_kl
# --------------------------------------------------------------------------------------


#: verl's and tunix's names for the estimators
_ESTIMATOR_ALIASES = {"kl": "k1", "mse": "k2", "mse_kl": "k2", "low_var_kl": "k3"}
_ESTIMATORS = ("k1", "k2", "k3", "abs", "k1+", "k3+", *_ESTIMATOR_ALIASES)


def _estimate(r, estimator):
    """Per-sample estimate from the finite log-ratio ``r = log q - log p``."""
    if estimator == "k1":
        return -r
    if estimator == "k2":
        return 0.5 * r * r
    if estimator == "abs":
        return r * jnp.sign(r)  # gradient 0 at r = 0, as torch's abs
    if estimator == "k3":
        return expm1_minus_x(r)  # e^r - 1 - r without cancellation near r = 0
    # "k1+" / "k3+": the value of k1 / k3 with the gradient of k2 (a straight-through sum)
    k2 = 0.5 * r * r
    return k2 + lax.stop_gradient(_estimate(r, estimator[:-1]) - k2)


@partial(jax.jit, static_argnames=("estimator", "reduction", "dtype"))
def _sampled_loss(log_p, log_q, where, clip, *, estimator, reduction, dtype):
    lp, lq = log_p.astype(dtype), log_q.astype(dtype)
    if where is not None:
        lp = jnp.where(where, lp, jnp.zeros((), dtype))
        lq = jnp.where(where, lq, jnp.zeros((), dtype))
    zero = jnp.zeros((), dtype)
    fp, fq = lp > _NEG_INF, lq > _NEG_INF
    both = fp & fq
    est = _estimate(jnp.where(both, lq - lp, zero), estimator)
    # log q = -inf at a sample of p: +inf for every estimator; log p = -inf: a sample p
    # cannot give, contributes 0.
    rows = jnp.where(both, est, jnp.where(fp, jnp.asarray(jnp.inf, dtype), zero))
    if clip is not None:
        bound = clip.astype(dtype)
        clamped = jnp.where(jnp.abs(rows) <= bound, rows, jnp.sign(rows) * bound)
        # a clamped sample has a zero gradient (as under torch.clamp), but the
        # straight-through estimators keep k2's gradient: verl clamps their value only
        if estimator.endswith("+"):
            rows = rows + lax.stop_gradient(clamped - rows)
        else:
            rows = clamped
    if where is not None:
        rows = jnp.where(where, rows, zero)
    return _reduce(rows, where, reduction)


def sampled_kl(
    log_p: ArrayLike,
    log_q: ArrayLike,
    *,
    estimator: str = "k3",
    clip: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""KL(p ‖ q) estimated from samples x ~ p, given ``log p(x)`` and ``log q(x)``.

    With :math:`r = \log q(x) - \log p(x)` (Schulman's "Approximating KL divergence"):

    * ``"k1"``: :math:`-r = \log p - \log q`; unbiased for KL(p ‖ q), high variance, can be
      negative per sample;
    * ``"k2"``: :math:`\tfrac12 r^2`; biased (it is KL only to second order in
      :math:`q/p - 1`), low variance, >= 0;
    * ``"k3"``: :math:`e^r - 1 - r`; unbiased for KL(p ‖ q) and >= 0 per sample, computed
      without cancellation near :math:`r \approx 0` (a series for small ``|r|``);
    * ``"abs"``: :math:`|r|`;
    * ``"k1+"`` and ``"k3+"``: the value of k1 / k3 with the gradient of k2 (verl's
      straight-through estimators: an unbiased value and the gradient of
      :math:`\nabla\,\mathrm{KL}(p\|q)` when the parameters are in ``p``).

    verl's and tunix's names are accepted: ``"kl"`` is k1, ``"mse"`` and ``"mse_kl"`` are k2,
    ``"low_var_kl"`` is k3 (verl clamps that one to [-10, 10]: ``clip=10`` gives its
    values exactly).

    What their gradients estimate depends on which side carries the parameters (the
    samples are held fixed, as autodiff does):

    * parameters in ``q``, samples from a fixed ``p`` (distillation on teacher samples):
      the mean gradient of ``"k1"`` and of ``"k3"`` is unbiased for
      :math:`\nabla\,\mathrm{KL}(p\|q)` (k3 adds the zero-mean term
      :math:`(q/p)\nabla\log q`); ``"k2"``'s is the gradient of
      :math:`\mathbb{E}_p[\tfrac12 \log^2(q/p)]`, not of the KL;
    * parameters in ``p``, samples from ``p`` itself (an RL policy's KL penalty to a
      fixed reference ``q``, samples not differentiated): ``"k1"``'s mean gradient is the
      score :math:`\nabla\log p`, whose expectation is 0 (use k1 as a reward, not a loss);
      ``"k2"``'s is unbiased for :math:`\nabla\,\mathrm{KL}(p\|q)`; ``"k3"``'s is unbiased
      for the gradient of the *other* direction, :math:`\nabla\,\mathrm{KL}(q\|p)`.

    Edges: ``log q = -inf`` (a sample q cannot give) is ``+inf`` for every estimator, with a
    zero gradient; ``log p = -inf`` contributes 0. Gradients are never NaN.

    Args:
        log_p: log-probabilities under p (the sampling distribution) of the samples, any
            shape.
        log_q: log-probabilities under q, same shape.
        estimator: ``"k1"``, ``"k2"``, ``"k3"``, ``"abs"``, ``"k1+"``, ``"k3+"`` or an alias
            (``"kl"``, ``"mse"``, ``"mse_kl"``, ``"low_var_kl"``).
        clip: optional ``c > 0``: each sample's estimate is clamped to ``[-c, c]`` (an
            infinite one too), with a zero gradient where it is clamped (``"k1+"`` and
            ``"k3+"`` keep k2's gradient there).
        where: optional boolean sample mask broadcastable to the shape.
        reduction: ``"mean"`` over unmasked samples, ``"sum"``, or ``"none"`` / ``None``.

    Returns:
        float32 (float64 for float64 inputs); shape ``()`` or the inputs' shape.

    Raises:
        ValueError: for an unknown ``estimator`` or ``reduction``, mismatched shapes (named);
            on concrete arrays for NaN or ``+inf`` inputs.
        TypeError: for a non-boolean ``where`` or non-real inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import losses
        >>> log_p = jnp.log(jnp.array([0.5, 0.25, 0.25]))
        >>> log_q = jnp.log(jnp.array([0.25, 0.5, 0.25]))
        >>> for k in ("k1", "k2", "k3"):
        ...     print(k, f"{losses.sampled_kl(log_p, log_q, estimator=k):.4f}")
        k1 0.0000
        k2 0.1602
        k3 0.1667
    """
    _checks.check_reduction(reduction)
    if estimator not in _ESTIMATORS:
        raise ValueError(
            f"Expected `estimator` to be one of {list(_ESTIMATORS)} but got {estimator!r}"
        )
    estimator = _ESTIMATOR_ALIASES.get(estimator, estimator)
    lp, lq = _array(log_p, "log_p"), _array(log_q, "log_q")
    _check_same_shape(lp, lq, "log_p and log_q")
    dtype = _compute_dtype(lp.dtype, lq.dtype)
    if clip is not None:
        clip = _array(clip, "clip")
        if clip.ndim != 0:
            raise ValueError(f"Expected `clip` to be a scalar but got shape {clip.shape}")
        if _checks.is_concrete(clip) and not float(np.asarray(clip)) > 0:
            raise ValueError(f"Expected `clip` > 0 but got {float(np.asarray(clip))!r}")
        clip = lax.stop_gradient(clip)
    where = _check_where(where, lp.shape)
    if _checks.checks_wanted(lp, lq, where):
        for name, x in (("log_p", lp), ("log_q", lq)):
            _checks.value_check(
                lambda x=x: _finite_or_neg_inf(x, where), f"`{name}` holds NaN or +inf", x, where
            )
    return _sampled_loss(lp, lq, where, clip, estimator=estimator, reduction=reduction, dtype=dtype)
