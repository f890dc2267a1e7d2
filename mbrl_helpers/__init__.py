"""Helpers for the model-based reinforcement learning course.

Each module serves one concern; every public helper's docstring names the notebook
that introduces it.

* :mod:`mbrl_helpers.runtime` - fast mode, seeding, quiet warnings (notebook 00), progress
  bars for long experiments (notebook 02).
* :mod:`mbrl_helpers.checks` - small assertion helpers used by visible tests (notebook 00).
* :mod:`mbrl_helpers.pendulum` - exact batched ``Pendulum-v1`` dynamics and reward (notebook 01).
* :mod:`mbrl_helpers.tabular`, :mod:`mbrl_helpers.tabular_plots`,
  :mod:`mbrl_helpers.noisy_pendulum` - finite MDPs and the noisy pendulum (notebook 01).
* :mod:`mbrl_helpers.rollout`, :mod:`mbrl_helpers.plotting` - seeded rollouts and plots
  (notebook 02).
* :mod:`mbrl_helpers.discrete_envs`, :mod:`mbrl_helpers.tree_plots` - known-model discrete
  environments and search-tree pictures (notebook 03).
* :mod:`mbrl_helpers.linear_systems` - linear-quadratic problems (notebook 04).
* :mod:`mbrl_helpers.models` - transition buffers and random data collection (notebook 05).
* :mod:`mbrl_helpers.fused` - fused inference copies of the learned models, for planning
  (notebooks 05 and 06).
* :mod:`mbrl_helpers.toy_regression` - the 1-D regression toy for uncertainty (notebook 06).

The ``mbrl-course`` command (release, execute, autograde) lives in the subpackage
:mod:`mbrl_helpers.grading`; of it, the notebooks import only the probe of their test cells
(:mod:`mbrl_helpers.grading.probe`, which records what a student's code returns).
"""

from mbrl_helpers.runtime import (
    fast_mode,
    pick,
    progress,
    seed_everything,
    silence_known_warnings,
)

__version__ = "0.1.0"
__all__ = [
    "fast_mode", "pick", "progress", "seed_everything", "silence_known_warnings", "__version__",
]

silence_known_warnings()
