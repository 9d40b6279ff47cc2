r"""Pairs of univariate continuous families whose KL is ``+inf`` for every parameter value.

KL(p || q) is infinite when q's density vanishes on a set of positive p-probability. For
the pairs below that holds whatever the parameters are, because p's support is never
inside q's:

* p on the whole real line (Normal, Laplace, Gumbel) against q on a half-line or an
  interval (Exponential, Gamma, Pareto, Beta, ContinuousBernoulli, Uniform);
* p on ``[0, inf)`` (Exponential, Gamma) against q on a bounded interval (Beta,
  ContinuousBernoulli, Uniform) or on ``[scale, inf)`` with ``scale > 0`` (Pareto);
* p on ``[scale, inf)`` (Pareto) against a bounded q (Beta, ContinuousBernoulli, Uniform);
* p on ``[0, 1]`` (Beta, ContinuousBernoulli) against Pareto, whose support misses
  ``[0, scale)``.

These are exactly torch.distributions' ``_kl_*_infinity`` pairs between univariate
continuous families. Pairs that are infinite only for *some* parameters (Uniform || Beta,
Pareto || Normal with ``alpha <= 2``, ...) have closed forms with support masks in the
module of p's group.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl import _checks
from jaxkl.distributions._base import Distribution
from jaxkl.distributions.interval import Beta, ContinuousBernoulli, Uniform
from jaxkl.distributions.positive import Exponential, Gamma, Pareto
from jaxkl.distributions.real_line import Gumbel, Laplace, Normal
from jaxkl.kl._registry import register_kl

_BOUNDED = (Beta, ContinuousBernoulli, Uniform)

#: (p, q) pairs whose KL is +inf for all parameters (support of p never inside q's).
INFINITE_PAIRS = (
    [
        (p, q)
        for p in (Normal, Laplace, Gumbel)
        for q in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform)
    ]
    + [(p, q) for p in (Exponential, Gamma) for q in _BOUNDED + (Pareto,)]
    + [(Pareto, q) for q in _BOUNDED]
    + [(Beta, Pareto), (ContinuousBernoulli, Pareto)]
)


def _kl_infinite(p: Distribution, q: Distribution) -> jax.Array:
    r"""``+inf`` of the broadcast batch shape of p and q (support mismatch).

    .. math::
        D_{KL}(p \| q) = \int p \log\frac{p}{q} = +\infty
        \quad\text{if } P(\{x : q(x) = 0\}) > 0.

    Returns:
        ``+inf`` with shape ``broadcast(p.batch_shape, q.batch_shape)`` and p's floating
        dtype (torch returns p's batch shape only).

    References: Kullback (1959), *Information Theory and Statistics*, ch. 2 (absolute
    continuity); torch's ``_kl_*_infinity``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> jd.kl_divergence(jd.Normal(0.0, 1.0), jd.Exponential(jnp.ones(2)))
        Array([inf, inf], dtype=float32)
    """
    shape = jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
    return jnp.full(shape, jnp.inf, dtype=_checks.compute_dtype(*jax.tree_util.tree_leaves((p, q))))


for _p, _q in INFINITE_PAIRS:
    register_kl(_p, _q, jit=True)(_kl_infinite)
del _p, _q
