"""tunix as a client: its ``LogitStrategy`` loss against the jaxkl call that ports it.

tunix 0.1.7's distillation strategies need only jax, optax and flax, but the package's
``__init__`` imports its trainers and their dependencies; ``.ci/run`` installs it with
``--no-deps`` and examples/tunix_distillation.py loads the strategy modules by path.
"""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import losses


def _load_example():
    """examples/tunix_distillation.py, whose loader brings tunix's strategy modules."""
    path = Path(__file__).resolve().parents[1] / "examples" / "tunix_distillation.py"
    spec = importlib.util.spec_from_file_location("tunix_distillation_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def logit_strategy():
    return _load_example().LogitStrategy


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(4)
    student = (rng.normal(size=(2, 6, 50)) * 2).astype(np.float32)
    teacher = (rng.normal(size=(2, 6, 50)) * 3).astype(np.float32)
    labels = jax.nn.one_hot(rng.integers(0, 50, (2, 6)), 50)
    return student, teacher, labels


def _np_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


@pytest.mark.parametrize("top_k", [0, 8])
def test_logit_strategy_loss_is_the_jaxkl_call(logit_strategy, batch, top_k):
    student, teacher, labels = batch
    t = 2.0
    # alpha = 1: the combined loss is tunix's distillation loss alone
    strategy = logit_strategy(None, None, None, temperature=t, alpha=1.0, distill_top_k=top_k)

    def theirs(s):
        return strategy.compute_loss(s, teacher, labels)[0]

    if top_k:
        idx = jax.lax.top_k(teacher, top_k)[1]
        lp = jnp.take_along_axis(teacher, idx, -1) / t  # logits / T: log-probs up to a constant

        def ours(s):
            return losses.topk_kl_divergence(
                idx, lp, s, temperature=t, tail=False, temperature_squared=True
            )
    else:

        def ours(s):
            return losses.kl_divergence_with_logits(
                teacher, s, temperature=t, temperature_squared=True
            )

    (v_theirs, g_theirs), (v_ours, g_ours) = (
        jax.jit(jax.value_and_grad(f))(student) for f in (theirs, ours)
    )
    # both float32: a few ulps of the O(1) per-token terms apart
    np.testing.assert_allclose(v_ours, v_theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-4, atol=1e-7)
    # and the definition itself in float64 (tunix's docstring: T^2 KL of the softened
    # teacher against the student, renormalised over the teacher's top k if given)
    s64, t64 = np.asarray(student, np.float64), np.asarray(teacher, np.float64)
    if top_k:
        order = np.argsort(-t64, -1)[..., :top_k]
        s64, t64 = (np.take_along_axis(x, order, -1) for x in (s64, t64))
    lp64, lq64 = _np_log_softmax(t64 / t), _np_log_softmax(s64 / t)
    want = t * t * np.mean(np.sum(np.exp(lp64) * (lp64 - lq64), -1))
    np.testing.assert_allclose(v_ours, want, rtol=1e-5)
