"""Families on the positive half-line.

The scale families folded at 0 (HalfNormal, HalfCauchy), the gamma family and its relatives
(Exponential, Gamma, Chi2, Chi, InverseGamma), Weibull, LogNormal and Pareto (on
``[scale, inf)``). Constructor keywords are torch's where torch has the class, TensorFlow
Probability's otherwise. The closed-form KLs whose p is one of these are in
:mod:`jaxkl.kl.positive`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from jaxkl._numerics import EULER_GAMMA, HALF_LOG_2PI, LOG2, lgamma_bregman, lgamma_difference
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params
from jaxkl.distributions.real_line import _LocScale


def _standard_gamma(key, concentration, shape, dtype):
    """``Gamma(concentration, 1)`` draws of ``shape``, reparameterised (implicit gradients)."""
    return jax.random.gamma(key, jnp.broadcast_to(concentration, shape), shape, dtype)


class _Folded(Distribution):
    """``|scale * Z|`` for a symmetric standard ``Z``: the parameter ``scale`` and the sampler.

    Subclasses set ``_standard_sample``, a ``jax.random`` sampler of ``Z``.
    """

    scale: jax.Array
    arg_constraints = {"scale": C.positive}
    support = C.nonnegative
    has_rsample = True

    def __init__(self, scale, *, validate_args=None):
        (scale,) = as_float_params(type(self).__name__, scale=scale)
        self._init(scale=scale, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        z = self._standard_sample(key, self.shape(sample_shape), self.scale.dtype)
        return self.scale * jnp.abs(z)


class HalfNormal(_Folded):
    """Half-normal distribution ``|X|``, ``X ~ Normal(0, scale)``; torch's ``HalfNormal(scale)``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.HalfNormal(2.0).mean:.4f}")
        1.5958
    """

    _standard_sample = staticmethod(jax.random.normal)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale**2 * (1 - 2 / math.pi)

    def log_prob(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        z = value / self.scale
        lp = -0.5 * z * z - jnp.log(self.scale) + (LOG2 - HALF_LOG_2PI)
        return jnp.where(value >= 0, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        return jnp.where(value >= 0, jsp.erf(value / (self.scale * math.sqrt(2))), 0.0)

    def entropy(self):
        return 0.5 + HALF_LOG_2PI - LOG2 + jnp.log(self.scale)


class HalfCauchy(_Folded):
    r"""Half-Cauchy distribution ``|X|``, ``X ~ Cauchy(0, scale)``; torch's ``HalfCauchy(scale)``.

    .. math:: p(x) = \frac{2}{\pi \gamma (1 + (x/\gamma)^2)}, \quad x \ge 0.

    ``mean`` and ``variance`` are ``+inf`` (as in torch). Samples are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.HalfCauchy(2.0)
        >>> print(f"{d.icdf(0.5):.4f} {d.entropy():.4f}")
        2.0000 2.5310
    """

    _standard_sample = staticmethod(jax.random.cauchy)

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.inf, self.scale.dtype)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.inf, self.scale.dtype)

    def log_prob(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        z = value / self.scale
        lp = math.log(2 / math.pi) - jnp.log(self.scale) - jnp.log1p(z * z)
        return jnp.where(value >= 0, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        return jnp.where(value >= 0, (2 / math.pi) * jnp.arctan(value / self.scale), 0.0)

    def icdf(self, value):
        return self.scale * jnp.tan(0.5 * math.pi * jnp.asarray(value, self.scale.dtype))

    def entropy(self):
        return math.log(2 * math.pi) + jnp.log(self.scale)


class Exponential(ExponentialFamily):
    """Exponential distribution, torch's ``Exponential(rate)``.

    Density ``rate exp(-rate x)``, ``x >= 0``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Exponential(2.0).mean:.4f}")
        0.5000
    """

    rate: jax.Array
    arg_constraints = {"rate": C.positive}
    support = C.nonnegative
    has_rsample = True

    def __init__(self, rate, *, validate_args=None):
        (rate,) = as_float_params(type(self).__name__, rate=rate)
        self._init(rate=rate, validate_args=validate_args)

    @property
    def mean(self):
        return 1 / self.rate

    @property
    def variance(self):
        return 1 / self.rate**2

    def sample(self, key, sample_shape=()):
        eps = jax.random.exponential(key, self.shape(sample_shape), self.rate.dtype)
        return eps / self.rate

    def log_prob(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        lp = jnp.log(self.rate) - self.rate * value
        return jnp.where(value >= 0, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        return jnp.where(value >= 0, -jnp.expm1(-self.rate * value), 0.0)

    def entropy(self):
        return 1 - jnp.log(self.rate)

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, eta):
        return -jnp.log(-eta)


class _ConcentrationRate(Distribution):
    """The parameters ``concentration`` and ``rate`` (both positive) and their constructor."""

    concentration: jax.Array
    rate: jax.Array
    arg_constraints = {"concentration": C.positive, "rate": C.positive}
    has_rsample = True

    def __init__(self, concentration, rate, *, validate_args=None):
        concentration, rate = as_float_params(
            type(self).__name__, concentration=concentration, rate=rate
        )
        self._init(concentration=concentration, rate=rate, validate_args=validate_args)


class Gamma(_ConcentrationRate, ExponentialFamily):
    """Gamma distribution, torch's ``Gamma(concentration, rate)``.

    Density ``rate^c x^(c-1) exp(-rate x) / Gamma(c)``, ``x >= 0``. Samples are
    reparameterised (implicit gradients of ``jax.random.gamma``).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Gamma(3.0, 2.0).variance:.4f}")
        0.7500
    """

    support = C.nonnegative

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def variance(self):
        return self.concentration / self.rate**2

    def sample(self, key, sample_shape=()):
        g = _standard_gamma(key, self.concentration, self.shape(sample_shape), self.rate.dtype)
        # small concentrations underflow to exactly 0 (an infinite density); torch clamps too
        return jnp.maximum(g / self.rate, jnp.finfo(g.dtype).tiny)

    def log_prob(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        inside = value >= 0
        x = jnp.where(inside, value, 1.0)
        c = self.concentration
        lp = jsp.xlogy(c - 1, x) + c * jnp.log(self.rate) - self.rate * x - jsp.gammaln(c)
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        x = jnp.maximum(value, 0.0)
        return jsp.gammainc(self.concentration, self.rate * x)

    def entropy(self):
        c = self.concentration
        return c - jnp.log(self.rate) + jsp.gammaln(c) + (1 - c) * jsp.digamma(c)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, eta1, eta2):
        return jsp.gammaln(eta1 + 1) - (eta1 + 1) * jnp.log(-eta2)


class Chi2(Gamma):
    """Chi-squared distribution with ``df`` degrees of freedom; torch's ``Chi2(df)``.

    A :class:`Gamma` with ``concentration = df / 2`` and ``rate = 1/2`` (its fields), so every
    Gamma method and KL applies; ``df`` is a property. Samples are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Chi2(3.0)
        >>> print(f"{d.mean:.4f} {d.variance:.4f} {float(d.df):.1f}")
        3.0000 6.0000 3.0
    """

    arg_constraints = {"df": C.positive}

    def __init__(self, df, *, validate_args=None):
        (df,) = as_float_params(type(self).__name__, df=df)
        self._init(concentration=0.5 * df, rate=jnp.full_like(df, 0.5), validate_args=validate_args)

    @property
    def df(self) -> jax.Array:
        return 2 * self.concentration


class Chi(Distribution):
    r"""Chi distribution: the Euclidean norm of ``df`` standard normals; TFP's ``Chi(df)``.

    .. math:: p(x) = \frac{x^{k-1} e^{-x^2/2}}{2^{k/2-1}\Gamma(k/2)}, \quad x \ge 0.

    Samples (``sqrt`` of a chi-squared draw) are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Chi(3.0).mean:.4f}")
        1.5958
    """

    df: jax.Array
    arg_constraints = {"df": C.positive}
    support = C.nonnegative
    has_rsample = True

    def __init__(self, df, *, validate_args=None):
        (df,) = as_float_params(type(self).__name__, df=df)
        self._init(df=df, validate_args=validate_args)

    @property
    def mean(self):
        # sqrt(2) Gamma((k+1)/2) / Gamma(k/2), the log-gamma difference formed accurately
        k2 = 0.5 * self.df
        return math.sqrt(2.0) * jnp.exp(lgamma_difference(k2, jnp.full_like(k2, 0.5)))

    @property
    def variance(self):
        return self.df - self.mean**2

    def sample(self, key, sample_shape=()):
        g = _standard_gamma(key, 0.5 * self.df, self.shape(sample_shape), self.df.dtype)
        return jnp.sqrt(2 * jnp.maximum(g, jnp.finfo(g.dtype).tiny))

    def log_prob(self, value):
        value = jnp.asarray(value, self.df.dtype)
        inside = value >= 0
        x = jnp.where(inside, value, 1.0)
        k = self.df
        lp = jsp.xlogy(k - 1, x) - 0.5 * x * x - (0.5 * k - 1) * LOG2 - jsp.gammaln(0.5 * k)
        return jnp.where(inside, lp, -jnp.inf)

    def entropy(self):
        k = self.df
        return jsp.gammaln(0.5 * k) + 0.5 * (k - LOG2 - (k - 1) * jsp.digamma(0.5 * k))


class InverseGamma(_ConcentrationRate):
    r"""Inverse-gamma distribution, torch's ``InverseGamma(concentration, rate)``.

    ``1/Y`` with ``Y ~ Gamma(concentration, rate)``:

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{-\alpha-1} e^{-\beta/x},
        \quad x > 0.

    The mean is ``+inf`` for ``concentration <= 1`` and the variance ``+inf`` for
    ``concentration <= 2`` (as in torch). Samples are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.InverseGamma(3.0, 2.0).mean:.4f}")
        1.0000
    """

    support = C.positive

    @property
    def mean(self):
        finite = self.concentration > 1
        a = jnp.where(finite, self.concentration, 2.0)  # a safe value in the untaken branch
        return jnp.where(finite, self.rate / (a - 1), jnp.inf)

    @property
    def variance(self):
        finite = self.concentration > 2
        a = jnp.where(finite, self.concentration, 3.0)
        return jnp.where(finite, self.rate**2 / ((a - 1) ** 2 * (a - 2)), jnp.inf)

    def sample(self, key, sample_shape=()):
        g = _standard_gamma(key, self.concentration, self.shape(sample_shape), self.rate.dtype)
        return self.rate / jnp.maximum(g, jnp.finfo(g.dtype).tiny)

    def log_prob(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        inside = value > 0
        x = jnp.where(inside, value, 1.0)
        a = self.concentration
        lp = a * jnp.log(self.rate) - jsp.gammaln(a) - (a + 1) * jnp.log(x) - self.rate / x
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.rate.dtype)
        inside = value > 0
        x = jnp.where(inside, value, 1.0)
        return jnp.where(inside, jsp.gammaincc(self.concentration, self.rate / x), 0.0)

    def entropy(self):
        a = self.concentration
        return a + jnp.log(self.rate) + jsp.gammaln(a) - (1 + a) * jsp.digamma(a)


class Weibull(Distribution):
    r"""Weibull distribution, torch's ``Weibull(scale, concentration)``.

    .. math:: p(x) = \frac{k}{\lambda}\Big(\frac{x}{\lambda}\Big)^{k-1}
        e^{-(x/\lambda)^k}, \quad x \ge 0,

    with ``lambda = scale``, ``k = concentration``. Samples ``lambda E^(1/k)`` (``E``
    exponential) are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Weibull(1.0, 2.0).mean:.4f}")
        0.8862
    """

    scale: jax.Array
    concentration: jax.Array
    arg_constraints = {"scale": C.positive, "concentration": C.positive}
    support = C.nonnegative
    has_rsample = True

    def __init__(self, scale, concentration, *, validate_args=None):
        scale, concentration = as_float_params(
            type(self).__name__, scale=scale, concentration=concentration
        )
        self._init(scale=scale, concentration=concentration, validate_args=validate_args)

    @property
    def mean(self):
        return self.scale * jnp.exp(jsp.gammaln(1 + 1 / self.concentration))

    @property
    def variance(self):
        # Gamma(1 + 2h) - Gamma(1 + h)^2 = Gamma(1 + h)^2 expm1(D), h = 1/k, where
        # D = lgamma(1 + 2h) - 2 lgamma(1 + h) = B(1, -2h) - 2 B(1, -h) (Bregman remainders):
        # no cancellation for large concentrations
        h = 1 / self.concentration
        one = jnp.ones_like(h)
        d = lgamma_bregman(one, -2 * h) - 2 * lgamma_bregman(one, -h)
        return self.scale**2 * jnp.exp(2 * jsp.gammaln(1 + h)) * jnp.expm1(d)

    def sample(self, key, sample_shape=()):
        e = jax.random.exponential(key, self.shape(sample_shape), self.scale.dtype)
        e = jnp.maximum(e, jnp.finfo(e.dtype).tiny)
        return self.scale * jnp.exp(jnp.log(e) / self.concentration)

    def log_prob(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        inside = value >= 0
        z = jnp.where(inside, value, 1.0) / self.scale
        k = self.concentration
        lp = jnp.log(k) - jnp.log(self.scale) + jsp.xlogy(k - 1, z) - z**k
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        z = jnp.maximum(value, 0.0) / self.scale
        return -jnp.expm1(-(z**self.concentration))

    def entropy(self):
        k = self.concentration
        return EULER_GAMMA * (1 - 1 / k) + jnp.log(self.scale / k) + 1


class LogNormal(_LocScale):
    r"""Log-normal distribution, torch's ``LogNormal(loc, scale)``.

    ``exp(Y)`` with ``Y ~ Normal(loc, scale)``; samples are reparameterised.

    .. math:: p(x) = \frac{1}{x\,\sigma\sqrt{2\pi}}
        \exp\Big(-\frac{(\log x - \mu)^2}{2\sigma^2}\Big), \quad x > 0.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.LogNormal(0.0, 1.0).mean:.4f}")
        1.6487
    """

    support = C.positive

    @property
    def mean(self):
        return jnp.exp(self.loc + 0.5 * self.scale**2)

    @property
    def variance(self):
        s2 = self.scale**2
        return jnp.expm1(s2) * jnp.exp(2 * self.loc + s2)

    def sample(self, key, sample_shape=()):
        eps = jax.random.normal(key, self.shape(sample_shape), self.loc.dtype)
        return jnp.exp(self.loc + self.scale * eps)

    def log_prob(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        inside = value > 0
        log_x = jnp.log(jnp.where(inside, value, 1.0))
        z = (log_x - self.loc) / self.scale
        lp = -0.5 * z * z - jnp.log(self.scale) - HALF_LOG_2PI - log_x
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        inside = value > 0
        log_x = jnp.log(jnp.where(inside, value, 1.0))
        return jnp.where(inside, jsp.ndtr((log_x - self.loc) / self.scale), 0.0)

    def entropy(self):
        return 0.5 + HALF_LOG_2PI + jnp.log(self.scale) + self.loc


class Pareto(Distribution):
    """Pareto (type I) distribution, torch's ``Pareto(scale, alpha)``.

    Density ``alpha scale^alpha / x^(alpha+1)`` for ``x >= scale``. The mean is ``+inf``
    for ``alpha <= 1`` and the variance ``+inf`` for ``alpha <= 2`` (as in torch).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Pareto(1.0, 3.0).mean:.4f}")
        1.5000
    """

    scale: jax.Array
    alpha: jax.Array
    arg_constraints = {"scale": C.positive, "alpha": C.positive}
    has_rsample = True

    def __init__(self, scale, alpha, *, validate_args=None):
        scale, alpha = as_float_params(type(self).__name__, scale=scale, alpha=alpha)
        self._init(scale=scale, alpha=alpha, validate_args=validate_args)

    @property
    def support(self):
        """``x >= scale`` (depends on the parameters, as in torch)."""
        scale = self.scale
        return C._Elementwise("greater than or equal to `scale`", lambda x: x >= scale)

    @property
    def mean(self):
        a = jnp.maximum(self.alpha, 1.0)
        return jnp.where(self.alpha > 1, a * self.scale / (a - 1), jnp.inf)

    @property
    def variance(self):
        a = jnp.maximum(self.alpha, 2.0)
        return jnp.where(self.alpha > 2, self.scale**2 * a / ((a - 1) ** 2 * (a - 2)), jnp.inf)

    def sample(self, key, sample_shape=()):
        eps = jax.random.exponential(key, self.shape(sample_shape), self.scale.dtype)
        return self.scale * jnp.exp(eps / self.alpha)

    def log_prob(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        inside = value >= self.scale
        x = jnp.where(inside, value, self.scale)
        lp = jnp.log(self.alpha) + self.alpha * jnp.log(self.scale) - (self.alpha + 1) * jnp.log(x)
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.scale.dtype)
        inside = value >= self.scale
        x = jnp.where(inside, value, self.scale)
        return jnp.where(inside, -jnp.expm1(self.alpha * jnp.log(self.scale / x)), 0.0)

    def entropy(self):
        return jnp.log(self.scale / self.alpha) + 1 + 1 / self.alpha


# the families defined above: this module's public classes, in source order
__all__ = [
    n for n, v in dict(vars()).items() if n[0] != "_" and getattr(v, "__module__", "") == __name__
]
