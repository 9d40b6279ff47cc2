"""Univariate continuous families."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import ExponentialFamily, as_float_params

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(ExponentialFamily):
    """Normal (Gaussian) distribution, ``Normal(loc, scale)`` as in torch."""

    loc: jax.Array
    scale: jax.Array
    arg_constraints = {"loc": C.real, "scale": C.positive}
    support = C.real
    has_rsample = True

    def __init__(self, loc, scale, *, validate_args=None):
        loc, scale = as_float_params(loc, scale)
        self._init(loc=loc, scale=scale, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return self.scale**2

    def sample(self, key, sample_shape=()):
        eps = jax.random.normal(key, tuple(sample_shape) + self.batch_shape, self.loc.dtype)
        return self.loc + self.scale * eps

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - jnp.log(self.scale) - _HALF_LOG_2PI

    def entropy(self):
        return 0.5 + _HALF_LOG_2PI + jnp.log(self.scale)

    @property
    def _natural_params(self):
        return (self.loc / self.scale**2, -0.5 / self.scale**2)

    def _log_normalizer(self, eta1, eta2):
        return -0.25 * eta1**2 / eta2 + 0.5 * jnp.log(-jnp.pi / eta2)
