"""Tests of the numerically delicate helpers in jaxkl/_numerics/, each on its own."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import _numerics as _nx


# -- the per-outcome term p log(p/q) - p + q (discrete KLs) --------------------------------------
def test_outcome_term_is_accurate_near_equal_and_handles_zeros():
    # KL(Poi(p) || Poi(q)) is the term itself (jaxkl.kl.discrete._outcome_kl_term)
    import mpmath as mp

    from jaxkl import distributions as jd

    def term(p, q):
        return jd.kl_divergence(jd.Poisson(p), jd.Poisson(q))

    mp.mp.dps = 50
    p = jnp.array([3.0, 3.0, 1e-30, 5.0], jnp.float32)
    q = jnp.array([3.0003, 2.9999997, 1.0, 100.0], jnp.float32)
    got = np.asarray(term(p, q), np.float64)
    for g, a, b in zip(got, np.asarray(p, np.float64), np.asarray(q, np.float64)):
        A, B = mp.mpf(float(a)), mp.mpf(float(b))
        want = float(A * mp.log(A / B) - A + B)
        assert abs(g - want) <= 1e-5 * want, (a, b, g, want)
    np.testing.assert_array_equal(
        term(jnp.array([0.0, 1.0, 0.0]), jnp.array([2.0, 0.0, 0.0])), [2.0, np.inf, 0.0]
    )
    g = jax.grad(lambda x: jnp.sum(term(x, jnp.array([1.0, 0.0, 2.0]))))(jnp.array([0.0, 0.0, 1.0]))
    assert not np.any(np.isnan(np.asarray(g)))


def test_log_of_product_is_one_log_and_survives_underflowing_ratios():
    """``log(num * inv)`` within 4 ulps of float64 logs, also where ``num * inv`` underflows.

    Every pair of ``num, den`` in ``[1e-30, 1e30]`` (float32, ``inv = 1/den`` rounded):
    products down to 1e-60, far below float32's smallest normal; ``+inf`` exactly where the
    product overflows.
    """
    vals = np.geomspace(1e-30, 1e30, 241).astype(np.float32)
    num, den = (a.ravel() for a in np.meshgrid(vals, vals))
    inv = (np.float32(1) / den).astype(np.float32)
    got = np.asarray(jax.jit(_nx.log_of_product)(num, inv), np.float64)
    want = np.log(num.astype(np.float64)) + np.log(inv.astype(np.float64))
    overflows = want > np.log(np.finfo(np.float32).max)
    np.testing.assert_array_equal(np.isposinf(got), overflows)  # documented: +inf there
    err = np.abs(got - want)[~overflows] / np.maximum(1.0, np.abs(want[~overflows]))
    assert err.max() <= 4 * np.finfo(np.float32).eps, err.max() / np.finfo(np.float32).eps
    # the naive single log is what it fixes: -inf where the product underflows
    naive = np.asarray(jax.jit(lambda n, i: jnp.log(n * i))(num, inv))
    assert np.isneginf(naive).any()


def test_kl_from_log_ratios_matches_mpmath_near_equal_and_far():
    import mpmath as mp

    from jaxkl._numerics import kl_from_log_ratios

    mp.mp.dps = 50
    p = np.array([0.2, 0.3, 0.5], np.float32)
    for eps in (1e-6, 1e-3, 1.0, 60.0):
        # a constant offset is allowed; the reference uses the exact float32 inputs
        delta = (eps * np.array([1.0, -0.5, 0.1]) + 0.25).astype(np.float32)
        got = float(kl_from_log_ratios(jnp.asarray(p), jnp.asarray(delta)))
        P = [mp.mpf(float(x)) for x in p]
        P = [a / mp.fsum(P) for a in P]
        Z = mp.fsum(a * mp.exp(mp.mpf(float(d))) for a, d in zip(P, delta))
        want = float(mp.fsum(a * (mp.log(Z) - mp.mpf(float(d))) for a, d in zip(P, delta)))
        assert abs(got - want) <= 1e-4 * want, (eps, got, want)
    # zero weights contribute nothing, -inf log-ratio with positive weight is +inf
    w = jnp.array([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])
    d = jnp.array([[jnp.nan, 0.0, 0.0], [-jnp.inf, 0.0, jnp.inf]])
    np.testing.assert_array_equal(kl_from_log_ratios(w, d), [0.0, np.inf])
    # q's mass outside p's support: KL(p || q) = KL(p || q restricted) - log(1 - mass)
    np.testing.assert_allclose(
        kl_from_log_ratios(
            jnp.array([0.0, 1.0]), jnp.array([0.0, 0.0]), q_mass_outside=jnp.array(0.75)
        ),
        np.log(4.0),
        rtol=1e-6,
    )


# --- continuous-family helpers: log_sinhc family, log-gamma and digamma differences ----------


def _mp_log_sinhc(h):
    h = mp.mpf(h)
    return mp.mpf(0) if h == 0 else mp.log(mp.sinh(h) / h)


def _mp_coth_minus_inv(h):
    h = mp.mpf(h)
    return mp.mpf(0) if h == 0 else mp.coth(h) - 1 / h


_HS = [0.0, 1e-6, -3e-3, 0.2, -0.99, 1.0, 1.7, -5.0, 30.0]


def test_log_sinhc_and_derivatives_match_mpmath_in_float32():
    mp.mp.dps = 50
    h = jnp.asarray(_HS, jnp.float32)
    got = np.asarray(_nx.log_sinhc(h), np.float64)
    got_d = np.asarray(_nx.coth_minus_inv(h), np.float64)
    got_dd = np.asarray(_nx.log_sinhc_second_derivative(h), np.float64)
    for i, x in enumerate(np.asarray(h, np.float64)):
        want = float(_mp_log_sinhc(x))
        want_d = float(_mp_coth_minus_inv(x))
        want_dd = float(mp.diff(_mp_coth_minus_inv, x)) if x != 0 else 1 / 3
        assert abs(got[i] - want) <= 2e-6 * abs(want) + 1e-30, (x, got[i], want)
        assert abs(got_d[i] - want_d) <= 2e-6 * abs(want_d) + 1e-30, (x, got_d[i], want_d)
        assert abs(got_dd[i] - want_dd) <= 2e-6 * abs(want_dd) + 1e-30, (x, got_dd[i], want_dd)


_BREGMAN_CASES = [
    (0.3, 1e-6),
    (0.3, -2e-5),
    (0.9, 0.3),
    (1.2, 1e-5),
    (1.2, -1.0),
    (3.0, 2.0),
    (0.01, 3.0),
    (2.0, -1.99),
    (-0.5, 0.2),
    (-3.0, 4.0),
    (40.0, 1e-3),
    (-7.0, -1e-4),
]


@pytest.mark.parametrize("hp,delta", _BREGMAN_CASES)
def test_log_sinhc_bregman_matches_mpmath_in_float32(hp, delta):
    mp.mp.dps = 50
    a, d = np.float32(hp), np.float32(delta)
    got = float(_nx.log_sinhc_bregman(jnp.asarray(a), jnp.asarray(d)))
    a_, d_ = mp.mpf(float(a)), mp.mpf(float(d))
    want = _mp_log_sinhc(a_ + d_) - _mp_log_sinhc(a_) - d_ * _mp_coth_minus_inv(a_)
    assert abs(got - float(want)) <= 2e-6 * float(want), (got, float(want))


@pytest.mark.parametrize(
    "a,d",
    [
        (2.0, 1e-5),
        (2.0, -3e-4),
        (0.3, 5.0),
        (5.0, -4.0),
        (1e-3, -5e-4),
        (1e-3, 2e-8),
        (1e4, 0.3),
        (1e4, -30.0),
    ],
)
def test_lgamma_and_digamma_differences_match_mpmath_in_float32(a, d):
    mp.mp.dps = 50
    a32, d32 = np.float32(a), np.float32(d)
    aj, dj = jnp.asarray(a32), jnp.asarray(d32)
    a_, d_ = mp.mpf(float(a32)), mp.mpf(float(d32))
    want_lg = float(mp.loggamma(a_ + d_) - mp.loggamma(a_))
    want_dg = float(mp.digamma(a_ + d_) - mp.digamma(a_))
    got_lg = float(_nx.lgamma_difference(aj, dj))
    got_dg = float(_nx.digamma_difference(aj, dj))
    # relative to the value (loose where the difference itself is a sum of O(d) terms)
    assert abs(got_lg - want_lg) <= 2e-6 * abs(want_lg) + 1e-7 * abs(float(d32)), (got_lg, want_lg)
    assert abs(got_dg - want_dg) <= 2e-6 * abs(want_dg), (got_dg, want_dg)


def test_naive_lgamma_difference_is_what_the_helper_fixes():
    """The float32 naive difference is far off where the helper is accurate (why it exists)."""
    a, d = jnp.float32(7.0), jnp.float32(1e-5)
    naive = float(jax.scipy.special.gammaln(a + d) - jax.scipy.special.gammaln(a))
    want = float(mp.loggamma(mp.mpf(7.0) + mp.mpf(float(d))) - mp.loggamma(7))
    assert abs(naive - want) > 1e-3 * abs(want)
    assert abs(float(_nx.lgamma_difference(a, d)) - want) <= 2e-6 * abs(want)


# --- modified Bessel functions (directional families) ----------------------------------------

_BESSEL_X = np.geomspace(1e-6, 1e6, 25)
_BESSEL_X = np.sort(np.concatenate([_BESSEL_X, [11.99, 12.0, 12.01, 29.99, 30.0, 30.01]]))


def _mp_bessel_terms(nu, x):
    """(log_ive, log_normalized, ratio, one_minus_ratio, ratio_over_x) at 50 digits."""
    with mp.workdps(50):
        x = mp.mpf(x)
        i0, i1 = mp.besseli(nu, x), mp.besseli(nu + 1, x)
        norm = mp.log(mp.gamma(nu + 1) * (2 / x) ** nu * i0)
        return [
            float(v) for v in (mp.log(i0) - x, norm, norm - x, i1 / i0, 1 - i1 / i0, i1 / (i0 * x))
        ]


@pytest.mark.parametrize("d", [2, 3, 5, 16, 128])
def test_bessel_terms_match_mpmath_in_float32(d):
    """Every Bessel quantity to ~1e-6 relative over x in [1e-6, 1e6], across both branches."""
    nu = 0.5 * d - 1
    x32 = jnp.asarray(_BESSEL_X, jnp.float32)
    got = jax.jit(lambda x: _nx.bessel_i_terms(nu, x))(x32)
    names = [
        "log_ive",
        "log_normalized",
        "log_normalized_minus_x",
        "ratio",
        "one_minus_ratio",
        "ratio_over_x",
    ]
    want = np.array([_mp_bessel_terms(nu, float(v)) for v in np.asarray(x32, np.float64)])
    for j, name in enumerate(names):
        g = np.asarray(getattr(got, name), np.float64)
        rel = np.abs(g - want[:, j]) / np.abs(want[:, j])
        # 1 - A from the series just below the switch (x ~ 12, 1 - A ~ 0.04) keeps ~1e-5
        tol = 2e-5 if name == "one_minus_ratio" else 2e-6
        assert np.all(rel < tol), (
            f"{name}: worst rel err {rel.max():.2e} at x={_BESSEL_X[rel.argmax()]}"
        )


@pytest.mark.x64
@pytest.mark.parametrize("d", [2, 3, 5, 16, 128])
def test_bessel_terms_match_mpmath_in_float64(d):
    nu = 0.5 * d - 1
    got = _nx.bessel_i_terms(nu, jnp.asarray(_BESSEL_X, jnp.float64))
    names = [
        "log_ive",
        "log_normalized",
        "log_normalized_minus_x",
        "ratio",
        "one_minus_ratio",
        "ratio_over_x",
    ]
    want = np.array([_mp_bessel_terms(nu, float(v)) for v in _BESSEL_X])
    for j, name in enumerate(names):
        rel = np.abs(np.asarray(getattr(got, name)) - want[:, j]) / np.abs(want[:, j])
        assert np.all(rel < 1e-12), (
            f"{name}: worst rel err {rel.max():.2e} at x={_BESSEL_X[rel.argmax()]}"
        )


def test_bessel_terms_have_finite_gradients_at_zero_and_huge_arguments():
    x = jnp.asarray([0.0, 1e-6, 12.0, 1e6], jnp.float32)
    for nu in (0.0, 63.0):

        @functools.partial(jax.jit, static_argnums=1)
        def grads(v, nu):
            t = _nx.bessel_i_terms(nu, v)
            total = jax.grad(
                lambda w, nu=nu: jnp.sum(
                    _nx.bessel_i_terms(nu, w).log_normalized + _nx.bessel_i_terms(nu, w).ratio
                )
            )(v)
            # d/dx log(Gamma(nu+1) (2/x)^nu I_nu(x)) = I_nu'/I_nu - nu/x = A_nu(x)
            dlog = jax.grad(lambda w, nu=nu: jnp.sum(_nx.bessel_i_terms(nu, w).log_normalized))(v)
            return total, dlog, t.ratio

        g, dlog, ratio = grads(x, nu)
        assert np.all(np.isfinite(np.asarray(g))), (nu, g)
        np.testing.assert_allclose(dlog, ratio, rtol=2e-5, atol=1e-12)


def test_bessel_terms_at_zero_and_on_both_branches():
    x = jnp.asarray([0.0, 0.5, 40.0], jnp.float32)
    want = np.array([_mp_bessel_terms(1.5, v) for v in (0.5, 40.0)])
    terms = jax.jit(lambda v: _nx.bessel_i_terms(1.5, v))(x)
    np.testing.assert_allclose(terms.log_ive[1:], want[:, 0], rtol=1e-6)
    np.testing.assert_allclose(terms.ratio[1:], want[:, 3], rtol=1e-6)
    assert terms.log_ive[0] == -np.inf and terms.ratio[0] == 0.0


def test_naive_log_bessel_ratio_loses_what_the_helper_keeps():
    """Jax's i0e/i1e give 1 - A_0 with ~kappa*eps error at large kappa; the helper does not."""
    import jax.scipy.special as jsp

    k = jnp.float32(1e5)
    with mp.workdps(50):
        want = float(1 - mp.besseli(1, 1e5) / mp.besseli(0, 1e5))
    naive = float(1 - jsp.i1e(k) / jsp.i0e(k))
    ours = float(_nx.bessel_i_terms(0.0, k).one_minus_ratio)
    assert abs(ours - want) / want < 1e-6
    assert abs(naive - want) / want > 1e-3


