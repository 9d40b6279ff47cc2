"""KL estimators from sampled tokens (Schulman's k1, k2, k3 and their variants)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl._checks import Reduction
from jaxkl._numerics import expm1_minus_x
from jaxkl.losses._core import (
    NEG_INF,
    as_input,
    check_where,
    finite_or_neg_inf,
)

#: verl's and tunix's names for the estimators
_ESTIMATOR_ALIASES = {"kl": "k1", "mse": "k2", "mse_kl": "k2", "low_var_kl": "k3"}
_ESTIMATORS = ("k1", "k2", "k3", "abs", "k1+", "k3+", *_ESTIMATOR_ALIASES)


def _estimate(r, estimator):
    """Per-sample estimate from the finite log-ratio ``r = log q - log p``."""
    if estimator == "k1":
        return -r
    if estimator == "k2":
        return 0.5 * r * r
    if estimator == "abs":
        return r * jnp.sign(r)  # gradient 0 at r = 0, as torch's abs
    if estimator == "k3":
        return expm1_minus_x(r)  # e^r - 1 - r without cancellation near r = 0
    # "k1+" / "k3+": the value of k1 / k3 with the gradient of k2 (a straight-through sum)
    k2 = 0.5 * r * r
    return k2 + lax.stop_gradient(_estimate(r, estimator[:-1]) - k2)


# one compiled program for eager calls too (inlined under the caller's jit)
@partial(jax.jit, static_argnames=("estimator", "reduction", "dtype"))
def _sampled_loss(log_p, log_q, where, clip, *, estimator, reduction, dtype):
    lp, lq = log_p.astype(dtype), log_q.astype(dtype)
    if where is not None:
        lp = jnp.where(where, lp, jnp.zeros((), dtype))
        lq = jnp.where(where, lq, jnp.zeros((), dtype))
    zero = jnp.zeros((), dtype)
    fp, fq = lp > NEG_INF, lq > NEG_INF
    both = fp & fq
    est = _estimate(jnp.where(both, lq - lp, zero), estimator)
    # log q = -inf at a sample of p: +inf for every estimator; log p = -inf: a sample p
    # cannot give, contributes 0.
    rows = jnp.where(both, est, jnp.where(fp, jnp.asarray(jnp.inf, dtype), zero))
    if clip is not None:
        bound = clip.astype(dtype)
        clamped = jnp.where(jnp.abs(rows) <= bound, rows, jnp.sign(rows) * bound)
        # a clamped sample has a zero gradient (as under torch.clamp), but the
        # straight-through estimators keep k2's gradient: verl clamps their value only
        if estimator.endswith("+"):
            rows = rows + lax.stop_gradient(clamped - rows)
        else:
            rows = clamped
    if where is not None:
        rows = jnp.where(where, rows, zero)
    return _checks.reduce_rows(rows, where, reduction)


def sampled_kl_divergence(
    log_p: ArrayLike,
    log_q: ArrayLike,
    *,
    estimator: str = "k3",
    clip: ArrayLike | None = None,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""KL(p ‖ q) estimated from samples x ~ p, given ``log p(x)`` and ``log q(x)``.

    With :math:`r = \log q(x) - \log p(x)` (Schulman's "Approximating KL divergence"):

    * ``"k1"``: :math:`-r = \log p - \log q`; unbiased for KL(p ‖ q), high variance, can be
      negative per sample;
    * ``"k2"``: :math:`\tfrac12 r^2`; biased (it is KL only to second order in
      :math:`q/p - 1`), low variance, >= 0;
    * ``"k3"``: :math:`e^r - 1 - r`; unbiased for KL(p ‖ q) and >= 0 per sample, computed
      without cancellation near :math:`r \approx 0` (a series for small ``|r|``);
    * ``"abs"``: :math:`|r|`;
    * ``"k1+"`` and ``"k3+"``: the value of k1 / k3 with the gradient of k2 (verl's
      straight-through estimators: an unbiased value and the gradient of
      :math:`\nabla\,\mathrm{KL}(p\|q)` when the parameters are in ``p``).

    verl's and tunix's names are accepted: ``"kl"`` is k1, ``"mse"`` and ``"mse_kl"`` are k2,
    ``"low_var_kl"`` is k3 (verl clamps that one to [-10, 10]: ``clip=10`` gives its
    values exactly).

    What their gradients estimate depends on which side carries the parameters (the
    samples are held fixed, as autodiff does):

    * parameters in ``q``, samples from a fixed ``p`` (distillation on teacher samples):
      the mean gradient of ``"k1"`` and of ``"k3"`` is unbiased for
      :math:`\nabla\,\mathrm{KL}(p\|q)` (k3 adds the zero-mean term
      :math:`(q/p)\nabla\log q`); ``"k2"``'s is the gradient of
      :math:`\mathbb{E}_p[\tfrac12 \log^2(q/p)]`, not of the KL;
    * parameters in ``p``, samples from ``p`` itself (an RL policy's KL penalty to a
      fixed reference ``q``, samples not differentiated): ``"k1"``'s mean gradient is the
      score :math:`\nabla\log p`, whose expectation is 0 (use k1 as a reward, not a loss);
      ``"k2"``'s is unbiased for :math:`\nabla\,\mathrm{KL}(p\|q)`; ``"k3"``'s is unbiased
      for the gradient of the *other* direction, :math:`\nabla\,\mathrm{KL}(q\|p)`.

    Edges: ``log q = -inf`` (a sample q cannot give) is ``+inf`` for every estimator, with a
    zero gradient; ``log p = -inf`` contributes 0. Gradients are never NaN.

    Args:
        log_p: log-probabilities under p (the sampling distribution) of the samples, any
            shape.
        log_q: log-probabilities under q, same shape.
        estimator: ``"k1"``, ``"k2"``, ``"k3"``, ``"abs"``, ``"k1+"``, ``"k3+"`` or an alias
            (``"kl"``, ``"mse"``, ``"mse_kl"``, ``"low_var_kl"``).
        clip: optional ``c > 0``: each sample's estimate is clamped to ``[-c, c]`` (an
            infinite one too), with a zero gradient where it is clamped (``"k1+"`` and
            ``"k3+"`` keep k2's gradient there).
        where: optional boolean sample mask broadcastable to the shape.
        reduction: ``"mean"`` over unmasked samples, ``"sum"``, or ``"none"`` / ``None``.

    Returns:
        float32 (float64 for float64 inputs); shape ``()`` or the inputs' shape.

    Raises:
        ValueError: for an unknown ``estimator`` or ``reduction``, mismatched shapes (named);
            on concrete arrays for NaN or ``+inf`` inputs.
        TypeError: for a non-boolean ``where`` or non-real inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import losses
        >>> log_p = jnp.log(jnp.array([0.5, 0.25, 0.25]))
        >>> log_q = jnp.log(jnp.array([0.25, 0.5, 0.25]))
        >>> for k in ("k1", "k2", "k3"):
        ...     print(k, f"{losses.sampled_kl_divergence(log_p, log_q, estimator=k):.4f}")
        k1 0.0000
        k2 0.1602
        k3 0.1667
    """
    _checks.check_reduction(reduction)
    if estimator not in _ESTIMATORS:
        raise ValueError(
            f"Expected `estimator` to be one of {list(_ESTIMATORS)} but got {estimator!r}"
        )
    estimator = _ESTIMATOR_ALIASES.get(estimator, estimator)
    lp, lq = as_input(log_p, "log_p"), as_input(log_q, "log_q")
    _checks.check_same_shape(lp, lq, "log_p and log_q")
    dtype = _checks.compute_dtype(lp.dtype, lq.dtype)
    if clip is not None:
        clip = as_input(clip, "clip")
        if clip.ndim != 0:
            raise ValueError(f"Expected `clip` to be a scalar but got shape {clip.shape}")
        if _checks.is_concrete(clip) and not float(np.asarray(clip)) > 0:
            raise ValueError(f"Expected `clip` > 0 but got {float(np.asarray(clip))!r}")
        clip = lax.stop_gradient(clip)
    where = check_where(where, lp.shape)
    if _checks.checks_wanted(lp, lq, where):
        for name, x in (("log_p", lp), ("log_q", lq)):
            _checks.value_check(
                lambda x=x: finite_or_neg_inf(x, where), f"`{name}` holds NaN or +inf", x, where
            )
    return _sampled_loss(lp, lq, where, clip, estimator=estimator, reduction=reduction, dtype=dtype)
