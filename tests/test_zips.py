"""Unpacking untrusted zips safely (mbrl_helpers.grading.zips)."""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import pytest

from mbrl_helpers.grading.course import CourseError
from mbrl_helpers.grading.zips import (
    Budget,
    ZipLimits,
    ZipRefused,
    extract_zip,
    first_line,
    unpack,
)

KB = 2**10


def _zip(path: Path, members: dict[str, str | bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _corrupt(archive: Path, member: str) -> None:
    """Flip a byte in the middle of ``member``'s compressed data."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    data = bytearray(archive.read_bytes())
    start = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
    data[start + 30 + name_len + extra_len + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_zip_is_unpacked_and_its_bytes_charged(tmp_path):
    archive = _zip(tmp_path / "in.zip", {"a/x.txt": "x" * 100, "y.txt": "y" * 50, "d/": ""})
    budget = Budget(KB)
    assert unpack(archive, tmp_path / "out", ZipLimits(), budget) == {}
    assert _files(tmp_path / "out") == ["a/x.txt", "y.txt"]
    assert budget.left == KB - 150
    assert extract_zip(archive, tmp_path / "new" / "out") == {}  # creates the folder
    assert (tmp_path / "new" / "out" / "a" / "x.txt").read_text() == "x" * 100


@pytest.mark.parametrize("member", ["../../evil/00_course_tour.ipynb",
                                    "/tmp/evil/00_course_tour.ipynb",
                                    "..\\..\\evil\\00_course_tour.ipynb"])
def test_path_traversal_never_writes_outside(tmp_path, member):
    archive = _zip(tmp_path / "in.zip", {"alice/00_course_tour.ipynb": "{}", member: "{}"})
    into = tmp_path / "a" / "b" / "out"
    with pytest.raises(CourseError) as err:
        extract_zip(archive, into)
    assert "unsafe path" in str(err.value) and "\n" not in str(err.value)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [archive]


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "it is empty (no files)"),
    ("count", "it holds 5 files, more than the cap of 4"),
    ("total", "it would unpack to 0.0 MB, more than the 0.0 MB allowed (a zip bomb?)"),
])
def test_a_whole_zip_is_refused_before_anything_is_written(tmp_path, kind, message):
    members = {} if kind == "empty" else {f"s{i}/f.txt": "z" * 300 for i in range(5)}
    archive = _zip(tmp_path / "in.zip", members)
    limits = ZipLimits(members=4 if kind == "count" else 10, total_bytes=KB)
    with pytest.raises(ZipRefused, match=f"^{re.escape(message)}$"):
        unpack(archive, tmp_path, limits, Budget(limits.total_bytes))
    with pytest.raises(CourseError) as err:
        extract_zip(archive, tmp_path / "out", limits)
    assert str(err.value) == f"{archive} refused: {message}"
    assert _files(tmp_path) == ["in.zip"]


def test_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_text("hello")
    with pytest.raises(ZipRefused, match=r"^not a readable zip file \(.+\)$"):
        unpack(fake, tmp_path, ZipLimits(), Budget(KB))
    with pytest.raises(CourseError, match="is not a zip file"):
        extract_zip(fake, tmp_path / "out")
    assert _files(tmp_path) == ["fake.zip"]


def test_the_budget_is_shared_by_every_unpack(tmp_path):
    archive = _zip(tmp_path / "in.zip", {"f.txt": "z" * 600})
    budget = Budget(KB)
    assert unpack(archive, tmp_path / "one", ZipLimits(), budget) == {}
    with pytest.raises(ZipRefused, match="zip bomb"):
        unpack(archive, tmp_path / "two", ZipLimits(), budget)
    with pytest.raises(CourseError, match="zip bomb"):
        extract_zip(archive, tmp_path / "three", budget=budget)
    assert budget.left == KB - 600


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_bad_member_costs_only_itself(tmp_path, method):
    archive = _zip(tmp_path / "in.zip", {"bad.txt": "a = 1\n" * 200, "big.txt": "b" * 2 * KB,
                                         "ok.txt": "fine"}, method=method)
    _corrupt(archive, "bad.txt")
    into = tmp_path / "out"
    budget = Budget(10 * KB)
    broken = unpack(archive, into, ZipLimits(member_bytes=KB), budget, "alice.zip/")
    assert _files(into) == ["ok.txt"]
    assert budget.left == 10 * KB - 4
    assert broken[(into / "big.txt").resolve()] == (
        "cannot unpack alice.zip/big.txt: 0.0 MB is more than the cap of 0.0 MB")
    assert broken[(into / "bad.txt").resolve()].startswith("cannot unpack alice.zip/bad.txt: ")
    assert set(broken) == {(into / "big.txt").resolve(), (into / "bad.txt").resolve()}
    assert all("\n" not in reason for reason in broken.values())


def test_first_line_is_one_short_line():
    assert first_line(ValueError("first\nsecond")) == "first"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(OSError("x" * 500)) == "x" * 200
