"""One row per registered KL pair: how to build p and q, and the references to check.

Rows live in per-group modules (``pairs_<group>.py``, the group of p, as in jaxkl/kl/) and
are collected here into ``PAIRS``; their row type, :class:`PairCase`, is in ``_case.py``.
The generic tests in ``test_pairs.py`` run every row; ``test_coverage.py`` fails while a
registered pair has no row.

A row's ``params(rng)`` returns numpy float64 parameter dicts ``(p_params, q_params)`` with
*broadcasting* batch shapes (e.g. p batch ``(3, 1)``, q batch ``(4,)``). ``near(eps)``
returns scalar-batch parameters of a pair whose parameters differ by a relative ``eps``
(same-family rows); the float32 closed form is then checked against ``mp_kl`` (an mpmath
closed form evaluated at 50 digits on the exact float32 parameters).
"""

from __future__ import annotations

from tests._generators import collect
from tests.kl._case import PairCase, Params

PAIRS = collect("tests.kl", "pairs_", "PAIRS")

__all__ = ["PAIRS", "PairCase", "Params"]
