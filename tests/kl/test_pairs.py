"""Generic tests run on every row of tests/kl/pairs.py.

Speed: a row's float32 checks at its random parameters (jit, vmap, gradients, the closed
form of the Monte Carlo check) read the outputs of the row's one compiled program
(``tests/kl/_programs.py``). The nearly-equal, identical-argument and float64 checks share
the jitted KL (``JIT_KL``), compiled once per parameter shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import distributions as jd
from jaxkl.kl._broadcast import broadcast_pair
from tests.kl._programs import (
    JIT_KL,
    float32_params,
    grad_split,
    jax_params,
    row_program,
    second_params,
)
from tests.kl.pairs import PAIRS

ROWS = [pytest.param(row, id=row.name) for row in PAIRS]
NEAR_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.near is not None]
TORCH_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.torch not in (None, False)]
REF_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.reference is not None]
MC_ROWS = [pytest.param(row, id=row.name) for row in PAIRS if row.monte_carlo]


def _kl(row, pp, qp):
    return jd.kl_divergence(row.make_p(pp), row.make_q(qp))


def _jitted_kl(row, pj, qj):
    return JIT_KL(row.make_p(pj), row.make_q(qj))


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
    got = _jitted_kl(row, jax_params(pp, jnp.float64), jax_params(qp, jnp.float64))
    want = row.torch_value(pp, qp)
    p, q = row.make_p(jax_params(pp, jnp.float64)), row.make_q(jax_params(qp, jnp.float64))
    expected_shape = np.broadcast_shapes(p.batch_shape, q.batch_shape)
    assert got.shape == expected_shape
    assert got.dtype == jnp.float64
    _assert_close_with_infs(got, want, row.rtol, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize("row", REF_ROWS)
def test_matches_independent_reference_in_float64(row):
    rng = np.random.default_rng(2)
    pp, qp = row.params(rng)
    got = _jitted_kl(row, jax_params(pp, jnp.float64), jax_params(qp, jnp.float64))
    _assert_close_with_infs(got, row.reference(pp, qp), max(row.rtol, 1e-6), atol=1e-10)


@pytest.mark.parametrize("row", ROWS)
def test_jit_equals_eager_and_vmap_equals_batch(row):
    """Each slice of the jitted, vmapped KL equals the eager KL of that slice's pair.

    The vmap's two slices hold different pairs (the row's parameters at seed 3 and at
    ``SECOND_SEED``), so a value leaking from one slice into the other changes a result.
    Tolerance: float32 (eps 1.2e-7) rounding of a closed form of a few dozen operations,
    which jit and eager may fuse and order differently.
    """
    pj, qj = float32_params(row, 3)
    pj2, qj2 = second_params(row)
    eager = np.asarray(_kl(row, pj, qj), np.float64)
    eager2 = np.asarray(_kl(row, pj2, qj2), np.float64)
    _, vm, _ = row_program(row)(pj, qj)
    assert vm.shape == (2, *np.shape(eager))
    # the slices' pairs differ: their KLs differ beyond the tolerance, at some entry (but
    # for pairs whose KL is +inf at any parameters, a support mismatch)
    if not (np.all(np.isposinf(eager)) and np.all(np.isposinf(eager2))):
        assert not np.allclose(eager, eager2, rtol=1e-4, atol=1e-5, equal_nan=True), row.name
    np.testing.assert_allclose(vm[0], eager, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(vm[1], eager2, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("row", ROWS)
def test_gradients_are_finite_where_kl_is_finite(row):
    pj, qj = float32_params(row, 4)
    grads = row_program(row)(pj, qj)[2]
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(
        (grad_split(row, pj)[0], grad_split(row, qj)[0])
    )
    for g in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(np.asarray(g))), f"non-finite gradient {g}"


@pytest.mark.parametrize("row", NEAR_ROWS)
def test_float32_accuracy_for_nearly_equal_distributions(row):
    mp.mp.dps = 50
    for eps in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5):
        pp, qp = row.near(eps)
        pj, qj = jax_params(pp, jnp.float32), jax_params(qp, jnp.float32)
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
    p = row.make_p(jax_params(pp, jnp.float32))
    np.testing.assert_allclose(JIT_KL(p, p), 0.0, atol=1e-6)


#: draws of p in the Monte Carlo check
MC_DRAWS = 20000


@functools.partial(jax.jit, static_argnums=2)
def _draws(p, key, n):
    """``n`` draws of p, compiled once per family and parameter shapes.

    The rows whose p has the same family and shapes (Beta against Uniform, Gamma, Normal, ...)
    share the sampler's compile, the largest part of the check (a Beta's: 3 s).
    """
    return p.sample(key, (n,))


@jax.jit
def _log_ratio_mean_and_stderr(p, q, x):
    """Mean of ``log p(x) - log q(x)`` over the draws, and its standard error.

    A draw outside q's support makes the mean ``+inf``, exactly; its standard error is 0.
    """
    d = p.log_prob(x) - q.log_prob(x)
    mean = jnp.mean(d, axis=0)
    std = jnp.std(jnp.where(jnp.isinf(d), 0.0, d), axis=0, ddof=1)
    return mean, jnp.where(jnp.isinf(mean), 0.0, std / np.sqrt(d.shape[0]))


@pytest.mark.parametrize("row", MC_ROWS)
def test_closed_form_agrees_with_monte_carlo(row):
    """The closed form is within 5 standard errors of a Monte Carlo estimate.

    The estimate is the mean of log p(x) - log q(x) over 20000 draws of p, for every finite
    entry (``monte_carlo_kl`` itself is tested in test_monte_carlo.py).
    """
    pj, qj = float32_params(row, 5)
    p, q = broadcast_pair(row.make_p(pj), row.make_q(qj))
    kl = np.asarray(row_program(row)(pj, qj)[0], np.float64)
    x = _draws(p, jax.random.key(0), MC_DRAWS)
    est, se = (np.asarray(v, np.float64) for v in _log_ratio_mean_and_stderr(p, q, x))
    assert est.shape == kl.shape
    finite = np.isfinite(kl)  # +inf entries are checked against torch and quadrature
    kl, est, se = kl[finite], est[finite], se[finite]
    ok = np.abs(est - kl) <= 5 * se + 1e-3 * np.abs(kl) + 1e-4
    assert np.all(ok), f"closed form {kl[~ok]} vs MC {est[~ok]} ± {se[~ok]}"
