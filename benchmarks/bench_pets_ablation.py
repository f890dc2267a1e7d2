"""Benchmark of notebook 06: the PETS paper's ablation (model class x propagation) on the pendulum.

Chua et al. (2018, *Deep RL in a Handful of Trials using Probabilistic Dynamics Models*) compare
model classes and ways to propagate through them, and find the probabilistic ensemble with
trajectory sampling (PE-TS) the most sample efficient. This script runs that comparison with the
*reference solution itself*: ``GaussianEnsemble``, ``train_ensemble``, ``propagate``,
``ensemble_objective``, the PETS planner and ``run_pets`` are taken from the cells of
``solutions/06_uncertainty_and_ensembles.ipynb``. Only the variants are assembled here.

Model classes (``n_members`` networks of ``n_hidden`` x ``hidden`` units):

* D: one deterministic network (mean squared error);
* P: one probabilistic network (Gaussian NLL, learned variance);
* DE: a bootstrap ensemble of deterministic networks;
* PE: a bootstrap ensemble of probabilistic networks.

Propagation of the candidates' particles: TS1 (a new member at every step), TSinf (one member
per particle for the whole horizon), E (expectation: the average of the members' mean
predictions, one deterministic trajectory per candidate). Probabilistic models sample their
Gaussian in TS; a single network has one member, so TS1 = TSinf there.

Settings: (a) ``Pendulum-v1`` after one episode of random torques; (b) the same with process
noise on θ_dot (``mbrl_helpers.noisy_pendulum.NoisyPendulumEnv``, the noisy pendulum of notebook
01); (c) small data: ``Pendulum-v1`` from a few random steps only. Every setting prints the
return of every episode of ``run_pets`` (the learning curve from the first MPC episode), mean ±
s.e. over training seeds, and the planner's milliseconds per action.

Usage::

    python benchmarks/bench_pets_ablation.py               # 5 training seeds, all cells
    python benchmarks/bench_pets_ablation.py --quick       # the smoke test: tiny budget, < 1 min
    python benchmarks/bench_pets_ablation.py --seeds 10 --settings noisy --variants D-E PE-TSinf
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MBRL_FAST", "0")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: find common.py
from common import load_cells, machine  # noqa: E402

NOTEBOOK = "06_uncertainty_and_ensembles"
CELLS = ["setup", "tools_from_05", "gaussian_nll", "bound_log_var", "bootstrap_indices",
         "gaussian_ensemble", "train_ensemble", "pendulum_model", "propagate", "ensemble_objective",
         "pets_planner", "run_pets"]

#: model class -> (ensemble?, probabilistic?); the propagations that make sense for each.
MODELS = {"D": (False, False), "P": (False, True), "DE": (True, False), "PE": (True, True)}
VARIANTS = ["D-E", "P-E", "P-TS", "DE-E", "DE-TS1", "DE-TSinf", "PE-E", "PE-TS1", "PE-TSinf"]


@dataclass(frozen=True)
class AblationConfig:
    """One cell of the table: the data budget, the networks and the planner (small, for CPUs)."""

    n_random: int = 200  # random-torque steps before the first model
    n_episodes: int = 3  # MPC episodes of run_pets (the learning curve)
    episode_len: int = 200  # steps per episode (Pendulum-v1 truncates at 200)
    sigma: float = 0.0  # process noise on θ_dot after every step (0: Pendulum-v1)
    n_members: int = 5  # ensemble size of DE and PE
    hidden: int = 64  # width of every hidden layer
    n_hidden: int = 2  # number of hidden layers
    horizon: int = 15  # planning horizon H
    population: int = 100  # CEM population N (divisible by n_members)
    n_elites: int = 10  # CEM elites
    n_iters: int = 3  # CEM iterations per action
    n_particles: int = 5  # particles P per candidate (TS; E propagates one trajectory)
    first_steps: int = 400  # gradient steps (batches of 32) of the first training, on random data
    steps: int = 200  # gradient steps of every retraining (continues from the current weights)
    lr: float = 1e-2  # Adam's learning rate (small networks, few steps: as in the notebook)


SETTINGS = {
    "pendulum": AblationConfig(),
    "noisy": AblationConfig(sigma=0.3),
    "small": AblationConfig(n_random=30),
}
QUICK = dict(n_episodes=2, episode_len=15, hidden=16, population=20, n_elites=4,
             n_iters=2, horizon=5, first_steps=5, steps=2)


def make_variant(ns: dict, variant: str, cfg: AblationConfig, seed: int):
    """(notebook namespace, 'PE-TSinf', config, seed) -> (planner, train_fn for run_pets)."""
    torch = ns["torch"]
    model_class, prop = variant.split("-")
    ensemble, probabilistic = MODELS[model_class]
    torch.manual_seed(seed)
    model = ns["GaussianEnsemble"](3, 2, n_members=cfg.n_members if ensemble else 1,
                                   hidden=cfg.hidden, n_hidden=cfg.n_hidden)
    if prop == "E":
        step_fn, n_members, mode = expectation_step_fn(ns, model), 1, "ts_inf"
    else:
        gen = torch.Generator().manual_seed(seed + 1)
        step_fn = ns["pendulum_step_fn"](model, sample=probabilistic, generator=gen)
        n_members, mode = model.n_members, "ts1" if prop == "TS1" else "ts_inf"
    particles = 1 if prop == "E" else cfg.n_particles
    planner = ns["PETSPlanner"](step_fn, n_members, cfg.horizon, cfg.population, cfg.n_elites,
                                cfg.n_iters, particles, mode=mode, seed=seed)
    calls = []

    def train_fn(buffer):
        calls.append(len(buffer))
        steps = cfg.first_steps if len(calls) == 1 else cfg.steps
        n_epochs = max(1, math.ceil(steps / math.ceil(len(buffer) / 32)))  # batches of 32
        ns["train_pendulum_model"](model, buffer, n_epochs=n_epochs, seed=seed + len(buffer),
                                   bootstrap=ensemble, loss="nll" if probabilistic else "mse",
                                   lr=cfg.lr)

    return planner, train_fn


def expectation_step_fn(ns: dict, model):
    """One trajectory per candidate through the average of the members' mean predictions."""
    torch, pendulum = ns["torch"], ns["pendulum"]

    def step(states, actions):  # (1, B, 2), (1, B, 1) -> (1, B, 2)
        x = torch.cat([states, actions], dim=-1).expand(model.n_members, -1, -1)
        mean = model(x)[0].mean(dim=0)
        nxt = states[0] + model.out_mean + model.out_std * mean
        return torch.stack([pendulum.angle_normalize(nxt[:, 0]), nxt[:, 1]], dim=-1)[None]

    return step


