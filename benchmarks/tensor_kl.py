"""Tensor KL throughput, side by side: jaxkl vs torchmetrics, torch, optax, scipy, limits.

Usage: ``python benchmarks/tensor_kl.py [--quick] [--repeats N]``. Prints one table per
case with the median time of ``--repeats`` runs and each row's throughput relative to jaxkl.
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


def _median_time(fn, repeats):
    fn()  # warm-up / compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _naive_port(p, q):
    """Torchmetrics' formula, jitted: normalise, xlogy(p, p/q), row sums, mean."""
    p = p / p.sum(-1, keepdims=True)
    q = q / q.sum(-1, keepdims=True)
    return jnp.mean(jnp.sum(jax.scipy.special.xlogy(p, p / q), -1))


def run_case(shape, dtype, log_prob, repeats):
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 1.0, size=shape).astype(np.float32)
    q = rng.uniform(0.01, 1.0, size=shape).astype(np.float32)
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
    rows = [("jaxkl.functional.kl_divergence (in jit)", lambda: ours(jp, jq).block_until_ready())]
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
        naive = jax.jit(_naive_port)
        rows.append(("naive jitted torchmetrics port", lambda: naive(jp, jq).block_until_ready()))
    read = jax.jit(lambda a, b: jnp.sum(a, dtype=jnp.float32) + jnp.sum(b, dtype=jnp.float32))
    onelog = jax.jit(lambda a, b: jnp.sum(jnp.log(a.astype(jnp.float32) / b.astype(jnp.float32))))
    rows.append(("limit: jit sum(p) + sum(q)", lambda: read(jp, jq).block_until_ready()))
    rows.append(("limit: jit sum(log(p / q))", lambda: onelog(jp, jq).block_until_ready()))

    times = [(name, _median_time(fn, repeats)) for name, fn in rows]
    base = times[0][1]
    title = f"shape {list(shape)}  {dtype}  log_prob={log_prob}"
    print(
        f"\n{title}\n{'-' * 78}\n{'implementation':46s} {'median ms':>10s} {'jaxkl speed-up':>16s}",
        flush=True,
    )
    for name, t in times:
        print(f"{name:46s} {t * 1e3:10.2f} {t / base:15.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small shapes, few repeats")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    repeats = args.repeats or (3 if args.quick else 7)
    shapes = [(256, 2048), (16, 32064)] if args.quick else [(4096, 8192), (256, 128256)]
    print(
        f"load average {os.getloadavg()[0]:.1f}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads; median of {repeats}; "
        "'jaxkl speed-up' = row time / jaxkl (in jit) time",
        flush=True,
    )
    for shape in shapes:
        run_case(shape, "float32", False, repeats)
    run_case(shapes[0], "bfloat16", False, repeats)
    run_case(shapes[0], "float32", True, repeats)


if __name__ == "__main__":
    main()
