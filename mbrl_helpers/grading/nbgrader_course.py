"""A thin layer over nbgrader's Python API: course directories, release, autograde.

Every notebook of the course is its own nbgrader *assignment* holding one notebook of
the same name (``source/02_shooting_and_cem/02_shooting_and_cem.ipynb``), so a TA can
release and grade the course week by week.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mbrl_helpers.grading.course import SOLUTIONS, CourseError

#: The nbgrader course id of every course directory the tool writes.
COURSE_ID = "mbrl_course"
#: Folder of a course directory holding the verdicts (never visible to a grading kernel).
VERDICTS = "verdicts"
#: Default per-cell timeout while autograding, in seconds.
DEFAULT_CELL_TIMEOUT = 60
#: Default memory (address space) and CPU-time limits of one grading kernel.
DEFAULT_MEMORY_MB = 4096
DEFAULT_CPU_SECONDS = 600

CONFIG_TEMPLATE = '''\
# nbgrader configuration written by `mbrl-course` (edit freely; it is rewritten only when
# the course directory is created).
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
# Seconds a single cell may run while autograding or validating.
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
# Feedback without hidden tests or their tracebacks (nbgrader's default shows them).
from mbrl_helpers.grading.feedback import feedback_preprocessors  # noqa: E402
c.GenerateFeedback.preprocessors = feedback_preprocessors()
# Feedback HTML sanitized (no scripts, handlers or external resources) with a strict CSP.
c.GenerateFeedback.exporter_class = "mbrl_helpers.grading.feedback.FeedbackExporter"
'''


@dataclass(frozen=True)
class GradingConfig:
    """Settings of one autograding run.

    Attributes:
        cell_timeout: seconds a single cell may run before it is interrupted (a cell that
            ignores the interrupt gets its kernel restarted).
        memory_mb: address-space limit of each grading kernel, in MiB.
        cpu_seconds: CPU-time limit of each grading kernel process, in seconds.
        sandbox: ``"bwrap"`` (every kernel in a bubblewrap sandbox), ``"none"``, or
            ``"auto"`` (bwrap where it works); see :mod:`mbrl_helpers.grading.sandbox`.
        notebook_budget: wall-clock seconds one notebook may take, kernel restarts
            included; 0 measures the reference solution's autograde time at the start
            of the batch and allows ``BUDGET_FACTOR`` times it (at least ``MIN_BUDGET``).
        feedback_only: if not empty, feedback pages are written only for these student
            ids (the test harness grades hundreds of sample submissions and reads few pages).
    """

    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    sandbox: str = "auto"
    notebook_budget: int = 0
    feedback_only: tuple[str, ...] = ()


def _ensure_tools_on_path() -> None:
    """nbgrader shells out to ``alembic``; make the interpreter's scripts folder visible."""
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + path


@functools.lru_cache(maxsize=1)
def gradebook_schema_revision() -> str:
    """The newest revision of nbgrader's gradebook schema, read from its migration scripts."""
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def _read_schema_revision_in_process() -> None:
    """Make nbgrader read the schema revision in this process.

    nbgrader's ``Gradebook`` stamps a new gradebook with that revision, which it gets by running
    the ``alembic`` command in a subprocess: 4 to 7 s on the course machine, paid by every
    grading worker's course directory. Reading the same migration scripts here takes 0.1 s.
    ``tests/test_grading.py`` checks that both give the same revision.
    """
    import nbgrader.api

    nbgrader.api.get_alembic_version = gradebook_schema_revision


def make_api(
    course_dir: Path,
    settings: GradingConfig | None = None,
    *,
    deny_paths: list[str] | None = None,
    report_dir: str = "",
    preload: list[str] | None = None,
    warm_cache: str = "",
):
    """Return an :class:`nbgrader.apps.NbGraderAPI` rooted at ``course_dir``.

    Autograding through it executes notebooks with
    :class:`mbrl_helpers.grading.executor.GuardedExecute` (limits, restarts, guard), which
    refuses student code access to ``deny_paths`` and writes guard reports to ``report_dir``.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from mbrl_helpers.grading.executor import autograde_preprocessors
    from mbrl_helpers.grading.feedback import FeedbackExporter, feedback_preprocessors

    _ensure_tools_on_path()
    _read_schema_revision_in_process()
    settings = settings or GradingConfig()
    config = Config()
    config.CourseDirectory.root = str(course_dir)
    config.CourseDirectory.course_id = COURSE_ID
    config.Execute.timeout = int(settings.cell_timeout)
    config.Execute.interrupt_on_timeout = True
    config.NbGraderAPI.log_level = logging.ERROR
    config.GenerateFeedback.preprocessors = feedback_preprocessors()
    config.GenerateFeedback.exporter_class = FeedbackExporter
    config.Autograde.autograde_preprocessors = autograde_preprocessors()
    config.GuardedExecute.memory_mb = int(settings.memory_mb)
    config.GuardedExecute.cpu_seconds = int(settings.cpu_seconds)
    config.GuardedExecute.deny_paths = [str(course_dir), *(deny_paths or [])]
    config.GuardedExecute.report_dir = report_dir
    config.GuardedExecute.preload = list(preload or [])
    config.GuardedExecute.sandbox = settings.sandbox
    config.GuardedExecute.notebook_budget = int(settings.notebook_budget)
    config.GuardedExecute.warm_cache = warm_cache
    config.ApplyVerdicts.verdict_dir = str(Path(course_dir) / VERDICTS)
    coursedir = CourseDirectory(config=config)
    with contextlib.redirect_stderr(io.StringIO()):
        return NbGraderAPI(coursedir=coursedir, config=config)


def prepare_course_dir(
    course_dir: Path, root: Path, names: list[str], settings: GradingConfig | None = None
) -> None:
    """Create or refresh an nbgrader course directory with ``names`` as assignments.

    Copies each ``solutions/NAME.ipynb`` to ``source/NAME/NAME.ipynb`` and runs nbgrader's
    ``generate_assignment``, which records the graded cells in the gradebook and writes
    ``release/NAME/NAME.ipynb``. The verdict blocks of the test cells are taken out first
    and kept in ``verdicts/NAME.json`` (:mod:`mbrl_helpers.grading.verdicts`).

    Raises:
        CourseError: nbgrader failed to generate an assignment (its log is included).
    """
    from mbrl_helpers.grading.verdicts import read_source, write_verdicts

    settings = settings or GradingConfig()
    course_dir.mkdir(parents=True, exist_ok=True)
    config_file = course_dir / "nbgrader_config.py"
    if not config_file.exists():
        config_file.write_text(
            CONFIG_TEMPLATE.format(root=str(course_dir), timeout=settings.cell_timeout,
                                   course_id=COURSE_ID)
        )
    api = make_api(course_dir, settings)
    for name in names:
        source = course_dir / "source" / name
        source.mkdir(parents=True, exist_ok=True)
        notebook, verdicts = read_source(root / SOLUTIONS / f"{name}.ipynb")
        nbformat.write(notebook, source / f"{name}.ipynb")  # nbgrader never sees a verdict
        write_verdicts(course_dir / VERDICTS, name, verdicts)
        result = api.generate_assignment(name, force=True, create=True)
        if not result.get("success"):
            detail = (result.get("error") or result.get("log") or "").strip().splitlines()
            raise CourseError(
                f"nbgrader generate_assignment failed for {name}: "
                + (detail[-1] if detail else "no log")
            )


def released_notebook(course_dir: Path, name: str) -> Path:
    """Path of the student version nbgrader generated for ``name``."""
    return course_dir / "release" / name / f"{name}.ipynb"
