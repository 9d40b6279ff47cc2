"""Every example runs as a script (in a subprocess, as a user would run it) and says so."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, timeout: int = 240) -> str:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.mark.timeout(300)
def test_vae_training_step_example_trains():
    out = run_example("vae_training_step.py")
    losses = [
        float(line.split("loss ")[1].split()[0])
        for line in out.splitlines()
        if line.startswith("epoch")
    ]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert "token KL" in out


@pytest.mark.timeout(300)
def test_pmap_evaluation_example_merges_over_four_devices():
    out = run_example("pmap_evaluation.py")
    assert "devices: 4  rows: 100" in out
    merged = out.split("merged over devices:")[1].split()[0]
    single = out.split("single device:")[1].split()[0]
    assert merged == single


@pytest.mark.timeout(300)
def test_multihost_evaluation_example_merges_two_processes():
    out = run_example("multihost_evaluation.py")
    merged = sorted(line.split("merged KL ")[1] for line in out.splitlines() if "merged KL" in line)
    assert len(merged) == 2 and merged[0] == merged[1]
    assert merged[0] == out.split("one process, all rows: KL ")[1].split()[0]


@pytest.mark.timeout(300)
def test_distillation_example_trains_with_the_fused_loss():
    out = run_example("distillation.py")
    kls = [float(line.split("KL ")[1]) for line in out.splitlines() if line.startswith("step")]
    assert len(kls) == 7 and kls[-1] < kls[0]
    saved = out.split("(saved ")[1].split()[0]
    assert float(saved) > 0


@pytest.mark.timeout(300)
def test_tunix_example_matches_tunix_and_trains():
    out = run_example("tunix_distillation.py")
    first = out.splitlines()[0].split()
    ours, theirs = float(first[3]), float(first[7])  # "fused strategy loss X  tunix ... Y"
    assert abs(ours - theirs) <= 2e-6 + 1e-5 * abs(theirs), first
    kls = [float(line.split("KL ")[1]) for line in out.splitlines() if line.startswith("step")]
    assert len(kls) == 4 and kls[-1] < 0.75 * kls[0]


def _printed(out: str, label: str) -> str:
    """The text after ``label ... =`` on the quickstart's line that starts with ``label``."""
    lines = [ln for ln in out.splitlines() if ln.startswith(label)]
    assert len(lines) == 1, (label, out)
    return lines[0].split("=", 1)[1].strip()


def _assert_printed_to_4_places(text: str, want: float):
    """``text`` (printed with ``:.4f``) is ``want`` rounded: within half a unit of 1e-4."""
    assert abs(float(text) - want) <= 0.5e-4 + 1e-9, (text, want)


@pytest.mark.timeout(120)
def test_quickstart_prints_the_values_of_its_references():
    """Every number examples/quickstart.py prints equals an independent reference.

    The reference it names (torchmetrics) is computed here with torchmetrics, the others
    with numpy / torch.distributions in float64 from the quickstart's own inputs.
    """
    import math

    import numpy as np
    import torch
    import torchmetrics.functional as tmf

    out = run_example("quickstart.py", timeout=100)
    p = torch.tensor([[0.36, 0.48, 0.16]], dtype=torch.float64)
    q = torch.full((1, 3), 1 / 3, dtype=torch.float64)
    tm = float(tmf.kl_divergence(p, q))
    tm_rows = tmf.kl_divergence(p, q, reduction="none").numpy()

    # 1. jaxkl's value and the torchmetrics value the line claims
    line = _printed(out, "KL(p || uniform)")
    value, claim = line.split("(torchmetrics:")
    _assert_printed_to_4_places(value, tm)
    _assert_printed_to_4_places(claim.rstrip(")"), tm)
    # 2. per-row values with the padding row masked (0), numpy's float32 repr (8 digits)
    rows = np.array(_printed(out, "per row, padding masked").strip("[]").split(), float)
    np.testing.assert_allclose(rows, [tm_rows[0], 0.0], rtol=1e-6, atol=0)
    _assert_printed_to_4_places(_printed(out, "mean over unmasked rows"), tm_rows[0])
    # 3. softmax([2, 1, -inf]) against uniform, in float64 (the -inf entry contributes 0)
    log_p = np.array([2.0, 1.0]) - np.log(np.exp(2.0) + np.exp(1.0))
    want = float(np.sum(np.exp(log_p) * (log_p + np.log(3.0))))
    _assert_printed_to_4_places(_printed(out, "KL of log-probabilities (jit)"), want)
    # 4. the closed form the comment states, and torch.distributions' KL
    normal = _printed(out, "KL(N(0,1) || N(1,2))")
    _assert_printed_to_4_places(normal, math.log(2) + 2 / 8 - 1 / 2)
    td = torch.distributions
    f64 = torch.float64
    p_n = td.Normal(torch.tensor(0.0, dtype=f64), torch.tensor(1.0, dtype=f64))
    q_n = td.Normal(torch.tensor(1.0, dtype=f64), torch.tensor(2.0, dtype=f64))
    want = float(td.kl_divergence(p_n, q_n))
    _assert_printed_to_4_places(normal, want)
