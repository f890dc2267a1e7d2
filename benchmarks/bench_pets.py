"""Benchmark of notebook 06: PETS on Pendulum-v1 (sample efficiency and planning speed).

Measures the *reference solution itself*: the functions are taken from the solution and
read-only cells of ``solutions/06_uncertainty_and_ensembles.ipynb`` (``gaussian_nll``,
``bound_log_var``, ``bootstrap_indices``, ``GaussianEnsemble``, ``train_ensemble``,
``propagate``, ``ensemble_objective``, the PETS planner, ``run_pets`` and the experiment
cell with ``PETSConfig``), so the figures printed here are the ones the notebook's code achieves.
The reward is known, the dynamics are learned from the collected transitions only.

Targets (issue 8):

* PETS reaches a mean return >= -160 on 10 fixed evaluation reset seeds (0..9; training used
  other seeds) within <= 1,200 environment steps;
* planning takes <= 85 ms per action with a 5-member ensemble of 3x200 networks, population 350,
  horizon 15, 5 CEM iterations and one particle per candidate.

Target (issue 19): the planner within 1.5x of the matrix-multiply floor at one thread. The floor
of a configuration is its FLOPs per action (N P H iterations rows through the network, 2 FLOPs per
multiply-add) divided by the rate this machine's ``torch.bmm`` reaches on the planner's hidden
layer, (E, N P / E, hidden) x (E, hidden, hidden), measured right before and after the planner's
calls. The planner's network runs through ``mbrl_helpers.fused.FusedEnsemble`` (notebook 06's
``pendulum_step_fn``); "plain" is the same planner calling the model's forward at every step,
as notebook 06 did before, for comparison.

Usage::

    python benchmarks/bench_pets.py                     # speed, then PETS with 1,200 steps
    python benchmarks/bench_pets.py --skip-learning     # planning speed only
    python benchmarks/bench_pets.py --train-seeds 3 --baseline  # 3 seeds, + deterministic model
    python benchmarks/bench_pets.py --config notebook   # the lighter planner the notebook runs
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MBRL_FAST", "0")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine, returns_summary  # noqa: E402

NOTEBOOK = "06_uncertainty_and_ensembles"
CELLS = [
    "setup",
    "tools_from_05",
    "gaussian_nll",
    "bound_log_var",
    "bootstrap_indices",
    "gaussian_ensemble",
    "train_ensemble",
    "pendulum_model",
    "propagate",
    "ensemble_objective",
    "pets_planner",
    "run_pets",
    "pets_experiment",
]
TARGET_RETURN, MAX_STEPS, TARGET_MS, TARGET_FLOOR = -160.0, 1200, 85.0, 1.5


def load_reference() -> dict:
    """Execute the reference cells of notebook 06 in a fresh namespace and return it."""
    return load_cells(NOTEBOOK, CELLS)


def plain_step_fn(ns: dict, model, sample: bool = True, generator=None):
    """Notebook 06's step function before issue 19: the model's forward at every step, unfused."""
    torch, pendulum = ns["torch"], ns["pendulum"]

    def step(states, actions):
        mean, log_var = model(torch.cat([states, actions], dim=-1))
        if sample:
            mean = mean + torch.randn(mean.shape, generator=generator) * torch.exp(0.5 * log_var)
        nxt = states + model.out_mean + model.out_std * mean
        return torch.stack([pendulum.angle_normalize(nxt[..., 0]), nxt[..., 1]], dim=-1)

    return step


def flops_per_action(cfg) -> float:
    """Matrix-multiply FLOPs of one planner call: N P H iterations network rows, 2 per
    multiply-add."""
    dims = [3] + [cfg.hidden] * cfg.n_hidden + [4]
    per_row = sum(2 * a * b for a, b in zip(dims[:-1], dims[1:], strict=False))
    return cfg.population * cfg.n_particles * cfg.horizon * cfg.n_iters * per_row


def bmm_rate(torch, cfg, repeats: int = 40) -> float:
    """GFLOP/s of torch.bmm on the planner's hidden-layer shape, median of `repeats` calls."""
    rows = cfg.population * cfg.n_particles // cfg.n_members
    a = torch.randn(cfg.n_members, rows, cfg.hidden)
    w = torch.randn(cfg.n_members, cfg.hidden, cfg.hidden)
    out = torch.empty(cfg.n_members, rows, cfg.hidden)
    for _ in range(5):
        torch.bmm(a, w, out=out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.bmm(a, w, out=out)
        times.append(time.perf_counter() - start)
    return 2 * cfg.n_members * rows * cfg.hidden**2 / float(np.median(times)) / 1e9


def planning_speed(ns: dict, cfg, threads: int, n_calls: int = 30, fused: bool = True) -> dict:
    """ms per action of the PETS planner for cfg (ensemble fit to random data): median and minimum
    over n_calls, and the torch.bmm rate measured before and after them (GFLOP/s, their mean).

    The machine may be shared: the minimum is the least disturbed call, the median the typical one.
    """
    torch, gym = ns["torch"], ns["gym"]
    torch.set_num_threads(threads)
    model, planner, train_fn = ns["make_agent"]("pets", cfg, seed=0)
    if not fused:
        planner.step_fn = plain_step_fn(ns, model, generator=torch.Generator().manual_seed(1))
    train_fn(ns["collect_random"](gym.make("Pendulum-v1"), 200, seed=100))
    rng = np.random.default_rng(0)
    states = np.c_[rng.uniform(-np.pi, np.pi, n_calls + 3), rng.uniform(-8, 8, n_calls + 3)]
    rate_before = bmm_rate(torch, cfg)
    times = []
    for i, state in enumerate(states):
        start = time.perf_counter()
        planner(state)
        if i >= 3:  # warm-up calls
            times.append(time.perf_counter() - start)
    rate = (rate_before + bmm_rate(torch, cfg)) / 2
    return {
        "ms": 1e3 * float(np.median(times)),
        "ms_min": 1e3 * float(np.min(times)),
        "gflops": rate,
        "floor_ms": 1e3 * flops_per_action(cfg) / (rate * 1e9),
    }


def mbrl_lib_side_by_side(ns: dict, cfg, threads: int, n_calls: int = 30) -> tuple[float, float]:
    """Median ms per action of this course's PETS planner and of mbrl-lib's
    (``TrajectoryOptimizerAgent`` with ``CEMOptimizer`` over a ``GaussianMLP`` ensemble of the
    same size, TS∞ as ``propagation_method="fixed_model"``, one particle), calls interleaved
    in this process. mbrl-lib plans on the observation (cos θ, sin θ, θ_dot), so its network
    has one input and one output more; its weights are random (the time of a plan does not
    depend on them), its normalization statistics those of the 200 random transitions our
    ensemble is fitted to."""
    import mbrl.models
    import mbrl.planning
    import mbrl.types
    import omegaconf

    torch, gym = ns["torch"], ns["gym"]
    torch.set_num_threads(threads)
    env = gym.make("Pendulum-v1")
    data = ns["collect_random"](env, 200, seed=100)
    model, planner, train_fn = ns["make_agent"]("pets", cfg, seed=0)
    train_fn(data)
    states, actions, next_states = (t.numpy() for t in data.tensors())

    def obs(s):
        return np.c_[np.cos(s[:, 0]), np.sin(s[:, 0]), s[:, 1]].astype(np.float32)

    net = mbrl.models.GaussianMLP(
        in_size=4, out_size=3, device="cpu", num_layers=cfg.n_hidden + 1,
        ensemble_size=cfg.n_members, hid_size=cfg.hidden, propagation_method="fixed_model",
        activation_fn_cfg={"_target_": "torch.nn.SiLU"})
    dynamics = mbrl.models.OneDTransitionRewardModel(net, target_is_delta=True, normalize=True,
                                                     learned_rewards=False)
    n = len(states)
    dynamics.update_normalizer(mbrl.types.TransitionBatch(
        obs(states), actions.astype(np.float32), obs(next_states), np.zeros(n, np.float32),
        np.zeros(n, bool), np.zeros(n, bool)))

    def reward_fn(act, next_obs):
        theta = torch.atan2(next_obs[:, 1], next_obs[:, 0])
        return -(theta**2 + 0.1 * next_obs[:, 2] ** 2 + 0.001 * act[:, 0] ** 2).view(-1, 1)

    def no_termination(act, next_obs):
        return torch.zeros(len(next_obs), 1, dtype=torch.bool)

    model_env = mbrl.models.ModelEnv(env, dynamics, no_termination, reward_fn,
                                     generator=torch.Generator().manual_seed(0))
    agent_cfg = omegaconf.OmegaConf.create({
        "_target_": "mbrl.planning.TrajectoryOptimizerAgent", "_recursive_": False,  # as hydra 1.0
        "planning_horizon": cfg.horizon,
        "replan_freq": 1, "verbose": False, "action_lb": [-2.0], "action_ub": [2.0],
        "optimizer_cfg": {"_target_": "mbrl.planning.CEMOptimizer", "num_iterations": cfg.n_iters,
                          "elite_ratio": cfg.n_elites / cfg.population,
                          "population_size": cfg.population, "alpha": 0.1, "device": "cpu",
                          "lower_bound": "???", "upper_bound": "???", "return_mean_elites": True,
                          "clipped_normal": False}})
    agent = mbrl.planning.create_trajectory_optim_agent_for_model(
        model_env, agent_cfg, num_particles=cfg.n_particles)
    rng = np.random.default_rng(0)
    starts = np.c_[rng.uniform(-np.pi, np.pi, n_calls + 3), rng.uniform(-8, 8, n_calls + 3)]
    ours, theirs = [], []
    for i, state in enumerate(starts):
        start = time.perf_counter()
        planner(state)
        mid = time.perf_counter()
        agent.reset()
        agent.act(obs(state[None])[0])
        if i >= 3:  # warm-up calls
            ours.append(mid - start)
            theirs.append(time.perf_counter() - mid)
    return 1e3 * float(np.median(ours)), 1e3 * float(np.median(theirs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="evaluation reset seeds 0..seeds-1")
    parser.add_argument("--train-seeds", type=int, default=1, help="repeat training with seeds 0..")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the learning run")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-learning", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="also run the deterministic model")
    parser.add_argument(
        "--config",
        choices=["issue", "notebook"],
        default="issue",
        help="learn with PETSConfig() (issue) or the notebook's NOTEBOOK_CONFIG",
    )
    args = parser.parse_args(argv)
    ns = load_reference()
    torch, cfg, nb_cfg = ns["torch"], ns["PETSConfig"](), ns["NOTEBOOK_CONFIG"]
    print("notebook 06 benchmark: PETS on Pendulum-v1, known reward, learned dynamics")
    print(f"machine: {machine()}")
    ok = True
    if not args.skip_speed:
        print(
            "\nplanning speed (median ms per action over 30 calls, float32, inference mode; "
            "timings depend on the load average above). floor = FLOPs per action / torch.bmm rate "
            "on the hidden layer's shape, measured before and after the calls:"
        )
        configs = [
            ("issue's configuration", cfg),
            ("same at horizon 30", replace(cfg, horizon=30)),
            ("notebook's configuration", nb_cfg),
        ]
        for name, c in configs:
            print(
                f"  {name}: E={c.n_members}, {c.n_hidden}x{c.hidden}, N={c.population}, "
                f"H={c.horizon}, "
                f"{c.n_iters} iterations, P={c.n_particles}: "
                f"{flops_per_action(c) / 1e9:.2f} GFLOP per action"
            )
            for threads in (1, 2):
                for fused in (True, False):
                    r = planning_speed(ns, c, threads, fused=fused)
                    print(
                        f"    {threads} thread(s), {'fused' if fused else 'plain'}: "
                        f"{r['ms']:6.1f} ms/action "
                        f"(fastest {r['ms_min']:.1f}); bmm {r['gflops']:5.1f} GFLOP/s, floor "
                        f"{r['floor_ms']:5.1f} ms, planner = {r['ms'] / r['floor_ms']:.2f} x floor"
                    )
                    if c is cfg and threads == 1 and fused:
                        ok &= r["ms"] <= TARGET_MS and r["ms"] / r["floor_ms"] <= TARGET_FLOOR
                        speed_1, multiple_1 = r["ms"], r["ms"] / r["floor_ms"]
        print(
            f"  target <= {TARGET_MS:.0f} ms/action (1 thread): "
            f"{'met' if speed_1 <= TARGET_MS else 'NOT met'} ({speed_1:.1f} ms)"
        )
        print(
            f"  target <= {TARGET_FLOOR} x the floor (H=15, 1 thread, fused): "
            f"{'met' if multiple_1 <= TARGET_FLOOR else 'NOT met'} ({multiple_1:.2f} x)"
        )
        print("\nside by side with mbrl-lib (median ms per action, calls interleaved):")
        if importlib.util.find_spec("mbrl") is None:
            print("  mbrl-lib is not importable here: skipped (it pins old gymnasium and "
                  "hydra-core; pip install --no-deps mbrl==0.2.0 omegaconf hydra-core into a "
                  "copy of the venv)")
        else:
            for name, c in configs[:2]:
                for threads in (1, 2):
                    ours, theirs = mbrl_lib_side_by_side(ns, c, threads)
                    print(f"  {name}, {threads} thread(s): this course {ours:6.1f}, mbrl-lib "
                          f"{theirs:6.1f} (mbrl-lib / this course = {theirs / ours:.2f})")
    if not args.skip_learning:
        torch.set_num_threads(args.threads)
        cfg = cfg if args.config == "issue" else nb_cfg
        print(
            f"\nlearning ({args.config} configuration): {cfg}\nevaluation: MPC through the "
            f"final model on reset seeds 0..{args.seeds - 1}; {args.threads} torch thread(s)\n"
        )
        kinds = ["pets"] + (["deterministic"] if args.baseline else [])
        means = {kind: [] for kind in kinds}
        for kind in kinds:
            for train_seed in range(args.train_seeds):
                start = time.perf_counter()
                model, planner, buffer, collect = ns["run_experiment"](kind, cfg, seed=train_seed)
                train_s = time.perf_counter() - start
                returns, visited = ns["evaluate"](planner, range(args.seeds))
                eval_s = time.perf_counter() - start - train_s
                means[kind].append(returns.mean())
                if kind == "pets":
                    ok &= len(buffer) <= MAX_STEPS
                print(
                    f"{kind} training seed {train_seed}: {len(buffer)} env steps, episode "
                    f"returns {np.round(collect, 1).tolist()}; {train_s:.1f} s\n"
                    f"    evaluation: {returns_summary(returns)}; {eval_s:.1f} s "
                    f"({1e3 * eval_s / len(visited):.1f} ms per action)"
                )
        met = min(means["pets"]) >= TARGET_RETURN
        ok &= met
        print(
            f"\ntarget PETS mean return >= {TARGET_RETURN} within <= {MAX_STEPS} env steps: "
            f"{'met' if met else 'NOT met'} (means over training seeds: "
            f"{', '.join(f'{m:.1f}' for m in means['pets'])})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
