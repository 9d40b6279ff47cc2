"""Closed forms whose p is a univariate continuous family (the group of p): same-family pairs.

Every form is written in terms of parameter *differences* (exact for close floats) and
non-cancelling pieces (:mod:`jaxkl._numerics`), so that nearly equal distributions keep full
relative precision in float32; see each docstring for the decomposition. Cross-family pairs
live in :mod:`jaxkl.kl.continuous_cross`.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxkl._numerics import (
    expm1_minus_x,
    lgamma_bregman,
    log_sinhc_bregman,
    ratio_minus_one_minus_log_of,
    x_minus_log1p,
    x_minus_log1p_series,
)
from jaxkl.distributions.continuous import (
    Beta,
    Cauchy,
    ContinuousBernoulli,
    Exponential,
    Gamma,
    Gumbel,
    HalfNormal,
    Laplace,
    Normal,
    Pareto,
    Uniform,
    logit_difference,
)
from jaxkl.kl._registry import register_kl


def _scale_term(sp, sq):
    """``rho^2 - 1 - 2 log rho`` (``rho = sp/sq``): ``x_minus_log1p`` of ``x = rho^2 - 1`` formed
    from the scale difference near 1, ``rho^2 - 1 - 2 (log sp - log sq)`` far from 1 (where
    ``rho^2`` may underflow to 0 or ``sq^2`` overflow)."""
    x = ((sp - sq) / sq) * ((sp + sq) / sq)
    rho = sp / sq
    far = rho * rho - 1 - 2 * (jnp.log(sp) - jnp.log(sq))
    return jnp.where(jnp.abs(x) < 0.5, x_minus_log1p_series(x), far)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal):
    r"""KL(N(mu_p, s_p) || N(mu_q, s_q)) = (x - log1p(x))/2 + ((mu_p - mu_q)/s_q)^2/2

    with ``x = (s_p/s_q)^2 - 1 = (s_p - s_q)(s_p + s_q)/s_q^2``, formed from the difference
    of the scales so that nearly equal distributions keep full relative precision.

    References: the Gaussian KL, e.g. Kullback (1959); torch's ``_kl_normal_normal``.
    """
    z = (p.loc - q.loc) / q.scale
    return 0.5 * _scale_term(p.scale, q.scale) + 0.5 * z * z


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p: HalfNormal, q: HalfNormal):
    r"""KL between half-normals: the zero-mean Normal KL, ``(x - log1p(x))/2`` with
    ``x = (s_p - s_q)(s_p + s_q)/s_q^2`` (folding both at 0 keeps the density ratio).

    References: torch's ``_kl_halfnormal_halfnormal`` (KL of the base normals).
    """
    return 0.5 * _scale_term(p.scale, q.scale)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace):
    r"""KL between Laplace distributions.

    .. math::
        \rho e^{-t} - 1 - \log\rho + \rho t
        = \rho\,(e^{-t} - 1 + t) + (\rho - 1 - \log\rho),
        \quad \rho = b_p / b_q,\ t = |\mu_p - \mu_q| / b_p,

    i.e. ``rho * expm1_minus_x(-t) + x_minus_log1p((b_p - b_q)/b_q)``: two non-negative terms.

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_laplace_laplace``.
    """
    rho = p.scale / q.scale
    t = jnp.abs(p.loc - q.loc) / p.scale
    return rho * expm1_minus_x(-t) + ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p: Cauchy, q: Cauchy):
    r"""KL between Cauchy distributions (symmetric in p and q).

    .. math::
        \log\frac{(\gamma_p + \gamma_q)^2 + (\mu_p - \mu_q)^2}{4 \gamma_p \gamma_q}
        = \operatorname{log1p}\frac{(\gamma_p - \gamma_q)^2 + (\mu_p - \mu_q)^2}{4 \gamma_p \gamma_q}.

    References: Chyzak & Nielsen (2019), "A closed-form formula for the Kullback-Leibler
    divergence between Cauchy distributions", arXiv:1905.10965; torch's ``_kl_cauchy_cauchy``.
    """
    ds = p.scale - q.scale
    dl = p.loc - q.loc
    # each factor divided by a scale first: 4 s_p s_q may underflow (or overflow)
    return jnp.log1p(((ds / p.scale) * (ds / q.scale) + (dl / p.scale) * (dl / q.scale)) / 4)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel):
    r"""KL between Gumbel distributions.

    With ``rho = b_p/b_q = 1 + e``, ``z = (mu_p - mu_q)/b_q``, torch's form
    ``-log rho + z + rho*gamma + exp(-z + lgamma(1 + rho)) - 1 - gamma`` equals

    .. math::
        \operatorname{expm1\_minus\_x}(L - z) + \big[\ln\Gamma(2 + e) - e\,\psi(2)\big]
        + \big[e - \operatorname{log1p}(e)\big],
        \qquad L = \ln\Gamma(2 + e),\ \psi(2) = 1 - \gamma,

    three non-negative terms (``lgamma_bregman`` and ``x_minus_log1p``).

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_gumbel_gumbel``.
    """
    e = (p.scale - q.scale) / q.scale
    z = (p.loc - q.loc) / q.scale
    two = jnp.full_like(e, 2.0)
    breg = lgamma_bregman(two, -e)  # lgamma(2 + e) - lgamma(2) - e psi(2)
    lg = breg + e * (1 - 0.57721566490153286060651209)  # lgamma(2 + e)
    return expm1_minus_x(lg - z) + breg + ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential):
    r"""KL between exponentials: ``r - 1 - log r`` with ``r = rate_q/rate_p``, as
    ``x_minus_log1p((rate_q - rate_p)/rate_p)``.

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities" (the Gamma KL with shape 1); torch's ``_kl_exponential_exponential``.
    """
    return ratio_minus_one_minus_log_of(q.rate, p.rate)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma):
    r"""KL between Gamma distributions (shape ``c``, rate ``r``).

    .. math::
        c_q \log\frac{r_p}{r_q} + \ln\Gamma(c_q) - \ln\Gamma(c_p) + (c_p - c_q)\psi(c_p)
        + (r_q - r_p)\frac{c_p}{r_p}
        = B(c_p, d) + c_p\,(e - \operatorname{log1p} e) - d \operatorname{log1p} e,

    with ``d = c_q - c_p``, ``e = (r_q - r_p)/r_p`` and ``B(a, d) = lnΓ(a + d) - lnΓ(a) - d ψ(a)``
    (:func:`jaxkl._numerics.lgamma_bregman` with ``h = -d``). The cross term ``d log1p(e)`` can cancel
    against the others along ``d/c ≈ e`` (equal means) when ``c`` is large: there the
    relative error grows like ``c * eps``.

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities"; torch's ``_kl_gamma_gamma``.
    """
    d = q.concentration - p.concentration
    e = (q.rate - p.rate) / p.rate
    log_ratio = jnp.where(jnp.abs(e) < 0.5, jnp.log1p(e), jnp.log(q.rate) - jnp.log(p.rate))
    return lgamma_bregman(p.concentration, -d) + p.concentration * ratio_minus_one_minus_log_of(q.rate, p.rate) - d * log_ratio


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta):
    r"""KL between Beta distributions.

    .. math::
        \ln\frac{B(a_q, b_q)}{B(a_p, b_p)} + (a_p - a_q)\psi(a_p) + (b_p - b_q)\psi(b_p)
        + (a_q - a_p + b_q - b_p)\psi(a_p + b_p)
        = B(a_p, d_a) + B(b_p, d_b) - B(a_p + b_p, d_a + d_b),

    with ``d_a = a_q - a_p``, ``d_b = b_q - b_p`` and ``B`` the log-gamma Bregman remainder
    (:func:`jaxkl._numerics.lgamma_bregman` with ``h = -d``), each accurate for tiny differences. The last
    term cancels part of the first two along ``d_a/a ≈ d_b/b`` (equal means) for large
    concentrations: there the relative error grows like ``min(a, b) * eps``.

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities" (the Dirichlet KL with two components); torch's ``_kl_beta_beta``.
    """
    a, b = p.concentration1, p.concentration0
    da = q.concentration1 - a
    db = q.concentration0 - b
    out = lgamma_bregman(a, -da) + lgamma_bregman(b, -db) - lgamma_bregman(a + b, -(da + db))
    return jnp.maximum(out, 0.0)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p: Pareto, q: Pareto):
    r"""KL between Pareto distributions: ``+inf`` when ``scale_p < scale_q``, else

    .. math::
        \alpha_q \log\frac{s_p}{s_q} + \frac{\alpha_q}{\alpha_p} - 1 - \log\frac{\alpha_q}{\alpha_p}
        = \alpha_q \operatorname{log1p}\frac{s_p - s_q}{s_q}
        + \operatorname{x\_minus\_log1p}\frac{\alpha_q - \alpha_p}{\alpha_p},

    two non-negative terms.

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_pareto_pareto``.
    """
    inside = p.scale >= q.scale
    ds = jnp.where(inside, p.scale - q.scale, 0.0)
    log_ratio = jnp.where(ds < 0.5 * q.scale, jnp.log1p(ds / q.scale), jnp.log(p.scale) - jnp.log(q.scale))
    kl = q.alpha * log_ratio + ratio_minus_one_minus_log_of(q.alpha, p.alpha)
    return jnp.where(inside, kl, jnp.inf)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform):
    r"""KL between uniforms: ``+inf`` unless ``[low_p, high_p] ⊆ [low_q, high_q]``, else

    .. math::
        \log\frac{h_q - l_q}{h_p - l_p}
        = \operatorname{log1p}\frac{(h_q - h_p) + (l_p - l_q)}{h_p - l_p}.

    References: Gil, Alajaji & Linder (2013); torch's ``_kl_uniform_uniform``.
    """
    inside = (q.low <= p.low) & (q.high >= p.high)
    extra = jnp.where(inside, (q.high - p.high) + (p.low - q.low), 0.0)
    return jnp.where(inside, jnp.log1p(extra / (p.high - p.low)), jnp.inf)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p: ContinuousBernoulli, q: ContinuousBernoulli):
    r"""KL between continuous Bernoullis: the Bregman divergence of the log-normaliser.

    With natural parameters ``eta = logit(lambda)`` and
    ``A(eta) = log((e^eta - 1)/eta) = eta/2 + s(eta/2)``, ``s(h) = log(sinh h / h)``,

    .. math::
        KL = A(\eta_q) - A(\eta_p) - (\eta_q - \eta_p) A'(\eta_p)
           = s(h_q) - s(h_p) - (h_q - h_p)\, s'(h_p), \qquad h = \eta / 2,

    evaluated by :func:`jaxkl._numerics.log_sinhc_bregman` from ``h_p`` and the difference
    ``h_q - h_p`` (formed from the difference of the probabilities when both are given as
    ``probs``). Equals torch's ``mean_p (logits_p - logits_q) + log C_p + log1p(-probs_p)
    - log C_q - log1p(-probs_q)``.

    References: Loaiza-Ganem & Cunningham (2019), "The continuous Bernoulli: fixing a
    pervasive error in variational autoencoders", NeurIPS; torch's
    ``_kl_continuous_bernoulli_continuous_bernoulli``.
    """
    if p._probs is not None and q._probs is not None:
        d_eta = logit_difference(p.probs, q.probs)
    else:
        d_eta = q.logits - p.logits
    return log_sinhc_bregman(p.logits / 2, d_eta / 2)
