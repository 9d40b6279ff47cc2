"""jaxkl.losses: float64 numpy references, the unfused path, properties, edges, sharding, memory.

Compile time is the cost here: rows of a case table go through one jitted function, and
inputs are module-scoped fixtures with fixed shapes.
"""

import os
import subprocess
import sys
from pathlib import Path

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.experimental import checkify
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

import jaxkl
from jaxkl import losses

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- float64 numpy references


def np_log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_kl(p, q, t=1.0, axis=-1):
    lp, lq = (
        np_log_softmax(np.asarray(p, np.float64) / t, axis),
        np_log_softmax(np.asarray(q, np.float64) / t, axis),
    )
    pp = np.exp(lp)
    with np.errstate(invalid="ignore"):
        term = np.where(pp > 0, pp * (lp - lq), 0.0)
    return np.sum(term, axis=axis)


def np_jsd(p, q, beta, t=1.0, axis=-1):
    """TRL's generalised JSD (GKDTrainer.generalized_jsd_loss) in float64.

    The mixture for 0 < beta < 1, the forward KL(p || q) at beta = 0 and the reverse
    KL(q || p) at beta = 1.
    """
    if beta == 0:
        return np_kl(p, q, t, axis)
    if beta == 1:
        return np_kl(q, p, t, axis)
    pp = np.exp(np_log_softmax(np.asarray(p, np.float64) / t, axis))
    qq = np.exp(np_log_softmax(np.asarray(q, np.float64) / t, axis))
    m = beta * pp + (1 - beta) * qq

    def kl(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.where(a > 0, a * np.log(a / b), 0.0), axis=axis)

    out = np.zeros(pp.shape[: axis % pp.ndim] + pp.shape[axis % pp.ndim + 1 :])
    if beta > 0:
        out = out + beta * kl(pp, m)
    if beta < 1:
        out = out + (1 - beta) * kl(qq, m)
    return out


def np_topk(idx, lp, q, t, tail, reverse=False):
    """The top-k KL (``reverse``: KL(student || teacher)) over the k bins and the tail, float64.

    The student's tail from the tokens outside the top k (no ``1 - sum`` cancellation).
    """
    lq = np_log_softmax(np.asarray(q, np.float64) / t)
    lqk = np.take_along_axis(lq, idx, -1)
    lp = np.asarray(lp, np.float64)
    if not tail:
        lp = lp - np.log(np.sum(np.exp(lp), -1, keepdims=True))
        lqk = lqk - np.log(np.sum(np.exp(lqk), -1, keepdims=True))
    first, second = (lqk, lp) if reverse else (lp, lqk)
    out = np.sum(np.exp(first) * (first - second), -1)
    if tail:
        outside = np.ones(lq.shape, bool)
        np.put_along_axis(outside, idx, False, -1)
        qt = np.sum(np.where(outside, np.exp(lq), 0.0), -1)
        pt = 1 - np.sum(np.exp(lp), -1)
        first, second = (qt, pt) if reverse else (pt, qt)
        out = out + np.where(first > 0, first * np.log(first / second), 0.0)
    return out


def np_topk_grad_q(idx, lp, q):
    """d/dq of the tail=True top-k KL at T = 1, in float64: ``Q - P~``.

    ``P~`` is the teacher on its top k and its tail mass spread like the student's tail
    (``P_t Q_j / Q_t``) off it.
    """
    lq = np_log_softmax(np.asarray(q, np.float64))
    outside = np.ones(lq.shape, bool)
    np.put_along_axis(outside, idx, False, -1)
    qt = np.sum(np.where(outside, np.exp(lq), 0.0), -1, keepdims=True)
    pt = 1 - np.sum(np.exp(np.asarray(lp, np.float64)), -1, keepdims=True)
    target = np.where(outside, pt * np.exp(lq) / qt, 0.0)
    np.put_along_axis(target, idx, np.exp(np.asarray(lp, np.float64)), -1)
    return np.exp(lq) - target


# ---------------------------------------------------------------- shared inputs


@pytest.fixture(scope="module")
def logits():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 4, 33)).astype(np.float32) * 2
    q = rng.normal(size=(3, 4, 33)).astype(np.float32) * 2
    p[0, 0, :10] = -np.inf  # a masked vocabulary in the teacher
    q[1, 1, 5:9] = -np.inf  # ... and in the student where the teacher has none
    return p, q


VARIANTS = [  # (name, beta, temperature); beta None = KL
    ("kl", None, 1.0),
    ("kl_T2", None, 2.0),
    ("kl_Tsmall", None, 0.05),
    ("jsd_half", 0.5, 1.0),
    ("jsd_0.1_T3", 0.1, 3.0),
    ("jsd_0", 0.0, 1.0),
    ("jsd_1", 1.0, 1.0),
]


@jax.jit
def _all_variants(p, q):
    out = {}
    for name, beta, t in VARIANTS:
        if beta is None:

            def f(p, q, t=t):
                return losses.kl_divergence_with_logits(p, q, temperature=t, reduction="none")
        else:

            def f(p, q, t=t, beta=beta):
                return losses.jensen_shannon_with_logits(
                    p, q, beta=beta, temperature=t, reduction="none"
                )

        out[name] = f(p, q)
        out[name + "_grad"] = jax.grad(
            lambda p, q, f=f: jnp.sum(jnp.where(jnp.isfinite(f(p, q)), f(p, q), 0)), (0, 1)
        )(p, q)
    return out


@pytest.fixture(scope="module")
def variants(logits):
    return jax.device_get(_all_variants(*logits))


@pytest.mark.parametrize("name,beta,t", VARIANTS)
def test_values_match_float64_reference(variants, logits, name, beta, t):
    p, q = logits
    ref = np_kl(p, q, t) if beta is None else np_jsd(p, q, beta, t)
    got = variants[name]
    assert got.dtype == np.float32 and got.shape == (3, 4)
    assert np.array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=2e-5, atol=2e-5)
    dp, dq = variants[name + "_grad"]
    assert np.all(np.isfinite(dp)) and np.all(np.isfinite(dq))


def test_temperature_squared_multiplies_by_t_squared(logits):
    p, q = logits
    t = 2.5
    for f in (losses.kl_divergence_with_logits, losses.jensen_shannon_with_logits):
        plain = f(p, q, temperature=t, reduction="none")
        scaled = f(p, q, temperature=t, temperature_squared=True, reduction="none")
        np.testing.assert_allclose(scaled, t * t * np.asarray(plain), rtol=1e-6)
    with pytest.raises(TypeError, match="temperature_squared"):
        losses.kl_divergence_with_logits(p, q, temperature_squared=1)


