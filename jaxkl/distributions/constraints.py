"""Parameter and support constraints.

Each constraint is a small object with ``check(x) -> bool array`` (elementwise over the
batch; event-level constraints reduce over their event dims) and a readable name used in
error messages. The same table drives validation and the tests' parameter generators.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxkl._linalg import cholesky


class Constraint:
    """Base class. ``event_dim`` is how many trailing dims one constrained value spans."""

    event_dim = 0
    name = "constraint"

    def check(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True, repr=False)
class _Elementwise(Constraint):
    name: str = "elementwise"
    fn: Any = None

    def check(self, x):
        return self.fn(jnp.asarray(x))


@dataclasses.dataclass(frozen=True, repr=False)
class _Interval(Constraint):
    low: float
    high: float
    closed_low: bool = True
    closed_high: bool = True

    @property
    def name(self):
        lo = "[" if self.closed_low else "("
        hi = "]" if self.closed_high else ")"
        return f"interval {lo}{self.low}, {self.high}{hi}"

    def check(self, x):
        x = jnp.asarray(x)
        lo = x >= self.low if self.closed_low else x > self.low
        hi = x <= self.high if self.closed_high else x < self.high
        return lo & hi


def _near_one(value: jax.Array, x: jax.Array) -> jax.Array:
    """``value`` (a sum or a norm over the last axis of ``x``) is 1 within a dtype tolerance.

    The tolerance grows with the square root of the axis length, as the rounding of a sum.
    """
    tol = 1e-6 if x.dtype == jnp.float64 else 1e-4
    return jnp.abs(value - 1) < tol * x.shape[-1] ** 0.5 + tol


@dataclasses.dataclass(frozen=True, repr=False)
class _Simplex(Constraint):
    event_dim: int = 1
    name: str = "simplex"

    def check(self, x):
        x = jnp.asarray(x)
        return jnp.all(x >= 0, axis=-1) & _near_one(jnp.sum(x, axis=-1), x)


@dataclasses.dataclass(frozen=True, repr=False)
class _LowerCholesky(Constraint):
    event_dim: int = 2
    name: str = "lower_cholesky (finite, lower triangular with positive diagonal)"

    def check(self, x):
        x = jnp.asarray(x)
        lower = jnp.all(jnp.triu(x, 1) == 0, axis=(-2, -1))
        finite = jnp.all(jnp.isfinite(x), axis=(-2, -1))
        return lower & finite & jnp.all(jnp.diagonal(x, axis1=-2, axis2=-1) > 0, axis=-1)


@dataclasses.dataclass(frozen=True, repr=False)
class _PositiveDefinite(Constraint):
    event_dim: int = 2
    name: str = "positive_definite"

    def check(self, x):
        x = jnp.asarray(x)
        symmetric = jnp.all(
            jnp.abs(x - jnp.swapaxes(x, -1, -2)) <= 1e-6 * jnp.max(jnp.abs(x)) + 1e-12,
            axis=(-2, -1),
        )
        chol = cholesky(x)
        return symmetric & jnp.all(jnp.isfinite(chol), axis=(-2, -1))


@dataclasses.dataclass(frozen=True, repr=False)
class _IndependentConstraint(Constraint):
    base: Constraint
    reinterpreted: int = 1

    @property
    def event_dim(self):
        return self.base.event_dim + self.reinterpreted

    @property
    def name(self):
        return f"{self.base.name} (per event)"

    def check(self, x):
        ok = self.base.check(x)
        return jnp.all(ok, axis=tuple(range(-self.reinterpreted, 0))) if self.reinterpreted else ok


@dataclasses.dataclass(frozen=True, repr=False)
class _Sphere(Constraint):
    """Unit vectors along the last axis (directional families), within a dtype tolerance."""

    event_dim: int = 1
    name: str = "a unit vector (Euclidean norm 1 along the last axis)"

    def check(self, x):
        x = jnp.asarray(x)
        return _near_one(jnp.sqrt(jnp.sum(x * x, axis=-1)), x)


#: a finite real number (parameters: ``loc = inf`` has no distribution, and KL(p, p) would
#: be ``inf - inf``); ``finite`` names the same constraint where it reads better (bounds)
real = _Elementwise("a finite real number", jnp.isfinite)
finite = real
#: a real number or ±inf, not NaN: logits and probits (±inf are probabilities 0 and 1),
#: and infinite bounds (e.g. of a truncation interval)
extended_real = _Elementwise("real or ±inf (not NaN)", lambda x: ~jnp.isnan(x))
positive = _Elementwise("positive and finite", lambda x: (x > 0) & jnp.isfinite(x))
nonnegative = _Elementwise("non-negative and finite", lambda x: (x >= 0) & jnp.isfinite(x))
unit_interval = _Interval(0.0, 1.0)
open_unit_interval = _Interval(0.0, 1.0, closed_low=False, closed_high=False)
nonnegative_integer = _Elementwise(
    "a finite non-negative integer", lambda x: (x >= 0) & jnp.isfinite(x) & (jnp.floor(x) == x)
)
positive_integer = _Elementwise(
    "a finite positive integer", lambda x: (x >= 1) & jnp.isfinite(x) & (jnp.floor(x) == x)
)
boolean = _Elementwise("boolean (0 or 1)", lambda x: (x == 0) | (x == 1))
simplex = _Simplex()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
real_vector = _IndependentConstraint(real, 1)
extended_real_vector = _IndependentConstraint(extended_real, 1)
positive_vector = _IndependentConstraint(positive, 1)
sphere = _Sphere()


def interval(low: float, high: float) -> Constraint:
    """Values in the closed interval ``[low, high]``."""
    return _Interval(low, high)


def independent(base: Constraint, reinterpreted_batch_ndims: int) -> Constraint:
    """``base`` on every element of the ``reinterpreted_batch_ndims`` rightmost dimensions."""
    return _IndependentConstraint(base, reinterpreted_batch_ndims)


def greater_than(low: float) -> Constraint:
    """Finite values greater than ``low``."""
    return _Elementwise(f"finite and greater than {low}", lambda x: (x > low) & jnp.isfinite(x))
