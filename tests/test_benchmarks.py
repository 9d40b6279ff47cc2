"""Smoke tests of the benchmark scripts (small sizes, a subprocess with a time limit)."""

from __future__ import annotations

import os
import subprocess
import sys

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