def test_gradient_wrt_q_is_the_softmax_difference(variants, logits):
    p, q = logits
    for name, t in (("kl", 1.0), ("kl_T2", 2.0)):
        _, dq = variants[name + "_grad"]
        want = (np.exp(np_log_softmax(q / t)) - np.exp(np_log_softmax(p / t))) / t
        finite_rows = np.isfinite(np_kl(p, q, t))[..., None]
        np.testing.assert_allclose(
            np.where(finite_rows, dq, 0), np.where(finite_rows, want, 0), atol=1e-6
        )


def test_jsd_ends_are_the_forward_and_reverse_kl(variants, logits):
    # TRL's and Liger's ends: beta = 0 is KL(p || q), beta = 1 is KL(q || p) (the JSD
    # itself is 0 there: a ported config must not train on nothing), gradients included.
    p, q = logits
    kl_pq = jax.value_and_grad(
        lambda p, q: losses.kl_divergence_with_logits(p, q, reduction="none")[1:].sum(), (0, 1)
    )(p, q)
    kl_qp = jax.value_and_grad(
        lambda p, q: losses.kl_divergence_with_logits(q, p, reduction="none")[1:].sum(), (0, 1)
    )(p, q)
    for name, (value, grads) in (("jsd_0", kl_pq), ("jsd_1", kl_qp)):
        assert variants[name][1:].sum() == pytest.approx(float(value), rel=1e-6)
        ours = jax.grad(
            lambda p, q, b=VARIANTS_BETA[name]: losses.jensen_shannon_with_logits(
                p, q, beta=b, reduction="none"
            )[1:].sum(),
            (0, 1),
        )(p, q)
        for a, b in zip(ours, grads):
            np.testing.assert_array_equal(a, b)
    # a traced beta selects the same programs
    traced = jax.jit(lambda b: losses.jensen_shannon_with_logits(p, q, beta=b, reduction="none"))
    for name, beta in (("jsd_0", 0.0), ("jsd_1", 1.0), ("jsd_half", 0.5)):
        np.testing.assert_allclose(traced(beta), variants[name], rtol=1e-6)


VARIANTS_BETA = {"jsd_0": 0.0, "jsd_1": 1.0}


def test_identical_logits_give_exact_zero_values_and_gradients(logits):
    p, _ = logits

    @jax.jit
    def all_zero(p):
        fs = [
            lambda q: losses.kl_divergence_with_logits(p, q, reduction="sum"),
            lambda q: losses.kl_divergence_with_logits(p, q, temperature=0.3, reduction="sum"),
            lambda q: losses.jensen_shannon_with_logits(p, q, beta=0.3, reduction="sum"),
            lambda q: losses.sampled_kl_divergence(p, q, reduction="sum"),
            lambda q: losses.sampled_kl_divergence(p, q, estimator="k2", reduction="sum"),
        ]
        return [(f(p), jax.grad(f)(p)) for f in fs]

    for value, grad in all_zero(jnp.asarray(p)):
        assert float(value) == 0.0 and np.all(np.asarray(grad) == 0)


# ---------------------------------------------------------------- edges


def test_edges_are_limits_never_nan():
    """One-hot targets, fully masked vocabularies, a tiny temperature."""
    p = jnp.array([[0.0, -jnp.inf, -jnp.inf], [5.0, -jnp.inf, 0.0], [1.0, 2.0, 3.0]])
    q = jnp.array([[-jnp.inf, 0.0, 0.0], [1.0, 1.0, -jnp.inf], [3.0, 2.0, 1.0]])

    @jax.jit
    def run(p, q):
        out = []
        for t in (1.0, 1e-3):
            for f in (
                lambda p, q, t=t: losses.kl_divergence_with_logits(
                    p, q, temperature=t, reduction="none"
                ),
                lambda p, q, t=t: losses.jensen_shannon_with_logits(
                    p, q, temperature=t, reduction="none"
                ),
            ):
                v = f(p, q)
                g = jax.grad(
                    lambda p, q, f=f: jnp.sum(jnp.where(jnp.isfinite(f(p, q)), f(p, q), 0)),
                    (0, 1),
                )(p, q)
                out.append((v, g))
        return out

    res = run(p, q)
    kl, _ = res[0]
    assert np.isinf(kl[0]) and np.isinf(kl[1]) and np.isfinite(kl[2])
    for v, (dp, dq) in res:
        assert not np.any(np.isnan(v)) and np.all(np.isfinite(dp)) and np.all(np.isfinite(dq))
    jsd, _ = res[1]
    np.testing.assert_allclose(jsd[0], np.log(2), rtol=1e-6)  # disjoint supports
    # The tiny temperature makes every distribution one-hot: KL finite row -> (3-1)/T-ish.
    assert np.isfinite(res[2][0][2]) and res[2][0][2] > 100


def test_one_hot_teacher_is_cross_entropy():
    q = jnp.array([[1.0, 2.0, 0.5]])
    p = jnp.array([[0.0, -jnp.inf, -jnp.inf]])
    got = losses.kl_divergence_with_logits(p, q)
    np.testing.assert_allclose(got, -np_log_softmax(np.asarray(q))[0, 0], rtol=1e-6)


# ---------------------------------------------------------------- hypothesis properties

_V = 7


@jax.jit
def _props(p, q, beta):
    kl = losses.kl_divergence_with_logits(p, q, reduction="none")
    jsd = losses.jensen_shannon_with_logits(p, q, beta=beta, reduction="none")
    half_pq = losses.jensen_shannon_with_logits(p, q, reduction="none")
    half_qp = losses.jensen_shannon_with_logits(q, p, reduction="none")
    kl_pp = losses.kl_divergence_with_logits(p, p, reduction="none")
    ends = [
        losses.jensen_shannon_with_logits(p, q, beta=b, reduction="none") for b in (1e-7, 1 - 1e-7)
    ]
    return kl, jsd, half_pq, half_qp, kl_pp, ends


logit_rows = hnp.arrays(
    np.float32,
    (4, _V),
    elements=st.one_of(st.floats(-30, 30, width=32), st.just(-np.inf)),
)


