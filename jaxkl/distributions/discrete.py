"""Discrete families.

Discrete families: Bernoulli, Binomial, Categorical, OneHotCategorical, Geometric, Poisson,
ProbitBernoulli and Multinomial.

Families parametrised by ``probs`` *or* ``logits`` (torch's keywords; ``probits`` for
ProbitBernoulli) keep both in one class. The value that was given is stored as is in a
private field (``_probs``, ``_logits``, ``_probits``; the others are ``None``, so the treedef
shows which one was given); the public properties compute the others lazily, as torch's lazy
properties do. Categorical stores the unnormalised values it was given and normalises in the
properties (``probs`` sums to 1 along the last axis, ``logits`` is the log-softmax), so the
KL can work with exact differences of the given parameters.

Samples are not reparameterised. Sample values are floats in the parameters' dtype, as in
torch, except Categorical, whose samples are ``int32`` indices.

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
from jax.scipy.special import gammaln, log_ndtr, ndtr, ndtri, xlog1py, xlogy

from jaxkl import _checks
from jaxkl._pytree import static_field
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import (
    Distribution,
    ExponentialFamily,
    as_float_params,
)

__all__ = [
    "Bernoulli",
    "Binomial",
    "Categorical",
    "OneHotCategorical",
    "Geometric",
    "Poisson",
    "ProbitBernoulli",
    "NegativeBinomial",
    "Multinomial",
]


def _one_of(cls_name: str, probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError(
            f"{cls_name}: give exactly one of `probs` or `logits`, got "
            f"{'both' if probs is not None else 'neither'}"
        )


def _sigmoid_parts(logits):
    """(p, 1 - p, log p, log(1 - p)) from logits, each accurate."""
    return (
        jax.nn.sigmoid(logits),
        jax.nn.sigmoid(-logits),
        jax.nn.log_sigmoid(logits),
        jax.nn.log_sigmoid(-logits),
    )


class BinaryParametrised(Distribution):
    """Shared ``probs`` / ``logits`` machinery of Bernoulli, Binomial and Geometric.

    Subclasses declare the fields ``_probs`` and ``_logits`` (in that order, after any
    other parameter).
    """

    arg_constraints = {"probs": C.unit_interval, "logits": C.extended_real}

    @property
    def probs(self) -> jax.Array:
        """Probability of a success (torch's ``probs``)."""
        if self._probs is not None:
            return self._probs
        return jax.nn.sigmoid(self._logits)

    @property
    def logits(self) -> jax.Array:
        """Log-odds ``log(p) - log(1 - p)`` (torch's ``logits``; +-inf at p = 1, 0)."""
        if self._logits is not None:
            return self._logits
        return jnp.log(self._probs) - jnp.log1p(-self._probs)

    def _parts(self):
        """(p, 1 - p, log p, log(1 - p)) computed from whichever parameter was given."""
        if self._logits is not None:
            return _sigmoid_parts(self._logits)
        p = self._probs
        return p, 1.0 - p, jnp.log(p), jnp.log1p(-p)

    def __repr__(self) -> str:
        given = "probs" if self._probs is not None else "logits"
        return f"{type(self).__name__}({given}: {tuple(jnp.shape(getattr(self, '_' + given)))})"


class Bernoulli(BinaryParametrised, ExponentialFamily):
    """Bernoulli distribution on {0, 1}: ``Bernoulli(probs=None, logits=None)`` as in torch.

    Args:
        probs: probability of 1, in [0, 1].
        logits: log-odds of 1 (exactly one of ``probs`` / ``logits``).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Bernoulli(logits=0.0)
        >>> print(f"{d.probs:.4f} {d.entropy():.4f}")
        0.5000 0.6931
    """

    _probs: jax.Array | None
    _logits: jax.Array | None
    support = C.boolean

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        _one_of("Bernoulli", probs, logits)
        probs, logits = as_float_params(type(self).__name__, probs=probs, logits=logits)
        self._init(_probs=probs, _logits=logits, validate_args=validate_args)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p, p0, _, _ = self._parts()
        return p * p0

    def log_prob(self, value):
        if self._logits is not None:
            _, _, lp, lq = self._parts()
            return value * lp + (1 - value) * lq
        return xlogy(value, self._probs) + xlog1py(1 - value, -self._probs)

    def entropy(self):
        p, p0, lp, lq = self._parts()
        return -(
            jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0)
            + jnp.where(p0 > 0, p0 * jnp.where(p0 > 0, lq, 0.0), 0.0)
        )

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        p = self.probs
        return jax.random.bernoulli(key, p, shape).astype(p.dtype)

    # eta = logits, A(eta) = softplus(eta)
    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, eta):
        return jax.nn.softplus(eta)

    def enumerate_support(self, expand: bool = True):
        """The support ``[0, 1]`` of a binary family.

        ``[0, 1]`` with shape ``(2,) + batch_shape`` (``(2,) + (1,) * batch ndims``
        without ``expand``), as torch.
        """
        values = jnp.arange(2, dtype=self.probs.dtype).reshape((2,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(values, (2,) + self.batch_shape) if expand else values


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
        _one_of("Binomial", probs, logits)
        total_count, probs, logits = as_float_params(
            type(self).__name__, total_count=total_count, probs=probs, logits=logits
        )
        self._init(
            total_count=total_count, _probs=probs, _logits=logits, validate_args=validate_args
        )

    def _validate_params(self) -> None:
        n = self.total_count
        self._check_param(
            "total_count", n, C.nonnegative_integer.check(n), "a finite non-negative integer"
        )
        super()._validate_params()

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", total_count: {tuple(jnp.shape(self.total_count))})"

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

    def entropy(self):
        k_max = self._max_count("entropy")
        k = jnp.arange(k_max + 1, dtype=self.total_count.dtype).reshape(
            (-1,) + (1,) * len(self.batch_shape)
        )
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
        values = jnp.arange(n + 1, dtype=self.total_count.dtype).reshape(
            (-1,) + (1,) * len(self.batch_shape)
        )
        return jnp.broadcast_to(values, (n + 1,) + self.batch_shape) if expand else values

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        p = self.probs
        n = jnp.broadcast_to(self.total_count, shape)
        return jax.random.binomial(key, n, jnp.broadcast_to(p, shape), shape).astype(p.dtype)


class Geometric(BinaryParametrised, ExponentialFamily):
    """Geometric distribution.

    Geometric distribution: the number of failures before the first success, on
    {0, 1, ...}; ``Geometric(probs=None, logits=None)`` as in torch, probs in (0, 1].

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
        _one_of("Geometric", probs, logits)
        probs, logits = as_float_params(type(self).__name__, probs=probs, logits=logits)
        self._init(_probs=probs, _logits=logits, validate_args=validate_args)

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
        _one_of("NegativeBinomial", probs, logits)
        total_count, probs, logits = as_float_params(
            type(self).__name__, total_count=total_count, probs=probs, logits=logits
        )
        self._init(
            total_count=total_count, _probs=probs, _logits=logits, validate_args=validate_args
        )

    def _validate_params(self) -> None:
        n = self.total_count
        self._check_param("total_count", n, C.positive.check(n), "positive")
        super()._validate_params()

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", total_count: {tuple(jnp.shape(self.total_count))})"

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


class SimplexParametrised:
    """Mixin for families given by unnormalised probabilities or logits over the last axis.

    Mixin for families given by unnormalised ``_probs`` or ``_logits`` over the last axis
    (the other ``None``): ``probs`` and ``logits`` read them normalised, as torch does.
    Shared by Categorical, OneHotCategorical and Multinomial.
    """

    @property
    def probs(self) -> jax.Array:
        """Probabilities, normalised along the last axis (torch's ``probs``)."""
        if self._probs is not None:
            return self._probs / jnp.sum(self._probs, axis=-1, keepdims=True)
        return jax.nn.softmax(self._logits, axis=-1)

    @property
    def logits(self) -> jax.Array:
        """Normalised log-probabilities (torch's ``logits``; ``-inf`` where probs is 0)."""
        if self._logits is not None:
            return jax.nn.log_softmax(self._logits, axis=-1)
        return jnp.log(self._probs) - jnp.log(jnp.sum(self._probs, axis=-1, keepdims=True))


class CategoricalParametrised(SimplexParametrised, ExponentialFamily):
    """Shared machinery of Categorical and OneHotCategorical.

    Shared machinery of Categorical and OneHotCategorical (fields ``_probs``, ``_logits``
    with one trailing category axis).
    """

    _probs: jax.Array | None
    _logits: jax.Array | None
    arg_constraints = {"probs": C.simplex, "logits": C.extended_real_vector}
    param_event_ndims = {"_probs": 1, "_logits": 1}

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        name = type(self).__name__
        _one_of(name, probs, logits)
        given = probs if probs is not None else logits
        _checks.check_real_input(
            given, "probs" if probs is not None else "logits", f"{name}: parameter "
        )
        value = jnp.asarray(given, dtype=_checks.compute_dtype(given))
        if value.ndim < 1:
            raise ValueError(
                f"{name}: `{'probs' if probs is not None else 'logits'}` needs at least one "
                f"dimension (the categories), got shape {value.shape}"
            )
        if probs is not None:
            self._init(_probs=value, _logits=None, validate_args=validate_args)
        else:
            self._init(_probs=None, _logits=value, validate_args=validate_args)

    def _validate_params(self) -> None:
        _check_category_params(self)

    def __repr__(self) -> str:
        given = "probs" if self._probs is not None else "logits"
        return f"{type(self).__name__}({given}: {tuple(jnp.shape(getattr(self, '_' + given)))})"

    @property
    def _num_events(self) -> int:
        given = self._probs if self._probs is not None else self._logits
        return jnp.shape(given)[-1]

    def _entropy(self):
        p, lp = self.probs, self.logits
        return -jnp.sum(jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0), axis=-1)

    def _sample_indices(self, key, sample_shape):
        shape = tuple(sample_shape) + self.batch_shape
        logits = self.logits
        return jax.random.categorical(key, logits, axis=-1, shape=shape)

    def _log_prob_index(self, index):
        logits = self.logits
        index = jnp.asarray(index)
        shape = jnp.broadcast_shapes(index.shape, logits.shape[:-1])
        logits = jnp.broadcast_to(logits, shape + logits.shape[-1:])
        index = jnp.broadcast_to(index, shape).astype(jnp.int32)
        return jnp.take_along_axis(logits, index[..., None], axis=-1)[..., 0]

    # eta = normalised logits (finite where all probs > 0), A(eta) = logsumexp(eta).
    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, eta):
        return jax.nn.logsumexp(eta, axis=-1)


class Categorical(CategoricalParametrised):
    """Categorical distribution.

    Categorical distribution over ``{0, ..., K-1}``: ``Categorical(probs=None,
    logits=None)`` as in torch. The last axis of the parameter indexes the categories;
    ``probs`` need not be normalised (non-negative, positive sum), ``logits`` are
    unnormalised log-probabilities. Samples are ``int32`` indices.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.Categorical(probs=jnp.array([1.0, 1.0, 2.0]))
        >>> print(d.probs, f"{jnp.exp(d.log_prob(2)):.4f}")
        [0.25 0.25 0.5 ] 0.5000
    """

    support = C.nonnegative_integer

    @property
    def mean(self):
        raise NotImplementedError(
            "Categorical has no mean (torch returns NaN); use OneHotCategorical"
        )

    @property
    def variance(self):
        raise NotImplementedError(
            "Categorical has no variance (torch returns NaN); use OneHotCategorical"
        )

    def log_prob(self, value):
        return self._log_prob_index(value)

    def entropy(self):
        return self._entropy()

    def sample(self, key, sample_shape=()):
        return self._sample_indices(key, sample_shape)

    def enumerate_support(self, expand: bool = True):
        """``0, ..., K-1`` (int32) along a new leading axis, as torch."""
        k = self._num_events
        values = jnp.arange(k, dtype=jnp.int32).reshape((k,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(values, (k,) + self.batch_shape) if expand else values


class OneHotCategorical(CategoricalParametrised):
    """One-hot categorical distribution.

    One-hot categorical distribution: ``OneHotCategorical(probs=None, logits=None)`` as in
    torch; event shape ``(K,)``, samples are one-hot float vectors.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.OneHotCategorical(logits=jnp.zeros(4))
        >>> print(d.event_shape, d.mean)
        (4,) [0.25 0.25 0.25 0.25]
    """

    support = C.simplex  # one-hot vectors

    @property
    def event_shape(self):
        return (self._num_events,)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p = self.probs
        return p * (1.0 - p)

    def log_prob(self, value):
        return self._log_prob_index(jnp.argmax(value, axis=-1))

    def entropy(self):
        return self._entropy()

    def sample(self, key, sample_shape=()):
        idx = self._sample_indices(key, sample_shape)
        dtype = (self._probs if self._probs is not None else self._logits).dtype
        return jax.nn.one_hot(idx, self._num_events, dtype=dtype)

    def enumerate_support(self, expand: bool = True):
        """The K one-hot vectors along a new leading axis, as torch."""
        k = self._num_events
        dtype = (self._probs if self._probs is not None else self._logits).dtype
        values = jnp.eye(k, dtype=dtype).reshape((k,) + (1,) * len(self.batch_shape) + (k,))
        return jnp.broadcast_to(values, (k,) + self.batch_shape + (k,)) if expand else values


def _array_like(x):
    """Lists and tuples as numpy arrays (JAX's dtype rules reject Python sequences)."""
    return jnp.asarray(x) if isinstance(x, (list, tuple)) else x


def _check_category_params(d) -> None:
    """Categorical and Multinomial: probabilities to normalise, or logits, along the last axis."""
    if d._probs is not None:
        p = d._probs
        ok = jnp.all((p >= 0) & jnp.isfinite(p)) & jnp.all(jnp.sum(p, axis=-1) > 0)
        d._check_param(
            "probs", p, ok, "non-negative and finite with a positive sum along the last axis"
        )
    else:
        x = d._logits
        ok = jnp.all(~jnp.isnan(x)) & jnp.all(jnp.max(x, axis=-1) > -jnp.inf)
        d._check_param("logits", x, ok, "free of NaN and not all -inf along the last axis")


class ProbitBernoulli(Distribution):
    r"""Bernoulli distribution with success probability ``Φ(probits)``.

    Bernoulli distribution with success probability ``Φ(probits)`` (Φ the standard
    normal CDF): TFP's ``ProbitBernoulli(probits=None, probs=None)``.

    With ``probits`` given, the outcome log-probabilities are ``log_ndtr(±probits)``, so
    they are finite and accurate for extreme probits (``Φ(-30) ≈ 5e-198`` underflows in
    float32, its logarithm does not).

    .. math::
        P(X = 1) = \Phi(\text{probits}), \qquad \log p(x) = x \log\Phi(\text{probits})
        + (1 - x)\log\Phi(-\text{probits})

    Args:
        probits: real; the success probability is ``Φ(probits)``.
        probs: success probability in [0, 1] (exactly one of ``probits`` / ``probs``).
        validate_args: check the parameter (default on).

    Raises:
        ValueError: not exactly one parameter; ``probs`` outside [0, 1] or NaN ``probits``
            (when concrete; a ``checkify`` check under ``jit``).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> d = jd.ProbitBernoulli(probits=1.0)
        >>> print(f"{d.probs:.4f} {d.log_prob(0.0):.4f} {d.entropy():.4f}")
        0.8413 -1.8410 0.4374
    """

    _probits: jax.Array | None
    _probs: jax.Array | None
    arg_constraints = {"probits": C.extended_real, "probs": C.unit_interval}
    support = C.boolean

    def __init__(self, probits=None, probs=None, *, validate_args=None):
        if (probits is None) == (probs is None):
            raise ValueError(
                "ProbitBernoulli: give exactly one of `probits` or `probs`, got "
                f"{'both' if probits is not None else 'neither'}"
            )
        probits, probs = as_float_params(type(self).__name__, probits=probits, probs=probs)
        self._init(_probits=probits, _probs=probs, validate_args=validate_args)

    def __repr__(self) -> str:
        given = "probits" if self._probits is not None else "probs"
        return f"ProbitBernoulli({given}: {tuple(jnp.shape(getattr(self, '_' + given)))})"

    @property
    def probits(self) -> jax.Array:
        """``Φ^{-1}(probs)`` (±inf at probs 1, 0)."""
        if self._probits is not None:
            return self._probits
        return ndtri(self._probs)

    @property
    def probs(self) -> jax.Array:
        """Probability of a success, ``Φ(probits)``."""
        if self._probs is not None:
            return self._probs
        return ndtr(self._probits)

    def _parts(self):
        """(p, 1 - p, log p, log(1 - p)), each accurate, from the parameter that was given."""
        if self._probits is not None:
            z = self._probits
            return ndtr(z), ndtr(-z), log_ndtr(z), log_ndtr(-z)
        p = self._probs
        return p, 1.0 - p, jnp.log(p), jnp.log1p(-p)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p, p0, _, _ = self._parts()
        return p * p0

    def log_prob(self, value):
        value = jnp.asarray(value)
        _, _, lp, lq = self._parts()
        one = value == 1
        zero = value == 0
        # 0 * log 0 = 0 at probs in {0, 1}: select, never multiply, the log-probabilities
        inside = jnp.where(one, lp, lq)
        return jnp.where(one | zero, inside, -jnp.inf)

    def entropy(self):
        p, p0, lp, lq = self._parts()
        return -(
            jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0)
            + jnp.where(p0 > 0, p0 * jnp.where(p0 > 0, lq, 0.0), 0.0)
        )

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        if self._probits is not None:
            # P(Z < probits) = Φ(probits), exact also for extreme probits
            z = jax.random.normal(key, shape, self._probits.dtype)
            return (z < self._probits).astype(self._probits.dtype)
        return jax.random.bernoulli(key, self._probs, shape).astype(self._probs.dtype)

    def enumerate_support(self, expand: bool = True):
        """``[0, 1]`` along a new leading axis, as torch's Bernoulli."""
        dtype = self.probs.dtype
        values = jnp.arange(2, dtype=dtype).reshape((2,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(values, (2,) + self.batch_shape) if expand else values


def _static_count(total_count) -> int:
    """``total_count`` as a Python int (concrete integral scalars are accepted)."""
    if isinstance(total_count, jax.core.Tracer):
        raise ValueError(
            "Multinomial: `total_count` must be a static non-negative Python int (pytree "
            "metadata), "
            "got a traced value; close over it instead of passing it through jit"
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
                "batch, as "
                f"torch), got {total_count!r}"
            )
        n = int(arr.reshape(-1)[0])
    if n < 0:
        raise ValueError(f"Multinomial: `total_count` must be a non-negative int, got {n}")
    return n


class Multinomial(SimplexParametrised, Distribution):
    r"""Multinomial distribution.

    Multinomial distribution: counts of ``total_count`` independent draws from ``k``
    categories; torch's ``Multinomial(total_count=1, probs=None, logits=None)``.

    ``total_count`` is a non-negative Python ``int`` (static, as in torch); ``probs`` need
    not be normalised (non-negative, positive sum along the last axis), ``logits`` are
    unnormalised log-probabilities. Event shape ``(k,)``; samples are float counts in the
    parameters' dtype (as torch).

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
    arg_constraints = {"probs": C.simplex, "logits": C.extended_real_vector}
    param_event_ndims = {"_probs": 1, "_logits": 1}
    support = C.nonnegative_integer

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        n = _static_count(total_count)
        if (probs is None) == (logits is None):
            raise ValueError(
                "Multinomial: give exactly one of `probs` or `logits`, got "
                f"{'both' if probs is not None else 'neither'}"
            )
        name = "probs" if probs is not None else "logits"
        given = _array_like(probs if probs is not None else logits)
        _checks.check_real_input(given, name, "Multinomial: parameter ")
        value = jnp.asarray(given, dtype=_checks.compute_dtype(given))
        if value.ndim < 1:
            raise ValueError(
                f"Multinomial: `{name}` needs at least one dimension (the categories), "
                f"got shape {value.shape}"
            )
        fields = {"_probs": None, "_logits": None, f"_{name}": value}
        self._init(total_count=n, validate_args=validate_args, **fields)

    def _validate_params(self) -> None:
        _check_category_params(self)

    def __repr__(self) -> str:
        given = "probs" if self._probs is not None else "logits"
        shape = tuple(jnp.shape(getattr(self, "_" + given)))
        return f"Multinomial(total_count: {self.total_count}, {given}: {shape})"

    @property
    def _num_events(self) -> int:
        given = self._probs if self._probs is not None else self._logits
        return jnp.shape(given)[-1]

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
