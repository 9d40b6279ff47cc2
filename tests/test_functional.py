"""Tests for the tensor KL, ``jaxkl.functional.kl_divergence``, against torchmetrics and scipy.

The contract is DESIGN.md section 1: torchmetrics' values where torchmetrics is defined, and
exact, NaN-free values (and gradients) at the edges where it is not.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.experimental import checkify
from jax.test_util import check_grads

import jaxkl
from jaxkl._checks import reduce_rows
from jaxkl.functional import _kl_rows, kl_divergence
from tests._oracles import mpmath_kl_rows, rel_entr_rows, torchmetrics_kl, torchmetrics_kl_axis

REDUCTIONS = ["mean", "sum", "none", None]
# float32 rounding of the O(1) per-element terms: a few ulp of 1, absolute. (torchmetrics'
# own float32 result is off by up to ~5e-4 *relative* on small KLs of short rows.)
F32_ATOL = 2e-7


def _random_pair(rng, shape, dtype=np.float32, log_prob=False):
    """Positive unnormalised rows, or log-probabilities (log of normalised rows)."""
    p = rng.uniform(0.05, 2.0, size=shape)
    q = rng.uniform(0.05, 2.0, size=shape)
    if log_prob:
        p = np.log(p / p.sum(-1, keepdims=True))
        q = np.log(q / q.sum(-1, keepdims=True))
    return p.astype(dtype), q.astype(dtype)


def _assert_close(actual, desired, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), desired, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------
# Parity with torchmetrics
# --------------------------------------------------------------------------------------


def _all_reductions(log_prob, transform):
    """One function returning every reduction: one compile covers all four under jit."""
    return transform(lambda p, q: tuple(kl_divergence(p, q, log_prob, r) for r in REDUCTIONS))


@pytest.mark.parametrize("log_prob", [False, True])
def test_matches_torchmetrics_float32(rng, log_prob, transform):
    p, q = _random_pair(rng, (6, 11), np.float32, log_prob)
    for reduction, out in zip(REDUCTIONS, _all_reductions(log_prob, transform)(p, q)):
        assert out.dtype == jnp.float32
        # The oracle runs in float64 on the same float32 inputs: we must be float32-accurate.
        _assert_close(out, torchmetrics_kl(p, q, log_prob, reduction), rtol=1e-5, atol=F32_ATOL)
        # ... and agree with torchmetrics' own float32 result.
        _assert_close(
            out,
            torchmetrics_kl(p, q, log_prob, reduction, dtype=torch.float32),
            rtol=1e-5,
            atol=F32_ATOL,
        )


@pytest.mark.x64
@pytest.mark.parametrize("log_prob", [False, True])
def test_matches_torchmetrics_float64(rng, log_prob, transform):
    p, q = _random_pair(rng, (6, 11), np.float64, log_prob)
    for reduction, out in zip(REDUCTIONS, _all_reductions(log_prob, transform)(p, q)):
        assert out.dtype == jnp.float64
        _assert_close(out, torchmetrics_kl(p, q, log_prob, reduction), rtol=1e-10)


def _one_log_rounding_bound(p, q):
    """Six standard deviations of the rounding every one-log evaluation pays, per row.

    The ratio p/q is rounded by up to u = eps/2 relative before its log, which moves term i
    by w_i * e_i (w = p/P), e_i uniform in [-u, u]: a sum with standard deviation
    u * |w|_2 / sqrt(3). Near p = q that is the whole error; the form's own last step,
    ``G/P + log1p(d) - d``, adds about eps * |d| for the d = Q/P - 1 it runs at, which
    is below 2**-10 (rows whose sums differ more are rescaled); 0.1 eps covers it.
    """
    eps = np.finfo(p.dtype).eps
    w = p.astype(np.float64) / p.sum(-1, keepdims=True, dtype=np.float64)
    return 6 * (eps / 2) * np.sqrt(np.sum(w * w, axis=-1)) / np.sqrt(3) + 0.1 * eps


def _check_near_equal_rows(p, q):
    exact = mpmath_kl_rows(p, q, dps=40)
    err = np.abs(np.asarray(kl_divergence(p, q, reduction="none"), np.float64) - exact)
    assert np.all(err <= _one_log_rounding_bound(p, q)), (err, exact)


@pytest.mark.x64
def test_near_equal_rows_are_accurate_in_float64(rng):
    # KL ~ 1e-12: the one-pass form must not cancel. mpmath is the oracle: torchmetrics'
    # own float64 value is off by ~1e-16 absolute here (4e-4 relative).
    p = rng.uniform(0.5, 1.5, size=(4, 50))
    q = p * (1.0 + 1e-6 * rng.standard_normal(p.shape))
    _check_near_equal_rows(p, q)
    _check_near_equal_rows(p, 3.0 * q)  # rows of q that sum to 3x those of p


def test_near_equal_rows_are_accurate_in_float32(rng):
    # KL ~ 1e-7, float32 inputs: compared with the exact KL of those float32 values.
    p = rng.uniform(0.5, 1.5, size=(4, 64)).astype(np.float32)
    q = (p * (1.0 + 1e-3 * rng.standard_normal(p.shape))).astype(np.float32)
    _check_near_equal_rows(p, q)
    _check_near_equal_rows(p, q * np.float32(1e6))


@pytest.mark.parametrize("log_prob", [False, True])
def test_long_event_axes(rng, log_prob):
    # a Llama-3-sized vocabulary row: one pass, values and finite gradients
    p, q = _random_pair(rng, (2, 128256), np.float32, log_prob)
    out = jax.jit(lambda a, b: kl_divergence(a, b, log_prob, "none"))(p, q)
    _assert_close(out, torchmetrics_kl(p, q, log_prob, "none"), rtol=1e-5, atol=F32_ATOL)
    grads = jax.grad(lambda a, b: kl_divergence(a, b, log_prob, "sum"), argnums=(0, 1))(p, q)
    for g in grads:
        assert np.all(np.isfinite(g))


# p = [.2, .3, .5, 0, .1, .4] against s * q: the rows of the issue that found the one-pass
# form wrong for unnormalised rows (0.500 for 0.3611 at s = 1e6).
_ISSUE_P = np.array([0.2, 0.3, 0.5, 0.0, 0.1, 0.4], np.float32)
_ISSUE_Q = np.array([0.3, 0.1, 0.4, 0.2, 0.5, 0.6], np.float32)
_SUM_RATIOS = 10.0 ** np.arange(-6, 7)  # 1e-6 ... 1e6


def _unbalanced_rows(rng, n=64, d=37):
    """Rows whose sums differ by 1e-6 ... 1e6 (both ends drawn), with zeros in p."""
    p = rng.uniform(0.0, 1.0, (n, d)) * (rng.random((n, d)) > 0.1)
    p[:, 0] += 0.5
    q = rng.uniform(0.0, 1.0, (n, d)) + 1e-3
    scale = 10.0 ** np.concatenate([[-6.0, 6.0], rng.uniform(-6.0, 6.0, n - 2)])
    return p.astype(np.float32), (q * scale[:, None]).astype(np.float32)


# float32 normalisation rounds each ratio by an ulp, which moves any float32 KL by up to
# eps absolute (torchmetrics' float32 result has the same floor); relative: 1e-5.
_F32_FLOOR = 2 * float(np.finfo(np.float32).eps)


def test_rows_whose_sums_differ_match_float64_and_torchmetrics(rng):
    issue_rows = (
        np.tile(_ISSUE_P, (len(_SUM_RATIOS), 1)),
        (_ISSUE_Q * _SUM_RATIOS[:, None]).astype(np.float32),
    )
    f = jax.jit(lambda a, b: kl_divergence(a, b, reduction="none"))
    for p, q in (issue_rows, _unbalanced_rows(rng)):
        reference = rel_entr_rows(p, q)  # float64 normalised rows of the same float32 values
        theirs = torchmetrics_kl(p, q, reduction="none", dtype=torch.float32)
        for out in (f(p, q), kl_divergence(p, q, reduction="none")):
            _assert_close(out, reference, rtol=1e-5, atol=_F32_FLOOR)
            _assert_close(out, theirs, rtol=1e-5, atol=_F32_FLOOR)
        # under vmap the second pass is a select: the same values
        mapped = jax.vmap(f)(p[:, None], q[:, None])[:, 0]
        _assert_close(mapped, reference, rtol=1e-5, atol=_F32_FLOOR)
        # the same rows with sums brought within a factor 2 take the one-pass path
        shift = np.exp2(np.round(np.log2(p.sum(-1) / q.sum(-1))))[:, None]
        _assert_close(f(p, q * shift.astype(np.float32)), reference, rtol=1e-5, atol=_F32_FLOOR)


def test_gradients_of_rows_whose_sums_differ(rng):
    p, q = _unbalanced_rows(rng, n=16, d=9)
    grads = jax.jit(jax.grad(lambda a, b: kl_divergence(a, b, reduction="sum"), argnums=(0, 1)))(
        p, q
    )
    # d KL(p/P || q/Q) / d p_j = (log(p_j Q / (q_j P)) - KL) / P (the 0 log 0 term held at
    # its limit: log(...) reads -1 at p_j = 0), d / d q_j = 1/Q - p_j / (P q_j); float64.
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    big_p, big_q = p64.sum(-1, keepdims=True), q64.sum(-1, keepdims=True)
    kl = rel_entr_rows(p64, q64)[:, None]
    with np.errstate(divide="ignore"):
        log_ratio = np.where(p64 > 0, np.log(p64 * big_q / (q64 * big_p)), -1.0)
    expected = ((log_ratio - kl) / big_p, 1 / big_q - p64 / (big_p * q64))
    for got, want in zip(grads, expected):
        scale = np.abs(want).max(-1, keepdims=True)
        assert np.all(np.abs(np.asarray(got, np.float64) - want) <= 1e-5 * scale)


def test_log_space_rows_with_minus_inf_take_the_exact_pass():
    # the plain exp(p) (p - q) pass is NaN on these rows; the exact pass must replace them
    inf = np.inf
    with np.errstate(divide="ignore"):
        p = np.log(np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]], np.float32))
        q = np.log(np.array([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5], [0.5, 0.0, 0.5]], np.float32))
    out = jax.jit(lambda a, b: kl_divergence(a, b, True, "none"))(p, q)
    np.testing.assert_allclose(out[:2], [np.log(2.0), 0.0], rtol=1e-6, atol=1e-7)
    assert out[2] == inf
    assert p[0, 2] == -inf


def test_quickstart_value_of_torchmetrics_docstring():
    p = np.array([[0.36, 0.48, 0.16]], np.float32)
    q = np.array([[1 / 3, 1 / 3, 1 / 3]], np.float32)
    _assert_close(kl_divergence(p, q), torchmetrics_kl(p, q), rtol=1e-6)
    assert f"{float(kl_divergence(p, q)):.4f}" == "0.0853"


def test_top_level_kl_divergence_is_the_tensor_kl(rng):
    p, q = _random_pair(rng, (3, 5))
    np.testing.assert_array_equal(
        jaxkl.kl_divergence(p, q, False, "none"), kl_divergence(p, q, reduction="none")
    )


# --------------------------------------------------------------------------------------
# Rank, axis, masks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_prob", [False, True])
def test_one_dimensional_input_is_one_distribution(rng, log_prob):
    p, q = _random_pair(rng, (7,), np.float32, log_prob)
    for reduction in REDUCTIONS:
        out = kl_divergence(p, q, log_prob, reduction)
        assert out.shape == ()
        _assert_close(
            out, torchmetrics_kl_axis(p, q, log_prob, reduction), rtol=1e-5, atol=F32_ATOL
        )


@pytest.mark.parametrize("log_prob", [False, True])
def test_axis_on_rank_three_matches_moved_and_flattened_reference(rng, log_prob):
    p, q = _random_pair(rng, (3, 4, 5), np.float64)
    if log_prob:
        p, q = np.log(p), np.log(q)
    p, q = p.astype(np.float32), q.astype(np.float32)
    for axis in (0, 1, -1):  # first, middle and (negative) last; -2 is 1 and 2 is -1 after `% ndim`
        for reduction in ("mean", "none"):
            out = kl_divergence(p, q, log_prob, reduction, axis=axis)
            expected = torchmetrics_kl_axis(p, q, log_prob, reduction, axis=axis)
            assert out.shape == np.shape(expected)
            _assert_close(out, expected, rtol=1e-5, atol=F32_ATOL)
    np.testing.assert_array_equal(
        kl_divergence(p, q, log_prob, "none", axis=-2),
        kl_divergence(p, q, log_prob, "none", axis=1),
    )


@pytest.mark.parametrize("log_prob", [False, True])
def test_where_drops_masked_rows(rng, log_prob, transform):
    p, q = _random_pair(rng, (2, 5, 6), np.float32, log_prob)
    mask = np.array([[True, False, True, True, False], [False, True, True, False, True]])
    kept_p, kept_q = p[mask], q[mask]
    f = transform(
        lambda a, b, m: tuple(kl_divergence(a, b, log_prob, r, where=m) for r in REDUCTIONS)
    )
    for reduction, out in zip(REDUCTIONS, f(p, q, mask)):
        if reduction in ("none", None):
            expected = np.zeros(mask.shape)
            expected[mask] = torchmetrics_kl(kept_p, kept_q, log_prob, "none")
        else:
            expected = torchmetrics_kl(kept_p, kept_q, log_prob, reduction)
        _assert_close(out, expected, rtol=1e-5, atol=F32_ATOL)


def test_where_broadcasts_to_the_batch_shape(rng):
    p, q = _random_pair(rng, (2, 3, 4))
    row_mask = np.array([True, False, True])  # broadcasts over the leading batch axis
    out = kl_divergence(p, q, reduction="none", where=row_mask)
    expected = np.zeros((2, 3))
    expected[:, row_mask] = torchmetrics_kl(
        p[:, row_mask].reshape(-1, 4), q[:, row_mask].reshape(-1, 4), False, "none"
    ).reshape(2, 2)
    _assert_close(out, expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        kl_divergence(p, q, where=np.ones(4, bool))
    with pytest.raises(TypeError, match="boolean"):
        kl_divergence(p, q, where=np.ones(3, np.float32))


@pytest.mark.parametrize("log_prob", [False, True])
def test_mean_over_zero_unmasked_rows_is_nan(rng, log_prob, transform):
    p, q = _random_pair(rng, (3, 4), np.float32, log_prob)
    none = np.zeros(3, bool)
    assert np.isnan(
        transform(functools.partial(kl_divergence, log_prob=log_prob))(p, q, where=none)
    )
    assert float(kl_divergence(p, q, log_prob, "sum", where=none)) == 0.0
    np.testing.assert_array_equal(kl_divergence(p, q, log_prob, "none", where=none), np.zeros(3))


def test_masked_rows_are_exempt_from_value_checks_and_give_zero_gradients(rng):
    p, q = _random_pair(rng, (4, 5))
    p[1] = 0.0  # padding: an all-zero row
    q[2] = np.nan
    p[3, 0] = -1.0
    mask = np.array([True, False, False, False])
    out = kl_divergence(p, q, reduction="none", where=mask)
    expected = np.zeros(4)
    expected[0] = torchmetrics_kl(p[:1], q[:1], False, "none")[0]
    _assert_close(out, expected, rtol=1e-5)
    gp, gq = jax.grad(lambda a, b: kl_divergence(a, b, where=mask), argnums=(0, 1))(p, q)
    assert np.all(np.isfinite(gp)) and np.all(np.isfinite(gq))
    np.testing.assert_array_equal(np.asarray(gp)[1:], 0.0)
    np.testing.assert_array_equal(np.asarray(gq)[1:], 0.0)
    log_p = np.log(p[:1] / p[:1].sum())
    padded = np.concatenate([log_p, np.full((1, 5), np.nan, np.float32)])
    mask2 = np.array([True, False])
    assert np.isfinite(kl_divergence(padded, padded, True, "sum", where=mask2))
    g = jax.grad(lambda a: kl_divergence(a, padded, True, where=mask2))(padded)
    assert np.all(np.isfinite(g))


# --------------------------------------------------------------------------------------
# Edges: zeros, infinities, -inf log-probabilities
# --------------------------------------------------------------------------------------


def test_zero_probabilities_contribute_zero(transform):
    p = np.array([[0.0, 0.2, 0.8], [0.0, 0.0, 3.0], [0.5, 0.0, 0.5]], np.float32)
    q = np.array([[0.0, 0.5, 0.5], [0.1, 0.0, 0.9], [0.5, 0.0, 0.5]], np.float32)
    out = transform(functools.partial(kl_divergence, reduction="none"))(p, q)
    # torchmetrics gives NaN where p = q = 0; scipy's rel_entr has the limit 0 log 0 = 0.
    _assert_close(out, rel_entr_rows(p, q), rtol=1e-6, atol=1e-7)
    assert not np.any(np.isnan(out))


def test_positive_p_against_zero_q_is_inf_not_nan(transform):
    p = np.array([[0.5, 0.5], [0.3, 0.7]], np.float32)
    q = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    none = transform(functools.partial(kl_divergence, reduction="none"))(p, q)
    assert np.isposinf(none[0]) and np.isfinite(none[1])
    assert np.isposinf(transform(kl_divergence)(p, q))
    np.testing.assert_array_equal(torchmetrics_kl(p, q, False, "none")[0], np.inf)
    # log space: q = -inf where p is finite
    with np.errstate(divide="ignore"):
        lq = np.log(q)
    lp = np.log(p)
    none = transform(functools.partial(kl_divergence, log_prob=True, reduction="none"))(lp, lq)
    assert np.isposinf(none[0]) and np.isfinite(none[1])


def test_log_prob_minus_inf_contributes_zero_where_torchmetrics_gives_nan(transform):
    p = np.array([[0.0, 0.25, 0.75], [0.0, 0.0, 1.0]], np.float64)
    q = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]], np.float64)
    with np.errstate(divide="ignore"):
        lp, lq = np.log(p).astype(np.float32), np.log(q).astype(np.float32)
    with np.errstate(invalid="ignore"):
        assert np.isnan(torchmetrics_kl(lp, lq, True, "none")).all()
    out = transform(functools.partial(kl_divergence, log_prob=True, reduction="none"))(lp, lq)
    _assert_close(out, rel_entr_rows(lp, lq, log_prob=True), rtol=1e-6)


# --------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------


def _grads(p, q, **kwargs):
    return jax.grad(lambda a, b: kl_divergence(a, b, reduction="sum", **kwargs), argnums=(0, 1))(
        p, q
    )


def test_gradients_are_never_nan_at_the_edges():
    p = np.array([[0.0, 0.2, 0.8], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], np.float32)
    q = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]], np.float32)
    gp, gq = _grads(p, q)
    assert not np.any(np.isnan(gp)) and not np.any(np.isnan(gq))
    values = np.asarray(kl_divergence(p, q, reduction="none"))
    finite_rows = np.isfinite(values)
    assert finite_rows.tolist() == [True, False, True]
    # w.r.t. q: finite wherever the value is finite
    assert np.all(np.isfinite(np.asarray(gq)[finite_rows]))
    # an infinite row gets a zero gradient
    np.testing.assert_array_equal(np.asarray(gp)[1], 0.0)
    np.testing.assert_array_equal(np.asarray(gq)[1], 0.0)


def test_gradient_at_zero_probability_is_the_documented_finite_value():
    # Documented: with the 0 log 0 term held at 0, d/dp_i = -(1 + KL)/P, P = sum p: the
    # derivative of the other terms of the normalised KL, whatever q's row sums to.
    p = np.array([[0.0, 0.6, 1.4]], np.float64)
    q = np.array([[0.3, 0.3, 0.9]], np.float64)
    gp, _ = _grads(p.astype(np.float32), q.astype(np.float32))
    expected = -(1.0 + rel_entr_rows(p, q)[0]) / p.sum()
    _assert_close(np.asarray(gp)[0, 0], expected, rtol=1e-5)
    # scale-invariant: q's row summing to 1e6 times p's changes nothing
    gp_far, _ = _grads(p.astype(np.float32), (q * 1e6).astype(np.float32))
    _assert_close(np.asarray(gp_far)[0], np.asarray(gp, np.float64)[0], rtol=1e-5, atol=1e-7)

    # The other entries: central finite differences in float64 of the reference.
    def ref(v):
        return float(rel_entr_rows(v[None], q)[0])

    for i in (1, 2):
        h = 1e-6
        e = np.zeros(3)
        e[i] = h
        fd = (ref(p[0] + e) - ref(p[0] - e)) / (2 * h)
        _assert_close(np.asarray(gp)[0, i], fd, rtol=1e-4, atol=1e-6)


def test_log_space_gradients_are_finite_at_minus_inf():
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.0, 0.3, 0.7], [0.2, 0.0, 0.8]], np.float32))
    lq = np.log(np.array([[0.1, 0.4, 0.5], [0.3, 0.3, 0.4]], np.float32))
    gp, gq = _grads(lp, lq, log_prob=True)
    assert np.all(np.isfinite(gp)) and np.all(np.isfinite(gq))
    assert float(gp[0, 0]) == 0.0 and float(gq[0, 0]) == 0.0


@pytest.mark.x64
@pytest.mark.parametrize("log_prob", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradients_match_finite_differences(rng, log_prob, reduction):
    p, q = _random_pair(rng, (3, 4), np.float64, log_prob)

    def f(a, b):
        return kl_divergence(a, b, log_prob, reduction)

    check_grads(f, (p, q), order=2, modes=["fwd", "rev"], eps=1e-5, atol=1e-6, rtol=1e-6)


# --------------------------------------------------------------------------------------
# Dtypes
# --------------------------------------------------------------------------------------


def test_integer_counts_are_unnormalised_frequencies(transform):
    p = np.array([[1, 2, 3, 0], [5, 5, 0, 10]], np.int32)
    q = np.array([[2, 2, 2, 2], [1, 1, 1, 1]], np.int32)
    out = transform(functools.partial(kl_divergence, reduction="none"))(p, q)
    assert out.dtype == jnp.float32
    _assert_close(out, rel_entr_rows(p, q), rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
@pytest.mark.parametrize("log_prob", [False, True])
def test_half_precision_accumulates_in_float32(rng, dtype, log_prob, transform):
    # Long rows: accumulating in half precision would be off by ~1e-2 relative.
    p, q = _random_pair(rng, (2, 4096), np.float32, log_prob)
    ph, qh = jnp.asarray(p, dtype), jnp.asarray(q, dtype)
    out = transform(functools.partial(kl_divergence, log_prob=log_prob, reduction="none"))(ph, qh)
    assert out.dtype == jnp.float32
    expected = torchmetrics_kl(
        np.asarray(ph, np.float32), np.asarray(qh, np.float32), log_prob, "none"
    )
    _assert_close(out, expected, rtol=2e-5)


@pytest.mark.x64
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16])
def test_float32_and_lower_stay_float32_under_x64(rng, dtype):
    p, q = _random_pair(rng, (3, 5), np.float32)
    p, q = (p * 10).astype(dtype), (q * 10).astype(dtype)
    for reduction in REDUCTIONS:
        assert kl_divergence(p, q, reduction=reduction).dtype == jnp.float32
        assert (
            jax.jit(functools.partial(kl_divergence, reduction=reduction))(p, q).dtype
            == jnp.float32
        )


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def _both_ways(call, *args, **static):
    """Call eagerly, then under jit with the static arguments bound by partial."""
    yield lambda: call(*args, **static)
    yield lambda: jax.jit(functools.partial(call, **static))(*args)


@pytest.mark.parametrize(
    "static, exc, match",
    [
        (dict(log_prob=1), TypeError, "log_prob.*1"),
        (dict(log_prob="yes"), TypeError, "log_prob"),
        (dict(reduction="avg"), ValueError, "reduction.*avg"),
        (dict(axis=2), ValueError, "axis.*2"),
        (dict(axis=-3), ValueError, "axis"),
        (dict(axis=1.0), ValueError, "axis"),
    ],
)
def test_bad_arguments_raise_eagerly_and_under_jit(rng, static, exc, match):
    p, q = _random_pair(rng, (2, 3))
    for call in _both_ways(kl_divergence, p, q, **static):
        with pytest.raises(exc, match=match):
            call()


def test_static_arguments_work_as_jit_static_argnames(rng):
    p, q = _random_pair(rng, (2, 3))
    f = jax.jit(kl_divergence, static_argnames=("log_prob", "reduction", "axis"))
    _assert_close(
        f(p, q, reduction="sum", axis=0), torchmetrics_kl(p.T, q.T, False, "sum"), rtol=1e-5
    )
    with pytest.raises(ValueError, match="reduction"):
        f(p, q, reduction="bad")


def test_shape_mismatch_names_both_shapes(rng):
    p, _ = _random_pair(rng, (2, 3))
    q, _ = _random_pair(rng, (2, 4))
    for call in _both_ways(kl_divergence, p, q):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
            call()


def test_scalar_input_raises():
    for call in _both_ways(kl_divergence, np.float32(0.5), np.float32(0.5)):
        with pytest.raises(ValueError, match="dimension"):
            call()


BAD_VALUES = [
    # (log_prob, which array, row, index within the row (None: the whole row), value, message)
    (False, "p", 0, 1, -0.1, "negative"),
    (False, "q", 1, 0, np.nan, "NaN"),
    (False, "p", 1, None, 0.0, "all-zero"),
    (False, "q", 0, None, 0.0, "all-zero"),
    (True, "p", 0, 2, np.nan, "NaN"),
    (True, "q", 1, 1, np.inf, r"\+inf"),
]


@pytest.mark.parametrize("log_prob", [False, True])
def test_bad_values_raise_eagerly_are_free_under_jit_and_reported_when_switched_on(rng, log_prob):
    f = functools.partial(kl_divergence, log_prob=log_prob)
    plain = jax.jit(f)
    p, q = _random_pair(rng, (2, 3), np.float32, log_prob)
    assert not jax.make_jaxpr(f)(p, q).effects  # no checks, so no effect, by default
    checkified = checkify.checkify(jax.jit(f))  # one compile serves every case below

    def checked(*args, **kwargs):
        with jaxkl.value_checks():
            return checkified(*args, **kwargs)

    for case in BAD_VALUES:
        if case[0] != log_prob:
            continue
        _, which, row, col, value, match = case
        p, q = _random_pair(rng, (2, 3), np.float32, log_prob)
        bad = p if which == "p" else q
        bad[row, slice(None) if col is None else col] = value
        with pytest.raises(ValueError, match=match):
            f(p, q)
        plain(p, q, where=np.ones(2, bool))  # plain jit: silent
        err, _ = checked(p, q, where=np.ones(2, bool))
        assert err.get() is not None and f"`{which}`" in err.get()
        with pytest.raises(ValueError, match=match):
            err.throw()
        # the row masked out by `where` is exempt, eagerly and under checkify
        mask = np.arange(2) != row
        f(p, q, where=mask)
        err, _ = checked(p, q, where=mask)
        assert err.get() is None


# --------------------------------------------------------------------------------------
# Transformations
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_prob", [False, True])
def test_jit_equals_eager_and_vmap_equals_batched(rng, log_prob):
    p, q = _random_pair(rng, (3, 4, 5), np.float32, log_prob)

    def f(a, b):
        return tuple(kl_divergence(a, b, log_prob, r) for r in REDUCTIONS)

    eager = f(p, q)
    looped = [f(p[i], q[i]) for i in range(3)]
    for k, (jitted, mapped) in enumerate(zip(jax.jit(f)(p, q), jax.vmap(f)(p, q))):
        np.testing.assert_allclose(jitted, eager[k], rtol=1e-6)
        np.testing.assert_allclose(
            mapped, np.stack([np.asarray(row[k]) for row in looped]), rtol=1e-6
        )
    mask = np.array([[True, False, True, True], [False] * 4, [True] * 4])
    g = functools.partial(kl_divergence, log_prob=log_prob, reduction="sum")
    np.testing.assert_allclose(
        jax.vmap(g)(p, q, where=mask), [g(p[i], q[i], where=mask[i]) for i in range(3)], rtol=1e-6
    )


def test_new_values_with_the_same_shapes_do_not_retrace(rng):
    traces = []

    @jax.jit
    def step(p, q, mask):
        traces.append(1)  # runs only while tracing
        return kl_divergence(p, q, where=mask) + kl_divergence(jnp.log(p), jnp.log(q), True, "sum")

    for _ in range(3):
        p, q = _random_pair(rng, (4, 6))
        step(p, q, rng.random(4) > 0.3).block_until_ready()
    assert len(traces) == 1


def test_private_halves_compose_to_the_public_function(rng):
    # The metric reuses _kl_rows and reduce_rows: keep their contract.
    p, q = _random_pair(rng, (2, 3, 4))
    mask = np.array([[True, False, True], [True, True, False]])
    rows, m = _kl_rows(p, q, log_prob=False, axis=-1, where=mask)
    assert rows.shape == (2, 3) and m.shape == (2, 3) and m.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(rows)[~mask], 0.0)
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(
            reduce_rows(rows, m, reduction),
            kl_divergence(p, q, reduction=reduction, where=mask),
            rtol=1e-6,
        )


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

_rows = hnp.arrays(
    np.float64,
    (4, 6),
    elements=st.one_of(st.just(0.0), st.floats(1e-3, 1e3)),
).filter(lambda a: np.all(a.sum(-1) > 0))
_positive_rows = hnp.arrays(np.float64, (4, 6), elements=st.floats(1e-3, 1e3))
_PROPS = settings(max_examples=20, deadline=None)


# Row-sum ratios Q/P of 1e-6 ... 1e6, the ends drawn (unnormalised inputs: counts against
# rates, histograms of corpora of different sizes).
_log10_sum_ratios = hnp.arrays(np.float64, (4,), elements=st.floats(-6.0, 6.0))


def _with_sum_ratios(p, q, log10_ratio):
    """``q`` rescaled so that each row's sum is ``10**log10_ratio`` times ``p``'s, float32."""
    factor = p.sum(-1) / q.sum(-1) * 10.0**log10_ratio
    return p.astype(np.float32), (q * factor[:, None]).astype(np.float32)


@_PROPS
@given(p=_rows, q=_positive_rows, log10_ratio=_log10_sum_ratios)
def test_property_kl_matches_float64_for_any_ratio_of_row_sums(p, q, log10_ratio):
    p32, q32 = _with_sum_ratios(p, q, log10_ratio)
    out = np.asarray(kl_divergence(p32, q32, reduction="none"), np.float64)
    reference = rel_entr_rows(p32, q32)  # float64, normalised, of the same float32 values
    assert np.all(out >= -_F32_FLOOR)
    assert np.all(np.abs(out - reference) <= 1e-5 * reference + _F32_FLOOR), (out, reference)


@_PROPS
@given(p=_rows)
def test_property_kl_of_identical_arguments_is_zero(p):
    p32 = p.astype(np.float32)
    assert np.all(np.abs(np.asarray(kl_divergence(p32, p32, reduction="none"))) <= 1e-6)
    with np.errstate(divide="ignore"):
        lp = np.log(p32 / p32.sum(-1, keepdims=True))
    np.testing.assert_array_equal(kl_divergence(lp, lp, True, "none"), 0.0)


@_PROPS
@given(
    p=_rows,
    q=_positive_rows,
    log10_ratio=_log10_sum_ratios,
    a=st.floats(1e-3, 1e3),
    b=st.floats(1e-3, 1e3),
)
def test_property_scaling_p_or_q_leaves_the_kl_unchanged(p, q, log10_ratio, a, b):
    p32, q32 = _with_sum_ratios(p, q, log10_ratio)
    base = np.asarray(kl_divergence(p32, q32, reduction="none"), np.float64)
    scaled = np.asarray(
        kl_divergence(p32 * np.float32(a), q32 * np.float32(b), reduction="none"), np.float64
    )
    # each within the float64 reference's bound, so within twice that of each other (the
    # scaled inputs are rounded once more: their own reference is the same to ~eps)
    assert np.all(np.abs(scaled - base) <= 2 * (1e-5 * base + _F32_FLOOR) + 1e-6 * base)


@_PROPS
@given(p=_rows, q=_positive_rows, mask=hnp.arrays(np.bool_, (4,)), log_prob=st.booleans())
def test_property_where_equals_dropping_rows(p, q, mask, log_prob):
    p32, q32 = p.astype(np.float32), q.astype(np.float32)
    if log_prob:
        with np.errstate(divide="ignore"):
            p32 = np.log(p32 / p32.sum(-1, keepdims=True))
        q32 = np.log(q32 / q32.sum(-1, keepdims=True))
    total = kl_divergence(p32, q32, log_prob, "sum", where=mask)
    dropped = np.sum([kl_divergence(p32[i], q32[i], log_prob, "sum") for i in np.flatnonzero(mask)])
    np.testing.assert_allclose(total, dropped, rtol=1e-5, atol=1e-6)
    mean = kl_divergence(p32, q32, log_prob, "mean", where=mask)
    if mask.any():
        np.testing.assert_allclose(mean, dropped / mask.sum(), rtol=1e-5, atol=1e-6)
    else:
        assert np.isnan(mean)


# Finite float32 inputs at the edges of the range: row sums or terms that overflow, ratios
# that underflow. Each row: p, q (one row each, padded to 3 entries).
EXTREME_FINITE_ROWS = [
    ([1e38, 1e38, 1e38], [1e38, 1e38, 1e38]),  # sums overflow, KL 0
    ([1e38, 1.0, 0.0], [1.0, 1.0, 0.0]),  # p's sum is fine, p log(p/q) overflows
    ([3e38, 3e38, 1.0], [1.0, 2e38, 3e38]),  # both sums overflow, ratios span 1e77
    ([2e-38, 1.0, 1.0], [10.0, 1.0, 1.0]),  # p/q underflows below the smallest normal
    ([3e38, 2e-38, 1.0], [2e-38, 3e38, 1.0]),  # log-ratios of +-176
    ([1e-30, 1e-30, 1e-30], [1e-30, 3e-30, 2e-30]),  # tiny but normal rows
]


def test_finite_inputs_whose_sums_overflow_or_ratios_underflow():
    p = np.array([r[0] for r in EXTREME_FINITE_ROWS], np.float32)
    q = np.array([r[1] for r in EXTREME_FINITE_ROWS], np.float32)
    f = jax.jit(lambda a, b: kl_divergence(a, b, reduction="none"))
    expected = mpmath_kl_rows(p, q)
    np.testing.assert_allclose(f(p, q), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        kl_divergence(p, q, reduction="none"), expected, rtol=1e-5, atol=1e-6
    )
    grads = jax.jit(jax.grad(lambda a, b: kl_divergence(a, b, reduction="sum"), argnums=(0, 1)))
    for g in grads(p, q):
        assert np.all(np.isfinite(g))
    # the common path is unchanged: one row at a time agrees with the batch
    for i in range(len(p)):
        np.testing.assert_allclose(f(p[i : i + 1], q[i : i + 1]), expected[i : i + 1], rtol=1e-5)