@settings(max_examples=40, deadline=None)
@given(logit_rows, logit_rows, st.floats(0, 1))
def test_divergence_laws(p, q, beta):
    p[:, 0] = np.where(np.isinf(p[:, 0]), 0.0, p[:, 0])  # at least one finite teacher logit
    q[:, 0] = np.where(np.isinf(q[:, 0]), 0.0, q[:, 0])
    # float32: 1 - 1e-9 is 1, and a subnormal beta is 0 (XLA flushes subnormals)
    beta = np.float32(beta) if beta >= np.finfo(np.float32).tiny else np.float32(0.0)
    kl, jsd, half_pq, half_qp, kl_pp, ends = _props(p, q, beta)
    assert np.all(np.asarray(kl) >= 0) and np.all(np.asarray(jsd) >= 0)
    assert np.all(np.asarray(kl_pp) == 0)
    assert not np.any(np.isnan(jsd))
    if 0 < beta < 1:  # the ends are the forward and reverse KL, which may be +inf
        assert np.all(np.isfinite(jsd))
    elif beta == 0:
        np.testing.assert_array_equal(jsd, kl)
    np.testing.assert_allclose(half_pq, half_qp, atol=1e-6)
    assert np.all(np.asarray(half_pq) <= np.log(2) + 1e-6)
    assert np.all(np.asarray(ends[0]) < 1e-5) and np.all(np.asarray(ends[1]) < 1e-5)


# ---------------------------------------------------------------- masks and micro-batches


def test_masks_across_micro_batches(logits):
    p, q = logits
    mask = np.ones((3, 4), bool)
    mask[2, 1:] = False
    pad_p = p.copy()
    pad_p[2, 1:] = np.nan  # padding may hold anything

    @jax.jit
    def run(p, q, mask):
        out = {}
        for name, f in (
            ("kl", losses.kl_divergence_with_logits),
            ("jsd", losses.jensen_shannon_with_logits),
        ):
            whole = f(p, q, where=mask, reduction="sum")
            halves = f(p[:1], q[:1], where=mask[:1], reduction="sum") + f(
                p[1:], q[1:], where=mask[1:], reduction="sum"
            )
            mean = f(p, q, where=mask, reduction="mean")
            rows = f(p, q, where=mask, reduction="none")
            grad = jax.grad(lambda p, q, f=f: f(p, q, where=mask, reduction="mean"), (0, 1))(p, q)
            out[name] = (whole, halves, mean, rows, grad)
        return out

    finite_q = np.where(np.isinf(q), 0.0, q).astype(np.float32)  # a finite total
    for whole, halves, mean, rows, (dp, dq) in run(pad_p, finite_q, mask).values():
        np.testing.assert_allclose(whole, halves, rtol=1e-6)
        np.testing.assert_allclose(mean, np.asarray(whole) / mask.sum(), rtol=1e-6)
        assert np.all(np.asarray(rows)[~mask] == 0)
        assert np.all(np.isfinite(dp)) and np.all(np.asarray(dq)[~mask] == 0)


# ---------------------------------------------------------------- fused linear


@pytest.fixture(scope="module")
def fused_inputs():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(2, 13, 16)).astype(np.float32)
    w = (rng.normal(size=(16, 40)) / 4).astype(np.float32)
    b = rng.normal(size=(40,)).astype(np.float32)
    ph = rng.normal(size=(2, 13, 8)).astype(np.float32)
    pw = rng.normal(size=(8, 40)).astype(np.float32)
    mask = rng.random((2, 13)) > 0.2
    return h, w, b, ph, pw, mask


def _fused_vs_unfused(h, w, b, ph, pw, mask):
    out = []
    teacher = ph @ pw.astype(ph.dtype)
    for beta, red in ((None, "mean"), (0.3, "sum"), (None, "none")):
        if True:

            def fused(h, w, b, beta=beta, red=red):
                v = losses.fused_linear_kl_divergence(
                    h,
                    w,
                    (ph, pw),
                    bias=b,
                    temperature=1.5,
                    beta=beta,
                    where=mask,
                    reduction=red,
                    chunk_size=5,
                )
                return jnp.sum(jnp.cos(v)) if red == "none" else v

            def unfused(h, w, b, beta=beta, red=red):
                z = h @ w + b
                kw = dict(temperature=1.5, where=mask, reduction=red)
                if beta is None:
                    v = losses.kl_divergence_with_logits(teacher, z, **kw)
                else:
                    v = losses.jensen_shannon_with_logits(teacher, z, beta=beta, **kw)
                return jnp.sum(jnp.cos(v)) if red == "none" else v

            out.append(
                (
                    jax.value_and_grad(fused, (0, 1, 2))(h, w, b),
                    jax.value_and_grad(unfused, (0, 1, 2))(h, w, b),
                )
            )
    return out


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 2e-5), (jnp.bfloat16, 3e-2)])
def test_fused_equals_unfused(fused_inputs, dtype, tol):
    h, w, b, ph, pw, mask = (
        jnp.asarray(x, dtype) if x.dtype == np.float32 else x for x in fused_inputs
    )
    for (fv, fg), (uv, ug) in jax.jit(_fused_vs_unfused)(h, w, b, ph, pw, mask):
        assert fv.dtype == jnp.float32
        np.testing.assert_allclose(fv, uv, rtol=tol, atol=tol)
        for a, c, x in zip(fg, ug, (h, w, b)):
            assert a.dtype == x.dtype
            a, c = np.asarray(a, np.float32), np.asarray(c, np.float32)
            np.testing.assert_allclose(a, c, rtol=tol, atol=tol * np.abs(c).max())


def test_fused_reverse_jsd_ends_and_temperature_squared(fused_inputs):
    # Each fused variant against the float64 definition it claims, and its weight gradient
    # against the unfused loss (tested against float64 above).
    h, w, b, ph, pw, mask = fused_inputs
    teacher = ph @ pw
    t = 1.5
    variants = {  # name: (fused keywords, unfused loss of (teacher, student logits))
        "reverse": (
            dict(reverse=True),
            lambda p, z: losses.kl_divergence_with_logits(z, p, temperature=t, where=mask),
        ),
        "beta=0": (
            dict(beta=0.0),
            lambda p, z: losses.kl_divergence_with_logits(p, z, temperature=t, where=mask),
        ),
        "beta=1": (
            dict(beta=1.0),
            lambda p, z: losses.kl_divergence_with_logits(z, p, temperature=t, where=mask),
        ),
        "T^2": (
            dict(temperature_squared=True),
            lambda p, z: t * t * losses.kl_divergence_with_logits(p, z, temperature=t, where=mask),
        ),
    }

    @jax.jit
    def run(w):
        out = {}
        for name, (kw, unfused) in variants.items():
            fused = jax.value_and_grad(
                lambda w, kw=kw: losses.fused_linear_kl_divergence(
                    h, w, teacher, bias=b, temperature=t, where=mask, chunk_size=7, **kw
                )
            )(w)
            out[name] = fused, jax.grad(lambda w, u=unfused: u(teacher, h @ w + b))(w)
        return out

    z = h @ w + b
    m = mask
    refs = {
        "reverse": np_kl(z, teacher, t)[m].mean(),
        "beta=0": np_kl(teacher, z, t)[m].mean(),
        "beta=1": np_kl(z, teacher, t)[m].mean(),
        "T^2": t * t * np_kl(teacher, z, t)[m].mean(),
    }
    for name, ((value, grad), unfused_grad) in run(w).items():
        np.testing.assert_allclose(value, refs[name], rtol=2e-5, err_msg=name)
        np.testing.assert_allclose(grad, unfused_grad, rtol=2e-5, atol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="reverse"):
        losses.fused_linear_kl_divergence(h, w, teacher, beta=0.5, reverse=True)