@pytest.mark.parametrize("kp", [1e-3, 0.3, 2.0, 9.9, 10.0, 30.0, 1e3, 1e6])
def test_log_bessel_i0_bregman_matches_mpmath_in_float32(kp):
    eps = np.array([5.0, 0.5, 0.1, 1e-2, 1e-3, 1e-5, -1e-4, -0.05, -0.5])
    a = jnp.full(eps.shape, kp, jnp.float32)
    b = jnp.asarray(kp * (1 + eps), jnp.float32)
    got = np.asarray(jax.jit(_nx.log_bessel_i0_bregman)(a, b), np.float64)
    with mp.workdps(50):
        for g, x, y in zip(got, np.asarray(a, np.float64), np.asarray(b, np.float64)):
            x, y = mp.mpf(float(x)), mp.mpf(float(y))
            want = mp.log(mp.besseli(0, y) / mp.besseli(0, x)) - mp.besseli(1, x) / mp.besseli(
                0, x
            ) * (y - x)
            assert abs(g - float(want)) <= 1e-4 * float(want), (float(x), float(y), g, float(want))


def test_log_bessel_i0_bregman_gradients_match_mpmath_in_float32():
    """The custom JVP: ``dB/dkq = A(kq) - A(kp)``, ``dB/dkp = -A'(kp) (kq - kp)``.

    Near ``kq = kp`` both are ``O(kq - kp)`` differences of ``O(1)`` quantities; every row
    of the grid (the value test's concentrations and steps) in one compile.
    """
    kps = np.array([1e-3, 0.3, 2.0, 7.0, 9.9, 10.0, 11.9, 12.5, 30.0, 1e3, 1e6])
    eps = np.array([5.0, 0.5, 0.1, 1e-2, 1e-3, 1e-5, -1e-4, -0.05, -0.2, -0.5])
    a = jnp.asarray(np.repeat(kps, eps.size), jnp.float32)
    b = jnp.asarray(np.repeat(kps, eps.size) * (1 + np.tile(eps, kps.size)), jnp.float32)
    grads = jax.jit(jax.grad(lambda x, y: jnp.sum(_nx.log_bessel_i0_bregman(x, y)), (0, 1)))
    gp, gq = (np.asarray(g, np.float64) for g in grads(a, b))
    assert np.all(np.isfinite(gp)) and np.all(np.isfinite(gq))
    with mp.workdps(50):
        for i, (x, y) in enumerate(zip(np.asarray(a, np.float64), np.asarray(b, np.float64))):
            x, y = mp.mpf(float(x)), mp.mpf(float(y))
            ratio = [mp.besseli(1, k) / mp.besseli(0, k) for k in (x, y)]
            want_q = float(ratio[1] - ratio[0])
            want_p = float(-(1 - ratio[0] / x - ratio[0] ** 2) * (y - x))
            assert abs(gq[i] - want_q) <= 3e-4 * abs(want_q), (float(x), float(y), gq[i], want_q)
            assert abs(gp[i] - want_p) <= 3e-4 * abs(want_p), (float(x), float(y), gp[i], want_p)


