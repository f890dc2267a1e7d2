"""Benchmark of notebook 04: iLQR timing, the swing-up, and iLQR MPC on Pendulum-v1.

Measures the *reference solution itself*: the functions are taken from the solution cells of
``solutions/04_trajectory_optimization.ipynb`` (``lqr_backward``, ``forward_pass``,
``approximate``, ``ilqr`` and the read-only ``pendulum_problem`` and ``ilqr_mpc`` cells), so the
figures printed here are the ones the notebook's code achieves. With ``--cem`` it also runs notebook
02's CEM MPC (``benchmarks/bench_cem_mpc.py``'s reference cells) on the same seeds and machine.

Usage::

    python benchmarks/bench_ilqr.py          # seeds 0..19, H=30, 5 iLQR iterations per action
    python benchmarks/bench_ilqr.py --seeds 5 --iters 10 --cem
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small matrices: threads only add noise
os.environ.setdefault("MPLBACKEND", "Agg")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine, returns_summary  # noqa: E402

NOTEBOOK = "04_trajectory_optimization"
CELLS = ["setup", "lqr_backward", "forward_pass", "pendulum_problem", "approximate", "ilqr",
         "ilqr_mpc"]


def load_reference() -> dict:
    """Execute the reference cells of notebook 04 in a fresh namespace and return it."""
    return load_cells(NOTEBOOK, CELLS)


def _best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_swing_up(ns: dict, horizon: int) -> None:
    s0, u0 = np.array([np.pi - 0.3, 0.0]), np.zeros((horizon, 1))
    start = time.perf_counter()
    u, states, _, costs = ns["ilqr"](s0, u0, n_iters=300)
    seconds = time.perf_counter() - start
    n_iters = len(costs) - 1
    print(f"swing-up from theta = pi - 0.3, H={horizon}: {n_iters} iterations, cost "
          f"{costs[0]:.1f} -> {costs[-1]:.2f}, final cos(theta) {np.cos(states[-1, 0]):.3f}; "
          f"{seconds:.2f} s in all, "
          f"{1e3 * seconds / max(n_iters, 1):.2f} ms per iteration (line search included)")
    A, B, c, C = ns["approximate"](states[:-1], u)
    C = ns["psd_part"](C)
    C[:, 2, 2] += 0.1
    t_approx = _best_of(lambda: ns["approximate"](states[:-1], u))
    t_back = _best_of(lambda: ns["lqr_backward"](A, B, C, c, np.zeros((2, 2)), np.zeros(2)))
    K, k, _, _ = ns["lqr_backward"](A, B, C, c, np.zeros((2, 2)), np.zeros(2))
    t_fwd = _best_of(lambda: ns["forward_pass"](ns["squashed_step"], s0, K, k, states, u, 0.5))
    print(f"    per call (best of 5): approximate {1e3 * t_approx:.3f} ms, lqr_backward "
          f"{1e3 * t_back:.3f} ms, forward_pass {1e3 * t_fwd:.3f} ms")


def bench_mpc(ns: dict, seeds: range, horizon: int, n_iters: int) -> np.ndarray:
    env = gym.make("Pendulum-v1")
    runs = [ns["ilqr_mpc_episode"](env, seed, horizon=horizon, n_iters=n_iters) for seed in seeds]
    returns = np.array([r[0] for r in runs])
    upright = np.array([np.mean(r[1][-50:, 0] > 0.95) >= 0.9 for r in runs])
    print(f"iLQR MPC (H={horizon}, {n_iters} iterations per action, warm start), seeds "
          f"0..{len(returns) - 1}:\n    {returns_summary(returns)}; upright in >= 90% of the "
          f"last 50 steps: "
          f"{upright.mean():.0%} of the seeds; {1e3 * np.mean([r[3] for r in runs]):.2f} ms per "
          "action")
    return returns


def bench_cem(seeds: range, horizon: int) -> np.ndarray:
    import bench_cem_mpc

    ns = bench_cem_mpc.load_reference()
    returns, success, sec = ns["run_mpc"](lambda s: ns["make_cem_planner"](seed=s), seeds, horizon)
    print(f"CEM MPC of notebook 02 (H={horizon}, N=100, M=10, 3 iterations), same seeds:\n    "
          f"{returns_summary(returns)}; upright: "
          f"{success.mean():.0%} of the seeds; {1e3 * sec:.2f} ms per action")
    return returns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="reset seeds 0..seeds-1")
    parser.add_argument("--horizon", type=int, default=30, help="MPC horizon")
    parser.add_argument("--iters", type=int, default=5, help="iLQR iterations per MPC action")
    parser.add_argument("--swing-horizon", type=int, default=100)
    parser.add_argument("--cem", action="store_true", help="also run notebook 02's CEM MPC")
    args = parser.parse_args(argv)
    ns = load_reference()
    print("notebook 04 benchmark: iLQR on Pendulum-v1 with the true dynamics")
    print(f"machine: {machine()}\n")
    bench_swing_up(ns, args.swing_horizon)
    seeds = range(args.seeds)
    ilqr_returns = bench_mpc(ns, seeds, args.horizon, args.iters)
    if args.cem:
        cem_returns = bench_cem(seeds, args.horizon)
        share = np.mean(ilqr_returns > cem_returns)
        print(f"iLQR MPC better than CEM MPC on {share:.0%} of the seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
