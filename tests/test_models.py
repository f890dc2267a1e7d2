"""Tests for mbrl_helpers.models: the transition buffer and random-policy collection."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbrl_helpers import pendulum
from mbrl_helpers.models import TransitionBuffer, collect_random


def test_buffer_add_and_arrays():
    buf = TransitionBuffer()
    assert len(buf) == 0
    s, a, s2 = buf.arrays()
    assert s.shape == (0, 2) and a.shape == (0, 1) and s2.shape == (0, 2)
    buf.add([0.1, 0.2], [1.0], np.array([0.3, 0.4]), tag=3)
    buf.add(np.array([[0.5, 0.6]]), 0.5, [0.7, 0.8])
    s, a, s2 = buf.arrays()
    assert len(buf) == 2
    np.testing.assert_array_equal(s, [[0.1, 0.2], [0.5, 0.6]])
    np.testing.assert_array_equal(a, [[1.0], [0.5]])
    np.testing.assert_array_equal(s2, [[0.3, 0.4], [0.7, 0.8]])
    np.testing.assert_array_equal(buf.tags(), [3, 0])
    ts, ta, ts2 = buf.tensors()
    assert ts.dtype == torch.float32 and ta.shape == (2, 1) and ts2.shape == (2, 2)


def test_buffer_copies_inputs():
    buf = TransitionBuffer()
    s = np.array([1.0, 2.0])
    buf.add(s, [0.0], s)
    s[0] = 99.0
    assert buf.arrays()[0][0, 0] == 1.0


@pytest.mark.parametrize("state, action, next_state", [
    ([0.0, 0.0, 0.0], [0.0], [0.0, 0.0]),
    ([0.0, 0.0], [0.0, 1.0], [0.0, 0.0]),
    ([0.0, 0.0], [0.0], [0.0]),
])
def test_buffer_rejects_bad_shapes(state, action, next_state):
    with pytest.raises(ValueError):
        TransitionBuffer().add(state, action, next_state)


def test_collect_random_counts_pairs_and_episodes():
    env = gym.make("Pendulum-v1")
    buf = collect_random(env, 450, seed=3, tag=2)
    s, a, s2 = buf.arrays()
    assert len(buf) == 450 and np.all(buf.tags() == 2)
    assert np.all(np.abs(a) <= 2.0)
    assert np.all((s[:, 0] > -np.pi - 1e-6) & (s[:, 0] <= np.pi + 1e-6))
    # consecutive transitions chain within an episode; a new episode starts every 200 steps
    chained = np.all(np.isclose(s[1:], s2[:-1], atol=1e-6), axis=1)
    assert not chained[199] and not chained[399] and chained.sum() == 449 - 2
    # every transition is a true pendulum step (observations are float32)
    pred = pendulum.step(s, a)
    pred[:, 0] = pendulum.angle_normalize(pred[:, 0])
    err = np.abs(pendulum.angle_normalize(pred[:, 0] - s2[:, 0]))
    assert err.max() < 1e-4 and np.abs(pred[:, 1] - s2[:, 1]).max() < 1e-4
    # episode k starts from reset(seed=seed + k)
    obs, _ = env.reset(seed=4)
    start = pendulum.state_from_obs(np.asarray(obs, dtype=float))
    np.testing.assert_allclose(s[200], start, atol=1e-7)


def test_collect_random_reproducible_and_appends():
    env = gym.make("Pendulum-v1")
    a1 = collect_random(env, 30, seed=0).arrays()
    buf = TransitionBuffer()
    collect_random(env, 10, seed=5, buffer=buf)
    collect_random(env, 30, seed=0, buffer=buf)
    assert len(buf) == 40
    for x, y in zip(a1, buf.arrays(), strict=True):
        np.testing.assert_array_equal(x, y[10:])
    assert len(collect_random(env, 0, seed=0)) == 0
    with pytest.raises(ValueError):
        collect_random(env, -1, seed=0)
