"""One row per distribution class: how to build it, and its references.

Rows live in per-group modules (``cases_<group>.py``, as in jaxkl/distributions/) and are
collected here into ``CASES``; their row type, :class:`DistCase`, is in ``_case.py``. The
generic contract tests (``test_contract.py``) run every row: pytree round trip, jit / vmap /
lax.scan / grad, shapes, ``log_prob`` / ``entropy`` /
``mean`` / ``variance`` against torch (or ``scipy_ref``), sample moments, and validation of
each entry of ``bad_params``.
"""

from __future__ import annotations

from tests._generators import collect
from tests.distributions._case import DistCase, Params

CASES = collect("tests.distributions", "cases_", "CASES")

__all__ = ["CASES", "DistCase", "Params"]
