"""Closed forms whose p is a univariate continuous family (the group of p)."""

from __future__ import annotations

from jaxkl._numerics import x_minus_log1p
from jaxkl.distributions.continuous import Normal
from jaxkl.kl._registry import register_kl


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal):
    r"""KL(N(mu_p, s_p) || N(mu_q, s_q)) = (x - log1p(x))/2 + ((mu_p - mu_q)/s_q)^2/2

    with ``x = (s_p/s_q)^2 - 1 = (s_p - s_q)(s_p + s_q)/s_q^2``, formed from the difference
    of the scales so that nearly equal distributions keep full relative precision.

    References: the Gaussian KL, e.g. Kullback (1959); torch's ``_kl_normal_normal``.
    """
    x = (p.scale - q.scale) * (p.scale + q.scale) / q.scale**2
    z = (p.loc - q.loc) / q.scale
    return 0.5 * x_minus_log1p(x) + 0.5 * z * z
