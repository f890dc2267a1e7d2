"""The batched pendulum equals gymnasium's Pendulum-v1 step for step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbrl_helpers import pendulum


def _env_step(env, state, action):
    env.unwrapped.state = np.array(state, dtype=np.float64)
    obs, rew, *_ = env.step(np.asarray(action))
    return np.array(env.unwrapped.state), obs, rew


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_and_reward_match_gymnasium(dtype):
    rng = np.random.default_rng(0)
    n = 3000
    states = np.column_stack([rng.uniform(-3 * np.pi, 3 * np.pi, n), rng.uniform(-8, 8, n)])
    actions = rng.uniform(-3, 3, size=(n, 1)).astype(dtype)  # includes out-of-bound torques
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    expected = [_env_step(env, s, a) for s, a in zip(states, actions, strict=True)]
    nxt = pendulum.step(states, actions.astype(np.float64))
    rew = pendulum.reward(states, actions.astype(np.float64))
    np.testing.assert_allclose(nxt, np.array([e[0] for e in expected]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(rew, np.array([e[2] for e in expected]), rtol=0, atol=1e-6)
    np.testing.assert_allclose(pendulum.observe(nxt), np.array([e[1] for e in expected]),
                               atol=1e-6)
    if dtype == np.float64:  # same operations in the same precision: bit for bit
        assert np.array_equal(nxt, np.array([e[0] for e in expected]))


def test_episode_matches_env_rollout():
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(1)
    actions = rng.uniform(-2, 2, size=(1, 200, 1))
    start = np.array(env.unwrapped.state)
    env_rewards = [env.step(a)[1] for a in actions[0]]
    states, rewards = pendulum.rollout(start, actions)
    assert states.shape == (1, 201, 2) and rewards.shape == (1, 200)
    np.testing.assert_allclose(rewards[0], env_rewards, atol=1e-9)
    np.testing.assert_allclose(states[0, -1], env.unwrapped.state, atol=1e-9)


def test_torch_equals_numpy_and_is_differentiable():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(64, 2))
    a = rng.uniform(-1.5, 1.5, size=(64, 1))
    st = torch.tensor(s, requires_grad=True)
    at = torch.tensor(a, requires_grad=True)
    nxt, rew = pendulum.step(st, at), pendulum.reward(st, at)
    np.testing.assert_allclose(nxt.detach().numpy(), pendulum.step(s, a), atol=1e-12)
    np.testing.assert_allclose(rew.detach().numpy(), pendulum.reward(s, a), atol=1e-12)
    rew.sum().backward()
    assert at.grad is not None and torch.isfinite(at.grad).all()
    states, rewards = pendulum.rollout(torch.tensor(s[0]), torch.tensor(a[:5, None, :]))
    assert tuple(states.shape) == (5, 2, 2) and tuple(rewards.shape) == (5, 1)


def test_observe_roundtrip_and_shape_errors():
    s = np.array([[0.5, -1.0], [-3.0, 2.0]])
    np.testing.assert_allclose(pendulum.state_from_obs(pendulum.observe(s)), s)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        pendulum.step(np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="batch shapes differ"):
        pendulum.step(np.zeros((4, 2)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"\(N, H, 1\)"):
        pendulum.rollout(np.zeros(2), np.zeros((4, 3)))
