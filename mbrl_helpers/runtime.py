"""Conventions shared by every notebook: fast mode, seeding and quiet warnings.

Defined for the whole course in notebook ``00_course_tour`` (section "How the course works").

* **Fast mode.** nbgrader sets the environment variable ``NBGRADER_EXECUTION`` while it
  validates or autogrades a notebook. Long demos (training loops, many seeds, animations)
  read :func:`fast_mode` and shrink, so a whole notebook grades in seconds. Graded test
  cells never depend on the size of a demo. ``MBRL_FAST=1`` turns fast mode on by hand,
  ``MBRL_FAST=0`` turns it off even under nbgrader.
* **Seeding.** :func:`seed_everything` seeds Python, NumPy and torch in one call and
  returns a fresh :class:`numpy.random.Generator`; helpers take explicit ``rng`` or
  ``seed`` arguments instead of relying on global state.
* **Quiet warnings.** nbgrader fails a test cell that writes anything to stderr, so
  :func:`silence_known_warnings` filters the library warnings that correct student code
  can trigger. It runs when :mod:`mbrl_helpers` is imported.
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

FAST_ENV = "MBRL_FAST"
NBGRADER_ENV = "NBGRADER_EXECUTION"


def fast_mode() -> bool:
    """Return True while nbgrader validates/autogrades, or when ``MBRL_FAST`` asks for it.

    ``MBRL_FAST`` wins when it is set: ``1``/``true``/``yes`` forces fast mode,
    ``0``/``false``/``no`` forces full mode. Otherwise fast mode is on exactly when
    ``NBGRADER_EXECUTION`` is set (nbgrader sets it to ``validate`` or ``autograde``).
    """
    forced = os.environ.get(FAST_ENV, "").strip().lower()
    if forced in {"1", "true", "yes", "on"}:
        return True
    if forced in {"0", "false", "no", "off"}:
        return False
    if forced:
        raise ValueError(f"{FAST_ENV} must be 1 or 0 (or true/false), got {forced!r}")
    return bool(os.environ.get(NBGRADER_ENV))


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Use it for demo sizes only, e.g. ``n_seeds = pick(full=50, fast=3)``.
    """
    return fast if fast_mode() else full


def progress(iterable: Iterable[T] | None, desc: str, total: int | None = None) -> Any:
    """Wrap the loop of a long experiment in a progress bar (introduced in notebook 02).

    The bar is plain text on stderr: it updates live in JupyterLab and in a terminal, with
    or without ipywidgets, and is erased when the loop ends (``leave=False``), so an
    executed notebook keeps only the experiment's own output. Silent in fast mode.

    Args:
        iterable: what the loop runs over (seeds, budgets, iterations); ``None`` for a bar
            advanced by hand with ``.update(1)`` (then give ``total``) and ended with
            ``.close()``.
        desc: a few words shown before the bar, e.g. ``"PETS, 5 seeds"``.
        total: the number of items when ``iterable`` has no length.
    """
    from tqdm.std import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, ncols=90,
                mininterval=0.5, disable=fast_mode())


def seed_everything(seed: int, *, torch_threads: int | None = None) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's legacy global RNG and torch; return a Generator.

    Args:
        seed: a non-negative integer.
        torch_threads: if given, also fix torch's intra-op thread count (helps make
            floating-point results identical from run to run).

    Returns:
        ``np.random.default_rng(seed)``: pass it on explicitly as ``rng``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but stay importable
        pass
    else:
        torch.manual_seed(seed)
        if torch_threads is not None:
            torch.set_num_threads(int(torch_threads))
    return np.random.default_rng(seed)


#: (category, message regex, module regex) of warnings that correct code may trigger.
KNOWN_WARNINGS: tuple[tuple[type[Warning], str, str], ...] = (
    # gymnasium's passive env checker on classic-control envs fed float64 actions
    (UserWarning, r".*is not within the observation space.*", r"gymnasium.*"),
    (UserWarning, r".*precision lowered by casting to float32.*", r"gymnasium.*"),
    (UserWarning, r".*Casting input x to numpy array.*", r"gymnasium.*"),
    (DeprecationWarning, r".*", r"gymnasium.*"),
    # matplotlib on a headless backend (nbgrader runs without a display)
    (UserWarning, r".*FigureCanvasAgg is non-interactive.*", r".*"),
    (UserWarning, r".*Matplotlib is currently using agg.*", r".*"),
    # torch: informational warnings about TF32/threads/deprecated aliases
    (UserWarning, r".*TypedStorage is deprecated.*", r"torch.*"),
    (UserWarning, r".*To copy construct from a tensor.*", r".*"),
    # float(loss) on a tensor that requires grad (logging a training loss, notebook 07)
    (UserWarning, r".*Converting a tensor with requires_grad=True to a scalar.*", r".*"),
    # tqdm in a kernel without ipywidgets
    (Warning, r".*IProgress not found.*", r".*"),
)


def silence_known_warnings() -> None:
    """Install filters for :data:`KNOWN_WARNINGS` (idempotent).

    Only these specific, harmless warnings are silenced; any other warning still shows,
    so genuine problems are not hidden.
    """
    for category, message, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