class TimedPlanner:
    """Wraps a planner and adds up the seconds spent in its calls."""

    def __init__(self, planner):
        self.planner, self.seconds, self.calls = planner, 0.0, 0

    def reset(self):
        self.planner.reset()

    def __call__(self, state):
        start = time.perf_counter()
        action = self.planner(state)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return action


def run_one(ns: dict, variant: str, cfg: AblationConfig, seed: int) -> tuple[list[float], float]:
    """One training run: random data, then run_pets; (episode returns, planning ms per action)."""
    from mbrl_helpers.noisy_pendulum import NoisyPendulumEnv

    env = NoisyPendulumEnv(cfg.sigma)
    buffer = ns["collect_random"](env, cfg.n_random, seed=seed + 100)
    planner, train_fn = make_variant(ns, variant, cfg, seed)
    timed = TimedPlanner(planner)
    returns = ns["run_pets"](env, buffer, train_fn, timed, cfg.n_episodes, seed=seed + 1000,
                             max_steps=cfg.episode_len)
    return returns, 1e3 * timed.seconds / max(timed.calls, 1)


def mean_se(values) -> str:
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{values.mean():7.1f} ± {se:5.1f}"


def run_setting(ns: dict, name: str, cfg: AblationConfig, variants, seeds) -> dict:
    """Print the table of one setting; return {variant: (returns (seeds, episodes), ms)}."""
    print(f"\nsetting {name}: {cfg}")
    print(f"{'variant':9s} | " + " | ".join(f"episode {k + 1:<7d}" for k in range(cfg.n_episodes))
          + " | mean of all  | ms/action")
    results = {}
    for variant in variants:
        start, runs, ms = time.perf_counter(), [], []
        for seed in seeds:
            returns, ms_action = run_one(ns, variant, cfg, seed)
            runs.append(returns)
            ms.append(ms_action)
        runs = np.array(runs)
        results[variant] = (runs, float(np.median(ms)))
        print(f"{variant:9s} | " + " | ".join(mean_se(runs[:, k]) for k in range(cfg.n_episodes))
              + f" | {mean_se(runs.mean(1))} | {np.median(ms):6.1f}   "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return results


def compare(results: dict, a: str = "PE-TSinf", b: str = "D-E") -> None:
    """The paired difference a - b per episode (same training seeds and reset seeds)."""
    if a not in results or b not in results:
        return
    diff = results[a][0] - results[b][0]
    print(f"{a} - {b} (paired over training seeds): " + ", ".join(
        f"ep {k + 1}: {mean_se(diff[:, k]).strip()} ({(diff[:, k] > 0).mean():.0%} of seeds > 0)"
        for k in range(diff.shape[1])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="training seeds 0..seeds-1")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS)
    parser.add_argument("--quick", action="store_true", help="tiny budget: a smoke test")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override config fields of every setting, e.g. hidden=32")
    args = parser.parse_args(argv)
    ns = load_cells(NOTEBOOK, CELLS)
    ns["torch"].set_num_threads(1)
    types = {f.name: f.type for f in fields(AblationConfig)}
    overrides = {k: (float if types[k] in ("float", float) else int)(v)
                 for k, v in (item.split("=", 1) for item in args.set)}
    seeds = range(2 if args.quick else args.seeds)
    print("notebook 06 benchmark: the PETS ablation (model class x propagation), pendulum")
    print(f"machine: {machine()}")
    print("returns of the MPC episodes of run_pets, mean ± s.e. over training seeds "
          f"{list(seeds)}; ms/action: median over seeds of the planner's mean time per action")
    start = time.perf_counter()
    for name in args.settings:
        cfg = replace(SETTINGS[name], **(QUICK if args.quick else {}), **overrides)
        compare(run_setting(ns, name, cfg, args.variants, seeds))
    print(f"\ntotal {time.perf_counter() - start:.0f} s; machine at the end: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
