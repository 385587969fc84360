"""PNG grids, loss plots, GIFs and latent helpers."""
from pathlib import Path

import numpy as np
import pytest

import tinygen as tg
from tinygen import viz


def test_grid_png_and_gif(tmp_path):
    images = np.random.default_rng(0).random((10, 1, 8, 8)).astype(np.float32)
    grid = viz.make_grid(images, nrow=4, padding=1)
    assert grid.shape == (3 * 9 + 1, 4 * 9 + 1, 1)
    np.testing.assert_allclose(grid[1:9, 1:9, 0], images[0, 0])
    path = viz.save_image_grid(tg.tensor(images), tmp_path / "grid.png", nrow=4, title="t")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = viz.make_grid(np.ones((2, 3, 4, 4)), nrow=2)
    assert rgb.shape[2] == 3
    gif = viz.save_gif([grid, grid * 0.5], tmp_path / "progress.gif")
    assert Path(gif).read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="1 or 3"):
        viz.make_grid(np.ones((2, 2, 4, 4)))


def test_plot_losses(tmp_path):
    path = viz.plot_losses({"d": [1.0, 0.5, 0.4], "g": [(0, 2.0), (2, 1.0)]}, tmp_path / "l.png")
    assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_latent_helpers():
    z0, z1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    line = viz.interpolate_latents(z0, z1, steps=5)
    np.testing.assert_allclose(line[2], [0.5, 0.5])
    arc = viz.interpolate_latents(z0, z1, steps=5, mode="slerp")
    np.testing.assert_allclose(np.linalg.norm(arc, axis=1), 1.0, rtol=1e-6)
    grid = viz.latent_grid_2d(n=5)
    assert grid.shape == (25, 2) and np.allclose(grid[:, 0].reshape(5, 5)[0], grid[:5, 0])
