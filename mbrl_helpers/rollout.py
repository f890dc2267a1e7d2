"""Seeded rollouts of a policy in a gymnasium environment, and evaluation over reset seeds.

Introduced in notebook ``02_shooting_and_cem`` (baselines and the swing-up animation) and
used by every later notebook that collects data or compares controllers.

A *policy* is any callable mapping one observation to one action. A controller with
memory (e.g. a planner that warm-starts from its previous plan) may also define a
``reset()`` method: :func:`rollout` calls it right after ``env.reset``, so every episode
starts from a clean controller. All randomness of the environment comes from the reset
seed; a policy that samples must carry its own seeded ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

Policy = Callable[[Any], Any]


@dataclass
class Trajectory:
    """One episode.

    Attributes:
        observations: ``(T + 1, obs_dim)``, the reset observation first.
        actions: ``(T, act_dim)``, the actions passed to ``env.step``.
        rewards: ``(T,)``.
        terminated: whether the episode ended in a terminal state.
        truncated: whether it was cut off (time limit, or ``max_steps`` of :func:`rollout`).
        seed: the reset seed.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    seed: int

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def total_reward(self) -> float:
        """The undiscounted return ``sum_t r_t``."""
        return float(np.sum(self.rewards))


def rollout(env: Any, policy: Policy, seed: int, max_steps: int | None = None) -> Trajectory:
    """Run one episode of ``env`` under ``policy`` from ``env.reset(seed=seed)``.

    Args:
        env: a gymnasium environment.
        policy: observation -> action; its ``reset()`` (if any) is called after ``env.reset``.
        seed: the reset seed (an int).
        max_steps: optional cap on the number of steps; reaching it sets ``truncated``.

    Returns:
        The :class:`Trajectory`; ``actions`` are stored as float arrays of the action shape.
    """
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be a positive int or None, got {max_steps}")
    obs, _ = env.reset(seed=int(seed))
    if callable(getattr(policy, "reset", None)):
        policy.reset()
    act_shape = env.action_space.shape or ()
    observations, actions, rewards = [np.asarray(obs)], [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(np.asarray(obs))
        actions.append(np.asarray(action, dtype=np.float64).reshape(act_shape))
        rewards.append(float(reward))
        if max_steps is not None and len(rewards) >= max_steps:
            truncated = truncated or not terminated
            break
    return Trajectory(
        observations=np.stack(observations),
        actions=np.stack(actions) if actions else np.zeros((0, *act_shape)),
        rewards=np.asarray(rewards, dtype=np.float64),
        terminated=bool(terminated),
        truncated=bool(truncated),
        seed=int(seed),
    )


def evaluate(
    env: Any,
    policy: Policy,
    seeds: Sequence[int],
    max_steps: int | None = None,
    *,
    trajectories: bool = False,
    progress: bool = False,
) -> np.ndarray | tuple[np.ndarray, list[Trajectory]]:
    """Returns of ``policy`` over a fixed list of reset seeds (one episode per seed).

    Args:
        env: a gymnasium environment (reused for every episode).
        policy: observation -> action, see :func:`rollout`.
        seeds: the reset seeds, e.g. ``range(20)``; the same list makes runs comparable.
        max_steps: optional cap on each episode's length.
        trajectories: also return the list of :class:`Trajectory`.
        progress: show a tqdm progress bar over the seeds.

    Returns:
        ``returns`` of shape ``(len(seeds),)``, or ``(returns, trajectories)``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    runs = [rollout(env, policy, s, max_steps)
            for s in tqdm(seeds, desc="episodes", disable=not progress, leave=False)]
    returns = np.array([run.total_reward for run in runs])
    return (returns, runs) if trajectories else returns


def open_loop(actions: Any) -> Policy:
    """A policy that ignores observations and plays ``actions`` ``(T, act_dim)`` in order.

    Calling it more than ``T`` times raises ``IndexError``; ``reset()`` rewinds it.
    """
    actions = np.asarray(actions, dtype=np.float64)

    class _OpenLoop:
        def __init__(self) -> None:
            self.t = 0

        def reset(self) -> None:
            self.t = 0

        def __call__(self, obs: Any) -> np.ndarray:
            if self.t >= len(actions):
                raise IndexError(f"the open-loop plan has only {len(actions)} actions")
            self.t += 1
            return actions[self.t - 1]

    return _OpenLoop()