def test_vocabularies_of_different_sizes(fused_inputs):
    # A teacher with 3 more padded vocabulary entries than the student (152064 vs 151936 in
    # one model family): vocab_size keeps the first entries of each; without it, an error.
    h, w, b, ph, pw, mask = fused_inputs
    teacher = np.concatenate([ph @ pw, np.zeros(ph.shape[:-1] + (3,), np.float32)], -1)
    z = h @ w + b
    want = np_kl(teacher[..., :40], z)
    got = losses.kl_divergence_with_logits(teacher, z, vocab_size=40, reduction="none")
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    fused = losses.fused_linear_kl_divergence(h, w, teacher, bias=b, vocab_size=40)
    np.testing.assert_allclose(fused, want.mean(), rtol=2e-5)
    # a student head wider than the teacher: its extra columns get no gradient
    wide_w = np.concatenate([w, np.ones((w.shape[0], 2), np.float32)], -1)
    wide_b = np.concatenate([b, np.zeros(2, np.float32)])
    dw = jax.grad(
        lambda w: losses.fused_linear_kl_divergence(h, w, ph @ pw, bias=wide_b, vocab_size=40)
    )(wide_w)
    np.testing.assert_array_equal(dw[:, 40:], 0.0)
    with pytest.raises(ValueError, match="43 and 40.*vocab_size"):
        losses.kl_divergence_with_logits(teacher, z)
    with pytest.raises(ValueError, match="vocab_size"):
        losses.fused_linear_kl_divergence(h, w, teacher)
    with pytest.raises(ValueError, match="larger than the vocabulary of q_logits"):
        losses.kl_divergence_with_logits(teacher, z, vocab_size=41)


def test_default_chunk_amortises_the_weight_traffic_on_accelerators():
    # Per chunk of c tokens: (2 b + 8) H V bytes (the weight twice, the float32 gradient
    # accumulator read and written) for 6 c H V FLOPs. On an H100 (989 TFLOP/s bfloat16,
    # 3.35 TB/s) and a TPU v5p (459, 2.76) that traffic must take at most 1.5x the FLOPs'
    # time at Liger's shape; on CPU the chunk stays cache-sized.
    n, v = 8192, 128256
    chunk = losses._fused._default_chunk_size(n, v, platform="gpu")
    assert losses._fused._default_chunk_size(n, v, platform="tpu") == chunk
    for tflops, tbps in ((989.0, 3.35), (459.0, 2.76)):
        traffic_time = (2 * 2 + 8) / (tbps * 1e12)  # per H V, per chunk
        flop_time = 6 * chunk / (tflops * 1e12)
        assert traffic_time <= 1.5 * flop_time
    assert chunk * v * 4 <= n * v * 4 / 8  # temporaries a bounded fraction of [N, V]
    assert losses._fused._default_chunk_size(n, v, platform="cpu") * v <= 1 << 22


def test_fused_topk_equals_topk_on_materialised_logits(fused_inputs):
    h, w, b, ph, pw, mask = fused_inputs
    lp, idx = jax.lax.top_k(jax.nn.log_softmax(ph @ pw), 6)
    variants = [
        (True, False, "mean"),
        (True, True, "none"),
        (False, False, "none"),
        (False, True, "sum"),
    ]

    @jax.jit
    def run(h, w, b):
        out = []
        for tail, reverse, red in variants:
            kw = dict(temperature=1.5, tail=tail, reverse=reverse, where=mask, reduction=red)

            def fused(h, w, b, kw=kw):
                v = losses.fused_linear_topk_kl_divergence(
                    h, w, idx, lp, bias=b, chunk_size=5, **kw
                )
                return jnp.sum(jnp.cos(v))

            def plain(h, w, b, kw=kw):
                return jnp.sum(jnp.cos(losses.topk_kl_divergence(idx, lp, h @ w + b, **kw)))

            out.append(
                (
                    jax.value_and_grad(fused, (0, 1, 2))(h, w, b),
                    jax.value_and_grad(plain, (0, 1, 2))(h, w, b),
                )
            )
        return out

    # the two compute the logits by different matmuls (chunked and whole): float32 rounding
    # of O(1) row values, about 30 ulps each over the 26 rows summed
    for (fv, fg), (pv, pg) in run(h, w, b):
        np.testing.assert_allclose(fv, pv, rtol=1e-5, atol=26 * 30 * 1.2e-7)
        for a, c in zip(fg, pg):  # as test_fused_equals_unfused: relative to the largest
            np.testing.assert_allclose(a, c, rtol=2e-5, atol=2e-5 * np.abs(c).max())


def test_fused_topk_never_builds_the_student_logits():
    # compiled temporary memory of the gradient at N=16384, H=256, V=32768 (no arrays are
    # allocated: the program is compiled for the shapes) under 1/8 of one [N, V] float32
    n, hdim, v, k = 16384, 256, 32768, 16
    shapes = (
        jax.ShapeDtypeStruct((n, hdim), jnp.float32),
        jax.ShapeDtypeStruct((hdim, v), jnp.float32),
        jax.ShapeDtypeStruct((n, k), jnp.int32),
        jax.ShapeDtypeStruct((n, k), jnp.float32),
    )
    grad = jax.grad(losses.fused_linear_topk_kl_divergence, (0, 1))
    temp = jax.jit(grad).lower(*shapes).compile().memory_analysis().temp_size_in_bytes
    assert temp < n * v * 4 / 8, temp / 2**20


