"""Discrete environments with a known model, for Monte Carlo tree search.

Introduced in notebook ``03_mcts``. Three things live here:

* :class:`TabularMDP`, a tabular Markov decision process (transition table ``P``, reward
  table ``R``, terminal states), built from a gymnasium toy-text environment's own
  transition table by :func:`from_toy_text` (e.g. :func:`frozen_lake`) or from a
  deterministic next-state table by :func:`deterministic_mdp`.
* :func:`value_iteration`, the independent route to the optimal action: finite-horizon
  (or discounted) Bellman backups over the whole table, with :func:`optimal_actions` for
  the set of maximizers (ties included).
* Planner models with one small interface, ``model.n_actions`` and
  ``model.step(state, action) -> (next_state, reward, done)`` on plain Python values:
  :class:`TableModel` (a deterministic ``TabularMDP`` as Python lists: fast scalar steps)
  and :class:`CartPoleModel` (gymnasium's ``CartPole-v1`` dynamics in pure Python; the
  *copyable simulator* of the closed-loop demo: the state tuple read from
  ``env.unwrapped.state`` is a complete snapshot of the real environment).

Rewards of the planner models are scaled so that a return lies in ``[0, 1]`` (UCT's
exploration constant ``C = 1/sqrt(2)`` assumes that range): FrozenLake pays 1 at the goal;
``CartPoleModel(reward=1/H)`` pays ``1/H`` per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: FrozenLake action names, in gymnasium's order.
LAKE_ACTIONS = ("left", "down", "right", "up")


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP given by its tables.

    Attributes:
        P: transition probabilities, shape ``(S, A, S)``; ``P[s, a]`` sums to 1.
        R: expected immediate reward ``r(s, a)``, shape ``(S, A)``.
        terminal: shape ``(S,)`` bool; reaching a terminal state ends the episode (no
            reward is collected from it afterwards).
        start: the start state (int).
        desc: the grid layout (rows of characters) for FrozenLake-like maps, else ``None``.
        shape: ``(rows, cols)`` for grid worlds (state ``row * cols + col``), else ``None``.
    """

    P: np.ndarray
    R: np.ndarray
    terminal: np.ndarray
    start: int = 0
    desc: tuple[str, ...] | None = None
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        S, A = self.R.shape
        if self.P.shape != (S, A, S):
            raise ValueError(f"P must have shape {(S, A, S)}, got {self.P.shape}")
        if not np.allclose(self.P.sum(axis=-1), 1.0):
            raise ValueError("every row P[s, a] must sum to 1")
        if self.terminal.shape != (S,):
            raise ValueError(f"terminal must have shape {(S,)}, got {self.terminal.shape}")
        if not 0 <= self.start < S:
            raise ValueError(f"start must be in [0, {S}), got {self.start}")

    @property
    def n_states(self) -> int:
        return self.R.shape[0]

    @property
    def n_actions(self) -> int:
        return self.R.shape[1]

    @property
    def is_deterministic(self) -> bool:
        """True when every ``P[s, a]`` puts all its mass on one next state."""
        return bool(np.all(np.isclose(self.P.max(axis=-1), 1.0)))


def deterministic_mdp(
    next_state: np.ndarray, reward: np.ndarray, terminal: np.ndarray, start: int = 0
) -> TabularMDP:
    """Build a :class:`TabularMDP` from a next-state table and a reward table, both ``(S, A)``."""
    next_state = np.asarray(next_state, dtype=np.int64)
    S, A = next_state.shape
    if next_state.min() < 0 or next_state.max() >= S:
        raise ValueError(f"next_state entries must be in [0, {S})")
    P = np.zeros((S, A, S))
    P[np.arange(S)[:, None], np.arange(A)[None, :], next_state] = 1.0
    return TabularMDP(P, np.asarray(reward, dtype=np.float64).reshape(S, A),
                      np.asarray(terminal, dtype=bool), int(start))


