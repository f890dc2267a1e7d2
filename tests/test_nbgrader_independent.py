"""An independent check with nbgrader's own command line.

Points are decided outside the student's kernel (verdicts), so nbgrader's own `autograde` alone
gives a converted notebook nothing (tests/test_verdicts.py checks that). What must hold instead:
the course directory that `mbrl-course autograde --course-dir` keeps is a regular nbgrader course,
and nbgrader's own `export`, with none of mbrl_helpers' code, reads from its gradebook the
solution's full marks and the release's zero, the same totals as the course's grades.csv."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mbrl_helpers.grading.cli import main

NB = "00_course_tour"


def _nbgrader(course: Path, *args: str) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(bin_dir / "nbgrader"), *args, "--log-level=ERROR"], cwd=course,
                   env=env, check=True, capture_output=True, text=True, timeout=600)


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_nbgrader_export_reads_the_course_gradebook(root, tmp_path):
    folder = tmp_path / "class"
    for student, source in [("solution", root / "solutions"), ("release", root / "notebooks")]:
        (folder / student).mkdir(parents=True)
        shutil.copy(source / f"{NB}.ipynb", folder / student)
    course = tmp_path / "course"
    code = main(["--root", str(root), "--quiet", "autograde", str(folder), "--assignment", NB,
                 "--out", str(tmp_path / "out"), "--course-dir", str(course)])
    assert code == 0

    _nbgrader(course, "export", "--to", str(tmp_path / "nbgrader.csv"))
    rows = {row["student_id"]: row for row in _csv(tmp_path / "nbgrader.csv")}
    assert set(rows) == {"solution", "release"}
    assert float(rows["solution"]["max_score"]) > 0
    assert float(rows["solution"]["score"]) == float(rows["solution"]["max_score"])
    assert float(rows["release"]["score"]) == 0.0

    ours = {row["student"]: row for row in _csv(tmp_path / "out" / "grades.csv")}
    for student in ("solution", "release"):
        assert float(ours[student][f"{NB}:total"]) == float(rows[student]["score"])
