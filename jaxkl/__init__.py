"""jaxkl: KL divergence for JAX.

Public names: the submodules ``functional``, ``distributions``, ``metrics``, and
``kl_divergence``, which takes either two arrays (tensor KL, see
:func:`jaxkl.functional.kl_divergence`) or two distributions (see
:func:`jaxkl.distributions.kl_divergence`).
"""

from jaxkl import distributions, functional, metrics
from jaxkl._dispatch import kl_divergence

__all__ = ["functional", "distributions", "kl_divergence", "metrics"]
__version__ = "0.1.0"
