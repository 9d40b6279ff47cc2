"""Tensor KL divergence: torchmetrics' semantics, any rank, masks, exact edges, one pass.

The public function is :func:`kl_divergence`. Its two halves are private and reused by the
metric (as torchmetrics' ``KLDivergence`` reuses ``_kld_update`` / ``_kld_compute``):

* :func:`_kl_rows` validates and returns the per-row KL values and the row mask;
* :func:`_reduce` applies the reduction.
"""

from __future__ import annotations

from typing import Literal, Optional

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._numerics import log1p_minus_x

Reduction = Optional[Literal["mean", "sum", "none"]]

__all__ = ["kl_divergence"]


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    log_prob: bool = False,
    reduction: Reduction = "mean",
    *,
    axis: int = -1,
    where: Optional[ArrayLike] = None,
) -> jax.Array:
    r"""KL divergence between the rows of two tensors of (log-)probabilities.

    .. math::
        D_{KL}(P \| Q) = \sum_{x} P(x) \log \frac{P(x)}{Q(x)}

    With ``log_prob=False`` each row of ``p`` and ``q`` is normalised to sum to one first
    (as torchmetrics does), but no normalised copy is made: with :math:`P = \sum p`,
    :math:`Q = \sum q` and :math:`G = \sum (p \log(p/q) - p + q)`, every term of which is
    non-negative,

    .. math::
        D_{KL} = \frac{G}{P} + \log\frac{Q}{P} - \frac{Q - P}{P},

    which reads ``p`` and ``q`` once, takes one logarithm per element, and has no
    cancellation when ``p`` is close to ``q`` (the last two terms are evaluated together as
    ``log1p(d) - d`` with ``d = (Q - P)/P``). With ``log_prob=True`` the inputs are
    log-probabilities used as given: :math:`\sum_x e^{p(x)} (p(x) - q(x))`.

    Edges: a term with ``p = 0`` (or ``p = -inf`` in log space) contributes 0; ``p > 0``
    against ``q = 0`` gives ``+inf``, never NaN.

    Gradients are never NaN. With respect to ``q`` they are finite wherever the value is.
    With respect to an entry ``p_i = 0`` the one-sided derivative is ``-inf``; the value
    returned is the derivative with the ``0 log 0`` term held at its limit 0, i.e. only the
    normalisation's contribution (finite). Entries with ``q_i = 0 < p_i`` (value ``+inf``)
    and masked rows get a zero gradient. In log space gradients are finite at ``p = -inf``.

    Args:
        p: data distribution; any rank >= 1, shape ``[..., d, ...]`` with the event axis at
            ``axis``. Floating or integer (integers are counts: unnormalised frequencies).
        q: prior or approximating distribution, same shape as ``p``.
        log_prob: ``True`` if ``p`` and ``q`` are log-probabilities, used as given;
            ``False`` if they are (unnormalised) probabilities, normalised per row.
        reduction: how to reduce over the batch (every axis but ``axis``): ``"mean"``
            (default), ``"sum"``, or ``"none"`` / ``None`` for one value per row.
        axis: the event axis, summed over; every other axis is batch.
        where: optional boolean mask broadcastable to the batch shape (``p.shape`` without
            ``axis``). Masked-out rows count neither in the sum nor in the mean's
            denominator, are 0 in a ``"none"`` result, and are exempt from value checks.

    Returns:
        A float array: shape ``()`` for ``"mean"``/``"sum"``, the batch shape for
        ``"none"``. float32 for float32, float16, bfloat16 and integer inputs (half
        precision accumulates in float32); float64 for float64 inputs. ``"mean"`` over zero
        unmasked rows is NaN (0/0).

    Raises:
        TypeError: if ``log_prob`` is not a bool, or ``where`` is not boolean.
        ValueError: for an unknown ``reduction``; if ``p`` and ``q`` differ in shape (both
            shapes are named); for 0-d inputs; for an ``axis`` out of range; for a ``where``
            that does not broadcast to the batch shape. Also, on concrete arrays, for bad
            values: negative or non-finite probabilities or an all-zero row
            (``log_prob=False``), NaN or ``+inf`` (``log_prob=True``). Under ``jit`` these
            value checks are ``checkify.debug_check`` s: silent unless the caller wraps the
            function with ``jax.experimental.checkify.checkify`` (then ``err.throw()``
            raises them).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl.functional import kl_divergence
        >>> p = jnp.array([[0.36, 0.48, 0.16]])
        >>> q = jnp.array([[1 / 3, 1 / 3, 1 / 3]])
        >>> print(f"{kl_divergence(p, q):.4f}")
        0.0853
        >>> kl_divergence(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.5]]), reduction="none")
        Array([0.6931472], dtype=float32)
        >>> print(kl_divergence(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])))
        inf

    The torch equivalent is ``torchmetrics.functional.kl_divergence(p, q, log_prob,
    reduction)`` (2-D only, event axis last, no mask).
    """
    rows, mask = _kl_rows(p, q, log_prob=log_prob, axis=axis, where=where)
    _checks.check_reduction(reduction)
    return _reduce(rows, mask, reduction)


def _kl_rows(
    p: ArrayLike,
    q: ArrayLike,
    *,
    log_prob: bool,
    axis: int = -1,
    where: Optional[ArrayLike] = None,
) -> tuple[jax.Array, jax.Array]:
    """Validate, then return ``(rows, mask)``: per-row KL (0 on masked rows) and the mask.

    ``mask`` has the batch shape and is all True when ``where`` is None.
    """
    _checks.check_log_prob(log_prob)
    p, q, axis, mask = _prepare(p, q, axis, where)
    _check_values(p, q, log_prob, axis, mask)
    if log_prob:
        rows = _rows_log_space(p, q, axis)
    else:
        rows = _rows_prob_space(p, q, axis)
    rows = jnp.where(mask, rows, jnp.zeros((), rows.dtype))
    return rows, mask


