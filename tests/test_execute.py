"""Every solution notebook executes; failures name the notebook, the cell and the traceback."""

from __future__ import annotations

import nbformat
import pytest

from mbrl_helpers.course import notebook_names
from mbrl_helpers.execute import execute_notebook

from .conftest import ROOT


@pytest.mark.parametrize("name", notebook_names(ROOT))
def test_solution_notebook_executes_in_fast_mode(name):
    result = execute_notebook(ROOT / "solutions" / f"{name}.ipynb", fast=True, progress=False)
    assert result.ok, f"{name} failed: {result.error}"


def test_failure_names_cell_and_traceback(tmp_path, capsys):
    from mbrl_helpers.cli import main

    path = tmp_path / "broken.ipynb"
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    cells[1].id = "divide"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    result = execute_notebook(path, write_to=path, progress=False)
    assert not result.ok
    assert "cell 1 (id divide)" in result.error and "ZeroDivisionError" in result.error
    assert nbformat.read(path, as_version=4).cells[0].outputs == []  # nothing written on failure
    assert main(["execute", "no_such_notebook"]) == 2
    assert "matches no notebook" in capsys.readouterr().err
