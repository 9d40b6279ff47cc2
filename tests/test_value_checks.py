"""DESIGN.md section 1's value-check rule, over every public entry point.

* Under a plain trace nothing is staged: the jaxpr has no effects (an effect turns off JAX's
  C++ dispatch fast path) for the tensor KL, the losses, the metric step, the nnx update and
  every registered KL pair with its distributions built inside the traced function.
* With ``jaxkl.value_checks()`` on, ``checkify.checkify`` reports a bad value, also through
  ``vmap`` and ``grad``.
* Eager calls on concrete arrays raise ``ValueError``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import checkify

import jaxkl
from jaxkl import distributions as jd
from jaxkl import losses
from jaxkl.metrics import KLDivergence
from jaxkl.metrics import nnx as kl_nnx
from tests.kl.pairs import PAIRS

P = jnp.full((4, 3), 1 / 3)
LOGITS = jnp.zeros((4, 3))


def _split(params):
    """Floating parameters become traced arguments; the rest (counts, flags) stay closed over."""
    traced = {
        k: jnp.asarray(v, jnp.float32) for k, v in params.items() if np.asarray(v).dtype.kind == "f"
    }
    fixed = {k: v for k, v in params.items() if k not in traced}
    return traced, fixed


def test_no_registered_pair_stages_anything_by_default():
    rng = np.random.default_rng(0)
    with_effects = []
    for row in PAIRS:
        pp, qp = row.params(rng)
        (tp, fp), (tq, fq) = _split(pp), _split(qp)

        def kl(a, b, row=row, fp=fp, fq=fq):
            return jd.kl_divergence(row.make_p({**fp, **a}), row.make_q({**fq, **b}))

        effects = jax.make_jaxpr(kl)(tp, tq).effects
        if effects:
            with_effects.append(f"{row.name}: {sorted(map(str, effects))}")
    assert not with_effects, "\n".join(with_effects)


def _metric_step(state, p, q):
    return state.merge(KLDivergence.from_model_output(p, q))


def _nnx_update(p, q):
    metric = kl_nnx.KLDivergence()
    metric.update(p=p, q=q)
    return metric.compute()


ENTRY_POINTS = [
    ("tensor KL", lambda p, q: jaxkl.functional.kl_divergence(p, q), (P, P)),
    (
        "tensor KL, log space",
        lambda p, q: jaxkl.kl_divergence(jnp.log(p), jnp.log(q), True),
        (P, P),
    ),
    ("metric step", lambda p, q: _metric_step(KLDivergence.empty(), p, q).compute(), (P, P)),
    ("nnx update", _nnx_update, (P, P)),
    ("KL on logits", losses.kl_divergence_with_logits, (LOGITS, LOGITS)),
    ("JSD on logits", losses.jensen_shannon_with_logits, (LOGITS, LOGITS)),
    ("sampled KL", losses.sampled_kl_divergence, (LOGITS[:, 0], LOGITS[:, 1])),
    (
        "top-k KL",
        lambda lp, q: losses.topk_kl_divergence(jnp.zeros((4, 2), jnp.int32), lp, q),
        (jnp.log(jnp.full((4, 2), 0.4)), LOGITS),
    ),
    (
        "fused linear KL",
        lambda h, w: losses.fused_linear_kl_divergence(h, w, jnp.zeros((4, 3))),
        (jnp.ones((4, 2)), jnp.ones((2, 3))),
    ),
]


@pytest.mark.parametrize(("name", "fn", "args"), ENTRY_POINTS, ids=[e[0] for e in ENTRY_POINTS])
def test_entry_points_stage_no_effects_by_default(name, fn, args):
    assert not jax.make_jaxpr(fn)(*args).effects
    assert not jax.make_jaxpr(jax.jit(fn))(*args).effects


def test_nnx_update_inside_nnx_jit_has_no_effects():
    metric = kl_nnx.KLDivergence()

    @nnx.jit
    def update(m, p, q):
        m.update(p=p, q=q)

    graphdef, state = nnx.split(metric)

    def pure(state, p, q):
        m = nnx.merge(graphdef, state)
        m.update(p=p, q=q)
        return nnx.state(m)

    assert not jax.make_jaxpr(pure)(state, P, P).effects
    update(metric, P, P)
    np.testing.assert_allclose(metric.compute(), 0.0, atol=1e-7)


BAD = -jnp.ones((4, 3))  # negative probabilities


def _reported(fn, *args):
    with jaxkl.value_checks():
        err, _ = checkify.checkify(fn)(*args)
    return err.get()


SWITCHED_ON = [
    ("tensor KL under jit", jax.jit(lambda p: jaxkl.functional.kl_divergence(p, P)), BAD, "`p`"),
    (
        "tensor KL under vmap",
        jax.vmap(lambda p: jaxkl.functional.kl_divergence(p, P[0])),
        BAD,
        "`p`",
    ),
    (
        "tensor KL under grad",
        jax.grad(lambda p: jaxkl.functional.kl_divergence(p, P)),
        BAD,
        "`p`",
    ),
    (
        "Normal scale under jit",
        jax.jit(lambda s: jd.kl_divergence(jd.Normal(0.0, s), jd.Normal(0.0, 1.0))),
        -jnp.ones(3),
        "scale",
    ),
    (
        "Normal scale under vmap",
        jax.vmap(lambda s: jd.Normal(0.0, s).entropy()),
        -jnp.ones(3),
        "scale",
    ),
    (
        "Normal scale under grad",
        jax.grad(lambda s: jd.kl_divergence(jd.Normal(0.0, s), jd.Normal(0.0, 1.0))),
        -1.0,
        "scale",
    ),
    (
        "metric input under jit",
        jax.jit(lambda p: _metric_step(KLDivergence.empty(), p, P).compute()),
        BAD,
        "`p`",
    ),
    ("nnx update", lambda p: _nnx_update(p, P), BAD, "`p`"),
    (
        "logits under jit",
        jax.jit(lambda q: losses.kl_divergence_with_logits(LOGITS, q)),
        jnp.full((4, 3), jnp.nan),
        "`q_logits`",
    ),
]


@pytest.mark.parametrize(
    ("name", "fn", "arg", "needle"), SWITCHED_ON, ids=[e[0] for e in SWITCHED_ON]
)
def test_switched_on_checks_are_reported_by_checkify(name, fn, arg, needle):
    message = _reported(fn, arg)
    assert message is not None and needle in message, message
    # the same function is traced again without the switch: nothing reported, nothing staged
    err, _ = checkify.checkify(fn)(arg)
    assert err.get() is None


def test_environment_variable_turns_checks_on(monkeypatch, tmp_path):
    import subprocess
    import sys

    code = (
        "import jax, jax.numpy as jnp, jaxkl\n"
        "from jax.experimental import checkify\n"
        "f = jax.jit(lambda p: jaxkl.functional.kl_divergence(p, jnp.ones((1, 2))))\n"
        "err, _ = checkify.checkify(f)(-jnp.ones((1, 2)))\n"
        "print('reported' if err.get() else 'silent')\n"
        "with jaxkl.value_checks(False):\n"
        "    print('off' if not jax.make_jaxpr(f)(jnp.ones((1, 2))).effects else 'on')\n"
    )
    env = {**__import__("os").environ, "JAXKL_VALUE_CHECKS": "1", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["reported", "off"], out.stderr[-2000:]


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda: jaxkl.functional.kl_divergence(BAD, P), "negative"),
        (lambda: jd.Normal(0.0, -1.0), "scale"),
        (lambda: KLDivergence.from_model_output(BAD, P), "negative"),
        (lambda: losses.kl_divergence_with_logits(LOGITS, jnp.full((4, 3), jnp.nan)), "NaN"),
    ],
)
def test_eager_bad_values_raise(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()
