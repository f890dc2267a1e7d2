"""After a notebook is autograded: read the guard's report, withdraw points earned while
the grader was tampered with, and collect flags for the TA.

See :mod:`mbrl_helpers.grading.kernel_guard` (inside the kernel) and
:mod:`mbrl_helpers.grading.code_scan` (static scan). Points are withdrawn only for graded
cells *during which* a protected function was found replaced; everything else is a flag.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat

from mbrl_helpers.grading.code_scan import scan_submission
from mbrl_helpers.grading.course import SOLUTIONS
from mbrl_helpers.grading.kernel_guard import cell_hash

PRELOADABLE = ("numpy", "math", "torch")


def imports(source: str) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every absolute import in ``source``: ``import a.b`` gives
    ``("a.b", [])``, ``from a import b, c`` gives ``("a", ["b", "c"])``; none if it does not
    parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def preload_modules(root: Path, names: list[str]) -> list[str]:
    """Protected modules the source notebooks import (so the guard records them pristine)."""
    found: set[str] = {"numpy", "math"}
    for name in names:
        notebook = nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            for base, members in imports(cell.source):
                for module in [base] + [f"{base}.{member}" for member in members]:
                    if module.split(".")[0] in PRELOADABLE or (
                            module.startswith("mbrl_helpers.")
                            and not module.startswith("mbrl_helpers.grading")):
                        found.add(module if module.count(".") < 2 else module.rsplit(".", 1)[0])
    if "torch" in {m.split(".")[0] for m in found}:
        # importing torch._dynamo (the first optimizer step does) rewraps torch.manual_seed and
        # friends; import it up front so that the library's own patch is not taken for tampering
        found.add("torch._dynamo")
    return sorted(found)


def read_report(path: Path) -> list[dict]:
    """Events the guard wrote (tampering, blocked calls); ``[]`` if there is no report."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"kind": "corrupt-report", "detail": line[:100], "cell": ""})
    return events


def tampered_cells(events: list[dict], autograded: nbformat.NotebookNode) -> dict[str, str]:
    """Graded cells (grade_id -> what was replaced) during which tampering was detected."""
    graded = {}
    for cell in autograded.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            graded[cell_hash(cell.source)] = meta["grade_id"]
    hits: dict[str, str] = {}
    for event in events:
        if event.get("kind") == "tampered" and event.get("cell") in graded:
            hits.setdefault(graded[event["cell"]], event.get("detail", ""))
    return hits


def review(
    gradebook, root: Path, assignment: str, student: str, submitted: Path, autograded: Path,
    report: Path,
) -> list[str]:
    """Withdraw tainted points in the gradebook; return flags describing what was found."""
    flags: list[str] = []
    events = read_report(report)
    if autograded.exists():
        notebook = nbformat.read(autograded, as_version=4)
        for grade_id, detail in tampered_cells(events, notebook).items():
            grade = gradebook.find_grade(grade_id, assignment, assignment, student)
            if grade.auto_score:
                grade.auto_score = 0.0
                gradebook.db.commit()
            flags.append(f"points of {grade_id} withdrawn: {detail} replaced during the test")
    other = {f"{e.get('kind')}: {e.get('detail')}" for e in events if e.get("kind") != "tampered"}
    tampering = {e.get("detail") for e in events if e.get("kind") == "tampered"}
    flags += [f"tampering undone: {d}" for d in sorted(tampering)]
    flags += sorted(other)
    try:
        source = nbformat.read(root / SOLUTIONS / f"{assignment}.ipynb", as_version=4)
        flags += [f"code scan: {f}" for f in scan_submission(
            nbformat.read(submitted, as_version=4), source)]
    except Exception as err:  # noqa: BLE001 - a scan failure must not cost the grade
        flags.append(f"code scan failed: {type(err).__name__}")
    return flags
