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
    # the variational approximation is near the truth here (not a bound)
    approx = np.asarray(jd.mixture_kl_variational(p, q))
    np.testing.assert_allclose(approx, est, rtol=0.5)


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
    assert np.isfinite(float(jd.mixture_kl_variational(p, q)))


def test_mixture_approximations_reject_non_mixtures():
    with pytest.raises(TypeError, match="MixtureSameFamily"):
        jd.mixture_kl_variational(jd.Normal(0.0, 1.0), jd.Normal(0.0, 1.0))
    p = _gmm([0.0, 0.0], [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="num_iters"):
        jd.mixture_kl_upper_bound(p, p, num_iters=-1)
