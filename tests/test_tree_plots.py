"""The search-tree drawing of notebook 03 works on any object with children, N and Q."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mbrl_helpers.tree_plots import depth_profile, plot_tree, tree_layout  # noqa: E402


def _node(n, q, children=None):
    return SimpleNamespace(N=n, Q=q, children=children or {})


def _tree():
    #        root (10)
    #   a:0 (6)      a:1 (4)
    #  (3) (2)        (3)
    left = _node(6, 3.0, {0: _node(3, 1.5), 1: _node(2, 0.2)})
    right = _node(4, 3.2, {1: _node(3, 2.7)})
    return _node(10, 6.2, {0: left, 1: right})


def test_layout_positions_and_statistics():
    placed = tree_layout(_tree(), max_depth=2)
    assert [p.depth for p in placed] == [0, 1, 2, 2, 1, 2]
    assert [p.visits for p in placed] == [10, 6, 3, 2, 4, 3]
    assert placed[0].parent == -1 and placed[2].parent == 1 and placed[5].parent == 4
    leaves = [p.x for p in placed if p.depth == 2]
    assert leaves == [0.0, 1.0, 2.0]
    assert placed[1].x == 0.5 and placed[4].x == 2.0 and placed[0].x == 1.25
    assert np.isclose(placed[4].mean, 0.8) and placed[4].action == 1


def test_layout_filters_depth_visits_and_children():
    assert len(tree_layout(_tree(), max_depth=1)) == 3
    placed = tree_layout(_tree(), max_depth=2, min_visits=3)
    assert [p.visits for p in placed] == [10, 6, 3, 4, 3]
    placed = tree_layout(_tree(), max_depth=2, max_children=1)
    assert [p.visits for p in placed] == [10, 6, 3]
    with pytest.raises(ValueError):
        tree_layout(_tree(), max_depth=-1)


def test_unvisited_node_and_list_children():
    root = SimpleNamespace(N=1, Q=0.5, children=[_node(0, 0.0), _node(1, 0.5)])
    placed = tree_layout(root, max_depth=1, min_visits=0)
    assert np.isnan(placed[1].mean) and placed[2].action == 1


def test_plot_tree_draws_labels():
    fig, ax = plt.subplots()
    out = plot_tree(_tree(), ax=ax, max_depth=2, action_names=["L", "R"])
    texts = [t.get_text() for t in out.texts]
    assert "10\n0.62" in texts and "4\n0.80" in texts
    assert texts.count("L") == 2 and texts.count("R") == 3
    plt.close(fig)
    ax = plot_tree(_tree(), labels=False)
    assert ax.texts and all("\n" not in t.get_text() for t in ax.texts)
    plt.close(ax.figure)


def test_depth_profile():
    assert depth_profile(_tree()).tolist() == [1, 2, 3]
    assert depth_profile(_node(0, 0.0)).tolist() == [1]
