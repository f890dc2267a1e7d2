"""Finding students' notebooks in folders and LMS zips (mbrl_helpers.grading.submissions)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.grading.course import CourseError
from mbrl_helpers.grading.submissions import (
    ZipLimits,
    collect,
    load,
    student_id,
    student_ids,
)

from .test_zips import _corrupt, _zip

NAMES = ["00_course_tour", "01_open_vs_closed_loop"]
NB = "00_course_tour"
MB = 2**20


def _nb_text(source: str = "x = 1") -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]))


def _nb(path: Path, source: str = "x = 1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_nb_text(source))
    return path


def _table(subs):
    return {(s.student, s.assignment): (s.path.name if s.path else None, s.problem) for s in subs}


def _one_row_per_student_and_notebook(subs, asked):
    keys = [(s.name, s.assignment) for s in subs]
    assert len(keys) == len(set(keys))
    assert {s.assignment for s in subs} <= set(asked) | {None}
    for name in {s.name for s in subs}:
        mine = [s for s in subs if s.name == name]
        assert len(mine) == len(asked) or [s.assignment for s in mine] == [None]


def _load(source, names=NAMES, assignment=None, **kwargs):
    subs, tmp = load(source, names, assignment, **kwargs)
    tmp.cleanup()
    return subs


# ---------------------------------------------------------------- layouts


def test_student_folders_any_depth_and_moodle_names(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb")
    _nb(tmp_path / "Jane Doe_123_assignsubmission_file_" / "sub" / "01_open_vs_closed_loop.ipynb")
    (tmp_path / "Jane Doe_123_assignsubmission_onlinetext_").mkdir()
    (tmp_path / "Jane Doe_123_assignsubmission_onlinetext_" / "onlinetext.html").write_text("hi")
    _nb(tmp_path / "alice" / ".ipynb_checkpoints" / "00_course_tour-checkpoint.ipynb")
    subs = collect(tmp_path, NAMES)
    jane = student_id("Jane Doe_123")
    assert re.fullmatch(r"Jane_Doe_123-[0-9a-f]{6}", jane)
    assert _table(subs) == {
        ("alice", "00_course_tour"): ("00_course_tour.ipynb", None),
        ("alice", "01_open_vs_closed_loop"): (
            None, "missing: no 01_open_vs_closed_loop.ipynb submitted "
                  "(found: 00_course_tour.ipynb)"),
        (jane, "00_course_tour"): (
            None, "missing: no 00_course_tour.ipynb submitted "
                  "(found: sub/01_open_vs_closed_loop.ipynb, onlinetext.html)"),
        (jane, "01_open_vs_closed_loop"): ("01_open_vs_closed_loop.ipynb", None),
    }
    assert {s.name for s in subs} == {"alice", "Jane Doe_123"}
    _one_row_per_student_and_notebook(subs, NAMES)


def test_prefixed_files_and_canvas_resubmissions(tmp_path):
    _nb(tmp_path / "bob_00_course_tour.ipynb")
    _nb(tmp_path / "doejane_123_456_00_course_tour.ipynb", "old = 1")
    _nb(tmp_path / "doejane_123_456_00_course_tour-2.ipynb", "new = 2")
    _nb(tmp_path / "doejane_123_456_00_course_tour-1.ipynb", "mid = 1")
    _nb(tmp_path / "doejane_late_123_789_01_open_vs_closed_loop.ipynb")
    (tmp_path / "README.txt").write_text("not a submission")
    subs = collect(tmp_path, NAMES)
    assert _table(subs) == {
        ("bob", "00_course_tour"): ("bob_00_course_tour.ipynb", None),
        ("bob", "01_open_vs_closed_loop"): (
            None, "missing: no 01_open_vs_closed_loop.ipynb submitted "
                  "(found: bob_00_course_tour.ipynb)"),
        ("doejane_123", "00_course_tour"): ("doejane_123_456_00_course_tour-2.ipynb", None),
        ("doejane_123", "01_open_vs_closed_loop"): (
            "doejane_late_123_789_01_open_vs_closed_loop.ipynb", None),
    }


def test_moodle_flat_files_belong_to_one_student(tmp_path):
    _nb(tmp_path / "Jane Doe_123_assignsubmission_file_00_course_tour.ipynb")
    (tmp_path / "Jane Doe_123_assignsubmission_file_notes.txt").write_text("x")
    (tmp_path / "Jo Roe_77_assignsubmission_onlinetext_onlinetext.html").write_text("x")
    subs = collect(tmp_path, NAMES, NB)
    assert [(s.name, s.path and s.path.name, s.problem) for s in subs] == [
        ("Jane Doe_123", "Jane Doe_123_assignsubmission_file_00_course_tour.ipynb", None),
        ("Jo Roe_77", None, "missing: no 00_course_tour.ipynb submitted "
                            "(found: Jo Roe_77_assignsubmission_onlinetext_onlinetext.html)")]


def test_latest_resubmission_that_reads_is_taken(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb", "a = 1")
    _nb(tmp_path / "alice" / "00_course_tour-1.ipynb", "a = 2")
    (tmp_path / "alice" / "00_course_tour-2.ipynb").write_text("{ broken")
    assert _table(collect(tmp_path, NAMES, NB)) == {
        ("alice", NB): ("00_course_tour-1.ipynb", None)}


def test_broken_missing_and_wrong_files_get_a_reason(tmp_path):
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "00_course_tour.ipynb").write_text("{ not json")
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "notes.txt").write_text("forgot the notebook")
    (tmp_path / "erin_00_course_tour.pdf").write_bytes(b"%PDF-1.4")
    _nb(tmp_path / "frank" / "00_course_tour.ipynb")
    (tmp_path / "frank" / "00_course_tour.pdf").write_bytes(b"%PDF-1.4")  # an export, as well
    (tmp_path / "gus").mkdir()
    table = _table(collect(tmp_path, NAMES, assignment=NB))
    assert "corrupt or invalid notebook" in table[("carol", NB)][1]
    assert table[("dave", NB)] == (None, "missing: no 00_course_tour.ipynb submitted "
                                         "(found: notes.txt)")
    assert table[("erin", NB)][1].startswith("not a notebook: ")
    assert table[("frank", NB)] == ("00_course_tour.ipynb", None)
    assert table[("gus", NB)] == (None, "missing: no 00_course_tour.ipynb submitted (no files)")


def test_lone_notebook_with_another_name_is_taken_for_the_assignment(tmp_path):
    _nb(tmp_path / "gina" / "my homework.ipynb")
    _nb(tmp_path / "hugo" / "01_open_vs_closed_loop.ipynb")  # another notebook: not taken
    _nb(tmp_path / "ivan.ipynb")
    assert _table(collect(tmp_path, NAMES, assignment=NB)) == {
        ("gina", NB): ("my homework.ipynb", None),
        ("hugo", NB): (None, "missing: no 00_course_tour.ipynb submitted "
                             "(found: 01_open_vs_closed_loop.ipynb)"),
        ("ivan", NB): ("ivan.ipynb", None)}
    (tmp_path / "hugo" / "01_open_vs_closed_loop.ipynb").unlink()
    (tmp_path / "ivan.ipynb").unlink()
    assert _table(collect(tmp_path, NAMES)) == {
        ("gina", None): (None, "missing: no course notebook found (found: my homework.ipynb)"),
        ("hugo", None): (None, "missing: no course notebook found (no files)")}


def test_zip_with_wrapper_folder(tmp_path):
    archive = _zip(tmp_path / "class.zip", {
        "export/alice/00_course_tour.ipynb": _nb_text(),
        "export/bob/00_course_tour.ipynb": _nb_text(),
        "__MACOSX/export/._alice": "junk"})
    subs = _load(archive)
    assert sorted(s.student for s in subs) == ["alice", "bob"]
    assert all(s.problem is None for s in subs)


def test_single_student_folder_is_not_unwrapped(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb")
    assert [s.student for s in collect(tmp_path, NAMES)] == ["alice"]


# ---------------------------------------------------------------- student ids


def test_student_ids_are_folder_safe_stable_and_injective():
    raws = ["Иван", "Мария", "Jane Doe", "Jane_Doe", "alice", "Alice", "...", "Ünïcode Name / x",
            "x" * 200, "student"]
    ids = student_ids(raws)
    assert len(set(ids.values())) == len(raws)
    assert len({i.casefold() for i in ids.values()}) == len(raws)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,140}", i) for i in ids.values())
    assert ids["Jane_Doe"] == "Jane_Doe" and ids["student"] == "student"
    assert ids["Jane Doe"].startswith("Jane_Doe-")
    assert ids["Иван"].startswith("student-") and ids["Мария"].startswith("student-")
    assert ids["alice"].startswith("alice-") and ids["Alice"].startswith("Alice-")
    assert student_id("Ünïcode Name / x") == ids["Ünïcode Name / x"]
    assert student_id("Ünïcode Name / x").startswith("Unicode_Name_x-")
    assert student_ids(["alice"]) == {"alice": "alice"}
    assert student_id("Jane Doe") == student_id("Jane Doe")  # stable between runs


def test_non_ascii_and_near_duplicate_names_stay_distinct(tmp_path):
    for name in ["Иван", "Мария", "Jane Doe", "Jane_Doe"]:
        _nb(tmp_path / name / "00_course_tour.ipynb")
    _nb(tmp_path / "Mu\u0308ller" / "00_course_tour.ipynb")  # decomposed, as macOS zips it
    (tmp_path / "M\u00fcller_notes.txt").write_text("composed: the same student")
    subs = collect(tmp_path, NAMES)
    assert len({s.student for s in subs}) == len(subs) == 5
    assert {s.name for s in subs} == {"Иван", "Мария", "Jane Doe", "Jane_Doe", "M\u00fcller"}
    assert all(s.problem is None for s in subs)


# ---------------------------------------------------------------- missing, in every layout


def _missing_layout(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A class where ``ok`` handed in the notebook and one other student did not."""
    if kind == "folders":
        _nb(tmp_path / "ok" / "00_course_tour.ipynb")
        (tmp_path / "dave").mkdir()
        (tmp_path / "dave" / "notes.txt").write_text("x")
        return tmp_path, "dave"
    if kind == "flat":
        _nb(tmp_path / "ok_00_course_tour.ipynb")
        (tmp_path / "alice_notes.txt").write_text("x")
        return tmp_path, "alice"
    if kind == "canvas_zip":
        return _zip(tmp_path / "canvas.zip", {
            "okok_7_8_00_course_tour.ipynb": _nb_text(),
            "doejane_123_456_report.pdf": b"%PDF"}), "doejane_123"
    return _zip(tmp_path / "moodle.zip", {  # moodle folders
        "ok/00_course_tour.ipynb": _nb_text(),
        "Jane Doe_123_assignsubmission_file_/report.pdf": b"%PDF"}), "Jane Doe_123"


