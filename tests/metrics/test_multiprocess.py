"""Two real JAX processes on localhost (jax.distributed, gloo CPU collectives).

Each is fed part of the data: ``merge_across_processes`` must give what one process fed all
of it gives.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxkl.metrics import KLDivergence
from tests.metrics._helpers import make_batches, torchmetrics_value

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(TIMEOUT_S + 30)
def test_two_processes_each_fed_half_equal_one_process_fed_all():
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT), XLA_FLAGS="")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.metrics._multiprocess_worker", str(port), str(i)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT_S)  # a hang fails fast
            assert proc.returncode == 0, f"worker failed:\n{err[-3000:]}"
            line = [x for x in out.splitlines() if x.startswith("RESULT ")]
            assert line, f"no result from worker:\n{out}\n{err[-3000:]}"
            results.append(json.loads(line[0][len("RESULT ") :]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert results[0] == results[1]  # every process holds the merged state
    for log_prob in (False, True):
        ps, qs, ms = make_batches(31, n_batches=1, rows=12, log_prob=log_prob, masked=True)
        for reduction in ("mean", "sum", "none"):
            cls = KLDivergence.configure(log_prob=log_prob, reduction=reduction)
            one_process = cls.from_model_output(ps[0], qs[0], mask=ms[0])
            got = np.asarray(results[0][f"{log_prob}-{reduction}"], np.float32)
            np.testing.assert_allclose(got, one_process.compute(), rtol=1e-6, atol=1e-7)
            expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)
            if reduction == "none":
                mask = np.asarray(results[0][f"{log_prob}-none-mask"])
                np.testing.assert_array_equal(mask, ms[0])
                np.testing.assert_allclose(got[mask], expected, rtol=2e-5, atol=1e-6)
            else:
                np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)
