"""Generic tests run on every row of tests/kl/pairs.py.

Speed: the jitted KL (and its vmap) is one function for every check that evaluates a
closed form (``_JIT_KL``: the jit, Monte Carlo, nearly-equal, identical-argument and float64
checks), so a row compiles it once per parameter shape instead of once per test or running
it op by op; the conftest's xdist scheduler keeps a row's tests on one worker, which shares
those compiles.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import distributions as jd
from jaxkl.kl._broadcast import broadcast_pair
from tests.kl.pairs import PAIRS

ROWS = [pytest.param(row, id=row.name) for row in PAIRS]
NEAR_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.near is not None]
TORCH_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.torch not in (None, False)]
REF_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.reference is not None]
MC_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.monte_carlo]


def _jax_params(params, dtype):
    return {
        k: (jnp.asarray(v, dtype) if np.asarray(v).dtype.kind == "f" else jnp.asarray(v))
        for k, v in params.items()
    }


def _kl(row, pp, qp):
    return jd.kl_divergence(row.make_p(pp), row.make_q(qp))


#: KL of two distributions under jit, and its vmap: JAX caches their compiles by the
#: distributions' types, static fields and shapes, so every call with a row's pair of a given
#: shape after the first is a cache hit
_JIT_KL = jax.jit(jd.kl_divergence)
_JIT_VMAP_KL = jax.jit(jax.vmap(jd.kl_divergence))


def _jitted_kl(row, pj, qj):
    return _JIT_KL(row.make_p(pj), row.make_q(qj))


def _assert_close_with_infs(got, want, rtol, atol=0.0):
    got = np.asarray(got, np.float64)
    want = np.broadcast_to(np.asarray(want, np.float64), got.shape)
    assert not np.any(np.isnan(got)), f"NaN in result: {got}"
    np.testing.assert_array_equal(
        np.isposinf(got), np.isposinf(want), err_msg="+inf positions differ"
    )
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol)


@pytest.mark.x64
@pytest.mark.parametrize("row", TORCH_ROWS)
def test_matches_torch_in_float64(row):
    rng = np.random.default_rng(1)
    pp, qp = row.params(rng)
    got = _jitted_kl(row, _jax_params(pp, jnp.float64), _jax_params(qp, jnp.float64))
    want = row.torch_value(pp, qp)
    p, q = row.make_p(_jax_params(pp, jnp.float64)), row.make_q(_jax_params(qp, jnp.float64))
    expected_shape = np.broadcast_shapes(p.batch_shape, q.batch_shape)
    assert got.shape == expected_shape
    assert got.dtype == jnp.float64
    _assert_close_with_infs(got, want, row.rtol, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize("row", REF_ROWS)
def test_matches_independent_reference_in_float64(row):
    rng = np.random.default_rng(2)
    pp, qp = row.params(rng)
    got = _jitted_kl(row, _jax_params(pp, jnp.float64), _jax_params(qp, jnp.float64))
    _assert_close_with_infs(got, row.reference(pp, qp), max(row.rtol, 1e-6), atol=1e-10)


@pytest.mark.parametrize("row", ROWS)
def test_jit_equals_eager_and_vmap_equals_batch(row):
    rng = np.random.default_rng(3)
    pp, qp = row.params(rng)
    pj, qj = _jax_params(pp, jnp.float32), _jax_params(qp, jnp.float32)
    eager = _kl(row, pj, qj)
    jitted = _JIT_KL(row.make_p(pj), row.make_q(qj))
    np.testing.assert_allclose(jitted, eager, rtol=2e-5, atol=1e-6)
    # vmap over a leading axis of both distributions' parameters
    p, q = broadcast_pair(row.make_p(pj), row.make_q(qj))
    stacked_p = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), p)
    stacked_q = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), q)
    vm = _JIT_VMAP_KL(stacked_p, stacked_q)
    np.testing.assert_allclose(vm[0], eager, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(vm[1], eager, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("row", ROWS)
def test_gradients_are_finite_where_kl_is_finite(row):
    rng = np.random.default_rng(4)
    pp, qp = row.params(rng)
    pj, qj = _jax_params(pp, jnp.float32), _jax_params(qp, jnp.float32)
    names = row.grad_params
    grad_p = {
        k: v
        for k, v in pj.items()
        if jnp.issubdtype(v.dtype, jnp.floating) and (names is None or k in names)
    }
    grad_q = {
        k: v
        for k, v in qj.items()
        if jnp.issubdtype(v.dtype, jnp.floating) and (names is None or k in names)
    }

    def total(gp, gq):
        value = _kl(row, {**pj, **gp}, {**qj, **gq})
        return jnp.sum(jnp.where(jnp.isfinite(value), value, 0.0))

    gp, gq = jax.jit(jax.grad(total, argnums=(0, 1)))(grad_p, grad_q)
    for g in jax.tree_util.tree_leaves((gp, gq)):
        assert np.all(np.isfinite(np.asarray(g))), f"non-finite gradient {g}"


@pytest.mark.parametrize("row", NEAR_ROWS)
def test_float32_accuracy_for_nearly_equal_distributions(row):
    mp.mp.dps = 50
    for eps in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5):
        pp, qp = row.near(eps)
        pj, qj = _jax_params(pp, jnp.float32), _jax_params(qp, jnp.float32)
        got = float(np.asarray(_jitted_kl(row, pj, qj)).reshape(-1)[0])
        # the reference is evaluated on the exact float32 parameters
        mpp = {
            k: mp.mpf(float(np.asarray(v).reshape(-1)[0]))
            if np.size(v) == 1
            else [mp.mpf(float(x)) for x in np.asarray(v).ravel()]
            for k, v in pj.items()
        }
        mpq = {
            k: mp.mpf(float(np.asarray(v).reshape(-1)[0]))
            if np.size(v) == 1
            else [mp.mpf(float(x)) for x in np.asarray(v).ravel()]
            for k, v in qj.items()
        }
        want = float(row.mp_kl(mpp, mpq))
        assert want > 0, (eps, want)
        assert abs(got - want) <= 1e-4 * want, (
            f"eps={eps}: got {got!r}, mpmath {want!r}, rel err {abs(got - want) / want:.2e}"
        )


@pytest.mark.parametrize("row", NEAR_ROWS)
def test_kl_is_zero_for_identical_arguments(row):
    pp, _ = row.near(1e-3)
    p = row.make_p(_jax_params(pp, jnp.float32))
    np.testing.assert_allclose(_JIT_KL(p, p), 0.0, atol=1e-6)


@pytest.mark.parametrize("row", MC_ROWS)
def test_closed_form_agrees_with_monte_carlo(row):
    """The closed form is within 5 standard errors of ``monte_carlo_kl``.

    The estimate is the mean of log p(x) - log q(x) over 20000 draws of p, for every finite
    entry.
    """
    rng = np.random.default_rng(5)
    pp, qp = row.params(rng)
    p, q = row.make_p(_jax_params(pp, jnp.float32)), row.make_q(_jax_params(qp, jnp.float32))
    kl = np.asarray(_JIT_KL(p, q), np.float64)
    est, se = jd.monte_carlo_kl(p, q, jax.random.key(0), 20000, return_stderr=True)
    est, se = np.asarray(est, np.float64), np.asarray(se, np.float64)
    assert est.shape == kl.shape
    finite = np.isfinite(kl)  # +inf entries are checked against torch and quadrature
    kl, est, se = kl[finite], est[finite], se[finite]
    ok = np.abs(est - kl) <= 5 * se + 1e-3 * np.abs(kl) + 1e-4
    assert np.all(ok), f"closed form {kl[~ok]} vs MC {est[~ok]} ± {se[~ok]}"
