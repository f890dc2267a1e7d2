"""`mbrl-course release`: notebooks/ is nbgrader's fresh release and leaks nothing."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.release import find_leaks, release, secret_lines


def test_release_check_passes_on_the_repository(root, capsys):
    assert main(["--root", str(root), "release", "--check"]) == 0
    assert "release check passed" in capsys.readouterr().out


def test_every_solution_has_a_release_and_no_release_lacks_a_solution(root):
    solutions = {p.stem for p in (root / "solutions").glob("*.ipynb")}
    released = {p.stem for p in (root / "notebooks").glob("*.ipynb")}
    assert solutions == released


@pytest.fixture
def course_copy(root, tmp_path):
    """A minimal copy of the course with notebook 00 only."""
    for sub in ["solutions", "notebooks"]:
        (tmp_path / sub).mkdir()
        shutil.copy(root / sub / "00_course_tour.ipynb", tmp_path / sub)
    shutil.copy(root / "pyproject.toml", tmp_path)
    return tmp_path


def _edit_release(course, edit):
    path = course / "notebooks" / "00_course_tour.ipynb"
    notebook = nbformat.read(path, as_version=4)
    edit(notebook)
    nbformat.write(notebook, path)


def test_check_fails_on_a_stale_release_and_names_it(course_copy, capsys):
    _edit_release(course_copy, lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("new")))
    assert main(["--root", str(course_copy), "release", "--check"]) == 1
    err = capsys.readouterr().err
    assert "notebooks/00_course_tour.ipynb is stale" in err


def test_check_fails_on_leaked_solution_text(course_copy, capsys):
    source = nbformat.read(course_copy / "solutions" / "00_course_tour.ipynb", as_version=4)
    secret = sorted(secret_lines(source))[0]

    def leak(nb):
        nb.cells[-1].source += "\n" + secret

    _edit_release(course_copy, leak)
    assert main(["--root", str(course_copy), "release", "--check"]) == 1
    assert "contains solution/hidden text" in capsys.readouterr().err


def test_check_fails_on_missing_release(course_copy, capsys):
    (course_copy / "notebooks" / "00_course_tour.ipynb").unlink()
    assert main(["--root", str(course_copy), "release", "--check"]) == 1
    assert "is missing" in capsys.readouterr().err


def test_release_rewrites_a_stale_notebook(course_copy):
    _edit_release(course_copy, lambda nb: nb.cells.pop())
    release(course_copy, ["00_course_tour"])
    assert release(course_copy, ["00_course_tour"], check=True).problems == []


def test_secret_lines_come_from_solution_and_hidden_regions_only():
    cell = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return x * 2 + some_long_name\n"
        "    ### END SOLUTION\n"
    )
    cell.metadata["nbgrader"] = {"solution": True, "grade_id": "f"}
    test = nbformat.v4.new_code_cell(
        "assert f(1) == 3  # visible check\n### BEGIN HIDDEN TESTS\n"
        "assert f(2) == 4 + some_long_name\n### END HIDDEN TESTS\n"
    )
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1}
    notebook = nbformat.v4.new_notebook(cells=[cell, test])
    assert secret_lines(notebook) == {"return x * 2 + some_long_name",
                                      "assert f(2) == 4 + some_long_name"}
    leaky = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x = 1\n  return x * 2 + some_long_name\n# BEGIN HIDDEN TESTS")])
    leaks = find_leaks(notebook, leaky)
    assert len(leaks) == 2 and any("marker" in leak for leak in leaks)


def test_secret_pairs_detect_a_copied_solution_but_not_one_generic_line():
    from mbrl_helpers.grading.release import secret_pairs, text_pairs

    cell = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    for t in range(horizon):\n"
        "        total = total + reward[t]\n    ### END SOLUTION\n")
    cell.metadata["nbgrader"] = {"solution": True, "grade_id": "f"}
    secrets = secret_pairs(nbformat.v4.new_notebook(cells=[cell]))
    copied = "x = 1\nfor t in range(horizon):\n    total = total + reward[t]\n"
    generic = "for t in range(horizon):\n    states.append(step(states[-1]))\n"
    assert text_pairs(copied) & secrets
    assert not text_pairs(generic) & secrets
