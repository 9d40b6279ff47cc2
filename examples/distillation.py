"""Distil a small flax.nnx teacher into a student with the fused linear KL loss.

Synthetic next-token data over a 512-token vocabulary; teacher and student are an
embedding, an MLP and an output head. The jitted train step computes the student's last
hidden states, the teacher's logits, and ``jaxkl.losses.fused_linear_kl_divergence``
(the student's ``[tokens, vocab]`` logits are never materialised) with a padding mask;
optax's adam updates the student. At the end it prints the compiled temporary memory of
the fused loss's gradient against the unfused one (materialised logits +
``kl_divergence_with_logits``).

Run: ``python examples/distillation.py`` (a few seconds on CPU).
"""

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxkl import losses

VOCAB, BATCH, SEQ = 512, 16, 64


class LM(nnx.Module):
    """Embedding -> MLP -> output head; ``features`` returns the head's input."""

    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, width, rngs=rngs)
        self.mlp = nnx.Sequential(
            nnx.Linear(width, 2 * width, rngs=rngs),
            nnx.gelu,
            nnx.Linear(2 * width, width, rngs=rngs),
        )
        self.head = nnx.Linear(width, VOCAB, rngs=rngs)

    def features(self, tokens):
        x = self.embed(tokens)
        return x + self.mlp(x)

    def __call__(self, tokens):
        return self.head(self.features(tokens))


def loss_fn(student, teacher_logits, tokens, mask):
    hidden = student.features(tokens)
    return losses.fused_linear_kl_divergence(
        hidden,
        student.head.kernel[...],
        teacher_logits,
        bias=student.head.bias[...],
        temperature=2.0,
        where=mask,
    )


@nnx.jit
def train_step(student, teacher, optimizer, tokens, mask):
    teacher_logits = jax.lax.stop_gradient(teacher(tokens))
    loss, grads = nnx.value_and_grad(loss_fn)(student, teacher_logits, tokens, mask)
    optimizer.update(student, grads)
    return loss


def temp_memory(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


def main():
    teacher = LM(128, rngs=nnx.Rngs(0))
    student = LM(32, rngs=nnx.Rngs(1))
    optimizer = nnx.Optimizer(student, optax.adam(3e-3), wrt=nnx.Param)
    key = jax.random.key(2)
    lengths = jnp.arange(BATCH) % 4 * 8 + SEQ - 24  # padded sequences
    mask = jnp.arange(SEQ)[None, :] < lengths[:, None]
    for step in range(60):
        key, sub = jax.random.split(key)
        tokens = jax.random.randint(sub, (BATCH, SEQ), 0, VOCAB)
        loss = train_step(student, teacher, optimizer, tokens, mask)
        if step % 10 == 0 or step == 59:
            print(f"step {step:3d}  distillation KL {float(loss):.4f}")

    # Memory of the loss's gradient w.r.t. the head: fused vs materialised logits.
    hidden = student.features(tokens)
    w, b = student.head.kernel[...], student.head.bias[...]
    t = teacher(tokens)
    n, v = BATCH * SEQ * 8, VOCAB  # eight times the batch, to make the difference visible
    hidden = jnp.tile(hidden, (8, 1, 1))
    t = jnp.tile(t, (8, 1, 1))

    def fused(h, w, b, t):
        return losses.fused_linear_kl_divergence(h, w, t, bias=b, chunk_size=256)

    def unfused(h, w, b, t):
        return losses.kl_divergence_with_logits(t, h @ w + b)

    f_mem = temp_memory(jax.grad(fused, (0, 1, 2)), hidden, w, b, t)
    u_mem = temp_memory(jax.grad(unfused, (0, 1, 2)), hidden, w, b, t)
    print(
        f"gradient temp memory for {n} tokens x {v} vocab: fused {f_mem / 2**20:.2f} MiB, "
        f"unfused {u_mem / 2**20:.2f} MiB (saved {(u_mem - f_mem) / 2**20:.2f} MiB)"
    )


if __name__ == "__main__":
    main()
