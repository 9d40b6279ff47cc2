"""Closed forms whose p is in the compound group, and mixture approximations.

The closed forms of Independent and TransformedDistribution reduce to their bases' KL;
mixtures have none, and get Hershey & Olsen's variational approximation and upper bound.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl import _checks
from jaxkl._linalg import sum_rightmost
from jaxkl.distributions.compound import Independent, MixtureSameFamily, TransformedDistribution
from jaxkl.distributions.transforms import transforms_equal_mask
from jaxkl.kl._broadcast import broadcast_pair
from jaxkl.kl._registry import kl_divergence, register_kl

__all__ = ["mixture_kl_variational", "mixture_kl_upper_bound"]


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent):
    r"""KL between Independent distributions.

    KL of the bases, summed over the reinterpreted dimensions:

    .. math::
        D_{KL}(p \| q) = \sum_{\text{event dims}} D_{KL}(p_{\text{base}} \| q_{\text{base}})

    Both must reinterpret the same number of batch dimensions (as in torch; otherwise
    ``NotImplementedError``).

    References: the chain rule of KL for product measures; torch's
    ``_kl_independent_independent``.
    """
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            "KL between Independent distributions needs equal reinterpreted_batch_ndims, got "
            f"{p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}"
        )
    result = kl_divergence(p.base_distribution, q.base_distribution)
    return sum_rightmost(result, p.reinterpreted_batch_ndims)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p: TransformedDistribution, q: TransformedDistribution):
    r"""KL between transformed distributions with equal transforms.

    KL is invariant under a common bijection: for equal transforms ``T``,

    .. math::
        D_{KL}(T_\# p \| T_\# q) = D_{KL}(p \| q).

    Transforms that differ in type, number or static configuration raise
    ``NotImplementedError`` (torch's rule; use :func:`monte_carlo_kl`), as do concrete
    parameters that differ. When the parameters are traced and cannot be compared at
    trace time, the result is NaN where they differ, and a ``checkify`` check reports it.

    References: invariance of the KL divergence under bijections (e.g. Kullback 1959);
    torch's ``_kl_transformed_transformed``.
    """
    equal = transforms_equal_mask(p.transforms, q.transforms)
    if equal is None or equal is False:
        raise NotImplementedError(
            "KL between TransformedDistributions has a closed form only for equal transforms, got "
            f"{list(p.transforms)} and {list(q.transforms)}; estimate it with "
            "jaxkl.distributions.monte_carlo_kl(p, q, key)"
        )
    result = kl_divergence(p.base_distribution, q.base_distribution)
    if equal is True:
        return result
    _checks.value_check(
        equal, "KL between TransformedDistributions with different transform parameters", equal
    )
    return jnp.where(equal, result, jnp.nan)


# -- mixtures ------------------------------------------------------------------------


def _check_mixtures(p, q, name):
    if not isinstance(p, MixtureSameFamily) or not isinstance(q, MixtureSameFamily):
        raise TypeError(
            f"{name} expects two MixtureSameFamily distributions, got {type(p).__name__} and "
            f"{type(q).__name__}"
        )
    return broadcast_pair(p, q)


def _pairwise_component_kl(p_comp, q_comp, batch_ndims: int) -> jax.Array:
    """``D[..., a, b] = KL(p_comp[..., a] || q_comp[..., b])`` from the registry.

    Both have batch shape ``B + (K,)``; the pair is broadcast to ``(Kq,) + B + (Kp,)`` by
    ``expand`` (which broadcasts every leaf to the full batch shape) and q's two component
    axes are swapped leaf by leaf.
    """
    kp, kq = p_comp.batch_shape[-1], q_comp.batch_shape[-1]
    pe = p_comp.expand((kq,) + p_comp.batch_shape)
    qe = q_comp.expand((kp,) + q_comp.batch_shape)
    qe = jax.tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, batch_ndims + 1), qe)
    return jnp.moveaxis(kl_divergence(pe, qe), 0, -1)


def mixture_kl_variational(p: MixtureSameFamily, q: MixtureSameFamily) -> jax.Array:
    r"""The variational approximation of KL(p || q) between two mixtures (Hershey & Olsen).

    For ``p = sum_a pi_a f_a`` and ``q = sum_b w_b g_b``,

    .. math::
        D_{var}(p \| q) = \sum_a \pi_a \log
            \frac{\sum_{a'} \pi_{a'} e^{-D_{KL}(f_a \| f_{a'})}}
                 {\sum_b w_b e^{-D_{KL}(f_a \| g_b)}}

    It needs only the component KLs (any component family with a registered closed form,
    e.g. Normal, MultivariateNormal, ``Independent(Normal)``), is exact when both mixtures
    have a single component, and is zero for ``p = q``. It is an approximation, neither a
    lower nor an upper bound; for a guaranteed upper bound use
    :func:`mixture_kl_upper_bound`, for an unbiased estimate :func:`monte_carlo_kl`.

    Args:
        p: a ``MixtureSameFamily`` distribution.
        q: a ``MixtureSameFamily`` distribution with p's event shape and a batch shape that
            broadcasts with p's; the pair of components must have a registered KL.

    Returns:
        Shape ``broadcast(p.batch_shape, q.batch_shape)``.

    References:
        J. R. Hershey and P. A. Olsen, "Approximating the Kullback Leibler divergence
        between Gaussian mixture models", ICASSP 2007, section 6 (:math:`D_{variational}`).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> w = jd.Categorical(logits=jnp.zeros(2))
        >>> p = jd.MixtureSameFamily(w, jd.Normal(jnp.array([-1.0, 1.0]), 1.0))
        >>> q = jd.MixtureSameFamily(w, jd.Normal(jnp.array([-1.5, 1.0]), 1.0))
        >>> print(f"{jd.mixture_kl_variational(p, p):.4f} {jd.mixture_kl_variational(p, q):.4f}")
        0.0000 0.0966
    """
    p, q = _check_mixtures(p, q, "mixture_kl_variational")
    nb = len(p.batch_shape)
    lw_p, lw_q = p.log_weights, q.log_weights
    d_pp = _pairwise_component_kl(p.component_distribution, p.component_distribution, nb)
    d_pq = _pairwise_component_kl(p.component_distribution, q.component_distribution, nb)
    num = jax.nn.logsumexp(lw_p[..., None, :] - d_pp, axis=-1)
    den = jax.nn.logsumexp(lw_q[..., None, :] - d_pq, axis=-1)
    w = jnp.exp(lw_p)
    return jnp.sum(jnp.where(w > 0, w * (num - den), 0.0), axis=-1)


def mixture_kl_upper_bound(
    p: MixtureSameFamily, q: MixtureSameFamily, num_iters: int = 20
) -> jax.Array:
    r"""The variational upper bound on KL(p || q) between two mixtures (Hershey & Olsen).

    With a joint matching ``phi_ab`` (``sum_b phi_ab = pi_a``) and ``psi_ab``
    (``sum_a psi_ab = w_b``), the log-sum inequality gives

    .. math::
        D_{KL}(p \| q) \le \sum_{a,b} \phi_{ab}
            \left(\log\frac{\phi_{ab}}{\psi_{ab}} + D_{KL}(f_a \| g_b)\right),

    and alternating the closed-form minimisations over ``phi`` and ``psi`` (starting from
    ``phi = psi = pi_a w_b``) tightens it monotonically. Every iterate is a valid upper
    bound, so the result is an upper bound for any ``num_iters >= 0`` (``num_iters = 0``
    gives the convexity bound ``sum_ab pi_a w_b D(f_a || g_b)``).

    Args:
        p: the mixture of the first argument, as for :func:`mixture_kl_variational`.
        q: the mixture of the second, likewise.
        num_iters: alternating updates (static, a non-negative int).

    Returns:
        Shape ``broadcast(p.batch_shape, q.batch_shape)``.

    References:
        Hershey and Olsen (2007), cited at :func:`mixture_kl_variational`, section 7
        (:math:`D_{upper}`).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> def mixture(locs):
        ...     weights = jd.Categorical(logits=jnp.zeros(2))
        ...     return jd.MixtureSameFamily(weights, jd.Normal(jnp.array(locs), 1.0))
        >>> p, q = mixture([-1.0, 1.0]), mixture([-1.5, 1.0])
        >>> convexity = jd.mixture_kl_upper_bound(p, q, num_iters=0)
        >>> print(f"{convexity:.4f} {jd.mixture_kl_upper_bound(p, q):.4f}")
        1.3125 0.0625
    """
    if isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 0:
        raise ValueError(
            f"mixture_kl_upper_bound: `num_iters` must be a non-negative int, got {num_iters!r}"
        )
    p, q = _check_mixtures(p, q, "mixture_kl_upper_bound")
    nb = len(p.batch_shape)
    lw_p = p.log_weights[..., :, None]
    lw_q = q.log_weights[..., None, :]
    d = _pairwise_component_kl(p.component_distribution, q.component_distribution, nb)
    # A component of p with infinite KL to every component of q makes the bound +inf.
    hopeless = jnp.any(jnp.all(jnp.isinf(d), axis=-1) & (lw_p[..., 0] > -jnp.inf), axis=-1)
    d = jnp.where(jnp.all(jnp.isinf(d), axis=-1, keepdims=True), 0.0, d)

    def step(_, carry):
        _, log_psi = carry
        t = log_psi - d
        log_phi = lw_p + t - jax.nn.logsumexp(t, axis=-1, keepdims=True)
        log_psi = lw_q + log_phi - jax.nn.logsumexp(log_phi, axis=-2, keepdims=True)
        return log_phi, log_psi

    init = lw_p + lw_q
    log_phi, log_psi = jax.lax.fori_loop(0, num_iters, step, (init, init))
    phi = jnp.exp(log_phi)
    safe = phi > 0
    terms = jnp.where(safe, phi * (jnp.where(safe, log_phi - log_psi, 0.0) + d), 0.0)
    return jnp.where(hopeless, jnp.inf, jnp.sum(terms, axis=(-2, -1)))
