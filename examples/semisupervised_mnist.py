"""Semi-supervised MNIST from 100 labels: M2 (Kingma et al., 2014) on the codes of M1.

    python examples/semisupervised_mnist.py                 # M1+M2, 10 labels per class, 3 label draws
    python examples/semisupervised_mnist.py --m1 none       # M2 on (dynamically binarized) pixels
    python examples/semisupervised_mnist.py --quick         # smoke run, about a minute

M1 is the zoo's ``vae`` (trained on the 60,000 training images without their labels;
32-d latent). Each image becomes its posterior q(z1 | x) = N(μ1, σ1²), and every step
draws z1 afresh from it, so the labelled codes are never the same twice. M2
(``tinygen.models.SemiSupervisedVAE``) then models z1 with a class y and a latent z2,
learning from ``--labels-per-class`` labelled images and from all 60,000 unlabelled.

Each label draw (a different seeded choice of the labelled images) trains in its own
folder ``draw<i>/`` and resumes there. Beside M2, each draw trains a control on the
same steps: the same classifier network on the labelled codes alone (cross-entropy
only), which shows what the unlabelled images add. ``metrics.json`` in ``--out`` holds
the test error of both, per draw and as mean ± s.d.
"""
import argparse
import json
import os
import time

import numpy as np

import tinygen as tg
from tinygen import data, experiment, nn, optim, zoo
from tinygen.models import SemiSupervisedVAE
from tinygen.nn import functional as F
from tinygen.random import manual_seed

NAME = "semisupervised_mnist"


def add_flags(parser):
    parser.add_argument("--m1", default="vae", help="zoo model whose encoder makes the codes (M1+M2), "
                                                    "or 'none' for M2 on pixels")
    parser.add_argument("--labels-per-class", type=int, default=10, help="labelled training images per class")
    parser.add_argument("--draws", type=int, default=3, help="independent label draws (seeds seed, seed+1, ...)")
    parser.add_argument("--latent-dim", type=int, default=50, help="size of M2's continuous latent z2")
    parser.add_argument("--hidden", type=int, default=500, help="hidden units of each of M2's networks")
    parser.add_argument("--alpha", type=float, default=None,
                        help="weight of the labelled cross-entropy in J (default: the paper's 0.1 N)")


def inputs_of(args, images):
    """(N, 2, 1, D): each image's (μ1, log σ1²) under M1, or (pixels, unused) for --m1 none.
    Shaped as a one-row image so that data.DataLoader can batch it (scale_to=None)."""
    x = images[:, None].astype(np.float32) / 255.0
    if args.m1 == "none":
        flat = x.reshape(len(x), -1)
        return np.stack([flat, np.zeros_like(flat)], 1)[:, :, None]
    m1 = zoo.load(args.m1)
    parts = []
    with tg.no_grad():
        for i in range(0, len(x), 1000):
            mu, logvar = m1.encode(tg.tensor(x[i:i + 1000]))
            parts.append(np.stack([mu.numpy(), logvar.numpy()], 1))
    return np.concatenate(parts)[:, :, None]


def draw_inputs(args, batch):
    """One training input per row: z1 ~ N(μ1, σ1²) (M1+M2) or a binarization of the pixels."""
    first, second = batch[:, 0, 0], batch[:, 1, 0]
    if args.m1 == "none":
        return (tg.rand(*first.shape, dtype=first.dtype) < first).to(first.dtype)
    return first + (0.5 * second).exp() * tg.randn(*first.shape, dtype=first.dtype)


def labelled_subset(labels, per_class, seed):
    """``per_class`` indices of each class, drawn without replacement with this seed."""
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                                   for c in range(10)]))


def test_error(classify, test_inputs, test_labels):
    """Test error (%) of argmax q(y|x) on each image's mean input (μ1, or the grey pixels)."""
    with tg.no_grad():
        predicted = np.concatenate([classify(tg.tensor(test_inputs[i:i + 2000, 0, 0])).numpy().argmax(1)
                                    for i in range(0, len(test_inputs), 2000)])
    return float((predicted != test_labels).mean() * 100)


