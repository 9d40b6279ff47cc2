"""jaxkl's fused loss inside tunix's distillation strategy interface.

``FusedLogitStrategy`` subclasses tunix's ``LogitStrategy`` and overrides ``compute_loss``:
the student's forward function returns its last hidden states and output head instead of
logits, and the distillation term is ``jaxkl.losses.fused_linear_kl_divergence`` with
tunix's conventions (``T**2`` scaling, ``alpha`` mixing with the task cross-entropy), so
the student's ``[tokens, vocab]`` logits are never built for it. The script checks that
the strategy's loss equals tunix's own ``LogitStrategy.compute_loss`` on materialised
logits, then trains a small ``flax.nnx`` student a few steps against a fixed teacher.

What is left out: tunix's ``DistillationTrainer`` (its import pulls tunix's training stack
and its dependencies, which this project does not install); the strategy is driven by a
plain ``nnx.jit`` train step instead, calling the same methods the trainer calls. With
``alpha < 1`` the task loss still needs the logits (tunix's cross-entropy); ``alpha = 1``
(pure distillation, used below) never builds them.

Run: ``python examples/tunix_distillation.py`` (needs ``pip install --no-deps
google-tunix==0.1.7``; a few seconds on CPU).
"""

import importlib
import importlib.util
import sys
import types

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxkl import losses

VOCAB, WIDTH, BATCH, SEQ = 256, 32, 8, 16


def load_logit_strategy():
    """Tunix's ``LogitStrategy``, its strategy modules loaded without tunix's ``__init__``."""
    loaded = sys.modules.get("tunix")  # (by an earlier call: the stand-in has no spec)
    if loaded is not None:
        root = loaded.__path__[0]
    else:
        root = importlib.util.find_spec("tunix").submodule_search_locations[0]
    for name, path in (
        ("tunix", root),
        ("tunix.distillation", f"{root}/distillation"),
        ("tunix.distillation.strategies", f"{root}/distillation/strategies"),
    ):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [path]
            sys.modules[name] = package
    return importlib.import_module("tunix.distillation.strategies.logit").LogitStrategy


LogitStrategy = load_logit_strategy()


class FusedLogitStrategy(LogitStrategy):
    """tunix's logit distillation with the fused head: ``student_output = (hidden, kernel)``."""

    def compute_loss(self, student_output, teacher_output, labels):
        hidden, kernel = student_output
        distillation = losses.fused_linear_kl_divergence(
            hidden, kernel, teacher_output, temperature=self.temperature, temperature_squared=True
        )
        metrics = {"distill/soft_loss": distillation}
        if self.alpha == 1.0:
            return distillation, metrics
        task = jnp.mean(optax.softmax_cross_entropy(hidden @ kernel, labels))
        metrics["distill/hard_loss"] = task
        return self.alpha * distillation + (1.0 - self.alpha) * task, metrics


class LM(nnx.Module):
    """Embedding -> MLP -> output head (no bias, as most LLM heads)."""

    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, width, rngs=rngs)
        self.mlp = nnx.Linear(width, width, rngs=rngs)
        self.head = nnx.Linear(width, VOCAB, use_bias=False, rngs=rngs)

    def features(self, tokens):
        x = self.embed(tokens)
        return x + nnx.gelu(self.mlp(x))

    def __call__(self, tokens):
        return self.head(self.features(tokens))


def student_forward(model, tokens):
    return model.features(tokens), model.head.kernel[...]


def teacher_forward(model, tokens):
    return model(tokens)


def labels_fn(tokens):
    return jax.nn.one_hot(jnp.roll(tokens, -1, axis=-1), VOCAB)


def main():
    teacher = LM(64, rngs=nnx.Rngs(0))
    student = LM(WIDTH, rngs=nnx.Rngs(1))
    strategy_args = (student_forward, teacher_forward, labels_fn)
    fused = FusedLogitStrategy(*strategy_args, temperature=2.0, alpha=1.0)
    plain = LogitStrategy(*strategy_args, temperature=2.0, alpha=1.0)

    tokens = jax.random.randint(jax.random.key(2), (BATCH, SEQ), 0, VOCAB)
    labels, teacher_logits = labels_fn(tokens), teacher(tokens)
    ours = fused.compute_loss(student_forward(student, tokens), teacher_logits, labels)[0]
    theirs = plain.compute_loss(student(tokens), teacher_logits, labels)[0]
    print(f"fused strategy loss {float(ours):.6f}  tunix LogitStrategy loss {float(theirs):.6f}")

    optimizer = nnx.Optimizer(student, optax.adam(3e-3), wrt=nnx.Param)

    @nnx.jit
    def train_step(student, teacher, optimizer, tokens):
        inputs = {"tokens": tokens}  # what tunix's trainer hands the strategy
        teacher_output = fused.get_teacher_outputs(teacher, inputs)

        def loss_fn(student):
            return fused.get_train_loss(student, teacher_output, inputs)

        (loss, _), grads = nnx.value_and_grad(loss_fn, has_aux=True)(student)
        optimizer.update(student, grads)
        return loss

    key = jax.random.key(3)
    for step in range(30):
        key, sub = jax.random.split(key)
        tokens = jax.random.randint(sub, (BATCH, SEQ), 0, VOCAB)
        loss = train_step(student, teacher, optimizer, tokens)
        if step % 10 == 0 or step == 29:
            print(f"step {step:3d}  T^2 KL {float(loss):.4f}")


if __name__ == "__main__":
    main()
