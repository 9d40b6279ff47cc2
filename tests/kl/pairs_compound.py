"""Pair rows whose p is in the compound group (see pairs.py for the format)."""

from __future__ import annotations

import mpmath as mp
import numpy as np

from jaxkl import distributions as jd
from jaxkl.distributions import transforms as T
from tests._generators import torch64
from tests.kl._case import PairCase


def _mp_normal(pl, ps, ql, qs):
    r = ps / qs
    return (r * r - 1) / 2 - mp.log(r) + ((pl - ql) / qs) ** 2 / 2


# -- Independent(Normal) || Independent(Normal) ------------------------------------------


def _independent_params(rng):
    # event shape (2,); p batch (3, 1), q batch (4,)
    p = {"loc": rng.normal(size=(3, 1, 2)), "scale": rng.uniform(0.3, 2.0, size=(3, 1, 2))}
    q = {"loc": rng.normal(size=(4, 2)), "scale": rng.uniform(0.3, 2.0, size=(4, 2))}
    return p, q


def _independent(prm):
    return jd.Independent(jd.Normal(prm["loc"], prm["scale"]), 1)


def _torch_independent(pp, qp):
    import torch.distributions as td

    tp = td.Independent(td.Normal(torch64(pp["loc"]), torch64(pp["scale"])), 1)
    tq = td.Independent(td.Normal(torch64(qp["loc"]), torch64(qp["scale"])), 1)
    return td.kl_divergence(tp, tq).numpy()


def _independent_near(eps):
    loc, scale = np.array([0.3, -1.1]), np.array([1.2, 0.7])
    return {"loc": loc, "scale": scale}, {"loc": loc + scale * eps, "scale": scale * (1 + eps)}


def _mp_independent(p, q):
    return sum(_mp_normal(*v) for v in zip(p["loc"], p["scale"], q["loc"], q["scale"]))


# -- TransformedDistribution || TransformedDistribution (same transforms) ------------------


def _transforms():
    return [T.AffineTransform(0.5, 2.0), T.ExpTransform()]


def _transformed_params(rng):
    p = {"loc": rng.normal(size=(3, 1)), "scale": rng.uniform(0.3, 2.0, size=(3, 1))}
    q = {"loc": rng.normal(size=(4,)), "scale": rng.uniform(0.3, 2.0, size=(4,))}
    return p, q


def _transformed(prm):
    return jd.TransformedDistribution(jd.Normal(prm["loc"], prm["scale"]), _transforms())


def _torch_transformed(pp, qp):
    import torch.distributions as td

    def make(prm):
        base = td.Normal(torch64(prm["loc"]), torch64(prm["scale"]))
        return td.TransformedDistribution(base, [td.AffineTransform(0.5, 2.0), td.ExpTransform()])

    return td.kl_divergence(make(pp), make(qp)).numpy()


def _transformed_near(eps):
    return {"loc": 0.3, "scale": 1.2}, {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps)}


PAIRS = [
    PairCase(
        jd.Independent,
        jd.Independent,
        params=_independent_params,
        near=_independent_near,
        mp_kl=_mp_independent,
        build_p=_independent,
        build_q=_independent,
        torch=_torch_independent,
    ),
    PairCase(
        jd.TransformedDistribution,
        jd.TransformedDistribution,
        params=_transformed_params,
        near=_transformed_near,
        mp_kl=lambda p, q: _mp_normal(p["loc"], p["scale"], q["loc"], q["scale"]),
        build_p=_transformed,
        build_q=_transformed,
        torch=_torch_transformed,
    ),
]
