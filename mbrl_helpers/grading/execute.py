"""``mbrl-course execute``: run solution notebooks headless and keep their outputs.

Self-learners read the executed ``solutions/`` with their plots, so the maintainer
re-executes a notebook after every edit. Failures name the notebook, the cell and the
traceback.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from mbrl_helpers.grading.course import SOLUTIONS
from mbrl_helpers.runtime import FAST_ENV


@dataclass
class ExecutionResult:
    """Outcome of executing one notebook."""

    name: str
    seconds: float
    error: str | None = None  # "cell N (id): traceback" when a cell failed

    @property
    def ok(self) -> bool:
        return self.error is None


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def execute_notebook(
    path: Path,
    *,
    write_to: Path | None = None,
    fast: bool = False,
    cell_timeout: int = 600,
    progress: bool = True,
) -> ExecutionResult:
    """Execute ``path`` in a fresh kernel (working directory: its folder).

    Args:
        path: the notebook to run.
        write_to: where to save the executed notebook (``None``: do not save).
        fast: run in fast mode (``MBRL_FAST=1``), as under nbgrader.
        cell_timeout: seconds one cell may run.
        progress: show a progress bar over the code cells.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        record_timing=False,  # timestamps in cell metadata would make every run a diff
        resources={"metadata": {"path": str(path.parent)}},
    )
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    old = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = "1" if fast else "0"
    start = time.perf_counter()
    error = None
    bar = tqdm(total=len(code_cells), desc=path.stem, unit="cell", disable=not progress)
    try:
        with client.setup_kernel():
            for index in code_cells:
                try:
                    client.execute_cell(notebook.cells[index], index)
                except (CellExecutionError, CellTimeoutError) as err:
                    cell_id = notebook.cells[index].get("id", "?")
                    error = f"cell {index} (id {cell_id}): {_strip_ansi(str(err)).strip()}"
                    break
                bar.update(1)
    finally:
        bar.close()
        if old is None:
            os.environ.pop(FAST_ENV, None)
        else:
            os.environ[FAST_ENV] = old
    seconds = time.perf_counter() - start
    if error is None and write_to is not None:
        nbformat.write(notebook, write_to)
    return ExecutionResult(path.stem, seconds, error)


def execute_solutions(
    root: Path, names: list[str], *, fast: bool = False, write: bool = True, progress: bool = True
) -> list[ExecutionResult]:
    """Execute ``solutions/NAME.ipynb`` for each name; write outputs back when ``write``."""
    results = []
    for name in names:
        path = root / SOLUTIONS / f"{name}.ipynb"
        results.append(
            execute_notebook(path, write_to=path if write else None, fast=fast, progress=progress)
        )
    return results
