"""Per-call cost of jaxkl inside a jitted function at small shapes, against the same maths by hand.

At these sizes the arithmetic is negligible and a jitted call costs what JAX's dispatch
costs: a few microseconds on the C++ fast path, ~150 µs more when the jaxpr carries an effect
(such as a ``checkify`` check). Each row times a jitted function built on jaxkl and the same
maths written by hand, interleaved in one run, and prints the ratio (target: <= 1.2x).

Usage: ``python benchmarks/overhead.py [--calls N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

import jaxkl
from jaxkl import distributions as jd
from jaxkl.metrics import KLDivergence


def _per_call_us(fn, args, calls):
    out = fn(*args)
    jax.block_until_ready(out)
    t0 = time.perf_counter()
    for _ in range(calls):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / calls * 1e6


@flax.struct.dataclass
class _HandState:
    """A hand-written clu-style running mean: what a user would write instead of the metric."""

    total: jax.Array
    count: jax.Array

    def merge(self, other):
        return _HandState(self.total + other.total, self.count + other.count)


def _hand_tensor_kl(p, q):
    p = p / jnp.sum(p, -1, keepdims=True)
    q = q / jnp.sum(q, -1, keepdims=True)
    return jnp.mean(jnp.sum(p * jnp.log(p / q), -1))


def _hand_metric_step(state, p, q):
    pn = p / jnp.sum(p, -1, keepdims=True)
    qn = q / jnp.sum(q, -1, keepdims=True)
    rows = jnp.sum(pn * jnp.log(pn / qn), -1)
    return state.merge(_HandState(jnp.sum(rows), jnp.asarray(rows.shape[0], jnp.int32)))


def _hand_normal(m1, s1, m2, s2):
    var_ratio = (s1 / s2) ** 2
    t1 = ((m1 - m2) / s2) ** 2
    return 0.5 * (var_ratio + t1 - 1 - jnp.log(var_ratio))


def _hand_mvn(loc1, l1, loc2, l2):
    d = loc1.shape[-1]
    m = jax.scipy.linalg.solve_triangular(l2, l1, lower=True)
    diff = jax.scipy.linalg.solve_triangular(l2, (loc2 - loc1)[..., None], lower=True)[..., 0]
    half_logdet = jnp.sum(jnp.log(jnp.diagonal(l2, axis1=-2, axis2=-1)), -1) - jnp.sum(
        jnp.log(jnp.diagonal(l1, axis1=-2, axis2=-1)), -1
    )
    return half_logdet + 0.5 * (jnp.sum(m**2, (-2, -1)) + jnp.sum(diff**2, -1) - d)


def rows():
    rng = np.random.default_rng(0)
    p = jnp.asarray(rng.uniform(0.1, 1.0, (32, 10)), jnp.float32)
    q = jnp.asarray(rng.uniform(0.1, 1.0, (32, 10)), jnp.float32)
    lp = jax.nn.log_softmax(jnp.asarray(rng.normal(size=(16, 64)), jnp.float32))
    lq = jax.nn.log_softmax(jnp.asarray(rng.normal(size=(16, 64)), jnp.float32))
    m1, m2 = (jnp.asarray(rng.normal(size=64), jnp.float32) for _ in range(2))
    s1, s2 = (jnp.asarray(rng.uniform(0.5, 2.0, 64), jnp.float32) for _ in range(2))
    a = rng.normal(size=(2, 8, 4, 4))
    tril = np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4))
    loc1, loc2 = (jnp.asarray(rng.normal(size=(8, 4)), jnp.float32) for _ in range(2))
    l1, l2 = (jnp.asarray(t, jnp.float32) for t in tril)

    yield (
        "tensor KL [32, 10]",
        jax.jit(lambda a, b: jaxkl.functional.kl_divergence(a, b)),
        jax.jit(_hand_tensor_kl),
        (p, q),
    )
    yield (
        "tensor KL log_prob=True [16, 64]",
        jax.jit(lambda a, b: jaxkl.functional.kl_divergence(a, b, log_prob=True)),
        jax.jit(lambda a, b: jnp.mean(jnp.sum(jnp.exp(a) * (a - b), -1))),
        (lp, lq),
    )
    yield (
        "metric merge step [32, 10]",
        jax.jit(lambda s, a, b: s.merge(KLDivergence.from_model_output(a, b))),
        jax.jit(_hand_metric_step),
        (KLDivergence.empty(), p, q),
        (_HandState(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)), p, q),
    )
    yield (
        "Normal-Normal, 64 elements, built inside",
        jax.jit(lambda a, b, c, d: jd.kl_divergence(jd.Normal(a, b), jd.Normal(c, d))),
        jax.jit(_hand_normal),
        (m1, s1, m2, s2),
    )
    yield (
        "MultivariateNormal d=4, batch 8, built inside",
        jax.jit(
            lambda a, b, c, d: jd.kl_divergence(
                jd.MultivariateNormal(a, scale_tril=b), jd.MultivariateNormal(c, scale_tril=d)
            )
        ),
        jax.jit(_hand_mvn),
        (loc1, l1, loc2, l2),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeats", type=int, default=7, help="timings per row (median)")
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f}; jax {jax.__version__} on "
        f"{jax.devices()[0].platform}; µs per call, median of {args.repeats} x {args.calls} calls"
    )
    print(f"\n{'jitted function':48s} {'jaxkl':>9s} {'by hand':>9s} {'ratio':>7s}  effects")
    for name, ours, hand, *arg_sets in rows():
        ours_args = arg_sets[0]
        hand_args = arg_sets[1] if len(arg_sets) > 1 else arg_sets[0]
        effects = jax.make_jaxpr(ours)(*ours_args).effects
        a, b = [], []
        for _ in range(args.repeats):  # interleaved, so that load changes hit both alike
            a.append(_per_call_us(ours, ours_args, args.calls))
            b.append(_per_call_us(hand, hand_args, args.calls))
        t_ours, t_hand = statistics.median(a), statistics.median(b)
        print(
            f"{name:48s} {t_ours:9.1f} {t_hand:9.1f} {t_ours / t_hand:6.2f}x  "
            f"{sorted(map(str, effects)) or 'none'}"
        )


if __name__ == "__main__":
    main()
