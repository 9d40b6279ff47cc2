"""Distribution rows for the multivariate group (see cases.py for the format)."""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from tests._generators import spd
from tests.distributions._case import DistCase

D = 3


def _torch_mvn_diag(params):
    import torch
    import torch.distributions as td

    loc = torch.as_tensor(np.array(params["loc"]))
    scale = torch.as_tensor(np.array(params["scale_diag"]))
    return td.MultivariateNormal(
        loc, covariance_matrix=torch.diag_embed(scale**2), validate_args=False
    )


_EYE = np.eye(D)
_NOT_PD = np.diag([1.0, -0.5, 2.0])
_UPPER = np.triu(np.ones((D, D)))
_LOC = np.zeros(D)

CASES = [
    DistCase(
        jd.MultivariateNormal,
        id="MultivariateNormal[scale_tril]",
        params=lambda rng: {
            "loc": rng.normal(size=(2, 1, D)),
            "scale_tril": np.linalg.cholesky(spd(rng, (4,))),
        },
        bad_params=[
            ({"loc": _LOC, "scale_tril": _UPPER}, "scale_tril"),
            ({"loc": _LOC, "scale_tril": -_EYE}, "scale_tril"),
            ({"loc": np.zeros(D + 1), "scale_tril": _EYE}, "scale_tril"),
        ],
    ),
    DistCase(
        jd.MultivariateNormal,
        id="MultivariateNormal[covariance_matrix]",
        params=lambda rng: {"loc": rng.normal(size=(2, D)), "covariance_matrix": spd(rng, (2,))},
        bad_params=[
            ({"loc": _LOC, "covariance_matrix": _NOT_PD}, "covariance_matrix"),
            ({"loc": _LOC, "covariance_matrix": np.ones((D, D + 1))}, "covariance_matrix"),
            ({"loc": np.array([np.nan, 0.0, 0.0]), "covariance_matrix": _EYE}, "loc"),
        ],
    ),
    DistCase(
        jd.MultivariateNormal,
        id="MultivariateNormal[precision_matrix]",
        params=lambda rng: {"loc": rng.normal(size=(2, D)), "precision_matrix": spd(rng, (2,))},
        bad_params=[({"loc": _LOC, "precision_matrix": _NOT_PD}, "precision_matrix")],
    ),
    DistCase(
        jd.LowRankMultivariateNormal,
        params=lambda rng: {
            "loc": rng.normal(size=(2, D)),
            "cov_factor": rng.normal(size=(2, D, 2)),
            "cov_diag": rng.uniform(0.3, 2.0, size=(D,)),
        },
        bad_params=[
            (
                {"loc": _LOC, "cov_factor": np.ones((D, 1)), "cov_diag": np.array([1.0, 0.0, 1.0])},
                "cov_diag",
            ),
            (
                {
                    "loc": _LOC,
                    "cov_factor": np.ones((D, 1)),
                    "cov_diag": np.array([1.0, -1.0, 1.0]),
                },
                "cov_diag",
            ),
            (
                {"loc": _LOC, "cov_factor": np.ones((D + 1, 1)), "cov_diag": np.ones(D)},
                "cov_factor",
            ),
        ],
    ),
    DistCase(
        jd.MultivariateNormalDiag,
        params=lambda rng: {
            "loc": rng.normal(size=(2, D)),
            "scale_diag": rng.uniform(0.3, 2.0, size=(4, 1, D)),
        },
        torch=_torch_mvn_diag,
        bad_params=[
            ({"loc": _LOC, "scale_diag": np.array([1.0, 0.0, 2.0])}, "scale_diag"),
            ({"loc": _LOC, "scale_diag": np.ones(D + 1)}, "scale_diag"),
        ],
    ),
    DistCase(
        jd.Dirichlet,
        params=lambda rng: {"concentration": rng.uniform(0.5, 4.0, size=(2, 4))},
        bad_params=[
            ({"concentration": np.array([1.0, 0.0, 2.0])}, "concentration"),
            ({"concentration": np.array([1.0, -2.0])}, "concentration"),
        ],
    ),
]
