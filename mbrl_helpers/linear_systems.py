"""Linear dynamics with quadratic costs, and the brute-force solution of the shooting problem.

Introduced in notebook ``04_trajectory_optimization`` (sections "LQR" and "Shooting is badly
conditioned"). Everything here takes the *shooting* route: the actions ``a_0..a_{H-1}`` are the
only unknowns, the states are eliminated with the dynamics, and the total cost becomes one
quadratic function of the stacked action vector. The notebook's LQR backward pass must agree with
it (it is the test's independent route) and is much cheaper for long horizons.

Conventions (shapes, ``n`` = state dimension, ``m`` = action dimension, ``H`` = horizon)::

    s_{t+1} = A_t s_t + B_t a_t                       A (H, n, n), B (H, n, m)
    c_t(s, a) = 1/2 z^T C_t z + c_t^T z,  z = (s, a)  C (H, n+m, n+m), c (H, n+m)
    c_H(s)    = 1/2 s^T C_final s + c_final^T s       C_final (n, n), c_final (n,)
    J(a_{0:H-1}) = sum_t c_t(s_t, a_t) + c_H(s_H)
"""

from __future__ import annotations

import numpy as np


def double_integrator(horizon: int, dt: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A point mass on a line: state ``(position, velocity)``, action = force (unit mass).

    Returns:
        ``(A, B)`` of shapes ``(H, 2, 2)`` and ``(H, 2, 1)`` (the same matrices at every step),
        the exact discretization for a force held constant over ``dt``.
    """
    if horizon < 1 or dt <= 0:
        raise ValueError(f"need horizon >= 1 and dt > 0, got {horizon}, {dt}")
    a = np.array([[1.0, dt], [0.0, 1.0]])
    b = np.array([[0.5 * dt**2], [dt]])
    return np.repeat(a[None], horizon, 0), np.repeat(b[None], horizon, 0)


def _check(A, B, C, c, C_final, c_final, s0) -> tuple[int, int, int]:
    horizon, n, m = B.shape
    shapes = {"A": (A.shape, (horizon, n, n)), "C": (C.shape, (horizon, n + m, n + m)),
              "c": (c.shape, (horizon, n + m)), "C_final": (C_final.shape, (n, n)),
              "c_final": (c_final.shape, (n,)), "s0": (s0.shape, (n,))}
    for name, (got, want) in shapes.items():
        if tuple(got) != want:
            raise ValueError(f"{name} must have shape {want}, got {tuple(got)}")
    return horizon, n, m


def shooting_quadratic(A, B, C, c, C_final, c_final, s0) -> tuple[np.ndarray, np.ndarray, float]:
    """The total cost as a quadratic function of the stacked actions ``u = a_{0:H-1}.ravel()``.

    Returns:
        ``(G, g, g0)`` with ``J(u) = 1/2 u^T G u + g^T u + g0``; ``G`` is ``(H m, H m)``,
        the Hessian that a shooting method works with.
    """
    arrays = [np.asarray(x, dtype=float) for x in (A, B, C, c, C_final, c_final, s0)]
    A, B, C, c, C_final, c_final, s0 = arrays
    horizon, n, m = _check(A, B, C, c, C_final, c_final, s0)
    G, g, g0 = np.zeros((horizon * m, horizon * m)), np.zeros(horizon * m), 0.0
    s_const, s_lin = s0.copy(), np.zeros((n, horizon * m))  # s_t = s_const + s_lin @ u
    for t in range(horizon):
        select = np.zeros((m, horizon * m))
        select[:, t * m:(t + 1) * m] = np.eye(m)
        z_const, z_lin = np.concatenate([s_const, np.zeros(m)]), np.vstack([s_lin, select])
        G += z_lin.T @ C[t] @ z_lin
        g += z_lin.T @ (C[t] @ z_const + c[t])
        g0 += 0.5 * z_const @ C[t] @ z_const + c[t] @ z_const
        s_const, s_lin = A[t] @ s_const, A[t] @ s_lin + B[t] @ select
    G += s_lin.T @ C_final @ s_lin
    g += s_lin.T @ (C_final @ s_const + c_final)
    g0 += 0.5 * s_const @ C_final @ s_const + c_final @ s_const
    return 0.5 * (G + G.T), g, float(g0)


def shooting_optimum(A, B, C, c, C_final, c_final, s0) -> tuple[np.ndarray, float]:
    """Brute force: solve ``G u = -g`` for all actions at once (``G`` must be positive definite).

    Returns:
        ``(actions (H, m), optimal total cost)``.
    """
    G, g, g0 = shooting_quadratic(A, B, C, c, C_final, c_final, s0)
    u = np.linalg.solve(G, -g)
    return u.reshape(np.shape(B)[0], np.shape(B)[2]), float(0.5 * u @ G @ u + g @ u + g0)


def lq_cost(A, B, C, c, C_final, c_final, s0, actions) -> float:
    """Total cost ``J`` of an open-loop action sequence ``(H, m)``, by simulating the dynamics."""
    arrays = [np.asarray(x, dtype=float) for x in (A, B, C, c, C_final, c_final, s0, actions)]
    A, B, C, c, C_final, c_final, s, actions = arrays
    horizon, _, m = _check(A, B, C, c, C_final, c_final, s)
    if actions.shape != (horizon, m):
        raise ValueError(f"actions must have shape {(horizon, m)}, got {actions.shape}")
    total = 0.0
    for t in range(horizon):
        z = np.concatenate([s, actions[t]])
        total += 0.5 * z @ C[t] @ z + c[t] @ z
        s = A[t] @ s + B[t] @ actions[t]
    return float(total + 0.5 * s @ C_final @ s + c_final @ s)
