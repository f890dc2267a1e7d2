"""Benchmark of notebook 05: MBRL v1.5 (MPC through a learned model) on Pendulum-v1.

Measures the *reference solution itself*: the functions are taken from the solution and
read-only cells of ``solutions/05_learning_dynamics.ipynb`` (``delta_targets``,
``normalization_stats``, ``DynamicsModel``, ``predict_next_states``, ``train_dynamics``,
``model_rollout``, the CEM planner, ``run_planner_episode`` and the ``run_mbrl`` /
``evaluate_mpc`` loops), so the figures printed here are the ones the notebook's code achieves.
The reward is known, the dynamics are learned from the collected transitions only.

Target (issue 7): after at most 3,000 environment steps, MPC through the learned model reaches
a mean return >= -200 on 10 fixed evaluation reset seeds (0..9; training used other seeds).

Usage::

    python benchmarks/bench_mbrl.py                      # 3000 steps (600 random), seeds 0..9
    python benchmarks/bench_mbrl.py --train-seeds 3      # repeat the training with 3 seeds
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small networks: threads only add noise
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MBRL_FAST", "0")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine, returns_summary  # noqa: E402

NOTEBOOK = "05_learning_dynamics"
CELLS = ["setup", "delta_targets", "normalization_stats", "dynamics_model", "predict_next_states",
         "train_dynamics", "model_rollout", "cem_planner", "run_planner_episode", "mbrl_loops"]
TARGET_RETURN, MAX_STEPS = -200.0, 3000


def load_reference() -> dict:
    """Execute the reference cells of notebook 05 in a fresh namespace and return it."""
    return load_cells(NOTEBOOK, CELLS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=MAX_STEPS, help="environment steps in all")
    parser.add_argument("--random", type=int, default=600, help="random steps first")
    parser.add_argument("--seeds", type=int, default=10, help="evaluation reset seeds 0..seeds-1")
    parser.add_argument("--train-seeds", type=int, default=1, help="repeat training with seeds 0..")
    parser.add_argument("--horizon", type=int, default=20)
    args = parser.parse_args(argv)
    ns = load_reference()
    ns["torch"].set_num_threads(1)
    print("notebook 05 benchmark: MBRL v1.5 on Pendulum-v1, known reward, learned dynamics")
    print(f"machine: {machine()}")
    print(f"budget {args.steps} environment steps ({args.random} random, then MPC episodes of 200 "
          f"steps, retraining after each); CEM H={args.horizon}, N=100, M=10, 3 iterations; "
          f"MLP 2x64 SiLU on normalized (s, a) -> normalized delta s; evaluation: MPC through the "
          f"final model on reset seeds 0..{args.seeds - 1}\n")
    means, ok = [], True
    for train_seed in range(args.train_seeds):
        start = time.perf_counter()
        model, buffer, collect = ns["run_mbrl"]("v1.5", args.steps, args.random, seed=train_seed,
                                                horizon=args.horizon)
        train_s = time.perf_counter() - start
        returns, visited = ns["evaluate_mpc"](model, range(args.seeds), horizon=args.horizon)
        eval_s = time.perf_counter() - start - train_s
        means.append(returns.mean())
        ok &= len(buffer) <= MAX_STEPS
        print(f"training seed {train_seed}: {len(buffer)} env steps, collection returns "
              f"{np.round(collect, 1).tolist()}; {train_s:.1f} s\n    evaluation: "
              f"{returns_summary(returns)}; {eval_s:.1f} s "
              f"({1e3 * eval_s / len(visited):.1f} ms per action)")
    ok &= min(means) >= TARGET_RETURN
    print(f"\ntarget mean return >= {TARGET_RETURN} within <= {MAX_STEPS} env steps: "
          f"{'met' if ok else 'NOT met'} (means over training seeds: "
          f"{', '.join(f'{m:.1f}' for m in means)})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
