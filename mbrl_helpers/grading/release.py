"""``mbrl-course release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader.

The student release is produced only by nbgrader's own ``generate_assignment``; this
module copies its output into ``notebooks/`` and, with ``--check``, proves the folder is
current and free of solution and hidden-test text.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mbrl_helpers.grading.course import RELEASE, SOLUTIONS, CourseError, kernel_language_info
from mbrl_helpers.grading.nbgrader_course import prepare_course_dir, released_notebook

MARKERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "BEGIN VERDICT",
    "END VERDICT",
)
MARKER = re.compile(r"^\s*#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS|VERDICT)\s*$")
_VERDICT_BLOCK = re.compile(r"^\s*#+\s*BEGIN VERDICT\s*$.*?^\s*#+\s*END VERDICT\s*$",
                            re.S | re.M)
_IMPORT = re.compile(r"^(import|from)\s+[\w.]+(\s+import\s+|\s+as\s+\w+\s*$|\s*$)")
#: Secret lines shorter than this are too generic to search for (``return x``).
MIN_SECRET_LEN = 16


@dataclass
class ReleaseReport:
    """What ``release`` did or found. ``problems`` empty means success."""

    written: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _regions(source: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (inside solution/hidden regions, outside)."""
    inside: list[str] = []
    outside: list[str] = []
    depth = 0
    for line in source.splitlines():
        match = MARKER.match(line)
        if match:
            depth += 1 if match.group(1) == "BEGIN" else -1
            continue
        (inside if depth > 0 else outside).append(line)
    return inside, outside


def secret_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """Distinctive lines of solution regions and hidden tests in a source notebook.

    A line counts when it is at least :data:`MIN_SECRET_LEN` characters long (stripped)
    and never appears outside the secret regions of the notebook.
    """
    secret: set[str] = set()
    public: set[str] = set()
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        inside, outside = _regions(cell.source)
        if meta.get("solution") and not any(MARKER.match(x) for x in cell.source.splitlines()):
            inside, outside = cell.source.splitlines(), []  # a whole-cell solution
        secret.update(line.strip() for line in inside)
        public.update(line.strip() for line in outside)
    return {line for line in secret - public if len(line) >= MIN_SECRET_LEN}


def secret_pairs(notebook: nbformat.NotebookNode) -> set[tuple[str, str]]:
    """Consecutive pairs of non-blank lines inside solution/hidden regions: a solution copied
    into another file shows up as such a pair, while one generic line (``for t in
    range(horizon):``) may legitimately appear in helper code. Verdict blocks do not count:
    they are grader code, written with the grading package's own vocabulary."""
    pairs: set[tuple[str, str]] = set()
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        inside, _ = _regions(_VERDICT_BLOCK.sub("", cell.source))
        if meta.get("solution") and not any(MARKER.match(x) for x in cell.source.splitlines()):
            inside = cell.source.splitlines()
        lines = [line.strip() for line in inside if len(line.strip()) >= 8]
        pairs.update(pair for pair in zip(lines, lines[1:], strict=False)
                     if not any(_IMPORT.match(line) for line in pair))  # imports: generic
    return pairs


def text_pairs(text: str) -> set[tuple[str, str]]:
    """Consecutive pairs of non-blank stripped lines of ``text`` (see :func:`secret_pairs`)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return set(zip(lines, lines[1:], strict=False))


def find_leaks(source_nb: nbformat.NotebookNode, release_nb: nbformat.NotebookNode) -> list[str]:
    """Describe every secret line or nbgrader marker that appears in ``release_nb``."""
    secrets = secret_lines(source_nb)
    leaks: list[str] = []
    for index, cell in enumerate(release_nb.cells):
        text = cell.source
        for marker in MARKERS:
            if marker in text:
                leaks.append(f"cell {index}: contains the marker {marker!r}")
        for line in text.splitlines():
            if line.strip() in secrets:
                leaks.append(f"cell {index}: contains solution/hidden text {line.strip()!r}")
    return leaks


def _normalized(path: Path) -> str:
    """The notebook as text, without the Python patch release in ``language_info`` (a release
    made on 3.11.9 is not stale for a maintainer on 3.11.7)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.get("language_info", {}).pop("version", None)
    return json.dumps(notebook, sort_keys=True)


def _as_opened(path: Path) -> None:
    """Write the kernel's ``language_info`` into the notebook at ``path``, as JupyterLab does
    on opening it: a student's notebook then opens without unsaved changes."""
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["language_info"] = kernel_language_info()
    nbformat.write(notebook, path)


def release(
    root: Path, names: list[str], *, check: bool = False, target_dir: Path | None = None
) -> ReleaseReport:
    """Generate the student notebooks for ``names``; write them or (``check``) compare.

    Args:
        root: the course repository.
        names: notebook stems to release.
        check: do not write; report stale or leaking notebooks instead.
        target_dir: where the release goes (default: ``notebooks/`` of the repository).

    Returns:
        A :class:`ReleaseReport`; in check mode ``problems`` names each failing notebook.
    """
    report = ReleaseReport()
    with tempfile.TemporaryDirectory(prefix="mbrl-release-") as tmp:
        course_dir = Path(tmp)
        prepare_course_dir(course_dir, root, names)
        for name in names:
            fresh = released_notebook(course_dir, name)
            _as_opened(fresh)
            target = (target_dir or root / RELEASE) / f"{name}.ipynb"
            source_nb = nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4)
            leaks = find_leaks(source_nb, nbformat.read(fresh, as_version=4))
            if leaks:  # nbgrader itself leaked: a marker typo in the source notebook
                report.problems += [f"{name}: nbgrader release leaks, {leak}" for leak in leaks]
                continue
            if check:
                if not target.exists():
                    report.stale.append(name)
                    report.problems.append(f"{RELEASE}/{name}.ipynb is missing")
                    continue
                for leak in find_leaks(source_nb, nbformat.read(target, as_version=4)):
                    report.problems.append(f"{RELEASE}/{name}.ipynb {leak}")
                if _normalized(target) != _normalized(fresh):
                    report.stale.append(name)
                    report.problems.append(
                        f"{RELEASE}/{name}.ipynb is stale: run `mbrl-course release`"
                    )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nbformat.read(fresh, as_version=4), target)
                report.written.append(name)
    if check:
        extra = sorted(
            p.name for p in (root / RELEASE).glob("*.ipynb") if p.stem not in names
        ) if names == sorted(p.stem for p in (root / SOLUTIONS).glob("*.ipynb")) else []
        report.problems += [f"{RELEASE}/{n} has no source in {SOLUTIONS}/" for n in extra]
    if report.problems and not check:
        raise CourseError("; ".join(report.problems))
    return report
