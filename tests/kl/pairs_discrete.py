"""Pair rows whose p is a discrete family (see pairs.py for the format).

ProbitBernoulli is checked against torch's Bernoulli KL at ``probs = Φ(probits)``
(float64) and mpmath at 50 digits; Multinomial against ``total_count`` x torch's
Categorical KL and an exact enumeration of the support with scipy's multinomial pmf. TFP's
ProbitBernoulli KL is compared in tests/distributions/test_discrete.py.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
from scipy import special

from jaxkl import distributions as jd
from tests._generators import torch64
from tests.kl._case import PairCase


def _torch_elementwise(p_name, q_name):
    """Torch's KL after broadcasting every parameter of both sides to one shape.

    Torch's KL after broadcasting every parameter of both sides to one shape (torch's
    Bernoulli/Binomial KLs index with masks of one side's shape and do not broadcast).
    """

    def value(pp, qp):
        import torch.distributions as td

        arrays = np.broadcast_arrays(
            *[np.asarray(v, np.float64) for v in (*pp.values(), *qp.values())]
        )
        bp = dict(zip(pp, arrays[: len(pp)]))
        bq = dict(zip(qp, arrays[len(pp) :]))
        tp = getattr(td, p_name)(**{k: torch64(v) for k, v in bp.items()}, validate_args=False)
        tq = getattr(td, q_name)(**{k: torch64(v) for k, v in bq.items()}, validate_args=False)
        return td.kl_divergence(tp, tq).double().numpy()

    return value


# -- mpmath references (exact float32 parameters, 50 digits) ---------------------------------
def _mp_bern(a, b):
    return a * mp.log(a / b) + (1 - a) * mp.log((1 - a) / (1 - b))


def _mp_kl_bernoulli_probs(p, q):
    return _mp_bern(p["probs"], q["probs"])


def _mp_sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _mp_kl_bernoulli_logits(p, q):
    return _mp_bern(_mp_sigmoid(p["logits"]), _mp_sigmoid(q["logits"]))


def _mp_kl_binomial(p, q):
    return p["total_count"] * _mp_bern(p["probs"], q["probs"])


def _mp_kl_geometric(p, q):
    return _mp_bern(p["probs"], q["probs"]) / p["probs"]


def _mp_kl_categorical_probs(p, q):
    P, Q = p["probs"], q["probs"]
    sp, sq = mp.fsum(P), mp.fsum(Q)
    return mp.fsum((a / sp) * mp.log((a / sp) / (b / sq)) for a, b in zip(P, Q))


def _mp_kl_categorical_logits(p, q):
    lp, lq = p["logits"], q["logits"]
    zp = mp.log(mp.fsum(mp.exp(x) for x in lp))
    zq = mp.log(mp.fsum(mp.exp(x) for x in lq))
    return mp.fsum(mp.exp(a - zp) * ((a - zp) - (b - zq)) for a, b in zip(lp, lq))


def _mp_kl_poisson(p, q):
    r, s = p["rate"], q["rate"]
    return r * mp.log(r / s) - r + s


# -- parameter factories (broadcasting batch shapes) ------------------------------------------
def _probs(rng, shape, lo=0.05, hi=0.95):
    return rng.uniform(lo, hi, size=shape)


_CAT_P = np.array([0.2, 0.3, 0.5])
_CAT_L = np.array([-0.7, 0.4, 1.3])
_PERTURB = np.array([1.0, -0.6, 0.3])

PAIRS = [
    PairCase(
        jd.Bernoulli,
        jd.Bernoulli,
        params=lambda rng: ({"probs": _probs(rng, (3, 1))}, {"probs": _probs(rng, (4,))}),
        near=lambda eps: ({"probs": 0.3}, {"probs": 0.3 * (1 + eps)}),
        mp_kl=_mp_kl_bernoulli_probs,
        torch=_torch_elementwise("Bernoulli", "Bernoulli"),
        id="Bernoulli-Bernoulli[probs]",
    ),
    PairCase(
        jd.Bernoulli,
        jd.Bernoulli,
        params=lambda rng: (
            {"logits": rng.normal(0, 2, size=(3, 1))},
            {"logits": rng.normal(0, 2, size=(4,))},
        ),
        near=lambda eps: ({"logits": 2.5}, {"logits": 2.5 * (1 + eps)}),
        mp_kl=_mp_kl_bernoulli_logits,
        torch=_torch_elementwise("Bernoulli", "Bernoulli"),
        id="Bernoulli-Bernoulli[logits]",
    ),
    PairCase(
        jd.Binomial,
        jd.Binomial,
        params=lambda rng: (
            {"total_count": np.array([[5.0], [5.0], [7.0]]), "probs": _probs(rng, (3, 1))},
            {"total_count": np.array([5.0, 5.0, 3.0, 5.0]), "probs": _probs(rng, (4,))},
        ),
        near=lambda eps: (
            {"total_count": 12.0, "probs": 0.7},
            {"total_count": 12.0, "probs": 0.7 * (1 + eps)},
        ),
        mp_kl=_mp_kl_binomial,
        grad_params=("probs",),
        torch=_torch_elementwise("Binomial", "Binomial"),
    ),
    PairCase(
        jd.Categorical,
        jd.Categorical,
        params=lambda rng: (
            {"probs": rng.dirichlet(np.ones(4), size=(3, 1))},
            {"probs": rng.dirichlet(np.ones(4), size=(2,))},
        ),
        near=lambda eps: ({"probs": _CAT_P}, {"probs": _CAT_P * (1 + eps * _PERTURB)}),
        mp_kl=_mp_kl_categorical_probs,
        id="Categorical-Categorical[probs]",
    ),
    PairCase(
        jd.Categorical,
        jd.Categorical,
        params=lambda rng: (
            {"logits": rng.normal(size=(3, 1, 4))},
            {"logits": rng.normal(size=(2, 4))},
        ),
        near=lambda eps: ({"logits": _CAT_L}, {"logits": _CAT_L + eps * _PERTURB}),
        mp_kl=_mp_kl_categorical_logits,
        id="Categorical-Categorical[logits]",
    ),
    PairCase(
        jd.OneHotCategorical,
        jd.OneHotCategorical,
        params=lambda rng: (
            {"probs": rng.dirichlet(np.ones(3), size=(2, 1))},
            {"logits": rng.normal(size=(3, 3))},
        ),
        near=lambda eps: ({"logits": _CAT_L}, {"logits": _CAT_L * (1 + eps * _PERTURB)}),
        mp_kl=_mp_kl_categorical_logits,
    ),
    PairCase(
        jd.Geometric,
        jd.Geometric,
        params=lambda rng: (
            {"probs": _probs(rng, (3, 1), 0.2, 0.95)},
            {"probs": _probs(rng, (4,), 0.05, 0.95)},
        ),
        near=lambda eps: ({"probs": 0.4}, {"probs": 0.4 * (1 + eps)}),
        mp_kl=_mp_kl_geometric,
        torch=_torch_elementwise("Geometric", "Geometric"),
    ),
    PairCase(
        jd.Poisson,
        jd.Poisson,
        params=lambda rng: (
            {"rate": rng.uniform(0.1, 10.0, size=(3, 1))},
            {"rate": rng.uniform(0.1, 10.0, size=(4,))},
        ),
        near=lambda eps: ({"rate": 3.7}, {"rate": 3.7 * (1 + eps)}),
        mp_kl=_mp_kl_poisson,
        torch=_torch_elementwise("Poisson", "Poisson"),
    ),
    PairCase(
        jd.Bernoulli,
        jd.Poisson,
        params=lambda rng: (
            {"probs": _probs(rng, (3, 1))},
            {"rate": rng.uniform(0.05, 3.0, size=(4,))},
        ),
        torch=_torch_elementwise("Bernoulli", "Poisson"),
    ),
    PairCase(
        jd.Poisson,
        jd.Bernoulli,
        params=lambda rng: (
            {"rate": rng.uniform(0.1, 5.0, size=(3, 1))},
            {"probs": _probs(rng, (4,))},
        ),
        torch=_torch_elementwise("Poisson", "Bernoulli"),
        monte_carlo=False,
    ),
    PairCase(
        jd.Poisson,
        jd.Binomial,
        params=lambda rng: (
            {"rate": rng.uniform(0.1, 5.0, size=(3, 1))},
            {"total_count": np.array([1.0, 4.0, 10.0, 2.0]), "probs": _probs(rng, (4,))},
        ),
        grad_params=("rate", "probs"),
        torch=_torch_elementwise("Poisson", "Binomial"),
        monte_carlo=False,
    ),
]


# -- ProbitBernoulli ----------------------------------------------------------------------------
def _mp_log_ncdf(x):
    """Log Φ(x) at the working precision, also where Φ(x) is within 1e-50 of 1."""
    return mp.log1p(-mp.ncdf(-x)) if x > 0 else mp.log(mp.ncdf(x))


def mp_kl_probit(a, b):
    """KL(ProbitBern(a) || ProbitBern(b)) in mpmath."""
    out = mp.mpf(0)
    for s in (1, -1):
        lw, lq = _mp_log_ncdf(s * a), _mp_log_ncdf(s * b)
        out += mp.exp(lw) * (lw - lq)
    return out


def _mp_kl_probits(p, q):
    return mp_kl_probit(p["probits"], q["probits"])


def _mp_kl_probit_probs(p, q):
    a, b = p["probs"], q["probs"]
    return a * mp.log(a / b) + (1 - a) * mp.log((1 - a) / (1 - b))


def _torch_probit(pp, qp):
    import torch
    import torch.distributions as td

    a, b = np.broadcast_arrays(
        np.asarray(pp["probits"], np.float64), np.asarray(qp["probits"], np.float64)
    )
    tp = td.Bernoulli(probs=torch.special.ndtr(torch64(a)), validate_args=False)
    tq = td.Bernoulli(probs=torch.special.ndtr(torch64(b)), validate_args=False)
    return td.kl_divergence(tp, tq).numpy()


def _torch_probit_probs(pp, qp):
    import torch.distributions as td

    a, b = np.broadcast_arrays(
        np.asarray(pp["probs"], np.float64), np.asarray(qp["probs"], np.float64)
    )
    return td.kl_divergence(td.Bernoulli(probs=torch64(a)), td.Bernoulli(probs=torch64(b))).numpy()


def _mp_reference_probit(pp, qp):
    mp.mp.dps = 50
    a, b = np.broadcast_arrays(
        np.asarray(pp["probits"], np.float64), np.asarray(qp["probits"], np.float64)
    )
    return np.vectorize(lambda x, y: float(mp_kl_probit(mp.mpf(x), mp.mpf(y))))(a, b)


# -- Multinomial ----------------------------------------------------------------------------
N_COUNT = 5


def _mult_params(rng):
    p = {"total_count": N_COUNT, "probs": rng.uniform(0.05, 1.0, size=(3, 1, 4))}
    q = {"total_count": N_COUNT, "probs": rng.uniform(0.05, 1.0, size=(4, 4))}
    return p, q


def _mult_logit_params(rng):
    return (
        {"total_count": 3, "logits": rng.normal(size=(3, 1, 3))},
        {"total_count": 3, "logits": rng.normal(size=(4, 3))},
    )


def _torch_multinomial(pp, qp):
    import torch
    import torch.distributions as td

    key = "probs" if "probs" in pp else "logits"
    a, b = np.broadcast_arrays(np.asarray(pp[key], np.float64), np.asarray(qp[key], np.float64))
    cat = td.kl_divergence(td.Categorical(**{key: torch64(a)}), td.Categorical(**{key: torch64(b)}))
    assert int(pp["total_count"]) == int(qp["total_count"])
    return (int(pp["total_count"]) * cat).numpy() if isinstance(cat, torch.Tensor) else cat


def _normalised(params):
    if "probs" in params:
        p = np.asarray(params["probs"], np.float64)
        return p / p.sum(-1, keepdims=True)
    z = np.asarray(params["logits"], np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def enumerate_multinomial_kl(n, p, q):
    """KL by summing over every count vector of the support (scipy's multinomial pmf)."""
    from scipy.stats import multinomial

    k = p.shape[-1]
    xs = np.array([c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n], np.float64)
    lp, lq = multinomial.logpmf(xs, n, p), multinomial.logpmf(xs, n, q)
    return float(np.sum(np.exp(lp) * (lp - lq)))


def _enumeration_reference(pp, qp):
    a, b = np.broadcast_arrays(_normalised(pp), _normalised(qp))
    n = int(pp["total_count"])
    out = np.empty(a.shape[:-1])
    for idx in np.ndindex(out.shape):
        out[idx] = enumerate_multinomial_kl(n, a[idx], b[idx])
    return out


def _mp_kl_multinomial_probs(p, q):
    P, Q = p["probs"], q["probs"]
    sp, sq = mp.fsum(P), mp.fsum(Q)
    return p["total_count"] * mp.fsum((a / sp) * mp.log((a / sp) / (b / sq)) for a, b in zip(P, Q))


def _mp_kl_multinomial_logits(p, q):
    lp, lq = p["logits"], q["logits"]
    zp = mp.log(mp.fsum(mp.exp(x) for x in lp))
    zq = mp.log(mp.fsum(mp.exp(x) for x in lq))
    return p["total_count"] * mp.fsum(
        mp.exp(a - zp) * ((a - zp) - (b - zq)) for a, b in zip(lp, lq)
    )


_P0 = np.array([0.2, 0.5, 0.3])
_DP = np.array([1.0, -0.6, 0.4])
_L0 = np.array([0.4, -1.2, 0.9])


PAIRS += [
    PairCase(
        jd.ProbitBernoulli,
        jd.ProbitBernoulli,
        params=lambda rng: (
            {"probits": rng.uniform(-2.5, 2.5, size=(3, 1))},
            {"probits": rng.uniform(-2.5, 2.5, size=(4,))},
        ),
        near=lambda eps: ({"probits": np.array(0.7)}, {"probits": np.array(0.7 * (1 + eps))}),
        mp_kl=_mp_kl_probits,
        torch=_torch_probit,
        reference=_mp_reference_probit,
    ),
    PairCase(
        jd.ProbitBernoulli,
        jd.ProbitBernoulli,
        params=lambda rng: (
            {"probs": rng.uniform(0.05, 0.95, size=(3, 1))},
            {"probs": rng.uniform(0.05, 0.95, size=(4,))},
        ),
        near=lambda eps: ({"probs": np.array(0.3)}, {"probs": np.array(0.3 * (1 + eps))}),
        mp_kl=_mp_kl_probit_probs,
        torch=_torch_probit_probs,
        id="ProbitBernoulli-ProbitBernoulli[probs]",
    ),
    PairCase(
        jd.Multinomial,
        jd.Multinomial,
        params=_mult_params,
        near=lambda eps: (
            {"total_count": 7, "probs": _P0},
            {"total_count": 7, "probs": _P0 * (1 + eps * _DP)},
        ),
        mp_kl=_mp_kl_multinomial_probs,
        torch=_torch_multinomial,
        reference=_enumeration_reference,
    ),
    PairCase(
        jd.Multinomial,
        jd.Multinomial,
        params=_mult_logit_params,
        near=lambda eps: (
            {"total_count": 4, "logits": _L0},
            {"total_count": 4, "logits": _L0 * (1 + eps * _DP)},
        ),
        mp_kl=_mp_kl_multinomial_logits,
        torch=_torch_multinomial,
        reference=_enumeration_reference,
        id="Multinomial-Multinomial[logits]",
    ),
]


# --- negative binomial: references by direct summation of the series (float64) ---------------


def _nb_log_pmf(k, r, p):
    return (
        special.gammaln(k + r)
        - special.gammaln(k + 1)
        - special.gammaln(r)
        + r * np.log1p(-p)
        + k * np.log(p)
    )


def _series_reference(log_p, log_q, mean, sd):
    """sum_k p(k) log(p(k)/q(k)) over k <= mean + 40 sd + 200 (the rest is below 1e-30)."""

    def reference(pp, qp):
        keys_p, keys_q = list(pp), list(qp)
        arrays = np.broadcast_arrays(
            *(np.asarray(pp[k], np.float64) for k in keys_p),
            *(np.asarray(qp[k], np.float64) for k in keys_q),
        )
        out = np.empty(arrays[0].shape)
        for idx in np.ndindex(out.shape):
            values = [float(a[idx]) for a in arrays]
            a, b = dict(zip(keys_p, values)), dict(zip(keys_q, values[len(keys_p) :]))
            k = np.arange(0.0, np.ceil(mean(a) + 40 * sd(a) + 200))
            lp = log_p(k, a)
            w = np.exp(lp)
            out[idx] = np.sum(np.where(w > 0, w * (lp - log_q(k, b)), 0.0))
        return out

    return reference


def _nb_pp(prm):
    p = prm["probs"] if "probs" in prm else special.expit(prm["logits"])
    return prm["total_count"], p


def _nb_lp(k, prm):
    return _nb_log_pmf(k, *_nb_pp(prm))


def _nb_mean(prm):
    r, p = _nb_pp(prm)
    return r * p / (1 - p)


def _nb_sd(prm):
    r, p = _nb_pp(prm)
    return np.sqrt(r * p) / (1 - p)


def _mp_kl_nb(p, q):
    r, a, b = p["total_count"], p["probs"], q["probs"]
    return r * (a / (1 - a) * mp.log(a / b) + mp.log((1 - a) / (1 - b)))


def _mp_kl_nb_counts(p, q):
    """The NB KL for any counts: the series summed by mpmath (``nsum``, to convergence)."""

    def log_pmf(d):
        r, a = d["total_count"], _mp_sigmoid(d["logits"])
        return lambda k: (
            mp.loggamma(k + r)
            - mp.loggamma(k + 1)
            - mp.loggamma(r)
            + r * mp.log1p(-a)
            + k * mp.log(a)
        )

    lp, lq = log_pmf(p), log_pmf(q)
    return mp.nsum(lambda k: mp.exp(lp(k)) * (lp(k) - lq(k)), [0, mp.inf])


PAIRS += [
    PairCase(
        jd.NegativeBinomial,
        jd.NegativeBinomial,
        params=lambda rng: (
            {
                "total_count": rng.uniform(0.3, 8.0, size=(3, 1)),
                "probs": rng.uniform(0.05, 0.9, size=(3, 1)),
            },
            {
                "total_count": rng.uniform(0.3, 8.0, size=(4,)),
                "probs": rng.uniform(0.05, 0.9, size=(4,)),
            },
        ),
        # equal total_count: the closed form, written without cancellation
        near=lambda eps: (
            {"total_count": 3.0, "probs": 0.3},
            {"total_count": 3.0, "probs": 0.3 * (1 + eps)},
        ),
        mp_kl=_mp_kl_nb,
        torch=None,
        reference=_series_reference(_nb_lp, _nb_lp, _nb_mean, _nb_sd),
    ),
    PairCase(
        jd.NegativeBinomial,
        jd.NegativeBinomial,
        params=lambda rng: (
            {
                "total_count": rng.uniform(0.3, 8.0, size=(3, 1)),
                "logits": rng.normal(0.0, 1.5, size=(3, 1)),
            },
            {
                "total_count": rng.uniform(0.3, 8.0, size=(4,)),
                "logits": rng.normal(0.0, 1.5, size=(4,)),
            },
        ),
        # unequal counts: the log-gamma terms' O(count difference) parts cancel analytically
        near=lambda eps: (
            {"total_count": 3.0, "logits": -0.4},
            {"total_count": 3.0 * (1 + eps), "logits": -0.4 * (1 + eps)},
        ),
        mp_kl=_mp_kl_nb_counts,
        torch=None,
        reference=_series_reference(_nb_lp, _nb_lp, _nb_mean, _nb_sd),
        id="NegativeBinomial-NegativeBinomial[logits]",
    ),
    PairCase(
        jd.Poisson,
        jd.NegativeBinomial,
        params=lambda rng: (
            {"rate": rng.uniform(0.2, 20.0, size=(3, 1))},
            {
                "total_count": rng.uniform(0.3, 8.0, size=(4,)),
                "probs": rng.uniform(0.05, 0.9, size=(4,)),
            },
        ),
        torch=None,
        reference=_series_reference(
            lambda k, a: k * np.log(a["rate"]) - a["rate"] - special.gammaln(k + 1),
            _nb_lp,
            lambda a: a["rate"],
            lambda a: np.sqrt(a["rate"]),
        ),
    ),
]
