"""Distribution rows for the discrete_extra group: ProbitBernoulli, Multinomial (see
cases.py for the format).

References: torch's Bernoulli at ``probs = Φ(probits)`` for ProbitBernoulli; torch's
Multinomial (log_prob, entropy, mean, variance) for Multinomial.
"""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from tests.distributions.cases import DistCase

N_COUNT = 5


def _torch_probit(params):
    import torch
    import torch.distributions as td

    probits = torch.as_tensor(np.array(params["probits"], np.float64))
    return td.Bernoulli(probs=torch.special.ndtr(probits), validate_args=False)


def _torch_multinomial(params):
    import torch
    import torch.distributions as td

    return td.Multinomial(N_COUNT, probs=torch.as_tensor(np.array(params["probs"], np.float64)), validate_args=False)


def _build_multinomial(params):
    """total_count is static: it is closed over (a traced one is rejected, naming it)."""
    rest = {k: v for k, v in params.items() if k != "total_count"}
    return jd.Multinomial(params.get("total_count", N_COUNT), **rest)


CASES = [
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

    return td.Bernoulli(probs=torch.as_tensor(np.array(params["probs"], np.float64)), validate_args=False)
