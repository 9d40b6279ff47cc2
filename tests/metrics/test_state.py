"""The clu-style KLDivergence state: torchmetrics parity on every path, laws, clu, checkpoints.

No ``from __future__ import annotations``: this module defines clu Collections.
"""

import functools

import clu.metrics
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torchmetrics.regression import KLDivergence as TMKLDivergence

from jaxkl.metrics import KLDivergence
from tests.metrics._helpers import CASES, case_id, make_batches, torchmetrics_value


def configured(log_prob, reduction):
    return KLDivergence.configure(log_prob=log_prob, reduction=reduction)


def check_against_torchmetrics(value, ms, expected, reduction):
    value = np.asarray(value)
    if reduction in ("none", None):
        mask = np.concatenate(ms)
        assert value.shape == mask.shape
        np.testing.assert_allclose(value[mask], expected, rtol=2e-5, atol=1e-6)
        np.testing.assert_array_equal(value[~mask], 0.0)
    else:
        assert value.shape == ()
        np.testing.assert_allclose(value, expected, rtol=2e-5, atol=1e-6)


# --------------------------------------------------------------------------- parity, every path
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_merge_loop_equals_torchmetrics_eager_and_jit(case):
    log_prob, reduction, masked = case
    cls = configured(log_prob, reduction)
    ps, qs, ms = make_batches(1, log_prob=log_prob, masked=masked)
    expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)

    eager = cls.empty()
    for p, q, m in zip(ps, qs, ms):
        eager = eager.merge(cls.from_model_output(p=p, q=q, mask=m if masked else None, labels=1))
    check_against_torchmetrics(eager.compute(), ms, expected, reduction)

    step = jax.jit(lambda s, p, q, m: s.merge(cls.from_model_output(p, q, mask=m)))
    state = cls.empty()
    for p, q, m in zip(ps, qs, ms):
        state = step(state, p, q, m)
    assert type(state) is cls
    check_against_torchmetrics(jax.jit(lambda s: s.compute())(state), ms, expected, reduction)


def test_rows_whose_sums_differ_by_1e6_give_the_float64_mean():
    # The state shares the tensor KL's row function: unnormalised rows (q's sums 1e6 times
    # p's) must give torchmetrics' float64 mean, in float32 (it once gave 0.4648 for 0.4585).
    rng = np.random.default_rng(1)
    p = rng.uniform(0.0, 1.0, (16, 6)).astype(np.float32)
    q = (rng.uniform(0.05, 1.0, (16, 6)) * 1e6).astype(np.float32)
    step = jax.jit(lambda s, p, q: s.merge(KLDivergence.from_model_output(p=p, q=q)))
    state = KLDivergence.empty()
    for half in (slice(0, 8), slice(8, 16)):
        state = step(state, p[half], q[half])
    expected = torchmetrics_value([p], [q], [np.ones(16, bool)], False, "mean")
    np.testing.assert_allclose(state.compute(), expected, rtol=1e-5, atol=2.4e-7)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_stacked_reduce_under_jit_equals_torchmetrics(case):
    log_prob, reduction, masked = case
    cls = configured(log_prob, reduction)
    ps, qs, ms = make_batches(2, log_prob=log_prob, masked=masked)
    expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)

    @jax.jit
    def evaluate(p, q, m):
        stacked = jax.vmap(cls.from_model_output)(p, q, m)  # leading step axis
        return stacked.reduce().compute()

    value = evaluate(np.stack(ps), np.stack(qs), np.stack(ms))
    check_against_torchmetrics(value, ms, expected, reduction)


@pytest.mark.parametrize("log_prob", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_scan_merge_loop_equals_torchmetrics(log_prob, reduction):
    cls = configured(log_prob, reduction)
    ps, qs, ms = make_batches(3, n_batches=4, log_prob=log_prob, masked=True)
    expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)

    @jax.jit
    def evaluate(p, q, m):
        def body(state, batch):
            return state.merge(cls.from_model_output(*batch)), None

        return jax.lax.scan(body, cls.empty(), (p, q, m))[0].compute()

    value = evaluate(np.stack(ps), np.stack(qs), np.stack(ms))
    np.testing.assert_allclose(value, expected, rtol=2e-5, atol=1e-6)


