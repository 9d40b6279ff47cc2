"""Closed forms whose p is in the directional group."""

from __future__ import annotations
