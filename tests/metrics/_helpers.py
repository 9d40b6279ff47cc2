"""Shared pieces of the metric tests: the case table, batches, and the torchmetrics oracle."""

import itertools

import numpy as np
import torch
from torchmetrics.regression import KLDivergence as TMKLDivergence

REDUCTIONS = ("mean", "sum", "none", None)

# (log_prob, reduction, masked): every configuration, with and without a mask.
CASES = list(itertools.product((False, True), REDUCTIONS, (False, True)))


def case_id(case):
    log_prob, reduction, masked = case
    return f"log_prob={log_prob}-{reduction}-{'masked' if masked else 'unmasked'}"


def make_batches(
    seed: int, n_batches: int = 3, rows: int = 4, d: int = 5, log_prob=False, masked=False
):
    """Positive unnormalised rows (or log-probabilities) and boolean row masks, float32."""
    rng = np.random.default_rng(seed)
    ps, qs, ms = [], [], []
    for _ in range(n_batches):
        p = rng.uniform(0.05, 1.0, (rows, d)).astype(np.float32)
        q = rng.uniform(0.05, 1.0, (rows, d)).astype(np.float32)
        if log_prob:
            p = np.log(p / p.sum(-1, keepdims=True)).astype(np.float32)
            q = np.log(q / q.sum(-1, keepdims=True)).astype(np.float32)
        m = rng.uniform(size=rows) < 0.6 if masked else np.ones(rows, bool)
        if masked:
            m[0] = True  # at least one row per batch
            p[~m] = 0.0 if not log_prob else -np.inf  # padding: exempt from value checks
        ps.append(p)
        qs.append(q)
        ms.append(m)
    return ps, qs, ms


def torchmetrics_value(ps, qs, ms, log_prob, reduction):
    """Torchmetrics' KLDivergence fed the unmasked rows of each batch (float64 inputs)."""
    metric = TMKLDivergence(log_prob=log_prob, reduction=reduction)
    for p, q, m in zip(ps, qs, ms):
        metric.update(
            torch.from_numpy(p[m].astype(np.float64)), torch.from_numpy(q[m].astype(np.float64))
        )
    return np.asarray(metric.compute().double().numpy())