def test_fused_teacher_logits_default_chunk_and_identity(fused_inputs):
    h, w, b, _, _, _ = fused_inputs

    @jax.jit
    def run(h, w, b):
        teacher = h @ w + 1.0  # a shift: the same distribution
        plain = losses.kl_divergence_with_logits(teacher, h @ w + b)
        fused = losses.fused_linear_kl_divergence(h, w, teacher, bias=b)
        same = jax.value_and_grad(
            lambda h, w: losses.fused_linear_kl_divergence(h, w, (h, w)), (0, 1)
        )
        return plain, fused, same(h, w)

    plain, fused, (zero, grads) = run(h, w, b)
    np.testing.assert_allclose(fused, plain, rtol=1e-5)
    assert float(zero) == 0.0 and all(np.all(np.asarray(g) == 0) for g in grads)


def test_fused_backward_temp_memory_is_below_one_logits_array():
    n, v, hdim = 2048, 8192, 64
    h = jax.ShapeDtypeStruct((n, hdim), jnp.float32)
    w = jax.ShapeDtypeStruct((hdim, v), jnp.float32)
    t = jax.ShapeDtypeStruct((n, v), jnp.float32)
    grad = jax.grad(lambda h, w, t: losses.fused_linear_kl_divergence(h, w, t), (0, 1))
    temp = jax.jit(grad).lower(h, w, t).compile().memory_analysis().temp_size_in_bytes
    assert temp < n * v * 4, temp


# ---------------------------------------------------------------- top-k and sampled


@pytest.fixture(scope="module")
def topk_inputs():
    rng = np.random.default_rng(2)
    q = rng.normal(size=(3, 5, 20)).astype(np.float32) * 2
    teacher = rng.normal(size=(3, 5, 20)) * 2
    lpt = np_log_softmax(teacher)
    idx = np.argsort(-lpt, -1)[..., :4].astype(np.int32)
    lp = np.take_along_axis(lpt, idx, -1).astype(np.float32)
    return idx, lp, q


@jax.jit
def _topk_all(idx, lp, q):
    out = {}
    for tail in (True, False):
        for t in (1.0, 2.0):

            def f(lp, q, t=t, tail=tail):
                return losses.topk_kl_divergence(
                    idx, lp, q, temperature=t, tail=tail, reduction="none"
                )

            def ref(lp, q, t=t, tail=tail):  # the same maths by plain autodiff
                lq = jax.nn.log_softmax(q / t)
                lqk = jnp.take_along_axis(lq, idx, -1)
                lpk = lp
                if not tail:
                    lpk = lp - jax.nn.logsumexp(lp, -1, keepdims=True)
                    lqk = lqk - jax.nn.logsumexp(lqk, -1, keepdims=True)
                v = jnp.sum(jnp.exp(lpk) * (lpk - lqk), -1)
                if tail:
                    pt = 1 - jnp.sum(jnp.exp(lpk), -1)
                    qt = 1 - jnp.sum(jnp.exp(lqk), -1)
                    v = v + pt * jnp.log(pt / qt)
                return v

            w = jnp.linspace(0.5, 1.5, 15).reshape(3, 5)
            out[(tail, t)] = (
                f(lp, q),
                jax.grad(lambda lp, q, w=w, f=f: jnp.sum(w * f(lp, q)), (0, 1))(lp, q),
                jax.grad(lambda lp, q, w=w, r=ref: jnp.sum(w * r(lp, q)), (0, 1))(lp, q),
            )
    return out


def test_topk_matches_reference_values_and_autodiff(topk_inputs):
    idx, lp, q = topk_inputs
    for (tail, t), (value, grads, ref_grads) in _topk_all(idx, lp, q).items():
        np.testing.assert_allclose(value, np_topk(idx, lp, q, t, tail), rtol=1e-4, atol=1e-6)
        for a, b in zip(grads, ref_grads):
            np.testing.assert_allclose(a, b, atol=2e-6)


def test_topk_edges_full_vocabulary_and_zero_tail():
    q = jnp.array([[1.0, 0.0, -1.0]])
    idx = jnp.array([[2, 0, 1]])
    lp = jnp.take_along_axis(jax.nn.log_softmax(jnp.array([[0.0, 1.0, 2.0]])), idx, -1)
    v, g = jax.value_and_grad(
        lambda q: losses.topk_kl_divergence(idx, lp, q),
    )(q)
    np.testing.assert_allclose(v, np_kl([[0.0, 1.0, 2.0]], q)[0], rtol=1e-4)
    assert np.all(np.isfinite(g))
    # Teacher tail > 0 against a student whose top-k holds all its mass: +inf, finite grad.
    q2 = jnp.array([[0.0, 0.0, -jnp.inf]])
    v2, g2 = jax.value_and_grad(
        lambda q: losses.topk_kl_divergence(
            jnp.array([[0, 1]]), jnp.log(jnp.array([[0.4, 0.4]])), q
        )
    )(q2)
    assert np.isinf(v2) and np.all(np.isfinite(g2))


def test_topk_tail_of_a_confident_student_is_exact():
    # The teacher keeps 10% outside its top 4; the student puts all but 1e-9 (1e-12) of its
    # mass on those 4 tokens: 1 - sum Q_k rounds to 0 in float32, the tail's own
    # log-sum-exp does not. float64 references from the logits outside the top k.
    v = 50
    idx = np.array([[0, 1, 2, 3], [0, 1, 2, 3]], np.int32)
    lp = np.log(np.array([[0.4, 0.3, 0.1, 0.1], [0.5, 0.2, 0.1, 0.1]]))
    q = np.zeros((2, v))
    q[0, 4:] = np.log(1e-9 / (v - 4))  # the 4 top tokens have logit 0: tail ~ 4e-9
    q[1, 4:] = np.log(1e-12 / (v - 4))
    lp32, q32 = lp.astype(np.float32), q.astype(np.float32)
    value, grad = jax.jit(
        jax.value_and_grad(lambda q: losses.topk_kl_divergence(idx, lp32, q, reduction="sum"))
    )(q32)
    expected = np_topk(idx, lp32, q32, 1.0, True)
    assert np.all(np.isfinite(expected)) and expected.min() > 1.0
    np.testing.assert_allclose(value, expected.sum(), rtol=1e-5)
    np.testing.assert_allclose(grad, np_topk_grad_q(idx, lp32, q32), rtol=1e-4, atol=1e-6)


def np_topk_reverse(idx, lp, q, t, tail):
    return np_topk(idx, lp, q, t, tail, reverse=True)


