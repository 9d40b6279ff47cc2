"""Pair rows for the univariate continuous families beyond torch's KL registry.

Closed forms in jaxkl/kl/continuous_extra.py; see pairs.py for the row format.

References:

* torch where torch.distributions has both classes and the pair (LogNormal, Chi2 with
  Gamma, InverseGamma);
* TensorFlow Probability's JAX substrate (``reference=``, float64) for the pairs it
  registers (every pair here except InverseGamma-InverseGamma and Kumaraswamy-Beta); the
  test skips when ``tensorflow_probability.substrates.jax`` does not import;
* :func:`quad_kl`, ``scipy.integrate.quad`` of ``log p - log q`` over p's quantiles, for every
  pair (tests/kl/test_continuous_extra.py), and the only reference of Kumaraswamy-Beta;
* mpmath closed forms at 50 digits for the near-equal float32 check (every pair but
  Kumaraswamy-Beta, whose families meet only on the edges a = 1 or b = 1).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, special, stats

from jaxkl import distributions as jd
from tests.kl.pairs import PairCase

# --------------------------------------------------------------------------------------
# scipy densities and quantiles (float64), for the quadrature reference
# --------------------------------------------------------------------------------------


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
    are formed from ``log t = s / b`` directly; ``log(1 - x^a) = log t``."""
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
    return sum(integrate.quad(integrand, lo, hi, **opts)[0] for lo, hi in zip(breaks[:-1], breaks[1:]))


def quad_kl_scalar(p_name, pp, q_name, qp):
    """``int_0^1 [log p - log q](F_p^-1(u)) du``: the lower half through ``ppf(u)``, the upper
    half through ``isf(1 - u)`` (no rounding of ``1 - u`` next to the upper end)."""
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
                p_type.__name__, {k: v[idx] for k, v in bp.items()}, q_type.__name__, {k: v[idx] for k, v in bq.items()}
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


def _mp_kl_normal(p, q):
    r = p["scale"] / q["scale"]
    return (r * r - 1) / 2 - mp.log(r) + ((p["loc"] - q["loc"]) / q["scale"]) ** 2 / 2


def _mp_gamma(d):
    if "df" in d:
        return d["df"] / 2, mp.mpf(1) / 2
    return d["concentration"], d["rate"]


def _mp_kl_gamma(p, q):
    cp, rp = _mp_gamma(p)
    cq, rq = _mp_gamma(q)
    return cq * mp.log(rp / rq) + mp.loggamma(cq) - mp.loggamma(cp) + (cp - cq) * mp.digamma(cp) + (rq - rp) * cp / rp


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
        + mp.exp(-m) * mp.power(2, rho) * mp.gamma(mp.mpf(1) / 2 + rho) / (2 * mp.gamma(mp.mpf(1) / 2))
    )


# --------------------------------------------------------------------------------------
# parameter generators
# --------------------------------------------------------------------------------------


def _pos(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape)


def _loc_scale(rng):
    p = {"loc": rng.normal(size=(3, 1)), "scale": _pos(rng, (3, 1), 0.3, 2.0)}
    q = {"loc": rng.normal(size=(4,)), "scale": _pos(rng, (4,), 0.3, 2.0)}
    return p, q


def _near_loc_scale(eps):
    return {"loc": 0.3, "scale": 1.2}, {"loc": 0.3 + 1.2 * eps, "scale": 1.2 * (1 + eps)}


def _df(rng, shape):
    return _pos(rng, shape, 0.5, 10.0)


def _gamma(rng, shape):
    return {"concentration": _pos(rng, shape, 0.5, 6.0), "rate": _pos(rng, shape, 0.3, 2.0)}


def _weibull(rng, shape):
    return {"scale": _pos(rng, shape, 0.5, 2.0), "concentration": _pos(rng, shape, 0.7, 4.0)}


def _kumaraswamy_beta(rng):
    # small concentration0 rows (0.1, 0.2) are where numpyro's truncated series fails
    p = {"concentration1": np.array([[0.5], [2.0], [5.0]]), "concentration0": np.array([[0.2], [3.0], [0.1]])}
    q = {"concentration1": _pos(rng, (4,), 0.5, 4.0), "concentration0": _pos(rng, (4,), 0.5, 4.0)}
    return p, q


PAIRS = [
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
        near=lambda eps: ({"concentration": 2.0, "rate": 1.5}, {"concentration": 2.0 * (1 + eps), "rate": 1.5 * (1 + eps)}),
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
        near=lambda eps: ({"scale": 1.3, "concentration": 2.0}, {"scale": 1.3 * (1 + eps), "concentration": 2.0 * (1 + eps)}),
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
        # its mass: the Monte Carlo check runs in test_continuous_extra.py on moderate parameters
        monte_carlo=False,
        reference=quad_kl(jd.Kumaraswamy, jd.Beta),
    ),
]
