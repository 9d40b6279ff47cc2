"""The row type of the pair table (tests/kl/pairs.py), apart from the table itself.

The per-group row modules (``pairs_<group>.py``) import :class:`PairCase` from here, and
``pairs.py`` imports them: keeping the class out of ``pairs.py`` keeps that import one-way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

Params = dict[str, Any]


def _default_torch(jax_type: type, params: Params):
    import torch
    import torch.distributions as td

    cls = getattr(td, jax_type.__name__)
    return cls(**{k: torch.as_tensor(v) for k, v in params.items()}, validate_args=False)


@dataclasses.dataclass(frozen=True)
class PairCase:
    p_type: type
    q_type: type
    params: Callable[[np.random.Generator], tuple[Params, Params]]
    #: near(eps) -> (p_params, q_params), scalar parameters differing by relative eps
    near: Callable[[float], tuple[Params, Params]] | None = None
    #: mpmath closed form KL(p || q) from parameter dicts of mpmath numbers (for `near`)
    mp_kl: Callable[[Params, Params], Any] | None = None
    #: build jaxkl distributions from parameter dicts (default: p_type(**params))
    build_p: Callable[[Params], Any] | None = None
    build_q: Callable[[Params], Any] | None = None
    #: torch reference: True = torch.distributions class of the same name with the same
    #: keywords; a callable (p_params, q_params) -> numpy value; None = no torch pair
    torch: Any = True
    #: another independent reference (p_params, q_params) -> numpy value, e.g. quadrature
    reference: Callable[[Params, Params], np.ndarray] | None = None
    rtol: float = 1e-6
    #: Monte Carlo cross-check with p's sampler and both log_probs
    monte_carlo: bool = True
    #: parameter names that gradients are taken with respect to (default: all float params)
    grad_params: tuple[str, ...] | None = None
    id: str | None = None

    @property
    def name(self) -> str:
        return self.id or f"{self.p_type.__name__}-{self.q_type.__name__}"

    def make_p(self, params: Params):
        return (self.build_p or (lambda d: self.p_type(**d)))(params)

    def make_q(self, params: Params):
        return (self.build_q or (lambda d: self.q_type(**d)))(params)

    def torch_value(self, pp: Params, qp: Params) -> np.ndarray | None:
        if self.torch is None or self.torch is False:
            return None
        if callable(self.torch) and self.torch is not True:
            return np.asarray(self.torch(pp, qp))
        import torch.distributions as td

        tp = _default_torch(self.p_type, pp)
        tq = _default_torch(self.q_type, qp)
        return td.kl_divergence(tp, tq).double().numpy()
