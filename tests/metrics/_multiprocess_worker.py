"""One process of the two-process test: ``python _multiprocess_worker.py PORT PROCESS_ID``.

Feeds its share of the batches (process 0: rows 0..6, process 1: rows 7..11, uneven on
purpose) to every metric configuration, merges across processes, prints the results as JSON.
"""

import json
import sys

import jax

jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.config.update("jax_num_cpu_devices", 1)


def main(port: int, process_id: int) -> None:
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=process_id,
        initialization_timeout=60,
    )
    import numpy as np

    from jaxkl.metrics import KLDivergence
    from tests.metrics._helpers import make_batches

    assert jax.process_count() == 2
    out = {}
    for log_prob in (False, True):
        ps, qs, ms = make_batches(31, n_batches=1, rows=12, log_prob=log_prob, masked=True)
        rows = slice(0, 7) if process_id == 0 else slice(7, 12)
        for reduction in ("mean", "sum", "none"):
            cls = KLDivergence.configure(log_prob=log_prob, reduction=reduction)
            local = cls.empty().merge(
                cls.from_model_output(ps[0][rows], qs[0][rows], mask=ms[0][rows])
            )
            merged = local.merge_across_processes()
            assert type(merged) is cls
            out[f"{log_prob}-{reduction}"] = np.asarray(merged.compute()).tolist()
            if reduction == "none":
                out[f"{log_prob}-{reduction}-mask"] = np.asarray(merged.mask).tolist()
    print("RESULT " + json.dumps(out), flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
