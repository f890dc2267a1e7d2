"""An independent check with nbgrader's own command line (none of mbrl_helpers' grading code):
the solution of notebook 00 gets full marks and its release gets zero."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

NB = "00_course_tour"


def _nbgrader(course: Path, *args: str) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(bin_dir / "nbgrader"), *args, "--log-level=ERROR"], cwd=course,
                   env=env, check=True, capture_output=True, text=True, timeout=600)


def test_plain_nbgrader_gives_solution_full_marks_and_release_zero(root, tmp_path):
    course = tmp_path / "course"
    (course / "source" / NB).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "independent"\n')
    shutil.copy(root / "solutions" / f"{NB}.ipynb", course / "source" / NB)
    _nbgrader(course, "generate_assignment", NB, "--force")
    for student, source in [("solution", course / "source" / NB),
                            ("release", course / "release" / NB)]:
        target = course / "submitted" / student / NB
        target.mkdir(parents=True)
        shutil.copy(source / f"{NB}.ipynb", target)
    _nbgrader(course, "autograde", NB, "--force")
    _nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert float(rows["solution"]["max_score"]) > 0
    assert float(rows["solution"]["score"]) == float(rows["solution"]["max_score"])
    assert float(rows["release"]["score"]) == 0.0
