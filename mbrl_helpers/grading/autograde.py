"""``mbrl-course autograde``: grade a class with nbgrader, write grades.csv and feedback.

The work is nbgrader's (``NbGraderAPI.autograde``, ``generate_feedback`` and the
``Gradebook``); this module adds what a TA needs around it: finding the students'
files, one row per student even when a file is missing or broken, worker processes
with their own course directories (so SQLite never sees two writers), and a CSV.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import nbformat

from mbrl_helpers.grading.course import SOLUTIONS, CourseError
from mbrl_helpers.grading.gradebook_merge import merge_workers
from mbrl_helpers.grading.integrity import imports, preload_modules, review
from mbrl_helpers.grading.metadata import UnmatchedNotebook, repair_metadata
from mbrl_helpers.grading.nbgrader_course import (
    VERDICTS,
    GradingConfig,
    make_api,
    prepare_course_dir,
    released_notebook,
)
from mbrl_helpers.grading.sandbox import SandboxError, bwrap_problem, resolve_mode
from mbrl_helpers.grading.submissions import Submission

POINTS_POSSIBLE = "Points Possible"
#: The notebook budget: this many times the reference's autograde time, at least MIN_BUDGET s.
BUDGET_FACTOR = 4
MIN_BUDGET = 60
#: The budget while the reference itself is measured.
MAX_BUDGET = 1800
_FAILURE_ERRORS = {
    "CellTimeoutError": "timed out",
    "DeadKernelError": "kernel died",
    "NotRun": "not run (notebook budget or kernel restart limit)",
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
    name: str = ""  # the student's name as found in the input (an LMS full name)
    seconds: float = 0.0  # wall-clock time of nbgrader's autograde of this notebook
    sandbox: str = ""  # "bwrap" or "none": how the kernel was isolated


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
    """Problems visible in an autograded notebook: timeouts, dead kernels, cells not run."""
    if not autograded.exists():
        return []
    flags: list[str] = []
    notebook = nbformat.read(autograded, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            reason = _FAILURE_ERRORS.get(output.get("ename", ""))
            if reason and output.get("ename") == "NotRun":
                if not any(f.startswith("not run") for f in flags):
                    flags.append(str(output.get("evalue", reason))[:200])
            elif reason:
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
    try:
        repaired = repair_metadata(
            student_nb, nbformat.read(ctx["root"] / SOLUTIONS / f"{sub.assignment}.ipynb", 4),
            nbformat.read(released_notebook(course_dir, sub.assignment), 4))
    except UnmatchedNotebook as err:
        record.status = str(err)
        return record
    nbformat.write(student_nb, target / f"{sub.assignment}.ipynb")
    report = Path(ctx["report_dir"]) / f"{sub.student}__{sub.assignment}.jsonl"
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    result = api.autograde(sub.assignment, sub.student, force=True, create=True)
    record.seconds = round(time.perf_counter() - started, 2)
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
    if ctx["feedback_only"] and sub.student not in ctx["feedback_only"]:
        return record
    feedback = api.generate_feedback(sub.assignment, sub.student, force=True)
    html = course_dir / "feedback" / sub.student / sub.assignment / f"{sub.assignment}.html"
    if feedback.get("success") and html.exists():
        dest = out_dir / "feedback" / sub.student / f"{sub.assignment}.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(html, dest)  # sanitized by FeedbackExporter (see make_api)
        record.feedback = str(dest.relative_to(out_dir))
    return record


def grade_shard(
    root: Path, course_dir: Path, subs: list[Submission], out_dir: Path,
    settings: GradingConfig, results: Path, deny: list[str] | None = None, warm_cache: str = "",
) -> None:
    """Grade ``subs`` in ``course_dir``, appending one JSON line per record to ``results``.

    Runs in a worker process; a record is written as soon as it is known, so a crash
    loses at most the submission being graded. Without the sandbox, the kernel's guard
    refuses student code ``deny``, the course directory and the repository's solutions,
    tests and git history; with it, the kernel cannot see any of them.
    """
    names = sorted({s.assignment for s in subs if s.assignment and not s.problem})
    prepare_course_dir(course_dir, root, names, settings)
    importing = _import_in_background(course_dir / VERDICTS, names)
    report_dir = results.parent / f"{results.stem}-reports"
    report_dir.mkdir(exist_ok=True)
    secret = [str(root / d) for d in (SOLUTIONS, "tests", ".git")]
    api = make_api(course_dir, settings, deny_paths=secret + [str(results.parent)] + (deny or []),
                   report_dir=str(report_dir), preload=preload_modules(root, names),
                   warm_cache=warm_cache)
    ctx = {"root": root, "report_dir": report_dir,
           "feedback_only": set(settings.feedback_only)}
    with open(results, "a", encoding="utf-8") as sink:
        for sub in subs:
            if sub.problem or not sub.assignment:
                record = GradeRecord(sub.student, sub.assignment, status=sub.problem or "?")
            else:
                try:
                    record = _grade_one(api, course_dir, sub, out_dir, ctx)
                except Exception as err:  # noqa: BLE001 - one student never stops the batch
                    record = GradeRecord(sub.student, sub.assignment,
                                         status=f"grader error: {type(err).__name__}: {err}")
            sink.write(json.dumps(asdict(record)) + "\n")
            sink.flush()
    if importing:
        importing.join()  # never exit in the middle of an import


def _import_in_background(verdict_dir: Path, names: list[str]) -> threading.Thread | None:
    """Import what the verdicts of ``names`` import (torch: 2 to 3 s) in a thread, while the
    first kernel starts and runs; the verdicts then find the modules loaded. Python's import
    lock makes a verdict that gets there first wait for the same import, not repeat it."""
    modules: set[str] = set()
    for name in names:
        try:
            blocks = json.loads((verdict_dir / f"{name}.json").read_text())
        except (OSError, ValueError):
            continue
        for block in blocks.values():
            modules.update(module for module, _ in imports(block))
    missing = sorted(m for m in modules if m not in sys.modules)
    if not missing:
        return None
    thread = threading.Thread(target=_import_quietly, args=(missing,), daemon=True)
    thread.start()
    return thread


def _import_quietly(modules: list[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the verdict that needs it reports the failure
            pass


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
    """Grade every submission; return one record per (student, notebook), in ``subs`` order.

    Each of ``jobs`` worker processes grades its share of the students in a private nbgrader
    course directory; a worker that dies is replaced and its remaining students are graded.
    Only when every worker (and so every kernel) is gone is ``course_dir``, if given, brought
    up to date (:func:`mbrl_helpers.grading.gradebook_merge.merge_workers`), the same way for
    one worker or many.

    Raises:
        CourseError: ``settings.sandbox`` is ``"bwrap"`` and bubblewrap cannot run here.
    """
    settings = _resolve_sandbox(settings or GradingConfig())
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted({s.assignment for s in subs if s.assignment and not s.problem})
    with tempfile.TemporaryDirectory(prefix="mbrl-grade-") as tmp:
        batch = _Batch(root, Path(tmp), settings, warm_matplotlib_cache(Path(tmp) / "mpl"))
        if not settings.notebook_budget and names:
            batch.settings = replace(settings, notebook_budget=batch.measure_budget(names, jobs))
        records = batch.run(subs, out_dir.resolve(), jobs, progress)
        result = [records.get((s.student, s.assignment)) or GradeRecord(
            s.student, s.assignment, status="grader error: no record") for s in subs]
        for record, sub in zip(result, subs, strict=True):
            record.name = getattr(sub, "name", "") or sub.student
            record.sandbox = batch.settings.sandbox
        if course_dir is not None:
            prepare_course_dir(course_dir, root, names, settings)
            merge_workers(course_dir, batch.course_dirs, result)
    return result


def _resolve_sandbox(settings: GradingConfig) -> GradingConfig:
    try:
        mode = resolve_mode(settings.sandbox)
    except SandboxError as err:
        raise CourseError(str(err)) from None
    if mode == "none" and settings.sandbox == "auto":
        print(f"WARNING: grading WITHOUT a sandbox ({bwrap_problem()}): student code runs "
              "with your user's rights and can read and change your files. Grade on Linux "
              "with bubblewrap (see the README).", file=sys.stderr)
    return replace(settings, sandbox=mode)


def warm_matplotlib_cache(folder: Path) -> str:
    """Build matplotlib's font cache once, in ``folder``, for every kernel of the batch: a
    fresh cache makes matplotlib start ``fc-list``, which is slow and looks like an attack."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MPLCONFIGDIR": str(folder), "MPLBACKEND": "agg"}
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                   capture_output=True, timeout=300, check=False)
    folder.chmod(0o755)
    for path in folder.glob("*.json"):
        path.chmod(0o644)
    return str(folder)


