"""Brute-force shooting solution of linear-quadratic problems (notebook 04's test route)."""

from __future__ import annotations

import numpy as np
import pytest

from mbrl_helpers.linear_systems import (
    double_integrator,
    lq_cost,
    shooting_optimum,
    shooting_quadratic,
)


def _problem(rng, horizon=6, n=3, m=2):
    A = rng.normal(size=(horizon, n, n)) * 0.5 + np.eye(n)
    B = rng.normal(size=(horizon, n, m))
    L = rng.normal(size=(horizon, n + m, n + m))
    C = L @ np.swapaxes(L, 1, 2) + 0.1 * np.eye(n + m)
    Lf = rng.normal(size=(n, n))
    c = rng.normal(size=(horizon, n + m))
    return A, B, C, c, Lf @ Lf.T, rng.normal(size=n), rng.normal(size=n)


def test_double_integrator_moves_a_point_mass():
    A, B = double_integrator(3, dt=0.5)
    assert A.shape == (3, 2, 2) and B.shape == (3, 2, 1)
    s = np.array([1.0, 2.0])
    for t in range(3):  # constant force 1: x = 1 + 2 t + t^2 / 2
        s = A[t] @ s + B[t] @ np.ones(1)
    assert np.allclose(s, [1.0 + 2 * 1.5 + 0.5 * 1.5**2, 2.0 + 1.5])
    with pytest.raises(ValueError):
        double_integrator(0)


def test_shooting_quadratic_equals_simulated_cost():
    rng = np.random.default_rng(0)
    problem = _problem(rng)
    G, g, g0 = shooting_quadratic(*problem)
    assert G.shape == (12, 12) and np.allclose(G, G.T)
    for _ in range(5):
        u = rng.normal(size=12)
        assert np.isclose(0.5 * u @ G @ u + g @ u + g0, lq_cost(*problem, u.reshape(6, 2)))


def test_shooting_optimum_has_zero_gradient_and_beats_perturbations():
    rng = np.random.default_rng(1)
    problem = _problem(rng)
    actions, best = shooting_optimum(*problem)
    assert actions.shape == (6, 2)
    assert np.isclose(best, lq_cost(*problem, actions))
    eps = 1e-6
    for i in range(12):
        d = np.zeros(12)
        d[i] = eps
        up = lq_cost(*problem, actions + d.reshape(6, 2))
        down = lq_cost(*problem, actions - d.reshape(6, 2))
        assert abs(up - down) / (2 * eps) < 1e-5
        assert up >= best and down >= best


def test_shapes_are_checked():
    rng = np.random.default_rng(2)
    A, B, C, c, Cf, cf, s0 = _problem(rng)
    with pytest.raises(ValueError, match="C must have shape"):
        shooting_quadratic(A, B, C[:, :-1], c, Cf, cf, s0)
    with pytest.raises(ValueError, match="actions"):
        lq_cost(A, B, C, c, Cf, cf, s0, np.zeros((5, 2)))