# -- x_minus_log1p, log1p_minus_x, expm1_minus_x (near-zero cancellations) ----------------------
_SMALL_AND_LARGE = np.array(
    [
        -0.9,
        -0.6,
        -0.5,
        -0.49,
        -0.1,
        -1e-3,
        -1e-6,
        -1e-20,
        1e-20,
        1e-6,
        1e-3,
        0.1,
        0.49,
        0.5,
        0.7,
        3.0,
        1e3,
    ]
)


def _mp_reference(fn, xs, dtype):
    import mpmath as mp

    with mp.workdps(50):
        return np.array([float(fn(mp.mpf(float(dtype(x))))) for x in xs])


def test_log1p_cancellation_helpers_match_mpmath_in_float32():
    import mpmath as mp

    from jaxkl._numerics import log1p_minus_x, x_minus_log1p

    x32 = jnp.asarray(_SMALL_AND_LARGE, jnp.float32)
    expected = _mp_reference(lambda x: x - mp.log1p(x), _SMALL_AND_LARGE, np.float32)
    tiny = float(np.finfo(np.float32).tiny)  # x**2/2 at x = 1e-20 is subnormal: flushed to 0
    np.testing.assert_allclose(
        np.asarray(x_minus_log1p(x32), np.float64), expected, rtol=4e-7, atol=tiny
    )
    np.testing.assert_allclose(
        np.asarray(log1p_minus_x(x32), np.float64), -expected, rtol=4e-7, atol=tiny
    )
    assert np.all(np.asarray(x_minus_log1p(x32)) >= 0.0)
    # the helper is needed: the naive float32 difference is mostly rounding at x = -1e-6
    naive = np.asarray(x32 - jnp.log1p(x32), np.float64)
    assert np.abs(naive[6] - expected[6]) > 1e-2 * expected[6]


