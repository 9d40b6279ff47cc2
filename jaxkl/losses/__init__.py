"""KL and Jensen-Shannon losses on logits for training steps: distillation, RL penalties.

As everywhere in jaxkl, ``p`` comes first and is the target (teacher, reference, the
distribution samples come from); ``q`` is the model being trained. Five functions:

* :func:`kl_divergence_with_logits` and :func:`jensen_shannon_with_logits`: one pass over
  the logits for the per-row statistics (max, log-sum-exp), a custom derivative rule whose
  backward needs only the logits and those statistics, and ``axis_name`` for a vocabulary
  sharded over a mesh axis inside ``shard_map``;
* :func:`fused_linear_kl_divergence`: the student's output projection fused with the loss,
  chunked over tokens, so that no ``[N, V]`` array exists in the forward or the backward;
* :func:`topk_kl_divergence`: a teacher that gives only its top-k tokens;
* :func:`sampled_kl_divergence`: Schulman's k1 / k2 / k3 estimators from sampled tokens.

This module imports only JAX (no flax, no optax): ``import jaxkl`` stays cheap.
"""

from jaxkl.losses._fused import fused_linear_kl_divergence, fused_linear_topk_kl_divergence
from jaxkl.losses._logits import jensen_shannon_with_logits, kl_divergence_with_logits
from jaxkl.losses._sampled import sampled_kl_divergence
from jaxkl.losses._topk import topk_kl_divergence

__all__ = [
    "kl_divergence_with_logits",
    "jensen_shannon_with_logits",
    "fused_linear_kl_divergence",
    "fused_linear_topk_kl_divergence",
    "topk_kl_divergence",
    "sampled_kl_divergence",
]
