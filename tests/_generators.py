"""Random parameters and small helpers shared by the test modules and the row tables."""

from __future__ import annotations

import importlib
import math
import pkgutil

import numpy as np


def spd(rng, batch=(), d=3, ridge=0.5):
    """A batch of random ``d x d`` symmetric positive-definite matrices, ``A A^T / d + ridge I``."""
    a = rng.normal(size=tuple(batch) + (d, d))
    return a @ np.swapaxes(a, -1, -2) / d + ridge * np.eye(d)


def tril(rng, batch=(), d=3, ridge=0.5):
    """The Cholesky factors of :func:`spd`'s matrices (same arguments, same draws)."""
    return np.linalg.cholesky(spd(rng, batch, d, ridge))


def unit_vectors(rng, shape):
    """Random unit vectors along the last axis of ``shape``."""
    x = rng.normal(size=shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def log_area(d):
    """``log |S^{d-1}|``, the log surface area of the unit sphere in ``R^d``."""
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def torch64(x):
    """``x`` as a float64 torch tensor (a copy: torch warns on read-only numpy arrays)."""
    import torch

    return torch.as_tensor(np.array(x, np.float64))


def collect(package: str, prefix: str, name: str) -> list:
    """The concatenated ``name`` lists of ``package``'s modules ``<prefix>*``, by module name."""
    pkg = importlib.import_module(package)
    rows = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith(prefix):
            rows.extend(getattr(importlib.import_module(f"{package}.{info.name}"), name))
    return rows
