"""Distribution rows for the matrix group: Wishart, MatrixNormal (see cases.py).

References: torch's Wishart (log_prob, entropy, mean, variance); scipy.stats.matrix_normal
(log density, entropy) for MatrixNormal, with its mean and elementwise variance
``U_ii V_jj`` computed from the row and column covariances.
"""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from tests._generators import spd
from tests.distributions._case import DistCase

D = 3
N_ROWS, N_COLS = 2, 3


class _ScipyMatrixNormal:
    """scipy.stats.matrix_normal over a batch: log_prob, entropy, mean, variance."""

    def __init__(self, params):
        self.loc = np.asarray(params["loc"], np.float64)
        a = np.asarray(params["scale_row"], np.float64)
        b = np.asarray(params["scale_column"], np.float64)
        batch = np.broadcast_shapes(self.loc.shape[:-2], a.shape[:-2], b.shape[:-2])
        self.batch = batch
        self.loc = np.broadcast_to(self.loc, batch + self.loc.shape[-2:])
        self.u = np.broadcast_to(a @ np.swapaxes(a, -1, -2), batch + a.shape[-2:])
        self.v = np.broadcast_to(b @ np.swapaxes(b, -1, -2), batch + b.shape[-2:])

    def _frozen(self, idx):
        from scipy.stats import matrix_normal

        return matrix_normal(self.loc[idx], self.u[idx], self.v[idx])

    def log_prob(self, x):
        x = np.asarray(x, np.float64)
        shape = np.broadcast_shapes(x.shape[:-2], self.batch)
        x = np.broadcast_to(x, shape + x.shape[-2:])
        out = np.empty(shape)
        for idx in np.ndindex(shape):
            out[idx] = self._frozen(idx[len(shape) - len(self.batch) :]).logpdf(x[idx])
        return out

    def entropy(self):
        out = np.empty(self.batch)
        for idx in np.ndindex(self.batch):
            out[idx] = self._frozen(idx).entropy()
        return out

    def mean(self):
        return self.loc

    def variance(self):
        return (
            np.diagonal(self.u, axis1=-2, axis2=-1)[..., :, None]
            * np.diagonal(self.v, axis1=-2, axis2=-1)[..., None, :]
        )


_EYE = np.eye(D)

CASES = [
    DistCase(
        jd.Wishart,
        id="Wishart[covariance_matrix]",
        params=lambda rng: {
            "df": rng.uniform(3.5, 8.0, size=(2, 1)),
            "covariance_matrix": spd(rng, (3,)),
        },
        bad_params=[
            ({"df": 1.5, "covariance_matrix": _EYE}, "df"),
            ({"df": 5.0, "covariance_matrix": np.diag([1.0, -0.5, 2.0])}, "covariance_matrix"),
            ({"df": 5.0, "covariance_matrix": np.ones((D, D + 1))}, "covariance_matrix"),
        ],
    ),
    DistCase(
        jd.Wishart,
        id="Wishart[scale_tril]",
        params=lambda rng: {
            "df": rng.uniform(3.5, 8.0, size=(2,)),
            "scale_tril": np.linalg.cholesky(spd(rng, (2,))),
        },
        bad_params=[
            ({"df": 5.0, "scale_tril": np.triu(np.ones((D, D)))}, "scale_tril"),
            ({"df": 5.0, "scale_tril": -_EYE}, "scale_tril"),
        ],
    ),
    DistCase(
        jd.Wishart,
        id="Wishart[precision_matrix]",
        params=lambda rng: {
            "df": rng.uniform(3.5, 8.0, size=(2,)),
            "precision_matrix": spd(rng, (2,)),
        },
        bad_params=[
            ({"df": 5.0, "precision_matrix": np.diag([1.0, 0.0, 2.0])}, "precision_matrix")
        ],
    ),
    DistCase(
        jd.MatrixNormal,
        params=lambda rng: {
            "loc": rng.normal(size=(2, 1, N_ROWS, N_COLS)),
            "scale_row": np.linalg.cholesky(spd(rng, (3,), N_ROWS)),
            "scale_column": np.linalg.cholesky(spd(rng, (), N_COLS)),
        },
        torch=None,
        scipy_ref=_ScipyMatrixNormal,
        bad_params=[
            (
                {
                    "loc": np.zeros((N_ROWS, N_COLS)),
                    "scale_row": np.triu(np.ones((N_ROWS, N_ROWS))),
                    "scale_column": np.eye(N_COLS),
                },
                "scale_row",
            ),
            (
                {
                    "loc": np.zeros((N_ROWS, N_COLS)),
                    "scale_row": np.eye(N_ROWS),
                    "scale_column": -np.eye(N_COLS),
                },
                "scale_column",
            ),
            (
                {
                    "loc": np.zeros((N_ROWS, N_COLS)),
                    "scale_row": np.eye(N_ROWS),
                    "scale_column": np.eye(N_COLS + 1),
                },
                "scale_column",
            ),
            (
                {
                    "loc": np.full((N_ROWS, N_COLS), np.nan),
                    "scale_row": np.eye(N_ROWS),
                    "scale_column": np.eye(N_COLS),
                },
                "loc",
            ),
        ],
    ),
]
