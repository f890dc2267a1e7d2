"""Bring a persistent nbgrader course directory up to date after a grading batch.

Every worker of ``mbrl-course autograde`` grades in a private course directory, so SQLite
never sees two writers (nbgrader issue #174) and no kernel ever runs next to the TA's
gradebook. When the batch is over (every worker and kernel gone), one process writes the
results into ``--course-dir``: the workers' submitted and autograded notebooks and feedback
are copied next to it, and the automatic grades are recorded through nbgrader's
``Gradebook`` API in a *copy* of the gradebook that then replaces the original in one
rename, so a crash never leaves a half-written gradebook. One worker or many, the result is
the same, and the formgrader opens the course as if it had been graded by ``nbgrader
autograde`` itself (no "needs manual grading", the students' names filled in).
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from mbrl_helpers.grading.nbgrader_course import COURSE_ID

COPIED = ("submitted", "autograded", "feedback")
GRADEBOOK = "gradebook.db"


def split_name(name: str) -> tuple[str, str]:
    """(first, last) of a full name as an LMS writes it: the last word is the last name."""
    words = name.replace("_", " ").split()
    if not words:
        return "", ""
    return " ".join(words[:-1]), words[-1]


def _copy_folders(course_dir: Path, worker_dirs: list[Path], graded: set) -> None:
    for worker in worker_dirs:
        for kind in COPIED:
            for student_dir in (worker / kind).glob("*") if (worker / kind).exists() else []:
                for assignment_dir in student_dir.iterdir():
                    if (student_dir.name, assignment_dir.name) in graded:
                        dest = course_dir / kind / student_dir.name / assignment_dir.name
                        shutil.rmtree(dest, ignore_errors=True)
                        shutil.copytree(assignment_dir, dest)


def merge_workers(course_dir: Path, worker_dirs: list[Path], records: list) -> None:
    """Copy each graded student's folders from the worker directories and record their
    automatic grades in ``course_dir``'s gradebook (which must hold the assignments)."""
    from nbgrader.api import Gradebook

    graded = {(r.student, r.assignment): r for r in records if r.assignment and r.cells}
    _copy_folders(course_dir, worker_dirs, set(graded))
    db = course_dir / GRADEBOOK
    staging = course_dir / f".{GRADEBOOK}.merging"
    shutil.copyfile(db, staging)
    gb = Gradebook(f"sqlite:///{staging}", course_id=COURSE_ID)
    try:
        with warnings.catch_warnings():
            # nbgrader's own session handling emits SAWarnings; the commit below is complete
            warnings.simplefilter("ignore")
            for (student, assignment), record in graded.items():
                first, last = split_name(getattr(record, "name", "") or student)
                gb.update_or_create_student(student, first_name=first, last_name=last)
                gb.update_or_create_submission(assignment, student)
                for cell, score in record.cells.items():
                    grade = gb.find_grade(cell, assignment, assignment, student)
                    grade.auto_score = score
                    grade.manual_score = None
                    grade.needs_manual_grade = False
                gb.db.commit()
    finally:
        gb.close()
    os.replace(staging, db)
