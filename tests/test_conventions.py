"""The porting table of docs/losses.md: each library's loss against the jaxkl call it names.

Where the library installs here (torch, optax) it is called; elsewhere its definition is
re-implemented in float64 numpy from its source, cited per function. tunix (called) is in
test_tunix.py, verl's KL penalties in test_losses.py.
"""

import jax
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

from jaxkl import losses

T = 1.7


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(12)
    student = (rng.normal(size=(3, 5, 40)) * 2).astype(np.float32)
    teacher = (rng.normal(size=(3, 5, 40)) * 3).astype(np.float32)
    labels = rng.integers(0, 40, (3, 5))
    labels[0, 3:] = -100  # padding
    return student, teacher, labels


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _kl(log_p, log_q):
    return np.sum(np.exp(log_p) * (log_p - log_q), -1)


def _close(ours, theirs):
    # float32 results of O(1) per-token KLs against float64 references
    np.testing.assert_allclose(np.asarray(ours, np.float64), theirs, rtol=1e-5, atol=1e-6)


def test_torch_kl_div_batchmean(batch):
    student, teacher, _ = batch
    s, t = student.reshape(-1, 40), teacher.reshape(-1, 40)
    theirs = F.kl_div(
        F.log_softmax(torch.tensor(s, dtype=torch.float64) / T, -1),
        F.log_softmax(torch.tensor(t, dtype=torch.float64) / T, -1),
        log_target=True,
        reduction="batchmean",
    )
    _close(losses.kl_divergence_with_logits(t, s, temperature=T), float(theirs))


def test_optax_kl_divergence_with_log_targets(batch):
    student, teacher, _ = batch
    # optax takes (log_predictions, log_targets), student first, already normalised
    theirs = optax.losses.kl_divergence_with_log_targets(
        jax.nn.log_softmax(student), jax.nn.log_softmax(teacher)
    )
    _close(losses.kl_divergence_with_logits(teacher, student), float(np.mean(theirs)))


def _trl_generalized_jsd(student, teacher, labels, beta, temperature):
    """TRL ``GKDTrainer.generalized_jsd_loss`` (trl/trainer/gkd_trainer.py), float64.

    Mixture ``log(beta T + (1 - beta) S)``; ``beta KL(T || M) + (1 - beta) KL(S || M)``;
    beta = 0 is ``KL(T || S)`` and beta = 1 ``KL(S || T)``; mean over labels != -100.
    """
    s, t = _log_softmax(student / temperature), _log_softmax(teacher / temperature)
    if beta == 0:
        per_token = _kl(t, s)
    elif beta == 1:
        per_token = _kl(s, t)
    else:
        m = np.logaddexp(s + np.log1p(-beta), t + np.log(beta))
        per_token = beta * _kl(t, m) + (1 - beta) * _kl(s, m)
    keep = labels != -100
    return per_token[keep].sum() / keep.sum()


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_trl_generalized_jsd_loss(batch, beta):
    student, teacher, labels = batch
    ours = losses.jensen_shannon_with_logits(
        teacher, student, beta=beta, temperature=T, where=labels != -100
    )
    _close(ours, _trl_generalized_jsd(student, teacher, labels, beta, T))


def _maxtext_soft_loss(student, teacher, temperature):
    """MaxText's distillation soft loss, float64.

    ``MonitoredLogitStrategy.compute_loss`` (src/MaxText/distillation/train_distill.py):
    the mean over every position of ``KL(softmax(t/T) || softmax(s/T))``, times ``T**2``.
    """
    s, t = _log_softmax(student / temperature), _log_softmax(teacher / temperature)
    return np.mean(_kl(t, s)) * temperature**2


def test_maxtext_distillation_soft_loss(batch):
    student, teacher, _ = batch
    ours = losses.kl_divergence_with_logits(
        teacher, student, temperature=T, temperature_squared=True
    )
    _close(ours, _maxtext_soft_loss(student, teacher, T))


