"""Find each student's notebooks in a folder or an LMS zip export, and let the class arrive whole.

Accepted layouts (mixed freely):

* one subfolder per student: ``alice/00_course_tour.ipynb`` (any depth below the student
  folder). Moodle's ``Jane Doe_123_assignsubmission_file_/`` and ``..._onlinetext_/`` folders
  are one student, ``Jane Doe_123``;
* one file per student and notebook, the student name as a prefix:
  ``alice_00_course_tour.ipynb``, ``alice_notes.txt``. Canvas names
  (``doejane_123_456_00_course_tour-1.ipynb``, ``doejane_late_123_789_report.pdf``) belong to
  ``doejane_123``: the sortable name and the Canvas user id; the late marker and the
  per-file attachment id are dropped. Moodle's flat names
  (``Jane Doe_123_assignsubmission_file_00_course_tour.ipynb``) belong to ``Jane Doe_123``.
  A file is given to the longest student prefix another file of the class established,
  else to the text before its first ``_``; a top-level ``bob.ipynb`` or ``bob.zip`` belongs
  to ``bob``; other files without a prefix (``README.txt``) belong to nobody;
* a ``.zip`` of either, possibly wrapped in one top folder; a student's own ``.zip`` (in
  their folder, or ``alice_work.zip``) is opened too, one level deep, under the same caps.
  What a zip may cost (the whole class, or one file) is :mod:`~mbrl_helpers.grading.zips`'s.

The rows, one per student found and notebook asked for (``assignment``, or else every
notebook that any student handed in), never fewer, never more:

* ``path`` set and ``problem`` ``None``: grade this file;
* ``missing: ...``: no file for that notebook (the row lists what the student did hand in,
  or why their zip could not be opened);
* ``ambiguous: two files for NAME: a.ipynb, b.ipynb``: two different files could be that
  notebook; nothing is picked silently. Two files that differ only by a numbered suffix
  (``00_course_tour.ipynb``, ``00_course_tour-1.ipynb``, ``-2``...) are resubmissions as the
  LMS numbers them: the highest number that reads is taken. Byte-identical copies are one
  file. An ``.ipynb`` is preferred to a PDF or HTML export of the same notebook;
* ``not a notebook: ...``, ``corrupt or invalid notebook ...``, ``cannot unpack ...``: the
  file is there but cannot be graded.

Student ids (``Submission.student``) are folder-safe ASCII (nbgrader uses them as folder
names and gradebook ids) and injective: a name that cleans to itself is its own id, any
other name gets the readable ASCII part plus a short stable hash of the name
(``Иван`` -> ``student-3f9c1a``, ``Jane Doe`` -> ``Jane_Doe-5d41ab``), and ids that still
clash (also by case, for case-insensitive file systems) get longer hashes. The name as found
in the input is kept in ``Submission.name``.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import nbformat

from mbrl_helpers.grading.course import CourseError
from mbrl_helpers.grading.zips import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    Budget,
    ZipLimits,
    ZipRefused,
    extract_zip,
    first_line,
    unpack,
)

__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "Submission",
    "ZipLimits",
    "check_notebook",
    "collect",
    "extract_zip",
    "load",
    "student_id",
    "student_ids",
]

_HASH_DIGITS = 6
_MAX_READABLE = 120
_RESUBMISSION = re.compile(r"-(\d+)$")
_MOODLE_SUFFIX = re.compile(r"_(assignsubmission|onlinetext)_\w*$")
_MOODLE_FILE = re.compile(r"^(?P<name>.+?_\d+)_assignsubmission_(?:file|onlinetext)_(?P<rest>.+)$")
_CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<uid>\d+)_\d+_(?P<rest>.+)$", re.IGNORECASE)


@dataclass
class Submission:
    """One student's notebook for one assignment, or the reason there is none.

    Attributes:
        student: folder-safe, injective student id (nbgrader's student folder and id).
        assignment: the notebook name, or ``None`` when the student handed in no notebook
            of the course and none was asked for.
        path: the file to grade; ``None`` when there is none (missing, ambiguous).
        problem: why this row cannot be graded (``missing: ...``, ``ambiguous: ...``...),
            or ``None``.
        name: the student's name as found in the input (folder name without Moodle's
            suffix, file prefix, Canvas ``name_userid``); defaults to ``student``.
    """

    student: str
    assignment: str | None
    path: Path | None = None
    problem: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.student


@dataclass
class _File:
    path: Path  # on disk, or where a member that could not be unpacked would be
    shown: str  # how a row names it
    rest: str  # its name below the student's folder or prefix
    problem: str | None = None


@dataclass
class _Student:
    files: list[_File] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- student ids


def _normal_name(raw: str) -> str:
    return unicodedata.normalize("NFC", raw).strip()


def _readable(raw: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_name).strip("_-")
    return clean[:_MAX_READABLE].strip("_-")


def student_id(raw: str, digits: int = 0) -> str:
    """A folder-safe student id: letters, digits, ``_`` and ``-`` only.

    Args:
        raw: the name as found (Unicode-normalized to NFC and stripped first).
        digits: hash length to force; ``0`` adds a 6-digit hash only when cleaning the
            name lost something (so ``alice`` -> ``alice``, ``Jane Doe`` ->
            ``Jane_Doe-<hash>``).
    """
    raw = _normal_name(raw)
    clean = _readable(raw)
    if clean == raw and not digits:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[: digits or _HASH_DIGITS]
    return f"{clean or 'student'}-{digest}"


def student_ids(raws: Iterable[str]) -> dict[str, str]:
    """Injective ids for a class: ``{name: id}``; ids that clash (ignoring case) get
    longer hashes until none does."""
    ids = {raw: student_id(raw) for raw in raws}
    digits = _HASH_DIGITS
    while digits < 64:
        groups: dict[str, list[str]] = defaultdict(list)
        for raw, sid in ids.items():
            groups[sid.casefold()].append(raw)
        clashes = [raw for group in groups.values() if len(group) > 1 for raw in group]
        if not clashes:
            break
        digits += 4
        ids.update({raw: student_id(raw, digits) for raw in clashes})
    return ids


# ---------------------------------------------------------------- who owns which file


def _ignored(path: Path) -> bool:
    return any(part.startswith((".", "__MACOSX")) for part in path.parts)


def _match_name(stem: str, names: list[str]) -> tuple[str, str] | None:
    """Return (prefix, notebook name) when ``stem`` ends with a course notebook name."""
    stem = _RESUBMISSION.sub("", stem)
    for name in sorted(names, key=len, reverse=True):
        if stem == name:
            return "", name
        if stem.endswith(name) and stem[-len(name) - 1] in "_- .":
            return stem[: -len(name) - 1], name
    return None


def _files_in(folder: Path, broken: dict[Path, str]) -> list[_File]:
    """Every file below ``folder`` (and members that failed to unpack there)."""
    paths = {p for p in folder.rglob("*") if p.is_file()}
    paths |= {p for p in broken if folder in p.parents}
    files = []
    for path in sorted(paths):
        rel = path.relative_to(folder)
        if not _ignored(rel):
            files.append(_File(path, rel.as_posix(), rel.as_posix(), broken.get(path)))
    return files


def _explicit_owner(filename: str, names: list[str]) -> tuple[str, str] | None:
    """(student, rest of the name) from an LMS pattern or a course notebook name."""
    if match := _MOODLE_FILE.match(filename):
        return match["name"], match["rest"]
    if match := _CANVAS.match(filename):
        return f"{match['name']}_{match['uid']}", match["rest"]
    stem = Path(filename).stem
    if match := _match_name(stem, names):
        prefix = match[0]
        return (prefix, filename[len(prefix) + 1:]) if prefix else (stem, filename)
    return None


def _implicit_owner(filename: str, known: list[str]) -> tuple[str, str] | None:
    """(student, rest of the name) from a known student prefix or the first ``_``."""
    for prefix in known:
        if filename.startswith(prefix) and filename[len(prefix):][:1] in ("_", "-", " "):
            return prefix, filename[len(prefix) + 1:]
    path = Path(filename)
    head, sep, tail = filename.partition("_")
    if sep and head and "_" in path.stem:
        return head, tail
    if path.suffix.lower() in (".ipynb", ".zip"):
        return path.stem, filename
    return None


def _flat_owners(paths: list[Path], names: list[str]) -> dict[Path, tuple[str, str]]:
    explicit = {path: _explicit_owner(path.name, names) for path in paths}
    known = sorted({owner[0] for owner in explicit.values() if owner}, key=len, reverse=True)
    owners = {}
    for path in paths:
        if owner := explicit[path] or _implicit_owner(path.name, known):
            owners[path] = owner
    return owners


def _gather(folder: Path, names: list[str], broken: dict[Path, str]) -> dict[str, _Student]:
    """Every student in ``folder`` with their files, by their name as found."""
    students: dict[str, _Student] = defaultdict(_Student)
    flat = sorted(p for p in broken if p.parent == folder)
    for entry in sorted(folder.iterdir()):
        if _ignored(entry.relative_to(folder)):
            continue
        if entry.is_dir():
            name = _normal_name(_MOODLE_SUFFIX.sub("", entry.name))
            students[name].files += _files_in(entry, broken)
        elif entry.is_file():
            flat.append(entry)
    for path, (name, rest) in _flat_owners(flat, names).items():
        students[_normal_name(name)].files.append(_File(path, path.name, rest, broken.get(path)))
    return students


# ---------------------------------------------------------------- students' own zips


def _open_nested(file: _File, scratch: Path | None, limits: ZipLimits,
                 budget: Budget) -> tuple[list[_File], str | None]:
    """The files of a student's own zip, or why it could not be opened."""
    if scratch is None:
        return [], f"{file.shown} not opened (only load() opens a student's zip)"
    scratch.mkdir(parents=True, exist_ok=True)
    into = Path(tempfile.mkdtemp(dir=scratch))
    try:
        broken = unpack(file.path, into, limits, budget, f"{file.shown}/")
    except ZipRefused as err:
        return [], f"{file.shown} refused: {err}"
    inner = _files_in(into.resolve(), broken)
    return [_File(f.path, f"{file.shown}/{f.shown}", f"{file.rest}/{f.rest}", f.problem)
            for f in inner], None


