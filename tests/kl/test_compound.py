"""Quirks of the compound-group KLs and the mixture approximations.

Quirks of the compound-group KLs and the mixture approximations (the generic pair tests
are in test_pairs.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jaxkl
from jaxkl import distributions as jd
from jaxkl.distributions import transforms as T


def test_independent_needs_equal_reinterpreted_batch_ndims():
    base = jd.Normal(jnp.zeros((2, 3)), 1.0)
    p = jd.Independent(base, 2)
    q = jd.Independent(jd.Independent(base, 1), 1)  # same shapes, different nesting
    assert p.event_shape == q.event_shape
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims, got 2 and 1"):
        jd.kl_divergence(p, q)  # torch raises too
    np.testing.assert_allclose(jd.kl_divergence(p, jd.Independent(base, 2)), 0.0, atol=1e-7)


def test_transformed_pairs_need_equal_transforms():
    base_p, base_q = jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)
    exp = jd.TransformedDistribution(base_p, T.ExpTransform())
    for other in (
        T.SigmoidTransform(),
        T.AffineTransform(0.0, 2.0),
        [T.ExpTransform(), T.ExpTransform()],
    ):
        with pytest.raises(NotImplementedError, match="monte_carlo_kl"):
            jd.kl_divergence(exp, jd.TransformedDistribution(base_q, other))
    a = jd.TransformedDistribution(base_p, T.AffineTransform(0.0, 2.0))
    with pytest.raises(NotImplementedError, match="equal transforms"):
        jd.kl_divergence(a, jd.TransformedDistribution(base_q, T.AffineTransform(0.0, 3.0)))


def test_transformed_kl_equals_base_kl_and_matches_monte_carlo():
    ts = [T.AffineTransform(0.5, 2.0), T.TanhTransform()]
    p = jd.TransformedDistribution(jd.Normal(0.2, 0.7), ts)
    q = jd.TransformedDistribution(jd.Normal(-0.1, 1.1), ts)
    kl = jd.kl_divergence(p, q)
    np.testing.assert_allclose(
        kl, jd.kl_divergence(jd.Normal(0.2, 0.7), jd.Normal(-0.1, 1.1)), rtol=1e-6
    )
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(0), 20000, return_stderr=True)
    assert abs(float(est) - float(kl)) <= 5 * float(se)


def test_traced_transforms_that_differ_give_nan_and_a_checkify_error():
    def kl(shift_p, shift_q):
        p = jd.TransformedDistribution(jd.Normal(0.0, 1.0), T.AffineTransform(shift_p, 1.0))
        q = jd.TransformedDistribution(jd.Normal(1.0, 1.0), T.AffineTransform(shift_q, 1.0))
        return jd.kl_divergence(p, q)

    np.testing.assert_allclose(jax.jit(kl)(0.5, 0.5), 0.5, rtol=1e-6)
    assert np.isnan(jax.jit(kl)(0.5, 0.7))
    with jaxkl.value_checks():
        err, _ = checkify.checkify(jax.jit(kl))(0.5, 0.7)
        assert "different transform parameters" in err.get()
        err, _ = checkify.checkify(jax.jit(kl))(0.5, 0.5)
        assert err.get() is None


# -- mixtures ---------------------------------------------------------------------------


def _gmm(logits, loc, scale):
    return jd.MixtureSameFamily(
        jd.Categorical(logits=jnp.asarray(logits, jnp.float32)),
        jd.Normal(jnp.asarray(loc, jnp.float32), jnp.asarray(scale, jnp.float32)),
    )


def _gaussian_kl64(m1, c1, m2, c2):
    """KL(N(m1, c1) || N(m2, c2)) in float64 numpy: the textbook closed form."""
    m1, c1, m2, c2 = (np.asarray(x, np.float64) for x in (m1, c1, m2, c2))
    k = m1.shape[-1]
    dm = m2 - m1
    return 0.5 * (
        np.trace(np.linalg.solve(c2, c1))
        + dm @ np.linalg.solve(c2, dm)
        - k
        + np.linalg.slogdet(c2)[1]
        - np.linalg.slogdet(c1)[1]
    )


def _softmax64(logits):
    z = np.asarray(logits, np.float32).astype(np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def _variational_reference(pi, mu_f, cov_f, w, mu_g, cov_g):
    """Hershey & Olsen (2007), section 6, from the formula, in float64 numpy.

    ``D_var(f || g) = sum_a pi_a log(sum_a' pi_a' exp(-KL(f_a || f_a'))
    / sum_b w_b exp(-KL(f_a || g_b)))`` for Gaussian mixtures ``f = sum_a pi_a N(mu_f[a],
    cov_f[a])`` and ``g = sum_b w_b N(mu_g[b], cov_g[b])`` (means of shape (k,)).
    """
    d_ff = np.array([[_gaussian_kl64(mu_f[a], cov_f[a], m, c) for m, c in zip(mu_f, cov_f)]
                     for a in range(len(pi))])  # fmt: skip
    d_fg = np.array([[_gaussian_kl64(mu_f[a], cov_f[a], m, c) for m, c in zip(mu_g, cov_g)]
                     for a in range(len(pi))])  # fmt: skip
    total = 0.0
    for a in range(len(pi)):
        num = np.sum(pi * np.exp(-d_ff[a]))
        den = np.sum(w * np.exp(-d_fg[a]))
        total += pi[a] * np.log(num / den)
    return total


#: float32 against the float64 reference: both are evaluated at the same float32 inputs, so
#: the difference is jaxkl's float32 rounding (eps32 = 1.2e-7). Each log-sum-exp is dominated
#: by a row's smallest component KLs, O(1) here, sums of a few terms: rounding of some ulps
#: of O(1) (atol 1e-6, 8 ulps) plus 1e-5 (~80 ulps) of the value; measured: below 8e-8
_VAR_RTOL, _VAR_ATOL = 1e-5, 1e-6


def test_mixture_approximations_are_exact_for_single_components():
    p, q = _gmm([0.0], [0.3], [1.2]), _gmm([0.0], [-0.5], [0.8])
    exact = jd.kl_divergence(jd.Normal(0.3, 1.2), jd.Normal(-0.5, 0.8))
    np.testing.assert_allclose(jd.mixture_kl_variational(p, q), exact, rtol=1e-5)
    np.testing.assert_allclose(jd.mixture_kl_upper_bound(p, q), exact, rtol=1e-5)


def test_variational_approximation_is_zero_for_identical_mixtures():
    p = _gmm([0.2, -0.3, 0.0], [-2.0, 0.0, 2.5], [0.5, 1.0, 0.7])
    np.testing.assert_allclose(jd.mixture_kl_variational(p, p), 0.0, atol=1e-6)


def test_upper_bound_bounds_the_monte_carlo_estimate_and_tightens_with_iterations():
    p = _gmm([[0.2, -0.3, 0.0], [0.0, 0.0, 1.0]], [-2.0, 0.0, 2.5], [0.5, 1.0, 0.7])
    q = _gmm([0.5, -0.5], [-1.0, 1.5], [1.0, 0.6])
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(1), 20000, return_stderr=True)
    bounds = [np.asarray(jd.mixture_kl_upper_bound(p, q, n)) for n in (0, 1, 5, 50)]
    for b in bounds:
        assert b.shape == (2,)
        assert np.all(b >= np.asarray(est) - 5 * np.asarray(se)), (b, est, se)
    for looser, tighter in zip(bounds, bounds[1:]):
        assert np.all(tighter <= looser + 1e-5)
    # the variational approximation is near the truth here (not a bound; a sanity check, the
    # formula is checked in test_variational_approximation_matches_a_float64_reference)
    approx = np.asarray(jd.mixture_kl_variational(p, q))
    np.testing.assert_allclose(approx, est, rtol=0.5)


def test_variational_approximation_matches_a_float64_reference():
    """Univariate components, a batch of p's weights, against the numpy float64 formula."""
    logits_p = np.float32([[0.2, -0.3, 0.0], [0.0, 0.0, 1.0], [-1.5, 2.0, 0.3]])
    loc_p, scale_p = np.float32([-2.0, 0.0, 2.5]), np.float32([0.5, 1.0, 0.7])
    logits_q = np.float32([0.5, -0.5, 1.2])
    loc_q, scale_q = np.float32([-1.0, 1.5, 0.2]), np.float32([1.0, 0.6, 2.3])
    p, q = _gmm(logits_p, loc_p, scale_p), _gmm(logits_q, loc_q, scale_q)
    got = jd.mixture_kl_variational(p, q)
    assert got.shape == (3,) and got.dtype == jnp.float32
    mu_f, cov_f = loc_p[:, None], [np.diag([s * s]) for s in scale_p.astype(np.float64)]
    mu_g, cov_g = loc_q[:, None], [np.diag([s * s]) for s in scale_q.astype(np.float64)]
    want = [
        _variational_reference(_softmax64(lp), mu_f, cov_f, _softmax64(logits_q), mu_g, cov_g)
        for lp in logits_p
    ]
    np.testing.assert_allclose(got, want, rtol=_VAR_RTOL, atol=_VAR_ATOL)


def test_variational_approximation_matches_a_float64_reference_for_full_covariances():
    """MultivariateNormal components (d = 3, full covariances), against the numpy formula."""
    rng = np.random.default_rng(0)

    def tril(n):
        a = rng.normal(size=(n, 3, 3))
        return np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) / 3 + 0.3 * np.eye(3)).astype(
            np.float32
        )

    logits_p, logits_q = (
        rng.normal(size=2).astype(np.float32),
        rng.normal(size=4).astype(np.float32),
    )
    loc_p, loc_q = (rng.normal(size=(n, 3)).astype(np.float32) for n in (2, 4))
    tril_p, tril_q = tril(2), tril(4)

    def mix(logits, loc, tril):
        return jd.MixtureSameFamily(
            jd.Categorical(logits=jnp.asarray(logits)),
            jd.MultivariateNormal(jnp.asarray(loc), scale_tril=jnp.asarray(tril)),
        )

    p, q = mix(logits_p, loc_p, tril_p), mix(logits_q, loc_q, tril_q)
    got = jd.mixture_kl_variational(p, q)
    assert got.shape == () and got.dtype == jnp.float32
    cov = [(lambda t: t @ t.T)(t.astype(np.float64)) for t in (*tril_p, *tril_q)]
    want = _variational_reference(
        _softmax64(logits_p), loc_p, cov[:2], _softmax64(logits_q), loc_q, cov[2:]
    )
    np.testing.assert_allclose(float(got), want, rtol=_VAR_RTOL, atol=_VAR_ATOL)


