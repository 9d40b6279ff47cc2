"""Build jaxkl distributions from numpyro, TensorFlow Probability and torch ones.

``from_numpyro(d)``, ``from_tfp(d)`` and ``from_torch(d)`` return the jaxkl distribution
with the same parameters, for every family both sides have, including ``Independent``
(numpyro's ``to_event``), numpyro's ``expand``, ``MixtureSameFamily``, and transformed
distributions whose transforms (TFP: bijectors) are affine, exp, sigmoid, tanh or power
maps, their inverses and compositions. Anything else raises a ``TypeError`` naming the type.

A family converts by its name: the jaxkl class of the foreign class's name is built from
the foreign parameters named like its constructor's keywords (:func:`_by_name`). The
tables below hold only what that rule cannot see: renamed classes and parameters, which of
the alternative parametrisations a library keeps, and parameters needing a conversion.

No library is imported here: a distribution's library is told by its type's module, so
``import jaxkl`` never imports numpyro, TensorFlow Probability or torch. torch tensors are
converted with ``.detach().cpu().numpy()`` (float64 tensors stay float64 only with
``jax_enable_x64``).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxkl.distributions import transforms
from jaxkl.distributions._base import Distribution

__all__ = ["from_numpyro", "from_tfp", "from_torch"]


@functools.cache
def _families() -> SimpleNamespace:
    """Every family by name: the subclasses of Distribution the modules here export.

    Found when first needed, so that every module of the package has been imported.
    """
    found, stack = {}, [Distribution]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        module = sys.modules.get(cls.__module__)
        if cls.__module__.startswith(__package__ + ".") and cls.__name__ in getattr(
            module, "__all__", ()
        ):
            found[cls.__name__] = cls
    return SimpleNamespace(**found)


def _module_of(d: Any) -> str:
    return type(d).__module__ or ""


def _unsupported(lib: str, d: Any) -> TypeError:
    t = type(d)
    return TypeError(
        f"from_{lib}: no jaxkl equivalent for {t.__module__}.{t.__qualname__} "
        "(see the README's adapter table for what converts)"
    )


def _int_count(n: Any, owner: str) -> int | None:
    """A Multinomial's ``total_count`` as the one Python int jaxkl's static field needs."""
    if n is None:
        return None
    values = np.unique(np.asarray(n))
    if values.size != 1 or values[0] != int(values[0]):
        raise TypeError(f"{owner}: jaxkl's Multinomial needs one integer total_count, got {n!r}")
    return int(values[0])


def _constructor(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(parameters, alternatives)``: the keywords of a family's constructor.

    The alternatives default to ``None``, and exactly one of them is given (``probs`` /
    ``logits``, the three matrices of a Gaussian); the parameters are the other keywords
    (``validate_args``, keyword-only, is neither).
    """
    keys = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ][1:]
    return (
        tuple(p.name for p in keys if p.default is not None),
        tuple(p.name for p in keys if p.default is None),
    )


def _by_name(
    d: Any,
    family: str,
    read: Callable[[str], Any],
    special: dict[str, Callable[[Any], Any]],
    given: str | None = None,
):
    """The jaxkl ``family`` built from the parameters of ``d`` of the same names, or ``None``.

    ``read(keyword)`` is the foreign parameter for a keyword of the constructor (``None``
    where ``d`` has none); ``special`` maps the keywords the library names or stores
    otherwise to their readers (``reader(d)``). A family with alternative parametrisations
    takes the one named ``given``, or without it the first one found (TFP keeps the ones
    not given as ``None``). ``None`` when ``family`` is no jaxkl family or a parameter is
    missing.
    """
    cls = getattr(_families(), family, None)
    if cls is None:
        return None

    def get(k):
        return special[k](d) if k in special else read(k)

    params, alternatives = _constructor(cls)
    kwargs = {k: get(k) for k in params}
    if alternatives:
        if given is None:
            given = next((k for k in alternatives if get(k) is not None), None)
        if given not in alternatives:
            return None
        kwargs[given] = get(given)
    if any(v is None for v in kwargs.values()):
        return None
    return cls(**kwargs)


#: numpyro and torch compute the matrices of these families from the Cholesky factor they
#: keep, whichever matrix they were given: the factor is the parameter to read
_SCALE_TRIL_KEPT = ("MultivariateNormal", "Wishart")

#: numpyro's and torch's transforms (the same class names) that convert, by library
_TRANSFORMS = {
    "numpyro": {
        "AffineTransform",
        "ExpTransform",
        "SigmoidTransform",
        "PowerTransform",
        "ComposeTransform",
        "_InverseTransform",
        "IdentityTransform",
    },
    "torch": {
        "AffineTransform",
        "ExpTransform",
        "SigmoidTransform",
        "TanhTransform",
        "PowerTransform",
        "ComposeTransform",
        "_InverseTransform",
        "IndependentTransform",
    },
}


def _transform(lib: str, t: Any, param: Callable[[Any], Any]) -> list:
    """The jaxkl transforms (first applied first) for a numpyro or torch transform.

    ``param`` converts an array parameter. numpyro's affine map has no ``event_dim``
    attribute (only a private ``_event_dim`` in some versions); torch's has one.
    """
    tr = transforms
    name = type(t).__name__
    if name not in _TRANSFORMS[lib]:
        raise _unsupported(lib, t)
    if name == "AffineTransform":
        event_dim = int(getattr(t, "event_dim", getattr(t, "_event_dim", 0)) or 0)
        return [tr.AffineTransform(param(t.loc), param(t.scale), event_dim=event_dim)]
    if name == "PowerTransform":
        return [tr.PowerTransform(param(t.exponent))]
    if name == "ComposeTransform":
        return [u for part in t.parts for u in _transform(lib, part, param)]
    if name == "_InverseTransform":
        return [u.inv for u in reversed(_transform(lib, t._inv, param))]
    if name == "IndependentTransform":
        return _transform(lib, t.base_transform, param)
    if name == "IdentityTransform":
        return []
    return [getattr(tr, name)()]  # Exp, Sigmoid, Tanh: no parameters


