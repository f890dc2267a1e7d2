"""Finite MDPs with known dynamics: random instances, lecture examples, and sampling.

Introduced in notebook ``01_open_vs_closed_loop``. A finite MDP with horizon ``H`` is
given by arrays (``S`` states, ``A`` actions)

| array | shape | meaning |
|---|---|---|
| ``P`` | ``(S, A, S)`` | ``P[s, a, s'] = p(s_{t+1} = s' | s_t = s, a_t = a)``, rows sum to 1 |
| ``R`` | ``(S, A)`` | reward ``r(s, a)`` of taking ``a`` in ``s`` |
| ``p0`` | ``(S,)`` | distribution of the initial state ``s_0`` |

An episode takes ``H`` actions ``a_0, ..., a_{H-1}``, visits ``s_0, ..., s_H`` and earns
``sum_{t<H} R[s_t, a_t]`` (no discount, no reward for the last state ``s_H``).

This module only *describes* and *samples* MDPs. Computing exact values (forward
propagation, exhaustive search, dynamic programming) is the notebook's exercise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FiniteMDP:
    """A finite MDP ``(P, R, p0)`` with readable names (see the module docstring).

    Attributes:
        P: transition probabilities ``(S, A, S)``.
        R: rewards ``(S, A)``.
        p0: initial state distribution ``(S,)``.
        state_names: ``S`` labels, for plots and printouts.
        action_names: ``S`` lists of ``A`` labels: ``action_names[s][a]`` says what action
            ``a`` means in state ``s`` (the same index can mean different things).
    """

    P: np.ndarray
    R: np.ndarray
    p0: np.ndarray
    state_names: list[str] = field(default_factory=list)
    action_names: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_mdp(self.P, self.R, self.p0)
        n_states, n_actions = self.R.shape
        if not self.state_names:
            object.__setattr__(self, "state_names", [f"s{i}" for i in range(n_states)])
        if not self.action_names:
            names = [[f"a{j}" for j in range(n_actions)] for _ in range(n_states)]
            object.__setattr__(self, "action_names", names)
        if len(self.state_names) != n_states or len(self.action_names) != n_states:
            raise ValueError("state_names and action_names need one entry per state")
        if any(len(row) != n_actions for row in self.action_names):
            raise ValueError(f"every action_names[s] needs {n_actions} labels")

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.R.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return int(self.R.shape[1])


def check_mdp(P, R, p0=None, *, atol: float = 1e-8) -> None:
    """Raise ``ValueError`` unless ``P (S, A, S)``, ``R (S, A)`` and ``p0 (S,)`` fit together.

    Checks shapes, finiteness, non-negative probabilities and rows summing to 1 (within
    ``atol``). ``p0=None`` skips the initial distribution. Used by the notebook's stubs.
    """
    P, R = np.asarray(P), np.asarray(R)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
    if R.shape != P.shape[:2]:
        raise ValueError(f"R must have shape (S, A) = {P.shape[:2]}, got {R.shape}")
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(R))):
        raise ValueError("P and R must be finite")
    if np.any(P < 0) or not np.allclose(P.sum(-1), 1.0, rtol=0, atol=atol):
        raise ValueError("every P[s, a, :] must be a probability distribution")
    if p0 is not None:
        p0 = np.asarray(p0)
        if p0.shape != (P.shape[0],):
            raise ValueError(f"p0 must have shape ({P.shape[0]},), got {p0.shape}")
        if np.any(p0 < 0) or not abs(float(p0.sum()) - 1.0) <= atol:
            raise ValueError("p0 must be a probability distribution")


def check_horizon(horizon) -> int:
    """Return ``horizon`` as an ``int`` if it is an integer >= 1, else raise ``ValueError``."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    return int(horizon)


