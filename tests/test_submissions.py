"""Finding students' notebooks in folders and LMS zips (mbrl_helpers.submissions)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.course import CourseError
from mbrl_helpers.submissions import collect, load, student_id

NAMES = ["00_course_tour", "01_open_vs_closed_loop"]


def _nb(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    return path


def _table(subs):
    return {(s.student, s.assignment): (s.path.name if s.path else None, s.problem) for s in subs}


def test_student_folders_any_depth_and_moodle_names(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb")
    _nb(tmp_path / "Jane Doe_123_assignsubmission_file_" / "sub" / "01_open_vs_closed_loop.ipynb")
    _nb(tmp_path / "alice" / ".ipynb_checkpoints" / "00_course_tour-checkpoint.ipynb")
    table = _table(collect(tmp_path, NAMES))
    assert table == {
        ("alice", "00_course_tour"): ("00_course_tour.ipynb", None),
        ("Jane_Doe_123", "01_open_vs_closed_loop"): ("01_open_vs_closed_loop.ipynb", None),
    }


def test_prefixed_files_and_canvas_resubmissions(tmp_path):
    _nb(tmp_path / "bob_00_course_tour.ipynb")
    _nb(tmp_path / "doejane_123_456_00_course_tour.ipynb")
    _nb(tmp_path / "doejane_123_456_00_course_tour-2.ipynb")
    _nb(tmp_path / "doejane_123_456_00_course_tour-1.ipynb")
    (tmp_path / "README.txt").write_text("not a submission")
    table = _table(collect(tmp_path, NAMES))
    assert table == {
        ("bob", "00_course_tour"): ("bob_00_course_tour.ipynb", None),
        ("doejane_123_456", "00_course_tour"): ("doejane_123_456_00_course_tour-2.ipynb", None),
    }


def test_broken_missing_and_wrong_files_get_a_reason(tmp_path):
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "00_course_tour.ipynb").write_text("{ not json")
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "notes.txt").write_text("forgot the notebook")
    (tmp_path / "erin_00_course_tour.pdf").write_bytes(b"%PDF-1.4")
    _nb(tmp_path / "frank" / "00_course_tour.ipynb")
    table = _table(collect(tmp_path, NAMES, assignment="00_course_tour"))
    assert "corrupt or invalid notebook" in table[("carol", "00_course_tour")][1]
    assert table[("dave", "00_course_tour")] == (None, "missing: no 00_course_tour.ipynb submitted")
    assert table[("erin", "00_course_tour")][1].startswith("not a notebook: ")
    assert table[("frank", "00_course_tour")] == ("00_course_tour.ipynb", None)


def test_lone_notebook_with_another_name_is_taken_for_the_assignment(tmp_path):
    _nb(tmp_path / "gina" / "my homework.ipynb")
    assert _table(collect(tmp_path, NAMES, assignment="00_course_tour")) == {
        ("gina", "00_course_tour"): ("my homework.ipynb", None)}
    assert _table(collect(tmp_path, NAMES)) == {
        ("gina", None): (None, "no course notebook found (my homework.ipynb)")}


def test_zip_with_wrapper_folder(tmp_path):
    src = tmp_path / "src"
    _nb(src / "export" / "alice" / "00_course_tour.ipynb")
    _nb(src / "export" / "bob" / "00_course_tour.ipynb")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in src.rglob("*.ipynb"):
            zf.write(path, path.relative_to(src))
        zf.writestr("__MACOSX/export/._alice", "junk")
    subs, tmp = load(archive, NAMES)
    try:
        assert sorted(s.student for s in subs) == ["alice", "bob"]
        assert all(s.problem is None for s in subs)
    finally:
        tmp.cleanup()


def test_single_student_folder_is_not_unwrapped(tmp_path):
    _nb(tmp_path / "alice" / "00_course_tour.ipynb")
    assert [s.student for s in collect(tmp_path, NAMES)] == ["alice"]


@pytest.mark.parametrize("kind", ["missing", "empty_dir", "empty_zip", "not_zip", "slip"])
def test_bad_sources_raise_one_clear_error(tmp_path, kind):
    target = tmp_path / "in"
    if kind == "empty_dir":
        target.mkdir()
    elif kind == "empty_zip":
        target = tmp_path / "in.zip"
        zipfile.ZipFile(target, "w").close()
    elif kind == "not_zip":
        target = tmp_path / "in.zip"
        target.write_text("hello")
    elif kind == "slip":
        target = tmp_path / "in.zip"
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("../../evil/00_course_tour.ipynb", "{}")
    with pytest.raises(CourseError) as err:
        load(target, NAMES)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "evil").exists()


def test_student_id_is_folder_safe():
    assert student_id("Ünïcode Name / x") == "Unicode_Name_x"
    assert student_id("...") == "student"
