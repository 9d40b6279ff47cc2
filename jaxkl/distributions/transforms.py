"""Bijective transforms for TransformedDistribution (torch's names and keywords)."""

from __future__ import annotations

__all__: list = []
