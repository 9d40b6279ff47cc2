"""A small VAE trained with a jaxkl KL term and a jaxkl metric.

A small VAE on synthetic categorical data: the KL term from jaxkl distributions inside a
jitted optax train step, with the jaxkl metric accumulating a token-level tensor KL.

Data: sequences of 16 tokens over 4 symbols, generated from a 2-D latent variable. The encoder
outputs ``jaxkl.distributions.Normal(loc, scale)``; the loss is the reconstruction cross
entropy plus ``jaxkl.distributions.kl_divergence(posterior, Normal(0, 1))``. The metric state
(``jaxkl.metrics.KLDivergence``, ``log_prob=True``) accumulates KL(smoothed data || decoder) per
token over an epoch, and is returned from the jitted step like any pytree.

Run: ``python examples/vae_training_step.py`` (a few seconds on a CPU).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxkl.distributions as jd
from jaxkl.metrics import KLDivergence

SEQ, VOCAB, LATENT, HIDDEN = 16, 4, 2, 64
TokenKL = KLDivergence.configure(log_prob=True, reduction="mean")


def make_data(n: int, seed: int = 0) -> np.ndarray:
    """Token sequences whose symbol at each position depends smoothly on a 2-D latent."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, LATENT))
    w = rng.normal(size=(LATENT, SEQ, VOCAB)) * 2.0
    logits = np.einsum("nl,lsv->nsv", z, w)
    u = rng.gumbel(size=logits.shape)
    return np.argmax(logits + u, axis=-1).astype(np.int32)  # (n, SEQ)


def init_params(key):
    def dense(key, n_in, n_out):
        return {"w": jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in), "b": jnp.zeros(n_out)}

    keys = jax.random.split(key, 4)
    return {
        "enc1": dense(keys[0], SEQ * VOCAB, HIDDEN),
        "enc2": dense(keys[1], HIDDEN, 2 * LATENT),
        "dec1": dense(keys[2], LATENT, HIDDEN),
        "dec2": dense(keys[3], HIDDEN, SEQ * VOCAB),
    }


def apply(layer, x):
    return x @ layer["w"] + layer["b"]


def encode(params, tokens) -> jd.Normal:
    x = jax.nn.one_hot(tokens, VOCAB).reshape(tokens.shape[0], -1)
    h = jax.nn.gelu(apply(params["enc1"], x))
    loc, raw_scale = jnp.split(apply(params["enc2"], h), 2, axis=-1)
    return jd.Normal(loc=loc, scale=jax.nn.softplus(raw_scale) + 1e-3)


def decode(params, z):
    h = jax.nn.gelu(apply(params["dec1"], z))
    return apply(params["dec2"], h).reshape(z.shape[0], SEQ, VOCAB)  # logits


def loss_fn(params, tokens, key):
    posterior = encode(params, tokens)
    prior = jd.Normal(loc=0.0, scale=1.0)
    z = posterior.sample(key)
    logits = decode(params, z)
    log_q = jax.nn.log_softmax(logits)
    reconstruction = -jnp.take_along_axis(log_q, tokens[..., None], axis=-1).sum(axis=(1, 2))
    kl = jd.kl_divergence(posterior, prior).sum(axis=-1)  # closed form, per example
    return jnp.mean(reconstruction + kl), log_q


optimizer = optax.adam(3e-3)


@jax.jit
def train_step(params, opt_state, metric, tokens, key):
    (loss, log_q), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, tokens, key)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    # token-level KL(label-smoothed data || decoder), accumulated in the metric state
    target = optax.smooth_labels(jax.nn.one_hot(tokens, VOCAB), 0.1)
    metric = metric.merge(TokenKL.from_model_output(p=jnp.log(target), q=log_q))
    return params, opt_state, metric, loss


def main(epochs: int = 5, steps_per_epoch: int = 40, batch: int = 64) -> list[float]:
    data = make_data(steps_per_epoch * batch)
    key = jax.random.key(0)
    key, init_key = jax.random.split(key)
    params = init_params(init_key)
    opt_state = optimizer.init(params)
    losses = []
    for epoch in range(epochs):
        metric, total = TokenKL.empty(), 0.0
        for step in range(steps_per_epoch):
            key, step_key = jax.random.split(key)
            tokens = data[step * batch : (step + 1) * batch]
            params, opt_state, metric, loss = train_step(
                params, opt_state, metric, tokens, step_key
            )
            total += float(loss)
        losses.append(total / steps_per_epoch)
        print(
            f"epoch {epoch}: loss {losses[-1]:.3f}  token KL(data || decoder) "
            f"{float(metric.compute()):.4f}"
        )
    assert losses[-1] < losses[0], "the loss should decrease"
    return losses


if __name__ == "__main__":
    main()
