"""Compile time of a jitted KL gradient, jaxkl against numpyro.

It is what a notebook or a training start-up waits for. Each cell compiles
``jax.jit(jax.grad(lambda a: kl(P(a, ...), Q(...)).sum()))`` for 64-element parameters
(Dirichlet: 8 rows of 8) with ``.lower(a).compile()`` in a fresh process (no cache of any
kind), ``--repeats`` times; the table prints the median seconds and the ratio jaxkl /
numpyro.

Usage: ``python benchmarks/compile_time.py [--repeats R] [--only Normal,Beta]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

FAMILIES = ("Normal", "Beta", "Gamma", "Dirichlet")


def _build(lib: str, family: str):
    """``(loss, argument)``: the KL over 64 elements summed, a function of p's parameter."""
    import jax.numpy as jnp

    if lib == "jaxkl":
        from jaxkl import distributions as d

        kl = d.kl_divergence
    else:
        import numpyro.distributions as d
        from numpyro.distributions.kl import kl_divergence as kl

    x = jnp.linspace(0.5, 2.0, 64, dtype=jnp.float32)
    if family == "Normal":
        return (lambda a: kl(d.Normal(a, 1.0), d.Normal(x, 2.0)).sum()), x
    if family == "Beta":
        return (lambda a: kl(d.Beta(a, 2.0), d.Beta(x, 1.5)).sum()), x
    if family == "Gamma":
        return (lambda a: kl(d.Gamma(a, 2.0), d.Gamma(x, 1.5)).sum()), x
    x = x.reshape(8, 8)
    return (lambda a: kl(d.Dirichlet(a), d.Dirichlet(x + 0.5)).sum()), x


def worker(lib: str, family: str) -> None:
    import time

    import jax

    fn, a = _build(lib, family)
    t0 = time.perf_counter()
    jax.jit(jax.grad(fn)).lower(a).compile()
    print(json.dumps({"compile_s": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated families")
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "FAMILY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    families = args.only.split(",") if args.only else FAMILIES
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'family':<10} {'jaxkl s':>8} {'numpyro s':>10} {'ratio':>6}")
    for family in families:
        medians = {}
        for lib in ("jaxkl", "numpyro"):
            times = []
            for _ in range(args.repeats):
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", lib, family],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "JAX_PLATFORMS": "cpu"},
                )
                times.append(json.loads(out.stdout.strip().splitlines()[-1])["compile_s"])
            medians[lib] = statistics.median(times)
        ratio = medians["jaxkl"] / medians["numpyro"]
        print(f"{family:<10} {medians['jaxkl']:>8.2f} {medians['numpyro']:>10.2f} {ratio:>6.1f}")


if __name__ == "__main__":
    main()
