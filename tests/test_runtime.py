"""Fast mode, seeding and warning filters (mbrl_helpers.runtime)."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

from mbrl_helpers import runtime


@pytest.mark.parametrize(("nbgrader", "forced", "expected"), [
    (None, None, False), ("autograde", None, True), ("validate", None, True),
    (None, "1", True), ("autograde", "0", False), (None, "false", False), (None, "yes", True),
])
def test_fast_mode(monkeypatch, nbgrader, forced, expected):
    for var, value in [(runtime.NBGRADER_ENV, nbgrader), (runtime.FAST_ENV, forced)]:
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    assert runtime.fast_mode() is expected
    assert runtime.pick(full="full", fast="fast") == ("fast" if expected else "full")


def test_fast_mode_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "maybe")
    with pytest.raises(ValueError, match="MBRL_FAST"):
        runtime.fast_mode()


def test_seed_everything_reproduces_all_generators():
    def draw():
        rng = runtime.seed_everything(7)
        return (rng.normal(), np.random.rand(), random.random(), torch.rand(1).item())

    assert draw() == draw()
    assert runtime.seed_everything(8).normal() != runtime.seed_everything(7).normal()


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError)):
        runtime.seed_everything(bad)


def test_known_warnings_are_silenced_and_others_are_not():
    import gymnasium as gym

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime.silence_known_warnings()
        env = gym.make("Pendulum-v1")
        env.reset(seed=0)
        env.step(np.array([0.5]))  # float64 action into a float32 Box: a gymnasium warning
        warnings.warn("something else", UserWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert messages == ["something else"], messages


def test_progress_is_a_bar_on_stderr_that_leaves_no_trace(monkeypatch, capsys):
    from mbrl_helpers import progress

    monkeypatch.setenv("MBRL_FAST", "0")
    assert list(progress(range(3), "seeds")) == [0, 1, 2]
    bar = progress(None, "episodes", total=2)
    bar.update(1)
    bar.update(1)
    bar.close()
    out, err = capsys.readouterr()
    assert out == "" and "seeds:   0%" in err and "episodes:   0%" in err
    assert err.endswith("\r") and err.split("\r")[-2].strip() == ""  # erased at the end


def test_progress_is_silent_in_fast_mode(monkeypatch, capsys):
    from mbrl_helpers import progress

    monkeypatch.setenv("MBRL_FAST", "1")
    assert list(progress([1, 2], "seeds")) == [1, 2]
    assert capsys.readouterr() == ("", "")
