"""Unpack untrusted zips (LMS exports, students' own zips) without letting one fill the disk.

What every unpack guarantees:

* **The whole archive is refused**, before any file is written, when it is not a readable
  zip, holds no files, holds more files than :attr:`ZipLimits.members`, declares more
  uncompressed bytes in all than the budget has left (a zip bomb), or names a file that
  would land outside the target folder (``../x``, ``/abs/x``, ``..\\x``: backslashes count as
  separators). :func:`unpack` raises :class:`ZipRefused`, :func:`extract_zip` a
  :class:`~mbrl_helpers.grading.course.CourseError`.
* **One member costs only itself** (and so only its student): a file declared larger than
  :attr:`ZipLimits.member_bytes`, or whose data cannot be read (bad CRC, corrupt data,
  encrypted...). The copy itself stops at the per-file cap and the budget left, should a
  header lie. Such a file is skipped, anything partly written is removed, and it is
  returned as ``{where it would be: "cannot unpack NAME: reason"}``.
* **The caps**: :data:`MAX_MEMBER_BYTES` per file, :data:`MAX_MEMBERS` files per zip, and
  :data:`MAX_TOTAL_BYTES` for everything one load unpacks: a :class:`Budget` is shared by the
  class zip and every student's zip inside it, and only bytes actually written are charged.
* Every reason is one line of at most 200 characters; only regular files are written
  (directory entries are skipped, nothing is linked).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from mbrl_helpers.grading.course import CourseError

#: Caps on what one load unpacks (a notebook is a few MB at most).
MAX_MEMBER_BYTES = 200 * 2**20
MAX_TOTAL_BYTES = 2 * 2**30
MAX_MEMBERS = 10_000


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
class Budget:
    """Bytes still allowed to be unpacked, shared by every zip of one load.

    Attributes:
        left: bytes left; each member written is charged its real size.
    """

    left: int


class ZipRefused(Exception):
    """A whole zip is refused; the message is one line."""


def first_line(err: BaseException) -> str:
    """The first line of ``err``'s message (its type name if empty), at most 200 characters."""
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _plan(
    zf: zipfile.ZipFile, root: Path, limits: ZipLimits, budget: Budget,
) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Targets of the zip's files; refuse the zip if too many, too large or unsafe."""
    infos = [m for m in zf.infolist() if not m.is_dir()]
    if not infos:
        raise ZipRefused("it is empty (no files)")
    if len(infos) > limits.members:
        raise ZipRefused(f"it holds {len(infos)} files, more than the cap of {limits.members}")
    declared = sum(m.file_size for m in infos)
    if declared > budget.left:
        raise ZipRefused(f"it would unpack to {_size(declared)}, more than the "
                         f"{_size(budget.left)} allowed (a zip bomb?)")
    plan = []
    for info in infos:
        target = (root / info.filename.replace("\\", "/")).resolve()
        if root not in target.parents:
            raise ZipRefused(f"unsafe path {info.filename!r} in the zip")
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


def unpack(
    archive: Path, into: Path, limits: ZipLimits, budget: Budget, label: str = "",
) -> dict[Path, str]:
    """Unpack ``archive`` into the existing folder ``into``, charging ``budget``.

    Args:
        archive: the zip.
        into: the target folder; nothing is written outside it.
        limits: the per-file and per-zip caps (the total is ``budget``).
        budget: bytes left for the whole load, decreased by what is written.
        label: prefix of the member names in the reasons (``"alice.zip/"``).

    Returns:
        ``{target: reason}`` of the members that could not be unpacked.

    Raises:
        ZipRefused: not a zip, empty, too many files, too large in all, unsafe path.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ZipRefused(f"not a readable zip file ({first_line(err)})") from err
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
                broken[target] = f"cannot unpack {label}{info.filename}: {first_line(err)}"
    return broken


def extract_zip(
    archive: Path, into: Path, limits: ZipLimits | None = None, *, budget: Budget | None = None,
) -> dict[Path, str]:
    """Safely extract ``archive`` into ``into`` (created if needed).

    A file that cannot be unpacked (bad CRC, corrupt data, larger than the per-file cap)
    costs only its student: it is skipped and returned as ``{where it would be: reason}``.

    Args:
        archive: the zip.
        into: the target folder.
        limits: the caps (default :class:`ZipLimits`).
        budget: bytes left for the whole load, to share with later unpacks (default: a fresh
            one of ``limits.total_bytes``).

    Raises:
        CourseError: not a zip file, empty, more files or more bytes than the caps (a zip
            bomb), or a file name escaping ``into`` (no file is written then).
    """
    limits = limits or ZipLimits()
    budget = Budget(limits.total_bytes) if budget is None else budget
    if not zipfile.is_zipfile(archive):
        raise CourseError(f"{archive} is not a zip file")
    into.mkdir(parents=True, exist_ok=True)
    try:
        return unpack(archive, into, limits, budget)
    except ZipRefused as err:
        raise CourseError(f"{archive} refused: {err}") from None
