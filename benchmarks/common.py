"""Shared by the benchmark scripts: the reference code of a solution notebook, and the machine.

Every benchmark measures the *reference solution itself*: :func:`load_cells` executes chosen
cells of ``solutions/NAME.ipynb`` (by cell id) in a fresh module, so a figure printed by a
benchmark is what the notebook's own code achieves. :func:`machine` describes where a figure
was measured (timings depend on the load average, so it is part of every report).
"""

from __future__ import annotations

import os
import platform
import sys
import types
from collections.abc import Iterable
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def notebook_path(name: str) -> Path:
    """``solutions/NAME.ipynb`` of the repository these benchmarks belong to."""
    return ROOT / "solutions" / f"{name}.ipynb"


def load_cells(name: str, cells: Iterable[str], into: dict | None = None) -> dict:
    """Execute the cells with these ids of ``solutions/NAME.ipynb``, in this order, in a fresh
    module (registered in ``sys.modules``, so dataclasses and pickling find it); return its
    namespace. With ``into`` (a namespace this function returned), run them there instead, after
    the cells already run. Exits with a message naming the cells when some are not found."""
    path = notebook_path(name)
    by_id = {cell.get("id"): cell for cell in nbformat.read(path, as_version=4).cells}
    cells = list(cells)
    missing = [c for c in cells if c not in by_id]
    if missing:
        raise SystemExit(f"{path}: cells {missing} not found (were they renamed?)")
    if into is None:
        module = types.ModuleType(f"notebook{name[:2]}")
        sys.modules[module.__name__] = module
        into = module.__dict__
    for cell_id in cells:
        code = compile(by_id[cell_id].source, f"<{path.name}:{cell_id}>", "exec")
        exec(code, into)  # noqa: S102 - the course's own reference code
    return into


def returns_summary(returns) -> str:
    """``mean return M ± S (s.e.), min A, max B`` of episode returns over reset seeds."""
    returns = np.asarray(returns, dtype=float)
    sem = returns.std(ddof=1) / np.sqrt(len(returns)) if len(returns) > 1 else float("nan")
    return (f"mean return {returns.mean():8.1f} ± {sem:.1f} (s.e.), min {returns.min():.1f}, "
            f"max {returns.max():.1f}")


def machine() -> str:
    """CPU model, logical CPUs, load average and library versions, on one line."""
    cpu = platform.processor() or platform.machine() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    versions = [f"Python {platform.python_version()}"]
    for module in ("numpy", "torch"):
        if module in sys.modules:
            versions.append(f"{module} {sys.modules[module].__version__}")
    if "torch" in sys.modules:
        versions[-1] += f" ({sys.modules['torch'].get_num_threads()} thread(s))"
    return f"{cpu}; {os.cpu_count()} logical CPUs; load average {load}; {', '.join(versions)}"
