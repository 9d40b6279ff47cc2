"""Render docs/kl_metric.png from a real run of examples/vae_training_step.py's train step."""

import sys

sys.path.insert(0, "examples")
import matplotlib

matplotlib.use("Agg")
import jax
import matplotlib.pyplot as plt
import vae_training_step as vae

data = vae.make_data(40 * 64)
key = jax.random.key(0)
key, k = jax.random.split(key)
params = vae.init_params(k)
opt_state = vae.optimizer.init(params)
history = []
metric = vae.TokenKL.empty()
for _epoch in range(5):
    for step in range(40):
        key, sk = jax.random.split(key)
        tokens = data[step * 64 : (step + 1) * 64]
        params, opt_state, metric, loss = vae.train_step(params, opt_state, metric, tokens, sk)
        history.append(metric)  # running epoch-to-date state
    metric = vae.TokenKL.empty()
fig, ax = plt.subplots(figsize=(6, 3.5))
metric.plot([s.compute() for s in history], ax=ax)
ax.set_title("VAE: running token KL(data || decoder), reset each epoch", fontsize=10)
fig.tight_layout()
fig.savefig("docs/kl_metric.png", dpi=110)
print("saved")
