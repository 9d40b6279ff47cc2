"""Break one thing per area and check that a test fails: a test that cannot fail is a defect.

Usage: ``python scripts/mutations.py [NAME ...]`` from the repository root (all mutations
by default; ``--list`` names them). Each mutation replaces one exact snippet of one file,
runs the tests that should catch it (one process, stop at the first failure), and puts the
file back, whatever happens. The script prints a line per mutation, ``caught`` or
``MISSED``, and exits 1 if any was missed (or if a snippet is no longer in its file: the
mutation must then be rewritten, not dropped).

Most mutations break the library; the vmap one breaks the test harness instead, since
library code cannot leak values between the slices of a ``jax.vmap`` without a custom
batching rule (jaxkl has none): it checks that the pair table's vmap check would see such
a leak.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import time
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Mutation(NamedTuple):
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments: files and -k expressions


MUTATIONS = [
    Mutation(
        "tensor KL: no second pass for rows whose sums differ",
        "jaxkl/functional.py",
        "        rows = jnp.where(unbalanced, again, value)",
        "        rows = value",
        ("tests/test_functional.py", "-k", "sums_differ or property_kl_matches"),
    ),
    Mutation(
        "tensor KL: the p = 0 gradient loses the normalisation's term",
        "jaxkl/functional.py",
        "    grad_p = (log_ratio - kl) * jnp.expand_dims(inv_p, axis)",
        "    grad_p = log_ratio * jnp.expand_dims(inv_p, axis)",
        ("tests/test_functional.py", "-k", "gradient"),
    ),
    Mutation(
        "tensor KL (metric): rows of the state read q for p",
        "jaxkl/metrics/_state.py",
        "rows, row_mask = _kl_rows(p, q, log_prob=cls.log_prob, axis=-1, where=where)",
        "rows, row_mask = _kl_rows(q, p, log_prob=cls.log_prob, axis=-1, where=where)",
        ("tests/metrics/test_state.py", "-k", "1e6"),
    ),
    Mutation(
        "sampler: Weibull drops the gradient of its concentration",
        "jaxkl/distributions/positive.py",
        "jnp.exp(jnp.log(e) / self.concentration)",
        "jnp.exp(jnp.log(e) / jax.lax.stop_gradient(self.concentration))",
        ("tests/distributions/test_continuous.py", "-k", "reparameterised and Weibull"),
    ),
    Mutation(
        "sampler: LogitNormal drops the gradient of its scale",
        "jaxkl/distributions/interval.py",
        "jax.nn.sigmoid(self.loc + self.scale * eps)",
        "jax.nn.sigmoid(self.loc + jax.lax.stop_gradient(self.scale) * eps)",
        ("tests/distributions/test_continuous.py", "-k", "reparameterised and LogitNormal"),
    ),
    Mutation(
        "top-k loss: the student's tail as 1 - sum Q_k (cancels for a confident student)",
        "jaxkl/losses/_topk.py",
        "        log_qt = lse_out - (m + log_s)\n",
        "        log_qt = log1mexp(lse_last(lqk))\n",
        ("tests/test_losses.py", "-k", "confident_student"),
    ),
    Mutation(
        "top-k loss: a teacher's rounding at k = V taken for a tail",
        "jaxkl/losses/_topk.py",
        "((log_qt > NEG_INF) | (log_pt > noise))",
        "((log_qt > NEG_INF) | (log_pt > NEG_INF))",
        ("tests/test_losses.py", "-k", "k_equal_to_the_vocabulary"),
    ),
    Mutation(
        "JSD loss: beta = 1 gives the JSD (0) instead of TRL's reverse KL",
        "jaxkl/losses/_core.py",
        'return "reverse" if value == 1.0 else "jsd"',
        'return "jsd"',
        ("tests/test_losses.py", "-k", "jsd_ends or fused_reverse"),
    ),
    Mutation(
        "Bernoulli/Geometric: log1p(-a) without its safe derivative at probs = 1",
        "jaxkl/kl/categorical.py",
        "        1.0 - a, -d, _log_one_minus(a), _log_one_minus(b)",
        "        1.0 - a, -d, jnp.log1p(-a), _log_one_minus(b)",
        ("tests/kl/test_discrete.py", "-k", "closed_ends"),
    ),
    Mutation(
        "reverse top-k: the bins' roles swapped (the forward KL)",
        "jaxkl/losses/_topk.py",
        "rows = jnp.sum(xlogy_ratio(lqk, lp), axis=-1) + xlogy_ratio(log_qt, log_pt)[..., 0]",
        "rows = jnp.sum(xlogy_ratio(lp, lqk), axis=-1) + xlogy_ratio(log_pt, log_qt)[..., 0]",
        ("tests/test_losses.py", "-k", "reverse_topk"),
    ),
    Mutation(
        "fused loss, vocabulary-parallel: the hidden states' gradient not summed over shards",
        "jaxkl/losses/_fused.py",
        "        dh = psum(dh, axis_name).astype(dh_acc.dtype)",
        "        dh = dh.astype(dh_acc.dtype)",
        ("tests/test_losses.py", "-k", "sharding_of_the_fused"),
    ),
    Mutation(
        "fused top-k, vocabulary-parallel: the student's logits at the teacher's tokens not "
        "gathered across shards",
        "jaxkl/losses/_topk.py",
        "    return psum(jnp.where(here, values, jnp.zeros((), b.dtype)), axis_name)",
        "    return jnp.where(here, values, jnp.zeros((), b.dtype))",
        ("tests/test_losses.py", "-k", "sharding_of_the_fused_topk"),
    ),
    Mutation(
        "fused top-k: the teacher's log-probs perturbed by 0.1% inside the chunk loop",
        "jaxkl/losses/_fused.py",
        "    idx = jnp.where(keep, idx, jnp.arange(k, dtype=idx.dtype))\n    if reverse:",
        "    idx = jnp.where(keep, idx, jnp.arange(k, dtype=idx.dtype))\n    lp = lp * 1.001\n"
        "    if reverse:",
        ("tests/test_losses.py", "-k", "fused_topk_equals"),
    ),
    Mutation(
        "closed form: the Normal scale term perturbed by 1e-4",
        "jaxkl/kl/real_line.py",
        "    return 0.5 * squared_ratio_minus_one_minus_log_of(p.scale, q.scale) + 0.5 * z * z",
        "    return 0.5001 * squared_ratio_minus_one_minus_log_of(p.scale, q.scale) + 0.5 * z * z",
        ("tests/kl/test_pairs.py", "-k", "Normal-Normal"),
    ),
    Mutation(
        "vmap check: the harness stacks slice 0 twice (the check that could not fail)",
        "tests/kl/_programs.py",
        "jax.tree_util.tree_map(lambda x, y: jnp.stack([x, y]), p, p2)",
        "jax.tree_util.tree_map(lambda x, y: jnp.stack([x, x]), p, p2)",
        ("tests/kl/test_pairs.py", "-k", "test_jit_equals_eager_and_vmap_equals_batch and Normal"),
    ),
    Mutation(
        "benchmark: the Normal formula jaxkl is timed against is off by 1e-4",
        "benchmarks/distribution_kl.py",
        "    return 0.5 * (var_ratio + t1 - 1 - jnp.log(var_ratio))",
        "    return 0.50005 * (var_ratio + t1 - 1 - jnp.log(var_ratio))",
        ("tests/test_benchmarks.py", "-k", "agree_with_the_formula and Normal"),
    ),
    Mutation(
        "quickstart: its printed torchmetrics reference is wrong",
        "examples/quickstart.py",
        "(torchmetrics: 0.0853)",
        "(torchmetrics: 0.0854)",
        ("tests/test_examples.py", "-k", "quickstart"),
    ),
    Mutation(
        "mixtures: the variational approximation with the weights of q for p",
        "jaxkl/kl/compound.py",
        "    w = jnp.exp(lw_p)\n",
        "    w = jnp.exp(lw_q)\n",
        ("tests/kl/test_compound.py", "-k", "variational"),
    ),
]


def run(mutation: Mutation) -> tuple[bool, float]:
    """Apply, test, restore: returns (caught, seconds)."""
    path = ROOT / mutation.path
    original = path.read_text()
    if original.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the snippet is not once in {mutation.path}")
    start = time.perf_counter()
    try:
        path.write_text(original.replace(mutation.old, mutation.new))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:xdist", "-x", "-q", *mutation.tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_text(original)
    # exit 1: a test failed (caught); 0: all passed; 5: no test ran (a stale -k: missed)
    return result.returncode == 1, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="substrings of the mutations to run")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.names or any(s in m.name for s in args.names)]
    if args.list:
        print("\n".join(m.name for m in chosen))
        return 0
    missed = 0
    for mutation in chosen:
        caught, seconds = run(mutation)
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {seconds:5.0f} s  {mutation.name}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
