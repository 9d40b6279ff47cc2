"""jaxkl in one minute.

jaxkl in one minute: tensor KL (torchmetrics' semantics), masks, log-probabilities, and
the KL between two distributions. Run: ``python examples/quickstart.py``.
"""

import jax
import jax.numpy as jnp

import jaxkl
from jaxkl import distributions as jd

# 1. Tensor KL: each row of p and q is a distribution (normalised for you).
p = jnp.array([[0.36, 0.48, 0.16]])
q = jnp.array([[1 / 3, 1 / 3, 1 / 3]])
print(f"KL(p || uniform)               = {jaxkl.kl_divergence(p, q):.4f}   (torchmetrics: 0.0853)")

# 2. Per-row values and a mask: masked rows (padding) count nowhere, not even in the mean.
p2 = jnp.array([[0.36, 0.48, 0.16], [0.0, 0.0, 0.0]])  # second row is padding
q2 = jnp.array([[1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]])
mask = jnp.array([True, False])
print("per row, padding masked        =", jaxkl.kl_divergence(p2, q2, reduction="none", where=mask))
print(f"mean over unmasked rows        = {jaxkl.kl_divergence(p2, q2, where=mask):.4f}")

# 3. Log-probabilities (e.g. log_softmax outputs), jitted; -inf entries contribute 0.
log_p = jax.nn.log_softmax(jnp.array([[2.0, 1.0, -jnp.inf]]))
log_q = jax.nn.log_softmax(jnp.array([[1.0, 1.0, 1.0]]))
kl = jax.jit(lambda a, b: jaxkl.kl_divergence(a, b, log_prob=True))(log_p, log_q)
print(f"KL of log-probabilities (jit)  = {kl:.4f}")

# 4. Distributions: closed form KL(N(0, 1) || N(1, 2)) = log 2 + 2/8 - 1/2.
kl = jd.kl_divergence(jd.Normal(loc=0.0, scale=1.0), jd.Normal(loc=1.0, scale=2.0))
print(f"KL(N(0,1) || N(1,2))           = {kl:.4f}")
