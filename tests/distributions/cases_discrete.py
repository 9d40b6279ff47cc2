"""Distribution rows for the discrete group (see cases.py for the format)."""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from tests.distributions.cases import DistCase

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
        params=lambda rng: {"total_count": np.array([3.0, 7.0, 10.0]), "probs": rng.uniform(0.05, 0.95, size=(2, 3))},
        bad_params=[({"total_count": 2.5, "probs": 0.3}, "total_count"), ({"total_count": -1.0, "probs": 0.3}, "total_count"),
                    ({"total_count": 3.0, "probs": 1.2}, "probs")],
        has_entropy=False,  # torch's needs a homogeneous total_count; see tests/distributions/test_discrete.py
    ),
    DistCase(
        jd.Categorical,
        params=lambda rng: {"probs": rng.dirichlet(np.ones(4), size=(2, 3))},
        bad_params=[({"probs": np.array([0.5, -0.1, 0.6])}, "probs"), ({"probs": np.zeros(3)}, "probs")],
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
]
