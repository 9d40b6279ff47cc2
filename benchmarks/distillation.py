"""Distillation loss step, side by side: fused vs unfused jaxkl vs optax on materialised logits.

Each row is one jitted forward + backward w.r.t. the student's hidden states and output
weight: ``jaxkl.losses.fused_linear_kl_divergence`` (no ``[N, V]`` logits; also its reverse
KL and JSD(0.5)), the unfused path (``hidden @ weight`` then
``jaxkl.losses.kl_divergence_with_logits``), optax's
``optax.losses.kl_divergence_with_log_targets`` on the same materialised logits (optax takes
``(log_predictions, log_targets)``, i.e. student first, and does not normalise logits, so
both are passed through ``jax.nn.log_softmax``), the top-k KL fused and on materialised
logits (the teacher's top 32), and, where tunix is installed, tunix's
``LogitStrategy.compute_loss`` (materialised logits, ``T = 1``). Printed: median time of
``--repeats`` runs after a warm-up, the compiled temporary memory (XLA's
``memory_analysis``), and the ratios to the unfused row.

Usage: ``python benchmarks/distillation.py [--quick | --gpu] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxkl import losses


def _median_time(fn, repeats):
    jax.block_until_ready(fn())  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@functools.cache
def _tunix_logit_strategy():
    """Tunix's LogitStrategy, loaded as examples/tunix_distillation.py does; None without tunix."""
    if importlib.util.find_spec("tunix") is None:
        return None
    path = Path(__file__).resolve().parents[1] / "examples" / "tunix_distillation.py"
    spec = importlib.util.spec_from_file_location("tunix_distillation_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LogitStrategy


def _steps(chunk_size, k):
    """Each row: a loss of (hidden, weight, teacher logits), differentiated w.r.t. the first two."""

    def top_k(t):
        lp, idx = jax.lax.top_k(jax.nn.log_softmax(t.astype(jnp.float32)), k)
        return idx, lp

    def fused(h, w, t):
        return losses.fused_linear_kl_divergence(h, w, t, chunk_size=chunk_size)

    def fused_reverse(h, w, t):
        return losses.fused_linear_kl_divergence(h, w, t, reverse=True, chunk_size=chunk_size)

    def fused_jsd(h, w, t):
        return losses.fused_linear_kl_divergence(h, w, t, beta=0.5, chunk_size=chunk_size)

    def fused_topk(h, w, t):
        idx, lp = top_k(t)
        return losses.fused_linear_topk_kl_divergence(h, w, idx, lp, chunk_size=chunk_size)

    def unfused(h, w, t):
        return losses.kl_divergence_with_logits(t, h @ w)

    def unfused_topk(h, w, t):
        idx, lp = top_k(t)
        return losses.topk_kl_divergence(idx, lp, h @ w)

    def optax_kl(h, w, t):
        log_q = jax.nn.log_softmax((h @ w).astype(jnp.float32))
        log_p = jax.nn.log_softmax(t.astype(jnp.float32))
        return jnp.mean(optax.losses.kl_divergence_with_log_targets(log_q, log_p))

    steps = {
        "fused (jaxkl)": fused,
        "unfused (jaxkl)": unfused,
        "optax on logits": optax_kl,
        "fused reverse KL": fused_reverse,
        "fused JSD(0.5)": fused_jsd,
        f"fused top-{k}": fused_topk,
        f"unfused top-{k}": unfused_topk,
    }
    strategy = _tunix_logit_strategy()
    if strategy is not None:  # tunix's loss on materialised logits (T = 1, alpha = 1)
        tunix = strategy(None, None, None, temperature=1.0, alpha=1.0)

        def tunix_loss(h, w, t):
            labels = jnp.zeros(t.shape, jnp.float32)  # alpha = 1: the task loss weighs 0
            return tunix.compute_loss(h @ w, t, labels)[0]

        steps["tunix LogitStrategy"] = tunix_loss
    return steps


def run_case(n, hdim, v, dtype, repeats, chunk_size=None, memory_only=False, k=32):
    key = jax.random.split(jax.random.key(0), 3)
    h = (jax.random.normal(key[0], (n, hdim), jnp.float32)).astype(dtype)
    w = (jax.random.normal(key[1], (hdim, v), jnp.float32) / np.sqrt(hdim)).astype(dtype)
    t = (jax.random.normal(key[2], (n, v), jnp.float32) * 2).astype(dtype)
    rows = []
    for name, loss in _steps(chunk_size, k).items():
        step = jax.jit(jax.value_and_grad(loss, (0, 1)))
        compiled = step.lower(h, w, t).compile()
        temp = compiled.memory_analysis().temp_size_in_bytes
        ms = float("nan")
        if not memory_only:
            ms = 1e3 * _median_time(lambda s=compiled: s(h, w, t), repeats)
        rows.append((name, ms, temp))
    base_ms, base_temp = rows[1][1], rows[1][2]
    label = f"N={n} H={hdim} V={v} {jnp.dtype(dtype).name}"
    print(f"\n{label}   ([N, V] float32 = {n * v * 4 / 2**20:.0f} MiB)")
    print(f"{'':20s} {'ms':>10s} {'vs unfused':>11s} {'temp MiB':>10s} {'vs unfused':>11s}")
    for name, ms, temp in rows:
        print(
            f"{name:20s} {ms:10.1f} {ms / base_ms:10.2f}x {temp / 2**20:10.1f} "
            f"{temp / base_temp:10.3f}x"
        )
    return rows


#: (bfloat16 dense TFLOP/s, HBM TB/s) of the accelerators the default chunk is chosen for
_DEVICES = {"H100 SXM": (989.0, 3.35), "TPU v5p": (459.0, 2.76)}


def print_chunk_plan(n, hdim, v, dtype_bytes, chunk=None):
    """The traffic and FLOPs the fused loss's chunking implies, and the bound on each device.

    Per chunk the loop reads the weight twice (the logits, then the hidden-state gradient)
    and reads and writes the float32 weight-gradient accumulator: ``(2 b + 8) H V`` bytes,
    for three matmuls of ``2 c H V`` FLOPs.
    """
    chunk = chunk or losses._fused._default_chunk_size(n, v, platform="gpu")
    chunks = -(-n // chunk)
    traffic = chunks * (2 * dtype_bytes + 8) * hdim * v
    flops = 6 * n * hdim * v
    print(
        f"chunk plan N={n} H={hdim} V={v} ({dtype_bytes}-byte weights): chunk {chunk}, "
        f"{chunks} chunks, {traffic / 1e9:.1f} GB of weight and accumulator traffic, "
        f"{flops / 1e12:.1f} TFLOP, {flops / traffic:.0f} FLOPs per byte"
    )
    for name, (tflops, tbps) in _DEVICES.items():
        t_flops, t_bytes = flops / (tflops * 1e12), traffic / (tbps * 1e12)
        print(
            f"  {name}: matmuls {t_flops * 1e3:.1f} ms, traffic {t_bytes * 1e3:.1f} ms, bound "
            f"{max(t_flops, t_bytes) * 1e3:.1f} ms (traffic / FLOP time {t_bytes / t_flops:.2f})"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run in seconds)")
    ap.add_argument("--gpu", action="store_true", help="N=8192, H=4096, V=128256, bfloat16")
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.device_count()}")
    # Liger's shape: the accelerator default against the 32-token chunk it replaced
    for chunk in (None, 32):
        print_chunk_plan(8192, 4096, 128256, 2, chunk)
    if args.quick:
        repeats = args.repeats or 2
        run_case(256, 32, 1024, jnp.float32, repeats, chunk_size=64)
        run_case(512, 32, 1024, jnp.float32, repeats, chunk_size=64, memory_only=True)
        return
    if args.gpu:
        repeats = args.repeats or 10
        run_case(8192, 4096, 128256, jnp.bfloat16, repeats)
        return
    repeats = args.repeats or 3
    for dtype in (jnp.float32, jnp.bfloat16):
        run_case(4096, 512, 32768, dtype, repeats)
    # Flat in N: the fused temporary memory at twice the tokens (memory only).
    run_case(8192, 512, 32768, jnp.float32, repeats, memory_only=True)


if __name__ == "__main__":
    main()
