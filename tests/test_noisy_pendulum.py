"""The noisy pendulum reduces to the exact pendulum without noise, and the exhaustive planner
finds the best candidate."""

from __future__ import annotations

import numpy as np
import pytest

from mbrl_helpers import noisy_pendulum as npend
from mbrl_helpers import pendulum


def test_piecewise_constant_plans():
    plans = npend.piecewise_constant_plans((-1.0, 1.0), n_segments=3, segment_len=2)
    assert plans.shape == (8, 6, 1)
    assert len({tuple(p.ravel()) for p in plans}) == 8
    assert np.all(plans[:, ::2] == plans[:, 1::2])
    with pytest.raises(ValueError):
        npend.piecewise_constant_plans((), 2, 2)


def test_noisy_step_adds_noise_to_velocity_only():
    rng = np.random.default_rng(0)
    s = np.column_stack([rng.uniform(-3, 3, 50), rng.uniform(-7, 7, 50)])
    a = rng.uniform(-2, 2, (50, 1))
    noise = rng.normal(size=50)
    nominal = pendulum.step(s, a)
    noisy = npend.noisy_step(s, a, noise)
    np.testing.assert_array_equal(noisy[:, 0], nominal[:, 0])
    np.testing.assert_allclose(noisy[:, 1], np.clip(nominal[:, 1] + noise, -8, 8))
    np.testing.assert_array_equal(npend.noisy_step(s, a, np.zeros(50)), nominal)


def test_plan_exhaustive_picks_the_best_candidate_per_state():
    cands = npend.piecewise_constant_plans((-2.0, 0.0, 2.0), 2, 3)
    states = np.array([[np.pi, 0.0], [0.3, -1.0], [-1.0, 2.0]])
    plans, returns = npend.plan_exhaustive(states, cands)
    for i, s in enumerate(states):
        all_returns = pendulum.rollout(s, cands)[1].sum(-1)
        assert returns[i] == pytest.approx(all_returns.max())
        assert np.array_equal(plans[i], cands[all_returns.argmax()])


def test_plan_exhaustive_ranks_nan_last():
    cands = npend.piecewise_constant_plans((-2.0, 2.0), 1, 2)

    def evaluate(states, actions):
        out = np.array([np.nan, -5.0] * (len(states) // 2))
        return out

    plans, returns = npend.plan_exhaustive(np.zeros((2, 2)), cands, evaluate)
    assert np.all(returns == -5.0) and np.all(plans == 2.0)


def test_without_noise_open_loop_equals_replanning():
    cands = npend.piecewise_constant_plans((-2.0, 0.0, 2.0), 3, 4)
    s0 = np.array([np.pi, 0.0])
    plan = npend.nominal_plan(s0, 15, cands)
    assert plan.shape == (15, 1)
    s_open, a_open, r_open = npend.run_open_loop(s0, plan, np.zeros((2, 15)))
    s_closed, a_closed, r_closed = npend.run_replanning(s0, np.zeros((2, 15)), cands)
    assert s_open.shape == (2, 16, 2) and a_open.shape == (2, 15, 1) and r_open.shape == (2, 15)
    np.testing.assert_allclose(r_open, r_closed)
    np.testing.assert_allclose(s_open, s_closed)
    # and the open-loop rewards are those of the exact pendulum rollout
    np.testing.assert_allclose(r_open[0], pendulum.rollout(s0, plan[None])[1][0])


def test_replanning_uses_the_observed_state():
    cands = npend.piecewise_constant_plans((-2.0, 0.0, 2.0), 2, 4)
    noise = np.random.default_rng(1).normal(0, 0.5, (3, 12))
    states, actions, rewards = npend.run_replanning(np.zeros(2), noise, cands, replan_every=4)
    for t in (0, 4, 8):  # at every replan the first action is the best plan from that state
        plans, _ = npend.plan_exhaustive(states[:, t], cands)
        np.testing.assert_array_equal(actions[:, t:t + 4], plans[:, :4])
    np.testing.assert_allclose(rewards, pendulum.reward(states[:, :-1], actions))
    with pytest.raises(ValueError):
        npend.run_replanning(np.zeros(2), noise, cands, replan_every=9)
    with pytest.raises(ValueError):
        npend.run_open_loop(np.zeros(3), np.zeros((12, 1)), noise)


def test_noisy_pendulum_env_kicks_velocity_and_is_reproducible():
    import gymnasium as gym

    def episode(env, seed, n=30):
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for t in range(n):
            out.append(env.step(np.array([np.sin(t)], dtype=np.float32))[0])
        return np.array(out)

    exact = episode(gym.make("Pendulum-v1"), 3)
    np.testing.assert_array_equal(episode(npend.NoisyPendulumEnv(0.0), 3), exact)
    noisy = episode(npend.NoisyPendulumEnv(0.3), 3)
    np.testing.assert_array_equal(noisy, episode(npend.NoisyPendulumEnv(0.3), 3))
    assert not np.allclose(noisy[1:], exact[1:])
    np.testing.assert_array_equal(noisy[0], exact[0])
    states = np.array([pendulum.state_from_obs(o.astype(float)) for o in noisy])
    assert np.all(np.abs(states[:, 1]) <= 8.0 + 1e-6)
    with pytest.raises(ValueError):
        npend.NoisyPendulumEnv(-0.1)
