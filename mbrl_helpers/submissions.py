"""Find each student's notebooks in a folder or an LMS zip export.

Accepted layouts (mixed freely):

* one subfolder per student: ``alice/00_course_tour.ipynb`` (any depth below the
  student folder; Moodle's ``Jane Doe_123_assignsubmission_file_/`` folders work);
* one file per student and notebook, the student name as a prefix:
  ``alice_00_course_tour.ipynb`` (Canvas adds ids and ``-1`` on resubmission:
  ``doejane_123_456_00_course_tour-1.ipynb``);
* a ``.zip`` of either, possibly wrapped in one top folder.

A student whose notebook is missing, unreadable or not a notebook still gets an entry,
with the reason, so the batch never stops for one student.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mbrl_helpers.course import CourseError

#: Refuse zip members larger than this (bytes): a notebook is a few MB at most.
MAX_MEMBER_BYTES = 200 * 2**20
_RESUBMISSION = re.compile(r"-\d+$")
_MOODLE_SUFFIX = re.compile(r"_(assignsubmission|onlinetext)_\w*$")


@dataclass
class Submission:
    """One student's notebook for one assignment, or the reason there is none."""

    student: str
    assignment: str | None
    path: Path | None = None
    problem: str | None = None


def student_id(raw: str) -> str:
    """A folder-safe student id: letters, digits, ``_`` and ``-`` only."""
    raw = _MOODLE_SUFFIX.sub("", raw)
    raw = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_-")
    return clean or "student"


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


def check_notebook(path: Path) -> str | None:
    """Return why ``path`` is not a readable, valid notebook, or ``None`` if it is."""
    if path.suffix != ".ipynb":
        return f"not a notebook: {path.name} (expected a .ipynb file)"
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as err:  # noqa: BLE001 - any failure means "cannot grade this file"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"corrupt or invalid notebook {path.name}: {first[:200]}"
    return None


def _from_student_folder(
    folder: Path, names: list[str], assignment: str | None
) -> list[Submission]:
    student = student_id(folder.name)
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and not _ignored(p.relative_to(folder)))
    found: dict[str, Path] = {}
    for path in files:
        match = _match_name(path.stem, names)
        if match and (assignment is None or match[1] == assignment):
            found.setdefault(match[1], path)
    if assignment and assignment not in found:
        notebooks = [p for p in files if p.suffix == ".ipynb"]
        if len(notebooks) == 1:  # one notebook under another name: take it
            found[assignment] = notebooks[0]
    wanted = [assignment] if assignment else sorted(found)
    if not wanted:
        listing = ", ".join(p.name for p in files[:5]) or "the folder is empty"
        return [Submission(student, None, problem=f"no course notebook found ({listing})")]
    subs = []
    for name in wanted:
        if name not in found:
            subs.append(Submission(student, name, problem=f"missing: no {name}.ipynb submitted"))
        else:
            subs.append(Submission(student, name, found[name], check_notebook(found[name])))
    return subs


def _from_prefixed_file(path: Path, names: list[str], assignment: str | None) -> Submission | None:
    match = _match_name(path.stem, names)
    if match is None:
        if assignment and path.suffix == ".ipynb":
            return Submission(student_id(path.stem), assignment, path, check_notebook(path))
        return None
    prefix, name = match
    if assignment and name != assignment:
        return None
    return Submission(student_id(prefix or path.stem), name, path, check_notebook(path))


def _unwrap(folder: Path, names: list[str]) -> Path:
    """Descend through a single wrapper folder (``export/alice/...``).

    The single folder is a wrapper when it holds student folders (subfolders and no
    notebook of its own) or student-prefixed files (``alice_00_course_tour.ipynb``).
    """
    while True:
        entries = [p for p in folder.iterdir() if not _ignored(p.relative_to(folder))]
        if len(entries) != 1 or not entries[0].is_dir():
            return folder
        inner = [p for p in entries[0].iterdir() if not _ignored(p.relative_to(entries[0]))]
        has_dirs = any(p.is_dir() for p in inner)
        notebooks = [p for p in inner if p.is_file() and p.suffix == ".ipynb"]
        prefixed = [p for p in inner
                    if p.is_file() and (m := _match_name(p.stem, names)) and m[0]]
        if not (prefixed or (has_dirs and not notebooks)):
            return folder  # the single folder is a student's own folder
        folder = entries[0]


def collect(folder: Path, names: list[str], assignment: str | None = None) -> list[Submission]:
    """List the submissions in ``folder`` (already extracted), one per student and notebook.

    Args:
        folder: the class folder.
        names: the course's notebook names.
        assignment: grade only this notebook (a lone notebook under another name in a
            student folder is then taken as it).
    """
    folder = _unwrap(folder, names)
    subs: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if _ignored(entry.relative_to(folder)):
            continue
        if entry.is_dir():
            subs += _from_student_folder(entry, names, assignment)
        elif (sub := _from_prefixed_file(entry, names, assignment)) is not None:
            subs.append(sub)
    return _dedupe(subs)


def _dedupe(subs: list[Submission]) -> list[Submission]:
    """Keep one submission per (student, assignment): the last resubmission that reads."""
    chosen: dict[tuple[str, str | None], Submission] = {}
    for sub in subs:
        key = (sub.student, sub.assignment)
        old = chosen.get(key)
        if old is None or (old.problem and not sub.problem) or (
            bool(old.problem) == bool(sub.problem) and _rank(sub) > _rank(old)
        ):
            chosen[key] = sub
    return sorted(chosen.values(), key=lambda s: (s.student, s.assignment or ""))


def _rank(sub: Submission) -> int:
    match = re.search(r"-(\d+)$", sub.path.stem) if sub.path else None
    return int(match.group(1)) if match else 0


def extract_zip(archive: Path, into: Path) -> Path:
    """Safely extract ``archive`` into ``into``; refuse unsafe or oversized members.

    Raises:
        CourseError: not a zip file, empty, or a member escaping the target folder.
    """
    if not zipfile.is_zipfile(archive):
        raise CourseError(f"{archive} is not a zip file")
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if not members:
            raise CourseError(f"{archive} is empty: it holds no files")
        root = into.resolve()
        for member in members:
            target = (into / member.filename).resolve()
            if root not in target.parents:
                raise CourseError(f"{archive}: unsafe path {member.filename!r} in the zip")
            if member.file_size > MAX_MEMBER_BYTES:
                raise CourseError(f"{archive}: {member.filename!r} is too large to be a notebook")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return into


def load(source: Path, names: list[str], assignment: str | None = None) -> tuple[
    list[Submission], tempfile.TemporaryDirectory | None
]:
    """Collect submissions from a folder or zip. Returns (submissions, temp dir to keep alive).

    Raises:
        CourseError: the path does not exist, is an empty folder or zip, or holds no
            submission at all.
    """
    if not source.exists():
        raise CourseError(f"submissions not found: {source}")
    tmp = None
    folder = source
    if source.is_file():
        tmp = tempfile.TemporaryDirectory(prefix="mbrl-submissions-")
        try:
            folder = extract_zip(source, Path(tmp.name))
        except CourseError:
            tmp.cleanup()
            raise
    elif not any(source.iterdir()):
        raise CourseError(f"submissions folder {source} is empty")
    subs = collect(folder, names, assignment)
    if not subs:
        if tmp:
            tmp.cleanup()
        raise CourseError(f"no submissions found in {source} (expected notebooks named like "
                          f"{names[0]}.ipynb, in student folders or with a student prefix)")
    return subs, tmp
