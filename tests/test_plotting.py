"""Plotting helpers draw what they are given and return their axes or animation."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mbrl_helpers import plotting  # noqa: E402


def teardown_function():
    plt.close("all")


def test_plot_band_and_get_ax():
    ax = plotting.get_ax()
    out = plotting.plot_band([1, 2, 3], [[1, 2, 3], [3, 4, 5]], ax=ax, label="a")
    assert out is ax
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2, 3, 4])
    assert len(ax.collections) == 1  # the band
    plotting.plot_band([1, 2], [[1, 2]], ax=ax, band="minmax")  # one run: no band
    assert len(ax.collections) == 1
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_band([1, 2], [[1, 2, 3]])
    with pytest.raises(ValueError, match="band"):
        plotting.plot_band([1], [[1]], band="iqr")


def test_plot_band_standard_error():
    ax = plotting.get_ax()
    values = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]])
    plotting.plot_band([1, 2], values, ax=ax, band="sem")
    band_y = ax.collections[0].get_paths()[0].vertices[:, 1]
    sem = values.std(0, ddof=1) / np.sqrt(3)  # [1.155, 1.155]
    np.testing.assert_allclose([band_y.min(), band_y.max()],
                               [(values.mean(0) - sem).min(), (values.mean(0) + sem).max()])


def test_plot_contour_and_gaussian():
    ax = plotting.plot_contour(lambda x: -(x**2).sum(1), (-1, 1), (-2, 2), n=11)
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-2, 2)
    plotting.plot_gaussian_2d([0, 0], [0.5, 1.0], ax=ax, color="r")
    (ellipse,) = ax.patches
    assert ellipse.width == pytest.approx(2.0) and ellipse.height == pytest.approx(4.0)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        plotting.plot_contour(lambda x: x, (0, 1), (0, 1), n=5)
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_gaussian_2d([0, 0, 0], [1, 1, 1])


def test_animate_pendulum_to_an_animated_gif():
    import base64
    import io
    import re

    from PIL import Image

    thetas = np.linspace(np.pi, 0, 21)
    anim = plotting.animate_pendulum(thetas, np.ones((20, 1)), every=5, title="swing")
    html = plotting.animation_html(anim)
    assert "<script" not in html  # plays without trusting the notebook
    match = re.fullmatch(r'<img class="mbrl-animation" width="(\d+)" alt="animation" '
                         r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)">', html)
    assert match, html[:200]
    gif = Image.open(io.BytesIO(base64.b64decode(match.group(2))))
    assert gif.format == "GIF" and gif.n_frames == 5
    assert gif.size[0] == int(match.group(1)) >= 250  # readable, not a thumbnail
    assert gif.info["duration"] == pytest.approx(1000 * 0.05 * 5, abs=10)  # real time
    assert len(html) < 200_000
    assert not plt.get_fignums()  # the figure is closed


def test_javascript_controls_stay_an_option():
    anim = plotting.animate_pendulum(np.linspace(np.pi, 0, 21), every=5)
    html = plotting.animation_html(anim, javascript=True)
    assert "<script" in html and html.count("data:image/png;base64") == 5
    assert not plt.get_fignums()
