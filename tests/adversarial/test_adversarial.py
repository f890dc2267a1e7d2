"""Adversarial submissions graded in one batch with normal students by `mbrl-course autograde`.

Wrong work never earns the points of the cells it targets, correct work earns full
points, and every other student in the batch gets exactly what they get in a control batch
graded without any attacker (grades.csv row and gradebook entries). The batch also holds
the awkward inputs a TA's class brings (non-ASCII names, names that differ only in a space,
a student without a notebook, two candidate files, stripped metadata). Cases: cases.toml.
Under CI the batch runs in the bubblewrap sandbox (``--sandbox bwrap``).
"""

from __future__ import annotations

import csv
import html.parser
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.grading.autograde import graded_cells
from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.mutants import write_samples
from mbrl_helpers.grading.nbgrader_course import COURSE_ID
from mbrl_helpers.grading.sandbox import bwrap_problem

from ..conftest import JOBS, ROOT
from .build import load_cases, write_case

CASES = load_cases()
NB = "00_course_tour"
NORMAL = ("reference", "blank", "partly_wrong")
SANDBOX = "bwrap"
pytestmark = pytest.mark.skipif(bwrap_problem() is not None,
                                reason=f"the grading sandbox cannot run here: {bwrap_problem()}")
#: Largest feedback page and autograded notebook any submission may produce (bytes).
MAX_FEEDBACK_BYTES = 3_000_000


def _grade(folder: Path, out: Path, course: Path) -> dict:
    code = main(["--root", str(ROOT), "--quiet", "autograde", str(folder), "--assignment", NB,
                 "--out", str(out), "--course-dir", str(course), "--jobs", str(JOBS),
                 "--timeout", "10", "--memory-mb", "2048", "--cpu-seconds", "120",
                 "--sandbox", SANDBOX])
    assert code == 0
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _class_inputs(folder: Path) -> None:
    """What a TA's export brings besides code: names, missing and doubled files."""
    reference = folder / "reference" / f"{NB}.ipynb"
    for name in ("Иван", "Мария", "Jane Doe", "Jane_Doe"):
        (folder / name).mkdir()
        shutil.copy(reference, folder / name)
    (folder / "no-notebook").mkdir()
    (folder / "no-notebook" / "answers.pdf").write_bytes(b"%PDF-1.4")
    (folder / "two-files").mkdir()
    shutil.copy(reference, folder / "two-files" / f"{NB}.ipynb")
    copy = folder / "two-files" / f"copy_of_{NB}.ipynb"
    copy.write_text(reference.read_text() + "\n")
    stripped = nbformat.read(reference, as_version=4)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    (folder / "stripped-metadata").mkdir()
    nbformat.write(stripped, folder / "stripped-metadata" / f"{NB}.ipynb")


def _gradebook(course: Path, students: tuple[str, ...]) -> dict:
    from nbgrader.api import Gradebook

    rows = {}
    gb = Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID)
    try:
        for student in students:
            nb = gb.find_submission_notebook(NB, NB, student)
            rows[student] = sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                                   for g in nb.grades)
    finally:
        gb.close()
    return rows


