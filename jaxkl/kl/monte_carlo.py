"""The Monte Carlo KL estimator: the fallback for any pair with ``sample`` and ``log_prob``."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jaxkl.distributions._base import Distribution
from jaxkl.kl._broadcast import broadcast_pair


def _check_args(p, q, num_samples, return_stderr) -> None:
    if not isinstance(p, Distribution) or not isinstance(q, Distribution):
        raise TypeError(
            f"monte_carlo_kl expects two jaxkl distributions, got {type(p).__name__} and "
            f"{type(q).__name__}"
        )
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"monte_carlo_kl: `num_samples` must be an int >= 2, got {num_samples!r}")
    if not isinstance(return_stderr, bool):
        raise TypeError(f"monte_carlo_kl: `return_stderr` must be a bool, got {return_stderr!r}")


def monte_carlo_kl(
    p: Distribution,
    q: Distribution,
    key: jax.Array,
    num_samples: int = 1024,
    *,
    return_stderr: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Monte Carlo estimate of KL(p || q) from ``num_samples`` draws of p.

    .. math::
        \widehat{D}_{KL}(p \| q) = \frac{1}{N} \sum_{i=1}^N \log p(x_i) - \log q(x_i),
        \qquad x_i \sim p

    Unbiased, for any pair whose ``p`` has ``sample`` and both have ``log_prob``, with
    batch shapes broadcast as in :func:`~jaxkl.distributions.kl_divergence`. It is
    jittable (``num_samples`` and ``return_stderr`` are static; the function is jitted
    already, so ``jax.jit`` around a caller just works) and vmappable over distributions
    and keys.

    Gradients: where p's sampler is reparameterised (``p.has_rsample``, e.g. Normal) the
    samples carry the gradient to p's parameters (the pathwise estimator); otherwise
    (discrete families, mixtures) the samples are held fixed and the score-function
    (REINFORCE) term with a leave-one-out baseline is added, so that the gradient is an
    unbiased estimate of the gradient of the KL in both cases. Gradients w.r.t. q's
    parameters always flow through ``q.log_prob``.

    A sample where ``q.log_prob`` is ``-inf`` (outside q's support) makes the estimate
    ``+inf``, which is then exact; its standard error is reported as 0.

    Args:
        p: the distribution sampled from.
        q: a distribution with p's event shape and a batch shape that broadcasts with p's.
        key: a PRNG key (``jax.random.key``); the same key gives the same estimate.
        num_samples: number of draws (an int >= 2, static).
        return_stderr: also return the standard error of the estimate (the sample
            standard deviation of ``log p(x) - log q(x)`` over ``sqrt(num_samples)``).

    Returns:
        The estimate, shape ``broadcast(p.batch_shape, q.batch_shape)``; with
        ``return_stderr=True`` the pair ``(estimate, stderr)``.

    Raises:
        TypeError: ``p`` or ``q`` is not a distribution.
        ValueError: event shapes differ, batch shapes do not broadcast, or ``num_samples``
            is not an int >= 2.

    Examples:
        >>> import jax
        >>> from jaxkl import distributions as jd
        >>> p, q = jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)
        >>> kl, se = jd.monte_carlo_kl(p, q, jax.random.key(0), 100_000, return_stderr=True)
        >>> exact = jd.kl_divergence(p, q)
        >>> bool(abs(kl - exact) < 4 * se)
        True
    """
    _check_args(p, q, num_samples, return_stderr)
    p, q = broadcast_pair(p, q)
    return _monte_carlo_kl(p, q, key, num_samples, return_stderr)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _monte_carlo_kl(p, q, key, num_samples, return_stderr):
    x = p.sample(key, (num_samples,))
    reparameterised = bool(p.has_rsample)
    if not reparameterised:
        x = jax.lax.stop_gradient(x)
    log_p = p.log_prob(x)
    diff = log_p - q.log_prob(x)  # (num_samples,) + batch_shape
    estimate = jnp.mean(diff, axis=0)
    if not reparameterised:
        # Score-function term: zero in value, its gradient is E[(d - b) grad log p(x)].
        # The leave-one-out mean b of the other samples keeps it unbiased and lowers its
        # variance.
        d = jax.lax.stop_gradient(diff)
        d = jnp.where(jnp.isfinite(d), d, 0.0)
        baseline = (jnp.sum(d, axis=0) - d) / (num_samples - 1)
        score = log_p - jax.lax.stop_gradient(log_p)
        estimate = estimate + jnp.mean((d - baseline) * score, axis=0)
    if not return_stderr:
        return estimate
    infinite = jnp.isinf(estimate)
    safe = jnp.where(jnp.isinf(diff), 0.0, diff)
    stderr = jnp.std(safe, axis=0, ddof=1) / math.sqrt(num_samples)
    return estimate, jnp.where(infinite, 0.0, stderr)