def test_token_level_batch_shape_and_mask_broadcast():
    """[batch, seq, vocab] inputs with a [batch, seq] mask equal torchmetrics on the kept rows."""
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 1, (2, 3, 6)).astype(np.float32)
    q = rng.uniform(0.05, 1, (2, 3, 6)).astype(np.float32)
    m = np.array([[True, True, False], [True, False, False]])
    expected = torchmetrics_value(
        [p.reshape(6, 6)], [q.reshape(6, 6)], [m.reshape(6)], False, "mean"
    )
    state = KLDivergence.from_model_output(p, q, mask=m)
    np.testing.assert_allclose(state.compute(), expected, rtol=2e-5)
    assert int(state.num_rows()) == 3
    none = configured(False, "none").from_model_output(p, q, mask=m)
    assert none.values.shape == (6,) and none.mask.tolist() == m.reshape(6).tolist()


# --------------------------------------------------------------------------- configuration
def test_configure_returns_a_cached_subclass_with_static_options():
    sum_kl = KLDivergence.configure(log_prob=True, reduction="sum")
    assert issubclass(sum_kl, KLDivergence)
    assert (sum_kl.log_prob, sum_kl.reduction) == (True, "sum")
    assert KLDivergence.configure(log_prob=True, reduction="sum") is sum_kl
    assert KLDivergence.configure() is KLDivergence
    assert sum_kl.configure(reduction="mean").log_prob is True  # unspecified options inherit
    assert KLDivergence.configure(reduction=None) is KLDivergence.configure(reduction="none")
    leaves, treedef = jax.tree_util.tree_flatten(sum_kl.empty())
    assert len(leaves) == 2 and all(isinstance(x, jax.Array) for x in leaves)  # unused fields: None
    assert sum_kl.empty().values is None and configured(True, "none").empty().total is None
    assert jax.tree_util.tree_unflatten(treedef, leaves).log_prob is True
    assert treedef.node_data()[0] is sum_kl


@pytest.mark.parametrize("bad", [1, "True", None, 0.0])
def test_non_bool_log_prob_is_a_type_error_like_torchmetrics(bad):
    with pytest.raises(TypeError):
        TMKLDivergence(log_prob=bad)
    with pytest.raises(TypeError, match="log_prob"):
        KLDivergence.configure(log_prob=bad)


@pytest.mark.parametrize("bad", ["avg", "MEAN", "", 0])
def test_unknown_reduction_is_a_value_error_like_torchmetrics(bad):
    with pytest.raises(ValueError):
        TMKLDivergence(reduction=bad)
    with pytest.raises(ValueError, match="reduction"):
        KLDivergence.configure(reduction=bad)


def test_empty_compute_is_nan_zero_and_empty():
    assert np.isnan(KLDivergence.empty().compute())
    assert float(configured(False, "sum").empty().compute()) == 0.0
    none = configured(False, "none").empty().compute()
    assert none.shape == (0,) and none.dtype == jnp.float32
    all_masked = KLDivergence.from_model_output(
        np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), mask=np.zeros(2, bool)
    )
    assert np.isnan(all_masked.compute())  # "mean" over zero unmasked rows, as the tensor KL


def test_each_configuration_has_its_own_treedef_and_jit_returns_its_class():
    # JAX's register_dataclass treedefs of same-field classes compare equal, so a jit cache
    # could return another configuration's state; ours are custom nodes that compare types.
    classes = [configured(lp, r) for lp in (False, True) for r in ("mean", "sum", "none")]
    defs = [jax.tree_util.tree_structure(cls.empty()) for cls in classes]
    for i, a in enumerate(defs):
        for j, b in enumerate(defs):
            assert (a == b) == (i == j), (classes[i], classes[j])
    ident = jax.jit(lambda s: s)
    for cls in classes + classes[::-1]:
        out = ident(cls.empty())
        assert type(out) is cls
        assert type(out.replace(count=out.count)) is cls


def test_merging_different_configurations_is_a_type_error():
    with pytest.raises(TypeError, match="configure"):
        KLDivergence.empty().merge(configured(False, "sum").empty())


def test_reduce_without_a_leading_axis_is_a_value_error():
    with pytest.raises(ValueError, match="leading axis"):
        KLDivergence.empty().reduce()


def test_integer_mask_is_accepted_and_float_mask_rejected():
    p = np.array([[0.2, 0.8], [0.5, 0.5]], np.float32)
    q = np.array([[0.5, 0.5], [0.9, 0.1]], np.float32)
    a = KLDivergence.from_model_output(p, q, mask=np.array([1, 0], np.int32))
    b = KLDivergence.from_model_output(p, q, mask=np.array([True, False]))
    np.testing.assert_array_equal(a.compute(), b.compute())
    with pytest.raises(TypeError, match="mask"):
        KLDivergence.from_model_output(p, q, mask=np.array([1.0, 0.0], np.float32))


