"""KL between distributions: the registry and every closed form.

Importing this package imports every module of closed forms, which registers them.
"""

from jaxkl.kl._registry import kl_divergence, lookup, register_kl, registered_pairs

# Closed forms, grouped by the family group of p; imported for their registrations.
from jaxkl.kl import continuous, discrete, multivariate, directional, compound, infinite  # noqa: F401,E402
from jaxkl.kl import continuous_cross  # noqa: F401,E402
from jaxkl.kl import continuous_extra  # noqa: F401,E402
from jaxkl.kl import discrete_extra, matrix  # noqa: F401,E402
from jaxkl.kl.exponential_family import exponential_family_kl  # noqa: E402
from jaxkl.kl.compound import mixture_kl_upper_bound, mixture_kl_variational  # noqa: E402
from jaxkl.kl.monte_carlo import monte_carlo_kl  # noqa: E402
from jaxkl.kl.quadrature import quadrature_kl  # noqa: E402

__all__ = ["kl_divergence", "register_kl", "registered_pairs", "lookup", "monte_carlo_kl", "quadrature_kl",
           "mixture_kl_variational", "mixture_kl_upper_bound", "exponential_family_kl"]
