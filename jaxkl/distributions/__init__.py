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
from jaxkl.distributions.compound import Independent, MixtureSameFamily, TransformedDistribution
from jaxkl.distributions.continuous import (
    Beta,
    Cauchy,
    Chi,
    Chi2,
    ContinuousBernoulli,
    Exponential,
    Gamma,
    Gumbel,
    HalfCauchy,
    HalfNormal,
    InverseGamma,
    Kumaraswamy,
    Laplace,
    Logistic,
    LogitNormal,
    LogNormal,
    Moyal,
    Normal,
    Pareto,
    StudentT,
    TruncatedNormal,
    Uniform,
    Weibull,
)
from jaxkl.distributions.directional import (
    PowerSpherical,
    SphericalUniform,
    VonMises,
    VonMisesFisher,
)
from jaxkl.distributions.discrete import (
    Bernoulli,
    Binomial,
    Categorical,
    Geometric,
    Multinomial,
    NegativeBinomial,
    OneHotCategorical,
    Poisson,
    ProbitBernoulli,
)
from jaxkl.distributions.matrix import MatrixNormal, Wishart
from jaxkl.distributions.multivariate import (
    Dirichlet,
    LowRankMultivariateNormal,
    MultivariateNormal,
    MultivariateNormalDiag,
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
    # continuous
    "Normal",
    "HalfNormal",
    "Laplace",
    "Cauchy",
    "Gumbel",
    "Exponential",
    "Gamma",
    "Beta",
    "Pareto",
    "Uniform",
    "ContinuousBernoulli",
    "LogNormal",
    "Chi2",
    "Chi",
    "Weibull",
    "Kumaraswamy",
    "InverseGamma",
    "Moyal",
    "LogitNormal",
    "StudentT",
    "HalfCauchy",
    "Logistic",
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
