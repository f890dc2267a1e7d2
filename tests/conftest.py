"""Shared fixtures: the repository root and one graded batch of every notebook's samples."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mbrl_helpers.grading import autograde as grading
from mbrl_helpers.grading.course import notebook_names
from mbrl_helpers.grading.mutants import Mutant, own_cells, touched, write_packed
from mbrl_helpers.grading.nbgrader_course import GradingConfig
from mbrl_helpers.grading.submissions import collect

ROOT = Path(__file__).resolve().parent.parent
#: Parallel grading workers of the batches that grade attackers (CI machines have 2 cores).
JOBS = int(os.environ.get("MBRL_TEST_JOBS", "2"))
#: Workers of the harness batch: one more than cores, because each worker also waits on
#: nbgrader's conversions and the gradebook, gaps a third worker fills (harness of 00 and 07
#: on 2 cores: 261 s with 2 workers, 235 s with 3).
HARNESS_JOBS = int(os.environ.get("MBRL_TEST_JOBS", "3"))
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

    Mutants are packed (:func:`mbrl_helpers.grading.mutants.pack`): one submission holds
    several mutants of different exercises whose cells do not overlap, so the harness grades a
    few dozen notebooks where it would grade hundreds. Returns ``{"records": {(student,
    notebook): GradeRecord}, "slots": {(mutant id, notebook): Slot}, "out": Path}``.
    """
    work = tmp_path_factory.mktemp("harness")
    names = harness_names()
    slots, pages = {}, ["reference", "blank"]
    for name in names:
        own = own_cells(ROOT, name)
        for student, group in write_packed(ROOT, name, work / "submissions").items():
            union = set().union(*(touched(m, own) for m in group))
            for mutant in group:
                slots[(f"mutant{name[:2]}-{mutant.name}", name)] = Slot(
                    student, mutant, touched(mutant, own), union)
            if any(m.demo for m in group):
                pages.append(student)  # failing verdict messages for the feedback checks
    subs = [s for s in collect(work / "submissions", names)  # one notebook per student
            if not (s.problem or "").startswith("missing")]
    records = grading.autograde(ROOT, subs, work / "out", jobs=HARNESS_JOBS, progress=False,
                                settings=replace(SETTINGS, feedback_only=tuple(pages)))
    return {"records": {(r.student, r.assignment): r for r in records},
            "slots": slots, "out": work / "out"}


@dataclass(frozen=True)
class Slot:
    """Where the harness graded one mutant: its pack's student id, the graded cells this
    mutant may affect, and those any mutant of the pack may affect."""

    student: str
    mutant: Mutant
    touched: set[str]
    pack_touched: set[str]


#: Debian's chromium, headless, with no connection attempts (this machine has no network).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Chromium driven by Playwright (the book and student-lab tests); skipped with the
    reason where either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright missing: pip install -e '.[dev]'")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium for the browser test: sudo apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
