"""Feedback HTML: hidden tests and their tracebacks are removed; the leak search works."""

from __future__ import annotations

import nbformat
from nbconvert import HTMLExporter

from mbrl_helpers.feedback import HideHiddenTests, visible_text

HIDDEN_LINE = "assert secret_function(3) == 42, 'hidden expectation'"


def _graded_notebook():
    cell = nbformat.v4.new_code_cell(
        "assert f(1) == 1, 'visible'\n### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE +
        "\n### END HIDDEN TESTS")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1, "locked": True,
                                 "solution": False, "schema_version": 3}
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="hidden expectation",
        traceback=["Traceback", f"----> 3 {HIDDEN_LINE}", "AssertionError: hidden expectation"])]
    student = nbformat.v4.new_code_cell("def f(x):\n    return x")
    return nbformat.v4.new_notebook(cells=[student, cell])


def test_plain_export_leaks_and_the_search_finds_it():
    html, _ = HTMLExporter().from_notebook_node(_graded_notebook())
    assert HIDDEN_LINE in visible_text(html)  # the search can fail: nbgrader's default leaks


def test_hide_hidden_tests_removes_source_and_traceback():
    nb, _ = HideHiddenTests().preprocess(_graded_notebook(), {})
    html, _ = HTMLExporter().from_notebook_node(nb)
    text = visible_text(html)
    assert HIDDEN_LINE not in text and "secret_function" not in text
    assert "assert f(1) == 1, 'visible'" in text  # visible part kept
    assert "AssertionError: hidden expectation" in text  # the message stays
    assert "def f(x)" in text  # student code untouched
