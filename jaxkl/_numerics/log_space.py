"""Logs and exponentials near their cancellations: ``x - log1p(x)``, ``expm1(x) - x``, log-ratios.

Each helper takes the *difference* that makes its quantity small (exact for close floats)
and evaluates the small quantity without forming the large terms that cancel.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxkl import _checks
from jaxkl._numerics.series import horner, terms


def x_minus_log1p(x: jax.Array) -> jax.Array:
    """``x - log1p(x)`` for x > -1, accurate to a few ulp also for tiny |x|.

    Why: ``x - log1p(x)`` is about ``x**2 / 2``, so the naive difference loses all digits
    when ``|x| < sqrt(eps)``. This is the cancellation behind ``ratio - 1 - log(ratio)``
    terms (Normal-Normal, Gamma-Gamma, the normalised tensor KL).

    How: with ``u = x / (2 + x)``, ``log1p(x) = 2 atanh(u)`` and ``x - 2u = x u``, so
    ``x - log1p(x) = x u - 2 u**3 (1/3 + u**2/5 + u**4/7 + ...)``. The two parts differ in
    magnitude by a factor ``~x/6``: no catastrophic cancellation. For ``|x| >= 0.5`` the
    direct difference is already accurate.
    """
    x = jnp.asarray(x)
    return jnp.where(jnp.abs(x) < 0.5, x_minus_log1p_series(x), x - jnp.log1p(x))


def x_minus_log1p_series(x: jax.Array) -> jax.Array:
    """The series half of :func:`x_minus_log1p`: exact to a few ulp for ``|x| <= 1/2``.

    ``x`` is clipped to ``[-1/2, 1/2]`` first, so callers can evaluate it on every element
    and select it where ``|x| < 1/2`` with their own far-from-zero formula elsewhere (one
    ``where``, no log here). Clipping, not a ``where``: XLA's CPU backend fuses min/max
    into one loop with the rest, while each select costs an extra pass.
    """
    xs = jnp.clip(jnp.asarray(x), -0.5, 0.5)
    u = xs * (1.0 / (2.0 + xs))  # not xs / (2 + xs): see jaxkl._numerics
    u2 = u * u  # <= 1/9 (at x = -1/2): 7 (float32) or 16 (float64) terms reach full precision
    # the atanh series tail sum_k u2**k / (2k + 3)
    tail = horner([1.0 / (2 * k + 3) for k in range(terms(xs.dtype, 7, 16))], u2)
    return xs * u - 2.0 * u * u2 * tail


def log1p_minus_x(x: jax.Array) -> jax.Array:
    """``log1p(x) - x`` (<= 0) without cancellation near 0; see :func:`x_minus_log1p`."""
    return -x_minus_log1p(x)


def expm1_minus_x(x: jax.Array) -> jax.Array:
    """``expm1(x) - x`` (= x**2/2 + ...) accurate for tiny |x| (Taylor series below 0.5)."""
    x = jnp.asarray(x)
    small = jnp.abs(x) < 0.5
    xs = jnp.where(small, x, 0.0)
    acc = jnp.ones_like(xs)
    for k in range(terms(x.dtype, 10, 18), 2, -1):
        acc = 1.0 + xs * acc / k
    series = xs * xs / 2.0 * acc
    return jnp.where(small, series, jnp.expm1(x) - x)


def weighted_expm1_minus_x(log_w: jax.Array, d: jax.Array) -> jax.Array:
    r"""``w (e^d - 1 - d)`` (>= 0) from ``log w`` and ``d``, also where ``w`` underflows.

    Why: for a two-outcome (or any finite) distribution with weights ``w_i`` and exact
    log-ratios ``d_i = log(q_i / w_i)``, ``KL = Σ_i w_i (e^{d_i} - 1 - d_i)`` (because
    ``Σ w_i e^{d_i} = Σ q_i = 1``): non-negative terms, accurate when ``q ≈ w``. A weight
    that underflows (``Φ(-30)`` in float32) must still contribute ``q_i = w_i e^{d_i}``,
    which ``w * expm1(d)`` loses (``0 * inf``).

    How: ``w * expm1_minus_x(d)`` for ``d < 1/2``; ``exp(log w + d) - w (1 + d)`` above
    (no harmful cancellation there: ``e^d - 1 - d >= 0.14 e^d``). Double ``where``, so
    gradients stay finite.
    """
    log_w, d = jnp.asarray(log_w), jnp.asarray(d)
    small = d < 0.5
    ds = jnp.where(small, d, 0.0)
    dl = jnp.where(small, 0.5, d)
    w = jnp.exp(log_w)
    return jnp.where(small, w * expm1_minus_x(ds), jnp.exp(log_w + dl) - w * (1.0 + dl))


def kl_from_log_ratios(
    weights: jax.Array,
    log_ratio: jax.Array,
    axis: int = -1,
    q_mass_outside: jax.Array | None = None,
) -> jax.Array:
    r"""``sum_i p_i log(p_i / q_i)`` from ``p_i`` and ``delta_i = log(q_i / p_i) + c``.

    Why: the KL of discrete distributions close to each other is a sum of terms that
    cancel to ``O(delta**2)``; the textbook form loses all digits at ``delta ~ 1e-4`` in
    float32. With ``delta_i`` known accurately (a difference of logits, or
    ``log1p((q_i - p_i) / p_i)`` from probabilities) and any constant ``c`` (so unnormalised
    ``q`` or logits are fine), centring ``d_i = delta_i - sum_j p_j delta_j`` gives

    .. math::
        KL = \log \sum_i p_i e^{d_i} = \operatorname{log1p}\Big(\sum_i p_i\,(e^{d_i} - 1 -
        d_i)\Big),

    a sum of non-negative terms: no cancellation. ``weights`` must be normalised along
    ``axis``. ``p_i = 0`` contributes 0 whatever ``delta_i`` is (also NaN or inf);
    ``delta_i = -inf`` with ``p_i > 0`` (``q_i = 0``) gives ``+inf``. Large ``d_i`` use the
    log-sum-exp form instead (no overflow). Gradients never NaN.

    The identity needs ``sum_{i: p_i > 0} q_i = 1``; pass ``q_mass_outside``, the (normalised)
    mass of q where ``p_i = 0``, when q may put mass there: the KL is then the KL to q
    restricted to p's support minus ``log1p(-q_mass_outside)``.
    """
    w = jnp.asarray(weights)
    delta = jnp.asarray(log_ratio)
    pos = w > 0
    to_inf = jnp.any(pos & (delta == -jnp.inf), axis=axis)
    safe = pos & jnp.isfinite(delta)
    ws = jnp.where(safe, w, 0.0)
    ds = jnp.where(safe, delta, 0.0)
    d = ds - jnp.sum(ws * ds, axis=axis, keepdims=True)
    # second pass: the rounding of the first mean is a shift c that would add c**2/2
    d = d - jnp.sum(ws * d, axis=axis, keepdims=True)
    big = 50.0
    dmax = jnp.max(jnp.where(safe, d, -jnp.inf), axis=axis, keepdims=True)
    dmax = jnp.where(jnp.isfinite(dmax), dmax, 0.0)
    small = jnp.squeeze(dmax, axis) < big
    series = jnp.log1p(jnp.sum(ws * expm1_minus_x(jnp.minimum(d, big)), axis=axis))
    shift = jnp.maximum(dmax, big)
    lse = jnp.squeeze(shift, axis) + jnp.log(jnp.sum(ws * jnp.exp(d - shift), axis=axis))
    value = jnp.where(small, series, lse)
    if q_mass_outside is not None:
        m = jnp.asarray(q_mass_outside)
        to_inf = to_inf | (m >= 1)
        value = value - jnp.log1p(-jnp.where(m >= 1, 0.0, m))
    return jnp.where(to_inf, jnp.inf, value)


def safe_log(x: jax.Array, ok: jax.Array | None = None) -> jax.Array:
    """``log(x)`` where ``ok`` (default ``x > 0``), 0 elsewhere: the first half of a double where.

    Why: ``jnp.where(ok, jnp.log(x), fill)`` alone still differentiates ``log`` at the
    masked-out ``x`` (an infinite or NaN derivative times a zero cotangent is NaN); the
    argument is made harmless before the ``log`` instead, and the caller selects afterwards.
    """
    ok = x > 0 if ok is None else ok
    return jnp.log(jnp.where(ok, x, 1.0))


def log_of_product(num: jax.Array, inv: jax.Array) -> jax.Array:
    """``log(num * inv)`` for positive normal floats, with one log, also where it underflows.

    Why: a ratio ``num / den`` as ``num * inv`` (``inv = 1/den``) underflows to 0 below
    the smallest normal float, and ``log(num) - log(den)`` costs two logs (as much as the
    rest of an elementwise KL). Where the product is below ``2^-60``, each factor below 1
    is scaled by ``h = 2^(-minexp/2)`` (exact; ``2^63`` in float32) before the product,
    which then is a normal float, and ``log h`` is subtracted per scaled factor (the
    product's log is at least 41 then: the shift costs a few ulps). A product that
    overflows is ``+inf``: callers use it where the result is ``+inf`` then. Where the
    product is near 1 its accuracy is absolute (:func:`log_of_product_near_one` is relative).
    """
    num, inv = jnp.asarray(num), jnp.asarray(inv)
    fi = jnp.finfo(_checks.compute_dtype(num, inv))
    h = 2.0 ** (-fi.minexp // 2)
    small = num * inv < 2.0**-60
    scale_num, scale_inv = small & (num < 1), small & (inv < 1)
    scaled = (num * jnp.where(scale_num, h, 1.0)) * (inv * jnp.where(scale_inv, h, 1.0))
    shift = (scale_num.astype(scaled.dtype) + scale_inv.astype(scaled.dtype)) * math.log(h)
    return jnp.log(scaled) - shift


def log_ratio(num: jax.Array, den: jax.Array) -> jax.Array:
    """``log(num / den)`` for positive arrays, accurate in relative terms also near 1.

    Why: near ``num = den`` the log is ``O(num - den)``, and ``log(num) - log(den)`` keeps
    only its absolute accuracy (``eps``); the difference ``num - den`` is exact for close
    floats, so ``log1p((num - den)/den)`` keeps the relative one.

    How: ``log1p`` of the relative difference while it is below 1/2 in size, the
    difference of logs beyond (double ``where``: the ``log1p`` never sees ``-1``).
    """
    x = (num - den) * (1.0 / den)  # reused: no quotient (see jaxkl._numerics)
    near = jnp.abs(x) < 0.5
    return jnp.where(near, jnp.log1p(jnp.where(near, x, 0.0)), jnp.log(num) - jnp.log(den))


def two_product(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The exact product ``a * b`` as a rounded value and its rounding error.

    ``(p, e)`` with ``p = fl(a * b)`` and ``p + e = a * b`` exactly (Dekker's product with
    Veltkamp's split), so that ``a * b - 1`` is ``(p - 1) + e`` without the rounding of
    ``p`` (``p - 1`` is exact near 1). The error is set to 0 where it is not finite (a
    product that overflows).
    """
    bits = 27 if a.dtype == jnp.float64 else 12  # half the significand, rounded up
    factor = float(2**bits + 1)

    def split(x):
        c = factor * x
        hi = c - (c - x)
        return hi, x - hi

    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, jnp.where(jnp.isfinite(e), e, 0.0)


def log_of_product_near_one(a: jax.Array, b: jax.Array) -> jax.Array:
    """``log(a * b)`` for positive ``a``, ``b``, accurate in relative terms also near ``a b = 1``.

    Why: ``log(fl(a * b))`` keeps only an absolute accuracy of ``eps`` where the product is
    near 1 (the rounding of the product is all there is of ``a b - 1``).

    How: ``log1p`` of ``a b - 1`` formed exactly from :func:`two_product` while it is below
    1/2 in size; :func:`log_of_product` beyond.
    """
    prod, err = two_product(a, b)
    x = (prod - 1) + err
    near = jnp.abs(x) < 0.5
    return jnp.where(near, jnp.log1p(jnp.where(near, x, 0.0)), log_of_product(a, b))


def ratio_minus_one_minus_log_of(num: jax.Array, den: jax.Array) -> jax.Array:
    """``r - 1 - log(r)`` with ``r = num / den`` (both > 0), accurate for every ratio.

    Why: near ``r = 1`` it must be ``x_minus_log1p`` of the *difference* ``(num - den)/den``
    (exact for close floats); far from 1 that ``x`` can round to ``-1`` (``r < 6e-8`` in
    float32: ``log1p(-1) = -inf``) or overflow, so there ``r - 1 - (log num - log den)``
    is used, whose log never sees an underflowed ratio.
    """
    num = jnp.asarray(num)
    den = jnp.asarray(den)
    inv = 1.0 / den  # reused: a quotient would be materialised (see jaxkl._numerics)
    x = (num - den) * inv
    far = num * inv - 1 - log_of_product(num, inv)
    return jnp.where(jnp.abs(x) < 0.5, x_minus_log1p_series(x), far)


def squared_ratio_minus_one_minus_log_of(num: jax.Array, den: jax.Array) -> jax.Array:
    """``rho^2 - 1 - 2 log(rho)`` with ``rho = num / den`` (both > 0), accurate for every ratio.

    Why: twice the scale part of the Gaussian KL (Normal, HalfNormal, TruncatedNormal);
    ``x = rho^2 - 1`` formed as ``(num - den)(num + den)/den^2`` is exact for close scales,
    where squaring first would round ``num^2 - den^2`` away.

    How: ``x_minus_log1p`` of that ``x`` near ``rho = 1``; far from 1,
    ``rho^2 - 1 - 2 log(rho)`` with one log (:func:`log_of_product`: a log costs as much as
    the rest of the Normal KL).
    """
    r = 1.0 / den
    x = ((num - den) * r) * ((num + den) * r)
    rho = num * r
    far = rho * rho - 1 - 2 * log_of_product(num, r)
    return jnp.where(jnp.abs(x) < 0.5, x_minus_log1p_series(x), far)


def logit(p: jax.Array) -> jax.Array:
    """``log(p / (1 - p))``, keeping relative accuracy near ``p = 1/2``.

    Near ``p = 1/2`` it is ``log1p((2p - 1)/(1 - p))`` (``2p - 1`` is exact there), where
    ``log p - log1p(-p)`` cancels.
    """
    mid = (p > 0.25) & (p < 0.75)
    pm = jnp.where(mid, p, 0.5)
    return jnp.where(mid, jnp.log1p((2 * pm - 1) / (1 - pm)), jnp.log(p) - jnp.log1p(-p))


def logit_difference(p1: jax.Array, p2: jax.Array) -> jax.Array:
    """``logit(p2) - logit(p1)``, exact for close probabilities.

    Formed from their difference (exact for close floats):
    ``log1p((p2 - p1)/p1) - log1p((p1 - p2)/(1 - p1))``.
    """
    d = p2 - p1
    return jnp.log1p(d / p1) - jnp.log1p(-d / (1 - p1))


def log_cosh(y: jax.Array) -> jax.Array:
    """``log(cosh(y))`` for every real ``y`` without overflow, to an absolute ``eps``.

    As ``|y| + log1p(exp(-2|y|)) - log 2``: its callers add it to ``O(1)`` log-densities and
    normalisers, where an absolute error is what counts (near 0 it is not relative).
    """
    a = jnp.abs(y)
    return a + jnp.log1p(jnp.exp(-2 * a)) - math.log(2.0)