def _reduce(rows: jax.Array, mask: jax.Array, reduction: Reduction) -> jax.Array:
    """Reduce per-row values over the batch; masked rows are already 0."""
    if reduction is None or reduction == "none":
        return rows
    total = jnp.sum(rows)
    if reduction == "sum":
        return total
    count = jnp.sum(mask, dtype=rows.dtype)
    return total / count


def _accumulation_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """float64 stays float64; every other floating or integer dtype computes in float32."""
    if dtype == jnp.float64:
        return jnp.dtype(jnp.float64)
    if jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer):
        return jnp.dtype(jnp.float32)
    if dtype == jnp.bool_:
        return jnp.dtype(jnp.float32)
    raise TypeError(f"Expected real floating or integer inputs but got dtype {dtype}")


def _prepare(p, q, axis, where):
    """Static checks and dtype conversion. Returns ``(p, q, axis, mask)``."""
    p = jnp.asarray(p)
    q = jnp.asarray(q)
    if p.shape != q.shape:
        raise ValueError(
            f"Expected p and q to have the same shape but got {p.shape} and {q.shape}"
        )
    if p.ndim == 0:
        raise ValueError(
            "Expected p and q to have at least one dimension (the event axis) but got "
            "scalars of shape ()"
        )
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ValueError(f"Expected `axis` to be an int but got {axis!r}")
    if not -p.ndim <= axis < p.ndim:
        raise ValueError(f"`axis`={axis} is out of range for inputs of rank {p.ndim} (shape {p.shape})")
    axis = axis % p.ndim
    dtype = jnp.promote_types(_accumulation_dtype(p.dtype), _accumulation_dtype(q.dtype))
    p = p.astype(dtype)
    q = q.astype(dtype)
    batch_shape = p.shape[:axis] + p.shape[axis + 1 :]
    if where is None:
        mask = jnp.ones(batch_shape, dtype=bool)
    else:
        where = jnp.asarray(where)
        if where.dtype != jnp.bool_:
            raise TypeError(f"Expected `where` to be a boolean mask but got dtype {where.dtype}")
        try:
            mask = jnp.broadcast_to(where, batch_shape)
        except ValueError:
            raise ValueError(
                f"`where` of shape {where.shape} does not broadcast to the batch shape "
                f"{batch_shape} (p.shape {p.shape} without axis {axis})"
            ) from None
    return p, q, axis, mask


def _check_values(p, q, log_prob, axis, mask):
    """Bad values raise on concrete arrays and are checkify checks under a trace."""
    row_ok = jnp.expand_dims(mask, axis)
    if log_prob:
        for name, x in (("p", p), ("q", q)):
            bad = jnp.any(row_ok & (jnp.isnan(x) | (x == jnp.inf)))
            _checks.value_check(
                ~bad, f"`{name}` holds NaN or +inf, which is not a log-probability", x, mask
            )
        return
    for name, x in (("p", p), ("q", q)):
        bad = jnp.any(row_ok & ~(x >= 0))
        _checks.value_check(~bad, f"`{name}` holds negative or NaN probabilities", x, mask)
        bad = jnp.any(row_ok & jnp.isinf(x))
        _checks.value_check(~bad, f"`{name}` holds infinite probabilities", x, mask)
        empty = jnp.any(mask & (jnp.sum(x, axis=axis) == 0))
        _checks.value_check(~empty, f"`{name}` has an all-zero row, which cannot be normalised", x, mask)


def _rows_prob_space(p, q, axis):
    """Normalised KL per row in one pass: G/P + (log1p(d) - d), with d = (Q - P)/P.

    ``G = sum(p log(p/q) - p + q)`` has non-negative terms, so the row sum does not cancel
    the way ``sum(p log(p/q))`` does when ``p`` is close to ``q``.
    """
    zero = jnp.zeros((), p.dtype)
    one = jnp.ones((), p.dtype)
    both = (p > 0) & (q > 0)
    # Double `where`: the log only ever sees safe values, so no NaN gradient can come back
    # through an untaken branch (JAX FAQ, "gradients with where").
    ratio = jnp.where(both, p, one) / jnp.where(both, q, one)
    xlogr = jnp.where(both, p * jnp.log(ratio), jnp.where(p > 0, jnp.inf, zero))
    big_p = jnp.sum(p, axis=axis)
    big_q = jnp.sum(q, axis=axis)
    g = jnp.sum(xlogr - p + q, axis=axis)
    ok = (big_p > 0) & (big_q > 0) & jnp.isfinite(g)
    safe_p = jnp.where(ok, big_p, one)
    d = jnp.where(ok, (big_q - big_p) / safe_p, zero)
    value = jnp.where(ok, g, zero) / safe_p + log1p_minus_x(d)
    # Not ok: +inf when some p > 0 meets q = 0 (or q's row is all zero), NaN when p's row
    # is all zero (undefined; a value check reports it unless the row is masked).
    return jnp.where(ok, value, jnp.where(big_p > 0, jnp.inf, jnp.nan))


def _rows_log_space(p, q, axis):
    """sum exp(p) (p - q) per row, with exp(-inf) * (...) = 0 and +inf where q = -inf < p."""
    zero = jnp.zeros((), p.dtype)
    p_fin = p > -jnp.inf
    q_fin = q > -jnp.inf
    both = p_fin & q_fin
    ps = jnp.where(both, p, zero)
    qs = jnp.where(both, q, zero)
    term = jnp.where(both, jnp.exp(ps) * (ps - qs), jnp.where(p_fin, jnp.inf, zero))
    return jnp.sum(term, axis=axis)
