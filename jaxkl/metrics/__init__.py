"""Flax-compatible KL divergence metric.

* :class:`KLDivergence`: clu-style frozen-dataclass pytree state (``empty``, ``from_model_output``,
  ``merge``, ``compute``, ``reduce``, ``configure``, ``all_reduce``,
  ``merge_across_processes``, ``plot``); works in ``clu.metrics.Collection``.
* :mod:`jaxkl.metrics.nnx`: the ``flax.nnx`` variant (``update`` / ``compute`` / ``reset``).
"""

from jaxkl.metrics import nnx
from jaxkl.metrics._state import KLDivergence

__all__ = ["KLDivergence", "nnx"]
