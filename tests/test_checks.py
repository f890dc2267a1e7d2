"""Assertion helpers used in test cells (mbrl_helpers.checks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mbrl_helpers.checks import as_float, as_float_array, assert_close, assert_finite, isclose


def test_as_float_array_accepts_arrays_lists_and_tensors():
    assert as_float_array([1, 2], "x", shape=(2,)).dtype == np.float64
    out = as_float_array(torch.ones(2, 3, requires_grad=True), "t", shape=(2, 3))
    assert isinstance(out, np.ndarray) and out.shape == (2, 3)


class _Rigged:
    def __eq__(self, other):
        return True

    def __float__(self):
        return 1.75

    def __array__(self, dtype=None, copy=None):
        return np.array(1.75)


@pytest.mark.parametrize(("value", "message"), [
    (None, "is None"), ("abc", "must be numeric"), ([[1, 2], [3]], "contains a list"),
    (object(), "not numeric"), (_Rigged(), "not numeric: got a _Rigged"),
    ([1.0, _Rigged()], "contains a _Rigged"), (np.array([_Rigged()], dtype=object), "contains"),
    (1 + 2j, "not numeric"), ([1.0, None], "contains None"),
])
def test_as_float_array_rejects_non_numbers(value, message):
    with pytest.raises(AssertionError, match=message):
        as_float_array(value, "x")


def test_lists_of_scalar_tensors_are_numbers():
    """A list of 0-d tensors (losses kept as tensors, some with a graph) reads as numbers, as a
    verdict's decoded 0-d arrays do."""
    torch = pytest.importorskip("torch")
    values = [torch.tensor(1.5), torch.tensor(0.5, requires_grad=True) * 1, np.array(2.0)]
    assert as_float_array(values, "x").tolist() == [1.5, 0.5, 2.0]
    assert as_float_array((torch.tensor([1.0, 2.0]), [3, 4]), "x").shape == (2, 2)


def test_shape_and_scalar_messages():
    with pytest.raises(AssertionError, match=r"shape \(3,\), expected \(2,\)"):
        as_float_array(np.zeros(3), "x", shape=(2,))
    with pytest.raises(AssertionError, match="single number"):
        as_float(np.zeros(2), "x")
    assert as_float(np.array([[2.5]]), "x") == 2.5


def test_assert_close_reports_first_wrong_entry():
    assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], "x")
    with pytest.raises(AssertionError, match=r"x is wrong at index \(1,\).*1 of 2"):
        assert_close([1.0, 2.5], [1.0, 2.0], "x")
    with pytest.raises(AssertionError, match="wrong"):
        assert_close([np.nan], [1.0], "x")
    with pytest.raises(AssertionError, match="wrong"):
        assert_close([np.inf], [1.0], "x")
    assert_close([np.inf, np.nan], [np.inf, np.nan], "x")


def test_rigged_objects_do_not_pass():
    class Liar:
        def __eq__(self, other):
            return True

        def __float__(self):
            return 1.0

    with pytest.raises(AssertionError):
        assert_close(Liar(), [1.0, 2.0], "x")


def test_isclose_and_finite():
    assert isclose(1.0, 1.0 + 1e-9) and not isclose(1.0, 1.1)
    assert not isclose(float("nan"), float("nan")) and isclose(float("inf"), float("inf"))
    with pytest.raises(AssertionError, match="NaN or infinity"):
        assert_finite([1.0, np.inf], "x")
