"""Tensor KL divergence: torchmetrics' semantics, any rank, masks, exact edges.

The public function is :func:`kl_divergence`. Its two halves are private and reused by the
metric (as torchmetrics' ``KLDivergence`` reuses ``_kld_update`` / ``_kld_compute``):

* :func:`_kl_rows` validates and returns the per-row KL values and the row mask;
* :func:`jaxkl._checks.reduce_rows` applies the reduction.
"""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import checkify
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._checks import Reduction
from jaxkl._numerics import log1p_minus_x

__all__ = ["kl_divergence"]


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    log_prob: bool = False,
    reduction: Reduction = "mean",
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
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
    normalisation's contribution, :math:`-(1 + D_{KL})/P` with :math:`P = \sum_j p_j`.
    Where the value is ``+inf`` (``q_i = 0 < p_i``) the gradient of that row is 0, and
    masked rows get a zero gradient. In log space (``log_prob=True``) gradients are finite
    at ``p = -inf`` (0 for that entry).

    Every finite input gets the right value: rows whose sums or terms overflow (``p = q =
    [1e38] * 4`` in float32) are computed again, scaled by powers of two, behind a
    ``lax.cond`` that the common path does not take. Subnormal inputs are another matter:
    XLA on CPU flushes them to zero, so ``q = [1e-40, 1]`` reads as ``[0, 1]`` (and gives
    ``+inf`` against a ``p`` with mass there) and an all-subnormal row reads as all-zero.

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
            (``log_prob=False``), NaN or ``+inf`` (``log_prob=True``). Under a trace
            (``jit``, ``vmap``, ``grad``) these value checks cost nothing and do nothing
            by default; inside ``with jaxkl.value_checks():`` (or with
            ``JAXKL_VALUE_CHECKS=1``) they are ``checkify.check`` s, reported by
            ``jax.experimental.checkify.checkify``.

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
    _checks.check_log_prob(log_prob)
    _checks.check_reduction(reduction)
    p, q, axis, where, dtype = _prepare(p, q, axis, where)
    _check_values(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype)
    return _reduced(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype, reduction=reduction)


