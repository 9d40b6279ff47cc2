"""Run by tests/test_linalg.py in a subprocess: compositions of jaxkl's matrix KLs.

Each composition is one jitted function called 300 times; with LAPACK's triangular solve
or Cholesky as CPU custom calls (jaxlib 0.10.2), two of them in one program deadlock on
XLA's intra-op pool within tens of calls. Prints one line per composition that finished.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp

from jaxkl import distributions as jd


def _tril(key, batch, d):
    a = jax.random.normal(key, batch + (d, d)) / d
    return jnp.tril(a, -1) + jnp.eye(d) * (1.0 + jnp.abs(jnp.diagonal(a, 0, -2, -1))[..., None, :])


def main(calls: int = 300):
    keys = jax.random.split(jax.random.key(0), 8)
    scale = _tril(keys[0], (64,), 64)

    def mvn(scale_tril):
        return jd.MultivariateNormal(jnp.zeros(scale_tril.shape[-1]), scale_tril=scale_tril)

    symmetric = jax.jit(
        lambda a, b: jd.kl_divergence(mvn(a), mvn(b)) + jd.kl_divergence(mvn(b), mvn(a))
    )
    for _ in range(calls):
        symmetric(scale, scale[::-1]).block_until_ready()
    print("symmetric-mvn", flush=True)

    la, lb = _tril(keys[1], (8,), 16), _tril(keys[2], (8,), 16)
    w1, w2 = jax.random.normal(keys[3], (2, 8, 16, 3))
    ra, rb = _tril(keys[4], (8,), 4), _tril(keys[5], (8,), 4)
    ca, cb = _tril(keys[6], (8,), 3), _tril(keys[7], (8,), 3)

    def mixed(la, lb, w1, w2, ra, rb, ca, cb):
        loc = jnp.zeros(16)
        total = jd.kl_divergence(mvn(la), mvn(lb)) + jd.kl_divergence(mvn(lb), mvn(la))
        cov = la @ jnp.swapaxes(la, -1, -2)
        total += jd.kl_divergence(
            jd.MultivariateNormal(loc, covariance_matrix=cov),
            jd.MultivariateNormal(loc, covariance_matrix=lb @ jnp.swapaxes(lb, -1, -2)),
        )
        low = lambda w: jd.LowRankMultivariateNormal(loc, w, jnp.ones(16))  # noqa: E731
        total += jd.kl_divergence(low(w1), low(w2)) + jd.kl_divergence(low(w1), mvn(lb))
        diag = jd.MultivariateNormalDiag(loc, jnp.diagonal(la, 0, -2, -1))
        total += jd.kl_divergence(diag, mvn(lb)) + jd.kl_divergence(mvn(la), diag)
        total += jd.kl_divergence(
            jd.Wishart(df=6.0, scale_tril=ra), jd.Wishart(df=7.0, scale_tril=rb)
        )
        total += jd.kl_divergence(
            jd.Wishart(df=6.0, covariance_matrix=ra @ jnp.swapaxes(ra, -1, -2)),
            jd.Wishart(df=6.5, covariance_matrix=rb @ jnp.swapaxes(rb, -1, -2)),
        )
        mloc = jnp.zeros((4, 3))
        total += jd.kl_divergence(jd.MatrixNormal(mloc, ra, ca), jd.MatrixNormal(mloc, rb, cb))
        return jnp.sum(total)

    mixed = jax.jit(mixed)
    args = (la, lb, w1, w2, ra, rb, ca, cb)
    for _ in range(calls):
        mixed(*args).block_until_ready()
    print("mixed-pairs", float(mixed(*args)), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