def _easydel_generalized_jsd(student, teacher, mask, beta, temperature):
    """EasyDeL's generalised JSD, float64.

    ``generalized_jsd_loss`` (easydel/trainers/generalized_knowledge_distillation_trainer/
    _fn.py). Its beta runs the other way: beta = 0 is ``KL(S || T)``, beta = 1 ``KL(T || S)``, and
    between them the mixture is ``(1 - beta) T + beta S`` with ``beta KL(T || M) +
    (1 - beta) KL(S || M)``; masked mean.
    """
    s, t = _log_softmax(student / temperature), _log_softmax(teacher / temperature)
    if beta <= 0:
        per_token = _kl(s, t)
    elif beta >= 1:
        per_token = _kl(t, s)
    else:
        m = np.logaddexp(t + np.log1p(-beta), s + np.log(beta))
        per_token = beta * _kl(t, m) + (1 - beta) * _kl(s, m)
    return np.sum(per_token * mask) / max(mask.sum(), 1)


@pytest.mark.parametrize("easydel_beta, jaxkl_beta", [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)])
def test_easydel_generalized_jsd_loss(batch, easydel_beta, jaxkl_beta):
    student, teacher, labels = batch
    mask = labels != -100
    ours = losses.jensen_shannon_with_logits(
        teacher, student, beta=jaxkl_beta, temperature=T, where=mask
    )
    _close(ours, _easydel_generalized_jsd(student, teacher, mask, easydel_beta, T))


def _liger_fused_linear_jsd(student_input, student_weight, teacher_input, teacher_weight, beta, t):
    """Liger's ``LigerFusedLinearJSDLoss`` soft loss, float64.

    ``LigerFusedLinearJSDFunction.distillation_loss_fn`` (src/liger_kernel/chunked_loss/
    jsd_loss.py) on logits ``input @ weight.T`` divided by the temperature, summed over
    tokens and divided by their number (chunked_loss/fused_linear_distillation.py): the
    mixture ``(1 - beta) S + beta T``, ``beta KL(T || M) + (1 - beta) KL(S || M)``,
    ``KL(T || S)`` at beta = 0 and ``KL(S || T)`` at beta = 1.
    """
    s = _log_softmax(np.asarray(student_input, np.float64) @ student_weight.T / t)
    te = _log_softmax(np.asarray(teacher_input, np.float64) @ teacher_weight.T / t)
    if beta == 0:
        per_token = _kl(te, s)
    elif beta == 1:
        per_token = _kl(s, te)
    else:
        m = np.log((1 - beta) * np.exp(s) + beta * np.exp(te))
        per_token = beta * _kl(te, m) + (1 - beta) * _kl(s, m)
    return per_token.sum() / per_token.shape[0]


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_liger_fused_linear_jsd(beta):
    rng = np.random.default_rng(13)
    student_input = rng.normal(size=(24, 16)).astype(np.float32)
    teacher_input = rng.normal(size=(24, 12)).astype(np.float32)
    student_weight = (rng.normal(size=(40, 16)) / 2).astype(np.float32)  # torch's [V, H]
    teacher_weight = (rng.normal(size=(40, 12)) / 2).astype(np.float32)
    ours = losses.fused_linear_kl_divergence(
        student_input,
        student_weight.T,
        (teacher_input, teacher_weight.T),
        beta=beta,
        temperature=T,
        chunk_size=7,
    )
    theirs = _liger_fused_linear_jsd(
        student_input, student_weight, teacher_input, teacher_weight, beta, T
    )
    _close(ours, theirs)


def _liger_fused_linear_kl_div(student_input, student_weight, target, shift_labels, t, eps):
    """Liger's ``LigerFusedLinearKLDivLoss`` (``reduction="batchmean"``), float64.

    ``fused_linear_kl_div_forward`` and ``_kl_div_kernel`` (src/liger_kernel/ops/
    fused_linear_kl_div.py): ``Q (log max(Q, eps) - log_softmax(x W^T / T))`` summed over
    the vocabulary, rows whose label is ``ignore_index`` (-100) left out, the sum divided by
    the number of the other rows. The temperature divides the student's logits only.
    """
    y = _log_softmax(np.asarray(student_input, np.float64) @ student_weight.T / t)
    q = np.asarray(target, np.float64)
    per_token = np.sum(q * (np.log(np.maximum(q, eps)) - y), -1)
    keep = shift_labels != -100
    return per_token[keep].sum() / keep.sum()


