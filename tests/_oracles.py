"""Adapters around the reference libraries the tests compare against.

Every oracle takes and returns NumPy arrays and computes in float64 unless told otherwise,
so that a test compares our float32 or float64 result with an independent, more precise
value.
"""

from __future__ import annotations

import mpmath
import numpy as np
import scipy.special
import torch
from torchmetrics.functional import kl_divergence as _tm_kl_divergence


def torchmetrics_kl(p, q, log_prob=False, reduction="mean", dtype=torch.float64):
    """``torchmetrics.functional.kl_divergence`` on 2-D inputs ``[N, d]`` (the contract)."""
    tp = torch.as_tensor(np.asarray(p, dtype=np.float64)).to(dtype)
    tq = torch.as_tensor(np.asarray(q, dtype=np.float64)).to(dtype)
    out = _tm_kl_divergence(tp, tq, log_prob=log_prob, reduction=reduction)
    return out.to(torch.float64).numpy()


def torchmetrics_kl_axis(p, q, log_prob=False, reduction="mean", axis=-1):
    """Torchmetrics on any rank: move ``axis`` last, flatten the batch, restore its shape.

    A 1-D input is one distribution, so ``"none"`` gives shape ``()``.
    """
    p = np.moveaxis(np.asarray(p, dtype=np.float64), axis, -1)
    q = np.moveaxis(np.asarray(q, dtype=np.float64), axis, -1)
    batch_shape = p.shape[:-1]
    d = p.shape[-1]
    out = torchmetrics_kl(p.reshape(-1, d), q.reshape(-1, d), log_prob, reduction)
    if reduction in ("none", None):
        return out.reshape(batch_shape)
    return out


def rel_entr_rows(p, q, log_prob=False):
    """Per-row KL from ``scipy.special.rel_entr`` (exact ``0 log 0 = 0`` and ``+inf``).

    ``log_prob=False``: rows are normalised first; ``log_prob=True``: ``exp`` of the
    inputs, used as given (``exp(-inf) = 0`` terms contribute 0). Event axis last.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if log_prob:
        return scipy.special.rel_entr(np.exp(p), np.exp(q)).sum(-1)
    p = p / p.sum(-1, keepdims=True)
    q = q / q.sum(-1, keepdims=True)
    return scipy.special.rel_entr(p, q).sum(-1)


def mpmath_kl_rows(p, q, dps=50):
    """Per-row normalised KL at ``dps`` decimal digits from the exact values of the inputs.

    For near-equal rows (KL ~ 1e-12), where every float64 library, torchmetrics included,
    is off by its own rounding (~1e-16 absolute). Event axis last; p = 0 terms are 0.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    out = np.empty(p.shape[:-1])
    with mpmath.workdps(dps):
        for idx in np.ndindex(*p.shape[:-1]):
            pr = [mpmath.mpf(float(v)) for v in p[idx]]
            qr = [mpmath.mpf(float(v)) for v in q[idx]]
            big_p, big_q = mpmath.fsum(pr), mpmath.fsum(qr)
            total = mpmath.fsum(
                (a / big_p) * mpmath.log((a / big_p) / (b / big_q))
                for a, b in zip(pr, qr)
                if a != 0
            )
            out[idx] = float(total)
    return out
