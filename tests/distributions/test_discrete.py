"""Quirks of the discrete families (the generic contract runs from cases_discrete.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.distributions as td

from jaxkl import distributions as jd


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
        (lambda: jd.Bernoulli(probs=jnp.array([0.2, 0.9])), lambda: td.Bernoulli(torch.tensor([0.2, 0.9]))),
        (lambda: jd.Categorical(logits=jnp.zeros((2, 3))), lambda: td.Categorical(logits=torch.zeros(2, 3))),
        (lambda: jd.OneHotCategorical(probs=jnp.ones((2, 3))), lambda: td.OneHotCategorical(torch.ones(2, 3))),
        (lambda: jd.Binomial(4, probs=jnp.array([0.2, 0.5])), lambda: td.Binomial(4, torch.tensor([0.2, 0.5]))),
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
    np.testing.assert_allclose(d2.entropy(), [stats.binom(2, 0.4).entropy(), stats.binom(9, 0.7).entropy()], rtol=1e-5)
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

    err, _ = checkify.checkify(jax.jit(lambda p: jd.Bernoulli(probs=p).mean), errors=checkify.user_checks)(jnp.array([1.5]))
    assert "probs" in str(err.get())
