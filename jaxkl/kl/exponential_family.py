"""The generic exponential-family KL: the Bregman divergence of the log-normaliser."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl.distributions._base import ExponentialFamily
from jaxkl.kl._broadcast import broadcast_pair
from jaxkl.kl._registry import register_kl

__all__ = ["exponential_family_kl"]


def exponential_family_kl(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) for two members of the same exponential family, by autodiff.

    With natural parameters :math:`\eta` and log-normaliser :math:`A`,

    .. math::
        D_{KL}(p \| q) = A(\eta_q) - A(\eta_p) - \langle \nabla A(\eta_p), \eta_q - \eta_p \rangle,

    the Bregman divergence of :math:`A`; :math:`\nabla A` comes from ``jax.vjp``. The inner
    product sums over every axis of a natural parameter past the batch axes (Categorical's
    category axis, a matrix parameter's two axes). This is torch's
    ``_kl_expfamily_expfamily``, the fallback registered for
    ``(ExponentialFamily, ExponentialFamily)``: closed forms registered for a family win.
    It is exact maths, but it cancels where p ≈ q (prefer the closed forms there), and
    needs finite natural parameters (e.g. no zero Categorical probabilities).

    Args:
        p: an instance of an :class:`~jaxkl.distributions.ExponentialFamily` subclass.
        q: an instance of the *same* subclass, with a batch shape that broadcasts with p's.

    Returns:
        KL values with the broadcast batch shape.

    Raises:
        NotImplementedError: ``p`` and ``q`` are of different types (the Bregman form
            needs one log-normaliser and one sufficient statistic), or the family does not
            define ``_natural_params`` / ``_log_normalizer``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> p, q = jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)
        >>> print(f"{jd.exponential_family_kl(p, q):.4f} {jd.kl_divergence(p, q):.4f}")
        0.4431 0.4431

    References:
        Banerjee et al., "Clustering with Bregman Divergences", JMLR 2005;
        torch.distributions.kl ``_kl_expfamily_expfamily``.
    """
    if not isinstance(p, ExponentialFamily) or not isinstance(q, ExponentialFamily):
        raise TypeError(
            f"exponential_family_kl expects ExponentialFamily distributions, got "
            f"{type(p).__name__} and {type(q).__name__}"
        )
    if type(p) is not type(q):
        raise NotImplementedError(
            f"The exponential-family (Bregman) KL needs p and q of the same family, got "
            f"{type(p).__name__} and {type(q).__name__}; register a closed form with "
            f"register_kl({type(p).__name__}, {type(q).__name__}) or use monte_carlo_kl"
        )
    p, q = broadcast_pair(p, q)
    batch_ndim = len(p.batch_shape)
    eta_p = tuple(p._natural_params)
    eta_q = tuple(q._natural_params)
    a_p, vjp = jax.vjp(lambda *eta: p._log_normalizer(*eta), *eta_p)
    grads = vjp(jnp.ones_like(a_p))
    result = q._log_normalizer(*eta_q) - a_p
    for ep, eq, g in zip(eta_p, eta_q, grads):
        term = (eq - ep) * g
        extra = tuple(range(batch_ndim, term.ndim))
        result = result - (jnp.sum(term, axis=extra) if extra else term)
    return result


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    """The Bregman fallback (see :func:`exponential_family_kl`)."""
    return exponential_family_kl(p, q)
