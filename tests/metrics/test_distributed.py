"""Across devices (4 CPU devices, set in tests/conftest.py): pmap, shard_map, sharded jit, clu.

No ``from __future__ import annotations``: this module defines clu Collections.
"""

import clu.metrics
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxkl.metrics import KLDivergence
from tests.metrics._helpers import CASES, case_id, make_batches, torchmetrics_value

N_DEV = 4


@pytest.fixture(autouse=True)
def four_devices():
    assert jax.device_count() == N_DEV, "the multi-device tests need 4 (forced CPU) devices"


def per_device_batches(seed, log_prob, masked):
    """One batch per device: arrays with a leading device axis, plus the per-device list."""
    ps, qs, ms = make_batches(seed, n_batches=N_DEV, rows=3, d=4, log_prob=log_prob, masked=masked)
    return (np.stack(ps), np.stack(qs), np.stack(ms)), (ps, qs, ms)


def check(value, ms, expected, reduction):
    value = np.asarray(value)
    if reduction in ("none", None):
        mask = np.concatenate(ms)
        np.testing.assert_allclose(value[mask], expected, rtol=2e-5, atol=1e-6)
        np.testing.assert_array_equal(value[~mask], 0.0)
    else:
        np.testing.assert_allclose(value, expected, rtol=2e-5, atol=1e-6)


def count_collectives(jaxpr) -> dict:
    counts = {}

    def walk(jp):
        for eqn in jp.eqns:
            name = eqn.primitive.name
            if name.startswith(
                ("psum", "all_gather", "all_reduce", "pmax", "ppermute", "all_to_all")
            ):
                counts[name] = counts.get(name, 0) + 1
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jaxpr.jaxpr)
    return counts


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_pmap_all_reduce_equals_torchmetrics_on_every_device(case):
    log_prob, reduction, masked = case
    cls = KLDivergence.configure(log_prob=log_prob, reduction=reduction)
    (p, q, m), (ps, qs, ms) = per_device_batches(21, log_prob, masked)

    def step(p, q, m):
        local = cls.empty().merge(cls.from_model_output(p, q, mask=m))
        return local.all_reduce("batch").compute()

    out = jax.pmap(step, axis_name="batch")(p, q, m)
    expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)
    for device_value in np.asarray(out):
        check(device_value, ms, expected, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_shard_map_all_reduce_with_check_vma_and_replicated_out_specs(reduction):
    cls = KLDivergence.configure(reduction=reduction)
    (p, q, m), (ps, qs, ms) = per_device_batches(22, False, True)
    mesh = jax.make_mesh((N_DEV,), ("data",))
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    args = [jax.device_put(flat(x), NamedSharding(mesh, P("data"))) for x in (p, q, m)]

    def step(p, q, m):
        return cls.from_model_output(p, q, mask=m).all_reduce("data")

    fn = jax.jit(jax.shard_map(step, mesh=mesh, in_specs=P("data"), out_specs=P()))  # check_vma on
    state = fn(*args)
    check(state.compute(), ms, torchmetrics_value(ps, qs, ms, False, reduction), reduction)
    # one collective per state leaf, each a psum (the "none" gather is a psum of the shards
    # placed at their offsets: JAX has no public invariant all-gather)
    counts = count_collectives(jax.make_jaxpr(fn)(*args))
    n_leaves = len(jax.tree_util.tree_leaves(cls.empty()))
    assert sum(counts.values()) == n_leaves == 2
    assert all(name.startswith("psum") for name in counts), counts


def test_gather_from_model_output_in_shard_map_and_pmap():
    cls = KLDivergence.configure(log_prob=True, reduction="sum")
    (p, q, m), (ps, qs, ms) = per_device_batches(23, True, True)
    expected = torchmetrics_value(ps, qs, ms, True, "sum")
    out = jax.pmap(
        lambda p, q, m: cls.gather_from_model_output("i", p=p, q=q, mask=m).compute(), axis_name="i"
    )(p, q, m)
    np.testing.assert_allclose(np.asarray(out), np.full(N_DEV, expected), rtol=2e-5)


def test_sharded_jit_plain_step_is_correct():
    """Under jit with the batch sharded over a mesh, the plain (no collective) step is right."""
    mesh = jax.make_mesh((N_DEV,), ("data",))
    for reduction in ("mean", "none"):
        cls = KLDivergence.configure(reduction=reduction)
        (p, q, m), (ps, qs, ms) = per_device_batches(24, False, True)
        flat = [x.reshape((-1,) + x.shape[2:]) for x in (p, q, m)]
        args = [jax.device_put(x, NamedSharding(mesh, P("data"))) for x in flat]
        assert len(args[0].sharding.device_set) == N_DEV
        step = jax.jit(lambda s, p, q, m, c=cls: s.merge(c.from_model_output(p, q, mask=m)))
        state = step(cls.empty(), *args)
        check(state.compute(), ms, torchmetrics_value(ps, qs, ms, False, reduction), reduction)


@pytest.mark.parametrize("log_prob", [False, True])
def test_clu_collection_gather_from_model_output_in_pmap(log_prob):
    coll = clu.metrics.Collection.create(
        kl=KLDivergence.configure(log_prob=log_prob),
        kl_rows=KLDivergence.configure(log_prob=log_prob, reduction="none"),
        loss=clu.metrics.Average.from_output("loss"),
    )
    (p, q, m), (ps, qs, ms) = per_device_batches(25, log_prob, True)
    with jax.numpy_dtype_promotion("standard"):  # clu's Average
        gathered = jax.pmap(
            lambda p, q, m: coll.gather_from_model_output(
                axis_name="batch", p=p, q=q, mask=m, loss=1.0
            ),
            axis_name="batch",
        )(p, q, m)
        result = gathered.unreplicate().compute()
    np.testing.assert_allclose(
        result["kl"], torchmetrics_value(ps, qs, ms, log_prob, "mean"), rtol=2e-5
    )
    check(result["kl_rows"], ms, torchmetrics_value(ps, qs, ms, log_prob, "none"), "none")


def test_all_reduce_under_vmap_with_an_axis_name():
    cls = KLDivergence.configure(reduction="none")
    (p, q, m), (ps, qs, ms) = per_device_batches(26, False, False)
    out = jax.vmap(
        lambda p, q, m: cls.from_model_output(p, q, mask=m).all_reduce("v").compute(), axis_name="v"
    )(p, q, m)
    for row in np.asarray(out):
        check(row, ms, torchmetrics_value(ps, qs, ms, False, "none"), "none")


def test_merge_across_processes_is_identity_with_one_process():
    assert jax.process_count() == 1
    for reduction in ("mean", "none"):
        cls = KLDivergence.configure(reduction=reduction)
        state = cls.from_model_output(jnp.ones((2, 3)), jnp.full((2, 3), 2.0))
        same = state.merge_across_processes()
        assert type(same) is cls
        for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(same)):
            np.testing.assert_array_equal(a, b)