def test_expm1_minus_x_matches_mpmath_in_float32():
    import mpmath as mp

    from jaxkl._numerics import expm1_minus_x

    xs = np.array([-20.0, -3.0, -0.5, -0.49, -1e-3, -1e-8, 1e-8, 1e-3, 0.49, 0.5, 3.0, 20.0])
    expected = _mp_reference(lambda x: mp.expm1(x) - x, xs, np.float32)
    out = np.asarray(expm1_minus_x(jnp.asarray(xs, jnp.float32)), np.float64)
    np.testing.assert_allclose(out, expected, rtol=4e-7)


def test_log1p_cancellation_helpers_have_finite_gradients():
    from jaxkl._numerics import expm1_minus_x, x_minus_log1p

    xs = jnp.asarray([-0.9, -0.5, -1e-6, 0.0, 1e-6, 0.5, 3.0], jnp.float32)
    g = jax.vmap(jax.grad(x_minus_log1p))(xs)
    np.testing.assert_allclose(
        g, np.asarray(xs, np.float64) / (1.0 + np.asarray(xs, np.float64)), rtol=1e-5, atol=1e-7
    )
    g = jax.vmap(jax.grad(expm1_minus_x))(xs)
    np.testing.assert_allclose(g, np.expm1(np.asarray(xs, np.float64)), rtol=1e-5, atol=1e-7)


