"""``mbrl-course autograde``: grade a class with nbgrader, write grades.csv and feedback.

The work is nbgrader's (``NbGraderAPI.autograde``, ``generate_feedback`` and the
``Gradebook``); this module adds what a TA needs around it: finding the students'
files, one row per student even when a file is missing or broken, worker processes
with their own course directories (so SQLite never sees two writers), and a CSV.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from mbrl_helpers.course import SOLUTIONS
from mbrl_helpers.gradebook_merge import merge_workers
from mbrl_helpers.integrity import preload_modules, repair_metadata, review
from mbrl_helpers.nbgrader_course import GradingConfig, make_api, prepare_course_dir
from mbrl_helpers.submissions import Submission

POINTS_POSSIBLE = "Points Possible"
_FAILURE_ERRORS = {
    "CellTimeoutError": "timed out",
    "DeadKernelError": "kernel died",
}


@dataclass
class GradeRecord:
    """The grade of one student's notebook (or why there is none)."""

    student: str
    assignment: str | None
    status: str = "graded"  # "graded", or the reason the notebook got no grade
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    feedback: str | None = None  # feedback HTML, relative to the output folder


def graded_cells(root: Path, name: str) -> list[tuple[str, float]]:
    """(grade_id, points) of every graded cell of ``solutions/NAME.ipynb``, in order."""
    notebook = nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4)
    cells = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells.append((meta["grade_id"], float(meta.get("points", 0))))
    return cells


