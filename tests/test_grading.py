"""Determinism and parallel grading: regrades are identical, --jobs 2 equals --jobs 1, and a
persistent course directory receives every worker's grades."""

from __future__ import annotations

import shutil

from mbrl_helpers import grading
from mbrl_helpers.mutants import write_samples
from mbrl_helpers.nbgrader_course import make_api
from mbrl_helpers.submissions import collect

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
    for run, jobs in enumerate([1, 2, 2]):
        course = tmp_path / f"course{run}"
        records = grading.autograde(root, subs, tmp_path / f"out{run}", jobs=jobs,
                                    course_dir=course, progress=False)
        grading.write_csv(root, records, tmp_path / f"grades{run}.csv")
        csvs.append((tmp_path / f"grades{run}.csv").read_text())
    assert csvs[0] == csvs[1] == csvs[2]
    assert len(csvs[0].splitlines()) == 2 + 4  # header, points possible, four students
    # the persistent course directory of a parallel run holds every student's grades
    with make_api(tmp_path / "course1").gradebook as gb:
        for record in records:
            nb = gb.find_submission_notebook(NB, NB, record.student)
            assert float(nb.score) == record.score, record.student
    assert (tmp_path / "course1" / "autograded" / records[0].student / NB).is_dir()


def test_a_worker_that_dies_loses_no_other_students_grade(root, tmp_path, monkeypatch):
    samples = tmp_path / "samples"
    write_samples(root, NB, samples, demo_only=True)
    subs = collect(samples, [NB], NB)
    real_start = grading._start_worker

    def start(spec, log):
        proc = real_start(spec, log)
        if "reference" in spec.read_text():
            proc.kill()  # this worker dies before grading anything
        return proc

    monkeypatch.setattr(grading, "_start_worker", start)
    records = {r.student: r for r in grading.autograde(root, subs, tmp_path / "out", jobs=3,
                                                        progress=False)}
    assert records["reference"].status == "grader crashed"
    assert records["blank"].status == "graded" and records["blank"].score == 0
    assert records["partly_wrong"].status == "graded" and records["partly_wrong"].score > 0