def _open_zips(student: _Student, scratch: Path | None, limits: ZipLimits,
               budget: Budget) -> None:
    """Replace a student's own zips by their contents (one level deep), noting failures."""
    files = []
    for file in student.files:
        if file.path.suffix.lower() != ".zip" or file.problem:
            files.append(file)
            continue
        inner, issue = _open_nested(file, scratch, limits, budget)
        for nested in inner:
            if nested.path.suffix.lower() == ".zip":
                student.issues.append(f"a zip inside a zip is not opened: {nested.shown}")
        files += inner
        student.issues += [issue] if issue else []
    student.files = files


# ---------------------------------------------------------------- one row per notebook


def check_notebook(path: Path) -> str | None:
    """Return why ``path`` is not a readable, valid notebook, or ``None`` if it is."""
    if path.suffix.lower() != ".ipynb":
        return f"not a notebook: {path.name} (expected a .ipynb file)"
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # noqa: BLE001 - any failure means "cannot grade this file"
        return f"corrupt or invalid notebook {path.name}: {first_line(err)}"
    return None


def _problem(file: _File) -> str | None:
    return file.problem or check_notebook(file.path)


def _candidates(student: _Student, name: str, names: list[str]) -> list[_File]:
    return [f for f in student.files
            if (match := _match_name(PurePosixPath(f.rest).stem, names)) and match[1] == name]


