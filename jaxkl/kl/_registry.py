"""The KL registry: ``register_kl``, MRO dispatch with torch's semantics, cached lookup."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import jax

from jaxkl import _checks
from jaxkl.distributions._base import Distribution
from jaxkl.kl._broadcast import broadcast_pair
from jaxkl.kl.monte_carlo import monte_carlo_kl

KLFn = Callable[[Distribution, Distribution], jax.Array]

_KL_REGISTRY: dict[tuple[type, type], KLFn] = {}
#: the registered functions whose eager calls run compiled (``register_kl(..., jit=True)``)
_EAGER_JIT: set[KLFn] = set()


def register_kl(
    type_p: type[Distribution], type_q: type[Distribution], *, jit: bool = False
) -> Callable[[KLFn], KLFn]:
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``p: type_p``, ``q: type_q``.

    Lookup picks the most specific registered pair along both types' MROs; when two
    registered pairs are equally specific in different orders, one is chosen and a
    ``RuntimeWarning`` names both (torch's semantics). Registering clears the lookup cache.

    With ``jit=True``, an eager call on concrete parameters runs ``fn`` as one compiled
    program (compiled once per types and shapes) instead of one dispatch per operation;
    ``fn`` must then be jittable (no Python branch on parameter values). Under a trace,
    or with ``jaxkl.value_checks()`` on, ``fn`` runs as written either way. jaxkl's own
    closed forms are registered so.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> class Shifted(jd.Normal):
        ...     pass
        >>> @jd.register_kl(Shifted, jd.Normal)
        ... def _kl_shifted_normal(p, q):
        ...     return jnp.zeros(jnp.broadcast_shapes(p.batch_shape, q.batch_shape))
        >>> jd.kl_divergence(Shifted(0.0, 1.0), jd.Normal(0.0, 2.0))
        Array(0., dtype=float32)
    """
    for t in (type_p, type_q):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"register_kl expects Distribution subclasses, got {t!r}")

    def decorator(fn: KLFn) -> KLFn:
        _KL_REGISTRY[type_p, type_q] = fn
        if jit:
            _EAGER_JIT.add(fn)
        _dispatch.cache_clear()
        return fn

    return decorator


def registered_pairs() -> dict[tuple[type, type], KLFn]:
    """A copy of the registry: ``{(type_p, type_q): fn}``."""
    return dict(_KL_REGISTRY)


@functools.cache
def _dispatch(type_p: type, type_q: type) -> KLFn | None:
    matches = [
        (tp, tq) for tp, tq in _KL_REGISTRY if issubclass(type_p, tp) and issubclass(type_q, tq)
    ]
    if not matches:
        return None
    mro_p, mro_q = type_p.__mro__, type_q.__mro__
    left = min(matches, key=lambda m: (mro_p.index(m[0]), mro_q.index(m[1])))
    right = min(matches, key=lambda m: (mro_q.index(m[1]), mro_p.index(m[0])))
    left_fn, right_fn = _KL_REGISTRY[left], _KL_REGISTRY[right]
    if left_fn is not right_fn:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}): "
            f"({left[0].__name__}, {left[1].__name__}) and ({right[0].__name__}, "
            f"{right[1].__name__}) "
            "are equally specific; using the first. Register the exact pair to resolve it.",
            RuntimeWarning,
            stacklevel=3,
        )
    return left_fn


@functools.cache
def _compiled(fn: KLFn) -> KLFn:
    return jax.jit(fn)


def _runs_compiled(fn: KLFn, p: Distribution, q: Distribution) -> bool:
    """Whether an eager call runs ``fn`` compiled (see ``register_kl``'s ``jit``)."""
    return fn in _EAGER_JIT and not _checks.traced_checks_enabled() and _checks.is_concrete(p, q)


def lookup(type_p: type, type_q: type) -> KLFn | None:
    """The function ``kl_divergence`` would use for this pair of types, or None."""
    return _dispatch(type_p, type_q)


def kl_divergence(
    p: Distribution,
    q: Distribution,
    *,
    key: jax.Array | None = None,
    num_samples: int = 1024,
) -> jax.Array:
    r"""KL(p || q) between two distributions, from the closed-form registry.

    .. math::
        D_{KL}(p \| q) = \mathbb{E}_{x \sim p}[\log p(x) - \log q(x)]

    Dispatches on ``(type(p), type(q))`` (see :func:`register_kl`). The result has the
    broadcast of both batch shapes; ``+inf`` where p's support is not inside q's.

    Args:
        p: a distribution.
        q: a distribution with p's event shape and a batch shape that broadcasts with p's.
        key: a PRNG key. Only used when no closed form is registered for the pair: the
            Monte Carlo estimate :func:`jaxkl.distributions.monte_carlo_kl` with
            ``num_samples`` samples is returned instead of raising.
        num_samples: samples for that fallback.

    Raises:
        NotImplementedError: no closed form is registered for the pair and no ``key`` was
            given. The message names both types.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.kl_divergence(jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)):.6f}")
        0.443147
    """
    if not isinstance(p, Distribution) or not isinstance(q, Distribution):
        raise TypeError(
            f"kl_divergence expects two jaxkl distributions, got {type(p).__name__} and "
            f"{type(q).__name__}"
        )
    p, q = broadcast_pair(p, q)
    fn = _dispatch(type(p), type(q))
    if fn is not None:
        if _runs_compiled(fn, p, q):
            return _compiled(fn)(p, q)
        return fn(p, q)
    if key is not None:
        return monte_carlo_kl(p, q, key, num_samples=num_samples)
    raise NotImplementedError(
        f"No closed-form KL is registered for ({type(p).__name__}, {type(q).__name__}). "
        f"Register one with @jaxkl.distributions.register_kl({type(p).__name__}, "
        f"{type(q).__name__}), "
        "or estimate it by Monte Carlo: jaxkl.distributions.monte_carlo_kl(p, q, key) "
        "(or kl_divergence(p, q, key=key))."
    )
