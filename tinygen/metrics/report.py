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


def _report(feats, probs, labels, dataset, n):
    real_images, real_labels = _reference_set(dataset, "test", 10_000)
    real_feats, _ = features_and_probs(real_images, dataset)
    histogram = class_histogram(probs)
    m = min(len(feats), len(real_feats))
    precision, recall = precision_recall(real_feats[:m], feats[:m], k=3)
    kid_mean, kid_std, kid_m = kid(real_feats, feats)
    out = {
        "dataset": dataset, "n": int(len(feats)), "n_reference": int(len(real_feats)),
        "fid": round(fid(real_feats, feats), 4),
        "kid": round(kid_mean, 6), "kid_std": round(kid_std, 6), "kid_subset_size": kid_m,
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


def evaluate_samples(images, labels=None, dataset="mnist", n=10_000):
    """The report for up to ``n`` generated images (N, 1, 28, 28) in [0, 1]."""
    images = np.asarray(images)[:n]
    feats, probs = features_and_probs(images, dataset)
    return _report(feats, probs, labels, dataset, n)


def real_floor(dataset="mnist", n=10_000):
    """The same report for n real *training* images against the test set: the floor."""
    images, labels = _reference_set(dataset, "train", n)
    feats, probs = features_and_probs(images, dataset)
    report = _report(feats, probs, labels, dataset, n)
    report["what"] = f"real train[:{n}] vs real test (floor)"
    return report
