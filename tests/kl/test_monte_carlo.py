"""The Monte Carlo estimator and the kl_divergence fallback to it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from jaxkl import distributions as jd
from jaxkl.kl._broadcast import broadcast_pair


class StudentTLike(jd.Distribution):
    """A test-only Student t (no closed-form KL is registered for it)."""

    df: jax.Array
    loc: jax.Array
    scale: jax.Array
    has_rsample = True

    def __init__(self, df, loc, scale):
        self._init(
            df=jnp.float32(df),
            loc=jnp.asarray(loc, jnp.float32),
            scale=jnp.asarray(scale, jnp.float32),
        )

    def log_prob(self, value):
        return jax.scipy.stats.t.logpdf(value, self.df, self.loc, self.scale)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return self.loc + self.scale * jax.random.t(key, self.df, shape, jnp.float32)


def _quad_kl(logp, logq, lo=-np.inf, hi=np.inf):
    value, _ = scipy.integrate.quad(
        lambda x: np.exp(logp(x)) * (logp(x) - logq(x)), lo, hi, limit=200
    )
    return value


def _jax_params(params):
    return {
        k: (jnp.asarray(v, jnp.float32) if np.asarray(v).dtype.kind == "f" else jnp.asarray(v))
        for k, v in params.items()
    }


def test_standard_error_matches_the_spread_of_independent_estimates():
    p, q = jd.Normal(0.0, 1.0), jd.Normal(0.5, 1.5)
    keys = jax.random.split(jax.random.key(0), 64)
    est, se = jax.vmap(lambda k: jd.monte_carlo_kl(p, q, k, 256, return_stderr=True))(keys)
    spread = float(np.std(np.asarray(est), ddof=1))
    assert 0.7 * spread < float(np.mean(se)) < 1.3 * spread
    np.testing.assert_allclose(np.mean(est), jd.kl_divergence(p, q), atol=4 * spread / 8)


def test_jit_equals_eager_and_same_key_same_estimate():
    p, q = jd.Normal(jnp.zeros(3), 1.0), jd.Normal(1.0, jnp.array([1.0, 2.0, 3.0]))
    eager = jd.monte_carlo_kl(p, q, jax.random.key(1), 512)
    jitted = jax.jit(jd.monte_carlo_kl, static_argnames=("num_samples",))(
        p, q, jax.random.key(1), num_samples=512
    )
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    np.testing.assert_array_equal(jd.monte_carlo_kl(p, q, jax.random.key(1), 512), eager)
    assert eager.shape == (3,)


def test_vmap_over_keys_and_distributions():
    p = jd.Normal(jnp.zeros((2, 3)), 1.0)
    q = jd.Normal(jnp.ones((2, 3)), 2.0)
    got = jax.vmap(lambda a, b, k: jd.monte_carlo_kl(a, b, k, 128))(
        p, q, jax.random.split(jax.random.key(2), 2)
    )
    assert got.shape == (2, 3)
    for i in range(2):
        key = jax.random.split(jax.random.key(2), 2)[i]
        one = jd.monte_carlo_kl(jd.Normal(jnp.zeros(3), 1.0), jd.Normal(jnp.ones(3), 2.0), key, 128)
        np.testing.assert_allclose(got[i], one, rtol=1e-5)


def _replicated_grads(fn, params, n_rep=16):
    """Mean and standard error of ``grad fn(params, key)`` over independent keys."""
    keys = jax.random.split(jax.random.key(3), n_rep)
    grads = jax.vmap(lambda k: jax.grad(fn)(params, k))(keys)
    g = np.asarray(grads, np.float64)
    return g.mean(0), g.std(0, ddof=1) / np.sqrt(n_rep)


def test_pathwise_gradient_flows_to_p_parameters():
    q = jd.Normal(0.5, 1.5)
    params = jnp.array([0.2, 0.8])  # loc, scale of p

    def mc(prm, key):
        return jd.monte_carlo_kl(jd.Normal(prm[0], prm[1]), q, key, 1024)

    mean, se = _replicated_grads(mc, params)
    exact = np.asarray(jax.grad(lambda prm: jd.kl_divergence(jd.Normal(prm[0], prm[1]), q))(params))
    assert np.all(np.abs(mean) > 0)
    assert np.all(np.abs(mean - exact) <= 5 * se + 1e-3), (mean, se, exact)


def test_score_function_gradient_for_a_discrete_p_is_unbiased():
    q = jd.Categorical(logits=jnp.array([0.3, -0.2, 0.5]))
    logits = jnp.array([1.0, 0.0, -1.0])

    def mc(lg, key):
        return jd.monte_carlo_kl(jd.Categorical(logits=lg), q, key, 1024)

    assert not jd.Categorical(logits=logits).has_rsample
    mean, se = _replicated_grads(mc, logits)
    exact = np.asarray(jax.grad(lambda lg: jd.kl_divergence(jd.Categorical(logits=lg), q))(logits))
    assert np.all(np.abs(mean - exact) <= 5 * se + 1e-3), (mean, se, exact)


def test_gradient_flows_to_q_parameters():
    p = jd.Normal(0.0, 1.0)
    g = jax.grad(lambda loc: jd.monte_carlo_kl(p, jd.Normal(loc, 1.0), jax.random.key(4), 4096))(
        0.5
    )
    # d/dmu of KL(N(0,1) || N(mu,1)) = mu
    np.testing.assert_allclose(g, 0.5, atol=0.05)


def test_fallback_for_a_pair_without_closed_form_matches_quadrature():
    p, q = jd.Normal(0.3, 1.2), StudentTLike(3.0, 0.0, 1.0)
    with pytest.raises(NotImplementedError):
        jd.kl_divergence(p, q)
    est = jd.kl_divergence(p, q, key=jax.random.key(5), num_samples=20000)
    _, se = jd.monte_carlo_kl(p, q, jax.random.key(5), 20000, return_stderr=True)
    want = _quad_kl(scipy.stats.norm(0.3, 1.2).logpdf, scipy.stats.t(3.0, 0.0, 1.0).logpdf)
    assert abs(float(est) - want) <= 5 * float(se), (float(est), want, float(se))


def test_fallback_works_for_a_gaussian_mixture():
    p = jd.MixtureSameFamily(
        jd.Categorical(logits=jnp.array([0.0, 1.0])),
        jd.Normal(jnp.array([-1.0, 1.5]), jnp.array([0.5, 1.0])),
    )
    q = jd.Normal(0.5, 1.5)
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(6), 20000, return_stderr=True)
    np.testing.assert_array_equal(
        jd.kl_divergence(p, q, key=jax.random.key(6), num_samples=20000), est
    )
    w = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()

    def logp(x):
        return np.log(
            w[0] * scipy.stats.norm(-1.0, 0.5).pdf(x) + w[1] * scipy.stats.norm(1.5, 1.0).pdf(x)
        )

    want = _quad_kl(logp, scipy.stats.norm(0.5, 1.5).logpdf, -20, 20)
    assert abs(float(est) - want) <= 5 * float(se), (float(est), want, float(se))


def test_support_mismatch_gives_exact_infinity_with_zero_stderr():
    from jaxkl.distributions.transforms import ExpTransform

    p = jd.Normal(0.0, 1.0)
    q = jd.TransformedDistribution(jd.Normal(0.0, 1.0), ExpTransform())  # support (0, inf)
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(7), 64, return_stderr=True)
    assert float(est) == np.inf and float(se) == 0.0


def test_bad_arguments_raise():
    p = jd.Normal(0.0, 1.0)
    with pytest.raises(ValueError, match="num_samples"):
        jd.monte_carlo_kl(p, p, jax.random.key(8), 1)
    with pytest.raises(TypeError, match="return_stderr"):
        jd.monte_carlo_kl(p, p, jax.random.key(9), 8, return_stderr=1)
    with pytest.raises(TypeError, match="distributions"):
        jd.monte_carlo_kl(p, jnp.ones(3), jax.random.key(10), 8)
    with pytest.raises(ValueError, match="event shapes"):
        jd.monte_carlo_kl(p, jd.Independent(jd.Normal(jnp.zeros(2), 1.0), 1), jax.random.key(12), 8)


def test_broadcast_batch_shapes():
    p, q = jd.Normal(jnp.zeros((3, 1)), 1.0), jd.Normal(jnp.zeros(4), 2.0)
    est = jd.monte_carlo_kl(p, q, jax.random.key(13), 64)
    assert est.shape == broadcast_pair(p, q)[0].batch_shape == (3, 4)
