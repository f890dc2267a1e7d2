"""Transition data for learning a dynamics model: a buffer and random-policy collection.

Introduced in notebook ``05_learning_dynamics`` (MBRL v0.5, v1.0 and v1.5). The model,
its normalization, its training and the planning loops are the notebook's exercises and
do not live here; this module only stores and collects data.

States are the pendulum's ``s = (θ, θ_dot)`` recovered from observations with
:func:`mbrl_helpers.pendulum.state_from_obs` (θ in ``(-π, π]``); actions are ``(1,)``
torques. Every transition ``(s, a, s')`` is one real environment step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbrl_helpers import pendulum


class TransitionBuffer:
    """A growing dataset ``D = {(s, a, s')}`` of single environment steps.

    Attributes are read through :meth:`arrays` (NumPy) or :meth:`tensors` (torch,
    float32). Each transition keeps the index of the episode it came from (``episode``),
    so plots can tell the data of different collection rounds apart.
    """

    def __init__(self, state_dim: int = pendulum.STATE_DIM,
                 action_dim: int = pendulum.ACTION_DIM) -> None:
        self.state_dim, self.action_dim = int(state_dim), int(action_dim)
        self._s: list[np.ndarray] = []
        self._a: list[np.ndarray] = []
        self._s2: list[np.ndarray] = []
        self._tag: list[int] = []

    def __len__(self) -> int:
        return len(self._s)

    def add(self, state: Any, action: Any, next_state: Any, tag: int = 0) -> None:
        """Append one transition: ``state (d_s,)``, ``action (d_a,)``, ``next_state (d_s,)``.

        ``tag`` is a free integer label (e.g. the collection round) kept per transition.
        """
        s = np.array(state, dtype=np.float64).reshape(-1)
        a = np.array(action, dtype=np.float64).reshape(-1)
        s2 = np.array(next_state, dtype=np.float64).reshape(-1)
        if s.shape != (self.state_dim,) or s2.shape != (self.state_dim,):
            raise ValueError(f"states must have {self.state_dim} entries, got "
                             f"{np.shape(state)} and {np.shape(next_state)}")
        if a.shape != (self.action_dim,):
            raise ValueError(f"action must have {self.action_dim} entries, got {np.shape(action)}")
        self._s.append(s)
        self._a.append(a)
        self._s2.append(s2)
        self._tag.append(int(tag))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(states (n, d_s), actions (n, d_a), next_states (n, d_s))`` as float64 arrays."""
        if not self._s:
            return (np.zeros((0, self.state_dim)), np.zeros((0, self.action_dim)),
                    np.zeros((0, self.state_dim)))
        return np.stack(self._s), np.stack(self._a), np.stack(self._s2)

    def tags(self) -> np.ndarray:
        """The ``tag`` of every transition, ``(n,)`` ints."""
        return np.asarray(self._tag, dtype=np.int64)

    def tensors(self) -> tuple[Any, Any, Any]:
        """:meth:`arrays` as float32 torch tensors."""
        import torch

        return tuple(torch.as_tensor(x, dtype=torch.float32) for x in self.arrays())


def collect_random(env: Any, n_steps: int, seed: int, buffer: TransitionBuffer | None = None,
                   tag: int = 0) -> TransitionBuffer:
    """Collect ``n_steps`` transitions with uniformly random torques (the base policy π_0).

    Episodes run until the env truncates them (200 steps for ``Pendulum-v1``) or the step
    budget is spent; episode ``k`` starts from ``env.reset(seed=seed + k)`` and the
    actions come from ``np.random.default_rng(seed)``, so a call is reproducible.

    Args:
        env: a ``Pendulum-v1`` environment.
        n_steps: number of environment steps (= transitions) to collect, ``>= 0``.
        seed: reset seed of the first episode and seed of the action generator.
        buffer: buffer to append to (a new one if ``None``).
        tag: label stored with every transition.

    Returns:
        The buffer, with exactly ``n_steps`` more transitions.
    """
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    buffer = TransitionBuffer() if buffer is None else buffer
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    done, episode = True, 0
    for _ in range(n_steps):
        if done:
            obs, _ = env.reset(seed=int(seed) + episode)
            episode += 1
        action = rng.uniform(low, high).astype(np.float32)
        next_obs, _, terminated, truncated, _ = env.step(action)
        buffer.add(pendulum.state_from_obs(np.asarray(obs, dtype=np.float64)), action,
                   pendulum.state_from_obs(np.asarray(next_obs, dtype=np.float64)), tag)
        obs, done = next_obs, terminated or truncated
    return buffer
