"""Pair rows whose p is in the matrix group: Wishart, MatrixNormal (see pairs.py).

Matrices are small (3 x 3 Wishart scales, 2 x 3 matrix normals) so that the mpmath
references work at 50 digits. References: Wishart against the textbook closed form
(Penny 2001) evaluated independently with numpy / scipy (``slogdet``, ``inv``,
``multigammaln``) and against Monte Carlo (here with jaxkl's sampler; with torch's sampler
and ``log_prob`` in test_matrix.py); MatrixNormal against torch's MultivariateNormal KL of
the vectorised Kronecker form ``N(vec M, V ⊗ U)`` in float64 (TFP's KL in test_matrix.py).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from jaxkl import distributions as jd
from tests._generators import spd, tril
from tests.kl._case import PairCase

D = 3
N_ROWS, N_COLS = 2, 3


# -- Wishart ------------------------------------------------------------------------------------
def _scale_cov(params):
    if "covariance_matrix" in params:
        return np.asarray(params["covariance_matrix"], np.float64)
    if "scale_tril" in params:
        L = np.asarray(params["scale_tril"], np.float64)
        return L @ np.swapaxes(L, -1, -2)
    return np.linalg.inv(np.asarray(params["precision_matrix"], np.float64))


def wishart_kl_reference(n_p, s_p, n_q, s_q):
    """Penny (2001) eq. (4.1), evaluated directly in float64 (independent of jaxkl)."""
    from scipy.special import digamma, multigammaln

    d = s_p.shape[-1]
    tr = np.trace(np.linalg.solve(s_q, s_p))
    logdet = np.linalg.slogdet(s_q)[1] - np.linalg.slogdet(s_p)[1]
    psi = sum(digamma(n_p / 2 - j / 2) for j in range(d))
    return (
        n_q / 2 * logdet
        + n_p / 2 * (tr - d)
        + multigammaln(n_q / 2, d)
        - multigammaln(n_p / 2, d)
        + (n_p - n_q) / 2 * psi
    )


def _wishart_reference(pp, qp):
    sp, sq = _scale_cov(pp), _scale_cov(qp)
    n_p, n_q = np.asarray(pp["df"], np.float64), np.asarray(qp["df"], np.float64)
    batch = np.broadcast_shapes(n_p.shape, n_q.shape, sp.shape[:-2], sq.shape[:-2])
    n_p, n_q = np.broadcast_to(n_p, batch), np.broadcast_to(n_q, batch)
    d = sp.shape[-1]
    sp, sq = np.broadcast_to(sp, batch + (d, d)), np.broadcast_to(sq, batch + (d, d))
    out = np.empty(batch)
    for idx in np.ndindex(batch):
        out[idx] = wishart_kl_reference(n_p[idx], sp[idx], n_q[idx], sq[idx])
    return out


def _wishart_params(kind):
    def make(rng):
        mats = {"scale_tril": tril, "covariance_matrix": spd, "precision_matrix": spd}
        p = {"df": rng.uniform(3.5, 7.0, size=(3, 1)), kind[0]: mats[kind[0]](rng, (3, 1))}
        q = {"df": rng.uniform(3.5, 7.0, size=(4,)), kind[1]: mats[kind[1]](rng, (4,))}
        return p, q

    return make


def _mat(flat, d):
    return mp.matrix([[flat[i * d + j] for j in range(d)] for i in range(d)])


def _mp_scale(params, d=D):
    if "scale_tril" in params:
        L = _mat(params["scale_tril"], d)
        return L * L.T
    if "covariance_matrix" in params:
        return _mat(params["covariance_matrix"], d)
    return mp.inverse(_mat(params["precision_matrix"], d))


def _mp_mvlgamma(a, d):
    return d * (d - 1) / mp.mpf(4) * mp.log(mp.pi) + mp.fsum(
        mp.loggamma(a - mp.mpf(j) / 2) for j in range(d)
    )


def _mp_kl_wishart(p, q):
    sp, sq = _mp_scale(p), _mp_scale(q)
    n_p, n_q = p["df"], q["df"]
    tr = sum((mp.inverse(sq) * sp)[i, i] for i in range(D))
    psi = mp.fsum(mp.digamma(n_p / 2 - mp.mpf(j) / 2) for j in range(D))
    return (
        n_q / 2 * (mp.log(mp.det(sq)) - mp.log(mp.det(sp)))
        + n_p / 2 * (tr - D)
        + _mp_mvlgamma(n_q / 2, D)
        - _mp_mvlgamma(n_p / 2, D)
        + (n_p - n_q) / 2 * psi
    )


_L0 = np.array([[1.3, 0.0, 0.0], [0.4, 0.9, 0.0], [-0.7, 0.25, 1.6]])
_DL = np.array([[1.0, 0.0, 0.0], [-0.6, 0.8, 0.0], [0.3, -0.9, -0.5]])


def _near_wishart(kind):
    def near(eps):
        c = _L0 @ _L0.T
        dc = _DL + _DL.T
        if kind == "scale_tril":
            a, b = _L0, _L0 * (1 + eps * _DL)
        elif kind == "covariance_matrix":
            a, b = c, c * (1 + eps * dc)
        else:
            a, b = np.linalg.inv(c), np.linalg.inv(c) * (1 + eps * dc)
        return {"df": np.array(5.5), kind: a}, {"df": np.array(5.5 * (1 - 0.7 * eps)), kind: b}

    return near


# -- MatrixNormal --------------------------------------------------------------------------------
def _mn_params(rng, batch):
    return {
        "loc": rng.normal(size=batch + (N_ROWS, N_COLS)),
        "scale_row": tril(rng, batch, N_ROWS),
        "scale_column": tril(rng, batch, N_COLS),
    }


def _kron_cov(params):
    a, b = (
        np.asarray(params["scale_row"], np.float64),
        np.asarray(params["scale_column"], np.float64),
    )
    u, v = a @ np.swapaxes(a, -1, -2), b @ np.swapaxes(b, -1, -2)
    return np.einsum("...ij,...kl->...ikjl", v, u).reshape(u.shape[:-2] + (N_ROWS * N_COLS,) * 2)


def _vec(m):
    m = np.asarray(m, np.float64)
    return np.swapaxes(m, -1, -2).reshape(m.shape[:-2] + (-1,))  # column stacking


def _torch_matrix_normal(pp, qp):
    """Torch's MultivariateNormal KL of N(vec M, V ⊗ U), float64."""
    import torch
    import torch.distributions as td

    tp = td.MultivariateNormal(
        torch.as_tensor(_vec(pp["loc"])), covariance_matrix=torch.as_tensor(_kron_cov(pp))
    )
    tq = td.MultivariateNormal(
        torch.as_tensor(_vec(qp["loc"])), covariance_matrix=torch.as_tensor(_kron_cov(qp))
    )
    return td.kl_divergence(tp, tq).numpy()


