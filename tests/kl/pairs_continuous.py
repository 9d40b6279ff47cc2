"""Pair rows whose p is a univariate continuous family (see pairs.py for the format).

Three blocks, in this order: same-family pairs of torch's families, torch's cross-family
pairs (with the always-infinite pairs of ``jaxkl.kl.infinite.INFINITE_PAIRS``), and the
further families (LogNormal, Chi2, Chi, Weibull, Kumaraswamy, InverseGamma, Moyal,
LogitNormal).

References:
* torch, for the cross-family pairs through :func:`_torch_broadcast`: several of torch's
  forms assign ``+inf`` through a boolean mask of *one* argument's shape
  (``result[q.low > 0] = inf``), which raises for broadcasting batch shapes, so the
  parameters are broadcast to the common shape before torch sees them (torch's values, not
  its shapes, are the contract); torch also where it has both classes of a further family's
  pair (LogNormal, Chi2 with Gamma, InverseGamma);
* :func:`support_quad_kl`: ``scipy.integrate.quad`` of ``p log(p / q)`` over p's support
  with scipy.stats densities (the continuous Bernoulli density is written out), ``+inf``
  where q's density vanishes on a set of positive p-probability, or where ``E_p[-log q]``
  diverges (Pareto tails, see ``_POLY_GROWTH``); the cross-family ``params(rng)`` mix finite
  and ``+inf`` entries wherever the pair has both, including the boundary cases
  (``low == 0``, ``alpha == 1`` ...), and keep the finite entries' log-ratio light-tailed
  enough for the Monte Carlo check (Pareto ``alpha > 4``);
* :func:`quad_kl`, ``scipy.integrate.quad`` of ``log p - log q`` over p's quantiles, for
  every further-family pair (tests/kl/test_continuous.py), and the only reference of
  Kumaraswamy-Beta;
* TensorFlow Probability's JAX substrate (``reference=``, float64) for the further-family
  pairs it registers (all but InverseGamma-InverseGamma and Kumaraswamy-Beta); the test
  skips when ``tensorflow_probability.substrates.jax`` does not import;
* mpmath closed forms at 50 digits for the near-equal float32 check (every same-family pair
  but Kumaraswamy-Beta, whose families meet only on the edges a = 1 or b = 1).
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, special, stats

from jaxkl import distributions as jd
from jaxkl.kl.infinite import INFINITE_PAIRS
from tests.kl._case import PairCase


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


def _mp_kl_truncnormal(p, q):
    """KL(TN p || normal q truncated to q's bounds, or untruncated), closed form at mp precision."""
    q_low, q_high = q.get("low", -mp.inf), q.get("high", mp.inf)
    a, b = (p["low"] - p["loc"]) / p["scale"], (p["high"] - p["loc"]) / p["scale"]
    z_p = mp.ncdf(b) - mp.ncdf(a)
    z_q = mp.ncdf((q_high - q["loc"]) / q["scale"]) - mp.ncdf((q_low - q["loc"]) / q["scale"])
    m1 = (mp.npdf(a) - mp.npdf(b)) / z_p
    m2 = 1 + (a * mp.npdf(a) - b * mp.npdf(b)) / z_p
    rho, d = p["scale"] / q["scale"], (p["loc"] - q["loc"]) / q["scale"]
    return (
        (rho**2 - 1 - 2 * mp.log(rho)) / 2
        + (rho**2 - 1) * (m2 - 1) / 2
        + rho * d * m1
        + d * d / 2
        + mp.log(z_q)
        - mp.log(z_p)
    )


def _mp_kl_studentt(p, q):
    """KL of two Student's t (a missing ``df`` is a Cauchy's 1), by mpmath quadrature."""

    def logpdf(d):
        df, loc, scale = d.get("df", mp.mpf(1)), d["loc"], d["scale"]
        c = mp.loggamma((df + 1) / 2) - mp.loggamma(df / 2) - mp.log(mp.sqrt(df * mp.pi) * scale)
        return lambda x: c - (df + 1) / 2 * mp.log1p(((x - loc) / scale) ** 2 / df)

    lp, lq = logpdf(p), logpdf(q)
    m, s = p["loc"], p["scale"]
    cuts = [-mp.inf] + [m + k * s for k in (-30, -5, -1, 0, 1, 5, 30)] + [mp.inf]
    return mp.quad(lambda x: mp.exp(lp(x)) * (lp(x) - lq(x)), cuts)


def _mp_kl_logistic(p, q):
    """KL of two logistic distributions, by mpmath quadrature."""

    def logpdf(d):
        loc, s = d["loc"], d["scale"]
        return lambda x: -(x - loc) / s - mp.log(s) - 2 * mp.log1p(mp.exp(-(x - loc) / s))

    lp, lq = logpdf(p), logpdf(q)
    m, s = p["loc"], p["scale"]
    cuts = [-mp.inf] + [m + k * s for k in (-20, -3, 0, 3, 20)] + [mp.inf]
    return mp.quad(lambda x: mp.exp(lp(x)) * (lp(x) - lq(x)), cuts)


def _mp_kl_halfnormal(p, q):
    r = p["scale"] / q["scale"]
    return (r * r - 1) / 2 - mp.log(r)


def _mp_kl_laplace(p, q):
    r = p["scale"] / q["scale"]
    a = abs(p["loc"] - q["loc"])
    return -mp.log(r) + a / q["scale"] + r * mp.exp(-a / p["scale"]) - 1


def _mp_kl_cauchy(p, q):
    return mp.log(
        ((p["scale"] + q["scale"]) ** 2 + (p["loc"] - q["loc"]) ** 2)
        / (4 * p["scale"] * q["scale"])
    )


def _mp_kl_gumbel(p, q):
    r = p["scale"] / q["scale"]
    z = (p["loc"] - q["loc"]) / q["scale"]
    return -mp.log(r) + z + r * mp.euler + mp.exp(-z + mp.loggamma(1 + r)) - 1 - mp.euler


def _mp_kl_exponential(p, q):
    r = q["rate"] / p["rate"]
    return r - 1 - mp.log(r)


def _mp_gamma(d):
    if "df" in d:
        return d["df"] / 2, mp.mpf(1) / 2
    return d["concentration"], d["rate"]


def _mp_kl_gamma(p, q):
    cp, rp = _mp_gamma(p)
    cq, rq = _mp_gamma(q)
    return (
        cq * mp.log(rp / rq)
        + mp.loggamma(cq)
        - mp.loggamma(cp)
        + (cp - cq) * mp.digamma(cp)
        + (rq - rp) * cp / rp
    )


def _mp_kl_beta(p, q):
    a, b, c, d = p["concentration1"], p["concentration0"], q["concentration1"], q["concentration0"]

    def lbeta(x, y):
        return mp.loggamma(x) + mp.loggamma(y) - mp.loggamma(x + y)

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
    p = {
        "concentration1": _pos(rng, (3, 1), 0.3, 6.0),
        "concentration0": _pos(rng, (3, 1), 0.3, 6.0),
    }
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
    PairCase(
        jd.Normal, jd.Normal, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_normal
    ),
    PairCase(
        jd.HalfNormal,
        jd.HalfNormal,
        params=lambda rng: ({"scale": _pos(rng, (3, 1))}, {"scale": _pos(rng, (4,))}),
        near=lambda eps: ({"scale": 1.2}, {"scale": 1.2 * (1 + eps)}),
        mp_kl=_mp_kl_halfnormal,
    ),
    PairCase(
        jd.Laplace, jd.Laplace, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_laplace
    ),
    PairCase(
        jd.Cauchy, jd.Cauchy, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_cauchy
    ),
    PairCase(
        jd.Gumbel, jd.Gumbel, params=_loc_scale_params, near=_near_loc_scale, mp_kl=_mp_kl_gumbel
    ),
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
        near=lambda eps: (
            {"concentration": 2.0, "rate": 1.5},
            {"concentration": 2.0 * (1 + eps), "rate": 1.5 * (1 + eps)},
        ),
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
        jd.Beta,
        jd.Beta,
        params=_beta_params,
        # one large concentration, equal relative changes: the large remainder and the sum's
        # cancel unless they are differenced first (issue 10, item 6a: 2e-4 off at eps 1e-3)
        near=lambda eps: (
            {"concentration1": 1e4, "concentration0": 3.0},
            {"concentration1": 1e4 * (1 + eps), "concentration0": 3.0 * (1 + eps)},
        ),
        mp_kl=_mp_kl_beta,
        id="Beta-Beta[large concentration]",
    ),
    PairCase(
        jd.Pareto,
        jd.Pareto,
        params=_pareto_params,
        near=lambda eps: (
            {"scale": 1.2, "alpha": 2.5},
            {"scale": 1.2 * (1 - eps), "alpha": 2.5 * (1 + eps)},
        ),
        mp_kl=_mp_kl_pareto,
    ),
    PairCase(
        jd.Uniform,
        jd.Uniform,
        params=_uniform_params,
        near=lambda eps: (
            {"low": 0.3, "high": 1.2},
            {"low": 0.3 * (1 - eps), "high": 1.2 * (1 + eps)},
        ),
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


def _cb_logpdf(probs):
    """Continuous Bernoulli log-density.

    Continuous Bernoulli log-density ``log C(l) + x log l + (1 - x) log(1 - l)`` on [0, 1],
    ``C(l) = 2 atanh(1 - 2l) / (1 - 2l)`` (= 2 at l = 1/2), from Loaiza-Ganem & Cunningham (2019).
    """
    lam = float(probs)
    logc = (
        np.log(2.0) if lam == 0.5 else np.log(2.0 * np.arctanh(1.0 - 2.0 * lam) / (1.0 - 2.0 * lam))
    )

    def logpdf(x):
        if x < 0.0 or x > 1.0:
            return -np.inf
        return logc + special.xlogy(x, lam) + special.xlog1py(1.0 - x, -lam)

    return logpdf


def _density(name, d):
    """``(logpdf, lower, upper, breakpoints)`` of a family from torch's parameter names."""
    g = {k: float(v) for k, v in d.items()}
    if name == "Normal":
        return stats.norm(g["loc"], g["scale"]).logpdf, -np.inf, np.inf, [g["loc"]]
    if name == "Laplace":
        return stats.laplace(g["loc"], g["scale"]).logpdf, -np.inf, np.inf, [g["loc"]]
    if name == "Gumbel":
        return stats.gumbel_r(g["loc"], g["scale"]).logpdf, -np.inf, np.inf, [g["loc"]]
    if name == "Exponential":
        return stats.expon(scale=1.0 / g["rate"]).logpdf, 0.0, np.inf, [1.0 / g["rate"]]
    if name == "Gamma":
        k, r = g["concentration"], g["rate"]
        return stats.gamma(k, scale=1.0 / r).logpdf, 0.0, np.inf, [k / r]
    if name == "Beta":
        return stats.beta(g["concentration1"], g["concentration0"]).logpdf, 0.0, 1.0, [0.5]
    if name == "Pareto":
        return (
            stats.pareto(g["alpha"], scale=g["scale"]).logpdf,
            g["scale"],
            np.inf,
            [2.0 * g["scale"]],
        )
    if name == "Uniform":
        lo, hi = g["low"], g["high"]
        return (lambda x: -np.log(hi - lo) if lo <= x <= hi else -np.inf), lo, hi, []
    if name == "ContinuousBernoulli":
        return _cb_logpdf(g["probs"]), 0.0, 1.0, [0.5]
    raise KeyError(name)


#: -log q(x) grows like x**m as x -> inf for these q; E_p[X**m] is infinite for a Pareto
#: p with alpha <= m, and so is the KL (quadrature cannot see a divergence).
_POLY_GROWTH = {"Exponential": 1, "Gamma": 1, "Normal": 2}


def support_quad_kl(p_name, p_params, q_name, q_params):
    """KL(p || q) by adaptive quadrature of ``p log(p/q)`` over p's support (float)."""
    lp, lo, hi, cuts = _density(p_name, p_params)
    lq, q_lo, q_hi, q_cuts = _density(q_name, q_params)
    if lo < q_lo or hi > q_hi:  # q = 0 on part of p's support, which has positive mass
        return np.inf
    if p_name == "Pareto" and float(p_params["alpha"]) <= _POLY_GROWTH.get(q_name, 0):
        return np.inf

    def integrand(x):
        u = float(lp(x))
        w = np.exp(u)
        if w == 0.0:
            return 0.0
        return w * (u - float(lq(x)))

    points = sorted({lo, hi, *(c for c in cuts + q_cuts if lo < c < hi)})
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in zip(points[:-1], points[1:]):
            total += integrate.quad(integrand, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0]
    return total


def _quad_reference(p_name, q_name):
    def reference(pp, qp):
        keys_p, keys_q = list(pp), list(qp)
        arrays = np.broadcast_arrays(
            *(np.asarray(pp[k], np.float64) for k in keys_p),
            *(np.asarray(qp[k], np.float64) for k in keys_q),
        )
        out = np.empty(arrays[0].shape)
        for idx in np.ndindex(out.shape):
            values = [a[idx] for a in arrays]
            out[idx] = support_quad_kl(
                p_name,
                dict(zip(keys_p, values[: len(keys_p)])),
                q_name,
                dict(zip(keys_q, values[len(keys_p) :])),
            )
        return out

    return reference


# --------------------------------------------------------------------------------------
# torch reference
# --------------------------------------------------------------------------------------


def _torch_dists(p_name, q_name, pp, qp):
    import torch
    import torch.distributions as td

    arrays = np.broadcast_arrays(
        *(np.asarray(v, np.float64) for v in list(pp.values()) + list(qp.values()))
    )
    tensors = [torch.as_tensor(np.ascontiguousarray(a)) for a in arrays]
    tp = getattr(td, p_name)(**dict(zip(pp, tensors[: len(pp)])), validate_args=False)
    tq = getattr(td, q_name)(**dict(zip(qp, tensors[len(pp) :])), validate_args=False)
    return tp, tq


def _torch_broadcast(p_name, q_name):
    """Torch's KL on parameters broadcast to the common batch shape first (see module doc)."""

    def value(pp, qp):
        import torch.distributions as td

        tp, tq = _torch_dists(p_name, q_name, pp, qp)
        return td.kl_divergence(tp, tq).double().numpy()

    return value


def _torch_cb_uniform_corrected(pp, qp):
    """Torch's KL(ContinuousBernoulli || Uniform), corrected at the support boundary.

    torch returns +inf when ``low >= 0`` or ``high <= 1``; the KL is finite whenever
    ``low <= 0`` and ``high >= 1`` (e.g. against Uniform(0, 1)). Where torch's ``>=``/``<=``
    wrongly give +inf, the expectation is torch's own finite formula
    ``-p.entropy() + log(high - low)`` (test_continuous.py shows the deviation
    against quadrature).
    """
    import torch
    import torch.distributions as td

    tp, tq = _torch_dists("ContinuousBernoulli", "Uniform", pp, qp)
    value = td.kl_divergence(tp, tq).double().numpy()
    finite = ((tq.low <= 0) & (tq.high >= 1)).numpy()
    formula = (-tp.entropy() + torch.log(tq.high - tq.low)).double().numpy()
    wrong = finite & np.isinf(value)
    return np.where(wrong, formula, value)


def _torch_uniform_cb_corrected(pp, qp):
    """Torch's KL(Uniform || ContinuousBernoulli), corrected at the support boundary.

    torch returns +inf when ``low <= 0`` or ``high >= 1``; the KL is finite whenever
    ``0 <= low`` and ``high <= 1`` (e.g. for Uniform(0, 1)). Where torch's ``<=``/``>=``
    wrongly give +inf, the expectation is torch's own finite formula
    ``-p.entropy() - p.mean * q.logits - log1p(-q.probs) - q._cont_bern_log_norm()``.
    """
    import torch
    import torch.distributions as td

    tp, tq = _torch_dists("Uniform", "ContinuousBernoulli", pp, qp)
    value = td.kl_divergence(tp, tq).double().numpy()
    finite = ((tp.low >= 0) & (tp.high <= 1)).numpy()
    formula = (
        -tp.entropy() - tp.mean * tq.logits - torch.log1p(-tq.probs) - tq._cont_bern_log_norm()
    )
    wrong = finite & np.isinf(value)
    return np.where(wrong, formula.double().numpy(), value)


# --------------------------------------------------------------------------------------
# Parameter generators (numpy float64, torch's keyword names)
# --------------------------------------------------------------------------------------

P_SHAPE, Q_SHAPE = (4, 1), (3,)


def _u(rng, lo, hi, shape):
    return rng.uniform(lo, hi, size=shape)


def _family(name, rng, shape):
    if name in ("Normal", "Laplace", "Gumbel"):
        return {"loc": rng.normal(size=shape), "scale": _u(rng, 0.3, 2.0, shape)}
    if name == "Exponential":
        return {"rate": _u(rng, 0.3, 3.0, shape)}
    if name == "Gamma":
        return {"concentration": _u(rng, 0.3, 4.0, shape), "rate": _u(rng, 0.3, 3.0, shape)}
    if name == "Beta":
        return {
            "concentration1": _u(rng, 0.3, 4.0, shape),
            "concentration0": _u(rng, 0.3, 4.0, shape),
        }
    if name == "Pareto":
        return {"scale": _u(rng, 0.2, 2.0, shape), "alpha": _u(rng, 0.5, 6.0, shape)}
    if name == "Uniform":
        low = rng.normal(size=shape)
        return {"low": low, "high": low + _u(rng, 0.1, 2.0, shape)}
    if name == "ContinuousBernoulli":
        probs = _u(rng, 0.05, 0.95, shape)
        probs.flat[0] = 0.5  # logits = 0: the series branch of the normaliser
        return {"probs": probs}
    raise KeyError(name)


def _default_params(p_name, q_name):
    def params(rng):
        return _family(p_name, rng, P_SHAPE), _family(q_name, rng, Q_SHAPE)

    return params


def _bounded_q_params(p_name):
    def params(rng):
        pp = _family(p_name, rng, P_SHAPE)
        # q entries: finite; finite on the low boundary; finite on the high boundary; infinite
        low = np.array([-0.4 + _u(rng, -0.1, 0.1, ()), 0.0, -0.2, 0.1])
        high = np.array([1.3 + _u(rng, -0.1, 0.1, ()), 1.4, 1.0, 1.5])
        return pp, {"low": low, "high": high}

    return params


def _uniform_in_unit_interval_params(q_name, boundaries):
    """Uniform p against a q on [0, 1]: entries inside, on the boundary, and outside."""

    def params(rng):
        low = np.array([0.1, 0.0 if boundaries else 0.05, 0.3, -0.1])[:, None]
        high = np.array([0.7, 0.5, 1.0 if boundaries else 0.95, 0.6])[:, None]
        low[0] += _u(rng, -0.05, 0.05, ())
        high[1] += _u(rng, -0.05, 0.05, ())
        return {"low": low, "high": high}, _family(q_name, rng, Q_SHAPE)

    return params


def _uniform_halfline_params(q_name):
    """Uniform p against a q on [0, inf): low < 0 is infinite, low == 0 is finite."""

    def params(rng):
        low = np.array([[-0.3], [0.0], [0.4], [1.2]]) + np.array([[0.0], [0.0], [1.0], [1.0]]) * _u(
            rng, -0.1, 0.1, (4, 1)
        )
        return {"low": low, "high": low + _u(rng, 0.2, 2.0, (4, 1))}, _family(q_name, rng, Q_SHAPE)

    return params


def _uniform_pareto_params(rng):
    qp = {"scale": np.array([0.3, 0.8, 1.5]), "alpha": _u(rng, 0.5, 4.0, Q_SHAPE)}
    low = np.array([[0.2], [0.8], [1.0], [1.7]])  # 0.8 sits on the second q's scale
    return {"low": low, "high": low + _u(rng, 0.2, 2.0, (4, 1))}, qp


def _pareto_alpha_params(alphas, q_name):
    """Pareto p with the given alpha column (inf / boundary / finite with light MC tails)."""

    def params(rng):
        alpha = np.array(alphas, np.float64)[:, None].copy()
        alpha[2:] += _u(rng, 0.0, 1.0, (len(alphas) - 2, 1))
        return {"scale": _u(rng, 0.2, 2.0, (len(alphas), 1)), "alpha": alpha}, _family(
            q_name, rng, Q_SHAPE
        )

    return params


def _normal_gumbel_params(rng):
    # p.scale / q.scale <= 1 keeps exp(-(x - mu)/beta) light-tailed for the Monte Carlo check
    pp = {"loc": rng.normal(size=P_SHAPE), "scale": _u(rng, 0.3, 1.0, P_SHAPE)}
    qp = {"loc": rng.normal(size=Q_SHAPE), "scale": _u(rng, 1.0, 2.0, Q_SHAPE)}
    return pp, qp


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------

_CLASSES = {
    "Beta": jd.Beta,
    "ContinuousBernoulli": jd.ContinuousBernoulli,
    "Exponential": jd.Exponential,
    "Gamma": jd.Gamma,
    "Gumbel": jd.Gumbel,
    "Laplace": jd.Laplace,
    "Normal": jd.Normal,
    "Pareto": jd.Pareto,
    "Uniform": jd.Uniform,
}

#: the cross-family closed forms of jaxkl/kl/continuous.py: (p, q) -> (params, torch reference)
_CLOSED = {
    ("Beta", "ContinuousBernoulli"): None,
    ("Beta", "Exponential"): None,
    ("Beta", "Gamma"): None,
    ("Beta", "Normal"): None,
    ("Beta", "Uniform"): (_bounded_q_params("Beta"), None),
    ("ContinuousBernoulli", "Exponential"): None,
    ("ContinuousBernoulli", "Normal"): None,
    ("ContinuousBernoulli", "Uniform"): (
        _bounded_q_params("ContinuousBernoulli"),
        _torch_cb_uniform_corrected,
    ),
    ("Exponential", "Gamma"): None,
    ("Exponential", "Gumbel"): None,
    ("Exponential", "Normal"): None,
    ("Gamma", "Exponential"): None,
    ("Gamma", "Gumbel"): None,
    ("Gamma", "Normal"): None,
    ("Gumbel", "Normal"): None,
    ("Laplace", "Normal"): None,
    ("Normal", "Gumbel"): (_normal_gumbel_params, None),
    ("Normal", "Laplace"): None,
    ("Pareto", "Exponential"): (_pareto_alpha_params([0.6, 1.0, 4.5, 6.0], "Exponential"), None),
    ("Pareto", "Gamma"): (_pareto_alpha_params([0.6, 1.0, 4.5, 6.0], "Gamma"), None),
    ("Pareto", "Normal"): (_pareto_alpha_params([1.5, 2.0, 8.5, 10.0], "Normal"), None),
    # boundaries low = 0 / high = 1 make the gradient of E[log X] infinite: kept off here
    ("Uniform", "Beta"): (_uniform_in_unit_interval_params("Beta", boundaries=False), None),
    ("Uniform", "ContinuousBernoulli"): (
        _uniform_in_unit_interval_params("ContinuousBernoulli", boundaries=True),
        _torch_uniform_cb_corrected,
    ),
    ("Uniform", "Exponential"): (_uniform_halfline_params("Exponential"), None),
    ("Uniform", "Gamma"): (_uniform_halfline_params("Gamma"), None),
    ("Uniform", "Gumbel"): None,
    ("Uniform", "Normal"): None,
    ("Uniform", "Pareto"): (_uniform_pareto_params, None),
}


def _row(p_name, q_name, params, torch_ref, finite):
    return PairCase(
        _CLASSES[p_name],
        _CLASSES[q_name],
        params=params,
        torch=torch_ref,
        reference=_quad_reference(p_name, q_name),
        monte_carlo=finite,
    )


def _rows():
    rows = []
    for (p_name, q_name), spec in _CLOSED.items():
        params, torch_ref = spec if spec is not None else (None, None)
        rows.append(
            _row(
                p_name,
                q_name,
                params or _default_params(p_name, q_name),
                torch_ref or _torch_broadcast(p_name, q_name),
                finite=True,
            )
        )
    for p_type, q_type in INFINITE_PAIRS:
        # torch's _kl_*_infinity returns p's batch shape, which broadcasts: its own call is fine
        rows.append(
            _row(
                p_type.__name__,
                q_type.__name__,
                _default_params(p_type.__name__, q_type.__name__),
                True,
                finite=False,
            )
        )
    return rows


PAIRS += _rows()


class _Kumaraswamy:
    """Kumaraswamy(a, b) from its closed-form density and quantile function."""

    def __init__(self, a, b):
        self.a, self.b = float(a), float(b)

    def logpdf(self, x):
        a, b = self.a, self.b
        return math.log(a) + math.log(b) + special.xlogy(a - 1, x) + special.xlog1py(b - 1, -(x**a))

    def isf(self, w):  # P(X > x) = (1 - x^a)^b
        return (-math.expm1(math.log(w) / self.b)) ** (1 / self.a) if w > 0 else 1.0

    def ppf(self, u):  # 1 - x^a = (1 - u)^(1/b)
        return (-math.expm1(math.log1p(-u) / self.b)) ** (1 / self.a)


class _LogitNormal:
    def __init__(self, loc, scale):
        self.n = stats.norm(float(loc), float(scale))

    def logpdf(self, x):
        if not 0 < x < 1:
            return -np.inf
        lx, l1x = math.log(x), math.log1p(-x)
        return self.n.logpdf(lx - l1x) - lx - l1x

    def ppf(self, u):
        return special.expit(self.n.ppf(u))

    def isf(self, w):
        return special.expit(self.n.isf(w))


def scipy_dist(name, d):
    """A scipy.stats-like object (``logpdf``, ``ppf``, ``isf``) from torch/TFP parameter names."""
    g = {k: float(np.asarray(v)) for k, v in d.items()}
    if name == "LogNormal":
        return stats.lognorm(g["scale"], scale=math.exp(g["loc"]))
    if name == "LogitNormal":
        return _LogitNormal(g["loc"], g["scale"])
    if name == "Chi2":
        return stats.chi2(g["df"])
    if name == "Chi":
        return stats.chi(g["df"])
    if name == "Gamma":
        return stats.gamma(g["concentration"], scale=1 / g["rate"])
    if name == "InverseGamma":
        return stats.invgamma(g["concentration"], scale=g["rate"])
    if name == "Weibull":
        return stats.weibull_min(g["concentration"], scale=g["scale"])
    if name == "Moyal":
        return stats.moyal(g["loc"], g["scale"])
    if name == "Kumaraswamy":
        return _Kumaraswamy(g["concentration1"], g["concentration0"])
    if name == "Beta":
        return stats.beta(g["concentration1"], g["concentration0"])
    raise KeyError(name)


def _quad_kl_kumaraswamy_beta(pp, qp):
    """KL(Kumaraswamy || Beta) by quadrature over ``s = log V``, ``V = (1 - X^a)^b`` uniform.

    Float64 cannot hold ``X`` next to 1 for small ``b`` (``1 - X^a = V^(1/b)`` is 1e-100 for
    ``V = 1e-10``, ``b = 0.2``), so ``log x = log1p(-t)/a`` and ``log(1 - x) = log(-expm1(log x))``
    are formed from ``log t = s / b`` directly; ``log(1 - x^a) = log t``.
    """
    a, b = float(pp["concentration1"]), float(pp["concentration0"])
    al, be = float(qp["concentration1"]), float(qp["concentration0"])
    lbeta = special.betaln(al, be)

    def integrand(s):
        lt = s / b
        if lt < -30:  # t < 1e-13: log x = -t/a, log(1 - x) = log(t/a) to float64 accuracy
            lx, l1x = -math.exp(lt) / a, lt - math.log(a)
        else:
            lx = (math.log1p(-math.exp(lt)) if lt < -1 else math.log(-math.expm1(lt))) / a
            l1x = math.log(-math.expm1(lx))
        lp = math.log(a * b) + (a - 1) * lx + (b - 1) * lt
        lq = (al - 1) * lx + (be - 1) * l1x - lbeta
        return (lp - lq) * math.exp(s)

    opts = dict(epsabs=1e-13, epsrel=1e-11, limit=400)
    breaks = [-np.inf, -40.0, -10.0, -1.0, -1e-3, -1e-8, 0.0]
    return sum(
        integrate.quad(integrand, lo, hi, **opts)[0] for lo, hi in zip(breaks[:-1], breaks[1:])
    )


def quad_kl_scalar(p_name, pp, q_name, qp):
    """KL by quadrature over p's quantiles.

    ``int_0^1 [log p - log q](F_p^-1(u)) du``: the lower half through ``ppf(u)``, the upper
    half through ``isf(1 - u)`` (no rounding of ``1 - u`` next to the upper end).
    """
    if p_name == "Kumaraswamy":
        return _quad_kl_kumaraswamy_beta(pp, qp)
    p, q = scipy_dist(p_name, pp), scipy_dist(q_name, qp)

    def ratio(x):
        return p.logpdf(x) - q.logpdf(x)

    opts = dict(epsabs=1e-13, epsrel=1e-11, limit=400)
    lo = integrate.quad(lambda u: ratio(p.ppf(u)), 0.0, 0.5, **opts)[0]
    hi = integrate.quad(lambda w: ratio(p.isf(w)), 0.0, 0.5, **opts)[0]
    return lo + hi


def quad_kl(p_type, q_type):
    """Elementwise :func:`quad_kl_scalar` over broadcast parameter dicts."""

    def reference(pp, qp):
        shape = np.broadcast_shapes(*(np.shape(v) for v in list(pp.values()) + list(qp.values())))
        bp = {k: np.broadcast_to(v, shape) for k, v in pp.items()}
        bq = {k: np.broadcast_to(v, shape) for k, v in qp.items()}
        out = np.empty(shape)
        for idx in np.ndindex(shape):
            out[idx] = quad_kl_scalar(
                p_type.__name__,
                {k: v[idx] for k, v in bp.items()},
                q_type.__name__,
                {k: v[idx] for k, v in bq.items()},
            )
        return out

    return reference


# --------------------------------------------------------------------------------------
# TFP reference
# --------------------------------------------------------------------------------------


def tfp_kl(p_name, q_name):
    """KL from TFP's JAX substrate in float64 (the test runs with x64 on)."""

    def reference(pp, qp):
        tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
        import jax.numpy as jnp

        tfd = tfp.distributions
        p = getattr(tfd, p_name)(**{k: jnp.asarray(v, jnp.float64) for k, v in pp.items()})
        q = getattr(tfd, q_name)(**{k: jnp.asarray(v, jnp.float64) for k, v in qp.items()})
        return np.asarray(tfd.kl_divergence(p, q), np.float64)

    return reference


# --------------------------------------------------------------------------------------
# mpmath closed forms (50 digits on the exact float32 parameters)
# --------------------------------------------------------------------------------------


def _mp_kl_chi(p, q):
    kp, kq = p["df"] / 2, q["df"] / 2
    return mp.loggamma(kq) - mp.loggamma(kp) - (kq - kp) * mp.digamma(kp)


def _mp_kl_weibull(p, q):
    l1, k1, l2, k2 = p["scale"], p["concentration"], q["scale"], q["concentration"]
    return (
        mp.log(k1 / l1**k1)
        - mp.log(k2 / l2**k2)
        + (k1 - k2) * (mp.log(l1) - mp.euler / k1)
        + (l1 / l2) ** k2 * mp.gamma(k2 / k1 + 1)
        - 1
    )


def _mp_kl_weibull_gamma(p, q):
    lam, k, a, b = p["scale"], p["concentration"], q["concentration"], q["rate"]
    entropy = mp.euler * (1 - 1 / k) + mp.log(lam / k) + 1
    return (
        -entropy
        - a * mp.log(b)
        + mp.loggamma(a)
        - (a - 1) * (mp.log(lam) - mp.euler / k)
        + b * lam * mp.gamma(1 + 1 / k)
    )


def _mp_kl_moyal(p, q):
    rho = p["scale"] / q["scale"]
    m = (p["loc"] - q["loc"]) / q["scale"]
    return (
        -mp.log(rho)
        + (rho - 1) * (mp.euler + mp.log(2)) / 2
        - mp.mpf(1) / 2
        + m / 2
        + mp.exp(-m)
        * mp.power(2, rho)
        * mp.gamma(mp.mpf(1) / 2 + rho)
        / (2 * mp.gamma(mp.mpf(1) / 2))
    )


# --------------------------------------------------------------------------------------
# parameter generators
# --------------------------------------------------------------------------------------


def _loc_scale(rng):
    p = {"loc": rng.normal(size=(3, 1)), "scale": _pos(rng, (3, 1), 0.3, 2.0)}
    q = {"loc": rng.normal(size=(4,)), "scale": _pos(rng, (4,), 0.3, 2.0)}
    return p, q


def _df(rng, shape):
    return _pos(rng, shape, 0.5, 10.0)


def _gamma(rng, shape):
    return {"concentration": _pos(rng, shape, 0.5, 6.0), "rate": _pos(rng, shape, 0.3, 2.0)}


def _weibull(rng, shape):
    return {"scale": _pos(rng, shape, 0.5, 2.0), "concentration": _pos(rng, shape, 0.7, 4.0)}


def _kumaraswamy_beta(rng):
    # small concentration0 rows (0.1, 0.2) are where numpyro's truncated series fails
    p = {
        "concentration1": np.array([[0.5], [2.0], [5.0]]),
        "concentration0": np.array([[0.2], [3.0], [0.1]]),
    }
    q = {"concentration1": _pos(rng, (4,), 0.5, 4.0), "concentration0": _pos(rng, (4,), 0.5, 4.0)}
    return p, q


#: the further families' rows (also checked against quadrature in test_continuous.py)
FURTHER_PAIRS = [
    PairCase(
        jd.LogNormal,
        jd.LogNormal,
        params=_loc_scale,
        near=_near_loc_scale,
        mp_kl=_mp_kl_normal,
        reference=tfp_kl("LogNormal", "LogNormal"),
    ),
    PairCase(
        jd.LogitNormal,
        jd.LogitNormal,
        params=_loc_scale,
        near=_near_loc_scale,
        mp_kl=_mp_kl_normal,
        torch=None,
        reference=tfp_kl("LogitNormal", "LogitNormal"),
    ),
    PairCase(
        jd.InverseGamma,
        jd.InverseGamma,
        params=lambda rng: (_gamma(rng, (3, 1)), _gamma(rng, (4,))),
        # equal relative change of shape and rate: the most cancelling direction of the Gamma KL
        near=lambda eps: (
            {"concentration": 2.0, "rate": 1.5},
            {"concentration": 2.0 * (1 + eps), "rate": 1.5 * (1 + eps)},
        ),
        mp_kl=_mp_kl_gamma,
    ),
    PairCase(
        jd.Chi2,
        jd.Chi2,
        params=lambda rng: ({"df": _df(rng, (3, 1))}, {"df": _df(rng, (4,))}),
        near=lambda eps: ({"df": 3.0}, {"df": 3.0 * (1 + eps)}),
        mp_kl=_mp_kl_gamma,
        reference=tfp_kl("Chi2", "Chi2"),
    ),
    PairCase(
        jd.Chi2,
        jd.Gamma,
        params=lambda rng: ({"df": _df(rng, (3, 1))}, _gamma(rng, (4,))),
        near=lambda eps: ({"df": 3.0}, {"concentration": 1.5 * (1 + eps), "rate": 0.5 * (1 + eps)}),
        mp_kl=_mp_kl_gamma,
        reference=tfp_kl("Chi2", "Gamma"),
    ),
    PairCase(
        jd.Gamma,
        jd.Chi2,
        params=lambda rng: (_gamma(rng, (3, 1)), {"df": _df(rng, (4,))}),
        near=lambda eps: ({"concentration": 1.5 * (1 + eps), "rate": 0.5 * (1 - eps)}, {"df": 3.0}),
        mp_kl=_mp_kl_gamma,
        reference=tfp_kl("Gamma", "Chi2"),
    ),
    PairCase(
        jd.Chi,
        jd.Chi,
        params=lambda rng: ({"df": _df(rng, (3, 1))}, {"df": _df(rng, (4,))}),
        near=lambda eps: ({"df": 3.0}, {"df": 3.0 * (1 + eps)}),
        mp_kl=_mp_kl_chi,
        torch=None,
        reference=tfp_kl("Chi", "Chi"),
    ),
    PairCase(
        jd.Weibull,
        jd.Weibull,
        params=lambda rng: (_weibull(rng, (3, 1)), _weibull(rng, (4,))),
        # scale and concentration moved together: first-order terms of l and L cancel partly
        near=lambda eps: (
            {"scale": 1.3, "concentration": 2.0},
            {"scale": 1.3 * (1 + eps), "concentration": 2.0 * (1 + eps)},
        ),
        mp_kl=_mp_kl_weibull,
        torch=None,
        reference=tfp_kl("Weibull", "Weibull"),
    ),
    PairCase(
        jd.Weibull,
        jd.Gamma,
        params=lambda rng: (_weibull(rng, (3, 1)), _gamma(rng, (4,))),
        # around Weibull(1.25, 1) = Gamma(1, 0.8), every parameter moved
        near=lambda eps: (
            {"scale": 1.25 * (1 - 0.5 * eps), "concentration": 1.0 + eps},
            {"concentration": 1.0 + 0.7 * eps, "rate": 0.8 * (1 + 0.3 * eps)},
        ),
        mp_kl=_mp_kl_weibull_gamma,
        torch=None,
        reference=tfp_kl("Weibull", "Gamma"),
    ),
    PairCase(
        jd.Moyal,
        jd.Moyal,
        params=_loc_scale,
        near=_near_loc_scale,
        mp_kl=_mp_kl_moyal,
        torch=None,
        reference=tfp_kl("Moyal", "Moyal"),
    ),
    PairCase(
        jd.Kumaraswamy,
        jd.Beta,
        params=_kumaraswamy_beta,
        torch=None,
        # float32 draws cannot resolve 1 - X below 6e-8, where Kumaraswamy(a, 0.1) puts much of
        # its mass: the Monte Carlo check runs in test_continuous.py on moderate parameters
        monte_carlo=False,
        reference=quad_kl(jd.Kumaraswamy, jd.Beta),
    ),
]
PAIRS += FURTHER_PAIRS


# --- Student's t, half-Cauchy, logistic, truncated normal ------------------------------------
# References: scipy.integrate.quad of p log(p/q) with scipy.stats densities (float64).


def _scipy_dist(name, prm):
    if name == "StudentT":
        return stats.t(prm["df"], prm.get("loc", 0.0), prm.get("scale", 1.0))
    if name == "HalfCauchy":
        return stats.halfcauchy(0.0, prm["scale"])
    if name == "TruncatedNormal":
        loc, scale = prm["loc"], prm["scale"]
        return stats.truncnorm((prm["low"] - loc) / scale, (prm["high"] - loc) / scale, loc, scale)
    return getattr(stats, {"Normal": "norm", "Cauchy": "cauchy", "Logistic": "logistic"}[name])(
        prm["loc"], prm["scale"]
    )


def _scipy_quad_reference(p_name, q_name):
    def one(pp, qp):
        p, q = _scipy_dist(p_name, pp), _scipy_dist(q_name, qp)
        lo, hi = p.support()
        m, s = p.median(), p.ppf(0.75) - p.ppf(0.25)
        cuts = [x for x in (m - 10 * s, m - s, m, m + s, m + 10 * s) if lo < x < hi]
        points = [lo, *cuts, hi]

        def integrand(x):
            lp = p.logpdf(x)
            return 0.0 if not np.isfinite(lp) else np.exp(lp) * (lp - q.logpdf(x))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sum(
                integrate.quad(integrand, a, b, limit=400, epsabs=1e-14, epsrel=1e-12)[0]
                for a, b in zip(points[:-1], points[1:])
            )

    def reference(pp, qp):
        keys_p, keys_q = list(pp), list(qp)
        arrays = np.broadcast_arrays(
            *(np.asarray(pp[k], np.float64) for k in keys_p),
            *(np.asarray(qp[k], np.float64) for k in keys_q),
        )
        out = np.empty(arrays[0].shape)
        for idx in np.ndindex(out.shape):
            values = [float(a[idx]) for a in arrays]
            out[idx] = one(dict(zip(keys_p, values)), dict(zip(keys_q, values[len(keys_p) :])))
        return out

    return reference


def _t_params(rng, lo=1.2, hi=6.0):
    return {
        "df": rng.uniform(lo, hi, size=(3, 1)),
        "loc": rng.normal(size=(3, 1)),
        "scale": _pos(rng, (3, 1)),
    }


def _t_q(rng):
    return {
        "df": rng.uniform(1.2, 6.0, size=(4,)),
        "loc": rng.normal(size=(4,)),
        "scale": _pos(rng, (4,)),
    }


def _ls(rng, shape):
    return {"loc": rng.normal(size=shape), "scale": _pos(rng, shape)}


def _tn(rng, shape, low=None, high=None):
    out = _ls(rng, shape)
    out["low"] = rng.uniform(-2.0, -0.5, size=shape) if low is None else low
    out["high"] = rng.uniform(0.0, 2.0, size=shape) if high is None else high
    return out


def _tn_equal_bounds(rng):
    low, high = rng.uniform(-2.0, -0.5, size=(4,)), rng.uniform(0.0, 2.0, size=(4,))
    return _tn(rng, (3, 1), low, high), _tn(rng, (4,), low, high)


def _tn_mixed_bounds(rng):
    # q's bounds inside p's (+inf), equal, or wider (finite)
    p = _tn(rng, (4,), np.full(4, -1.0), np.full(4, 1.0))
    q = _tn(rng, (4,), np.array([-0.5, -1.0, -2.0, -1.5]), np.array([1.0, 1.0, 2.0, 0.5]))
    return p, q


def _mp_kl_halfcauchy(p, q):
    return mp.log((p["scale"] + q["scale"]) ** 2 / (4 * p["scale"] * q["scale"]))


def _torch_halfcauchy(pp, qp):
    import torch
    import torch.distributions as td

    tp = td.HalfCauchy(torch.as_tensor(pp["scale"]), validate_args=False)
    tq = td.HalfCauchy(torch.as_tensor(qp["scale"]), validate_args=False)
    return td.kl_divergence(tp, tq).double().numpy()


PAIRS += [
    PairCase(
        jd.HalfCauchy,
        jd.HalfCauchy,
        params=lambda rng: ({"scale": _pos(rng, (3, 1))}, {"scale": _pos(rng, (4,))}),
        near=lambda eps: ({"scale": 1.2}, {"scale": 1.2 * (1 + eps)}),
        mp_kl=_mp_kl_halfcauchy,
        torch=_torch_halfcauchy,
        reference=_scipy_quad_reference("HalfCauchy", "HalfCauchy"),
    ),
    PairCase(
        jd.StudentT,
        jd.StudentT,
        params=lambda rng: (_t_params(rng), _t_q(rng)),
        # all three parameters move: the log-density ratio is formed from their differences
        near=lambda eps: (
            {"df": 3.0, "loc": 0.2, "scale": 1.1},
            {"df": 3.0 * (1 + eps), "loc": 0.2 + 1.1 * eps, "scale": 1.1 * (1 + eps)},
        ),
        mp_kl=_mp_kl_studentt,
        torch=None,
        reference=_scipy_quad_reference("StudentT", "StudentT"),
    ),
    PairCase(
        jd.StudentT,
        jd.Normal,
        # df <= 2 is +inf (infinite variance); df = 4 keeps the reference quadrature of
        # p x^2 (tails x^-3) accurate
        params=lambda rng: (
            {**_t_params(rng), "df": np.array([[1.5], [2.0], [4.0]])},
            _ls(rng, (4,)),
        ),
        torch=None,
        reference=lambda pp, qp: np.where(
            np.broadcast_to(pp["df"], np.broadcast_shapes(pp["df"].shape, qp["loc"].shape)) > 2,
            _scipy_quad_reference("StudentT", "Normal")(
                {**pp, "df": np.maximum(pp["df"], 2.5)}, qp
            ),
            np.inf,
        ),
    ),
    PairCase(
        jd.Normal,
        jd.StudentT,
        params=lambda rng: (_ls(rng, (3, 1)), _t_q(rng)),
        torch=None,
        reference=_scipy_quad_reference("Normal", "StudentT"),
    ),
    PairCase(
        jd.StudentT,
        jd.Cauchy,
        params=lambda rng: (_t_params(rng), _ls(rng, (4,))),
        near=lambda eps: (
            {"df": 1 + eps, "loc": 0.2, "scale": 1.1},
            {"loc": 0.2 - 1.1 * eps, "scale": 1.1},
        ),
        mp_kl=_mp_kl_studentt,
        torch=None,
        reference=_scipy_quad_reference("StudentT", "Cauchy"),
    ),
    PairCase(
        jd.Cauchy,
        jd.StudentT,
        params=lambda rng: (_ls(rng, (3, 1)), _t_q(rng)),
        near=lambda eps: (
            {"loc": 0.2, "scale": 1.1},
            {"df": 1 + eps, "loc": 0.2, "scale": 1.1 * (1 + eps)},
        ),
        mp_kl=_mp_kl_studentt,
        torch=None,
        reference=_scipy_quad_reference("Cauchy", "StudentT"),
    ),
    PairCase(
        jd.Logistic,
        jd.Logistic,
        params=lambda rng: (_ls(rng, (3, 1)), _ls(rng, (4,))),
        # different scales (quadrature, with the log-density ratio from the differences)
        near=lambda eps: (
            {"loc": 0.3, "scale": 1.2},
            {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps)},
        ),
        mp_kl=_mp_kl_logistic,
        torch=None,
        reference=_scipy_quad_reference("Logistic", "Logistic"),
    ),
    PairCase(
        jd.Logistic,
        jd.Logistic,
        # equal scales: the closed form delta coth(delta/2) - 2
        params=lambda rng: (
            {"loc": rng.normal(size=(3, 1)), "scale": np.full((3, 1), 1.3)},
            {"loc": rng.normal(size=(4,)), "scale": np.full((4,), 1.3)},
        ),
        near=lambda eps: ({"loc": 0.3, "scale": 1.2}, {"loc": 0.3 + 1.2 * eps, "scale": 1.2}),
        mp_kl=lambda p, q: (
            (p["loc"] - q["loc"]) / p["scale"] * mp.coth((p["loc"] - q["loc"]) / (2 * p["scale"]))
            - 2
        ),
        torch=None,
        reference=_scipy_quad_reference("Logistic", "Logistic"),
        id="Logistic-Logistic[equal scales]",
    ),
    PairCase(
        jd.TruncatedNormal,
        jd.TruncatedNormal,
        params=_tn_equal_bounds,
        # loc and scale both move by a relative eps; the bounds cut p on both sides
        near=lambda eps: (
            {"loc": 0.3, "scale": 1.2, "low": -1.0, "high": 2.0},
            {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps), "low": -1.0, "high": 2.0},
        ),
        mp_kl=_mp_kl_truncnormal,
        torch=None,
        reference=_scipy_quad_reference("TruncatedNormal", "TruncatedNormal"),
    ),
    PairCase(
        jd.TruncatedNormal,
        jd.TruncatedNormal,
        params=_tn_mixed_bounds,
        torch=None,
        reference=lambda pp, qp: np.where(
            (qp["low"] <= pp["low"]) & (pp["high"] <= qp["high"]),
            _scipy_quad_reference("TruncatedNormal", "TruncatedNormal")(
                pp,
                {
                    **qp,
                    "low": np.minimum(qp["low"], pp["low"]),
                    "high": np.maximum(qp["high"], pp["high"]),
                },
            ),
            np.inf,
        ),
        id="TruncatedNormal-TruncatedNormal[bounds]",
    ),
    PairCase(
        jd.TruncatedNormal,
        jd.Normal,
        params=lambda rng: (_tn(rng, (3, 1)), _ls(rng, (4,))),
        # bounds 7 scales out: q's mass outside p's support (1e-12) is below the KL
        near=lambda eps: (
            {"loc": 0.3, "scale": 1.2, "low": -8.1, "high": 8.7},
            {"loc": 0.3 - 1.2 * eps, "scale": 1.2 * (1 + eps)},
        ),
        mp_kl=_mp_kl_truncnormal,
        torch=None,
        reference=_scipy_quad_reference("TruncatedNormal", "Normal"),
    ),
]