class _Batch:
    """Worker processes of one batch, supervised: records are read from files no kernel can
    reach, line by line, and a worker that stops early is replaced."""

    def __init__(self, root: Path, tmp: Path, settings: GradingConfig, warm_cache: str):
        self.root, self.tmp, self.settings, self.warm_cache = root, tmp, settings, warm_cache
        self.course_dirs: list[Path] = []
        self.starts = 0

    def measure_budget(self, names: list[str], jobs: int) -> int:
        """Grade each reference solution once; the budget is a multiple of the slowest."""
        subs = [Submission(f"reference-{n}", n, path=self.root / SOLUTIONS / f"{n}.ipynb")
                for n in names]
        budget = self.settings
        self.settings = replace(budget, notebook_budget=MAX_BUDGET)
        records = self.run(subs, self.tmp / "reference-out", jobs, False, label="reference")
        seconds = max(rec.seconds for rec in records.values())
        self.settings = budget
        for rec in records.values():
            if rec.max_score == 0 or rec.score < rec.max_score:
                print(f"WARNING: the reference solution of {rec.assignment} scored "
                      f"{rec.score:g}/{rec.max_score:g} here ({rec.status}); grades of this "
                      "batch are suspect", file=sys.stderr)
        self.course_dirs.clear()
        return max(MIN_BUDGET, int(BUDGET_FACTOR * seconds))

    def run(self, subs, out_dir, jobs, progress, label="shard") -> dict:
        from tqdm.auto import tqdm

        records: dict[tuple, GradeRecord] = {}
        todo = {k: shard for k, shard in enumerate(_shards(subs, jobs)) if shard}
        dirs = {k: self.tmp / f"{label}{k}" for k in todo}
        self.course_dirs += list(dirs.values())
        running: dict[int, tuple] = {}
        with tqdm(total=len(subs), desc="autograde", unit="nb", disable=not progress) as bar:
            while todo or running:
                for k in [k for k in todo if k not in running]:
                    running[k] = self._start(dirs[k], todo.pop(k), out_dir)
                time.sleep(0.2)
                for k, (proc, shard, results, log) in list(running.items()):
                    done = proc.poll() is not None
                    records.update(_read_records(results, shard))
                    if done:
                        del running[k]
                        left = [s for s in shard if (s.student, s.assignment) not in records]
                        if left:  # the worker stopped early: charge one student, go on
                            records[(left[0].student, left[0].assignment)] = GradeRecord(
                                left[0].student, left[0].assignment,
                                status=_worker_death(proc.returncode, log))
                        if left[1:]:
                            todo[k] = left[1:]
                bar.update(len(records) - bar.n)
        return records

    def _start(self, course_dir: Path, shard: list[Submission], out_dir: Path) -> tuple:
        self.starts += 1
        spec = self.tmp / f"spec{self.starts}.json"
        results = self.tmp / f"results{self.starts}.jsonl"
        spec.write_text(json.dumps({
            "root": str(self.root), "course_dir": str(course_dir), "out_dir": str(out_dir),
            "settings": asdict(self.settings), "results": str(results),
            "deny": _class_folders(shard), "warm_cache": self.warm_cache,
            "subs": [{**asdict(s), "path": str(s.path) if s.path else None} for s in shard],
        }))
        log = self.tmp / f"worker{self.starts}.log"
        return _start_worker(spec, log), shard, results, log


