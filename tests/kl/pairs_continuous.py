"""Pair rows whose p is a univariate continuous family (see pairs.py for the format)."""

from __future__ import annotations

import mpmath as mp
import numpy as np

from jaxkl import distributions as jd
from tests.kl.pairs import PairCase


def _pos(rng, shape, lo=0.2, hi=3.0):
    return rng.uniform(lo, hi, size=shape)


def _loc_scale_params(rng):
    p = {"loc": rng.normal(size=(3, 1)), "scale": _pos(rng, (3, 1))}
    q = {"loc": rng.normal(size=(4,)), "scale": _pos(rng, (4,))}
    return p, q


def _near_loc_scale(eps):
    return {"loc": 0.3, "scale": 1.2}, {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps)}


# --- mpmath references (50 digits, on the exact float32 parameters) --------------------------


def _mp_kl_normal(p, q):
    r = p["scale"] / q["scale"]
    return (r * r - 1) / 2 - mp.log(r) + ((p["loc"] - q["loc"]) / q["scale"]) ** 2 / 2


def _mp_kl_halfnormal(p, q):
    r = p["scale"] / q["scale"]
    return (r * r - 1) / 2 - mp.log(r)


def _mp_kl_laplace(p, q):
    r = p["scale"] / q["scale"]
    a = abs(p["loc"] - q["loc"])
    return -mp.log(r) + a / q["scale"] + r * mp.exp(-a / p["scale"]) - 1


def _mp_kl_cauchy(p, q):
    return mp.log(((p["scale"] + q["scale"]) ** 2 + (p["loc"] - q["loc"]) ** 2) / (4 * p["scale"] * q["scale"]))


def _mp_kl_gumbel(p, q):
    r = p["scale"] / q["scale"]
    z = (p["loc"] - q["loc"]) / q["scale"]
    return -mp.log(r) + z + r * mp.euler + mp.exp(-z + mp.loggamma(1 + r)) - 1 - mp.euler


def _mp_kl_exponential(p, q):
    r = q["rate"] / p["rate"]
    return r - 1 - mp.log(r)


def _mp_kl_gamma(p, q):
    cp, rp, cq, rq = p["concentration"], p["rate"], q["concentration"], q["rate"]
    return (
        cq * mp.log(rp / rq)
        + mp.loggamma(cq)
        - mp.loggamma(cp)
        + (cp - cq) * mp.digamma(cp)
        + (rq - rp) * cp / rp
    )


def _mp_kl_beta(p, q):
    a, b, c, d = p["concentration1"], p["concentration0"], q["concentration1"], q["concentration0"]
    lbeta = lambda x, y: mp.loggamma(x) + mp.loggamma(y) - mp.loggamma(x + y)  # noqa: E731
    return (
        lbeta(c, d)
        - lbeta(a, b)
        + (a - c) * mp.digamma(a)
        + (b - d) * mp.digamma(b)
        + (c - a + d - b) * mp.digamma(a + b)
    )


def _mp_kl_pareto(p, q):
    r = q["alpha"] / p["alpha"]
    return q["alpha"] * mp.log(p["scale"] / q["scale"]) + r - 1 - mp.log(r)


def _mp_kl_uniform(p, q):
    return mp.log((q["high"] - q["low"]) / (p["high"] - p["low"]))


def _mp_cb_eta(d):
    if "logits" in d:
        return d["logits"]
    return mp.log(d["probs"] / (1 - d["probs"]))


def _mp_cb_A(eta):
    return mp.log(mp.expm1(eta) / eta)


def _mp_kl_cb(p, q):
    ep, eq = _mp_cb_eta(p), _mp_cb_eta(q)
    mean_p = 1 / (1 - mp.exp(-ep)) - 1 / ep
    return _mp_cb_A(eq) - _mp_cb_A(ep) - (eq - ep) * mean_p


# --- parameter generators --------------------------------------------------------------------


def _gamma_params(rng):
    p = {"concentration": _pos(rng, (3, 1), 0.3, 6.0), "rate": _pos(rng, (3, 1))}
    q = {"concentration": _pos(rng, (4,), 0.3, 6.0), "rate": _pos(rng, (4,))}
    return p, q


def _beta_params(rng):
    p = {"concentration1": _pos(rng, (3, 1), 0.3, 6.0), "concentration0": _pos(rng, (3, 1), 0.3, 6.0)}
    q = {"concentration1": _pos(rng, (4,), 0.3, 6.0), "concentration0": _pos(rng, (4,), 0.3, 6.0)}
    return p, q


