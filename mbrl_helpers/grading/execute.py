"""``mbrl-course execute``: run solution notebooks headless and keep their outputs.

Self-learners read the executed ``solutions/`` with their plots, so the maintainer
re-executes a notebook after every edit. Failures name the notebook, the cell and the
traceback.

``mbrl-course execute --check`` re-executes without writing and compares every number the
notebook prints (stdout and plain-text results; not stderr, where progress bars go) with
the stored output, cell by cell, at a relative tolerance of :data:`CHECK_RTOL`. Durations
(a number followed by a time unit: ``4.0 s``, ``2.9 ms``, ``45,000 simulations/s``) vary
with the machine and are skipped, as is every number of a cell tagged ``timing`` (a cell
whose printed results depend on the clock).
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from mbrl_helpers.grading.course import SOLUTIONS, THREAD_VARS, kernel_language_info
from mbrl_helpers.runtime import FAST_ENV


@dataclass
class ExecutionResult:
    """Outcome of executing one notebook."""

    name: str
    seconds: float
    error: str | None = None  # "cell N (id): traceback" when a cell failed
    mismatches: list[str] = field(default_factory=list)  # --check: printed numbers that moved
    slow_cells: list[tuple[int, float]] = field(default_factory=list)  # (index, s) over SLOW_CELL

    @property
    def ok(self) -> bool:
        return self.error is None and not self.mismatches


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


#: Relative tolerance of ``--check``: printed numbers of a seeded cell are reproduced exactly
#: on the same machine and pins; the tolerance only absorbs float formatting.
CHECK_RTOL = 1e-6
#: Tag of a cell whose printed numbers depend on the clock (skipped by ``--check``).
TIMING_TAG = "timing"
_NUMBER = re.compile(
    r"(?<![\w.])[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
    r"(?P<unit>\s?(?:ms|µs|us|ns|s|sec|min|h|it/s|[a-z]+/s)\b)?")


#: Seconds after which a cell should show progress (a bar or a line per stage).
SLOW_CELL = 10.0


def settle_streams(cell: dict) -> None:
    """Keep of each stream what a terminal shows at the end: a line rewritten with ``\\r``
    (a progress bar) keeps its last state, and a bar erased at the end leaves nothing.

    The chunks of one stream are joined across chunks of the other stream (a loop that prints
    while its progress bar redraws on stderr), not across rich outputs such as figures."""
    merged: list[dict] = []  # the chunks of one stream between two rich outputs: one output
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text = "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
            same = None
            for earlier in reversed(merged):
                if earlier.get("output_type") != "stream":
                    break
                if earlier.get("name") == output.get("name"):
                    same = earlier
                    break
            if same is not None:
                same["text"] += text
                continue
            output["text"] = text
        merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            lines = [line.rsplit("\r", 1)[-1] for line in output["text"].split("\n")]
            output["text"] = "\n".join(lines)
    cell["outputs"] = [o for o in merged
                       if o.get("output_type") != "stream" or o["text"].strip()]


def printed_numbers(cell: dict) -> list[tuple[float, str]]:
    """The numbers a code cell printed, as ``(value, line)``; durations left out.

    Reads stdout streams and the ``text/plain`` of results and displays (not stderr, not
    images or HTML). A cell tagged ``timing`` prints nothing checkable.
    """
    if TIMING_TAG in cell.get("metadata", {}).get("tags", []):
        return []
    texts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") == "stdout":
            texts.append(output.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            texts.append(output.get("data", {}).get("text/plain", ""))
    numbers = []
    for text in texts:
        text = "".join(text) if isinstance(text, list) else text
        for line in text.splitlines():
            for match in _NUMBER.finditer(line):
                if match.group("unit"):
                    continue
                raw = match.group(0).replace("\u2212", "-").replace(",", "")
                numbers.append((float(raw), line.strip()))
    return numbers


def compare_outputs(stored: dict, fresh: dict, rtol: float = CHECK_RTOL) -> list[str]:
    """Each code cell whose printed numbers differ, one message per cell (naming it)."""
    problems = []
    code = [(i, c) for i, c in enumerate(stored["cells"]) if c["cell_type"] == "code"]
    for index, cell in code:
        old = printed_numbers(cell)
        new = printed_numbers(fresh["cells"][index])
        where = f"cell {index} (id {cell.get('id', '?')})"
        if len(old) != len(new):
            first = next((f"{o[1]!r} now {n[1]!r}" for o, n in zip(old, new, strict=False)
                          if o[1] != n[1]), "")
            problems.append(f"{where}: printed {len(new)} numbers, stored {len(old)}"
                            + (f"; first difference: {first}" if first else ""))
            continue
        for (a, line_a), (b, line_b) in zip(old, new, strict=True):
            if abs(a - b) > rtol * max(abs(a), abs(b)):
                problems.append(f"{where}: stored {a:g}, now {b:g} "
                                f"(stored line {line_a!r}, now {line_b!r})")
                break
    return problems


def execute_notebook(
    path: Path,
    *,
    write_to: Path | None = None,
    fast: bool = False,
    cell_timeout: int = 600,
    progress: bool = True,
    check: bool = False,
) -> ExecutionResult:
    """Execute ``path`` in a fresh kernel (working directory: its folder).

    Args:
        path: the notebook to run.
        write_to: where to save the executed notebook (``None``: do not save).
        fast: run in fast mode (``MBRL_FAST=1``), as under nbgrader.
        cell_timeout: seconds one cell may run.
        progress: show a progress bar over the code cells.
        check: compare the printed numbers with the stored outputs
            (:func:`compare_outputs`); differences go to ``mismatches``.
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    stored = nbformat.from_dict(copy.deepcopy(notebook)) if check else None
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
    sockets = tempfile.TemporaryDirectory(prefix="mbrl-execute-")
    # Unix sockets in a private folder: no "running over TCP without encryption" warning
    client.km = AsyncKernelManager(kernel_name="python3", transport="ipc",
                                   ip=os.path.join(sockets.name, "kernel"))
    # one thread per math library and a fixed hash seed, as when grading: the same
    # floating-point results on every run, whatever the machine's load
    saved = {var: os.environ.get(var) for var in (FAST_ENV, "PYTHONHASHSEED", *THREAD_VARS)}
    os.environ.update({var: "1" for var in THREAD_VARS}, PYTHONHASHSEED="0")
    os.environ[FAST_ENV] = "1" if fast else "0"
    start = time.perf_counter()
    error = None
    slow: list[tuple[int, float]] = []
    bar = tqdm(total=len(code_cells), desc=path.stem, unit="cell", disable=not progress)
    try:
        with client.setup_kernel():
            for index in code_cells:
                began = time.perf_counter()
                try:
                    client.execute_cell(notebook.cells[index], index)
                except (CellExecutionError, CellTimeoutError) as err:
                    cell_id = notebook.cells[index].get("id", "?")
                    error = f"cell {index} (id {cell_id}): {_strip_ansi(str(err)).strip()}"
                    break
                settle_streams(notebook.cells[index])
                if time.perf_counter() - began > SLOW_CELL:
                    slow.append((index, time.perf_counter() - began))
                bar.update(1)
    finally:
        bar.close()
        sockets.cleanup()
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    seconds = time.perf_counter() - start
    if error is None and write_to is not None:
        notebook.metadata["language_info"] = kernel_language_info()  # as JupyterLab writes it
        nbformat.write(notebook, write_to)
    mismatches = compare_outputs(stored, notebook) if check and error is None else []
    return ExecutionResult(path.stem, seconds, error, mismatches, slow)


def execute_solutions(
    root: Path, names: list[str], *, fast: bool = False, write: bool = True,
    progress: bool = True, check: bool = False,
) -> list[ExecutionResult]:
    """Execute ``solutions/NAME.ipynb`` for each name; write outputs back when ``write``;
    with ``check``, compare the printed numbers with the stored ones (and write nothing)."""
    results = []
    for name in names:
        path = root / SOLUTIONS / f"{name}.ipynb"
        results.append(execute_notebook(path, write_to=path if write and not check else None,
                                        fast=fast, progress=progress, check=check))
    return results
