"""Tensor KL throughput, side by side: jaxkl vs torchmetrics, torch, optax, scipy, limits.

Usage: ``python benchmarks/tensor_kl.py [--quick] [--repeats N]``. Every row of a case is
timed in the same rounds, interleaved (round ``i`` runs each row once, in alternating
order), so that a loaded machine slows all rows alike; the table gives each row's median
and its ratio to the jaxkl row, to the one-logarithm-per-element limit and to the fastest
JAX alternative (optax, the naive jitted port).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.special
import torch
import torch.nn.functional as F
from torchmetrics.functional import kl_divergence as tm_kl

from jaxkl.functional import kl_divergence

JAXKL = "jaxkl.functional.kl_divergence (in jit)"
ONE_LOG = "limit: jit sum(log(p / q))"
JAX_ALTERNATIVES = ("optax", "naive jitted torchmetrics port")


def _interleaved_medians(rows, repeats):
    """Median seconds per row; every round times each row once, order alternating."""
    for _, fn in rows:
        fn()  # warm-up / compile
    times = {name: [] for name, _ in rows}
    for i in range(repeats):
        for name, fn in rows if i % 2 == 0 else rows[::-1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return [(name, statistics.median(times[name])) for name, _ in rows]


def _naive_port(p, q):
    """Torchmetrics' formula, jitted: normalise, xlogy(p, p/q), row sums, mean."""
    p = p / p.sum(-1, keepdims=True)
    q = q / q.sum(-1, keepdims=True)
    return jnp.mean(jnp.sum(jax.scipy.special.xlogy(p, p / q), -1))


def _naive_log_port(p, q):
    """Torchmetrics' log-space formula, jitted: sum exp(p) (p - q), mean."""
    return jnp.mean(jnp.sum(jnp.exp(p) * (p - q), -1))


def run_case(shape, dtype, log_prob, repeats, q_scale=1.0):
    """One table; ``q_scale`` makes q's row sums that many times p's (unnormalised rows)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 1.0, size=shape).astype(np.float32)
    q = (rng.uniform(0.01, 1.0, size=shape) * q_scale).astype(np.float32)
    if log_prob:
        p = np.log(p / p.sum(-1, keepdims=True))
        q = np.log(q / q.sum(-1, keepdims=True))
    jdt = jnp.bfloat16 if dtype == "bfloat16" else jnp.float32
    tdt = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    jp, jq = jnp.asarray(p, jdt), jnp.asarray(q, jdt)
    tp, tq = torch.from_numpy(p).to(tdt), torch.from_numpy(q).to(tdt)

    # What a training step runs: the KL inside jax.jit (value checks are checkify checks there,
    # compiled out unless the caller checkifies).
    ours = jax.jit(lambda a, b: kl_divergence(a, b, log_prob))
    rows = [(JAXKL, lambda: ours(jp, jq).block_until_ready())]
    # The eager call: concrete value checks (one extra pass and one host sync), then the kernel.
    rows.append(
        (
            "jaxkl eager call, with value checks",
            lambda: kl_divergence(jp, jq, log_prob).block_until_ready(),
        )
    )
    rows.append(("torchmetrics.functional.kl_divergence", lambda: tm_kl(tp, tq, log_prob)))
    if log_prob:
        # kl_div(input=log q, target=log p, log_target=True) = sum exp(p)(p - q)
        rows.append(
            (
                "torch kl_div(batchmean, log_target)",
                lambda: F.kl_div(tq, tp, reduction="batchmean", log_target=True),
            )
        )
        optax_fn = jax.jit(lambda a, b: jnp.mean(optax.losses.kl_divergence_with_log_targets(b, a)))
        rows.append(
            ("optax kl_divergence_with_log_targets", lambda: optax_fn(jp, jq).block_until_ready())
        )
    else:
        rows.append(
            (
                "torch kl_div(batchmean) [pre-normalised]",
                lambda: F.kl_div(tq.log(), tp, reduction="batchmean"),
            )
        )
        optax_fn = jax.jit(lambda a, b: jnp.mean(optax.losses.kl_divergence(jnp.log(b), a)))
        rows.append(
            (
                "optax.losses.kl_divergence [pre-normalised]",
                lambda: optax_fn(jp, jq).block_until_ready(),
            )
        )
        if dtype == "float32":
            rows.append(
                ("scipy.special.rel_entr(...).sum()", lambda: scipy.special.rel_entr(p, q).sum())
            )
    naive = jax.jit(_naive_log_port if log_prob else _naive_port)
    rows.append(("naive jitted torchmetrics port", lambda: naive(jp, jq).block_until_ready()))
    read = jax.jit(lambda a, b: jnp.sum(a, dtype=jnp.float32) + jnp.sum(b, dtype=jnp.float32))
    onelog = jax.jit(lambda a, b: jnp.sum(jnp.log(a.astype(jnp.float32) / b.astype(jnp.float32))))
    rows.append(("limit: jit sum(p) + sum(q)", lambda: read(jp, jq).block_until_ready()))
    rows.append((ONE_LOG, lambda: onelog(jp, jq).block_until_ready()))

    times = _interleaved_medians(rows, repeats)
    by_name = dict(times)
    base, one_log = by_name[JAXKL], by_name[ONE_LOG]
    best_jax = min(t for name, t in times if name.startswith(JAX_ALTERNATIVES))
    sums = f"  q's row sums {q_scale:g}x p's" if q_scale != 1.0 else ""
    title = (
        f"shape {list(shape)}  {dtype}  log_prob={log_prob}{sums}   "
        f"load {os.getloadavg()[0]:.1f}   jaxkl = {base / one_log:.2f}x the one-log limit, "
        f"{base / best_jax:.2f}x the fastest JAX alternative"
    )
    print(
        f"\n{title}\n{'-' * 96}\n{'implementation':46s} {'median ms':>10s} {'/ jaxkl':>9s} "
        f"{'/ one-log':>10s} {'/ best JAX':>11s}",
        flush=True,
    )
    for name, t in times:
        print(
            f"{name:46s} {t * 1e3:10.2f} {t / base:8.2f}x {t / one_log:9.2f}x "
            f"{t / best_jax:10.2f}x",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    repeats = args.repeats or (3 if args.quick else 7)
    # (a batch of 8k-wide rows, a few LLM-vocabulary-wide rows: 128256 = Llama 3)
    square, wide = ((256, 2048), (16, 65536)) if args.quick else ((4096, 8192), (64, 128256))
    print(
        f"load average {os.getloadavg()[0]:.1f}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads; median of {repeats} interleaved rounds",
        flush=True,
    )
    # rows whose sums differ (counts against rates): jaxkl sums them a second time
    run_case(square, "float32", False, repeats, q_scale=1000.0)
    for shape, dtype, log_prob in [
        (square, "float32", False),
        (wide, "float32", False),
        (square, "bfloat16", False),
        (wide, "bfloat16", False),
        (square, "float32", True),
        (wide, "float32", True),
        (square, "bfloat16", True),
    ]:
        run_case(shape, dtype, log_prob, repeats)


if __name__ == "__main__":
    main()
