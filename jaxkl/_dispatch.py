"""Top-level ``jaxkl.kl_divergence``: tensors go to the tensor KL, distributions to the registry."""

from __future__ import annotations

from typing import Any

import jax

from jaxkl import functional
from jaxkl.distributions._base import Distribution
from jaxkl.kl._registry import kl_divergence as _distribution_kl


def kl_divergence(p: Any, q: Any, *args: Any, **kwargs: Any) -> jax.Array:
    """KL(p || q) for two arrays or two distributions.

    Arrays: :func:`jaxkl.functional.kl_divergence` (same arguments). Distributions
    (instances of ``jaxkl.distributions.Distribution``): the closed-form registry,
    :func:`jaxkl.distributions.kl_divergence`.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jaxkl
        >>> print(f"{jaxkl.kl_divergence(jnp.array([[0.36, 0.48, 0.16]]), jnp.ones((1, 3))):.4f}")
        0.0853
    """
    if isinstance(p, Distribution) or isinstance(q, Distribution):
        return _distribution_kl(p, q, *args, **kwargs)
    return functional.kl_divergence(p, q, *args, **kwargs)
