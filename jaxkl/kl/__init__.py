"""KL between distributions: the registry and every closed form.

Importing this package imports every module of closed forms, which registers them. The
modules import the submodules of :mod:`jaxkl.distributions` they need, never its
``__init__``, which re-exports the entry points below.
"""

# the modules of closed forms, by the family group of p: importing them registers them
from jaxkl.kl import (  # noqa: F401
    categorical,
    compound,
    counts,
    directional,
    infinite,
    interval,
    matrix,
    multivariate,
    positive,
    real_line,
)
from jaxkl.kl._registry import kl_divergence, lookup, register_kl, registered_pairs
from jaxkl.kl.compound import mixture_kl_upper_bound, mixture_kl_variational
from jaxkl.kl.exponential_family import exponential_family_kl
from jaxkl.kl.monte_carlo import monte_carlo_kl
from jaxkl.kl.quadrature import quadrature_kl

__all__ = [
    "kl_divergence",
    "register_kl",
    "registered_pairs",
    "lookup",
    "monte_carlo_kl",
    "quadrature_kl",
    "mixture_kl_variational",
    "mixture_kl_upper_bound",
    "exponential_family_kl",
]
