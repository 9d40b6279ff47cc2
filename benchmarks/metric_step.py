"""What the jaxkl metric costs inside a jitted step, next to torchmetrics' update loop.

A small MLP student is distilled from fixed teacher log-probabilities. We time

* the jitted train step (forward, backward, adam) and eval step (forward), each with and
  without ``state.merge(KLDivergence.from_model_output(...))`` carried through the step;
* the metric update alone, jitted (``from_model_output`` + ``merge``);
* torchmetrics' ``KLDivergence(log_prob=True).update`` on the same batches (torch, CPU);
* the jit compile time of each step.

Timings interleave the variants (round-robin) and report medians, so a busy machine biases
them alike. Target: the metric adds under 5% to the jitted train step.

Run: ``python benchmarks/metric_step.py [--steps 200] [--batch 256]``.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from torchmetrics.regression import KLDivergence as TMKLDivergence

from jaxkl.metrics import KLDivergence

KL = KLDivergence.configure(log_prob=True)
IN, HIDDEN, CLASSES = 256, 512, 100


def init(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": jax.random.normal(k1, (IN, HIDDEN)) / np.sqrt(IN),
        "w2": jax.random.normal(k2, (HIDDEN, HIDDEN)) / np.sqrt(HIDDEN),
        "w3": jax.random.normal(k3, (HIDDEN, CLASSES)) / np.sqrt(HIDDEN),
    }


def forward(params, x):
    h = jax.nn.relu(x @ params["w1"])
    h = jax.nn.relu(h @ params["w2"])
    return jax.nn.log_softmax(h @ params["w3"])


def loss_fn(params, x, teacher):
    log_q = forward(params, x)
    return jnp.mean(jnp.sum(jnp.exp(teacher) * (teacher - log_q), axis=-1)), log_q


opt = optax.adam(1e-3)


@jax.jit
def train_plain(params, opt_state, x, teacher):
    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, teacher)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


@jax.jit
def train_metric(params, opt_state, state, x, teacher):
    (loss, log_q), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, teacher)
    updates, opt_state = opt.update(grads, opt_state, params)
    state = state.merge(KL.from_model_output(p=teacher, q=jax.lax.stop_gradient(log_q)))
    return optax.apply_updates(params, updates), opt_state, state, loss


@jax.jit
def eval_plain(params, x, teacher):
    log_q = forward(params, x)
    return jnp.mean(jnp.sum(jnp.exp(teacher) * (teacher - log_q), axis=-1))


@jax.jit
def eval_metric(params, state, x, teacher):
    log_q = forward(params, x)
    return state.merge(KL.from_model_output(p=teacher, q=log_q))


@jax.jit
def metric_only(state, log_q, teacher):
    return state.merge(KL.from_model_output(p=teacher, q=log_q))


def compile_seconds(fn, *args) -> float:
    t = time.perf_counter()
    fn.lower(*args).compile()
    return time.perf_counter() - t


def main(steps: int = 200, batch: int = 256, repeats: int = 5) -> dict:
    rng = np.random.default_rng(0)
    xs = [jnp.asarray(rng.normal(size=(batch, IN)), jnp.float32) for _ in range(8)]
    teachers = [
        jax.nn.log_softmax(jnp.asarray(rng.normal(size=(batch, CLASSES)), jnp.float32))
        for _ in range(8)
    ]
    params = init(jax.random.key(0))
    opt_state = opt.init(params)
    state = KL.empty()
    log_q0 = forward(params, xs[0])

    compile_s = {
        "train step": compile_seconds(train_plain, params, opt_state, xs[0], teachers[0]),
        "train step + metric": compile_seconds(
            train_metric, params, opt_state, state, xs[0], teachers[0]
        ),
        "eval step": compile_seconds(eval_plain, params, xs[0], teachers[0]),
        "eval step + metric": compile_seconds(eval_metric, params, state, xs[0], teachers[0]),
    }

    torch_p = [torch.from_numpy(np.asarray(t)) for t in teachers]
    torch_q = [torch.from_numpy(np.asarray(forward(params, x))) for x in xs]
    tm = TMKLDivergence(log_prob=True)

    def run(name):
        nonlocal params, opt_state, state
        t = time.perf_counter()
        if name == "train step":
            for i in range(steps):
                params, opt_state, loss = train_plain(params, opt_state, xs[i % 8], teachers[i % 8])
            jax.block_until_ready(loss)
        elif name == "train step + metric":
            for i in range(steps):
                params, opt_state, state, loss = train_metric(
                    params, opt_state, state, xs[i % 8], teachers[i % 8]
                )
            jax.block_until_ready((loss, state))
        elif name == "eval step":
            for i in range(steps):
                out = eval_plain(params, xs[i % 8], teachers[i % 8])
            jax.block_until_ready(out)
        elif name == "eval step + metric":
            s = KL.empty()
            for i in range(steps):
                s = eval_metric(params, s, xs[i % 8], teachers[i % 8])
            jax.block_until_ready(s)
        elif name == "metric update alone (jit)":
            s = KL.empty()
            for i in range(steps):
                s = metric_only(s, log_q0, teachers[i % 8])
            jax.block_until_ready(s)
        elif name == "torchmetrics update":
            tm.reset()
            for i in range(steps):
                tm.update(torch_p[i % 8], torch_q[i % 8])
        return (time.perf_counter() - t) / steps * 1e6  # microseconds per step

    names = [
        "train step",
        "train step + metric",
        "eval step",
        "eval step + metric",
        "metric update alone (jit)",
        "torchmetrics update",
    ]
    for name in names:  # warm-up
        run(name)
    samples = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            samples[name].append(run(name))
    us = {name: statistics.median(v) for name, v in samples.items()}

    # the metric value agrees with torchmetrics on the same batches (sanity check)
    s, tm2 = KL.empty(), TMKLDivergence(log_prob=True)
    for i in range(8):
        s = metric_only(s, torch_q[i].numpy(), teachers[i])
        tm2.update(torch_p[i], torch_q[i])
    np.testing.assert_allclose(float(s.compute()), float(tm2.compute()), rtol=1e-4)

    train_overhead = us["train step + metric"] / us["train step"] - 1
    eval_overhead = us["eval step + metric"] / us["eval step"] - 1
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__}; "
        f"MLP {IN}-{HIDDEN}-{HIDDEN}-{CLASSES}, batch {batch}, {steps} steps x {repeats} repeats "
        "(median)"
    )
    print()
    print("| variant | us / step | vs. step without metric |")
    print("|---|---:|---:|")
    print(f"| train step | {us['train step']:.1f} | 1.000 |")
    print(f"| train step + metric | {us['train step + metric']:.1f} | {1 + train_overhead:.3f} |")
    print(f"| eval step | {us['eval step']:.1f} | 1.000 |")
    print(f"| eval step + metric | {us['eval step + metric']:.1f} | {1 + eval_overhead:.3f} |")
    print(f"| jaxkl metric update alone (jit) | {us['metric update alone (jit)']:.1f} | |")
    ratio = us["torchmetrics update"] / us["metric update alone (jit)"]
    print(
        f"| torchmetrics KLDivergence.update | {us['torchmetrics update']:.1f} | "
        f"{ratio:.2f}x jaxkl's update |"
    )
    print()
    print("| jit compile | seconds |")
    print("|---|---:|")
    for name, sec in compile_s.items():
        print(f"| {name} | {sec:.3f} |")
    print()
    verdict = "meets" if train_overhead < 0.05 else "MISSES"
    print(
        f"metric overhead on the train step: {100 * train_overhead:+.1f}% ({verdict} the < 5% "
        "target); "
        f"on the eval step: {100 * eval_overhead:+.1f}%"
    )
    return {
        "us": us,
        "compile_s": compile_s,
        "train_overhead": train_overhead,
        "eval_overhead": eval_overhead,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    main(args.steps, args.batch, args.repeats)
