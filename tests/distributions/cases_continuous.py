"""Distribution rows for the univariate continuous group (see cases.py for the format)."""

from __future__ import annotations

from jaxkl import distributions as jd
from tests.distributions.cases import DistCase

CASES = [
    DistCase(
        jd.Normal,
        params=lambda rng: {"loc": rng.normal(size=(2, 3)), "scale": rng.uniform(0.5, 2.0, size=(3,))},
        bad_params=[({"loc": 0.0, "scale": -1.0}, "scale"), ({"loc": 0.0, "scale": 0.0}, "scale")],
    ),
]
