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
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import nbformat

from mbrl_helpers.grading.course import CourseError

#: Caps on what one load unpacks (a notebook is a few MB at most).
MAX_MEMBER_BYTES = 200 * 2**20
MAX_TOTAL_BYTES = 2 * 2**30
MAX_MEMBERS = 10_000
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


@dataclass(frozen=True)
class ZipLimits:
    """Caps that stop a zip bomb before it fills the disk.

    Attributes:
        member_bytes: largest file unpacked (a larger one costs only its student).
        total_bytes: everything one load unpacks, nested zips included.
        members: most files in one zip.
    """

    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    members: int = MAX_MEMBERS


@dataclass
class _Budget:
    left: int


class _ZipRefused(Exception):
    """A whole zip is refused; the message is one line."""


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


# ---------------------------------------------------------------- zips


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _plan(
    zf: zipfile.ZipFile, root: Path, limits: ZipLimits, budget: _Budget,
) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Targets of the zip's files; refuse the zip if too many, too large or unsafe."""
    infos = [m for m in zf.infolist() if not m.is_dir()]
    if not infos:
        raise _ZipRefused("it is empty (no files)")
    if len(infos) > limits.members:
        raise _ZipRefused(f"it holds {len(infos)} files, more than the cap of {limits.members}")
    declared = sum(m.file_size for m in infos)
    if declared > budget.left:
        raise _ZipRefused(f"it would unpack to {_size(declared)}, more than the "
                          f"{_size(budget.left)} allowed (a zip bomb?)")
    plan = []
    for info in infos:
        target = (root / info.filename.replace("\\", "/")).resolve()
        if root not in target.parents:
            raise _ZipRefused(f"unsafe path {info.filename!r} in the zip")
        plan.append((info, target))
    return plan


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, cap: int) -> int:
    written = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(2**20):
            written += len(chunk)
            if written > cap:
                raise ValueError(f"it unpacks to more than {_size(cap)}")
            dst.write(chunk)
    return written


def _unzip(
    archive: Path, into: Path, limits: ZipLimits, budget: _Budget, label: str = "",
) -> dict[Path, str]:
    """Unpack ``archive`` into ``into``; return ``{target: reason}`` of files that failed
    (``label`` prefixes the member names in the reasons).

    Raises:
        _ZipRefused: not a zip, empty, too many files, too large in all, unsafe path.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise _ZipRefused(f"not a readable zip file ({_first_line(err)})") from err
    broken: dict[Path, str] = {}
    with zf:
        for info, target in _plan(zf, into.resolve(), limits, budget):
            if info.file_size > limits.member_bytes:
                broken[target] = (f"cannot unpack {label}{info.filename}: "
                                  f"{_size(info.file_size)} is more than the cap of "
                                  f"{_size(limits.member_bytes)}")
                continue
            try:
                cap = min(limits.member_bytes, budget.left)
                budget.left -= _copy_member(zf, info, target, cap)
            except Exception as err:  # noqa: BLE001 - bad CRC, zlib error, encrypted...
                if target.is_file():
                    target.unlink()
                broken[target] = f"cannot unpack {label}{info.filename}: {_first_line(err)}"
    return broken


def extract_zip(archive: Path, into: Path, limits: ZipLimits | None = None) -> dict[Path, str]:
    """Safely extract ``archive`` into ``into``.

    A file that cannot be unpacked (bad CRC, corrupt data, larger than the per-file cap)
    costs only its student: it is skipped and returned as ``{where it would be: reason}``.

    Raises:
        CourseError: not a zip file, empty, more files or more bytes than the caps (a zip
            bomb), or a file name escaping ``into`` (nothing is written then).
    """
    limits = limits or ZipLimits()
    return _extract(archive, into, limits, _Budget(limits.total_bytes))


def _extract(archive: Path, into: Path, limits: ZipLimits, budget: _Budget) -> dict[Path, str]:
    if not zipfile.is_zipfile(archive):
        raise CourseError(f"{archive} is not a zip file")
    into.mkdir(parents=True, exist_ok=True)
    try:
        return _unzip(archive, into, limits, budget)
    except _ZipRefused as err:
        raise CourseError(f"{archive} refused: {err}") from None


def _open_nested(file: _File, scratch: Path | None, limits: ZipLimits,
                 budget: _Budget) -> tuple[list[_File], str | None]:
    """The files of a student's own zip, or why it could not be opened."""
    if scratch is None:
        return [], f"{file.shown} not opened (only load() opens a student's zip)"
    scratch.mkdir(parents=True, exist_ok=True)
    into = Path(tempfile.mkdtemp(dir=scratch))
    try:
        broken = _unzip(file.path, into, limits, budget, f"{file.shown}/")
    except _ZipRefused as err:
        return [], f"{file.shown} refused: {err}"
    inner = _files_in(into.resolve(), broken)
    return [_File(f.path, f"{file.shown}/{f.shown}", f"{file.rest}/{f.rest}", f.problem)
            for f in inner], None


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


def _open_zips(student: _Student, scratch: Path | None, limits: ZipLimits,
               budget: _Budget) -> None:
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
        return f"corrupt or invalid notebook {path.name}: {_first_line(err)}"
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
    budget = _Budget(limits.total_bytes)
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
        budget = _Budget(limits.total_bytes)
        if source.is_file():
            folder = work / "class"
            broken = _extract(source, folder, limits, budget)
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
