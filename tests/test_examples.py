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
