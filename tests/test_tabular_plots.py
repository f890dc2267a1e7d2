"""The tree and occupancy plots draw without errors and put the values on the nodes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mbrl_helpers import tabular, tabular_plots  # noqa: E402


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_decision_tree_of_the_exam():
    mdp = tabular.exam_mdp(2)
    values = np.array([[1.0, 1.0, 1.0, 0.0], [0.2, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    policy = np.array([[1, 0, 1, 0], [0, 0, 1, 0]])
    ax = tabular_plots.plot_decision_tree(mdp, values, policy=policy, plan=np.array([0, 0]))
    texts = _texts(ax)
    assert "start\nV=1.00" in texts
    assert "go home\nr=+0.2" in texts and "sit test\nr=+0" in texts
    assert "0.5" in texts  # the chance branch to each question
    # 2 + 4 decision nodes below the root: end (t=1) and leaves
    assert sum(t.startswith("question") for t in texts) == 2
    plt.close("all")


def test_decision_tree_with_random_start_and_bad_values():
    mdp = tabular.random_mdp(2, 2, seed=0)
    ax = tabular_plots.plot_decision_tree(mdp, np.zeros((2, 2)), title="t")
    assert "$s_0$" in _texts(ax) and ax.get_title() == "t"
    with pytest.raises(ValueError):
        tabular_plots.plot_decision_tree(mdp, np.zeros((2, 3)))
    plt.close("all")


def test_plot_occupancy():
    occ = np.full((4, 3), 1 / 3)
    image = tabular_plots.plot_occupancy(occ, ["a", "b", "c"], title="x")
    assert image.get_array().shape == (3, 4)
    with pytest.raises(ValueError):
        tabular_plots.plot_occupancy(np.zeros(3))
    plt.close("all")