def test_reverse_topk_matches_float64_and_finite_differences(topk_inputs):
    idx, lp, q = topk_inputs
    for tail in (True, False):
        for t in (1.0, 2.0):

            def f(lp, q, tail=tail, t=t):
                return losses.topk_kl_divergence(
                    idx, lp, q, temperature=t, tail=tail, reverse=True, reduction="none"
                )

            np.testing.assert_allclose(
                f(lp, q), np_topk_reverse(idx, lp, q, t, tail), rtol=1e-4, atol=1e-6
            )
            # gradients against central differences of the float64 reference (one row)
            g_lp, g_q = jax.grad(lambda a, b, f=f: f(a, b)[0, 0], (0, 1))(lp, q)
            h = 1e-6
            for x, g, which in ((lp, g_lp, 0), (q, g_q, 1)):
                x64 = np.asarray(x, np.float64)
                for j in range(x.shape[-1]):
                    e = np.zeros_like(x64)
                    e[0, 0, j] = h
                    args = [np.asarray(lp, np.float64), np.asarray(q, np.float64)]
                    args[which] = x64 + e
                    up = np_topk_reverse(idx, *args, t, tail)[0, 0]
                    args[which] = x64 - e
                    down = np_topk_reverse(idx, *args, t, tail)[0, 0]
                    fd = (up - down) / (2 * h)
                    assert abs(float(g[0, 0, j]) - fd) <= 1e-4 * (1 + abs(fd)), (tail, t, which, j)


def test_reverse_topk_at_k_equal_to_the_vocabulary_is_the_full_reverse_kl():
    rng = np.random.default_rng(8)
    p = (rng.normal(size=(5, 16)) * 3).astype(np.float32)
    q = (rng.normal(size=(5, 16)) * 3).astype(np.float32)
    idx = np.argsort(-p, -1).astype(np.int32)
    lp = np.take_along_axis(np.asarray(jax.nn.log_softmax(p)), idx, -1)
    value, grad = jax.value_and_grad(
        lambda q: losses.topk_kl_divergence(idx, lp, q, reverse=True, reduction="sum")
    )(q)
    np.testing.assert_allclose(value, np_kl(q, p).sum(), rtol=1e-5)
    full = jax.grad(lambda q: losses.kl_divergence_with_logits(q, p, reduction="sum"))(q)
    np.testing.assert_allclose(grad, full, atol=2e-6)


def test_topk_with_k_equal_to_the_vocabulary_is_the_full_kl():
    # k = V: no tail bin (the teacher's top-k sums to 1 up to rounding), the full KL.
    rng = np.random.default_rng(7)
    p = (rng.normal(size=(6, 32)) * 3).astype(np.float32)
    q = (rng.normal(size=(6, 32)) * 3).astype(np.float32)
    idx = np.argsort(-p, -1).astype(np.int32)
    lp = np.take_along_axis(np.asarray(jax.nn.log_softmax(p)), idx, -1)
    value, grad = jax.value_and_grad(
        lambda q: losses.topk_kl_divergence(idx, lp, q, reduction="sum")
    )(q)
    np.testing.assert_allclose(value, np_kl(p, q).sum(), rtol=1e-5)
    full = jax.grad(lambda q: losses.kl_divergence_with_logits(p, q, reduction="sum"))(q)
    np.testing.assert_allclose(grad, full, atol=1e-6)


def _verl_kl_penalty(logprob, ref_logprob, name):
    """The per-token KL penalty of verl, in float64 numpy.

    Written from the definitions of ``kl_penalty`` / ``kl_penalty_forward`` in
    verl/trainer/ppo/core_algos.py: the value of each name, and the derivative w.r.t.
    ``logprob`` of what it backpropagates.
    """
    lp, lr = np.asarray(logprob, np.float64), np.asarray(ref_logprob, np.float64)
    base = name.rstrip("+")
    if base in ("kl", "k1"):
        value, grad = lp - lr, np.ones_like(lp)
    elif base == "abs":
        value, grad = np.abs(lp - lr), np.sign(lp - lr)
    elif base in ("mse", "mse_kl", "k2"):
        value, grad = 0.5 * (lp - lr) ** 2, lp - lr
    else:  # low_var_kl / k3: log-ratio clamped to [-20, 20], the estimate to [-10, 10]
        kl = np.clip(lr - lp, -20, 20)
        raw = np.exp(kl) - kl - 1
        value = np.clip(raw, -10, 10)
        inner = np.abs(lr - lp) <= 20
        grad = np.where((np.abs(raw) <= 10) & inner, 1 - np.exp(kl), 0.0)
    if name.endswith("+"):  # straight through: the gradient of k2
        grad = lp - lr
    return value, grad


@pytest.mark.parametrize(
    "name", ["kl", "k1", "abs", "mse", "k2", "mse_kl", "low_var_kl", "k3", "k1+", "k3+"]
)
def test_sampled_kl_matches_verl_and_tunix_names(name):
    rng = np.random.default_rng(11)
    lp = (rng.normal(size=64) * 2 - 3).astype(np.float32)
    lr = (lp + rng.normal(size=64) * 1.5).astype(np.float32)
    lr[:3] = lp[:3] - np.array([25.0, 4.0, 0.0], np.float32)  # clamps of low_var_kl, r = 0
    clip = 10.0 if name in ("low_var_kl", "k3", "k3+") else None
    value, grad = jax.value_and_grad(
        lambda a: losses.sampled_kl_divergence(a, lr, estimator=name, clip=clip, reduction="sum")
    )(lp)
    ref_value, ref_grad = _verl_kl_penalty(lp, lr, name)
    np.testing.assert_allclose(value, ref_value.sum(), rtol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-6)


def test_sampled_kl_clip_clamps_infinite_samples():
    lp = jnp.array([-1.0, -2.0])
    lq = jnp.array([-jnp.inf, -2.5])
    out = losses.sampled_kl_divergence(lp, lq, estimator="k1", clip=3.0, reduction="none")
    np.testing.assert_allclose(out, [3.0, 0.5])
    g = jax.grad(
        lambda a: losses.sampled_kl_divergence(a, lq, estimator="k1", clip=3.0, reduction="sum")
    )(lp)
    np.testing.assert_array_equal(g, [0.0, 1.0])
    with pytest.raises(ValueError, match="clip"):
        losses.sampled_kl_divergence(lp, lq, clip=0.0)
    with pytest.raises(ValueError, match="estimator"):
        losses.sampled_kl_divergence(lp, lq, estimator="k4")


