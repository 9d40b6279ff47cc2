"""The row type of the distribution table (tests/distributions/cases.py), apart from the table.

The per-group row modules (``cases_<group>.py``) import :class:`DistCase` from here, and
``cases.py`` imports them: keeping the class out of ``cases.py`` keeps that import one-way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DistCase:
    cls: type
    #: params(rng) -> numpy float64 parameter dict with a non-trivial batch shape
    params: Callable[[np.random.Generator], Params]
    #: build(params) -> jaxkl distribution (default cls(**params))
    build: Callable[[Params], Any] | None = None
    #: torch reference: True = torch.distributions class of the same name and keywords,
    #: a callable params -> torch distribution, None = no torch class
    torch: Any = True
    #: other reference for log_prob/entropy/mean/variance: params -> object with those
    #: (e.g. a frozen scipy.stats distribution), used when torch is None
    scipy_ref: Callable[[Params], Any] | None = None
    #: (bad_params, name of the offending parameter) pairs: constructing must raise
    #: ValueError mentioning the name
    bad_params: Sequence[tuple[Params, str]] = ()
    #: which of entropy/mean/variance exist (and are compared)
    has_entropy: bool = True
    has_mean: bool = True
    has_variance: bool = True
    rtol: float = 1e-5
    id: str | None = None

    @property
    def name(self) -> str:
        return self.id or self.cls.__name__

    def make(self, params: Params):
        return (self.build or (lambda d: self.cls(**d)))(params)
