"""Categorical families: one draw from finitely many outcomes.

Bernoulli and ProbitBernoulli on {0, 1}; Categorical (an index) and OneHotCategorical (a
one-hot vector) over K categories. The counts of several draws are in
:mod:`jaxkl.distributions.counts`, whose families share the parametrisations defined here.

Families parametrised by ``probs`` *or* ``logits`` (torch's keywords; ``probits`` for
ProbitBernoulli) keep both in one class. The value that was given is stored as is in a
private field (``_probs``, ``_logits``, ``_probits``; the others are ``None``, so the treedef
shows which one was given); the public properties compute the others lazily, as torch's lazy
properties do. Categorical stores the unnormalised values it was given and normalises in the
properties (``probs`` sums to 1 along the last axis, ``logits`` is the log-softmax), so the
KL can work with exact differences of the given parameters.

Samples are not reparameterised. Sample values are floats in the parameters' dtype, as in
torch, except Categorical, whose samples are ``int32`` indices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtr, ndtri, xlog1py, xlogy

from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, ExponentialFamily, as_float_params

__all__ = ["Bernoulli", "ProbitBernoulli", "Categorical", "OneHotCategorical"]


def _exactly_one(owner: str, **alternatives) -> None:
    """``ValueError`` unless exactly one of the two alternative parameters is given."""
    (a, x), (b, y) = alternatives.items()
    if (x is None) == (y is None):
        raise ValueError(
            f"{owner}: give exactly one of `{a}` or `{b}`, got "
            f"{'both' if x is not None else 'neither'}"
        )


def _given_shape(d, name: str) -> str:
    """``"name: shape"`` of the parameter stored as ``_name``, for a ``repr``."""
    return f"{name}: {tuple(jnp.shape(getattr(d, '_' + name)))}"


class BinaryParametrised(Distribution):
    """Shared ``probs`` / ``logits`` machinery of the families of one success probability.

    Bernoulli here, and the counts of Bernoulli trials (Binomial, Geometric,
    NegativeBinomial). Subclasses declare the fields ``_probs`` and ``_logits`` (in that
    order, after any other parameter) and build with :meth:`_init_binary`.
    """

    arg_constraints = {"probs": C.unit_interval, "logits": C.extended_real}

    def _init_binary(self, probs, logits, validate_args, **others) -> None:
        """The constructors' last step: exactly one of ``probs`` / ``logits``, one dtype."""
        name = type(self).__name__
        _exactly_one(name, probs=probs, logits=logits)
        *values, probs, logits = as_float_params(name, **others, probs=probs, logits=logits)
        self._init(
            **dict(zip(others, values)), _probs=probs, _logits=logits, validate_args=validate_args
        )

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
        """(p, 1 - p, log p, log(1 - p)), each accurate, from the parameter that was given."""
        if self._logits is not None:
            x = self._logits
            return (
                jax.nn.sigmoid(x),
                jax.nn.sigmoid(-x),
                jax.nn.log_sigmoid(x),
                jax.nn.log_sigmoid(-x),
            )
        p = self._probs
        return p, 1.0 - p, jnp.log(p), jnp.log1p(-p)

    def __repr__(self) -> str:
        parts = [_given_shape(self, "probs" if self._probs is not None else "logits")]
        parts += [
            f"{n}: {tuple(jnp.shape(getattr(self, n)))}"
            for n in self._leaf_names
            if not n.startswith("_")
        ]
        return f"{type(self).__name__}({', '.join(parts)})"


