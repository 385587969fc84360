"""The UCI optical-recognition handwritten digits (Alpaydin & Kaynak, 1998), as scikit-learn
ships them, brought to MNIST's form: a second, unpaired digit domain with labels.

The 1,797 images are 8×8 with 17 grey levels (0 … 16). Each is upsampled to 28×28 by
bilinear interpolation, written as one matrix product per image,

    X₂₈ = R X₈ Rᵀ,   R ∈ ℝ^{28×8} the bilinear weights (pixel centres aligned, as
                      PyTorch's ``interpolate(..., align_corners=False)``)

and the levels are scaled to uint8 by 255/16. The train / test split is fixed: a seeded
permutation, stratified so each digit keeps the same share (``TEST_SHARE``) in the test
split. scikit-learn is the optional extra ``digits`` (``pip install -e ".[digits]"``):
it ships the data inside its wheel, so nothing is downloaded.
"""
from __future__ import annotations

import numpy as np

from .mnist import DatasetNotFoundError

TEST_SHARE = 0.25
SPLIT_SEED = 0
SIZE = 28


def bilinear_matrix(size_in, size_out):
    """R (size_out, size_in): row i holds the weights of output pixel i's two nearest inputs."""
    centres = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5      # output centres, input units
    centres = np.clip(centres, 0, size_in - 1)
    left = np.floor(centres).astype(int)
    right = np.minimum(left + 1, size_in - 1)
    frac = centres - left
    R = np.zeros((size_out, size_in))
    R[np.arange(size_out), left] += 1 - frac
    R[np.arange(size_out), right] += frac
    return R


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetNotFoundError('the UCI digits come with scikit-learn: pip install -e ".[digits]"') from None
    bunch = load_digits()
    return bunch.images, bunch.target.astype(np.int64)


def split_indices(labels, test_share=TEST_SHARE, seed=SPLIT_SEED):
    """(train, test) indices: per digit, the first ⌈share · n_digit⌉ of a seeded permutation are test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(np.ceil(test_share * len(members)))
        test.append(members[:cut])
        train.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_uci_digits(split="train"):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the UCI digits' ``split``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images8, labels = _sklearn_digits()
    train, test = split_indices(labels)
    chosen = train if split == "train" else test
    return _upsampled(images8[chosen]), labels[chosen]


def _upsampled(images8):
    """(N, 8, 8) levels 0 … 16 → (N, 28, 28) uint8: X₂₈ = R X₈ Rᵀ, levels scaled by 255/16."""
    R = bilinear_matrix(8, SIZE)
    images = R @ images8 @ R.T
    return np.clip(np.round(images * (255.0 / 16.0)), 0, 255).astype(np.uint8)


def _bounding_boxes(images):
    """Per image: the centre (row, col) and the longer side of the box around pixels > 127
    (the whole frame for a blank image)."""
    on = images > 127
    rows, cols = on.any(2), on.any(1)
    size = images.shape[1]

    def first_last(mask):
        first = np.where(mask.any(1), mask.argmax(1), 0)
        last = np.where(mask.any(1), size - 1 - mask[:, ::-1].argmax(1), size - 1)
        return first, last
    (r0, r1), (c0, c1) = first_last(rows), first_last(cols)
    centre = np.stack([(r0 + r1) / 2.0, (c0 + c1) / 2.0], 1)
    return centre, np.maximum(r1 - r0, c1 - c0) + 1.0


def _read_grid(images01, centre, step, out_size, shift=None):
    """Each image read on an out_size² grid of points centre + (k - (out_size - 1)/2) · step
    (+ shift), bilinear: (N, out_size, out_size)."""
    from .transforms import bilinear_read
    k = np.arange(out_size) - (out_size - 1) / 2.0
    offsets = np.stack(np.meshgrid(k, k, indexing="ij"), -1).reshape(1, -1, 2)        # (1, P, 2)
    points = centre[:, None, :] + offsets * step[:, None, None]
    if shift is not None:
        points = points + shift[:, None, :]
    out = bilinear_read(images01[:, None], points)
    return out.reshape(len(images01), out_size, out_size)


def uci_style(images):
    """MNIST digits (uint8 (N, 28, 28)) drawn the UCI set's way: the digit's bounding box
    scaled, aspect kept, to fill a 32×32 frame, thresholded into a bitmap, its 4×4 blocks
    counted (8×8, levels 0 … 16), then upsampled to 28×28 as ``load_uci_digits`` does.

    A translation that keeps the digit by construction; how often the digits' reference
    classifier reads it as its label is what that classifier can confirm of any MNIST → UCI
    translation (CycleGAN's label preservation is read against it)."""
    centre, extent = _bounding_boxes(images)
    bitmap = _read_grid(images.astype(np.float64) / 255.0, centre, extent / 32.0, 32) > 0.5
    counts = bitmap.reshape(-1, 8, 4, 8, 4).sum((2, 4)).astype(np.float64)
    return _upsampled(counts)


def mnist_style(images):
    """UCI digits (uint8 (N, 28, 28)) drawn MNIST's way: the bounding box scaled, aspect
    kept, into a 20×20 box, then moved so that the grey levels' centre of mass sits at the
    centre of the 28×28 field (LeCun et al.'s normalisation). The reverse of ``uci_style``."""
    centre, extent = _bounding_boxes(images)
    boxed = _read_grid(images.astype(np.float64) / 255.0, centre, extent / 20.0, SIZE)
    k = np.arange(SIZE, dtype=np.float64)
    mass = boxed.sum((1, 2)) + 1e-12
    com = np.stack([(boxed.sum(2) * k).sum(1), (boxed.sum(1) * k).sum(1)], 1) / mass[:, None]
    middle = np.full((len(images), 2), (SIZE - 1) / 2.0)
    # reading at p + (com - middle) moves the content by (middle - com)
    centred = _read_grid(boxed, middle, np.ones(len(images)), SIZE, shift=com - middle)
    return np.clip(np.round(centred * 255.0), 0, 255).astype(np.uint8)
