"""Compound distributions: wrappers around other distributions.

``Independent`` reinterprets batch dimensions as event dimensions,
``TransformedDistribution`` pushes a distribution through bijections (see
:mod:`jaxkl.distributions.transforms`), and ``MixtureSameFamily`` mixes the components of
one batched distribution with categorical weights. torch.distributions' names and keywords.

Their leaves are other distributions (and transforms), so they pass through ``jit``,
``vmap``, ``lax.scan`` and ``grad`` like every family; static configuration
(``reinterpreted_batch_ndims``) is pytree metadata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxkl._linalg import sum_rightmost
from jaxkl._pytree import static_field
from jaxkl.distributions import constraints as C
from jaxkl.distributions._base import Distribution
from jaxkl.distributions.transforms import Transform

__all__ = ["Independent", "TransformedDistribution", "MixtureSameFamily"]

Shape = tuple[int, ...]


def _check_distribution(value: Any, name: str, owner: str) -> None:
    if not isinstance(value, Distribution):
        raise TypeError(
            f"{owner}: `{name}` must be a jaxkl Distribution, got {type(value).__name__}"
        )


class Independent(Distribution):
    r"""Batch dimensions of a distribution reinterpreted as event dimensions.

    The rightmost ``reinterpreted_batch_ndims`` of ``base_distribution``'s, as torch's
    ``Independent``.

    .. math::
        \log p(x) = \sum_{\text{reinterpreted dims}} \log p_{\text{base}}(x)

    A diagonal Gaussian is ``Independent(Normal(loc, scale), 1)``.

    Args:
        base_distribution: any distribution.
        reinterpreted_batch_ndims: how many rightmost batch dimensions become event
            dimensions; at most ``len(base_distribution.batch_shape)``. Static.

    Raises:
        ValueError: ``reinterpreted_batch_ndims`` is negative or larger than the base's
            batch rank.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> d = jd.Independent(jd.Normal(jnp.zeros((2, 3)), 1.0), 1)
        >>> d.batch_shape, d.event_shape
        ((2,), (3,))
        >>> print(f"{d.log_prob(jnp.zeros(3))[0]:.4f}")
        -2.7568
    """

    base_distribution: Distribution
    reinterpreted_batch_ndims: int = static_field()

    def __init__(self, base_distribution, reinterpreted_batch_ndims, *, validate_args=None):
        _check_distribution(base_distribution, "base_distribution", "Independent")
        r = reinterpreted_batch_ndims
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
            raise TypeError(f"Independent: `reinterpreted_batch_ndims` must be an int, got {r!r}")
        r = int(r)
        if r < 0 or r > len(base_distribution.batch_shape):
            raise ValueError(
                "Independent: `reinterpreted_batch_ndims` must be between 0 and the base's batch "
                "rank "
                f"{len(base_distribution.batch_shape)} (batch_shape "
                f"{base_distribution.batch_shape}), got {r}"
            )
        self._init(
            base_distribution=base_distribution,
            reinterpreted_batch_ndims=r,
            validate_args=validate_args,
        )

    @property
    def batch_shape(self) -> Shape:
        shape = self.base_distribution.batch_shape
        return shape[: len(shape) - self.reinterpreted_batch_ndims]

    @property
    def event_shape(self) -> Shape:
        shape = self.base_distribution.batch_shape
        return (
            shape[len(shape) - self.reinterpreted_batch_ndims :]
            + self.base_distribution.event_shape
        )

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_distribution.has_rsample

    @property
    def support(self):  # type: ignore[override]
        base = self.base_distribution.support
        if base is None or not self.reinterpreted_batch_ndims:
            return base
        return C.independent(base, self.reinterpreted_batch_ndims)

    def expand(self, batch_shape: Sequence[int]) -> Independent:
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        base_shape = self.base_distribution.batch_shape
        reinterpreted = base_shape[len(base_shape) - self.reinterpreted_batch_ndims :]
        return self._replace(
            base_distribution=self.base_distribution.expand(batch_shape + reinterpreted)
        )

    def log_prob(self, value):
        return sum_rightmost(self.base_distribution.log_prob(value), self.reinterpreted_batch_ndims)

    def sample(self, key, sample_shape=()):
        return self.base_distribution.sample(key, sample_shape)

    def entropy(self):
        return sum_rightmost(self.base_distribution.entropy(), self.reinterpreted_batch_ndims)

    @property
    def mean(self):
        return self.base_distribution.mean

    @property
    def variance(self):
        return self.base_distribution.variance


class TransformedDistribution(Distribution):
    r"""The distribution of ``y = t_n(t_{n-1}(x))`` (and so on) for ``x ~ base_distribution``.

    torch's ``TransformedDistribution``.

    .. math::
        \log p_Y(y) = \log p_X(x) - \sum_i \log |\det J_{t_i}(x_{i-1})|

    As in torch, parameters of the transforms that broadcast the shape expand the base, and
    a transform acting on more event dimensions than the base has wraps the base in
    :class:`Independent`. ``mean``, ``variance`` and ``entropy`` have no general form and
    raise ``NotImplementedError`` (torch's behaviour); ``sample`` is reparameterised when the
    base's is.

    Args:
        base_distribution: the distribution of ``x``.
        transforms: a :class:`~jaxkl.distributions.transforms.Transform` or a sequence of
            them, applied first to last.

    Examples:
        >>> from jaxkl import distributions as jd
        >>> from jaxkl.distributions.transforms import ExpTransform
        >>> log_normal = jd.TransformedDistribution(jd.Normal(0.0, 1.0), ExpTransform())
        >>> print(f"{log_normal.log_prob(1.0):.4f}")
        -0.9189
    """

    base_distribution: Distribution
    transforms: tuple[Transform, ...]

    def __init__(self, base_distribution, transforms, *, validate_args=None):
        _check_distribution(base_distribution, "base_distribution", "TransformedDistribution")
        if isinstance(transforms, Transform):
            transforms = (transforms,)
        elif isinstance(transforms, (list, tuple)):
            transforms = tuple(transforms)
        else:
            raise TypeError(
                "TransformedDistribution: `transforms` must be a Transform or a list of "
                "Transforms, "
                f"got {type(transforms).__name__}"
            )
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(
                    f"TransformedDistribution: `transforms` holds a non-Transform {t!r}"
                )
        base = base_distribution
        domain_event_dim = max((t.event_dim for t in transforms), default=0)
        base_shape = base.batch_shape + base.event_shape
        if len(base_shape) < domain_event_dim:
            raise ValueError(
                f"TransformedDistribution: the transforms act on {domain_event_dim} event dims "
                "but the base "
                f"has shape {base_shape}"
            )
        shape = base_shape
        for t in transforms:
            shape = t.forward_shape(shape)
        if shape != base_shape:  # transform parameters broadcast the base (torch expands it)
            base = base.expand(shape[: len(shape) - len(base.event_shape)])
        if domain_event_dim > len(base.event_shape):
            base = Independent(base, domain_event_dim - len(base.event_shape), validate_args=False)
        self._init(base_distribution=base, transforms=transforms, validate_args=validate_args)

    def _shape(self) -> Shape:
        shape = self.base_distribution.batch_shape + self.base_distribution.event_shape
        for t in self.transforms:
            shape = t.forward_shape(shape)
        return shape

    @property
    def batch_shape(self) -> Shape:
        shape = self._shape()
        return shape[: len(shape) - len(self.base_distribution.event_shape)]

    @property
    def event_shape(self) -> Shape:
        shape = self._shape()
        return shape[len(shape) - len(self.base_distribution.event_shape) :]

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_distribution.has_rsample

    def expand(self, batch_shape: Sequence[int]) -> TransformedDistribution:
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        shape = batch_shape + self.event_shape
        for t in reversed(self.transforms):
            shape = t.inverse_shape(shape)
        base_batch = shape[: len(shape) - len(self.base_distribution.event_shape)]
        return self._replace(base_distribution=self.base_distribution.expand(base_batch))

    def sample(self, key, sample_shape=()):
        x = self.base_distribution.sample(key, sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    @property
    def support(self):  # type: ignore[override]
        return self.transforms[-1].codomain if self.transforms else self.base_distribution.support

    def log_prob(self, value):
        """``log p(value)``, ``-inf`` outside the support.

        Outside a transform's codomain torch returns NaN; ``-inf`` lets Monte Carlo
        estimates see support mismatches.
        """
        event_dim = len(self.event_shape)
        y = jnp.asarray(value)
        log_prob = 0.0
        inside = jnp.ones((), bool)
        for t in reversed(self.transforms):
            ok = t.codomain.check(y)
            n = min(event_dim - t.codomain.event_dim, ok.ndim)
            inside = inside & (jnp.all(ok, axis=tuple(range(-n, 0))) if n > 0 else ok)
            x = t.inverse(y)
            log_prob = log_prob - sum_rightmost(
                t.log_abs_det_jacobian(x, y), event_dim - t.event_dim
            )
            y = x
        base = self.base_distribution
        log_prob = log_prob + sum_rightmost(base.log_prob(y), event_dim - len(base.event_shape))
        return jnp.where(inside, log_prob, -jnp.inf)


def _mixture_log_weights(mixture: Distribution) -> jax.Array:
    """Normalised log-weights ``(..., K)`` of a categorical-like mixing distribution."""
    logits = getattr(mixture, "logits", None)
    if logits is not None:
        return jax.nn.log_softmax(jnp.asarray(logits), axis=-1)
    probs = getattr(mixture, "probs", None)
    if probs is not None:
        probs = jnp.asarray(probs)
        return jnp.log(probs) - jnp.log(jnp.sum(probs, axis=-1, keepdims=True))
    raise TypeError(
        "MixtureSameFamily: `mixture_distribution` must be Categorical-like (with `logits` or "
        "`probs`), "
        f"got {type(mixture).__name__}"
    )


class MixtureSameFamily(Distribution):
    r"""A mixture of the components of one batched distribution.

    torch's ``MixtureSameFamily(mixture_distribution, component_distribution)``.

    .. math::
        p(x) = \sum_{k=1}^K \pi_k \, p_k(x)

    ``component_distribution`` has batch shape ``batch_shape + (K,)``: its rightmost batch
    dimension indexes the components; ``mixture_distribution`` is a ``Categorical`` with
    ``K`` categories and a batch shape broadcasting with ``batch_shape``.

    ``log_prob`` uses ``logsumexp``; ``mean`` and ``variance`` follow the laws of total
    expectation and variance. ``sample`` draws a component index and then that component's
    sample; it is not reparameterised (``has_rsample`` is False, as in torch), so
    :func:`~jaxkl.distributions.monte_carlo_kl` uses the score-function gradient for it.
    There is no closed-form entropy or KL: use :func:`~jaxkl.distributions.monte_carlo_kl`,
    or for mixtures whose components have a closed-form KL,
    :func:`~jaxkl.distributions.mixture_kl_variational` and
    :func:`~jaxkl.distributions.mixture_kl_upper_bound`.

    Raises:
        ValueError: the component batch shape has no component dimension, or its size
            differs from the number of categories, or the batch shapes do not broadcast.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxkl import distributions as jd
        >>> mix = jd.MixtureSameFamily(
        ...     jd.Categorical(probs=jnp.array([0.3, 0.7])),
        ...     jd.Normal(loc=jnp.array([-1.0, 2.0]), scale=jnp.array([0.5, 1.0])))
        >>> print(f"{mix.mean:.4f} {mix.variance:.4f} {mix.log_prob(0.0):.4f}")
        1.1000 2.6650 -2.6566
    """

    mixture_distribution: Distribution
    component_distribution: Distribution

    def __init__(self, mixture_distribution, component_distribution, *, validate_args=None):
        _check_distribution(mixture_distribution, "mixture_distribution", "MixtureSameFamily")
        _check_distribution(component_distribution, "component_distribution", "MixtureSameFamily")
        log_w = _mixture_log_weights(mixture_distribution)
        if mixture_distribution.event_shape != ():
            raise ValueError(
                "MixtureSameFamily: `mixture_distribution` must have event_shape (), got "
                f"{mixture_distribution.event_shape}"
            )
        cb = component_distribution.batch_shape
        if len(cb) < 1:
            raise ValueError(
                "MixtureSameFamily: `component_distribution` needs a batch dimension indexing the "
                "components, "
                f"got batch_shape {cb}"
            )
        k = log_w.shape[-1]
        if cb[-1] != k:
            raise ValueError(
                f"MixtureSameFamily: `mixture_distribution` has {k} categories but "
                "`component_distribution` has "
                f"{cb[-1]} components (batch_shape {cb})"
            )
        try:
            batch = tuple(jnp.broadcast_shapes(mixture_distribution.batch_shape, cb[:-1]))
        except ValueError:
            raise ValueError(
                f"MixtureSameFamily: batch shapes {mixture_distribution.batch_shape} "
                "(`mixture_distribution`) and "
                f"{cb[:-1]} (`component_distribution` without its component dim) do not broadcast"
            ) from None
        self._init(
            mixture_distribution=mixture_distribution.expand(batch),
            component_distribution=component_distribution.expand(batch + (k,)),
            validate_args=validate_args,
        )

    @property
    def batch_shape(self) -> Shape:
        return self.component_distribution.batch_shape[:-1]

    @property
    def event_shape(self) -> Shape:
        return self.component_distribution.event_shape

    @property
    def support(self):  # type: ignore[override]
        return self.component_distribution.support

    @property
    def log_weights(self) -> jax.Array:
        """Normalised log mixture weights, shape ``batch_shape + (K,)``."""
        return _mixture_log_weights(self.mixture_distribution)

    def expand(self, batch_shape: Sequence[int]) -> MixtureSameFamily:
        batch_shape = tuple(batch_shape)
        if batch_shape == self.batch_shape:
            return self
        k = self.component_distribution.batch_shape[-1]
        return self._replace(
            mixture_distribution=self.mixture_distribution.expand(batch_shape),
            component_distribution=self.component_distribution.expand(batch_shape + (k,)),
        )

    def _component_axis(self) -> int:
        return -1 - len(self.event_shape)

    def log_prob(self, value):
        x = jnp.expand_dims(jnp.asarray(value), self._component_axis())
        lp = self.component_distribution.log_prob(x)  # (..., K)
        return jax.nn.logsumexp(lp + self.log_weights, axis=-1)

    def sample(self, key, sample_shape=()):
        sample_shape = tuple(sample_shape)
        k_index, k_comp = jax.random.split(key)
        log_w = self.log_weights
        index = jax.random.categorical(
            k_index, log_w, axis=-1, shape=sample_shape + self.batch_shape
        )
        xs = self.component_distribution.sample(k_comp, sample_shape)  # S + B + (K,) + E
        ne = len(self.event_shape)
        index = index.reshape(index.shape + (1,) * (1 + ne))
        picked = jnp.take_along_axis(xs, index, axis=len(sample_shape) + len(self.batch_shape))
        return jnp.squeeze(picked, axis=len(sample_shape) + len(self.batch_shape))

    def _weights_for_moments(self) -> jax.Array:
        w = jnp.exp(self.log_weights)
        return w.reshape(w.shape + (1,) * len(self.event_shape))

    @property
    def mean(self):
        w = self._weights_for_moments()
        return jnp.sum(w * self.component_distribution.mean, axis=self._component_axis())

    @property
    def variance(self):
        axis = self._component_axis()
        w = self._weights_for_moments()
        means = self.component_distribution.mean
        mean = jnp.sum(w * means, axis=axis)
        spread = means - jnp.expand_dims(mean, axis)
        return jnp.sum(w * self.component_distribution.variance, axis=axis) + jnp.sum(
            w * spread * spread, axis=axis
        )
