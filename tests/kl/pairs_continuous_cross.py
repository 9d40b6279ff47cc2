"""Pair rows for torch's cross-family pairs between univariate continuous families.

The group of p is "continuous" (pairs_continuous.py holds the same-family rows); the closed
forms are in jaxkl/kl/continuous_cross.py and the always-infinite pairs in
jaxkl/kl/infinite.py. See pairs.py for the row format.

References:

* torch, through :func:`_torch_broadcast`: several of torch's forms assign ``+inf`` through
  a boolean mask of *one* argument's shape (``result[q.low > 0] = inf``), which raises for
  broadcasting batch shapes, so the parameters are broadcast to the common shape before
  torch sees them (torch's values, not its shapes, are the contract);
* :func:`quad_kl`: ``scipy.integrate.quad`` of ``p log(p / q)`` over p's support with
  scipy.stats densities (the continuous Bernoulli density is written out), ``+inf`` where
  q's density vanishes on a set of positive p-probability, or where ``E_p[-log q]``
  diverges (Pareto tails, see ``_POLY_GROWTH``).

``params(rng)`` mixes finite and ``+inf`` entries wherever the pair has both, including the
boundary cases (``low == 0``, ``alpha == 1`` …), and keeps the finite entries' log-ratio
light-tailed enough for the Monte Carlo check (Pareto ``alpha > 4``).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from scipy import integrate, special, stats

from jaxkl import distributions as jd
from jaxkl.kl.infinite import INFINITE_PAIRS
from tests.kl.pairs import PairCase

# --------------------------------------------------------------------------------------
# Quadrature reference
# --------------------------------------------------------------------------------------


def _cb_logpdf(probs):
    """Continuous Bernoulli log-density ``log C(l) + x log l + (1 - x) log(1 - l)`` on [0, 1],
    ``C(l) = 2 atanh(1 - 2l) / (1 - 2l)`` (= 2 at l = 1/2), from Loaiza-Ganem & Cunningham (2019)."""
    lam = float(probs)
    logc = np.log(2.0) if lam == 0.5 else np.log(2.0 * np.arctanh(1.0 - 2.0 * lam) / (1.0 - 2.0 * lam))

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
        return stats.pareto(g["alpha"], scale=g["scale"]).logpdf, g["scale"], np.inf, [2.0 * g["scale"]]
    if name == "Uniform":
        lo, hi = g["low"], g["high"]
        return (lambda x: -np.log(hi - lo) if lo <= x <= hi else -np.inf), lo, hi, []
    if name == "ContinuousBernoulli":
        return _cb_logpdf(g["probs"]), 0.0, 1.0, [0.5]
    raise KeyError(name)


#: -log q(x) grows like x**m as x -> inf for these q; E_p[X**m] is infinite for a Pareto
#: p with alpha <= m, and so is the KL (quadrature cannot see a divergence).
_POLY_GROWTH = {"Exponential": 1, "Gamma": 1, "Normal": 2}


def quad_kl(p_name, p_params, q_name, q_params):
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
        arrays = np.broadcast_arrays(*(np.asarray(pp[k], np.float64) for k in keys_p),
                                     *(np.asarray(qp[k], np.float64) for k in keys_q))
        out = np.empty(arrays[0].shape)
        for idx in np.ndindex(out.shape):
            values = [a[idx] for a in arrays]
            out[idx] = quad_kl(p_name, dict(zip(keys_p, values[: len(keys_p)])),
                               q_name, dict(zip(keys_q, values[len(keys_p):])))
        return out

    return reference


# --------------------------------------------------------------------------------------
# torch reference
# --------------------------------------------------------------------------------------


def _torch_dists(p_name, q_name, pp, qp):
    import torch
    import torch.distributions as td

    arrays = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in list(pp.values()) + list(qp.values())))
    tensors = [torch.as_tensor(np.ascontiguousarray(a)) for a in arrays]
    tp = getattr(td, p_name)(**dict(zip(pp, tensors[: len(pp)])), validate_args=False)
    tq = getattr(td, q_name)(**dict(zip(qp, tensors[len(pp):])), validate_args=False)
    return tp, tq


def _torch_broadcast(p_name, q_name):
    """torch's KL on parameters broadcast to the common batch shape first (see module doc)."""

    def value(pp, qp):
        import torch.distributions as td

        tp, tq = _torch_dists(p_name, q_name, pp, qp)
        return td.kl_divergence(tp, tq).double().numpy()

    return value


