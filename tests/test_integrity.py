"""Static scan, metadata repair and guard reports (mbrl_helpers.grading.code_scan / integrity)."""

from __future__ import annotations

import json

import nbformat

from mbrl_helpers.grading.code_scan import scan_source
from mbrl_helpers.grading.integrity import preload_modules, read_report, tampered_cells
from mbrl_helpers.grading.kernel_guard import cell_hash
from mbrl_helpers.grading.metadata import repair_metadata


def test_scan_flags_attacks_and_not_ordinary_code():
    ordinary = "def f(x):\n    total = np.sum(x ** 2)\n    return float(total)\n"
    assert scan_source(ordinary) == []
    flags = scan_source("import numpy as np\nnp.isclose = lambda *a, **k: True\n"
                        "class A:\n    def __eq__(self, o):\n        return True\n"
                        "import gc, ctypes\nopen('/etc/passwd')\n")
    text = " ".join(flags)
    for expected in ["replaces np.isclose", "defines __eq__", "imports gc", "imports ctypes",
                     "uses open()"]:
        assert expected in text, flags
    assert scan_source("def broken(:") == []


def _cell(source, **meta):
    cell = nbformat.v4.new_code_cell(source)
    if meta:
        cell.metadata["nbgrader"] = meta
    return cell


def test_repair_metadata_restores_known_and_strips_invented_ids():
    source = nbformat.v4.new_notebook(cells=[
        _cell("t", grade=True, grade_id="t", points=1, locked=True, solution=False)])
    submitted = nbformat.v4.new_notebook(cells=[
        _cell("t", grade=False, grade_id="t", points=100, locked=False, solution=False,
              checksum="abc"),
        _cell("x", grade=True, grade_id="made_up", points=5),
        _cell("plain")])
    repaired = repair_metadata(submitted, source)
    assert submitted.cells[0].metadata["nbgrader"] == {
        "grade": True, "grade_id": "t", "points": 1, "locked": True, "solution": False,
        "checksum": "abc"}
    assert "nbgrader" not in submitted.cells[1].metadata
    assert len(repaired) == 2


def test_tampering_during_a_graded_cell_is_attributed_to_it(tmp_path):
    test_cell = _cell("assert f() == 1", grade=True, grade_id="t", points=1)
    other = _cell("y = 2")
    notebook = nbformat.v4.new_notebook(cells=[other, test_cell])
    report = tmp_path / "r.jsonl"
    report.write_text("\n".join(json.dumps(e) for e in [
        {"kind": "tampered", "detail": "numpy.isclose", "cell": cell_hash(other.source)},
        {"kind": "tampered", "detail": "builtins.abs", "cell": cell_hash(test_cell.source)},
    ]) + "\nnot json\n")
    events = read_report(report)
    assert events[-1]["kind"] == "corrupt-report"
    assert tampered_cells(events, notebook) == {"t": "builtins.abs"}


def test_preload_lists_the_modules_the_notebooks_import(root):
    modules = preload_modules(root, ["00_course_tour"])
    assert {"numpy", "math", "mbrl_helpers.checks"} <= set(modules)
    assert not any(m.startswith("mbrl_helpers.grading") for m in modules)


def test_preload_imports_torch_dynamo_with_torch(root):
    # torch._dynamo rewraps torch.manual_seed when first imported (by an optimizer step inside a
    # student's training loop): it must be loaded before the guard records torch as pristine
    modules = preload_modules(root, ["05_learning_dynamics"])
    assert {"torch", "torch._dynamo"} <= set(modules)


def test_imports_lists_absolute_imports_and_survives_bad_code():
    from mbrl_helpers.grading.integrity import imports

    source = "import a.b, c\nfrom x.y import z as w, q\nfrom . import r\nfrom .s import t\n"
    assert imports(source) == [("a.b", []), ("c", []), ("x.y", ["z", "q"])]
    assert imports("def broken(:\n") == []