def test_sampled_kl_estimators():
    rng = np.random.default_rng(3)
    lp = rng.normal(size=50).astype(np.float32)
    lq = (lp + rng.normal(size=50) * 0.3).astype(np.float32)
    lq[:3] = lp[:3] + np.float32(1e-6)  # r ~ 1e-6: k3 ~ 5e-13, no cancellation
    r = lq.astype(np.float64) - lp
    refs = {"k1": -r, "k2": 0.5 * r**2, "k3": np.expm1(r) - r}

    @jax.jit
    def run(lp, lq):
        return {
            k: (
                losses.sampled_kl_divergence(lp, lq, estimator=k, reduction="none"),
                jax.grad(
                    lambda lq, k=k: losses.sampled_kl_divergence(
                        lp, lq, estimator=k, reduction="sum"
                    )
                )(lq),
            )
            for k in refs
        }

    for k, (v, g) in run(lp, lq).items():
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(v, refs[k], rtol=1e-4, atol=1e-12)
    assert np.all(np.asarray(run(lp, lq)["k3"][0][:3]) > 0)
    # Edges: log q = -inf is +inf (zero gradient), log p = -inf contributes 0.
    lp2 = jnp.array([0.0, -jnp.inf, -1.0])
    lq2 = jnp.array([-jnp.inf, 0.0, -1.0])
    for k in refs:
        v, g = jax.value_and_grad(
            lambda lq, k=k: losses.sampled_kl_divergence(lp2, lq, estimator=k, reduction="sum")
        )(lq2)
        rows = losses.sampled_kl_divergence(lp2, lq2, estimator=k, reduction="none")
        assert np.isinf(rows[0]) and rows[1] == 0 and rows[2] == 0 and np.all(np.isfinite(g))


# ---------------------------------------------------------------- vocabulary sharding