# -- lgamma_bregman (multivariate group: Dirichlet KL) ----------------------------------------
@pytest.mark.parametrize("x", [1e-3, 0.1, 0.7, 3.3, 12.0, 150.0, 1e4])
@pytest.mark.parametrize("rel", [1e-6, 1e-3, 0.3, -0.3, 0.9, -5.0, -100.0])
def test_lgamma_bregman_matches_mpmath_in_float32(x, rel):
    mp.mp.dps = 50
    xf, hf = np.float32(x), np.float32(x * rel)
    got = float(_nx.lgamma_bregman(jnp.asarray(xf), jnp.asarray(hf)))
    X, H = mp.mpf(float(xf)), mp.mpf(float(hf))
    want = float(mp.loggamma(X - H) - mp.loggamma(X) + H * mp.digamma(X))
    assert abs(got - want) <= 2e-5 * want, (got, want)


def test_lgamma_bregman_has_finite_gradients_at_zero_step():
    g = jax.grad(lambda x, h: _nx.lgamma_bregman(x, h), argnums=(0, 1))(
        jnp.float32(2.0), jnp.float32(0.0)
    )
    assert all(np.isfinite(np.asarray(v)) for v in g)


# -- kumaraswamy_log_ratio_mean, normal_expectation (Kumaraswamy-Beta, LogitNormal) -----------
def test_kumaraswamy_log_ratio_mean_matches_mpmath():
    import mpmath as mp

    from jaxkl._numerics import kumaraswamy_log_ratio_mean

    mp.mp.dps = 30
    a = np.array([0.05, 0.1, 0.2, 1.0, 2.0, 50.0, 3.0], np.float32)
    b = np.array([20.0, 0.1, 5.0, 2.0, 3.0, 0.3, 100.0], np.float32)
    got = np.asarray(kumaraswamy_log_ratio_mean(jnp.asarray(a), jnp.asarray(b)), np.float64)
    for g, x, y in zip(got, a, b):
        A, B = mp.mpf(float(x)), mp.mpf(float(y))

        def integrand(
            s, A=A, B=B
        ):  # over s = log V, V = (1 - X^a)^b uniform; -log phi(t) with log t = s / b
            lt = s / B
            l1t = mp.log1p(-mp.exp(lt)) if lt < -1 else mp.log(-mp.expm1(lt))
            return -(mp.log(-mp.expm1(l1t / A)) - lt) * mp.exp(s)

        want = float(mp.quad(integrand, [-mp.inf, -50, -10, -1, mp.mpf("-1e-3"), 0]))
        assert abs(g - want) <= 2e-7 * max(1.0, abs(want)), (x, y, g, want)
    grads = jax.grad(lambda a, b: jnp.sum(kumaraswamy_log_ratio_mean(a, b)), argnums=(0, 1))(
        jnp.asarray(a), jnp.asarray(b)
    )
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