def _number(file: _File) -> int:
    match = _RESUBMISSION.search(PurePosixPath(file.rest).stem)
    return int(match.group(1)) if match else 0


def _chains(notebooks: list[_File]) -> list[list[_File]]:
    """Resubmission chains: files in one folder whose names differ only by the ``-N``
    suffix. Two files with the same number (two uploads of one name) are no chain."""
    groups: dict[tuple[Path, str, str], list[_File]] = defaultdict(list)
    for file in notebooks:
        rest = PurePosixPath(file.rest)
        base = _RESUBMISSION.sub("", rest.stem)
        groups[(file.path.parent, base, rest.suffix.lower())].append(file)
    chains = []
    for group in groups.values():
        numbers = {_number(file) for file in group}
        chains += [group] if len(numbers) == len(group) else [[file] for file in group]
    return chains


def _pick(notebooks: list[_File]) -> list[tuple[_File, str | None]]:
    """(file, problem) per chain: the highest-numbered resubmission that reads, else the
    latest with its problem; byte-identical picks are counted once."""
    picked, digests = [], set()
    for chain in _chains(notebooks):
        checked = [(file, _problem(file)) for file in sorted(chain, key=_number, reverse=True)]
        file, problem = next((pair for pair in checked if pair[1] is None), checked[0])
        digest = None if file.problem else hashlib.sha256(file.path.read_bytes()).hexdigest()
        if digest is None or digest not in digests:
            picked.append((file, problem))
            digests.add(digest)
    return picked


def _missing(what: str, student: _Student) -> str:
    shown = [f.shown for f in student.files]
    listing = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
    details = [*student.issues, *(f.problem for f in student.files if f.problem)]
    details += [f"found: {listing}"] if shown else [] if details else ["no files"]
    return f"missing: no {what} ({'; '.join(details)})"


def _row(
    student: _Student, name: str, names: list[str], lone: bool,
) -> tuple[Path | None, str | None]:
    """(file to grade, problem) for one student and notebook."""
    candidates = _candidates(student, name, names)
    if not candidates:
        others = [f for f in student.files if PurePosixPath(f.rest).suffix.lower() == ".ipynb"
                  and not _match_name(PurePosixPath(f.rest).stem, names)]
        if lone and len(others) == 1:  # one notebook under another name: take it
            return others[0].path, _problem(others[0])
        return None, _missing(f"{name}.ipynb submitted", student)
    notebooks = [f for f in candidates if f.path.suffix.lower() == ".ipynb"]
    if not notebooks:
        return candidates[0].path, _problem(candidates[0])
    picked = _pick(notebooks)
    if len(picked) > 1:
        count = {2: "two", 3: "three"}.get(len(picked), str(len(picked)))
        listing = ", ".join(file.shown for file, _ in picked)
        return None, f"ambiguous: {count} files for {name}: {listing}"
    return picked[0][0].path, picked[0][1]


