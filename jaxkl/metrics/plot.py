"""Plotting metric values with matplotlib (an optional extra: ``pip install jaxkl[plot]``).

matplotlib is imported only when a plot is drawn, so ``jaxkl.metrics`` works without it.
"""

from typing import Any

import numpy as np

__all__ = ["plot_values"]

_EXTRA = "pip install jaxkl[plot]"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"Plotting needs matplotlib, which is not installed; install it with `{_EXTRA}`"
        ) from err
    return plt


def _as_numpy(v: Any) -> np.ndarray:
    if hasattr(v, "compute") and callable(v.compute):  # a metric state
        v = v.compute()
    return np.asarray(v, dtype=np.float64)


def plot_values(
    val: Any, ax: Any | None = None, *, name: str = "KLDivergence", per_sample: bool = False
):
    """Draw one value, one vector of per-row values, or a sequence of values (steps).

    * a scalar: one marker;
    * a 1-D array (e.g. a ``"none"`` state's per-row values): one marker per row;
    * a list or tuple of scalars (or of states): a line over steps; of arrays (or of
      ``"none"`` states): each step's values as markers above the step.

    Args:
        val: the value(s) to draw (jax or numpy arrays, floats, metric states).
        ax: a matplotlib ``Axes`` to draw into; a new figure is made when None.
        name: the title.
        per_sample: label the x axis of a 1-D array as rows.

    Returns:
        ``(fig, ax)``, as torchmetrics' ``Metric.plot``.

    Raises:
        ModuleNotFoundError: when matplotlib is missing (naming ``pip install jaxkl[plot]``).
        ValueError: for arrays of rank 2 or more.
    """
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.get_figure()
    if isinstance(val, (list, tuple)):
        steps = [_as_numpy(v) for v in val]
        if all(s.ndim == 0 for s in steps):
            size = 6 if len(steps) <= 30 else 2
            ax.plot(
                np.arange(len(steps)),
                np.array(steps),
                marker="o",
                markersize=size,
                linestyle="-",
                label=name,
            )
        else:
            for i, s in enumerate(steps):
                s = np.ravel(s)
                ax.plot(np.full(s.shape, i), s, marker="o", linestyle="None", alpha=0.6)
        ax.set_xlabel("step")
    else:
        v = _as_numpy(val)
        if v.ndim == 0:
            ax.plot([0], [float(v)], marker="o", markersize=10, linestyle="None", label=name)
            ax.set_xticks([])
        elif v.ndim == 1:
            ax.plot(np.arange(v.shape[0]), v, marker="o", linestyle="None", label=name)
            ax.set_xlabel("row" if per_sample else "index")
        else:
            raise ValueError(f"Can plot a scalar or a 1-D array of values but got shape {v.shape}")
    ax.set_ylabel("KL divergence (nats)")
    ax.set_title(name)
    ax.grid(True, alpha=0.3)
    return fig, ax
