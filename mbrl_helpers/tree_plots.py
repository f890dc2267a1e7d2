"""Drawing a Monte Carlo search tree with matplotlib.

Introduced in notebook ``03_mcts``. The functions read a tree through a small, documented
node interface and never change it:

* ``node.children``: a mapping ``action -> child node`` (a ``dict``; a list or tuple of
  children is read as ``{index: child}``);
* ``node.N``: the visit count (int);
* ``node.Q``: the *total* return backed up through the node (float); the mean is
  ``Q / N``.

Any object with these attributes works (the notebook's ``Node`` class, a
``types.SimpleNamespace``...). :func:`tree_layout` computes the positions (data),
:func:`plot_tree` draws them, :func:`depth_profile` counts the nodes at each depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _children(node: Any) -> list[tuple[Any, Any]]:
    """``[(action, child), ...]`` of a node, whatever container holds them."""
    kids = getattr(node, "children", None)
    if kids is None:
        return []
    if isinstance(kids, Mapping):
        return list(kids.items())
    if isinstance(kids, Sequence):
        return list(enumerate(kids))
    raise TypeError(f"node.children must be a mapping or a sequence, got {type(kids).__name__}")


@dataclass
class PlacedNode:
    """One drawn node: position, statistics and the index of its parent in the layout."""

    x: float
    depth: int
    visits: int
    mean: float
    action: Any
    parent: int  # -1 for the root


def tree_layout(root: Any, max_depth: int = 3, min_visits: int = 1,
                max_children: int | None = None) -> list[PlacedNode]:
    """Tidy positions for the top of a search tree.

    Children with fewer than ``min_visits`` visits are left out, and at most
    ``max_children`` (the most visited) are kept per node. Leaves of the drawn tree get
    consecutive x positions 0, 1, 2...; a parent sits above the middle of its children.

    Returns:
        The placed nodes, root first (``parent == -1``), parents before their children.
    """
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {max_depth}")
    placed: list[PlacedNode] = []
    kids_of: list[list[int]] = []
    stack = [(root, 0, -1, None)]  # depth-first, children in action order
    while stack:
        node, depth, parent, action = stack.pop()
        n = int(node.N)
        placed.append(PlacedNode(np.nan, depth, n, float(node.Q) / n if n else np.nan,
                                 action, parent))
        kids_of.append([])
        index = len(placed) - 1
        if parent >= 0:
            kids_of[parent].append(index)
        if depth < max_depth:
            kids = [(a, c) for a, c in _children(node) if int(c.N) >= min_visits]
            if max_children is not None:
                kids = sorted(kids, key=lambda ac: -int(ac[1].N))[:max_children]
                kids.sort(key=lambda ac: str(ac[0]))
            stack.extend((c, depth + 1, index, a) for a, c in reversed(kids))
    next_leaf = 0.0
    for i in _postorder(kids_of):
        if kids_of[i]:
            placed[i].x = float(np.mean([placed[k].x for k in kids_of[i]]))
        else:
            placed[i].x, next_leaf = next_leaf, next_leaf + 1.0
    return placed


def _postorder(kids_of: list[list[int]]) -> list[int]:
    order, stack = [], [(0, False)]
    while stack:
        i, done = stack.pop()
        if done:
            order.append(i)
            continue
        stack.append((i, True))
        stack.extend((k, False) for k in reversed(kids_of[i]))
    return order


def plot_tree(root: Any, ax=None, max_depth: int = 3, min_visits: int = 1,
              max_children: int | None = None, action_names: Sequence[str] | None = None,
              labels: bool = True, cmap: str = "viridis", vmin: float | None = None,
              vmax: float | None = None):
    """Draw the top of a search tree: visits and mean values visible.

    Each node is a disc colored by its mean return ``Q / N`` (colorbar), with its visit
    count ``N`` (and mean) written next to it when ``labels``; an edge's width grows with
    the child's share of the root's visits, and it is labeled with the action.

    Args:
        root: the root node (see the module docstring for the interface).
        ax: a matplotlib axes; a new figure is made when ``None``.
        max_depth, min_visits, max_children: what to draw (see :func:`tree_layout`).
        action_names: names of the actions (indexed by action), e.g. ``("left", ...)``.
        labels: write ``N`` and the mean next to each node.
        cmap, vmin, vmax: color scale of the mean values.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    placed = tree_layout(root, max_depth, min_visits, max_children)
    if ax is None:
        width = min(14.0, 2.0 + 0.35 * max(1, sum(p.depth == max_depth for p in placed)))
        _, ax = plt.subplots(figsize=(width, 1.3 + 1.1 * max_depth))
    root_visits = max(placed[0].visits, 1)
    for p in placed[1:]:
        q = placed[p.parent]
        ax.plot([q.x, p.x], [-q.depth, -p.depth], color="0.55", zorder=1,
                lw=0.5 + 5.0 * np.sqrt(p.visits / root_visits))
        name = action_names[p.action] if action_names is not None else str(p.action)
        ax.text(0.5 * (q.x + p.x), -0.5 * (q.depth + p.depth), name, fontsize=7,
                ha="center", va="center", color="0.25",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    means = np.array([p.mean for p in placed])
    sizes = 30 + 250 * np.sqrt(np.array([p.visits for p in placed]) / root_visits)
    dots = ax.scatter([p.x for p in placed], [-p.depth for p in placed], c=means, s=sizes,
                      cmap=cmap, vmin=vmin, vmax=vmax, zorder=2, edgecolors="k", linewidths=0.5)
    if labels:
        for p in placed:
            text = f"{p.visits}" if np.isnan(p.mean) else f"{p.visits}\n{p.mean:.2f}"
            ax.annotate(text, (p.x, -p.depth), xytext=(0, -9), textcoords="offset points",
                        ha="center", va="top", fontsize=6)
    ax.figure.colorbar(dots, ax=ax, label="mean return Q/N", fraction=0.03, pad=0.01)
    ax.set_yticks([-d for d in range(max_depth + 1)], [f"depth {d}" for d in range(max_depth + 1)])
    ax.set_xticks([])
    ax.set_ylim(-max_depth - 0.6, 0.4)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


def depth_profile(root: Any) -> np.ndarray:
    """Number of nodes at each depth of the whole tree, shape ``(max depth + 1,)``."""
    counts: list[int] = []
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth == len(counts):
            counts.append(0)
        counts[depth] += 1
        stack.extend((c, depth + 1) for _, c in _children(node))
    return np.array(counts, dtype=np.int64)