def test_normal_expectation_matches_quadrature_at_large_scales():
    from scipy import integrate, special, stats

    from jaxkl._numerics import normal_expectation

    loc = np.array([0.0, 1.5, -3.0])
    scale = np.array([0.1, 4.0, 10.0])
    got = np.asarray(
        normal_expectation(
            jax.nn.sigmoid, jnp.asarray(loc, jnp.float32), jnp.asarray(scale, jnp.float32)
        )
    )
    for g, m, s in zip(got, loc, scale):
        want = integrate.quad(
            lambda y, m=m, s=s: special.expit(y) * stats.norm(m, s).pdf(y),
            -np.inf,
            np.inf,
            epsabs=1e-13,
        )[0]
        assert abs(g - want) <= 2e-6, (m, s, g, want)


# -- log_ndtr_difference, weighted_expm1_minus_x (ProbitBernoulli) ------------------------------
def test_log_ndtr_difference_matches_mpmath_near_far_and_extreme():
    import mpmath as mp

    from jaxkl._numerics import log_ndtr_difference

    mp.mp.dps = 400  # log Φ(30) = -5e-198 needs the digits

    def log_phi(x):
        return mp.log1p(-mp.ncdf(-x)) if x > 0 else mp.log(mp.ncdf(x))

    pairs = [
        (0.3, 0.300003),
        (0.5, 0.5000001),
        (-5.0, -4.9),
        (2.0, 2.1),
        (-10.0, -10.02),
        (-30.0, 30.0),
        (30.0, -30.0),
        (-30.0, -30.0003),
        (1.0, -1.0),
    ]
    a = jnp.array([x for x, _ in pairs], jnp.float32)
    b = jnp.array([y for _, y in pairs], jnp.float32)
    got = np.asarray(log_ndtr_difference(a, b), np.float64)
    for g, x, y in zip(got, np.asarray(a, np.float64), np.asarray(b, np.float64)):
        want = float(log_phi(mp.mpf(y)) - log_phi(mp.mpf(x)))
        tol = 2e-5 if min(x, y) < -20 else 2e-6  # log_ndtr(-30) ~ -454 carries an ulp of 3e-5
        assert abs(g - want) <= tol * abs(want), (x, y, g, want)
    grads = jax.grad(lambda u, v: jnp.sum(log_ndtr_difference(u, v)), argnums=(0, 1))(a, b)
    assert all(np.all(np.isfinite(np.asarray(gr))) for gr in grads)


