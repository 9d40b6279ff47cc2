"""Each public entry point once, eager and under jit, against float64 numpy references.

Marked ``smoke``: CI also runs this module alone on the oldest JAX and flax that
pyproject admits (``pytest -m smoke``), in a fresh environment with only jaxkl's own
dependencies, numpy, pytest and hypothesis: nothing here imports torch, scipy or the other
reference libraries.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import checkify

import jaxkl
from jaxkl import distributions as jd
from jaxkl import losses
from jaxkl.metrics import KLDivergence

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-5  # float32 results against float64 references of O(1) values
ATOL = 1e-6


def _close(actual, desired):
    np.testing.assert_allclose(np.asarray(actual, np.float64), desired, rtol=RTOL, atol=ATOL)


def _kl_rows(p, q):
    p = np.asarray(p, np.float64) / np.sum(p, -1, keepdims=True)
    q = np.asarray(q, np.float64) / np.sum(q, -1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * np.log(p / q), 0.0), -1)


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    m = np.max(x, -1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), -1, keepdims=True))


def _digamma(x):
    """Central difference of math.lgamma in float64 (error ~1e-10 at these arguments)."""
    h = 1e-5
    return (math.lgamma(x + h) - math.lgamma(x - h)) / (2 * h)


P = np.array([[0.36, 0.48, 0.16], [0.2, 0.3, 0.5]], np.float32)
Q = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.25, 0.25]], np.float32)


def test_quickstart_runs_and_prints_its_values():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    first = out.splitlines()[0]
    assert float(first.split("=")[1].split()[0]) == pytest.approx(_kl_rows(P[:1], Q[:1])[0], 1e-3)


def test_tensor_kl(transform):
    mask = np.array([True, False])
    f = transform(lambda p, q, m: (jaxkl.kl_divergence(p, q), jaxkl.kl_divergence(p, q, where=m)))
    mean, masked = f(P, Q, mask)
    rows = _kl_rows(P, Q)
    _close(mean, rows.mean())
    _close(masked, rows[0])
    g = transform(jax.grad(lambda q: jaxkl.functional.kl_divergence(P, q)))(Q)
    assert np.all(np.isfinite(g))


def test_distribution_kl_and_registry(transform):
    def kls(loc, scale, probs, conc, logits):
        return (
            jd.kl_divergence(jd.Normal(loc, scale), jd.Normal(0.0, 1.0)),
            jd.kl_divergence(jd.Bernoulli(probs=probs), jd.Bernoulli(probs=0.5)),
            jd.kl_divergence(jd.Gamma(conc, 1.0), jd.Gamma(2.0, 1.5)),
            jd.kl_divergence(jd.Categorical(logits=logits), jd.Categorical(logits=-logits)),
            jd.kl_divergence(
                jd.MultivariateNormal(jnp.ones(2), scale_tril=jnp.eye(2) * scale),
                jd.MultivariateNormal(jnp.zeros(2), scale_tril=jnp.eye(2)),
            ),
        )

    logits = np.array([0.5, -1.0, 2.0], np.float32)
    normal, bern, gamma, cat, mvn = transform(kls)(1.0, 0.5, 0.3, 3.0, logits)
    _close(normal, math.log(1 / 0.5) + (0.25 + 1.0) / 2 - 0.5)
    _close(bern, 0.3 * math.log(0.3 / 0.5) + 0.7 * math.log(0.7 / 0.5))
    a, b, c, d = 3.0, 1.0, 2.0, 1.5  # Gamma(a, rate b) || Gamma(c, rate d)
    gamma_ref = (
        (a - c) * _digamma(a)
        - math.lgamma(a)
        + math.lgamma(c)
        + c * (math.log(b) - math.log(d))
        + a * (d - b) / b
    )
    _close(gamma, gamma_ref)
    lp, lq = _log_softmax(logits), _log_softmax(-logits)
    _close(cat, np.sum(np.exp(lp) * (lp - lq)))
    _close(mvn, 0.5 * (2 * 0.25 + 2.0 - 2 - 2 * math.log(0.25)))

    class Shifted(jd.Normal):
        pass

    @jd.register_kl(Shifted, jd.Normal)
    def _kl_shifted(p, q):
        return jnp.zeros(jnp.shape(p.loc)) + 7.0

    assert float(jd.kl_divergence(Shifted(0.0, 1.0), jd.Normal(0.0, 1.0))) == 7.0


def test_fallbacks_and_mixtures():
    p, q = jd.Normal(0.3, 0.8), jd.Normal(0.0, 1.0)
    exact = math.log(1 / 0.8) + (0.64 + 0.09) / 2 - 0.5
    _close(jd.quadrature_kl(p, q), exact)
    _close(
        jd.exponential_family_kl(jd.Gamma(3.0, 1.0), jd.Gamma(2.0, 1.5)),
        jd.kl_divergence(jd.Gamma(3.0, 1.0), jd.Gamma(2.0, 1.5)),
    )
    mc = jd.monte_carlo_kl(p, q, jax.random.PRNGKey(0), num_samples=20000)
    assert abs(float(mc) - exact) < 0.01  # ~5 standard errors of this estimator
    one = jd.Categorical(logits=jnp.zeros(1))
    mix_p = jd.MixtureSameFamily(one, jd.Normal(jnp.array([0.3]), jnp.array([0.8])))
    mix_q = jd.MixtureSameFamily(one, jd.Normal(jnp.array([0.0]), jnp.array([1.0])))
    _close(jd.mixture_kl_variational(mix_p, mix_q), exact)  # one component: the component KL
    _close(jd.mixture_kl_upper_bound(mix_p, mix_q), exact)


def test_losses(transform):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(4, 7)).astype(np.float32)
    q = rng.normal(size=(4, 7)).astype(np.float32)
    h = rng.normal(size=(4, 3)).astype(np.float32)
    w = rng.normal(size=(3, 7)).astype(np.float32)
    idx = np.argsort(-p, -1)[:, :2].astype(np.int32)

    def all_losses(p, q, h, w, lp_k):
        return (
            losses.kl_divergence_with_logits(p, q),
            losses.jensen_shannon_with_logits(p, q, beta=0.5),
            losses.fused_linear_kl_divergence(h, w, p),
            losses.topk_kl_divergence(idx, lp_k, q),
            losses.sampled_kl_divergence(lp_k[:, 0], lp_k[:, 1], estimator="k3"),
        )

    lp, lq = _log_softmax(p), _log_softmax(q)
    lp_k = np.take_along_axis(lp, idx, -1).astype(np.float32)
    kl, jsd, fused, topk, sampled = transform(all_losses)(p, q, h, w, lp_k)
    _close(kl, np.mean(np.sum(np.exp(lp) * (lp - lq), -1)))
    pp, qq = np.exp(lp), np.exp(lq)
    m = (pp + qq) / 2
    _close(jsd, np.mean(np.sum(0.5 * pp * np.log(pp / m) + 0.5 * qq * np.log(qq / m), -1)))
    lz = _log_softmax(h.astype(np.float64) @ w)
    _close(fused, np.mean(np.sum(np.exp(lp) * (lp - lz), -1)))
    lqk = np.take_along_axis(lq, idx, -1)
    pt, qt = 1 - np.exp(lp_k.astype(np.float64)).sum(-1), 1 - np.exp(lqk).sum(-1)
    _close(topk, np.mean(np.sum(np.exp(lp_k) * (lp_k - lqk), -1) + pt * np.log(pt / qt)))
    r = lp_k[:, 1].astype(np.float64) - lp_k[:, 0]
    _close(sampled, np.mean(np.expm1(r) - r))


def test_metric_states(transform):
    step = transform(lambda s, p, q: s.merge(KLDivergence.from_model_output(p=p, q=q)))
    state = KLDivergence.empty()
    for _ in range(2):
        state = step(state, P, Q)
    _close(state.compute(), _kl_rows(P, Q).mean())

    metric = jaxkl.metrics.nnx.KLDivergence()
    nnx_step = nnx.jit(lambda m, p, q: m.update(p=p, q=q)) if transform is jax.jit else None
    for _ in range(2):
        (nnx_step or (lambda m, p, q: m.update(p=p, q=q)))(metric, P, Q)
    _close(metric.compute(), _kl_rows(P, Q).mean())
    metric.reset()
    assert np.isnan(metric.compute())


def test_value_checks():
    bad = jnp.array([[0.5, -0.1, 0.6]])
    with pytest.raises(ValueError, match="negative"):
        jaxkl.kl_divergence(bad, jnp.ones((1, 3)))
    with jaxkl.value_checks():
        err, _ = checkify.checkify(jax.jit(jaxkl.kl_divergence))(bad, jnp.ones((1, 3)))
    assert "negative" in str(err.get())
