"""Tests for mbrl_helpers.toy_regression: the 1-D data of notebook 06."""

import numpy as np
import pytest

from mbrl_helpers import toy_regression as tr


def test_sample_shapes_sorted_and_reproducible():
    x, y = tr.sample(200, seed=3)
    assert x.shape == (200, 1) and y.shape == (200, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.diff(x[:, 0]) >= 0)
    x2, y2 = tr.sample(200, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y, tr.sample(200, seed=4)[1])


def test_inputs_only_inside_the_data_ranges_and_cover_both():
    x, _ = tr.sample(5000, seed=0)
    assert tr.in_data(x).all()
    for low, high in tr.DATA_RANGES:
        inside = (x >= low) & (x <= high)
        share = inside.mean()
        expected = (high - low) / sum(h - lo for lo, h in tr.DATA_RANGES)
        assert abs(share - expected) < 0.03


def test_noise_matches_noise_std():
    x, y = tr.sample(20000, seed=1)
    resid = (y - tr.true_function(x))[:, 0]
    for low, high in tr.DATA_RANGES:
        m = (x[:, 0] >= low) & (x[:, 0] <= high)
        ratio = resid[m] / tr.noise_std(x[m, 0])
        assert abs(ratio.mean()) < 0.05 and abs(ratio.std() - 1) < 0.05


def test_noise_grows_with_x_and_in_data_mask():
    xs = np.linspace(-3, 3, 50)
    assert np.all(np.diff(tr.noise_std(xs)) > 0)
    assert tr.in_data(np.array([-1.0, 0.0, 1.0, 3.0])).tolist() == [True, False, True, False]
    g = tr.grid(100)
    assert g.shape == (100, 1) and g[0, 0] == tr.PLOT_RANGE[0] and g[-1, 0] == tr.PLOT_RANGE[1]
    np.testing.assert_allclose(tr.true_function([0.0, np.pi / 4]), [0.0, 1 + 0.3 * np.pi / 4])


def test_sample_rejects_empty():
    with pytest.raises(ValueError):
        tr.sample(0, seed=0)
