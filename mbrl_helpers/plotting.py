"""Small plotting helpers shared by the notebooks (matplotlib; every helper takes ``ax=None``).

Introduced in notebook ``02_shooting_and_cem``. Compute lives elsewhere: these functions
only draw what they are given and return the axes (or the animation), so a notebook can
add titles and labels. Animations are rendered by :func:`animation_html` to an animated GIF
(Pillow, no ffmpeg) inside an ``<img>`` tag: it plays wherever a notebook is shown (JupyterLab
without trusting the notebook, nbviewer, GitHub, the course book). JavaScript controls
(``FuncAnimation.to_jshtml``) remain an option for a trusted notebook.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.patches import Ellipse


def get_ax(ax: Any = None, figsize: tuple[float, float] = (5, 3.5)) -> Any:
    """Return ``ax``, or the axes of a new figure of size ``figsize``."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_band(
    x: Any, values: Any, ax: Any = None, *, label: str | None = None, color: Any = None,
    band: str = "std",
) -> Any:
    """Plot the mean over runs of ``values`` ``(n_runs, len(x))`` against ``x``, with a band.

    Args:
        x: ``(n,)`` positions.
        values: ``(n_runs, n)``; NaN entries are ignored (``nanmean``).
        band: ``"std"`` (mean ± one standard deviation), ``"sem"`` (mean ± one standard error
            over runs), ``"minmax"`` or ``"none"``.
    """
    x = np.asarray(x, dtype=float)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    if values.shape[1] != len(x):
        raise ValueError(f"values must have shape (n_runs, {len(x)}), got {values.shape}")
    if band not in {"std", "sem", "minmax", "none"}:
        raise ValueError(f"band must be 'std', 'sem', 'minmax' or 'none', got {band!r}")
    ax = get_ax(ax)
    mean = np.nanmean(values, axis=0)
    (line,) = ax.plot(x, mean, marker="o", ms=3, label=label, color=color)
    if band != "none" and len(values) > 1:
        if band in ("std", "sem"):
            sd = np.nanstd(values, axis=0, ddof=1 if band == "sem" else 0)
            if band == "sem":
                sd = sd / np.sqrt(np.sum(~np.isnan(values), axis=0))
            lo, hi = mean - sd, mean + sd
        else:
            lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    return ax


def plot_contour(
    fn: Callable[[np.ndarray], Any], xlim: tuple[float, float], ylim: tuple[float, float],
    ax: Any = None, *, n: int = 101, levels: int = 20, cmap: str = "viridis",
) -> Any:
    """Filled contours of a batched 2-D function ``fn: (N, 2) -> (N,)`` on a grid."""
    ax = get_ax(ax, figsize=(4, 4))
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    gx, gy = np.meshgrid(xs, ys)
    z = np.asarray(fn(np.column_stack([gx.ravel(), gy.ravel()])), dtype=float)
    if z.shape != (n * n,):
        raise ValueError(f"fn must map (N, 2) to (N,), got output shape {z.shape}")
    ax.contourf(gx, gy, z.reshape(n, n), levels=levels, cmap=cmap, alpha=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return ax


def plot_gaussian_2d(mean: Any, std: Any, ax: Any = None, *, n_std: float = 2.0, **kw) -> Any:
    """Draw the ``n_std``-sigma ellipse of a diagonal 2-D Gaussian ``N(mean, diag(std²))``."""
    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if mean.shape != (2,) or std.shape != (2,):
        raise ValueError(f"mean and std must have shape (2,), got {mean.shape}, {std.shape}")
    ax = get_ax(ax, figsize=(4, 4))
    style = {"fill": False, "lw": 1.5, "color": "k"} | kw
    ax.add_patch(Ellipse(tuple(mean), 2 * n_std * std[0], 2 * n_std * std[1], **style))
    return ax


def animate_pendulum(
    thetas: Any, actions: Any = None, *, dt: float = 0.05, every: int = 2,
    title: str | None = None, figsize: tuple[float, float] = (3.2, 3.2), dpi: int = 90,
) -> FuncAnimation:
    """Animate a pendulum episode (θ = 0 is upright, as in ``Pendulum-v1``).

    Args:
        thetas: ``(T,)`` angles, e.g. ``np.arctan2(obs[:, 1], obs[:, 0])``.
        actions: optional ``(T - 1,)`` or ``(T - 1, 1)`` torques, shown as text.
        dt: seconds per step (for the time label and the playback speed).
        every: draw every ``every``-th step (fewer frames, smaller output).
        dpi: resolution of each frame (the default frame is 288 x 288 pixels; the notebook
            embeds every frame, so keep it modest).

    Returns:
        The animation; show it with ``HTML(animation_html(anim))``.
    """
    thetas = np.asarray(thetas, dtype=float).reshape(-1)
    torques = None if actions is None else np.asarray(actions, dtype=float).reshape(-1)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), aspect="equal", xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=9)
    (rod,) = ax.plot([], [], lw=4, color="tab:red", solid_capstyle="round")
    ax.plot([0], [0], "ko", ms=4)
    label = ax.text(-1.1, -1.1, "", fontsize=8)
    frames = list(range(0, len(thetas), max(1, int(every))))

    def draw(t: int) -> tuple:
        rod.set_data([0.0, -np.sin(thetas[t])], [0.0, np.cos(thetas[t])])
        text = f"t={t * dt:4.2f}s"
        if torques is not None and t < len(torques):
            text += f"  a={torques[t]:+.2f}"
        label.set_text(text)
        return rod, label

    return FuncAnimation(fig, draw, frames=frames, interval=1000 * dt * every, blit=True)


def animation_html(anim: FuncAnimation, *, javascript: bool = False) -> str:
    """Render ``anim`` to self-contained HTML and close its figure.

    Args:
        anim: the animation (its figure is closed afterwards).
        javascript: ``False`` (default): an animated GIF in an ``<img>`` tag, which plays in
            any viewer, without trusting the notebook. ``True``: matplotlib's JavaScript
            player with controls, which runs only where the notebook is trusted.

    Returns:
        HTML to show with ``display(HTML(...))``.
    """
    if javascript:
        html = anim.to_jshtml(default_mode="once")
    else:
        html = _gif_img(anim)
    plt.close(anim._fig)
    return html


def _gif_img(anim: FuncAnimation) -> str:
    """The animation as ``<img class="mbrl-animation" src="data:image/gif;base64,...">``."""
    fps = 1000.0 / max(float(anim._interval), 1.0)
    handle, path = tempfile.mkstemp(suffix=".gif")
    os.close(handle)
    try:
        anim.save(path, writer=PillowWriter(fps=fps))
        with open(path, "rb") as gif:
            data = base64.b64encode(gif.read()).decode("ascii")
    finally:
        os.unlink(path)
    width = int(round(anim._fig.get_figwidth() * anim._fig.dpi))
    return (f'<img class="mbrl-animation" width="{width}" alt="animation" '
            f'src="data:image/gif;base64,{data}">')
