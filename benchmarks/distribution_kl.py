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
* StudentT–StudentT, batch 4096 (issue 12; no library has a closed form): jaxkl's
  ``quadrature_kl`` against ``monte_carlo_kl`` with 1024 samples, float32, both jitted; time
  and error against a float64 reference (``quadrature_kl`` with 2561 nodes in float64). Its
  own subprocess (``--studentt``), after the table.

Rows per workload: jaxkl (jit), numpyro (jit), TFP JAX substrate (jit; tfp-nightly, skipped
with a note if it does not import), torch.distributions (eager, CPU), and the *limit* row:
a jitted sum over the parameter arrays (reading the inputs once). Each cell is the median of
``--repeats`` timed calls; the ratio column is time / jaxkl's time. The jit compile time
(``lower(...).compile()``) is reported per library and pair.

Every (workload, library) cell runs in its own subprocess with a time limit: with jaxlib
0.10.2, a jitted function holding two independent triangular solves can deadlock in XLA's
CPU runtime (README, known issues); numpyro's and TFP's MVN KLs do two solves. A cell that
stops using CPU is reported as "hung", one that runs out of time as "timeout".

Then the closed-form table: every elementwise same-family pair at 1M elements (``--quick``:
16K), jaxkl against numpyro, TFP and torch.distributions.kl's formula written in jnp (for
TruncatedNormal, which torch lacks, the textbook form with shared bounds), timed
interleaved in one process, with the kernel count of each optimised HLO
(``--closed-forms`` prints only this table; ``--libs jaxkl`` leaves numpyro and TFP out).

Usage: ``python benchmarks/distribution_kl.py [--quick] [--repeats N] [--timeout S]
[--closed-forms] [--libs jaxkl,numpyro,tfp] [--only NAMES]``.
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

# measure the checkout this script lives in, not whichever jaxkl is installed
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


# ======================================================================================
# Closed-form table (issue 10 item 7): every elementwise same-family pair, in one process
# ======================================================================================
#
# Each row: jaxkl, numpyro's and TFP's ``kl_divergence`` (where they register the pair) and
# torch.distributions.kl's formula written in jnp ("formula"), all jitted over the parameter
# arrays with the distributions built inside. Calls are interleaved (one call of each library
# per round), so machine load hits every column alike; the ratio column is jaxkl / formula.
# ``fus`` counts the kernels of the optimised HLO's ENTRY computation (fusions, plus any op
# XLA left unfused): each is a pass over memory, a load-independent cost signal.

_EULER = 0.57721566490153286060651209


def _softplus(x):
    import jax

    return jax.nn.softplus(x)


def _f_normal(p, q):
    import jax.numpy as jnp

    var_ratio = (p["scale"] / q["scale"]) ** 2
    t1 = ((p["loc"] - q["loc"]) / q["scale"]) ** 2
    return 0.5 * (var_ratio + t1 - 1 - jnp.log(var_ratio))


def _f_halfnormal(p, q):
    import jax.numpy as jnp

    var_ratio = (p["scale"] / q["scale"]) ** 2
    return 0.5 * (var_ratio - 1 - jnp.log(var_ratio))


def _f_laplace(p, q):
    import jax.numpy as jnp

    scale_ratio = p["scale"] / q["scale"]
    loc_abs_diff = jnp.abs(p["loc"] - q["loc"])
    t1 = -jnp.log(scale_ratio)
    t2 = loc_abs_diff / q["scale"]
    t3 = scale_ratio * jnp.exp(-loc_abs_diff / p["scale"])
    return t1 + t2 + t3 - 1


def _f_exponential(p, q):
    import jax.numpy as jnp

    rate_ratio = q["rate"] / p["rate"]
    return -jnp.log(rate_ratio) + rate_ratio - 1


def _f_poisson(p, q):
    import jax.numpy as jnp

    return p["rate"] * (jnp.log(p["rate"]) - jnp.log(q["rate"])) - (p["rate"] - q["rate"])


def _f_bernoulli(p, q):
    import jax.numpy as jnp

    pp, qp = p["probs"], q["probs"]
    pl, ql = jnp.log(pp) - jnp.log1p(-pp), jnp.log(qp) - jnp.log1p(-qp)
    t1 = pp * (_softplus(-ql) - _softplus(-pl))
    t1 = jnp.where(qp == 0, jnp.inf, t1)
    t1 = jnp.where(pp == 0, 0.0, t1)
    t2 = (1 - pp) * (_softplus(ql) - _softplus(pl))
    t2 = jnp.where(qp == 1, jnp.inf, t2)
    t2 = jnp.where(pp == 1, 0.0, t2)
    return t1 + t2


