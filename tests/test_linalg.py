"""jaxkl._linalg: the CPU triangular solve and Cholesky without LAPACK custom calls.

jaxlib 0.10.2 runs LAPACK's ``trsm`` / ``potrf`` on CPU as FFI custom calls on XLA's
intra-op pool; two of them in one program deadlock within tens of calls (issue 11.2; both
measured on 2 cores, ``syevd`` was not). The replacements are matrix products only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import _linalg
from jaxkl import distributions as jd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (d, batch): below, at and above the block size, and a ragged last block
SIZES = [(1, (3,)), (4, (2, 3)), (32, (2,)), (33, (2,)), (100, (2,))]


def _custom_calls(fn, *args):
    text = jax.jit(fn).lower(*args).as_text()
    return set(re.findall(r"custom_call @(\w+)", text)) | set(
        re.findall(r'custom_call_target\s*=\s*"([^"]+)"', text)
    )


@pytest.mark.parametrize("d, batch", SIZES, ids=[f"d{d}" for d, _ in SIZES])
def test_cpu_solve_and_cholesky_match_lapack_without_custom_calls(d, batch):
    rng = np.random.default_rng(d)
    a = rng.normal(size=batch + (d, d)) / np.sqrt(d)
    s = (a @ np.swapaxes(a, -1, -2) + 0.3 * np.eye(d)).astype(np.float32)
    b = rng.normal(size=batch + (d, d + 1)).astype(np.float32)

    def both(s, b):
        chol = _linalg.cholesky(s)
        return chol, _linalg.solve_lower(chol, b)

    chol, x = jax.jit(both)(s, b)
    want_chol = np.linalg.cholesky(s.astype(np.float64))
    want_x = np.linalg.solve(want_chol, b.astype(np.float64))
    scale = np.abs(want_x).max()
    np.testing.assert_allclose(chol, want_chol, atol=2e-6 * np.abs(want_chol).max())
    np.testing.assert_allclose(x, want_x, atol=2e-5 * scale)
    assert not _custom_calls(both, s, b)
    # not positive definite: NaN, as jnp.linalg.cholesky
    assert np.isnan(np.asarray(_linalg.cholesky(-s))).any()


def test_gaussian_and_matrix_kls_hold_no_lapack_solve_or_cholesky_on_cpu():
    loc = jnp.zeros(3)
    tril = jnp.eye(3) * 2.0

    def kls(t):
        cov = t @ t.T
        return (
            jd.kl_divergence(
                jd.MultivariateNormal(loc, scale_tril=t),
                jd.MultivariateNormal(loc, covariance_matrix=cov + 1),
            )
            + jd.kl_divergence(
                jd.Wishart(5.0, covariance_matrix=cov), jd.Wishart(6.0, scale_tril=t)
            )
            + jd.kl_divergence(
                jd.MatrixNormal(jnp.zeros((3, 3)), t, t), jd.MatrixNormal(jnp.ones((3, 3)), t, t)
            )
        )

    calls = _custom_calls(kls, tril)
    assert not any("trsm" in c or "potrf" in c for c in calls), calls


@pytest.mark.timeout(400)
def test_no_composition_of_matrix_kls_hangs():
    """One subprocess, two compositions, 300 jitted calls each.

    A symmetric MVN KL at d=64, batch 64 (LAPACK's two ``trsm`` stalled after 17-71 calls),
    then one jit summing MVN, MVN (covariance), LowRank, MVN-Diag, Wishart and MatrixNormal
    pairs. A deadlock shows as the time limit passing.
    """
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    try:
        out = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "_deadlock_worker.py"), "300"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"a composition hung (finished: {e.stdout!r})")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "symmetric-mvn" in out.stdout and "mixed-pairs" in out.stdout, out.stdout
