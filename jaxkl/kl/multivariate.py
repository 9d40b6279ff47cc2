"""Closed forms whose p is in the multivariate group."""

from __future__ import annotations