def _mp_kron(a, b):
    """Kronecker product of mpmath matrices."""
    ra, ca, rb, cb = a.rows, a.cols, b.rows, b.cols
    out = mp.matrix(ra * rb, ca * cb)
    for i in range(ra):
        for j in range(ca):
            for k in range(rb):
                for m in range(cb):
                    out[i * rb + k, j * cb + m] = a[i, j] * b[k, m]
    return out


def _mp_kl_matrix_normal(p, q):
    def parts(prm):
        a, b = _mat(prm["scale_row"], N_ROWS), _mat(prm["scale_column"], N_COLS)
        cov = _mp_kron(b * b.T, a * a.T)
        loc = prm["loc"]  # row-major flat n x p
        vec = mp.matrix([loc[i * N_COLS + j] for j in range(N_COLS) for i in range(N_ROWS)])
        return vec, cov

    mu_p, cp = parts(p)
    mu_q, cq = parts(q)
    k = N_ROWS * N_COLS
    qinv = mp.inverse(cq)
    dmu = mu_q - mu_p
    tr = sum((qinv * cp)[i, i] for i in range(k))
    return (tr - k + (dmu.T * qinv * dmu)[0, 0] + mp.log(mp.det(cq)) - mp.log(mp.det(cp))) / 2


_M0 = np.array([[0.3, -1.1, 0.6], [0.9, 0.2, -0.4]])
_DM = np.array([[0.8, 0.5, -1.0], [-0.3, 0.7, 0.2]])
_A0 = np.array([[1.1, 0.0], [0.45, 0.8]])
_DA = np.array([[1.0, 0.0], [-0.7, 0.6]])
_B0 = np.array([[0.9, 0.0, 0.0], [-0.3, 1.2, 0.0], [0.5, 0.2, 0.7]])
_DB = np.array([[-0.5, 0.0, 0.0], [0.8, 1.0, 0.0], [-0.4, 0.6, -0.9]])


def _near_matrix_normal(eps):
    p = {"loc": _M0, "scale_row": _A0, "scale_column": _B0}
    q = {
        "loc": _M0 + eps * _DM,
        "scale_row": _A0 * (1 + eps * _DA),
        "scale_column": _B0 * (1 + eps * _DB),
    }
    return p, q


PAIRS = [
    PairCase(
        jd.Wishart,
        jd.Wishart,
        params=_wishart_params(("scale_tril", "scale_tril")),
        near=_near_wishart("scale_tril"),
        mp_kl=_mp_kl_wishart,
        torch=None,
        reference=_wishart_reference,
    ),
    PairCase(
        jd.Wishart,
        jd.Wishart,
        params=_wishart_params(("covariance_matrix", "covariance_matrix")),
        near=_near_wishart("covariance_matrix"),
        mp_kl=_mp_kl_wishart,
        torch=None,
        reference=_wishart_reference,
        id="Wishart-Wishart[covariance_matrix]",
    ),
    PairCase(
        jd.Wishart,
        jd.Wishart,
        params=_wishart_params(("precision_matrix", "precision_matrix")),
        near=_near_wishart("precision_matrix"),
        mp_kl=_mp_kl_wishart,
        torch=None,
        reference=_wishart_reference,
        id="Wishart-Wishart[precision_matrix]",
    ),
    PairCase(
        jd.Wishart,
        jd.Wishart,
        params=_wishart_params(("covariance_matrix", "scale_tril")),
        torch=None,
        reference=_wishart_reference,
        id="Wishart-Wishart[covariance_matrix-scale_tril]",
    ),
    PairCase(
        jd.MatrixNormal,
        jd.MatrixNormal,
        params=lambda rng: (_mn_params(rng, (3, 1)), _mn_params(rng, (4,))),
        near=_near_matrix_normal,
        mp_kl=_mp_kl_matrix_normal,
        torch=_torch_matrix_normal,
    ),
]
