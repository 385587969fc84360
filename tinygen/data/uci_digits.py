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
    R = bilinear_matrix(8, SIZE)
    images = R @ images8[chosen] @ R.T                                   # (N, 28, 28), levels 0 … 16
    return np.clip(np.round(images * (255.0 / 16.0)), 0, 255).astype(np.uint8), labels[chosen]
