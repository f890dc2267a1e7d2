"""Simulations per second of notebook 03's reference UCT search (one tree, plain Python).

The search code is not part of ``mbrl_helpers`` (students have the package): this script
reads the reference solution cells of ``solutions/03_mcts.ipynb`` by their nbgrader
``grade_id`` and executes them. Target of the course (issue 6): at least 30,000
simulations per second on a tabular environment with a transition-table model.

Usage::

    python benchmarks/bench_mcts.py [--simulations 20000] [--repeats 5]

It prints the machine, the settings and the median rate of each case; the timings are
wall-clock, so other processes on the machine lower them (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "solutions" / "03_mcts.ipynb"
CELLS = ("node", "uct_score", "select_child", "expand", "rollout", "backup", "mcts_search",
         "best_action")
TARGET = 30_000


def load_reference(path: Path = NOTEBOOK) -> dict:
    """Execute the reference cells of the notebook (solution markers removed); return them."""
    cells = json.loads(path.read_text())["cells"]
    source = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
              for c in cells}
    namespace = {"math": math, "random": random, "C_UCT": 1 / math.sqrt(2)}
    for grade_id in CELLS:
        if grade_id not in source:
            raise SystemExit(f"{path}: no cell with grade_id {grade_id!r}")
        code = "\n".join(line for line in source[grade_id].splitlines()
                         if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        exec(compile(code, f"{path.name}:{grade_id}", "exec"), namespace)
    return namespace


def time_search(ref: dict, model, state, n_sim: int, horizon: int, gamma: float,
                repeats: int, policy=None) -> list[float]:
    """Simulations per second of ``repeats`` searches from ``state`` (seeds 0, 1, ...)."""
    kwargs = {} if policy is None else {"rollout_policy": policy}
    rates = []
    for seed in range(repeats):
        start = time.perf_counter()
        root = ref["mcts_search"](model, state, n_sim, horizon, random.Random(seed),
                                  gamma=gamma, **kwargs)
        rates.append(n_sim / (time.perf_counter() - start))
        assert root.N == n_sim
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=20_000, help="per search")
    parser.add_argument("--repeats", type=int, default=5, help="searches per case (median)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from mbrl_helpers.discrete_envs import (
        CartPoleModel,
        TableModel,
        frozen_lake,
        grid_mdp,
        two_hills,
    )

    ref = load_reference()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average before: {', '.join(f'{x:.2f}' for x in load)}")
    print(f"reference: {NOTEBOOK.relative_to(ROOT)} cells {', '.join(CELLS)}")
    print(f"settings: one tree, {args.simulations} simulations per search, median of "
          f"{args.repeats} searches, C = 1/sqrt(2), random default policy\n")

    hills = grid_mdp(two_hills(), start=(2, 2), reward_scale=0.1)
    lake = frozen_lake("8x8")
    cases = [
        ("two hills 5x6 grid, TableModel, H=10, gamma=1 (target case)",
         TableModel(hills), hills.start, 10, 1.0),
        ("FrozenLake 8x8 (deterministic), TableModel, H=40, gamma=0.95",
         TableModel(lake), lake.start, 40, 0.95),
        ("CartPole-v1 dynamics, CartPoleModel, H=50, gamma=1",
         CartPoleModel(reward=1 / 50), (0.01, 0.0, 0.02, 0.0), 50, 1.0),
    ]
    results = {}
    for name, model, state, horizon, gamma in cases:
        rates = time_search(ref, model, state, args.simulations, horizon, gamma, args.repeats)
        results[name] = statistics.median(rates)
        print(f"{name}:\n    {results[name]:>10,.0f} simulations/s "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    target_rate = results[cases[0][0]]
    verdict = "meets" if target_rate >= TARGET else "is BELOW"
    print(f"\ntabular case: {target_rate:,.0f} simulations/s {verdict} the target of {TARGET:,}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    print(f"load average after: {', '.join(f'{x:.2f}' for x in load)}")


if __name__ == "__main__":
    main()
