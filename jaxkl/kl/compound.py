"""Closed forms whose p is in the compound group."""

from __future__ import annotations
