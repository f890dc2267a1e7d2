"""The grading harness: real nbgrader autograde of every notebook's sample submissions.

For each notebook in ``solutions/``: the reference solution scores full marks, the blank
release scores zero in every graded cell, and every mutant in ``tests/mutants/NAME.toml``
loses exactly the points of the cells listed in its ``fails`` (a mutant with
``fails = []`` is a correct variant and keeps full marks). Adding a notebook's mutants
is data only: no code here changes.
"""

from __future__ import annotations

import pytest

from mbrl_helpers.grading.autograde import graded_cells
from mbrl_helpers.grading.mutants import BLANK_PREFIX, load_mutants

from .conftest import ROOT, harness_names

NAMES = harness_names()
MUTANT_CASES = [(name, f"mutant{name[:2]}-{m.name}") for name in NAMES
                for m in load_mutants(ROOT, name)]


def _scores(batch, student, name):
    record = batch["records"][(student, name)]
    assert record.status == "graded", f"{student}/{name} was not graded cleanly: {record.status}"
    return record.cells


@pytest.mark.parametrize("name", NAMES)
def test_reference_scores_full_marks(graded_batch, name):
    scores = _scores(graded_batch, "reference", name)
    expected = dict(graded_cells(ROOT, name))
    assert scores == expected, f"reference of {name} lost points: {scores} vs {expected}"


@pytest.mark.parametrize("name", NAMES)
def test_blank_release_scores_zero(graded_batch, name):
    scores = _scores(graded_batch, "blank", name)
    assert set(scores) == {cell for cell, _ in graded_cells(ROOT, name)}
    earned = {cell: pts for cell, pts in scores.items() if pts}
    assert not earned, f"the blank release of {name} earns points in {earned}"


@pytest.mark.parametrize(("name", "student"), MUTANT_CASES, ids=[s for _, s in MUTANT_CASES])
def test_mutant_loses_exactly_its_cells(graded_batch, name, student):
    """A mutant graded in a pack: among the cells it may affect (its exercises' tests and its
    ``fails``), it loses exactly its ``fails``; the pack loses no cell none of its mutants may
    affect."""
    slot = graded_batch["slots"][(student, name)]
    scores = _scores(graded_batch, slot.student, name)
    points = dict(graded_cells(ROOT, name))
    lost = {cell for cell, pts in points.items() if scores.get(cell, 0.0) < pts}
    mine = lost & slot.touched
    assert mine == slot.mutant.fails, (
        f"{student} (graded in {slot.student}): expected to lose {sorted(slot.mutant.fails)}, "
        f"lost {sorted(mine)}")
    stray = lost - slot.pack_touched
    assert not stray, f"{slot.student} lost cells none of its mutants should affect: {stray}"
    partial = {c: scores[c] for c in mine if 0 < scores[c] < points[c]}
    assert not partial, f"{student}: partial credit in {partial}"


@pytest.mark.parametrize("name", NAMES)
def test_every_graded_cell_is_proven_by_a_mutant(name):
    """Each graded cell is meant to catch some plausible mistake: a mutant proves it does,
    and every solution cell has at least one mistake that loses points (blank exercises do
    not count: they prove nothing about a cell's power to catch a mistake)."""
    mutants = [m for m in load_mutants(ROOT, name) if not m.name.startswith(BLANK_PREFIX)]
    cells = {cell for cell, _ in graded_cells(ROOT, name)}
    caught = set().union(*(m.fails for m in mutants)) if mutants else set()
    assert caught <= cells, f"{name}: mutants name unknown graded cells {sorted(caught - cells)}"
    assert cells <= caught, f"{name}: no mutant is caught by {sorted(cells - caught)}"
    import nbformat

    source = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    solution_cells = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                      if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    attacked = {cell for m in mutants if m.fails for cell in m.edits}
    assert solution_cells <= attacked, (
        f"{name}: no failing mutant edits {sorted(solution_cells - attacked)}")


@pytest.mark.parametrize("name", NAMES)
def test_converted_notebooks_have_mutants_and_alternatives(name):
    """Notebooks graded by verdicts carry at least six plausible mistakes per exercise on
    average, and correct solutions written another way (``fails = []``) that keep full marks."""
    import nbformat

    source = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    exercises = [c for c in source.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    mutants = load_mutants(ROOT, name)
    wrong = [m for m in mutants if m.fails and not m.name.startswith(BLANK_PREFIX)]
    assert len(wrong) >= 6 * len(exercises), (
        f"{name}: {len(wrong)} wrong mutants for {len(exercises)} exercises")
    assert any(not m.fails for m in mutants), f"{name}: no correct alternative"
    # each exercise left blank alone costs exactly its own cells (and those the text says
    # build on it): a [blank_one] table in the mutants file adds those submissions
    blanks = {m.name for m in mutants if m.name.startswith(BLANK_PREFIX)}
    assert blanks == {BLANK_PREFIX + c.metadata["nbgrader"]["grade_id"] for c in exercises}, (
        f"{name}: add a [blank_one] table to tests/mutants/{name}.toml")


def test_feedback_contains_no_hidden_test_verdict_or_solution_text(graded_batch):
    import nbformat

    from mbrl_helpers.grading.feedback import visible_text
    from mbrl_helpers.grading.release import secret_lines

    secrets = {}
    for name in NAMES:
        source = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
        hidden = [c for c in source.cells
                  if "BEGIN HIDDEN TESTS" in c.source or "BEGIN VERDICT" in c.source]
        release = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        public = {line.strip() for c in release.cells for line in c.source.splitlines()}
        # a line that the student's own release shows elsewhere (a shared import) is no secret
        secrets[name] = secret_lines(nbformat.v4.new_notebook(cells=hidden)) - public
    pages = list((graded_batch["out"] / "feedback").rglob("*.html"))
    assert pages, "no feedback was written"
    for page in pages:
        text = visible_text(page.read_text())
        leaked = [line for line in secrets[page.stem] if line in text]
        assert not leaked, f"{page} shows hidden test lines: {leaked[:3]}"
