"""Float64 constants of the closed forms, defined once."""

import math

#: The Euler-Mascheroni constant (``-psi(1)``), shared by the closed forms and entropies.
EULER_GAMMA = 0.57721566490153286060651209
#: ``log 2``.
LOG2 = math.log(2.0)
#: ``log(2 pi) / 2``, the log-normaliser of the standard normal density.
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
