"""Discrete families beyond torch's KL registry: ProbitBernoulli and Multinomial.

They follow the design of :mod:`jaxkl.distributions.discrete`: alternative
parametrisations (``probits`` / ``probs``, ``probs`` / ``logits``) stay in one class; the
value that was given is stored as is in a private field (``_probits``, ``_probs``,
``_logits``), the others are ``None`` leaves (visible in the treedef), and the public
properties compute them on access.

``Multinomial.total_count`` is a Python ``int`` and static (pytree aux data, not a leaf), as
in torch and TFP: the support ``{x in N^k : sum x = total_count}`` and the entropy's sum
over counts depend on it, so it must be known when tracing.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, log_ndtr, ndtr, ndtri

from jaxkl import _checks
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, as_float_params, float_dtype, static_field
from jaxkl.distributions.discrete import SimplexParametrised

__all__ = ["ProbitBernoulli", "Multinomial"]


def _array_like(x):
    """Lists and tuples as numpy arrays (JAX's dtype rules reject Python sequences)."""
    return jnp.asarray(x) if isinstance(x, (list, tuple)) else x


def _given_repr(value) -> str:
    return f", got {np.asarray(value)!r}" if _checks.is_concrete(value) and np.size(value) <= 8 else ""


class ProbitBernoulli(Distribution):
    r"""Bernoulli distribution with success probability ``Φ(probits)`` (Φ the standard
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

    _probits: Optional[jax.Array]
    _probs: Optional[jax.Array]
    arg_constraints = {"probits": C.real, "probs": C.unit_interval}
    support = C.boolean

    def __init__(self, probits=None, probs=None, *, validate_args=None):
        if (probits is None) == (probs is None):
            raise ValueError("ProbitBernoulli: give exactly one of `probits` or `probs`, got "
                             f"{'both' if probits is not None else 'neither'}")
        (value,) = as_float_params(_array_like(probits if probits is not None else probs))
        if probits is not None:
            self._init(_probits=value, _probs=None, validate_args=validate_args)
        else:
            self._init(_probits=None, _probs=value, validate_args=validate_args)

    def _validate_params(self) -> None:
        for name in ("probits", "probs"):
            value = getattr(self, "_" + name)
            if value is None:
                continue
            constraint = self.arg_constraints[name]
            self._value_check(
                jnp.all(constraint.check(value)),
                f"ProbitBernoulli: parameter `{name}` must be {constraint.name}" + _given_repr(value),
                value,
            )

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
        return -(jnp.where(p > 0, p * jnp.where(p > 0, lp, 0.0), 0.0)
                 + jnp.where(p0 > 0, p0 * jnp.where(p0 > 0, lq, 0.0), 0.0))

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
            "Multinomial: `total_count` must be a static non-negative Python int (pytree metadata), "
            "got a traced value; close over it instead of passing it through jit"
        )
    if isinstance(total_count, bool):
        raise ValueError(f"Multinomial: `total_count` must be a non-negative int, got {total_count!r}")
    if isinstance(total_count, numbers.Integral):
        n = int(total_count)
    else:
        arr = np.asarray(total_count)
        if arr.size != 1 or arr.dtype.kind not in "iuf" or not float(arr.reshape(-1)[0]).is_integer():
            raise ValueError(
                "Multinomial: `total_count` must be a non-negative int (one count for the whole batch, as "
                f"torch), got {total_count!r}"
            )
        n = int(arr.reshape(-1)[0])
    if n < 0:
        raise ValueError(f"Multinomial: `total_count` must be a non-negative int, got {n}")
    return n


class Multinomial(SimplexParametrised, Distribution):
    r"""Multinomial distribution: counts of ``total_count`` independent draws from ``k``
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

    _probs: Optional[jax.Array]
    _logits: Optional[jax.Array]
    total_count: int = static_field()
    arg_constraints = {"probs": C.simplex, "logits": C.real_vector}
    param_event_ndims = {"_probs": 1, "_logits": 1}
    support = C.nonnegative_integer

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        n = _static_count(total_count)
        if (probs is None) == (logits is None):
            raise ValueError("Multinomial: give exactly one of `probs` or `logits`, got "
                             f"{'both' if probs is not None else 'neither'}")
        name = "probs" if probs is not None else "logits"
        given = _array_like(probs if probs is not None else logits)
        value = jnp.asarray(given, dtype=float_dtype(given))
        if value.ndim < 1:
            raise ValueError(f"Multinomial: `{name}` needs at least one dimension (the categories), "
                             f"got shape {value.shape}")
        fields = {"_probs": None, "_logits": None, f"_{name}": value}
        self._init(total_count=n, validate_args=validate_args, **fields)

    def _validate_params(self) -> None:
        if self._probs is not None:
            p = self._probs
            ok = jnp.all((p >= 0) & jnp.isfinite(p)) & jnp.all(jnp.sum(p, axis=-1) > 0)
            msg, value = "parameter `probs` must be non-negative and finite with a positive sum along the last axis", p
        else:
            value = self._logits
            ok = jnp.all(~jnp.isnan(value)) & jnp.all(jnp.max(value, axis=-1) > -jnp.inf)
            msg = "parameter `logits` must not be NaN, nor all -inf along the last axis"
        self._value_check(ok, f"Multinomial: {msg}" + _given_repr(value), value)

    def __repr__(self) -> str:
        given = "probs" if self._probs is not None else "logits"
        return f"Multinomial(total_count: {self.total_count}, {given}: {tuple(jnp.shape(getattr(self, '_' + given)))})"

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
        lp = gammaln(jnp.asarray(n + 1.0, dtype)) - jnp.sum(gammaln(x + 1.0), -1) + jnp.sum(terms, -1)
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
            lw = log_comb + j * lq1 + jnp.where(n - j > 0, (n - j) * jnp.where(p < 1, lq0, 0.0), 0.0)
            lw = jnp.where((n - j > 0) & (p >= 1), -jnp.inf, lw)
            out = out + math.lgamma(j + 1.0) * jnp.sum(jnp.exp(lw), -1)
        return out

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape
        p = self.probs
        p = jnp.broadcast_to(p, shape + p.shape[-1:])
        counts = jax.random.multinomial(key, float(self.total_count), p, shape=shape + p.shape[-1:])
        return counts.astype(p.dtype)