def _torch_cb_uniform_corrected(pp, qp):
    """torch's KL(ContinuousBernoulli || Uniform), corrected at the support boundary.

    torch returns +inf when ``low >= 0`` or ``high <= 1``; the KL is finite whenever
    ``low <= 0`` and ``high >= 1`` (e.g. against Uniform(0, 1)). Where torch's ``>=``/``<=``
    wrongly give +inf, the expectation is torch's own finite formula
    ``-p.entropy() + log(high - low)`` (test_continuous_cross.py shows the deviation
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
    """torch's KL(Uniform || ContinuousBernoulli), corrected at the support boundary.

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
    formula = (-tp.entropy() - tp.mean * tq.logits - torch.log1p(-tq.probs) - tq._cont_bern_log_norm())
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
        return {"concentration1": _u(rng, 0.3, 4.0, shape), "concentration0": _u(rng, 0.3, 4.0, shape)}
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
        low = np.array([[-0.3], [0.0], [0.4], [1.2]]) + np.array([[0.0], [0.0], [1.0], [1.0]]) * _u(rng, -0.1, 0.1, (4, 1))
        return {"low": low, "high": low + _u(rng, 0.2, 2.0, (4, 1))}, _family(q_name, rng, Q_SHAPE)

    return params


def _uniform_pareto_params(rng):
    qp = {"scale": np.array([0.3, 0.8, 1.5]), "alpha": _u(rng, 0.5, 4.0, Q_SHAPE)}
    low = np.array([[0.2], [0.8], [1.0], [1.7]])  # 0.8 sits on the second q's scale
    return {"low": low, "high": low + _u(rng, 0.2, 2.0, (4, 1))}, qp


def _pareto_params(alphas, q_name):
    """Pareto p with the given alpha column (inf / boundary / finite with light MC tails)."""

    def params(rng):
        alpha = np.array(alphas, np.float64)[:, None].copy()
        alpha[2:] += _u(rng, 0.0, 1.0, (len(alphas) - 2, 1))
        return {"scale": _u(rng, 0.2, 2.0, (len(alphas), 1)), "alpha": alpha}, _family(q_name, rng, Q_SHAPE)

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

#: the closed forms of jaxkl/kl/continuous_cross.py: (p, q) -> (params, torch reference)
_CLOSED = {
    ("Beta", "ContinuousBernoulli"): None,
    ("Beta", "Exponential"): None,
    ("Beta", "Gamma"): None,
    ("Beta", "Normal"): None,
    ("Beta", "Uniform"): (_bounded_q_params("Beta"), None),
    ("ContinuousBernoulli", "Exponential"): None,
    ("ContinuousBernoulli", "Normal"): None,
    ("ContinuousBernoulli", "Uniform"): (_bounded_q_params("ContinuousBernoulli"), _torch_cb_uniform_corrected),
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
    ("Pareto", "Exponential"): (_pareto_params([0.6, 1.0, 4.5, 6.0], "Exponential"), None),
    ("Pareto", "Gamma"): (_pareto_params([0.6, 1.0, 4.5, 6.0], "Gamma"), None),
    ("Pareto", "Normal"): (_pareto_params([1.5, 2.0, 8.5, 10.0], "Normal"), None),
    # boundaries low = 0 / high = 1 make the gradient of E[log X] infinite: kept off here
    ("Uniform", "Beta"): (_uniform_in_unit_interval_params("Beta", boundaries=False), None),
    ("Uniform", "ContinuousBernoulli"): (_uniform_in_unit_interval_params("ContinuousBernoulli", boundaries=True),
                                         _torch_uniform_cb_corrected),
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
        rows.append(_row(p_name, q_name, params or _default_params(p_name, q_name),
                         torch_ref or _torch_broadcast(p_name, q_name), finite=True))
    for p_type, q_type in INFINITE_PAIRS:
        # torch's _kl_*_infinity returns p's batch shape, which broadcasts: its own call is fine
        rows.append(_row(p_type.__name__, q_type.__name__, _default_params(p_type.__name__, q_type.__name__),
                         True, finite=False))
    return rows


PAIRS = _rows()
