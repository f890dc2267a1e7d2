"""Benchmark: per-notebook cost for maintainers and TAs.

For each notebook prints: the full execution time of the solution (what a self-learner's
re-run costs), the fast-mode execution time (what validation and grading run), and the
wall time of ``mbrl-course autograde`` on the reference submission alone (one student, one
worker: the per-student cost a TA pays, including kernel start-up). Nothing is written to
``solutions/``.

    python benchmarks/bench_notebooks.py                 # every notebook
    python benchmarks/bench_notebooks.py 02 05 --no-full # skip the full runs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from mbrl_helpers.grading import autograde as grading
from mbrl_helpers.grading.course import find_root, notebook_names, resolve_names
from mbrl_helpers.grading.execute import execute_notebook
from mbrl_helpers.grading.mutants import write_samples
from mbrl_helpers.grading.nbgrader_course import GradingConfig
from mbrl_helpers.grading.submissions import collect

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import machine  # noqa: E402


def grade_reference(root: Path, name: str) -> tuple[float, str]:
    """Seconds to autograde the reference submission of ``name`` alone, and its score."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        write_samples(root, name, folder)
        for student in folder.iterdir():  # keep the reference only
            if student.name != "reference":
                for f in student.iterdir():
                    f.unlink()
                student.rmdir()
        subs = collect(folder, notebook_names(root), name)
        start = time.perf_counter()
        (record,) = grading.autograde(root, subs, Path(tmp) / "out", jobs=1, progress=False,
                                      settings=GradingConfig(notebook_budget=900))
        return time.perf_counter() - start, f"{record.score:g}/{record.max_score:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="names or number prefixes (default: all)")
    parser.add_argument("--no-full", action="store_true", help="skip the full-mode runs")
    args = parser.parse_args()
    root = find_root()
    names = resolve_names(root, args.notebooks) if args.notebooks else notebook_names(root)
    print(f"machine: {machine()}")
    print(f"{'notebook':<32} {'full run':>9} {'fast run':>9} {'autograde 1':>12} {'score':>7}")
    for name in names:
        path = root / "solutions" / f"{name}.ipynb"
        full = None if args.no_full else execute_notebook(path, progress=False)
        fast = execute_notebook(path, fast=True, progress=False)
        for result in (full, fast):
            if result is not None and not result.ok:
                raise SystemExit(f"{name} failed: {result.error}")
        seconds, score = grade_reference(root, name)
        full_s = "-" if full is None else f"{full.seconds:.1f} s"
        print(f"{name:<32} {full_s:>9} {fast.seconds:>7.1f} s {seconds:>10.1f} s {score:>7}",
              flush=True)


if __name__ == "__main__":
    main()