def train_draw(args, draw, run, train_inputs, train_labels, test_inputs, test_labels):
    """Train M2 and its control on one label draw; their test errors (%)."""
    run.started = time.time()         # the runs were all opened up front; time this draw alone
    manual_seed(args.seed + draw)
    few = labelled_subset(train_labels, args.labels_per_class, args.seed + draw)
    x_labelled = tg.tensor(train_inputs[few])
    y_labelled = tg.tensor(train_labels[few])
    dim = train_inputs.shape[-1]
    model = SemiSupervisedVAE(dim, args.latent_dim, args.hidden,
                              likelihood="bernoulli" if args.m1 == "none" else "gaussian")
    control = nn.Sequential(nn.Linear(dim, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    opt, control_opt = optim.Adam(model.parameters(), lr=args.lr), optim.Adam(control.parameters(), lr=args.lr)
    models, optimizers = {"m2": model, "control": control}, {"m2": opt, "control": control_opt}
    state = run.resume(models, optimizers)
    loader = data.DataLoader(data.ArrayDataset(train_inputs), args.batch_size, shuffle=True,
                             seed=args.seed + draw, scale_to=None)
    n_labelled, n_unlabelled = len(few), len(loader.dataset)

    def train_step(batch, _):
        x_l = draw_inputs(args, x_labelled)
        loss, parts = model.loss(x_l, y_labelled, draw_inputs(args, batch), n_labelled, n_unlabelled, args.alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        control_loss = F.cross_entropy(control(x_l), y_labelled)
        control_opt.zero_grad()
        control_loss.backward()
        control_opt.step()
        return {"loss": loss, **parts, "control": control_loss}

    def report(epoch):
        model.eval()
        control.eval()
        errors = {"test_error": test_error(model.classify, test_inputs, test_labels),
                  "test_error_control": test_error(control, test_inputs, test_labels)}
        run.log(**errors)
        print(f"draw {draw}, epoch {epoch}: test error {errors['test_error']:.2f}% "
              f"(control {errors['test_error_control']:.2f}%)", flush=True)

    run.train(loader, train_step, models, optimizers, state, modules=(model, control), end_of_epoch=report)
    model.eval()
    control.eval()
    result = {"test_error": round(test_error(model.classify, test_inputs, test_labels), 2),
              "test_error_control": round(test_error(control, test_inputs, test_labels), 2)}
    run.plot_history("errors.png", keys=["test_error", "test_error_control"], title=f"draw {draw}: test error (%)")
    run.plot_history(keys=["loss", "labelled", "unlabelled"], title=f"draw {draw}: M2's loss (nats per example)")
    run.write_metrics(result)
    run.finish()
    return result


def main(argv=None):
    args = experiment.parse_args("Semi-supervised MNIST from a few labels: M2 on M1's codes", argv,
                                 extra=add_flags, epochs=30, batch_size=100, lr=3e-4,
                                 quick=dict(epochs=1, limit=3000, draws=2))
    if args.m1 != "none" and args.m1 not in zoo.available():
        raise experiment.UsageError(NAME, f"--m1 {args.m1}: not in the zoo; choose from "
                                          f"{', '.join(zoo.available())}, or none")
    out = args.out or os.path.join("runs", NAME)
    # every draw's folder is checked (and its config written) before any of them trains
    runs = []
    for draw in range(args.draws):
        draw_args = argparse.Namespace(**{**vars(args), "out": os.path.join(out, f"draw{draw}"),
                                          "seed": args.seed + draw})
        runs.append(experiment.Run(NAME, draw_args))
    images, labels = data.load_mnist("train")
    test_images, test_labels = data.load_mnist("test")
    if args.limit:           # the labelled images come from the images trained on
        images, labels = images[:args.limit], labels[:args.limit]
    if args.quick:
        test_images, test_labels = test_images[:2000], test_labels[:2000]
    train_inputs, test_inputs = inputs_of(args, images), inputs_of(args, test_images)
    train_labels, test_labels = labels.astype(np.int64), test_labels.astype(np.int64)
    results = [train_draw(args, draw, run, train_inputs, train_labels, test_inputs, test_labels)
               for draw, run in enumerate(runs)]

    def spread(key):
        values = np.array([r[key] for r in results])
        return {"mean": round(float(values.mean()), 2), "sd": round(float(values.std(ddof=1)), 2)
                if len(values) > 1 else None, "per_draw": values.tolist()}

    metrics = {"test_error": spread("test_error"), "test_error_control": spread("test_error_control"),
               "m1": args.m1, "labels_per_class": args.labels_per_class, "draws": args.draws,
               "epochs": args.epochs, "test_n": int(len(test_labels))}
    path = os.path.join(out, "metrics.json")
    with open(path + ".tmp", "w") as f:
        json.dump(metrics, f, indent=2)
    os.replace(path + ".tmp", path)
    print(f"[{NAME}] test error {metrics['test_error']['mean']}% ± {metrics['test_error']['sd']} "
          f"over {args.draws} draws (control {metrics['test_error_control']['mean']}%)", flush=True)
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
