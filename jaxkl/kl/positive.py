r"""Closed forms whose p is on the positive half-line (:mod:`jaxkl.distributions.positive`).

Same-family pairs, and the pairs within the gamma family (Chi2 is a Gamma; InverseGamma,
LogNormal and Chi are bijections of a Gamma, a Normal and a Chi2, and KL is invariant under
a common bijection), are written in terms of parameter *differences* (exact for close
floats) and non-cancelling pieces (:mod:`jaxkl._numerics`), so that nearly equal
distributions keep full relative precision in float32. Cross-family pairs are the textbook

.. math::
    D_{KL}(p \| q) = -H(p) + \mathbb{E}_p[-\log q(X)],

with the moments of p that :math:`-\log q` needs; a Pareto p is ``+inf`` where that moment
does not exist (a mask through ``jnp.where``, with harmless parameters substituted before any
``log`` or division, so gradients stay finite where the KL is).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxkl._numerics import (
    EULER_GAMMA,
    expm1_minus_x,
    lgamma_bregman,
    log_of_product_near_one,
    log_ratio,
    ratio_minus_one_minus_log_of,
    squared_ratio_minus_one_minus_log_of,
    x_minus_log1p,
)
from jaxkl.distributions.positive import (
    Chi,
    Chi2,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Pareto,
    Weibull,
)
from jaxkl.distributions.real_line import Gumbel, Normal
from jaxkl.kl._registry import register_kl
from jaxkl.kl.real_line import _kl_normal_normal, _normal_cross_entropy


def _exponential_cross_entropy(mean, q: Exponential):
    r""":math:`\mathbb{E}_p[-\log q(X)] = \lambda\,\mathbb{E}_p X - \log\lambda`, q exponential."""
    return q.rate * mean - jnp.log(q.rate)


def _gamma_cross_entropy(mean, mean_log, q: Gamma):
    r""":math:`\mathbb{E}_p[-\log q(X)]` for a Gamma q, from p's ``E[X]`` and ``E[log X]``.

    .. math:: \ln\Gamma(k) - k\log r - (k - 1)\,\mathbb{E}_p\log X + r\,\mathbb{E}_p X.
    """
    k, r = q.concentration, q.rate
    return gammaln(k) - k * jnp.log(r) - (k - 1.0) * mean_log + r * mean


@register_kl(HalfNormal, HalfNormal, jit=True)
def _kl_halfnormal_halfnormal(p: HalfNormal, q: HalfNormal):
    r"""KL between half-normals: the zero-mean Normal KL (folding at 0 keeps the density ratio).

    ``(rho^2 - 1 - 2 log rho)/2`` with ``rho = s_p/s_q``, formed from the difference of the
    scales (:func:`~jaxkl._numerics.squared_ratio_minus_one_minus_log_of`).

    References: torch's ``_kl_halfnormal_halfnormal`` (KL of the base normals).
    """
    return 0.5 * squared_ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(HalfCauchy, HalfCauchy, jit=True)
def _kl_halfcauchy_halfcauchy(p: HalfCauchy, q: HalfCauchy):
    r"""KL between half-Cauchy distributions: the Cauchy KL with both locations 0.

    .. math::
        \log\frac{(\gamma_p + \gamma_q)^2}{4 \gamma_p \gamma_q}
        = \operatorname{log1p}\frac{(\gamma_p - \gamma_q)^2}{4 \gamma_p \gamma_q}.

    Folding both densities at 0 doubles them on ``[0, inf)`` and keeps their ratio, and the
    Cauchy log-ratio is even in x for equal locations, so the expectation over the half
    line equals the one over the line.

    References: Chyzak & Nielsen (2019), arXiv:1905.10965 (the Cauchy KL).
    """
    ds = p.scale - q.scale
    return jnp.log1p((ds / p.scale) * (ds / q.scale) / 4)


@register_kl(Exponential, Exponential, jit=True)
def _kl_exponential_exponential(p: Exponential, q: Exponential):
    r"""KL between exponentials: ``r - 1 - log r`` with ``r = rate_q/rate_p``.

    Formed from the difference of the rates
    (:func:`~jaxkl._numerics.ratio_minus_one_minus_log_of`).

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities" (the Gamma KL with shape 1); torch's ``_kl_exponential_exponential``.
    """
    return ratio_minus_one_minus_log_of(q.rate, p.rate)


@register_kl(Gamma, Gamma, jit=True)
def _kl_gamma_gamma(p: Gamma, q: Gamma):
    r"""KL between Gamma distributions (shape ``c``, rate ``r``).

    .. math::
        c_q \log\frac{r_p}{r_q} + \ln\Gamma(c_q) - \ln\Gamma(c_p) + (c_p - c_q)\psi(c_p)
        + (r_q - r_p)\frac{c_p}{r_p}
        = B(c_p, d) + c_p\,(e - \operatorname{log1p} e) - d \operatorname{log1p} e,

    with ``d = c_q - c_p``, ``e = (r_q - r_p)/r_p`` and ``B(a, d) = lnΓ(a + d) - lnΓ(a) - d ψ(a)``
    (:func:`jaxkl._numerics.lgamma_bregman` with ``h = -d``). The cross term ``d log1p(e)`` can
    cancel against the others along ``d/c ≈ e`` (equal means) when ``c`` is large: there the
    relative error grows like ``c * eps``.

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities"; torch's ``_kl_gamma_gamma``.
    """
    d = q.concentration - p.concentration
    return (
        lgamma_bregman(p.concentration, -d)
        + p.concentration * ratio_minus_one_minus_log_of(q.rate, p.rate)
        - d * log_ratio(q.rate, p.rate)
    )


@register_kl(Chi2, Chi2, jit=True)
@register_kl(Chi2, Gamma, jit=True)
@register_kl(Gamma, Chi2, jit=True)
def _kl_chi2_gamma(p: Gamma, q: Gamma):
    r"""KL between a chi-squared and a Gamma (either order) or two chi-squareds.

    ``Chi2(df)`` is ``Gamma(df/2, 1/2)``, so this is :func:`_kl_gamma_gamma`; registering the
    pairs keeps their dispatch free of ambiguity.

    References: Penny (2001), "KL-divergences of Normal, Gamma, Dirichlet and Wishart
    densities"; TFP's ``_kl_chi2_chi2``; torch (through its Gamma pair).
    """
    return _kl_gamma_gamma(p, q)


@register_kl(InverseGamma, InverseGamma, jit=True)
def _kl_inversegamma_inversegamma(p: InverseGamma, q: InverseGamma):
    r"""KL between inverse-gammas: the Gamma KL of ``1/X ~ Gamma(concentration, rate)``.

    References: Kullback (1959), invariance under bijections; Penny (2001),
    "KL-divergences of Normal, Gamma, Dirichlet and Wishart densities" (the Gamma KL).
    """
    return _kl_gamma_gamma(p, q)


@register_kl(Chi, Chi, jit=True)
def _kl_chi_chi(p: Chi, q: Chi):
    r"""KL between chi distributions (``k = df``): a log-gamma Bregman remainder.

    .. math::
        \ln\Gamma(k_q/2) - \ln\Gamma(k_p/2) - \frac{k_q - k_p}{2}\,\psi(k_p/2)
        = B\big(k_p/2, -(k_q - k_p)/2\big)

    (:func:`jaxkl._numerics.lgamma_bregman`), the same value as for ``Chi2`` (``X^2`` is a
    bijection of the support).

    References: TFP's ``_kl_chi_chi``; the chi-squared KL via Penny (2001).
    """
    return lgamma_bregman(0.5 * p.df, -0.5 * (q.df - p.df))


@register_kl(Weibull, Weibull, jit=True)
def _kl_weibull_weibull(p: Weibull, q: Weibull):
    r"""KL between Weibulls (scale ``lambda``, concentration ``k``), as three non-negative terms.

    With ``s = (k_q - k_p)/k_p``, ``l = k_q log(lambda_p/lambda_q)`` and
    ``L = lnΓ(2 + s) = B(2, -s) + s psi(2)``, the textbook form
    ``-log(1 + s) - l + gamma s + exp(l + L) - 1`` equals

    .. math::
        \operatorname{expm1\_minus\_x}(l + L) + B(2, -s) + (s - \operatorname{log1p} s).

    References: Bauckhage (2013), "Computing the Kullback-Leibler divergence between two
    Weibull distributions", arXiv:1310.3713; TFP's ``_kl_weibull_weibull``.
    """
    s = (q.concentration - p.concentration) * (1.0 / p.concentration)
    ell = q.concentration * log_ratio(p.scale, q.scale)
    breg = lgamma_bregman(jnp.full_like(s, 2.0), -s)
    lg = breg + s * (1 - EULER_GAMMA)
    return (
        expm1_minus_x(ell + lg)
        + breg
        + ratio_minus_one_minus_log_of(q.concentration, p.concentration)
    )


@register_kl(Weibull, Gamma, jit=True)
def _kl_weibull_gamma(p: Weibull, q: Gamma):
    r"""KL from a Weibull ``(lambda, k)`` to a Gamma ``(alpha, beta)`` (rate ``beta``).

    .. math::
        -H(p) - \alpha\log\beta + \ln\Gamma(\alpha) - (\alpha - 1)\Big(\log\lambda
        - \frac{\gamma}{k}\Big) + \beta\lambda\,\Gamma(1 + 1/k).

    ``Weibull(lambda, 1) = Gamma(1, 1/lambda)``; around that edge, with ``h = 1/k - 1``,
    ``c = alpha - 1``, ``L = log(beta lambda)`` (from the exact product,
    :func:`~jaxkl._numerics.log_of_product_near_one`) and ``G = lnΓ(2 + h)``, it is

    .. math::
        \operatorname{expm1\_minus\_x}(L + G) + B(2, -h) + (h - \operatorname{log1p} h)
        + B(1, -c) - cL + \gamma c h,

    four non-negative terms and two small cross terms.

    References: TFP's ``_kl_weibull_gamma``; the Weibull moments
    ``E[log X] = log lambda - gamma/k``, ``E[X] = lambda Γ(1 + 1/k)``.
    """
    k, lam = p.concentration, p.scale
    h = (1 - k) / k
    c = q.concentration - 1
    big_l = log_of_product_near_one(q.rate, lam)
    breg2 = lgamma_bregman(jnp.full_like(h, 2.0), -h)
    g = breg2 + h * (1 - EULER_GAMMA)
    breg1 = lgamma_bregman(jnp.ones_like(c), -c)
    return (
        expm1_minus_x(big_l + g)
        + breg2
        + x_minus_log1p(h)
        + breg1
        - c * big_l
        + EULER_GAMMA * c * h
    )


@register_kl(LogNormal, LogNormal, jit=True)
def _kl_lognormal_lognormal(p: LogNormal, q: LogNormal):
    r"""KL between log-normals: the Normal KL of ``log X`` (KL is invariant under ``exp``).

    References: Kullback (1959), invariance under bijections; TFP's
    ``_kl_lognormal_lognormal``; torch's ``TransformedDistribution`` pair.
    """
    return _kl_normal_normal(p, q)


@register_kl(Pareto, Pareto, jit=True)
def _kl_pareto_pareto(p: Pareto, q: Pareto):
    r"""KL between Pareto distributions: ``+inf`` when ``scale_p < scale_q``, else two terms.

    .. math::
        \alpha_q \log\frac{s_p}{s_q} + \frac{\alpha_q}{\alpha_p} - 1 - \log\frac{\alpha_q}{\alpha_p}
        = \alpha_q \operatorname{log1p}\frac{s_p - s_q}{s_q}
        + \operatorname{x\_minus\_log1p}\frac{\alpha_q - \alpha_p}{\alpha_p},

    both non-negative.

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_pareto_pareto``.
    """
    kl = q.alpha * log_ratio(p.scale, q.scale) + ratio_minus_one_minus_log_of(q.alpha, p.alpha)
    return jnp.where(p.scale >= q.scale, kl, jnp.inf)


@register_kl(Exponential, Gamma, jit=True)
def _kl_exponential_gamma(p: Exponential, q: Gamma):
    r"""KL(Exp(lam) || Gamma(k, r)), accurate where ``r ~ lam``.

    .. math::
        k \log\frac{\lambda}{r} + \frac{r}{\lambda} - 1 + \ln\Gamma(k) + (k-1)\gamma

    from :math:`\mathbb{E}[\log X] = -\gamma - \log\lambda`, :math:`\mathbb{E}X = 1/\lambda`.
    With :math:`y = r/\lambda` it is evaluated as
    :math:`(y - 1 - \log y) + (1 - k)\log y + [\ln\Gamma(k) + (k-1)\gamma]`, so that the
    rate part keeps its accuracy (the bracket, ``O((k-1)^2)``, is formed directly).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 19; torch's ``_kl_exponential_gamma``.
    """
    lam, k, r = p.rate, q.concentration, q.rate
    return (
        ratio_minus_one_minus_log_of(r, lam)
        + (1.0 - k) * log_ratio(r, lam)
        + gammaln(k)
        + (k - 1.0) * EULER_GAMMA
    )


@register_kl(Exponential, Gumbel, jit=True)
def _kl_exponential_gumbel(p: Exponential, q: Gumbel):
    r"""KL(Exp(lam) || Gumbel(mu, beta)) from the exponential's Laplace transform.

    .. math::
        \log c - 1 + \frac1c - \frac{\mu}{\beta} + e^{\mu/\beta}\,\frac{c}{1 + c},
        \qquad c = \lambda\beta,\quad \mathbb{E}e^{-X/\beta} = \frac{c}{1 + c}.

    References: the Laplace transform of the exponential distribution; torch's
    ``_kl_exponential_gumbel``.
    """
    c = p.rate * q.scale
    z = q.loc / q.scale
    return jnp.log(c) - 1.0 + 1.0 / c - z + jnp.exp(z - jnp.log1p(1.0 / c))


@register_kl(Exponential, Normal, jit=True)
def _kl_exponential_normal(p: Exponential, q: Normal):
    r"""KL(Exp(lam) || N(mu, sigma)) from the exponential's entropy, mean and variance.

    .. math::
        \log\lambda - 1 + \log(\sigma\sqrt{2\pi})
        + \frac{1/\lambda^2 + (1/\lambda - \mu)^2}{2\sigma^2}.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 19; torch's ``_kl_exponential_normal``.
    """
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Gamma, Exponential, jit=True)
def _kl_gamma_exponential(p: Gamma, q: Exponential):
    r"""KL(Gamma(k, r) || Exp(lam)) = -H(p) - log(lam) + lam k / r, accurate where ``r ~ lam``.

    With :math:`x = \lambda/r` it is evaluated as
    :math:`(x - 1 - \log x) + (k - 1)(x - 1) + [(k-1)\psi(k) - \ln\Gamma(k)]`, so that the
    rate part keeps its accuracy (the bracket, ``O((k-1)^2)``, is formed directly).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17 (Gamma entropy); torch's
    ``_kl_gamma_exponential``.
    """
    k, r = p.concentration, p.rate
    return (
        ratio_minus_one_minus_log_of(q.rate, r)
        + (k - 1.0) * ((q.rate - r) / r)
        - gammaln(k)
        + (k - 1.0) * digamma(k)
    )


@register_kl(Gamma, Gumbel, jit=True)
def _kl_gamma_gumbel(p: Gamma, q: Gumbel):
    r"""KL(Gamma(k, r) || Gumbel(mu, beta)) from the Gamma Laplace transform.

    .. math::
        -H(p) + \log\beta + \frac{k/r - \mu}{\beta}
        + \exp\Big(\frac{\mu}{\beta} - k\log\big(1 + \tfrac{1}{r\beta}\big)\Big),

    with :math:`\mathbb{E}e^{-X/\beta} = (1 + 1/(r\beta))^{-k}` combined in the exponent, so
    it does not overflow where torch's product does.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17; torch's ``_kl_gamma_gumbel``.
    """
    k, r = p.concentration, p.rate
    z = q.loc / q.scale
    laplace = jnp.exp(z - k * jnp.log1p(1.0 / (r * q.scale)))
    return -p.entropy() + jnp.log(q.scale) + k / (r * q.scale) - z + laplace


@register_kl(Gamma, Normal, jit=True)
def _kl_gamma_normal(p: Gamma, q: Normal):
    r"""KL(Gamma(k, r) || N(mu, sigma)) from the Gamma entropy, mean and variance.

    .. math::
        -H(p) + \log(\sigma\sqrt{2\pi}) + \frac{k/r^2 + (k/r - \mu)^2}{2\sigma^2}.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17; torch's ``_kl_gamma_normal``.
    """
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


def _pareto_with_moment(p: Pareto, order: int):
    """``(ok, p')``: where the ``order``-th moment of p exists, and p with a safe ``alpha``.

    ``p'`` equals p where ``ok`` and has ``alpha = order + 1`` elsewhere, so the closed forms
    stay finite (with finite gradients) on the entries that are then masked to ``+inf``.
    """
    ok = p.alpha > order
    return ok, Pareto(p.scale, jnp.where(ok, p.alpha, order + 1.0), validate_args=False)


@register_kl(Pareto, Exponential, jit=True)
def _kl_pareto_exponential(p: Pareto, q: Exponential):
    r"""KL(Pareto(s, alpha) || Exp(lam)) = -H(p) - log lam + lam alpha s/(alpha - 1).

    ``+inf`` for ``alpha <= 1`` (infinite mean).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20 (Pareto moments and entropy);
    torch's ``_kl_pareto_exponential``.
    """
    ok, safe = _pareto_with_moment(p, 1)
    value = -safe.entropy() + _exponential_cross_entropy(safe.mean, q)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Pareto, Gamma, jit=True)
def _kl_pareto_gamma(p: Pareto, q: Gamma):
    r"""KL(Pareto(s, alpha) || Gamma(k, r)); ``+inf`` for ``alpha <= 1`` (infinite mean).

    .. math::
        -H(p) + \ln\Gamma(k) - k\log r - (k - 1)\big(\log s + 1/\alpha\big)
        + \frac{r\alpha s}{\alpha - 1}.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20 (:math:`\mathbb{E}\log X = \log s +
    1/\alpha`); torch's ``_kl_pareto_gamma``.
    """
    ok, safe = _pareto_with_moment(p, 1)
    mean_log = jnp.log(safe.scale) + 1.0 / safe.alpha
    value = -safe.entropy() + _gamma_cross_entropy(safe.mean, mean_log, q)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Pareto, Normal, jit=True)
def _kl_pareto_normal(p: Pareto, q: Normal):
    r"""KL(Pareto(s, alpha) || N(mu, sigma)); ``+inf`` for ``alpha <= 2`` (infinite variance).

    :math:`-H(p)` and the normal cross-entropy of :math:`\mathbb{E}X = \alpha s/(\alpha-1)`,
    :math:`\mathrm{Var}X = \alpha s^2/((\alpha-1)^2(\alpha-2))`.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20; torch's ``_kl_pareto_normal``.
    """
    ok, safe = _pareto_with_moment(p, 2)
    value = -safe.entropy() + _normal_cross_entropy(safe.mean, safe.variance, q)
    return jnp.where(ok, value, jnp.inf)
