"""Pictures: image grids, loss curves, training GIFs and latent interpolations, via matplotlib."""
from __future__ import annotations

import os

import numpy as np

from .backend import to_numpy


def _pyplot():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")      # files only: no window, works without a display
    import matplotlib.pyplot as plt
    return plt


def _as_images(images):
    data = to_numpy(getattr(images, "data", images))
    if data.ndim == 3:
        data = data[:, None]
    if data.ndim != 4 or data.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got shape {data.shape}")
    return data.astype(np.float32)


def make_grid(images, nrow=8, padding=2, pad_value=1.0):
    """(N, C, H, W) in [0, 1] → one (H', W', C) array with ``nrow`` images per row."""
    data = np.clip(_as_images(images), 0.0, 1.0)
    n, c, h, w = data.shape
    rows = -(-n // nrow)
    # pad every image on its top/left, and the batch up to a full last row, then tile by reshaping
    cells = np.full((rows * nrow, c, h + padding, w + padding), pad_value, dtype=np.float32)
    cells[:n, :, padding:, padding:] = data
    grid = cells.reshape(rows, nrow, c, h + padding, w + padding).transpose(0, 3, 1, 4, 2)
    grid = grid.reshape(rows * (h + padding), nrow * (w + padding), c)
    # close the right and bottom borders
    out = np.full((grid.shape[0] + padding, grid.shape[1] + padding, c), pad_value, dtype=np.float32)
    out[:grid.shape[0], :grid.shape[1]] = grid
    return out


def save_image_grid(images, path, nrow=8, padding=2, title=None):
    """Write a PNG grid of (N, 1 or 3, H, W) images with pixel values in [0, 1]."""
    plt = _pyplot()
    grid = make_grid(images, nrow, padding)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    scale = 0.5 if grid.shape[0] < 600 else 0.25
    fig = plt.figure(figsize=(grid.shape[1] * scale / 14, grid.shape[0] * scale / 14 + (0.4 if title else 0)))
    ax = fig.add_axes([0, 0, 1, 0.93 if title else 1])
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_losses(history, path, title="training", xlabel="step"):
    """history: {name: [values...]} (or {name: [(x, value), ...]}); one line per name."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for name, values in history.items():
        values = list(values)
        if not values:
            continue
        if isinstance(values[0], (tuple, list)):
            xs, ys = zip(*values)
        else:
            xs, ys = range(len(values)), values
        # a short run logs a few points: a line through them alone would be near-invisible
        ax.plot(xs, ys, label=name, linewidth=1, marker="o" if len(ys) <= 30 else None, markersize=4)
        drawn += 1
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no values were logged (the run was too short)", ha="center",
                va="center", transform=ax.transAxes)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_gif(frames, path, duration_ms=400):
    """Write an animated GIF from image grids (arrays (H, W[, C]) in [0, 1]) or PNG paths."""
    from PIL import Image   # Pillow comes with matplotlib
    pictures = []
    for frame in frames:
        if isinstance(frame, (str, os.PathLike)):
            pictures.append(Image.open(frame).convert("RGB"))
            continue
        array = np.asarray(frame, dtype=np.float32)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        pictures.append(Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)))
    if not pictures:
        raise ValueError("save_gif needs at least one frame")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return path


def interpolate_latents(z0, z1, steps=10, mode="linear"):
    """Points from z0 to z1 (arrays (..., D)), as an array (steps, ..., D).

    'linear': (1-t) z0 + t z1. 'slerp' follows the great circle, which keeps
    Gaussian samples at a typical norm: sin((1-t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1.
    """
    z0, z1 = to_numpy(getattr(z0, "data", z0)), to_numpy(getattr(z1, "data", z1))
    t = np.linspace(0.0, 1.0, steps).reshape((steps,) + (1,) * z0.ndim)
    if mode == "linear":
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    if mode != "slerp":
        raise ValueError("mode must be 'linear' or 'slerp'")
    a = z0 / np.linalg.norm(z0, axis=-1, keepdims=True)
    b = z1 / np.linalg.norm(z1, axis=-1, keepdims=True)
    omega = np.arccos(np.clip((a * b).sum(-1, keepdims=True), -1.0, 1.0))
    so = np.sin(omega)
    safe = np.where(so < 1e-6, 1.0, so)
    out = np.where(so < 1e-6, (1 - t) * z0 + t * z1,
                   np.sin((1 - t) * omega) / safe * z0 + np.sin(t * omega) / safe * z1)
    return out.astype(np.float32)


def latent_grid_2d(n=20, limit=2.5, gaussian_quantiles=True):
    """An (n·n, 2) grid of 2-D latent points, row-major, for a VAE manifold plot.

    With ``gaussian_quantiles`` the points are the N(0,1) quantiles of an even grid in
    (0, 1), so equal areas of prior mass get equal room (Kingma & Welling, fig. 4).
    """
    if gaussian_quantiles:
        from scipy.stats import norm
        axis = norm.ppf(np.linspace(0.05, 0.95, n))
    else:
        axis = np.linspace(-limit, limit, n)
    ys, xs = np.meshgrid(axis[::-1], axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def scatter_latents(z, labels, path, title="latent space"):
    """2-D scatter of latent means coloured by label."""
    plt = _pyplot()
    z = to_numpy(getattr(z, "data", z))
    labels = to_numpy(getattr(labels, "data", labels))
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3)
    fig.colorbar(points, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
