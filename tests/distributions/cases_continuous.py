"""Distribution rows for the univariate continuous group (see cases.py for the format)."""

from __future__ import annotations

from jaxkl import distributions as jd
from tests.distributions.cases import DistCase


def _pos(rng, shape, lo=0.5, hi=3.0):
    return rng.uniform(lo, hi, size=shape)


CASES = [
    DistCase(
        jd.Normal,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": rng.uniform(0.5, 2.0, size=(3,))},
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
        bad_params=[({"loc": 0.0, "scale": 0.0}, "scale"), ({"loc": float("nan"), "scale": 1.0}, "loc")],
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
        bad_params=[({"concentration": 0.0, "rate": 1.0}, "concentration"), ({"concentration": 1.0, "rate": -1.0}, "rate")],
    ),
    DistCase(
        jd.Beta,
        params=lambda rng: {"concentration1": _pos(rng, (2, 3), 0.5, 5.0), "concentration0": _pos(rng, (3,), 0.5, 5.0)},
        bad_params=[
            ({"concentration1": -1.0, "concentration0": 1.0}, "concentration1"),
            ({"concentration1": 1.0, "concentration0": 0.0}, "concentration0"),
        ],
    ),
    DistCase(
        jd.Pareto,
        params=lambda rng: {"scale": _pos(rng, (2, 3)), "alpha": _pos(rng, (3,), 2.5, 6.0)},
        bad_params=[({"scale": 0.0, "alpha": 1.0}, "scale"), ({"scale": 1.0, "alpha": -1.0}, "alpha")],
    ),
    DistCase(
        jd.Uniform,
        params=lambda rng: {"low": rng.uniform(-2.0, 0.0, size=(2, 3)), "high": rng.uniform(0.5, 2.0, size=(3,))},
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
