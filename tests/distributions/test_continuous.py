"""Quirks of the univariate continuous families (the generic contract is in test_contract.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.distributions as td
from jax.experimental import checkify

from jaxkl import distributions as jd


@pytest.mark.parametrize(
    "dist,outside,boundary",
    [
        (lambda: jd.HalfNormal(1.5), -0.1, 0.0),
        (lambda: jd.Exponential(2.0), -1e-3, 0.0),
        (lambda: jd.Gamma(jnp.array([0.5, 1.0, 3.0]), 2.0), -1.0, 0.0),
        (lambda: jd.Beta(jnp.array([0.5, 1.0, 3.0]), 2.0), 1.5, 1.0),
        (lambda: jd.Pareto(1.0, 2.0), 0.5, 1.0),
        (lambda: jd.Uniform(0.0, 2.0), 2.0, 0.0),
        (lambda: jd.ContinuousBernoulli(probs=jnp.array([0.1, 0.5, 0.9])), 1.1, 1.0),
    ],
)
def test_log_prob_is_minus_inf_outside_and_never_nan_on_the_support(dist, outside, boundary):
    d = dist()
    assert np.all(np.asarray(d.log_prob(jnp.float32(outside))) == -np.inf)
    assert not np.any(np.isnan(np.asarray(d.log_prob(jnp.float32(boundary)))))


def test_gamma_and_beta_samples_have_finite_reparameterised_gradients():
    def mean_sample(c):
        g = jd.Gamma(c, 1.0).sample(jax.random.key(0), (64,))
        b = jd.Beta(c, 2.0).sample(jax.random.key(1), (64,))
        return jnp.mean(g) + jnp.mean(b)

    grad = jax.grad(mean_sample)(jnp.float32(1.5))
    assert np.isfinite(float(grad)) and float(grad) != 0.0


def test_uniform_needs_low_below_high_also_under_jit():
    with pytest.raises(ValueError, match="low"):
        jd.Uniform(1.0, 0.5)
    err, _ = checkify.checkify(jax.jit(lambda lo, hi: jd.Uniform(lo, hi).entropy()))(1.0, 0.5)
    with pytest.raises(Exception, match="low"):
        err.throw()


def test_continuous_bernoulli_takes_exactly_one_parametrisation():
    with pytest.raises(ValueError, match="probs"):
        jd.ContinuousBernoulli()
    with pytest.raises(ValueError, match="probs"):
        jd.ContinuousBernoulli(probs=0.3, logits=0.1)


def test_continuous_bernoulli_matches_torch_inside_and_around_lims_in_float64():
    probs = np.array([1e-6, 0.2, 0.4989, 0.499, 0.4995, 0.5, 0.5005, 0.501, 0.5011, 0.8, 1 - 1e-6])
    t = td.ContinuousBernoulli(probs=torch.tensor(probs, dtype=torch.float64))
    with jax.enable_x64(True):
        d = jd.ContinuousBernoulli(probs=jnp.asarray(probs, jnp.float64))
        x = jnp.asarray([0.0, 0.3, 1.0], jnp.float64)[:, None]
        lp = np.asarray(d.log_prob(x))
        mean, var, ent, logc = (np.asarray(v) for v in (d.mean, d.variance, d.entropy(), d._cont_bern_log_norm()))
    np.testing.assert_allclose(lp, t.log_prob(torch.tensor(np.asarray(x))).numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mean, t.mean.numpy(), rtol=1e-9)
    # torch's direct variance formula cancels just outside lims (1e-8 relative at 0.499; mpmath
    # agrees with ours to 1e-15 there), hence the looser tolerance
    np.testing.assert_allclose(var, t.variance.numpy(), rtol=1e-7)
    np.testing.assert_allclose(ent, t.entropy().numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(logc, t._cont_bern_log_norm().numpy(), rtol=1e-9)


def test_continuous_bernoulli_sampler_stays_in_the_unit_interval_for_extreme_logits():
    d = jd.ContinuousBernoulli(logits=jnp.array([-200.0, -1e-8, 0.0, 1e-8, 200.0]))
    x = np.asarray(d.sample(jax.random.key(0), (256,)))
    assert np.all((x >= 0) & (x <= 1)) and not np.any(np.isnan(x))


def test_pareto_mean_and_variance_are_infinite_where_torch_says_so():
    alpha = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    d = jd.Pareto(1.0, jnp.asarray(alpha, jnp.float32))
    t = td.Pareto(torch.tensor(1.0), torch.tensor(alpha, dtype=torch.float32))
    np.testing.assert_allclose(np.asarray(d.mean), t.mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(d.variance), t.variance.numpy(), rtol=1e-6)
