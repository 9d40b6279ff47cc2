"""Distributions as immutable pytrees, and KL between them.

Every class has torch.distributions' constructor keywords (TFP's where torch lacks the
family), ``batch_shape``, ``event_shape``, ``log_prob``, ``sample(key, sample_shape)``,
``entropy`` and, where they exist, ``mean`` and ``variance``.

The KL entry points are :mod:`jaxkl.kl`'s, re-exported at the bottom: ``jaxkl.kl`` imports
the submodules of this package (never this ``__init__``), so by the time the re-export runs
every class exists, and importing it registers every closed form.
"""

from jaxkl.distributions import constraints, transforms
from jaxkl.distributions._base import Distribution, ExponentialFamily, set_default_validate_args
from jaxkl.distributions.categorical import (
    Bernoulli,
    Categorical,
    OneHotCategorical,
    ProbitBernoulli,
)
from jaxkl.distributions.compound import Independent, MixtureSameFamily, TransformedDistribution
from jaxkl.distributions.counts import Binomial, Geometric, Multinomial, NegativeBinomial, Poisson
from jaxkl.distributions.directional import (
    PowerSpherical,
    SphericalUniform,
    VonMises,
    VonMisesFisher,
)
from jaxkl.distributions.interval import (
    Beta,
    ContinuousBernoulli,
    Kumaraswamy,
    LogitNormal,
    TruncatedNormal,
    Uniform,
)
from jaxkl.distributions.matrix import MatrixNormal, Wishart
from jaxkl.distributions.multivariate import (
    Dirichlet,
    LowRankMultivariateNormal,
    MultivariateNormal,
    MultivariateNormalDiag,
)
from jaxkl.distributions.positive import (
    Chi,
    Chi2,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Pareto,
    Weibull,
)
from jaxkl.distributions.real_line import (
    Cauchy,
    Gumbel,
    Laplace,
    Logistic,
    Moyal,
    Normal,
    StudentT,
)

# Last: jaxkl.kl depends on the modules above (isort: skip keeps it here).
from jaxkl.kl import (  # isort: skip
    exponential_family_kl,
    kl_divergence,
    mixture_kl_upper_bound,
    mixture_kl_variational,
    monte_carlo_kl,
    quadrature_kl,
    register_kl,
)
from jaxkl.distributions.adapters import from_numpyro, from_tfp, from_torch  # isort: skip

__all__ = [
    # base class, configuration, submodules of helpers
    "Distribution",
    "ExponentialFamily",
    "constraints",
    "transforms",
    "set_default_validate_args",
    # KL (from jaxkl.kl)
    "kl_divergence",
    "register_kl",
    "monte_carlo_kl",
    "exponential_family_kl",
    "mixture_kl_variational",
    "mixture_kl_upper_bound",
    "quadrature_kl",
    # adapters
    "from_numpyro",
    "from_tfp",
    "from_torch",
    # the real line
    "Normal",
    "Laplace",
    "Cauchy",
    "Gumbel",
    "Logistic",
    "Moyal",
    "StudentT",
    # the positive half-line
    "HalfNormal",
    "HalfCauchy",
    "Exponential",
    "Gamma",
    "Chi2",
    "Chi",
    "InverseGamma",
    "Weibull",
    "LogNormal",
    "Pareto",
    # an interval
    "Beta",
    "Kumaraswamy",
    "Uniform",
    "ContinuousBernoulli",
    "LogitNormal",
    "TruncatedNormal",
    # discrete
    "Bernoulli",
    "Binomial",
    "Categorical",
    "OneHotCategorical",
    "Geometric",
    "Poisson",
    "ProbitBernoulli",
    "Multinomial",
    "NegativeBinomial",
    # multivariate
    "MultivariateNormal",
    "LowRankMultivariateNormal",
    "MultivariateNormalDiag",
    "Dirichlet",
    # directional
    "VonMises",
    "VonMisesFisher",
    "PowerSpherical",
    "SphericalUniform",
    # compound
    "Independent",
    "TransformedDistribution",
    "MixtureSameFamily",
    # matrix
    "Wishart",
    "MatrixNormal",
]
