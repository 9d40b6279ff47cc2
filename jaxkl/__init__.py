"""jaxkl: KL divergence for JAX.

Public names: the submodules ``functional`` (tensor KL), ``distributions`` (distributions and
their KL), ``losses`` (training losses on logits) and ``metrics`` (the Flax metric);
``kl_divergence``, which takes either two arrays (tensor KL, see
:func:`jaxkl.functional.kl_divergence`) or two distributions (see
:func:`jaxkl.distributions.kl_divergence`); and ``value_checks``, the switch for value
checks under a trace.

``losses`` and ``metrics`` are imported on first use (``metrics`` brings in flax), so
``import jaxkl`` costs little beyond ``import jax``.
"""

import importlib
from typing import Any

from jaxkl import distributions, functional
from jaxkl._checks import value_checks
from jaxkl._dispatch import kl_divergence

__all__ = ["distributions", "functional", "kl_divergence", "losses", "metrics", "value_checks"]
__version__ = "0.1.0"

_LAZY = ("losses", "metrics")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"jaxkl.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'jaxkl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
