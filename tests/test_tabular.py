"""Finite MDPs: generators produce valid MDPs, the lecture examples have the intended
structure, and sampling follows the transition table."""

from __future__ import annotations

import numpy as np
import pytest

from mbrl_helpers import tabular
from mbrl_helpers.tabular import FiniteMDP, check_horizon, check_mdp


@pytest.mark.parametrize(("n_states", "n_actions"), [(1, 1), (2, 3), (7, 2)])
@pytest.mark.parametrize("deterministic", [False, True])
def test_random_mdp_is_valid_and_seeded(n_states, n_actions, deterministic):
    mdp = tabular.random_mdp(n_states, n_actions, seed=4, deterministic=deterministic)
    assert mdp.P.shape == (n_states, n_actions, n_states) and mdp.R.shape == (n_states, n_actions)
    np.testing.assert_allclose(mdp.P.sum(-1), 1.0)
    assert abs(mdp.p0.sum() - 1.0) < 1e-12 and np.all(mdp.p0 > 0)
    if deterministic:
        assert set(np.unique(mdp.P)) <= {0.0, 1.0}
    again = tabular.random_mdp(n_states, n_actions, seed=4, deterministic=deterministic)
    assert np.array_equal(mdp.P, again.P) and np.array_equal(mdp.R, again.R)
    other = tabular.random_mdp(n_states, n_actions, seed=5, deterministic=deterministic)
    assert not np.array_equal(mdp.R, other.R)


def test_random_mdp_start_and_generator():
    mdp = tabular.random_mdp(4, 2, seed=np.random.default_rng(0), start=2)
    assert np.array_equal(mdp.p0, np.eye(4)[2])
    with pytest.raises(ValueError):
        tabular.random_mdp(4, 2, start=4)
    with pytest.raises(ValueError):
        tabular.random_mdp(0, 2)


def test_check_mdp_rejects_bad_input():
    mdp = tabular.random_mdp(3, 2, seed=0)
    check_mdp(mdp.P, mdp.R, mdp.p0)
    check_mdp(mdp.P, mdp.R)
    bad_rows = mdp.P.copy()
    bad_rows[0, 0, 0] += 0.1
    for args in [(mdp.P[:, :, :2], mdp.R), (mdp.P, mdp.R[:, :1]), (bad_rows, mdp.R),
                 (mdp.P, mdp.R, mdp.p0[:2]), (mdp.P, mdp.R, mdp.p0 * 2),
                 (mdp.P, mdp.R * np.nan)]:
        with pytest.raises(ValueError):
            check_mdp(*args)
    with pytest.raises(ValueError):
        FiniteMDP(mdp.P, mdp.R, mdp.p0, state_names=["a"])


def test_check_horizon():
    assert check_horizon(3) == 3 and check_horizon(np.int64(1)) == 1
    for bad in [0, -1, 2.0, True, "2"]:
        with pytest.raises(ValueError):
            check_horizon(bad)


@pytest.mark.parametrize("n_questions", [2, 3, 5])
def test_exam_mdp_structure(n_questions):
    mdp = tabular.exam_mdp(n_questions, reward_correct=1.0, reward_wrong=-1.0, reward_home=0.2)
    end = n_questions + 1
    assert mdp.n_states == n_questions + 2 and mdp.n_actions == max(2, n_questions)
    assert mdp.p0[0] == 1.0
    assert mdp.P[0, 0, end] == 1.0 and mdp.R[0, 0] == 0.2
    for a in range(1, mdp.n_actions):  # sitting the test reveals a uniform question
        np.testing.assert_allclose(mdp.P[0, a, 1:end], 1.0 / n_questions)
    for q in range(1, end):  # exactly one right answer per question
        assert mdp.R[q, q - 1] == 1.0 and np.sum(mdp.R[q] == -1.0) == mdp.n_actions - 1
        assert np.all(mdp.P[q, :, end] == 1.0)
    assert np.all(mdp.P[end, :, end] == 1.0) and np.all(mdp.R[end] == 0.0)
    assert mdp.action_names[0][0] == "go home" and mdp.state_names[1] == "question A"
    with pytest.raises(ValueError):
        tabular.exam_mdp(1)


def test_drifting_line_mdp():
    mdp = tabular.drifting_line_mdp(half_width=3, p_drift=0.25)
    assert mdp.n_states == 7 and mdp.n_actions == 3
    np.testing.assert_allclose(mdp.P.sum(-1), 1.0)
    centre = 3
    np.testing.assert_allclose(mdp.P[centre, 1, centre - 1:centre + 2], [0.25, 0.5, 0.25])
    np.testing.assert_allclose(mdp.P[centre, 2, centre:centre + 3], [0.25, 0.5, 0.25])
    assert mdp.P[6, 1, 6] == 0.75 and mdp.P[6, 2, 6] == 1.0  # clipped at the right edge
    # reward: minus the expected distance from the centre after the step
    assert mdp.R[centre, 1] == pytest.approx(-0.5) and mdp.R[centre, 2] == pytest.approx(-1.0)
    assert mdp.R[0, 1] == pytest.approx(-(0.75 * 3 + 0.25 * 2)) and mdp.p0[centre] == 1.0


def test_sample_trajectories_open_and_closed_loop():
    mdp = tabular.random_mdp(4, 3, seed=1)
    rng = np.random.default_rng(0)
    actions = np.array([2, 0, 1])
    states, rewards = tabular.sample_trajectories(mdp, 40000, rng, actions=actions)
    assert states.shape == (40000, 4) and rewards.shape == (40000, 3)
    np.testing.assert_allclose(np.bincount(states[:, 0], minlength=4) / 40000, mdp.p0, atol=0.01)
    # empirical transitions of step 1 match P[:, actions[1]]
    for s in range(4):
        rows = states[:, 1] == s
        if rows.sum() > 2000:
            freq = np.bincount(states[rows, 2], minlength=4) / rows.sum()
            np.testing.assert_allclose(freq, mdp.P[s, actions[1]], atol=0.03)
    assert np.array_equal(rewards[:, 0], mdp.R[states[:, 0], 2])
    policy = rng.integers(3, size=(3, 4))
    states, rewards = tabular.sample_trajectories(mdp, 100, rng, policy=policy)
    for t in range(3):
        assert np.array_equal(rewards[:, t], mdp.R[states[:, t], policy[t, states[:, t]]])


def test_sample_trajectories_rejects_bad_arguments():
    mdp = tabular.random_mdp(3, 2, seed=0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        tabular.sample_trajectories(mdp, 5, rng)
    with pytest.raises(ValueError):
        tabular.sample_trajectories(mdp, 5, rng, actions=[0, 2])
    with pytest.raises(ValueError):
        tabular.sample_trajectories(mdp, 5, rng, policy=np.zeros((2, 2), dtype=int))


def test_deterministic_sampling_follows_the_table():
    mdp = tabular.random_mdp(5, 2, seed=3, deterministic=True, start=1)
    states, _ = tabular.sample_trajectories(mdp, 10, np.random.default_rng(0), actions=[1, 0])
    expected_1 = np.argmax(mdp.P[1, 1])
    assert np.all(states[:, 0] == 1) and np.all(states[:, 1] == expected_1)
    assert np.all(states[:, 2] == np.argmax(mdp.P[expected_1, 0]))


def test_occupancy():
    states = np.array([[0, 1], [0, 2], [1, 2], [0, 2]])
    occ = tabular.occupancy(states, 3)
    np.testing.assert_allclose(occ, [[0.75, 0.25, 0.0], [0.0, 0.25, 0.75]])
