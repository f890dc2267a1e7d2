"""In-kernel tricks on the blank release score nothing, with the sandbox on and off.

Each trick of ``tricks.toml`` is a cell a student could share with the class: it rigs the
kernel's interpreter, its IPython shell or the test cell's outputs, and computes no answer.
Points come from verdicts run in the grader's process on the records a probe sent
(:mod:`mbrl_helpers.grading.verdicts`), so every trick must score 0 in every graded cell,
while the reference and the blank release graded in the same batch score full and zero.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.grading.autograde import graded_cells
from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.mutants import build
from mbrl_helpers.grading.sandbox import bwrap_problem

from ..conftest import JOBS, ROOT

NB = "00_course_tour"
TRICKS = tomllib.loads(Path(__file__).with_name("tricks.toml").read_text())["trick"]
MODES = [pytest.param("none", id="sandbox-none"),
         pytest.param("bwrap", id="sandbox-bwrap", marks=pytest.mark.skipif(
             bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}"))]


def _write_class(folder: Path) -> None:
    for student, edits in (("reference", {}), ("blank", None)):
        (folder / student).mkdir(parents=True)
        nbformat.write(build(ROOT, NB, edits), folder / student / f"{NB}.ipynb")
    for trick in TRICKS:
        nb = build(ROOT, NB, None)
        at = next(i for i, c in enumerate(nb.cells)
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "discounted_return")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(trick["code"].strip("\n")))
        (folder / trick["name"]).mkdir()
        nbformat.write(nb, folder / trick["name"] / f"{NB}.ipynb")


@pytest.fixture(scope="module", params=MODES)
def graded(request, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp(f"tricks-{request.param}")
    _write_class(work / "class")
    code = main(["--root", str(ROOT), "--quiet", "autograde", str(work / "class"),
                 "--assignment", NB, "--out", str(work / "out"), "--jobs", str(JOBS),
                 "--timeout", "20", "--sandbox", request.param])
    assert code == 0
    with open(work / "out" / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_the_batch_grades_reference_and_blank(graded):
    full = graded["Points Possible"][f"{NB}:total"]
    assert graded["reference"][f"{NB}:total"] == full
    assert graded["blank"][f"{NB}:total"] == "0"


@pytest.mark.parametrize("trick", [t["name"] for t in TRICKS])
def test_trick_scores_nothing(graded, trick):
    row = graded[trick]
    earned = {cell: row[f"{NB}:{cell}"] for cell, _ in graded_cells(ROOT, NB)
              if float(row[f"{NB}:{cell}"] or 0) != 0}
    assert not earned, f"{trick} earned {earned} ({row[f'{NB}:status']})"
