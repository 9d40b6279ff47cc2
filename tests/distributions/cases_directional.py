"""Distribution rows for the directional group (see cases.py for the format).

``VonMises`` is compared with torch (log_prob); its entropy (torch has none), its mean and
circular variance (which are not the moments of the angle the generic sample-moment test
would check) are tested in test_directional.py. ``VonMisesFisher`` uses
``scipy.stats.vonmises_fisher`` (log density, entropy) with the mean and covariance diagonal
from ``scipy.special.ive``. ``PowerSpherical`` has no library reference: its log density is
evaluated in float64 from De Cao and Aziz's formula with ``scipy.special.gammaln`` and its
entropy, mean and variance by quadrature over ``t = mu . x``.

``SphericalUniform`` has no row: it has no array parameters at all (``dimension`` and
``batch_shape`` are static), which the generic contract tests (vmap/scan over parameters,
gradient w.r.t. float leaves) cannot express; test_directional.py covers it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special, stats

from jaxkl import distributions as jd
from tests._generators import unit_vectors
from tests.distributions._case import DistCase


class _BatchedSphereRef:
    """A float64 reference over a batch of (mean_direction, concentration), elementwise."""

    def __init__(self, params):
        self.mu = np.asarray(params["mean_direction"], np.float64)
        self.k = np.asarray(params["concentration"], np.float64)
        batch = np.broadcast_shapes(self.mu.shape[:-1], self.k.shape)
        self.d = self.mu.shape[-1]
        self.mu = np.broadcast_to(self.mu, batch + (self.d,))
        self.k = np.broadcast_to(self.k, batch)
        self.batch = batch

    def _map(self, fn, extra=()):
        out = np.empty(self.batch + extra)
        for i in np.ndindex(self.batch):
            out[i] = fn(self.mu[i], self.k[i])
        return out

    def logpdf(self, x):
        x = np.asarray(x, np.float64)
        lead = x.shape[: x.ndim - 1 - len(self.batch)]
        x = np.broadcast_to(x, lead + self.batch + (self.d,))
        out = np.empty(lead + self.batch)
        for i in np.ndindex(self.batch):
            sl = (Ellipsis,) + i + (slice(None),)
            out[(Ellipsis,) + i] = self._logpdf_one(self.mu[i], self.k[i], x[sl])
        return out


class _VMFRef(_BatchedSphereRef):
    def _logpdf_one(self, mu, k, x):
        return stats.vonmises_fisher(mu, k).logpdf(x)

    def entropy(self):
        return self._map(lambda mu, k: stats.vonmises_fisher(mu, k).entropy())

    def _ratio(self, k):
        nu = 0.5 * self.d - 1
        return special.ive(nu + 1, k) / special.ive(nu, k)

    @property
    def mean(self):
        return self._map(lambda mu, k: self._ratio(k) * mu, (self.d,))

    @property
    def variance(self):
        def var(mu, k):
            a = self._ratio(k)
            along = 1.0 - a * a - (self.d - 1) * a / k
            return a / k * (1.0 - mu * mu) + along * mu * mu

        return self._map(var, (self.d,))


class _PowerSphericalRef(_BatchedSphereRef):
    def _log_norm(self, k):
        a, b = 0.5 * (self.d - 1) + k, 0.5 * (self.d - 1)
        return (
            (a + b) * math.log(2.0)
            + b * math.log(math.pi)
            + special.gammaln(a)
            - special.gammaln(a + b)
        )

    def _logpdf_one(self, mu, k, x):
        return special.xlog1py(k, np.sum(x * mu, axis=-1)) - self._log_norm(k)

    def _t_moment(self, k, f):
        """``E[f(t)]`` by quadrature with the density of t normalised numerically."""

        def w(t):
            return np.exp(special.xlog1py(k, t) - k * math.log(2.0)) * (1.0 - t * t) ** (
                0.5 * (self.d - 3)
            )

        z = integrate.quad(w, -1, 1, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        return (
            integrate.quad(lambda t: w(t) * f(t), -1, 1, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
            / z
        )

    def entropy(self):
        def ent(mu, k):
            log_norm = self._log_norm(k)
            return log_norm - self._t_moment(k, lambda t: special.xlog1py(k, t))

        return self._map(ent)

    @property
    def mean(self):
        return self._map(lambda mu, k: self._t_moment(k, lambda t: t) * mu, (self.d,))

    @property
    def variance(self):
        def var(mu, k):
            m1 = self._t_moment(k, lambda t: t)
            m2 = self._t_moment(k, lambda t: t * t)
            perp = (1.0 - m2) / (self.d - 1)
            return (m2 - m1 * m1) * mu * mu + perp * (1.0 - mu * mu)

        return self._map(var, (self.d,))


CASES = [
    DistCase(
        jd.VonMises,
        params=lambda rng: {
            "loc": rng.uniform(-3, 3, size=(2, 3)),
            "concentration": rng.uniform(0.2, 20.0, size=(3,)),
        },
        bad_params=[
            ({"loc": 0.0, "concentration": -1.0}, "concentration"),
            ({"loc": np.nan, "concentration": 1.0}, "loc"),
        ],
        has_entropy=False,
        has_mean=False,
        has_variance=False,
    ),
    DistCase(
        jd.VonMisesFisher,
        params=lambda rng: {
            "mean_direction": unit_vectors(rng, (3, 4)),
            "concentration": rng.uniform(0.5, 20.0, size=(2, 1)),
        },
        torch=None,
        scipy_ref=_VMFRef,
        bad_params=[
            ({"mean_direction": np.array([1.0, 1.0, 0.0]), "concentration": 1.0}, "mean_direction"),
            ({"mean_direction": np.array([0.0, 0.0, 1.0]), "concentration": -1.0}, "concentration"),
            ({"mean_direction": np.array([1.0]), "concentration": 1.0}, "mean_direction"),
        ],
    ),
    DistCase(
        jd.PowerSpherical,
        params=lambda rng: {
            "mean_direction": unit_vectors(rng, (3, 4)),
            "concentration": rng.uniform(0.5, 20.0, size=(2, 1)),
        },
        torch=None,
        scipy_ref=_PowerSphericalRef,
        bad_params=[
            ({"mean_direction": np.array([0.6, 0.6, 0.0]), "concentration": 1.0}, "mean_direction"),
            ({"mean_direction": np.array([0.0, 1.0]), "concentration": -0.5}, "concentration"),
        ],
    ),
]