def _kernels_alive(scratch: Path) -> list[str]:
    """Processes of this batch still running: its kernels' and sandboxes' command lines name
    their folders, which lie in the batch's own temporary folder."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if str(scratch) in line]


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> dict:
    # The batch gets a temporary folder of its own, so that what it leaves behind is told apart
    # from other grading runs on the same machine.
    scratch = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(scratch))
        mp.setattr(tempfile, "tempdir", str(scratch))
        result = _batches(tmp_path_factory, scratch)
    return result


def _batches(tmp_path_factory, scratch: Path) -> dict:
    assert tempfile.gettempdir() == str(scratch)
    control = tmp_path_factory.mktemp("control-class")
    write_samples(ROOT, NB, control, demo_only=True)  # reference, blank, partly_wrong
    attacked = tmp_path_factory.mktemp("adversarial-class")
    shutil.copytree(control, attacked, dirs_exist_ok=True)
    for case in CASES:
        write_case(ROOT, case, attacked)
    _class_inputs(attacked)
    work = tmp_path_factory.mktemp("adversarial-out")
    result = {
        "control": _grade(control, work / "control", work / "control-course"),
        "attacked": _grade(attacked, work / "attacked", work / "attacked-course"),
        "out": work / "attacked",
        "books": [_gradebook(work / name, NORMAL) for name in ("control-course",
                                                               "attacked-course")],
        "alive": _kernels_alive(scratch),
        "left": {p.name for p in scratch.glob("mbrl-*")},
    }
    return result


def test_normal_students_are_graded_as_without_the_attackers(batches):
    control, attacked = batches["control"], batches["attacked"]
    full = control["Points Possible"][f"{NB}:total"]
    assert control["reference"][f"{NB}:total"] == full
    assert control["reference"][f"{NB}:flags"] == ""
    assert control["blank"][f"{NB}:total"] == "0"
    assert 0 < float(control["partly_wrong"][f"{NB}:total"]) < float(full)
    for student in NORMAL:
        assert attacked[student] == control[student], student
    assert batches["books"][0] == batches["books"][1]
    assert all(not needs for rows in batches["books"][0].values() for *_, needs in rows)


def test_the_batch_leaves_no_process_and_no_temporary_folder(batches):
    assert batches["alive"] == []
    assert batches["left"] == set()


def test_every_sandboxed_row_says_so(batches):
    rows = [r for s, r in batches["attacked"].items() if s != "Points Possible"]
    graded = [r for r in rows if not r[f"{NB}:status"].startswith(("missing", "ambiguous"))]
    assert graded and {r["sandbox"] for r in graded} == {SANDBOX}


def test_the_class_arrives_whole(batches):
    rows = batches["attacked"]
    full = rows["Points Possible"][f"{NB}:total"]
    named = {r["name"]: r for r in rows.values()}
    for name in ("Иван", "Мария", "Jane Doe", "Jane_Doe"):
        assert named[name][f"{NB}:total"] == full, name
    assert len({named[n]["student"] for n in ("Иван", "Мария", "Jane Doe", "Jane_Doe")}) == 4
    assert named["no-notebook"][f"{NB}:status"].startswith("missing")
    status = named["two-files"][f"{NB}:status"]
    assert status.startswith("ambiguous") and f"copy_of_{NB}.ipynb" in status, status
    assert named["stripped-metadata"][f"{NB}:total"] == full
    assert "restored" in named["stripped-metadata"][f"{NB}:flags"]


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed"):
            self.bad.append(tag)
        for key, value in attrs:
            if key.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.bad.append(f"{tag} {key}")


def test_feedback_runs_no_script_and_stays_small(batches):
    pages = list((batches["out"] / "feedback").rglob("*.html"))
    assert len(pages) >= len(CASES)
    for page in pages:
        assert page.stat().st_size < MAX_FEEDBACK_BYTES, page
        parser = _Tags()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.bad == [], (page, parser.bad)
        assert "Content-Security-Policy" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(batches, case):
    row = batches["attacked"][case["name"]]
    points = dict(graded_cells(ROOT, case["notebook"]))
    scores = {cell: float(row[f"{case['notebook']}:{cell}"]) for cell in points}
    lost = {cell for cell, pts in points.items() if scores[cell] < pts}
    status, flags = row[f"{case['notebook']}:status"], row[f"{case['notebook']}:flags"]
    assert lost == set(case["lose"]), f"lost {sorted(lost)}; status {status!r}; flags {flags!r}"
    assert all(scores[c] == 0 for c in lost), f"partial credit: {scores}"
    assert case.get("status", "") in status, status
    for flag in case.get("flags", []):
        assert flag in flags, f"missing flag {flag!r} in {flags!r}"
    if case.get("clean"):
        assert flags == "", flags