def _f_geometric(p, q):
    import jax.numpy as jnp

    pp, qp = p["probs"], q["probs"]
    pl, ql = jnp.log(pp) - jnp.log1p(-pp), jnp.log(qp) - jnp.log1p(-qp)
    entropy = (_softplus(pl) - pp * pl) / pp
    return -entropy - jnp.log1p(-qp) / pp - ql


def _f_gamma(p, q):
    import jax.numpy as jnp
    from jax.scipy.special import digamma, gammaln

    t1 = q["concentration"] * jnp.log(p["rate"] / q["rate"])
    t2 = gammaln(q["concentration"]) - gammaln(p["concentration"])
    t3 = (p["concentration"] - q["concentration"]) * digamma(p["concentration"])
    t4 = (q["rate"] - p["rate"]) * (p["concentration"] / p["rate"])
    return t1 + t2 + t3 + t4


def _f_chi2(p, q):
    half = {"concentration": 0.5 * p["df"], "rate": 0.5}
    return _f_gamma(half, {"concentration": 0.5 * q["df"], "rate": 0.5})


def _f_beta(p, q):
    from jax.scipy.special import digamma, gammaln

    a1, a0, b1, b0 = (
        p["concentration1"],
        p["concentration0"],
        q["concentration1"],
        q["concentration0"],
    )
    sp, sq = a1 + a0, b1 + b0
    t1 = gammaln(b1) + gammaln(b0) + gammaln(sp)
    t2 = gammaln(a1) + gammaln(a0) + gammaln(sq)
    t3 = (a1 - b1) * digamma(a1)
    t4 = (a0 - b0) * digamma(a0)
    t5 = (sq - sp) * digamma(sp)
    return t1 - t2 + t3 + t4 + t5


def _f_gumbel(p, q):
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    ct1 = p["scale"] / q["scale"]
    ct2 = q["loc"] / q["scale"]
    ct3 = p["loc"] / q["scale"]
    t1 = -jnp.log(ct1) - ct2 + ct3
    t2 = ct1 * _EULER
    t3 = jnp.exp(ct2 + gammaln(1 + ct1) - ct3)
    return t1 + t2 + t3 - (1 + _EULER)


def _f_cauchy(p, q):
    import jax.numpy as jnp

    num = (p["scale"] + q["scale"]) ** 2 + (p["loc"] - q["loc"]) ** 2
    return jnp.log(num / (4 * p["scale"] * q["scale"]))


def _f_uniform(p, q):
    import jax.numpy as jnp

    result = jnp.log((q["high"] - q["low"]) / (p["high"] - p["low"]))
    return jnp.where((q["low"] > p["low"]) | (q["high"] < p["high"]), jnp.inf, result)


def _f_pareto(p, q):
    import jax.numpy as jnp

    scale_ratio = p["scale"] / q["scale"]
    alpha_ratio = q["alpha"] / p["alpha"]
    t1 = q["alpha"] * jnp.log(scale_ratio)
    t2 = -jnp.log(alpha_ratio)
    result = t1 + t2 + alpha_ratio - 1
    return jnp.where(p["scale"] < q["scale"], jnp.inf, result)


def _cb_log_norm(probs, lims=(0.499, 0.501)):
    import jax.numpy as jnp

    outside = (probs < lims[0]) | (probs > lims[1])
    cut = jnp.where(outside, probs, lims[0])
    below = jnp.where(cut <= 0.5, cut, 0.0)
    above = jnp.where(cut >= 0.5, cut, 1.0)
    log_norm = jnp.log(jnp.abs(jnp.log1p(-cut) - jnp.log(cut))) - jnp.where(
        cut <= 0.5, jnp.log1p(-2.0 * below), jnp.log(2.0 * above - 1.0)
    )
    x = (probs - 0.5) ** 2
    taylor = jnp.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
    return jnp.where(outside, log_norm, taylor)


def _cb_mean(probs, lims=(0.499, 0.501)):
    import jax.numpy as jnp

    outside = (probs < lims[0]) | (probs > lims[1])
    cut = jnp.where(outside, probs, lims[0])
    mus = cut / (2.0 * cut - 1.0) + 1.0 / (jnp.log1p(-cut) - jnp.log(cut))
    x = probs - 0.5
    taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x * x) * x
    return jnp.where(outside, mus, taylor)


