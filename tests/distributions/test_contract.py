"""Generic contract tests, run on every row of tests/distributions/cases.py.

Pytree round trip (unflatten without ``__init__``), jit / vmap / lax.scan / grad,
shapes and values against torch (or the row's scipy reference), sample shapes and
moments, and validation of bad parameters (eager ValueError, checkify under jit).

Speed: everything a row's value checks need (the jitted distribution, the vmap, scan and
grad variants, log_prob / entropy / mean / variance, the samples) is computed by ONE jitted
function per row, compiled once and cached (``_row_outputs``); the test functions below only
assert on its outputs, so each row costs one XLA compile instead of dozens of eager
op-by-op dispatches and per-test jits. The conftest's xdist scheduler keeps a row's tests on
one worker, so the cache is shared by them.
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
REF_ROWS = [
    pytest.param(row, id=row.name)
    for row in CASES
    if row.torch not in (None, False) or row.scipy_ref
]
BAD_ROWS = [
    pytest.param(row, bad, name, id=f"{row.name}-{name}-{i}")
    for row in CASES
    for i, (bad, name) in enumerate(row.bad_params)
]
MOMENT_ROWS = [pytest.param(row, id=row.name) for row in CASES if row.has_mean or row.has_variance]

#: the PRNG seed of the one sampler call, and the samples of each check (consecutive blocks
#: of that draw): the points of the vmap, scan,
#: grad and value checks, the same-key check and the sample moments
SEED = 7
N_MOMENTS = 20000
SAMPLE_SIZES = {"vmap": 4, "scan": 4, "grad": 4, "values": 4, "same_key": 3, "moments": N_MOMENTS}


# -- helpers ---------------------------------------------------------------------------


def _params(row, seed=0):
    return row.params(np.random.default_rng(seed))


def _float_leaves_split(dist):
    """(float leaves, function rebuilding the distribution from new float leaves)."""
    leaves, treedef = jax.tree_util.tree_flatten(dist)
    is_float = [jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in leaves]

    def rebuild(float_leaves):
        it = iter(float_leaves)
        return jax.tree_util.tree_unflatten(
            treedef, [next(it) if f else x for x, f in zip(leaves, is_float)]
        )

    return [x for x, f in zip(leaves, is_float) if f], rebuild


def _torch_dist(row, params):
    import torch
    import torch.distributions as td

    if row.torch is True:
        cls = getattr(td, row.cls.__name__)
        return cls(
            **{k: torch.as_tensor(np.array(v)) for k, v in params.items()}, validate_args=False
        )
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
    assert not np.any(np.isnan(got) & ~np.isnan(want)), (
        f"NaN where the reference is not: {got} vs {want}"
    )
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- one compile per row -----------------------------------------------------------------


def _floats_and_fixed(p0, p1):
    """The vmap check's inputs: p0's and p1's float parameters stacked, and the others.

    The float parameters are broadcast to a common shape first; the others are closed over.
    """
    floats = [k for k, v in p0.items() if np.asarray(v).dtype.kind == "f"]
    stacked = {}
    for k in floats:
        shape = np.broadcast_shapes(np.shape(p0[k]), np.shape(p1[k]))
        stacked[k] = np.stack([np.broadcast_to(p0[k], shape), np.broadcast_to(p1[k], shape)])
    return stacked, {k: v for k, v in p0.items() if k not in floats}


def _parts(row, fixed):
    """The parts of a row's function: ``{check: part(d0, d1, p0, stacked, points)}``.

    Each part computes (traced) the arrays one check asserts on.
    """

    def jit_part(d0, d1, p0, stacked, points):
        return row.make(p0)  # a distribution returned from jit

    def vmap_part(d0, d1, p0, stacked, points):
        x = points["vmap"]
        got = jax.vmap(lambda prm: row.make({**fixed, **prm}).log_prob(x))(stacked)
        return {"got": got, "want0": d0.log_prob(x), "want1": d1.log_prob(x)}

    def scan_part(d0, d1, p0, stacked, points):
        x = points["scan"]
        both = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), d0, d1)

        def body(carry, dist):
            lp = dist.log_prob(x)
            return carry + jnp.sum(jnp.where(jnp.isfinite(lp), lp, 0.0)), lp

        zero = jnp.zeros((), x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32)
        _, per_step = jax.lax.scan(body, zero, both)
        return {"per_step": per_step, "want0": d0.log_prob(x), "want1": d1.log_prob(x)}

    def grad_part(d0, d1, p0, stacked, points):
        x = points["grad"]
        floats, rebuild = _float_leaves_split(d0)
        if not floats:
            return []
        return jax.grad(lambda leaves: jnp.sum(rebuild(leaves).log_prob(x)))(floats)

    def values_part(d0, d1, p0, stacked, points):
        x = points["values"]
        out = {"x": x, "log_prob": d0.log_prob(x)}
        if row.has_entropy:
            out["entropy"] = d0.entropy()
        if row.has_mean:
            out["mean"] = d0.mean
        if row.has_variance:
            out["variance"] = d0.variance
        return out

    def same_key_part(d0, d1, p0, stacked, points):
        return points["same_key"]

    def moments_part(d0, d1, p0, stacked, points):
        out = {"x": points["moments"]}
        if row.has_mean:
            out["mean"] = d0.mean
        if row.has_variance:
            out["variance"] = d0.variance
        return out

    parts = {"values": values_part}
    if not jax.config.jax_enable_x64:  # the x64 job runs only the float64 value check
        parts.update(jit=jit_part, vmap=vmap_part, scan=scan_part, grad=grad_part)
        parts["same_key"] = same_key_part
        if row.has_mean or row.has_variance:
            parts["moments"] = moments_part
    return parts


_ROW_CACHE = {}


class _RowOutputs:
    """The outputs of a row's jitted function; ``[name]`` re-raises the part's own error."""

    def __init__(self, row):
        p0, p1 = _params(row, 0), _params(row, 1)
        stacked, fixed = _floats_and_fixed(p0, p1)
        parts = _parts(row, fixed)
        # every check's samples come from ONE sampler call (a sampler is costly to compile):
        # sample(key, (total,)), cut into consecutive, non-overlapping blocks, one per check
        sizes = {n: size for n, size in SAMPLE_SIZES.items() if n in parts}
        ends = np.cumsum(list(sizes.values()))
        blocks = {name: (end - size, end) for (name, size), end in zip(sizes.items(), ends)}
        self.errors = {}

        def run(p0, p1, stacked, seed):
            d0, d1 = row.make(p0), row.make(p1)
            # a key from a traced seed: a constant key would let XLA constant-fold the sampling
            draws = d0.sample(jax.random.key(seed), (int(ends[-1]),))
            points = {name: draws[a:b] for name, (a, b) in blocks.items()}
            out = {}
            for name, part in parts.items():
                try:  # a part failing to trace fails only the tests that use it
                    out[name] = part(d0, d1, p0, stacked, points)
                except Exception as e:
                    self.errors[name] = e
            return out

        self.jitted = jax.jit(run)
        self.args = (p0, p1, stacked)
        self.seeds = np.uint32(SEED)
        self.out = self._execute()

    def _execute(self):
        return self.jitted(*self.args, self.seeds)

    def __getitem__(self, name):
        if name in self.errors:
            raise self.errors[name]
        return self.out[name]

    def rerun(self, name):
        """The part's outputs from a second execution of the compiled function."""
        return self._execute()[name]