@pytest.mark.parametrize("kind", ["folders", "flat", "canvas_zip", "moodle_zip"])
@pytest.mark.parametrize("assignment", [None, NB])
def test_a_student_without_a_notebook_gets_a_missing_row(tmp_path, kind, assignment):
    source, absent = _missing_layout(kind, tmp_path)
    subs = _load(source, assignment=assignment)
    rows = {s.name: s for s in subs}
    assert set(rows) == {absent, "okok_7" if kind == "canvas_zip" else "ok"}
    assert rows[absent].assignment == NB and rows[absent].path is None
    assert rows[absent].problem.startswith("missing: no 00_course_tour.ipynb submitted (found: ")
    _one_row_per_student_and_notebook(subs, [NB])


# ---------------------------------------------------------------- ambiguous


def test_two_different_files_for_one_notebook_are_ambiguous(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb", "a = 1")
    _nb(tmp_path / "alice" / "old" / "00_course_tour.ipynb", "a = 0")
    _nb(tmp_path / "bob" / "00_course_tour.ipynb", "b = 1")
    (tmp_path / "bob" / "copy").mkdir()
    (tmp_path / "bob" / "copy" / "00_course_tour.ipynb").write_bytes(  # identical: no doubt
        (tmp_path / "bob" / "00_course_tour.ipynb").read_bytes())
    _nb(tmp_path / "carol" / "00_course_tour.ipynb", "c = 1")
    _nb(tmp_path / "carol_00_course_tour.ipynb", "c = 2")
    _nb(tmp_path / "dave_x_00_course_tour.ipynb", "d = 1")
    _nb(tmp_path / "dave_x_00_course_tour-1.ipynb", "d = 2")  # resubmission
    _nb(tmp_path / "erin_1_2_00_course_tour.ipynb", "e = 1")  # two Canvas uploads, one name
    _nb(tmp_path / "erin_1_3_00_course_tour.ipynb", "e = 2")
    assert _table(collect(tmp_path, NAMES, NB)) == {
        ("alice", NB): (None, "ambiguous: two files for 00_course_tour: 00_course_tour.ipynb, "
                              "old/00_course_tour.ipynb"),
        ("bob", NB): ("00_course_tour.ipynb", None),
        ("carol", NB): (None, "ambiguous: two files for 00_course_tour: 00_course_tour.ipynb, "
                              "carol_00_course_tour.ipynb"),
        ("dave_x", NB): ("dave_x_00_course_tour-1.ipynb", None),
        ("erin_1", NB): (None, "ambiguous: two files for 00_course_tour: "
                               "erin_1_2_00_course_tour.ipynb, erin_1_3_00_course_tour.ipynb")}


# ---------------------------------------------------------------- zips in zips, bad zips


def test_students_own_zips_are_opened_or_give_the_reason(tmp_path):
    nested = {
        "alice/work.zip": {"hw/00_course_tour.ipynb": _nb_text()},
        "bob_work.zip": {"00_course_tour.ipynb": _nb_text()},
        "carol/bomb.zip": {"00_course_tour.ipynb": _nb_text(), "zeros.bin": bytes(3 * MB)},
        "dave/evil.zip": {"../../../../evil.ipynb": _nb_text()},
        "erin/fake.zip": b"not a zip",
        "gina/outer.zip": {"inner.zip": b"PK"},
    }
    members = {name: (_zip(tmp_path / "z" / name, data).read_bytes()
                      if isinstance(data, dict) else data) for name, data in nested.items()}
    _zip(tmp_path / "z" / "frank.zip", {"00_course_tour.ipynb": _nb_text("f = 1")},
         method=zipfile.ZIP_STORED)
    _corrupt(tmp_path / "z" / "frank.zip", "00_course_tour.ipynb")
    members["frank/frank.zip"] = (tmp_path / "z" / "frank.zip").read_bytes()
    archive = _zip(tmp_path / "class.zip", members)
    subs = _load(archive, assignment=NB, limits=ZipLimits(total_bytes=2 * MB))
    rows = {s.student: (s.path, s.problem) for s in subs}
    assert rows["alice"][1] is None and rows["alice"][0].name == "00_course_tour.ipynb"
    assert rows["bob"][1] is None
    assert rows["carol"][1].startswith("missing: no 00_course_tour.ipynb submitted (bomb.zip "
                                       "refused: it would unpack to 3.0 MB")
    assert "evil.zip refused: unsafe path" in rows["dave"][1]
    assert "fake.zip refused: not a readable zip file" in rows["erin"][1]
    assert rows["frank"][1].startswith("cannot unpack frank.zip/00_course_tour.ipynb: Bad CRC-32")
    assert "a zip inside a zip is not opened: outer.zip/inner.zip" in rows["gina"][1]
    assert not list(tmp_path.rglob("evil.ipynb")) and not Path("/tmp/evil.ipynb").exists()
    assert all("\n" not in (p or "") for _, p in rows.values())


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_corrupt_member_costs_only_its_student(tmp_path, method):
    archive = _zip(tmp_path / "class.zip", {
        "alice/00_course_tour.ipynb": _nb_text("a = 1\n" * 200),
        "bob/00_course_tour.ipynb": _nb_text()}, method=method)
    _corrupt(archive, "alice/00_course_tour.ipynb")
    rows = {s.student: s for s in _load(archive)}
    assert rows["bob"].problem is None
    assert rows["alice"].path is None or not rows["alice"].path.exists()
    assert rows["alice"].problem.startswith("cannot unpack alice/00_course_tour.ipynb: ")


def test_an_oversized_member_costs_only_its_student(tmp_path):
    archive = _zip(tmp_path / "class.zip", {
        "alice_00_course_tour.ipynb": _nb_text("#" * (2 * MB)),
        "bob_00_course_tour.ipynb": _nb_text()})
    rows = {s.student: s.problem for s in _load(archive, limits=ZipLimits(member_bytes=MB))}
    assert rows == {"alice": "cannot unpack alice_00_course_tour.ipynb: 2.0 MB is more than "
                             "the cap of 1.0 MB", "bob": None}


@pytest.mark.parametrize("kind", ["total", "count"])
def test_a_zip_bomb_is_refused_with_one_line(tmp_path, kind):
    members = {f"s{i}/00_course_tour.ipynb": _nb_text() for i in range(5)}
    members["s0/zeros.bin"] = bytes(3 * MB)
    archive = _zip(tmp_path / "class.zip", members)
    limits = ZipLimits(total_bytes=2 * MB) if kind == "total" else ZipLimits(members=4)
    with pytest.raises(CourseError) as err:
        load(archive, NAMES, limits=limits)
    assert "\n" not in str(err.value)
    assert ("zip bomb" if kind == "total" else "more than the cap of 4") in str(err.value)


@pytest.mark.parametrize("kind", ["missing", "empty_dir", "empty_zip", "not_zip", "slip",
                                  "readme_only"])
def test_bad_sources_raise_one_clear_error(tmp_path, kind):
    target = tmp_path / "in"
    if kind in ("empty_dir", "readme_only"):
        target.mkdir()
        if kind == "readme_only":
            (target / "README.txt").write_text("hi")
    elif kind == "empty_zip":
        target = tmp_path / "in.zip"
        zipfile.ZipFile(target, "w").close()
    elif kind == "not_zip":
        target = tmp_path / "in.zip"
        target.write_text("hello")
    elif kind == "slip":
        target = _zip(tmp_path / "in.zip", {"../../evil/00_course_tour.ipynb": "{}"})
    with pytest.raises(CourseError) as err:
        load(target, NAMES)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "evil").exists()
