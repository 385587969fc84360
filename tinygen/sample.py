"""``python -m tinygen.sample NAME [--n 64] [--labels 0,1,...] [--seed S] [--backend numpy|cupy] [--out FILE]``

Draws samples from a trained model of the zoo (``tinygen.zoo``) and writes
``FILE.png`` (a grid) and ``FILE.npz`` (``images``: float32 (N, 1, 28, 28) in [0, 1];
``labels``: the requested classes, for conditional models). A model's sampling
knobs are flags too (``--sampler`` for the VAEs and DDPMs, ``--guidance`` for
``ddpm-cfg``), with its card's defaults.
"""
from __future__ import annotations

import argparse
import os


def main(argv=None):
    from . import zoo
    parser = argparse.ArgumentParser(prog="python -m tinygen.sample", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a zoo model: " + ", ".join(zoo.available()))
    parser.add_argument("--n", type=int, default=64, help="how many samples")
    parser.add_argument("--labels", default=None,
                        help="comma-separated digits for a conditional model, repeated to --n samples "
                             "(default 0,1,...,9 repeated)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same samples")
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy", help="array backend")
    parser.add_argument("--out", default=None, help="file stem for FILE.png and FILE.npz (default: NAME)")
    knobs = {}                 # one flag per knob name; its help names who reads it how
    for name, kind in zoo.kinds().items():
        for knob, (kind_type, text) in kind.options.items():
            knobs.setdefault(knob, (kind_type, {}))[1].setdefault(text, []).append(name)
    knobs = {knob: (kind_type, "; ".join(f"{', '.join(names)}: {text}" for text, names in texts.items()))
             for knob, (kind_type, texts) in knobs.items()}
    for knob, (kind_type, text) in sorted(knobs.items()):
        parser.add_argument("--" + knob.replace("_", "-"), type=kind_type, default=None,
                            help=text + " (default: the card's)")
    args = parser.parse_args(argv)
    if args.name not in zoo.available():
        parser.error(f"no zoo model named {args.name!r}; available: {', '.join(zoo.available())}")
    if args.n < 1:
        parser.error(f"--n must be at least 1, not {args.n}")
    info = zoo.card(args.name)
    kind = zoo.kinds()[info["kind"]]
    labels = None
    if args.labels is not None:
        if not kind.conditional:
            parser.error(f"{args.name} is unconditional: it takes no --labels")
        try:
            labels = [int(v) for v in args.labels.split(",") if v.strip()]
        except ValueError:
            parser.error(f"--labels must be comma-separated digits, not {args.labels!r}")
        if not labels or min(labels) < 0 or max(labels) > 9:
            parser.error("--labels must be digits 0-9")
        labels = [labels[i % len(labels)] for i in range(args.n)]     # repeated to --n samples
    stray = [k for k in knobs if k not in kind.options and getattr(args, k) is not None]
    if stray:
        parser.error(f"{args.name} has no sampling option --{stray[0].replace('_', '-')}")
    options = {k: getattr(args, k) for k in kind.options if getattr(args, k) is not None}
    from . import backend as _backend
    _backend.use_backend(args.backend)
    try:
        images, labels = zoo.sample(args.name, args.n, labels=labels, seed=args.seed, **options)
    except ValueError as exc:          # a knob value the model refuses (a temperature ≤ 0, ...)
        parser.error(str(exc))
    stem = args.out or args.name
    stem = stem[:-4] if stem.endswith((".png", ".npz")) else stem
    folder = os.path.dirname(os.path.abspath(stem))
    os.makedirs(folder, exist_ok=True)
    from .serialization import atomic_savez
    from .viz import save_image_grid
    arrays = {"images": images, **({"labels": labels} if labels is not None else {})}
    atomic_savez(stem + ".npz", arrays)
    nrow = 10 if kind.conditional else 8
    title = f"tinygen.zoo {args.name}" + (", digit = column" if kind.conditional and labels is not None
                                          and len(labels) % 10 == 0 else "")
    save_image_grid(images, stem + ".png", nrow=nrow, title=title)
    print(f"wrote {stem}.png and {stem}.npz ({len(images)} samples from {args.name})")
    return images, labels


if __name__ == "__main__":
    main()