def _flags(autograded: Path) -> list[str]:
    """Problems visible in an autograded notebook: timeouts, dead kernels."""
    if not autograded.exists():
        return []
    flags = []
    notebook = nbformat.read(autograded, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            reason = _FAILURE_ERRORS.get(output.get("ename", ""))
            if reason:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                cell_id = meta.get("grade_id", cell.get("id"))
                flags.append(f"{reason} in cell {cell_id}")
    return flags


def _grade_one(api, course_dir: Path, sub: Submission, out_dir: Path, ctx: dict) -> GradeRecord:
    record = GradeRecord(sub.student, sub.assignment)
    target = course_dir / "submitted" / sub.student / sub.assignment
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    student_nb = nbformat.read(sub.path, as_version=4)
    repaired = repair_metadata(
        student_nb, nbformat.read(ctx["root"] / SOLUTIONS / f"{sub.assignment}.ipynb", 4))
    nbformat.write(student_nb, target / f"{sub.assignment}.ipynb")
    report = Path(ctx["report_dir"]) / f"{sub.student}__{sub.assignment}.jsonl"
    report.unlink(missing_ok=True)
    result = api.autograde(sub.assignment, sub.student, force=True, create=True)
    autograded = course_dir / "autograded" / sub.student / sub.assignment
    problems = _flags(autograded / f"{sub.assignment}.ipynb")
    if not result.get("success"):
        lines = (result.get("error") or result.get("log") or "").strip().splitlines()
        record.status = "autograde failed: " + (lines[-1][:200] if lines else "no log")
        return record
    with api.gradebook as gb:
        record.flags = review(gb, ctx["root"], sub.assignment, sub.student,
                              target / f"{sub.assignment}.ipynb",
                              autograded / f"{sub.assignment}.ipynb", report) + repaired
        nb = gb.find_submission_notebook(sub.assignment, sub.assignment, sub.student)
        grades = [g for g in nb.grades if g.cell_type == "code" and g.max_score > 0]
        record.cells = {g.name: float(g.score) for g in grades}
        record.score = float(sum(record.cells.values()))
        record.max_score = float(sum(g.max_score for g in grades))
    if problems:
        record.status = "graded with problems: " + "; ".join(problems)
    feedback = api.generate_feedback(sub.assignment, sub.student, force=True)
    html = course_dir / "feedback" / sub.student / sub.assignment / f"{sub.assignment}.html"
    if feedback.get("success") and html.exists():
        dest = out_dir / "feedback" / sub.student / f"{sub.assignment}.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(html, dest)
        record.feedback = str(dest.relative_to(out_dir))
    return record


def grade_shard(
    root: Path, course_dir: Path, subs: list[Submission], out_dir: Path,
    settings: GradingConfig, results: Path, deny: list[str] | None = None,
) -> None:
    """Grade ``subs`` in ``course_dir``, appending one JSON line per record to ``results``.

    Runs in a worker process; a record is written as soon as it is known, so a crash
    loses at most the submission being graded. Student code may not read ``deny``, the
    course directory, nor the repository's solutions, tests and git history.
    """
    names = sorted({s.assignment for s in subs if s.assignment and not s.problem})
    prepare_course_dir(course_dir, root, names, settings)
    report_dir = results.parent / f"{results.stem}-reports"
    report_dir.mkdir(exist_ok=True)
    secret = [str(root / d) for d in (SOLUTIONS, "tests", ".git")]
    api = make_api(course_dir, settings, deny_paths=secret + [str(results.parent)] + (deny or []),
                   report_dir=str(report_dir), preload=preload_modules(root, names))
    ctx = {"root": root, "report_dir": report_dir}
    with open(results, "a", encoding="utf-8") as sink:
        for sub in subs:
            if sub.problem or not sub.assignment:
                record = GradeRecord(sub.student, sub.assignment, status=sub.problem or "?")
            else:
                try:
                    record = _grade_one(api, course_dir, sub, out_dir, ctx)
                except Exception as err:  # noqa: BLE001 - one student never stops the batch
                    record = GradeRecord(sub.student, sub.assignment,
                                         status=f"grading error: {type(err).__name__}: {err}")
            sink.write(json.dumps(asdict(record)) + "\n")
            sink.flush()


def _shards(subs: list[Submission], jobs: int) -> list[list[Submission]]:
    """Round-robin students (all of one student's notebooks together) over ``jobs`` shards."""
    students = sorted({s.student for s in subs})
    shards: list[list[Submission]] = [[] for _ in range(max(1, min(jobs, len(students))))]
    for i, student in enumerate(students):
        shards[i % len(shards)] += [s for s in subs if s.student == student]
    return shards


def autograde(
    root: Path,
    subs: list[Submission],
    out_dir: Path,
    *,
    course_dir: Path | None = None,
    settings: GradingConfig | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> list[GradeRecord]:
    """Grade every submission; return one record per (student, notebook).

    Each of ``jobs`` worker processes grades its share of the students in its own nbgrader
    course directory (``course_dir`` itself for one worker, ``course_dir/workers/K``
    otherwise; temporary folders when ``course_dir`` is None).
    """
    settings = settings or GradingConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = _shards(subs, jobs)
    paths = [str(s.path.resolve().parent) for s in subs if s.path]
    deny = [os.path.commonpath(paths)] if paths else []  # the class folder: no copying
    with tempfile.TemporaryDirectory(prefix="mbrl-grade-") as tmp:
        procs = []
        for k, shard in enumerate(shards):
            if course_dir is None:
                shard_dir = Path(tmp) / f"course{k}"
            else:
                shard_dir = course_dir if len(shards) == 1 else course_dir / "workers" / str(k)
            spec = Path(tmp) / f"shard{k}.json"
            spec.write_text(json.dumps({
                "root": str(root), "course_dir": str(shard_dir.resolve()), "deny": deny,
                "out_dir": str(out_dir.resolve()), "settings": asdict(settings),
                "results": str(Path(tmp) / f"results{k}.jsonl"),
                "subs": [{**asdict(s), "path": str(s.path) if s.path else None} for s in shard],
            }))
            procs.append(_start_worker(spec, Path(tmp) / f"worker{k}.log"))
        _wait(procs, total=len(subs), results=[Path(tmp) / f"results{k}.jsonl"
                                               for k in range(len(shards))], progress=progress)
        records = {}
        for k in range(len(shards)):
            path = Path(tmp) / f"results{k}.jsonl"
            for line in path.read_text().splitlines() if path.exists() else []:
                record = GradeRecord(**json.loads(line))
                records[(record.student, record.assignment)] = record
    for sub in subs:  # a worker that died: its unfinished students still get a row
        records.setdefault((sub.student, sub.assignment),
                           GradeRecord(sub.student, sub.assignment, status="grader crashed"))
    result = [records[(s.student, s.assignment)] for s in subs]
    if course_dir is not None and len(shards) > 1:
        names = sorted({s.assignment for s in subs if s.assignment and not s.problem})
        prepare_course_dir(course_dir, root, names, settings)
        workers = [course_dir / "workers" / str(k) for k in range(len(shards))]
        merge_workers(course_dir, workers, result)
    return result


def _start_worker(spec: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    with open(log, "w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "mbrl_helpers.grading_worker", str(spec)],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )


def _wait(procs: list[subprocess.Popen], total: int, results: list[Path], progress: bool) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="autograde", unit="nb", disable=not progress) as bar:
        while True:
            done = sum(len(p.read_text().splitlines()) for p in results if p.exists())
            if done > bar.n:
                bar.update(done - bar.n)
            if all(p.poll() is not None for p in procs):
                break
            time.sleep(0.2)


def write_csv(root: Path, records: list[GradeRecord], path: Path) -> None:
    """Write ``grades.csv``: one row per student; per notebook a column per graded cell,
    the notebook total and its status; a first row with the points possible."""
    names = sorted({r.assignment for r in records if r.assignment})
    cells = {name: graded_cells(root, name) for name in names}
    header = ["student"]
    possible: list[object] = [POINTS_POSSIBLE]
    for name in names:
        header += [f"{name}:{cell}" for cell, _ in cells[name]]
        header += [f"{name}:total", f"{name}:status", f"{name}:flags"]
        possible += [_fmt(pts) for _, pts in cells[name]]
        possible += [_fmt(sum(p for _, p in cells[name])), "", ""]
    if len(names) > 1:
        header.append("total")
        possible.append(_fmt(sum(p for name in names for _, p in cells[name])))
    header.append("notes")
    possible.append("")
    rows = [possible]
    for student in sorted({r.student for r in records}):
        mine = {r.assignment: r for r in records if r.student == student}
        row: list[object] = [student]
        for name in names:
            rec = mine.get(name)
            row += [_fmt(rec.cells.get(cell, 0.0)) if rec else "" for cell, _ in cells[name]]
            row += [_fmt(rec.score) if rec else "", rec.status if rec else "not submitted",
                    " | ".join(rec.flags) if rec else ""]
        if len(names) > 1:
            row.append(_fmt(sum(r.score for r in mine.values())))
        row.append(mine[None].status if None in mine else "")  # no course notebook at all
        rows.append(row)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def _fmt(value: float) -> str:
    return f"{value:g}"