def test_bad_inputs_raise_the_tensor_kl_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        KLDivergence.from_model_output(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="negative"):
        KLDivergence.from_model_output(-np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))


# --------------------------------------------------------------------------- laws (hypothesis)
@jax.jit
def _merge(a, b):
    return a.merge(b)


@functools.partial(jax.jit, static_argnums=0)
def _from(cls, p, q, mask):
    return cls.from_model_output(p, q, mask=mask)


def _random_state(cls, seed, rows=2):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1, (rows, 3)).astype(np.float32)
    q = rng.uniform(0.05, 1, (rows, 3)).astype(np.float32)
    mask = rng.uniform(size=rows) < 0.7
    return _from(cls, p, q, mask), (p, q, mask)


def _assert_same(a, b, reduction):
    va, vb = np.asarray(a.compute()), np.asarray(b.compute())
    if reduction == "none":  # concatenation: equal up to the order of rows
        np.testing.assert_allclose(np.sort(va), np.sort(vb), rtol=1e-6, atol=1e-7)
        assert sorted(a.mask.tolist()) == sorted(b.mask.tolist())
    else:
        np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-7)
        assert int(a.num_rows()) == int(b.num_rows())


@settings(max_examples=20, deadline=None)
@given(
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seeds=st.tuples(*[st.integers(0, 2**16)] * 3),
)
def test_merge_is_associative_commutative_with_empty_identity(reduction, seeds):
    cls = configured(False, reduction)
    a, b, c = (_random_state(cls, s)[0] for s in seeds)
    _assert_same(_merge(_merge(a, b), c), _merge(a, _merge(b, c)), reduction)
    _assert_same(_merge(a, b), _merge(b, a), reduction)
    for x, y in ((_merge(a, cls.empty()), a), (_merge(cls.empty(), a), a)):
        _assert_same(x, y, reduction)
        assert all(
            np.array_equal(u, v)
            for u, v in zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y))
        )


@settings(max_examples=20, deadline=None)
@given(
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
    n_batches=st.integers(1, 3),
)
def test_streaming_equals_one_shot(reduction, seed, n_batches):
    cls = configured(False, reduction)
    state, batches = cls.empty(), []
    for i in range(n_batches):
        part, batch = _random_state(cls, seed + i)
        state = _merge(state, part)
        batches.append(batch)
    p, q, m = (np.concatenate(x) for x in zip(*batches))
    one_shot = _from(cls, p, q, m)
    np.testing.assert_allclose(state.compute(), one_shot.compute(), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- clu Collection
@pytest.mark.parametrize("log_prob", [False, True])
def test_works_as_a_clu_collection_member(log_prob):
    coll = clu.metrics.Collection.create(
        kl=configured(log_prob, "mean"),
        kl_sum=configured(log_prob, "sum"),
        kl_rows=configured(log_prob, "none"),
        loss=clu.metrics.Average.from_output("loss"),
    )
    ps, qs, ms = make_batches(5, log_prob=log_prob, masked=True)
    with jax.numpy_dtype_promotion("standard"):  # clu's Average needs standard promotion
        step = jax.jit(
            lambda p, q, m: coll.single_from_model_output(p=p, q=q, mask=m, loss=jnp.sum(p))
        )
        merged = coll.empty()
        for p, q, m in zip(ps, qs, ms):
            merged = merged.merge(step(p, q, m))
        result = merged.compute()
        stacked = jax.jit(
            jax.vmap(lambda p, q, m: coll.single_from_model_output(p=p, q=q, mask=m, loss=0.0))
        )(np.stack(ps), np.stack(qs), np.stack(ms))
        reduced = jax.jit(lambda c: c.reduce().compute())(stacked)
        values = merged.compute_values()
    for out in (result, reduced):
        np.testing.assert_allclose(
            out["kl"], torchmetrics_value(ps, qs, ms, log_prob, "mean"), rtol=2e-5
        )
        np.testing.assert_allclose(
            out["kl_sum"], torchmetrics_value(ps, qs, ms, log_prob, "sum"), rtol=2e-5
        )
        check_against_torchmetrics(
            out["kl_rows"], ms, torchmetrics_value(ps, qs, ms, log_prob, "none"), "none"
        )
    assert isinstance(values["kl"], clu.values.Scalar)


# --------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_flax_serialization_round_trip(reduction):
    cls = configured(True, reduction)
    ps, qs, ms = make_batches(6, log_prob=True, masked=True)
    state = cls.empty()
    for p, q, m in zip(ps, qs, ms):
        state = state.merge(cls.from_model_output(p, q, mask=m))
    restored = flax.serialization.from_bytes(cls.empty(), flax.serialization.to_bytes(state))
    assert type(restored) is cls
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(restored)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.compute(), state.compute())
    # and through the state dict (what training checkpoints hold)
    again = flax.serialization.from_state_dict(cls.empty(), flax.serialization.to_state_dict(state))
    np.testing.assert_array_equal(again.compute(), state.compute())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_orbax_checkpoint_round_trip(tmp_path, reduction):
    # (orbax refuses zero-size arrays, so an *empty* "none" state cannot go through it.)
    ocp = pytest.importorskip("orbax.checkpoint")
    cls = configured(False, reduction)
    ps, qs, ms = make_batches(7, masked=True)
    state = cls.empty()
    for p, q, m in zip(ps, qs, ms):
        state = state.merge(cls.from_model_output(p, q, mask=m))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "metric", state)
        ckpt.wait_until_finished()
        restored = ckpt.restore(tmp_path / "metric", state)
    assert type(restored) is cls
    np.testing.assert_array_equal(restored.compute(), state.compute())
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(restored)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("saved", "target"),
    [("none", "mean"), ("none", "sum"), ("mean", "none"), ("sum", "none")],
)
def test_restoring_a_checkpoint_of_another_kind_names_both(saved, target):
    state = configured(False, saved).from_model_output(np.full((2, 3), 1 / 3), np.ones((2, 3)))
    data = flax.serialization.to_bytes(state)
    with pytest.raises(ValueError, match=rf"reduction='{target}'"):
        flax.serialization.from_bytes(configured(False, target).empty(), data)


