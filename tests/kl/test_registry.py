"""The KL registry: MRO dispatch, ambiguity, cache, error messages, shape checks."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jaxkl
from jaxkl import distributions as jd
from jaxkl.kl import _registry


@pytest.fixture(autouse=True)
def restore_registry():
    """Test-only registrations must not leak into other tests (test_coverage)."""
    saved = dict(_registry._KL_REGISTRY)
    _registry._dispatch.cache_clear()
    yield
    _registry._KL_REGISTRY.clear()
    _registry._KL_REGISTRY.update(saved)
    _registry._dispatch.cache_clear()


class Child(jd.Normal):
    pass


class GrandChild(Child):
    pass


class Lonely(jd.Distribution):
    """A distribution no closed form knows about."""

    loc: jnp.ndarray

    def __init__(self, loc):
        self._init(loc=jnp.asarray(loc, jnp.float32))

    def log_prob(self, value):
        return -0.5 * (value - self.loc) ** 2


def _const(value):
    def fn(p, q):
        return jnp.full(jnp.broadcast_shapes(p.batch_shape, q.batch_shape), value, jnp.float32)

    return fn


def test_most_specific_pair_wins_along_both_mros():
    jd.register_kl(Child, jd.Normal)(_const(1.0))
    jd.register_kl(GrandChild, jd.Normal)(_const(2.0))
    jd.register_kl(jd.Normal, Child)(_const(3.0))
    n, c, g = jd.Normal(0.0, 1.0), Child(0.0, 1.0), GrandChild(0.0, 1.0)
    assert float(jd.kl_divergence(c, n)) == 1.0
    assert float(jd.kl_divergence(g, n)) == 2.0  # the subclass entry beats its parent's
    assert float(jd.kl_divergence(n, c)) == 3.0
    assert float(jd.kl_divergence(n, g)) == 3.0  # inherited along q's MRO
    # Normal || Normal is untouched
    np.testing.assert_allclose(jd.kl_divergence(n, jd.Normal(1.0, 1.0)), 0.5, rtol=1e-6)


def test_equally_specific_pairs_warn_about_ambiguity_like_torch():
    jd.register_kl(Child, jd.Normal)(_const(1.0))
    jd.register_kl(jd.Normal, Child)(_const(2.0))
    with pytest.warns(RuntimeWarning, match="Ambiguous"):
        value = jd.kl_divergence(Child(0.0, 1.0), Child(0.0, 1.0))
    assert float(value) in (1.0, 2.0)
    # registering the exact pair resolves it, without a warning
    jd.register_kl(Child, Child)(_const(4.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(jd.kl_divergence(Child(0.0, 1.0), Child(0.0, 1.0))) == 4.0


def test_registering_clears_the_lookup_cache():
    before = jaxkl.kl.lookup(Child, jd.Normal)
    assert before is _registry._KL_REGISTRY[jd.Normal, jd.Normal]
    fn = jd.register_kl(Child, jd.Normal)(_const(7.0))
    assert jaxkl.kl.lookup(Child, jd.Normal) is fn
    assert float(jd.kl_divergence(Child(0.0, 1.0), jd.Normal(0.0, 2.0))) == 7.0


def test_unregistered_pair_raises_naming_both_types_and_the_ways_out():
    with pytest.raises(NotImplementedError) as info:
        jd.kl_divergence(jd.Normal(0.0, 1.0), Lonely(0.0))
    message = str(info.value)
    assert "Normal" in message and "Lonely" in message
    assert "register_kl" in message and "monte_carlo_kl" in message


def test_register_kl_rejects_non_distribution_types():
    with pytest.raises(TypeError, match="Distribution subclasses"):
        jd.register_kl(jd.Normal, float)


def test_top_level_kl_divergence_accepts_distributions():
    p, q = jd.Normal(jnp.zeros(3), 1.0), jd.Normal(1.0, 2.0)
    np.testing.assert_array_equal(jaxkl.kl_divergence(p, q), jd.kl_divergence(p, q))
    assert jaxkl.kl_divergence(p, q).shape == (3,)


def test_kl_divergence_rejects_non_distributions():
    with pytest.raises(TypeError, match="two jaxkl distributions"):
        jd.kl_divergence(jd.Normal(0.0, 1.0), jnp.ones(3))


def test_event_shape_mismatch_raises_value_error_naming_both_shapes():
    p = jd.Independent(jd.Normal(jnp.zeros(3), 1.0), 1)
    q = jd.Independent(jd.Normal(jnp.zeros(2), 1.0), 1)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        jd.kl_divergence(p, q)


def test_batch_shapes_that_do_not_broadcast_raise_value_error():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        jd.kl_divergence(jd.Normal(jnp.zeros(3), 1.0), jd.Normal(jnp.zeros(2), 1.0))


def test_closed_forms_see_equal_batch_shapes():
    seen = []

    def fn(p, q):
        seen.append((p.batch_shape, q.batch_shape))
        return jnp.zeros(p.batch_shape)

    jd.register_kl(Child, Child)(fn)
    out = jd.kl_divergence(Child(jnp.zeros((3, 1)), 1.0), Child(jnp.zeros(4), 1.0))
    assert seen == [((3, 4), (3, 4))]
    assert out.shape == (3, 4)


def test_registered_pairs_lists_the_registry():
    pairs = jaxkl.kl.registered_pairs()
    assert (jd.Normal, jd.Normal) in pairs
    assert (jd.Independent, jd.Independent) in pairs
    assert (jd.TransformedDistribution, jd.TransformedDistribution) in pairs
    pairs.clear()  # a copy
    assert (jd.Normal, jd.Normal) in jaxkl.kl.registered_pairs()


def test_eager_calls_of_builtin_closed_forms_run_one_compiled_program():
    """Eager jaxkl closed forms run compiled; user ones, traces and traced checks do not."""
    import jax

    fn = _registry.lookup(jd.Gamma, jd.Gamma)
    compiled = _registry._compiled(fn)
    before = compiled._cache_size()
    p, q = jd.Gamma(jnp.array([2.0, 3.0]), 1.5), jd.Gamma(1.0, jnp.array([0.5, 2.0]))
    first = jd.kl_divergence(p, q)
    second = jd.kl_divergence(jd.Gamma(jnp.array([4.0, 1.0]), 2.0), q)
    assert compiled._cache_size() == before + 1  # one program, reused for new values
    np.testing.assert_allclose(first, fn(*_registry.broadcast_pair(p, q)), rtol=1e-6)
    assert second.shape == (2,)
    # under a trace the closed form is inlined into the caller's program
    jaxpr = jax.make_jaxpr(jd.kl_divergence)(p, q)
    names = [e.params.get("name") for e in jaxpr.jaxpr.eqns if e.primitive.name in ("jit", "pjit")]
    assert fn.__name__ not in names, names
    with jaxkl.value_checks():
        assert not _registry._runs_compiled(fn, p, q)

    calls = []

    @jd.register_kl(Child, jd.Normal)
    def _user_kl(p, q):
        calls.append(type(p.loc))
        return jnp.zeros(p.batch_shape)

    jd.kl_divergence(Child(0.0, 1.0), jd.Normal(0.0, 1.0))
    assert calls == [type(jnp.zeros(()))]  # a concrete array: run eagerly, not traced

    class Jitted(jd.Normal):
        pass

    @jd.register_kl(Jitted, jd.Normal, jit=True)
    def _user_jitted_kl(p, q):
        calls.append(isinstance(p.loc, jax.core.Tracer))
        return jnp.zeros(p.batch_shape)

    jd.kl_divergence(Jitted(0.0, 1.0), jd.Normal(0.0, 1.0))
    assert calls[-1] is True  # opted in: traced once, run as one compiled program
