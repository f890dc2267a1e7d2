"""Benchmark: autograding throughput of `mbrl-course autograde`, by worker count and sandbox.

Grades a batch of sample submissions of one notebook (reference, blank and every mutant,
repeated under different student names until the batch has at least --students entries),
once per worker count and sandbox mode (runs interleaved, --repeat times), prints the median
time and submissions per minute, the bubblewrap sandbox's cost relative to none, and checks
that every setting gives the same grades. The notebook budget is fixed (no reference run).

    python benchmarks/bench_autograde.py --notebook 00 --students 20 --jobs 1 2
    python benchmarks/bench_autograde.py --students 1 --jobs 1 --repeat 5   # sandbox overhead
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mbrl_helpers.grading import autograde as grading
from mbrl_helpers.grading.course import find_root, notebook_names, resolve_names
from mbrl_helpers.grading.mutants import write_samples
from mbrl_helpers.grading.nbgrader_course import GradingConfig
from mbrl_helpers.grading.submissions import collect


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
    parser.add_argument("--sandbox", nargs="+", default=["none", "bwrap"],
                        choices=["none", "bwrap"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    root = find_root()
    name = resolve_names(root, [args.notebook])[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    print(f"notebook {name}, {args.students} submissions, {args.repeat} repeat(s)")
    tables, times = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        make_batch(root, name, folder, args.students)
        subs = collect(folder, notebook_names(root), name)
        for rep in range(args.repeat):
            for jobs in args.jobs:
                for mode in args.sandbox:
                    settings = GradingConfig(sandbox=mode, notebook_budget=900)
                    start = time.perf_counter()
                    records = grading.autograde(root, subs, Path(tmp) / f"out{rep}{jobs}{mode}",
                                                jobs=jobs, progress=False, settings=settings)
                    times.setdefault((jobs, mode), []).append(time.perf_counter() - start)
                    tables[(jobs, mode)] = {(r.student, r.status, r.score) for r in records}
    for (jobs, mode), runs in times.items():
        median = statistics.median(runs)
        line = (f"jobs={jobs} sandbox={mode:5s}: median {median:6.1f} s of "
                f"{', '.join(f'{t:.1f}' for t in runs)}; "
                f"{60 * len(subs) / median:5.1f} submissions/min")
        if mode == "bwrap" and (jobs, "none") in times:
            line += f"; {median / statistics.median(times[(jobs, 'none')]):.2f}x of none"
        print(line)
    same = len({frozenset(t) for t in tables.values()}) == 1
    print("identical grades for every setting:", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
