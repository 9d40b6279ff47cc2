"""Top-level ``jaxkl.kl_divergence``: tensors go to the tensor KL, distributions to the registry."""

from __future__ import annotations

from typing import Any

import jax
from jax.typing import ArrayLike

from jaxkl import functional
from jaxkl._checks import Reduction
from jaxkl.distributions._base import Distribution
from jaxkl.kl._registry import kl_divergence as _distribution_kl


def kl_divergence(
    p: ArrayLike | Distribution,
    q: ArrayLike | Distribution,
    log_prob: bool = False,
    reduction: Reduction = "mean",
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
    key: jax.Array | None = None,
    num_samples: int = 1024,
) -> jax.Array:
    """KL(p || q) for two arrays or two distributions.

    Arrays go to :func:`jaxkl.functional.kl_divergence`, which takes ``log_prob``,
    ``reduction``, ``axis`` and ``where``. Distributions (instances of
    ``jaxkl.distributions.Distribution``) go to the closed-form registry,
    :func:`jaxkl.kl.kl_divergence`, which takes ``key`` and ``num_samples`` (its Monte
    Carlo fallback). An option of the other kind raises ``TypeError``.

    Examples:
        >>> import jax.numpy as jnp
        >>> import jaxkl
        >>> print(f"{jaxkl.kl_divergence(jnp.array([[0.36, 0.48, 0.16]]), jnp.ones((1, 3))):.4f}")
        0.0853
        >>> d = jaxkl.distributions
        >>> print(f"{jaxkl.kl_divergence(d.Normal(0.0, 1.0), d.Normal(1.0, 2.0)):.6f}")
        0.443147
    """
    if isinstance(p, Distribution) or isinstance(q, Distribution):
        given = {
            "log_prob": log_prob is not False,
            "reduction": reduction != "mean",
            "axis": axis != -1,
            "where": where is not None,
        }
        _reject("two distributions", given)
        return _distribution_kl(p, q, key=key, num_samples=num_samples)
    _reject("arrays", {"key": key is not None, "num_samples": num_samples != 1024})
    return functional.kl_divergence(p, q, log_prob, reduction, axis=axis, where=where)


def _reject(what: str, given: dict[str, Any]) -> None:
    wrong = [name for name, set_ in given.items() if set_]
    if wrong:
        raise TypeError(f"kl_divergence of {what} takes no {', '.join(map(repr, wrong))}")
