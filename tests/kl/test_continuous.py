"""Quirks of the same-family continuous closed forms: extreme parameters, the accuracy of
the hardest pairs in their most cancelling directions, and the continuous Bernoulli near
probs = 1/2 (torch's ``lims`` window). References: mpmath at 50 digits on the exact float32
parameters (the same mpmath forms as the pair table)."""

from __future__ import annotations

import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from jaxkl import distributions as jd
from tests.kl import pairs as _pairs  # noqa: F401  (import the table first: it imports pairs_continuous)
from tests.kl import pairs_continuous as P

# (id, class, p params, q params, mpmath form, relative tolerance)
EXTREME = [
    ("normal-tiny-scale", jd.Normal, {"loc": 0.0, "scale": 1e-20}, {"loc": 1e-25, "scale": 1.00001e-20}, P._mp_kl_normal, 1e-4),
    ("normal-huge-scale", jd.Normal, {"loc": 0.0, "scale": 1e20}, {"loc": 1e20, "scale": 3e20}, P._mp_kl_normal, 1e-5),
    ("halfnormal-tiny", jd.HalfNormal, {"scale": 1e-30}, {"scale": 1.00001e-30}, P._mp_kl_halfnormal, 1e-4),
    ("halfnormal-huge", jd.HalfNormal, {"scale": 1e30}, {"scale": 4e30}, P._mp_kl_halfnormal, 1e-5),
    ("laplace-tiny", jd.Laplace, {"loc": 0.0, "scale": 1e-30}, {"loc": 1e-35, "scale": 1.00001e-30}, P._mp_kl_laplace, 1e-4),
    ("laplace-huge", jd.Laplace, {"loc": 0.0, "scale": 1e30}, {"loc": 5e30, "scale": 2e30}, P._mp_kl_laplace, 1e-5),
    ("cauchy-tiny", jd.Cauchy, {"loc": 0.0, "scale": 1e-30}, {"loc": 1e-35, "scale": 1.00001e-30}, P._mp_kl_cauchy, 1e-4),
    ("cauchy-far", jd.Cauchy, {"loc": 0.0, "scale": 1e-10}, {"loc": 1e10, "scale": 1e10}, P._mp_kl_cauchy, 1e-5),
    ("gumbel-tiny", jd.Gumbel, {"loc": 0.0, "scale": 1e-30}, {"loc": 1e-35, "scale": 1.00001e-30}, P._mp_kl_gumbel, 1e-4),
    ("gumbel-left-shift", jd.Gumbel, {"loc": 0.0, "scale": 1.0}, {"loc": 50.0, "scale": 1.0}, P._mp_kl_gumbel, 1e-5),
    ("gumbel-ratio-30", jd.Gumbel, {"loc": 0.0, "scale": 30.0}, {"loc": 0.0, "scale": 1.0}, P._mp_kl_gumbel, 1e-4),
    ("exponential-tiny-rate", jd.Exponential, {"rate": 1e-30}, {"rate": 1.00001e-30}, P._mp_kl_exponential, 1e-4),
    ("exponential-ratio", jd.Exponential, {"rate": 1e15}, {"rate": 1e-15}, P._mp_kl_exponential, 1e-5),
    ("gamma-conc-1e-3", jd.Gamma, {"concentration": 1e-3, "rate": 1.0}, {"concentration": 2e-3, "rate": 3.0}, P._mp_kl_gamma, 1e-4),
    ("gamma-conc-1e-3-near", jd.Gamma, {"concentration": 1e-3, "rate": 1e-6}, {"concentration": 1.00001e-3, "rate": 1e-6}, P._mp_kl_gamma, 1e-4),
    ("gamma-conc-1e4", jd.Gamma, {"concentration": 1e4, "rate": 1.0}, {"concentration": 1.1e4, "rate": 1.2}, P._mp_kl_gamma, 1e-4),
    ("gamma-conc-1e4-near-shape", jd.Gamma, {"concentration": 1e4, "rate": 1e6}, {"concentration": 1.00001e4, "rate": 1e6}, P._mp_kl_gamma, 1e-4),
    ("gamma-rates-1e-6-1e6", jd.Gamma, {"concentration": 2.0, "rate": 1e-6}, {"concentration": 3.0, "rate": 1e6}, P._mp_kl_gamma, 1e-5),
    ("beta-conc-1e-3", jd.Beta, {"concentration1": 1e-3, "concentration0": 1e-3}, {"concentration1": 2e-3, "concentration0": 5e-3}, P._mp_kl_beta, 1e-4),
    ("beta-conc-1e-3-near", jd.Beta, {"concentration1": 1e-3, "concentration0": 2e-3}, {"concentration1": 1.00001e-3, "concentration0": 2e-3}, P._mp_kl_beta, 1e-4),
    ("beta-conc-1e4", jd.Beta, {"concentration1": 1e4, "concentration0": 1e4}, {"concentration1": 1.01e4, "concentration0": 0.99e4}, P._mp_kl_beta, 1e-4),
    ("beta-mixed", jd.Beta, {"concentration1": 1e-3, "concentration0": 1e4}, {"concentration1": 1.00001e-3, "concentration0": 1e4}, P._mp_kl_beta, 1e-4),
    ("pareto-tiny", jd.Pareto, {"scale": 1e-30, "alpha": 1e-3}, {"scale": 0.99999e-30, "alpha": 1.00001e-3}, P._mp_kl_pareto, 1e-4),
    ("pareto-huge", jd.Pareto, {"scale": 1e30, "alpha": 1e4}, {"scale": 1e20, "alpha": 1e-3}, P._mp_kl_pareto, 1e-5),
    ("uniform-tiny", jd.Uniform, {"low": 1e-30, "high": 2e-30}, {"low": 0.99999e-30, "high": 2e-30}, P._mp_kl_uniform, 1e-4),
    ("uniform-huge", jd.Uniform, {"low": -1e30, "high": 1e30}, {"low": -1e35, "high": 1e35}, P._mp_kl_uniform, 1e-5),
    ("cb-probs-1e-6", jd.ContinuousBernoulli, {"probs": 1e-6}, {"probs": 1.00001e-6}, P._mp_kl_cb, 1e-4),
    ("cb-probs-near-1", jd.ContinuousBernoulli, {"probs": 1 - 2**-20}, {"probs": 1 - 2**-19}, P._mp_kl_cb, 1e-4),
    ("cb-across", jd.ContinuousBernoulli, {"probs": 1e-6}, {"probs": 1 - 1e-6}, P._mp_kl_cb, 1e-5),
    ("cb-in-lims", jd.ContinuousBernoulli, {"probs": 0.4995}, {"probs": 0.50049}, P._mp_kl_cb, 1e-4),
    ("cb-in-lims-near", jd.ContinuousBernoulli, {"probs": 0.49999}, {"probs": 0.50001}, P._mp_kl_cb, 1e-4),
    ("cb-logits-huge", jd.ContinuousBernoulli, {"logits": 80.0}, {"logits": 80.001}, P._mp_kl_cb, 1e-4),
    ("normal-scale-ratio-1e-30", jd.Normal, {"loc": 0.0, "scale": 1e-15}, {"loc": 0.0, "scale": 1e15}, P._mp_kl_normal, 1e-5),
    ("gamma-rate-ratio-1e-10", jd.Gamma, {"concentration": 2.0, "rate": 1e5}, {"concentration": 2.0, "rate": 1e-5}, P._mp_kl_gamma, 1e-5),
    ("cb-logits-opposite", jd.ContinuousBernoulli, {"logits": -60.0}, {"logits": 70.0}, P._mp_kl_cb, 1e-5),
]


def _mp_params(params):
    return {k: mp.mpf(float(np.float32(v))) for k, v in params.items()}


@pytest.mark.parametrize("cls,pp,qp,mp_kl,rtol", [pytest.param(*row[1:], id=row[0]) for row in EXTREME])
def test_extreme_parameters_are_finite_and_accurate(cls, pp, qp, mp_kl, rtol):
    mp.mp.dps = 50
    p = cls(**{k: jnp.float32(v) for k, v in pp.items()})
    q = cls(**{k: jnp.float32(v) for k, v in qp.items()})
    got = float(jd.kl_divergence(p, q))
    want = float(mp_kl(_mp_params(pp), _mp_params(qp)))
    assert np.isfinite(got), got
    assert abs(got - want) <= rtol * want, f"got {got!r}, mpmath {want!r}, rel err {abs(got - want) / want:.2e}"
