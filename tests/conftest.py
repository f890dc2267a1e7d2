"""Shared fixtures: the repository root and one graded batch of every notebook's samples."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mbrl_helpers.grading import autograde as grading
from mbrl_helpers.grading.course import notebook_names
from mbrl_helpers.grading.mutants import write_samples
from mbrl_helpers.grading.nbgrader_course import GradingConfig
from mbrl_helpers.grading.submissions import collect

ROOT = Path(__file__).resolve().parent.parent
#: Parallel grading workers for the harness (CI machines have 2 cores).
JOBS = int(os.environ.get("MBRL_TEST_JOBS", "2"))
#: Grading settings of the tests that grade in Python: a fixed notebook budget, because the
#: batches grade the reference solutions anyway (the CLI tests measure it, as TAs do).
SETTINGS = GradingConfig(notebook_budget=900)


def harness_names() -> list[str]:
    """Notebooks the harness grades: all, or those whose names start with a prefix listed in
    ``MBRL_HARNESS_NOTEBOOKS`` (comma-separated, e.g. ``02,03``) while working on one."""
    names = notebook_names(ROOT)
    wanted = [w.strip() for w in os.environ.get("MBRL_HARNESS_NOTEBOOKS", "").split(",") if w]
    return [n for n in names if any(n.startswith(w) for w in wanted)] if wanted else names


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def graded_batch(tmp_path_factory) -> dict:
    """Reference, blank and mutant submissions of every notebook, autograded in one batch.

    Returns ``{"records": {(student, notebook): GradeRecord}, "mutants": {(student,
    notebook): Mutant}, "out": Path}``.
    """
    work = tmp_path_factory.mktemp("harness")
    names = harness_names()
    mutants = {}
    for name in names:
        for student, mutant in write_samples(ROOT, name, work / "submissions").items():
            mutants[(student, name)] = mutant
    subs = [s for s in collect(work / "submissions", names)  # one notebook per mutant student
            if not (s.problem or "").startswith("missing")]
    # feedback pages for the reference, the blank release and the demo mutants (failing
    # verdict messages of every notebook): writing one for each of hundreds of mutants costs
    # minutes and shows nothing new
    pages = ("reference", "blank", *(s for (s, _), m in mutants.items() if m.demo))
    records = grading.autograde(ROOT, subs, work / "out", jobs=JOBS, progress=False,
                                settings=replace(SETTINGS, feedback_only=pages))
    return {"records": {(r.student, r.assignment): r for r in records},
            "mutants": mutants, "out": work / "out"}
