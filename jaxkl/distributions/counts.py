"""Count families: numbers of events, on {0, 1, ...}.

Binomial (successes in ``total_count`` Bernoulli trials), Geometric (failures before the
first success), NegativeBinomial (successes before ``total_count`` failures), Poisson, and
Multinomial (counts of ``total_count`` categorical draws over ``k`` categories). The
Bernoulli-trial families share Bernoulli's ``probs`` / ``logits`` parametrisation, and
Multinomial Categorical's (:mod:`jaxkl.distributions.categorical`).

Samples are not reparameterised; they are floats in the parameters' dtype, as in torch.

``Multinomial.total_count`` is a Python ``int`` and static (pytree aux data, not a leaf), as
in torch and TFP: the support ``{x in N^k : sum x = total_count}`` and the entropy's sum
over counts depend on it, so it must be known when tracing.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlog1py, xlogy

from jaxkl import _checks
from jaxkl._pytree import static_field
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params
from jaxkl.distributions.categorical import BinaryParametrised, SimplexParametrised

__all__ = ["Binomial", "Multinomial", "Geometric", "NegativeBinomial", "Poisson"]


class Binomial(BinaryParametrised):
    """Binomial distribution: ``Binomial(total_count=1, probs=None, logits=None)`` as in torch.

    ``total_count`` is a non-negative integer (array; stored as a float leaf in the
    parameters' dtype, as torch does) and broadcasts with ``probs`` / ``logits``.
    ``entropy`` and ``enumerate_support`` sum over the support, so they need a concrete
    ``total_count`` (not a tracer), and ``enumerate_support`` a homogeneous one (torch's
    restriction).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Binomial(10, probs=0.3)
        >>> print(f"{d.mean:.4f} {d.variance:.4f} {jnp.exp(d.log_prob(3.0)):.4f}")
        3.0000 2.1000 0.2668
    """

    total_count: jax.Array
    _probs: jax.Array | None
    _logits: jax.Array | None
    arg_constraints = {
        "total_count": C.nonnegative_integer,
        "probs": C.unit_interval,
        "logits": C.extended_real,
    }
    support = C.nonnegative_integer

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        self._init_binary(probs, logits, validate_args, total_count=total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def variance(self):
        p, p0, _, _ = self._parts()
        return self.total_count * p * p0

    def log_prob(self, value):
        n = self.total_count
        log_comb = gammaln(n + 1) - gammaln(value + 1) - gammaln(n - value + 1)
        if self._logits is not None:
            _, _, lp, lq = self._parts()
            return log_comb + value * lp + (n - value) * lq
        return log_comb + xlogy(value, self._probs) + xlog1py(n - value, -self._probs)

    def _max_count(self, what: str) -> int:
        if not _checks.is_concrete(self.total_count):
            raise NotImplementedError(
                f"Binomial.{what} sums over the support {{0, ..., total_count}}, so it needs a "
                "concrete total_count (not a tracer): call it outside jit, or close over the "
                "distribution instead of passing it as an argument"
            )
        return int(np.max(np.asarray(self.total_count), initial=0))

    def _counts(self, k_max: int) -> jax.Array:
        """``0, ..., k_max`` along a new leading axis, in the dtype of ``total_count``."""
        k = jnp.arange(k_max + 1, dtype=self.total_count.dtype)
        return k.reshape((-1,) + (1,) * len(self.batch_shape))

    def entropy(self):
        k = self._counts(self._max_count("entropy"))
        lp = self.log_prob(jnp.minimum(k, self.total_count))
        inside = k <= self.total_count
        p = jnp.where(inside, jnp.exp(lp), 0.0)
        return -jnp.sum(jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0), axis=0)

    def enumerate_support(self, expand: bool = True):
        """``0, ..., total_count`` along a new leading axis (homogeneous total_count only)."""
        n = self._max_count("enumerate_support")
        if not np.all(np.asarray(self.total_count) == n):
            raise NotImplementedError(
                "Binomial.enumerate_support needs a homogeneous total_count (as torch)"
            )
        values = self._counts(n)
        return jnp.broadcast_to(values, (n + 1,) + self.batch_shape) if expand else values

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        p = self.probs
        n = jnp.broadcast_to(self.total_count, shape)
        return jax.random.binomial(key, n, jnp.broadcast_to(p, shape), shape).astype(p.dtype)


class Geometric(BinaryParametrised, ExponentialFamily):
    """Geometric distribution: the number of failures before the first success.

    On {0, 1, ...}; ``Geometric(probs=None, logits=None)`` as in torch, probs in (0, 1].

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Geometric(probs=0.25)
        >>> print(f"{d.mean:.4f} {d.variance:.4f}")
        3.0000 12.0000
    """

    _probs: jax.Array | None
    _logits: jax.Array | None
    arg_constraints = {"probs": C._Interval(0.0, 1.0, closed_low=False), "logits": C.extended_real}
    support = C.nonnegative_integer

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        self._init_binary(probs, logits, validate_args)

    @property
    def mean(self):
        if self._logits is not None:
            return jnp.exp(-self._logits)
        return 1.0 / self._probs - 1.0

    @property
    def variance(self):
        return self.mean / self.probs

    def log_prob(self, value):
        _, _, lp, lq = self._parts()
        # value * log(1 - p) with 0 * (-inf) = 0 at p = 1
        return jnp.where(value == 0, 0.0, value * jnp.where(value == 0, 0.0, lq)) + lp

    def entropy(self):
        p, p0, lp, lq = self._parts()
        h = -(p * lp + jnp.where(p0 > 0, p0 * jnp.where(p0 > 0, lq, 0.0), 0.0))
        return h / p

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        _, _, _, lq = self._parts()
        tiny = jnp.finfo(lq.dtype).tiny
        u = jax.random.uniform(key, shape, lq.dtype, minval=tiny, maxval=1.0)
        return jnp.floor(jnp.log(u) / lq)

    # eta = log(1 - p), A(eta) = -log(1 - exp(eta)) = -log p.
    @property
    def _natural_params(self):
        return (self._parts()[3],)

    def _log_normalizer(self, eta):
        return -jnp.log(-jnp.expm1(eta))


class NegativeBinomial(BinaryParametrised):
    r"""Negative binomial distribution: successes before ``total_count`` failures.

    torch's ``NegativeBinomial(total_count, probs=None, logits=None)``:

    .. math:: p(k) = \binom{k + r - 1}{k} (1 - p)^r p^k, \quad k = 0, 1, \ldots

    with ``r = total_count`` (a positive real) and ``p = probs`` the success probability,
    in ``[0, 1)``. ``mean = r p / (1 - p)``, ``variance = mean / (1 - p)``. Samples (a
    Poisson draw with a Gamma rate) are not reparameterised; there is no closed-form
    entropy (torch has none either).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.NegativeBinomial(3.0, probs=0.25)
        >>> print(f"{d.mean:.4f} {d.variance:.4f} {jnp.exp(d.log_prob(2.0)):.4f}")
        1.0000 1.3333 0.1582
    """

    total_count: jax.Array
    _probs: jax.Array | None
    _logits: jax.Array | None
    arg_constraints = {
        "total_count": C.positive,
        "probs": C._Interval(0.0, 1.0, closed_high=False),
        "logits": C.real,
    }
    support = C.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, *, validate_args=None):
        self._init_binary(probs, logits, validate_args, total_count=total_count)

    @property
    def mean(self):
        if self._logits is not None:
            return self.total_count * jnp.exp(self._logits)
        return self.total_count * self._probs / (1 - self._probs)

    @property
    def variance(self):
        _, p0, _, _ = self._parts()
        return self.mean / p0

    def log_prob(self, value):
        r = self.total_count
        _, _, lp, lq = self._parts()
        log_comb = gammaln(value + r) - gammaln(value + 1) - gammaln(r)
        # value * log p with 0 * log 0 = 0 at p = 0
        return (
            log_comb + r * lq + jnp.where(value == 0, 0.0, value * jnp.where(value == 0, 0.0, lp))
        )

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        k1, k2 = jax.random.split(key)
        dtype = self.total_count.dtype
        # Gamma(r) with scale p / (1 - p) = exp(logits), then Poisson
        g = jax.random.gamma(k1, jnp.broadcast_to(self.total_count, shape), shape, dtype)
        rate = g * jnp.broadcast_to(self.mean / self.total_count, shape)
        return jax.random.poisson(k2, rate, shape).astype(dtype)


class Poisson(ExponentialFamily):
    """Poisson distribution on {0, 1, ...}: ``Poisson(rate)`` as in torch, rate >= 0.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> print(f"{jnp.exp(jd.Poisson(2.0).log_prob(1.0)):.4f}")
        0.2707
    """

    rate: jax.Array
    arg_constraints = {"rate": C.nonnegative}
    support = C.nonnegative_integer

    def __init__(self, rate, *, validate_args=None):
        (rate,) = as_float_params(type(self).__name__, rate=rate)
        self._init(rate=rate, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def variance(self):
        return self.rate

    def log_prob(self, value):
        return xlogy(value, self.rate) - self.rate - gammaln(value + 1)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        return jax.random.poisson(key, self.rate, shape).astype(self.rate.dtype)

    @property
    def _natural_params(self):
        return (jnp.log(self.rate),)

    def _log_normalizer(self, eta):
        return jnp.exp(eta)


def _static_count(total_count) -> int:
    """``total_count`` as a Python int (concrete integral scalars are accepted)."""
    if isinstance(total_count, jax.core.Tracer):
        raise ValueError(
            "Multinomial: `total_count` must be a static non-negative Python int (pytree "
            "metadata), got a traced value; close over it instead of passing it through jit"
        )
    if isinstance(total_count, bool):
        raise ValueError(
            f"Multinomial: `total_count` must be a non-negative int, got {total_count!r}"
        )
    if isinstance(total_count, numbers.Integral):
        n = int(total_count)
    else:
        arr = np.asarray(total_count)
        if (
            arr.size != 1
            or arr.dtype.kind not in "iuf"
            or not float(arr.reshape(-1)[0]).is_integer()
        ):
            raise ValueError(
                "Multinomial: `total_count` must be a non-negative int (one count for the whole "
                f"batch, as torch), got {total_count!r}"
            )
        n = int(arr.reshape(-1)[0])
    if n < 0:
        raise ValueError(f"Multinomial: `total_count` must be a non-negative int, got {n}")
    return n


class Multinomial(SimplexParametrised, Distribution):
    r"""Multinomial distribution: counts of ``total_count`` draws from ``k`` categories.

    torch's ``Multinomial(total_count=1, probs=None, logits=None)``. ``total_count`` is a
    non-negative Python ``int`` (static, as in torch); ``probs`` need not be normalised
    (non-negative, positive sum along the last axis), ``logits`` are unnormalised
    log-probabilities. Event shape ``(k,)``; samples are float counts in the parameters'
    dtype (as torch).

    .. math::
        \log p(x) = \log n! - \sum_i \log x_i! + \sum_i x_i \log p_i,
        \qquad \sum_i x_i = n

    ``entropy`` is torch's: ``n H(Cat(p)) - log n! + Σ_i Σ_{j=1}^{n} Bin(j; n, p_i) log j!``
    (a static loop over ``j = 1..n``).

    Args:
        total_count: number of draws, a non-negative int.
        probs: category probabilities, ``batch + (k,)``.
        logits: category log-probabilities, ``batch + (k,)`` (exactly one of the two).

    Raises:
        ValueError: ``total_count`` not a non-negative int (or traced); not exactly one of
            ``probs`` / ``logits``; bad values (negative or non-finite ``probs``, NaN
            ``logits``) when concrete (a ``checkify`` check under ``jit``).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> d = jd.Multinomial(4, probs=jnp.array([0.2, 0.3, 0.5]))
        >>> print(d.mean, f"{jnp.exp(d.log_prob(jnp.array([1.0, 1.0, 2.0]))):.4f}")
        [0.8 1.2 2. ] 0.1800
    """

    _probs: jax.Array | None
    _logits: jax.Array | None
    total_count: int = static_field()
    support = C.nonnegative_integer

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        n = _static_count(total_count)
        self._init_simplex(probs, logits, validate_args, total_count=n)

    @property
    def event_shape(self):
        return (self._num_events,)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def variance(self):
        p = self.probs
        return self.total_count * p * (1.0 - p)

    def log_prob(self, value):
        value = jnp.asarray(value)
        logits = self.logits
        dtype = logits.dtype
        x = value.astype(dtype)
        n = float(self.total_count)
        # x_i log p_i with 0 * (-inf) = 0 (double where: finite gradients)
        terms = jnp.where(x == 0, 0.0, x * jnp.where(x == 0, 0.0, logits))
        lp = (
            gammaln(jnp.asarray(n + 1.0, dtype))
            - jnp.sum(gammaln(x + 1.0), -1)
            + jnp.sum(terms, -1)
        )
        valid = jnp.all((x >= 0) & (jnp.floor(x) == x), -1) & (jnp.sum(x, -1) == n)
        return jnp.where(valid, lp, -jnp.inf)

    def entropy(self):
        p = self.probs
        logits = self.logits
        dtype = p.dtype
        n = self.total_count
        cat_entropy = -jnp.sum(jnp.where(p > 0, p * jnp.where(p > 0, logits, 0.0), 0.0), -1)
        if n == 0:
            return jnp.zeros_like(cat_entropy)
        out = n * cat_entropy - gammaln(jnp.asarray(n + 1.0, dtype))
        # sum_i sum_{j=1}^n Bin(j; n, p_i) log j!  (torch's formula)
        lq1 = jnp.where(p > 0, logits, -jnp.inf)
        lq0 = jnp.log1p(-jnp.minimum(p, 1.0))
        for j in range(1, n + 1):
            log_comb = math.lgamma(n + 1.0) - math.lgamma(j + 1.0) - math.lgamma(n - j + 1.0)
            lw = (
                log_comb + j * lq1 + jnp.where(n - j > 0, (n - j) * jnp.where(p < 1, lq0, 0.0), 0.0)
            )
            lw = jnp.where((n - j > 0) & (p >= 1), -jnp.inf, lw)
            out = out + math.lgamma(j + 1.0) * jnp.sum(jnp.exp(lw), -1)
        return out

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        p = self.probs
        p = jnp.broadcast_to(p, shape + p.shape[-1:])
        counts = jax.random.multinomial(key, float(self.total_count), p, shape=shape + p.shape[-1:])
        return counts.astype(p.dtype)
