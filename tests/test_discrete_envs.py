"""Tabular MDPs, value iteration and the planner models of notebook 03."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

from mbrl_helpers import discrete_envs as de


def test_frozen_lake_table_matches_gymnasium_steps():
    mdp = de.frozen_lake("4x4")
    model = de.TableModel(mdp)
    env = gym.make("FrozenLake-v1", is_slippery=False).unwrapped
    assert mdp.shape == (4, 4) and mdp.start == 0 and mdp.desc[0] == "SFFF"
    for s, a in itertools.product(range(16), range(4)):
        if mdp.terminal[s]:
            continue
        env.reset(seed=0)
        env.s = s
        obs, reward, terminated, _, _ = env.step(a)
        assert model.step(s, a) == (obs, float(reward), terminated)


def test_slippery_lake_is_stochastic_and_rejected_by_table_model():
    mdp = de.frozen_lake("4x4", slippery=True)
    assert not mdp.is_deterministic
    np.testing.assert_allclose(mdp.P.sum(-1), 1.0)
    with pytest.raises(ValueError, match="deterministic"):
        de.TableModel(mdp)


def test_value_iteration_finite_horizon_equals_brute_force():
    rng = np.random.default_rng(0)
    S, A, H, gamma = 6, 3, 4, 0.9
    nxt = rng.integers(0, S, size=(S, A))
    rew = rng.uniform(size=(S, A))
    terminal = np.zeros(S, dtype=bool)
    terminal[5] = True
    mdp = de.deterministic_mdp(nxt, rew, terminal, start=0)
    _, Q = de.value_iteration(mdp, gamma, horizon=H)

    def best_return(s, steps):  # exhaustive search over all action sequences
        if steps == 0 or terminal[s]:
            return 0.0
        return max(rew[s, a] + gamma * best_return(nxt[s, a], steps - 1) for a in range(A))

    for s in range(S):
        for a in range(A):
            want = 0.0 if terminal[s] else rew[s, a] + gamma * best_return(nxt[s, a], H - 1)
            assert math.isclose(Q[s, a], want, rel_tol=1e-12, abs_tol=1e-12)


def test_value_iteration_discounted_shortest_path_on_lake():
    mdp = de.frozen_lake("4x4")
    V, Q = de.value_iteration(mdp, 0.9)
    assert math.isclose(V[0], 0.9**5, rel_tol=1e-9)  # 6 moves to the goal, reward on the last
    assert set(de.optimal_actions(Q[0]).tolist()) == {1, 2}  # down or right
    assert V[mdp.terminal].max() == 0.0
    with pytest.raises(ValueError):
        de.value_iteration(mdp, 1.0)  # infinite horizon needs gamma < 1


def test_grid_mdp_moves_and_rewards():
    cells = np.arange(6, dtype=float).reshape(2, 3)
    mdp = de.grid_mdp(cells, start=(1, 1), reward_scale=0.5)
    model = de.TableModel(mdp)
    assert mdp.start == 4 and mdp.shape == (2, 3)
    assert model.step(4, 0) == (3, 1.5, False)  # left
    assert model.step(4, 1) == (4, 2.0, False)  # down into the border: stay
    assert model.step(4, 2) == (5, 2.5, False)  # right
    assert model.step(4, 3) == (1, 0.5, False)  # up


def test_two_hills_optimum_is_the_far_peak():
    heights = de.two_hills()
    assert heights.shape == (5, 6) and heights.argmax() == 2 * 6 + 5
    mdp = de.grid_mdp(heights, start=(2, 2), reward_scale=0.1)
    _, Q = de.value_iteration(mdp, 1.0, horizon=10)
    assert de.optimal_actions(Q[mdp.start]).tolist() == [2]  # right, toward the high peak
    assert Q[mdp.start].max() <= 1.0


def test_cartpole_model_matches_gymnasium():
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    model = de.CartPoleModel()
    rng = np.random.default_rng(1)
    for _ in range(2000):
        state = tuple(rng.uniform([-2.4, -3, -0.21, -3], [2.4, 3, 0.21, 3]))
        action = int(rng.integers(2))
        env.state = np.array(state)
        env.steps_beyond_terminated = None
        _, reward, terminated, _, _ = env.step(action)
        nxt, r, done = model.step(state, action)
        np.testing.assert_allclose(nxt, env.state, rtol=0, atol=1e-12)
        assert done == terminated and r == reward


def test_cartpole_snapshot_replays_an_episode():
    env = gym.make("CartPole-v1")
    env.reset(seed=3)
    model = de.CartPoleModel(reward=0.1)
    state = de.cartpole_snapshot(env)
    assert isinstance(state, tuple) and all(type(v) is float for v in state)
    for t in range(30):
        action = t % 2
        state, r, done = model.step(state, action)
        _, _, terminated, _, _ = env.step(action)
        np.testing.assert_allclose(state, de.cartpole_snapshot(env), atol=1e-9)
        assert r == 0.1 and done == terminated
        if done:
            break


def test_input_validation():
    with pytest.raises(ValueError):
        de.deterministic_mdp(np.array([[0, 2]]), np.zeros((1, 2)), np.zeros(1, dtype=bool))
    with pytest.raises(ValueError):
        de.grid_mdp(np.zeros(3), start=(0, 0))
    with pytest.raises(ValueError):
        de.optimal_actions(np.zeros((2, 2)))
    with pytest.raises(ValueError):
        de.TabularMDP(np.full((1, 1, 1), 0.5), np.zeros((1, 1)), np.zeros(1, dtype=bool))