def test_liger_fused_linear_kl_div():
    rng = np.random.default_rng(14)
    student_input = rng.normal(size=(24, 16)).astype(np.float32)
    student_weight = (rng.normal(size=(40, 16)) / 2).astype(np.float32)  # torch's [V, H]
    target = np.exp(_log_softmax(rng.normal(size=(24, 40)) * 2))
    target[:, :5] = 0.0  # tokens the target rules out: 0 log 0 = 0 on both sides
    target = (target / target.sum(-1, keepdims=True)).astype(np.float32)
    shift_labels = rng.integers(0, 40, 24)
    shift_labels[::5] = -100
    with np.errstate(divide="ignore"):
        teacher = T * np.log(target)  # softmax(teacher / T) is the target
    ours = losses.fused_linear_kl_divergence(
        student_input,
        student_weight.T,
        teacher,
        temperature=T,
        where=shift_labels != -100,
        chunk_size=7,
    )
    theirs = _liger_fused_linear_kl_div(
        student_input, student_weight, target, shift_labels, T, 1e-10
    )
    _close(ours, theirs)


def _verl_topk_kl(student_topk_logprobs, teacher_topk_logprobs, reverse):
    """The distillation losses ``forward_kl_topk`` / ``reverse_kl_topk`` of verl, float64.

    ``compute_distillation_loss_topk`` with ``kullback_leibler_divergence`` (verl/trainer/
    distillation/fsdp/losses.py): both log-probs clamped below at ``log 1e-8``, then
    ``sum_k P_k (log P_k - log Q_k)`` over the teacher's top k (``Q`` and ``P`` swapped for
    the reverse), neither renormalised nor with a tail bin: per token, it can be negative.
    """
    lq = np.maximum(np.asarray(student_topk_logprobs, np.float64), np.log(1e-8))
    lp = np.maximum(np.asarray(teacher_topk_logprobs, np.float64), np.log(1e-8))
    if reverse:
        lp, lq = lq, lp
    return np.sum(np.exp(lp) * (lp - lq), -1)


@pytest.mark.parametrize("reverse", [False, True])
def test_verl_topk_distillation_is_jaxkl_topk_without_its_tail_bin(batch, reverse):
    student, teacher, _ = batch
    k = 8
    lp_all, lq_all = _log_softmax(teacher), _log_softmax(student)
    idx = np.argsort(-lp_all, -1)[..., :k]
    lp = np.take_along_axis(lp_all, idx, -1)
    lq = np.take_along_axis(lq_all, idx, -1)
    # the tail bin jaxkl adds: P_t log(P_t / Q_t) (reverse: Q_t log(Q_t / P_t))
    log_pt = np.log1p(-np.exp(lp).sum(-1))
    log_qt = np.log1p(-np.exp(lq).sum(-1))
    tail = _kl(log_pt[..., None], log_qt[..., None])
    if reverse:
        tail = _kl(log_qt[..., None], log_pt[..., None])
    theirs = _verl_topk_kl(lq, lp, reverse)
    ours = losses.topk_kl_divergence(
        idx, lp.astype(np.float32), student, reverse=reverse, reduction="none"
    )
    _close(ours, theirs + tail)
    # at k = V (no tail) the two are the same loss
    full = np.argsort(-lp_all, -1)
    ours_full = losses.topk_kl_divergence(
        full,
        np.take_along_axis(lp_all, full, -1).astype(np.float32),
        student,
        reverse=reverse,
        reduction="none",
    )
    theirs_full = _verl_topk_kl(
        np.take_along_axis(lq_all, full, -1), np.take_along_axis(lp_all, full, -1), reverse
    )
    _close(ours_full, theirs_full)
