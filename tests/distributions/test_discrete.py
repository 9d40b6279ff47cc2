"""Quirks of the discrete families (the generic contract runs from cases_discrete.py).

ProbitBernoulli and Multinomial and their KLs: TFP's ProbitBernoulli as a reference,
extreme probits, the Multinomial KL against exact enumeration, different total counts, and
the static ``total_count``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td

import jaxkl
from jaxkl import distributions as jd
from tests.kl.pairs_discrete import enumerate_multinomial_kl, mp_kl_probit


@pytest.mark.parametrize("cls", [jd.Bernoulli, jd.Geometric, jd.Categorical, jd.OneHotCategorical])
def test_exactly_one_of_probs_or_logits(cls):
    with pytest.raises(ValueError, match="exactly one of `probs` or `logits`"):
        cls()
    with pytest.raises(ValueError, match="both"):
        cls(probs=jnp.array([0.5, 0.5]), logits=jnp.zeros(2))


def test_both_parametrisations_are_readable_and_the_treedef_shows_which_was_given():
    x = jnp.array([-1.0, 0.5, 3.0])
    by_logits, by_probs = jd.Bernoulli(logits=x), jd.Bernoulli(probs=jax.nn.sigmoid(x))
    t = td.Bernoulli(logits=torch.tensor(np.asarray(x)))
    np.testing.assert_allclose(by_logits.probs, t.probs.numpy(), rtol=1e-6)
    np.testing.assert_allclose(by_logits.logits, x)
    np.testing.assert_allclose(by_probs.logits, x, rtol=1e-5)
    assert jax.tree_util.tree_structure(by_logits) != jax.tree_util.tree_structure(by_probs)
    assert len(jax.tree_util.tree_leaves(by_logits)) == 1
    assert "logits" in repr(by_logits)


def test_categorical_normalises_like_torch():
    probs = np.array([[1.0, 2.0, 5.0], [0.0, 3.0, 1.0]])
    logits = np.array([[0.3, -2.0, 1.0]])
    d, t = jd.Categorical(probs=probs), td.Categorical(probs=torch.tensor(probs))
    np.testing.assert_allclose(d.probs, t.probs.numpy(), rtol=1e-6)
    dl, tl = jd.Categorical(logits=logits), td.Categorical(logits=torch.tensor(logits))
    np.testing.assert_allclose(dl.logits, tl.logits.numpy(), rtol=1e-6)
    np.testing.assert_allclose(dl.probs, tl.probs.numpy(), rtol=1e-6)
    # a zero probability: log-prob -inf (torch clamps to log(tiny)), entropy ignores it
    assert d.logits[1, 0] == -np.inf
    np.testing.assert_allclose(d.entropy(), t.entropy().numpy(), rtol=1e-6)


def test_categorical_rejects_mismatched_and_scalar_parameters():
    with pytest.raises(ValueError, match="at least one dimension"):
        jd.Categorical(probs=0.5)
    with pytest.raises(ValueError, match="positive sum"):
        jd.Categorical(probs=jnp.array([[0.5, 0.5], [0.0, 0.0]]))


@pytest.mark.parametrize(
    "make, tmake",
    [
        (
            lambda: jd.Bernoulli(probs=jnp.array([0.2, 0.9])),
            lambda: td.Bernoulli(torch.tensor([0.2, 0.9])),
        ),
        (
            lambda: jd.Categorical(logits=jnp.zeros((2, 3))),
            lambda: td.Categorical(logits=torch.zeros(2, 3)),
        ),
        (
            lambda: jd.OneHotCategorical(probs=jnp.ones((2, 3))),
            lambda: td.OneHotCategorical(torch.ones(2, 3)),
        ),
        (
            lambda: jd.Binomial(4, probs=jnp.array([0.2, 0.5])),
            lambda: td.Binomial(4, torch.tensor([0.2, 0.5])),
        ),
    ],
)
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_matches_torch(make, tmake, expand):
    got = make().enumerate_support(expand)
    want = tmake().enumerate_support(expand).numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(got), want)


def test_binomial_entropy_matches_torch_and_needs_concrete_counts():
    d = jd.Binomial(jnp.array([6.0, 6.0]), probs=jnp.array([0.3, 0.95]))
    t = td.Binomial(6, torch.tensor([0.3, 0.95], dtype=torch.float64))
    np.testing.assert_allclose(d.entropy(), t.entropy().numpy(), rtol=1e-5)
    # inhomogeneous counts work too (zero-padded sum); compare with scipy
    from scipy import stats

    d2 = jd.Binomial(jnp.array([2.0, 9.0]), probs=jnp.array([0.4, 0.7]))
    np.testing.assert_allclose(
        d2.entropy(), [stats.binom(2, 0.4).entropy(), stats.binom(9, 0.7).entropy()], rtol=1e-5
    )
    with pytest.raises(NotImplementedError, match="concrete total_count"):
        jax.jit(lambda d: d.entropy())(d)


def test_geometric_log_prob_at_probs_one_and_samples():
    d = jd.Geometric(probs=jnp.array([1.0, 0.5]))
    np.testing.assert_allclose(d.log_prob(jnp.array([0.0, 2.0])), [0.0, 3 * np.log(0.5)], rtol=1e-6)
    x = d.sample(jax.random.key(0), (2000,))
    assert np.all(np.asarray(x[:, 0]) == 0)
    np.testing.assert_allclose(x[:, 1].mean(), 1.0, atol=0.15)


def test_parameter_validation_under_jit_is_a_checkify_check():
    from jax.experimental import checkify

    with jaxkl.value_checks():
        err, _ = checkify.checkify(
            jax.jit(lambda p: jd.Bernoulli(probs=p).mean), errors=checkify.user_checks
        )(jnp.array([1.5]))
    assert "probs" in str(err.get())


def test_probit_bernoulli_matches_tfp():
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd = tfp.distributions
    a = jnp.array([-2.0, -0.3, 0.4, 1.7, -6.0], jnp.float32)
    # well-separated pairs: TFP's float32 form (a difference of log-probabilities) cancels for
    # close ones, where ours is checked against mpmath instead (pair table, near rows)
    b = jnp.array([1.0, 0.6, -0.5, 2.9, -3.0], jnp.float32)
    ours_p, theirs_p = jd.ProbitBernoulli(probits=a), tfd.ProbitBernoulli(probits=a)
    ours_q, theirs_q = jd.ProbitBernoulli(probits=b), tfd.ProbitBernoulli(probits=b)
    np.testing.assert_allclose(
        jd.kl_divergence(ours_p, ours_q), tfd.kl_divergence(theirs_p, theirs_q), rtol=2e-5
    )
    x = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0], jnp.float32)
    np.testing.assert_allclose(ours_p.log_prob(x), theirs_p.log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(ours_p.entropy(), theirs_p.entropy(), rtol=1e-5)


@pytest.mark.parametrize(
    "a, b",
    [(-30.0, 30.0), (30.0, -30.0), (29.0, -5.0), (-30.0, -12.0), (-8.0, -8.0001), (5.0, 5.001)],
)
def test_probit_bernoulli_kl_is_finite_and_accurate_for_extreme_probits(a, b):
    """Φ(-30) underflows in float32; the KL from log_ndtr does not (e.g. 454.32 at ∓30)."""
    mp.mp.dps = 400  # Φ(30) = 1 - 5e-198: enough digits to resolve it
    p = jd.ProbitBernoulli(probits=jnp.float32(a))
    q = jd.ProbitBernoulli(probits=jnp.float32(b))
    got = float(jd.kl_divergence(p, q))
    want = float(mp_kl_probit(mp.mpf(float(np.float32(a))), mp.mpf(float(np.float32(b)))))
    assert np.isfinite(got)
    if want > 1e-30:  # below float32's normal range only finiteness matters
        assert abs(got - want) <= 1e-5 * want, (got, want)
    grads = jax.grad(
        lambda x, y: jd.kl_divergence(jd.ProbitBernoulli(probits=x), jd.ProbitBernoulli(probits=y)),
        argnums=(0, 1),
    )(jnp.float32(a), jnp.float32(b))
    assert all(np.isfinite(float(g)) for g in grads)


def test_probit_bernoulli_mixed_parametrisations_and_zero_probabilities():
    p = jd.ProbitBernoulli(probs=jnp.array([0.0, 1.0, 0.3, 0.2]))
    q = jd.ProbitBernoulli(probits=jnp.array([0.0, 0.0, 0.0, 0.0]))
    want = [
        np.log(2.0),
        np.log(2.0),
        0.3 * np.log(0.6) + 0.7 * np.log(1.4),
        0.2 * np.log(0.4) + 0.8 * np.log(1.6),
    ]
    np.testing.assert_allclose(jd.kl_divergence(p, q), want, rtol=1e-5)
    # q puts no mass on an outcome p has: +inf; p = q at a boundary: 0
    r = jd.kl_divergence(
        jd.ProbitBernoulli(probits=jnp.array([0.0, 1.0])),
        jd.ProbitBernoulli(probs=jnp.array([0.0, 1.0])),
    )
    assert np.all(np.isposinf(np.asarray(r)))
    z = jd.kl_divergence(
        jd.ProbitBernoulli(probs=jnp.array([0.0, 1.0])),
        jd.ProbitBernoulli(probs=jnp.array([0.0, 1.0])),
    )
    np.testing.assert_array_equal(z, [0.0, 0.0])


def test_probit_bernoulli_sampler_frequency_for_extreme_probits():
    d = jd.ProbitBernoulli(probits=jnp.array([-30.0, 30.0, 0.5]))
    x = np.asarray(d.sample(jax.random.key(0), (4000,)))
    assert x[:, 0].sum() == 0 and x[:, 1].sum() == 4000
    se = np.sqrt(0.69 * 0.31 / 4000)
    assert abs(x[:, 2].mean() - float(d.probs[2])) < 5 * se


@pytest.mark.parametrize("n, k", [(1, 2), (3, 3), (6, 4)])
def test_multinomial_kl_equals_exact_enumeration(n, k):
    rng = np.random.default_rng(n * 10 + k)
    a, b = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
    got = jd.kl_divergence(
        jd.Multinomial(n, probs=jnp.asarray(a, jnp.float32)),
        jd.Multinomial(n, probs=jnp.asarray(b, jnp.float32)),
    )
    a32, b32 = (
        np.asarray(a, np.float32).astype(np.float64),
        np.asarray(b, np.float32).astype(np.float64),
    )
    want = enumerate_multinomial_kl(n, a32 / a32.sum(), b32 / b32.sum())
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_multinomial_kl_is_inf_for_different_counts_and_zero_for_no_draws():
    p = jd.Multinomial(3, probs=jnp.array([0.2, 0.8]))
    q = jd.Multinomial(4, probs=jnp.array([0.2, 0.8]))
    assert np.isposinf(float(jd.kl_divergence(p, q)))
    z = jd.kl_divergence(
        jd.Multinomial(0, probs=jnp.array([0.2, 0.8])),
        jd.Multinomial(0, probs=jnp.array([0.5, 0.5])),
    )
    assert float(z) == 0.0
    # q without mass on a category p draws: +inf
    r = jd.kl_divergence(
        jd.Multinomial(2, probs=jnp.array([0.5, 0.5])),
        jd.Multinomial(2, probs=jnp.array([1.0, 0.0])),
    )
    assert np.isposinf(float(r))


def test_multinomial_total_count_is_static_metadata():
    d = jd.Multinomial(4, probs=jnp.array([0.2, 0.8]))
    leaves, treedef = jax.tree_util.tree_flatten(d)
    assert all(jnp.issubdtype(x.dtype, jnp.floating) for x in leaves)
    out = jax.jit(lambda dist: dist)(d)
    assert out.total_count == 4 and isinstance(out.total_count, int)
    np.testing.assert_allclose(jax.jit(lambda dist: dist.entropy())(d), d.entropy(), rtol=1e-6)


@pytest.mark.parametrize("bad", [-1, 2.5, True, np.array([2, 3])])
def test_multinomial_rejects_bad_total_count(bad):
    with pytest.raises(ValueError, match="total_count"):
        jd.Multinomial(bad, probs=jnp.array([0.2, 0.8]))


def test_multinomial_log_prob_is_minus_inf_off_support():
    d = jd.Multinomial(3, probs=jnp.array([0.2, 0.3, 0.5]))
    lp = d.log_prob(
        jnp.array([[1.0, 1.0, 1.0], [1.0, 1.0, 2.0], [-1.0, 2.0, 2.0], [0.5, 0.5, 2.0]])
    )
    assert np.isfinite(float(lp[0])) and np.all(np.isneginf(np.asarray(lp[1:])))
