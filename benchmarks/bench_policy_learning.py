"""Benchmark of notebook 07: a policy learned through the model vs CEM MPC, on Pendulum-v1.

Measures the *reference solution itself*: the functions come from the cells of
``solutions/07_model_based_policy_learning.ipynb`` (``TanhPolicy``, ``rollout_return``,
``policy_gradient_step``, ``random_start_states``, ``train_policy``, ``evaluate_policy`` and the
learned model), and CEM MPC from notebook 02 via ``bench_cem_mpc.load_reference``, so both are
evaluated on the same reset seeds on the same machine.

Printed: training time, mean return over reset seeds 0..seeds-1 with its standard error, and the
cost per action (a policy forward pass vs a CEM plan). No targets are asserted.

Usage::

    python benchmarks/bench_policy_learning.py              # exact model, learned model, CEM MPC
    python benchmarks/bench_policy_learning.py --seeds 10 --no-cem --no-learned
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cem_mpc  # noqa: E402
from common import load_cells, machine, returns_summary  # noqa: E402

NOTEBOOK = "07_model_based_policy_learning"
CELLS = ["setup", "tanh_policy", "rollout_return", "policy_gradient_step", "random_start_states",
         "train_evaluate", "learned_model"]


def load_reference() -> dict:
    """Execute the reference cells of notebook 07 in a fresh namespace and return it."""
    return load_cells(NOTEBOOK, CELLS)


def ms_per_action(ns: dict, policy, repeats: int = 2000) -> float:
    """Wall time of one policy forward pass on a single state, in milliseconds."""
    torch = ns["torch"]
    state = torch.tensor([[np.pi, 0.0]])
    with torch.no_grad():
        policy(state)
        t0 = time.perf_counter()
        for _ in range(repeats):
            policy(state)
    return 1e3 * (time.perf_counter() - t0) / repeats


def report(name: str, returns: np.ndarray, extra: str) -> None:
    print(f"{name}\n    {returns_summary(returns)}; {extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="reset seeds 0..seeds-1")
    parser.add_argument("--steps", type=int, default=300, help="policy gradient steps")
    parser.add_argument("--horizon", type=int, default=40, help="model rollout horizon H")
    parser.add_argument("--no-cem", dest="cem", action="store_false", help="skip CEM MPC")
    parser.add_argument("--no-learned", dest="learned", action="store_false",
                        help="skip the policy learned through a learned model")
    args = parser.parse_args(argv)
    ns = load_reference()
    ns["torch"].set_num_threads(1)
    seeds = range(args.seeds)
    print("notebook 07 benchmark: policy learned by backpropagation through the model, Pendulum-v1")
    print(f"machine: {machine()}")
    print(f"reset seeds 0..{args.seeds - 1}; policy: {args.steps} steps of Adam, batch 64, "
          f"H={args.horizon}, gradient norm clipped to 10\n")
    models = {"exact model (mbrl_helpers.pendulum.step)": lambda: ns["pendulum"].step}
    if args.learned:
        models["learned model (3000 random transitions, cos/sin inputs)"] = (
            lambda: ns["fit_learned_model"](3000, n_epochs=60))
    for name, make in models.items():
        t0 = time.perf_counter()
        dynamics = make()
        policy, _ = ns["train_policy"](dynamics, args.steps, horizon=args.horizon)
        train_s = time.perf_counter() - t0
        returns = ns["evaluate_policy"](policy, seeds)
        report(f"policy through the {name}", returns,
               f"training {train_s:.1f} s; {ms_per_action(ns, policy):.3f} ms per action")
    if args.cem:
        ref02 = bench_cem_mpc.load_reference()
        make_cem = lambda s: ref02["make_cem_planner"](100, 10, 3, seed=s)  # noqa: E731
        returns, _, sec = ref02["run_mpc"](make_cem, seeds, 30)
        report("CEM MPC, true dynamics (notebook 02: H=30, N=100, M=10, 3 iterations)", returns,
               f"{1e3 * sec:.2f} ms per action")
    return 0


if __name__ == "__main__":
    sys.exit(main())
