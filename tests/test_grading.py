"""Determinism and parallel grading: regrades are identical, --jobs 2 equals --jobs 1, and a
persistent course directory receives every worker's grades."""

from __future__ import annotations

import shutil
from pathlib import Path

from mbrl_helpers.grading import autograde as grading
from mbrl_helpers.grading.mutants import write_samples
from mbrl_helpers.grading.nbgrader_course import make_api
from mbrl_helpers.grading.submissions import collect

from .conftest import SETTINGS

NB = "00_course_tour"


def test_regrades_are_identical_and_jobs_do_not_matter(root, tmp_path):
    samples = tmp_path / "samples"
    write_samples(root, NB, samples)
    kinds = sorted(p.name for p in samples.iterdir())[:4]
    folder = tmp_path / "class"
    for i in range(4):
        shutil.copytree(samples / kinds[i % len(kinds)], folder / f"s{i}_{kinds[i % len(kinds)]}")
    subs = collect(folder, [NB], NB)
    csvs = []
    for run, jobs in enumerate([1, 2]):  # the second run regrades, in parallel
        course = tmp_path / f"course{run}"
        records = grading.autograde(root, subs, tmp_path / f"out{run}", jobs=jobs,
                                    course_dir=course, progress=False, settings=SETTINGS)
        grading.write_csv(root, records, tmp_path / f"grades{run}.csv")
        csvs.append((tmp_path / f"grades{run}.csv").read_text())
    assert csvs[0] == csvs[1]
    assert len(csvs[0].splitlines()) == 2 + 4  # header, points possible, four students
    # the persistent course directory of a parallel run holds every student's grades, field by
    # field the same as the serial run's, none waiting for manual grading, names filled in
    books = [_gradebook_rows(tmp_path / f"course{run}", records) for run in (0, 1)]
    assert books[0] == books[1]
    for record in records:
        student, grades = books[1][record.student]
        assert sum(g[1] for g in grades) == record.score, record.student
        assert not any(g[3] for g in grades) and student[2], (student, grades)
    assert (tmp_path / "course1" / "autograded" / records[0].student / NB).is_dir()
    assert not (tmp_path / "course1" / "workers").exists()


def _gradebook_rows(course, records) -> dict:
    """Per student: (id, first, last) and every grade's (cell, auto, manual, needs manual)."""
    with make_api(course).gradebook as gb:
        rows = {}
        for record in records:
            student = gb.find_student(record.student)
            nb = gb.find_submission_notebook(NB, NB, record.student)
            rows[record.student] = (
                (student.id, student.first_name, student.last_name),
                sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                       for g in nb.grades))
    return rows


def test_a_worker_that_dies_is_replaced_and_costs_one_row(root, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    write_samples(root, NB, samples, demo_only=True)
    subs = collect(samples, [NB], NB)
    real_start = grading._start_worker
    started = []

    def start(spec, log):
        proc = real_start(spec, log)
        started.append(spec)
        if len(started) == 1:  # the first worker dies before grading anything
            proc.kill()
        return proc

    monkeypatch.setattr(grading, "_start_worker", start)
    records = grading.autograde(root, subs, tmp_path / "out", jobs=1, progress=False,
                                settings=SETTINGS)
    by_student = {r.student: r for r in records}
    assert len(records) == 3 and len(started) == 2  # the killed worker and its replacement
    first = sorted(by_student)[0]
    assert by_student[first].status.startswith("grader error: the grading worker stopped")
    others = [by_student[s] for s in sorted(by_student)[1:]]
    assert all(r.status == "graded" for r in others), [r.status for r in others]
    assert {r.student: r.score > 0 for r in others} == {
        s: s != "blank" for s in sorted(by_student)[1:]}


def test_a_malformed_record_costs_only_its_line(tmp_path):
    from mbrl_helpers.grading.submissions import Submission

    shard = [Submission("ann", NB), Submission("bob", NB)]
    results = tmp_path / "results.jsonl"
    good = grading.GradeRecord("bob", NB, score=3.0, max_score=5.0)
    results.write_text('{"student": "ann", "assign\n' + "[1, 2]\n" + '{"x": 1}\n'
                       + grading.json.dumps(grading.asdict(good)) + "\n"
                       + grading.json.dumps(grading.asdict(grading.GradeRecord("eve", NB))))
    found = grading._read_records(results, shard)
    assert list(found) == [("bob", NB)] and found[("bob", NB)].score == 3.0


def test_gradebook_schema_revision_is_the_one_alembic_reports(tmp_path):
    """nbgrader's own way (the `alembic heads` command) and the in-process read agree, and a
    gradebook created through the course's API is stamped with it."""
    import sqlite3
    import subprocess
    import sys

    from nbgrader.dbutil import _temp_alembic_ini

    from mbrl_helpers.grading.nbgrader_course import gradebook_schema_revision

    alembic = str(Path(sys.executable).parent / "alembic")
    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        heads = subprocess.check_output([alembic, "-c", ini, "heads"], text=True)
    assert heads.split()[0] == gradebook_schema_revision()
    api = make_api(tmp_path)
    api.gradebook.close()
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        stamped = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert stamped == [(gradebook_schema_revision(),)]
