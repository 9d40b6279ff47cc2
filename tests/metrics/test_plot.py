"""state.plot on the Agg backend, and the error naming the extra when matplotlib is missing."""

import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxkl.metrics import KLDivergence  # noqa: E402
from tests.metrics._helpers import make_batches  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _state(reduction):
    cls = KLDivergence.configure(reduction=reduction)
    ps, qs, ms = make_batches(41, masked=True)
    state, history = cls.empty(), []
    for p, q, m in zip(ps, qs, ms):
        state = state.merge(cls.from_model_output(p, q, mask=m))
        history.append(state)
    return state, history


def test_plot_of_a_state_draws_its_value():
    state, _ = _state("mean")
    fig, ax = state.plot()
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), [float(state.compute())], rtol=1e-6)
    assert fig is ax.get_figure() and "KLDivergence" in ax.get_title()


def test_plot_of_a_sequence_draws_a_line_over_steps_into_a_given_ax():
    state, history = _state("sum")
    _, ax = plt.subplots()
    values = [s.compute() for s in history]
    fig, out_ax = state.plot(values, ax=ax)
    assert out_ax is ax
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), np.arange(3))
    np.testing.assert_allclose(line.get_ydata(), np.asarray(values), rtol=1e-6)
    assert ax.get_xlabel() == "step"


def test_plot_of_per_row_values_draws_one_marker_per_row():
    state, history = _state("none")
    _, ax = state.plot()
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), np.asarray(state.compute()), rtol=1e-6)
    _, ax = state.plot(history)  # ragged steps: markers above each step
    assert len(ax.get_lines()) == 3


def test_plot_rejects_rank_two_values():
    with pytest.raises(ValueError, match="shape"):
        KLDivergence.empty().plot(np.zeros((2, 2)))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install jaxkl\[plot\]"):
        KLDivergence.empty().plot()
