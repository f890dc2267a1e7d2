"""The `mbrl-course` command end to end: demo, autograde of a messy class, bad arguments."""

from __future__ import annotations

import csv
import shutil
import zipfile

import pytest

from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.mutants import write_samples

NB = "00_course_tour"


def _rows(path):
    with open(path, newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_demo_prints_full_zero_and_partial(root, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--root", str(root), "--quiet", "demo", "--out", str(out), "--jobs", "2"]) == 0
    table = capsys.readouterr().out
    rows = _rows(out / "grades.csv")
    full = float(rows["Points Possible"][f"{NB}:total"])
    assert float(rows["reference"][f"{NB}:total"]) == full > 0
    assert float(rows["blank"][f"{NB}:total"]) == 0
    assert 0 < float(rows["partly_wrong"][f"{NB}:total"]) < full
    assert "reference" in table and "partly_wrong" in table
    assert (out / "feedback" / "reference" / f"{NB}.html").exists()


@pytest.fixture(scope="module")
def messy_class(root, tmp_path_factory):
    """A class folder: a solved notebook, a blank one, a corrupt file, a pdf, a missing file."""
    folder = tmp_path_factory.mktemp("class")
    samples = tmp_path_factory.mktemp("samples")
    write_samples(root, NB, samples)
    shutil.copy(samples / "reference" / f"{NB}.ipynb", folder / f"ann_{NB}.ipynb")
    (folder / "ben").mkdir()
    shutil.copy(samples / "blank" / f"{NB}.ipynb", folder / "ben" / f"{NB}.ipynb")
    (folder / f"cat_{NB}.ipynb").write_text('{"cells": [}')
    (folder / f"dan_{NB}.pdf").write_bytes(b"%PDF")
    (folder / "eve").mkdir()
    (folder / "eve" / "notes.md").write_text("no notebook")
    return folder


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_autograde_gives_every_student_a_row(root, messy_class, tmp_path, as_zip, capsys):
    source = messy_class
    if as_zip:
        source = tmp_path / "export.zip"
        with zipfile.ZipFile(source, "w") as zf:
            for path in messy_class.rglob("*"):
                if path.is_file():
                    zf.write(path, "export/" + str(path.relative_to(messy_class)))
    out = tmp_path / "out"
    code = main(["--root", str(root), "--quiet", "autograde", str(source), "--assignment", "00",
                 "--out", str(out), "--course-dir", str(tmp_path / "course")])
    assert code == 0
    rows = _rows(out / "grades.csv")
    assert set(rows) == {"Points Possible", "ann", "ben", "cat", "dan", "eve"}
    assert rows["ann"][f"{NB}:total"] == rows["Points Possible"][f"{NB}:total"]
    assert rows["ann"][f"{NB}:status"] == "graded"
    assert rows["ben"][f"{NB}:total"] == "0"
    assert rows["cat"][f"{NB}:status"].startswith("corrupt or invalid notebook")
    assert rows["dan"][f"{NB}:status"].startswith("not a notebook")
    assert rows["eve"][f"{NB}:status"].startswith(f"missing: no {NB}.ipynb submitted")
    assert (tmp_path / "course" / "gradebook.db").exists()  # the persistent nbgrader course
    assert (out / "feedback" / "ann" / f"{NB}.html").exists()
    feedback = (out / "feedback" / "ben" / f"{NB}.html").read_text()
    assert "BEGIN HIDDEN TESTS" not in feedback and "hidden tests are not shown" in feedback


@pytest.mark.parametrize(("args", "message"), [
    (["autograde", "{tmp}/nowhere"], "submissions not found"),
    (["autograde", "{tmp}/empty.zip"], "is empty"),
    (["autograde", "{tmp}/emptydir"], "is empty"),
    (["autograde", "{tmp}/emptydir", "--assignment", "99"], "matches no notebook"),
    (["autograde", "{tmp}/emptydir", "--jobs", "0"], "--jobs must be at least 1"),
    (["autograde", "{tmp}/emptydir", "--timeout", "0"], "--timeout must be at least 1"),
    (["autograde", "{tmp}/emptydir", "--notebook-budget", "-5"], "--notebook-budget must be"),
    (["release", "nope"], "matches no notebook"),
    (["demo", "--notebook", "nope"], "matches no notebook"),
])
def test_bad_arguments_give_one_line_and_leave_nothing(root, tmp_path, capsys, args, message):
    zipfile.ZipFile(tmp_path / "empty.zip", "w").close()
    (tmp_path / "emptydir").mkdir()
    out = tmp_path / "results"
    argv = ["--root", str(root)] + [a.format(tmp=tmp_path) for a in args] + ["--out", str(out)] \
        if args[0] != "release" else ["--root", str(root), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_missing_repository_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--root", str(tmp_path), "release", "--check"]) == 2
    assert "no course repository found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--quiet", "--root", "R", "autograde", "S"],
                                  ["autograde", "S", "--quiet", "--root", "R"],
                                  ["--root", "R", "autograde", "--quiet", "S"]])
def test_global_options_go_before_or_after_the_command(argv):
    from mbrl_helpers.grading.cli import build_parser

    args = build_parser().parse_args(argv)
    assert (args.quiet, args.root, args.submissions) == (True, "R", "S")
    plain = build_parser().parse_args(["release"])
    assert (plain.quiet, plain.root) == (False, None)
