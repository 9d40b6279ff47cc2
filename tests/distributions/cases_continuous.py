"""Distribution rows for the univariate continuous group (see cases.py for the format).

torch is the reference where it has the class; scipy.stats otherwise (Chi, Moyal), and for
LogitNormal, which scipy lacks, scipy's normal density with the Jacobian plus
``scipy.integrate.quad`` for its mean, variance and entropy.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, special, stats

from jaxkl import distributions as jd
from tests.distributions._case import DistCase


def _pos(rng, shape, lo=0.5, hi=3.0):
    return rng.uniform(lo, hi, size=shape)


class _TruncnormReference:
    """scipy's truncnorm, with the entropy by quadrature (scipy's is NaN at infinite ends)."""

    def __init__(self, p):
        self.p = {k: np.asarray(v, np.float64) for k, v in p.items()}
        lo = (self.p["low"] - self.p["loc"]) / self.p["scale"]
        hi = (self.p["high"] - self.p["loc"]) / self.p["scale"]
        self.d = stats.truncnorm(lo, hi, self.p["loc"], self.p["scale"])

    def logpdf(self, x):
        return self.d.logpdf(x)

    def mean(self):
        return self.d.mean()

    def var(self):
        return self.d.var()

    def entropy(self):
        def one(loc, scale, low, high):
            d = stats.truncnorm((low - loc) / scale, (high - loc) / scale, loc, scale)
            return -integrate.quad(lambda x: d.pdf(x) * d.logpdf(x), low, high)[0]

        return np.vectorize(one)(self.p["loc"], self.p["scale"], self.p["low"], self.p["high"])


CASES = [
    DistCase(
        jd.Normal,
        params=lambda rng: {
            "loc": rng.normal(size=(2, 3)),
            "scale": rng.uniform(0.5, 2.0, size=(3,)),
        },
        bad_params=[({"loc": 0.0, "scale": -1.0}, "scale"), ({"loc": 0.0, "scale": 0.0}, "scale")],
    ),
    DistCase(
        jd.HalfNormal,
        params=lambda rng: {"scale": _pos(rng, (2, 3))},
        bad_params=[({"scale": -1.0}, "scale"), ({"scale": 0.0}, "scale")],
    ),
    DistCase(
        jd.Laplace,
        params=lambda rng: {"loc": rng.normal(size=(2, 1)), "scale": _pos(rng, (3,))},
        bad_params=[
            ({"loc": 0.0, "scale": 0.0}, "scale"),
            ({"loc": float("nan"), "scale": 1.0}, "loc"),
        ],
    ),
    DistCase(
        jd.Cauchy,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": _pos(rng, (3,))},
        bad_params=[({"loc": 0.0, "scale": -2.0}, "scale")],
        has_mean=False,  # NaN (undefined), as in torch
        has_variance=False,  # +inf, as in torch
    ),
    DistCase(
        jd.Gumbel,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": _pos(rng, (2, 1))},
        bad_params=[({"loc": 0.0, "scale": -1.0}, "scale")],
    ),
    DistCase(
        jd.Exponential,
        params=lambda rng: {"rate": _pos(rng, (2, 3))},
        bad_params=[({"rate": 0.0}, "rate"), ({"rate": -1.0}, "rate")],
    ),
    DistCase(
        jd.Gamma,
        params=lambda rng: {"concentration": _pos(rng, (2, 3), 0.5, 5.0), "rate": _pos(rng, (3,))},
        bad_params=[
            ({"concentration": 0.0, "rate": 1.0}, "concentration"),
            ({"concentration": 1.0, "rate": -1.0}, "rate"),
        ],
    ),
    DistCase(
        jd.Beta,
        params=lambda rng: {
            "concentration1": _pos(rng, (2, 3), 0.5, 5.0),
            "concentration0": _pos(rng, (3,), 0.5, 5.0),
        },
        bad_params=[
            ({"concentration1": -1.0, "concentration0": 1.0}, "concentration1"),
            ({"concentration1": 1.0, "concentration0": 0.0}, "concentration0"),
        ],
    ),
    DistCase(
        jd.Pareto,
        params=lambda rng: {"scale": _pos(rng, (2, 3)), "alpha": _pos(rng, (3,), 2.5, 6.0)},
        bad_params=[
            ({"scale": 0.0, "alpha": 1.0}, "scale"),
            ({"scale": 1.0, "alpha": -1.0}, "alpha"),
        ],
    ),
    DistCase(
        jd.Uniform,
        params=lambda rng: {
            "low": rng.uniform(-2.0, 0.0, size=(2, 3)),
            "high": rng.uniform(0.5, 2.0, size=(3,)),
        },
        bad_params=[({"low": 1.0, "high": 0.0}, "low"), ({"low": 1.0, "high": 1.0}, "high")],
    ),
    DistCase(
        jd.ContinuousBernoulli,
        params=lambda rng: {"probs": rng.uniform(0.05, 0.95, size=(2, 3))},
        bad_params=[({"probs": 1.5}, "probs"), ({"probs": -0.1}, "probs")],
        id="ContinuousBernoulli-probs",
    ),
    DistCase(
        jd.ContinuousBernoulli,
        params=lambda rng: {"logits": rng.normal(scale=3.0, size=(2, 3))},
        bad_params=[({"logits": float("nan")}, "logits")],
        id="ContinuousBernoulli-logits",
    ),
]


class LogitNormalRef:
    """Reference logit-normal distribution.

    Reference logit-normal: density from scipy's normal, moments and entropy by quadrature
    over the normal variable ``y`` (``x = expit(y)``).
    """

    def __init__(self, params):
        self.loc = np.asarray(params["loc"], np.float64)
        self.scale = np.asarray(params["scale"], np.float64)
        self.shape = np.broadcast_shapes(self.loc.shape, self.scale.shape)

    def logpdf(self, x):
        x = np.asarray(x, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            lx, l1x = np.log(x), np.log1p(-x)
            out = stats.norm(self.loc, self.scale).logpdf(lx - l1x) - lx - l1x
        return np.where((x > 0) & (x < 1), out, -np.inf)

    def _expect(self, fn):
        loc = np.broadcast_to(self.loc, self.shape)
        scale = np.broadcast_to(self.scale, self.shape)
        out = np.empty(self.shape)
        for i in np.ndindex(self.shape):
            n = stats.norm(loc[i], scale[i])
            out[i] = integrate.quad(
                lambda y, i=i, n=n: fn(y, i) * n.pdf(y),
                -np.inf,
                np.inf,
                epsabs=1e-14,
                epsrel=1e-12,
                limit=200,
            )[0]
        return out

    def mean(self):
        return self._expect(lambda y, i: special.expit(y))

    def var(self):
        m = self.mean()
        return self._expect(lambda y, i: (special.expit(y) - m[i]) ** 2)

    def entropy(self):
        # H(X) = H(Y) + E[log x + log(1 - x)], log x = -log1p(e^-y), log(1 - x) = -log1p(e^y)
        e = self._expect(lambda y, i: -np.logaddexp(0, -y) - np.logaddexp(0, y))
        return stats.norm(0, self.scale).entropy() + e


CASES += [
    DistCase(
        jd.LogNormal,
        params=lambda rng: {
            "loc": rng.normal(size=(2, 3)) * 0.5,
            "scale": rng.uniform(0.3, 1.0, size=(3,)),
        },
        bad_params=[
            ({"loc": 0.0, "scale": -1.0}, "scale"),
            ({"loc": float("nan"), "scale": 1.0}, "loc"),
        ],
    ),
    DistCase(
        jd.Chi2,
        params=lambda rng: {"df": _pos(rng, (2, 3), 0.5, 8.0)},
        bad_params=[({"df": 0.0}, "df"), ({"df": -2.0}, "df")],
    ),
    DistCase(
        jd.Chi,
        params=lambda rng: {"df": _pos(rng, (2, 3), 0.5, 8.0)},
        torch=None,
        scipy_ref=lambda p: stats.chi(p["df"]),
        bad_params=[({"df": 0.0}, "df"), ({"df": -1.0}, "df")],
    ),
    DistCase(
        jd.Weibull,
        params=lambda rng: {"scale": _pos(rng, (2, 3)), "concentration": _pos(rng, (3,), 0.7, 4.0)},
        bad_params=[
            ({"scale": -1.0, "concentration": 1.0}, "scale"),
            ({"scale": 1.0, "concentration": 0.0}, "concentration"),
        ],
    ),
    DistCase(
        jd.Kumaraswamy,
        params=lambda rng: {
            "concentration1": _pos(rng, (2, 3), 0.7, 4.0),
            "concentration0": _pos(rng, (3,), 0.7, 4.0),
        },
        bad_params=[
            ({"concentration1": -1.0, "concentration0": 1.0}, "concentration1"),
            ({"concentration1": 1.0, "concentration0": 0.0}, "concentration0"),
        ],
    ),
    DistCase(
        jd.InverseGamma,
        # concentration > 2: finite mean and variance (the +inf cases are in test_continuous.py)
        params=lambda rng: {"concentration": _pos(rng, (2, 3), 4.5, 8.0), "rate": _pos(rng, (3,))},
        bad_params=[
            ({"concentration": 0.0, "rate": 1.0}, "concentration"),
            ({"concentration": 1.0, "rate": -1.0}, "rate"),
        ],
    ),
    DistCase(
        jd.Moyal,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": _pos(rng, (3,))},
        torch=None,
        scipy_ref=lambda p: stats.moyal(p["loc"], p["scale"]),
        bad_params=[
            ({"loc": 0.0, "scale": 0.0}, "scale"),
            ({"loc": float("nan"), "scale": 1.0}, "loc"),
        ],
    ),
    DistCase(
        jd.LogitNormal,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": _pos(rng, (3,), 0.3, 2.0)},
        torch=None,
        scipy_ref=LogitNormalRef,
        bad_params=[({"loc": 0.0, "scale": -1.0}, "scale")],
    ),
    DistCase(
        jd.StudentT,
        # df above 4 keeps the sample-variance check's fourth moment finite
        params=lambda rng: {
            "df": _pos(rng, (2, 3), 5.0, 12.0),
            "loc": rng.normal(size=(3,)),
            "scale": _pos(rng, (2, 1)),
        },
        bad_params=[
            ({"df": 0.0, "loc": 0.0, "scale": 1.0}, "df"),
            ({"df": 3.0, "loc": 0.0, "scale": -1.0}, "scale"),
        ],
    ),
    DistCase(
        jd.StudentT,
        params=lambda rng: {
            "df": _pos(rng, (2, 3), 0.5, 2.0),
            "loc": rng.normal(size=(3,)),
            "scale": _pos(rng, (2, 1)),
        },
        has_mean=False,  # NaN for df <= 1 (torch's convention, compared in test_continuous.py)
        has_variance=False,  # +inf or NaN for df <= 2
        id="StudentT-heavy",
    ),
    DistCase(
        jd.HalfCauchy,
        params=lambda rng: {"scale": _pos(rng, (2, 3))},
        bad_params=[({"scale": 0.0}, "scale"), ({"scale": -1.0}, "scale")],
        has_mean=False,  # +inf, as in torch
        has_variance=False,
    ),
    DistCase(
        jd.Logistic,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": _pos(rng, (3,))},
        torch=None,
        scipy_ref=lambda p: stats.logistic(p["loc"], p["scale"]),
        bad_params=[
            ({"loc": 0.0, "scale": 0.0}, "scale"),
            ({"loc": float("nan"), "scale": 1.0}, "loc"),
        ],
    ),
    DistCase(
        jd.TruncatedNormal,
        params=lambda rng: {
            "loc": rng.normal(size=(2, 3)),
            "scale": _pos(rng, (3,)),
            "low": rng.uniform(-2.0, -0.5, size=(3,)),
            "high": rng.uniform(0.0, 2.0, size=(2, 1)),
        },
        torch=None,
        scipy_ref=lambda p: stats.truncnorm(
            (p["low"] - p["loc"]) / p["scale"],
            (p["high"] - p["loc"]) / p["scale"],
            p["loc"],
            p["scale"],
        ),
        bad_params=[
            ({"loc": 0.0, "scale": 1.0, "low": 1.0, "high": 0.0}, "low"),
            ({"loc": 0.0, "scale": -1.0, "low": 0.0, "high": 1.0}, "scale"),
        ],
    ),
    DistCase(
        jd.TruncatedNormal,
        # one-sided: infinite bounds are allowed (TFP's rule); NaN is not
        params=lambda rng: {
            "loc": rng.normal(size=(3,)),
            "scale": _pos(rng, (3,)),
            "low": np.array([-np.inf, -0.5, 0.2]),
            "high": np.array([1.0, np.inf, np.inf]),
        },
        torch=None,
        scipy_ref=lambda p: _TruncnormReference(p),
        bad_params=[({"loc": 0.0, "scale": 1.0, "low": np.nan, "high": 1.0}, "low")],
        id="TruncatedNormal[infinite bounds]",
    ),
]
