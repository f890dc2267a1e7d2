"""Benchmark of notebook 02: CEM MPC and random-shooting MPC with the true Pendulum-v1 dynamics.

Measures the *reference solution itself*: the functions are taken from the solution cells of
``solutions/02_shooting_and_cem.ipynb`` (``random_shooting``, ``select_elites``,
``fit_gaussian``, ``cem``, ``pendulum_objective``, ``mpc_episode`` and the ``planners`` cell),
so the figures printed here are the ones the notebook's code achieves.

Targets (issue 5): CEM MPC mean return >= -150 over reset seeds 0..19 at <= 10 ms per action
on the 2-core course machine; random shooting at the same evaluation budget measurably worse.

Usage::

    python benchmarks/bench_cem_mpc.py                 # defaults: H=30, N=100, M=10, 3 iterations
    python benchmarks/bench_cem_mpc.py --seeds 5 --horizon 20
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small arrays: threads only add noise
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine, returns_summary  # noqa: E402

NOTEBOOK = "02_shooting_and_cem"
CELLS = ["setup", "random_shooting", "select_elites", "fit_gaussian", "cem", "pendulum_objective",
         "mpc_episode", "planners"]
TARGET_RETURN, TARGET_MS = -150.0, 10.0


def load_reference() -> dict:
    """Execute the reference cells of notebook 02 in a fresh namespace and return it."""
    return load_cells(NOTEBOOK, CELLS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="reset seeds 0..seeds-1")
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--population", type=int, default=100, help="CEM samples N per iteration")
    parser.add_argument("--elites", type=int, default=10)
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args(argv)
    ns = load_reference()
    print("notebook 02 benchmark: MPC on Pendulum-v1 with the true dynamics")
    print(f"machine: {machine()}")
    budget = args.population * args.iters
    seeds = range(args.seeds)
    print(f"seeds 0..{args.seeds - 1}, horizon H={args.horizon}, replanning every step, "
          f"warm start from the shifted plan; budget {budget} sequences per action\n")
    runs = {
        f"CEM MPC (N={args.population}, M={args.elites}, {args.iters} iterations, sigma0=1)":
            lambda s: ns["make_cem_planner"](args.population, args.elites, args.iters, seed=s),
        f"random shooting MPC ({budget} uniform samples)":
            lambda s: ns["make_rs_planner"](budget, seed=s),
    }
    results = {}
    for name, make in runs.items():
        returns, success, sec = ns["run_mpc"](make, seeds, args.horizon)
        results[name] = (returns, sec)
        print(f"{name}\n    {returns_summary(returns)}; upright in >= 90% of the last 50 "
              f"steps: {success.mean():.0%} of the seeds; {1e3 * sec:.2f} ms per action")
    (cem_returns, cem_sec), (rs_returns, _) = results.values()
    ok = cem_returns.mean() >= TARGET_RETURN and 1e3 * cem_sec <= TARGET_MS
    better = cem_returns.mean() > rs_returns.mean()
    print(f"\ntarget CEM mean return >= {TARGET_RETURN} at <= {TARGET_MS} ms per action: "
          f"{'met' if ok else 'NOT met'}; random shooting worse by "
          f"{cem_returns.mean() - rs_returns.mean():.1f} ({'yes' if better else 'NO'}); "
          f"CEM better on {np.mean(cem_returns > rs_returns):.0%} of the seeds")
    return 0 if ok and better else 1


if __name__ == "__main__":
    sys.exit(main())