def _kl_rows(
    p: ArrayLike,
    q: ArrayLike,
    *,
    log_prob: bool,
    axis: int = -1,
    where: ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Validate, then return ``(rows, mask)``: per-row KL (0 on masked rows) and the mask.

    ``mask`` has the batch shape and is all True when ``where`` is None.
    """
    _checks.check_log_prob(log_prob)
    p, q, axis, where, dtype = _prepare(p, q, axis, where)
    _check_values(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype)
    return _rows(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype)


# one compiled program for eager calls too (inlined under the caller's jit)
@functools.partial(jax.jit, static_argnames=("log_prob", "axis", "dtype", "reduction"))
def _reduced(p, q, where, *, log_prob, axis, dtype, reduction):
    """The reduced KL: one compiled program per shape and option, also for eager calls."""
    rows, mask = _rows(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype)
    return _checks.reduce_rows(rows, None if where is None else mask, reduction)


def _prepare(p, q, axis, where):
    """Static checks only (no array operation): returns ``(p, q, axis, where, dtype)``.

    The conversion to ``dtype`` and the broadcasting of ``where`` happen inside the jitted
    kernels, so an eager call costs a couple of dispatches, not one per operation.
    """
    _checks.check_real_input(p, "p")
    _checks.check_real_input(q, "q")
    p = p if isinstance(p, jax.Array) else jnp.asarray(p)
    q = q if isinstance(q, jax.Array) else jnp.asarray(q)
    _checks.check_same_shape(p, q, "p and q")
    if p.ndim == 0:
        raise ValueError(
            "Expected p and q to have at least one dimension (the event axis) but got "
            "scalars of shape ()"
        )
    axis = _checks.check_axis(axis, p.shape, "inputs")
    if p.shape[axis] == 0:
        raise ValueError(
            f"Expected a non-empty event axis but p and q have shape {p.shape} with "
            f"axis {axis} of length 0"
        )
    dtype = _checks.compute_dtype(p, q)
    where = _checks.check_mask(where, p.shape[:axis] + p.shape[axis + 1 :])
    return p, q, axis, where, dtype


def _mask(where, batch_shape):
    if where is None:
        return jnp.ones(batch_shape, dtype=bool)
    return jnp.broadcast_to(where, batch_shape)


_LOG_MESSAGES = (
    "`p` holds NaN or +inf, which is not a log-probability",
    "`q` holds NaN or +inf, which is not a log-probability",
)
_PROB_MESSAGES = (
    "`p` holds negative or NaN probabilities",
    "`p` holds infinite probabilities",
    "`p` has an all-zero row, which cannot be normalised",
    "`q` holds negative or NaN probabilities",
    "`q` holds infinite probabilities",
    "`q` has an all-zero row, which cannot be normalised",
)


# one compiled program for eager calls too (inlined under the caller's jit)
@functools.partial(jax.jit, static_argnames=("log_prob", "axis", "dtype"))
def _value_flags(p, q, where, *, log_prob, axis, dtype):
    """One boolean per message of ``_LOG_MESSAGES`` / ``_PROB_MESSAGES``: True = check passes."""
    p, q = p.astype(dtype), q.astype(dtype)
    mask = _mask(where, p.shape[:axis] + p.shape[axis + 1 :])
    row_ok = jnp.expand_dims(mask, axis)
    flags = []
    for x in (p, q):
        if log_prob:
            flags.append(~jnp.any(row_ok & (jnp.isnan(x) | (x == jnp.inf))))
        else:
            flags.append(~jnp.any(row_ok & ~(x >= 0)))
            flags.append(~jnp.any(row_ok & jnp.isinf(x)))
            flags.append(~jnp.any(mask & (jnp.sum(x, axis=axis) == 0)))
    return jnp.stack(flags)


def _check_values(p, q, where, *, log_prob, axis, dtype):
    """Bad values raise on concrete arrays; under a trace, checkify checks only when enabled."""
    if not _checks.checks_wanted(p, q, where):
        return
    messages = _LOG_MESSAGES if log_prob else _PROB_MESSAGES
    flags = _value_flags(p, q, where, log_prob=log_prob, axis=axis, dtype=dtype)
    if _checks.is_concrete(flags):
        ok = np.asarray(flags)  # one transfer for all checks
        for passed, message in zip(ok, messages):
            if not passed:
                raise ValueError(message)
    elif _checks.traced_checks_enabled():  # (closed-over constants under a trace: skipped)
        for i, message in enumerate(messages):
            checkify.check(flags[i], message)


# one compiled program for eager calls too (inlined under the caller's jit)
@functools.partial(jax.jit, static_argnames=("log_prob", "axis", "dtype"))
def _rows(p, q, where, *, log_prob, axis, dtype):
    """Per-row KL (0 on masked rows) and the mask; compiled once per shape and option."""
    if where is not None or not (
        jnp.issubdtype(p.dtype, jnp.floating) and jnp.issubdtype(q.dtype, jnp.floating)
    ):
        p, q = p.astype(dtype), q.astype(dtype)
    # else floating inputs (half precision included) are converted inside each fused pass
    # (_event_sum), so that no converted copy is materialised.
    mask = _mask(where, p.shape[:axis] + p.shape[axis + 1 :])
    if where is not None:
        # Masked rows may hold anything (padding: zeros, NaN). Replace them by a harmless
        # constant row, so that neither their values nor their gradients can be NaN.
        keep = jnp.expand_dims(mask, axis)
        filler = jnp.zeros((), dtype) if log_prob else jnp.ones((), dtype)
        p = jnp.where(keep, p, filler)
        q = jnp.where(keep, q, filler)
    if log_prob:
        rows = _rows_log_space(p, q, axis, dtype)
    else:
        rows = _rows_prob_space(p, q, axis, dtype)
    if where is not None:
        rows = jnp.where(mask, rows, jnp.zeros((), rows.dtype))
    return rows, mask


def _event_sum(fn, axis: int, *xs: jax.Array, dtype=None) -> jax.Array:
    """``sum(fn(*xs), axis)`` for elementwise ``fn``, as one fused pass over ``xs``.

    With ``dtype``, ``xs`` are converted to it inside the pass: each call converts its own
    (``optimization_barrier``-ed) inputs, because XLA would otherwise share one conversion
    between the passes and materialise it (two float32 copies of half-precision inputs).
    """
    if dtype is not None and any(x.dtype != dtype for x in xs):
        xs = lax.optimization_barrier(xs)
        inner = fn

        def fn(*xs):
            return inner(*(x.astype(dtype) for x in xs))

    return jnp.sum(fn(*xs), axis=axis)


def _identity(x: jax.Array) -> jax.Array:
    return x


def _row_sum(x: jax.Array, axis: int, dtype=None) -> jax.Array:
    """``sum(x, axis)`` in ``dtype``: a fused reduction (faster than a dot on XLA's CPU)."""
    return _event_sum(_identity, axis, x, dtype=dtype)


@jax.custom_jvp
def _kl_term(p: jax.Array, q: jax.Array) -> jax.Array:
    """``p log(p/q) - p + q`` (>= 0) elementwise: ``q`` at ``p = 0``, ``+inf`` at ``p > 0 = q``.

    Arithmetic only (``maximum``, no compare/select): XLA's CPU backend fuses these into
    the row reduction, while a ``where`` makes the reduction read a materialised copy.
    ``den = max(q, tiny - p)`` is ``q`` for every normal ``p > 0`` (so ``q = 0`` gives
    ``log(p/0) = +inf``) and positive for ``p = 0``; there ``log(0/den) = -inf`` is clamped
    to the finite ``log(tiny/max)`` before the product with ``p = 0`` (the same clamp keeps
    a tiny ``p`` whose ``p/q`` underflows from contributing ``p * -inf``). ``q - p`` is
    exact for close ``p`` and ``q`` (Sterbenz), so near ``p = q`` the term does not cancel.
    The derivative rule below is NaN-free (double ``where``).
    """
    finfo = jnp.finfo(p.dtype)
    den = jnp.maximum(q, float(finfo.tiny) - p)
    # log(p/q) of two normal numbers is at least log(tiny/max); below that p/q underflowed
    # (to 0 where XLA flushes subnormals), so the clamp keeps p * log(p/q) about 0 for tiny p.
    floor = float(np.log(finfo.tiny) - np.log(finfo.max))
    return p * jnp.maximum(jnp.log(p / den), floor) + (q - p)


@_kl_term.defjvp
def _kl_term_jvp(primals, tangents):
    p, q = primals
    dp, dq = tangents
    both = (p > 0) & (q > 0)
    one = jnp.ones((), p.dtype)
    safe_p = jnp.where(both, p, one)
    safe_q = jnp.where(both, q, one)
    # d/dp = log(p/q), d/dq = 1 - p/q. Where p = 0 the 0 log 0 part is held at its limit
    # (derivative of -p + q only); where q = 0 < p the value is +inf and the row's
    # gradient is cut to 0 in _rows_prob_space.
    grad_p = jnp.where(both, jnp.log(safe_p / safe_q), -one)
    grad_q = jnp.where(both, 1.0 - safe_p / safe_q, one)
    return _kl_term(p, q), grad_p * dp + grad_q * dq


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _rows_prob_space(p, q, axis, dtype):
    """Normalised KL per row from three row sums: one pass where the row sums are close.

    With ``P = sum p``, ``Q = sum q``, ``G = sum(p log(p/q) - p + q)`` (non-negative terms,
    so the sum does not cancel when ``p`` is close to ``q``) and ``d = (Q - P)/P``,
    ``KL = G/P + (log1p(d) - d)`` (the bracket without cancellation,
    :func:`jaxkl._numerics.log1p_minus_x`). Its rounding is about
    ``eps * (KL + d - log1p(d))`` absolute: ``G/P`` carries ``d - log1p(d)``, which the
    bracket takes away again, so the form is exact only while ``Q/P`` is near 1.

    Rows with ``|d| > 2**-10`` (unnormalised inputs: counts against rates, histograms of
    corpora of different sizes) are summed again with the row of smaller sum multiplied by
    the ratio of the sums, which leaves the normalised KL unchanged and ``d`` at rounding
    level. The product rounds each scaled entry by half an ulp; the KL moves by
    ``sum (v_i - w_i) e_i`` (``w = p/P``, ``v = q/Q``, ``|e_i| <= eps/2``), which vanishes
    where ``p`` is close to ``q``, so those rows are as accurate as normalised ones. (A
    power-of-two scale would be exact but leaves ``|d|`` up to 0.4, an error of a fraction
    of ``eps`` that does not shrink with the KL.) Scaling the smaller row up cannot
    underflow. The second pass sits behind a ``lax.cond`` on "any row is unbalanced":
    inputs whose row sums agree pay one pass (under ``vmap`` the ``cond`` is a select, and
    both passes run).

    Finite inputs whose sums (or terms) overflow, e.g. ``p = q = [1e38] * 4`` in float32:
    such rows are computed again in the log domain from rows scaled by powers of two
    (:func:`_rows_log_domain`), behind a second ``lax.cond`` that the common path does not
    take.
    """
    value, big_p, big_q, overflowed = _rows_from_sums(p, q, axis, dtype)
    ok = (big_p > 0) & (big_q > 0) & ~overflowed
    unbalanced = ok & (jnp.abs(big_q - big_p) > big_p * 2.0**-10)

    def second_pass():
        one = jnp.ones((), dtype)
        safe_p = jnp.where(unbalanced, big_p, one)
        safe_q = jnp.where(unbalanced, big_q, one)
        scale_p = jnp.expand_dims(jnp.maximum(safe_q / safe_p, one), axis)
        scale_q = jnp.expand_dims(jnp.maximum(safe_p / safe_q, one), axis)
        again, _, _, spilled = _rows_from_sums(p, q, axis, dtype, scale_p, scale_q)
        rows = jnp.where(unbalanced, again, value)
        # a ratio of sums beyond float's range overflows: the log-domain pass takes the row
        log_domain = overflowed | (unbalanced & spilled)

        def rescued():
            return jnp.where(
                log_domain, _rows_log_domain(p.astype(dtype), q.astype(dtype), axis), rows
            )

        return lax.cond(jnp.any(log_domain), rescued, lambda: rows)

    # one branch on the common path: small inputs pay for each conditional
    return lax.cond(jnp.any(unbalanced | overflowed), second_pass, lambda: value)


@_rows_prob_space.defjvp
def _rows_prob_space_jvp(axis, dtype, primals, tangents):
    """Analytic derivative of the normalised KL, NaN-free for every finite input.

    With ``w = p/P`` and ``v = q/Q``: ``dKL/dp_i = (log(w_i/v_i) - KL)/P`` and
    ``dKL/dq_i = 1/Q - w_i/q_i``. At ``p_i = 0`` the ``0 log 0`` term is held at its limit
    (``log(w_i/v_i)`` reads ``-1``: the derivative of the rest, see the public docstring);
    rows whose value is not finite get a zero derivative. Log-ratios are taken as
    ``log p - log q`` so that no ratio over- or underflows; rows whose sums overflow get
    ``P``, ``Q`` and ``w`` from the power-of-two scaled rows (behind the same ``cond``).
    """
    value = _rows_prob_space(*primals, axis, dtype)
    p, q = (x.astype(dtype) for x in primals)
    dp, dq = (x.astype(dtype) for x in tangents)
    one = jnp.ones((), p.dtype)
    zero = jnp.zeros((), p.dtype)
    big_p, big_q = _row_sum(p, axis), _row_sum(q, axis)
    sums_ok = (big_p < jnp.inf) & (big_q < jnp.inf)

    def plain():
        inv_p = one / jnp.where(big_p > 0, big_p, one)
        inv_q = one / jnp.where(big_q > 0, big_q, one)
        log_qp = jnp.log(jnp.where(big_q > 0, big_q, one)) - jnp.log(
            jnp.where(big_p > 0, big_p, one)
        )
        return inv_p, inv_q, p * jnp.expand_dims(inv_p, axis), log_qp

    def scaled():
        inv_p, inv_q, w, log_qp = plain()
        p_s, e_p = _scaled_to_row_max(p, axis)
        q_s, e_q = _scaled_to_row_max(q, axis)
        ps_sum, qs_sum = jnp.sum(p_s, axis=axis), jnp.sum(q_s, axis=axis)
        ps_sum, qs_sum = jnp.where(ps_sum > 0, ps_sum, one), jnp.where(qs_sum > 0, qs_sum, one)
        two = jnp.full((), 2.0, p.dtype)
        inv_p_s = jnp.ldexp(one / ps_sum, -e_p)  # underflows to 0 where 1/P is below tiny
        inv_q_s = jnp.ldexp(one / qs_sum, -e_q)
        log_qp_s = jnp.log(qs_sum) - jnp.log(ps_sum) + (e_q - e_p).astype(p.dtype) * jnp.log(two)
        keep = sums_ok
        return (
            jnp.where(keep, inv_p, inv_p_s),
            jnp.where(keep, inv_q, inv_q_s),
            jnp.where(jnp.expand_dims(keep, axis), w, p_s / jnp.expand_dims(ps_sum, axis)),
            jnp.where(keep, log_qp, log_qp_s),
        )

    inv_p, inv_q, w, log_qp = lax.cond(jnp.all(sums_ok), plain, scaled)
    finite = jnp.isfinite(value)
    both = (p > 0) & (q > 0)
    # log((p/P) / (q/Q)), or -1 where p = 0 (the 0 log 0 term held at its limit)
    log_ratio = jnp.where(
        both,
        jnp.log(jnp.where(both, p, one))
        - jnp.log(jnp.where(both, q, one))
        + jnp.expand_dims(log_qp, axis),
        -one,
    )
    kl = jnp.expand_dims(jnp.where(finite, value, zero), axis)
    grad_p = (log_ratio - kl) * jnp.expand_dims(inv_p, axis)
    grad_q = jnp.expand_dims(inv_q, axis) - jnp.where(q > 0, w / jnp.where(q > 0, q, one), zero)
    tangent = jnp.sum(grad_p * dp + grad_q * dq, axis=axis)
    return value, jnp.where(finite, tangent, zero)


def _scaled_to_row_max(x, axis):
    """``(x * 2**-e, e)``: ``x`` times the power of two that brings its row maximum to [1, 4).

    A power of two keeps every ratio exact, and the scale is a normal number (XLA on CPU
    flushes subnormals, so ``x / max`` would become ``x * (1/max)`` = 0 at ``max = 1e38``).
    The scale is a constant for differentiation.
    """
    top = lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    _, exponent = jnp.frexp(jnp.where(top > 0, top, jnp.ones((), x.dtype)))
    exponent = exponent - 2
    return x * jnp.ldexp(jnp.ones((), x.dtype), -exponent), jnp.squeeze(exponent, axis)


def _rows_log_domain(p, q, axis):
    """Per-row KL for rows whose sums or terms overflow: ``sum w (log p - log q) + log(Q/P)``.

    The weights ``w = p/P`` and the sums come from the rows scaled by powers of two (so they
    cannot overflow), the log-ratios from the unscaled entries (so no ratio over- or
    underflows); ``log(Q/P)`` is assembled from the scaled sums and the exponents.
    Not cancellation-free near ``p = q``: the common path covers that.
    """
    p_s, e_p = _scaled_to_row_max(p, axis)
    q_s, e_q = _scaled_to_row_max(q, axis)
    one = jnp.ones((), p.dtype)
    zero = jnp.zeros((), p.dtype)
    big_p = jnp.sum(p_s, axis=axis)
    big_q = jnp.sum(q_s, axis=axis)
    both = (p > 0) & (q > 0)
    log_ratio = jnp.log(jnp.where(both, p, one)) - jnp.log(jnp.where(both, q, one))
    weights = p_s / jnp.expand_dims(jnp.where(big_p > 0, big_p, one), axis)
    s = jnp.sum(jnp.where(both, weights * log_ratio, zero), axis=axis)
    ok = (big_p > 0) & (big_q > 0)
    log_q_over_p = (
        jnp.log(jnp.where(ok, big_q, one))
        - jnp.log(jnp.where(ok, big_p, one))
        + (e_q - e_p).astype(p.dtype) * float(np.log(2.0))
    )
    infinite = jnp.any((p > 0) & (q == 0), axis=axis) | (big_q == 0)
    value = jnp.where(infinite, jnp.inf, s + log_q_over_p)
    return jnp.where(big_p > 0, value, jnp.nan)


def _rows_from_sums(p, q, axis, dtype, scale_p=None, scale_q=None):
    """Per-row KL from the three row sums of ``scale_p * p`` and ``scale_q * q``.

    Returns ``(value, P, Q, overflowed)``. ``value`` is accurate only for rows with ``Q/P``
    near 1 (see :func:`_rows_prob_space`); the scales are applied inside the pass, after
    the conversion to ``dtype``.
    """
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)
    if scale_p is None:
        big_p = _row_sum(p, axis, dtype)
        big_q = _row_sum(q, axis, dtype)
        g = _event_sum(_kl_term, axis, p, q, dtype=dtype)
    else:
        big_p = _event_sum(operator.mul, axis, p, scale_p, dtype=dtype)
        big_q = _event_sum(operator.mul, axis, q, scale_q, dtype=dtype)
        g = _event_sum(_scaled_kl_term, axis, p, q, scale_p, scale_q, dtype=dtype)
    ok = (big_p > 0) & (big_q > 0) & jnp.isfinite(g)
    safe_p = jnp.where(ok, big_p, one)
    safe_q = jnp.where(ok, big_q, one)
    safe_g = jnp.where(ok, g, zero)
    # d >= -1/2 on every row the value is kept for; the clamp keeps the others finite
    d = jnp.maximum((safe_q - safe_p) / safe_p, -0.5)
    value = safe_g / safe_p + log1p_minus_x(d)
    # Not ok: +inf when some p > 0 meets q = 0 (or q's row is all zero), NaN when p's row
    # is all zero (undefined; a value check reports it unless the row is masked).
    # Finite p and q whose sums or terms overflow look like +inf: flag them for a rescaled pass
    # (a genuine +inf, p > 0 = q, is +inf again there).
    overflowed = (big_p == jnp.inf) | (big_q == jnp.inf) | ((big_p > 0) & (big_q > 0) & ~ok)
    value = jnp.where(ok, value, jnp.where(big_p > 0, jnp.inf, jnp.nan))
    return value, big_p, big_q, overflowed


def _scaled_kl_term(p, q, scale_p, scale_q):
    return _kl_term(p * scale_p, q * scale_q)


@jax.custom_jvp
def _log_space_term(p: jax.Array, q: jax.Array) -> jax.Array:
    """``exp(p) (p - q)`` elementwise for log-probabilities, exact at the edges.

    ``p = -inf`` gives 0 (also against ``q = -inf``), ``q = -inf < p`` gives ``+inf``,
    never NaN. Arithmetic only, for the same fusion reason as :func:`_kl_term`:

    * ``pc = max(p, -max)`` makes ``p - q`` finite when ``p = -inf``;
    * ``low = min((pc + k) * -max * max, 0)`` with ``k = -log(tiny)`` overflows to
      ``-inf`` whenever ``exp(p)`` is a normal number (``p > -k``: then ``pc + k`` is at
      least one ulp of ``k``), so ``max(q, low)`` is ``q`` there and ``q = -inf`` gives
      ``+inf``; where ``exp(p)`` underflows (``p <= -k``, also ``p = -inf``) ``low`` is 0,
      so the difference stays finite and the term is ``exp(p) * finite``, about 0.
    """
    finfo = jnp.finfo(p.dtype)
    big = float(finfo.max)
    k = float(-np.log(finfo.tiny))
    pc = jnp.maximum(p, -big)
    low = jnp.minimum((pc + k) * -big * big, 0.0)
    return jnp.exp(pc) * (pc - jnp.maximum(q, low))


@jax.custom_jvp
def _log_space_term_fast(p: jax.Array, q: jax.Array) -> jax.Array:
    """``exp(p) (p - q)`` as written (3 operations): NaN where ``exp(p) = 0`` meets ``-inf``.

    That is at ``p = -inf``, or ``q = -inf`` where ``exp(p)`` underflows; everywhere else it
    equals :func:`_log_space_term` (``+inf`` for ``q = -inf`` where ``exp(p) > 0``). The
    derivative rule is the same NaN-free one.
    """
    return jnp.exp(p) * (p - q)


def _log_space_jvp(term):
    """The NaN-free derivative rule of both log-space terms, for ``defjvp``."""

    def jvp(primals, tangents):
        p, q = primals
        dp, dq = tangents
        both = (p > -jnp.inf) & (q > -jnp.inf)
        zero = jnp.zeros((), p.dtype)
        w = jnp.exp(jnp.where(both, p, zero))
        diff = jnp.where(both, p - q, zero)
        # d/dp = exp(p)(p - q + 1), d/dq = -exp(p); 0 where p = -inf (the term is 0 there)
        # and where q = -inf < p (the term is +inf).
        grad_p = jnp.where(both, w * (diff + 1.0), zero)
        grad_q = jnp.where(both, -w, zero)
        return term(p, q), grad_p * dp + grad_q * dq

    return jvp


_log_space_term.defjvp(_log_space_jvp(_log_space_term))
_log_space_term_fast.defjvp(_log_space_jvp(_log_space_term_fast))


def _rows_log_space(p, q, axis, dtype):
    """``sum exp(p) (p - q)`` per row: the plain 3-operation pass, exact edges on demand.

    The plain terms (:func:`_log_space_term_fast`) are NaN only where ``exp(p) = 0`` meets
    ``-inf`` (``p = -inf``: masked-out vocabulary, top-k targets) or the input holds NaN.
    Rows are recomputed with the edge-exact :func:`_log_space_term` (8 operations) behind a
    ``lax.cond`` on "any row is NaN": inputs without such entries pay one pass of 3
    operations (as fast as ``optax.losses.kl_divergence_with_log_targets``), inputs with
    them the two passes (under ``vmap`` the ``cond`` is a select: both always run).
    """
    fast = _event_sum(_log_space_term_fast, axis, p, q, dtype=dtype)

    def exact():
        return _event_sum(_log_space_term, axis, p, q, dtype=dtype)

    return lax.cond(jnp.any(jnp.isnan(fast)), exact, lambda: fast)
