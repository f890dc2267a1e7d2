"""Seeded rollouts and evaluation over reset seeds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from mbrl_helpers import pendulum
from mbrl_helpers.rollout import Trajectory, evaluate, open_loop, rollout


def _zero(obs):
    return np.zeros(1)


def test_rollout_shapes_and_truncation():
    env = gym.make("Pendulum-v1")
    traj = rollout(env, _zero, seed=0)
    assert isinstance(traj, Trajectory) and len(traj) == 200
    assert traj.observations.shape == (201, 3) and traj.actions.shape == (200, 1)
    assert traj.rewards.shape == (200,) and traj.truncated and not traj.terminated
    assert traj.total_reward == pytest.approx(traj.rewards.sum())
    np.testing.assert_allclose(traj.observations[0], env.reset(seed=0)[0])


def test_rollout_matches_batched_dynamics_and_is_seeded():
    env = gym.make("Pendulum-v1")
    actions = np.random.default_rng(0).uniform(-2, 2, size=(30, 1))
    traj = rollout(env, open_loop(actions), seed=4, max_steps=30)
    start = pendulum.state_from_obs(traj.observations[0])
    states, rewards = pendulum.rollout(start, actions[None])
    np.testing.assert_allclose(traj.rewards, rewards[0], atol=1e-5)
    np.testing.assert_allclose(traj.observations[1:], pendulum.observe(states[0, 1:]), atol=1e-5)
    again = rollout(env, open_loop(actions), seed=4, max_steps=30)
    np.testing.assert_array_equal(again.rewards, traj.rewards)
    assert len(again) == 30 and again.truncated


def test_open_loop_runs_out_and_resets():
    policy = open_loop(np.ones((2, 1)))
    env = gym.make("Pendulum-v1")
    with pytest.raises(IndexError, match="only 2 actions"):
        rollout(env, policy, seed=0, max_steps=3)
    assert len(rollout(env, policy, seed=0, max_steps=2)) == 2  # reset() rewinds it


def test_rollout_stops_on_terminated():
    env = gym.make("CartPole-v1")
    traj = rollout(env, lambda obs: 1, seed=0)
    assert traj.terminated and not traj.truncated and len(traj) < 100
    assert traj.actions.shape == (len(traj),)


def test_evaluate_over_seeds_and_reset_hook():
    env = gym.make("Pendulum-v1")

    class Counter:
        resets = 0

        def reset(self):
            Counter.resets += 1

        def __call__(self, obs):
            return np.array([0.5])

    returns, runs = evaluate(env, Counter(), seeds=range(3), max_steps=5, trajectories=True)
    assert returns.shape == (3,) and Counter.resets == 3
    assert [r.seed for r in runs] == [0, 1, 2]
    np.testing.assert_allclose(returns, [r.total_reward for r in runs])
    np.testing.assert_array_equal(evaluate(env, Counter(), [1], max_steps=5), returns[1:2])
    with pytest.raises(ValueError, match="seeds"):
        evaluate(env, _zero, [])
    with pytest.raises(ValueError, match="max_steps"):
        rollout(env, _zero, 0, max_steps=0)
