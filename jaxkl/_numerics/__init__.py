"""Numerically delicate helpers, by topic. Each one says why it exists; each is tested on its own.

Closed forms, the tensor KL and the losses call these instead of writing the tricks inline:

* :mod:`~jaxkl._numerics.log_space`: ``x - log1p(x)``, ``expm1(x) - x``, log-ratios and
  logits formed from differences, the discrete KL from log-ratios;
* :mod:`~jaxkl._numerics.gamma`: log-gamma and digamma differences and Bregman remainders;
* :mod:`~jaxkl._numerics.sinhc`: ``log(sinh h / h)`` and its derivatives (continuous Bernoulli);
* :mod:`~jaxkl._numerics.bessel`: logs and ratios of ``I_nu`` (directional families);
* :mod:`~jaxkl._numerics.normal`: log-ratios and interval masses of the normal CDF;
* :mod:`~jaxkl._numerics.integrals`: fixed-node quadratures for expectations without a
  closed form;
* :mod:`~jaxkl._numerics.series` and :mod:`~jaxkl._numerics.constants`: exact series
  coefficients, Horner's rule, float64 constants.

Speed (XLA's CPU fusion): an elementwise closed form should compile to ONE loop fusion.
XLA does not duplicate an expensive *binary* op (a division, ``x ** y``) into several
consumers, so a quotient ``a / b`` used more than once is materialised (an extra kernel
and memory pass). Unary ones (``log``, ``exp``, ``1 / b``) are duplicated freely. So a
quotient that is reused is formed as ``a * (1 / b)`` (one more rounding: harmless here),
and a quotient used once may stay ``a / b``. Selects, clips and multiply-adds are cheap.
"""

from jaxkl._numerics.bessel import (
    BesselTerms,
    bessel_i_terms,
    log_bessel_i0_bregman,
    vmf_kl_uniform,
)
from jaxkl._numerics.constants import EULER_GAMMA, HALF_LOG_2PI, LOG2
from jaxkl._numerics.gamma import (
    digamma_difference,
    lgamma_bregman,
    lgamma_bregman_difference,
    lgamma_difference,
    power_spherical_kl_uniform,
)
from jaxkl._numerics.integrals import (
    exp_sinh_integral,
    kumaraswamy_log_ratio_mean,
    normal_expectation,
)
from jaxkl._numerics.log_space import (
    expm1_minus_x,
    kl_from_log_ratios,
    log1p_minus_x,
    log_cosh,
    log_of_product,
    log_of_product_near_one,
    log_ratio,
    logit,
    logit_difference,
    ratio_minus_one_minus_log_of,
    safe_log,
    squared_ratio_minus_one_minus_log_of,
    two_product,
    weighted_expm1_minus_x,
    x_minus_log1p,
    x_minus_log1p_series,
)
from jaxkl._numerics.normal import (
    log_ndtr_difference,
    log_ndtr_interval,
    standardize_bound,
    truncated_normal_moments,
)
from jaxkl._numerics.sinhc import (
    coth_minus_inv,
    log_sinhc,
    log_sinhc_bregman,
    log_sinhc_second_derivative,
)

__all__ = [
    # constants
    "EULER_GAMMA",
    "HALF_LOG_2PI",
    "LOG2",
    # log_space
    "expm1_minus_x",
    "kl_from_log_ratios",
    "log1p_minus_x",
    "log_cosh",
    "log_of_product",
    "log_of_product_near_one",
    "log_ratio",
    "logit",
    "logit_difference",
    "ratio_minus_one_minus_log_of",
    "safe_log",
    "squared_ratio_minus_one_minus_log_of",
    "two_product",
    "weighted_expm1_minus_x",
    "x_minus_log1p",
    "x_minus_log1p_series",
    # gamma
    "digamma_difference",
    "lgamma_bregman",
    "lgamma_bregman_difference",
    "lgamma_difference",
    "power_spherical_kl_uniform",
    # sinhc
    "coth_minus_inv",
    "log_sinhc",
    "log_sinhc_bregman",
    "log_sinhc_second_derivative",
    # bessel
    "BesselTerms",
    "bessel_i_terms",
    "log_bessel_i0_bregman",
    "vmf_kl_uniform",
    # normal
    "log_ndtr_difference",
    "log_ndtr_interval",
    "standardize_bound",
    "truncated_normal_moments",
    # integrals
    "exp_sinh_integral",
    "kumaraswamy_log_ratio_mean",
    "normal_expectation",
]