def _row_outputs(row):
    key = (id(row), bool(jax.config.jax_enable_x64))
    if key not in _ROW_CACHE:
        _ROW_CACHE[key] = _RowOutputs(row)
    return _ROW_CACHE[key]


_EAGER_CACHE = {}


def _eager(row):
    """The row's distribution built eagerly (concrete parameters: eager validation)."""
    if id(row) not in _EAGER_CACHE:
        _EAGER_CACHE[id(row)] = row.make(_params(row))
    return _EAGER_CACHE[id(row)]


# -- pytree ----------------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS)
def test_pytree_round_trip_does_not_call_init(row):
    d = _eager(row)
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
    d = _eager(row)
    out = _row_outputs(row)["jit"]
    assert type(out) is type(d)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(d)
    assert out.batch_shape == d.batch_shape and out.event_shape == d.event_shape
    for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(d)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


@pytest.mark.parametrize("row", ROWS)
def test_vmap_over_parameters_equals_each_slice(row):
    out = _row_outputs(row)["vmap"]
    _close(out["got"][0], out["want0"], 1e-5, 1e-5)
    _close(out["got"][1], out["want1"], 1e-5, 1e-5)


@pytest.mark.parametrize("row", ROWS)
def test_lax_scan_over_a_stacked_distribution(row):
    out = _row_outputs(row)["scan"]
    _close(out["per_step"][0], out["want0"], 1e-5, 1e-5)
    _close(out["per_step"][1], out["want1"], 1e-5, 1e-5)


