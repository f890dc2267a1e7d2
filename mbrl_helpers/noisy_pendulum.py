"""The pendulum with noise in its known dynamics, and a tiny exhaustive-search planner.

Introduced in notebook ``01_open_vs_closed_loop`` (experiment "open loop vs replanning").
The world is :mod:`mbrl_helpers.pendulum` plus a random kick to the angular velocity after
every step,

    s_{t+1} = f(s_t, a_t) + (0, w_t),   w_t ~ N(0, sigma^2),   θ_dot clipped to [-8, 8].

The noise is passed in as an array ``(E, T)`` (one row per episode), so open-loop and
closed-loop controllers can be compared on exactly the same disturbances.

:class:`NoisyPendulumEnv` is the same world as a gymnasium environment (``Pendulum-v1`` plus the
kick), for learning agents (notebook ``06_uncertainty_and_ensembles``, PETS on a noisy system).

The planner is deliberately simple: it scores *every* plan of a small fixed set of
piecewise-constant torque sequences (e.g. ``3^5 = 243`` plans of 20 steps) on the
noise-free model and keeps the best. Sampling-based planners come in notebook 02.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from mbrl_helpers import pendulum

#: ``evaluate(states (N, 2), actions (N, H, 1)) -> returns (N,)`` on the noise-free model.
Evaluator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def piecewise_constant_plans(
    levels=(-2.0, 0.0, 2.0), n_segments: int = 5, segment_len: int = 4
) -> np.ndarray:
    """All torque sequences that hold one of ``levels`` for ``segment_len`` steps at a time.

    Returns:
        ``(len(levels) ** n_segments, n_segments * segment_len, 1)`` float array.
    """
    if n_segments < 1 or segment_len < 1 or len(levels) < 1:
        raise ValueError("need n_segments >= 1, segment_len >= 1 and at least one level")
    combos = np.array(list(itertools.product(levels, repeat=n_segments)), dtype=float)
    return np.repeat(combos, segment_len, axis=1)[..., None]


def pendulum_returns(states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Noise-free returns of action sequences: ``(N, 2)``, ``(N, H, 1)`` -> ``(N,)``."""
    return pendulum.rollout(states, actions)[1].sum(-1)


