"""What the losses share: argument checks, and per-row statistics and gradients.

The statistics and gradients are those of the KL and the generalised Jensen-Shannon
divergence on scaled logits ``a = p/T``, ``b = q/T``; reductions keep their axis.
"""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxkl import _checks

NEG_INF = -jnp.inf


def check_vocab_axis(axis: Any, shape: tuple) -> int:
    """The vocabulary axis of logits of ``shape``, as a non-negative int."""
    if len(shape) == 0:
        raise ValueError(
            "Expected logits with at least one dimension (the vocabulary axis) but got shape ()"
        )
    return _checks.check_axis(axis, shape, "logits")


def check_where(where: Any, batch_shape: tuple) -> jax.Array | None:
    """``where`` checked (:func:`jaxkl._checks.check_mask`) and broadcast to the batch."""
    mask = _checks.check_mask(where, batch_shape)
    return None if mask is None else jnp.broadcast_to(mask, batch_shape)


def as_input(x: Any, name: str = "input") -> jax.Array:
    """``x`` as an array; ``TypeError`` naming ``name`` for complex, string or object input."""
    _checks.check_real_input(x, name)
    return x if isinstance(x, jax.Array) else jnp.asarray(x)


def check_temperature(temperature: Any, dtype) -> jax.Array:
    t = as_input(temperature, "temperature")
    if t.ndim != 0:
        raise ValueError(f"Expected `temperature` to be a scalar but got shape {t.shape}")
    if _checks.is_concrete(t) and not float(np.asarray(t)) > 0:
        raise ValueError(f"Expected `temperature` > 0 but got {temperature!r}")
    return lax.stop_gradient(t.astype(dtype))


def check_vocab_size(vocab_size: Any, sizes: dict[str, int]) -> int | None:
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


def first_entries(x: jax.Array, n: int | None, axis: int = -1) -> jax.Array:
    """The first ``n`` entries of ``x`` along ``axis`` (all of them for ``n = None``)."""
    return x if n is None or x.shape[axis] == n else lax.slice_in_dim(x, 0, n, axis=axis)


def check_flag(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"Expected `{name}` to be a bool but got {value!r}")


def check_beta(beta: Any, dtype) -> jax.Array:
    b = as_input(beta, "beta")
    if b.ndim != 0:
        raise ValueError(f"Expected `beta` to be a scalar but got shape {b.shape}")
    if _checks.is_concrete(b) and not 0.0 <= float(np.asarray(b)) <= 1.0:
        raise ValueError(f"Expected `beta` in [0, 1] but got {beta!r}")
    return lax.stop_gradient(b.astype(dtype))


def finite_or_neg_inf(x: jax.Array, keep: jax.Array | None) -> jax.Array:
    """True unless an unmasked entry is NaN or +inf (``keep`` broadcasts against ``x``)."""
    bad = jnp.isnan(x) | (x == jnp.inf)
    if keep is not None:
        bad = bad & keep
    return ~jnp.any(bad)


def all_finite(x: jax.Array, keep: jax.Array | None) -> jax.Array:
    bad = ~jnp.isfinite(x)
    if keep is not None:
        bad = bad & keep
    return ~jnp.any(bad)


def check_logits(x: jax.Array, name: str, where, axis: int, *, allow_empty_row: bool) -> None:
    """Value checks of logits (section 1's rule: concrete raise, traced free unless enabled)."""
    if not _checks.checks_wanted(x, where):
        return
    keep = None if where is None else jnp.expand_dims(where, axis)
    _checks.value_check(
        lambda: finite_or_neg_inf(x, keep),
        f"`{name}` holds NaN or +inf, which are not logits",
        x,
        where,
    )
    if not allow_empty_row:

        def ok():
            empty = jnp.all(x == NEG_INF, axis=axis)
            if where is not None:
                empty = empty & where
            return ~jnp.any(empty)

        _checks.value_check(
            ok, f"`{name}` has a row of -inf logits, which is no distribution", x, where
        )


def psum(x, axis_name):
    return x if axis_name is None else lax.psum(x, axis_name)


def _lse_parts(x: jax.Array, axis: int, axis_name) -> tuple[jax.Array, jax.Array]:
    """``(lse, log_s)`` per row, combined across vocabulary shards with pmax / psum.

    A row of ``-inf`` gives ``lse = -inf`` (its max is replaced by 0, its sum is 0).
    """
    m = jnp.max(x, axis=axis, keepdims=True)
    if axis_name is not None:
        m = lax.pmax(m, axis_name)
    m = jnp.where(m > NEG_INF, m, jnp.zeros((), x.dtype))
    s = psum(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True), axis_name)
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
    fa, fb = a > NEG_INF, b > NEG_INF
    zero = jnp.zeros((), a.dtype)
    d = jnp.where(fa & fb, a - b, zero)
    c = psum(jnp.sum(jnp.exp(a - m_a) * d, axis=axis, keepdims=True), axis_name) / s_a
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
    d = jnp.where((a > NEG_INF) & (b > NEG_INF), a - b, zero)
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
    fa, fb = a > NEG_INF, b > NEG_INF
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
    s1 = psum(jnp.sum(jnp.where(fa, p * g, zero), axis=axis, keepdims=True), axis_name)
    s2 = psum(jnp.sum(jnp.where(fb, q * h, zero), axis=axis, keepdims=True), axis_name)
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


def row_stats(kind: Kind, a, b, beta, axis, axis_name):
    """Per-row value (keepdims) and the statistics of its derivative."""
    if kind == "forward":
        return _kl_stats(a, b, axis, axis_name)
    if kind == "reverse":
        return _kl_stats(b, a, axis, axis_name)
    return _jsd_stats(a, b, beta, axis, axis_name)


def row_grads(kind: Kind, a, b, beta, stats, want_a: bool):
    """``(d/da, d/db)`` of the per-row value (``d/da`` None unless ``want_a``)."""
    if kind == "forward":
        return _kl_grads(a, b, stats, want_a)
    if kind == "reverse":
        gb, ga = _kl_grads(b, a, stats, want_a=True)
        return (ga if want_a else None), gb
    return _jsd_grads(a, b, beta, stats, want_a)


def jsd_kind(beta: jax.Array) -> Kind | None:
    """The kind of JSD(beta) for a concrete beta (its ends are KLs, as in TRL and Liger)."""
    if not _checks.is_concrete(beta):
        return None
    value = float(np.asarray(beta))
    # a subnormal beta is 0 inside XLA (flushed): the traced switch takes it for an end too
    if value < float(jnp.finfo(beta.dtype).tiny):
        return "forward"
    return "reverse" if value == 1.0 else "jsd"


def by_beta(loss, beta):
    """``loss(kind)`` for JSD(beta): chosen now for a concrete beta, else by ``lax.switch``."""
    kind = jsd_kind(beta)
    if kind is not None:
        return loss(kind)
    index = jnp.where(beta == 0, 1, jnp.where(beta == 1, 2, 0))
    return lax.switch(
        index, [lambda: loss("jsd"), lambda: loss("forward"), lambda: loss("reverse")]
    )


def scaled(x, t):
    return x.astype(t.dtype) / t
