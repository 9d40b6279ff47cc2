"""Argument checks shared by the tensor KL, the distributions and the metric.

Two kinds of check live here:

* static checks (types, option strings, shapes): they raise at call time, also under
  ``jit``, because everything they look at is static;
* value checks (negative probabilities, NaN, bad scales): they raise ``ValueError`` when
  the arrays are concrete, and become ``checkify.debug_check`` s when traced, which are
  silent under plain ``jit`` and reported when the caller wraps the function with
  ``jax.experimental.checkify.checkify``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

REDUCTIONS = ("mean", "sum", "none", None)


def check_log_prob(log_prob: Any) -> None:
    if not isinstance(log_prob, bool):
        raise TypeError(f"Expected argument `log_prob` to be bool but got {log_prob!r}")


def check_reduction(reduction: Any) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Expected argument `reduction` to be one of {list(REDUCTIONS)} but got {reduction!r}"
        )


def is_concrete(*xs: Any) -> bool:
    """True when none of ``xs`` is a tracer, i.e. their values can be inspected."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


def value_check(ok: jax.Array, message: str, *concrete_of: Any) -> None:
    """Raise ``ValueError(message)`` if ``ok`` is False; a ``checkify`` check under trace.

    ``concrete_of`` are the arrays ``ok`` was computed from; when any of them is a tracer
    (or ``ok`` itself is), the check is deferred to ``checkify.debug_check``.
    """
    if is_concrete(ok, *concrete_of):
        if not bool(np.asarray(ok)):
            raise ValueError(message)
    else:
        checkify.debug_check(jnp.asarray(ok), message)