def plan_exhaustive(
    states: np.ndarray, candidates: np.ndarray, evaluate: Evaluator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best candidate plan from each state, scored on the noise-free model.

    Args:
        states: ``(E, 2)`` current states (one per episode).
        candidates: ``(K, H, 1)`` action sequences to try from every state.
        evaluate: returns of a batch of sequences (default :func:`pendulum_returns`);
            called once on ``E * K`` rows.

    Returns:
        ``(plans, returns)``: best sequences ``(E, H, 1)`` and their returns ``(E,)``.
        Non-finite returns rank last.
    """
    states = np.asarray(states, dtype=float)
    if states.ndim != 2 or states.shape[1] != pendulum.STATE_DIM:
        raise ValueError(f"states must have shape (E, 2), got {states.shape}")
    n_ep, n_cand = states.shape[0], candidates.shape[0]
    evaluate = evaluate or pendulum_returns
    flat = np.asarray(evaluate(np.repeat(states, n_cand, 0), np.tile(candidates, (n_ep, 1, 1))),
                      dtype=float)
    returns = np.where(np.isfinite(flat), flat, -np.inf).reshape(n_ep, n_cand)
    best = returns.argmax(1)
    return candidates[best], returns[np.arange(n_ep), best]


def noisy_step(state: np.ndarray, action: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """One step of the noisy world: ``f(s, a)`` plus ``noise (E,)`` on θ_dot (then clipped)."""
    nxt = pendulum.step(state, action)
    thdot = np.clip(nxt[..., 1] + noise, -pendulum.MAX_SPEED, pendulum.MAX_SPEED)
    return np.stack([nxt[..., 0], thdot], -1)


def _start(s0: np.ndarray, n_ep: int) -> np.ndarray:
    s0 = np.asarray(s0, dtype=float)
    if s0.shape == (pendulum.STATE_DIM,):
        s0 = np.repeat(s0[None], n_ep, 0)
    if s0.shape != (n_ep, pendulum.STATE_DIM):
        raise ValueError(f"s0 must have shape (2,) or ({n_ep}, 2), got {s0.shape}")
    return s0


def run_open_loop(s0, actions, noise) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Execute a fixed plan, whatever happens.

    Args:
        s0: start state ``(2,)`` or ``(E, 2)``.
        actions: the plan ``(T, 1)`` (the same for every episode) or ``(E, T, 1)``.
        noise: ``(E, T)`` kicks to θ_dot (zeros: the noise-free model).

    Returns:
        ``(states, actions, rewards)`` of shapes ``(E, T + 1, 2)``, ``(E, T, 1)``, ``(E, T)``.
    """
    noise = np.asarray(noise, dtype=float)
    n_ep, n_steps = noise.shape
    actions = np.broadcast_to(np.asarray(actions, dtype=float), (n_ep, n_steps, 1))
    states, rewards = [_start(s0, n_ep)], []
    for t in range(n_steps):
        rewards.append(pendulum.reward(states[-1], actions[:, t]))
        states.append(noisy_step(states[-1], actions[:, t], noise[:, t]))
    return np.stack(states, 1), np.array(actions), np.stack(rewards, 1)


def run_replanning(
    s0, noise, candidates: np.ndarray, replan_every: int = 1, evaluate: Evaluator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receding-horizon control: replan from the *observed* state every ``replan_every`` steps.

    Between replans the first ``replan_every`` actions of the latest plan are executed, so
    ``replan_every = 1`` is fully closed loop (MPC). All ``E`` episodes are planned in one
    batch.

    Args:
        s0: start state ``(2,)`` or ``(E, 2)``.
        noise: ``(E, T)`` kicks to θ_dot.
        candidates: ``(K, H, 1)`` plans for :func:`plan_exhaustive`; needs ``H >= replan_every``.
        replan_every: steps between replans, ``1 <= replan_every <= H``.
        evaluate: passed on to :func:`plan_exhaustive`.

    Returns:
        ``(states, actions, rewards)`` of shapes ``(E, T + 1, 2)``, ``(E, T, 1)``, ``(E, T)``.
    """
    noise = np.asarray(noise, dtype=float)
    n_ep, n_steps = noise.shape
    if not 1 <= replan_every <= candidates.shape[1]:
        raise ValueError(f"replan_every must be in [1, {candidates.shape[1]}], "
                         f"got {replan_every}")
    states, actions, rewards = [_start(s0, n_ep)], [], []
    for t in range(n_steps):
        if t % replan_every == 0:
            plans, _ = plan_exhaustive(states[-1], candidates, evaluate)
        actions.append(plans[:, t % replan_every])
        rewards.append(pendulum.reward(states[-1], actions[-1]))
        states.append(noisy_step(states[-1], actions[-1], noise[:, t]))
    return np.stack(states, 1), np.stack(actions, 1), np.stack(rewards, 1)


def nominal_plan(s0, n_steps: int, candidates: np.ndarray,
                 evaluate: Evaluator | None = None) -> np.ndarray:
    """The open-loop plan: receding-horizon planning *in imagination* on the noise-free model.

    Returns the ``(n_steps, 1)`` actions that replanning would take if the world had no
    noise; executed in the noise-free world they earn exactly the replanning return.
    """
    s0 = np.asarray(s0, dtype=float).reshape(1, pendulum.STATE_DIM)
    _, actions, _ = run_replanning(s0, np.zeros((1, n_steps)), candidates, 1, evaluate)
    return actions[0]


class NoisyPendulumEnv(gym.Wrapper):
    """``Pendulum-v1`` with process noise: after every step θ_dot += w, w ~ N(0, sigma^2), clipped.

    The reward is Pendulum-v1's (of the state before the step). The kicks are drawn from a
    generator seeded by ``reset(seed=...)``, so an episode is reproducible from its reset seed.
    With ``sigma = 0`` it is ``Pendulum-v1`` step for step. Used in notebook 06.
    """

    def __init__(self, sigma: float = 0.1, env: gym.Env | None = None):
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        super().__init__(env if env is not None else gym.make("Pendulum-v1"))
        self.sigma = float(sigma)
        self._noise_rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._noise_rng = np.random.default_rng([int(seed), 6])
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.sigma > 0:
            state = self.env.unwrapped.state
            kick = self.sigma * self._noise_rng.standard_normal()
            state[1] = np.clip(state[1] + kick, -pendulum.MAX_SPEED, pendulum.MAX_SPEED)
            obs = self.env.unwrapped._get_obs()
        return obs, reward, terminated, truncated, info
