"""Distribution rows for the compound group (see cases.py for the format)."""

from __future__ import annotations

import numpy as np

from jaxkl import distributions as jd
from jaxkl.distributions import transforms as T
from tests._generators import torch64
from tests.distributions._case import DistCase


def _normal_params(rng):
    return {"loc": rng.normal(size=(2, 3)), "scale": rng.uniform(0.5, 1.5, size=(3,))}


def _torch_independent(prm):
    import torch.distributions as td

    return td.Independent(td.Normal(torch64(prm["loc"]), torch64(prm["scale"])), 1)


def _exp_affine_params(rng):
    return {
        "loc": rng.normal(size=(2, 3)) * 0.3,
        "scale": rng.uniform(0.2, 0.6, size=(3,)),
        "shift": rng.normal(size=(3,)),
    }


def _torch_exp_affine(prm):
    import torch.distributions as td

    base = td.Normal(torch64(prm["loc"]), torch64(prm["scale"]))
    return td.TransformedDistribution(
        base, [td.AffineTransform(torch64(prm["shift"]), 0.5), td.ExpTransform()]
    )


def _torch_sigmoid(prm):
    import torch.distributions as td

    return td.TransformedDistribution(
        td.Normal(torch64(prm["loc"]), torch64(prm["scale"])), td.SigmoidTransform()
    )


def _torch_tanh(prm):
    import torch.distributions as td

    base = td.Normal(torch64(prm["loc"]), torch64(prm["scale"]))
    return td.TransformedDistribution(base, [td.AffineTransform(0.0, 0.5), td.TanhTransform()])


def _power_params(rng):
    return {
        "loc": rng.normal(size=(2, 3)) * 0.3,
        "scale": rng.uniform(0.2, 0.5, size=(3,)),
        "exponent": rng.uniform(0.5, 2.0, size=(2, 1)),
    }


def _torch_power(prm):
    import torch.distributions as td

    base = td.Normal(torch64(prm["loc"]), torch64(prm["scale"]))
    return td.TransformedDistribution(
        base, [td.ExpTransform(), td.PowerTransform(torch64(prm["exponent"]))]
    )


_BAD_SCALE = [({"loc": np.zeros(3), "scale": -np.ones(3)}, "scale")]

CASES = [
    DistCase(
        jd.Independent,
        params=_normal_params,
        build=lambda prm: jd.Independent(jd.Normal(prm["loc"], prm["scale"]), 1),
        torch=_torch_independent,
        bad_params=_BAD_SCALE,
        id="Independent-Normal",
    ),
    DistCase(
        jd.TransformedDistribution,
        params=_exp_affine_params,
        build=lambda prm: jd.TransformedDistribution(
            jd.Normal(prm["loc"], prm["scale"]),
            [T.AffineTransform(prm["shift"], 0.5), T.ExpTransform()],
        ),
        torch=_torch_exp_affine,
        bad_params=[({"loc": np.zeros(3), "scale": np.zeros(3), "shift": 0.0}, "scale")],
        has_entropy=False,
        has_mean=False,
        has_variance=False,
        id="TransformedDistribution-affine-exp",
    ),
    DistCase(
        jd.TransformedDistribution,
        params=_normal_params,
        build=lambda prm: jd.TransformedDistribution(
            jd.Normal(prm["loc"], prm["scale"]), T.SigmoidTransform()
        ),
        torch=_torch_sigmoid,
        bad_params=_BAD_SCALE,
        has_entropy=False,
        has_mean=False,
        has_variance=False,
        id="TransformedDistribution-sigmoid",
    ),
    DistCase(
        jd.TransformedDistribution,
        params=_normal_params,
        build=lambda prm: jd.TransformedDistribution(
            jd.Normal(prm["loc"], prm["scale"]), [T.AffineTransform(0.0, 0.5), T.TanhTransform()]
        ),
        torch=_torch_tanh,
        bad_params=_BAD_SCALE,
        has_entropy=False,
        has_mean=False,
        has_variance=False,
        id="TransformedDistribution-affine-tanh",
    ),
    DistCase(
        jd.TransformedDistribution,
        params=_power_params,
        build=lambda prm: jd.TransformedDistribution(
            jd.Normal(prm["loc"], prm["scale"]),
            [T.ExpTransform(), T.PowerTransform(prm["exponent"])],
        ),
        torch=_torch_power,
        bad_params=[({"loc": np.zeros(3), "scale": -np.ones(3), "exponent": 2.0}, "scale")],
        has_entropy=False,
        has_mean=False,
        has_variance=False,
        id="TransformedDistribution-exp-power",
    ),
]


def _mixture_params(rng):
    return {
        "logits": rng.normal(size=(2, 3)),
        "loc": rng.normal(size=(2, 3)) * 2.0,
        "scale": rng.uniform(0.5, 1.5, size=(3,)),
    }


def _torch_mixture(prm):
    import torch.distributions as td

    return td.MixtureSameFamily(
        td.Categorical(logits=torch64(prm["logits"])),
        td.Normal(torch64(prm["loc"]), torch64(prm["scale"])),
    )


# MixtureSameFamily's mixing distribution is the discrete group's Categorical.
if hasattr(jd, "Categorical"):
    CASES.append(
        DistCase(
            jd.MixtureSameFamily,
            params=_mixture_params,
            build=lambda prm: jd.MixtureSameFamily(
                jd.Categorical(logits=prm["logits"]), jd.Normal(prm["loc"], prm["scale"])
            ),
            torch=_torch_mixture,
            bad_params=[
                ({"logits": np.zeros(3), "loc": np.zeros(3), "scale": -np.ones(3)}, "scale")
            ],
            has_entropy=False,
            id="MixtureSameFamily-Normal",
        )
    )