def random_mdp(
    n_states: int,
    n_actions: int,
    seed: int | np.random.Generator = 0,
    *,
    deterministic: bool = False,
    start: int | None = None,
    concentration: float = 0.5,
) -> FiniteMDP:
    """A random finite MDP for tests and experiments.

    Args:
        n_states, n_actions: ``S >= 1`` and ``A >= 1``.
        seed: an int or a NumPy ``Generator``.
        deterministic: if True, every ``P[s, a]`` is one-hot (a deterministic world).
        start: if given, ``p0`` is a point mass on this state; otherwise it is random
            (Dirichlet) with full support.
        concentration: Dirichlet parameter of the rows of ``P``; small values give
            peaked, nearly deterministic transitions.

    Returns:
        A :class:`FiniteMDP` with rewards drawn from a standard normal.
    """
    if n_states < 1 or n_actions < 1:
        raise ValueError(f"need n_states, n_actions >= 1, got {n_states}, {n_actions}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if deterministic:
        nxt = rng.integers(n_states, size=(n_states, n_actions))
        P = np.eye(n_states)[nxt]
    else:
        P = rng.dirichlet(np.full(n_states, concentration), size=(n_states, n_actions))
    R = rng.standard_normal((n_states, n_actions))
    if start is None:
        p0 = rng.dirichlet(np.ones(n_states))
    else:
        if not 0 <= start < n_states:
            raise ValueError(f"start must be in [0, {n_states}), got {start}")
        p0 = np.eye(n_states)[start]
    return FiniteMDP(P, R, p0)


def exam_mdp(
    n_questions: int = 2,
    reward_correct: float = 1.0,
    reward_wrong: float = -1.0,
    reward_home: float = 0.2,
) -> FiniteMDP:
    """The lecture's exam: the question is revealed only *after* you choose to sit the test.

    States: ``0`` "start", ``1..Q`` "question q" (one of ``Q`` equally likely questions),
    ``Q + 1`` "end" (absorbing, reward 0). Actions ``0..A-1`` with ``A = max(2, Q)``:

    * at "start": action 0 goes home (reward ``reward_home``, then "end"); any other action
      sits the test (reward 0, then a uniformly random question);
    * at "question q": action ``q - 1`` is the right answer (``reward_correct``), any other
      action a wrong one (``reward_wrong``); then "end".

    With horizon 2 an open-loop plan must choose its answer before seeing the question, so
    it sits the test only if guessing pays; a closed-loop policy answers every question.
    """
    if n_questions < 2:
        raise ValueError(f"an exam needs at least 2 questions, got {n_questions}")
    q_count = int(n_questions)
    n_states, n_actions = q_count + 2, max(2, q_count)
    end = q_count + 1
    P = np.zeros((n_states, n_actions, n_states))
    R = np.zeros((n_states, n_actions))
    P[0, 0, end] = 1.0
    R[0, 0] = reward_home
    P[0, 1:, 1 : q_count + 1] = 1.0 / q_count
    for q in range(1, q_count + 1):
        P[q, :, end] = 1.0
        R[q, :] = reward_wrong
        R[q, q - 1] = reward_correct
    P[end, :, end] = 1.0
    letters = [chr(ord("A") + i) for i in range(n_actions)]
    names = ["start"] + [f"question {letters[q]}" for q in range(q_count)] + ["end"]
    actions = [["go home"] + ["sit test"] * (n_actions - 1)]
    actions += [[f"answer {letters[a]}" for a in range(n_actions)] for _ in range(q_count)]
    actions += [["-"] * n_actions]
    return FiniteMDP(P, R, np.eye(n_states)[0], names, actions)


def drifting_line_mdp(half_width: int = 5, p_drift: float = 0.3) -> FiniteMDP:
    """A position on a line that drifts at random: the tabular cousin of the noisy pendulum.

    States are positions ``x = -K..K`` (index ``x + K``), starting at ``x = 0``. Actions
    ``0, 1, 2`` push by ``-1, 0, +1``; then a random drift of ``-1`` or ``+1`` (each with
    probability ``p_drift``, else 0) is added and the position is clipped to ``[-K, K]``.
    The reward ``r(x, a) = -E[|x_{t+1}|]`` is the expected distance from the centre after the
    push and the drift: stay near the centre. Seeing where the drift went is what lets a
    closed-loop policy push back.
    """
    if half_width < 1 or not 0.0 <= p_drift <= 0.5:
        raise ValueError("need half_width >= 1 and p_drift in [0, 0.5]")
    k = int(half_width)
    n_states = 2 * k + 1
    positions = np.arange(-k, k + 1)
    P = np.zeros((n_states, 3, n_states))
    for push in (-1, 0, 1):
        for drift, prob in ((-1, p_drift), (0, 1.0 - 2 * p_drift), (1, p_drift)):
            nxt = np.clip(positions + push + drift, -k, k) + k
            P[np.arange(n_states), push + 1, nxt] += prob
    R = -P @ np.abs(positions).astype(float)
    names = [f"x={x}" for x in positions]
    actions = [["push -1", "stay", "push +1"] for _ in positions]
    return FiniteMDP(P, R, np.eye(n_states)[k], names, actions)


def sample_trajectories(
    mdp: FiniteMDP,
    n: int,
    rng: np.random.Generator,
    *,
    actions=None,
    policy=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate ``n`` episodes of ``mdp`` under an open-loop plan or a closed-loop policy.

    Exactly one of ``actions`` (open loop: ``(H,)`` ints, the same for every episode) and
    ``policy`` (closed loop: ``(H, S)`` ints, ``a_t = policy[t, s_t]``) must be given.

    Returns:
        ``(states, rewards)``: ``(n, H + 1)`` ints and ``(n, H)`` floats.
    """
    if (actions is None) == (policy is None):
        raise ValueError("give exactly one of actions (open loop) and policy (closed loop)")
    plan = np.asarray(actions if policy is None else policy, dtype=np.int64)
    if policy is None and plan.ndim != 1:
        raise ValueError(f"actions must have shape (H,), got {plan.shape}")
    if policy is not None and (plan.ndim != 2 or plan.shape[1] != mdp.n_states):
        raise ValueError(f"policy must have shape (H, {mdp.n_states}), got {plan.shape}")
    if plan.size and (plan.min() < 0 or plan.max() >= mdp.n_actions):
        raise ValueError(f"actions must lie in [0, {mdp.n_actions})")
    horizon = plan.shape[0]
    states = np.empty((n, horizon + 1), dtype=np.int64)
    rewards = np.empty((n, horizon))
    states[:, 0] = _draw(np.broadcast_to(mdp.p0, (n, mdp.n_states)), rng)
    for t in range(horizon):
        s = states[:, t]
        a = plan[t, s] if policy is not None else np.full(n, plan[t])
        rewards[:, t] = mdp.R[s, a]
        states[:, t + 1] = _draw(mdp.P[s, a], rng)
    return states, rewards


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``probs (n, S)`` (inverse CDF)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(-1), probs.shape[1] - 1)


def occupancy(states: np.ndarray, n_states: int) -> np.ndarray:
    """Empirical state distribution per time step: ``(n, T)`` ints -> ``(T, S)`` frequencies."""
    states = np.asarray(states)
    counts = np.stack([np.bincount(states[:, t], minlength=n_states)
                       for t in range(states.shape[1])])
    return counts / max(states.shape[0], 1)
