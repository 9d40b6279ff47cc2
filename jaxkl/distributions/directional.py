"""Directional families (filled in by the family-group work)."""

from __future__ import annotations

__all__: list = []
