"""Distributions as immutable pytrees, and KL between them.

Every class has torch.distributions' constructor keywords (TFP's where torch lacks the
family), ``batch_shape``, ``event_shape``, ``log_prob``, ``sample(key, sample_shape)``,
``entropy`` and, where they exist, ``mean`` and ``variance``.
"""

from jaxkl.distributions import constraints, transforms
from jaxkl.distributions._base import Distribution, ExponentialFamily, set_default_validate_args
from jaxkl.distributions.continuous import *  # noqa: F401,F403
from jaxkl.distributions.discrete import *  # noqa: F401,F403
from jaxkl.distributions.multivariate import *  # noqa: F401,F403
from jaxkl.distributions.directional import *  # noqa: F401,F403
from jaxkl.distributions.compound import *  # noqa: F401,F403
from jaxkl.distributions.continuous_extra import *  # noqa: F401,F403
from jaxkl.distributions import continuous_extra
from jaxkl.distributions.discrete_extra import *  # noqa: F401,F403
from jaxkl.distributions.matrix import *  # noqa: F401,F403
from jaxkl.distributions import continuous, discrete, multivariate, directional, compound
from jaxkl.distributions import discrete_extra, matrix

# The KL registry lives in jaxkl.kl, which imports the modules above (never the reverse).
from jaxkl.kl import kl_divergence, register_kl  # noqa: E402
from jaxkl.kl import monte_carlo_kl, mixture_kl_upper_bound, mixture_kl_variational  # noqa: E402
from jaxkl.kl import exponential_family_kl  # noqa: E402
from jaxkl.kl import quadrature_kl  # noqa: E402
from jaxkl.distributions.adapters import from_numpyro, from_tfp, from_torch  # noqa: E402

__all__ = (
    ["Distribution", "ExponentialFamily", "constraints", "transforms", "kl_divergence", "register_kl",
     "set_default_validate_args", "monte_carlo_kl", "quadrature_kl", "from_numpyro", "from_tfp", "from_torch", "exponential_family_kl", "mixture_kl_variational", "mixture_kl_upper_bound"]
    + continuous.__all__
    + discrete.__all__
    + multivariate.__all__
    + directional.__all__
    + compound.__all__
    + continuous_extra.__all__
    + discrete_extra.__all__
    + matrix.__all__
)
