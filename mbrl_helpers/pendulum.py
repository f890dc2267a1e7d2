"""Batched, exact dynamics and reward of gymnasium's ``Pendulum-v1`` (NumPy and torch).

Introduced in notebook ``01_open_vs_closed_loop`` and used by the planners of notebooks
02, 05 and 06. The functions mirror ``gymnasium.envs.classic_control.PendulumEnv.step``
operation by operation, so a batch of states stepped here equals ``env.step`` for each
state (``tests/test_pendulum.py`` proves it on thousands of random states and actions).

State ``s = (θ, θ_dot)`` (what the env keeps in ``env.unwrapped.state``); observation
``o = (cos θ, sin θ, θ_dot)``; action ``a ∈ [-2, 2]`` (torque, clipped); reward

    r(s, a) = -(normalize(θ)² + 0.1 θ_dot² + 0.001 a²)        (uses the state *before* the step)

    θ_dot' = clip(θ_dot + (3g/(2l) sin θ + 3/(m l²) a) dt, -8, 8),   θ' = θ + θ_dot' dt.

| constant | value |   | constant | value |
|---|---|---|---|---|
| g | 10.0 |   | dt | 0.05 |
| m, l | 1.0 |   | max torque / speed | 2.0 / 8.0 |
"""

from __future__ import annotations

from typing import Any

import numpy as np

G, M, L, DT = 10.0, 1.0, 1.0, 0.05
MAX_TORQUE, MAX_SPEED = 2.0, 8.0
STATE_DIM, OBS_DIM, ACTION_DIM = 2, 3, 1


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _lib(x: Any):
    if _is_torch(x):
        import torch

        return torch
    return np


def _check(state: Any, action: Any) -> None:
    if state.shape[-1] != STATE_DIM:
        raise ValueError(f"state must have shape (..., 2) = (θ, θ_dot), got {tuple(state.shape)}")
    if action.shape[-1] != ACTION_DIM:
        raise ValueError(f"action must have shape (..., 1), got {tuple(action.shape)}")
    if tuple(state.shape[:-1]) != tuple(action.shape[:-1]):
        raise ValueError(
            f"batch shapes differ: state {tuple(state.shape)} vs action {tuple(action.shape)}"
        )


def angle_normalize(theta: Any) -> Any:
    """Map angles to ``[-π, π)``, exactly as gymnasium does."""
    return ((theta + np.pi) % (2 * np.pi)) - np.pi


def reward(state: Any, action: Any) -> Any:
    """Reward ``r(s, a)`` for a batch: state ``(..., 2)``, action ``(..., 1)`` -> ``(...)``."""
    _check(state, action)
    lib = _lib(state)
    u = lib.clip(action[..., 0], -MAX_TORQUE, MAX_TORQUE)
    th, thdot = state[..., 0], state[..., 1]
    return -(angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * u**2)


def step(state: Any, action: Any) -> Any:
    """Next state ``f(s, a)`` for a batch: state ``(..., 2)``, action ``(..., 1)`` -> ``(..., 2)``.

    Works on NumPy arrays and torch tensors (differentiable except at the clipping
    bounds). Actions outside ``[-2, 2]`` are clipped, as in the env.
    """
    _check(state, action)
    lib = _lib(state)
    u = lib.clip(action[..., 0], -MAX_TORQUE, MAX_TORQUE)
    th, thdot = state[..., 0], state[..., 1]
    newthdot = thdot + (3 * G / (2 * L) * lib.sin(th) + 3.0 / (M * L**2) * u) * DT
    newthdot = lib.clip(newthdot, -MAX_SPEED, MAX_SPEED)
    newth = th + newthdot * DT
    return lib.stack([newth, newthdot], -1)


def observe(state: Any) -> Any:
    """Observation ``(cos θ, sin θ, θ_dot)`` of a batch of states ``(..., 2)`` -> ``(..., 3)``."""
    if state.shape[-1] != STATE_DIM:
        raise ValueError(f"state must have shape (..., 2), got {tuple(state.shape)}")
    lib = _lib(state)
    th, thdot = state[..., 0], state[..., 1]
    return lib.stack([lib.cos(th), lib.sin(th), thdot], -1)


def state_from_obs(obs: Any) -> Any:
    """Invert :func:`observe`: ``(..., 3)`` -> ``(..., 2)`` with θ in ``(-π, π]``."""
    if obs.shape[-1] != OBS_DIM:
        raise ValueError(f"observation must have shape (..., 3), got {tuple(obs.shape)}")
    lib = _lib(obs)
    return lib.stack([lib.arctan2(obs[..., 1], obs[..., 0]), obs[..., 2]], -1)


def rollout(state: Any, actions: Any) -> tuple[Any, Any]:
    """Roll action sequences through the true dynamics.

    Args:
        state: start states ``(N, 2)`` (or one state ``(2,)``, broadcast to all sequences).
        actions: action sequences ``(N, H, 1)``.

    Returns:
        ``(states, rewards)``: visited states ``(N, H + 1, 2)`` (the start state first) and
        rewards ``(N, H)``; ``rewards.sum(-1)`` is the return of each sequence.
    """
    if actions.ndim != 3 or actions.shape[-1] != ACTION_DIM:
        raise ValueError(f"actions must have shape (N, H, 1), got {tuple(actions.shape)}")
    lib = _lib(actions)
    n, horizon = actions.shape[0], actions.shape[1]
    if state.ndim == 1:
        state = state[None].repeat(n, 0) if lib is np else state.expand(n, -1)
    if state.shape != (n, STATE_DIM):
        raise ValueError(f"state must have shape ({n}, 2) or (2,), got {tuple(state.shape)}")
    states, rewards = [state], []
    for t in range(horizon):
        rewards.append(reward(states[-1], actions[:, t]))
        states.append(step(states[-1], actions[:, t]))
    return lib.stack(states, 1), lib.stack(rewards, 1)
