"""Quirks of the multivariate group that the generic contract tests do not cover."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.distributions as td

from jaxkl import distributions as jd
from tests._generators import spd

D = 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"covariance_matrix": np.eye(D), "scale_tril": np.eye(D)},
        {"covariance_matrix": np.eye(D), "precision_matrix": np.eye(D)},
    ],
)
def test_multivariate_normal_needs_exactly_one_matrix(kwargs):
    with pytest.raises(ValueError, match="exactly one"):
        jd.MultivariateNormal(np.zeros(D), **kwargs)


def test_only_the_given_matrix_is_a_leaf_and_the_others_are_computed():
    rng = np.random.default_rng(0)
    cov = spd(rng, (2,))
    p = jd.MultivariateNormal(jnp.zeros(D), covariance_matrix=jnp.asarray(cov, jnp.float32))
    leaves = jax.tree_util.tree_leaves(p)
    assert len(leaves) == 2 and p._scale_tril is None and p._precision_matrix is None
    assert p.batch_shape == (2,) and p.event_shape == (D,)
    t = td.MultivariateNormal(
        torch.zeros(D, dtype=torch.float64), covariance_matrix=torch.as_tensor(cov)
    )
    np.testing.assert_allclose(p.scale_tril, t.scale_tril.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.precision_matrix, t.precision_matrix.numpy(), rtol=1e-4, atol=1e-5)
    q = jd.MultivariateNormal(
        jnp.zeros(D), precision_matrix=jnp.asarray(np.linalg.inv(cov), jnp.float32)
    )
    np.testing.assert_allclose(q.scale_tril, t.scale_tril.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(q.covariance_matrix, cov, rtol=1e-4, atol=1e-5)


def test_low_rank_matrices_match_torch():
    rng = np.random.default_rng(1)
    loc, w, dg = rng.normal(size=(2, D)), rng.normal(size=(D, 2)), rng.uniform(0.5, 2, size=(D,))
    p = jd.LowRankMultivariateNormal(*(jnp.asarray(a, jnp.float32) for a in (loc, w, dg)))
    t = td.LowRankMultivariateNormal(*(torch.as_tensor(a) for a in (loc, w, dg)))
    for name in ("covariance_matrix", "precision_matrix", "scale_tril", "variance"):
        np.testing.assert_allclose(
            getattr(p, name), getattr(t, name).numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )


def test_log_prob_broadcasts_sample_dims_without_expanding_the_matrix():
    rng = np.random.default_rng(2)
    cov = spd(rng, (4,))
    loc = rng.normal(size=(4, D))
    x = rng.normal(size=(5, 1, D))  # sample dims in front, batch dim 1 broadcasts against 4
    p = jd.MultivariateNormal(
        jnp.asarray(loc, jnp.float32), covariance_matrix=jnp.asarray(cov, jnp.float32)
    )
    want = (
        td.MultivariateNormal(torch.as_tensor(loc), covariance_matrix=torch.as_tensor(cov))
        .log_prob(torch.as_tensor(x))
        .numpy()
    )
    got = p.log_prob(jnp.asarray(x, jnp.float32))
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_event_shape_mismatch_raises_under_jit_too():
    f = jax.jit(lambda loc, L: jd.MultivariateNormal(loc, scale_tril=L))
    with pytest.raises(ValueError, match="scale_tril"):
        f(jnp.zeros(4), jnp.eye(3))


def test_samples_are_reparameterised():
    def mean_sample(loc):
        p = jd.MultivariateNormal(loc, scale_tril=jnp.eye(D))
        return jnp.mean(p.sample(jax.random.key(0), (8,)))

    np.testing.assert_allclose(jax.grad(mean_sample)(jnp.zeros(D)), np.full(D, 1.0 / D), rtol=1e-6)