def test_restoring_a_field_of_another_shape_names_it():
    wrong = {"total": np.float32(1.5), "count": np.int32(3), "values": None, "mask": None}
    with pytest.raises(ValueError, match=r"field `total` of shape \(\) .* shape \(2,\)"):
        flax.serialization.from_state_dict(KLDivergence.empty(), wrong)


# --------------------------------------------------------------------------- long runs
def _exact_count(state) -> int:
    high, low = (int(v) for v in np.asarray(state.count))
    return high * 65536 + low


@pytest.mark.parametrize("doublings", [21, 31])  # 2^31 rows (int32 wrapped here), 2^41 rows
def test_count_is_exact_past_2_to_the_31(doublings):
    p = np.random.default_rng(1).uniform(0.1, 1.0, (1024, 5)).astype(np.float32)
    one = KLDivergence.from_model_output(p, np.ones_like(p))
    state = jax.jit(lambda s: jax.lax.fori_loop(0, doublings, lambda _, x: x.merge(x), s))(one)
    assert _exact_count(state) == 1024 * 2**doublings
    np.testing.assert_allclose(state.compute(), one.compute(), rtol=1e-6)


def test_total_and_count_stay_accurate_over_a_million_merges_and_a_billion_rows():
    # One batch state per step: a total of float32 values of mixed magnitude, 1000 rows each.
    steps = 10**6
    values = np.random.default_rng(2).lognormal(-2.0, 1.5, 4096).astype(np.float32)
    batches = KLDivergence(
        total=jax.vmap(lambda v: jnp.stack([v, jnp.zeros_like(v)]))(jnp.asarray(values)),
        count=jnp.tile(jnp.array([0, 1000], jnp.uint32), (4096, 1)),
        values=None,
        mask=None,
    )

    def run(state):
        def step(i, s):
            return s.merge(jax.tree_util.tree_map(lambda x: x[i % 4096], batches))

        return jax.lax.fori_loop(0, steps, step, state)

    state = jax.jit(run)(KLDivergence.empty())
    idx = np.arange(steps) % 4096
    exact_total = np.sum(values[idx].astype(np.float64))
    assert _exact_count(state) == 1000 * steps  # 10^9 rows
    np.testing.assert_allclose(float(state.compute()), exact_total / (1000 * steps), rtol=1e-6)
    # the reference is discriminating: a plain float32 running sum is far off
    naive = jax.jit(
        lambda v: jax.lax.fori_loop(0, steps, lambda i, t: t + v[i % 4096], jnp.float32(0))
    )(jnp.asarray(values))
    assert abs(float(naive) - exact_total) / exact_total > 1e-5
