"""Quirks of the cross-family continuous pairs (the generic checks run from pairs.py).

* torch's two wrong boundaries (ContinuousBernoulli || Uniform, Uniform || ContinuousBernoulli),
  shown against quadrature;
* the always-infinite pairs are exactly torch's ``_kl_*_infinity`` pairs, and broadcast;
* every torch cross pair between these families dispatches to our closed form (not the
  exponential-family fallback);
* boundary values of the support masks, and an overflow torch's product form does not avoid.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import torch
import torch.distributions as td

from jaxkl import distributions as jd
from jaxkl.kl import continuous_cross, infinite
from jaxkl.kl._registry import lookup
import tests.kl.pairs  # noqa: F401,I001  (pairs.py imports every pairs_* module: import it first)
from tests.kl.pairs_continuous_cross import _CLASSES, quad_kl

_T = torch.float64


def _t(x):
    return torch.tensor(x, dtype=_T)


@pytest.mark.x64
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 2.0), (-1.0, 1.0)])
@pytest.mark.parametrize("probs", [0.2, 0.5, 0.9])
def test_torch_is_wrong_for_continuous_bernoulli_against_uniform_on_the_boundary(probs, low, high):
    """[0, 1] ⊆ [low, high]: the KL is finite; torch says +inf when low == 0 or high == 1."""
    want = quad_kl("ContinuousBernoulli", {"probs": probs}, "Uniform", {"low": low, "high": high})
    assert np.isfinite(want)
    torch_value = td.kl_divergence(td.ContinuousBernoulli(probs=_t(probs)), td.Uniform(_t(low), _t(high))).item()
    assert torch_value == np.inf  # torch's deviation
    got = jd.kl_divergence(jd.ContinuousBernoulli(probs=jnp.float64(probs)), jd.Uniform(jnp.float64(low), jnp.float64(high)))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (0.0, 0.5), (0.5, 1.0)])
@pytest.mark.parametrize("probs", [0.2, 0.5, 0.9])
def test_torch_is_wrong_for_uniform_against_continuous_bernoulli_on_the_boundary(probs, low, high):
    """[low, high] ⊆ [0, 1]: the KL is finite; torch says +inf when low == 0 or high == 1."""
    want = quad_kl("Uniform", {"low": low, "high": high}, "ContinuousBernoulli", {"probs": probs})
    assert np.isfinite(want)
    torch_value = td.kl_divergence(td.Uniform(_t(low), _t(high)), td.ContinuousBernoulli(probs=_t(probs))).item()
    assert torch_value == np.inf  # torch's deviation
    got = jd.kl_divergence(jd.Uniform(jnp.float64(low), jnp.float64(high)), jd.ContinuousBernoulli(probs=jnp.float64(probs)))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize(
    "p_name, pp, q_name, qp",
    [
        ("Uniform", {"low": 0.0, "high": 0.6}, "Beta", {"concentration1": 0.5, "concentration0": 2.0}),
        ("Uniform", {"low": 0.3, "high": 1.0}, "Beta", {"concentration1": 2.0, "concentration0": 0.4}),
        ("Uniform", {"low": 0.0, "high": 1.0}, "Beta", {"concentration1": 0.7, "concentration0": 3.0}),
        ("Uniform", {"low": 0.0, "high": 2.0}, "Gamma", {"concentration": 0.4, "rate": 1.5}),
        ("Uniform", {"low": 0.0, "high": 2.0}, "Exponential", {"rate": 1.5}),
        ("Uniform", {"low": 0.7, "high": 2.0}, "Pareto", {"scale": 0.7, "alpha": 2.5}),
        ("Beta", {"concentration1": 0.5, "concentration0": 0.5}, "Uniform", {"low": 0.0, "high": 1.0}),
    ],
)
def test_support_boundaries_are_finite_and_match_torch_and_quadrature(p_name, pp, q_name, qp):
    p = _CLASSES[p_name](**{k: jnp.float64(v) for k, v in pp.items()})
    q = _CLASSES[q_name](**{k: jnp.float64(v) for k, v in qp.items()})
    got = float(jd.kl_divergence(p, q))
    want_torch = td.kl_divergence(
        getattr(td, p_name)(**{k: _t(v) for k, v in pp.items()}), getattr(td, q_name)(**{k: _t(v) for k, v in qp.items()})
    ).item()
    np.testing.assert_allclose(got, want_torch, rtol=1e-10)
    np.testing.assert_allclose(got, quad_kl(p_name, pp, q_name, qp), rtol=1e-7)


@pytest.mark.x64
@pytest.mark.parametrize(
    "q_name, qp, alpha_edge",
    [("Exponential", {"rate": 1.3}, 1.0), ("Gamma", {"concentration": 2.0, "rate": 0.7}, 1.0),
     ("Normal", {"loc": 0.5, "scale": 2.0}, 2.0)],
)
def test_pareto_is_infinite_exactly_up_to_the_moment_condition(q_name, qp, alpha_edge):
    alpha = np.array([alpha_edge - 0.5, alpha_edge, np.nextafter(alpha_edge, 10.0), alpha_edge + 0.5])
    p = jd.Pareto(jnp.float64(1.2), jnp.asarray(alpha))
    q = _CLASSES[q_name](**{k: jnp.float64(v) for k, v in qp.items()})
    got = np.asarray(jd.kl_divergence(p, q))
    want = td.kl_divergence(td.Pareto(_t(1.2), torch.as_tensor(alpha)),
                            getattr(td, q_name)(**{k: _t(v) for k, v in qp.items()})).numpy()
    np.testing.assert_array_equal(np.isinf(got), [True, True, False, False])
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[2:], want[2:], rtol=1e-9)


def test_masked_pairs_have_finite_gradients_next_to_the_mask():
    """Gradients of the finite entries stay finite while other entries of the batch are +inf
    (the masked inputs are made safe before the logs)."""
    def total(alpha, low):
        kl1 = jd.kl_divergence(jd.Pareto(1.0, alpha), jd.Normal(0.0, 1.0))
        kl2 = jd.kl_divergence(jd.Uniform(low, low + 1.0), jd.Gamma(0.5, 2.0))
        kl3 = jd.kl_divergence(jd.Uniform(low, low + 1.0), jd.Beta(0.5, 2.0))
        kl = jnp.concatenate([kl1, kl2, kl3])
        return jnp.sum(jnp.where(jnp.isfinite(kl), kl, 0.0))

    alpha = jnp.array([1.0, 2.0, 3.0, 5.0])
    low = jnp.array([-0.5, 0.0, 0.25, -1e-3])
    ga, gl = jax.grad(total, argnums=(0, 1))(alpha, low)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gl))
    np.testing.assert_array_equal(np.asarray(ga)[:2], 0.0)  # the +inf entries do not leak


def _torch_univariate_continuous_pairs():
    names = set(_CLASSES)
    return {
        (a.__name__, b.__name__): fn.__name__
        for (a, b), fn in td.kl._KL_REGISTRY.items()
        if a is not b and a.__name__ in names and b.__name__ in names
    }


def test_infinite_pairs_are_exactly_torchs_infinity_pairs():
    torch_inf = {pair for pair, name in _torch_univariate_continuous_pairs().items() if name.endswith("_infinity")}
    ours = {(p.__name__, q.__name__) for p, q in infinite.INFINITE_PAIRS}
    assert ours == torch_inf
    for p, q in infinite.INFINITE_PAIRS:
        assert lookup(p, q) is infinite._kl_infinite


def test_every_torch_cross_pair_of_these_families_has_its_own_closed_form():
    pairs = _torch_univariate_continuous_pairs()
    assert len(pairs) == 59
    for p_name, q_name in pairs:
        fn = lookup(_CLASSES[p_name], _CLASSES[q_name])
        assert fn is not None, (p_name, q_name)
        assert fn.__module__ in (continuous_cross.__name__, infinite.__name__), (p_name, q_name, fn)


@pytest.mark.parametrize("p_first", [True, False])
def test_infinite_pairs_broadcast_to_both_batch_shapes(p_first):
    """torch returns p's batch shape for these pairs; ours is the broadcast of both."""
    small, big = (jnp.zeros((3, 1)), jnp.zeros((4,))) if p_first else (jnp.zeros((4,)), jnp.zeros((3, 1)))
    p = jd.Normal(small, 1.0)
    q = jd.Exponential(big + 2.0)
    out = jd.kl_divergence(p, q)
    assert out.shape == (3, 4) and out.dtype == jnp.float32
    assert np.all(np.isposinf(np.asarray(out)))
    out_jit = jax.jit(jd.kl_divergence)(p, q)
    assert out_jit.shape == (3, 4) and np.all(np.isposinf(np.asarray(out_jit)))


