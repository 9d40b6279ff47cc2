r"""Closed forms whose p is in the discrete group.

Same-family pairs are written as sums of non-negative terms of exactly formed differences
(:func:`jaxkl._numerics.kl_from_log_ratios`, :func:`jaxkl._numerics.kl_div_term`), so
that nearly equal distributions keep full relative precision; ``0 log 0 = 0`` exactly.

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

Multinomial: counts of ``n`` independent categorical draws; the KL of the product of the
draws is ``n`` times the Categorical KL (the multinomial coefficient is common to both and
cancels). With different ``total_count`` the supports are disjoint (``Σ x = n``), so the KL
is +inf.

References:
    Kullback & Leibler (1951); TFP ``ProbitBernoulli`` (``_kl_bernoulli_bernoulli`` in
    ``probit_bernoulli.py``: the same value, written as a difference of log-probabilities);
    the Multinomial KL as a sum over independent draws, e.g. Cover & Thomas, *Elements of
    Information Theory*, 2nd ed., Thm. 2.5.3 (chain rule).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from jaxkl._numerics import (
    exp_sinh_integral,
    expm1_minus_x,
    kl_div_term,
    kl_from_log_ratios,
    log_ndtr_difference,
    log_sinhc,
    weighted_expm1_minus_x,
    x_minus_log1p,
    x_minus_log1p_series,
)
from jaxkl.distributions.discrete import (
    Bernoulli,
    BinaryParametrised,
    Binomial,
    Categorical,
    CategoricalParametrised,
    Geometric,
    Multinomial,
    NegativeBinomial,
    OneHotCategorical,
    Poisson,
    ProbitBernoulli,
)
from jaxkl.kl._registry import register_kl


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
        w1, w0, lp1, lp0 = p._parts()
        _, _, lq1, lq0 = q._parts()
        d1, d0 = lq1 - lp1, lq0 - lp0
    return jnp.stack([w0, w1], axis=-1), jnp.stack([d0, d1], axis=-1)


def _log_ratio(p, q, q_minus_p):
    """``log(q / p)`` for p > 0, without rounding ``q/p - 1``.

    ``log(q / p)`` for p > 0 (0 elsewhere): ``log1p((q - p) / p)`` with the exact
    difference when q ~ p, else a difference of logs (no rounding of ``q/p - 1``).
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
    gives ``q``; ``q = 0 < w`` gives +inf. Unsafe inputs are replaced before the logs
    (double ``where``: finite gradients where the value is finite).
    """
    w_pos = w > 0
    q_pos = log_q > -jnp.inf
    ws = jnp.where(w_pos, w, 1.0)
    t = q_minus_w * (1.0 / ws)
    log_ratio = jnp.where(q_pos, log_q, 0.0) - jnp.where(w_pos, log_w, 0.0)
    value = ws * jnp.where(jnp.abs(t) < 0.5, x_minus_log1p_series(t), t - log_ratio)
    value = jnp.where(w_pos, value, q_minus_w)
    return jnp.where(w_pos & ~q_pos, jnp.inf, value)


def _bernoulli_probs_terms(a, b):
    """KL(Bern(a) || Bern(b)) elementwise from probabilities.

    With the exact ``d = b - a``: ``KL = T(a, d) + T(1 - a, -d)``, ``T(w, d) = w log(w/(w+d))
    + d`` (the ``d`` cancel between the outcomes). Each term is :func:`_outcome_kl_term`:
    non-negative, accurate when ``b ~ a``; one fused loop (no stacking, no reductions).
    """
    d = b - a
    return _outcome_kl_term(a, d, jnp.log(a), jnp.log(b)) + _outcome_kl_term(
        1.0 - a, -d, jnp.log1p(-a), jnp.log1p(-b)
    )


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
    if p._probs is not None and q._probs is not None:
        return _bernoulli_probs_terms(p._probs, q._probs)
    if p._logits is not None and q._logits is not None:
        return _bernoulli_logits_terms(p._logits, q._logits)
    w, d = _binary_weights_and_log_ratios(p, q)
    q1, q0, _, _ = q._parts()
    outside = _q_mass_where_p_is_zero(w, jnp.stack([q0, q1], axis=-1))
    return kl_from_log_ratios(w, d, q_mass_outside=outside)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> jax.Array:
    r"""KL(Bern(a) || Bern(b)) = a log(a/b) + (1-a) log((1-a)/(1-b)).

    Evaluated as ``log1p(sum_i w_i (exp(d_i) - 1 - d_i))`` over the two outcomes, with
    ``d_i`` the centred log-ratios formed from ``b - a`` (probs) or ``l_b - l_a`` (logits):
    non-negative terms, full float32 precision down to KL ~ 1e-14. +inf where
    b in {0, 1} puts no mass on an outcome that a has. Same values as torch's
    ``_kl_bernoulli_bernoulli``.

    References: Kullback & Leibler (1951); torch.distributions.kl.
    """
    return _bernoulli_kl(p, q)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p: Geometric, q: Geometric) -> jax.Array:
    r"""KL(Geom(a) || Geom(b)) = log(a/b) + (1-a)/a log((1-a)/(1-b)) = KL(Bern(a) || Bern(b)) / a.

    Since the number of failures k has mean (1-a)/a, the KL is the Bernoulli KL divided by
    ``a``, and inherits its accuracy. At a = b = 1 it is 0 (torch's formula gives
    ``inf - inf``, reported as +inf); +inf where b = 1 > a.

    References: torch.distributions.kl ``_kl_geometric_geometric`` (same values elsewhere).
    """
    return _bernoulli_kl(p, q) / p.probs


def _count_sums(n_p, n_q, lp1, lp0):
    """The expectations over p's counts that the Binomial KL needs when ``n_p < n_q``.

    ``(S0, S1) = (E[c(k)], E[c(k) k])`` for k ~ Binomial(n_p, a) where n_p < n_q, with
    ``c(k) = log C(n_p, k) - log C(n_q, k)`` (0 elsewhere), by a loop over k = 0..max n_p.

    ``lp1, lp0`` are ``log a`` and ``log(1 - a)``. The loop length depends on the values
    of the counts, so it is a ``while_loop`` under jit; derivatives come from the custom
    JVP below (the expectation's derivative is another expectation), so reverse mode works.
    """
    mask = n_p < n_q
    kmax = jnp.max(jnp.where(mask, n_p, -1.0), initial=-1.0).astype(jnp.int32)
    base_p = gammaln(n_p + 1)
    base = base_p - gammaln(n_q + 1)

    def body(k, carry):
        s0, s1 = carry
        kf = jnp.asarray(k, n_p.dtype)
        active = mask & (kf <= n_p)
        m = jnp.where(active, n_p - kf, 0.0)
        log_comb = base_p - gammaln(kf + 1) - gammaln(m + 1)
        lw = log_comb + jnp.where(kf > 0, kf * lp1, 0.0) + jnp.where(m > 0, m * lp0, 0.0)
        w = jnp.where(active, jnp.exp(jnp.where(active, lw, 0.0)), 0.0)
        c = base + gammaln(jnp.where(active, n_q - kf, 0.0) + 1) - gammaln(m + 1)
        wc = jnp.where(active, w * c, 0.0)
        return s0 + wc, s1 + wc * kf

    zero = jnp.zeros(jnp.broadcast_shapes(n_p.shape, lp1.shape), n_p.dtype)
    return jax.lax.fori_loop(0, kmax + 1, body, (zero, zero))


@jax.custom_jvp
def _count_term(n_p, n_q, lp1, lp0):
    return _count_sums(n_p, n_q, lp1, lp0)[0]


@_count_term.defjvp
def _count_term_jvp(primals, tangents):
    n_p, n_q, lp1, lp0 = primals
    _, _, t1, t0 = tangents
    s0, s1 = _count_sums(n_p, n_q, lp1, lp0)
    # d E[c] = sum_k c(k) P(k) (k dlog a + (n_p - k) dlog(1 - a))
    return s0, s1 * t1 + (n_p * s0 - s1) * t0


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p: Binomial, q: Binomial) -> jax.Array:
    r"""KL(Bin(n_p, a) || Bin(n_q, b)).

    * ``n_p == n_q``: ``n_p KL(Bern(a) || Bern(b))`` (torch's value, accurate near a = b);
    * ``n_p > n_q``: +inf (p puts mass where q has none), as torch;
    * ``n_p < n_q`` (torch raises ``NotImplementedError``): the exact finite KL,

      .. math::
          n_p\,KL(\mathrm{Bern}(a)\|\mathrm{Bern}(b)) - (n_q - n_p)\log(1-b)
          + \mathbb{E}_{k\sim \mathrm{Bin}(n_p,a)}\Big[\log\tbinom{n_p}{k} -
          \log\tbinom{n_q}{k}\Big],

      the expectation summed over the support (a loop of ``max n_p + 1`` steps, jittable,
      differentiable through a custom JVP).

    References: torch.distributions.kl ``_kl_binomial_binomial``; the third case follows from
    expanding ``E_p[log p(k) - log q(k)]``.
    """
    n_p, n_q = p.total_count, q.total_count
    bern = _bernoulli_kl(p, q)
    same = jnp.where(n_p == 0, 0.0, n_p * jnp.where(n_p == 0, 0.0, bern))
    _, _, lp1, lp0 = p._parts()
    _, _, _, lq0 = q._parts()
    fewer = n_p < n_q
    extra = jnp.where(fewer, n_q - n_p, 0.0) * -jnp.where(fewer, lq0, 0.0)
    smaller = same + extra + _count_term(n_p, n_q, lp1, lp0)
    kl = jnp.where(fewer, smaller, same)
    return jnp.where(n_p > n_q, jnp.inf, kl)


def _categorical_kl(p: CategoricalParametrised, q: CategoricalParametrised) -> jax.Array:
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


@register_kl(Categorical, Categorical)
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


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(
    p: OneHotCategorical, q: OneHotCategorical
) -> jax.Array:
    """The Categorical KL of the same probabilities (torch's definition)."""
    return _categorical_kl(p, q)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> jax.Array:
    r"""KL(Poi(r) || Poi(s)) = r log(r/s) - r + s = r (x - log1p(x)),  x = (s - r)/r.

    Accurate near r = s. ``r = 0`` gives ``s`` and ``s = 0 < r`` gives +inf (torch returns
    NaN for r = 0: ``0 * log 0``).

    References: torch.distributions.kl ``_kl_poisson_poisson``.
    """
    return kl_div_term(p.rate, q.rate)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p: Bernoulli, q: Poisson) -> jax.Array:
    r"""KL(Bernoulli || Poisson).

    KL(Bern(a) || Poi(r)) = -H(a) + r - a log r
    = [(1-a) log(1-a) + a] + [a log(a/r) - a + r],

    two non-negative terms (exact near a = r -> 0). +inf where r = 0 < a; 0 at a = r = 0
    (torch returns NaN there).

    References: torch.distributions.kl ``_kl_bernoulli_poisson``.
    """
    a, a0, _, _ = p._parts()
    rate = q.rate
    return kl_div_term(a0, jnp.ones_like(a0)) + kl_div_term(a, rate)


def _point_mass_at_zero_kl(p: Poisson, log_q0: jax.Array, count: jax.Array) -> jax.Array:
    """KL(Poi(r) || q) for q on {0..count}: +inf for r > 0; ``-log q(0)`` for r = 0."""
    zero = p.rate == 0
    finite = jnp.where(count == 0, 0.0, -count * jnp.where(count == 0, 0.0, log_q0))
    return jnp.where(zero, finite, jnp.inf)


@register_kl(Poisson, Bernoulli)
def _kl_poisson_bernoulli(p: Poisson, q: Bernoulli) -> jax.Array:
    """+inf: a Poisson with rate > 0 has mass on {2, 3, ...}.

    At rate 0 (a point mass at 0) the KL is ``-log(1 - b)`` (torch returns +inf there too).
    """
    return _point_mass_at_zero_kl(p, q._parts()[3], jnp.ones_like(p.rate))


@register_kl(Poisson, Binomial)
def _kl_poisson_binomial(p: Poisson, q: Binomial) -> jax.Array:
    """+inf: a Poisson with rate > 0 has unbounded support.

    At rate 0 the KL is ``-n log(1 - b)`` (torch returns +inf there too).
    """
    return _point_mass_at_zero_kl(p, q._parts()[3], q.total_count)


__all__: list = []


def _outcome_term(log_w: jax.Array, log_q: jax.Array, d: jax.Array) -> jax.Array:
    """One outcome's term ``w (e^d - 1 - d)``.

    ``w (e^d - 1 - d)`` for one outcome with ``log w``, ``log q`` and the accurate
    ``d = log q - log w``. An outcome p never takes (``log w = -inf``) contributes ``q``
    (the identity's ``w e^d``); one that q never takes while p does gives +inf.
    """
    p_has, q_has = log_w > -jnp.inf, log_q > -jnp.inf
    both = p_has & q_has
    term = weighted_expm1_minus_x(jnp.where(both, log_w, 0.0), jnp.where(both, d, 0.0))
    only_q = jnp.exp(jnp.where(q_has, log_q, 0.0))
    return jnp.where(both, term, jnp.where(p_has, jnp.inf, jnp.where(q_has, only_q, 0.0)))


@register_kl(ProbitBernoulli, ProbitBernoulli)
def _kl_probitbernoulli_probitbernoulli(p: ProbitBernoulli, q: ProbitBernoulli) -> jax.Array:
    r"""KL(ProbitBern(x_p) || ProbitBern(x_q)) = KL(Bern(Φ(x_p)) || Bern(Φ(x_q))).

    .. math::
        D_{KL} = Φ(x_p)\log\frac{Φ(x_p)}{Φ(x_q)} + Φ(-x_p)\log\frac{Φ(-x_p)}{Φ(-x_q)}

    evaluated as ``Σ_i w_i (e^{d_i} - 1 - d_i)`` with the log-ratios ``d_i`` from
    :func:`jaxkl._numerics.log_ndtr_difference` (module docstring): float32 relative
    error below 1e-5 down to relative probit differences of 1e-5, finite for probits of
    ±30. With ``probs`` on both sides it is the Bernoulli KL of those probabilities
    (:func:`jaxkl.kl.discrete._kl_bernoulli_bernoulli`); mixed parametrisations use
    differences of the outcome log-probabilities.

    References: TFP ``probit_bernoulli.py`` (same values); Kullback & Leibler (1951).
    """
    if p._probs is not None and q._probs is not None:
        return _bernoulli_probs_kl(p._probs, q._probs)
    _, _, lw1, lw0 = p._parts()
    _, _, lq1, lq0 = q._parts()
    if p._probits is not None and q._probits is not None:
        d1 = log_ndtr_difference(p._probits, q._probits)
        d0 = log_ndtr_difference(-p._probits, -q._probits)
    else:  # mixed parametrisations: differences of the outcome log-probabilities
        d1, d0 = lq1 - lw1, lq0 - lw0
    return _outcome_term(lw0, lq0, d0) + _outcome_term(lw1, lq1, d1)


def _bernoulli_probs_kl(a: jax.Array, b: jax.Array) -> jax.Array:
    """The Bernoulli KL from probabilities, by the discrete group's closed form."""
    return _kl_bernoulli_bernoulli(
        Bernoulli(probs=a, validate_args=False), Bernoulli(probs=b, validate_args=False)
    )


@register_kl(Multinomial, Multinomial)
def _kl_multinomial_multinomial(p: Multinomial, q: Multinomial) -> jax.Array:
    r"""KL(Mult(n, p) || Mult(m, q)) = n KL(Cat(p) || Cat(q)) if n = m, else +inf.

    The Categorical KL is the discrete group's (``log1p`` of centred log-ratio terms:
    accurate where p ≈ q, +inf where q_i = 0 < p_i). ``total_count`` is static, so the
    +inf for different counts is decided at trace time; ``n = 0`` gives 0.

    References: the chain rule for KL over ``n`` independent draws (Cover & Thomas,
    Thm. 2.5.3); torch has the class but no KL for it.

    Raises:
        ValueError: different numbers of categories.
    """
    if p._num_events != q._num_events:
        raise ValueError(
            f"KL(Multinomial || Multinomial) needs the same number of categories, got "
            f"{p._num_events} and {q._num_events}"
        )
    cat_p = _as_categorical(p)
    cat_q = _as_categorical(q)
    kl = _kl_categorical_categorical(cat_p, cat_q)
    if p.total_count != q.total_count:
        return jnp.full_like(kl, jnp.inf)
    if p.total_count == 0:
        return jnp.zeros_like(kl)
    return p.total_count * kl


def _as_categorical(d: Multinomial) -> Categorical:
    if d._probs is not None:
        return Categorical(probs=d._probs, validate_args=False)
    return Categorical(logits=d._logits, validate_args=False)


# --------------------------------------------------------------------------- negative binomial


def _nb_log_center(mean, count):
    """Where the Malmsten integrands change: ``t ~ 1/mean`` and ``t ~ 1/count``."""
    lo = -jnp.log(jnp.maximum(mean, 1e-3))
    hi = -jnp.log(jnp.maximum(count, 1e-3))
    return 0.5 * (lo + hi), jnp.maximum(1.5, 0.5 * jnp.abs(lo - hi))


def _nb_lgamma_gap(r1, r2, p1, lq1, mean):
    r"""``E[lgamma(K + r1) - lgamma(K + r2)] - (lgamma(r1) - lgamma(r2))``, K ~ NB(r1, p1).

    From Malmsten's integral for ``lgamma`` and the generating function
    ``G(s) = ((1 - p)/(1 - p s))^r`` of K:

    .. math::
        \int_0^\infty \frac{(e^{-r_2 t} - e^{-r_1 t})\,(1 - G(e^{-t}))}{(1 - e^{-t})\, t}\,dt,

    a positive-or-negative integrand without cancellation (each factor is formed with
    ``expm1``/``log1p``), bounded at 0 (``~ (r1 - r2) mean``) and decaying like
    ``e^{-min(r) t}``. ``lq1 = log(1 - p1)``.
    """

    def fn(t):
        e_t = -jnp.expm1(-t)  # 1 - e^{-t}
        # 1 - G(e^{-t}) = -expm1(-r1 log1p(p1 (1 - e^{-t}) / (1 - p1)))
        one_minus_g = -jnp.expm1(-r1 * jnp.log1p(p1 * e_t * jnp.exp(-lq1)))
        # e^{-r2 t} - e^{-r1 t}, from the smaller count (no 0 * inf for large t)
        dr = r1 - r2
        gap = jnp.sign(dr) * jnp.exp(-jnp.minimum(r1, r2) * t) * -jnp.expm1(-jnp.abs(dr) * t)
        return (gap / t) * (one_minus_g / e_t)  # each factor bounded at t = 0

    c, w = _nb_log_center(mean, jnp.minimum(r1, r2))
    return exp_sinh_integral(fn, c, w)


@register_kl(NegativeBinomial, NegativeBinomial)
def _kl_negativebinomial_negativebinomial(p: NegativeBinomial, q: NegativeBinomial) -> jax.Array:
    r"""KL between negative binomials (counts of successes before ``r`` failures).

    .. math::
        D_{KL} = r_1\,[a\,(x - \operatorname{log1p} x) + (-a x - \operatorname{log1p}(-a x))]
        + (r_1 - r_2) \log(1 - p_2) + I,

    with ``a = p_1/(1 - p_1)`` (the mean over ``r_1``), ``x = p_2/p_1 - 1``, and ``I`` the
    lgamma term of :func:`_nb_lgamma_gap` (0 for equal counts). For equal ``total_count``
    this is the closed form ``E_p[k] log(p_1/p_2) + r log((1 - p_1)/(1 - p_2))`` written as
    two non-negative terms (accurate where ``p_1 ~ p_2``); for unequal counts ``I`` is one
    fixed-node integral (257 nodes), whatever the size of the counts: no series to
    truncate. ``+inf`` where ``p_2 = 0 < p_1`` (q is a point mass at 0).

    References: Malmsten's integral for ``log Gamma`` (e.g. Whittaker & Watson, 12.3);
    the negative binomial generating function.
    """
    r1, r2 = p.total_count, q.total_count
    pp, _, lp1, lq1 = p._parts()
    qp, _, lp2, lq2 = q._parts()
    a = jnp.exp(lp1 - lq1)  # p1 / (1 - p1)
    # x = p2/p1 - 1 from the given parameters' difference (exact for close floats)
    if p._probs is not None and q._probs is not None:
        x = (q._probs - p._probs) / jnp.where(pp > 0, p._probs, 1.0)
    elif p._logits is not None and q._logits is not None:
        x = jnp.expm1(q._logits - p._logits) * jax.nn.sigmoid(-q._logits)
    else:
        x = jnp.expm1(lp2 - lp1)
    x = jnp.where(pp > 0, x, 0.0)
    ax = -a * x
    same = r1 * (a * x_minus_log1p(x) + x_minus_log1p(ax))
    point_mass = qp == 0
    safe_lq2 = jnp.where(point_mass, 0.0, lq2)
    gap = _nb_lgamma_gap(r1, r2, pp, lq1, r1 * a)
    kl = same + (r1 - r2) * safe_lq2 + gap
    # p a point mass at 0: KL = -log q(0) = -r2 log(1 - p2)
    kl = jnp.where(pp == 0, -r2 * lq2, kl)
    return jnp.where(point_mass & (pp > 0), jnp.inf, kl)


@register_kl(Poisson, NegativeBinomial)
def _kl_poisson_negativebinomial(p: Poisson, q: NegativeBinomial) -> jax.Array:
    r"""KL(Poisson(lambda) || NegativeBinomial(r, p)).

    .. math::
        D_{KL} = \lambda \log\frac{\lambda}{p} - \lambda - r \log(1 - p)
        - \big(E[\log\Gamma(K + r)] - \log\Gamma(r)\big),

    the last term from Malmsten's integral with the Poisson generating function
    ``exp(-lambda (1 - s))``:
    ``int_0^inf lambda e^{-t} (1 - e^{-(r - 1) t} w(t)) dt / t`` with
    ``w = (1 - e^{-u})/u``, ``u = lambda (1 - e^{-t})`` (``log w = -u/2 + log_sinhc(u/2)``,
    so the integrand is formed without cancellation at small ``t``). ``+inf`` where
    ``p = 0 < lambda``.

    References: Malmsten's integral for ``log Gamma`` (Whittaker & Watson, 12.3).
    """
    lam = p.rate
    r = q.total_count
    _, _, lp, lq = q._parts()
    qp = q.probs

    def fn(t):
        u = -lam * jnp.expm1(-t)
        log_w = -0.5 * u + log_sinhc(0.5 * u)
        v = -(r - 1) * t + log_w
        small = v < 1.0
        vs = jnp.where(small, v, 0.0)
        # e^{-t} (1 - e^v): with expm1 near t = 0; e^{-t} - e^{v - t} where e^v is large
        near = jnp.exp(-t) * -jnp.expm1(vs)
        far = jnp.exp(-t) - jnp.exp(jnp.where(small, 0.0, v) - t)
        return lam * jnp.where(small, near, far) / t

    c, w = _nb_log_center(lam, jnp.minimum(r, 1.0))
    lgamma_gap = exp_sinh_integral(fn, c, w)
    point_mass = qp == 0
    safe_lp = jnp.where(point_mass, 0.0, lp)
    kl = jax.scipy.special.xlogy(lam, lam) - lam * safe_lp - lam - r * lq - lgamma_gap
    return jnp.where(point_mass & (lam > 0), jnp.inf, kl)
