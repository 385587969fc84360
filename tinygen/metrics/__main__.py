"""``python -m tinygen.metrics SAMPLES.npz [--dataset mnist|fashion] [--n 10000] [--floor]``

Prints a JSON report of the samples (key ``images``: float (N, 1, 28, 28) in
[0, 1]; optional ``labels``: the requested classes). ``--floor`` prints the
real-vs-real report instead (no samples file needed).
"""
import argparse
import json
import sys

import numpy as np

from .report import evaluate_samples, real_floor


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinygen.metrics", description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="?", help="an .npz with 'images' (and optionally 'labels')")
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--floor", action="store_true", help="report real train vs real test")
    args = parser.parse_args(argv)
    if args.floor:
        report = real_floor(args.dataset, args.n)
    else:
        if not args.samples:
            parser.error("give SAMPLES.npz, or --floor")
        with np.load(args.samples, allow_pickle=False) as f:
            images = f["images"]
            labels = f["labels"] if "labels" in f.files else None
        report = evaluate_samples(images, labels, args.dataset, args.n)
    json.dump(report, sys.stdout, indent=2)
    print()
    return report


if __name__ == "__main__":
    main()