def _rows(students: dict[str, _Student], names: list[str],
          assignment: str | None) -> list[Submission]:
    asked = [assignment] if assignment else sorted(
        {n for s in students.values() for n in names if _candidates(s, n, names)})
    ids = student_ids(students)
    subs = []
    for raw, student in students.items():
        if not asked:
            problem = _missing("course notebook found", student)
            subs.append(Submission(ids[raw], None, problem=problem, name=raw))
        for name in asked:
            path, problem = _row(student, name, names, lone=assignment is not None)
            subs.append(Submission(ids[raw], name, path, problem, name=raw))
    return sorted(subs, key=lambda s: (s.student, s.assignment or ""))


# ---------------------------------------------------------------- entry points


def _unwrap(folder: Path, names: list[str]) -> Path:
    """Descend through a single wrapper folder (``export/alice/...``).

    The single folder is a wrapper when it holds student folders (subfolders and no
    notebook of its own) or student-prefixed files (``alice_00_course_tour.ipynb``, Canvas
    or Moodle names).
    """
    while True:
        entries = [p for p in folder.iterdir() if not _ignored(p.relative_to(folder))]
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        inner = [p for p in entries[0].iterdir() if not _ignored(p.relative_to(entries[0]))]
        has_dirs = any(p.is_dir() for p in inner)
        notebooks = [p for p in inner if p.is_file() and p.suffix == ".ipynb"]
        prefixed = [p for p in inner
                    if p.is_file() and (owner := _explicit_owner(p.name, names))
                    and owner[1] != p.name]
        if not (prefixed or (has_dirs and not notebooks)):
            return folder  # the single folder is a student's own folder
        folder = entries[0]


def collect(
    folder: Path, names: list[str], assignment: str | None = None, *,
    scratch: Path | None = None, broken: dict[Path, str] | None = None,
    limits: ZipLimits | None = None,
) -> list[Submission]:
    """List the submissions in ``folder`` (already extracted): one row per student found
    and notebook asked for, sorted by student and notebook.

    Args:
        folder: the class folder.
        names: the course's notebook names.
        assignment: grade only this notebook (a lone notebook under another name is then
            taken as it); ``None``: every notebook any student handed in.
        scratch: where a student's own zips are unpacked (``None``: they are reported,
            not opened).
        broken: files that could not be unpacked, ``{path: reason}`` (from
            :func:`extract_zip`); they count as the student's files, with that reason.
        limits: caps for students' own zips (their total shared by the whole class).
    """
    folder = _unwrap(folder.resolve(), names)
    limits = limits or ZipLimits()
    budget = Budget(limits.total_bytes)
    students = _gather(folder, names, broken or {})
    for student in students.values():
        _open_zips(student, scratch, limits, budget)
    return _rows(students, names, assignment)


def load(
    source: Path, names: list[str], assignment: str | None = None, *,
    limits: ZipLimits | None = None,
) -> tuple[list[Submission], tempfile.TemporaryDirectory]:
    """Collect submissions from a folder or zip (see :func:`collect`).

    Returns:
        (submissions, temporary directory holding unpacked files: keep it alive while
        grading, then call its ``cleanup()``).

    Raises:
        CourseError: the path does not exist, is an empty folder, a zip refused by
            :func:`extract_zip`, or holds no submission at all.
    """
    if not source.exists():
        raise CourseError(f"submissions not found: {source}")
    if source.is_dir() and not any(source.iterdir()):
        raise CourseError(f"submissions folder {source} is empty")
    limits = limits or ZipLimits()
    tmp = tempfile.TemporaryDirectory(prefix="mbrl-submissions-")
    try:
        work, folder, broken = Path(tmp.name).resolve(), source, {}
        budget = Budget(limits.total_bytes)
        if source.is_file():
            folder = work / "class"
            broken = extract_zip(source, folder, limits, budget=budget)
        subs = collect(folder, names, assignment, scratch=work / "nested", broken=broken,
                       limits=replace(limits, total_bytes=budget.left))
        if not subs:
            raise CourseError(f"no submissions found in {source} (expected notebooks named "
                              f"like {names[0]}.ipynb, in student folders or with a student "
                              "prefix)")
    except BaseException:
        tmp.cleanup()
        raise
    return subs, tmp
