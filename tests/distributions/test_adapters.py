"""from_numpyro / from_tfp / from_torch over the case tables.

For every row whose family the anchor library has, the row's distribution is built in that
library, converted back, and checked against the anchor: the same log densities at sample
points, and the same KL as the anchor's own ``kl_divergence`` where it registers the pair.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

# plain imports, not importorskip: the test extra (pyproject.toml) installs numpyro, TFP and
# torch, so one that does not import is a broken environment, which fails every test here
# instead of skipping them all
import numpyro.distributions as nd
import pytest
import tensorflow_probability.substrates.jax as tfp
import torch

from jaxkl import distributions as jd
from jaxkl.distributions import transforms as T
from tests.distributions.cases import CASES

tfd, tfb = tfp.distributions, tfp.bijectors
td = torch.distributions


def _keywords(d, given=None):
    """The keywords of ``d``'s constructor with their values in ``d``, or None.

    Of the alternative parametrisations (the keywords defaulting to None) the one ``d`` was
    built with (jaxkl keeps it as ``_name``), or ``given``. None where a value is a
    distribution: the compound families are built by hand.
    """
    keys = [
        p
        for p in inspect.signature(type(d).__init__).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ][1:]
    alternatives = [p.name for p in keys if p.default is None]
    if given is None and alternatives:
        given = next(k for k in alternatives if getattr(d, "_" + k) is not None)
    kwargs = {p.name: getattr(d, p.name) for p in keys if p.default is not None}
    if given is not None:
        kwargs[given] = getattr(d, given)
    return None if any(isinstance(v, jd.Distribution) for v in kwargs.values()) else kwargs


# -- jaxkl -> numpyro / TFP (the anchors are built from the row's jaxkl distribution) ----------

#: jaxkl keyword -> numpyro keyword, where they differ
_NUMPYRO_RENAMED = {
    "MatrixNormal": {"scale_row": "scale_tril_row", "scale_column": "scale_tril_column"}
}


def _to_numpyro(d):
    name = type(d).__name__
    if name == "Independent":
        base = _to_numpyro(d.base_distribution)
        return None if base is None else base.to_event(d.reinterpreted_batch_ndims)
    if name == "TransformedDistribution":
        base = _to_numpyro(d.base_distribution)
        ts = [_numpyro_transform(t) for t in d.transforms]
        return None if base is None or None in ts else nd.TransformedDistribution(base, ts)
    kwargs = _keywords(d)
    if kwargs is None:
        return None
    renamed = _NUMPYRO_RENAMED.get(name, {})
    kwargs = {renamed.get(k, k): v for k, v in kwargs.items()}
    # numpyro's probs / logits families are a class per parametrisation (BernoulliProbs ...)
    given = next((k for k in ("probs", "logits") if k in kwargs), "")
    cls = getattr(nd, name + given.capitalize(), None) or getattr(nd, name, None)
    return None if cls is None else cls(**kwargs)


def _numpyro_transform(t):
    import numpyro.distributions.transforms as nt

    if isinstance(t, T.AffineTransform):
        return nt.AffineTransform(t.loc, t.scale)
    if isinstance(t, T.ExpTransform):
        return nt.ExpTransform()
    if isinstance(t, T.SigmoidTransform):
        return nt.SigmoidTransform()
    if isinstance(t, T.PowerTransform):
        return nt.PowerTransform(t.exponent)
    return None


#: jaxkl family -> TFP class, where the names differ (TFP's Cholesky-factor classes)
_TFP_CLASS = {"MultivariateNormal": "MultivariateNormalTriL", "Wishart": "WishartTriL"}
#: jaxkl keyword -> TFP keyword, where they differ
_TFP_RENAMED = {"Pareto": {"alpha": "concentration"}, "InverseGamma": {"rate": "scale"}}


def _to_tfp(d):
    name = type(d).__name__
    if name == "Independent":
        base = _to_tfp(d.base_distribution)
        return None if base is None else tfd.Independent(base, d.reinterpreted_batch_ndims)
    if name == "TransformedDistribution":
        base = _to_tfp(d.base_distribution)
        bs = [_tfp_bijector(t) for t in d.transforms]
        return (
            None
            if base is None or None in bs
            else tfd.TransformedDistribution(base, tfb.Chain(bs[::-1]))
        )
    kwargs = _keywords(d, "scale_tril" if name in _TFP_CLASS else None)
    if kwargs is None:
        return None
    if name == "HalfCauchy":  # TFP's has a loc; jaxkl's is 0
        kwargs["loc"] = jnp.zeros_like(d.scale)
    renamed = _TFP_RENAMED.get(name, {})
    cls = getattr(tfd, _TFP_CLASS.get(name, name), None)
    return None if cls is None else cls(**{renamed.get(k, k): v for k, v in kwargs.items()})


def _tfp_bijector(t):
    if isinstance(t, T.AffineTransform):
        return tfb.Chain([tfb.Shift(t.loc), tfb.Scale(t.scale)])
    if isinstance(t, T.ExpTransform):
        return tfb.Exp()
    if isinstance(t, T.SigmoidTransform):
        return tfb.Sigmoid()
    if isinstance(t, T.TanhTransform):
        return tfb.Tanh()
    if isinstance(t, T.PowerTransform):
        return tfb.Power(t.exponent)
    return None


def _to_torch(row, params):
    if row.torch in (None, False):
        return None
    if row.torch is True:
        cls = getattr(td, row.cls.__name__)
        return cls(
            **{k: torch.as_tensor(np.array(v)) for k, v in params.items()}, validate_args=False
        )
    return row.torch(params)


# -- the tests ----------------------------------------------------------------------------

LIBS = {
    "numpyro": (lambda row, prm: _to_numpyro(row.make(prm)), jd.from_numpyro, nd.kl_divergence),
    "tfp": (lambda row, prm: _to_tfp(row.make(prm)), jd.from_tfp, tfd.kl_divergence),
    "torch": (_to_torch, jd.from_torch, td.kl_divergence),
}


def _anchor(lib, row, seed):
    params = row.params(np.random.default_rng(seed))
    with jax.numpy_dtype_promotion("standard"):
        try:
            return LIBS[lib][0](row, params)
        except (TypeError, ValueError, NotImplementedError, AttributeError):
            return None


#: Case rows the anchor library has no distribution for (or whose class this test does not
#: build there). Listed, so that a row that stops converting fails instead of being skipped.
NO_ANCHOR = {
    "numpyro": {
        "Chi", "ContinuousBernoulli-logits", "ContinuousBernoulli-probs", "LogitNormal",
        "MixtureSameFamily-Normal", "Moyal", "MultivariateNormalDiag",
        "OneHotCategorical", "PowerSpherical", "ProbitBernoulli[probits]",
        "ProbitBernoulli[probs]", "TransformedDistribution-affine-tanh", "VonMisesFisher",
        "Wishart[covariance_matrix]", "Wishart[precision_matrix]", "Wishart[scale_tril]",
    },
    "tfp": {
        "ContinuousBernoulli-logits", "ContinuousBernoulli-probs", "LowRankMultivariateNormal",
        "MatrixNormal", "MixtureSameFamily-Normal",
    },
    "torch": {
        "Chi", "Logistic", "LogitNormal", "MatrixNormal", "Moyal", "PowerSpherical",
        "TruncatedNormal", "TruncatedNormal[infinite bounds]", "VonMisesFisher",
    },
}  # fmt: skip


def _rows(lib):
    return [pytest.param(row, id=row.name) for row in CASES if row.name not in NO_ANCHOR[lib]]


def test_the_rows_without_an_anchor_are_exactly_those_listed():
    for lib, absent in NO_ANCHOR.items():
        assert {row.name for row in CASES if _anchor(lib, row, 0) is None} == absent, lib


#: anchors whose own KL is wrong: torch's Wishart-Wishart comes from its generic
#: exponential-family fallback and disagrees with the mean of torch's own log-density ratio
#: over torch's own samples (e.g. 0.52 against 6.28 +- 0.05), which jaxkl's value matches
_WRONG_ANCHOR_KL = {("torch", "Wishart")}


def _anchor_log_prob(lib, a, x):
    with jax.numpy_dtype_promotion("standard"):
        if lib == "torch":
            return a.log_prob(torch.as_tensor(np.array(x, np.float64))).detach().double().numpy()
        return np.asarray(a.log_prob(x), np.float64)


def _check(lib, row):
    a = _anchor(lib, row, 0)
    assert a is not None, f"{lib} builds no {row.name}"
    with jax.numpy_dtype_promotion("standard"):
        ours = LIBS[lib][1](a)
    assert isinstance(ours, jd.Distribution)
    want = row.make(row.params(np.random.default_rng(0)))
    if type(a).__name__ == row.cls.__name__ or lib != "torch":
        assert type(ours) is type(want), (type(ours), type(want))
    # else the row's torch reference is a stand-in of another class (a Bernoulli for
    # ProbitBernoulli, a MultivariateNormal for MultivariateNormalDiag): values still agree
    assert ours.batch_shape == want.batch_shape and ours.event_shape == want.event_shape
    x = want.sample(jax.random.key(0), (3,))
    np.testing.assert_allclose(ours.log_prob(x), _anchor_log_prob(lib, a, x), rtol=2e-4, atol=2e-4)
    # KL against the anchor's own, where the anchor registers the pair
    if (lib, row.cls.__name__) in _WRONG_ANCHOR_KL:
        return
    b = _anchor(lib, row, 1)
    try:
        with jax.numpy_dtype_promotion("standard"):
            theirs = LIBS[lib][2](a, b)
    except (NotImplementedError, TypeError, ValueError):
        return
    theirs = np.asarray(theirs.detach().double().numpy() if lib == "torch" else theirs, np.float64)
    with jax.numpy_dtype_promotion("standard"):
        ours_b = LIBS[lib][1](b)
    try:
        kl = np.asarray(jd.kl_divergence(ours, ours_b), np.float64)
    except NotImplementedError:
        return
    fin = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isposinf(kl), np.isposinf(theirs))
    np.testing.assert_allclose(kl[fin], theirs[fin], rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("row", _rows("numpyro"))
def test_from_numpyro_matches_numpyro(row):
    _check("numpyro", row)


@pytest.mark.parametrize("row", _rows("tfp"))
def test_from_tfp_matches_tfp(row):
    _check("tfp", row)


@pytest.mark.parametrize("row", _rows("torch"))
def test_from_torch_matches_torch(row):
    _check("torch", row)


def test_expanded_and_to_event_numpyro_distributions_convert():
    d = jd.from_numpyro(nd.Normal(0.0, 1.0).expand([3]).to_event(1))
    assert isinstance(d, jd.Independent) and d.event_shape == (3,) and d.batch_shape == ()


def test_tfp_chain_applies_the_last_bijector_first():
    a = tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), tfb.Chain([tfb.Exp(), tfb.Shift(1.0)]))
    d = jd.from_tfp(a)
    x = jnp.array([0.5, 2.0, 7.0])
    np.testing.assert_allclose(d.log_prob(x), a.log_prob(x), rtol=1e-5)


def test_unsupported_types_raise_type_errors_naming_them():
    with pytest.raises(TypeError, match="ZeroInflatedPoisson"):
        jd.from_numpyro(nd.ZeroInflatedPoisson(0.3, 2.0))
    with pytest.raises(TypeError, match="Horseshoe"):
        jd.from_tfp(tfd.Horseshoe(1.0))
    with pytest.raises(TypeError, match="LKJCholesky"):
        jd.from_torch(td.LKJCholesky(3, 1.0))
    with pytest.raises(TypeError, match="Normal"):
        jd.from_torch(nd.Normal(0.0, 1.0))  # a numpyro distribution given to from_torch
    with pytest.raises(TypeError, match="HalfCauchy"):
        jd.from_tfp(tfd.HalfCauchy(1.0, 2.0))  # jaxkl's HalfCauchy has loc 0


def test_import_jaxkl_imports_none_of_the_libraries():
    code = (
        "import sys, jaxkl, jaxkl.distributions; "
        "print([m for m in ('torch', 'numpyro', 'tensorflow_probability') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
