"""The generic exponential-family (Bregman) KL.

The generic exponential-family (Bregman) KL against every same-family closed form,
as torch's ``test_kl_exponential_family`` does, and against torch's own Bregman fallback.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import distributions as jd

# name -> (constructor, params(rng) -> kwargs with batch shape (3,) [+ event])
FAMILIES = {
    "Normal": (jd.Normal, lambda r: {"loc": r.normal(size=3), "scale": r.uniform(0.3, 3.0, 3)}),
    "Exponential": (jd.Exponential, lambda r: {"rate": r.uniform(0.3, 3.0, 3)}),
    "Gamma": (
        jd.Gamma,
        lambda r: {"concentration": r.uniform(0.5, 5.0, 3), "rate": r.uniform(0.3, 3.0, 3)},
    ),
    "Beta": (
        jd.Beta,
        lambda r: {
            "concentration1": r.uniform(0.5, 5.0, 3),
            "concentration0": r.uniform(0.5, 5.0, 3),
        },
    ),
    "ContinuousBernoulli": (jd.ContinuousBernoulli, lambda r: {"probs": r.uniform(0.1, 0.9, 3)}),
    "Dirichlet": (jd.Dirichlet, lambda r: {"concentration": r.uniform(0.5, 4.0, (3, 4))}),
    "Bernoulli[probs]": (jd.Bernoulli, lambda r: {"probs": r.uniform(0.05, 0.95, 3)}),
    "Bernoulli[logits]": (jd.Bernoulli, lambda r: {"logits": r.normal(0, 2, 3)}),
    "Geometric": (jd.Geometric, lambda r: {"probs": r.uniform(0.1, 0.9, 3)}),
    "Poisson": (jd.Poisson, lambda r: {"rate": r.uniform(0.2, 8.0, 3)}),
    "Categorical": (jd.Categorical, lambda r: {"logits": r.normal(size=(3, 5))}),
    "OneHotCategorical": (jd.OneHotCategorical, lambda r: {"probs": r.dirichlet(np.ones(4), 3)}),
}


def _pair(name, dtype, seed=0):
    cls, params = FAMILIES[name]
    rng = np.random.default_rng(seed)

    def make():
        return cls(**{k: jnp.asarray(v, dtype) for k, v in params(rng).items()})

    return make(), make()


@pytest.mark.x64
@pytest.mark.parametrize("name", list(FAMILIES))
def test_bregman_kl_equals_the_closed_form_in_float64(name):
    p, q = _pair(name, jnp.float64)
    assert isinstance(p, jd.ExponentialFamily)
    closed = jd.kl_divergence(p, q)
    bregman = jd.exponential_family_kl(p, q)
    assert bregman.dtype == jnp.float64 and bregman.shape == closed.shape
    np.testing.assert_allclose(bregman, closed, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_bregman_kl_equals_the_closed_form_in_float32_under_jit(name):
    p, q = _pair(name, jnp.float32, seed=1)
    bregman = jax.jit(jd.exponential_family_kl)(p, q)
    np.testing.assert_allclose(bregman, jd.kl_divergence(p, q), rtol=2e-4, atol=2e-5)


@pytest.mark.x64
@pytest.mark.parametrize(
    "name", ["Normal", "Gamma", "Beta", "Poisson", "Bernoulli[probs]", "Exponential"]
)
def test_bregman_kl_matches_torchs_bregman_fallback(name):
    import torch
    import torch.distributions as td
    from torch.distributions.kl import _kl_expfamily_expfamily

    cls, params = FAMILIES[name]
    rng = np.random.default_rng(2)
    pp, qp = params(rng), params(rng)
    tcls = getattr(td, cls.__name__)
    want = (
        _kl_expfamily_expfamily(
            tcls(**{k: torch.tensor(v) for k, v in pp.items()}),
            tcls(**{k: torch.tensor(v) for k, v in qp.items()}),
        )
        .detach()
        .numpy()
    )
    got = jd.exponential_family_kl(
        cls(**{k: jnp.asarray(v) for k, v in pp.items()}),
        cls(**{k: jnp.asarray(v) for k, v in qp.items()}),
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bregman_kl_broadcasts_batch_shapes():
    p = jd.Poisson(jnp.array([[1.0], [2.0]]))
    q = jd.Poisson(jnp.array([0.5, 1.5, 3.0]))
    got = jd.exponential_family_kl(p, q)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, jd.kl_divergence(p, q), rtol=1e-5)


def test_different_families_raise_a_clear_error():
    with pytest.raises(NotImplementedError, match="same family, got Normal and Gamma"):
        jd.exponential_family_kl(jd.Normal(0.0, 1.0), jd.Gamma(1.0, 1.0))
    # the registered fallback is what kl_divergence reaches for an unregistered pair of
    # exponential families, with the same message
    with pytest.raises(NotImplementedError, match="same family, got Poisson and Geometric"):
        jd.kl_divergence(jd.Poisson(1.0), jd.Geometric(probs=0.5))
    with pytest.raises(TypeError, match="ExponentialFamily"):
        jd.exponential_family_kl(jd.Binomial(3, probs=0.5), jd.Binomial(3, probs=0.4))
