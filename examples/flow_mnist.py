"""Normalizing flows on MNIST's 256 grey levels: RealNVP or Glow, trained by exact likelihood.

    python examples/flow_mnist.py --arch glow          # Glow (default)
    python examples/flow_mnist.py --arch realnvp       # RealNVP
    python examples/flow_mnist.py --backend cupy       # on a GPU
    python examples/flow_mnist.py --quick              # smoke run, under a minute

Training minimises bits/dim of uniformly dequantized pixels, x = (k + u)/256 (see
tinygen/models/flows/multiscale.py). metrics.json holds the test bits/dim on --eval-n test
images (one fixed dequantization, --eval-seed) and the same figure in nats per image;
and FID/KID/precision/recall/modes of --fid-n samples at temperature 1 and at
--temperature (with how many draws had to be clamped on the way back: a tail draw can
overflow a coupling's inverse). It writes samples.png/.npz and samples_T1.png (T = 1), samples_T.png and losses.png.
"""


import math

import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples
from tinygen.models import Glow, RealNVP


def add_flags(parser):
    parser.add_argument("--arch", choices=["glow", "realnvp"], default="glow", help="which flow to train")
    parser.add_argument("--hidden", type=int, default=64, help="channels of each coupling network")
    parser.add_argument("--levels", type=int, default=2, help="Glow levels / RealNVP scales")
    parser.add_argument("--steps", type=int, default=8, help="Glow: flow steps per level")
    parser.add_argument("--temperature", type=float, default=0.7, help="the reduced sampling temperature")
    parser.add_argument("--grad-clip", type=float, default=50.0, help="clip the global gradient norm")
    parser.add_argument("--alpha", type=float, default=1e-6,
                        help="the logit transform's α, y = logit(α + (1 - 2α) x): MNIST's pixels sit at 0 "
                             "and 1, and a small α spreads them over a wide range of y that a flow fits "
                             "far more easily than the narrow slab RealNVP's 0.05 (chosen for natural "
                             "images) leaves")
    experiment.add_lr_decay_flag(parser)
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for bits/dim")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test dequantization")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")


def build(args):
    if args.arch == "glow":
        return Glow(args.levels, args.steps, args.hidden, alpha=args.alpha)
    return RealNVP(args.levels, args.hidden, alpha=args.alpha)


def test_bits_per_dim(model, args):
    x_all, _ = data.dequantized_mnist("test", args.eval_n, args.eval_seed)   # one fixed dequantization
    model.eval()
    with tg.no_grad():
        bpd = np.concatenate([model.bits_per_dim(tg.tensor(x_all[i:i + 500])).numpy()
                              for i in range(0, len(x_all), 500)]).astype(np.float64)
    d = 784
    return {"test_bits_per_dim": round(float(bpd.mean()), 4),
            "test_bits_per_dim_stderr": round(float(bpd.std(ddof=1) / np.sqrt(len(bpd))), 4),
            "test_nll_nats": round(float(bpd.mean() * d * math.log(2)), 2),
            "test_n": int(len(bpd)),
            "dequantization": f"uniform, x = (k + u)/256, one draw with seed {args.eval_seed}"}


def sample_report(model, args, temperature, run, filename):
    batches, clamped = [], 0
    with tg.no_grad():
        for i in range(0, args.fid_n, 500):
            batches.append(model.sample(min(500, args.fid_n - i), temperature).numpy())
            clamped += model.last_clamped        # draws whose inverse left float range (see sample)
    images = np.concatenate(batches)
    viz.save_image_grid(images[:100], run.path(filename), nrow=10, title=f"{args.arch} samples, T = {temperature}")
    try:
        report = evaluate_samples(images, None, "mnist", args.fid_n)
    except FileNotFoundError as exc:       # the reference classifier is not trained yet
        report = {"skipped": str(exc)}
    report["temperature"] = temperature
    report["clamped_samples"] = clamped
    return report, images


def main(argv=None):
    args = experiment.parse_args("RealNVP / Glow on MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=64, lr=1e-3,
                                 quick=dict(epochs=1, limit=30000, hidden=8, steps=2, eval_n=200, fid_n=200,
                                            num_samples=16))
    run = experiment.Run(f"flow_{args.arch}_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, resident=True)
    model = build(args)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    state = run.resume({"model": model}, {"opt": opt})
    sched = experiment.lr_schedule(args, opt, args.epochs * len(train), state)

    def train_step(x, _):
        loss = model.loss(model.dequantize(x))    # bits/dim
        opt.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        if sched:
            sched.step()
        return {"bits_per_dim": loss}

    def report(epoch):
        print(f"epoch {epoch}: train {run.epoch_means().get('bits_per_dim', float('nan')):.4f} bits/dim",
              flush=True)

    run.train(train, train_step, {"model": model}, {"opt": opt}, state, modules=(model,), end_of_epoch=report,
              extra=(lambda: {"sched": sched.state_dict()}) if sched else None)

    run.plot_history(title=f"{args.arch}: training bits/dim")
    metrics = test_bits_per_dim(model, args)
    full, images = sample_report(model, args, 1.0, run, "samples_T1.png")
    metrics["samples"] = full
    metrics["samples_reduced_temperature"], _ = sample_report(model, args, args.temperature, run, "samples_T.png")
    run.save_samples(images[:args.num_samples], title=f"{args.arch} samples, T = 1")
    metrics.update({"arch": args.arch, "epochs": args.epochs, "levels": args.levels, "hidden": args.hidden,
                    "lr_decay": args.lr_decay,
                    "steps": args.steps if args.arch == "glow" else None,
                    "parameters": sum(p.numel() for p in model.parameters())})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
