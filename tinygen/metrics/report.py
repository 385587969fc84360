"""One report for generated samples, in the reference classifier's feature space.

    report = evaluate_samples(images, labels=None, dataset="mnist", n=10000)

Holds: FID and KID against the test set, precision/recall (k = 3, equal n),
the classifier score (the Inception-Score analogue, exp E_x KL(p(y|x) ‖ p(y))),
the class histogram and the number of modes covered, and — when the samples
were drawn for requested labels — the conditional accuracy and the per-class
FID. Every figure states the n (and k) it used. ``real_floor`` computes the
same figures for real training images, the floor to read the others against.
"""
from __future__ import annotations

import numpy as np

from .. import data
from .fid import fid
from .kid import kid
from .precision_recall import precision_recall
from .reference import features_and_probs


def classifier_score(probs, eps=1e-12):
    """exp( E_x KL(p(y|x) ‖ p(y)) ): 10 for confident, balanced predictions over 10 classes."""
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def class_histogram(probs, num_classes=10):
    return np.bincount(probs.argmax(1), minlength=num_classes)


def modes_covered(histogram, min_share=0.1):
    """Classes that receive at least ``min_share`` of the uniform share n / C of the samples."""
    expected = histogram.sum() / len(histogram)
    return int((histogram >= min_share * expected).sum())


def _reference_set(dataset, split, n):
    images, labels = data.load_dataset(dataset, split)
    return images[:n, None].astype(np.float32) / 255.0, labels[:n].astype(np.int64)


_test_features = {}


def _test_set_features(dataset):
    """(features, labels) of the whole test set: computed once per process, as every report
    compares against the same 10,000 images."""
    if dataset not in _test_features:
        real_images, real_labels = _reference_set(dataset, "test", 10_000)
        _test_features[dataset] = (features_and_probs(real_images, dataset)[0], real_labels)
    return _test_features[dataset]


def _report(feats, probs, labels, dataset, n):
    real_feats, real_labels = _test_set_features(dataset)
    histogram = class_histogram(probs)
    m = min(len(feats), len(real_feats))
    precision, recall = precision_recall(real_feats[:m], feats[:m], k=3)
    kid_mean, kid_std, kid_m = kid(real_feats, feats)
    out = {
        "dataset": dataset, "n": int(len(feats)), "n_reference": int(len(real_feats)),
        "fid": round(fid(real_feats, feats), 4),
        "kid": round(kid_mean, 6), "kid_std": round(kid_std, 6), "kid_subset_size": kid_m,
        "kid_x1000": round(kid_mean * 1000, 3), "kid_std_x1000": round(kid_std * 1000, 3),
        "precision": round(precision, 4), "recall": round(recall, 4), "pr_k": 3, "pr_n": m,
        "classifier_score": round(classifier_score(probs), 4),
        "class_histogram": histogram.tolist(),
        "modes_covered": modes_covered(histogram),
        "feature_space": f"{dataset} reference SmallCNN, penultimate layer (128-d)",
    }
    if labels is not None:
        labels = np.asarray(labels).astype(np.int64)[:len(feats)]
        out["conditional_accuracy"] = round(float((probs.argmax(1) == labels).mean()) * 100, 3)
        per_class = {}
        for c in range(10):
            mine, theirs = feats[labels == c], real_feats[real_labels == c]
            if len(mine) >= 2 and len(theirs) >= 2:
                per_class[str(c)] = round(fid(theirs, mine), 4)
        out["per_class_fid"] = per_class
        out["per_class_fid_n"] = int(np.bincount(labels, minlength=10).min())
    return out


# the fewest samples every figure can be computed on: precision/recall's k + 1 (FID and KID need 2)
MIN_SAMPLES = 4
# below this, the 128-d feature covariance of FID is singular and the figures are smoke-run noise
RELIABLE_SAMPLES = 1000
NUM_CLASSES = 10


class SampleError(ValueError):
    """Samples the metrics cannot score; the message says what is wrong and how to fix it."""


def check_samples(images, labels=None, min_samples=MIN_SAMPLES):
    """Refuse, in well under a second, what would give a meaningless or crashing report."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise SampleError(f"images must be (N, 1, 28, 28), not {images.shape}")
    if images.dtype == np.uint8:
        raise SampleError("images are uint8 (0-255): give floats in [0, 1], e.g. images / 255.0")
    if not np.issubdtype(images.dtype, np.floating):
        raise SampleError(f"images must be floats in [0, 1], not {images.dtype}")
    if not np.isfinite(images).all():
        bad = int((~np.isfinite(images)).reshape(len(images), -1).any(1).sum())
        raise SampleError(f"{bad} of {len(images)} images hold NaN or Inf (did training diverge?)")
    if len(images) < min_samples:
        raise SampleError(f"{len(images)} samples are too few: FID, KID and precision/recall need at "
                          f"least {min_samples}")
    low, high = float(images.min()), float(images.max())
    if high > 1.0 + 1e-3 or low < -1e-3:
        hint = ("they look like 0-255 values: divide by 255" if high > 2.0 else
                "they look like tanh outputs in [-1, 1]: map them with (x + 1) / 2" if low < -0.5 else
                "clip them to [0, 1]")
        raise SampleError(f"images must lie in [0, 1], these span [{low:.3g}, {high:.3g}]; {hint}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise SampleError(f"labels must be one per image, shape ({len(images)},), not {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise SampleError(f"labels must be integers, not {labels.dtype}")
        outside = labels[(labels < 0) | (labels >= NUM_CLASSES)]
        if outside.size:
            raise SampleError(f"{outside.size} labels lie outside the classes 0-{NUM_CLASSES - 1} "
                              f"(e.g. {int(outside[0])})")
    return images, labels


def evaluate_samples(images, labels=None, dataset="mnist", n=10_000):
    """The report for up to ``n`` generated images (N, 1, 28, 28) in [0, 1].

    Non-finite, out-of-range or too few images raise ``SampleError`` at once; fewer than
    ``RELIABLE_SAMPLES`` are scored, with a warning in the report.
    """
    images, labels = check_samples(np.asarray(images)[:n], None if labels is None else np.asarray(labels)[:n])
    feats, probs = features_and_probs(images, dataset)
    if not np.isfinite(feats).all():
        raise SampleError("the reference classifier's features of these images hold NaN or Inf")
    report = _report(feats, probs, labels, dataset, n)
    if len(images) < RELIABLE_SAMPLES:
        report["warning"] = (f"only {len(images)} samples: FID, KID and precision/recall are noisy and "
                             f"biased below {RELIABLE_SAMPLES} (figures in RESULTS.md use 10,000)")
    return report


def real_floor(dataset="mnist", n=10_000):
    """The same report for n real *training* images against the test set: the floor."""
    images, labels = _reference_set(dataset, "train", n)
    feats, probs = features_and_probs(images, dataset)
    report = _report(feats, probs, labels, dataset, n)
    report["what"] = f"real train[:{n}] vs real test (floor)"
    return report
