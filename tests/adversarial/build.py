"""Build adversarial submissions from ``cases.toml`` (see that file for the format)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import nbformat

from mbrl_helpers.grading.mutants import build, replace_region

CASES = Path(__file__).with_name("cases.toml")


def load_cases() -> list[dict]:
    return tomllib.loads(CASES.read_text())["case"]


def _index(nb, grade_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(f"no cell {grade_id!r}")


def apply_edit(nb, source_nb, edit: dict) -> None:
    """Apply one edit operation to the (solved) submission ``nb`` in place."""
    i = _index(nb, edit["cell"])
    op = edit["op"]
    if op == "region":  # replace the solution region, as a student would
        nb.cells[i].source = replace_region(source_nb.cells[_index(source_nb, edit["cell"])]
                                            .source, edit["code"])
    elif op == "replace":
        nb.cells[i].source = edit["code"].strip("\n")
    elif op == "insert_after":
        nb.cells.insert(i + 1, nbformat.v4.new_code_cell(edit["code"].strip("\n")))
    elif op == "delete":
        del nb.cells[i]
    elif op == "move_after":
        cell = nb.cells.pop(i)
        nb.cells.insert(_index(nb, edit["target"]) + 1, cell)
    elif op == "metadata":
        nb.cells[i].metadata["nbgrader"].update(edit["set"])
    else:
        raise ValueError(f"unknown op {op!r}")


def write_case(root: Path, case: dict, folder: Path) -> Path:
    """Write ``folder/<case name>/<notebook>.ipynb``."""
    name = case["notebook"]
    source_nb = nbformat.read(root / "solutions" / f"{name}.ipynb", as_version=4)
    nb = copy.deepcopy(build(root, name, {}))
    for edit in case.get("edit", []):
        apply_edit(nb, source_nb, edit)
    target = folder / case["name"] / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target
