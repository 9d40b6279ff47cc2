"""Closed forms whose p is in the discrete group."""

from __future__ import annotations
