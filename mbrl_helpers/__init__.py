"""Helpers for the model-based reinforcement learning course.

Each module serves one concern; every public helper's docstring names the notebook
that introduces it.

* :mod:`mbrl_helpers.runtime` - fast mode, seeding, quiet warnings (notebook 00).
* :mod:`mbrl_helpers.checks` - small assertion helpers used by visible tests (notebook 00).
* :mod:`mbrl_helpers.course` - where the course's notebooks live (tooling).
* :mod:`mbrl_helpers.release`, :mod:`mbrl_helpers.execute`, :mod:`mbrl_helpers.grading`,
  :mod:`mbrl_helpers.submissions`, :mod:`mbrl_helpers.mutants`, :mod:`mbrl_helpers.cli` -
  the ``mbrl-course`` command for maintainers and TAs.
"""

from mbrl_helpers.runtime import fast_mode, pick, seed_everything, silence_known_warnings

__version__ = "0.1.0"
__all__ = ["fast_mode", "pick", "seed_everything", "silence_known_warnings", "__version__"]

silence_known_warnings()
