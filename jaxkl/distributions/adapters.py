"""Build jaxkl distributions from numpyro, TensorFlow Probability and torch ones.

``from_numpyro(d)``, ``from_tfp(d)`` and ``from_torch(d)`` return the jaxkl distribution
with the same parameters, for every family both sides have, including ``Independent``
(numpyro's ``to_event``), numpyro's ``expand``, ``MixtureSameFamily``, and transformed
distributions whose transforms (TFP: bijectors) are affine, exp, sigmoid, tanh or power
maps, their inverses and compositions. Anything else raises a ``TypeError`` naming the type.

No library is imported here: a distribution's library is told by its type's module, so
``import jaxkl`` never imports numpyro, TensorFlow Probability or torch. torch tensors are
converted with ``.detach().cpu().numpy()`` (float64 tensors stay float64 only with
``jax_enable_x64``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxkl.distributions import (
    compound,
    continuous,
    directional,
    discrete,
    matrix,
    multivariate,
    transforms,
)

__all__ = ["from_numpyro", "from_tfp", "from_torch"]


def _namespace() -> SimpleNamespace:
    """Every family of the group modules by name (what ``jaxkl.distributions`` re-exports)."""
    groups = (compound, continuous, directional, discrete, matrix, multivariate)
    return SimpleNamespace(**{n: getattr(m, n) for m in groups for n in m.__all__})


_FAMILIES = _namespace()


def _family(name: str):
    cls = getattr(_FAMILIES, name, None)
    if cls is None:  # pragma: no cover - every family named below exists
        raise TypeError(f"jaxkl has no family {name}")
    return cls


def _module_of(d: Any) -> str:
    return type(d).__module__ or ""


def _unsupported(lib: str, d: Any) -> TypeError:
    t = type(d)
    return TypeError(
        f"from_{lib}: no jaxkl equivalent for {t.__module__}.{t.__qualname__} "
        "(see the README's adapter table for what converts)"
    )


def _int_count(n: Any, owner: str) -> int:
    values = np.unique(np.asarray(n))
    if values.size != 1 or values[0] != int(values[0]):
        raise TypeError(f"{owner}: jaxkl's Multinomial needs one integer total_count, got {n!r}")
    return int(values[0])


# --------------------------------------------------------------------------- numpyro

#: families with the same constructor keywords as jaxkl (numpyro's attribute names)
_NUMPYRO_SAME = {
    "Normal": ("loc", "scale"),
    "HalfNormal": ("scale",),
    "Laplace": ("loc", "scale"),
    "Cauchy": ("loc", "scale"),
    "Gumbel": ("loc", "scale"),
    "Exponential": ("rate",),
    "Gamma": ("concentration", "rate"),
    "Chi2": ("df",),
    "Beta": ("concentration1", "concentration0"),
    "Pareto": ("scale", "alpha"),
    "Uniform": ("low", "high"),
    "LogNormal": ("loc", "scale"),
    "Weibull": ("scale", "concentration"),
    "Kumaraswamy": ("concentration1", "concentration0"),
    "InverseGamma": ("concentration", "rate"),
    "VonMises": ("loc", "concentration"),
    "Poisson": ("rate",),
    "Dirichlet": ("concentration",),
    "StudentT": ("df", "loc", "scale"),
    "HalfCauchy": ("scale",),
    "Logistic": ("loc", "scale"),
    "LowRankMultivariateNormal": ("loc", "cov_factor", "cov_diag"),
}

#: numpyro's probs/logits classes: name -> (jaxkl family, given parameter, other keywords)
_NUMPYRO_BINARY = {
    "BernoulliProbs": ("Bernoulli", "probs", ()),
    "BernoulliLogits": ("Bernoulli", "logits", ()),
    "BinomialProbs": ("Binomial", "probs", ("total_count",)),
    "BinomialLogits": ("Binomial", "logits", ("total_count",)),
    "CategoricalProbs": ("Categorical", "probs", ()),
    "CategoricalLogits": ("Categorical", "logits", ()),
    "GeometricProbs": ("Geometric", "probs", ()),
    "GeometricLogits": ("Geometric", "logits", ()),
    "NegativeBinomialProbs": ("NegativeBinomial", "probs", ("total_count",)),
    "NegativeBinomialLogits": ("NegativeBinomial", "logits", ("total_count",)),
}


def _numpyro_transform(t: Any):
    tr = transforms
    name = type(t).__name__
    if name == "AffineTransform":
        return [tr.AffineTransform(t.loc, t.scale, event_dim=int(getattr(t, "_event_dim", 0) or 0))]
    if name == "ExpTransform":
        return [tr.ExpTransform()]
    if name == "SigmoidTransform":
        return [tr.SigmoidTransform()]
    if name == "PowerTransform":
        return [tr.PowerTransform(t.exponent)]
    if name == "ComposeTransform":
        return [u for part in t.parts for u in _numpyro_transform(part)]
    if name == "_InverseTransform":
        inner = _numpyro_transform(t._inv)
        return [u.inv for u in reversed(inner)]
    if name == "IdentityTransform":
        return []
    raise _unsupported("numpyro", t)


def from_numpyro(d: Any):
    """The jaxkl distribution with the parameters of a numpyro distribution.

    Args:
        d: a ``numpyro.distributions`` distribution (see the README's adapter table).

    Returns:
        A :class:`~jaxkl.distributions.Distribution` of the same family and parameters.

    Raises:
        TypeError: ``d`` is not a numpyro distribution, or its family (or a transform) has
            no jaxkl equivalent. The message names the type.

    Examples:
        >>> import numpyro.distributions as nd
        >>> from jaxkl import distributions as jd
        >>> jd.from_numpyro(nd.Normal(0.0, 2.0).to_event(0))
        Normal(loc: (), scale: ())
    """
    if not _module_of(d).startswith("numpyro."):
        raise _unsupported("numpyro", d)
    jd = _FAMILIES
    name = type(d).__name__
    if name in _NUMPYRO_SAME:
        return _family(name)(**{k: getattr(d, k) for k in _NUMPYRO_SAME[name]})
    if name in _NUMPYRO_BINARY:
        family, given, others = _NUMPYRO_BINARY[name]
        return _family(family)(**{k: getattr(d, k) for k in others}, **{given: getattr(d, given)})
    if name in ("MultinomialProbs", "MultinomialLogits"):
        given = "probs" if name.endswith("Probs") else "logits"
        return jd.Multinomial(
            _int_count(d.total_count, "from_numpyro"), **{given: getattr(d, given)}
        )
    if name == "MultivariateNormal":
        return jd.MultivariateNormal(d.loc, scale_tril=d.scale_tril)
    if name == "MatrixNormal":
        return jd.MatrixNormal(d.loc, d.scale_tril_row, d.scale_tril_column)
    if name == "Wishart":
        return jd.Wishart(d.concentration, scale_tril=d.scale_tril)
    if name in (
        "TwoSidedTruncatedDistribution",
        "LeftTruncatedDistribution",
        "RightTruncatedDistribution",
    ):
        if type(d.base_dist).__name__ != "Normal":
            raise _unsupported("numpyro", d)
        low = getattr(d, "low", -jnp.inf)
        high = getattr(d, "high", jnp.inf)
        return jd.TruncatedNormal(d.base_dist.loc, d.base_dist.scale, low, high)
    if name == "Independent":
        return jd.Independent(from_numpyro(d.base_dist), d.reinterpreted_batch_ndims)
    if name == "ExpandedDistribution":
        return from_numpyro(d.base_dist).expand(tuple(d.batch_shape))
    if name == "MixtureSameFamily":
        return jd.MixtureSameFamily(
            from_numpyro(d.mixing_distribution), from_numpyro(d.component_distribution)
        )
    if name == "TransformedDistribution":
        ts = [u for t in d.transforms for u in _numpyro_transform(t)]
        return jd.TransformedDistribution(from_numpyro(d.base_dist), ts)
    raise _unsupported("numpyro", d)


# --------------------------------------------------------------------------- TFP

#: TFP name -> (jaxkl family, {jaxkl keyword: TFP parameter})
_TFP_SAME: dict[str, tuple[str, dict[str, str]]] = {
    name: (name, {k: k for k in keys})
    for name, keys in {
        "Normal": ("loc", "scale"),
        "HalfNormal": ("scale",),
        "Laplace": ("loc", "scale"),
        "Cauchy": ("loc", "scale"),
        "Gumbel": ("loc", "scale"),
        "Beta": ("concentration1", "concentration0"),
        "Uniform": ("low", "high"),
        "LogNormal": ("loc", "scale"),
        "Chi2": ("df",),
        "Chi": ("df",),
        "Kumaraswamy": ("concentration1", "concentration0"),
        "VonMises": ("loc", "concentration"),
        "VonMisesFisher": ("mean_direction", "concentration"),
        "PowerSpherical": ("mean_direction", "concentration"),
        "Moyal": ("loc", "scale"),
        "LogitNormal": ("loc", "scale"),
        "Dirichlet": ("concentration",),
        "StudentT": ("df", "loc", "scale"),
        "Logistic": ("loc", "scale"),
        "TruncatedNormal": ("loc", "scale", "low", "high"),
    }.items()
}
_TFP_SAME.update(
    {
        "Pareto": ("Pareto", {"scale": "scale", "alpha": "concentration"}),
        "Weibull": ("Weibull", {"scale": "scale", "concentration": "concentration"}),
        # TFP's InverseGamma(concentration, scale): density ~ x^(-c-1) exp(-scale/x)
        "InverseGamma": ("InverseGamma", {"concentration": "concentration", "rate": "scale"}),
        "MultivariateNormalTriL": (
            "MultivariateNormal",
            {"loc": "loc", "scale_tril": "scale_tril"},
        ),
        "MultivariateNormalFullCovariance": (
            "MultivariateNormal",
            {"loc": "loc", "covariance_matrix": "covariance_matrix"},
        ),
        "WishartTriL": ("Wishart", {"df": "df", "scale_tril": "scale_tril"}),
    }
)

#: TFP families given by probs or logits: name -> (jaxkl family, other keywords)
_TFP_BINARY = {
    "Bernoulli": ("Bernoulli", ()),
    "Binomial": ("Binomial", ("total_count",)),
    "Categorical": ("Categorical", ()),
    "OneHotCategorical": ("OneHotCategorical", ()),
    "Geometric": ("Geometric", ()),
    "NegativeBinomial": ("NegativeBinomial", ("total_count",)),
}


def _tfp_param(d: Any, name: str):
    value = d.parameters.get(name)
    if value is None:
        raise _unsupported("tfp", d)
    return value


def _tfp_probs_or_logits(d: Any) -> dict[str, Any]:
    if d.parameters.get("logits") is not None:
        return {"logits": d.parameters["logits"]}
    return {"probs": _tfp_param(d, "probs")}


def _tfp_bijector(b: Any):
    """The jaxkl transforms (first applied first) for a TFP bijector."""
    tr = transforms
    name = type(b).__name__
    params = getattr(b, "parameters", {})
    if name == "Shift":
        return [tr.AffineTransform(params["shift"], 1.0)]
    if name == "Scale":
        scale = params.get("scale")
        if scale is None:
            scale = jnp.exp(params["log_scale"])
        return [tr.AffineTransform(0.0, scale)]
    if name == "Exp":
        return [tr.ExpTransform()]
    if name == "Log":
        return [tr.ExpTransform().inv]
    if name == "Sigmoid" and params.get("low") is None and params.get("high") is None:
        return [tr.SigmoidTransform()]
    if name == "Tanh":
        return [tr.TanhTransform()]
    if name == "Power":
        return [tr.PowerTransform(params["power"])]
    if name == "Identity":
        return []
    if name == "Chain":  # Chain([b1, b2])(x) = b1(b2(x)): the last bijector acts first
        return [u for part in reversed(list(b.bijectors)) for u in _tfp_bijector(part)]
    if name == "Invert":
        inner = _tfp_bijector(b.bijector)
        return [u.inv for u in reversed(inner)]
    raise _unsupported("tfp", b)


def from_tfp(d: Any):
    """The jaxkl distribution with the parameters of a TensorFlow Probability distribution.

    Works for ``tensorflow_probability.substrates.jax`` (and its other substrates) by
    class name and ``d.parameters``.

    Args:
        d: a TFP distribution (see the README's adapter table).

    Returns:
        A :class:`~jaxkl.distributions.Distribution` of the same family and parameters.

    Raises:
        TypeError: ``d`` is not a TFP distribution, or its family (or bijector) has no
            jaxkl equivalent, or a parametrisation jaxkl lacks (``HalfCauchy`` with a
            non-zero ``loc``, ``MultivariateNormalDiag`` without ``scale_diag`` ...).
            The message names the type.
    """
    if not _module_of(d).startswith("tensorflow_probability."):
        raise _unsupported("tfp", d)
    jd = _FAMILIES
    name = type(d).__name__
    if name in _TFP_SAME:
        family, keys = _TFP_SAME[name]
        return _family(family)(**{k: _tfp_param(d, v) for k, v in keys.items()})
    if name in _TFP_BINARY:
        family, others = _TFP_BINARY[name]
        return _family(family)(**{k: _tfp_param(d, k) for k in others}, **_tfp_probs_or_logits(d))
    if name in ("Exponential", "Poisson", "Gamma"):
        rate = d.parameters.get("rate")
        if rate is None:
            rate = jnp.exp(_tfp_param(d, "log_rate"))
        if name == "Gamma":
            return jd.Gamma(_tfp_param(d, "concentration"), rate)
        return _family(name)(rate)
    if name == "MultivariateNormalDiag":
        scale_diag = _tfp_param(d, "scale_diag")
        loc = d.parameters.get("loc")
        return jd.MultivariateNormalDiag(
            jnp.zeros_like(scale_diag) if loc is None else loc, scale_diag
        )
    if name == "HalfCauchy":
        loc = d.parameters.get("loc")
        if loc is not None and np.any(np.asarray(loc) != 0):
            raise TypeError(
                "from_tfp: jaxkl's HalfCauchy has loc 0; got a TFP HalfCauchy with loc != 0"
            )
        return jd.HalfCauchy(_tfp_param(d, "scale"))
    if name == "Multinomial":
        return jd.Multinomial(
            _int_count(_tfp_param(d, "total_count"), "from_tfp"), **_tfp_probs_or_logits(d)
        )
    if name == "SphericalUniform":
        return jd.SphericalUniform(int(d.parameters["dimension"]), tuple(d.batch_shape))
    if name == "Independent":
        ndims = d.parameters.get("reinterpreted_batch_ndims")
        if ndims is None:
            ndims = len(d.distribution.batch_shape)
        return jd.Independent(from_tfp(d.distribution), int(ndims))
    if name == "TransformedDistribution":
        return jd.TransformedDistribution(from_tfp(d.distribution), _tfp_bijector(d.bijector))
    if name == "MixtureSameFamily":
        return jd.MixtureSameFamily(
            from_tfp(d.mixture_distribution), from_tfp(d.components_distribution)
        )
    raise _unsupported("tfp", d)


# --------------------------------------------------------------------------- torch

_TORCH_SAME = {
    "Normal": ("loc", "scale"),
    "HalfNormal": ("scale",),
    "Laplace": ("loc", "scale"),
    "Cauchy": ("loc", "scale"),
    "Gumbel": ("loc", "scale"),
    "Exponential": ("rate",),
    "Gamma": ("concentration", "rate"),
    "Chi2": ("df",),
    "Beta": ("concentration1", "concentration0"),
    "Pareto": ("scale", "alpha"),
    "Uniform": ("low", "high"),
    "LogNormal": ("loc", "scale"),
    "Weibull": ("scale", "concentration"),
    "Kumaraswamy": ("concentration1", "concentration0"),
    "InverseGamma": ("concentration", "rate"),
    "VonMises": ("loc", "concentration"),
    "Poisson": ("rate",),
    "Dirichlet": ("concentration",),
    "StudentT": ("df", "loc", "scale"),
    "HalfCauchy": ("scale",),
    "LowRankMultivariateNormal": ("loc", "cov_factor", "cov_diag"),
}
#: torch families given by probs or logits: name -> other keywords
_TORCH_BINARY = {
    "Bernoulli": (),
    "Binomial": ("total_count",),
    "Categorical": (),
    "OneHotCategorical": (),
    "Geometric": (),
    "NegativeBinomial": ("total_count",),
    "ContinuousBernoulli": (),
}


def _np(t: Any):
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return jnp.asarray(t)


def _torch_given(d: Any) -> str:
    """Which of ``probs`` / ``logits`` the torch distribution was built from."""
    param = getattr(d, "_param", None)
    if param is not None and param is vars(d).get("logits"):
        return "logits"
    if param is not None and param is vars(d).get("probs"):
        return "probs"
    return "logits" if "logits" in vars(d) else "probs"


def _torch_transform(t: Any):
    tr = transforms
    name = type(t).__name__
    if name == "AffineTransform":
        return [tr.AffineTransform(_np(t.loc), _np(t.scale), event_dim=int(t.event_dim))]
    if name == "ExpTransform":
        return [tr.ExpTransform()]
    if name == "SigmoidTransform":
        return [tr.SigmoidTransform()]
    if name == "TanhTransform":
        return [tr.TanhTransform()]
    if name == "PowerTransform":
        return [tr.PowerTransform(_np(t.exponent))]
    if name == "ComposeTransform":
        return [u for part in t.parts for u in _torch_transform(part)]
    if name == "_InverseTransform":
        return [u.inv for u in reversed(_torch_transform(t._inv))]
    if name == "IndependentTransform":
        return _torch_transform(t.base_transform)
    raise _unsupported("torch", t)


def from_torch(d: Any):
    """The jaxkl distribution with the parameters of a torch distribution.

    Parameters are converted with ``.detach().cpu().numpy()``.

    Args:
        d: a ``torch.distributions`` distribution (see the README's adapter table).

    Returns:
        A :class:`~jaxkl.distributions.Distribution` of the same family and parameters.

    Raises:
        TypeError: ``d`` is not a torch distribution, or its family (or a transform) has
            no jaxkl equivalent. The message names the type.
    """
    if not _module_of(d).startswith("torch.distributions"):
        raise _unsupported("torch", d)
    jd = _FAMILIES
    name = type(d).__name__
    if name in _TORCH_SAME:
        return _family(name)(**{k: _np(getattr(d, k)) for k in _TORCH_SAME[name]})
    if name in _TORCH_BINARY:
        given = _torch_given(d)
        kwargs = {k: _np(getattr(d, k)) for k in _TORCH_BINARY[name]}
        if name == "ContinuousBernoulli":
            kwargs["lims"] = tuple(d._lims)
        return _family(name)(**kwargs, **{given: _np(getattr(d, given))})
    if name == "Multinomial":
        given = _torch_given(d)
        return jd.Multinomial(int(d.total_count), **{given: _np(getattr(d, given))})
    if name == "MultivariateNormal":
        return jd.MultivariateNormal(_np(d.loc), scale_tril=_np(d.scale_tril))
    if name == "Wishart":
        return jd.Wishart(_np(d.df), scale_tril=_np(d.scale_tril))
    if name == "Independent":
        return jd.Independent(from_torch(d.base_dist), int(d.reinterpreted_batch_ndims))
    if name == "TransformedDistribution":
        ts = [u for t in d.transforms for u in _torch_transform(t)]
        return jd.TransformedDistribution(from_torch(d.base_dist), ts)
    if name == "MixtureSameFamily":
        return jd.MixtureSameFamily(
            from_torch(d.mixture_distribution), from_torch(d.component_distribution)
        )
    raise _unsupported("torch", d)


#: what converts, by library: used by the README table and the tests
CONVERTS: dict[str, Callable[..., Any]] = {
    "numpyro": from_numpyro,
    "tfp": from_tfp,
    "torch": from_torch,
}