def test_shard_map_vocabulary_sharding_equals_unsharded(logits):
    assert jax.device_count() == 4
    mesh = Mesh(np.array(jax.devices()), ("v",))
    p, q = logits
    p, q = jnp.asarray(p[..., :32]), jnp.asarray(np.where(np.isinf(q), 0.0, q)[..., :32])

    @jax.jit
    def run(p, q):
        out = []
        for fn in (
            lambda p, q, **k: losses.kl_divergence_with_logits(p, q, temperature=1.5, **k),
            lambda p, q, **k: losses.jensen_shannon_with_logits(p, q, beta=0.3, **k),
        ):
            sharded = jax.shard_map(
                lambda p, q, fn=fn: fn(p, q, axis_name="v", reduction="sum"),
                mesh=mesh,
                in_specs=(P(None, None, "v"), P(None, None, "v")),
                out_specs=P(),
            )

            def plain(p, q, fn=fn):
                return fn(p, q, reduction="sum")

            out.append(
                (jax.value_and_grad(sharded, (0, 1))(p, q), jax.value_and_grad(plain, (0, 1))(p, q))
            )
        return out

    for (sv, sg), (uv, ug) in run(p, q):
        np.testing.assert_allclose(sv, uv, rtol=1e-6)
        for a, b in zip(sg, ug):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_shard_map_vocabulary_sharding_of_the_fused_losses(fused_inputs):
    # the lm_head split over a mesh axis: weight [H, V/4], bias and teacher logits split
    # alike, hidden replicated; the value and gradients equal the unsharded ones
    mesh = Mesh(np.array(jax.devices()), ("v",))
    h, w, b, ph, pw, mask = fused_inputs
    h, teacher = h.reshape(-1, h.shape[-1]), (ph @ pw).reshape(-1, w.shape[1])
    kinds = (dict(), dict(reverse=True), dict(beta=0.3))

    @jax.jit
    def run(h, w, b, teacher):
        out = []
        for kw in kinds:

            def loss(h, w, b, teacher, kw=kw, **extra):
                return losses.fused_linear_kl_divergence(
                    h, w, teacher, bias=b, reduction="sum", chunk_size=7, **kw, **extra
                )

            sharded = jax.shard_map(
                lambda h, w, b, teacher, loss=loss: loss(h, w, b, teacher, axis_name="v"),
                mesh=mesh,
                in_specs=(P(), P(None, "v"), P("v"), P(None, "v")),
                out_specs=P(),
            )
            grads = (0, 1, 2)
            out.append(
                (
                    jax.value_and_grad(sharded, grads)(h, w, b, teacher),
                    jax.value_and_grad(loss, grads)(h, w, b, teacher),
                )
            )
        return out

    for (sv, sg), (uv, ug) in run(h, w, b, teacher):
        np.testing.assert_allclose(sv, uv, rtol=1e-5)
        for a, c in zip(sg, ug):
            np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def test_shard_map_vocabulary_sharding_of_the_fused_topk_loss(fused_inputs):
    # weight [H, V/4] and bias split over the mesh axis, the teacher's top-k (global ids,
    # spread over all four shards) and hidden replicated: value and gradients equal the
    # unsharded ones, forward with and without the tail bin, and reverse
    mesh = Mesh(np.array(jax.devices()), ("v",))
    h, w, b, ph, pw, _ = fused_inputs
    h = h.reshape(-1, h.shape[-1])
    # (a teacher whose tail mass is not tiny: the reverse KL's tail term has the condition
    # number Q_t / P_t, which would amplify float32 rounding in either form alike)
    lp, idx = jax.lax.top_k(jax.nn.log_softmax((ph @ pw).reshape(-1, w.shape[1])), 6)
    assert len(np.unique(np.asarray(idx) // (w.shape[1] // 4))) == 4
    kinds = (dict(), dict(tail=False), dict(reverse=True))

    @jax.jit
    def run(h, w, b):
        out = []
        for kw in kinds:

            def loss(h, w, b, kw=kw, **extra):
                return losses.fused_linear_topk_kl_divergence(
                    h, w, idx, lp, bias=b, reduction="sum", chunk_size=7, **kw, **extra
                )

            sharded = jax.shard_map(
                lambda h, w, b, loss=loss: loss(h, w, b, axis_name="v"),
                mesh=mesh,
                in_specs=(P(), P(None, "v"), P("v")),
                out_specs=P(),
            )
            out.append(
                (
                    jax.value_and_grad(sharded, (0, 1, 2))(h, w, b),
                    jax.value_and_grad(loss, (0, 1, 2))(h, w, b),
                )
            )
        return out

    # two float32 summation orders over V = 40 terms of order 1: within V * eps of each other
    atol = w.shape[1] * np.finfo(np.float32).eps
    for (sv, sg), (uv, ug) in run(h, w, b):
        np.testing.assert_allclose(sv, uv, rtol=1e-5)
        for a, c in zip(sg, ug):
            np.testing.assert_allclose(a, c, rtol=1e-5, atol=atol)


# ---------------------------------------------------------------- errors and value checks


def test_static_argument_errors():
    p = jnp.zeros((2, 3))
    kl, jsd = losses.kl_divergence_with_logits, losses.jensen_shannon_with_logits
    with pytest.raises(ValueError, match="reduction"):
        kl(p, p, reduction="batchmean")
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        kl(p, jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="out of range"):
        jax.jit(lambda p: kl(p, p, axis=2))(p)
    with pytest.raises(ValueError, match="temperature"):
        kl(p, p, temperature=0.0)
    with pytest.raises(ValueError, match="beta"):
        jsd(p, p, beta=1.5)
    with pytest.raises(ValueError, match="where"):
        kl(p, p, where=jnp.ones((3,), bool))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 3\)"):
        losses.fused_linear_kl_divergence(p, jnp.zeros((4, 3)), p)
    with pytest.raises(ValueError, match="p_logits of shape"):
        losses.fused_linear_kl_divergence(p, jnp.zeros((3, 5)), p)
    with pytest.raises(ValueError, match="chunk_size"):
        losses.fused_linear_kl_divergence(p, jnp.zeros((3, 3)), p, chunk_size=0)
    with pytest.raises(TypeError, match="integer"):
        losses.topk_kl_divergence(p, p, p)
    with pytest.raises(ValueError, match="estimator"):
        losses.sampled_kl_divergence(p, p, estimator="k4")


def test_value_checks_raise_eagerly_and_are_free_under_jit():
    bad = jnp.array([[0.0, jnp.nan]])
    good = jnp.zeros((1, 2))
    idx = jnp.array([[0]])
    with pytest.raises(ValueError, match="NaN"):
        losses.kl_divergence_with_logits(bad, good)
    with pytest.raises(ValueError, match="-inf"):
        losses.kl_divergence_with_logits(jnp.full((1, 2), -jnp.inf), good)
    with pytest.raises(ValueError, match="NaN"):
        losses.fused_linear_kl_divergence(good, jnp.zeros((2, 2)), bad)
    with pytest.raises(ValueError, match="outside"):
        losses.topk_kl_divergence(idx + 5, good[:, :1], good)
    with pytest.raises(ValueError, match="NaN"):
        losses.sampled_kl_divergence(bad, good)
    # Masked rows are exempt.
    assert np.isfinite(
        losses.kl_divergence_with_logits(bad, good, where=jnp.array([False]), reduction="sum")
    )
    calls = [
        lambda p, q: losses.kl_divergence_with_logits(p, q),
        lambda p, q: losses.jensen_shannon_with_logits(p, q),
        lambda p, q: losses.fused_linear_kl_divergence(q, jnp.eye(2), p),
        lambda p, q: losses.topk_kl_divergence(idx, q[:, :1] - 1.0, p),
        lambda p, q: losses.sampled_kl_divergence(p, q),
    ]
    for f in calls:
        assert jax.make_jaxpr(jax.jit(f))(good, good).effects == set()
        assert jax.make_jaxpr(f)(good, good).effects == set()
    with jaxkl.value_checks():
        err, _ = checkify.checkify(jax.jit(calls[0]))(bad, good)
    assert "NaN" in err.get()


# ---------------------------------------------------------------- float64 (pytest --x64)


@pytest.mark.x64
def test_gradients_match_finite_differences_in_float64():
    from jax.test_util import check_grads

    rng = np.random.default_rng(4)
    p = jnp.asarray(rng.normal(size=(3, 6)))
    q = jnp.asarray(rng.normal(size=(3, 6)))
    h = jnp.asarray(rng.normal(size=(3, 4)))
    w = jnp.asarray(rng.normal(size=(4, 6)))
    b = jnp.asarray(rng.normal(size=(6,)))
    idx = jnp.asarray(np.argsort(-np.asarray(p), -1)[:, :3])
    lp = jnp.take_along_axis(jax.nn.log_softmax(p), idx, -1)
    cases = [
        (lambda p, q: losses.kl_divergence_with_logits(p, q, temperature=1.7), (p, q)),
        (lambda p, q: losses.jensen_shannon_with_logits(p, q, beta=0.3), (p, q)),
        (
            lambda h, w, b: losses.fused_linear_kl_divergence(h, w, p, bias=b, chunk_size=2),
            (h, w, b),
        ),
        (
            lambda h, w: losses.fused_linear_kl_divergence(h, w, p, beta=0.6, reduction="sum"),
            (h, w),
        ),
        (
            lambda h, w: jnp.sum(
                jnp.sin(losses.fused_linear_kl_divergence(h, w, p, reduction="none"))
            ),
            (h, w),
        ),
        (lambda lp, q: losses.topk_kl_divergence(idx, lp - 0.1, q), (lp, q)),
        (lambda lp, q: losses.topk_kl_divergence(idx, lp, q, tail=False), (lp, q)),
        (lambda p, q: losses.sampled_kl_divergence(p[0], q[0]), (p, q)),
    ]
    for f, args in cases:
        assert f(*args).dtype == jnp.float64
        check_grads(f, args, order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


@pytest.mark.x64
def test_float64_values_match_reference():
    rng = np.random.default_rng(5)
    p, q = rng.normal(size=(4, 9)), rng.normal(size=(4, 9))
    got = losses.kl_divergence_with_logits(jnp.asarray(p), jnp.asarray(q), reduction="none")
    np.testing.assert_allclose(got, np_kl(p, q), rtol=1e-12)
    got = losses.jensen_shannon_with_logits(
        jnp.asarray(p), jnp.asarray(q), beta=0.2, reduction="none"
    )
    np.testing.assert_allclose(got, np_jsd(p, q, 0.2), rtol=1e-12)


# ---------------------------------------------------------------- scripts


def _run_script(args, timeout):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))  # this tree's jaxkl
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def test_distillation_benchmark_quick_runs():
    out = _run_script(["benchmarks/distillation.py", "--quick"], timeout=240)
    assert "chunk 512, 16 chunks" in out  # the accelerator plan at Liger's shape
    table = out.split("([N, V] float32 = 1 MiB)")[1].split("\n\n")[0].splitlines()[2:]
    temp = {line[:20].strip(): float(line.split()[-2]) for line in table}
    assert set(temp) == {
        "fused (jaxkl)",
        "unfused (jaxkl)",
        "optax on logits",
        "fused reverse KL",
        "fused JSD(0.5)",
        "fused top-32",
        "unfused top-32",
        "tunix LogitStrategy",
    }
    # the fused rows never build the [N, V] logits: less temporary memory than any row that does
    fused = [temp[name] for name in temp if name.startswith("fused")]
    materialised = [temp[name] for name in temp if not name.startswith("fused")]
    assert max(fused) < min(materialised), temp
