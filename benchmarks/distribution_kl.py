"""Distribution KL, side by side: jaxkl vs torch.distributions, numpyro and TFP's JAX substrate.

Workloads (``--quick`` shrinks each):

* MultivariateNormal, full covariance given as ``scale_tril``: d=256 batch 64, d=64 batch 64,
  d=16 batch 4096 (row ``jaxkl-lapack``: jaxkl with LAPACK's ``trsm`` instead of its CPU
  blocked solve, issue 11)
* Normal–Normal over 16M elements
* Dirichlet d=1000, batch 1024
* MultivariateNormalDiag d=512, batch 1024 (issue 6's row)
* VonMisesFisher–SphericalUniform d=128, batch 4096 (issue 6; TFP is the only other library with the
pair)

Rows per workload: jaxkl (jit), numpyro (jit), TFP JAX substrate (jit; tfp-nightly, skipped
with a note if it does not import), torch.distributions (eager, CPU), and the *limit* row:
a jitted sum over the parameter arrays (reading the inputs once). Each cell is the median of
``--repeats`` timed calls; the ratio column is time / jaxkl's time. The jit compile time
(``lower(...).compile()``) is reported per library and pair.

Every (workload, library) cell runs in its own subprocess with a time limit: with jaxlib
0.10.2, a jitted function holding two independent triangular solves can deadlock in XLA's
CPU runtime (README, known issues); numpyro's and TFP's MVN KLs do two solves. A cell that
stops using CPU is reported as "hung", one that runs out of time as "timeout".

Usage: ``python benchmarks/distribution_kl.py [--quick] [--repeats N] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

LIBS = ("jaxkl", "jaxkl-lapack", "numpyro", "tfp", "torch", "limit")


def workloads(quick: bool):
    if quick:
        return {
            "mvn_d256_b64": ("mvn", 64, 8),
            "mvn_d64_b64": ("mvn", 32, 8),
            "mvn_d16_b4096": ("mvn", 16, 256),
            "normal_16M": ("normal", 1 << 18, None),
            "dirichlet_d1000_b1024": ("dirichlet", 100, 64),
            "mvndiag_d512_b1024": ("diag", 512, 64),
            "vmf_uniform_d128_b4096": ("vmf", 128, 256),
        }
    return {
        "mvn_d256_b64": ("mvn", 256, 64),
        "mvn_d64_b64": ("mvn", 64, 64),
        "mvn_d16_b4096": ("mvn", 16, 4096),
        "normal_16M": ("normal", 1 << 24, None),
        "dirichlet_d1000_b1024": ("dirichlet", 1000, 1024),
        "mvndiag_d512_b1024": ("diag", 512, 1024),
        "vmf_uniform_d128_b4096": ("vmf", 128, 4096),
    }


def make_data(kind, d, b, seed=0):
    """float32 numpy parameters of p and q."""
    rng = np.random.default_rng(seed)
    if kind == "mvn":

        def tril():
            a = rng.standard_normal((b, d, d), dtype=np.float32) / np.float32(np.sqrt(d))
            return np.linalg.cholesky(
                a @ np.swapaxes(a, -1, -2) + np.eye(d, dtype=np.float32)
            ).astype(np.float32)

        return {
            "loc_p": rng.standard_normal((b, d), dtype=np.float32),
            "tril_p": tril(),
            "loc_q": rng.standard_normal((b, d), dtype=np.float32),
            "tril_q": tril(),
        }
    if kind == "normal":
        n = d
        return {
            "loc_p": rng.standard_normal(n, dtype=np.float32),
            "scale_p": rng.uniform(0.5, 2.0, n).astype(np.float32),
            "loc_q": rng.standard_normal(n, dtype=np.float32),
            "scale_q": rng.uniform(0.5, 2.0, n).astype(np.float32),
        }
    if kind == "dirichlet":
        return {
            "conc_p": rng.uniform(0.5, 5.0, (b, d)).astype(np.float32),
            "conc_q": rng.uniform(0.5, 5.0, (b, d)).astype(np.float32),
        }
    if kind == "diag":
        return {
            "loc_p": rng.standard_normal((b, d), dtype=np.float32),
            "scale_p": rng.uniform(0.5, 2.0, (b, d)).astype(np.float32),
            "loc_q": rng.standard_normal((b, d), dtype=np.float32),
            "scale_q": rng.uniform(0.5, 2.0, (b, d)).astype(np.float32),
        }
    if kind == "vmf":
        mu = rng.standard_normal((b, d)).astype(np.float32)
        mu /= np.linalg.norm(mu, axis=-1, keepdims=True)
        return {
            "mean_direction": mu,
            "concentration": rng.uniform(0.1, 1000.0, b).astype(np.float32),
        }
    raise ValueError(kind)


def _jax_kl_fn(lib, kind):
    """A function of the parameter dict returning the KL, for a JAX library."""
    import jax.numpy as jnp

    if lib == "limit":
        return lambda prm: sum(jnp.sum(v) for v in prm.values())
    if kind == "vmf" and lib in ("jaxkl", "tfp"):
        # KL(VonMisesFisher || SphericalUniform): no torch or numpyro closed form
        if lib == "jaxkl":
            from jaxkl import distributions as m

            return lambda prm: m.kl_divergence(
                m.VonMisesFisher(prm["mean_direction"], prm["concentration"], validate_args=False),
                m.SphericalUniform(prm["mean_direction"].shape[-1], prm["concentration"].shape),
            )
        import tensorflow_probability.substrates.jax as tfp

        tfd = tfp.distributions
        return lambda prm: tfd.kl_divergence(
            tfd.VonMisesFisher(prm["mean_direction"], prm["concentration"]),
            tfd.SphericalUniform(
                prm["mean_direction"].shape[-1], batch_shape=prm["concentration"].shape
            ),
        )
    if lib == "jaxkl":
        from jaxkl import distributions as m

        ctor = {
            "mvn": lambda loc, s: m.MultivariateNormal(loc, scale_tril=s, validate_args=False),
            "normal": lambda loc, s: m.Normal(loc, s, validate_args=False),
            "dirichlet": lambda c: m.Dirichlet(c, validate_args=False),
            "diag": lambda loc, s: m.MultivariateNormalDiag(loc, s, validate_args=False),
        }[kind]
        kl = m.kl_divergence
    elif lib == "numpyro":
        import numpyro.distributions as m

        ctor = {
            "mvn": lambda loc, s: m.MultivariateNormal(loc, scale_tril=s, validate_args=False),
            "normal": lambda loc, s: m.Normal(loc, s, validate_args=False),
            "dirichlet": lambda c: m.Dirichlet(c, validate_args=False),
            "diag": lambda loc, s: m.Normal(loc, s, validate_args=False).to_event(1),
        }[kind]
        kl = m.kl_divergence
    elif lib == "tfp":
        import tensorflow_probability.substrates.jax as tfp

        m = tfp.distributions
        ctor = {
            "mvn": lambda loc, s: m.MultivariateNormalTriL(loc, s, validate_args=False),
            "normal": lambda loc, s: m.Normal(loc, s, validate_args=False),
            "dirichlet": lambda c: m.Dirichlet(c, validate_args=False),
            "diag": lambda loc, s: m.MultivariateNormalDiag(loc, s, validate_args=False),
        }[kind]
        kl = m.kl_divergence
    else:
        raise ValueError(lib)
    if kind == "dirichlet":
        return lambda prm: kl(ctor(prm["conc_p"]), ctor(prm["conc_q"]))
    key = "tril" if kind == "mvn" else "scale"
    return lambda prm: kl(ctor(prm["loc_p"], prm[f"{key}_p"]), ctor(prm["loc_q"], prm[f"{key}_q"]))


def _torch_kl_fn(kind):
    import torch.distributions as td

    if kind == "mvn":
        return lambda t: td.kl_divergence(
            td.MultivariateNormal(t["loc_p"], scale_tril=t["tril_p"], validate_args=False),
            td.MultivariateNormal(t["loc_q"], scale_tril=t["tril_q"], validate_args=False),
        )
    if kind == "normal":
        return lambda t: td.kl_divergence(
            td.Normal(t["loc_p"], t["scale_p"], validate_args=False),
            td.Normal(t["loc_q"], t["scale_q"], validate_args=False),
        )
    if kind == "dirichlet":
        return lambda t: td.kl_divergence(
            td.Dirichlet(t["conc_p"], validate_args=False),
            td.Dirichlet(t["conc_q"], validate_args=False),
        )
    if kind == "diag":

        def ind(loc, s):
            return td.Independent(td.Normal(loc, s, validate_args=False), 1)

        return lambda t: td.kl_divergence(
            ind(t["loc_p"], t["scale_p"]), ind(t["loc_q"], t["scale_q"])
        )
    raise ValueError(kind)


def worker(lib, workload, quick, repeats):
    """Time one cell; print a JSON line {median_s, compile_s, checksum}."""
    kind, d, b = workloads(quick)[workload]
    data = make_data(kind, d, b)
    if lib == "torch":
        import torch

        t = {k: torch.from_numpy(v) for k, v in data.items()}
        fn = _torch_kl_fn(kind)
        with torch.no_grad():
            out = fn(t)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn(t)
                times.append(time.perf_counter() - t0)
        print(
            json.dumps(
                {
                    "median_s": statistics.median(times),
                    "compile_s": None,
                    "checksum": float(out.double().sum()),
                }
            )
        )
        return
    import jax

    if lib == "jaxkl-lapack":  # the same closed form on LAPACK's solve and Cholesky
        from jaxkl import _linalg

        _linalg._solve_lower_blocked = _linalg._solve_lower_lapack
        _linalg._cholesky_blocked = _linalg._cholesky_lapack
        lib = "jaxkl"
    prm = {k: jax.device_put(v) for k, v in data.items()}
    fn = jax.jit(_jax_kl_fn(lib, kind))
    t0 = time.perf_counter()
    compiled = fn.lower(prm).compile()
    compile_s = time.perf_counter() - t0
    out = compiled(prm)
    out.block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        compiled(prm).block_until_ready()
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "median_s": statistics.median(times),
                "compile_s": compile_s,
                "checksum": float(np.asarray(out, np.float64).sum()),
            }
        )
    )


def _cpu_seconds(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def run_cell(lib, workload, args):
    if workloads(args.quick)[workload][0] == "vmf" and lib in ("numpyro", "torch"):
        return {"status": "no such pair"}
    if lib == "jaxkl-lapack" and workloads(args.quick)[workload][0] != "mvn":
        return {"status": "same as jaxkl (no triangular solve)"}
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        lib,
        workload,
        "--repeats",
        str(args.repeats),
    ]
    if args.quick:
        cmd.append("--quick")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    last_cpu, last_change = _cpu_seconds(p.pid), time.time()
    while p.poll() is None:
        time.sleep(0.5)
        cpu = _cpu_seconds(p.pid)
        if cpu is not None and last_cpu is not None and cpu - last_cpu > 0.05:
            last_cpu, last_change = cpu, time.time()
        idle = time.time() - last_change
        if idle > args.hang_after or time.time() - t0 > args.timeout:
            p.kill()
            p.wait()
            return {"status": "hung" if idle > args.hang_after else "timeout"}
    out, err = p.communicate()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        msg = (err.strip().splitlines() or ["?"])[-1]
        return {"status": f"error: {msg[:70]}"}
    res = json.loads(lines[-1])
    res["status"] = "ok"
    return res


def _tfp_available():
    r = subprocess.run(
        [sys.executable, "-c", "import tensorflow_probability.substrates.jax"],
        capture_output=True,
        text=True,
    )
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    ap.add_argument(
        "--hang-after",
        type=float,
        default=20.0,
        help="seconds without CPU use that count as a hang",
    )
    ap.add_argument("--only", default=None, help="comma-separated workload names")
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 5 if args.quick else 15
    if args.timeout is None:
        args.timeout = 120.0 if args.quick else 400.0
    if args.worker:
        worker(args.worker[0], args.worker[1], args.quick, args.repeats)
        return
    libs = list(LIBS)
    ok, why = _tfp_available()
    if not ok:
        print(
            f"note: TFP's JAX substrate does not import ({why}); its rows are left out. "
            "Install tfp-nightly to include them."
        )
        libs.remove("tfp")
    import jax

    print(
        f"jax {jax.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at "
        "start; "
        f"median of {args.repeats} calls per cell; {'quick sizes' if args.quick else 'full sizes'}"
    )
    names = list(workloads(args.quick))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    for name in names:
        results = {lib: run_cell(lib, name, args) for lib in libs}
        base = results["jaxkl"].get("median_s")
        print(f"\n{name}")
        print(f"  {'library':10s} {'median':>12s} {'ratio':>8s} {'compile':>10s}  status")
        for lib in libs:
            r = results[lib]
            if r["status"] != "ok":
                print(f"  {lib:10s} {'-':>12s} {'-':>8s} {'-':>10s}  {r['status']}")
                continue
            ratio = f"{r['median_s'] / base:.2f}x" if base else "-"
            comp = f"{r['compile_s'] * 1e3:.0f} ms" if r["compile_s"] is not None else "(eager)"
            print(f"  {lib:10s} {r['median_s'] * 1e3:9.3f} ms {ratio:>8s} {comp:>10s}  ok")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
