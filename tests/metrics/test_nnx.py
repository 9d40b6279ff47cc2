"""The flax.nnx variant: torchmetrics parity, nnx.MultiMetric, reset, nnx.jit, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from torchmetrics.regression import KLDivergence as TMKLDivergence

from jaxkl.metrics import KLDivergence as StateKL
from jaxkl.metrics.nnx import KLDivergence
from tests.metrics._helpers import REDUCTIONS, make_batches, torchmetrics_value


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_prob", [False, True])
def test_update_compute_reset_equal_torchmetrics(log_prob, reduction):
    metric = KLDivergence(log_prob=log_prob, reduction=reduction)
    ps, qs, ms = make_batches(11, log_prob=log_prob, masked=True)
    for p, q, m in zip(ps, qs, ms):
        metric.update(p=p, q=q, mask=m, logits=None)
    value = np.asarray(metric.compute())
    expected = torchmetrics_value(ps, qs, ms, log_prob, reduction)
    if reduction in ("none", None):
        np.testing.assert_allclose(value[np.concatenate(ms)], expected, rtol=2e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(value, expected, rtol=2e-5, atol=1e-6)
    metric.reset()
    empty = metric.compute()
    if reduction == "mean":
        assert np.isnan(empty)
    elif reduction == "sum":
        assert float(empty) == 0.0
    else:
        assert empty.shape == (0,)


def test_in_multimetric_with_flax_metrics_under_nnx_jit():
    metrics = nnx.MultiMetric(
        kl=KLDivergence(),
        kl_sum=KLDivergence(reduction="sum"),
        loss=nnx.metrics.Average("loss"),
        accuracy=nnx.metrics.Accuracy(),
    )

    @nnx.jit
    def eval_step(metrics, p, q, labels):
        metrics.update(p=p, q=q, loss=jnp.mean(p), logits=jnp.log(p), labels=labels)

    ps, qs, ms = make_batches(12)
    with jax.numpy_dtype_promotion("standard"):  # flax's Accuracy mixes dtypes
        for p, q in zip(ps, qs):
            eval_step(metrics, p, q, jnp.zeros(p.shape[0], jnp.int32))
        result = metrics.compute()
        metrics.reset()
        after_reset = metrics.compute()
    np.testing.assert_allclose(
        result["kl"], torchmetrics_value(ps, qs, ms, False, "mean"), rtol=2e-5
    )
    np.testing.assert_allclose(
        result["kl_sum"], torchmetrics_value(ps, qs, ms, False, "sum"), rtol=2e-5
    )
    assert set(result) == {"kl", "kl_sum", "loss", "accuracy"}
    assert np.isnan(after_reset["kl"]) and np.isnan(after_reset["loss"])


def test_state_is_the_clu_style_state():
    metric = KLDivergence(log_prob=True, reduction="sum")
    ps, qs, _ = make_batches(13, log_prob=True)
    state = StateKL.configure(log_prob=True, reduction="sum").empty()
    for p, q in zip(ps, qs):
        metric.update(p=p, q=q)
        state = state.merge(type(state).from_model_output(p, q))
    assert type(metric.state) is type(state)
    np.testing.assert_allclose(metric.state.total, state.total, rtol=1e-6)
    assert int(metric.state.num_rows()) == int(state.num_rows()) == 12


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_non_bool_log_prob_is_a_type_error(bad):
    with pytest.raises(TypeError):
        TMKLDivergence(log_prob=bad)
    with pytest.raises(TypeError, match="log_prob"):
        KLDivergence(log_prob=bad)


def test_unknown_reduction_is_a_value_error():
    with pytest.raises(ValueError):
        TMKLDivergence(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        KLDivergence(reduction="avg")
