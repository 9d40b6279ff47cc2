"""Quirks of the compound group and the transforms.

Quirks of the compound group and the transforms (the generic contract is in
test_contract.py).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import distributions as jd
from jaxkl.distributions import transforms as T

TRANSFORMS = [
    (T.AffineTransform(0.5, -2.0), np.linspace(-3, 3, 7)),
    (
        T.AffineTransform(jnp.array([0.5, 1.0]), jnp.array([2.0, 0.25]), event_dim=1),
        np.linspace(-3, 3, 8).reshape(4, 2),
    ),
    (T.ExpTransform(), np.linspace(-3, 3, 7)),
    (T.SigmoidTransform(), np.linspace(-5, 5, 7)),
    (T.TanhTransform(), np.linspace(-3, 3, 7)),
    (T.PowerTransform(2.5), np.linspace(0.1, 3, 7)),
    (T.PowerTransform(-0.5), np.linspace(0.1, 3, 7)),
    (T.ExpTransform().inv, np.linspace(0.1, 3, 7)),
]
IDS = ["affine", "affine-event", "exp", "sigmoid", "tanh", "power", "power-negative", "exp-inverse"]


@pytest.mark.parametrize("t, x", TRANSFORMS, ids=IDS)
def test_inverse_undoes_forward(t, x):
    x = jnp.asarray(x, jnp.float32)
    np.testing.assert_allclose(t.inverse(t(x)), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("t, x", TRANSFORMS, ids=IDS)
def test_log_abs_det_jacobian_matches_autodiff(t, x):
    x = jnp.asarray(x, jnp.float32)
    got = t.log_abs_det_jacobian(x, t(x))
    if t.event_dim:
        jac = jax.vmap(jax.jacobian(t.forward))(x)
        want = jnp.linalg.slogdet(jac)[1]
    else:
        want = jnp.log(jnp.abs(jax.vmap(jax.grad(lambda v: t.forward(v)))(x)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_tanh_log_det_is_finite_far_in_the_tails():
    t = T.TanhTransform()
    x = jnp.array([-40.0, 40.0])
    got = t.log_abs_det_jacobian(x, t(x))
    assert np.all(np.isfinite(np.asarray(got)))
    np.testing.assert_allclose(got, 2 * np.log(2.0) - 80.0, rtol=1e-6)


def test_transforms_are_pytrees_with_static_event_dim():
    t = T.AffineTransform(jnp.zeros(3), 2.0, event_dim=1)
    leaves, treedef = jax.tree_util.tree_flatten(t)
    assert len(leaves) == 2
    assert T.AffineTransform(jnp.ones(3), 1.0, event_dim=1) is not t
    assert jax.tree_util.tree_structure(T.AffineTransform(jnp.ones(3), 1.0, event_dim=1)) == treedef
    assert jax.tree_util.tree_structure(T.AffineTransform(jnp.ones(3), 1.0)) != treedef
    sentinels = jax.tree_util.tree_map(lambda _: object(), t)  # no __init__ on unflatten
    assert type(sentinels) is T.AffineTransform and sentinels.event_dim == 1
    assert jax.tree_util.tree_leaves(T.ExpTransform()) == []
    out = jax.jit(lambda tt: tt)(t)
    assert out == t


def test_transform_equality_and_hash():
    assert T.AffineTransform(0.0, 2.0) == T.AffineTransform(0.0, 2.0)
    assert T.AffineTransform(0.0, 2.0) != T.AffineTransform(0.0, 3.0)
    assert T.AffineTransform(0.0, 2.0) != T.AffineTransform(0.0, 2.0, event_dim=1)
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert (
        T.ExpTransform().inv == T.ExpTransform().inv
        and T.ExpTransform().inv.inv == T.ExpTransform()
    )
    assert hash(T.PowerTransform(2.0)) == hash(T.PowerTransform(2.0))
    assert T.AffineTransform(jnp.zeros(2), 1.0) != T.AffineTransform(jnp.zeros(3), 1.0)


def test_transforms_are_immutable_and_check_event_dim():
    with pytest.raises(dataclasses.FrozenInstanceError):
        T.ExpTransform().foo = 1
    with pytest.raises(ValueError, match="event_dim"):
        T.AffineTransform(0.0, 1.0, event_dim=-1)


def test_transform_parameters_broadcast_the_base_like_torch():
    d = jd.TransformedDistribution(jd.Normal(0.0, 1.0), T.AffineTransform(jnp.zeros(3), 2.0))
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert d.base_distribution.batch_shape == (3,)
    e = jd.TransformedDistribution(
        jd.Normal(jnp.zeros(3), 1.0), T.AffineTransform(0.0, 2.0, event_dim=1)
    )
    assert e.batch_shape == () and e.event_shape == (3,)
    assert isinstance(e.base_distribution, jd.Independent)


def test_transformed_log_prob_is_minus_inf_outside_the_support():
    d = jd.TransformedDistribution(jd.Normal(0.0, 1.0), T.ExpTransform())
    lp = d.log_prob(jnp.array([-1.0, 0.0, 1.0]))
    assert np.isneginf(lp[0]) and np.isneginf(lp[1]) and np.isfinite(lp[2])


def test_transformed_expand_and_rsample_flag():
    d = jd.TransformedDistribution(jd.Normal(jnp.zeros(3), 1.0), [T.ExpTransform()])
    assert d.expand((2, 3)).batch_shape == (2, 3)
    assert d.has_rsample
    with pytest.raises(TypeError, match="Transform"):
        jd.TransformedDistribution(jd.Normal(0.0, 1.0), [lambda x: x])
    with pytest.raises(NotImplementedError):
        _ = d.mean  # no general form, as in torch


def test_independent_checks_reinterpreted_batch_ndims():
    base = jd.Normal(jnp.zeros((2, 3)), 1.0)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        jd.Independent(base, 3)
    with pytest.raises(TypeError, match="reinterpreted_batch_ndims"):
        jd.Independent(base, 1.0)
    d = jd.Independent(base, 2)
    assert d.batch_shape == () and d.event_shape == (2, 3)
    e = jd.Independent(base, 1).expand((4, 2))
    assert e.batch_shape == (4, 2) and e.event_shape == (3,)
    # static configuration lives in the treedef
    assert jax.tree_util.tree_structure(jd.Independent(base, 1)) != jax.tree_util.tree_structure(d)


def test_mixture_checks_shapes():
    cat = jd.Categorical(logits=jnp.zeros(3))
    with pytest.raises(ValueError, match="3 categories.*2 components"):
        jd.MixtureSameFamily(cat, jd.Normal(jnp.zeros(2), 1.0))
    with pytest.raises(ValueError, match="component"):
        jd.MixtureSameFamily(cat, jd.Normal(0.0, 1.0))
    with pytest.raises(TypeError, match="mixture_distribution"):
        jd.MixtureSameFamily(jd.Normal(0.0, 1.0), jd.Normal(jnp.zeros(3), 1.0))


def test_mixture_of_vectors_log_prob_and_moments():
    import scipy.stats

    logits = jnp.array([0.2, -0.4])
    loc = jnp.array([[0.0, 1.0], [2.0, -1.0]])
    comp = jd.Independent(jd.Normal(loc, jnp.array([1.0, 0.5])), 1)
    mix = jd.MixtureSameFamily(jd.Categorical(logits=logits), comp)
    assert mix.batch_shape == () and mix.event_shape == (2,)
    x = np.array([[0.3, 0.1], [1.5, -0.5]])
    w = np.exp(logits) / np.exp(logits).sum()
    dens = sum(
        w[k] * scipy.stats.multivariate_normal(np.asarray(loc[k]), np.diag([1.0, 0.25])).pdf(x)
        for k in range(2)
    )
    np.testing.assert_allclose(mix.log_prob(jnp.asarray(x, jnp.float32)), np.log(dens), rtol=1e-5)
    s = mix.sample(jax.random.key(0), (20000,))
    assert s.shape == (20000, 2)
    np.testing.assert_allclose(s.mean(0), mix.mean, atol=0.05)
    np.testing.assert_allclose(s.var(0), mix.variance, rtol=0.05)
