"""Bad inputs give an error that names the argument (issue 11.3): one table, one test.

Each row: a call, the exception type, a regex naming the offending argument and its
value or dtype. Complex parameters used to be cut to their real part, ``loc = ±inf`` was
accepted (and KL(p, p) was NaN), an empty event axis with ``log_prob=True`` returned
zeros, and strings reached JAX's internals.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxkl import distributions as jd
from jaxkl import functional as F
from jaxkl import losses
from jaxkl.metrics import KLDivergence

INF = float("inf")
EYE2 = np.eye(2, dtype=np.float32)

ROWS = [
    # complex parameters: TypeError with the name and the dtype
    (
        "normal-complex-scalar",
        lambda: jd.Normal(loc=1 + 2j, scale=1.0),
        TypeError,
        r"Normal: parameter `loc`.*complex dtype complex128",
    ),
    (
        "normal-complex-array",
        lambda: jd.Normal(0.0, jnp.array([1 + 1j])),
        TypeError,
        r"`scale`.*complex64",
    ),
    (
        "mvn-complex-tril",
        lambda: jd.MultivariateNormal(jnp.zeros(2), scale_tril=EYE2 * (1 + 0j)),
        TypeError,
        r"MultivariateNormal: parameter `scale_tril`.*complex",
    ),
    (
        "categorical-string",
        lambda: jd.Categorical(logits=np.array(["a", "b"])),
        TypeError,
        r"Categorical: parameter `logits`.*non-numeric dtype <U1",
    ),
    (
        "bernoulli-object",
        lambda: jd.Bernoulli(probs=np.array([object()])),
        TypeError,
        r"Bernoulli: parameter `probs`.*object",
    ),
    (
        "binomial-string-count",
        lambda: jd.Binomial("10", probs=0.5),
        TypeError,
        r"Binomial: parameter `total_count`.*<U2",
    ),
    # non-finite parameters where the family needs finite ones
    (
        "normal-inf-loc",
        lambda: jd.Normal(loc=INF, scale=1.0),
        ValueError,
        r"Normal: parameter `loc` must be a finite real number, got array\(inf",
    ),
    (
        "normal-inf-scale",
        lambda: jd.Normal(0.0, INF),
        ValueError,
        r"`scale` must be positive and finite",
    ),
    (
        "vonmises-minus-inf-loc",
        lambda: jd.VonMises(-INF, 1.0),
        ValueError,
        r"VonMises: parameter `loc` must be a finite",
    ),
    (
        "vonmises-inf-concentration",
        lambda: jd.VonMises(0.0, INF),
        ValueError,
        r"`concentration` must be non-negative and finite",
    ),
    (
        "uniform-infinite-bound",
        lambda: jd.Uniform(-INF, 0.0),
        ValueError,
        r"Uniform: parameter `low` must be a finite",
    ),
    ("gamma-inf-rate", lambda: jd.Gamma(1.0, INF), ValueError, r"Gamma: parameter `rate`"),
    (
        "mvn-inf-loc",
        lambda: jd.MultivariateNormal(jnp.array([0.0, INF]), scale_tril=EYE2),
        ValueError,
        r"`loc`",
    ),
    (
        "mvn-inf-tril",
        lambda: jd.MultivariateNormal(
            jnp.zeros(2),
            scale_tril=np.array([[1.0, 0.0], [INF, 1.0]], np.float32),
        ),
        ValueError,
        r"`scale_tril` must be lower_cholesky \(finite",
    ),
    # counts: +inf, non-integer and negative total counts
    (
        "binomial-inf-count",
        lambda: jd.Binomial(INF, probs=0.3),
        ValueError,
        r"`total_count` must be a finite non-negative integer, got array\(inf",
    ),
    (
        "binomial-fractional-count",
        lambda: jd.Binomial(2.5, probs=0.3),
        ValueError,
        r"`total_count`.*2\.5",
    ),
    (
        "binomial-negative-count",
        lambda: jd.Binomial(-1.0, probs=0.3),
        ValueError,
        r"`total_count`.*-1",
    ),
    # tensor KL: empty event axis (both modes), string / complex / object inputs and masks
    (
        "tensor-empty-event-log",
        lambda: F.kl_divergence(jnp.zeros((3, 0)), jnp.zeros((3, 0)), log_prob=True),
        ValueError,
        r"non-empty event axis.*\(3, 0\)",
    ),
    (
        "tensor-empty-event-probs",
        lambda: F.kl_divergence(jnp.zeros((3, 0)), jnp.zeros((3, 0))),
        ValueError,
        r"non-empty event axis",
    ),
    (
        "tensor-string-p",
        lambda: F.kl_divergence(np.array([["a", "b"]]), np.ones((1, 2))),
        TypeError,
        r"`p` must be a real.*<U1",
    ),
    (
        "tensor-complex-q",
        lambda: F.kl_divergence(jnp.ones((1, 2)), jnp.ones((1, 2), jnp.complex64)),
        TypeError,
        r"`q` must be a real.*complex",
    ),
    (
        "tensor-string-where",
        lambda: F.kl_divergence(jnp.ones((2, 2)), jnp.ones((2, 2)), where=np.array(["y", "n"])),
        TypeError,
        r"`where`.*<U1",
    ),
    # the metric and the losses come through the same checks
    (
        "metric-string-p",
        lambda: KLDivergence.from_model_output(p=np.array([["a", "b"]]), q=np.ones((1, 2))),
        TypeError,
        r"`p` must be a real.*<U1",
    ),
    (
        "metric-string-mask",
        lambda: KLDivergence.from_model_output(
            p=np.ones((2, 2)), q=np.ones((2, 2)), mask=np.array(["a", "b"])
        ),
        TypeError,
        r"`mask`.*<U1",
    ),
    (
        "loss-string-logits",
        lambda: losses.kl_divergence_with_logits(np.array([["a", "b"]]), np.ones((1, 2))),
        TypeError,
        r"`p_logits`.*<U1",
    ),
    (
        "loss-complex-logits",
        lambda: losses.kl_divergence_with_logits(jnp.ones((1, 2)), jnp.ones((1, 2), jnp.complex64)),
        TypeError,
        r"`q_logits`.*complex",
    ),
]


@pytest.mark.parametrize("call, error, pattern", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_inputs_raise_errors_naming_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_infinite_logits_and_probits_stay_allowed():
    """``extended_real``: ±inf logits and probits are probabilities 0 and 1."""
    jd.Bernoulli(logits=jnp.array([-INF, INF]))
    jd.Categorical(logits=jnp.array([0.0, -INF]))
    jd.ProbitBernoulli(probits=jnp.array([-INF, 0.0]))
    with pytest.raises(ValueError, match=r"`logits` must be real or ±inf \(not NaN\)"):
        jd.Bernoulli(logits=jnp.array([jnp.nan]))


def test_one_mask_rule_for_the_tensor_kl_the_losses_and_the_metric():
    """``where`` and the metric's ``mask``: boolean or integer (nonzero keeps), never float."""
    rng = np.random.default_rng(3)
    p, q = rng.uniform(0.1, 1.0, (2, 3, 4)).astype(np.float32)
    as_bool, as_int = np.array([True, False, True]), np.array([2, 0, 1], np.int32)
    calls = {
        "where": lambda m: F.kl_divergence(p, q, reduction="none", where=m),
        "where ": lambda m: losses.kl_divergence_with_logits(p, q, reduction="none", where=m),
        "mask": lambda m: KLDivergence.from_model_output(p, q, mask=m).total,
    }
    for name, call in calls.items():
        np.testing.assert_array_equal(call(as_int), call(as_bool))
        assert not np.array_equal(call(as_int), call(None))
        with pytest.raises(TypeError, match=rf"`{name.strip()}`.*float32"):
            call(as_int.astype(np.float32))


def test_top_level_kl_divergence_rejects_options_of_the_other_kind():
    import jax

    import jaxkl

    p, q = np.full((1, 2), 0.5, np.float32), np.array([[0.2, 0.8]], np.float32)
    a, b = jd.Normal(0.0, 1.0), jd.Normal(1.0, 2.0)
    np.testing.assert_array_equal(
        jaxkl.kl_divergence(p, q, True, "sum"), F.kl_divergence(p, q, True, "sum")
    )
    assert float(jaxkl.kl_divergence(a, b)) == float(jd.kl_divergence(a, b))
    with pytest.raises(TypeError, match=r"two distributions takes no 'reduction', 'where'"):
        jaxkl.kl_divergence(a, b, reduction="sum", where=np.ones(()))
    with pytest.raises(TypeError, match=r"arrays takes no 'key'"):
        jaxkl.kl_divergence(p, q, key=jax.random.key(0))
