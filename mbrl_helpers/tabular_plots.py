"""Pictures of finite MDPs: decision trees with values, and state distributions over time.

Introduced in notebook ``01_open_vs_closed_loop``. Compute lives in
:mod:`mbrl_helpers.tabular` and in the notebook; these functions only draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from mbrl_helpers.tabular import FiniteMDP

_CLOSED, _OPEN = "tab:green", "tab:orange"


@dataclass
class _Node:
    kind: str  # "decision", "chance" or "root" (a chance node over p0)
    t: int
    state: int = -1
    action: int = -1
    label: str = ""
    children: list[tuple[_Node, str, tuple[bool, bool]]] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0


def _build(mdp: FiniteMDP, values: np.ndarray, t: int, s: int, policy, plan) -> _Node:
    horizon = values.shape[0] - 1
    node = _Node("decision", t, s, label=f"{mdp.state_names[s]}\nV={values[t, s]:.2f}")
    if t == horizon:
        node.label = mdp.state_names[s]
        return node
    for a in range(mdp.n_actions):
        q = mdp.R[s, a] + mdp.P[s, a] @ values[t + 1]  # one-step lookahead, for the label
        chance = _Node("chance", t, s, a, label=f"{q:.2f}")
        for s2 in np.flatnonzero(mdp.P[s, a] > 0):
            child = _build(mdp, values, t + 1, int(s2), policy, plan)
            chance.children.append((child, f"{mdp.P[s, a, s2]:.2g}", (False, False)))
        marks = (policy is not None and policy[t, s] == a, plan is not None and plan[t] == a)
        edge = f"{mdp.action_names[s][a]}\nr={mdp.R[s, a]:+.2g}"
        node.children.append((chance, edge, marks))
    return node


def _layout(node: _Node, next_leaf: list[float]) -> None:
    node.x = 2 * node.t + (node.kind == "chance") - (node.kind == "root")
    if not node.children:
        node.y = next_leaf[0]
        next_leaf[0] -= 1.0
        return
    for child, _, _ in node.children:
        _layout(child, next_leaf)
    node.y = float(np.mean([child.y for child, _, _ in node.children]))


def _draw(ax, node: _Node) -> None:
    for child, label, (closed, open_) in node.children:
        ax.plot([node.x, child.x], [node.y, child.y], color="0.6", lw=1, zorder=1)
        if closed:
            ax.plot([node.x, child.x], [node.y, child.y], color=_CLOSED, lw=5, alpha=0.6,
                    zorder=1)
        if open_:
            ax.plot([node.x, child.x], [node.y, child.y], color=_OPEN, lw=2, ls="--",
                    zorder=2)
        ax.text((node.x + child.x) / 2, (node.y + child.y) / 2, label, fontsize=7,
                ha="center", va="center", color="0.25",
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})
        _draw(ax, child)
    style = "square,pad=0.4" if node.kind == "decision" else "circle,pad=0.25"
    ax.text(node.x, node.y, node.label, fontsize=7, ha="center", va="center", zorder=4,
            bbox={"boxstyle": style, "fc": "white", "ec": "black"})


def plot_decision_tree(
    mdp: FiniteMDP,
    values,
    *,
    policy=None,
    plan=None,
    ax=None,
    title: str | None = None,
):
    """Draw the full decision tree of a small finite-horizon MDP, left to right.

    Squares are decision nodes (a state at time ``t``, labelled with ``V_t(s)``), circles
    are chance nodes (after choosing action ``a``, labelled with the one-step lookahead
    ``r(s, a) + sum_s' p(s'|s, a) V_{t+1}(s')``); edges carry action names and rewards,
    or transition probabilities. Keep it small: the tree has up to ``(S A)^H`` leaves.

    Args:
        mdp: the MDP (its ``p0`` gives the root: a state, or a chance node over states).
        values: ``(H + 1, S)`` state values ``V_t(s)``, e.g. from backward induction.
        policy: optional ``(H, S)`` ints: closed-loop actions, drawn as thick green edges.
        plan: optional ``(H,)`` ints: an open-loop plan, drawn as dashed orange edges at
            every node of its time step (the plan does not look at the state).
        ax: matplotlib axes (default: a new figure sized to the tree).
        title: optional title.

    Returns:
        The axes.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != mdp.n_states:
        raise ValueError(f"values must have shape (H + 1, {mdp.n_states}), got {values.shape}")
    starts = np.flatnonzero(mdp.p0 > 0)
    if len(starts) == 1:
        root = _build(mdp, values, 0, int(starts[0]), policy, plan)
    else:
        root = _Node("root", 0, label="$s_0$")
        for s in starts:
            root.children.append((_build(mdp, values, 0, int(s), policy, plan),
                                  f"{mdp.p0[s]:.2g}", (False, False)))
    _layout(root, [0.0])
    n_leaves = -min(_leaf_ys(root)) + 1
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * (2 * values.shape[0] - 1), 0.55 * n_leaves + 1))
    _draw(ax, root)
    ax.plot([], [], color=_CLOSED, lw=5, alpha=0.6, label="closed-loop policy")
    if plan is not None:
        ax.plot([], [], color=_OPEN, lw=2, ls="--", label="open-loop plan")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_axis_off()
    ax.margins(0.08)
    if title:
        ax.set_title(title)
    return ax


def _leaf_ys(node: _Node) -> list[float]:
    if not node.children:
        return [node.y]
    return [y for child, _, _ in node.children for y in _leaf_ys(child)]


def plot_occupancy(occupancy, state_names=None, *, ax=None, title: str | None = None,
                   vmax: float | None = None):
    """Heat map of a state distribution over time: ``(T, S)`` frequencies, time on x.

    Returns the ``AxesImage`` (pass it to ``plt.colorbar``).
    """
    occupancy = np.asarray(occupancy, dtype=float)
    if occupancy.ndim != 2:
        raise ValueError(f"occupancy must have shape (T, S), got {occupancy.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    image = ax.imshow(occupancy.T, origin="lower", aspect="auto", cmap="viridis", vmin=0.0,
                      vmax=vmax if vmax is not None else occupancy.max())
    ax.set_xlabel("time step $t$")
    if state_names is not None:
        ticks = np.arange(len(state_names))
        ax.set_yticks(ticks, state_names, fontsize=7)
    else:
        ax.set_ylabel("state")
    if title:
        ax.set_title(title)
    return image
