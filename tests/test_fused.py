"""mbrl_helpers.fused: the planning copies compute what the models compute (issue 19).

Unit checks against small models written here, then the planners of notebooks 05 and 06
themselves (their cells, run in a subprocess): with the same seed, a planner stepping through
the fused copy makes the same plans as one calling the model's forward at every step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mbrl_helpers import fused as fused_mod
from mbrl_helpers.fused import FusedEnsemble, FusedMLP

from .conftest import ROOT


class Ensemble(nn.Module):
    """The shape of notebook 06's GaussianEnsemble, with the reference forward."""

    def __init__(self, n_members=3, hidden=16, n_hidden=2, in_dim=3, out_dim=2, activation=F.silu):
        super().__init__()
        self.in_dim, self.out_dim, self.n_members, self.activation = (
            in_dim,
            out_dim,
            n_members,
            activation,
        )
        dims = [in_dim] + [hidden] * n_hidden + [2 * out_dim]
        gen = torch.Generator().manual_seed(0)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(n_members, a, b, generator=gen) / a**0.5)
            for a, b in zip(dims[:-1], dims[1:], strict=False)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(0.1 * torch.randn(n_members, 1, b, generator=gen)) for b in dims[1:]
        )
        self.min_log_var = nn.Parameter(torch.full((out_dim,), -6.0))
        self.max_log_var = nn.Parameter(torch.full((out_dim,), 0.5))
        self.register_buffer("in_mean", torch.tensor([0.3, -1.0, 0.2][:in_dim]))
        self.register_buffer("in_std", torch.tensor([1.5, 4.0, 0.8][:in_dim]))
        self.register_buffer("out_mean", torch.tensor([0.05, -0.2][:out_dim]))
        self.register_buffer("out_std", torch.tensor([0.1, 0.7][:out_dim]))

    def forward(self, x):
        h = (x - self.in_mean) / self.in_std
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=False)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = self.activation(h)
        mean, raw = h[..., : self.out_dim], h[..., self.out_dim :]
        log_var = self.max_log_var - F.softplus(self.max_log_var - raw)
        return mean, self.min_log_var + F.softplus(log_var - self.min_log_var)


def ensemble_reference(model):
    def reference(x):
        mean, log_var = model(x)
        return model.out_mean + model.out_std * mean, log_var

    return reference


ONEDNN = [False] + ([True] if fused_mod._onednn_available() else [])


@pytest.mark.parametrize("onednn", ONEDNN, ids=lambda v: "onednn" if v else "bmm")
def test_fused_ensemble_is_the_models_function(onednn):
    model = Ensemble()
    fused = FusedEnsemble(model, ensemble_reference(model), onednn=onednn)
    x = torch.randn(3, 11, 3, generator=torch.Generator().manual_seed(1)) * 3
    with torch.no_grad():
        mean, log_var = model(x)
    got_mean, got_log_var = fused.predict(x)
    assert fused.ok
    torch.testing.assert_close(
        got_mean, model.out_mean + model.out_std * mean, rtol=1e-5, atol=1e-6
    )
    torch.testing.assert_close(got_log_var, log_var, rtol=1e-5, atol=1e-6)
    # sampling draws ε exactly as the plain step does: same generator state, same numbers
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(7))
    plain = model.out_mean + model.out_std * (mean + eps * torch.exp(0.5 * log_var))
    got = fused.delta(x, sample=True, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, plain, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused.delta(x, sample=False), got_mean)


def test_fused_ensemble_follows_training_and_buffers():
    model = Ensemble()
    fused = FusedEnsemble(model, ensemble_reference(model), onednn=False)
    x = torch.randn(3, 5, 3)
    before = fused.delta(x, sample=False)
    with torch.no_grad():
        model.weights[1].add_(0.5)  # what an optimizer step does: in place
        model.out_std.mul_(2.0)
    after = fused.delta(x, sample=False)
    with torch.no_grad():
        expected = model.out_mean + model.out_std * model(x)[0]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-6)


def test_fused_ensemble_falls_back_to_a_forward_that_differs():
    model = Ensemble(activation=torch.tanh)  # not the course's network: the copy must not pretend
    fused = FusedEnsemble(model, ensemble_reference(model))
    x = torch.randn(3, 4, 3)
    with pytest.warns(RuntimeWarning, match="disagrees with the model's forward"):
        got = fused.delta(x, sample=False)
    assert not fused.ok
    with torch.no_grad():
        torch.testing.assert_close(got, model.out_mean + model.out_std * model(x)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warns once, not at every step
        fused.delta(x, sample=False)


def test_fused_ensemble_rejects_bad_shapes():
    model = Ensemble()
    fused = FusedEnsemble(model, ensemble_reference(model))
    for shape in [(3, 4), (2, 4, 3), (3, 4, 2)]:
        with pytest.raises(ValueError, match="x must have shape"):
            fused.delta(torch.zeros(shape))


class MLP(nn.Module):
    """The shape of notebook 05's DynamicsModel (forward on the concatenated input)."""

    def __init__(self, act=nn.SiLU):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 8), act(), nn.Linear(8, 8), act(), nn.Linear(8, 2))
        self.register_buffer("in_mean", torch.tensor([0.1, 2.0, -0.3]))
        self.register_buffer("in_std", torch.tensor([1.8, 3.0, 1.1]))
        self.register_buffer("out_mean", torch.tensor([0.02, -0.1]))
        self.register_buffer("out_std", torch.tensor([0.2, 0.6]))

    def delta(self, x):
        return self.out_mean + self.out_std * self.net((x - self.in_mean) / self.in_std)


