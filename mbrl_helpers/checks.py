"""Assertion helpers for test cells: clear messages about type, shape and value.

Introduced in notebook ``00_course_tour`` (section "How tests work"). Every helper raises
``AssertionError`` with a message that tells the student what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Scalar types accepted as numbers (``bool`` is an ``int``; complex numbers are not).
_NUMERIC = (int, float, np.integer, np.floating, np.bool_)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _untorch(x: Any) -> Any:
    """Torch tensors, also inside lists and tuples, as NumPy arrays (detached, on the CPU)."""
    if _is_torch(x):
        return x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)):
        return [_untorch(v) for v in x]
    return x


def _is_number(v: Any) -> bool:
    """A Python or NumPy number, or a 0-d real array (a loss kept as ``torch.tensor(0.5)``)."""
    if isinstance(v, _NUMERIC):
        return True
    return isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "biuf"


def as_float_array(x: Any, name: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """Convert ``x`` to a float64 array, checking that it is numeric and has ``shape``.

    Torch tensors are accepted (detached and moved to the CPU). ``None``, strings and
    objects that do not convert to a real number array fail with a message.
    """
    if x is None:
        raise AssertionError(f"{name} is None: did you forget to return a value?")
    x = _untorch(x)
    if isinstance(x, (str, bytes)):
        raise AssertionError(f"{name} must be numeric, got a {type(x).__name__}")
    if not isinstance(x, _NUMERIC + (list, tuple, np.ndarray)):
        raise AssertionError(
            f"{name} is not numeric: got a {type(x).__name__} (expected a number, a list, "
            "a NumPy array or a torch tensor)")
    if isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.dtype == object):
        try:
            items = np.array(x, dtype=object).ravel()
        except ValueError as err:
            raise AssertionError(f"{name} is not a regular array: {err}") from None
        odd = [v for v in items if not _is_number(v)][:1]
        if odd:
            what = "None" if odd[0] is None else f"a {type(odd[0]).__name__}"
            raise AssertionError(f"{name} contains {what}, not a number")
    try:
        arr = np.array(x, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{name} is not numeric ({type(x).__name__}): {err}") from None
    if shape is not None and arr.shape != tuple(shape):
        raise AssertionError(f"{name} has shape {arr.shape}, expected {tuple(shape)}")
    return arr


def as_float(x: Any, name: str) -> float:
    """Convert a scalar (Python number, 0-d or size-1 array, tensor) to ``float``."""
    arr = as_float_array(x, name)
    if arr.size != 1:
        raise AssertionError(f"{name} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(()))


def assert_close(
    actual: Any, expected: Any, name: str, *, rtol: float = 1e-6, atol: float = 1e-8
) -> None:
    """Assert ``actual`` equals ``expected`` elementwise within tolerances.

    The comparison is written out here (not delegated to ``np.allclose``), with NaN and
    infinity treated as wrong unless expected.
    """
    exp = as_float_array(expected, f"expected {name}")
    act = as_float_array(actual, name, shape=exp.shape)
    finite = np.isfinite(act) & np.isfinite(exp)
    bad_nan = np.isnan(act) != np.isnan(exp)
    diff = np.abs(np.where(finite, act, 0.0) - np.where(finite, exp, 0.0))
    inf_mismatch = (np.isinf(act) | np.isinf(exp)) & ~(act == exp)
    too_far = diff > atol + rtol * np.abs(np.where(finite, exp, 0.0))
    wrong = bad_nan | inf_mismatch | too_far
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = f" at index {index}" if exp.ndim else ""
        raise AssertionError(
            f"{name} is wrong{where}: got {float(act[index])!r}, expected {float(exp[index])!r} "
            f"({int(wrong.sum())} of {wrong.size} entries differ)"
        )


def assert_finite(x: Any, name: str) -> None:
    """Assert every entry of ``x`` is a finite number."""
    arr = as_float_array(x, name)
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{name} contains NaN or infinity")


def isclose(a: float, b: float, *, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Scalar closeness, independent of :func:`math.isclose` (which a cell could patch)."""
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)
