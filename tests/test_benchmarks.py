"""Tests of the benchmark scripts.

Smoke tests (small sizes, a subprocess with a time limit), and a value check of the
closed-form table: the libraries it times compute the KL its reference formula does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_closed_form_table_runs_quick():
    script = os.path.join(ROOT, "benchmarks", "distribution_kl.py")
    out = subprocess.run(
        [sys.executable, script, "--closed-forms", "--quick", "--libs", "jaxkl"]
        + ["--only", "Normal,Bernoulli", "--repeats", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("Normal", "Bern"))]
    assert [r[0] for r in rows] == ["Normal", "Bernoulli"], out
    # the last two columns: kernels in jaxkl's and in the formula's optimised HLO
    assert all(int(r[-2]) >= 1 and int(r[-1]) >= 1 for r in rows), out


def _load_distribution_kl():
    """benchmarks/distribution_kl.py as a module (it has no package; importing runs nothing)."""
    import importlib.util

    path = os.path.join(ROOT, "benchmarks", "distribution_kl.py")
    spec = importlib.util.spec_from_file_location("_bench_distribution_kl", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BENCH = _load_distribution_kl()
#: elements per closed-form row in the value check (Categorical, Dirichlet: 8 x 8)
_N = 64
_CLOSED_FORM_ROWS = list(_BENCH._closed_form_specs(_N))
#: rows where numpyro's and TFP's ``kl_divergence`` have the pair (tfp-nightly pinned by the
#: test extra, numpyro 0.15+): a library that loses one of these, or stops importing, fails
#: the check instead of dropping out of it; pairs a library gains are compared too
_HAS_PAIR = {
    "numpyro": {"Normal", "Gamma", "Chi2", "Beta", "Dirichlet"},
    "tfp": {
        "Normal", "Laplace", "Cauchy", "Gumbel", "HalfNormal", "LogNormal", "Exponential",
        "Bernoulli", "Gamma", "Chi2", "Beta", "Uniform", "Pareto", "ContinuousBernoulli",
        "Weibull", "Categorical", "Dirichlet",
    },
}  # fmt: skip
#: tolerance of a float32 evaluation against the float64 one: |got - want| <= TOL (1 + |want|).
#: Every formula sums a few dozen float32 terms of size O(1) (the parameters are O(1)) or
#: O(KL) (Gumbel's, Weibull's exponential term when the KL is ~1e3), so rounding is bounded
#: by some tens of ulps (eps = 1.2e-7) of max(1, KL); 2e-5 is ~170 ulps. Measured at these
#: parameters: at most 5.8e-6 (the ContinuousBernoulli formula, log|log1p(-p) - log p| near
#: p = 0.5) and 3.0e-6 for jaxkl. A *relative* bound could not hold for the formulas: where
#: the KL is ~1e-4 their cancellation errors are up to 4% of it (the textbook TruncatedNormal
#: 7e-4, ContinuousBernoulli 4e-2; jaxkl's largest is 4e-5).
_TOL = 2e-5


@pytest.mark.parametrize("name", _CLOSED_FORM_ROWS)
def test_closed_form_table_libraries_agree_with_the_formula_in_float64(name):
    """The closed-form table's libraries compute the KL of the formula they are timed against.

    Each row's jaxkl, numpyro and TFP KLs and its jnp formula, as timed (float32, jitted),
    equal the formula evaluated in float64 at the same float32 inputs.
    """
    import jax
    import jax.numpy as jnp

    spec = _BENCH._closed_form_specs(_N)[name]
    pp, qp = spec[4](np.random.default_rng(0))
    # the benchmark runs with JAX's default promotion (np.float64 constants in the formulas)
    with jax.numpy_dtype_promotion("standard"):
        with jax.enable_x64(True):
            want = np.asarray(
                spec[3](
                    {k: jnp.asarray(v, jnp.float64) for k, v in pp.items()},
                    {k: jnp.asarray(v, jnp.float64) for k, v in qp.items()},
                )
            )
        assert want.dtype == np.float64
        compared = []
        for lib in ("jaxkl", "formula", "numpyro", "tfp"):
            fn = _BENCH._closed_form_fn(lib, name, spec)
            try:
                got = None if fn is None else jax.jit(fn)(pp, qp)
            except NotImplementedError:
                got = None
            if got is None:
                assert name not in _HAS_PAIR.get(lib, ()), f"{lib} lost the {name} pair"
                assert lib not in ("jaxkl", "formula")
                continue
            assert got.dtype == jnp.float32 and got.shape == want.shape, (lib, got)
            got = np.asarray(got, np.float64)
            np.testing.assert_array_equal(
                np.isposinf(got), np.isposinf(want), err_msg=f"{lib}: +inf positions differ"
            )
            fin = np.isfinite(want)
            err = np.abs(got[fin] - want[fin]) / (1 + np.abs(want[fin]))
            assert np.all(err <= _TOL), f"{lib} vs float64 formula: max {err.max():.2e}"
            compared.append(lib)
    assert compared[:2] == ["jaxkl", "formula"]
