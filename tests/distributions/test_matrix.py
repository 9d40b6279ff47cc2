"""Quirks of Wishart and MatrixNormal and their KLs.

Quirks of Wishart and MatrixNormal and their KLs: the Wishart KL against a torch-based
Monte Carlo estimate (torch's sampler and log_prob), Wishart log densities against scipy,
the MatrixNormal KL against TFP, and one triangular solve under jit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxkl
from jaxkl import distributions as jd
from tests.kl.pairs_matrix import wishart_kl_reference

_SP = np.array([[1.2, 0.3, -0.2], [0.3, 0.9, 0.1], [-0.2, 0.1, 1.5]])
_SQ = np.array([[0.8, -0.1, 0.0], [-0.1, 1.4, 0.4], [0.0, 0.4, 1.1]])


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:Singular sample detected")
def test_wishart_kl_agrees_with_torch_monte_carlo():
    """The Wishart KL agrees with a torch-based Monte Carlo estimate.

    E_p[log p(X) - log q(X)] with torch's Wishart sampler and log_prob, 20000 draws:
    within 5 standard errors of the closed form.
    """
    import torch
    import torch.distributions as td

    n_p, n_q = 6.5, 4.2
    kl = float(
        jd.kl_divergence(
            jd.Wishart(n_p, covariance_matrix=_SP), jd.Wishart(n_q, covariance_matrix=_SQ)
        )
    )
    torch.manual_seed(0)
    tp = td.Wishart(torch.tensor(n_p, dtype=torch.float64), covariance_matrix=torch.tensor(_SP))
    tq = td.Wishart(torch.tensor(n_q, dtype=torch.float64), covariance_matrix=torch.tensor(_SQ))
    x = tp.sample((20000,))
    d = (tp.log_prob(x) - tq.log_prob(x)).numpy()
    se = d.std() / np.sqrt(d.size)
    assert abs(d.mean() - kl) <= 5 * se, (kl, d.mean(), se)
    np.testing.assert_allclose(kl, wishart_kl_reference(n_p, _SP, n_q, _SQ), rtol=1e-5)


def test_wishart_log_prob_and_entropy_match_scipy():
    from scipy.stats import wishart

    w = jd.Wishart(5.5, scale_tril=np.linalg.cholesky(_SP))
    x = np.asarray(w.sample(jax.random.key(0), (3,)), np.float64)
    x = 0.5 * (x + np.swapaxes(x, -1, -2))
    ref = wishart(df=5.5, scale=_SP)
    np.testing.assert_allclose(w.log_prob(x), [ref.logpdf(xi) for xi in x], rtol=1e-4)
    np.testing.assert_allclose(w.entropy(), ref.entropy(), rtol=1e-5)


def test_wishart_kl_of_different_sizes_raises():
    with pytest.raises(ValueError, match="event shapes"):
        jd.kl_divergence(
            jd.Wishart(4.0, covariance_matrix=np.eye(2)),
            jd.Wishart(4.0, covariance_matrix=np.eye(3)),
        )


def test_wishart_df_check_under_checkify_jit():
    from jax.experimental import checkify

    make = checkify.checkify(jax.jit(lambda df: jd.Wishart(df, covariance_matrix=jnp.eye(3)).mean))
    with jaxkl.value_checks():
        err, _ = make(jnp.float32(1.5))
        assert "df" in err.get()
        err, _ = make(jnp.float32(2.5))
        assert err.get() is None


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype")
def test_matrix_normal_kl_matches_tfp():
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd = tfp.distributions
    lo = tfp.tf2jax.linalg.LinearOperatorLowerTriangular
    rng = np.random.default_rng(0)

    def tril(d):
        a = rng.normal(size=(d, d))
        return np.linalg.cholesky(a @ a.T / d + 0.5 * np.eye(d)).astype(np.float32)

    mp_, mq = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)
    ap, aq, bp, bq = tril(2), tril(2), tril(3), tril(3)
    ours = jd.kl_divergence(jd.MatrixNormal(mp_, ap, bp), jd.MatrixNormal(mq, aq, bq))
    theirs = tfd.kl_divergence(
        tfd.MatrixNormalLinearOperator(mp_, lo(ap), lo(bp)),
        tfd.MatrixNormalLinearOperator(mq, lo(aq), lo(bq)),
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    x = jnp.asarray(rng.normal(size=(4, 2, 3)), jnp.float32)
    np.testing.assert_allclose(
        jd.MatrixNormal(mp_, ap, bp).log_prob(x),
        tfd.MatrixNormalLinearOperator(mp_, lo(ap), lo(bp)).log_prob(x),
        rtol=1e-5,
    )


@pytest.mark.timeout(60)
def test_matrix_normal_kl_and_log_prob_under_jit_at_moderate_size():
    """One triangular solve per evaluation.

    One triangular solve per evaluation: jit at 24 x 16 completes (no XLA CPU deadlock)
    and agrees with the eager value.
    """
    rng = np.random.default_rng(1)
    n, k = 24, 16

    def make(seed_shift):
        a = np.tril(rng.normal(size=(n, n)) * 0.1) + np.eye(n)
        b = np.tril(rng.normal(size=(k, k)) * 0.1) + np.eye(k)
        return jd.MatrixNormal(
            rng.normal(size=(n, k)).astype(np.float32), a.astype(np.float32), b.astype(np.float32)
        )

    p, q = make(0), make(1)
    got = jax.jit(jd.kl_divergence)(p, q)
    np.testing.assert_allclose(got, jd.kl_divergence(p, q), rtol=1e-4)
    x = p.sample(jax.random.key(2), (3,))
    np.testing.assert_allclose(jax.jit(lambda d, v: d.log_prob(v))(p, x), p.log_prob(x), rtol=1e-4)


def test_matrix_normal_event_shape_mismatch_raises():
    with pytest.raises(ValueError, match="scale_row"):
        jd.MatrixNormal(np.zeros((2, 3)), np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="event shapes"):
        jd.kl_divergence(
            jd.MatrixNormal(np.zeros((2, 3)), np.eye(2), np.eye(3)),
            jd.MatrixNormal(np.zeros((3, 2)), np.eye(3), np.eye(2)),
        )
