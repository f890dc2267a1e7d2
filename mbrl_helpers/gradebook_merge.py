"""Merge what parallel grading workers produced into one persistent nbgrader course directory.

Each worker of ``mbrl-course autograde --jobs N`` grades in a private course directory, so
SQLite never sees two writers (nbgrader issue #174). When the TA asked for a persistent
``--course-dir``, the workers' results are then written into its gradebook by one process,
through nbgrader's ``Gradebook`` API, and their autograded notebooks and feedback are
copied next to it, so the nbgrader formgrader can open the course as if graded serially.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from mbrl_helpers.nbgrader_course import make_api

COPIED = ("submitted", "autograded", "feedback")


def merge_workers(course_dir: Path, worker_dirs: list[Path], records: list) -> None:
    """Copy each graded student's folders from the worker directories and record their
    automatic grades in ``course_dir``'s gradebook (which must hold the assignments)."""
    graded = {(r.student, r.assignment): r for r in records if r.assignment and r.cells}
    for worker in worker_dirs:
        for kind in COPIED:
            for student_dir in (worker / kind).glob("*") if (worker / kind).exists() else []:
                for assignment_dir in student_dir.iterdir():
                    if (student_dir.name, assignment_dir.name) in graded:
                        dest = course_dir / kind / student_dir.name / assignment_dir.name
                        shutil.rmtree(dest, ignore_errors=True)
                        shutil.copytree(assignment_dir, dest)
    api = make_api(course_dir)
    with api.gradebook as gb, warnings.catch_warnings():
        # nbgrader's own session handling emits SAWarnings here; the commit below is complete
        warnings.simplefilter("ignore")
        for (student, assignment), record in graded.items():
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student)
            for cell, score in record.cells.items():
                grade = gb.find_grade(cell, assignment, assignment, student)
                grade.auto_score = score
                grade.manual_score = None
            gb.db.commit()
