"""Benchmark of notebook 05: system identification vs the MLP, data efficiency (issue 16).

Runs the *reference solution itself*: the cells of ``solutions/05_learning_dynamics.ipynb`` up
to the system-identification section (``fit_gray_box``, the two gray-box structures, the MLP of
the notebook trained by its ``train_dynamics``), then the section's experiment cell, which prints
the data-efficiency table: one-step θ_dot error and median angle error after 25 open-loop steps
vs the number of random transitions (10 to 10,000, five pools), for the right gray box, the
small-angle gray box and the MLP, and the error of the fitted constants with process noise.
``--mpc`` also runs the section's MPC comparison (swing-up from hanging down, three episodes).

Usage::

    python benchmarks/bench_sysid.py          # the table (about 30 s on the course machine)
    python benchmarks/bench_sysid.py --mpc    # and MPC through each model (about 50 s more)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MBRL_FAST", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine  # noqa: E402

NOTEBOOK = "05_learning_dynamics"
#: what the section needs: the model and its training, the held-out data and open-loop errors of the
#: v0.5 section (demo_v05_model, demo_drift), the planner and its loop, then the section itself
CELLS = ["setup", "random_data", "delta_targets", "normalization_stats", "dynamics_model",
         "predict_next_states", "train_dynamics", "true_transitions", "demo_v05_model",
         "model_rollout", "demo_drift", "cem_planner", "run_planner_episode", "mbrl_loops",
         "sysid_structures", "fit_gray_box"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpc", action="store_true",
                        help="also plan through each model (swing-up)")
    args = parser.parse_args(argv)
    print("notebook 05 benchmark: system identification (gray box by least squares) vs the MLP")
    print("(the cells of the earlier sections print their own lines first)\n")
    ns = load_cells(NOTEBOOK, CELLS)
    print(f"\nmachine: {machine()}\n")
    for cell in ["sysid_run"] + (["sysid_mpc"] if args.mpc else []):
        start = time.perf_counter()
        load_cells(NOTEBOOK, [cell], into=ns)
        print(f"[{cell}: {time.perf_counter() - start:.1f} s]\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
