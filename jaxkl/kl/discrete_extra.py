r"""Closed forms whose p is in the discrete_extra group: ProbitBernoulli, Multinomial.

ProbitBernoulli
---------------
The Bernoulli KL at ``a = Φ(x_p)``, ``b = Φ(x_q)``, written over the two outcomes with
weights ``w_i`` (p's outcome probabilities) and exact log-ratios ``d_i = log(q_i / w_i)``:

.. math::
    D_{KL} = \sum_i w_i\,(e^{d_i} - 1 - d_i)

(because ``Σ_i w_i e^{d_i} = Σ_i q_i = 1``): two non-negative terms, no cancellation when
p ≈ q (:func:`jaxkl._numerics.weighted_expm1_minus_x`). With probits on both sides,
``d_1 = log Φ(x_q) - log Φ(x_p)`` and ``d_0 = log Φ(-x_q) - log Φ(-x_p)`` come from
:func:`jaxkl._numerics.log_ndtr_difference` (accurate for close probits, and never
underflowing: probits of ±30 give the finite KLs, e.g. 454.32 for ``x_p = -30, x_q = 30``,
where ``Φ(-30)`` is 0 in float32).

Multinomial
-----------
Counts of ``n`` independent categorical draws: the KL of the product of the draws is
``n`` times the Categorical KL (the multinomial coefficient is common to both and cancels).
With different ``total_count`` the supports are disjoint (``Σ x = n``), so the KL is +inf.

References:
    Kullback & Leibler (1951); TFP ``ProbitBernoulli`` (``_kl_bernoulli_bernoulli`` in
    ``probit_bernoulli.py``: the same value, written as a difference of log-probabilities);
    the Multinomial KL as a sum over independent draws, e.g. Cover & Thomas, *Elements of
    Information Theory*, 2nd ed., Thm. 2.5.3 (chain rule).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxkl._numerics import log_ndtr_difference, weighted_expm1_minus_x
from jaxkl.distributions.discrete import Bernoulli, Categorical
from jaxkl.distributions.discrete_extra import Multinomial, ProbitBernoulli
from jaxkl.kl._registry import register_kl

__all__: list = []


def _outcome_term(log_w: jax.Array, log_q: jax.Array, d: jax.Array) -> jax.Array:
    """``w (e^d - 1 - d)`` for one outcome with ``log w``, ``log q`` and the accurate
    ``d = log q - log w``. An outcome p never takes (``log w = -inf``) contributes ``q``
    (the identity's ``w e^d``); one that q never takes while p does gives +inf."""
    p_has, q_has = log_w > -jnp.inf, log_q > -jnp.inf
    both = p_has & q_has
    term = weighted_expm1_minus_x(jnp.where(both, log_w, 0.0), jnp.where(both, d, 0.0))
    only_q = jnp.exp(jnp.where(q_has, log_q, 0.0))
    return jnp.where(both, term, jnp.where(p_has, jnp.inf, jnp.where(q_has, only_q, 0.0)))


@register_kl(ProbitBernoulli, ProbitBernoulli)
def _kl_probitbernoulli_probitbernoulli(p: ProbitBernoulli, q: ProbitBernoulli) -> jax.Array:
    r"""KL(ProbitBern(x_p) || ProbitBern(x_q)) = KL(Bern(Φ(x_p)) || Bern(Φ(x_q))).

    .. math::
        D_{KL} = Φ(x_p)\log\frac{Φ(x_p)}{Φ(x_q)} + Φ(-x_p)\log\frac{Φ(-x_p)}{Φ(-x_q)}

    evaluated as ``Σ_i w_i (e^{d_i} - 1 - d_i)`` with the log-ratios ``d_i`` from
    :func:`jaxkl._numerics.log_ndtr_difference` (module docstring): float32 relative
    error below 1e-5 down to relative probit differences of 1e-5, finite for probits of
    ±30. With ``probs`` on both sides it is the Bernoulli KL of those probabilities
    (:func:`jaxkl.kl.discrete._kl_bernoulli_bernoulli`); mixed parametrisations use
    differences of the outcome log-probabilities.

    References: TFP ``probit_bernoulli.py`` (same values); Kullback & Leibler (1951).
    """
    if p._probs is not None and q._probs is not None:
        return _bernoulli_probs_kl(p._probs, q._probs)
    _, _, lw1, lw0 = p._parts()
    _, _, lq1, lq0 = q._parts()
    if p._probits is not None and q._probits is not None:
        d1 = log_ndtr_difference(p._probits, q._probits)
        d0 = log_ndtr_difference(-p._probits, -q._probits)
    else:  # mixed parametrisations: differences of the outcome log-probabilities
        d1, d0 = lq1 - lw1, lq0 - lw0
    return _outcome_term(lw0, lq0, d0) + _outcome_term(lw1, lq1, d1)


def _bernoulli_probs_kl(a: jax.Array, b: jax.Array) -> jax.Array:
    """The Bernoulli KL from probabilities, by the discrete group's closed form."""
    from jaxkl.kl.discrete import _kl_bernoulli_bernoulli

    return _kl_bernoulli_bernoulli(Bernoulli(probs=a, validate_args=False), Bernoulli(probs=b, validate_args=False))


@register_kl(Multinomial, Multinomial)
def _kl_multinomial_multinomial(p: Multinomial, q: Multinomial) -> jax.Array:
    r"""KL(Mult(n, p) || Mult(m, q)) = n KL(Cat(p) || Cat(q)) if n = m, else +inf.

    The Categorical KL is the discrete group's (``log1p`` of centred log-ratio terms:
    accurate where p ≈ q, +inf where q_i = 0 < p_i). ``total_count`` is static, so the
    +inf for different counts is decided at trace time; ``n = 0`` gives 0.

    References: the chain rule for KL over ``n`` independent draws (Cover & Thomas,
    Thm. 2.5.3); torch has the class but no KL for it.

    Raises:
        ValueError: different numbers of categories.
    """
    if p._num_events != q._num_events:
        raise ValueError(f"KL(Multinomial || Multinomial) needs the same number of categories, got "
                         f"{p._num_events} and {q._num_events}")
    cat_p = _as_categorical(p)
    cat_q = _as_categorical(q)
    from jaxkl.kl.discrete import _kl_categorical_categorical

    kl = _kl_categorical_categorical(cat_p, cat_q)
    if p.total_count != q.total_count:
        return jnp.full_like(kl, jnp.inf)
    if p.total_count == 0:
        return jnp.zeros_like(kl)
    return p.total_count * kl


def _as_categorical(d: Multinomial) -> Categorical:
    if d._probs is not None:
        return Categorical(probs=d._probs, validate_args=False)
    return Categorical(logits=d._logits, validate_args=False)