def from_toy_text(env) -> TabularMDP:
    """Read the transition table ``env.unwrapped.P`` of a gymnasium toy-text environment.

    Works for FrozenLake, CliffWalking and Taxi: ``P[s][a]`` is a list of
    ``(probability, next_state, reward, terminated)``. ``R[s, a]`` is the expected reward;
    states entered with ``terminated=True`` are terminal.
    """
    table = env.unwrapped.P
    S, A = len(table), len(table[0])
    P, R, terminal = np.zeros((S, A, S)), np.zeros((S, A)), np.zeros(S, dtype=bool)
    for s in range(S):
        for a in range(A):
            for prob, s_next, rew, done in table[s][a]:
                P[s, a, s_next] += prob
                R[s, a] += prob * rew
                terminal[s_next] |= bool(done)
    R[terminal] = 0.0  # no reward is collected from a terminal state
    start = int(np.argmax(getattr(env.unwrapped, "initial_state_distrib", np.eye(S)[0])))
    desc = getattr(env.unwrapped, "desc", None)
    rows = None if desc is None else tuple(b"".join(row).decode() for row in desc)
    shape = None if rows is None else (len(rows), len(rows[0]))
    return TabularMDP(P, R, terminal, start, rows, shape)


def frozen_lake(desc: list[str] | str = "4x4", slippery: bool = False) -> TabularMDP:
    """FrozenLake-v1 as a :class:`TabularMDP`: a map name (``"4x4"``, ``"8x8"``) or rows of
    ``S`` (start), ``F`` (frozen), ``H`` (hole, terminal), ``G`` (goal, terminal, reward 1).
    Actions: 0 left, 1 down, 2 right, 3 up; state ``row * ncol + col``."""
    import gymnasium as gym

    kwargs = {"map_name": desc} if isinstance(desc, str) else {"desc": list(desc)}
    env = gym.make("FrozenLake-v1", is_slippery=slippery, **kwargs)
    return from_toy_text(env)


#: Grid moves in FrozenLake's order: 0 left, 1 down, 2 right, 3 up.
GRID_MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))


def grid_mdp(cell_rewards: np.ndarray, start: tuple[int, int], reward_scale: float = 1.0
             ) -> TabularMDP:
    """A deterministic grid world: 4 moves (left, down, right, up); a move into the border
    stays put. Entering (or staying on) cell ``c`` pays ``reward_scale * cell_rewards[c]``.
    No terminal states: episodes end at the planning horizon.

    Args:
        cell_rewards: shape ``(rows, cols)``, the reward of each cell.
        start: ``(row, col)`` of the start state; states are ``row * cols + col``.
        reward_scale: e.g. ``1 / H`` so that an H-step return lies in ``[0, max reward]``.
    """
    cells = np.asarray(cell_rewards, dtype=np.float64)
    if cells.ndim != 2:
        raise ValueError(f"cell_rewards must be 2-D (rows, cols), got shape {cells.shape}")
    rows, cols = cells.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    next_state = np.zeros((rows * cols, len(GRID_MOVES)), dtype=np.int64)
    for a, (dr, dc) in enumerate(GRID_MOVES):
        next_state[:, a] = np.clip(r + dr, 0, rows - 1) * cols + np.clip(c + dc, 0, cols - 1)
    reward = reward_scale * cells.reshape(-1)[next_state]
    mdp = deterministic_mdp(next_state, reward, np.zeros(rows * cols, dtype=bool),
                            start[0] * cols + start[1])
    return TabularMDP(mdp.P, mdp.R, mdp.terminal, mdp.start, None, (rows, cols))


def two_hills(rows: int = 5, cols: int = 6, hill: float = 0.6, sigma: float = 1.0) -> np.ndarray:
    """Cell rewards of the *two hills* landscape of notebook 03, shape ``(rows, cols)``.

    A low hill (height ``hill``) at the middle of the left edge and a high peak (height 1)
    at the middle of the right edge, Gaussian bumps of width ``sigma``: from the default
    start ``(rows // 2, 2)`` random walks find the low hill more often, but with a long
    enough horizon the optimal plan climbs the high peak.
    """
    rr, cc = np.mgrid[:rows, :cols]
    mid = rows // 2

    def bump(col: int) -> np.ndarray:
        return np.exp(-((rr - mid) ** 2 + (cc - col) ** 2) / (2 * sigma**2))

    return hill * bump(0) + 1.0 * bump(cols - 1)


