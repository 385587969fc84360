"""Train a reference classifier and ship its weights in tinygen/metrics/weights/.

    python -m tinygen.metrics.train_reference --dataset mnist     # ≥ 99.3% test accuracy
    python -m tinygen.metrics.train_reference --dataset fashion
    python -m tinygen.metrics.train_reference --dataset digits --epochs 80 --augment affine

SmallCNN, Adam with a per-step cosine decay, random shifts of up to 2 pixels as
augmentation, or (``--augment affine``) random rotations, scalings, shears and shifts:
the UCI digits' 1,343 training images come from few writers, and a judge of CycleGAN's
translations must know a digit drawn by someone else. Writes <dataset>_classifier.npz (the weights) and .json (the
command, seed, epochs, test accuracy, and the accuracy on the held-out slice
that the tests re-check).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from .. import data, optim
from ..autograd import no_grad
from ..random import manual_seed
from ..nn import functional as F
from ..serialization import save
from .classifier import SmallCNN
from .reference import WEIGHTS_DIR

HELD_OUT = 2000   # the first 2,000 test images: the slice the tests re-check


def accuracy(model, images, labels, batch=500):
    model.eval()
    loader = data.DataLoader(data.ArrayDataset(images, labels), batch)
    hits = 0
    with no_grad():
        for x, y in loader:
            hits += int((model(x).argmax(1) == y).sum().item())
    return 100.0 * hits / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion", "digits"], default="mnist")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", choices=["shift", "affine"], default="shift",
                        help="shift: up to 2 pixels; affine: ±15°, scale 0.85-1.15, shear 0.2, 2 pixels")
    parser.add_argument("--out", default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    manual_seed(args.seed)
    train_x, train_y = data.load_dataset(args.dataset, "train")
    test_x, test_y = data.load_dataset(args.dataset, "test")
    loader = data.DataLoader(data.ArrayDataset(train_x, train_y), args.batch_size, shuffle=True,
                             seed=args.seed, transform=data.RandomShift(2) if args.augment == "shift" else data.RandomAffine())
    model = SmallCNN()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    total = args.epochs * len(loader)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total) / total)))
    from tqdm import tqdm
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", file=sys.stderr, mininterval=1):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, test_x, test_y):.2f}%", flush=True)
    test_acc = accuracy(model, test_x, test_y)
    held_out = accuracy(model, test_x[:HELD_OUT], test_y[:HELD_OUT])
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{args.dataset}_classifier")
    save({"model": {k: v.astype(np.float32) for k, v in model.state_dict().items()}}, stem + ".npz")
    record = {"command": f"python -m tinygen.metrics.train_reference --dataset {args.dataset} "
                         f"--epochs {args.epochs} --seed {args.seed}"
                         + (f" --augment {args.augment}" if args.augment != "shift" else ""),
              "augment": args.augment,
              "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs, "lr": args.lr,
              "test_accuracy_percent": round(test_acc, 3),
              "held_out_slice": f"first {HELD_OUT} test images",
              "held_out_accuracy_percent": round(held_out, 3),
              "train_seconds": round(time.time() - started)}
    with open(stem + ".json", "w") as f:
        json.dump(record, f, indent=2)
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
