r"""Closed forms whose p is in the categorical group (one draw from finitely many outcomes).

Same-family pairs are written as sums of non-negative terms of exactly formed differences
(:func:`jaxkl._numerics.kl_from_log_ratios`, ``w log(w/q) - w + q`` terms), so
that nearly equal distributions keep full relative precision; ``0 log 0 = 0`` exactly. The
Bernoulli KL and the outcome terms here serve the count families too
(:mod:`jaxkl.kl.counts`).

ProbitBernoulli: the Bernoulli KL at ``a = Φ(x_p)``, ``b = Φ(x_q)``, written over the two
outcomes with weights ``w_i`` (p's outcome probabilities) and exact log-ratios
``d_i = log(q_i / w_i)``:

.. math::
    D_{KL} = \sum_i w_i\,(e^{d_i} - 1 - d_i)

(because ``Σ_i w_i e^{d_i} = Σ_i q_i = 1``): two non-negative terms, no cancellation when
p ≈ q (:func:`jaxkl._numerics.weighted_expm1_minus_x`). With probits on both sides,
``d_1 = log Φ(x_q) - log Φ(x_p)`` and ``d_0 = log Φ(-x_q) - log Φ(-x_p)`` come from
:func:`jaxkl._numerics.log_ndtr_difference` (accurate for close probits, and never
underflowing: probits of ±30 give the finite KLs, e.g. 454.32 for ``x_p = -30, x_q = 30``,
where ``Φ(-30)`` is 0 in float32).

References:
    Kullback & Leibler (1951); TFP ``ProbitBernoulli`` (``_kl_bernoulli_bernoulli`` in
    ``probit_bernoulli.py``: the same value, written as a difference of log-probabilities).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl._numerics import (
    expm1_minus_x,
    kl_from_log_ratios,
    log_ndtr_difference,
    weighted_expm1_minus_x,
    x_minus_log1p_series,
)
from jaxkl.distributions.categorical import (
    Bernoulli,
    BinaryParametrised,
    Categorical,
    OneHotCategorical,
    ProbitBernoulli,
    SimplexParametrised,
)
from jaxkl.distributions.counts import Poisson
from jaxkl.kl._registry import register_kl

__all__: list = []


def _binary_weights_and_log_ratios(p: BinaryParametrised, q: BinaryParametrised):
    """Outcome weights and log-ratios of two binary distributions.

    Weights ``[1 - a, a]`` of p and ``log(q_i / p_i)`` (up to a constant) for the two
    outcomes, from exact differences of the parameters that were given.
    """
    if p._logits is not None and q._logits is not None:
        la, lb = p._logits, q._logits
        w1, w0 = jax.nn.sigmoid(la), jax.nn.sigmoid(-la)
        finite = jnp.isfinite(la) & jnp.isfinite(lb)
        d1 = jnp.where(finite, lb - la, jax.nn.log_sigmoid(lb) - jax.nn.log_sigmoid(la))
        d0 = jnp.where(finite, 0.0, jax.nn.log_sigmoid(-lb) - jax.nn.log_sigmoid(-la))
    elif p._probs is not None and q._probs is not None:
        a, b = p._probs, q._probs
        w1, w0 = a, 1.0 - a
        diff = b - a  # exact for close floats
        d1 = _log_ratio(w1, b, diff)
        d0 = _log_ratio(w0, 1.0 - b, -diff)
    else:  # mixed parametrisations: log-probabilities of each side
        w1, w0, lp1, lp0 = _binary_parts(p)
        _, _, lq1, lq0 = _binary_parts(q)
        d1, d0 = lq1 - lp1, lq0 - lp0
    return jnp.stack([w0, w1], axis=-1), jnp.stack([d0, d1], axis=-1)


def _log_ratio(p, q, q_minus_p):
    """``log(q / p)`` for p > 0 (0 elsewhere), without rounding ``q/p - 1``.

    ``log1p((q - p) / p)`` with the exact difference ``q_minus_p`` when q ~ p, else a
    difference of logs.
    """
    pos = p > 0
    ps = jnp.where(pos, p, 1.0)
    near = pos & (jnp.abs(q_minus_p) < 0.5 * ps)
    close = jnp.log1p(jnp.where(near, q_minus_p, 0.0) / ps)
    q_pos = q > 0
    far = jnp.where(q_pos, jnp.log(jnp.where(near | ~q_pos, 1.0, q)) - jnp.log(ps), -jnp.inf)
    return jnp.where(pos, jnp.where(near, close, far), 0.0)


def _q_mass_where_p_is_zero(p_probs, q_probs, axis=-1):
    return jnp.sum(jnp.where(p_probs > 0, 0.0, q_probs), axis=axis)


def _outcome_kl_term(w, q_minus_w, log_w, log_q):
    """``w log(w/q) - w + q`` (>= 0) from the exact difference ``q - w``; 0 log 0 = 0.

    ``w * x_minus_log1p(t)`` with ``t = (q - w)/w``: the series near ``t = 0``, and
    ``t - (log q - log w)`` elsewhere (whose logs never see a rounded ``t ~ -1``). ``w = 0``
    gives ``q``; ``q = 0 < w`` gives +inf. Unsafe inputs are replaced before the logs and
    the division (double ``where``: only ``|t| < 1/2`` is ever divided by ``w``, so a tiny
    ``w`` gives no ``inf * 0 = NaN`` in the backward pass); gradients are never NaN.
    """
    w_pos = w > 0
    q_pos = log_q > -jnp.inf
    ws = jnp.where(w_pos, w, 1.0)
    near = jnp.abs(q_minus_w) < 0.5 * ws
    t = _ratio(jnp.where(near, q_minus_w, 0.0), ws)
    log_ratio = jnp.where(q_pos, log_q, 0.0) - jnp.where(w_pos, log_w, 0.0)
    value = jnp.where(near, ws * x_minus_log1p_series(t), q_minus_w - ws * log_ratio)
    value = jnp.where(w_pos, value, q_minus_w)
    return jnp.where(w_pos & ~q_pos, jnp.inf, value)


def _bernoulli_probs_terms(a, b):
    """KL(Bern(a) || Bern(b)) elementwise from probabilities.

    With the exact ``d = b - a``: ``KL = T(a, d) + T(1 - a, -d)``, ``T(w, d) = w log(w/(w+d))
    + d`` (the ``d`` cancel between the outcomes). Each term is :func:`_outcome_kl_term`:
    non-negative, accurate when ``b ~ a``; one fused loop (no stacking, no reductions).
    """
    d = b - a
    return _outcome_kl_term(a, d, _log_of(a), _log_of(b)) + _outcome_kl_term(
        1.0 - a, -d, _log_one_minus(a), _log_one_minus(b)
    )


def _log_of(x):
    """``log x``, ``-inf`` at 0 with a zero derivative there (not ``inf * 0 = NaN``)."""
    pos = x > 0
    return jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)), -jnp.inf)


def _log_one_minus(x):
    """``log1p(-x)``, ``-inf`` at 1 with a zero derivative there."""
    below = x < 1
    return jnp.where(below, jnp.log1p(-jnp.where(below, x, 0.0)), -jnp.inf)


@jax.custom_jvp
def _ratio(x, y):
    """``x / y`` whose derivative is formed as ``(dx - (x/y) dy) / y``.

    Not as ``-x dy / y**2``: ``y**2`` underflows for ``|y| < 1e-19`` in float32, and
    ``0 * inf`` makes a NaN where ``x = 0``.
    """
    return x / y


@_ratio.defjvp
def _ratio_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    v = x / y
    return v, (dx - v * dy) / y


def _binary_parts(d: BinaryParametrised):
    """``d._parts()``, its logs with a zero derivative at probabilities 0 and 1."""
    if d._probs is None:
        return d._parts()
    a = d._probs
    return a, 1.0 - a, _log_of(a), _log_one_minus(a)


def _inf_without_gradient(kl):
    """``kl``, with a zero gradient where it is ``+inf`` (the convention there)."""
    return jnp.where(jnp.isfinite(kl), kl, jnp.inf)


def _bernoulli_logits_terms(la, lb):
    """KL(Bern(sigmoid(la)) || Bern(sigmoid(lb))) elementwise from logits.

    With ``delta = lb - la`` (exact for close logits) and ``w1 = sigmoid(la)``, the centred
    log-ratios of the two outcomes are ``delta w0`` and ``-delta w1``, so
    ``KL = log1p(w1 E(delta w0) + w0 E(-delta w1))``, ``E = expm1_minus_x`` (non-negative
    terms: :func:`jaxkl._numerics.kl_from_log_ratios` for two outcomes). Used for
    ``|delta| < 8``; farther apart torch's ``w1 (log w1 - log q1) + w0 (log w0 - log q0)``
    (log-sigmoids) has no harmful cancellation. Infinite logits (probabilities 0 or 1) take
    the second form with ``0 log 0 = 0`` and +inf where q misses an outcome of p.
    """
    finite = jnp.isfinite(la) & jnp.isfinite(lb)
    w1, w0 = jax.nn.sigmoid(la), jax.nn.sigmoid(-la)
    delta = jnp.clip(jnp.where(finite, lb - la, 0.0), -8.0, 8.0)
    near = jnp.log1p(w1 * expm1_minus_x(delta * w0) + w0 * expm1_minus_x(-delta * w1))

    def term(w, log_w, log_q):
        pos = w > 0
        diff = jnp.where(pos, log_w, 0.0) - jnp.where(pos, log_q, 0.0)
        return jnp.where(pos, w * diff, 0.0)

    far = term(w1, jax.nn.log_sigmoid(la), jax.nn.log_sigmoid(lb)) + term(
        w0, jax.nn.log_sigmoid(-la), jax.nn.log_sigmoid(-lb)
    )
    use_near = finite & (jnp.abs(lb - la) < 8.0)
    return jnp.where(use_near, near, far)


def _bernoulli_kl(p: BinaryParametrised, q: BinaryParametrised) -> jax.Array:
    """KL of one trial of p from one of q, from the parameters they were given."""
    if p._probs is not None and q._probs is not None:
        return _inf_without_gradient(_bernoulli_probs_terms(p._probs, q._probs))
    if p._logits is not None and q._logits is not None:
        return _bernoulli_logits_terms(p._logits, q._logits)
    w, d = _binary_weights_and_log_ratios(p, q)
    q1, q0, _, _ = q._parts()
    outside = _q_mass_where_p_is_zero(w, jnp.stack([q0, q1], axis=-1))
    return kl_from_log_ratios(w, d, q_mass_outside=outside)


@register_kl(Bernoulli, Bernoulli, jit=True)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> jax.Array:
    r"""KL(Bern(a) || Bern(b)) = a log(a/b) + (1-a) log((1-a)/(1-b)).

    Evaluated as ``log1p(sum_i w_i (exp(d_i) - 1 - d_i))`` over the two outcomes, with
    ``d_i`` the centred log-ratios formed from ``b - a`` (probs) or ``l_b - l_a`` (logits):
    non-negative terms, full float32 precision down to KL ~ 1e-14. +inf where
    b in {0, 1} puts no mass on an outcome that a has. Same values as torch's
    ``_kl_bernoulli_bernoulli``. Gradients are finite at probabilities 0 and 1: there the
    ``0 log 0`` term is held at its limit (the derivative of the other terms); 0 where the
    KL is +inf.

    References: Kullback & Leibler (1951); torch.distributions.kl.
    """
    return _bernoulli_kl(p, q)


@register_kl(Bernoulli, Poisson, jit=True)
def _kl_bernoulli_poisson(p: Bernoulli, q: Poisson) -> jax.Array:
    r"""KL(Bern(a) || Poi(r)) = [(1-a) log(1-a) + a] + [a log(a/r) - a + r].

    That is ``-H(a) + r - a log r`` as two non-negative terms (exact near a = r -> 0).
    +inf where r = 0 < a; 0 at a = r = 0 (torch returns NaN there). Gradients are finite:
    at a = 0 and a = 1 the ``0 log 0`` term is held at its limit, and they are 0 where the
    KL is +inf.

    References: torch.distributions.kl ``_kl_bernoulli_poisson``.
    """
    a, a0, la, la0 = _binary_parts(p)
    rate = q.rate
    entropy_term = _outcome_kl_term(a0, a, la0, jnp.zeros_like(la0))  # (1-a) log(1-a) + a
    kl = entropy_term + _outcome_kl_term(a, rate - a, la, _log_of(rate))
    return _inf_without_gradient(kl)


def _outcome_term(log_w: jax.Array, log_q: jax.Array, d: jax.Array) -> jax.Array:
    """One outcome's term ``w (e^d - 1 - d)``, from ``log w``, ``log q`` and ``d``.

    ``d = log q - log w``, formed accurately by the caller. An outcome p never takes
    (``log w = -inf``) contributes ``q`` (the identity's ``w e^d``); one that q never takes
    while p does gives +inf.
    """
    p_has, q_has = log_w > -jnp.inf, log_q > -jnp.inf
    both = p_has & q_has
    term = weighted_expm1_minus_x(jnp.where(both, log_w, 0.0), jnp.where(both, d, 0.0))
    only_q = jnp.exp(jnp.where(q_has, log_q, 0.0))
    return jnp.where(both, term, jnp.where(p_has, jnp.inf, jnp.where(q_has, only_q, 0.0)))


@register_kl(ProbitBernoulli, ProbitBernoulli, jit=True)
def _kl_probitbernoulli_probitbernoulli(p: ProbitBernoulli, q: ProbitBernoulli) -> jax.Array:
    r"""KL(ProbitBern(x_p) || ProbitBern(x_q)) = KL(Bern(Φ(x_p)) || Bern(Φ(x_q))).

    .. math::
        D_{KL} = Φ(x_p)\log\frac{Φ(x_p)}{Φ(x_q)} + Φ(-x_p)\log\frac{Φ(-x_p)}{Φ(-x_q)}

    evaluated as ``Σ_i w_i (e^{d_i} - 1 - d_i)`` with the log-ratios ``d_i`` from
    :func:`jaxkl._numerics.log_ndtr_difference` (module docstring): float32 relative
    error below 1e-5 down to relative probit differences of 1e-5, finite for probits of
    ±30. With ``probs`` on both sides it is the Bernoulli KL of those probabilities
    (:func:`_kl_bernoulli_bernoulli`); mixed parametrisations use
    differences of the outcome log-probabilities.

    References: TFP ``probit_bernoulli.py`` (same values); Kullback & Leibler (1951).
    """
    if p._probs is not None and q._probs is not None:
        return _inf_without_gradient(_bernoulli_probs_terms(p._probs, q._probs))
    _, _, lw1, lw0 = p._parts()
    _, _, lq1, lq0 = q._parts()
    if p._probits is not None and q._probits is not None:
        d1 = log_ndtr_difference(p._probits, q._probits)
        d0 = log_ndtr_difference(-p._probits, -q._probits)
    else:  # mixed parametrisations: differences of the outcome log-probabilities
        d1, d0 = lq1 - lw1, lq0 - lw0
    return _outcome_term(lw0, lq0, d0) + _outcome_term(lw1, lq1, d1)


def _categorical_kl(p: SimplexParametrised, q: SimplexParametrised) -> jax.Array:
    """KL of one draw of p from one of q: Categorical, OneHotCategorical, Multinomial per draw."""
    if p._num_events != q._num_events:
        raise ValueError(
            f"KL({type(p).__name__} || {type(q).__name__}) needs the same number of categories, "
            f"got {p._num_events} and {q._num_events}"
        )
    w = p.probs
    if p._logits is not None and q._logits is not None:
        delta = q._logits - p._logits  # log(q_i / p_i) + constant, exact for close logits
    elif p._probs is not None and q._probs is not None:
        P, Q = p._probs, q._probs  # unnormalised as given: log(Q_i / P_i) = log(q_i / p_i) + const
        delta = _log_ratio(P, Q, Q - P)
    else:
        delta = q.logits - p.logits
    outside = _q_mass_where_p_is_zero(w, q.probs)
    return kl_from_log_ratios(w, delta, axis=-1, q_mass_outside=outside)


@register_kl(Categorical, Categorical, jit=True)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> jax.Array:
    r"""KL(Cat(p) || Cat(q)) = sum_i p_i log(p_i / q_i).

    Evaluated as ``log1p(sum_i p_i (exp(d_i) - 1 - d_i))`` with ``d_i`` the centred
    log-ratios ``log(q_i / p_i)``, formed from ``Q_i - P_i`` of the probabilities as given
    (before normalisation) or from ``m_i - l_i`` of the logits as given: a sum of
    non-negative terms. ``p_i = 0`` contributes 0; ``q_i = 0 < p_i`` gives +inf; gradients
    are never NaN.

    References: torch.distributions.kl ``_kl_categorical_categorical`` (same values).
    """
    return _categorical_kl(p, q)


@register_kl(OneHotCategorical, OneHotCategorical, jit=True)
def _kl_onehotcategorical_onehotcategorical(
    p: OneHotCategorical, q: OneHotCategorical
) -> jax.Array:
    """The Categorical KL of the same probabilities (torch's definition)."""
    return _categorical_kl(p, q)
