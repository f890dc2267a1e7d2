"""Where the course lives: the repository root, its solution and release notebooks.

Used by the ``mbrl-course`` command; notebooks never need it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SOLUTIONS = "solutions"
RELEASE = "notebooks"
MUTANTS = Path("tests") / "mutants"
#: Thread counts of the math libraries, set to 1 for every kernel that grades or executes a
#: notebook: the same floating-point results on every run, whatever the machine's load.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def kernel_language_info() -> dict:
    """The ``language_info`` this Python's kernel reports, as JupyterLab writes it into a
    notebook when it opens one. Stored in ``solutions/`` and ``notebooks/``, it lets a notebook
    open without unsaved changes (on the same Python patch release; on another one, JupyterLab
    updates the version and the notebook shows unsaved until it is saved)."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


class CourseError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the course repository root: the first folder holding ``solutions/``.

    Searches ``start`` and its parents; without ``start``, the current directory and its
    parents, then the folder above this package (an editable install in the repository).
    """
    here = Path(start or Path.cwd()).resolve()
    candidates = [here, *here.parents]
    if start is None:
        candidates.append(Path(__file__).resolve().parents[2])
    for folder in candidates:
        if (folder / SOLUTIONS).is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    raise CourseError(
        f"no course repository found from {here}: run the command inside the course "
        f"repository (the folder that holds {SOLUTIONS}/ and pyproject.toml) or pass --root"
    )


def notebook_names(root: Path) -> list[str]:
    """Sorted stems of the solution notebooks, e.g. ``['00_course_tour', ...]``."""
    names = sorted(p.stem for p in (root / SOLUTIONS).glob("*.ipynb"))
    if not names:
        raise CourseError(f"no notebooks in {root / SOLUTIONS}")
    return names


def resolve_names(root: Path, requested: list[str] | None) -> list[str]:
    """Map user-given names (``00``, ``00_course_tour``, ``00_course_tour.ipynb``) to stems.

    Raises:
        CourseError: a name matches no notebook, or more than one.
    """
    names = notebook_names(root)
    if not requested:
        return names
    chosen: list[str] = []
    for raw in requested:
        key = Path(raw).name.removesuffix(".ipynb")
        matches = [n for n in names if n == key] or [n for n in names if n.startswith(key)]
        if len(matches) != 1:
            what = "matches no notebook" if not matches else f"is ambiguous ({matches})"
            raise CourseError(f"notebook {raw!r} {what}; known: {', '.join(names)}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen
