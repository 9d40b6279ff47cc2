"""Directional families: distributions on the circle and on the unit sphere.

``VonMises(loc, concentration)`` is torch's circular distribution (angles in radians).
``VonMisesFisher(mean_direction, concentration)``, ``PowerSpherical(mean_direction,
concentration)`` and ``SphericalUniform(dimension, batch_shape=())`` live on the unit
sphere ``S^{d-1}`` of ``R^d``, with event shape ``(d,)`` and TensorFlow Probability's keywords.

The normalisers need ``log I_nu`` and ``I_{nu+1}/I_nu`` for concentrations up to 1e6 and
beyond; those come from :func:`jaxkl._numerics.bessel_i_terms` (power series below 12,
Debye's uniform expansion above), so every quantity here stays finite and accurate for huge
concentrations.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from jaxkl._numerics import (
    bessel_i_terms,
    lgamma_difference,
    power_spherical_kl_uniform,
    vmf_kl_uniform,
)
from jaxkl._pytree import static_field
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution, as_float_params

__all__ = ["VonMises", "VonMisesFisher", "PowerSpherical", "SphericalUniform"]

_LOG_2PI = math.log(2 * math.pi)
#: rounds of the vectorised rejection samplers; each round accepts with probability > 0.5
#: per element (Best-Fisher > 0.65, Wood > 0.5), so 64 rounds leave ~1e-20 unaccepted
_MAX_REJECTION_ROUNDS = 64


def _log_sphere_area(d: int) -> float:
    """``log |S^{d-1}| = log(2 pi^{d/2} / Gamma(d/2))`` (float64 constant)."""
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def _rejection_sample(
    key: jax.Array,
    propose: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    like: jax.Array,
) -> jax.Array:
    """Vectorised rejection sampling: ``propose(key) -> (candidate, accepted)`` per element.

    Accepted candidates are kept, the rest redrawn, for at most ``_MAX_REJECTION_ROUNDS``
    rounds (a ``while_loop``: jittable and vmappable).
    """

    def cond(state):
        i, _, _, done = state
        return (i < _MAX_REJECTION_ROUNDS) & ~jnp.all(done)

    def body(state):
        i, key, value, done = state
        key, sub = jax.random.split(key)
        cand, ok = propose(sub)
        value = jnp.where(done, value, cand)
        return i + 1, key, value, done | ok

    init = (jnp.asarray(0), key, jnp.zeros_like(like), jnp.zeros(like.shape, bool))
    _, _, value, _ = jax.lax.while_loop(cond, body, init)
    return value


#: the samplers run as one compiled computation (static sampler and sample shape), so eager
#: calls compile once per shape instead of dispatching dozens of small ops
_jit_sample = jax.jit(lambda fn, dist, key, shape: fn(dist, key, shape), static_argnums=(0, 3))


def _orthogonal_unit(key: jax.Array, mu: jax.Array) -> jax.Array:
    """Uniform unit vectors orthogonal to ``mu`` (last axis).

    An isotropic Gaussian with its component along ``mu`` removed, normalised.
    """
    g = jax.random.normal(key, mu.shape, mu.dtype)
    g = g - jnp.sum(g * mu, axis=-1, keepdims=True) * mu
    norm = jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))
    return g / jnp.where(norm > 0, norm, 1.0)


def _chi_square(key: jax.Array, df: int, shape, dtype) -> jax.Array:
    """Chi-square variates with a static integer ``df``.

    Sums of squared normals up to 64 degrees of freedom; beyond, ``2 * Gamma(df / 2)``.
    """
    if df <= 64:
        g = jax.random.normal(key, tuple(shape) + (df,), dtype)
        return jnp.sum(g * g, axis=-1)
    return 2.0 * jax.random.gamma(key, jnp.asarray(0.5 * df, dtype), tuple(shape), dtype)


class _OnSphere(Distribution):
    """Shared parameters of the families of a mean direction and a concentration on ``S^{d-1}``.

    ``mean_direction`` is ``batch + (d,)`` with ``d >= 2`` (unit norm, checked within 1e-4
    in float32), ``concentration`` is ``batch``; the event shape is ``(d,)``.
    """

    mean_direction: jax.Array
    concentration: jax.Array
    arg_constraints = {"mean_direction": C.sphere, "concentration": C.nonnegative}
    param_event_ndims = {"mean_direction": 1}
    support = C.sphere

    def __init__(self, mean_direction, concentration, *, validate_args=None):
        name = type(self).__name__
        mean_direction, concentration = as_float_params(
            name, mean_direction=mean_direction, concentration=concentration, broadcast=False
        )
        if mean_direction.ndim < 1 or mean_direction.shape[-1] < 2:
            raise ValueError(
                f"{name}: `mean_direction` must have a last (event) axis of size d >= 2, "
                f"got shape {mean_direction.shape}"
            )
        batch = jnp.broadcast_shapes(mean_direction.shape[:-1], concentration.shape)
        self._init(
            mean_direction=jnp.broadcast_to(mean_direction, batch + mean_direction.shape[-1:]),
            concentration=jnp.broadcast_to(concentration, batch),
            validate_args=validate_args,
        )

    @property
    def event_shape(self):
        return tuple(jnp.shape(self.mean_direction)[-1:])

    @property
    def _d(self) -> int:
        return int(jnp.shape(self.mean_direction)[-1])

    def sample(self, key, sample_shape=()):
        return _jit_sample(type(self)._sample, self, key, tuple(sample_shape))


# --------------------------------------------------------------------------- von Mises


class VonMises(Distribution):
    r"""Von Mises distribution on the circle, ``VonMises(loc, concentration)`` as in torch.

    .. math:: p(\theta) = \frac{\exp(\kappa \cos(\theta - \mu))}{2\pi I_0(\kappa)}

    ``mean`` is ``loc`` and ``variance`` the circular variance ``1 - I_1(\kappa)/I_0(\kappa)``
    (torch's conventions). ``sample`` returns angles in ``[-pi, pi)`` by Best and Fisher's
    rejection sampler, written so that it stays exact in float32 for concentrations from 0
    to 1e6 (torch switches to float64 for this).

    Examples:
        >>> from jaxkl import distributions as jd
        >>> p = jd.VonMises(0.0, 2.0)
        >>> print(f"{p.log_prob(0.5):.4f} {p.entropy():.4f}")
        -0.9067 1.2663

    References:
        Best, D. J. and Fisher, N. I. (1979). Efficient simulation of the von Mises
        distribution. Applied Statistics 28(2), 152-157.
    """

    loc: jax.Array
    concentration: jax.Array
    arg_constraints = {"loc": C.real, "concentration": C.nonnegative}
    support = C.real

    def __init__(self, loc, concentration, *, validate_args=None):
        loc, concentration = as_float_params(
            type(self).__name__, loc=loc, concentration=concentration
        )
        self._init(loc=loc, concentration=concentration, validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def variance(self):
        return bessel_i_terms(0.0, self.concentration).one_minus_ratio

    def log_prob(self, value):
        value = jnp.asarray(value, self.loc.dtype)
        half = jnp.sin(0.5 * (value - self.loc))
        return (
            -2.0 * self.concentration * half * half
            - _LOG_2PI
            - bessel_i_terms(0.0, self.concentration).log_ive
        )

    def entropy(self):
        t = bessel_i_terms(0.0, self.concentration)
        return _LOG_2PI + t.log_ive + self.concentration * t.one_minus_ratio

    def sample(self, key, sample_shape=()):
        return _jit_sample(type(self)._sample, self, key, tuple(sample_shape))

    def _sample(self, key, sample_shape):
        shape = tuple(sample_shape) + self.batch_shape
        dtype = self.loc.dtype
        kappa = jnp.broadcast_to(jnp.maximum(self.concentration, 1e-30), shape)
        # Best-Fisher's tau, rho and r = (1 + rho^2)/(2 rho), with eps = r - 1 formed directly
        sigma = jnp.sqrt(1.0 + 4.0 * kappa * kappa)
        tau = 1.0 + sigma
        root = jnp.sqrt(2.0 * tau)
        rho = 2.0 * kappa / (tau + root)
        one_minus_rho = (1.0 + 1.0 / (sigma + 2.0 * kappa) + root) / (tau + root)
        eps = one_minus_rho * one_minus_rho / (2.0 * rho)

        def propose(k):
            k1, k2, k3 = jax.random.split(k, 3)
            u1 = jax.random.uniform(k1, shape, dtype)
            u2 = jax.random.uniform(k2, shape, dtype, minval=jnp.finfo(dtype).tiny)
            u3 = jax.random.uniform(k3, shape, dtype)
            # z = cos(pi u1); f = (1 + r z)/(r + z); 1 - f = eps (1 - z)/(eps + 1 + z)
            s2 = jnp.sin(0.5 * jnp.pi * u1) ** 2
            one_minus_f = eps * 2.0 * s2 / (eps + 2.0 * (1.0 - s2))
            c = kappa * (eps + one_minus_f)
            ok = (c * (2.0 - c) - u2 > 0) | (jnp.log(c / u2) + 1.0 - c >= 0)
            theta = 2.0 * jnp.arcsin(jnp.sqrt(jnp.clip(0.5 * one_minus_f, 0.0, 1.0)))
            return jnp.where(u3 < 0.5, -theta, theta), ok

        theta = _rejection_sample(key, propose, kappa)
        return jnp.mod(theta + self.loc + jnp.pi, 2.0 * jnp.pi) - jnp.pi


# --------------------------------------------------------------------------- von Mises-Fisher


class VonMisesFisher(_OnSphere):
    r"""Von Mises-Fisher distribution on the unit sphere ``S^{d-1}``.

    ``VonMisesFisher(mean_direction, concentration)`` as in TensorFlow Probability.

    .. math::
        p(x) = \frac{\kappa^{\nu}}{(2\pi)^{\nu+1} I_\nu(\kappa)} \exp(\kappa \mu^\top x),
        \qquad \nu = d/2 - 1

    ``mean_direction`` has shape ``batch + (d,)`` (unit norm, checked within 1e-4 in float32),
    ``concentration`` shape ``batch``; the event shape is ``(d,)``. ``mean`` is
    ``A_nu(kappa) mu`` and ``variance`` the diagonal of the covariance
    ``A/kappa (I - mu mu^T) + A' mu mu^T`` (``A' = 1 - A^2 - (d-1) A/kappa``, which loses
    relative accuracy ~ ``kappa * eps`` along ``mu`` for huge kappa). ``sample`` is Wood's
    rejection sampler (not reparameterised).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.VonMisesFisher(jnp.array([0.0, 0.0, 1.0]), 5.0)
        >>> print(f"{p.log_prob(jnp.array([0.0, 0.0, 1.0])):.4f} {p.entropy():.4f}")
        -0.2284 1.2279

    References:
        Wood, A. T. A. (1994). Simulation of the von Mises Fisher distribution.
        Communications in Statistics - Simulation and Computation 23(1), 157-164.
    """

    @property
    def mean(self):
        return (
            bessel_i_terms(0.5 * self._d - 1.0, self.concentration).ratio[..., None]
            * self.mean_direction
        )

    @property
    def variance(self):
        d = self._d
        t = bessel_i_terms(0.5 * d - 1.0, self.concentration)
        along = t.one_minus_ratio * (1.0 + t.ratio) - (d - 1) * t.ratio_over_x
        mu2 = self.mean_direction**2
        return t.ratio_over_x[..., None] * (1.0 - mu2) + along[..., None] * mu2

    def log_prob(self, value):
        d = self._d
        value = jnp.asarray(value, self.mean_direction.dtype)
        cos = jnp.sum(value * self.mean_direction, axis=-1)
        t = bessel_i_terms(0.5 * d - 1.0, self.concentration)
        k = self.concentration
        unnorm = jnp.where(
            t.small, k * cos - t.log_normalized, k * (cos - 1.0) - t.log_normalized_minus_x
        )
        return unnorm - _log_sphere_area(d)

    def entropy(self):
        return _log_sphere_area(self._d) - vmf_kl_uniform(self._d, self.concentration)

    def _sample(self, key, sample_shape):
        d = self._d
        shape = tuple(sample_shape) + self.batch_shape
        dtype = self.mean_direction.dtype
        kappa = jnp.broadcast_to(self.concentration, shape)
        mu = jnp.broadcast_to(self.mean_direction, shape + (d,))
        # Wood (1994), with 1 - w and the acceptance test written without cancellation
        b = (d - 1) / (2.0 * kappa + jnp.sqrt(4.0 * kappa * kappa + (d - 1) ** 2))
        one_minus_x0 = 2.0 * b / (1.0 + b)
        key_w, key_v = jax.random.split(key)

        def propose(k):
            k1, k2, k3 = jax.random.split(k, 3)
            # z ~ Beta((d-1)/2, (d-1)/2) as chi-square(d-1) / (chi-square(d-1) + chi-square(d-1)),
            # which keeps 1 - z exact and needs no gamma sampler
            g1 = _chi_square(k1, d - 1, shape, dtype)
            g2 = _chi_square(k2, d - 1, shape, dtype)
            tot = jnp.where(g1 + g2 > 0, g1 + g2, 1.0)
            z, one_minus_z = g1 / tot, g2 / tot
            den = one_minus_z + b * z  # 1 - (1 - b) z
            one_minus_w = 2.0 * b * z / den
            log_u = jnp.log(jax.random.uniform(k3, shape, dtype, minval=jnp.finfo(dtype).tiny))
            lhs = kappa * (one_minus_x0 - one_minus_w) + (d - 1) * (
                jnp.log1p(b) - math.log(2.0) - jnp.log(den)
            )
            return one_minus_w, lhs >= log_u

        one_minus_w = _rejection_sample(key_w, propose, kappa)
        v = _orthogonal_unit(key_v, mu)
        w = 1.0 - one_minus_w
        perp = jnp.sqrt(jnp.maximum(one_minus_w * (2.0 - one_minus_w), 0.0))
        return w[..., None] * mu + perp[..., None] * v


# --------------------------------------------------------------------------- power spherical


class PowerSpherical(_OnSphere):
    r"""Power spherical distribution on the unit sphere ``S^{d-1}`` (De Cao and Aziz, 2020).

    ``PowerSpherical(mean_direction, concentration)`` as in TensorFlow Probability.

    .. math::
        p(x) = \frac{(1 + \mu^\top x)^\kappa}{2^{\alpha+\beta} \pi^\beta
        \Gamma(\alpha)/\Gamma(\alpha+\beta)},
        \qquad \alpha = \tfrac{d-1}{2} + \kappa,\ \beta = \tfrac{d-1}{2}

    A von Mises-Fisher look-alike with a reparameterised sampler: ``t = mu^T x = 2z - 1``
    with ``z ~ Beta(alpha, beta)`` (gradients flow through JAX's implicit gamma
    reparameterisation), and a uniform direction orthogonal to ``mu``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> p = jd.PowerSpherical(jnp.array([0.0, 1.0]), 3.0)
        >>> print(f"{p.log_prob(jnp.array([0.0, 1.0])):.4f} {p.entropy():.4f}")
        -0.6747 1.1336

    References:
        De Cao, N. and Aziz, W. (2020). The Power Spherical distribution. ICML workshop on
        Invertible Neural Networks, Normalizing Flows, and Explicit Likelihood Models;
        arXiv:2006.04437.
    """

    has_rsample = True

    def _alpha_beta(self):
        beta = 0.5 * (self._d - 1)
        return beta + self.concentration, beta

    @property
    def mean(self):
        k = self.concentration
        return (k / (self._d - 1 + k))[..., None] * self.mean_direction

    @property
    def variance(self):
        alpha, beta = self._alpha_beta()
        ab = alpha + beta
        var_t = 4.0 * alpha * beta / (ab * ab * (ab + 1.0))
        perp = 4.0 * alpha * beta / (ab * (ab + 1.0)) / (self._d - 1)  # (1 - E t^2)/(d - 1)
        mu2 = self.mean_direction**2
        return var_t[..., None] * mu2 + perp[..., None] * (1.0 - mu2)

    def log_prob(self, value):
        value = jnp.asarray(value, self.mean_direction.dtype)
        alpha, beta = self._alpha_beta()
        cos = jnp.sum(value * self.mean_direction, axis=-1)
        log_norm = (
            (alpha + beta) * math.log(2.0)
            + beta * math.log(math.pi)
            - lgamma_difference(alpha, beta)
        )
        return jsp.xlog1py(self.concentration, cos) - log_norm

    def entropy(self):
        return _log_sphere_area(self._d) - power_spherical_kl_uniform(self._d, self.concentration)

    def _sample(self, key, sample_shape):
        d = self._d
        shape = tuple(sample_shape) + self.batch_shape
        dtype = self.mean_direction.dtype
        alpha, beta = self._alpha_beta()
        mu = jnp.broadcast_to(self.mean_direction, shape + (d,))
        k1, k2, k3 = jax.random.split(key, 3)
        g1 = jax.random.gamma(k1, jnp.broadcast_to(alpha, shape), shape, dtype)
        g2 = 0.5 * _chi_square(k2, d - 1, shape, dtype)  # Gamma((d-1)/2)
        tot = jnp.where(g1 + g2 > 0, g1 + g2, 1.0)
        z, one_minus_z = g1 / tot, g2 / tot
        t = z - one_minus_z
        perp = 2.0 * jnp.sqrt(z * one_minus_z)
        v = _orthogonal_unit(k3, mu)
        return t[..., None] * mu + perp[..., None] * v


# --------------------------------------------------------------------------- uniform on the sphere


class SphericalUniform(Distribution):
    r"""Uniform distribution on the unit sphere ``S^{d-1}`` of ``R^d``.

    ``SphericalUniform(dimension, batch_shape=())`` as in TensorFlow Probability. It has no
    array parameters: ``dimension`` (``d``) and ``batch_shape`` are static pytree
    metadata. The density is ``1 / |S^{d-1}| = Gamma(d/2) / (2 pi^{d/2})``.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> u = jd.SphericalUniform(3)
        >>> print(f"{u.entropy():.4f}", u.event_shape)
        2.5310 (3,)
    """

    dimension: int = static_field()
    batch_shape: tuple[int, ...] = static_field(default=())
    support = C.sphere

    def __init__(self, dimension: int, batch_shape: Sequence[int] = (), *, validate_args=None):
        try:
            dimension = operator.index(dimension)
        except TypeError:
            raise TypeError(
                f"SphericalUniform: `dimension` must be an int, got {dimension!r}"
            ) from None
        if dimension < 1:
            raise ValueError(f"SphericalUniform: `dimension` must be >= 1, got {dimension}")
        try:
            batch_shape = tuple(int(n) for n in batch_shape)
        except TypeError:
            raise TypeError(
                f"SphericalUniform: `batch_shape` must be a sequence of ints, got {batch_shape!r}"
            ) from None
        if any(n < 0 for n in batch_shape):
            raise ValueError(
                f"SphericalUniform: `batch_shape` must be non-negative, got {batch_shape}"
            )
        self._init(dimension=dimension, batch_shape=batch_shape, validate_args=validate_args)

    @property
    def event_shape(self):
        return (self.dimension,)

    def expand(self, batch_shape):
        batch_shape = tuple(batch_shape)
        try:
            jnp.broadcast_shapes(self.batch_shape, batch_shape)
        except ValueError:
            raise ValueError(
                f"SphericalUniform with batch_shape {self.batch_shape} cannot be expanded to "
                f"{batch_shape}"
            ) from None
        return self._replace(batch_shape=batch_shape)

    @property
    def _dtype(self):
        return jnp.dtype(
            jax.dtypes.canonicalize_dtype(jnp.float64)
        )  # float64 under x64, else float32

    @property
    def mean(self):
        return jnp.zeros(self.batch_shape + (self.dimension,), self._dtype)

    @property
    def variance(self):
        return jnp.full(self.batch_shape + (self.dimension,), 1.0 / self.dimension, self._dtype)

    def log_prob(self, value):
        value = jnp.asarray(value)
        dtype = value.dtype if jnp.issubdtype(value.dtype, jnp.floating) else self._dtype
        shape = jnp.broadcast_shapes(value.shape[:-1], self.batch_shape)
        return jnp.full(shape, -_log_sphere_area(self.dimension), dtype)

    def entropy(self):
        return jnp.full(self.batch_shape, _log_sphere_area(self.dimension), self._dtype)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + self.batch_shape + (self.dimension,)
        g = jax.random.normal(key, shape, self._dtype)
        norm = jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))
        return g / jnp.where(norm > 0, norm, 1.0)
