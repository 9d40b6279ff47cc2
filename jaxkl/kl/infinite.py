"""Pairs whose KL is +inf by support (p's support not inside q's), registered in bulk."""

from __future__ import annotations
