r"""Closed forms whose p is a family on the real line (:mod:`jaxkl.distributions.real_line`).

Same-family pairs (Normal, Laplace, Cauchy, Gumbel, Moyal, Logistic) are written in terms of
parameter *differences* (exact for close floats) and non-cancelling pieces
(:mod:`jaxkl._numerics`), so that nearly equal distributions keep full relative precision
in float32; see each docstring for the decomposition. Cross-family pairs are the textbook

.. math::
    D_{KL}(p \| q) = -H(p) + \mathbb{E}_p[-\log q(X)],

with the moments of p that :math:`-\log q` needs. Student's t with itself or a Cauchy, and a
normal p against a Student's t, have no closed form: those pairs, and logistic pairs with
different scales, are :func:`~jaxkl.kl.quadrature.quadrature_kl`. A Normal, Laplace or Gumbel
p against a q on a half-line or an interval is ``+inf`` (:mod:`jaxkl.kl.infinite`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.scipy.special import erf

from jaxkl._numerics import (
    EULER_GAMMA,
    HALF_LOG_2PI,
    LOG2,
    coth_minus_inv,
    expm1_minus_x,
    lgamma_bregman,
    ratio_minus_one_minus_log_of,
    squared_ratio_minus_one_minus_log_of,
)
from jaxkl.distributions.real_line import (
    Cauchy,
    Gumbel,
    Laplace,
    Logistic,
    Moyal,
    Normal,
    StudentT,
)
from jaxkl.kl._registry import register_kl
from jaxkl.kl.quadrature import quadrature_kl


def _normal_cross_entropy(mean, var, q: Normal):
    r""":math:`\mathbb{E}_p[-\log \mathcal{N}(X; \mu, \sigma)]` from p's mean and variance.

    :math:`\log\sigma + \tfrac12\log 2\pi + (\mathrm{Var}_p + (\mathbb{E}_p X - \mu)^2) /
    (2\sigma^2)`: with :math:`-H(p)` it is the KL from any p with a finite variance to a
    normal q.
    """
    d = mean - q.loc
    return jnp.log(q.scale) + HALF_LOG_2PI + 0.5 * (var + d * d) / (q.scale * q.scale)


@register_kl(Normal, Normal, jit=True)
def _kl_normal_normal(p: Normal, q: Normal):
    r"""KL between normals, accurate for nearly equal ones.

    .. math::
        \tfrac12\big(\rho^2 - 1 - 2\log\rho\big) + \tfrac12\Big(\frac{\mu_p - \mu_q}{s_q}\Big)^2,
        \qquad \rho = s_p / s_q,

    the scale term formed from the difference of the scales
    (:func:`~jaxkl._numerics.squared_ratio_minus_one_minus_log_of`).

    References: the Gaussian KL, e.g. Kullback (1959); torch's ``_kl_normal_normal``.
    """
    z = (p.loc - q.loc) * (1.0 / q.scale)
    return 0.5 * squared_ratio_minus_one_minus_log_of(p.scale, q.scale) + 0.5 * z * z


@register_kl(Laplace, Laplace, jit=True)
def _kl_laplace_laplace(p: Laplace, q: Laplace):
    r"""KL between Laplace distributions, as two non-negative terms.

    .. math::
        \rho e^{-t} - 1 - \log\rho + \rho t
        = \rho\,(e^{-t} - 1 + t) + (\rho - 1 - \log\rho),
        \quad \rho = b_p / b_q,\ t = |\mu_p - \mu_q| / b_p,

    i.e. ``rho * expm1_minus_x(-t) + x_minus_log1p((b_p - b_q)/b_q)``.

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_laplace_laplace``.
    """
    rho = p.scale / q.scale
    t = jnp.abs(p.loc - q.loc) / p.scale
    return rho * expm1_minus_x(-t) + ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(Cauchy, Cauchy, jit=True)
def _kl_cauchy_cauchy(p: Cauchy, q: Cauchy):
    r"""KL between Cauchy distributions (symmetric in p and q).

    .. math::
        \log\frac{(\gamma_p + \gamma_q)^2 + (\mu_p - \mu_q)^2}{4 \gamma_p \gamma_q}
        = \operatorname{log1p}\frac{(\gamma_p - \gamma_q)^2 + (\mu_p - \mu_q)^2}{4 \gamma_p
        \gamma_q}.

    References: Chyzak & Nielsen (2019), "A closed-form formula for the Kullback-Leibler
    divergence between Cauchy distributions", arXiv:1905.10965; torch's ``_kl_cauchy_cauchy``.
    """
    ds = p.scale - q.scale
    dl = p.loc - q.loc
    # each factor divided by a scale first: 4 s_p s_q may underflow (or overflow)
    return jnp.log1p(((ds / p.scale) * (ds / q.scale) + (dl / p.scale) * (dl / q.scale)) / 4)


@register_kl(Gumbel, Gumbel, jit=True)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel):
    r"""KL between Gumbel distributions, as three non-negative terms.

    With ``rho = b_p/b_q = 1 + e``, ``z = (mu_p - mu_q)/b_q``, torch's form
    ``-log rho + z + rho*gamma + exp(-z + lgamma(1 + rho)) - 1 - gamma`` equals

    .. math::
        \operatorname{expm1\_minus\_x}(L - z) + \big[\ln\Gamma(2 + e) - e\,\psi(2)\big]
        + \big[e - \operatorname{log1p}(e)\big],
        \qquad L = \ln\Gamma(2 + e),\ \psi(2) = 1 - \gamma

    (``lgamma_bregman`` and ``x_minus_log1p``).

    References: Gil, Alajaji & Linder (2013), "Rényi divergence measures for commonly used
    univariate continuous distributions", Information Sciences 249; torch's
    ``_kl_gumbel_gumbel``.
    """
    inv = 1.0 / q.scale  # reused: no quotients (see jaxkl._numerics)
    e = (p.scale - q.scale) * inv
    z = (p.loc - q.loc) * inv
    two = jnp.full_like(e, 2.0)
    breg = lgamma_bregman(two, -e)  # lgamma(2 + e) - lgamma(2) - e psi(2)
    lg = breg + e * (1 - EULER_GAMMA)  # lgamma(2 + e)
    return expm1_minus_x(lg - z) + breg + ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(Moyal, Moyal, jit=True)
def _kl_moyal_moyal(p: Moyal, q: Moyal):
    r"""KL between Moyal distributions, as three non-negative terms.

    With ``s = (sigma_p - sigma_q)/sigma_q``, ``m = (mu_p - mu_q)/sigma_q`` and
    ``e^{-Z} ~ chi^2_1`` for the standard Moyal ``Z`` (so ``E[e^{-rho Z}] = 2^rho Γ(1/2 +
    rho)/Γ(1/2)``),

    .. math::
        KL = \tfrac12\operatorname{expm1\_minus\_x}(A) + \tfrac12 B(3/2, -s)
             + (s - \operatorname{log1p} s),
        \qquad A = -m + s\,(2 - \gamma - \log 2) + B(3/2, -s),

    ``B`` the log-gamma Bregman remainder.

    References: TFP's ``_kl_moyal_moyal``; Moyal (1955), "Theory of ionization fluctuations",
    Phil. Mag. 46 (the density).
    """
    s = (p.scale - q.scale) / q.scale
    m = (p.loc - q.loc) / q.scale
    breg = lgamma_bregman(jnp.full_like(s, 1.5), -s)
    big_a = -m + s * (2 - EULER_GAMMA - LOG2) + breg
    return 0.5 * expm1_minus_x(big_a) + 0.5 * breg + ratio_minus_one_minus_log_of(p.scale, q.scale)


@register_kl(Logistic, Logistic, jit=True)
def _kl_logistic_logistic(p: Logistic, q: Logistic):
    r"""KL between logistic distributions: closed form for equal scales, quadrature otherwise.

    With equal scales, ``delta = (mu_p - mu_q)/s`` and ``U = sigmoid(Z)`` uniform,
    ``E log(1 + e^delta (1 - U)/U)`` is an elementary integral, and

    .. math::
        D_{KL} = \delta \coth(\delta/2) - 2 = 2 h\,(\coth h - 1/h), \quad h = \delta/2,

    written with :func:`~jaxkl._numerics.coth_minus_inv` (no cancellation near
    ``delta = 0``, where it is ``delta^2/6``). For different scales
    ``E_p log(1 + exp(-(X - mu_q)/s_q))`` has no elementary closed form: those entries use
    :func:`quadrature_kl`.
    """
    h = 0.5 * (p.loc - q.loc) / p.scale
    equal = 2 * h * coth_minus_inv(h)
    return jnp.where(p.scale == q.scale, equal, quadrature_kl(p, q))


@register_kl(Gumbel, Normal, jit=True)
def _kl_gumbel_normal(p: Gumbel, q: Normal):
    r"""KL(Gumbel(m, s) || N(mu, sigma)) from the Gumbel entropy, mean and variance.

    .. math::
        -\log s - \gamma - 1 + \log(\sigma\sqrt{2\pi})
        + \frac{\pi^2 s^2/6 + (m + s\gamma - \mu)^2}{2\sigma^2}.

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 22 (Gumbel moments and entropy);
    torch's ``_kl_gumbel_normal``.
    """
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Laplace, Normal, jit=True)
def _kl_laplace_normal(p: Laplace, q: Normal):
    r"""KL(Laplace(m, b) || N(mu, sigma)) from the Laplace entropy, mean and variance.

    .. math::
        -1 - \log 2b + \log(\sigma\sqrt{2\pi}) + \frac{2b^2 + (m - \mu)^2}{2\sigma^2}.

    References: Johnson, Kotz & Balakrishnan vol. 2, ch. 24; torch's ``_kl_laplace_normal``.
    """
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Normal, Gumbel, jit=True)
def _kl_normal_gumbel(p: Normal, q: Gumbel):
    r"""KL(N(m, s) || Gumbel(mu, beta)) from the Gaussian moment generating function.

    .. math::
        -\log\frac{s}{\beta} - \frac{1 + \log 2\pi}{2} + \frac{m - \mu}{\beta}
        + \exp\Big(-\frac{m - \mu}{\beta} + \frac{s^2}{2\beta^2}\Big).

    References: the normal MGF; torch's ``_kl_normal_gumbel``.
    """
    u = (p.loc - q.loc) / q.scale
    v = p.scale / q.scale
    return -jnp.log(v) - 0.5 - HALF_LOG_2PI + u + jnp.exp(0.5 * v * v - u)


@register_kl(Normal, Laplace, jit=True)
def _kl_normal_laplace(p: Normal, q: Laplace):
    r"""KL(N(m, s) || Laplace(mu, b)) from the folded-normal mean.

    .. math::
        -\log\frac{s}{b} - \frac{1 + \log(\pi/2)}{2} + \frac{\mathbb{E}|X - \mu|}{b},
        \qquad \mathbb{E}|X-\mu| = s\sqrt{2/\pi}\,e^{-d^2/(2s^2)} + d\,\mathrm{erf}(d/(s\sqrt2)),
        \quad d = m - \mu.

    References: Leone, Nelson & Nottingham, "The folded normal distribution",
    Technometrics 3 (1961); torch's ``_kl_normal_laplace``.
    """
    d = p.loc - q.loc
    s = p.scale
    z = d / s
    folded = s * math.sqrt(2.0 / math.pi) * jnp.exp(-0.5 * z * z) + d * erf(z / math.sqrt(2.0))
    return -jnp.log(s / q.scale) - 0.5 * (1.0 + math.log(0.5 * math.pi)) + folded / q.scale


@register_kl(StudentT, Normal, jit=True)
def _kl_studentt_normal(p: StudentT, q: Normal):
    r"""KL(StudentT || Normal) in closed form; ``+inf`` for ``df <= 2`` (infinite variance).

    .. math::
        -H(p) + \log(\sigma_q \sqrt{2\pi})
        + \frac{\sigma_p^2 \frac{\nu}{\nu - 2} + (\mu_p - \mu_q)^2}{2 \sigma_q^2}.

    References: the decomposition ``KL = -H(p) + E_p[-log q]`` with the Student-t entropy
    (torch's ``StudentT.entropy``) and second moment.
    """
    finite = p.df > 2
    safe = StudentT(jnp.where(finite, p.df, 3.0), p.loc, p.scale, validate_args=False)
    kl = -safe.entropy() + _normal_cross_entropy(safe.loc, safe.variance, q)
    return jnp.where(finite, kl, jnp.inf)


@register_kl(StudentT, StudentT, jit=True)
@register_kl(StudentT, Cauchy, jit=True)
@register_kl(Cauchy, StudentT, jit=True)
@register_kl(Normal, StudentT, jit=True)
def _kl_by_quadrature(p, q):
    """KL with a Student's t on either side, by :func:`quadrature_kl` (no closed form).

    Finite for all parameters: ``E_p log(1 + X^2)``, the growth of ``-log q`` for a Student's
    t or Cauchy q, is finite for every ``df > 0``. There is no closed form for different
    degrees of freedom or scales, nor of ``E log(1 + z^2/df)`` under a normal.
    """
    return quadrature_kl(p, q)