def value_iteration(
    mdp: TabularMDP, gamma: float, horizon: int | None = None, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal values by Bellman backups over the whole table.

    With ``horizon=H`` it returns the finite-horizon optimum of ``sum_{t<H} gamma^t r_t``
    (H backups, exact); with ``horizon=None`` the discounted optimum (``gamma < 1``),
    iterated until the change is below ``tol``. Terminal states have value 0.

    Returns:
        ``(V, Q)`` with shapes ``(S,)`` and ``(S, A)``: values with H steps to go.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if horizon is None and gamma >= 1.0:
        raise ValueError("the infinite-horizon case needs gamma < 1")
    live = ~mdp.terminal
    V = np.zeros(mdp.n_states)
    Q = np.zeros((mdp.n_states, mdp.n_actions))
    k = 0
    while horizon is None or k < horizon:
        Q = mdp.R + gamma * mdp.P @ (V * live)
        Q[mdp.terminal] = 0.0
        V_new = Q.max(axis=1)
        k += 1
        delta = np.max(np.abs(V_new - V)) if V.size else 0.0
        V = V_new
        if horizon is None and delta < tol:
            break
    return V, Q


def optimal_actions(q_values: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """Indices of the actions within ``atol`` of the best value, for one state's ``(A,)`` row."""
    q = np.asarray(q_values, dtype=np.float64)
    if q.ndim != 1:
        raise ValueError(f"q_values must be 1-D (one state), got shape {q.shape}")
    return np.flatnonzero(q >= q.max() - atol)


class TableModel:
    """A deterministic :class:`TabularMDP` as a fast planner model on Python ints.

    ``step(s, a)`` returns ``(next_state, reward, done)`` where ``done`` is True when the
    next state is terminal. Stepping from a terminal state is not meaningful (the search
    never does it). Raises ``ValueError`` for a stochastic MDP: the search tree of notebook
    03 stores one state per node, which needs deterministic dynamics.
    """

    def __init__(self, mdp: TabularMDP) -> None:
        if not mdp.is_deterministic:
            raise ValueError("TableModel needs a deterministic MDP (one next state per (s, a))")
        nxt = mdp.P.argmax(axis=-1)
        self.mdp = mdp
        self.n_actions = mdp.n_actions
        self.next_state = nxt.tolist()
        self.reward = mdp.R.astype(float).tolist()
        self.done = mdp.terminal[nxt].tolist()

    def step(self, state: int, action: int) -> tuple[int, float, bool]:
        """One transition ``(s, a) -> (s', r(s, a), s' is terminal)``."""
        return self.next_state[state][action], self.reward[state][action], self.done[state][action]


class CartPoleModel:
    """Gymnasium ``CartPole-v1`` dynamics (Euler integration) in pure Python.

    State: the tuple ``(x, x_dot, theta, theta_dot)`` as in ``env.unwrapped.state``;
    actions 0 (push left) and 1 (push right). ``step`` returns ``(next_state, reward,
    done)`` with ``done`` when ``|x| > 2.4`` or ``|theta| > 12°`` (gymnasium's
    ``terminated``) and ``reward`` paid on every step, the failing one included, like
    gymnasium (scaled: pass ``reward=1/H`` to keep an H-step return in ``[0, 1]``).
    The episode's time limit (500 steps) is the caller's business.
    """

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    x_threshold = 2.4
    theta_threshold = 12 * 2 * math.pi / 360

    def __init__(self, reward: float = 1.0) -> None:
        self.n_actions = 2
        self.step_reward = float(reward)
        self.total_mass = self.masscart + self.masspole
        self.polemass_length = self.masspole * self.length

    def step(self, state: tuple, action: int) -> tuple[tuple, float, bool]:
        """One Euler step of the cart-pole, as ``CartPoleEnv.step`` (equal to ~1e-15)."""
        x, x_dot, theta, theta_dot = state
        force = self.force_mag if action == 1 else -self.force_mag
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + self.polemass_length * theta_dot * theta_dot * sin) / self.total_mass
        thetaacc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos * cos / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * cos / self.total_mass
        x, theta = x + self.tau * x_dot, theta + self.tau * theta_dot
        x_dot, theta_dot = x_dot + self.tau * xacc, theta_dot + self.tau * thetaacc
        done = (x < -self.x_threshold or x > self.x_threshold
                or theta < -self.theta_threshold or theta > self.theta_threshold)
        return (x, x_dot, theta, theta_dot), self.step_reward, done


def cartpole_snapshot(env) -> tuple[float, float, float, float]:
    """The full state of a gymnasium CartPole environment as a tuple of Python floats.

    Together with :class:`CartPoleModel` this makes the environment *copyable*: a planner
    can simulate from the snapshot as often as it likes without touching the real env.
    """
    return tuple(float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64))
