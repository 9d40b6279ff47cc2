"""Generic contract tests, run on every row of tests/distributions/cases.py.

Pytree round trip (unflatten without ``__init__``), jit / vmap / lax.scan / grad,
shapes and values against torch (or the row's scipy reference), sample shapes and
moments, and validation of bad parameters (eager ValueError, checkify under jit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jaxkl
from tests.distributions.cases import CASES

ROWS = [pytest.param(row, id=row.name) for row in CASES]
REF_ROWS = [pytest.param(row, id=row.name) for row in CASES if row.torch not in (None, False) or row.scipy_ref]
BAD_ROWS = [
    pytest.param(row, bad, name, id=f"{row.name}-{name}-{i}")
    for row in CASES
    for i, (bad, name) in enumerate(row.bad_params)
]
MOMENT_ROWS = [pytest.param(row, id=row.name) for row in CASES if row.has_mean or row.has_variance]


# -- helpers ---------------------------------------------------------------------------


def _params(row, seed=0):
    return row.params(np.random.default_rng(seed))


def _float_leaves_split(dist):
    """(float leaves, function rebuilding the distribution from new float leaves)."""
    leaves, treedef = jax.tree_util.tree_flatten(dist)
    is_float = [jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in leaves]

    def rebuild(float_leaves):
        it = iter(float_leaves)
        return jax.tree_util.tree_unflatten(treedef, [next(it) if f else x for x, f in zip(leaves, is_float)])

    return [x for x, f in zip(leaves, is_float) if f], rebuild


def _values(dist, key, n=4):
    """Points in the support: ``n`` samples (shape (n,) + batch + event)."""
    return dist.sample(key, (n,))


def _torch_dist(row, params):
    import torch
    import torch.distributions as td

    if row.torch is True:
        cls = getattr(td, row.cls.__name__)
        return cls(**{k: torch.as_tensor(np.array(v)) for k, v in params.items()}, validate_args=False)
    return row.torch(params)


class _Reference:
    """log_prob / entropy / mean / variance / shapes of the row's reference, as float64 numpy."""

    def __init__(self, row, params):
        self.torch = None
        if row.torch not in (None, False):
            self.torch = _torch_dist(row, params)
            self.obj = None
        else:
            self.obj = row.scipy_ref(params)

    def log_prob(self, x):
        x = np.array(x, np.float64)  # a writable copy (torch warns on read-only arrays)
        if self.torch is not None:
            import torch

            return self.torch.log_prob(torch.as_tensor(x)).double().numpy()
        for name in ("log_prob", "logpdf", "logpmf"):
            if hasattr(self.obj, name):
                return np.asarray(getattr(self.obj, name)(x), np.float64)
        raise AttributeError("reference has no log density")

    def _get(self, torch_name, scipy_names):
        if self.torch is not None:
            value = getattr(self.torch, torch_name)
            value = value() if callable(value) else value
            return value.double().numpy()
        for name in scipy_names:
            if hasattr(self.obj, name):
                value = getattr(self.obj, name)
                return np.asarray(value() if callable(value) else value, np.float64)
        raise AttributeError(f"reference has no {torch_name}")

    def entropy(self):
        return self._get("entropy", ("entropy",))

    def mean(self):
        return self._get("mean", ("mean",))

    def variance(self):
        return self._get("variance", ("variance", "var"))


def _close(got, want, rtol, atol):
    got = np.asarray(got, np.float64)
    want = np.broadcast_to(np.asarray(want, np.float64), got.shape)
    assert not np.any(np.isnan(got) & ~np.isnan(want)), f"NaN where the reference is not: {got} vs {want}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- pytree ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_pytree_round_trip_does_not_call_init(row):
    d = row.make(_params(row))
    leaves, treedef = jax.tree_util.tree_flatten(d)
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(again) is type(d)
    assert jax.tree_util.tree_structure(again) == treedef
    for a, b in zip(jax.tree_util.tree_leaves(again), leaves):
        assert a is b
    # JAX unflattens with arbitrary objects as leaves: that must not run __init__
    sentinels = jax.tree_util.tree_map(lambda _: object(), d)
    assert type(sentinels) is type(d)
    assert all(type(x) is object for x in jax.tree_util.tree_leaves(sentinels))
    assert len(jax.tree_util.tree_leaves(sentinels)) == len(leaves)


@pytest.mark.parametrize("row", ROWS)
def test_jit_returns_an_equal_distribution(row):
    params = _params(row)
    d = row.make(params)
    out = jax.jit(lambda prm: row.make(prm))(params)
    assert type(out) is type(d)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(d)
    assert out.batch_shape == d.batch_shape and out.event_shape == d.event_shape
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(d)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


