r"""Cross-family closed forms whose p is a univariate continuous family.

The same-family half of the group is :mod:`jaxkl.kl.continuous`; pairs that are ``+inf``
for every parameter value (p's support never inside q's) are in :mod:`jaxkl.kl.infinite`.

Every form here is the textbook decomposition

.. math::
    D_{KL}(p \| q) = -H(p) + \mathbb{E}_p[-\log q(X)],

with the moments of p that :math:`-\log q` needs (``E[X]``, ``E[X^2]``, ``E[log X]``,
``E[exp(-X/b)]``, ``E|X - m|``). They are torch.distributions' pairs, with torch's values;
where a pair is ``+inf`` only for some parameters (support or moment conditions), the
``+inf`` comes from a mask through ``jnp.where``, and the masked-out inputs are replaced by
harmless ones *before* any ``log`` or division, so gradients stay finite where the KL is.

Differences from torch (the mathematics wins, see tests/kl/test_continuous_cross.py):

* ``ContinuousBernoulli || Uniform`` is finite when ``low <= 0`` and ``high >= 1``; torch
  returns ``+inf`` also when ``low == 0`` or ``high == 1`` (e.g. against ``Uniform(0, 1)``).
* ``Uniform || ContinuousBernoulli`` is finite when ``0 <= low`` and ``high <= 1``; torch
  returns ``+inf`` also when ``low == 0`` or ``high == 1`` (e.g. for ``Uniform(0, 1)``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import betaln, digamma, erf, gammaln

from jaxkl._numerics import coth_minus_inv, log_sinhc, log_sinhc_second_derivative, x_minus_log1p
from jaxkl.distributions.continuous import (
    Beta,
    ContinuousBernoulli,
    Exponential,
    Gamma,
    Gumbel,
    Laplace,
    Normal,
    Pareto,
    Uniform,
)
from jaxkl.kl._registry import register_kl

_EULER = 0.57721566490153286061
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# --------------------------------------------------------------------------------------
# Moments and entropies of p, written from the parameters (so that the closed forms do
# not depend on how a class caches its properties).
# --------------------------------------------------------------------------------------


def _safe_log(x, ok, fill=1.0):
    """``log(x)`` where ``ok``, a finite dummy elsewhere (the first half of a double where)."""
    return jnp.log(jnp.where(ok, x, fill))


def _xlogx(x):
    """``x log x`` with the limit 0 at x = 0 and finite gradients there."""
    pos = x > 0
    return jnp.where(pos, x * jnp.log(jnp.where(pos, x, 1.0)), 0.0)


def _uniform_mean_log(low, high):
    r""":math:`\mathbb{E}[\log X]` for ``X ~ Uniform(low, high)``, ``0 <= low < high``:
    :math:`(h \log h - l \log l)/(h - l) - 1`."""
    return (_xlogx(high) - _xlogx(low)) / (high - low) - 1.0


def _beta_neg_entropy(a, b):
    r""":math:`-H(\mathrm{Beta}(a, b)) = -\log B(a, b) + (a-1)\psi(a) + (b-1)\psi(b) - (a+b-2)\psi(a+b)`."""
    return -betaln(a, b) + (a - 1.0) * digamma(a) + (b - 1.0) * digamma(b) - (a + b - 2.0) * digamma(a + b)


def _gamma_neg_entropy(k, r):
    r""":math:`-H(\mathrm{Gamma}(k, r)) = \log r - \log\Gamma(k) + (k-1)\psi(k) - k`."""
    return jnp.log(r) - gammaln(k) + (k - 1.0) * digamma(k) - k


def _normal_cross_entropy(mean, var, q: Normal):
    r""":math:`\mathbb{E}_p[-\log \mathcal{N}(X; \mu, \sigma)]` from p's mean and variance:
    :math:`\log\sigma + \tfrac12\log 2\pi + (\mathrm{Var}_p + (\mathbb{E}_p X - \mu)^2) / (2\sigma^2)`."""
    d = mean - q.loc
    return jnp.log(q.scale) + _HALF_LOG_2PI + 0.5 * (var + d * d) / (q.scale * q.scale)


# Continuous Bernoulli, in its natural parameter eta (the logit): density exp(eta x - A(eta))
# on [0, 1] with A(eta) = log(expm1(eta) / eta) = h + log(sinh h / h), h = eta / 2; the mean
# is A'(eta) = 1/2 + (coth h - 1/h)/2 and the variance A''(eta) = (1/h^2 - 1/sinh(h)^2)/4.
# The _numerics helpers evaluate these without the 0/0 at eta = 0.


def _cb_parts(eta):
    """``(A(eta), mean, variance)`` of ContinuousBernoulli in its logit ``eta``."""
    h = 0.5 * eta
    return h + log_sinhc(h), 0.5 + 0.5 * coth_minus_inv(h), 0.25 * log_sinhc_second_derivative(h)


def _cb_neg_entropy_and_moments(d: ContinuousBernoulli):
    """``(-H, mean, variance)`` of a ContinuousBernoulli: ``-H = eta mean - A(eta)``."""
    eta = d.logits
    log_norm, mean, var = _cb_parts(eta)
    return eta * mean - log_norm, mean, var


def _cb_cross_entropy(mean_x, q: ContinuousBernoulli):
    r""":math:`\mathbb{E}_p[-\log q(X)] = A(\eta) - \eta\,\mathbb{E}_p X` for q = ContinuousBernoulli."""
    eta = q.logits
    log_norm, _, _ = _cb_parts(eta)
    return log_norm - eta * mean_x


# --------------------------------------------------------------------------------------
# p = Beta
# --------------------------------------------------------------------------------------


def _beta_mean(p: Beta):
    return p.concentration1 / (p.concentration1 + p.concentration0)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p: Beta, q: ContinuousBernoulli):
    r"""KL(Beta(a, b) || CB(eta)) = -H(p) + A(eta) - eta a/(a+b), with the CB log-normaliser
    :math:`A(\eta) = \log(\mathrm{expm1}(\eta)/\eta)`.

    References: Loaiza-Ganem & Cunningham, "The continuous Bernoulli", NeurIPS 2019 (the
    density and its normaliser); torch's ``_kl_beta_continuous_bernoulli``.
    """
    return _beta_neg_entropy(p.concentration1, p.concentration0) + _cb_cross_entropy(_beta_mean(p), q)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p: Beta, q: Exponential):
    r"""KL(Beta(a, b) || Exp(rate)) = -H(p) - log(rate) + rate a/(a+b).

    References: the Beta entropy and mean (Johnson, Kotz & Balakrishnan, *Continuous
    Univariate Distributions* vol. 2, ch. 25); torch's ``_kl_beta_exponential``.
    """
    return _beta_neg_entropy(p.concentration1, p.concentration0) - jnp.log(q.rate) + q.rate * _beta_mean(p)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p: Beta, q: Gamma):
    r"""KL(Beta(a, b) || Gamma(k, r)) = -H(p) + log Gamma(k) - k log r - (k-1) E[log X] + r E[X],

    with :math:`\mathbb{E}[\log X] = \psi(a) - \psi(a+b)`.

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 25 (log-moments of the Beta);
    torch's ``_kl_beta_gamma``.
    """
    a, b = p.concentration1, p.concentration0
    k, r = q.concentration, q.rate
    mean_log = digamma(a) - digamma(a + b)
    return _beta_neg_entropy(a, b) + gammaln(k) - k * jnp.log(r) - (k - 1.0) * mean_log + r * _beta_mean(p)


@register_kl(Beta, Normal)
def _kl_beta_normal(p: Beta, q: Normal):
    r"""KL(Beta(a, b) || N(mu, sigma)) = -H(p) + log(sigma sqrt(2 pi)) + (Var + (E X - mu)^2)/(2 sigma^2),

    with :math:`\mathbb{E}X = a/(a+b)`, :math:`\mathrm{Var}X = ab/((a+b)^2(a+b+1))`.

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 25; torch's ``_kl_beta_normal``.
    """
    a, b = p.concentration1, p.concentration0
    s = a + b
    mean = a / s
    var = mean * (b / s) / (s + 1.0)
    return _beta_neg_entropy(a, b) + _normal_cross_entropy(mean, var, q)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p: Beta, q: Uniform):
    r"""KL(Beta(a, b) || U(low, high)) = -H(p) + log(high - low) if [0, 1] ⊆ [low, high], else +inf.

    References: the Beta entropy (Johnson, Kotz & Balakrishnan vol. 2, ch. 25); torch's
    ``_kl_beta_uniform``.
    """
    ok = (q.low <= 0.0) & (q.high >= 1.0)
    width = _safe_log(q.high - q.low, ok)
    value = _beta_neg_entropy(p.concentration1, p.concentration0) + width
    return jnp.where(ok, value, jnp.inf)


# --------------------------------------------------------------------------------------
# p = ContinuousBernoulli
# --------------------------------------------------------------------------------------


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p: ContinuousBernoulli, q: Exponential):
    r"""KL(CB(eta) || Exp(rate)) = -H(p) - log(rate) + rate E[X], with
    :math:`-H = \eta\,\mathbb{E}X - A(\eta)`, :math:`\mathbb{E}X = A'(\eta)`.

    References: Loaiza-Ganem & Cunningham, NeurIPS 2019 (mean and entropy); torch's
    ``_kl_continuous_bernoulli_exponential``.
    """
    neg_h, mean, _ = _cb_neg_entropy_and_moments(p)
    return neg_h - jnp.log(q.rate) + q.rate * mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p: ContinuousBernoulli, q: Normal):
    r"""KL(CB(eta) || N(mu, sigma)) = -H(p) + log(sigma sqrt(2 pi)) + (Var + (E X - mu)^2)/(2 sigma^2),
    with :math:`\mathrm{Var}X = A''(\eta)`.

    References: Loaiza-Ganem & Cunningham, NeurIPS 2019; torch's
    ``_kl_continuous_bernoulli_normal``.
    """
    neg_h, mean, var = _cb_neg_entropy_and_moments(p)
    return neg_h + _normal_cross_entropy(mean, var, q)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p: ContinuousBernoulli, q: Uniform):
    r"""KL(CB(eta) || U(low, high)) = -H(p) + log(high - low) if [0, 1] ⊆ [low, high], else +inf.

    torch returns ``+inf`` also when ``low == 0`` or ``high == 1``, where the KL is finite
    (e.g. against ``Uniform(0, 1)`` it is ``-H(p)``); this follows the mathematics.

    References: Loaiza-Ganem & Cunningham, NeurIPS 2019 (entropy); torch's
    ``_kl_continuous_bernoulli_uniform``.
    """
    ok = (q.low <= 0.0) & (q.high >= 1.0)
    neg_h, _, _ = _cb_neg_entropy_and_moments(p)
    return jnp.where(ok, neg_h + _safe_log(q.high - q.low, ok), jnp.inf)


# --------------------------------------------------------------------------------------
# p = Exponential
# --------------------------------------------------------------------------------------


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p: Exponential, q: Gamma):
    r"""KL(Exp(lam) || Gamma(k, r)) = k log(lam/r) + r/lam - 1 + log Gamma(k) + (k-1) gamma_E,

    from :math:`\mathbb{E}[\log X] = -\gamma_E - \log\lambda`, :math:`\mathbb{E}X = 1/\lambda`.
    With :math:`y = r/\lambda` it is evaluated as
    :math:`(y - 1 - \log y) + (1 - k)\log y + [\log\Gamma(k) + (k-1)\gamma_E]`, so that the
    rate part keeps its accuracy when ``r ~ lam`` (the bracket, ``O((k-1)^2)``, is formed
    directly).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 19; torch's ``_kl_exponential_gamma``.
    """
    lam, k, r = p.rate, q.concentration, q.rate
    y_minus_1 = (r - lam) / lam
    return x_minus_log1p(y_minus_1) + (1.0 - k) * jnp.log1p(y_minus_1) + gammaln(k) + (k - 1.0) * _EULER


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p: Exponential, q: Gumbel):
    r"""KL(Exp(lam) || Gumbel(mu, beta)) = log(c) - 1 + 1/c - mu/beta + e^{mu/beta} c/(1 + c),
    with :math:`c = \lambda\beta`, from :math:`\mathbb{E}e^{-X/\beta} = c/(1+c)`.

    References: the Laplace transform of the exponential distribution; torch's
    ``_kl_exponential_gumbel``.
    """
    c = p.rate * q.scale
    z = q.loc / q.scale
    return jnp.log(c) - 1.0 + 1.0 / c - z + jnp.exp(z - jnp.log1p(1.0 / c))


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p: Exponential, q: Normal):
    r"""KL(Exp(lam) || N(mu, sigma)) = log(lam) - 1 + log(sigma sqrt(2 pi)) + (1/lam^2 + (1/lam - mu)^2)/(2 sigma^2).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 19; torch's ``_kl_exponential_normal``.
    """
    inv = 1.0 / p.rate
    return jnp.log(p.rate) - 1.0 + _normal_cross_entropy(inv, inv * inv, q)


# --------------------------------------------------------------------------------------
# p = Gamma
# --------------------------------------------------------------------------------------


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p: Gamma, q: Exponential):
    r"""KL(Gamma(k, r) || Exp(lam)) = -H(p) - log(lam) + lam k / r.

    With :math:`x = \lambda/r` it is evaluated as
    :math:`(x - 1 - \log x) + (k - 1)(x - 1) + [(k-1)\psi(k) - \log\Gamma(k)]`, so that the
    rate part keeps its accuracy when ``r ~ lam`` (the bracket, ``O((k-1)^2)``, is formed
    directly).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17 (Gamma entropy); torch's
    ``_kl_gamma_exponential``.
    """
    k, r = p.concentration, p.rate
    x_minus_1 = (q.rate - r) / r
    return x_minus_log1p(x_minus_1) + (k - 1.0) * x_minus_1 - gammaln(k) + (k - 1.0) * digamma(k)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p: Gamma, q: Gumbel):
    r"""KL(Gamma(k, r) || Gumbel(mu, beta)) = -H(p) + log(beta) + (k/r - mu)/beta
    + exp(mu/beta - k log(1 + 1/(r beta))),

    from the Gamma Laplace transform :math:`\mathbb{E}e^{-X/\beta} = (1 + 1/(r\beta))^{-k}`
    (combined in the exponent, so it does not overflow where torch's product does).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17; torch's ``_kl_gamma_gumbel``.
    """
    k, r = p.concentration, p.rate
    z = q.loc / q.scale
    laplace = jnp.exp(z - k * jnp.log1p(1.0 / (r * q.scale)))
    return _gamma_neg_entropy(k, r) + jnp.log(q.scale) + k / (r * q.scale) - z + laplace


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p: Gamma, q: Normal):
    r"""KL(Gamma(k, r) || N(mu, sigma)) = -H(p) + log(sigma sqrt(2 pi)) + (k/r^2 + (k/r - mu)^2)/(2 sigma^2).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 17; torch's ``_kl_gamma_normal``.
    """
    k, r = p.concentration, p.rate
    return _gamma_neg_entropy(k, r) + _normal_cross_entropy(k / r, k / (r * r), q)


# --------------------------------------------------------------------------------------
# p = Gumbel, Laplace, Normal
# --------------------------------------------------------------------------------------


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p: Gumbel, q: Normal):
    r"""KL(Gumbel(m, s) || N(mu, sigma)) = -log s - gamma_E - 1 + log(sigma sqrt(2 pi))
    + (pi^2 s^2/6 + (m + s gamma_E - mu)^2)/(2 sigma^2).

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 22 (Gumbel moments and entropy);
    torch's ``_kl_gumbel_normal``.
    """
    s = p.scale
    return -jnp.log(s) - _EULER - 1.0 + _normal_cross_entropy(p.loc + s * _EULER, (math.pi**2 / 6.0) * s * s, q)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p: Laplace, q: Normal):
    r"""KL(Laplace(m, b) || N(mu, sigma)) = -1 - log(2b) + log(sigma sqrt(2 pi)) + (2b^2 + (m - mu)^2)/(2 sigma^2).

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 24; torch's ``_kl_laplace_normal``.
    """
    b = p.scale
    return -1.0 - jnp.log(2.0 * b) + _normal_cross_entropy(p.loc, 2.0 * b * b, q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p: Normal, q: Gumbel):
    r"""KL(N(m, s) || Gumbel(mu, beta)) = -log(s/beta) - (1 + log 2 pi)/2 + (m - mu)/beta
    + exp(-(m - mu)/beta + s^2/(2 beta^2)),

    from the Gaussian moment generating function.

    References: the normal MGF; torch's ``_kl_normal_gumbel``.
    """
    u = (p.loc - q.loc) / q.scale
    v = p.scale / q.scale
    return -jnp.log(v) - 0.5 - _HALF_LOG_2PI + u + jnp.exp(0.5 * v * v - u)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p: Normal, q: Laplace):
    r"""KL(N(m, s) || Laplace(mu, b)) = -log(s/b) - (1 + log(pi/2))/2 + E|X - mu|/b,

    with the folded-normal mean :math:`\mathbb{E}|X-\mu| = s\sqrt{2/\pi}\,e^{-d^2/(2s^2)} + d\,\mathrm{erf}(d/(s\sqrt2))`,
    :math:`d = m - \mu`.

    References: Leone, Nelson & Nottingham, "The folded normal distribution",
    Technometrics 3 (1961); torch's ``_kl_normal_laplace``.
    """
    d = p.loc - q.loc
    s = p.scale
    z = d / s
    folded = s * math.sqrt(2.0 / math.pi) * jnp.exp(-0.5 * z * z) + d * erf(z / math.sqrt(2.0))
    return -jnp.log(s / q.scale) - 0.5 * (1.0 + math.log(0.5 * math.pi)) + folded / q.scale


# --------------------------------------------------------------------------------------
# p = Pareto: +inf where the moment that -log q needs does not exist
# --------------------------------------------------------------------------------------


def _pareto_neg_entropy(s, a):
    r""":math:`-H(\mathrm{Pareto}(s, \alpha)) = \log(\alpha/s) - 1/\alpha - 1`."""
    return jnp.log(a) - jnp.log(s) - 1.0 / a - 1.0


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p: Pareto, q: Exponential):
    r"""KL(Pareto(s, alpha) || Exp(lam)) = -H(p) - log lam + lam alpha s/(alpha - 1) for alpha > 1,
    +inf for alpha <= 1 (infinite mean).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20 (Pareto moments and entropy);
    torch's ``_kl_pareto_exponential``.
    """
    ok = p.alpha > 1.0
    a = jnp.where(ok, p.alpha, 2.0)
    value = _pareto_neg_entropy(p.scale, a) - jnp.log(q.rate) + q.rate * a * p.scale / (a - 1.0)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p: Pareto, q: Gamma):
    r"""KL(Pareto(s, alpha) || Gamma(k, r)) = -H(p) + log Gamma(k) - k log r - (k-1)(log s + 1/alpha)
    + r alpha s/(alpha - 1) for alpha > 1, +inf for alpha <= 1.

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20 (:math:`\mathbb{E}\log X = \log s + 1/\alpha`);
    torch's ``_kl_pareto_gamma``.
    """
    ok = p.alpha > 1.0
    a = jnp.where(ok, p.alpha, 2.0)
    s, k, r = p.scale, q.concentration, q.rate
    mean_log = jnp.log(s) + 1.0 / a
    value = _pareto_neg_entropy(s, a) + gammaln(k) - k * jnp.log(r) - (k - 1.0) * mean_log + r * a * s / (a - 1.0)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p: Pareto, q: Normal):
    r"""KL(Pareto(s, alpha) || N(mu, sigma)) = -H(p) + log(sigma sqrt(2 pi)) + (Var + (E X - mu)^2)/(2 sigma^2)
    for alpha > 2 (:math:`\mathbb{E}X = \alpha s/(\alpha-1)`, :math:`\mathrm{Var}X = \alpha s^2/((\alpha-1)^2(\alpha-2))`),
    +inf for alpha <= 2 (infinite variance).

    References: Johnson, Kotz & Balakrishnan vol. 1, ch. 20; torch's ``_kl_pareto_normal``.
    """
    ok = p.alpha > 2.0
    a = jnp.where(ok, p.alpha, 3.0)
    s = p.scale
    m = s / (a - 1.0)
    value = _pareto_neg_entropy(s, a) + _normal_cross_entropy(a * m, a * m * m / (a - 2.0), q)
    return jnp.where(ok, value, jnp.inf)


# --------------------------------------------------------------------------------------
# p = Uniform: +inf unless [low, high] lies in q's support
# --------------------------------------------------------------------------------------


def _safe_interval(p: Uniform, ok, low_fill, high_fill):
    """p's ``(low, high)`` where ``ok``, a harmless interval elsewhere (double where)."""
    return jnp.where(ok, p.low, low_fill), jnp.where(ok, p.high, high_fill)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p: Uniform, q: Beta):
    r"""KL(U(l, h) || Beta(a, b)) = -log(h - l) + log B(a, b) - (a-1) E[log X] - (b-1) E[log(1-X)]
    for 0 <= l < h <= 1, +inf otherwise, with
    :math:`\mathbb{E}\log X = (h\log h - l\log l)/(h-l) - 1`.

    References: elementary integration of :math:`\log x` over :math:`[l, h]`; torch's
    ``_kl_uniform_beta``.
    """
    ok = (p.low >= 0.0) & (p.high <= 1.0)
    low, high = _safe_interval(p, ok, 0.25, 0.75)
    a, b = q.concentration1, q.concentration0
    value = (
        -jnp.log(high - low)
        + betaln(a, b)
        - (a - 1.0) * _uniform_mean_log(low, high)
        - (b - 1.0) * _uniform_mean_log(1.0 - high, 1.0 - low)
    )
    return jnp.where(ok, value, jnp.inf)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p: Uniform, q: ContinuousBernoulli):
    r"""KL(U(l, h) || CB(eta)) = -log(h - l) + A(eta) - eta (l + h)/2 for 0 <= l < h <= 1, +inf otherwise.

    torch returns ``+inf`` also when ``l == 0`` or ``h == 1``, where the KL is finite (e.g.
    for ``Uniform(0, 1)`` it is ``A(eta) - eta/2``); this follows the mathematics.

    References: Loaiza-Ganem & Cunningham, NeurIPS 2019 (the CB normaliser); torch's
    ``_kl_uniform_continuous_bernoulli``.
    """
    ok = (p.low >= 0.0) & (p.high <= 1.0)
    low, high = _safe_interval(p, ok, 0.25, 0.75)
    value = -jnp.log(high - low) + _cb_cross_entropy(0.5 * (low + high), q)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p: Uniform, q: Exponential):
    r"""KL(U(l, h) || Exp(lam)) = -log(h - l) - log(lam) + lam (l + h)/2 for l >= 0, +inf otherwise.

    References: elementary integration; torch's ``_kl_uniform_exponetial``.
    """
    ok = p.low >= 0.0
    low, high = _safe_interval(p, ok, 1.0, 2.0)
    value = -jnp.log(high - low) - jnp.log(q.rate) + 0.5 * q.rate * (low + high)
    return jnp.where(ok, value, jnp.inf)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p: Uniform, q: Gamma):
    r"""KL(U(l, h) || Gamma(k, r)) = -log(h - l) + log Gamma(k) - k log r - (k-1) E[log X] + r (l + h)/2
    for l >= 0, +inf otherwise.

    References: elementary integration of :math:`\log x`; torch's ``_kl_uniform_gamma``.
    """
    ok = p.low >= 0.0
    low, high = _safe_interval(p, ok, 1.0, 2.0)
    k, r = q.concentration, q.rate
    value = (
        -jnp.log(high - low)
        + gammaln(k)
        - k * jnp.log(r)
        - (k - 1.0) * _uniform_mean_log(low, high)
        + 0.5 * r * (low + high)
    )
    return jnp.where(ok, value, jnp.inf)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p: Uniform, q: Gumbel):
    r"""KL(U(l, h) || Gumbel(mu, beta)) = log(beta/(h - l)) + (z_l + z_h)/2 + beta/(h - l) (e^{-z_l} - e^{-z_h}),
    :math:`z = (x - \mu)/\beta`; the last difference is formed as
    :math:`-e^{-z_l}\,\mathrm{expm1}(-(h-l)/\beta)`.

    References: elementary integration; torch's ``_kl_uniform_gumbel``.
    """
    width = p.high - p.low
    c = q.scale / width
    zl = (p.low - q.loc) / q.scale
    zh = (p.high - q.loc) / q.scale
    return jnp.log(c) + 0.5 * (zl + zh) - c * jnp.exp(-zl) * jnp.expm1(-width / q.scale)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p: Uniform, q: Normal):
    r"""KL(U(l, h) || N(mu, sigma)) = -log(h - l) + log(sigma sqrt(2 pi)) + ((h-l)^2/12 + ((l+h)/2 - mu)^2)/(2 sigma^2).

    References: elementary integration; torch's ``_kl_uniform_normal``.
    """
    width = p.high - p.low
    return -jnp.log(width) + _normal_cross_entropy(0.5 * (p.low + p.high), width * width / 12.0, q)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p: Uniform, q: Pareto):
    r"""KL(U(l, h) || Pareto(s, alpha)) = -log(h - l) - log(alpha) - alpha log(s) + (alpha + 1) E[log X]
    for l >= s, +inf otherwise.

    References: elementary integration of :math:`\log x`; torch's ``_kl_uniform_pareto``.
    """
    ok = p.low >= q.scale
    low, high = _safe_interval(p, ok, 1.0, 2.0)
    a = q.alpha
    value = (
        -jnp.log(high - low)
        - jnp.log(a)
        - a * jnp.log(q.scale)
        + (a + 1.0) * _uniform_mean_log(low, high)
    )
    return jnp.where(ok, value, jnp.inf)