def _f_continuous_bernoulli(p, q):
    import jax.numpy as jnp

    eps = jnp.finfo(jnp.float32).eps
    pp, qp = jnp.clip(p["probs"], eps, 1 - eps), jnp.clip(q["probs"], eps, 1 - eps)
    pl, ql = jnp.log(pp) - jnp.log1p(-pp), jnp.log(qp) - jnp.log1p(-qp)
    t1 = _cb_mean(pp) * (pl - ql)
    t2 = _cb_log_norm(pp) + jnp.log1p(-pp)
    t3 = -_cb_log_norm(qp) - jnp.log1p(-qp)
    return t1 + t2 + t3


def _f_weibull(p, q):
    # torch has no Weibull pair: the textbook form (Bauckhage 2013; TFP's _kl_weibull_weibull)
    import jax.numpy as jnp
    from jax.scipy.special import gammaln

    kp, lp, kq, lq = p["concentration"], p["scale"], q["concentration"], q["scale"]
    return (
        jnp.log(kp)
        - kp * jnp.log(lp)
        - jnp.log(kq)
        + kq * jnp.log(lq)
        + (kp - kq) * (jnp.log(lp) - _EULER / kp)
        + jnp.exp(kq * (jnp.log(lp) - jnp.log(lq)) + gammaln(kq / kp + 1.0))
        - 1.0
    )


def _f_categorical(p, q):
    import jax
    import jax.numpy as jnp

    pl, ql = jax.nn.log_softmax(p["logits"], -1), jax.nn.log_softmax(q["logits"], -1)
    pp, qp = jnp.exp(pl), jnp.exp(ql)
    t = pp * (pl - ql)
    t = jnp.where(qp == 0, jnp.inf, t)
    t = jnp.where(pp == 0, 0.0, t)
    return t.sum(-1)


def _f_dirichlet(p, q):
    from jax.scipy.special import digamma, gammaln

    a, b = p["concentration"], q["concentration"]
    sp, sq = a.sum(-1), b.sum(-1)
    t1 = gammaln(sp) - gammaln(sq)
    t2 = (gammaln(a) - gammaln(b)).sum(-1)
    t3 = a - b
    t4 = digamma(a) - digamma(sp)[..., None]
    return t1 - t2 + (t3 * t4).sum(-1)


def _f_truncated_normal(p, q):
    """The textbook truncated-normal KL with shared bounds (no library has the pair).

    The moments of p's standardised ``z`` from ``phi`` and ``Phi`` at its bounds.
    """
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    def std(d):
        return (d["low"] - d["loc"]) / d["scale"], (d["high"] - d["loc"]) / d["scale"]

    def phi(x):
        return jnp.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)

    a, b = std(p)
    qa, qb = std(q)
    zp, zq = ndtr(b) - ndtr(a), ndtr(qb) - ndtr(qa)
    m1 = (phi(a) - phi(b)) / zp
    m2 = 1 + (a * phi(a) - b * phi(b)) / zp
    rho, delta = p["scale"] / q["scale"], (p["loc"] - q["loc"]) / q["scale"]
    return (
        0.5 * (rho * rho - 1 - 2 * jnp.log(rho))
        + 0.5 * (rho * rho - 1) * (m2 - 1)
        + rho * delta * m1
        + 0.5 * delta * delta
        + jnp.log(zq / zp)
    )


def _positive(rng, n, lo=0.5, hi=2.0):
    return rng.uniform(lo, hi, n).astype(np.float32)


def _loc_scale(rng, n):
    return {"loc": rng.standard_normal(n, dtype=np.float32), "scale": _positive(rng, n)}


