"""Sample submissions built from the release: reference, blank, and mutants.

A *mutant* is a plausible mistake (or a correct solution written differently) kept as
data in ``tests/mutants/NAME.toml``::

    [[mutant]]
    name = "ignores_gamma"      # student id "mutant00-ignores_gamma" (notebook number first)
    cell = "discounted_return"             # grade_id of the solution cell
    fails = ["test_discounted_return_hidden"]   # graded cells that must lose their points;
                                           # [] means: a correct variant, full marks
    demo = true                            # optional: used by `mbrl-course demo`
    whole_cell = false                     # optional: `code` replaces the whole cell
    code = '''
    return float(np.sum(rewards))
    '''

By default ``code`` replaces the text between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` of that cell, re-indented to the markers' indentation. Several
``[[mutant]]`` tables may share a ``name`` to change several cells of one submission.

A file with a ``[blank_one]`` table also gets one submission per exercise, ``blank-EXERCISE``,
with that exercise alone left blank: it must lose exactly the test cells between its
solution cell and the next one, plus the later cells the table lists for it (tests of
exercises whose text says they use it)::

    [blank_one]
    select_elites = ["test_cem_visible"]   # "cem ... using your select_elites"
"""

from __future__ import annotations

import copy
import re
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mbrl_helpers.grading.course import MUTANTS, RELEASE, SOLUTIONS, CourseError

#: What the release holds in a solution region, and the name prefix of blank-one mutants.
BLANK_CODE = "# YOUR CODE HERE\nraise NotImplementedError()"
BLANK_PREFIX = "blank-"
_BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*#+\s*END SOLUTION\s*$")


@dataclass
class Mutant:
    """One sample submission that differs from the reference in one or more cells."""

    name: str
    edits: dict[str, tuple[str, bool]] = field(default_factory=dict)  # cell -> (code, whole)
    fails: set[str] = field(default_factory=set)
    demo: bool = False


def _read(root: Path, name: str) -> dict:
    """The parsed ``tests/mutants/NAME.toml`` (no file: an empty table)."""
    path = root / MUTANTS / f"{name}.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise CourseError(f"{path}: {err}") from None


def load_mutants(root: Path, name: str) -> list[Mutant]:
    """Read ``tests/mutants/NAME.toml`` (no file: no mutants)."""
    path = root / MUTANTS / f"{name}.toml"
    data = _read(root, name)
    mutants: dict[str, Mutant] = {}
    if "blank_one" in data:
        mutants.update((m.name, m) for m in _blank_one(root, name, data["blank_one"]))
    for i, entry in enumerate(data.get("mutant", [])):
        missing = {"name", "cell", "fails", "code"} - set(entry)
        if missing:
            raise CourseError(f"{path}: mutant #{i} lacks {sorted(missing)}")
        mutant = mutants.setdefault(entry["name"], Mutant(entry["name"]))
        mutant.edits[entry["cell"]] = (entry["code"], bool(entry.get("whole_cell", False)))
        mutant.fails |= set(entry["fails"])
        mutant.demo |= bool(entry.get("demo", False))
    return list(mutants.values())


def own_cells(root: Path, name: str) -> dict[str, set[str]]:
    """Each exercise's own tests: the graded cells between its solution cell and the next."""
    source = nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4)
    own: dict[str, set[str]] = {}
    current = None
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            current = meta["grade_id"]
            own[current] = set()
        elif meta.get("grade") and current is not None:
            own[current].add(meta["grade_id"])
    return own


def reach_cells(root: Path, name: str) -> dict[str, set[str]]:
    """Each exercise's own tests plus the tests of the later exercises that build on it (the
    ``[blank_one]`` table): every graded cell a change to the exercise may move, alone or
    together with a change to another exercise of the same submission."""
    own = own_cells(root, name)
    builds_on = _read(root, name).get("blank_one", {})
    return {exercise: cells | set(builds_on.get(exercise, ())) for exercise, cells in own.items()}


def _blank_one(root: Path, name: str, builds_on: dict) -> list[Mutant]:
    """One mutant per exercise (solution cell) with only that exercise blank."""
    own = own_cells(root, name)
    unknown = set(builds_on) - set(own)
    if unknown:
        raise CourseError(f"{name}: [blank_one] names unknown exercises {sorted(unknown)}")
    return [Mutant(f"{BLANK_PREFIX}{exercise}", {exercise: (BLANK_CODE, False)},
                   cells | set(builds_on.get(exercise, ())))
            for exercise, cells in own.items()]


def solution_source(source: str) -> str:
    """The cell as a student who solved it would write it: marker lines removed."""
    return "\n".join(line for line in source.splitlines()
                     if not (_BEGIN.match(line) or _END.match(line)))


def replace_region(source: str, code: str) -> str:
    """Replace the solution region of ``source`` by ``code`` (re-indented)."""
    lines = source.splitlines()
    begin = next((i for i, line in enumerate(lines) if _BEGIN.match(line)), None)
    end = next((i for i, line in enumerate(lines) if _END.match(line)), None)
    if begin is None or end is None or end < begin:
        raise CourseError("solution cell has no ### BEGIN/END SOLUTION region to replace")
    indent = _BEGIN.match(lines[begin]).group(1)
    body = textwrap.indent(textwrap.dedent(code).strip("\n"), indent).splitlines()
    return "\n".join(lines[:begin] + body + lines[end + 1:])


