"""A 1-D regression problem with noise that varies with x and gaps in the data.

Introduced in notebook ``06_uncertainty_and_ensembles`` (section "Two kinds of uncertainty").
The data show both kinds of uncertainty a model should report:

* **aleatoric** (in the data): the noise standard deviation :func:`noise_std` grows with x,
  so even a perfect model cannot predict y exactly where the noise is large;
* **epistemic** (in the model): x is drawn only from :data:`DATA_RANGES`, so a model knows
  little in the gap between the two ranges and outside them (:func:`in_data` tells where).

Data only: the models, their losses and training are the notebook's exercises.

    y = sin(2x) + 0.3 x + noise_std(x) ε,  ε ~ N(0, 1),  noise_std(x) = 0.03 + 0.25 / (1 + e^{-3x})
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Intervals ``(low, high)`` that the training inputs x are drawn from (uniformly over their union).
DATA_RANGES: tuple[tuple[float, float], ...] = ((-2.0, -0.8), (0.2, 1.6))
#: The x range the notebook plots: wider than the data on both sides.
PLOT_RANGE: tuple[float, float] = (-3.5, 3.5)


def true_function(x: Any) -> np.ndarray:
    """The noise-free mean ``E[y | x] = sin(2x) + 0.3 x`` (any shape)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(2.0 * x) + 0.3 * x


def noise_std(x: Any) -> np.ndarray:
    """Standard deviation of the noise at ``x``: ``0.03 + 0.25 / (1 + exp(-3x))`` (any shape)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.03 + 0.25 / (1.0 + np.exp(-3.0 * x))


def in_data(x: Any) -> np.ndarray:
    """Boolean mask: True where ``x`` lies inside one of :data:`DATA_RANGES`."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.zeros(x.shape, dtype=bool)
    for low, high in DATA_RANGES:
        mask |= (x >= low) & (x <= high)
    return mask


def sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` noisy pairs ``(x, y)``, x uniform over the union of :data:`DATA_RANGES`.

    Args:
        n: number of points, ``>= 1``.
        seed: seed of ``np.random.default_rng`` (the only randomness).

    Returns:
        ``(x, y)``: two float64 arrays of shape ``(n, 1)``, sorted by x.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    lengths = np.array([high - low for low, high in DATA_RANGES])
    which = rng.choice(len(DATA_RANGES), size=n, p=lengths / lengths.sum())
    lows = np.array([low for low, _ in DATA_RANGES])[which]
    x = np.sort(lows + rng.uniform(0.0, 1.0, size=n) * lengths[which])
    y = true_function(x) + noise_std(x) * rng.normal(size=n)
    return x[:, None], y[:, None]


def grid(n: int = 400) -> np.ndarray:
    """``n`` evenly spaced points over :data:`PLOT_RANGE`, shape ``(n, 1)``."""
    return np.linspace(*PLOT_RANGE, n)[:, None]
