"""KL between distributions: the registry and every closed form.

Importing this package imports every module of closed forms, which registers them.
"""

from jaxkl.kl._registry import kl_divergence, lookup, register_kl, registered_pairs

# Closed forms, grouped by the family group of p; imported for their registrations.
from jaxkl.kl import continuous, discrete, multivariate, directional, compound, infinite  # noqa: F401,E402

__all__ = ["kl_divergence", "register_kl", "registered_pairs", "lookup"]
