"""Multi-process (multi-host) evaluation on one machine: two JAX processes on localhost.

The parent starts two copies of this script as workers. Each worker joins the run with
``jax.distributed.initialize`` (coordinator on 127.0.0.1, gloo CPU collectives), evaluates its
own share of the data, and calls ``state.merge_across_processes()``; both then hold the metric
over all the data, equal to what one process fed everything computes.

Run: ``python examples/multihost_evaluation.py``.
"""

import os
import socket
import subprocess
import sys

import numpy as np

N_ROWS, CLASSES = 64, 6


def data():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(CLASSES), size=N_ROWS).astype(np.float32)
    q = rng.dirichlet(np.ones(CLASSES), size=N_ROWS).astype(np.float32)
    return p, q


def worker(port: int, process_id: int) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_num_cpu_devices", 1)
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    from jaxkl.metrics import KLDivergence

    p, q = data()
    mine = slice(0, 40) if process_id == 0 else slice(40, N_ROWS)  # uneven shares are fine
    local = KLDivergence.from_model_output(p[mine], q[mine])
    merged = local.merge_across_processes()
    everything = KLDivergence.from_model_output(p, q)  # what one process fed all rows gets
    np.testing.assert_allclose(merged.compute(), everything.compute(), rtol=1e-6)
    # one write of the whole line: the two workers share the parent's stdout, and print()
    # writes the text and its newline separately (the other worker's line can land between)
    sys.stdout.write(
        f"process {jax.process_index()}/{jax.process_count()}: local rows {int(local.num_rows())}, "
        f"local KL {float(local.compute()):.6f}, merged rows {int(merged.num_rows())}, "
        f"merged KL {float(merged.compute()):.6f}\n"
    )
    sys.stdout.flush()
    jax.distributed.shutdown()


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    procs = [
        subprocess.Popen([sys.executable, __file__, "--worker", str(port), str(i)], env=env)
        for i in range(2)
    ]
    try:
        codes = [proc.wait(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    if codes != [0, 0]:
        raise SystemExit(f"workers failed with exit codes {codes}")

    from jaxkl.metrics import KLDivergence

    p, q = data()
    print(f"one process, all rows: KL {float(KLDivergence.from_model_output(p, q).compute()):.6f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