def _pareto_params(rng):
    # scales overlap so that some pairs are +inf (scale_p < scale_q); alpha > 2 keeps the
    # Monte Carlo variance finite
    p = {"scale": _pos(rng, (3, 1), 0.5, 2.0), "alpha": _pos(rng, (3, 1), 2.5, 6.0)}
    q = {"scale": _pos(rng, (4,), 0.5, 2.0), "alpha": _pos(rng, (4,), 2.5, 6.0)}
    return p, q


def _uniform_params(rng):
    p = {"low": rng.uniform(-1.0, 0.0, size=(3, 1)), "high": rng.uniform(0.5, 1.5, size=(3, 1))}
    q = {"low": rng.uniform(-1.5, 0.0, size=(4,)), "high": rng.uniform(0.5, 2.0, size=(4,))}
    return p, q


def _cb_probs_params(rng):
    # 0.4995 lies inside torch's lims (the Taylor branch of its normaliser)
    p = {"probs": np.array([[rng.uniform(0.02, 0.3)], [0.4995], [rng.uniform(0.6, 0.98)]])}
    q = {"probs": np.concatenate([rng.uniform(0.02, 0.98, size=(3,)), [0.5004]])}
    return p, q


def _cb_logits_params(rng):
    p = {"logits": rng.normal(scale=3.0, size=(3, 1))}
    q = {"logits": rng.normal(scale=3.0, size=(4,))}
    return p, q


PAIRS = [
    PairCase(jd.Normal, jd.Normal, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_normal),
    PairCase(
        jd.HalfNormal,
        jd.HalfNormal,
        params=lambda rng: ({"scale": _pos(rng, (3, 1))}, {"scale": _pos(rng, (4,))}),
        near=lambda eps: ({"scale": 1.2}, {"scale": 1.2 * (1 + eps)}),
        mp_kl=_mp_kl_halfnormal,
    ),
    PairCase(jd.Laplace, jd.Laplace, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_laplace),
    PairCase(jd.Cauchy, jd.Cauchy, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_cauchy),
    PairCase(jd.Gumbel, jd.Gumbel, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_gumbel),
    PairCase(
        jd.Exponential,
        jd.Exponential,
        params=lambda rng: ({"rate": _pos(rng, (3, 1))}, {"rate": _pos(rng, (4,))}),
        near=lambda eps: ({"rate": 1.5}, {"rate": 1.5 * (1 + eps)}),
        mp_kl=_mp_kl_exponential,
    ),
    PairCase(
        jd.Gamma,
        jd.Gamma,
        params=_gamma_params,
        # equal relative change of shape and rate keeps the mean: the most cancelling direction
        near=lambda eps: ({"concentration": 2.0, "rate": 1.5}, {"concentration": 2.0 * (1 + eps), "rate": 1.5 * (1 + eps)}),
        mp_kl=_mp_kl_gamma,
    ),
    PairCase(
        jd.Beta,
        jd.Beta,
        params=_beta_params,
        # equal relative change of both concentrations keeps the mean: the most cancelling direction
        near=lambda eps: (
            {"concentration1": 2.0, "concentration0": 3.0},
            {"concentration1": 2.0 * (1 + eps), "concentration0": 3.0 * (1 + eps)},
        ),
        mp_kl=_mp_kl_beta,
    ),
    PairCase(
        jd.Pareto,
        jd.Pareto,
        params=_pareto_params,
        near=lambda eps: ({"scale": 1.2, "alpha": 2.5}, {"scale": 1.2 * (1 - eps), "alpha": 2.5 * (1 + eps)}),
        mp_kl=_mp_kl_pareto,
    ),
    PairCase(
        jd.Uniform,
        jd.Uniform,
        params=_uniform_params,
        near=lambda eps: ({"low": 0.3, "high": 1.2}, {"low": 0.3 * (1 - eps), "high": 1.2 * (1 + eps)}),
        mp_kl=_mp_kl_uniform,
    ),
    PairCase(
        jd.ContinuousBernoulli,
        jd.ContinuousBernoulli,
        params=_cb_probs_params,
        near=lambda eps: ({"probs": 0.3}, {"probs": 0.3 * (1 + eps)}),
        mp_kl=_mp_kl_cb,
        id="ContinuousBernoulli-ContinuousBernoulli-probs",
    ),
    PairCase(
        jd.ContinuousBernoulli,
        jd.ContinuousBernoulli,
        params=_cb_logits_params,
        near=lambda eps: ({"logits": 3.1}, {"logits": 3.1 * (1 + eps)}),
        mp_kl=_mp_kl_cb,
        id="ContinuousBernoulli-ContinuousBernoulli-logits",
    ),
]