def _class_folders(subs: list[Submission]) -> list[str]:
    """The folder holding every submission (the guard's deny list when unsandboxed)."""
    paths = [str(s.path.resolve().parent) for s in subs if s.path]
    return [os.path.commonpath(paths)] if paths else []


def _read_records(results: Path, shard: list[Submission]) -> dict:
    """Records of ``shard`` a worker wrote; a line that is not one is skipped (its student
    then gets a row saying the grader failed)."""
    expected = {(s.student, s.assignment) for s in shard}
    found = {}
    if not results.exists():
        return found
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = GradeRecord(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if (record.student, record.assignment) in expected:
            found[(record.student, record.assignment)] = record
    return found


def _worker_death(code: int | None, log: Path) -> str:
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
    detail = f": {tail[0][:200]}" if tail else ""
    return f"grader error: the grading worker stopped (exit code {code}) on this notebook{detail}"


def _start_worker(spec: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    with open(log, "w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "mbrl_helpers.grading.worker", str(spec)],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )


def write_csv(root: Path, records: list[GradeRecord], path: Path) -> None:
    """Write ``grades.csv``: one row per student; per notebook a column per graded cell,
    the notebook total and its status; a first row with the points possible."""
    names = sorted({r.assignment for r in records if r.assignment})
    cells = {name: graded_cells(root, name) for name in names}
    header = ["student", "name"]
    possible: list[object] = [POINTS_POSSIBLE, ""]
    for name in names:
        header += [f"{name}:{cell}" for cell, _ in cells[name]]
        header += [f"{name}:total", f"{name}:status", f"{name}:flags"]
        possible += [_fmt(pts) for _, pts in cells[name]]
        possible += [_fmt(sum(p for _, p in cells[name])), "", ""]
    if len(names) > 1:
        header.append("total")
        possible.append(_fmt(sum(p for name in names for _, p in cells[name])))
    header += ["sandbox", "notes"]
    possible += ["", ""]
    rows = [possible]
    for student in sorted({r.student for r in records}):
        mine = {r.assignment: r for r in records if r.student == student}
        row: list[object] = [student, next(iter(mine.values())).name]
        for name in names:
            rec = mine.get(name)
            row += [_fmt(rec.cells.get(cell, 0.0)) if rec else "" for cell, _ in cells[name]]
            row += [_fmt(rec.score) if rec else "", rec.status if rec else "not submitted",
                    " | ".join(rec.flags) if rec else ""]
        if len(names) > 1:
            row.append(_fmt(sum(r.score for r in mine.values())))
        row.append(",".join(sorted({r.sandbox for r in mine.values() if r.sandbox})))
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
