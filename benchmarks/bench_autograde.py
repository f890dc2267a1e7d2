"""Benchmark: autograding throughput of `mbrl-course autograde` with 1 and 2 workers.

Grades a batch of sample submissions of one notebook (reference, blank and every mutant,
repeated under different student names until the batch has at least --students entries),
once per worker count, prints submissions per minute, and checks that every worker count
gives the same grades.

    python benchmarks/bench_autograde.py --notebook 00 --students 20 --jobs 1 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from mbrl_helpers import grading
from mbrl_helpers.course import find_root, notebook_names, resolve_names
from mbrl_helpers.mutants import write_samples
from mbrl_helpers.submissions import collect


def make_batch(root: Path, name: str, folder: Path, students: int) -> None:
    samples = folder.parent / "samples"
    write_samples(root, name, samples)
    kinds = sorted(p.name for p in samples.iterdir())
    for i in range(students):
        kind = kinds[i % len(kinds)]
        target = folder / f"s{i:03d}_{kind}"
        target.mkdir(parents=True)
        shutil.copy(samples / kind / f"{name}.ipynb", target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="00")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    root = find_root()
    name = resolve_names(root, [args.notebook])[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"notebook {name}, {args.students} submissions")
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        make_batch(root, name, folder, args.students)
        subs = collect(folder, notebook_names(root), name)
        for jobs in args.jobs:
            start = time.perf_counter()
            records = grading.autograde(root, subs, Path(tmp) / f"out{jobs}", jobs=jobs,
                                        progress=False)
            seconds = time.perf_counter() - start
            tables[jobs] = {(r.student, r.status, r.score) for r in records}
            print(f"jobs={jobs}: {seconds:6.1f} s, {60 * len(subs) / seconds:5.1f} submissions/min")
    same = len({frozenset(t) for t in tables.values()}) == 1
    print("identical grades for every worker count:", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
