"""Evaluation over 4 devices (forced CPU devices here) with the merged jaxkl metric.

Each device evaluates its shard of every batch, ``all_reduce`` merges the states over the
``pmap`` axis (one psum per state leaf), and the merged value equals the single-device value.
The last batch is padded to the static batch shape and the padding is masked out.

Run: ``python examples/pmap_evaluation.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxkl.metrics import KLDivergence

# Importing does not start jax's backends, so this still takes effect.
jax.config.update("jax_num_cpu_devices", 4)

N_DEV, PER_DEVICE, CLASSES = 4, 8, 10


def model(params, x):
    return jax.nn.log_softmax(x @ params)  # a linear "student": log-probabilities


@jax.jit
def single_device_eval(params, x, teacher_log_p, mask):
    return KLDivergence.configure(log_prob=True).from_model_output(
        p=teacher_log_p, q=model(params, x), mask=mask
    )


def device_eval(params, x, teacher_log_p, mask):
    local = KLDivergence.configure(log_prob=True).from_model_output(
        p=teacher_log_p, q=model(params, x), mask=mask
    )
    return local.all_reduce("devices")  # every device gets the merged state


pmapped_eval = jax.pmap(device_eval, axis_name="devices", in_axes=(None, 0, 0, 0))


def main() -> tuple[float, float]:
    assert jax.device_count() == N_DEV, jax.devices()
    rng = np.random.default_rng(0)
    params = jnp.asarray(rng.normal(size=(5, CLASSES)), jnp.float32)
    n = 100  # not a multiple of the global batch: the last batch is padded and masked
    x = rng.normal(size=(n, 5)).astype(np.float32)
    teacher = jax.nn.log_softmax(jnp.asarray(rng.normal(size=(n, CLASSES)), jnp.float32))
    global_batch = N_DEV * PER_DEVICE

    state = KLDivergence.configure(log_prob=True).empty()
    for start in range(0, n, global_batch):
        xb, tb = x[start : start + global_batch], np.asarray(teacher[start : start + global_batch])
        valid = np.ones(global_batch, bool)
        valid[len(xb) :] = False
        pad = global_batch - len(xb)
        xb = np.pad(xb, ((0, pad), (0, 0)))
        tb = np.pad(tb, ((0, pad), (0, 0)))

        def shard(a):
            return a.reshape((N_DEV, PER_DEVICE) + a.shape[1:])

        merged = pmapped_eval(params, shard(xb), shard(tb), shard(valid))
        state = state.merge(jax.tree_util.tree_map(lambda leaf: leaf[0], merged))  # replicated

    reference = single_device_eval(params, x, teacher, np.ones(n, bool))
    print(f"devices: {jax.device_count()}  rows: {int(state.num_rows())}")
    print(f"merged over devices: {float(state.compute()):.6f}")
    print(f"single device:       {float(reference.compute()):.6f}")
    np.testing.assert_allclose(state.compute(), reference.compute(), rtol=1e-5)
    return float(state.compute()), float(reference.compute())


if __name__ == "__main__":
    main()
