"""Distribution rows for the discrete group (see cases.py for the format).

torch is the reference; ProbitBernoulli is compared with torch's Bernoulli at
``probs = Φ(probits)``.
"""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from tests.distributions._case import DistCase

CASES = [
    DistCase(
        jd.Bernoulli,
        params=lambda rng: {"probs": rng.uniform(0.05, 0.95, size=(2, 3))},
        bad_params=[({"probs": 1.5}, "probs"), ({"probs": -0.1}, "probs")],
        id="Bernoulli[probs]",
    ),
    DistCase(
        jd.Bernoulli,
        params=lambda rng: {"logits": rng.normal(0, 2, size=(2, 3))},
        bad_params=[({"logits": np.nan}, "logits")],
        id="Bernoulli[logits]",
    ),
    DistCase(
        jd.Binomial,
        params=lambda rng: {
            "total_count": np.array([3.0, 7.0, 10.0]),
            "probs": rng.uniform(0.05, 0.95, size=(2, 3)),
        },
        bad_params=[
            ({"total_count": 2.5, "probs": 0.3}, "total_count"),
            ({"total_count": -1.0, "probs": 0.3}, "total_count"),
            ({"total_count": 3.0, "probs": 1.2}, "probs"),
        ],
        # torch's needs a homogeneous total_count; see tests/distributions/test_discrete.py
        has_entropy=False,
    ),
    DistCase(
        jd.Categorical,
        params=lambda rng: {"probs": rng.dirichlet(np.ones(4), size=(2, 3))},
        bad_params=[
            ({"probs": np.array([0.5, -0.1, 0.6])}, "probs"),
            ({"probs": np.zeros(3)}, "probs"),
        ],
        has_mean=False,
        has_variance=False,
        id="Categorical[probs]",
    ),
    DistCase(
        jd.Categorical,
        params=lambda rng: {"logits": rng.normal(size=(3, 5))},
        bad_params=[({"logits": np.array([0.0, np.nan])}, "logits")],
        has_mean=False,
        has_variance=False,
        id="Categorical[logits]",
    ),
    DistCase(
        jd.OneHotCategorical,
        params=lambda rng: {"logits": rng.normal(size=(2, 4))},
        bad_params=[({"probs": np.array([0.5, -0.1, 0.6])}, "probs")],
    ),
    DistCase(
        jd.Geometric,
        params=lambda rng: {"probs": rng.uniform(0.1, 0.95, size=(3,))},
        bad_params=[({"probs": 0.0}, "probs"), ({"probs": 1.5}, "probs")],
    ),
    DistCase(
        jd.Poisson,
        params=lambda rng: {"rate": rng.uniform(0.5, 8.0, size=(2, 3))},
        bad_params=[({"rate": -1.0}, "rate")],
        has_entropy=False,  # torch's Poisson has no entropy
    ),
    DistCase(
        jd.NegativeBinomial,
        params=lambda rng: {
            "total_count": rng.uniform(0.5, 6.0, size=(3,)),
            "probs": rng.uniform(0.05, 0.8, size=(2, 3)),
        },
        bad_params=[
            ({"total_count": -1.0, "probs": 0.3}, "total_count"),
            ({"total_count": 2.0, "probs": 1.0}, "probs"),
        ],
        has_entropy=False,  # torch's NegativeBinomial has no entropy
        id="NegativeBinomial[probs]",
    ),
    DistCase(
        jd.NegativeBinomial,
        params=lambda rng: {
            "total_count": rng.uniform(0.5, 6.0, size=(2, 3)),
            "logits": rng.normal(0.0, 1.0, size=(3,)),
        },
        bad_params=[({"total_count": 2.0, "logits": float("nan")}, "logits")],
        has_entropy=False,
        id="NegativeBinomial[logits]",
    ),
]


N_COUNT = 5


def _torch_probit(params):
    import torch
    import torch.distributions as td

    probits = torch.as_tensor(np.array(params["probits"], np.float64))
    return td.Bernoulli(probs=torch.special.ndtr(probits), validate_args=False)


def _torch_multinomial(params):
    import torch
    import torch.distributions as td

    return td.Multinomial(
        N_COUNT, probs=torch.as_tensor(np.array(params["probs"], np.float64)), validate_args=False
    )


def _build_multinomial(params):
    """total_count is static: it is closed over (a traced one is rejected, naming it)."""
    rest = {k: v for k, v in params.items() if k != "total_count"}
    return jd.Multinomial(params.get("total_count", N_COUNT), **rest)


CASES += [
    DistCase(
        jd.ProbitBernoulli,
        id="ProbitBernoulli[probits]",
        params=lambda rng: {"probits": rng.uniform(-2.5, 2.5, size=(3, 2))},
        torch=_torch_probit,
        bad_params=[({"probits": [0.3, np.nan]}, "probits")],
    ),
    DistCase(
        jd.ProbitBernoulli,
        id="ProbitBernoulli[probs]",
        params=lambda rng: {"probs": rng.uniform(0.05, 0.95, size=(4,))},
        torch=lambda prm: _torch_bernoulli(prm),
        bad_params=[({"probs": [0.3, 1.5]}, "probs"), ({"probs": -0.1}, "probs")],
    ),
    DistCase(
        jd.Multinomial,
        params=lambda rng: {"probs": rng.uniform(0.05, 1.0, size=(3, 4))},
        build=_build_multinomial,
        torch=_torch_multinomial,
        bad_params=[
            ({"probs": [0.2, -0.1, 0.9]}, "probs"),
            ({"probs": [0.0, 0.0, 0.0]}, "probs"),
            ({"total_count": -1, "probs": [0.2, 0.8]}, "total_count"),
            ({"total_count": 2.5, "probs": [0.2, 0.8]}, "total_count"),
        ],
    ),
]


def _torch_bernoulli(params):
    import torch
    import torch.distributions as td

    return td.Bernoulli(
        probs=torch.as_tensor(np.array(params["probs"], np.float64)), validate_args=False
    )
