"""jaxkl: KL divergence for JAX.

Public names: the submodules ``functional``, ``losses``, ``distributions``, ``metrics``, and
``kl_divergence``, which takes either two arrays (tensor KL, see
:func:`jaxkl.functional.kl_divergence`) or two distributions (see
:func:`jaxkl.distributions.kl_divergence`).
"""

from jaxkl import functional
from jaxkl import losses  # imports only jax: cheap
from jaxkl import distributions  # imports jaxkl.kl too, which registers every closed form
from jaxkl import metrics
from jaxkl._checks import value_checks
from jaxkl._dispatch import kl_divergence

__all__ = ["functional", "losses", "distributions", "kl_divergence", "metrics", "value_checks"]
__version__ = "0.1.0"