def _closed_form_specs(n):
    """Rows: name -> (jaxkl class name, numpyro name, TFP name, torch formula, param generator).

    A class name of None means the library has no such family; the generator returns p's and
    q's parameter dicts (float32 numpy arrays) for ``n`` elements.
    """
    k = 8
    rows = max(n // k, 1)

    def simplex_logits(rng):
        return {"logits": rng.standard_normal((rows, k), dtype=np.float32)}

    def pair(gen):
        return lambda rng: (gen(rng), gen(rng))

    def uniform(rng, inner):
        lo = rng.uniform(-1.0, 0.0, n).astype(np.float32)
        w = _positive(rng, n, 1.0, 2.0)
        if inner:
            return {"low": lo + 0.25, "high": lo + w - 0.25}
        return {"low": lo, "high": lo + w}

    def truncated_normal(rng):
        # shared bounds [-1, 2] (the pair's closed form; numpyro and TFP have none)
        low, high = np.full(n, -1.0, np.float32), np.full(n, 2.0, np.float32)
        return tuple({**_loc_scale(rng, n), "low": low, "high": high} for _ in range(2))

    return {
        "Normal": ("Normal", "Normal", "Normal", _f_normal, pair(lambda r: _loc_scale(r, n))),
        "Laplace": ("Laplace", "Laplace", "Laplace", _f_laplace, pair(lambda r: _loc_scale(r, n))),
        "Cauchy": ("Cauchy", "Cauchy", "Cauchy", _f_cauchy, pair(lambda r: _loc_scale(r, n))),
        "Gumbel": ("Gumbel", "Gumbel", "Gumbel", _f_gumbel, pair(lambda r: _loc_scale(r, n))),
        "HalfNormal": (
            "HalfNormal",
            "HalfNormal",
            "HalfNormal",
            _f_halfnormal,
            pair(lambda r: {"scale": _positive(r, n)}),
        ),
        "LogNormal": (
            "LogNormal",
            "LogNormal",
            "LogNormal",
            _f_normal,
            pair(lambda r: _loc_scale(r, n)),
        ),
        "Exponential": (
            "Exponential",
            "Exponential",
            "Exponential",
            _f_exponential,
            pair(lambda r: {"rate": _positive(r, n)}),
        ),
        "Poisson": (
            "Poisson",
            "Poisson",
            "Poisson",
            _f_poisson,
            pair(lambda r: {"rate": _positive(r, n, 0.5, 5.0)}),
        ),
        "Bernoulli": (
            "Bernoulli",
            "BernoulliProbs",
            "Bernoulli",
            _f_bernoulli,
            pair(lambda r: {"probs": _positive(r, n, 0.05, 0.95)}),
        ),
        "Geometric": (
            "Geometric",
            "GeometricProbs",
            "Geometric",
            _f_geometric,
            pair(lambda r: {"probs": _positive(r, n, 0.05, 0.95)}),
        ),
        "Gamma": (
            "Gamma",
            "Gamma",
            "Gamma",
            _f_gamma,
            pair(lambda r: {"concentration": _positive(r, n, 0.5, 5.0), "rate": _positive(r, n)}),
        ),
        "Chi2": (
            "Chi2",
            "Chi2",
            "Chi2",
            _f_chi2,
            pair(lambda r: {"df": _positive(r, n, 1.0, 10.0)}),
        ),
        "InverseGamma": (
            "InverseGamma",
            "InverseGamma",
            "InverseGamma",
            _f_gamma,
            pair(lambda r: {"concentration": _positive(r, n, 0.5, 5.0), "rate": _positive(r, n)}),
        ),
        "Beta": (
            "Beta",
            "Beta",
            "Beta",
            _f_beta,
            pair(
                lambda r: {
                    "concentration1": _positive(r, n, 0.5, 5.0),
                    "concentration0": _positive(r, n, 0.5, 5.0),
                }
            ),
        ),
        "Uniform": (
            "Uniform",
            "Uniform",
            "Uniform",
            _f_uniform,
            lambda r: (uniform(r, True), uniform(r, False)),
        ),
        "Pareto": (
            "Pareto",
            "Pareto",
            "Pareto",
            _f_pareto,
            lambda r: (
                {"scale": _positive(r, n, 1.0, 2.0), "alpha": _positive(r, n, 1.0, 4.0)},
                {"scale": _positive(r, n, 0.5, 1.0), "alpha": _positive(r, n, 1.0, 4.0)},
            ),
        ),
        "ContinuousBernoulli": (
            "ContinuousBernoulli",
            "ContinuousBernoulli",
            "ContinuousBernoulli",
            _f_continuous_bernoulli,
            pair(lambda r: {"probs": _positive(r, n, 0.05, 0.95)}),
        ),
        "Weibull": (
            "Weibull",
            "Weibull",
            "Weibull",
            _f_weibull,
            pair(lambda r: {"scale": _positive(r, n), "concentration": _positive(r, n, 0.5, 4.0)}),
        ),
        "Categorical": (
            "Categorical",
            "CategoricalLogits",
            "Categorical",
            _f_categorical,
            pair(simplex_logits),
        ),
        "Dirichlet": (
            "Dirichlet",
            "Dirichlet",
            "Dirichlet",
            _f_dirichlet,
            pair(lambda r: {"concentration": r.uniform(0.5, 5.0, (rows, k)).astype(np.float32)}),
        ),
        "TruncatedNormal": (
            "TruncatedNormal",
            "TruncatedNormal",
            "TruncatedNormal",
            _f_truncated_normal,
            truncated_normal,
        ),
    }


#: jaxkl keyword -> another library's keyword, where they differ
_RENAME = {"tfp": {"Pareto": {"alpha": "concentration"}, "InverseGamma": {"rate": "scale"}}}


def _closed_form_fn(lib, name, spec):
    """A jittable ``fn(p_params, q_params)`` for one library, or None without such a pair."""
    jaxkl_cls, numpyro_cls, tfp_cls, formula, _ = spec
    if lib == "formula":
        return formula
    if lib == "jaxkl":
        from jaxkl import distributions as m

        cls, kl, kwargs = getattr(m, jaxkl_cls), m.kl_divergence, {"validate_args": False}
    elif lib == "numpyro":
        import numpyro.distributions as m

        cls, kl, kwargs = getattr(m, numpyro_cls, None), m.kl_divergence, {"validate_args": False}
    elif lib == "tfp":
        import tensorflow_probability.substrates.jax as tfp

        m = tfp.distributions
        cls, kl, kwargs = getattr(m, tfp_cls, None), m.kl_divergence, {}
    else:
        raise ValueError(lib)
    if cls is None:
        return None
    rename = _RENAME.get(lib, {}).get(name, {})

    def build(prm):
        return cls(**{rename.get(k, k): v for k, v in prm.items()}, **kwargs)

    return lambda p, q: kl(build(p), build(q))


def count_kernels(compiled_text: str) -> int:
    """Kernels of the ENTRY computation of an optimised HLO module: fusions and unfused ops."""
    import re

    entry = compiled_text[compiled_text.index("\nENTRY") :]
    body = entry[: entry.index("\n}")]
    trivial = {"parameter", "tuple", "get-tuple-element", "constant", "bitcast"}
    count = 0
    for line in body.splitlines()[1:]:
        m = re.match(r"\s*(?:ROOT )?%\S+ = .*?\s([a-z][\w-]*)\(", line)
        if m and m.group(1) not in trivial:
            count += 1
    return count


def closed_form_table(args, libs):
    """Time every elementwise same-family pair; print ms, jaxkl / formula, kernel counts."""
    import jax

    n = (1 << 14) if args.quick else (1 << 20)
    specs = _closed_form_specs(n)
    names = list(specs)
    if args.only:
        names = [x for x in names if x in args.only.split(",")]
    cols = [
        lib for lib in ("jaxkl", "numpyro", "tfp", "formula") if lib in libs or lib == "formula"
    ]
    repeats = args.repeats
    print(
        f"\nclosed forms, {n} elements (Categorical, Dirichlet: {n // 8} x 8), jitted, "
        f"distributions built inside; median of {repeats} interleaved calls; load average "
        f"{os.getloadavg()[0]:.1f}; fus = kernels in the optimised HLO's ENTRY computation"
    )
    head = "".join(f"{c:>11s}" for c in cols)
    print(f"  {'pair':20s}{head} {'jaxkl/formula':>14s} {'fus jaxkl':>10s} {'fus formula':>12s}")
    ratios = []
    for name in names:
        spec = specs[name]
        rng = np.random.default_rng(0)
        pp, qp = spec[4](rng)
        pp = {k: jax.device_put(v) for k, v in pp.items()}
        qp = {k: jax.device_put(v) for k, v in qp.items()}
        compiled, kernels, status = {}, {}, {}
        for lib in cols:
            try:
                fn = _closed_form_fn(lib, name, spec)
                if fn is None:
                    status[lib] = "n/a"
                    continue
                c = jax.jit(fn).lower(pp, qp).compile()
                c(pp, qp).block_until_ready()
                compiled[lib] = c
                kernels[lib] = count_kernels(c.as_text())
            except Exception as e:  # noqa: BLE001 - a library without the pair
                status[lib] = "n/a" if isinstance(e, NotImplementedError) else "error"
        times = {lib: [] for lib in compiled}
        for _ in range(repeats):
            for lib, c in compiled.items():
                t0 = time.perf_counter()
                c(pp, qp).block_until_ready()
                times[lib].append(time.perf_counter() - t0)
        med = {lib: statistics.median(t) for lib, t in times.items()}
        cells = "".join(
            f"{med[c] * 1e3:8.3f} ms" if c in med else f"{status.get(c, '-'):>11s}" for c in cols
        )
        ratio = med["jaxkl"] / med["formula"] if "jaxkl" in med and "formula" in med else None
        if ratio is not None:
            ratios.append(ratio)
        rtxt = f"{ratio:.2f}x" if ratio is not None else "-"
        print(
            f"  {name:20s}{cells} {rtxt:>14s} {kernels.get('jaxkl', '-'):>10} "
            f"{kernels.get('formula', '-'):>12}"
        )
        sys.stdout.flush()
    if ratios:
        print(f"  median jaxkl/formula: {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x")


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


def studentt_worker(quick: bool, repeats: int):
    """Time quadrature_kl and monte_carlo_kl on StudentT pairs; print one JSON line."""
    import jax

    jax.config.update("jax_enable_x64", True)  # for the reference only; timings are float32
    import jax.numpy as jnp

    from jaxkl import distributions as jd

    b = 256 if quick else 4096
    rng = np.random.default_rng(0)
    prm = {
        "df_p": rng.uniform(1.5, 10.0, b),
        "loc_p": rng.standard_normal(b),
        "scale_p": rng.uniform(0.5, 2.0, b),
        "df_q": rng.uniform(1.5, 10.0, b),
        "loc_q": rng.standard_normal(b),
        "scale_q": rng.uniform(0.5, 2.0, b),
    }

    def pair(v, dtype):
        p = jd.StudentT(
            *(jnp.asarray(v[k + "_p"], dtype) for k in ("df", "loc", "scale")), validate_args=False
        )
        q = jd.StudentT(
            *(jnp.asarray(v[k + "_q"], dtype) for k in ("df", "loc", "scale")), validate_args=False
        )
        return p, q

    ref = np.asarray(jd.quadrature_kl(*pair(prm, jnp.float64), num_points=2561))
    fns = {
        "quadrature_kl": jax.jit(lambda p, q: jd.quadrature_kl(p, q)),
        "monte_carlo_kl (1024)": jax.jit(
            lambda p, q: jd.monte_carlo_kl(p, q, jax.random.key(0), 1024)
        ),
    }
    out = {}
    p32, q32 = pair(prm, jnp.float32)
    for name, fn in fns.items():
        t0 = time.perf_counter()
        value = fn(p32, q32).block_until_ready()
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(p32, q32).block_until_ready()
            times.append(time.perf_counter() - t0)
        err = np.abs(np.asarray(value, np.float64) - ref) / ref
        out[name] = {
            "median_s": statistics.median(times),
            "first_call_s": first,
            "max_rel_err": float(np.max(err)),
            "median_rel_err": float(np.median(err)),
        }
    print(json.dumps({"batch": b, "results": out}))


def studentt_section(args):
    cmd = [sys.executable, __file__, "--studentt", "--repeats", str(args.repeats)]
    if args.quick:
        cmd.append("--quick")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        print(f"\nstudentt: failed ({(r.stderr.strip().splitlines() or [''])[-1]})")
        return
    data = json.loads(lines[-1])
    print(f"\nstudentt_studentt_b{data['batch']} (float32; error vs a float64 reference)")
    print(
        f"  {'method':24s} {'median':>12s} {'first call':>12s} {'max rel err':>12s} {'median':>10s}"
    )
    for name, r in data["results"].items():
        print(
            f"  {name:24s} {r['median_s'] * 1e3:9.3f} ms {r['first_call_s']:10.2f} s "
            f"{r['max_rel_err']:12.1e} {r['median_rel_err']:10.1e}"
        )


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
    ap.add_argument("--only", default=None, help="comma-separated workload or pair names")
    ap.add_argument(
        "--closed-forms",
        action="store_true",
        help="only the table of elementwise same-family closed forms",
    )
    ap.add_argument(
        "--libs",
        default=None,
        help="comma-separated libraries for the closed-form table (jaxkl,numpyro,tfp)",
    )
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    ap.add_argument("--studentt", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 5 if args.quick else 15
    if args.timeout is None:
        args.timeout = 120.0 if args.quick else 400.0
    if args.worker:
        worker(args.worker[0], args.worker[1], args.quick, args.repeats)
        return
    if args.studentt:
        studentt_worker(args.quick, args.repeats)
        return
    libs = list(LIBS) if args.libs is None else args.libs.split(",") + ["limit"]
    ok, why = _tfp_available() if "tfp" in libs else (True, "")
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
    if args.closed_forms:
        closed_form_table(args, libs)
        return
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
    closed_form_table(args, libs)
    if not args.only or "studentt" in args.only:
        studentt_section(args)


if __name__ == "__main__":
    main()
