r"""Closed forms whose p is in the count group (numbers of events, on {0, 1, ...}).

Geometric and Binomial reduce to the Bernoulli KL of :mod:`jaxkl.kl.categorical` (a KL per
trial); Binomials and negative binomials with different counts add the expectation of a
difference of log-binomial coefficients, summed in a fixed number of terms with proven
bounds (:func:`_count_moments`, :func:`_nb_gap_series`) or integrated (Malmsten's integral).

Multinomial: counts of ``n`` independent categorical draws; the KL of the product of the
draws is ``n`` times the Categorical KL (the multinomial coefficient is common to both and
cancels). With different ``total_count`` the supports are disjoint (``Σ x = n``), so the KL
is +inf.

References:
    torch.distributions.kl; the Multinomial KL as a sum over independent draws, e.g. Cover
    & Thomas, *Elements of Information Theory*, 2nd ed., Thm. 2.5.3 (chain rule); Malmsten's
    integral for ``log Gamma`` (Whittaker & Watson, 12.3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from jaxkl._numerics import (
    exp_sinh_integral,
    expm1_minus_x,
    log1p_minus_x,
    log_sinhc,
    x_minus_log1p,
)
from jaxkl.distributions.categorical import Bernoulli, BinaryParametrised
from jaxkl.distributions.counts import Binomial, Geometric, Multinomial, NegativeBinomial, Poisson
from jaxkl.kl._registry import register_kl
from jaxkl.kl.categorical import (
    _bernoulli_kl,
    _binary_parts,
    _categorical_kl,
    _inf_without_gradient,
    _log_of,
    _log_ratio,
    _outcome_kl_term,
    _ratio,
)

__all__: list = []


def _bernoulli_kl_per(p: BinaryParametrised, q: BinaryParametrised, w: jax.Array) -> jax.Array:
    """``KL(Bern(a) || Bern(b)) / w``, with a zero gradient where it is +inf.

    +inf where ``w = 0`` (a subnormal ``w`` reads as 0) unless the KL is 0 there (p = q),
    and where the quotient overflows; unsafe inputs replaced before the division.
    """
    kl = _bernoulli_kl(p, q)
    ok = jnp.isfinite(kl) & (w > 0)
    ok = ok & jnp.isfinite(jnp.where(ok, kl, 0.0) / jnp.where(ok, w, 1.0))  # no overflow
    ratio = _ratio(jnp.where(ok, kl, 0.0), jnp.where(ok, w, 1.0))
    return jnp.where(ok, ratio, jnp.where(kl == 0, 0.0, jnp.inf))


@register_kl(Geometric, Geometric, jit=True)
def _kl_geometric_geometric(p: Geometric, q: Geometric) -> jax.Array:
    r"""KL(Geom(a) || Geom(b)) = log(a/b) + (1-a)/a log((1-a)/(1-b)) = KL(Bern(a) || Bern(b)) / a.

    Since the number of failures k has mean (1-a)/a, the KL is the Bernoulli KL divided by
    ``a``, and inherits its accuracy. At a = b = 1 it is 0 (torch's formula gives
    ``inf - inf``, reported as +inf); +inf where b = 1 > a.

    Gradients are finite at the closed end ``probs = 1`` and at tiny ``probs``: where ``a``
    or ``b`` is 1 the ``0 log 0`` term is held at its limit (the derivative of the other
    terms, as the tensor KL does at ``p_i = 0``), where the value is ``+inf`` the gradient
    is 0 (a subnormal ``a`` reads as 0: +inf unless ``b`` does too, then 0). A derivative
    beyond float's range (``-log((1-a)/(1-b)) / a**2`` for ``a < 1e-19``) is ``±inf``,
    never NaN.

    References: torch.distributions.kl ``_kl_geometric_geometric`` (same values elsewhere).
    """
    return _bernoulli_kl_per(p, q, p.probs)


#: the exact sum runs over this many consecutive counts around p's mean
_BINOMIAL_NODES = 512
#: above this standard deviation of p the exact window (mean ± (12 sd + 30)) would not fit
#: in ``_BINOMIAL_NODES`` counts, and the trapezoid rule below is used instead
_BINOMIAL_SD_EXACT = (_BINOMIAL_NODES / 2 - 31) / 12
#: trapezoid nodes in z = (k - mean) / sd: [-13, 13], step 1/4
_BINOMIAL_Z = np.arange(-52, 53) / 4.0


#: Stirling coefficients B_2k / (2k (2k - 1)), k = 1..4: the series' remainder at y >= 64 is
#: below B_10 / (90 y**9) = 1.5e-19
_STIRLING_C = (1.0 / 12, -1.0 / 360, 1.0 / 1260, -1.0 / 1680)


def _lgamma_shift(u, t):
    """``lgamma(u + t) - lgamma(u)`` for u > 0, u + t > 0, without cancelling log-gammas.

    Where both arguments are at least 64, Stirling's series differenced term by term, with
    ``s = t/u``: ``t log(u + t) + u (log1p(s) - s) - log1p(s)/2 + sum_k c_k u^-m expm1(-m
    log1p(s))`` (``m = 2k - 1``), accurate to a few ulp for any ``t`` (the two log-gammas of 4e9 are
    8.4e10: their direct difference would be off by 1e-5). Below 64 the log-gammas are at
    most 200 and their difference is taken directly.
    """
    v = u + t
    big = jnp.minimum(u, v) >= 64.0
    us = jnp.where(big, u, 64.0)
    ts = jnp.where(big, t, 0.0)
    vs = us + ts
    s = ts / us
    near = jnp.abs(s) < 0.5
    sn = jnp.where(near, s, 0.0)
    l1 = jnp.where(near, jnp.log1p(sn), jnp.log(vs) - jnp.log(us))  # log(v / u)
    # (u - 1/2) log(v/u) - t = u (log1p(s) - s) - log1p(s) / 2
    out = ts * jnp.log(vs) + us * jnp.where(near, log1p_minus_x(sn), l1 - s) - 0.5 * l1
    for k, c in enumerate(_STIRLING_C):
        m = 2 * k + 1
        out = out + c * us**-m * jnp.expm1(-m * l1)  # c (v^-m - u^-m)
    return jnp.where(big, out, gammaln(jnp.where(big, 1.0, v)) - gammaln(jnp.where(big, 1.0, u)))


@jax.jit  # one program in eager calls too (not ~300 dispatched operations)
def _count_moments(n_p, n_q, lp1, lp0):
    r"""``(E[c(k)], Cov(c(k), k))`` for k ~ Bin(n_p, a), n_p < n_q, in a fixed number of terms.

    ``c(k) = log C(n_p, k) - log C(n_q, k) = h(k) - h(0)`` with
    ``h(k) = lgamma(n_q - k + 1) - lgamma(n_p - k + 1)`` (the ``lgamma(k + 1)`` cancel);
    ``lp1, lp0 = log a, log(1 - a)``. With ``k0`` the mean rounded to a count,
    ``E[c] = [h(k0) - h(0)] + E[h(k) - h(k0)]``; every difference of ``h`` is formed as a
    difference of log-gamma *differences* (:func:`jaxkl._numerics.lgamma_difference`), never
    of log-gammas (``lgamma(4e9)`` is 8.4e10: its rounding alone would be 1e-5).

    * ``sd <= 18.7`` (``sd`` = p's standard deviation): the exact sum over the
      ``_BINOMIAL_NODES = 512`` consecutive counts around ``k0`` (clipped to ``[0, n_p]``),
      which contain ``mean ± t`` with ``t = 12 sd + 30``. The pmf ratios and the
      differences of ``h`` come from running sums of ``log((n_p - k)/(k + 1)) + logit a``
      and ``log1p(-(n_q - n_p)/(n_q - k))`` (one logarithm a count).
    * ``sd > 18.7``: the trapezoid rule in ``z = (k - mean)/sd`` on [-13, 13], step 1/4
      (105 nodes), applied to the smooth continuation of the summand (pmf and ``h`` through
      ``lgamma``); there the window lies inside ``[σ(σ - 13), n_p - σ(σ - 13)]``, far from
      the end points.

    Error bounds (with ``H = digamma(n_q - n_p + 1) + 0.5773 <= 1 + log(n_q - n_p)`` the
    largest slope ``|h'|`` on ``[0, n_p]``, so ``|h(k) - h(k0)| <= |k - k0| H``):

    * truncation: Bernstein's inequality ``P(|k - mean| >= s) <= 2 exp(-ψ(s))``,
      ``ψ(s) = s**2 / (2 (sd**2 + s/3))``; as ``ψ(s)/s`` increases,
      ``E[|k - mean| 1{|k - mean| >= t}] <= 2 t (1 + 1/ψ(t)) exp(-ψ(t))``. For
      ``t = 12 sd + 30``, ``ψ(t) >= 45`` (its minimum, at sd = 0), and for ``t = 13 sd`` with
      ``sd > 18.7``, ``ψ(t) >= 68``: the omitted mass changes ``E[c]`` by at most
      ``5e-18 (12 sd + 31) H`` (exact window, at most ``1.2e-15 H``) and
      ``1e-29 sd H`` (trapezoid window); the normalisation by the window's total weight
      at most doubles this.
    * discretisation (trapezoid window only): the summand is analytic in the strip
      ``|Im z| < sd - 13`` (the nearest singularities, of ``lgamma(n_p - k + 1)``, lie
      beyond ``k = n_p``), where ``|pmf(mean + sd (z + i y))| ≈ pmf(mean + sd z) exp(y**2/2)``.
      The trapezoid rule's error for such integrands (Trefethen & Weideman 2014, Thm 5.1) is at
      most ``2 M / (exp(2 π y / step) - 1)`` with ``M ≈ exp(y**2 / 2) max|h - h(k0)|``;
      ``y = 4`` gives ``6e-21 · 13 sd H``. The integer sum that it stands for differs from
      the integral by the same bound at step 1, ``exp(-2 π · 4 sd)``, i.e. nothing.

    So the bounded errors are far below float64 rounding, which leaves an absolute error
    of about ``eps · min(n_q - n_p, mean) · log n_q`` (``eps`` = 2.2e-16 in float64) in the
    KL's sum of large terms. Derivatives come from the custom JVP of :func:`_count_term`.
    """
    dtype = n_p.dtype
    a, a0 = jnp.exp(lp1), jnp.exp(lp0)
    mean = n_p * a
    sd = jnp.sqrt(n_p * a * a0)
    k0 = jnp.clip(jnp.round(mean), 0.0, n_p)
    d = n_q - n_p
    logit = jnp.clip(lp1 - lp0, -1e4, 1e4)  # ±inf at a in {0, 1}: those weights are 0

    # exact window: counts start, ..., start + N - 1
    n = _BINOMIAL_NODES
    start = jnp.clip(k0 - n // 2, 0.0, jnp.maximum(n_p - (n - 1), 0.0))
    k = start[..., None] + jnp.arange(n, dtype=dtype)
    np_, nq_, d_, lg_ = n_p[..., None], n_q[..., None], d[..., None], logit[..., None]
    up = k < np_  # the step from k to k + 1 stays in the support
    rest = jnp.where(up, np_ - k, 1.0)
    step_w = jnp.where(up, jnp.log(rest) - jnp.log1p(k) + lg_, 0.0)
    step_h = jnp.where(up, jnp.log1p(-d_ / (nq_ - jnp.where(up, k, 0.0))), 0.0)

    def running(step):  # sum of the steps below each node, relative to node k0
        run = jnp.cumsum(step, axis=-1) - step
        i0 = (k0 - start).astype(jnp.int32)[..., None]
        return run - jnp.take_along_axis(run, i0, axis=-1)

    w = jnp.where(k <= np_, jnp.exp(running(step_w)), 0.0)
    dh = running(step_h)
    total = jnp.sum(w, axis=-1)
    e_exact = jnp.sum(w * dh, axis=-1) / total
    c_exact = jnp.sum(w * dh * (k - mean[..., None]), axis=-1) / total

    # trapezoid window: nodes mean + sd z
    coarse = sd > _BINOMIAL_SD_EXACT
    z = jnp.asarray(_BINOMIAL_Z, dtype)
    x = jnp.clip(mean[..., None] + jnp.where(coarse, sd, 0.0)[..., None] * z, 0.0, np_)
    k0_ = k0[..., None]
    t = x - k0_
    # every log-gamma difference in one call (one copy of its code in the program)
    m = z.shape[0]
    pairs = [
        (k0_ + 1, t),  # pmf ratio to k0
        (np_ - k0_ + 1, -t),
        (np_ - x + 1, d_),  # h(x) - h(k0) through shifts by d ...
        (np_ - k0_ + 1, d_),
        (nq_ - k0_ + 1, -t),  # ... or by k0 - x
        (np_ - k0_ + 1, -t),
        (np_ - k0_ + 1, d_),  # h(k0) - h(0), the same two ways
        (np_ + 1, d_),
        (nq_ + 1, -k0_),
        (np_ + 1, -k0_),
    ]
    width = [m] * 6 + [1] * 4
    shape = x.shape[:-1]
    us = jnp.concatenate([jnp.broadcast_to(u, shape + (w,)) for (u, _), w in zip(pairs, width)], -1)
    ts = jnp.concatenate([jnp.broadcast_to(v, shape + (w,)) for (_, v), w in zip(pairs, width)], -1)
    g = jax.lax.optimization_barrier(_lgamma_shift(us, ts))
    g = jnp.split(g, np.cumsum(width)[:-1], axis=-1)
    log_w = -g[0] - g[1] + t * lg_
    dhc = jnp.where(d_ <= jnp.abs(t), g[2] - g[3], g[4] - g[5])
    head = jnp.where(d_ <= k0_, g[6] - g[7], g[8] - g[9])[..., 0]
    wc = jnp.exp(log_w - jnp.max(log_w, axis=-1, keepdims=True))
    total_c = jnp.sum(wc, axis=-1)
    e_coarse = jnp.sum(wc * dhc, axis=-1) / total_c
    c_coarse = jnp.sum(wc * dhc * (x - mean[..., None]), axis=-1) / total_c

    e = head + jnp.where(coarse, e_coarse, e_exact)
    cov = jnp.where(coarse, c_coarse, c_exact)
    return e, cov


@jax.custom_jvp
def _count_term(n_p, n_q, lp1, lp0):
    """``E[log C(n_p, k) - log C(n_q, k)]`` for k ~ Bin(n_p, a), n_p < n_q (see above)."""
    return _count_moments(n_p, n_q, lp1, lp0)[0]


@_count_term.defjvp
def _count_term_jvp(primals, tangents):
    n_p, n_q, lp1, lp0 = primals
    _, _, t1, t0 = tangents
    e, cov = _count_moments(n_p, n_q, lp1, lp0)
    # d E[c] = E[c (k t1 + (n_p - k) t0)] = (t1 - t0) Cov(c, k), since a t1 + (1 - a) t0 = 0
    return e, jnp.where(cov == 0, 0.0, cov * (t1 - t0))


@register_kl(Binomial, Binomial, jit=True)
def _kl_binomial_binomial(p: Binomial, q: Binomial) -> jax.Array:
    r"""KL(Bin(n_p, a) || Bin(n_q, b)).

    * ``n_p == n_q``: ``n_p KL(Bern(a) || Bern(b))`` (torch's value, accurate near a = b);
    * ``n_p > n_q``: +inf (p puts mass where q has none), as torch;
    * ``n_p < n_q`` (torch raises ``NotImplementedError``): the finite KL

      .. math::
          n_p\,KL(\mathrm{Bern}(a)\|\mathrm{Bern}(b)) - (n_q - n_p)\log(1-b)
          + \mathbb{E}_{k\sim \mathrm{Bin}(n_p,a)}\Big[\log\tbinom{n_p}{k} -
          \log\tbinom{n_q}{k}\Big],

      the expectation in a fixed number of terms for any counts (an exact sum over 512
      counts around p's mean, or a 105-node trapezoid rule when p's standard deviation
      exceeds 18.7; the error bounds are in :func:`_count_moments`), jittable and
      differentiable through a custom JVP. Checked against exact float64 sums:
      relative error below 1e-9 up to counts of 4e9.

    Gradients at ``probs`` 0 and 1 are finite: the ``0 log 0`` terms held at their limits
    (the expectation's derivative there is taken as 0), 0 where the KL is +inf.

    References: torch.distributions.kl ``_kl_binomial_binomial``; the third case follows from
    expanding ``E_p[log p(k) - log q(k)]``.
    """
    n_p, n_q = p.total_count, q.total_count
    bern = _bernoulli_kl(p, q)
    same = jnp.where(n_p == 0, 0.0, n_p * jnp.where(n_p == 0, 0.0, bern))
    _, _, lp1, lp0 = _binary_parts(p)
    _, _, _, lq0 = _binary_parts(q)
    fewer = n_p < n_q
    has0 = lq0 > -jnp.inf  # b < 1
    extra = jnp.where(fewer & has0, n_q - n_p, 0.0) * -jnp.where(has0, lq0, 0.0)
    extra = jnp.where(fewer & ~has0, jnp.inf, extra)  # b = 1: q is a point mass at n_q
    n_p_, n_q_ = jnp.broadcast_arrays(n_p, n_q)
    lp1, lp0 = jnp.broadcast_arrays(lp1, lp0)
    shape = jnp.broadcast_shapes(n_p_.shape, lp1.shape)
    n_q_safe = jnp.where(fewer, n_q_, n_p_ + 1.0)  # the unused branch stays finite
    count = _count_term(
        jnp.broadcast_to(n_p_, shape),
        jnp.broadcast_to(n_q_safe, shape),
        jnp.broadcast_to(lp1, shape),
        jnp.broadcast_to(lp0, shape),
    )
    smaller = same + extra + count
    kl = jnp.where(fewer, smaller, same)
    return _inf_without_gradient(jnp.where(n_p > n_q, jnp.inf, kl))


@register_kl(Poisson, Poisson, jit=True)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> jax.Array:
    r"""KL(Poi(r) || Poi(s)) = r log(r/s) - r + s = r (x - log1p(x)),  x = (s - r)/r.

    Accurate near r = s. ``r = 0`` gives ``s`` and ``s = 0 < r`` gives +inf (torch returns
    NaN for r = 0: ``0 * log 0``). Gradients: ``(-1, 1)`` at ``r = 0`` (``r log(r/s)`` held
    at 0), 0 where +inf.

    References: torch.distributions.kl ``_kl_poisson_poisson``.
    """
    r, s = p.rate, q.rate
    return _outcome_kl_term(r, s - r, _log_of(r), _log_of(s))


def _point_mass_at_zero_kl(p: Poisson, log_q0: jax.Array, count: jax.Array) -> jax.Array:
    """KL(Poi(r) || q) for q on {0..count}: +inf for r > 0; ``-log q(0)`` for r = 0."""
    has0 = log_q0 > -jnp.inf  # q(0) > 0 (or count = 0)
    finite = -jnp.where(count == 0, 0.0, count * jnp.where(has0, log_q0, 0.0))
    return jnp.where((p.rate == 0) & (has0 | (count == 0)), finite, jnp.inf)


@register_kl(Poisson, Bernoulli, jit=True)
def _kl_poisson_bernoulli(p: Poisson, q: Bernoulli) -> jax.Array:
    """+inf: a Poisson with rate > 0 has mass on {2, 3, ...}.

    At rate 0 (a point mass at 0) the KL is ``-log(1 - b)`` (torch returns +inf there too).
    Gradients are 0 with respect to the rate and where the KL is +inf (b = 1).
    """
    return _point_mass_at_zero_kl(p, _binary_parts(q)[3], jnp.ones_like(p.rate))


@register_kl(Poisson, Binomial, jit=True)
def _kl_poisson_binomial(p: Poisson, q: Binomial) -> jax.Array:
    """+inf: a Poisson with rate > 0 has unbounded support.

    At rate 0 the KL is ``-n log(1 - b)`` (torch returns +inf there too). Gradients are 0
    with respect to the rate and where the KL is +inf (b = 1).
    """
    return _point_mass_at_zero_kl(p, _binary_parts(q)[3], q.total_count)


@register_kl(Multinomial, Multinomial, jit=True)
def _kl_multinomial_multinomial(p: Multinomial, q: Multinomial) -> jax.Array:
    r"""KL(Mult(n, p) || Mult(m, q)) = n KL(Cat(p) || Cat(q)) if n = m, else +inf.

    The Categorical KL is :mod:`jaxkl.kl.categorical`'s (``log1p`` of centred log-ratio
    terms: accurate where p ≈ q, +inf where q_i = 0 < p_i). ``total_count`` is static, so the
    +inf for different counts is decided at trace time; ``n = 0`` gives 0.

    References: the chain rule for KL over ``n`` independent draws (Cover & Thomas,
    Thm. 2.5.3); torch has the class but no KL for it.

    Raises:
        ValueError: different numbers of categories.
    """
    kl = _categorical_kl(p, q)
    if p.total_count != q.total_count:
        return jnp.full_like(kl, jnp.inf)
    if p.total_count == 0:
        return jnp.zeros_like(kl)
    return p.total_count * kl


# --------------------------------------------------------------------------- negative binomial


#: terms of the count series: float32 / float64 (a batch in which some element's proven bound
#: is too large for its dtype takes the Malmsten integral; more terms cost more than it)
_SERIES_TERMS = {"float32": 64, "float64": 128}
#: a series is used where its proven bound on what it leaves out is within this many ulps
_SERIES_ULPS = 4.0


def _count_grid(n: int, like: jax.Array) -> jax.Array:
    """``k = 0, ..., n - 1`` on a trailing axis, broadcastable against ``like[..., None]``.

    The terms of a series run along the last axis: XLA:CPU reduces a leading axis of a
    ``[terms, batch]`` array with strided reads, whose time per entry grows with the batch.
    """
    return jnp.arange(n, dtype=like.dtype)


def _per_term(*xs: jax.Array) -> tuple[jax.Array, ...]:
    """``xs`` with a trailing axis, to broadcast against :func:`_count_grid`."""
    return tuple(x[..., None] for x in xs)


def _sums_below(terms: jax.Array) -> jax.Array:
    """``Σ_{j<k} terms_j`` for each ``k`` along the last axis (0 for ``k = 0``)."""
    inclusive = jnp.cumsum(terms[..., :-1], axis=-1)
    return jnp.concatenate([jnp.zeros_like(terms[..., :1]), inclusive], axis=-1)


def _series_or_integral(bound, scale, series, integral):
    """``series()`` when every element's proven bound is within a few ulps of ``scale``.

    Otherwise ``integral()`` for the whole batch: under jit only one of them runs
    (``lax.cond``, its predicate from the cheap bounds alone); under vmap both run and the
    batch's elements are selected one by one.
    """
    eps = float(jnp.finfo(scale.dtype).eps)
    ok = jax.lax.stop_gradient(bound <= _SERIES_ULPS * eps * scale)
    return jax.lax.cond(jnp.all(ok), series, integral)


def _nb_gap_series(r1, r2, lp1, lq1):
    r"""The NB KL's log-gamma Bregman gap as a summed series, and a proven bound on its error.

    With ``δ = r_2 - r_1``, ``B(x) = lgamma(x + δ) - lgamma(x) - δ ψ(x)`` decreases in ``x``
    with steps ``B(x) - B(x + 1) = φ(δ/x)``, ``φ(u) = u - log1p(u) ≥ 0``, so

    .. math::
        B(r_1) - E\,B(K + r_1) = \sum_k f(k)\,Φ(k),\qquad Φ(k) = \sum_{j<k} φ\big(δ/(j + r_1)\big),

    every term non-negative (``f`` the NB(r1, p1) pmf, from a running sum of
    ``log1p((r1 - 1)/i)``). Summed over ``k < n``, what is left out is
    ``Σ_{k≥n} f(k) Φ(k) ≤ P(K ≥ n) Φ(n) + Σ_{j≥n} P(K > j) φ_j``; ``φ_j`` decreases, so the
    last sum is at most ``φ_n E[(K - n)^+] ≤ φ_n E[K 1{K > n}] = φ_n μ P(K' ≥ n)`` with
    ``K' ~ NB(r1 + 1, p1)`` (size biasing: ``k f(k) = μ f'(k - 1)``). Both tail masses are
    at most ``P(K' ≥ n)``, which Chernoff's bound (the NB moment generating function at its
    optimal argument, for ``n (1 - p_1) > r' p_1``, ``r' = r_1 + 1``) keeps below
    ``T = p_1^n (1 - p_1)^{r'} (n + r')^{n + r'} / (n^n r'^{r'})``, so

    .. math::
        0 ≤ \text{gap} - \text{series} ≤ T\,(Φ(n) + μ φ_n).

    Returns ``(series, bound)``; ``lp1, lq1 = log p1, log(1 - p1)``.
    """
    r1, r2, lp1, lq1 = jnp.broadcast_arrays(r1, r2, lp1, lq1)
    n = _SERIES_TERMS[str(r1.dtype)]
    k = _count_grid(n, r1)
    r1k, r2k, lp1k, lq1k = _per_term(r1, r2, lp1, lq1)
    step = jnp.where(k > 0, jnp.log1p((r1k - 1.0) / jnp.maximum(k, 1.0)), 0.0)
    f = jnp.exp(r1k * lq1k + jnp.where(k > 0, k * lp1k, 0.0) + jnp.cumsum(step, axis=-1))
    big_phi = _sums_below(x_minus_log1p((r2k - r1k) / (k + r1k)))
    return jnp.sum(f * big_phi, axis=-1), _nb_gap_bound(r1, r2, lp1, lq1)[0]


def _nb_gap_bound(r1, r2, lp1, lq1):
    """``(bound, scale)``: :func:`_nb_gap_series`' bound, and a lower bound of the gap.

    The gap is at least ``P(K ≥ 1) φ(δ/r_1)`` (every ``Φ(k ≥ 1) ≥ φ_0``). One pass over the
    ``n`` terms (``Φ(n)``), no running sums.
    """
    sg = jax.lax.stop_gradient
    r1, r2, lp1, lq1 = (sg(x) for x in jnp.broadcast_arrays(r1, r2, lp1, lq1))
    n = _SERIES_TERMS[str(r1.dtype)]
    k = _count_grid(n, r1)
    delta = r2 - r1
    delta_k, r1k = _per_term(delta, r1)
    big_phi_n = jnp.sum(x_minus_log1p(delta_k / (k + r1k)), axis=-1)
    mean = r1 * jnp.exp(lp1 - lq1)
    rr = r1 + 1.0
    log_t = n * lp1 + rr * lq1 + n * jnp.log1p(rr / n) + rr * jnp.log1p(n / rr)
    tail = jnp.where(n * jnp.exp(lq1) > rr * jnp.exp(lp1), jnp.exp(log_t), 1.0)
    bound = tail * (big_phi_n + mean * x_minus_log1p(delta / (n + r1)))
    return bound, -jnp.expm1(r1 * lq1) * x_minus_log1p(delta / r1)


def _poisson_lgamma_series(lam, r):
    r"""``E[lgamma(K + r)] - lgamma(r)``, K ~ Poisson(lam), as a series with a proven bound.

    ``lgamma(k + r) - lgamma(r) = G(k) = Σ_{j<k} log(j + r)``, so the expectation is
    ``Σ_k f(k) G(k)`` (``f`` from a running sum of ``log(lam / i)``). Left out past
    ``k < n``: ``P(K ≥ n) Σ_{j<n} |log(j + r)| + Σ_{j≥n} P(K > j) log(j + r)``, and with
    ``log(K - 1 + r) ≤ log(n + r) + (K - n)/(n + r)`` and the Poisson moments
    ``E[K 1{K>n}] = lam P(K ≥ n)``, ``E[K(K - 1) 1{K>n}] = lam^2 P(K ≥ n - 1)``:

    .. math::
        |\text{error}| ≤ P(K ≥ n - 1)\,\Big(\sum_{j<n} |\log(j + r)| + λ \log(n + r)
        + \frac{λ^2 + λ}{n + r}\Big),

    with ``P(K ≥ m) ≤ e^{m - λ} (λ/m)^m`` for ``m > λ`` (Chernoff's bound). Returns
    ``(series, bound)``.
    """
    lam, r = jnp.broadcast_arrays(lam, r)
    n = _SERIES_TERMS[str(lam.dtype)]
    k = _count_grid(n, lam)
    lam_k, r_k = _per_term(lam, r)
    safe = jnp.where(lam_k > 0, lam_k, 1.0)
    step = jnp.where(k > 0, jnp.log(safe) - jnp.log(jnp.maximum(k, 1.0)), 0.0)
    # at lam = 0: f = [1, lam, 0, ...] (the pmf's value and first derivative there)
    at_zero = jnp.where(k == 1, lam_k, (k == 0).astype(lam.dtype))
    f = jnp.where(lam_k > 0, jnp.exp(jnp.cumsum(step, axis=-1) - lam_k), at_zero)
    series = jnp.sum(f * _sums_below(jnp.log(k + r_k)), axis=-1)
    return series, _poisson_lgamma_bound(lam, r)[0]


def _poisson_lgamma_bound(lam, r):
    """``(bound, scale)``: :func:`_poisson_lgamma_series`' bound, and the size of its sum.

    ``scale = P(K ≥ 1) log1p(r)``, the first term's size (tolerance only). One pass over
    the ``n`` terms, no running sums.
    """
    sg = jax.lax.stop_gradient
    lam, r = (sg(x) for x in jnp.broadcast_arrays(lam, r))
    n = _SERIES_TERMS[str(lam.dtype)]
    k = _count_grid(n, lam)
    m = n - 1.0
    tail = jnp.where(lam < m, jnp.exp(m - lam - m * jnp.log(m / jnp.where(lam > 0, lam, 1.0))), 1.0)
    tail = jnp.where(lam > 0, tail, 0.0)
    bound = tail * (
        jnp.sum(jnp.abs(jnp.log(k + r[..., None])), axis=-1)
        + lam * jnp.log(n + r)
        + (lam * lam + lam) / (n + r)
    )
    return bound, -jnp.expm1(-lam) * jnp.log1p(r)


def _nb_log_center(mean, count):
    """Where the Malmsten integrands change: ``t ~ 1/mean`` and ``t ~ 1/count``."""
    lo = -jnp.log(jnp.maximum(mean, 1e-3))
    hi = -jnp.log(jnp.maximum(count, 1e-3))
    return 0.5 * (lo + hi), jnp.maximum(1.5, 0.5 * jnp.abs(lo - hi))


def _nb_gap_integral(r1, r2, p1, lq1, mean):
    r"""``B(r1, -δ) - E[B(K + r1, -δ)]`` (``δ = r2 - r1``, K ~ NB(r1, p1)), a non-negative term.

    ``B(x, -δ) = lgamma(x + δ) - lgamma(x) - δ ψ(x)`` is the log-gamma Bregman remainder;
    the KL's log-gamma terms are ``-δ (E ψ(K + r1) - ψ(r1)) + [B(r1, -δ) - E B(K + r1, -δ)]``
    and the first part is exactly ``δ log(1 - p1)`` (the negative binomial's identity
    ``E ψ(K + r) = ψ(r) - log(1 - p)``), so the ``O(δ)`` terms that would cancel against
    ``(r1 - r2) log(1 - p2)`` are taken out analytically. From Malmsten's integrals for
    ``lgamma`` and ``ψ`` and the generating function ``G(s) = ((1 - p)/(1 - p s))^r`` of K:

    .. math::
        \int_0^\infty \frac{e^{-r_1 t}\,(e^{-δ t} - 1 + δ t)\,(1 - G(e^{-t}))}
        {(1 - e^{-t})\, t}\,dt,

    every factor non-negative and formed without cancellation (``expm1_minus_x``; past
    ``-δ t = 1`` as ``e^{-r_2 t} - e^{-r_1 t}(1 - δ t)``), bounded at 0 and decaying like
    ``e^{-min(r) t}``. ``lq1 = log(1 - p1)``.
    """

    def fn(t):
        e_t = -jnp.expm1(-t)  # 1 - e^{-t}
        # 1 - G(e^{-t}) = -expm1(-r1 log1p(p1 (1 - e^{-t}) / (1 - p1)))
        one_minus_g = -jnp.expm1(-r1 * jnp.log1p(p1 * e_t * jnp.exp(-lq1)))
        x = -(r2 - r1) * t
        small = x < 1.0
        near = jnp.exp(-r1 * t) * expm1_minus_x(jnp.where(small, x, 0.0))
        xl = jnp.where(small, 0.0, x)
        far = jnp.exp(-r2 * t) - jnp.exp(-r1 * t) * (1.0 + xl)
        return (jnp.where(small, near, far) / t) * (one_minus_g / e_t)

    c, w = _nb_log_center(mean, jnp.minimum(r1, r2))
    return exp_sinh_integral(fn, c, w)


@register_kl(NegativeBinomial, NegativeBinomial, jit=True)
def _kl_negativebinomial_negativebinomial(p: NegativeBinomial, q: NegativeBinomial) -> jax.Array:
    r"""KL between negative binomials (counts of successes before ``r`` failures).

    .. math::
        D_{KL} = r_1\,[a\,(x - \operatorname{log1p} x) + (-a x - \operatorname{log1p}(-a x))]
        + (r_1 - r_2) \log(1 - p_2) + I,

    with ``a = p_1/(1 - p_1)`` (the mean over ``r_1``), ``x = p_2/p_1 - 1``, and ``I`` the
    log-gamma term ``E[lgamma(K + r_1) - lgamma(K + r_2)] - lgamma(r_1) + lgamma(r_2)``
    (0 for equal counts). For equal ``total_count``
    this is the closed form ``E_p[k] log(p_1/p_2) + r log((1 - p_1)/(1 - p_2))``
    ``= r KL(Bern(p_1) || Bern(p_2)) / (1 - p_1)``, the Bernoulli KL's two non-negative
    terms (accurate where ``p_1 ~ p_2``, finite for any ``p_2 > 0``); for unequal counts the
    log-gamma terms and ``(r_1 - r_2) log(1 - p_2)`` are regrouped as
    ``(r_2 - r_1) log((1 - p_1)/(1 - p_2))`` plus the non-negative Bregman integral of
    :func:`_nb_gap_series` (their ``O(r_2 - r_1)`` parts cancel analytically, so float32
    keeps its relative accuracy as the counts approach each other): a series of non-negative
    terms over ``k < n`` (64 in float32, 128 in float64) with a proven bound on the rest,
    used when that bound is within 4 ulps of the gap for every element of the batch; else
    (means or spreads too large for ``n`` terms) Malmsten's integral of
    :func:`_nb_gap_integral` for the batch (257 nodes, whatever the size of the counts).
    Equal counts are the closed form alone. ``+inf`` where ``p_2 = 0 < p_1`` (q is a point
    mass at 0). Gradients are finite at ``probs = 0``: the ``0 log 0`` terms held at their
    limits, 0 where the KL is +inf.

    References: Malmsten's integral for ``log Gamma`` (e.g. Whittaker & Watson, 12.3);
    the negative binomial generating function; its size-biased law for the tail bound.
    """
    r1, r2 = p.total_count, q.total_count
    pp, p0, lp1, lq1 = _binary_parts(p)
    qp, _, _, lq2 = _binary_parts(q)
    a = jnp.exp(lp1 - lq1)  # p1 / (1 - p1)
    same = r1 * _bernoulli_kl_per(p, q, p0)
    point_mass = qp == 0
    # (r2 - r1) log((1 - p1)/(1 - p2)), from the parameters' difference where both have the
    # same parametrisation
    if p._probs is not None and q._probs is not None:  # -log((1 - p2)/(1 - p1))
        dlq = -_log_ratio(p0, 1.0 - q._probs, p._probs - q._probs)
    elif p._logits is not None and q._logits is not None:  # softplus(l2) - softplus(l1)
        dlq = jnp.log1p(jax.nn.sigmoid(p._logits) * jnp.expm1(q._logits - p._logits))
    else:
        dlq = lq1 - jnp.where(point_mass, 0.0, lq2)
    gap = _series_or_integral(
        *_nb_gap_bound(r1, r2, lp1, lq1),
        lambda: _nb_gap_series(r1, r2, lp1, lq1)[0],
        lambda: _nb_gap_integral(r1, r2, pp, lq1, r1 * a),
    )
    kl = same + jnp.where(r1 == r2, 0.0, (r2 - r1) * dlq) + gap
    # p a point mass at 0: KL = -log q(0) = -r2 log(1 - p2)
    kl = jnp.where(pp == 0, -r2 * lq2, kl)
    return _inf_without_gradient(jnp.where(point_mass & (pp > 0), jnp.inf, kl))


@register_kl(Poisson, NegativeBinomial, jit=True)
def _kl_poisson_negativebinomial(p: Poisson, q: NegativeBinomial) -> jax.Array:
    r"""KL(Poisson(lambda) || NegativeBinomial(r, p)).

    .. math::
        D_{KL} = \lambda \log\frac{\lambda}{p} - \lambda - r \log(1 - p)
        - \big(E[\log\Gamma(K + r)] - \log\Gamma(r)\big),

    the last term by the series of :func:`_poisson_lgamma_series` (``k < n``, 64 terms in
    float32, 128 in float64, with a proven bound on the rest) when that bound is within
    4 ulps for every element of the batch; else (rates too large for ``n`` terms) from
    Malmsten's integral with the Poisson generating function ``exp(-lambda (1 - s))``:
    ``int_0^inf lambda e^{-t} (1 - e^{-(r - 1) t} w(t)) dt / t`` with
    ``w = (1 - e^{-u})/u``, ``u = lambda (1 - e^{-t})`` (``log w = -u/2 + log_sinhc(u/2)``,
    so the integrand is formed without cancellation at small ``t``). ``+inf`` where
    ``p = 0 < lambda``. Gradients are finite at ``lambda = 0`` and ``p = 0``
    (``lambda log lambda`` held at 0: ``-log p - 1 - log r`` w.r.t. ``lambda``), 0 where the
    KL is +inf.

    References: Malmsten's integral for ``log Gamma`` (Whittaker & Watson, 12.3).
    """
    lam = p.rate
    r = q.total_count
    qp, _, lp, lq = _binary_parts(q)

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

    def integral():
        c, w = _nb_log_center(lam, jnp.minimum(r, 1.0))
        return exp_sinh_integral(fn, c, w)

    lgamma_gap = _series_or_integral(
        *_poisson_lgamma_bound(lam, r), lambda: _poisson_lgamma_series(lam, r)[0], integral
    )
    point_mass = qp == 0
    safe_lp = jnp.where(point_mass, 0.0, lp)
    lam_log_lam = lam * jnp.log(jnp.where(lam > 0, lam, 1.0))  # 0 log 0 = 0, derivative 0
    kl = lam_log_lam - lam * safe_lp - lam - r * lq - lgamma_gap
    return _inf_without_gradient(jnp.where(point_mass & (lam > 0), jnp.inf, kl))
