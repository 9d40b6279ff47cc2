"""Pair rows whose p is in the multivariate group (see pairs.py for the format).

Event size d = 3 throughout (mpmath references invert 3 x 3 matrices at 50 digits).
Batch shapes broadcast: p has batch (3, 1), q has batch (4,).

Near-equal rows (``near``/``mp_kl``, float32 relative error <= 1e-4 down to relative
perturbations of 1e-5): MultivariateNormal with ``scale_tril`` given, MultivariateNormal
with ``covariance_matrix`` given, LowRankMultivariateNormal, MultivariateNormalDiag (with
itself and against a MultivariateNormal given by ``scale_tril``), Dirichlet. The cross pairs
between low-rank and full normals have no near row: they go through two independent
Cholesky factorisations, whose ``eps * cond`` errors dominate a KL of ``O(δ²)``.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from jaxkl import distributions as jd
from tests._generators import spd, tril
from tests.kl._case import PairCase

D = 3


# -- parameter factories ------------------------------------------------------------------
def _mvn_tril_params(rng):
    p = {"loc": rng.normal(size=(3, 1, D)), "scale_tril": tril(rng, (3, 1))}
    q = {"loc": rng.normal(size=(4, D)), "scale_tril": tril(rng, (4,))}
    return p, q


def _mvn_cov_params(rng):
    p = {"loc": rng.normal(size=(3, 1, D)), "covariance_matrix": spd(rng, (3, 1))}
    q = {"loc": rng.normal(size=(4, D)), "covariance_matrix": spd(rng, (4,))}
    return p, q


def _mvn_prec_params(rng):
    p = {"loc": rng.normal(size=(3, 1, D)), "precision_matrix": spd(rng, (3, 1))}
    q = {"loc": rng.normal(size=(4, D)), "scale_tril": tril(rng, (4,))}
    return p, q


def _lowrank(rng, batch, rank=2):
    return {
        "loc": rng.normal(size=batch + (D,)),
        "cov_factor": rng.normal(size=batch + (D, rank)) * 0.7,
        "cov_diag": rng.uniform(0.3, 1.5, size=batch + (D,)),
    }


def _diag(rng, batch):
    return {
        "loc": rng.normal(size=batch + (D,)),
        "scale_diag": rng.uniform(0.4, 2.0, size=batch + (D,)),
    }


# -- mpmath references ------------------------------------------------------------------
def _mat(flat):
    return mp.matrix([[flat[i * D + j] for j in range(D)] for i in range(D)])


def _vec(flat):
    return mp.matrix([flat[i] for i in range(D)])


def _mp_gauss_kl(mu_p, cov_p, mu_q, cov_q):
    qinv = mp.inverse(cov_q)
    dmu = mu_q - mu_p
    tr = sum((qinv * cov_p)[i, i] for i in range(D))
    maha = (dmu.T * qinv * dmu)[0, 0]
    return (tr - D + maha + mp.log(mp.det(cov_q)) - mp.log(mp.det(cov_p))) / 2


def _mp_cov(params):
    if "scale_tril" in params:
        L = _mat(params["scale_tril"])
        return L * L.T
    if "covariance_matrix" in params:
        return _mat(params["covariance_matrix"])
    if "scale_diag" in params:
        return mp.diag([s**2 for s in params["scale_diag"]])
    W = mp.matrix([[params["cov_factor"][i * R + j] for j in range(R)] for i in range(D)])
    return W * W.T + mp.diag(params["cov_diag"])


R = 2  # rank of the near-equal low-rank rows


def _mp_kl_gauss(p, q):
    return _mp_gauss_kl(_vec(p["loc"]), _mp_cov(p), _vec(q["loc"]), _mp_cov(q))


def _mp_kl_dirichlet(p, q):
    a, b = p["concentration"], q["concentration"]
    a0, b0 = sum(a), sum(b)
    out = mp.loggamma(a0) - mp.loggamma(b0)
    for ai, bi in zip(a, b):
        out += mp.loggamma(bi) - mp.loggamma(ai) + (ai - bi) * (mp.digamma(ai) - mp.digamma(a0))
    return out


# -- near-equal pairs (scalar batch): q's parameters are p's moved by a relative eps ------------
_L0 = np.array([[1.3, 0.0, 0.0], [0.4, 0.9, 0.0], [-0.7, 0.25, 1.6]])
_DL = np.array([[1.0, 0.0, 0.0], [-0.6, 0.8, 0.0], [0.3, -0.9, -0.5]])
_MU0 = np.array([0.3, -1.1, 0.6])
_DMU = np.array([0.8, 0.5, -1.0])


def _near_tril(eps):
    p = {"loc": _MU0, "scale_tril": _L0}
    q = {"loc": _MU0 + eps * _DMU, "scale_tril": _L0 * (1 + eps * _DL)}
    return p, q


def _near_cov(eps):
    c = _L0 @ _L0.T
    dc = _DL + _DL.T
    return {"loc": _MU0, "covariance_matrix": c}, {
        "loc": _MU0 + eps * _DMU,
        "covariance_matrix": c * (1 + eps * dc),
    }


_W0 = np.array([[0.8, -0.2], [0.3, 0.9], [-0.5, 0.4]])
_DW = np.array([[1.0, -0.5], [0.2, 0.7], [-0.9, 0.3]])
_D0 = np.array([0.6, 1.2, 0.9])


def _near_lowrank(eps):
    p = {"loc": _MU0, "cov_factor": _W0, "cov_diag": _D0}
    q = {
        "loc": _MU0 + eps * _DMU,
        "cov_factor": _W0 * (1 + eps * _DW),
        "cov_diag": _D0 * (1 + eps * np.array([0.5, -1.0, 0.7])),
    }
    return p, q


_S0 = np.array([0.7, 1.4, 2.2])


def _near_diag(eps):
    return {"loc": _MU0, "scale_diag": _S0}, {
        "loc": _MU0 + eps * _DMU,
        "scale_diag": _S0 * (1 + eps * np.array([1.0, -0.4, 0.6])),
    }


def _near_diag_tril(eps):
    p = {"loc": _MU0, "scale_diag": _S0}
    q = {"loc": _MU0 + eps * _DMU, "scale_tril": np.diag(_S0) + eps * np.tril(_DL) * 0.5}
    return p, q


def _near_dirichlet(eps):
    a = np.array([0.7, 2.0, 5.0])
    return {"concentration": a}, {"concentration": a * (1 + eps * np.array([1.0, -0.5, 0.3]))}


# -- torch references for pairs torch lacks ---------------------------------------------
def _torch_gauss(params):
    import torch
    import torch.distributions as td

    t = {k: torch.as_tensor(v) for k, v in params.items()}
    if "scale_diag" in t:
        return td.MultivariateNormal(
            t["loc"], covariance_matrix=torch.diag_embed(t["scale_diag"] ** 2)
        )
    if "cov_factor" in t:
        return td.LowRankMultivariateNormal(t["loc"], t["cov_factor"], t["cov_diag"])
    return td.MultivariateNormal(**t)


def _torch_via_mvn(pp, qp):
    import torch.distributions as td

    return td.kl_divergence(_torch_gauss(pp), _torch_gauss(qp)).numpy()


def _scipy_dirichlet_reference(pp, qp):
    """The Dirichlet KL independent of torch.

    Independent of torch: KL by the exponential-family identity with scipy's special
    functions, E_p[log x_i] = digamma(a_i) - digamma(a_0).
    """
    from scipy.special import digamma, gammaln

    a = np.broadcast_to(
        pp["concentration"],
        np.broadcast_shapes(np.shape(pp["concentration"]), np.shape(qp["concentration"])),
    )
    b = np.broadcast_to(qp["concentration"], a.shape)
    elog = digamma(a) - digamma(a.sum(-1, keepdims=True))

    def logb(c):
        return gammaln(c).sum(-1) - gammaln(c.sum(-1))

    return logb(b) - logb(a) + ((a - b) * elog).sum(-1)


PAIRS = [
    PairCase(
        jd.MultivariateNormal,
        jd.MultivariateNormal,
        params=_mvn_tril_params,
        near=_near_tril,
        mp_kl=_mp_kl_gauss,
        id="MultivariateNormal-MultivariateNormal",
    ),
    PairCase(
        jd.MultivariateNormal,
        jd.MultivariateNormal,
        params=_mvn_cov_params,
        near=_near_cov,
        mp_kl=_mp_kl_gauss,
        id="MultivariateNormal-MultivariateNormal[covariance_matrix]",
    ),
    PairCase(
        jd.MultivariateNormal,
        jd.MultivariateNormal,
        params=_mvn_prec_params,
        id="MultivariateNormal-MultivariateNormal[precision_matrix]",
    ),
    PairCase(
        jd.LowRankMultivariateNormal,
        jd.LowRankMultivariateNormal,
        params=lambda rng: (_lowrank(rng, (3, 1)), _lowrank(rng, (4,), rank=1)),
        near=_near_lowrank,
        mp_kl=_mp_kl_gauss,
    ),
    PairCase(
        jd.LowRankMultivariateNormal,
        jd.MultivariateNormal,
        params=lambda rng: (
            _lowrank(rng, (3, 1)),
            {"loc": rng.normal(size=(4, D)), "covariance_matrix": spd(rng, (4,))},
        ),
    ),
    PairCase(
        jd.MultivariateNormal,
        jd.LowRankMultivariateNormal,
        params=lambda rng: (
            {"loc": rng.normal(size=(3, 1, D)), "scale_tril": tril(rng, (3, 1))},
            _lowrank(rng, (4,)),
        ),
    ),
    PairCase(
        jd.MultivariateNormalDiag,
        jd.MultivariateNormalDiag,
        params=lambda rng: (_diag(rng, (3, 1)), _diag(rng, (4,))),
        near=_near_diag,
        mp_kl=_mp_kl_gauss,
        torch=_torch_via_mvn,
    ),
    PairCase(
        jd.MultivariateNormalDiag,
        jd.MultivariateNormal,
        params=lambda rng: (
            _diag(rng, (3, 1)),
            {"loc": rng.normal(size=(4, D)), "scale_tril": tril(rng, (4,))},
        ),
        near=_near_diag_tril,
        mp_kl=_mp_kl_gauss,
        torch=_torch_via_mvn,
    ),
    PairCase(
        jd.MultivariateNormal,
        jd.MultivariateNormalDiag,
        params=lambda rng: (
            {"loc": rng.normal(size=(3, 1, D)), "covariance_matrix": spd(rng, (3, 1))},
            _diag(rng, (4,)),
        ),
        torch=_torch_via_mvn,
    ),
    PairCase(
        jd.MultivariateNormalDiag,
        jd.LowRankMultivariateNormal,
        params=lambda rng: (_diag(rng, (3, 1)), _lowrank(rng, (4,))),
        torch=_torch_via_mvn,
    ),
    PairCase(
        jd.LowRankMultivariateNormal,
        jd.MultivariateNormalDiag,
        params=lambda rng: (_lowrank(rng, (3, 1)), _diag(rng, (4,))),
        torch=_torch_via_mvn,
    ),
    PairCase(
        jd.Dirichlet,
        jd.Dirichlet,
        params=lambda rng: (
            {"concentration": rng.uniform(0.3, 4.0, size=(3, 1, 4))},
            {"concentration": rng.uniform(0.3, 4.0, size=(4, 4))},
        ),
        near=_near_dirichlet,
        mp_kl=_mp_kl_dirichlet,
        reference=_scipy_dirichlet_reference,
    ),
]