def test_mixture_approximations_jit_vmap_and_grad():
    p = _gmm([0.2, -0.3], [-1.0, 1.0], [0.5, 1.0])
    q = _gmm([0.0, 0.0, 0.1], [-1.5, 0.0, 1.5], [1.0, 1.0, 1.0])
    eager = jd.mixture_kl_upper_bound(p, q)
    np.testing.assert_allclose(jax.jit(jd.mixture_kl_upper_bound)(p, q), eager, rtol=1e-5)
    stacked = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), p)
    np.testing.assert_allclose(
        jax.vmap(jd.mixture_kl_variational, in_axes=(0, None))(stacked, q),
        jnp.full(2, jd.mixture_kl_variational(p, q)),
        rtol=1e-5,
    )
    g = jax.grad(lambda d: jd.mixture_kl_upper_bound(d, q) + jd.mixture_kl_variational(d, q))(p)
    for leaf in jax.tree_util.tree_leaves(g):
        assert np.all(np.isfinite(np.asarray(leaf)))


def test_mixture_approximations_work_for_multivariate_components():
    def mvn_mix(logits, loc):
        comp = jd.Independent(jd.Normal(jnp.asarray(loc, jnp.float32), 1.0), 1)
        return jd.MixtureSameFamily(jd.Categorical(logits=jnp.asarray(logits, jnp.float32)), comp)

    p = mvn_mix([0.0, 0.5], [[0.0, 0.0], [1.0, 1.0]])
    q = mvn_mix([0.0, 0.0, 0.0], [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(2), 20000, return_stderr=True)
    assert float(jd.mixture_kl_upper_bound(p, q)) >= float(est) - 5 * float(se)
    eye = np.eye(2)
    want = _variational_reference(
        _softmax64([0.0, 0.5]),
        np.float32([[0.0, 0.0], [1.0, 1.0]]),
        [eye, eye],
        _softmax64([0.0, 0.0, 0.0]),
        np.float32([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]),
        [eye, eye, eye],
    )
    got = jd.mixture_kl_variational(p, q)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), want, rtol=_VAR_RTOL, atol=_VAR_ATOL)


def test_mixture_approximations_reject_non_mixtures():
    with pytest.raises(TypeError, match="MixtureSameFamily"):
        jd.mixture_kl_variational(jd.Normal(0.0, 1.0), jd.Normal(0.0, 1.0))
    p = _gmm([0.0, 0.0], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="num_iters"):
        jd.mixture_kl_upper_bound(p, p, num_iters=-1)