def test_weighted_expm1_minus_x_small_large_and_underflowed_weight():
    import mpmath as mp

    from jaxkl._numerics import weighted_expm1_minus_x

    mp.mp.dps = 50
    log_w = jnp.array([-0.5, -2.0, -454.0, -1.0], jnp.float32)
    d = jnp.array([1e-4, 3.0, 454.3, -0.9], jnp.float32)
    got = np.asarray(weighted_expm1_minus_x(log_w, d), np.float64)
    for g, lw, dd in zip(got, np.asarray(log_w, np.float64), np.asarray(d, np.float64)):
        want = float(mp.exp(mp.mpf(lw)) * (mp.expm1(mp.mpf(dd)) - mp.mpf(dd)))
        assert abs(g - want) <= 1e-5 * want, (lw, dd, g, want)
    grads = jax.grad(lambda u, v: jnp.sum(weighted_expm1_minus_x(u, v)), argnums=(0, 1))(log_w, d)
    assert all(np.all(np.isfinite(np.asarray(gr))) for gr in grads)


# -- log-ratios and logits from differences (closed forms of the continuous families) ----------
_EPS32 = float(np.finfo(np.float32).eps)


def _rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want) / np.maximum(np.abs(want), 1e-300)


def test_log_ratio_keeps_relative_accuracy_near_one_and_range_far():
    num = np.float32([3.0, 7.0000005, 0.25, 1e-30, 1e30])
    den = np.float32([2.9999998, 7.0, 0.2500001, 1e30, 1e-30])
    got = _nx.log_ratio(jnp.asarray(num), jnp.asarray(den))
    with mp.workdps(50):
        want = [float(mp.log(mp.mpf(float(a)) / mp.mpf(float(b)))) for a, b in zip(num, den)]
    assert np.all(_rel_err(got, want) <= 4 * _EPS32), _rel_err(got, want)
    # the difference of logs is what it fixes: near 1 it keeps only eps absolute
    naive = np.log(num.astype(np.float32)) - np.log(den.astype(np.float32))
    assert _rel_err(naive, want)[0] > 1e-2


def test_two_product_is_exact_and_log_of_product_near_one_keeps_relative_accuracy():
    a = np.float32([3.0, 7.0, 1.1, 1e20, 5e-20])
    b = (np.float32(1) / a).astype(np.float32)  # a b = 1 up to one rounding
    p, e = _nx.two_product(jnp.asarray(a), jnp.asarray(b))
    exact = a.astype(np.float64) * b.astype(np.float64)  # 48 bits: exact in float64
    np.testing.assert_array_equal(np.asarray(p, np.float64) + np.asarray(e, np.float64), exact)
    got = _nx.log_of_product_near_one(jnp.asarray(a), jnp.asarray(b))
    with mp.workdps(50):
        want = [float(mp.log(mp.mpf(float(x)) * mp.mpf(float(y)))) for x, y in zip(a, b)]
    nonzero = np.asarray(want) != 0
    assert np.all(_rel_err(got, want)[nonzero] <= 4 * _EPS32), _rel_err(got, want)
    np.testing.assert_array_equal(np.asarray(got)[~nonzero], 0.0)
    far = _nx.log_of_product_near_one(jnp.float32(1e20), jnp.float32(3e-10))
    np.testing.assert_allclose(far, np.log(3e10), rtol=4 * _EPS32)