@pytest.mark.parametrize("row", ROWS)
def test_vmap_over_parameters_equals_each_slice(row):
    p0, p1 = _params(row, 0), _params(row, 1)
    d0, d1 = row.make(p0), row.make(p1)
    x = _values(d0, jax.random.key(0))
    floats = [k for k, v in p0.items() if np.asarray(v).dtype.kind == "f"]
    stacked = {k: np.stack([np.broadcast_to(p0[k], np.broadcast_shapes(np.shape(p0[k]), np.shape(p1[k]))),
                            np.broadcast_to(p1[k], np.broadcast_shapes(np.shape(p0[k]), np.shape(p1[k])))]) for k in floats}
    fixed = {k: v for k, v in p0.items() if k not in floats}

    def log_prob(prm):
        return row.make({**fixed, **prm}).log_prob(x)

    got = jax.vmap(log_prob)(stacked)
    _close(got[0], d0.log_prob(x), 1e-5, 1e-5)
    _close(got[1], d1.log_prob(x), 1e-5, 1e-5)


@pytest.mark.parametrize("row", ROWS)
def test_lax_scan_over_a_stacked_distribution(row):
    d0, d1 = row.make(_params(row, 0)), row.make(_params(row, 1))
    stacked = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), d0, d1)
    x = _values(d0, jax.random.key(1))

    def body(carry, dist):
        lp = dist.log_prob(x)
        return carry + jnp.sum(jnp.where(jnp.isfinite(lp), lp, 0.0)), lp

    total, per_step = jax.lax.scan(body, jnp.zeros((), x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32), stacked)
    _close(per_step[0], d0.log_prob(x), 1e-5, 1e-5)
    _close(per_step[1], d1.log_prob(x), 1e-5, 1e-5)


@pytest.mark.parametrize("row", ROWS)
def test_log_prob_gradient_wrt_parameters_is_finite(row):
    d = row.make(_params(row))
    x = _values(d, jax.random.key(2))
    floats, rebuild = _float_leaves_split(d)
    assert floats, "a distribution without floating parameters"
    grads = jax.grad(lambda leaves: jnp.sum(rebuild(leaves).log_prob(x)))(floats)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g))), f"non-finite gradient {g}"


# -- shapes and values against the reference ----------------------------------------------


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].torch not in (None, False)])
def test_shapes_match_torch(row):
    params = _params(row)
    d, t = row.make(params), _torch_dist(row, params)
    assert d.batch_shape == tuple(t.batch_shape)
    assert d.event_shape == tuple(t.event_shape)


def _check_values(row, rtol, atol):
    params = _params(row)
    d, ref = row.make(params), _Reference(row, params)
    x = _values(d, jax.random.key(3))
    _close(d.log_prob(x), ref.log_prob(x), rtol, atol)
    if row.has_entropy:
        _close(d.entropy(), ref.entropy(), rtol, atol)
    if row.has_mean:
        _close(d.mean, ref.mean(), rtol, atol)
    if row.has_variance:
        _close(d.variance, ref.variance(), rtol, atol)


@pytest.mark.parametrize("row", REF_ROWS)
def test_values_match_reference_in_float32(row):
    _check_values(row, rtol=max(row.rtol, 1e-4), atol=1e-5)


@pytest.mark.x64
@pytest.mark.parametrize("row", REF_ROWS)
def test_values_match_reference_in_float64(row):
    _check_values(row, rtol=row.rtol, atol=1e-10)


# -- sampling ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_sample_shapes(row):
    d = row.make(_params(row))
    assert d.sample(jax.random.key(4)).shape == d.batch_shape + d.event_shape
    assert d.sample(jax.random.key(5), (2, 5)).shape == (2, 5) + d.batch_shape + d.event_shape
    a = d.sample(jax.random.key(6), (3,))
    b = d.sample(jax.random.key(6), (3,))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("row", MOMENT_ROWS)
def test_sample_moments_match_mean_and_variance(row):
    """Sample mean within 5 standard errors of ``mean``; sample variance within 6
    standard errors (of the variance estimator) plus 2% of ``variance``.
    """
    n = 20000
    d = row.make(_params(row))
    x = np.asarray(d.sample(jax.random.key(7), (n,)), np.float64)
    m = x.mean(0)
    if row.has_mean:
        se = x.std(0) / np.sqrt(n)
        mean = np.broadcast_to(np.asarray(d.mean, np.float64), m.shape)
        assert np.all(np.abs(m - mean) <= 5 * se + 1e-6 * np.abs(mean) + 1e-7), f"{m} vs {mean} ± {se}"
    if row.has_variance:
        sq = (x - m) ** 2
        s2, se2 = sq.mean(0), sq.std(0) / np.sqrt(n)
        var = np.broadcast_to(np.asarray(d.variance, np.float64), s2.shape)
        assert np.all(np.abs(s2 - var) <= 6 * se2 + 0.02 * var + 1e-7), f"{s2} vs {var} ± {se2}"


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("row, bad, name", BAD_ROWS)
def test_bad_parameter_raises_value_error_naming_it(row, bad, name):
    with pytest.raises(ValueError, match=name):
        row.make(bad)


@pytest.mark.parametrize("row, bad, name", BAD_ROWS)
def test_bad_parameter_is_reported_under_checkify_jit(row, bad, name):
    checked = checkify.checkify(jax.jit(lambda prm: row.make(prm)))
    try:
        with jaxkl.value_checks():
            err, _ = checked(bad)
    except ValueError as e:  # a static (shape) check fires at trace time: also reported
        assert name in str(e)
        return
    message = err.get()
    assert message is not None, f"no checkify error for {bad}"
    assert name in message
