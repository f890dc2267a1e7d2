"""The benchmarks run the reference code of the solution notebooks, cell by cell.

They are not run in CI (they take minutes and measure the machine), so a renamed cell would
only show when someone runs one. These checks read each script statically (importing one
would set its environment defaults, such as ``MBRL_FAST=0``, in the test process). A script
with a ``--quick`` mode is also run on its tiny budget, in a subprocess."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import nbformat
import pytest

from .conftest import ROOT

SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def _constants(path) -> dict:
    """Module-level NOTEBOOK and CELLS of a benchmark script, read without running it."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in {"NOTEBOOK", "CELLS"}:
                found[target.id] = node.value
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_names_cells_that_exist(script):
    constants = _constants(script)
    if "CELLS" not in constants:
        pytest.skip(f"{script.name} runs no notebook cells")
    match = re.search(r"\d\d_[a-z0-9_]+", ast.unparse(constants["NOTEBOOK"]))
    assert match, f"{script.name}: cannot tell which notebook NOTEBOOK names"
    notebook = ROOT / "solutions" / f"{match.group(0)}.ipynb"
    assert notebook.exists(), f"{script.name} names {notebook.name}, which does not exist"
    cells = ast.literal_eval(constants["CELLS"])
    nb = nbformat.read(notebook, as_version=4)
    known = {c.get("id") for c in nb.cells}
    known |= {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    missing = [c for c in cells if c not in known]
    assert not missing, f"{script.name}: {notebook.name} has no cells {missing}"


def test_scripts_were_found():
    assert len(SCRIPTS) >= 5


def test_pets_ablation_quick_mode_runs():
    """The PETS ablation (bench_pets_ablation.py) end to end on its tiny --quick budget."""
    script = ROOT / "benchmarks" / "bench_pets_ablation.py"
    env = {k: v for k, v in os.environ.items() if k not in ("MBRL_FAST", "NBGRADER_EXECUTION")}
    done = subprocess.run([sys.executable, str(script), "--quick", "--settings", "noisy"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    for variant in ("D-E", "P-TS", "DE-TS1", "PE-E", "PE-TSinf"):
        assert f"\n{variant} " in table, f"no row {variant} in:\n{table}"
    assert "PE-TSinf - D-E (paired over training seeds)" in table
    assert "load average" in table
