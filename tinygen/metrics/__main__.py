"""``python -m tinygen.metrics SAMPLES.npz [--dataset mnist|fashion|digits] [--n 10000] [--json]``

Scores generated samples (an ``.npz`` with key ``images``: float (N, 1, 28, 28) in
[0, 1]; optional ``labels``: the requested classes) and prints each figure beside
the real-vs-real floor (real training images scored the same way). ``--json``
prints the full report as indented JSON instead; ``--floor`` prints the floor alone.
Bad input (a missing file, an ``.npy``, no ``images`` key, 0-255 values, NaN, labels
outside the classes, too few samples) stops with one line and exit status 2.
"""
import argparse
import json
import os
import sys
import zipfile

import numpy as np

from .report import SampleError, check_samples, evaluate_samples, real_floor

# (report key, label, format) in the order a reader wants them; KID in the usual ×10³ units
ROWS = [("fid", "FID (lower is better)", "{:.3f}"),
        ("kid_x1000", "KID x 10^3", "{:.3f}"),
        ("precision", "precision (k = 3)", "{:.4f}"),
        ("recall", "recall (k = 3)", "{:.4f}"),
        ("classifier_score", "classifier score (max 10)", "{:.3f}"),
        ("modes_covered", "modes covered (of 10)", "{}"),
        ("conditional_accuracy", "conditional accuracy, %", "{:.2f}")]


def read_samples(path):
    """(images, labels or None) from an .npz, or a one-line SampleError."""
    if not os.path.exists(path):
        raise SampleError(f"{path}: no such file")
    if path.endswith(".npy"):
        raise SampleError(f"{path} is an .npy; save an .npz with np.savez(path, images=images"
                          f"[, labels=labels])")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise SampleError(f"{path} holds one array, not an .npz with an 'images' key")
            if "images" not in f.files:
                raise SampleError(f"{path} has no 'images' key; its keys are: {', '.join(f.files) or 'none'}")
            return f["images"], (f["labels"] if "labels" in f.files else None)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise SampleError(f"{path} is not a readable .npz ({type(exc).__name__}: {exc})") from exc


def table(report, floor):
    lines = [f"{'metric':<28} {'samples':>10} {'real floor':>11}"]
    for key, label, fmt in ROWS:
        if key in report:
            mine = fmt.format(report[key])
            theirs = fmt.format(floor[key]) if key in floor else "-"
            lines.append(f"{label:<28} {mine:>10} {theirs:>11}")
    lines.append(f"(n = {report['n']} samples against {report['n_reference']} {report['dataset']} "
                 f"test images; floor: {floor['n']} real training images; {report['feature_space']})")
    if "warning" in report:
        lines.append(f"warning: {report['warning']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygen.metrics", description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="?", help="an .npz with 'images' (and optionally 'labels')")
    parser.add_argument("--dataset", choices=["mnist", "fashion", "digits"], default="mnist",
                        help="the reference feature space and test set")
    parser.add_argument("--n", type=int, default=10_000, help="score at most this many samples")
    parser.add_argument("--floor", action="store_true", help="report real train vs real test only")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args(argv)
    if args.n < 4:
        parser.error(f"--n must be at least 4 (precision/recall need k + 1 samples), not {args.n}")
    if args.floor:
        report = real_floor(args.dataset, args.n)
        print(json.dumps(report, indent=2))
        return report
    if not args.samples:
        parser.error("give SAMPLES.npz, or --floor")
    try:
        images, labels = read_samples(args.samples)
        images, labels = check_samples(images[:args.n], None if labels is None else labels[:args.n])
        report = evaluate_samples(images, labels, args.dataset, args.n)
    except SampleError as exc:
        print(f"python -m tinygen.metrics: error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    floor = real_floor(args.dataset, report["n"])
    report["real_floor"] = {k: floor[k] for k, _, _ in ROWS if k in floor}
    print(json.dumps(report, indent=2) if args.json else table(report, floor))
    return report


if __name__ == "__main__":
    main()
