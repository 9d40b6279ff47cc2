"""The ``flax.nnx`` variant of the KL divergence metric (``update / compute / reset``).

It keeps the fields of the clu-style state (:class:`jaxkl.metrics.KLDivergence`) in
``nnx.metrics.MetricState`` variables and does all its work through that state, so both
variants give the same values; :attr:`KLDivergence.state` hands the state out for
``all_reduce`` / ``merge_across_processes``.
"""

from typing import Any

import jax
from flax import nnx as _nnx
from jax.typing import ArrayLike

from jaxkl import _checks
from jaxkl.metrics import _state

__all__ = ["KLDivergence"]


# Newer flax has get_value / set_value and deprecates ``.value``; flax 0.10 has only ``.value``.
def _get(variable: _nnx.Variable) -> Any:
    return variable.get_value() if hasattr(variable, "get_value") else variable.value


def _set(variable: _nnx.Variable, value: Any) -> None:
    if hasattr(variable, "set_value"):
        variable.set_value(value)
    else:
        variable.value = value


class KLDivergence(_nnx.metrics.Metric):
    """KL divergence metric for ``flax.nnx`` (works in ``nnx.MultiMetric``).

    Args:
        log_prob: ``True`` if ``p`` and ``q`` are log-probabilities, ``False`` (default) if
            they are (unnormalised) probabilities, normalised per row.
        reduction: ``"mean"`` (default), ``"sum"``, or ``"none"`` / ``None`` (per-row values,
            0 at masked rows).

    Raises:
        TypeError: if ``log_prob`` is not a bool.
        ValueError: for an unknown ``reduction``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from jaxkl.metrics.nnx import KLDivergence
        >>> metrics = nnx.MultiMetric(kl=KLDivergence(), loss=nnx.metrics.Average("loss"))
        >>> p = jnp.array([[0.36, 0.48, 0.16]])
        >>> q = jnp.full((1, 3), 1 / 3)
        >>> metrics.update(p=p, q=q, loss=jnp.array(1.0))
        >>> print(f"{metrics.compute()['kl']:.4f}")
        0.0853
        >>> metrics.reset()
        >>> metrics.compute()["kl"]
        Array(nan, dtype=float32)
    """

    def __init__(self, log_prob: bool = False, reduction: str | None = "mean"):
        _checks.check_log_prob(log_prob)
        _checks.check_reduction(reduction)
        self.state_type = _state.KLDivergence.configure(log_prob=log_prob, reduction=reduction)
        self.log_prob = log_prob
        self.reduction = self.state_type.reduction
        empty = self.state_type.empty()
        for name in self._names():
            setattr(self, name, _nnx.metrics.MetricState(getattr(empty, name)))

    def _names(self):
        """The state fields this configuration uses (the others are None)."""
        return [name for name, _ in self.state_type._fields() if name in self.state_type._live()]

    @property
    def state(self) -> _state.KLDivergence:
        """The accumulated clu-style state (a pytree)."""
        fields = {name: None for name, _ in self.state_type._fields()}
        fields.update({name: _get(getattr(self, name)) for name in self._names()})
        return self.state_type(**fields)

    def _store(self, value: _state.KLDivergence) -> None:
        if type(value) is not self.state_type:
            raise TypeError(
                f"Expected a {self.state_type.__name__} state but got {type(value).__name__}"
            )
        for name in self._names():
            _set(getattr(self, name), getattr(value, name))

    def reset(self) -> None:
        """Forget every row seen."""
        self._store(self.state_type.empty())

    def update(
        self, *, p: ArrayLike, q: ArrayLike, mask: ArrayLike | None = None, **_: Any
    ) -> None:
        """Accumulate one batch; ``mask`` (boolean, batch shape) leaves rows out.

        Other keyword arguments are ignored (``nnx.MultiMetric`` passes every output to every
        metric). With ``reduction="none"`` the state grows by one entry per row.
        """
        self._store(self.state.merge(self.state_type.from_model_output(p, q, mask=mask)))

    def compute(self) -> jax.Array:
        """The metric value (see :meth:`jaxkl.metrics.KLDivergence.compute`)."""
        return self.state.compute()