def _cells_by_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells
            if "grade_id" in c.get("metadata", {}).get("nbgrader", {})}


def build(
    root: Path, name: str, edits: dict[str, tuple[str, bool]] | None,
    release_dir: Path | None = None,
) -> nbformat.NotebookNode:
    """A submission of notebook ``name``: the release with every solution cell solved,
    then ``edits`` applied. ``edits=None`` returns the blank release itself.
    ``release_dir`` defaults to the repository's ``notebooks/``."""
    release = nbformat.read((release_dir or root / RELEASE) / f"{name}.ipynb", as_version=4)
    if edits is None:
        return release
    source = _cells_by_id(nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4))
    submission = copy.deepcopy(release)
    targets = _cells_by_id(submission)
    unknown = set(edits) - {k for k, c in source.items() if c.metadata["nbgrader"].get("solution")}
    if unknown:
        raise CourseError(f"{name}: mutant edits unknown solution cells {sorted(unknown)}")
    for grade_id, cell in source.items():
        if not cell.metadata["nbgrader"].get("solution"):
            continue
        if grade_id in edits:
            code, whole = edits[grade_id]
            text = textwrap.dedent(code).strip("\n") if whole else replace_region(cell.source, code)
        else:
            text = solution_source(cell.source)
        targets[grade_id].source = text
    return submission


def touched(mutant: Mutant, own: dict[str, set[str]]) -> set[str]:
    """The graded cells a mutant may affect: its ``fails`` and its exercises' own tests."""
    return set(mutant.fails).union(*(own.get(cell, set()) for cell in mutant.edits))


def pack(mutants: list[Mutant], own: dict[str, set[str]]) -> list[list[Mutant]]:
    """Group mutants into few submissions: in each, the mutants edit different cells and
    touch disjoint graded cells (:func:`touched`), so each one's loss can be read off its own
    cells. Blank-one mutants stay alone: they prove that exercises are independent, which is
    what makes packing the others sound. Pass ``own`` from :func:`reach_cells`, so that two
    mistakes meeting in a later exercise that uses both (one undoing the other's effect there)
    never share a submission."""
    slots: list[tuple[list[Mutant], set[str], set[str]]] = []
    # first fit, widest first (a mutant costing cells of later exercises is the hardest to
    # place); the order is deterministic, so the packs are the same on every run
    for mutant in sorted(mutants, key=lambda m: (-len(touched(m, own)), m.name)):
        cells, edits = touched(mutant, own), set(mutant.edits)
        alone = mutant.name.startswith(BLANK_PREFIX)
        slot = None if alone else next(
            (s for s in slots if s[0] and not s[0][0].name.startswith(BLANK_PREFIX)
             and not cells & s[1] and not edits & s[2]), None)
        if slot is None:
            slots.append(([mutant], set(cells), set(edits)))
        else:
            slot[0].append(mutant)
            slot[1].update(cells)
            slot[2].update(edits)
    return [s[0] for s in slots]


def write_packed(root: Path, name: str, folder: Path) -> dict[str, list[Mutant]]:
    """Write reference, blank and the mutants packed by :func:`pack` (``mutantNN-packK``);
    in a notebook without a ``[blank_one]`` table, one mutant per submission.

    Returns the mutants of each pack by student id.
    """
    mutants = load_mutants(root, name)
    if any(m.name.startswith(BLANK_PREFIX) for m in mutants):
        packs = pack(mutants, reach_cells(root, name))
    else:  # no [blank_one] table: nothing proves the exercises independent, so no packing
        packs = [[m] for m in mutants]
    samples: dict[str, dict | None] = {"reference": {}, "blank": None}
    by_student: dict[str, list[Mutant]] = {}
    for k, group in enumerate(packs):
        student = f"mutant{name[:2]}-pack{k:02d}"
        samples[student] = {cell: edit for m in group for cell, edit in m.edits.items()}
        by_student[student] = group
    for student, edits in samples.items():
        target = folder / student / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(root, name, edits), target)
    return by_student


def write_samples(
    root: Path, name: str, folder: Path, *, demo_only: bool = False,
    release_dir: Path | None = None,
) -> dict[str, Mutant]:
    """Write ``folder/STUDENT/NAME.ipynb`` for reference, blank and each mutant.

    Returns the mutants by student id (``reference`` and ``blank`` are not included).
    With ``demo_only``, all mutants marked ``demo`` are combined into one submission,
    ``partly_wrong``.
    """
    mutants = load_mutants(root, name)
    samples: dict[str, dict | None] = {"reference": {}, "blank": None}
    by_student: dict[str, Mutant] = {}
    if demo_only:
        chosen = [m for m in mutants if m.demo]
        if chosen:
            merged = Mutant("partly_wrong", {k: v for m in chosen for k, v in m.edits.items()},
                            set().union(*(m.fails for m in chosen)))
            samples["partly_wrong"] = merged.edits
            by_student["partly_wrong"] = merged
    else:
        for mutant in mutants:
            student = f"mutant{name[:2]}-{mutant.name}"
            samples[student] = mutant.edits
            by_student[student] = mutant
    for student, edits in samples.items():
        target = folder / student / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(root, name, edits, release_dir), target)
    return by_student
