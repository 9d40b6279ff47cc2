r"""Deterministic KL between univariate continuous distributions by double-exponential quadrature.

:func:`quadrature_kl` is the fallback for pairs without a closed form (StudentT with Normal,
Cauchy or itself, Logistic-Logistic, ...) and a cross-check of the closed forms.

The method, in three maps. p's support (from its ``support`` constraint, or the family's
parameters: Pareto, Uniform, TruncatedNormal, TransformedDistribution ...) is one of four
kinds, decided per batch element from the bounds' finiteness: the real line, a half-line
bounded below or above, or an interval. Each kind has an unconstrained coordinate ``y``
(``x = m + s sinh y`` on the real line, ``x = lo + e^y``, ``x = hi - e^y``,
``x = lo + (hi - lo) sigmoid(y)``) in which every density of the package has at worst
exponential tails (algebraic tails such as Cauchy's become ``e^{-|y|}``). Then
``y = c + w sinh t`` makes the tails double-exponentially small in ``t``, and the
trapezoid rule in ``t`` (equal steps on ``[-T, T]``) converges exponentially: this is
Takahasi and Mori's double-exponential (sinh-sinh / exp-sinh / tanh-sinh) rule. The centre
``c`` and width ``w`` come from p's quartiles: ``icdf(1/4, 1/2, 3/4)`` where p has a
quantile function (a TransformedDistribution maps its base's quartiles), else its mean and
standard deviation, else ``loc`` and ``scale``; they only place the nodes (no gradient flows
through them), so a rough guess costs accuracy slowly, never correctness.

Why nodes in ``x`` rather than ``u = F(x)`` (``KL = int_0^1 log(p/q)(F^{-1}(u)) du``):
next to ``u = 1`` the quantile function sees ``1 - u`` rounded to ``eps``, so the upper
tail beyond ``F^{-1}(1 - eps)`` is lost: with Cauchy tails in float32 that is a relative
error of about ``1e-5``. In ``x`` both tails are integrated out to where the densities
underflow, or to ``|x - m| = s * finfo.max**(1/3)`` (a Cauchy tail mass of ``5e-14`` in
float32, ``1e-103`` in float64), where no ``log_prob`` overflows internally.

Kinks. The trapezoid rule converges exponentially only for an integrand smooth inside the
interval: a log density with a kink (Laplace's at its ``loc``; ``KINKS``) costs it, to a
relative error of about ``1e-2``. Where p's support is the real line and p or q has kinks,
the line is cut at them into two half-lines (exp-sinh from the kink) and the intervals
between kinks (the logistic map), each with the full rule; the pieces' nodes are
concatenated, and the kinks move with the parameters, so gradients stay exact (the
integrand is continuous at a cut, and the boundary terms cancel).

The integrand. With ``d = log q(x) - log p(x)``,

.. math::
    D_{KL}(p \| q) = \int_S p\,(e^{d} - 1 - d)\,dx + \int_S (p - q)\,dx,

where ``S`` is p's support. The first integrand is non-negative and ``~ p d^2/2`` where
``p ~ q`` (written with :func:`~jaxkl._numerics.expm1_minus_x`, no cancellation); the
second is exactly 0 when q's support equals p's (then ``int_S q = 1``), which is decided
on the parameter values and used: nearly equal distributions keep their relative accuracy
instead of the ``eps |log p|`` absolute error of summing ``p log(p/q)``. Where q's support
is wider the second integral is summed with the same rule, and also where its sum is
farther from 0 than its rounding bound (``8 eps`` times the summed masses and
log-densities): then the nodes, placed for p, under-resolve a q whose mass sits in p's
tail, and the sum of both integrals (``p log(p/q)``, which needs q only through its smooth
logarithm) is the accurate one. For the pairs in ``_LOG_RATIOS`` (Student's t with Student's
t or Cauchy, logistic with logistic) ``d`` itself is formed from the parameters'
differences rather than as the difference of two ``log_prob`` (whose rounding, ``eps``
absolute, would otherwise limit float32 to KLs above about ``1e-9``): their quadrature KL
keeps its relative accuracy as ``q -> p``.

References:
    Takahasi, H. and Mori, M. (1974). Double exponential formulas for numerical
    integration. Publ. RIMS Kyoto Univ. 9, 721-741.
    Bailey, D. H., Jeyabalan, K. and Li, X. S. (2005). A comparison of three high-precision
    quadrature schemes. Experimental Mathematics 14(3), 317-329.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import jaxkl.distributions.constraints as C
from jaxkl import _checks
from jaxkl._numerics import expm1_minus_x, lgamma_difference, log_cosh, safe_log
from jaxkl.distributions._base import Distribution
from jaxkl.distributions.compound import TransformedDistribution
from jaxkl.distributions.directional import VonMises
from jaxkl.distributions.interval import TruncatedNormal, Uniform
from jaxkl.distributions.positive import Pareto
from jaxkl.distributions.real_line import Cauchy, Laplace, Logistic, StudentT
from jaxkl.distributions.transforms import (
    AffineTransform,
    ExpTransform,
    InverseTransform,
    PowerTransform,
    SigmoidTransform,
    TanhTransform,
    Transform,
)
from jaxkl.kl._broadcast import broadcast_pair

__all__ = ["quadrature_kl", "support_bounds"]

#: ``half width T`` of the trapezoid rule in ``t`` (``y = c + w sinh t``): sinh(6.5) = 332
_T_MAX = 6.5
#: default number of nodes per dtype
_DEFAULT_POINTS = {"float32": 161, "float64": 321}
_ASINH1 = math.asinh(1.0)
_Z_QUARTILE = 0.6744897501960817  # the standard normal's upper quartile

Bounds = tuple[jax.Array, jax.Array]

#: families with a periodic density (of period 2 pi): integrated over one period as p, and
#: defined on the whole line as q
_PERIODIC = (VonMises,)

#: family -> function returning the (low, high) bounds of its support (arrays); for
#: families whose support depends on their parameters. Families with a fixed support
#: constraint need no entry.
SUPPORT_BOUNDS: dict[type, Callable[[Distribution], Bounds]] = {
    Pareto: lambda d: (d.scale, math.inf),
    Uniform: lambda d: (d.low, d.high),
    TruncatedNormal: lambda d: (d.low, d.high),
    # one period: the von Mises density is periodic and integrates to 1 over any period
    VonMises: lambda d: (d.loc - math.pi, d.loc + math.pi),
}


def _constraint_bounds(constraint, dtype) -> tuple[float, float] | None:
    if constraint is C.real or constraint is C.finite:
        return -math.inf, math.inf
    if constraint is C.positive or constraint is C.nonnegative:
        return 0.0, math.inf
    if isinstance(constraint, C._Interval):
        return constraint.low, constraint.high
    return None


def _map_bound(t: Transform, x: jax.Array) -> jax.Array:
    """``t(x)`` for a bound ``x`` (possibly infinite).

    Without the clipping some transforms apply to finite samples (the sigmoid's open
    interval).
    """
    if isinstance(t, SigmoidTransform):
        return jax.nn.sigmoid(x)
    if isinstance(t, InverseTransform) and isinstance(t.base, SigmoidTransform):
        return jnp.log(x) - jnp.log1p(-x)
    if isinstance(t, InverseTransform) and isinstance(t.base, TanhTransform):
        return jnp.arctanh(x)
    if isinstance(
        t, (AffineTransform, ExpTransform, TanhTransform, PowerTransform, InverseTransform)
    ):
        return t(x)
    raise TypeError(f"quadrature_kl: cannot map a support through {type(t).__name__}")


def _increasing(t: Transform, shape) -> jax.Array:
    return jnp.broadcast_to(jnp.asarray(t.sign) > 0, shape)


def support_bounds(d: Distribution) -> Bounds:
    """``(low, high)`` of a univariate distribution's support, arrays of its batch shape.

    Open and closed ends are not distinguished (they differ by a null set). Families whose
    support depends on their parameters are listed in ``SUPPORT_BOUNDS`` (their bound
    functions return finite parameters or the Python float ``inf``); a
    ``TransformedDistribution`` maps its base's bounds through its (monotone) transforms.

    Raises:
        TypeError: the support is not an interval of the real line (a discrete or
            multivariate family), or cannot be determined.
    """
    lo, hi = _bounds(d)[:2]
    return lo, hi


def _finiteness(v, traced_is_finite: bool):
    """Whether a bound is finite everywhere (True), nowhere (False), or unknown (None)."""
    if isinstance(v, jax.core.Tracer):
        return True if traced_is_finite else None
    fin = np.isfinite(np.asarray(v))
    return True if np.all(fin) else (False if not np.any(fin) else None)


def _bounds(d: Distribution):
    """``(low, high, low_is_finite, high_is_finite, static)``.

    The flags are static (None: unknown until run time, e.g. a transform whose sign is
    traced); ``static`` holds the bounds as numpy arrays where they are known at trace
    time (a fixed support), else None.
    """
    dtype = _checks.compute_dtype(*jax.tree_util.tree_leaves(d))
    shape = d.batch_shape

    def out(lo, hi, traced_is_finite):
        # finiteness from the values as given (under jit even constants become tracers
        # once converted)
        flags = _finiteness(lo, traced_is_finite), _finiteness(hi, traced_is_finite)
        static = None
        if not isinstance(lo, jax.core.Tracer) and not isinstance(hi, jax.core.Tracer):
            static = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        lo = jnp.broadcast_to(jnp.asarray(lo, dtype), shape)
        hi = jnp.broadcast_to(jnp.asarray(hi, dtype), shape)
        return (lo, hi, *flags, static)

    if isinstance(d, TransformedDistribution):
        lo, hi = _bounds(d.base_distribution)[:2]
        for t in d.transforms:
            if t.event_dim:
                raise TypeError("quadrature_kl: transforms must be elementwise (event_dim 0)")
            a, b = _map_bound(t, lo), _map_bound(t, hi)
            up = _increasing(t, jnp.shape(a))
            lo, hi = jnp.where(up, a, b), jnp.where(up, b, a)
        return out(lo, hi, False)
    for cls in type(d).__mro__:
        if cls in SUPPORT_BOUNDS:
            lo, hi = SUPPORT_BOUNDS[cls](d)
            # traced bounds are finite parameters, except a truncation's (may be +-inf)
            return out(lo, hi, cls is not TruncatedNormal)
    bounds = _constraint_bounds(d.support, dtype)
    if bounds is None:
        raise TypeError(
            "quadrature_kl needs a univariate continuous distribution on an interval; "
            f"the support of {type(d).__name__} is {getattr(d.support, 'name', d.support)!r}"
        )
    return out(*bounds, False)


#: family -> points where its log density is continuous but not differentiable (a kink):
#: on the real line the integral is split there, so that each piece is smooth and the
#: rule keeps its exponential convergence
KINKS: dict[type, Callable[[Distribution], tuple]] = {
    Laplace: lambda d: (d.loc,),
}


def _kinks(d: Distribution) -> tuple:
    for cls in type(d).__mro__:
        if cls in KINKS:
            return KINKS[cls](d)
    return ()


def _try(fn):
    try:
        return fn()
    except (NotImplementedError, AttributeError, TypeError):
        return None


def _t_quartile(df):
    """A rough upper quartile of the standard Student's t, enough to place nodes.

    Exact at ``df = 1`` and as ``df -> inf``.
    """
    return _Z_QUARTILE + (1 - _Z_QUARTILE) / df


#: families without a quantile function whose quartiles are known or easily bounded
#: (node placement only: the mean and standard deviation mislead for heavy tails)
QUARTILES: dict[type, Callable[[Distribution], tuple]] = {
    Cauchy: lambda d: (d.loc - d.scale, d.loc, d.loc + d.scale),
    StudentT: lambda d: (
        d.loc - d.scale * _t_quartile(d.df),
        d.loc,
        d.loc + d.scale * _t_quartile(d.df),
    ),
    Pareto: lambda d: (
        d.scale * jnp.exp(math.log(4 / 3) / d.alpha),
        d.scale * jnp.exp(math.log(2) / d.alpha),
        d.scale * jnp.exp(math.log(4) / d.alpha),
    ),
}


def _quartiles(d: Distribution):
    """``(q25, q50, q75)`` from the quantile function (or ``QUARTILES``), or None."""
    for cls in type(d).__mro__:
        if cls in QUARTILES:
            return QUARTILES[cls](d)
    if isinstance(d, TransformedDistribution):
        base = _quartiles(d.base_distribution)
        if base is None:
            return None
        q25, q50, q75 = base
        for t in d.transforms:
            a, m, b = t(q25), t(q50), t(q75)
            up = _increasing(t, jnp.shape(a))
            q25, q50, q75 = jnp.where(up, a, b), m, jnp.where(up, b, a)
        return q25, q50, q75
    icdf = getattr(d, "icdf", None)
    if icdf is None:
        return None
    dtype = _checks.compute_dtype(*jax.tree_util.tree_leaves(d))
    u = jnp.asarray([0.25, 0.5, 0.75], dtype).reshape((3,) + (1,) * len(d.batch_shape))
    qs = _try(lambda: icdf(u))
    if qs is None:
        return None
    qs = jnp.broadcast_to(qs, (3,) + d.batch_shape)
    return qs[0], qs[1], qs[2]


def _location_spread(d: Distribution, lo, hi):
    """``(m, q25, q75)``: p's quartiles, or pseudo-quartiles.

    Pseudo-quartiles come from the mean and standard deviation (or ``loc`` and ``scale``)
    where p has no quantile function; they are kept inside the support.
    """
    shape = d.batch_shape
    dtype = lo.dtype
    candidates = []
    qs = _quartiles(d)
    if qs is not None:
        candidates.append(tuple(jnp.broadcast_to(jnp.asarray(v, dtype), shape) for v in qs))
    getters = () if qs is not None else ((lambda: (d.mean, d.stddev)), (lambda: (d.loc, d.scale)))
    for get in getters:
        ms = _try(get)
        if ms is not None:
            m, s = (jnp.broadcast_to(jnp.asarray(v, dtype), shape) for v in ms)
            candidates.append((m - _Z_QUARTILE * s, m, m + _Z_QUARTILE * s))
    # last resort: a point inside the support and a unit spread
    mid = jnp.where(
        jnp.isfinite(lo) & jnp.isfinite(hi),
        0.5 * (lo + hi),
        jnp.where(jnp.isfinite(lo), lo + 1, jnp.where(jnp.isfinite(hi), hi - 1, 0.0)),
    )
    spread = jnp.where(jnp.isfinite(lo) & jnp.isfinite(hi), 0.25 * (hi - lo), 0.5)
    m, a, b = mid, mid - spread, mid + spread
    for qa, qm, qb in reversed(candidates):
        good = (
            jnp.isfinite(qa)
            & jnp.isfinite(qm)
            & jnp.isfinite(qb)
            & (qm > lo)
            & (qm < hi)
            & (qb > qa)
        )
        m, a, b = jnp.where(good, qm, m), jnp.where(good, qa, a), jnp.where(good, qb, b)
    return m, a, b


def _nodes(num_points: int):
    """``(sinh t_k, log cosh t_k, step)`` for the trapezoid rule on ``[-T, T]``, float64 numpy."""
    t = np.linspace(-_T_MAX, _T_MAX, num_points)
    step = float(t[1] - t[0])
    return np.sinh(t), np.log(np.cosh(t)), step


def _check(p, q, num_points):
    for name, d in (("p", p), ("q", q)):
        if not isinstance(d, Distribution):
            raise TypeError(
                f"quadrature_kl: `{name}` must be a jaxkl Distribution, got {type(d).__name__}"
            )
        if d.event_shape != ():
            raise ValueError(
                "quadrature_kl needs univariate distributions (event shape ()), got "
                f"{type(d).__name__} with event shape {d.event_shape}"
            )
    if num_points is not None and (
        isinstance(num_points, bool)
        or not isinstance(num_points, (int, np.integer))
        or num_points < 16
    ):
        raise ValueError(
            f"quadrature_kl: `num_points` must be an int >= 16 or None, got {num_points!r}"
        )


def quadrature_kl(p: Distribution, q: Distribution, *, num_points: int | None = None) -> jax.Array:
    r"""KL(p || q) of two univariate continuous distributions by deterministic quadrature.

    .. math::
        D_{KL}(p \| q) = \int p(x) \log\frac{p(x)}{q(x)}\,dx

    by the double-exponential rule described in :mod:`jaxkl.kl.quadrature`: the trapezoid
    rule on ``num_points`` equally spaced nodes after mapping p's support to the real line
    and its tails to double-exponentially small ones, with nodes placed by p's quartiles.
    Heavy tails (Cauchy, Student's t with ``df >= 1``, log-normal) and integrable end-point
    singularities (Beta, Gamma with concentration below 1) converge as fast as light tails.

    Deterministic, jittable (the function is jitted already; ``num_points`` is static),
    vmappable, and differentiable with respect to both distributions' parameters (the
    nodes move with p's support bounds, so boundary terms are included). Batch shapes
    broadcast as in :func:`~jaxkl.distributions.kl_divergence`.

    ``+inf`` where p's support is not inside q's (decided on the parameter values: e.g.
    ``Uniform(0, 2)`` against ``Uniform(0, 1)``). A KL that is infinite because the
    integral diverges (a Cauchy p against a normal q) is *not* detected: the result is a
    large finite number that grows with ``num_points``; closed forms and the pair
    functions built on this one mask such cases.

    Accuracy (relative, against mpmath; nodes: 161 in float32, 321 in float64): better
    than ``1e-10`` in float64 and ``1e-6`` in float32 for Student's t (``df >= 1.5``),
    Cauchy and log-normal pairs with scale ratios up to 10; near-equal pairs keep their
    relative accuracy where both supports are equal (see the module docstring). Limits: a
    density that is singular at a bound ``b != 0`` loses the mass within rounding of
    ``b`` (``x`` is rounded there before ``log_prob`` sees it), e.g. a Beta with
    ``concentration0 = 0.5`` about ``2e-4`` of its mass in float32.

    Args:
        p: univariate (event shape ``()``) continuous distribution whose support is an
            interval (see :func:`support_bounds`); the expectation is over p.
        q: the same kind of distribution.
        num_points: number of quadrature nodes (an int >= 16, static); default 161 for
            float32 parameters and 321 for float64.

    Returns:
        KL(p || q), shape ``broadcast(p.batch_shape, q.batch_shape)``.

    Raises:
        TypeError: ``p`` or ``q`` is not a distribution, or its support is not an interval.
        ValueError: an event shape is not ``()``, batch shapes do not broadcast, or
            ``num_points`` is not an int >= 16.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> p, q = jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)
        >>> print(f"{jd.quadrature_kl(p, q):.6f} {jd.kl_divergence(p, q):.6f}")
        0.443147 0.443147
        >>> print(f"{jd.quadrature_kl(jd.Cauchy(0.0, 1.0), jd.Cauchy(1.0, 3.0)):.6f}")
        0.348307
    """
    _check(p, q, num_points)
    p, q = broadcast_pair(p, q)
    if num_points is None:
        dtype = _checks.compute_dtype(*jax.tree_util.tree_leaves(p))
        num_points = _DEFAULT_POINTS["float64" if dtype == jnp.float64 else "float32"]
    return _quadrature_kl(p, q, int(num_points))


def _z_shift(p, q, zp: jax.Array) -> jax.Array:
    """``z_q - z_p`` of two location-scale families at a point, from the parameters' differences.

    ``(x - mu_p)(s_p - s_q)/(s_p s_q) + (mu_p - mu_q)/s_q``, written with ``z_p``: exact
    where the parameters are close, unlike the difference of the two standardised values.
    """
    return zp * ((p.scale - q.scale) / q.scale) + (p.loc - q.loc) / q.scale


def _studentt_log_ratio(p: StudentT, q: StudentT, x: jax.Array) -> jax.Array:
    """``log q(x) - log p(x)`` of two Student's t densities, from parameter differences.

    Each of ``log t = G(df) - log(df)/2 - log(scale) - (df + 1)/2 log1p(z^2/df) + const``
    (``G(v) = lgamma((v + 1)/2) - lgamma(v/2)``) is differenced on its own: ``G`` through
    :func:`~jaxkl._numerics.lgamma_difference`, the logarithms as ``log1p`` of relative
    differences, and ``z_q^2/df_q - z_p^2/df_p`` from ``z_q - z_p`` (formed from the
    location and scale differences). So ``d`` keeps its relative accuracy as ``q -> p``,
    where the difference of the two ``log_prob`` would leave an absolute error of ``eps``.
    """
    dp, dq = p.df, q.df
    dd = dq - dp
    g = lgamma_difference(0.5 * (dp + 1), 0.5 * dd) - lgamma_difference(0.5 * dp, 0.5 * dd)
    zp = (x - p.loc) / p.scale
    zq = (x - q.loc) / q.scale
    dz = _z_shift(p, q, zp)
    b = zp * zp / dp
    # z_q^2/df_q - z_p^2/df_p = (df_p (z_q - z_p)(z_q + z_p) - z_p^2 (df_q - df_p)) / (df_p df_q)
    a_minus_b = (dp * dz * (zq + zp) - zp * zp * dd) / (dp * dq)
    log_ratio_terms = 0.5 * dd * jnp.log1p(zq * zq / dq) + 0.5 * (dp + 1) * jnp.log1p(
        a_minus_b / (1 + b)
    )
    return g - 0.5 * jnp.log1p(dd / dp) - jnp.log1p((q.scale - p.scale) / p.scale) - log_ratio_terms


def _logistic_log_ratio(p: Logistic, q: Logistic, x: jax.Array) -> jax.Array:
    """``log q(x) - log p(x)`` of two logistic densities, from parameter differences.

    ``log f = -z - log s - 2 softplus(-z)``; with ``dz = z_q - z_p`` (from the location and
    scale differences) ``softplus(-z_q) - softplus(-z_p) = log1p(sigmoid(-z_p) expm1(-dz))``.
    """
    zp = (x - p.loc) / p.scale
    zq = (x - q.loc) / q.scale
    dz = _z_shift(p, q, zp)
    near = jnp.abs(dz) < 0.5  # elsewhere (far in the tails) the direct difference is fine
    soft_near = jnp.log1p(jax.nn.sigmoid(-zp) * jnp.expm1(-jnp.where(near, dz, 0.0)))
    soft_far = jax.nn.softplus(-zq) - jax.nn.softplus(-zp)
    soft = jnp.where(near, soft_near, soft_far)
    return -jnp.where(near, dz, zq - zp) - jnp.log1p((q.scale - p.scale) / p.scale) - 2.0 * soft


def _as_studentt(d: Cauchy) -> StudentT:
    return StudentT(jnp.ones_like(d.loc), d.loc, d.scale, validate_args=False)


#: ``log q(x) - log p(x)`` written without the cancellation of two ``log_prob`` calls, for
#: the pairs whose KL is this quadrature and whose distributions may be nearly equal
_LOG_RATIOS: dict[tuple[type, type], Callable] = {
    (StudentT, StudentT): _studentt_log_ratio,
    (Logistic, Logistic): _logistic_log_ratio,
    # a Cauchy is a Student's t with one degree of freedom
    (StudentT, Cauchy): lambda p, q, x: _studentt_log_ratio(p, _as_studentt(q), x),
    (Cauchy, StudentT): lambda p, q, x: _studentt_log_ratio(_as_studentt(p), q, x),
}


@functools.partial(jax.jit, static_argnums=(2,))
def _quadrature_kl(p: Distribution, q: Distribution, num_points: int) -> jax.Array:
    p_lo, p_hi, fin_lo, fin_hi, p_static = _bounds(p)
    q_lo, q_hi, _, _, q_static = _bounds(q)
    dtype = _checks.compute_dtype(p_lo, q_lo)
    if p_static is not None and q_static is not None and not isinstance(q, _PERIODIC):
        # fixed supports (Normal against Exponential ...): decided without integrating
        if not np.any((q_static[0] <= p_static[0]) & (p_static[1] <= q_static[1])):
            return jnp.full(p_lo.shape, jnp.inf, dtype)
    p_lo, p_hi, q_lo, q_hi = (jnp.asarray(v, dtype) for v in (p_lo, p_hi, q_lo, q_hi))
    periodic = isinstance(p, _PERIODIC) and isinstance(q, _PERIODIC)
    if isinstance(q, _PERIODIC):  # a periodic q has a density on the whole line
        q_lo, q_hi = jnp.full_like(q_lo, -jnp.inf), jnp.full_like(q_hi, jnp.inf)
    inside = (q_lo <= p_lo) & (p_hi <= q_hi)
    # both periodic: q integrates to 1 over p's period too
    same_support = ((q_lo == p_lo) & (q_hi == p_hi)) | periodic

    # the kind of p's support: static where the bounds' finiteness is known at trace time
    # (every family but a TransformedDistribution with traced transform signs), else
    # decided per element
    if fin_lo is None or fin_hi is None:
        fl, fh = jnp.isfinite(p_lo), jnp.isfinite(p_hi)
        kinds = {"real": ~fl & ~fh, "lower": fl & ~fh, "upper": ~fl & fh, "interval": fl & fh}
    else:
        kind = {(False, False): "real", (True, False): "lower", (False, True): "upper"}.get(
            (fin_lo, fin_hi), "interval"
        )
        kinds = {kind: None}
    fl, fh = jnp.isfinite(p_lo), jnp.isfinite(p_hi)
    lo_s = jnp.where(fl, p_lo, 0.0)
    hi_s = jnp.where(fh, p_hi, 1.0)

    # -- node placement (no gradient): quartiles in the unconstrained coordinate y ----------
    m, qa, qb = jax.tree_util.tree_map(jax.lax.stop_gradient, _location_spread(p, p_lo, p_hi))
    lo_c, hi_c = jax.lax.stop_gradient(lo_s), jax.lax.stop_gradient(hi_s)
    s_real = 0.5 * (qb - qa)
    sinh_t, log_cosh_t, step = _nodes(num_points)
    batch = (1,) * len(p_lo.shape)
    sinh_t = jnp.asarray(sinh_t, dtype).reshape((-1,) + batch)
    log_dy_t = jnp.asarray(log_cosh_t, dtype).reshape((-1,) + batch)
    finfo = jnp.finfo(dtype)
    # nodes reach finfo.max**(1/3) spreads from the centre: cubes of standardised values
    # cannot overflow inside a log_prob (whose gradient would then be NaN)
    log_r = math.log(float(finfo.max)) / 3
    tiny = 1e-300 if dtype == jnp.float64 else 1e-37

    def place(to_y):
        ya, ym, yb = to_y(qa), to_y(m), to_y(qb)
        c = jnp.where(jnp.isfinite(ym), ym, 0.0)
        w = jnp.abs(yb - ya) / (2 * _ASINH1)
        w = jnp.where(jnp.isfinite(w) & (w > 1e-6), jnp.minimum(w, 1e3), 1.0)
        return c, c + w * sinh_t, jnp.log(w) + log_dy_t

    def real():
        _, y, log_dy = place(lambda x: jnp.arcsinh((x - m) / s_real))
        y_max = math.log(2.0) + log_r  # sinh(y_max) = finfo.max**(1/3)
        yc = jnp.clip(y, -y_max, y_max)
        return (
            m + s_real * jnp.sinh(yc),
            jnp.log(s_real) + log_cosh(yc) + log_dy,
            jnp.abs(y) <= y_max,
            m,
        )

    def half(sign, end, end_c):
        c, y, log_dy = place(lambda x: safe_log(sign * (x - end_c)))
        yc = jnp.minimum(y, c + log_r)
        return end + sign * jnp.exp(yc), yc + log_dy, y <= c + log_r, end + sign * jnp.exp(c)

    def interval(lo_s, hi_s, lo_c, hi_c):
        width, width_c = hi_s - lo_s, hi_c - lo_c

        def to_y(x):
            f = jnp.clip((x - lo_c) / width_c, tiny, 1.0)
            return safe_log(f) - jnp.log1p(-jnp.where(f < 1, f, 0.5))

        c, y, log_dy = place(to_y)
        lj = jnp.log(width) + jax.nn.log_sigmoid(y) + jax.nn.log_sigmoid(-y) + log_dy
        return (
            lo_s + width * jax.nn.sigmoid(y),
            lj,
            jnp.ones(y.shape, bool),
            lo_s + width * jax.nn.sigmoid(c),
        )

    def from_kink(sign, k, k_c):
        # a half-line from a kink: p's quartiles beyond it place the nodes; where p's mass
        # straddles the kink, its spread does (the density is smooth up to the kink)
        ds = [sign * (v - k_c) for v in (qa, m, qb)]
        near, far = jnp.minimum(ds[0], ds[2]), jnp.maximum(ds[0], ds[2])
        c = jnp.log(jnp.where(ds[1] > s_real, ds[1], s_real))
        w = jnp.log(far / jnp.where(near > 0, near, 1.0)) / (2 * _ASINH1)
        w = jnp.where((near > 0) & (w > 1e-6), jnp.minimum(w, 1.0), 1.0)
        y = c + w * sinh_t
        yc = jnp.minimum(y, c + log_r)
        return k + sign * jnp.exp(yc), yc + jnp.log(w) + log_dy_t, y <= c + log_r

    def between_kinks(lo, hi, lo_c, hi_c):
        # [k_i, k_(i+1)] by the logistic map, centred at p's median clipped to a spread
        # from the ends (p's mass, if here, sits at the kink that is p's own)
        width, width_c = hi - lo, hi_c - lo_c
        safe_w = jnp.where(width_c > 0, width_c, 1.0)
        edge = jnp.minimum(0.5, s_real / safe_w)
        f = jnp.clip((m - lo_c) / safe_w, edge, 1.0 - edge)
        y = jnp.log(f) - jnp.log1p(-f) + sinh_t
        lj = jnp.log(width) + jax.nn.log_sigmoid(y) + jax.nn.log_sigmoid(-y) + log_dy_t
        return lo + width * jax.nn.sigmoid(y), lj, jnp.ones(y.shape, bool)

    def real_split(ks):
        # (-inf, k_1], [k_1, k_2], ..., [k_n, inf): each piece with the full rule
        ks = jnp.sort(jnp.stack(jnp.broadcast_arrays(*ks)).astype(dtype), axis=0)
        ks_c = jax.lax.stop_gradient(ks)
        pieces = [from_kink(-1.0, ks[0], ks_c[0])]
        for i in range(len(ks) - 1):
            pieces.append(between_kinks(ks[i], ks[i + 1], ks_c[i], ks_c[i + 1]))
        pieces.append(from_kink(1.0, ks[-1], ks_c[-1]))
        x, lj, ok = (jnp.concatenate(jnp.broadcast_arrays(*v), axis=0) for v in zip(*pieces))
        return x, lj, ok, m

    # kinks split a real line known at trace time (a support decided per element keeps
    # one piece, so that every kind has the same nodes)
    kinks = _kinks(p) + _kinks(q) if set(kinds) == {"real"} else ()
    maps = {
        "real": (lambda: real_split(kinks)) if kinks else real,
        "lower": lambda: half(1.0, lo_s, lo_c),
        "upper": lambda: half(-1.0, hi_s, hi_c),
        "interval": lambda: interval(lo_s, hi_s, lo_c, hi_c),
    }
    parts = {k: maps[k]() for k in kinds}
    if len(parts) == 1:
        x, log_jac, ok, x0 = next(iter(parts.values()))
    else:
        x, log_jac, ok, x0 = parts["interval"]
        for k in ("upper", "lower", "real"):
            x, log_jac, ok, x0 = (
                jnp.where(kinds[k], a, b) for a, b in zip(parts[k], (x, log_jac, ok, x0))
            )
    ok = ok & jnp.isfinite(x) & jnp.isfinite(log_jac)
    ok = ok & jnp.where(fl, x > p_lo, True) & jnp.where(fh, x < p_hi, True)

    # A first pass without gradients finds the nodes where a log density is not finite:
    # outside a support after rounding, or p underflowing to 0 far out in a tail (a
    # Gumbel's left tail). The differentiated pass evaluates those nodes at a point inside
    # the support instead (double-where: no NaN gradient from the untaken branch).
    x0_ok = jnp.where(ok, x, x0)
    p_sg, q_sg, x_sg = jax.lax.stop_gradient((p, q, x0_ok))
    lp0, lq0 = p_sg.log_prob(x_sg), q_sg.log_prob(x_sg)
    # where p underflows but q does not, the integrand p (e^d - 1 - d) is exactly q
    q_only = ok & (lp0 == -jnp.inf) & jnp.isfinite(lq0)
    good = ok & jnp.isfinite(lp0) & jnp.isfinite(lq0)
    lp = p.log_prob(jnp.where(good, x, x0))
    lq = q.log_prob(jnp.where(good | q_only, x, x0))
    lp = jnp.where(good, lp, 0.0)
    lq = jnp.where(good | q_only, lq, 0.0)
    lj_p = jnp.where(good, log_jac, -jnp.inf)
    lj_q = jnp.where(good | q_only, log_jac, -jnp.inf)
    d = lq - lp
    log_ratio = _LOG_RATIOS.get((type(p), type(q)))
    if log_ratio is not None:
        d = jnp.where(good, log_ratio(p, q, jnp.where(good, x, x0)), d)
    # p (e^d - 1 - d): the series below d = 1, else q - p (1 + d) (no overflow of e^d)
    small = good & (d <= 1.0)
    d_small = jnp.where(small, d, 0.0)
    d_large = jnp.where(small, 2.0, d)
    mass_p = jnp.exp(lp + lj_p)
    mass_q = jnp.exp(lq + lj_q)
    term = jnp.where(small, mass_p * expm1_minus_x(d_small), mass_q - mass_p * (1.0 + d_large))
    nonneg = step * jnp.sum(term, axis=0)
    mass_diff = step * jnp.sum(mass_p - mass_q, axis=0)
    # Both forms integrate the same function; they differ by the rule's error on
    # int (p - q) = 0 (equal supports). That error is rounding where p ~ q (then the
    # non-negative form is the accurate one) and a q under-resolved by nodes placed for p
    # where q's mass sits far in p's tail (then the difference cancels it): the
    # non-negative form is used only while the difference is at the rounding level.
    # the rounding bound of the second sum: eps times the masses and log-densities summed
    noise = (
        8
        * float(finfo.eps)
        * step
        * jnp.sum((mass_p + mass_q) * (1 + jnp.abs(lp) + jnp.abs(lq)), axis=0)
    )
    use_nonneg = same_support & (jnp.abs(mass_diff) <= noise)
    value = nonneg + jnp.where(use_nonneg, 0.0, mass_diff)
    return jnp.where(inside, value, jnp.inf)