def test_squared_ratio_minus_one_minus_log_of_matches_mpmath():
    num = np.float32([1.0, 1.0000001, 0.9999, 1.3, 1e-20, 1e15])
    den = np.float32([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    got = _nx.squared_ratio_minus_one_minus_log_of(jnp.asarray(num), jnp.asarray(den))
    with mp.workdps(50):
        rho = [mp.mpf(float(x)) / mp.mpf(float(y)) for x, y in zip(num, den)]
        want = [float(r * r - 1 - 2 * mp.log(r)) for r in rho]
    np.testing.assert_array_equal(np.asarray(got)[0], 0.0)
    assert np.all(_rel_err(got, want)[1:] <= 8 * _EPS32), _rel_err(got, want)


def test_logit_and_logit_difference_match_mpmath():
    p = np.float32([0.5, 0.5000001, 0.3, 0.74, 1e-30, 0.9999999])
    got = _nx.logit(jnp.asarray(p))
    with mp.workdps(50):
        want = [float(mp.log(mp.mpf(float(x)) / (1 - mp.mpf(float(x))))) for x in p]
    nonzero = np.asarray(want) != 0
    assert np.all(_rel_err(got, want)[nonzero] <= 4 * _EPS32), _rel_err(got, want)
    p1 = np.float32([0.3, 0.5, 0.9, 1e-6])
    p2 = np.float32([0.30000001, 0.5000001, 0.8999999, 1.1e-6])
    got = _nx.logit_difference(jnp.asarray(p1), jnp.asarray(p2))
    with mp.workdps(50):

        def lg(x):
            x = mp.mpf(float(x))
            return mp.log(x / (1 - x))

        want = [float(lg(b) - lg(a)) for a, b in zip(p1, p2)]
    assert np.all(_rel_err(got, want) <= 8 * _EPS32), _rel_err(got, want)


def test_log_cosh_matches_float64_and_does_not_overflow():
    """``log cosh`` to a few ulp of ``log 2`` absolute (its use: log-densities), any ``y``."""
    y = np.float32([0.0, 1e-3, -0.7, 5.0, -40.0])
    np.testing.assert_allclose(_nx.log_cosh(jnp.asarray(y)), np.log(np.cosh(y.astype(np.float64))),
                               rtol=4 * _EPS32, atol=2 * _EPS32)  # fmt: skip
    np.testing.assert_allclose(_nx.log_cosh(jnp.float32(200.0)), 200.0 - np.log(2.0), rtol=1e-7)


def test_log_ndtr_interval_matches_mpmath_in_both_tails_and_with_infinite_ends():
    inf = np.inf
    pairs = [(-inf, 0.0), (1.0, inf), (-inf, inf), (-1.0, 1.0), (5.0, 6.0), (-6.0, -5.0),
             (30.0, 31.0), (-31.0, -30.0), (-inf, -30.0), (0.3, 0.31)]  # fmt: skip
    a = jnp.asarray([u for u, _ in pairs], jnp.float32)
    b = jnp.asarray([v for _, v in pairs], jnp.float32)
    got = np.asarray(_nx.log_ndtr_interval(a, b), np.float64)
    with mp.workdps(600):  # Phi(-31) ~ 1e-211

        def cdf(x):
            return mp.mpf(1) if x == inf else mp.mpf(0) if x == -inf else mp.ncdf(mp.mpf(x))

        want = [float(mp.log(cdf(v) - cdf(u))) for u, v in pairs]
    np.testing.assert_array_equal(got[2], 0.0)
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0)
    assert np.all(err <= 2e-6), err
    grads = jax.grad(lambda u, v: jnp.sum(_nx.log_ndtr_interval(u, v)), argnums=(0, 1))(a, b)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@pytest.mark.x64
def test_truncated_normal_moments_match_mpmath():
    inf = np.inf
    bounds = [(-inf, 0.0), (0.5, 2.0), (-1.0, inf), (-inf, inf), (3.0, 3.5)]
    a = jnp.asarray([u for u, _ in bounds])
    b = jnp.asarray([v for _, v in bounds])
    moments = _nx.truncated_normal_moments(a, b, _nx.log_ndtr_interval(a, b), 4)
    with mp.workdps(30):
        for i, (u, v) in enumerate(bounds):
            lo, hi = (mp.mpf(x) if np.isfinite(x) else x * mp.inf for x in (u, v))
            z = mp.ncdf(hi) - mp.ncdf(lo)
            for k in range(1, 5):
                want = mp.quad(lambda x, k=k: x**k * mp.npdf(x), [lo, hi]) / z
                np.testing.assert_allclose(float(moments[k - 1][i]), float(want), rtol=1e-12,
                                           atol=1e-14)  # fmt: skip


def test_safe_log_is_zero_where_masked_with_finite_gradients():
    x = jnp.asarray([0.0, -1.0, 2.0, 1e-30], jnp.float32)
    np.testing.assert_allclose(_nx.safe_log(x), [0.0, 0.0, np.log(2.0), np.log(1e-30)], rtol=1e-6)
    np.testing.assert_allclose(_nx.safe_log(x, x > 1.0), [0.0, 0.0, np.log(2.0), 0.0], rtol=1e-6)
    g = jax.grad(lambda v: jnp.sum(v * _nx.safe_log(v)))(x)  # x log x, 0 at x = 0
    assert np.all(np.isfinite(np.asarray(g))), g
