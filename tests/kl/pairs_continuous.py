"""Pair rows whose p is a univariate continuous family (see pairs.py for the format)."""

from __future__ import annotations

import mpmath as mp

from jaxkl import distributions as jd
from tests.kl.pairs import PairCase


def _normal_params(rng):
    p = {"loc": rng.normal(size=(3, 1)), "scale": rng.uniform(0.2, 3.0, size=(3, 1))}
    q = {"loc": rng.normal(size=(4,)), "scale": rng.uniform(0.2, 3.0, size=(4,))}
    return p, q


def _mp_kl_normal(p, q):
    r = p["scale"] / q["scale"]
    return (r * r - 1) / 2 - mp.log(r) + ((p["loc"] - q["loc"]) / q["scale"]) ** 2 / 2


PAIRS = [
    PairCase(
        jd.Normal,
        jd.Normal,
        params=_normal_params,
        near=lambda eps: ({"loc": 0.3, "scale": 1.2}, {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps)}),
        mp_kl=_mp_kl_normal,
    ),
]