@pytest.mark.x64
def test_infinite_pairs_keep_float64():
    out = jd.kl_divergence(jd.Gumbel(jnp.zeros(2), 1.0), jd.Beta(jnp.float64(2.0), 3.0))
    assert out.dtype == jnp.float64 and out.shape == (2,)


@pytest.mark.x64
def test_gamma_gumbel_does_not_overflow_where_torch_does():
    """torch forms exp(mu/beta) * (1 + 1/(rate beta))^(-k) as a product: exp(720) overflows to
    +inf although the KL (~1e233) is finite. Reference: mpmath quadrature at 50 digits."""
    k, r, mu, beta = 60.0, 0.05, 720.0, 1.0
    torch_value = td.kl_divergence(td.Gamma(_t(k), _t(r)), td.Gumbel(_t(mu), _t(beta))).item()
    assert torch_value == np.inf
    got = float(jd.kl_divergence(jd.Gamma(jnp.float64(k), r), jd.Gumbel(jnp.float64(mu), beta)))
    with mp.workdps(50):
        k_, r_, mu_, b_ = (mp.mpf(v) for v in (k, r, mu, beta))

        def log_p(x):
            return k_ * mp.log(r_) + (k_ - 1) * mp.log(x) - r_ * x - mp.loggamma(k_)

        def integrand(x):
            z = (x - mu_) / b_
            return mp.exp(log_p(x)) * (log_p(x) + mp.log(b_) + z + mp.exp(-z))

        want = mp.quad(integrand, [0, k_ / r_ / 4, k_ / r_, 4 * k_ / r_, mp.inf])
    np.testing.assert_allclose(got, float(want), rtol=1e-10)
