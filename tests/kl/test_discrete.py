"""Quirks of the discrete KLs (the generic pair tests run from pairs_discrete.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special, stats

from jaxkl import distributions as jd

mp.mp.dps = 50


def test_categorical_zero_probabilities_contribute_zero_and_q_zero_gives_inf():
    p = jnp.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    q = jnp.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.2], [0.0, 0.5, 0.5]])
    kl = jd.kl_divergence(jd.Categorical(probs=p), jd.Categorical(probs=q))
    want0 = 0.4 * np.log(0.4 / 0.3) + 0.6 * np.log(0.6 / 0.5)
    want1 = 0.5 * np.log(0.5 / 0.5) + 0.5 * np.log(0.5 / 0.3)
    np.testing.assert_allclose(kl[:2], [want0, want1], rtol=1e-5)
    assert kl[2] == np.inf
    # the same with -inf logits
    kl_l = jd.kl_divergence(jd.Categorical(logits=jnp.log(p)), jd.Categorical(logits=jnp.log(q)))
    np.testing.assert_allclose(kl_l[:2], [want0, want1], rtol=1e-5)
    assert kl_l[2] == np.inf


@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical_gradients_are_never_nan_at_zero_probabilities(param):
    p = jnp.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    q = jnp.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    if param == "logits":  # differentiate w.r.t. the logits themselves (-inf entries included)
        p, q = jnp.log(p), jnp.log(q)

    def total(a, b):
        kl = jd.kl_divergence(jd.Categorical(**{param: a}), jd.Categorical(**{param: b}))
        return jnp.sum(jnp.where(jnp.isfinite(kl), kl, 0.0))

    for g in jax.grad(total, argnums=(0, 1))(p, q):
        assert not np.any(np.isnan(np.asarray(g))), g
    gq = jax.grad(total, argnums=1)(p, q)
    assert np.all(np.isfinite(np.asarray(gq[0])))


def test_bernoulli_degenerate_cases():
    a = jnp.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5])
    b = jnp.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    kl = jd.kl_divergence(jd.Bernoulli(probs=a), jd.Bernoulli(probs=b))
    np.testing.assert_array_equal(kl, [0.0, np.inf, 0.0, np.inf, np.inf, np.inf])


def _mp_bern(a, b):
    a, b = mp.mpf(float(a)), mp.mpf(float(b))
    t1 = a * mp.log(a / b) if a > 0 else 0
    t0 = (1 - a) * mp.log((1 - a) / (1 - b)) if a < 1 else 0
    return float(t1 + t0)


@pytest.mark.parametrize(
    "a, b",
    [
        (1e-30, 0.5),
        (0.5, 1e-30),
        (1e-30, 2e-30),
        (np.float32(1 - 2**-24), 0.5),
        (0.3, np.float32(1 - 2**-24)),
        (1e-20, 1.1e-20),
        (0.999, 0.9991),
    ],
)
def test_bernoulli_extreme_probs_match_mpmath_in_float32(a, b):
    a32, b32 = np.float32(a), np.float32(b)
    got = float(jd.kl_divergence(jd.Bernoulli(probs=a32), jd.Bernoulli(probs=b32)))
    want = _mp_bern(a32, b32)
    assert abs(got - want) <= 1e-4 * want, (got, want)


@pytest.mark.parametrize(
    "la, lb", [(80.0, 70.0), (-80.0, -79.0), (30.0, 30.0003), (-200.0, 5.0), (5.0, -200.0)]
)
def test_bernoulli_extreme_logits_are_finite_and_accurate(la, lb):
    got = float(
        jd.kl_divergence(jd.Bernoulli(logits=np.float32(la)), jd.Bernoulli(logits=np.float32(lb)))
    )
    sa, sb = (1 / (1 + mp.exp(-mp.mpf(float(np.float32(x))))) for x in (la, lb))
    want = float(sa * mp.log(sa / sb) + (1 - sa) * mp.log((1 - sa) / (1 - sb)))
    assert np.isfinite(got)
    assert abs(got - want) <= 1e-4 * want, (got, want)


@pytest.mark.parametrize("r, s", [(1e6, 1e6 * (1 + 1e-5)), (1e-30, 1.0), (1e8, 1.0), (3.0, 1e-30)])
def test_poisson_extreme_rates_match_mpmath(r, s):
    r32, s32 = np.float32(r), np.float32(s)
    got = float(jd.kl_divergence(jd.Poisson(r32), jd.Poisson(s32)))
    R, S = mp.mpf(float(r32)), mp.mpf(float(s32))
    want = float(R * mp.log(R / S) - R + S)
    assert abs(got - want) <= 1e-4 * want, (got, want)


def test_where_torch_returns_nan_or_inf_we_return_the_mathematics():
    """Point-mass edge cases, where torch returns NaN or inf.

    torch: KL(Poi(0)||Poi(s)) = NaN, KL(Bern(0)||Poi(0)) = NaN, KL(Geom(1)||Geom(1)) = inf,
    KL(Poi(0)||Bern(b)) = KL(Poi(0)||Bin(n, b)) = inf. Poi(0) and Bern(0) are point masses
    at 0, so the values below follow from the definition.
    """
    np.testing.assert_allclose(
        jd.kl_divergence(jd.Poisson(jnp.array([0.0, 0.0])), jd.Poisson(jnp.array([0.0, 2.0]))),
        [0.0, 2.0],
    )
    assert float(jd.kl_divergence(jd.Bernoulli(probs=0.0), jd.Poisson(0.0))) == 0.0
    assert float(jd.kl_divergence(jd.Geometric(probs=1.0), jd.Geometric(probs=1.0))) == 0.0
    np.testing.assert_allclose(
        float(jd.kl_divergence(jd.Poisson(0.0), jd.Bernoulli(probs=0.3))), -np.log(0.7), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(jd.kl_divergence(jd.Poisson(0.0), jd.Binomial(4, probs=0.3))),
        -4 * np.log(0.7),
        rtol=1e-6,
    )
    assert float(jd.kl_divergence(jd.Poisson(0.5), jd.Binomial(4, probs=0.3))) == np.inf


def _binomial_kl_by_enumeration(n_p, a, n_q, b):
    k = np.arange(n_p + 1)
    lp = stats.binom(n_p, a).logpmf(k)
    return float(np.sum(np.exp(lp) * (lp - stats.binom(n_q, b).logpmf(k))))


@pytest.mark.parametrize("transform", ["eager", "jit"])
def test_binomial_with_fewer_trials_in_p_is_the_exact_finite_kl(transform):
    """Torch raises NotImplementedError for p.total_count < q.total_count; we sum the support."""
    n_p = jnp.array([3.0, 5.0, 0.0, 5.0, 7.0])
    n_q = jnp.array([8.0, 5.0, 4.0, 20.0, 2.0])
    a = jnp.array([0.3, 0.6, 0.2, 0.999, 0.4])
    b = jnp.array([0.55, 0.2, 0.3, 0.01, 0.5])

    def f(pn, pa, qn, qb):
        return jd.kl_divergence(jd.Binomial(pn, probs=pa), jd.Binomial(qn, probs=qb))

    if transform == "jit":
        f = jax.jit(f)
    got = np.asarray(f(n_p, a, n_q, b))
    want = [
        _binomial_kl_by_enumeration(int(n_p[i]), float(a[i]), int(n_q[i]), float(b[i]))
        for i in range(4)
    ]
    np.testing.assert_allclose(got[:4], want, rtol=2e-4)
    assert got[4] == np.inf


def test_binomial_fewer_trials_gradient_matches_finite_differences():
    def kl(a, b):
        return jd.kl_divergence(jd.Binomial(4.0, probs=a), jd.Binomial(9.0, probs=b))

    ga, gb = jax.jit(jax.grad(kl, argnums=(0, 1)))(0.35, 0.6)
    h = 1e-3
    fa = (
        _binomial_kl_by_enumeration(4, 0.35 + h, 9, 0.6)
        - _binomial_kl_by_enumeration(4, 0.35 - h, 9, 0.6)
    ) / (2 * h)
    fb = (
        _binomial_kl_by_enumeration(4, 0.35, 9, 0.6 + h)
        - _binomial_kl_by_enumeration(4, 0.35, 9, 0.6 - h)
    ) / (2 * h)
    np.testing.assert_allclose([ga, gb], [fa, fb], rtol=1e-3)


def test_categorical_needs_the_same_number_of_categories():
    with pytest.raises(ValueError, match="same number of categories"):
        jd.kl_divergence(jd.Categorical(logits=jnp.zeros(3)), jd.Categorical(logits=jnp.zeros(4)))


def test_mixed_parametrisations_agree_with_single_ones():
    x = jnp.array([-2.0, 0.3, 4.0])
    y = jnp.array([1.0, 0.2, -3.0])
    ref = jd.kl_divergence(jd.Bernoulli(logits=x), jd.Bernoulli(logits=y))
    mixed = jd.kl_divergence(jd.Bernoulli(probs=jax.nn.sigmoid(x)), jd.Bernoulli(logits=y))
    np.testing.assert_allclose(mixed, ref, rtol=1e-5)
    cref = jd.kl_divergence(
        jd.Categorical(logits=jnp.stack([x, y])), jd.Categorical(logits=jnp.stack([y, x]))
    )
    cmix = jd.kl_divergence(
        jd.Categorical(probs=jax.nn.softmax(jnp.stack([x, y]))),
        jd.Categorical(logits=jnp.stack([y, x])),
    )
    np.testing.assert_allclose(cmix, cref, rtol=1e-5)


def _mp_binomial_kl(n_p, a, n_q, b, terms=10):
    """KL(Bin(n_p, a) || Bin(n_q, b)), n_p < n_q, at 40 digits: an asymptotic reference.

    ``E[h(k)]`` for ``h(k) = lgamma(n_q - k + 1) - lgamma(n_p - k + 1)`` as the Taylor series
    of ``h`` at p's mean against p's exact central moments (from the Bernoulli cumulants);
    for the rows below its last terms are below 1e-12 of the KL (asserted).
    """
    n_p, a, n_q, b = (mp.mpf(float(v)) for v in (n_p, a, n_q, b))
    mu = n_p * a
    bern = mp.taylor(lambda t: mp.log(1 - a + a * mp.exp(t)), 0, terms)
    kappa = [n_p * bern[r] * mp.factorial(r) for r in range(terms + 1)]
    kappa[1] = 0
    m = [mp.mpf(1)] + [mp.mpf(0)] * terms
    for r in range(1, terms + 1):
        m[r] = mp.fsum(mp.binomial(r - 1, i - 1) * kappa[i] * m[r - i] for i in range(1, r + 1))

    def h(j, x):
        if j == 0:
            return mp.loggamma(n_q - x + 1) - mp.loggamma(n_p - x + 1)
        return (-1) ** j * (mp.polygamma(j - 1, n_q - x + 1) - mp.polygamma(j - 1, n_p - x + 1))

    series = [h(j, mu) * m[j] / mp.factorial(j) for j in range(terms + 1)]
    kl_bern = a * mp.log(a / b) + (1 - a) * mp.log((1 - a) / (1 - b))
    kl = n_p * kl_bern - (n_q - n_p) * mp.log(1 - b) + mp.fsum(series) - h(0, mp.mpf(0))
    assert abs(series[-1]) + abs(series[-2]) < 1e-12 * kl
    return float(kl)


# (n_p, a, n_q, b, reference): "enum" sums scipy's pmf over the whole support (only for
# small counts: scipy's float64 logpmf itself is off by 3e-7 relative at n = 4e9); "mp" is
# the 40-digit asymptotic series above. Rows cover the exact window (p's sd <= 18.7), the
# trapezoid window, both edges of the support, and counts 1 apart.
_BINOMIAL_ROWS = [
    (10, 0.3, 20, 0.3, "enum"),
    (50, 0.01, 80, 0.2, "enum"),
    (400, 0.9, 500, 0.7, "enum"),
    (300, 0.5, 301, 0.5, "enum"),
    (2000, 0.999, 2500, 0.99, "enum"),
    (1e5, 0.3, 2e5, 0.3, "mp"),
    (1e8, 0.3, 2e8, 0.3, "mp"),
    (3e9, 0.3, 4e9, 0.3, "mp"),
    (1e6, 1e-5, 1e7, 1e-4, "mp"),
    (1e4, 0.2, 1e4 + 5, 0.2, "mp"),
    (1e12, 0.5, 1e12 + 1e6, 0.4, "mp"),
]


@pytest.mark.x64
def test_binomial_fewer_trials_is_accurate_for_any_counts_in_fixed_time():
    """One fixed-size program serves every row (one compile), to 1e-9 relative.

    Issue 11.1: the old support loop gave 11783.8 for (1e5, 2e5) (true 12212.1), -inf after
    20 s for (1e8, 2e8) and 3.57e8 for (3e9, 4e9) (true 5.66e7). The gradient matches
    finite differences on both windows.
    """
    import time

    n_p, a, n_q, b = (jnp.array([r[i] for r in _BINOMIAL_ROWS], jnp.float64) for i in range(4))
    f = jax.jit(
        lambda n1, a, n2, b: jd.kl_divergence(jd.Binomial(n1, probs=a), jd.Binomial(n2, probs=b))
    )
    got = np.asarray(f(n_p, a, n_q, b))
    start = time.perf_counter()
    f(n_p, a, n_q, b).block_until_ready()
    assert time.perf_counter() - start < 2.0
    for row, value in zip(_BINOMIAL_ROWS, got):
        n1, pa, n2, qb, ref = row
        want = (
            _binomial_kl_by_enumeration(int(n1), pa, int(n2), qb)
            if ref == "enum"
            else _mp_binomial_kl(n1, pa, n2, qb)
        )
        assert abs(value - want) <= 1e-9 * want, (row, value, want)
    # gradient w.r.t. p's probability, on the exact and the trapezoid window
    g = jax.jit(jax.grad(lambda a: jnp.sum(f(n_p, a, n_q, b))))(a)
    h = 1e-6 * a
    fd = (f(n_p, a + h, n_q, b) - f(n_p, a - h, n_q, b)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5)


# --- negative binomial: the count series' proven bounds, and both of its paths ---------------


def _mp_nb_gap(r1, r2, p1):
    """``B(r1) - E B(K + r1)``, ``B(x) = lgamma(x + δ) - lgamma(x) - δ ψ(x)``, by mpmath."""
    r1, r2, p1 = mp.mpf(r1), mp.mpf(r2), mp.mpf(p1)
    d = r2 - r1

    def bregman(x):
        return mp.loggamma(x + d) - mp.loggamma(x) - d * mp.digamma(x)

    def pmf(k):
        return mp.exp(
            mp.loggamma(k + r1)
            - mp.loggamma(k + 1)
            - mp.loggamma(r1)
            + k * mp.log(p1)
            + r1 * mp.log1p(-p1)
        )

    return bregman(r1) - mp.nsum(lambda k: pmf(k) * bregman(k + r1), [0, mp.inf])


def _mp_poisson_lgamma_mean(lam, r):
    """``E[lgamma(K + r)] - lgamma(r)`` for K ~ Poisson(lam), by mpmath."""
    lam, r = mp.mpf(lam), mp.mpf(r)

    def term(k):
        weight = mp.exp(k * mp.log(lam) - lam - mp.loggamma(k + 1))
        return weight * (mp.loggamma(k + r) - mp.loggamma(r))

    return mp.fsum(term(k) for k in range(int(lam + 60 * mp.sqrt(lam) + 200)))


_NB_GAP_ROWS = [
    (3.0, 5.0, 0.3),
    (0.5, 7.0, 0.8),
    (8.0, 0.3, 0.9),
    (2.0, 4.0, 0.97),
    (40.0, 39.0, 0.5),
]
_POISSON_ROWS = [(5.0, 0.5), (20.0, 8.0), (0.2, 0.3), (60.0, 2.0)]


@pytest.mark.x64
@pytest.mark.parametrize("n", [6, 24, 96])
def test_count_series_error_is_within_its_proven_bound(monkeypatch, n):
    """The series leave out no more than their bounds say, against mpmath.

    With few terms (so that the bounds bite): ``0 <= exact - series <= bound`` for the NB
    gap, ``|exact - series| <= bound`` for the Poisson log-gamma mean.
    """
    from jaxkl.kl import counts

    mp.mp.dps = 30
    monkeypatch.setitem(counts._SERIES_TERMS, "float64", n)
    r1, r2, p1 = (jnp.array([row[i] for row in _NB_GAP_ROWS], jnp.float64) for i in range(3))
    series, bound = counts._nb_gap_series(r1, r2, jnp.log(p1), jnp.log1p(-p1))
    bites = 0
    for row, s, b in zip(_NB_GAP_ROWS, np.asarray(series), np.asarray(bound)):
        exact = float(_mp_nb_gap(*row))
        left_out = exact - s
        assert -1e-14 * exact <= left_out <= b + 1e-14 * exact, (n, row, s, exact, b)
        bites += left_out > 1e-10 * exact
    lam, r = (jnp.array([row[i] for row in _POISSON_ROWS], jnp.float64) for i in range(2))
    series, bound = counts._poisson_lgamma_series(lam, r)
    for row, s, b in zip(_POISSON_ROWS, np.asarray(series), np.asarray(bound)):
        exact = float(_mp_poisson_lgamma_mean(*row))
        assert abs(exact - s) <= b + 1e-13 * abs(exact), (n, row, s, exact, b)
        bites += abs(exact - s) > 1e-10 * abs(exact)
    if n == 6:
        assert bites >= 6  # the truncation is real at 6 terms: the bound is what is tested


@pytest.mark.x64
def test_negative_binomial_kls_take_the_series_or_the_integral_and_both_are_exact():
    """Batches of small means take the series (every bound passes), others the integral.

    Each KL is within 1e-10 of a float64 summation of the definition (the NB-NB and
    Poisson-NB rows' reference in tests/kl/pairs_discrete.py), and the nearly equal row
    (KL 2e-13, where that summation cancels) of mpmath's: for the series-only half of the
    batch and for the whole batch (the integral).
    """
    from jaxkl.kl import counts
    from tests.kl.pairs_discrete import (
        _mp_kl_nb_counts,
        _nb_lp,
        _nb_mean,
        _nb_sd,
        _series_reference,
    )

    r1 = jnp.array([3.0, 2.0, 0.7, 30.0], jnp.float64)
    p1 = jnp.array([0.3, 0.995, 0.5, 0.99], jnp.float64)
    r2 = jnp.array([5.0, 4.0, 0.7 * (1 + 1e-6), 31.0], jnp.float64)
    p2 = jnp.array([0.4, 0.99, 0.5, 0.99], jnp.float64)
    bound, scale = counts._nb_gap_bound(r1, r2, jnp.log(p1), jnp.log1p(-p1))
    took_series = np.asarray(bound <= counts._SERIES_ULPS * 2.2e-16 * scale)
    assert took_series.tolist() == [True, False, True, False]
    reference = _series_reference(_nb_lp, _nb_lp, _nb_mean, _nb_sd)
    want = reference({"total_count": r1, "probs": p1}, {"total_count": r2, "probs": p2})
    mp.mp.dps = 40
    want[2] = _mp_kl_nb_counts(
        {"total_count": mp.mpf(float(r1[2])), "logits": mp.mpf(0)},
        {"total_count": mp.mpf(float(r2[2])), "logits": mp.mpf(0)},
    )
    kl = jax.jit(
        lambda a, b, c, d: jd.kl_divergence(
            jd.NegativeBinomial(a, probs=b), jd.NegativeBinomial(c, probs=d)
        )
    )
    np.testing.assert_allclose(kl(r1, p1, r2, p2), want, rtol=1e-10)
    small = np.array([0, 2])
    np.testing.assert_allclose(
        kl(r1[small], p1[small], r2[small], p2[small]), want[small], rtol=1e-10
    )

    lam = jnp.array([5.0, 900.0], jnp.float64)
    bound, scale = counts._poisson_lgamma_bound(lam, jnp.full_like(lam, 3.0))
    assert (np.asarray(bound) <= 4 * 2.2e-16 * np.asarray(scale)).tolist() == [True, False]
    want = _series_reference(
        lambda k, a: k * np.log(a["rate"]) - a["rate"] - special.gammaln(k + 1),
        _nb_lp,
        lambda a: a["rate"],
        lambda a: np.sqrt(a["rate"]),
    )({"rate": lam}, {"total_count": 3.0, "probs": 0.5})
    kl = jax.jit(lambda a: jd.kl_divergence(jd.Poisson(a), jd.NegativeBinomial(3.0, probs=0.5)))
    np.testing.assert_allclose(kl(lam), want, rtol=1e-10)
    np.testing.assert_allclose(kl(lam[:1]), want[:1], rtol=1e-10)


# -- closed ends of the constraint tables ---------------------------------------------------
# Each pair: p's and q's family, the parameter drawn and the fixed keywords. The values are
# drawn from the parameter's constraint, its closed ends (probs = 0 or 1, rate = 0) included,
# not only from the interior.
_END_PAIRS = [
    ((jd.Bernoulli, "probs", {}), (jd.Bernoulli, "probs", {})),
    ((jd.Geometric, "probs", {}), (jd.Geometric, "probs", {})),
    ((jd.Binomial, "probs", {"total_count": 5.0}), (jd.Binomial, "probs", {"total_count": 5.0})),
    (
        (jd.NegativeBinomial, "probs", {"total_count": 3.0}),
        (jd.NegativeBinomial, "probs", {"total_count": 3.0}),
    ),
    ((jd.Poisson, "rate", {}), (jd.Poisson, "rate", {})),
    ((jd.ProbitBernoulli, "probs", {}), (jd.ProbitBernoulli, "probs", {})),
    ((jd.Bernoulli, "probs", {}), (jd.Poisson, "rate", {})),
    ((jd.Poisson, "rate", {}), (jd.Bernoulli, "probs", {})),
    ((jd.Poisson, "rate", {}), (jd.Binomial, "probs", {"total_count": 5.0})),
    ((jd.Poisson, "rate", {}), (jd.NegativeBinomial, "probs", {"total_count": 3.0})),
]


def _closed_ends(constraint):
    """The admitted ends of an interval constraint (a non-negative one: 0) and its interior."""
    if isinstance(constraint, jd.constraints._Interval):
        ends = [
            v
            for v, closed in (
                (constraint.low, constraint.closed_low),
                (constraint.high, constraint.closed_high),
            )
            if closed
        ]
        return ends, (constraint.low, constraint.high)
    assert constraint is jd.constraints.nonnegative
    return [0.0], (0.0, 50.0)


def _parameter_values(constraint):
    ends, (low, high) = _closed_ends(constraint)
    interior = st.floats(low, high, exclude_min=True, exclude_max=True, width=32)
    return hnp.arrays(np.float32, (8,), elements=st.one_of(st.sampled_from(ends), interior))


def _value_and_grads(p_side, q_side):
    (p_cls, p_name, p_fixed), (q_cls, q_name, q_fixed) = p_side, q_side

    def total(a, b):
        kl = jd.kl_divergence(p_cls(**{p_name: a}, **p_fixed), q_cls(**{q_name: b}, **q_fixed))
        return jnp.sum(kl), kl

    return jax.jit(jax.grad(total, argnums=(0, 1), has_aux=True))


def _constraint(side):
    cls, name, _ = side
    return cls.arg_constraints[name]


@pytest.mark.parametrize("pair", _END_PAIRS, ids=lambda r: f"{r[0][0].__name__}-{r[1][0].__name__}")
def test_gradients_at_the_closed_ends_of_the_constraints(pair):
    p_side, q_side = pair
    f = _value_and_grads(p_side, q_side)
    same_family = p_side == q_side  # then a == b means p == q

    @settings(max_examples=30, deadline=None, database=None)
    @given(a=_parameter_values(_constraint(p_side)), b=_parameter_values(_constraint(q_side)))
    def check(a, b):
        (ga, gb), kl = f(a, b)
        kl, ga, gb = np.asarray(kl), np.asarray(ga), np.asarray(gb)
        assert not np.any(np.isnan(kl)), (a, b, kl)
        # never NaN; a derivative past float's range (d/da of Geom(a) at a = 1e-30 is
        # about -1e60) is +-inf
        assert not np.any(np.isnan(ga)) and not np.any(np.isnan(gb)), (a, b, ga, gb)
        if same_family:
            equal = a == b
            np.testing.assert_array_equal(kl[equal], 0.0)

    # the ends themselves, every combination: finite gradients there
    grids = [np.array(_closed_ends(_constraint(side))[0] + [0.3], np.float32) for side in pair]
    a, b = (np.resize(x.ravel(), 8) for x in np.meshgrid(*grids))
    (ga, gb), _ = f(a, b)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb)), (a, b, ga, gb)
    check.hypothesis.inner_test(a, b)
    check()


def test_values_and_gradients_at_the_ends_match_the_formulas():
    """KLs at probabilities 0 and 1 and rate 0, against float64 values of their formulas.

    Point masses: Poi(0), Bern(0) and Bin(n, 0), NB(r, 0) at 0; Bern(1) at 1, Bin(n, 1) at n,
    Geom(1) at 0 failures, so each KL is ``-log q(x)`` at that point (or the Poisson and
    Bernoulli-Poisson formulas with ``0 log 0 = 0``). Gradients: the derivative with the
    ``0 log 0`` term held at 0 (Poisson: ``d/da (-a + b) = -1``, ``d/db = 1``; Bernoulli at
    ``a = 1``: ``d/da a log(a/b) = 1 - log b``, ``d/db = -1/b``).
    """
    b = 0.3
    log, log1m = np.log(b), np.log1p(-b)
    log_c83 = np.log(special.comb(8, 3))
    cases = [
        (jd.Poisson(0.0), jd.Poisson(b), b),
        (jd.Poisson(0.0), jd.Poisson(0.0), 0.0),
        (jd.Poisson(2.0), jd.Poisson(0.0), np.inf),
        (jd.Bernoulli(probs=0.0), jd.Bernoulli(probs=b), -log1m),
        (jd.Bernoulli(probs=1.0), jd.Bernoulli(probs=b), -log),
        (jd.Bernoulli(probs=1.0), jd.Bernoulli(probs=1.0), 0.0),
        (jd.Bernoulli(probs=0.5), jd.Bernoulli(probs=1.0), np.inf),
        (jd.Geometric(probs=1.0), jd.Geometric(probs=b), -log),
        (jd.Geometric(probs=0.5), jd.Geometric(probs=1.0), np.inf),
        (jd.Binomial(5.0, probs=1.0), jd.Binomial(5.0, probs=b), -5 * log),
        (jd.Binomial(5.0, probs=0.0), jd.Binomial(5.0, probs=b), -5 * log1m),
        (jd.Binomial(5.0, probs=0.5), jd.Binomial(5.0, probs=1.0), np.inf),
        (jd.Binomial(3.0, probs=0.0), jd.Binomial(8.0, probs=b), -8 * log1m),
        (jd.Binomial(3.0, probs=1.0), jd.Binomial(8.0, probs=b), -(log_c83 + 3 * log + 5 * log1m)),
        (jd.Binomial(3.0, probs=0.5), jd.Binomial(8.0, probs=1.0), np.inf),
        (jd.NegativeBinomial(3.0, probs=0.0), jd.NegativeBinomial(3.0, probs=b), -3 * log1m),
        (jd.NegativeBinomial(3.0, probs=0.0), jd.NegativeBinomial(5.0, probs=b), -5 * log1m),
        (jd.NegativeBinomial(3.0, probs=0.5), jd.NegativeBinomial(3.0, probs=0.0), np.inf),
        (jd.Bernoulli(probs=0.0), jd.Poisson(b), b),
        (jd.Bernoulli(probs=1.0), jd.Poisson(b), b - log),
        (jd.Bernoulli(probs=0.5), jd.Poisson(0.0), np.inf),
        (jd.Poisson(0.0), jd.Bernoulli(probs=b), -log1m),
        (jd.Poisson(0.0), jd.Bernoulli(probs=1.0), np.inf),
        (jd.Poisson(0.0), jd.Binomial(5.0, probs=b), -5 * log1m),
        (jd.Poisson(0.0), jd.NegativeBinomial(3.0, probs=b), -3 * log1m),
    ]
    for p, q, want in cases:
        got = float(jd.kl_divergence(p, q))
        # float32: a few ulps of the largest term (the Binomial rows sum terms up to 4)
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"{p} || {q}")

    def grads(family, a, b):
        return jax.grad(lambda a, b: jd.kl_divergence(family(a), family(b)), argnums=(0, 1))(a, b)

    np.testing.assert_allclose(grads(jd.Poisson, 0.0, b), [-1.0, 1.0], rtol=1e-6)
    bern = lambda a: jd.Bernoulli(probs=a)  # noqa: E731
    np.testing.assert_allclose(grads(bern, 1.0, b), [1.0 - log, -1.0 / b], rtol=1e-6)
