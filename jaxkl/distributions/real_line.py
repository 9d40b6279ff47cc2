"""Families on the whole real line: location-scale families and Student's t.

``X = loc + scale * Z`` for a standard variable ``Z``: Normal, Laplace, Cauchy, Gumbel,
Logistic and Moyal, and Student's t (whose ``df`` shapes the standard variable).
Constructor keywords are torch's where torch has the class, TensorFlow Probability's
otherwise. The closed-form KLs whose p is one of these are in :mod:`jaxkl.kl.real_line`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from jaxkl._numerics import EULER_GAMMA, HALF_LOG_2PI, LOG2, logit
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params


class _LocScale(Distribution):
    """The parameters ``loc`` (real) and ``scale`` (positive) and their constructor.

    Shared by the location-scale families and by those of a transformed location-scale
    variable (LogNormal, LogitNormal). A subclass that sets ``_standard_sample`` (a
    ``jax.random`` sampler of ``Z``) gets the reparameterised ``loc + scale * Z`` sampler.
    """

    loc: jax.Array
    scale: jax.Array
    arg_constraints = {"loc": C.real, "scale": C.positive}
    support = C.real
    has_rsample = True

    def __init__(self, loc, scale, *, validate_args=None):
        loc, scale = as_float_params(type(self).__name__, loc=loc, scale=scale)
        self._init(loc=loc, scale=scale, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        z = self._standard_sample(key, self.shape(sample_shape), self.loc.dtype)
        return self.loc + self.scale * z


class Normal(_LocScale, ExponentialFamily):
    """Normal (Gaussian) distribution, ``Normal(loc, scale)`` as in torch."""

    _standard_sample = staticmethod(jax.random.normal)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return self.scale**2

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - jnp.log(self.scale) - HALF_LOG_2PI

    def cdf(self, value):
        return 0.5 * jsp.erfc(-(value - self.loc) / (self.scale * math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * jsp.ndtri(value)

    def entropy(self):
        return 0.5 + HALF_LOG_2PI + jnp.log(self.scale)

    @property
    def _natural_params(self):
        return (self.loc / self.scale**2, -0.5 / self.scale**2)

    def _log_normalizer(self, eta1, eta2):
        return -0.25 * eta1**2 / eta2 + 0.5 * jnp.log(-jnp.pi / eta2)


class Laplace(_LocScale):
    """Laplace distribution, torch's ``Laplace(loc, scale)``.

    Density ``exp(-|x - loc|/scale) / (2 scale)``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Laplace(0.0, 2.0).variance:.4f}")
        8.0000
    """

    _standard_sample = staticmethod(jax.random.laplace)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale**2

    def log_prob(self, value):
        return -jnp.abs(value - self.loc) / self.scale - jnp.log(2 * self.scale)

    def cdf(self, value):
        d = value - self.loc
        return 0.5 - 0.5 * jnp.sign(d) * jnp.expm1(-jnp.abs(d) / self.scale)

    def entropy(self):
        return 1 + jnp.log(2 * self.scale)


class Cauchy(_LocScale):
    """Cauchy distribution, torch's ``Cauchy(loc, scale)``.

    Its mean is NaN and its variance ``+inf`` (as in torch).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Cauchy(0.0, 1.0).cdf(1.0):.4f}")
        0.7500
    """

    _standard_sample = staticmethod(jax.random.cauchy)

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.nan, self.loc.dtype)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.inf, self.loc.dtype)

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - jnp.log(self.scale) - jnp.log1p(z * z)

    def cdf(self, value):
        return jnp.arctan((value - self.loc) / self.scale) / math.pi + 0.5

    def entropy(self):
        return math.log(4 * math.pi) + jnp.log(self.scale)


class Gumbel(_LocScale):
    """Gumbel (type-I extreme value) distribution, torch's ``Gumbel(loc, scale)``.

    Its cdf is ``exp(-exp(-(x - loc)/scale))``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Gumbel(0.0, 1.0).mean:.4f}")
        0.5772
    """

    _standard_sample = staticmethod(jax.random.gumbel)

    @property
    def mean(self):
        return self.loc + self.scale * EULER_GAMMA

    @property
    def variance(self):
        return (math.pi**2 / 6) * self.scale**2

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -(z + jnp.exp(-z)) - jnp.log(self.scale)

    def cdf(self, value):
        return jnp.exp(-jnp.exp(-(value - self.loc) / self.scale))

    def entropy(self):
        return jnp.log(self.scale) + (1 + EULER_GAMMA)


class Logistic(_LocScale):
    r"""Logistic distribution, TFP's ``Logistic(loc, scale)``: cdf ``sigmoid((x - loc)/scale)``.

    .. math:: p(x) = \frac{e^{-z}}{\sigma (1 + e^{-z})^2}, \quad z = \frac{x - \mu}{\sigma}.

    Samples ``loc + scale logit(U)`` are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Logistic(0.0, 1.0)
        >>> print(f"{d.variance:.4f} {d.log_prob(0.0):.4f} {d.icdf(0.75):.4f}")
        3.2899 -1.3863 1.0986
    """

    _standard_sample = staticmethod(jax.random.logistic)

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to((math.pi**2 / 3) * self.scale**2, self.batch_shape)

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        # -z - 2 softplus(-z), written symmetric in z (no overflow for either sign)
        return -jnp.abs(z) - 2 * jnp.log1p(jnp.exp(-jnp.abs(z))) - jnp.log(self.scale)

    def cdf(self, value):
        return jax.nn.sigmoid((value - self.loc) / self.scale)

    def icdf(self, value):
        return self.loc + self.scale * logit(jnp.asarray(value, self.loc.dtype))

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self.scale) + 2, self.batch_shape)


class Moyal(_LocScale):
    r"""Moyal distribution, TFP's ``Moyal(loc, scale)``.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\Big(-\frac{z + e^{-z}}{2}\Big),
        \quad z = \frac{x - \mu}{\sigma}.

    ``e^{-z}`` is chi-squared with one degree of freedom, so samples are
    ``loc - 2 scale log|N|`` with ``N`` standard normal (reparameterised).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Moyal(0.0, 1.0).mean:.4f}")
        1.2704
    """

    @property
    def mean(self):
        return self.loc + self.scale * (EULER_GAMMA + LOG2)

    @property
    def variance(self):
        return (math.pi**2 / 2) * self.scale**2

    def sample(self, key, sample_shape=()):
        eps = jax.random.normal(key, self.shape(sample_shape), self.loc.dtype)
        a = jnp.maximum(jnp.abs(eps), jnp.finfo(eps.dtype).tiny)
        return self.loc - 2 * self.scale * jnp.log(a)

    def log_prob(self, value):
        z = (jnp.asarray(value, self.loc.dtype) - self.loc) / self.scale
        return -0.5 * (z + jnp.exp(-z)) - jnp.log(self.scale) - HALF_LOG_2PI

    def cdf(self, value):
        z = (jnp.asarray(value, self.loc.dtype) - self.loc) / self.scale
        return jsp.erfc(jnp.exp(-0.5 * z) / math.sqrt(2.0))

    def entropy(self):
        return 0.5 * (1 + EULER_GAMMA + math.log(4 * math.pi)) + jnp.log(self.scale)


class StudentT(Distribution):
    r"""Student's t distribution, torch's ``StudentT(df, loc=0.0, scale=1.0)``.

    .. math:: p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}\,\sigma}
        \Big(1 + \frac{z^2}{\nu}\Big)^{-\frac{\nu+1}{2}}, \quad z = \frac{x - \mu}{\sigma}.

    As in torch, ``mean`` is NaN for ``df <= 1`` and ``variance`` is ``+inf`` for
    ``1 < df <= 2`` and NaN for ``df <= 1``. Samples ``loc + scale Z sqrt(df / (2 G))``
    (``Z`` normal, ``G ~ Gamma(df/2)`` with implicit gradients) are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.StudentT(3.0)
        >>> print(f"{d.variance:.4f} {d.log_prob(0.0):.4f} {d.cdf(1.0):.4f}")
        3.0000 -1.0009 0.8045
    """

    df: jax.Array
    loc: jax.Array
    scale: jax.Array
    arg_constraints = {"df": C.positive, "loc": C.real, "scale": C.positive}
    support = C.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, *, validate_args=None):
        df, loc, scale = as_float_params(type(self).__name__, df=df, loc=loc, scale=scale)
        self._init(df=df, loc=loc, scale=scale, validate_args=validate_args)

    @property
    def mean(self):
        return jnp.where(self.df > 1, self.loc, jnp.nan)

    @property
    def variance(self):
        df = jnp.where(self.df > 2, self.df, 3.0)
        var = self.scale**2 * df / (df - 2)
        return jnp.where(self.df > 2, var, jnp.where(self.df > 1, jnp.inf, jnp.nan))

    def sample(self, key, sample_shape=()):
        shape = self.shape(sample_shape)
        k1, k2 = jax.random.split(key)
        z = jax.random.normal(k1, shape, self.loc.dtype)
        half = jnp.broadcast_to(0.5 * self.df, shape)
        g = jnp.maximum(
            jax.random.gamma(k2, half, shape, self.loc.dtype), jnp.finfo(self.loc.dtype).tiny
        )
        return self.loc + self.scale * z * jnp.sqrt(half / g)

    def _log_normalizer(self):
        df = self.df
        return (
            jsp.gammaln(0.5 * (df + 1))
            - jsp.gammaln(0.5 * df)
            - 0.5 * jnp.log(df * math.pi)
            - jnp.log(self.scale)
        )

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return self._log_normalizer() - 0.5 * (self.df + 1) * jnp.log1p(z * z / self.df)

    def cdf(self, value):
        z = (value - self.loc) / self.scale
        df = self.df
        # P(|T| > |z|) = I_{df / (df + z^2)}(df/2, 1/2)
        tail = 0.5 * jsp.betainc(0.5 * df, 0.5, df / (df + z * z))
        return jnp.where(z > 0, 1 - tail, tail)

    def entropy(self):
        df = self.df
        lbeta = jsp.gammaln(0.5 * df) + 0.5 * math.log(math.pi) - jsp.gammaln(0.5 * (df + 1))
        return (
            jnp.log(self.scale)
            + 0.5 * (df + 1) * (jsp.digamma(0.5 * (df + 1)) - jsp.digamma(0.5 * df))
            + 0.5 * jnp.log(df)
            + lbeta
        )


# the families defined above: this module's public classes, in source order
__all__ = [
    n for n, v in dict(vars()).items() if n[0] != "_" and getattr(v, "__module__", "") == __name__
]
