"""The ``mbrl-course`` command: release, execute, autograde, demo, book and student-kit.

Run ``mbrl-course --help`` or ``mbrl-course COMMAND --help``. Errors a user can fix
(a missing folder, an unknown notebook, an empty zip) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from mbrl_helpers.grading.course import CourseError, find_root, resolve_names
from mbrl_helpers.grading.nbgrader_course import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_CPU_SECONDS,
    DEFAULT_MEMORY_MB,
    GradingConfig,
)
from mbrl_helpers.grading.sandbox import MODES


def _cmd_release(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading.release import release

    root = find_root(args.root)
    names = resolve_names(root, args.notebooks)
    report = release(root, names, check=args.check)
    if args.check:
        for problem in report.problems:
            print(f"release check failed: {problem}", file=sys.stderr)
        if report.problems:
            return 1
        print(f"release check passed: notebooks/ matches solutions/ for {len(names)} notebook(s)")
    else:
        print(f"released {len(report.written)} notebook(s) into notebooks/: "
              + ", ".join(report.written))
    return 0


def _cmd_execute(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading.execute import execute_solutions

    root = find_root(args.root)
    names = resolve_names(root, args.notebooks)
    failed = 0
    if args.check and args.fast:
        raise CourseError("--check compares with the stored full-mode outputs: drop --fast")
    for result in execute_solutions(root, names, fast=args.fast, write=not args.no_write,
                                    progress=not args.quiet, check=args.check):
        if result.ok:
            checked = " (printed numbers reproduced)" if args.check else ""
            print(f"ok      {result.name}  {result.seconds:6.1f} s{checked}")
            if result.slow_cells:  # these should show progress (mbrl_helpers.progress)
                print("        cells over 10 s: " + ", ".join(
                    f"{index} ({seconds:.0f} s)" for index, seconds in result.slow_cells))
        else:
            failed += 1
            detail = result.error or "printed numbers differ from the stored output:\n  " + \
                "\n  ".join(result.mismatches)
            print(f"FAILED  {result.name}  {result.seconds:6.1f} s\n{detail}", file=sys.stderr)
    return 1 if failed else 0


def _grading_settings(args: argparse.Namespace) -> GradingConfig:
    if args.timeout < 1:
        raise CourseError(f"--timeout must be at least 1 second, got {args.timeout}")
    if args.jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {args.jobs}")
    if args.memory_mb < 256:
        raise CourseError(f"--memory-mb must be at least 256, got {args.memory_mb}")
    if args.cpu_seconds < 1:
        raise CourseError(f"--cpu-seconds must be at least 1, got {args.cpu_seconds}")
    if args.notebook_budget < 0:
        raise CourseError(f"--notebook-budget must be 0 (measure) or positive, got "
                          f"{args.notebook_budget}")
    return GradingConfig(cell_timeout=args.timeout, memory_mb=args.memory_mb,
                         cpu_seconds=args.cpu_seconds, sandbox=args.sandbox,
                         notebook_budget=args.notebook_budget)


def _cmd_autograde(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading import autograde as grading
    from mbrl_helpers.grading import submissions

    root = find_root(args.root)
    settings = _grading_settings(args)
    assignment = resolve_names(root, [args.assignment])[0] if args.assignment else None
    names = resolve_names(root, None)
    subs, tmp = submissions.load(Path(args.submissions), names, assignment)
    try:
        out = Path(args.out)
        started = time.perf_counter()
        records = grading.autograde(root, subs, out, course_dir=_course_dir(args),
                                    settings=settings, jobs=args.jobs, progress=not args.quiet)
        grading.write_csv(root, records, out / "grades.csv")
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(format_table(records))
    print(f"\n{len(records)} notebook(s) of {len({r.student for r in records})} student(s) in "
          f"{time.perf_counter() - started:.0f} s; grades: {out / 'grades.csv'}, "
          f"feedback: {out / 'feedback'}/")
    return 0


def _course_dir(args: argparse.Namespace) -> Path | None:
    return Path(args.course_dir).resolve() if args.course_dir else None


def format_table(records) -> str:
    """A plain-text score table: one line per student and notebook."""
    lines = [f"{'student':<28} {'notebook':<28} {'score':>9}  status"]
    for r in sorted(records, key=lambda r: (r.student, r.assignment or "")):
        score = f"{r.score:g}/{r.max_score:g}" if r.max_score else "-"
        lines.append(f"{r.student:<28} {r.assignment or '-':<28} {score:>9}  {r.status}")
    return "\n".join(lines)


def _cmd_demo(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading import autograde as grading
    from mbrl_helpers.grading.mutants import write_samples
    from mbrl_helpers.grading.release import release
    from mbrl_helpers.grading.submissions import collect

    root = find_root(args.root)
    name = resolve_names(root, [args.notebook])[0]
    settings = _grading_settings(args)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    print(f"1/3 building the student release of {name} with nbgrader generate_assignment")
    release(root, [name], target_dir=out / "release")
    print("2/3 writing sample submissions: reference (the solution), blank (the release), "
          "partly_wrong (plausible mistakes)")
    write_samples(root, name, out / "submissions", demo_only=True, release_dir=out / "release")
    print(f"3/3 autograding them with nbgrader ({args.jobs} worker(s))")
    subs = collect(out / "submissions", resolve_names(root, None), name)
    records = grading.autograde(root, subs, out, settings=settings, jobs=args.jobs,
                                progress=not args.quiet)
    grading.write_csv(root, records, out / "grades.csv")
    print()
    print(format_table(records))
    print(f"\ngrades: {out / 'grades.csv'}   feedback: {out / 'feedback'}/")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading.book import build_book

    root = find_root(args.root)
    started = time.perf_counter()
    report = build_book(root, Path(args.out) if args.out else None, mathjax=args.mathjax,
                        quiet=args.quiet)
    for warning in report.warnings:
        print(warning, file=sys.stderr)
    if report.remote_tags_dropped:
        print(f"left out {report.remote_tags_dropped} remote script/stylesheet tag(s) of stored "
              "HTML outputs: the book works offline")
    print(f"book of {len(report.pages)} notebook(s) built in {time.perf_counter() - started:.0f} s:"
          f" {report.out / 'index.html'}")
    return 0


def _cmd_student_kit(args: argparse.Namespace) -> int:
    from mbrl_helpers.grading.student_kit import build_kit

    root = find_root(args.root)
    report = build_kit(root, Path(args.out), check_release=not args.skip_release_check)
    print(f"student kit: {report.path} ({report.path.stat().st_size / 1e6:.1f} MB): "
          f"{len(report.notebooks)} release notebook(s), {report.wheel}, requirements.txt, "
          "README.md; no solution, hidden-test or verdict text found in it")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mbrl-course", description="Release, execute and autograde the MBRL course notebooks."
    )
    # The global options are accepted before or after the command (`mbrl-course --quiet
    # autograde ...` and `mbrl-course autograde ... --quiet`); a subcommand's copy is SUPPRESSed
    # by default so that it does not overwrite what was given before the command.
    common = argparse.ArgumentParser(add_help=False)
    for target, default in [(parser, None), (common, argparse.SUPPRESS)]:
        target.add_argument("--root", default=default,
                            help="the course repository (default: found from the cwd)")
        target.add_argument("--quiet", action="store_true",
                            default=False if default is None else default,
                            help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", parents=[common],
                       help="regenerate notebooks/ from solutions/ (nbgrader)")
    p.add_argument("notebooks", nargs="*", help="notebook names or number prefixes (default: all)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail if notebooks/ is stale or leaks solutions")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("execute", parents=[common],
                       help="run solution notebooks and keep their outputs")
    p.add_argument("notebooks", nargs="*", help="notebook names or number prefixes (default: all)")
    p.add_argument("--fast", action="store_true", help="fast mode (small demos), as under nbgrader")
    p.add_argument("--no-write", action="store_true", help="only check that they run")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail, naming the cell, if a printed number differs "
                        "from the stored output (relative tolerance 1e-6; durations and "
                        "cells tagged 'timing' skipped)")
    p.set_defaults(func=_cmd_execute)

    def grading_options(p: argparse.ArgumentParser, out: str) -> None:
        p.add_argument("--out", default=out, help=f"output folder (default: {out})")
        p.add_argument("--jobs", type=int, default=1, help="parallel grading workers (default 1)")
        p.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT,
                       help=f"seconds per cell (default {DEFAULT_CELL_TIMEOUT})")
        p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                       help=f"memory limit per grading kernel, MiB (default {DEFAULT_MEMORY_MB})")
        p.add_argument("--cpu-seconds", type=int, default=DEFAULT_CPU_SECONDS,
                       help="CPU-time limit per grading kernel, s "
                            f"(default {DEFAULT_CPU_SECONDS})")
        p.add_argument("--sandbox", choices=MODES, default="auto",
                       help="isolate every grading kernel with bubblewrap: bwrap (required), "
                            "none, or auto (bwrap where it works, else a loud warning; "
                            "default)")
        p.add_argument("--notebook-budget", type=int, default=0, metavar="SECONDS",
                       help="wall-clock seconds one notebook may take, kernel restarts "
                            "included (default 0: 4 times the reference solution's measured "
                            "autograde time, at least 60)")

    p = sub.add_parser("autograde", parents=[common],
                       help="grade a class: folder or LMS zip -> grades.csv")
    p.add_argument("submissions", help="folder (a subfolder or name prefix per student) or .zip")
    p.add_argument("--assignment", help="grade only this notebook (name or number)")
    p.add_argument("--course-dir", help="persistent nbgrader course directory (default: temporary)")
    grading_options(p, "autograde_results")
    p.set_defaults(func=_cmd_autograde)

    p = sub.add_parser("demo", parents=[common],
                       help="release, make sample submissions, autograde, print scores")
    p.add_argument("--notebook", default="00", help="notebook to demonstrate (default: 00)")
    grading_options(p, "mbrl-course-demo")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("book", parents=[common],
                       help="build the HTML book of the executed solutions (offline, for "
                            "self-learners)")
    p.add_argument("--out", help="output folder, replaced by the new book (default: build/book "
                                 "in the repository)")
    p.add_argument("--mathjax", metavar="DIR",
                   help="MathJax 2 folder to bundle (default: Debian's libjs-mathjax, "
                        "/usr/share/javascript/mathjax)")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("student-kit", parents=[common],
                       help="the zip handed to students: release notebooks, helper wheel "
                            "(no grader), pinned requirements, README")
    p.add_argument("out", metavar="OUT.zip", help="the kit to write")
    p.add_argument("--skip-release-check", action="store_true",
                   help="do not first prove that notebooks/ matches solutions/ (about 20 s)")
    p.set_defaults(func=_cmd_student_kit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CourseError as err:
        print(f"mbrl-course {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mbrl-course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
