"""Families on an interval: the unit interval, or one given by the parameters.

Beta, Kumaraswamy, ContinuousBernoulli and LogitNormal on ``[0, 1]``; Uniform and
TruncatedNormal on ``[low, high]``. Constructor keywords are torch's where torch has the
class, TensorFlow Probability's otherwise. The closed-form KLs whose p is one of these are
in :mod:`jaxkl.kl.interval`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from jaxkl import _checks
from jaxkl._numerics import (
    EULER_GAMMA,
    HALF_LOG_2PI,
    LOG2,
    coth_minus_inv,
    log_cosh,
    log_ndtr_interval,
    log_sinhc,
    log_sinhc_second_derivative,
    logit,
    normal_expectation,
    standardize_bound,
    truncated_normal_moments,
)
from jaxkl._pytree import static_field
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params
from jaxkl.distributions.real_line import _LocScale


def _open_unit(x):
    """Float draws kept inside the open unit interval (``[tiny, 1 - epsneg]``).

    Draws for extreme parameters round to exactly 0 or 1 in float32, where a density may be
    infinite (torch's samplers clamp too).
    """
    fi = jnp.finfo(x.dtype)
    return jnp.clip(x, fi.tiny, 1 - fi.epsneg)


def _check_low_below_high(d: Distribution) -> None:
    """The value check ``low < high`` of an interval-supported family, naming both."""
    d._value_check(
        jnp.all(d.low < d.high),
        f"{type(d).__name__}: parameter `low` must be less than `high`"
        + (
            f", got low={np.asarray(d.low)!r}, high={np.asarray(d.high)!r}"
            if _checks.is_concrete(d.low, d.high) and np.size(d.low) <= 8
            else ""
        ),
        d.low,
        d.high,
    )


class _Concentrations(Distribution):
    """The parameters ``concentration1`` and ``concentration0`` (positive) and their constructor."""

    concentration1: jax.Array
    concentration0: jax.Array
    arg_constraints = {"concentration1": C.positive, "concentration0": C.positive}
    support = C.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, *, validate_args=None):
        concentration1, concentration0 = as_float_params(
            type(self).__name__, concentration1=concentration1, concentration0=concentration0
        )
        self._init(
            concentration1=concentration1,
            concentration0=concentration0,
            validate_args=validate_args,
        )


class Beta(_Concentrations, ExponentialFamily):
    """Beta distribution, torch's ``Beta(concentration1, concentration0)``.

    Density ``x^(a-1) (1-x)^(b-1) / B(a, b)`` with ``a = concentration1``,
    ``b = concentration0``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Beta(2.0, 3.0).mean:.4f}")
        0.4000
    """

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        s = a + b
        return a * b / (s * s * (s + 1))

    def sample(self, key, sample_shape=()):
        shape = self.shape(sample_shape)
        a = jnp.broadcast_to(self.concentration1, shape)
        b = jnp.broadcast_to(self.concentration0, shape)
        return _open_unit(jax.random.beta(key, a, b, shape, self.concentration1.dtype))

    def log_prob(self, value):
        value = jnp.asarray(value, self.concentration1.dtype)
        inside = (value >= 0) & (value <= 1)
        x = jnp.where(inside, value, 0.5)
        a, b = self.concentration1, self.concentration0
        lp = jsp.xlogy(a - 1, x) + jsp.xlog1py(b - 1, -x) - jsp.betaln(a, b)
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.concentration1.dtype)
        return jsp.betainc(self.concentration1, self.concentration0, jnp.clip(value, 0.0, 1.0))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        return (
            jsp.betaln(a, b)
            - (a - 1) * jsp.digamma(a)
            - (b - 1) * jsp.digamma(b)
            + (a + b - 2) * jsp.digamma(a + b)
        )

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return jsp.gammaln(x) + jsp.gammaln(y) - jsp.gammaln(x + y)


class Kumaraswamy(_Concentrations):
    r"""Kumaraswamy distribution, torch's ``Kumaraswamy(concentration1, concentration0)``.

    .. math:: p(x) = a b\, x^{a-1} (1 - x^a)^{b-1}, \quad 0 \le x \le 1,

    with ``a = concentration1``, ``b = concentration0``. Samples by the inverse CDF
    ``(1 - V^(1/b))^(1/a)`` (``V`` uniform) are reparameterised.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Kumaraswamy(2.0, 3.0).mean:.4f}")
        0.4571
    """

    def _moment(self, n):
        """``E[X^n] = b B(1 + n/a, b)``."""
        a, b = self.concentration1, self.concentration0
        return jnp.exp(jnp.log(b) + jsp.betaln(1 + n / a, b))

    @property
    def mean(self):
        return self._moment(1)

    @property
    def variance(self):
        m = self._moment(1)
        return self._moment(2) - m * m

    def sample(self, key, sample_shape=()):
        u = jax.random.uniform(key, self.shape(sample_shape), self.concentration1.dtype)
        log_v = jnp.log(jnp.maximum(u, jnp.finfo(u.dtype).tiny))
        # 1 - V^(1/b) = -expm1(log V / b); x = exp(log(1 - V^(1/b)) / a)
        x = jnp.exp(jnp.log(-jnp.expm1(log_v / self.concentration0)) / self.concentration1)
        return _open_unit(x)

    def log_prob(self, value):
        value = jnp.asarray(value, self.concentration1.dtype)
        inside = (value >= 0) & (value <= 1)
        x = jnp.where(inside, value, 0.5)
        a, b = self.concentration1, self.concentration0
        lp = jnp.log(a) + jnp.log(b) + jsp.xlogy(a - 1, x) + jsp.xlog1py(b - 1, -(x**a))
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.concentration1.dtype)
        x = jnp.clip(value, 0.0, 1.0)
        return -jnp.expm1(self.concentration0 * jnp.log1p(-(x**self.concentration1)))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic = jsp.digamma(b + 1) + EULER_GAMMA
        return (1 - 1 / b) + (1 - 1 / a) * harmonic - jnp.log(a) - jnp.log(b)


class Uniform(Distribution):
    """Uniform distribution on ``[low, high)``, torch's ``Uniform(low, high)``.

    ``low < high`` is checked.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.Uniform(0.0, 2.0).entropy():.4f}")
        0.6931
    """

    low: jax.Array
    high: jax.Array
    arg_constraints = {"low": C.finite, "high": C.finite}
    has_rsample = True

    def __init__(self, low, high, *, validate_args=None):
        low, high = as_float_params(type(self).__name__, low=low, high=high)
        self._init(low=low, high=high, validate_args=validate_args)

    def _validate_params(self):
        super()._validate_params()
        _check_low_below_high(self)

    @property
    def support(self):
        """``[low, high)`` (depends on the parameters, as in torch)."""
        low, high = self.low, self.high
        return C._Elementwise("in [low, high)", lambda x: (x >= low) & (x < high))

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def sample(self, key, sample_shape=()):
        u = jax.random.uniform(key, self.shape(sample_shape), self.low.dtype)
        return self.low + (self.high - self.low) * u

    def log_prob(self, value):
        value = jnp.asarray(value, self.low.dtype)
        inside = (value >= self.low) & (value < self.high)
        return jnp.where(inside, -jnp.log(self.high - self.low), -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.low.dtype)
        return jnp.clip((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return jnp.log(self.high - self.low)


class ContinuousBernoulli(ExponentialFamily):
    r"""Continuous Bernoulli distribution on [0, 1] (Loaiza-Ganem & Cunningham, 2019).

    Torch's ``ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501))``:

    .. math::
        p(x) = C(\lambda)\, \lambda^x (1 - \lambda)^{1 - x}
             = \exp(\eta x - A(\eta)), \qquad
        A(\eta) = \log\frac{e^\eta - 1}{\eta}, \quad \eta = \operatorname{logit} \lambda.

    Exactly one of ``probs`` and ``logits`` is given; the other is a derived property (the
    given one is the pytree leaf, the absent one is ``None`` in the treedef). As in torch,
    ``probs`` are clamped to ``[eps, 1 - eps]``. Inside ``lims`` (near ``probs = 1/2``,
    where the closed forms are 0/0) the normaliser, mean and variance use power series;
    here the series of :func:`jaxkl._numerics.log_sinhc` are accurate on a wider range, so
    ``lims`` only selects the branch and never costs accuracy.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.ContinuousBernoulli(probs=0.5).mean:.4f}")
        0.5000
        >>> print(f"{jd.ContinuousBernoulli(logits=2.0).mean:.4f}")
        0.6565
    """

    _probs: jax.Array | None
    _logits: jax.Array | None
    lims: tuple[float, float] = static_field()
    arg_constraints = {"probs": C.unit_interval, "logits": C.extended_real}
    support = C.unit_interval
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), *, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError(
                "ContinuousBernoulli: give exactly one of `probs` and `logits`, got "
                f"probs={'None' if probs is None else 'an array'} and "
                f"logits={'None' if logits is None else 'an array'}"
            )
        probs, logits = as_float_params(type(self).__name__, probs=probs, logits=logits)
        self._init(
            _probs=probs,
            _logits=logits,
            lims=tuple(float(v) for v in lims),
            validate_args=validate_args,
        )

    @property
    def probs(self) -> jax.Array:
        """``lambda``, clamped to ``[eps, 1 - eps]`` (torch's ``clamp_probs``)."""
        p = self._probs if self._probs is not None else jax.nn.sigmoid(self._logits)
        eps = jnp.finfo(p.dtype).eps
        return jnp.clip(p, eps, 1 - eps)

    @property
    def logits(self) -> jax.Array:
        """``eta = log(lambda / (1 - lambda))`` (the natural parameter)."""
        if self._logits is not None:
            return self._logits
        return logit(self.probs)

    @property
    def _h(self):
        return self.logits / 2

    def _outside_unstable_region(self):
        p = self.probs
        return (p <= self.lims[0]) | (p > self.lims[1])

    def _log_A(self):
        """``A(eta) = log((e^eta - 1)/eta) = eta/2 + log(sinh(eta/2)/(eta/2))``."""
        return self._log_normalizer(self.logits)

    def _cont_bern_log_norm(self):
        """``log C(lambda)``, torch's name: ``log C = -A(eta) - log(1 - lambda)``.

        Written as ``log 2 + log(h / tanh h)`` with ``h = eta/2``, which has no 0/0 at
        ``lambda = 1/2``: ``log(h/tanh h) = log cosh h - log(sinh h / h)``.
        """
        h = self._h
        exact = LOG2 + log_cosh(h) - log_sinhc(h)
        x = (self.probs - 0.5) ** 2
        taylor = LOG2 + (4.0 / 3.0 + (104.0 / 45.0) * x) * x
        return jnp.where(self._outside_unstable_region(), exact, taylor)

    @property
    def mean(self):
        """``A'(eta) = 1/2 + (coth h - 1/h)/2`` with ``h = eta/2``."""
        return 0.5 + 0.5 * coth_minus_inv(self._h)

    @property
    def variance(self):
        """``A''(eta) = (1/h^2 - 1/sinh(h)^2)/4``."""
        h = self._h
        return 0.25 * log_sinhc_second_derivative(h)

    def sample(self, key, sample_shape=()):
        u = jax.random.uniform(key, self.shape(sample_shape), self.probs.dtype)
        return self.icdf(u)

    def icdf(self, value):
        """Inverse cdf ``log1p(u expm1(eta)) / eta``, stable for large ``|eta|`` and near 0."""
        eta = self.logits
        tiny = jnp.abs(eta) < 1e-6
        e = jnp.where(tiny, 1.0, eta)
        pos = e > 0
        en = jnp.where(pos, -e, e)  # <= 0, so exp/expm1 cannot overflow
        # eta > 0: x = 1 + log(u + (1 - u) e^{-eta}) / eta ; eta < 0: x = log1p(u expm1(eta)) / eta
        x_pos = 1 + jnp.log1p((1 - value) * jnp.expm1(en)) / e
        x_neg = jnp.log1p(value * jnp.expm1(en)) / e
        x = jnp.where(pos, x_pos, x_neg)
        return jnp.where(tiny, value + value * (1 - value) * eta / 2, jnp.clip(x, 0.0, 1.0))

    def cdf(self, value):
        value = jnp.asarray(value, self.probs.dtype)
        eta = self.logits
        tiny = jnp.abs(eta) < 1e-6
        e = jnp.where(tiny, 1.0, eta)
        x = jnp.clip(value, 0.0, 1.0)
        pos = e > 0
        # expm1(eta x)/expm1(eta), computed with non-positive exponents for eta > 0
        c_pos = jnp.exp(e * (x - 1)) * jnp.expm1(-e * x) / jnp.expm1(-jnp.where(pos, e, 1.0))
        c_neg = jnp.expm1(e * x) / jnp.expm1(jnp.where(pos, -1.0, e))
        c = jnp.where(pos, c_pos, c_neg)
        return jnp.where(tiny, x, c)

    def log_prob(self, value):
        value = jnp.asarray(value, self.probs.dtype)
        inside = (value >= 0) & (value <= 1)
        x = jnp.where(inside, value, 0.5)
        lp = self.logits * x - self._log_A()
        return jnp.where(inside, lp, -jnp.inf)

    def entropy(self):
        return self._log_A() - self.logits * self.mean

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, eta):
        h = eta / 2
        return h + log_sinhc(h)