class _ZeroOne:
    """Mean, variance, entropy and support of a family on {0, 1}, from ``_parts()``."""

    support = C.boolean

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        p, p0, _, _ = self._parts()
        return p * p0

    def entropy(self):
        p, p0, lp, lq = self._parts()
        return -(
            jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0)
            + jnp.where(p0 > 0, p0 * jnp.where(p0 > 0, lq, 0.0), 0.0)
        )

    def enumerate_support(self, expand: bool = True):
        """``[0, 1]`` along a new leading axis, as torch's Bernoulli.

        Shape ``(2,) + batch_shape`` (``(2,) + (1,) * batch ndims`` without ``expand``).
        """
        values = jnp.arange(2, dtype=self.probs.dtype).reshape((2,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(values, (2,) + self.batch_shape) if expand else values


class Bernoulli(_ZeroOne, BinaryParametrised, ExponentialFamily):
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

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        self._init_binary(probs, logits, validate_args)

    def log_prob(self, value):
        if self._logits is not None:
            _, _, lp, lq = self._parts()
            return value * lp + (1 - value) * lq
        return xlogy(value, self._probs) + xlog1py(1 - value, -self._probs)

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


class ProbitBernoulli(_ZeroOne, Distribution):
    r"""Bernoulli distribution with success probability ``Φ(probits)``.

    ``Φ`` is the standard normal CDF: TFP's ``ProbitBernoulli(probits=None, probs=None)``.
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

    def __init__(self, probits=None, probs=None, *, validate_args=None):
        _exactly_one("ProbitBernoulli", probits=probits, probs=probs)
        probits, probs = as_float_params(type(self).__name__, probits=probits, probs=probs)
        self._init(_probits=probits, _probs=probs, validate_args=validate_args)

    def __repr__(self) -> str:
        given = "probits" if self._probits is not None else "probs"
        return f"ProbitBernoulli({_given_shape(self, given)})"

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

    def log_prob(self, value):
        value = jnp.asarray(value)
        _, _, lp, lq = self._parts()
        one = value == 1
        zero = value == 0
        # 0 * log 0 = 0 at probs in {0, 1}: select, never multiply, the log-probabilities
        inside = jnp.where(one, lp, lq)
        return jnp.where(one | zero, inside, -jnp.inf)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        if self._probits is not None:
            # P(Z < probits) = Φ(probits), exact also for extreme probits
            z = jax.random.normal(key, shape, self._probits.dtype)
            return (z < self._probits).astype(self._probits.dtype)
        return jax.random.bernoulli(key, self._probs, shape).astype(self._probs.dtype)


class SimplexParametrised:
    """Mixin of the families given by probabilities or logits over the last axis.

    Categorical, OneHotCategorical and Multinomial. The given parameter is stored
    unnormalised as ``_probs`` or ``_logits`` (the other ``None``); ``probs`` and ``logits``
    read it normalised, as torch does. Subclasses declare the two fields and build with
    :meth:`_init_simplex`.
    """

    arg_constraints = {"probs": C.simplex, "logits": C.extended_real_vector}
    param_event_ndims = {"_probs": 1, "_logits": 1}

    def _init_simplex(self, probs, logits, validate_args, **static) -> None:
        """The constructors' last step: exactly one parameter, with a category axis."""
        name = type(self).__name__
        _exactly_one(name, probs=probs, logits=logits)
        given = "probs" if probs is not None else "logits"
        (value,) = as_float_params(
            name, broadcast=False, **{given: probs if probs is not None else logits}
        )
        if value.ndim < 1:
            raise ValueError(
                f"{name}: `{given}` needs at least one dimension (the categories), got shape "
                f"{value.shape}"
            )
        fields = {"_probs": None, "_logits": None, f"_{given}": value}
        self._init(**fields, **static, validate_args=validate_args)

    def _validate_params(self) -> None:
        """Probabilities to normalise, or logits, along the last axis."""
        if self._probs is not None:
            p = self._probs
            ok = jnp.all((p >= 0) & jnp.isfinite(p)) & jnp.all(jnp.sum(p, axis=-1) > 0)
            self._check_param(
                "probs", p, ok, "non-negative and finite with a positive sum along the last axis"
            )
        else:
            x = self._logits
            ok = jnp.all(~jnp.isnan(x)) & jnp.all(jnp.max(x, axis=-1) > -jnp.inf)
            self._check_param("logits", x, ok, "free of NaN and not all -inf along the last axis")

    def __repr__(self) -> str:
        parts = [f"{n}: {getattr(self, n)}" for n in self._static_names]
        parts.append(_given_shape(self, "probs" if self._probs is not None else "logits"))
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def _num_events(self) -> int:
        given = self._probs if self._probs is not None else self._logits
        return jnp.shape(given)[-1]

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
    """Shared machinery of Categorical and OneHotCategorical (one draw over the last axis)."""

    _probs: jax.Array | None
    _logits: jax.Array | None

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        self._init_simplex(probs, logits, validate_args)

    def entropy(self):
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
    """Categorical distribution over ``{0, ..., K-1}``.

    ``Categorical(probs=None, logits=None)`` as in torch. The last axis of the parameter
    indexes the categories; ``probs`` need not be normalised (non-negative, positive sum),
    ``logits`` are unnormalised log-probabilities. Samples are ``int32`` indices.

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

    def sample(self, key, sample_shape=()):
        return self._sample_indices(key, sample_shape)

    def enumerate_support(self, expand: bool = True):
        """``0, ..., K-1`` (int32) along a new leading axis, as torch."""
        k = self._num_events
        values = jnp.arange(k, dtype=jnp.int32).reshape((k,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(values, (k,) + self.batch_shape) if expand else values


class OneHotCategorical(CategoricalParametrised):
    """One-hot categorical distribution.

    ``OneHotCategorical(probs=None, logits=None)`` as in torch; event shape ``(K,)``,
    samples are one-hot float vectors.

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