# --------------------------------------------------------------------------- numpyro

#: jaxkl keyword -> its reader, where numpyro names or stores it otherwise
_NUMPYRO_READ: dict[str, dict[str, Callable[[Any], Any]]] = {
    "MatrixNormal": {
        "scale_row": attrgetter("scale_tril_row"),
        "scale_column": attrgetter("scale_tril_column"),
    },
    "Wishart": {"df": attrgetter("concentration")},
    "Multinomial": {"total_count": lambda d: _int_count(d.total_count, "from_numpyro")},
}


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
    jd = _families()
    name = type(d).__name__
    # numpyro's probs / logits families are a class per parametrisation
    family, given = name, "scale_tril" if name in _SCALE_TRIL_KEPT else None
    for suffix in ("Probs", "Logits"):
        if name.endswith(suffix):
            family, given = name[: -len(suffix)], suffix.lower()
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
        ts = [u for t in d.transforms for u in _transform("numpyro", t, lambda x: x)]
        return jd.TransformedDistribution(from_numpyro(d.base_dist), ts)
    out = _by_name(d, family, lambda k: getattr(d, k, None), _NUMPYRO_READ.get(family, {}), given)
    if out is None:
        raise _unsupported("numpyro", d)
    return out


# --------------------------------------------------------------------------- TFP

#: TFP class -> jaxkl family, where the names differ
_TFP_FAMILY = {
    "MultivariateNormalTriL": "MultivariateNormal",
    "MultivariateNormalFullCovariance": "MultivariateNormal",
    "WishartTriL": "Wishart",
}
#: jaxkl keyword -> its reader, where TFP names or stores it otherwise
_TFP_READ: dict[str, dict[str, Callable[[Any], Any]]] = {
    "Pareto": {"alpha": lambda d: d.parameters.get("concentration")},
    # TFP's InverseGamma(concentration, scale): density ~ x^(-c-1) exp(-scale/x)
    "InverseGamma": {"rate": lambda d: d.parameters.get("scale")},
    "MultivariateNormalDiag": {"loc": lambda d: _tfp_loc_or_zero(d)},
    "Multinomial": {
        "total_count": lambda d: _int_count(d.parameters.get("total_count"), "from_tfp")
    },
}


def _tfp_loc_or_zero(d: Any):
    """A TFP ``loc``: ``None`` is a zero mean (of ``scale_diag``'s shape)."""
    loc, scale_diag = d.parameters.get("loc"), d.parameters.get("scale_diag")
    return jnp.zeros_like(scale_diag) if loc is None and scale_diag is not None else loc


def _tfp_read(d: Any, name: str):
    """TFP's parameter ``name``, or ``exp`` of its ``log_<name>`` alternative (``log_rate``)."""
    value = d.parameters.get(name)
    if value is None and d.parameters.get("log_" + name) is not None:
        value = jnp.exp(d.parameters["log_" + name])
    return value


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
    jd = _families()
    name = type(d).__name__
    if name == "HalfCauchy":
        loc = d.parameters.get("loc")
        if loc is not None and np.any(np.asarray(loc) != 0):
            raise TypeError(
                "from_tfp: jaxkl's HalfCauchy has loc 0; got a TFP HalfCauchy with loc != 0"
            )
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
    out = _by_name(
        d, _TFP_FAMILY.get(name, name), lambda k: _tfp_read(d, k), _TFP_READ.get(name, {})
    )
    if out is None:
        raise _unsupported("tfp", d)
    return out


# --------------------------------------------------------------------------- torch

#: jaxkl keyword -> its reader, where torch names or stores it otherwise
_TORCH_READ: dict[str, dict[str, Callable[[Any], Any]]] = {
    "ContinuousBernoulli": {"lims": lambda d: tuple(d._lims)},
    "Multinomial": {"total_count": lambda d: int(d.total_count)},
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
    jd = _families()
    name = type(d).__name__
    if name == "Independent":
        return jd.Independent(from_torch(d.base_dist), int(d.reinterpreted_batch_ndims))
    if name == "TransformedDistribution":
        ts = [u for t in d.transforms for u in _transform("torch", t, _np)]
        return jd.TransformedDistribution(from_torch(d.base_dist), ts)
    if name == "MixtureSameFamily":
        return jd.MixtureSameFamily(
            from_torch(d.mixture_distribution), from_torch(d.component_distribution)
        )
    given = "scale_tril" if name in _SCALE_TRIL_KEPT else _torch_given(d)
    out = _by_name(
        d,
        name,
        lambda k: _np(getattr(d, k)) if hasattr(d, k) else None,
        _TORCH_READ.get(name, {}),
        given,
    )
    if out is None:
        raise _unsupported("torch", d)
    return out


#: what converts, by library: used by the README table and the tests
CONVERTS: dict[str, Callable[..., Any]] = {
    "numpyro": from_numpyro,
    "tfp": from_tfp,
    "torch": from_torch,
}
