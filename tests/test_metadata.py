"""Restoring nbgrader metadata of submissions (mbrl_helpers.grading.metadata)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.grading.metadata import (
    RELEASE_KEYS,
    UNMATCHED,
    UnmatchedNotebook,
    match_release,
    repair_metadata,
)

ROOT = Path(__file__).resolve().parent.parent
NB = "00_course_tour"
KEYS = ("grade_id", "points", "grade", "solution", "locked")


def _read(folder: str, name: str = NB) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def source():
    return _read("solutions")


@pytest.fixture(scope="module")
def release():
    return _read("notebooks")


def _graded(notebook) -> dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in notebook.cells
            if "grade_id" in c.get("metadata", {}).get("nbgrader", {})}


def _stripped(notebook, ids: bool = True):
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
        if not ids:
            cell.pop("id", None)
    return notebook


def _assert_restored(submitted, source):
    want, got = _graded(source), _graded(submitted)
    assert set(got) == set(want) and want
    for grade_id, meta in want.items():
        assert {k: got[grade_id].get(k) for k in KEYS} == {k: meta.get(k) for k in KEYS}
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in submitted.cells
             if "nbgrader" in c.metadata}
    for cell in source.cells:  # on the right cell: same type, same place in the order
        if "nbgrader" in cell.metadata:
            assert by_id[cell.metadata["nbgrader"]["grade_id"]].cell_type == cell.cell_type
    order = [g for g in (c.metadata.get("nbgrader", {}).get("grade_id") for c in submitted.cells)
             if g]
    assert order == list(want)


def _fill_in(notebook):
    """A student's work: solutions written, scratch cells added, outputs."""
    cells = []
    for cell in notebook.cells:
        if "YOUR CODE HERE" in cell.source:
            stub = "    # YOUR CODE HERE\n    raise NotImplementedError()"
            cell.source = cell.source.replace(stub, "    total = 0.0\n    return total")
            cells += [cell, nbformat.v4.new_code_cell("print('scratch')")]
        else:
            cells.append(cell)
    notebook.cells = [nbformat.v4.new_markdown_cell("My notes"), *cells]
    return notebook


@pytest.mark.parametrize("ids", [True, False])
@pytest.mark.parametrize("with_release", [True, False])
def test_stripped_release_gets_every_graded_cells_metadata_back(source, release, ids,
                                                                 with_release):
    submitted = _stripped(release, ids=ids)
    notes = repair_metadata(submitted, source, release if with_release else None)
    _assert_restored(submitted, source)
    assert len(notes) == len(_graded(source))
    how = "cell id" if ids else "identical content"
    assert any(f"(matched by {how})" in note for note in notes)
    if with_release:  # the release's checksums come along
        assert _graded(submitted)["test_discounted_return_visible"]["checksum"] == (
            _graded(release)["test_discounted_return_visible"]["checksum"])


@pytest.mark.parametrize("ids", [True, False])
def test_stripped_student_work_is_matched(source, release, ids):
    submitted = _fill_in(_stripped(release, ids=ids))
    notes = repair_metadata(submitted, source, release)
    _assert_restored(submitted, source)
    solution = next(c for c in submitted.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == "discounted_return")
    assert "total = 0.0" in solution.source
    assert not ids or all("cell id" in note for note in notes)


def test_one_stripped_cell_is_found_among_intact_ones(source, release):
    submitted = copy.deepcopy(release)
    submitted.cells[9].metadata.pop("nbgrader")  # test_discounted_return_visible
    notes = repair_metadata(submitted, source, release)
    _assert_restored(submitted, source)
    assert notes == ["nbgrader metadata of test_discounted_return_visible restored on cell 9 "
                     "(matched by cell id)"]


def test_an_intact_submission_needs_no_repair(source, release):
    submitted = copy.deepcopy(release)
    assert repair_metadata(submitted, source, release) == []
    assert submitted == release


@pytest.mark.parametrize("other", ["01_open_vs_closed_loop", "03_mcts", "empty"])
def test_an_unrelated_notebook_is_reported_unmatched(source, release, other):
    submitted = (nbformat.v4.new_notebook() if other == "empty"
                 else _stripped(_read("notebooks", other)))
    with pytest.raises(UnmatchedNotebook) as err:
        repair_metadata(submitted, source, release)
    assert str(err.value).startswith(UNMATCHED) and "\n" not in str(err.value)
    with pytest.raises(UnmatchedNotebook):
        match_release(submitted, source)


def test_a_deleted_test_cell_is_reported_not_guessed(source, release):
    submitted = copy.deepcopy(release)
    del submitted.cells[9]  # test_discounted_return_visible, metadata intact elsewhere
    del submitted.cells[8]  # and its markdown: no cell is left in its place
    notes = repair_metadata(submitted, source, release)
    assert notes == ["no cell matches test_discounted_return_visible: it is not graded"]
    assert "test_discounted_return_visible" not in _graded(submitted)


def test_weak_match_is_not_trusted_when_most_cells_changed(source, release):
    submitted = copy.deepcopy(release)
    submitted.cells = [c for c in submitted.cells if "nbgrader" in c.metadata]
    submitted.cells[1].metadata.pop("nbgrader")
    for cell in submitted.cells:
        cell.pop("id", None)
    notes = repair_metadata(submitted, source, release)
    assert notes == ["nbgrader metadata of test_discounted_return_visible missing and no cell "
                     "matches it with confidence: it is not graded"]


def _cell(source, **meta):
    cell = nbformat.v4.new_code_cell(source)
    if meta:
        cell.metadata["nbgrader"] = meta
    return cell


def test_edited_invented_malformed_and_copied_metadata_is_repaired():
    t = {"grade": True, "grade_id": "t", "points": 1, "locked": True, "solution": False}
    source = nbformat.v4.new_notebook(cells=[_cell("t", **t)])
    original = _cell("t", **{**t, "points": 100, "locked": False, "checksum": "abc"})
    original["id"] = source.cells[0]["id"]
    copied = _cell("t", **{**t, "points": 100})  # a pasted copy above the original
    submitted = nbformat.v4.new_notebook(cells=[
        copied, original, _cell("x", grade=True, grade_id="made_up", points=5),
        _cell("y", grade=True, points=5), _cell("z"), _cell("plain")])
    submitted.cells[4].metadata["nbgrader"] = "not a dict"
    notes = repair_metadata(submitted, source)
    assert submitted.cells[1].metadata["nbgrader"] == {**t, "checksum": "abc"}
    assert all("nbgrader" not in c.metadata for i, c in enumerate(submitted.cells) if i != 1)
    assert notes == [
        "unknown nbgrader metadata removed from cell 2 (made_up)",
        "unknown nbgrader metadata removed from cell 3 (None)",
        "unknown nbgrader metadata removed from cell 4 (None)",
        "duplicate nbgrader metadata of t removed from cell 0 (kept on cell 1)",
        "metadata of t restored"]
    assert set(RELEASE_KEYS) == {"checksum", "cell_type"}