@pytest.mark.parametrize("act", [nn.SiLU, nn.Tanh], ids=["silu", "tanh"])
def test_fused_mlp_is_the_models_function(act):
    torch.manual_seed(0)
    model = MLP(act)
    fused = FusedMLP(model, model.delta)
    x = torch.randn(9, 3) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another structure: the reference, silently
        got = fused.delta(x)
    assert fused.ok == (act is nn.SiLU)
    with torch.no_grad():
        torch.testing.assert_close(got, model.delta(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="x must have shape"):
        fused.delta(torch.zeros(9, 2))


PLAN_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    warnings.filterwarnings("error", message=".*fused planning copy")  # a fallback fails the test
    sys.path.insert(0, "benchmarks")
    from common import load_cells
    from bench_pets import plain_step_fn
    out = {}
    ns = load_cells("06_uncertainty_and_ensembles", ["setup", "tools_from_05", "gaussian_nll",
        "bound_log_var", "bootstrap_indices", "gaussian_ensemble", "train_ensemble",
        "pendulum_model", "propagate", "ensemble_objective", "pets_planner", "run_pets",
        "pets_experiment"])
    torch = ns["torch"]
    cfg = ns["PETSConfig"](hidden=128, n_hidden=2, population=100, n_elites=10, n_iters=3,
                           horizon=10)
    model, planner, train_fn = ns["make_agent"]("pets", cfg, seed=0)
    train_fn(ns["collect_random"](ns["gym"].make("Pendulum-v1"), 60, seed=100))
    rng = np.random.default_rng(0)
    states = np.c_[rng.uniform(-np.pi, np.pi, 20), rng.uniform(-8, 8, 20)]
    plans = {}
    for kind in ("fused", "plain"):
        gen = torch.Generator().manual_seed(1)
        step = (ns["pendulum_step_fn"](model, generator=gen) if kind == "fused"
                else plain_step_fn(ns, model, generator=gen))
        p = ns["PETSPlanner"](step, 5, cfg.horizon, cfg.population, cfg.n_elites, cfg.n_iters,
                              seed=3)
        plans[kind] = np.array([(p.reset(), p(s))[1] for s in states])
    out["06"] = np.abs(plans["fused"] - plans["plain"]).max(axis=(1, 2)).tolist()
    ns = load_cells("05_learning_dynamics", ["setup", "random_data", "delta_targets",
        "normalization_stats", "dynamics_model", "predict_next_states", "train_dynamics",
        "model_rollout", "cem_planner"])
    torch = ns["torch"]
    buffer = ns["collect_random"](ns["gym"].make("Pendulum-v1"), 300, seed=3)
    model = ns["DynamicsModel"]()
    ns["train_dynamics"](model, *buffer.tensors(), n_epochs=3, batch_size=64, lr=2e-3, seed=0)
    plans = {}
    for kind in ("fused", "plain"):
        step = (ns["model_step_fn"](model) if kind == "fused"
                else (lambda s, a: ns["predict_next_states"](model, s, a)))
        p = ns["CEMPlanner"](step, horizon=10, n_samples=50, n_elites=5, seed=3)
        plans[kind] = np.array([(p.reset(), p(s))[1] for s in states])
    out["05"] = np.abs(plans["fused"] - plans["plain"]).max(axis=(1, 2)).tolist()
    print(json.dumps(out))
    """
)


def test_planners_make_the_same_plans_with_the_same_seed():
    """Notebooks 06 (PETS, TS∞) and 05 (CEM MPC): 20 states, each planned from a reset planner.

    The fused copy changes float rounding only, so with one seed the elites, and hence the
    plans (means of the same sampled sequences), are the same; a rounding-level tie could
    swap an elite now and then, so at most 2 of 20 plans may differ, by any amount."""
    env = {**os.environ, "MPLBACKEND": "Agg", "MBRL_FAST": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PLAN_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    diffs = json.loads(result.stdout.strip().splitlines()[-1])
    for notebook, d in diffs.items():
        same = sum(v <= 1e-4 for v in d)
        assert same >= 18, f"notebook {notebook}: only {same} of 20 plans agree: {d}"


def test_fused_ensemble_falls_back_when_the_fused_path_fails(monkeypatch):
    """A fused op this torch build or CPU cannot run: the reference plans, with one warning."""
    model = Ensemble()
    fused = FusedEnsemble(model, ensemble_reference(model))

    def broken(x):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(fused, "_plain", broken)
    x = torch.randn(3, 4, 3)
    with pytest.warns(RuntimeWarning, match="the fused copy failed: no such kernel"):
        got = fused.delta(x, sample=False)
    assert not fused.ok
    with torch.no_grad():
        torch.testing.assert_close(got, model.out_mean + model.out_std * model(x)[0])
