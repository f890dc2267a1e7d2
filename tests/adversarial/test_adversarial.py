"""Adversarial submissions graded in one batch with normal students by `mbrl-course autograde`.

Wrong work never earns the points of the cells it targets, correct work earns full
points, and every other student in the batch is graded normally. Cases: cases.toml.
"""

from __future__ import annotations

import csv

import pytest

from mbrl_helpers.cli import main
from mbrl_helpers.grading import graded_cells
from mbrl_helpers.mutants import write_samples

from ..conftest import JOBS, ROOT
from .build import load_cases, write_case

CASES = load_cases()
NB = "00_course_tour"


@pytest.fixture(scope="module")
def grades(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("adversarial-class")
    out = tmp_path_factory.mktemp("adversarial-out")
    write_samples(ROOT, NB, folder, demo_only=True)  # reference, blank, partly_wrong
    for case in CASES:
        write_case(ROOT, case, folder)
    code = main(["--root", str(ROOT), "--quiet", "autograde", str(folder), "--assignment", NB,
                 "--out", str(out), "--jobs", str(JOBS), "--timeout", "10",
                 "--memory-mb", "2048", "--cpu-seconds", "120"])
    assert code == 0
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_normal_students_in_the_batch_are_graded_normally(grades):
    full = grades["Points Possible"][f"{NB}:total"]
    assert grades["reference"][f"{NB}:total"] == full
    assert grades["reference"][f"{NB}:flags"] == ""
    assert grades["blank"][f"{NB}:total"] == "0"
    assert 0 < float(grades["partly_wrong"][f"{NB}:total"]) < float(full)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(grades, case):
    row = grades[case["name"]]
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