class LogitNormal(_LocScale):
    r"""Logit-normal distribution, TFP's ``LogitNormal(loc, scale)``.

    ``sigmoid(Y)`` with ``Y ~ Normal(loc, scale)``; samples are reparameterised.

    .. math:: p(x) = \frac{1}{x (1 - x)\,\sigma\sqrt{2\pi}}
        \exp\Big(-\frac{(\operatorname{logit} x - \mu)^2}{2\sigma^2}\Big), \quad 0 < x < 1.

    ``mean``, ``variance`` and ``entropy`` have no closed form; they are Gaussian
    expectations (of ``sigmoid``, ``sigmoid^2`` and ``softplus(y) + softplus(-y)``) computed by
    :func:`jaxkl._numerics.normal_expectation` (trapezoid rule; accurate to ~1e-13 for
    ``scale <= 10``, ~1e-7 at ``scale = 20``).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jd.LogitNormal(0.0, 1.0).mean:.4f}")
        0.5000
    """

    support = C.open_unit_interval

    @property
    def mean(self):
        return normal_expectation(jax.nn.sigmoid, self.loc, self.scale)

    @property
    def variance(self):
        # E[sigmoid(Y) sigmoid(-Y)] + E[sigmoid]^2 ... written as E[(sigmoid(Y) - m)^2]
        m = self.mean
        return normal_expectation(
            lambda y: (jax.nn.sigmoid(y) - m[..., None]) ** 2, self.loc, self.scale
        )

    def sample(self, key, sample_shape=()):
        eps = jax.random.normal(key, self.shape(sample_shape), self.loc.dtype)
        return _open_unit(jax.nn.sigmoid(self.loc + self.scale * eps))

    def log_prob(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        inside = (value > 0) & (value < 1)
        x = jnp.where(inside, value, 0.5)
        log_x, log_1mx = jnp.log(x), jnp.log1p(-x)
        z = (log_x - log_1mx - self.loc) / self.scale
        lp = -0.5 * z * z - jnp.log(self.scale) - HALF_LOG_2PI - log_x - log_1mx
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        inside = (value > 0) & (value < 1)
        x = jnp.where(inside, value, 0.5)
        c = jsp.ndtr((logit(x) - self.loc) / self.scale)
        return jnp.where(inside, c, jnp.where(value >= 1, 1.0, 0.0))

    def entropy(self):
        # H = H(Y) + E[log X + log(1 - X)] = H(Y) - E[softplus(Y) + softplus(-Y)]
        e = normal_expectation(
            lambda y: jax.nn.softplus(y) + jax.nn.softplus(-y), self.loc, self.scale
        )
        return 0.5 + HALF_LOG_2PI + jnp.log(self.scale) - e


class TruncatedNormal(Distribution):
    r"""Normal distribution truncated to ``[low, high]``.

    TFP's ``TruncatedNormal(loc, scale, low, high)``:

    .. math:: p(x) = \frac{\phi((x - \mu)/\sigma)}{\sigma Z}, \quad
        Z = \Phi(\beta) - \Phi(\alpha),\ \alpha = \frac{low - \mu}{\sigma},\
        \beta = \frac{high - \mu}{\sigma},\quad low \le x \le high.

    ``low < high`` is checked; either may be infinite. ``log Z`` is formed in the tail the
    interval lies in (no cancellation for ``alpha`` far above 0). ``icdf`` inverts in the
    same tail, and samples ``icdf(U)`` are reparameterised (also w.r.t. the bounds).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.TruncatedNormal(0.0, 1.0, 0.0, float("inf"))
        >>> print(f"{d.mean:.4f} {d.variance:.4f}")
        0.7979 0.3634
    """

    loc: jax.Array
    scale: jax.Array
    low: jax.Array
    high: jax.Array
    arg_constraints = {
        "loc": C.real,
        "scale": C.positive,
        "low": C.extended_real,
        "high": C.extended_real,
    }
    has_rsample = True

    def __init__(self, loc, scale, low, high, *, validate_args=None):
        loc, scale, low, high = as_float_params(
            type(self).__name__, loc=loc, scale=scale, low=low, high=high
        )
        self._init(loc=loc, scale=scale, low=low, high=high, validate_args=validate_args)

    def _validate_params(self):
        super()._validate_params()
        _check_low_below_high(self)

    @property
    def support(self):
        """``[low, high]`` (depends on the parameters)."""
        return C.interval(self.low, self.high)

    def _standard(self):
        """``(alpha, beta, log Z)`` of the standardised bounds."""
        a = standardize_bound(self.low, self.loc, self.scale)
        b = standardize_bound(self.high, self.loc, self.scale)
        return a, b, log_ndtr_interval(a, b)

    def _moments(self):
        """``(E[z], E[z^2])`` of the standardised ``z = (x - loc)/scale``."""
        a, b, log_z = self._standard()
        return truncated_normal_moments(a, b, log_z, 2)

    @property
    def mean(self):
        m1, _ = self._moments()
        return self.loc + self.scale * m1

    @property
    def variance(self):
        m1, m2 = self._moments()
        return self.scale**2 * (m2 - m1 * m1)

    def log_prob(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        _, _, log_z = self._standard()
        z = (value - self.loc) / self.scale
        lp = -0.5 * z * z - HALF_LOG_2PI - jnp.log(self.scale) - log_z
        inside = (value >= self.low) & (value <= self.high)
        return jnp.where(inside, lp, -jnp.inf)

    def cdf(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        a, b, log_z = self._standard()
        z = jnp.clip((value - self.loc) / self.scale, a, b)
        return jnp.exp(log_ndtr_interval(a, jnp.maximum(z, a + jnp.finfo(z.dtype).tiny)) - log_z)

    def icdf(self, value):
        u = jnp.asarray(value, self.loc.dtype)
        a, b, _ = self._standard()
        # invert in the tail the interval lies in: Phi(z) = Phi(a) + u (Phi(b) - Phi(a)), or
        # through the survival function where a > 0
        upper = a > 0
        pa, pb = jsp.ndtr(jnp.where(upper, -a, a)), jsp.ndtr(jnp.where(upper, -b, b))
        z_low = jsp.ndtri(pa + u * (pb - pa))
        z = jnp.where(upper, -z_low, z_low)
        return jnp.clip(self.loc + self.scale * z, self.low, self.high)

    def sample(self, key, sample_shape=()):
        fi = jnp.finfo(self.loc.dtype)
        u = jax.random.uniform(key, self.shape(sample_shape), self.loc.dtype, fi.tiny, 1.0)
        return self.icdf(u)

    def entropy(self):
        _, _, log_z = self._standard()
        _, m2 = self._moments()
        return 0.5 + HALF_LOG_2PI + jnp.log(self.scale) + log_z + 0.5 * (m2 - 1)


# the families defined above: this module's public classes, in source order
__all__ = [
    n for n, v in dict(vars()).items() if n[0] != "_" and getattr(v, "__module__", "") == __name__
]