@pytest.mark.parametrize("row", ROWS)
def test_log_prob_gradient_wrt_parameters_is_finite(row):
    grads = _row_outputs(row)["grad"]
    assert grads, "a distribution without floating parameters"
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g))), f"non-finite gradient {g}"


# -- shapes and values against the reference ----------------------------------------------


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].torch not in (None, False)])
def test_shapes_match_torch(row):
    params = _params(row)
    d, t = _eager(row), _torch_dist(row, params)
    assert d.batch_shape == tuple(t.batch_shape)
    assert d.event_shape == tuple(t.event_shape)


def _check_values(row, rtol, atol):
    out = _row_outputs(row)["values"]
    ref = _Reference(row, _params(row))
    _close(out["log_prob"], ref.log_prob(out["x"]), rtol, atol)
    if row.has_entropy:
        _close(out["entropy"], ref.entropy(), rtol, atol)
    if row.has_mean:
        _close(out["mean"], ref.mean(), rtol, atol)
    if row.has_variance:
        _close(out["variance"], ref.variance(), rtol, atol)


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
    d = _eager(row)
    # shapes by abstract evaluation: the sampler traced as under jit, without a compile
    shape = d.batch_shape + d.event_shape
    assert jax.eval_shape(lambda k: d.sample(k), jax.random.key(4)).shape == shape
    assert jax.eval_shape(lambda k: d.sample(k, (2, 5)), jax.random.key(5)).shape == (2, 5) + shape
    # the same key gives the same samples: two executions of the compiled sampler
    outputs = _row_outputs(row)
    a = outputs["same_key"]
    b = outputs.rerun("same_key")
    assert a.shape == (3,) + shape
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("row", MOMENT_ROWS)
def test_sample_moments_match_mean_and_variance(row):
    """Sample mean and variance agree with ``mean`` and ``variance``.

    The mean within 5 standard errors; the variance within 6 standard errors (of the
    variance estimator) plus 2% of ``variance``.
    """
    n = N_MOMENTS
    out = _row_outputs(row)["moments"]
    x = np.asarray(out["x"], np.float64)
    m = x.mean(0)
    if row.has_mean:
        se = x.std(0) / np.sqrt(n)
        mean = np.broadcast_to(np.asarray(out["mean"], np.float64), m.shape)
        assert np.all(np.abs(m - mean) <= 5 * se + 1e-6 * np.abs(mean) + 1e-7), (
            f"{m} vs {mean} ± {se}"
        )
    if row.has_variance:
        sq = (x - m) ** 2
        s2, se2 = sq.mean(0), sq.std(0) / np.sqrt(n)
        var = np.broadcast_to(np.asarray(out["variance"], np.float64), s2.shape)
        assert np.all(np.abs(s2 - var) <= 6 * se2 + 0.02 * var + 1e-7), f"{s2} vs {var} ± {se2}"


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("row, bad, name", BAD_ROWS)
def test_bad_parameter_raises_value_error_naming_it(row, bad, name):
    with pytest.raises(ValueError, match=name):
        row.make(bad)


_CHECKED_CACHE = {}


def _checked_make(row):
    """checkify(jit(row.make)), one per row: bad parameter sets of one shape share a compile."""
    if id(row) not in _CHECKED_CACHE:
        _CHECKED_CACHE[id(row)] = checkify.checkify(jax.jit(row.make))
    return _CHECKED_CACHE[id(row)]


@pytest.mark.parametrize("row, bad, name", BAD_ROWS)
def test_bad_parameter_is_reported_under_checkify_jit(row, bad, name):
    checked = _checked_make(row)
    try:
        with jaxkl.value_checks():
            err, _ = checked(bad)
    except ValueError as e:  # a static (shape) check fires at trace time: also reported
        assert name in str(e)
        return
    message = err.get()
    assert message is not None, f"no checkify error for {bad}"
    assert name in message
