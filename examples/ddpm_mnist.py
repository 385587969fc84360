"""DDPM (Ho et al., 2020) on MNIST: a U-Net learns to predict the noise; samples come from
the learned reverse process.

    python examples/ddpm_mnist.py --backend cupy        # the intended setting: a GPU
    python examples/ddpm_mnist.py                       # CPU: ~2 s per batch of 64
    python examples/ddpm_mnist.py --quick               # smoke run, under a minute
    python examples/ddpm_mnist.py --conditional         # class-conditional, classifier-free guidance

Pixels are scaled to [-1, 1]. Samples and metrics come from an exponential moving average
of the weights (--ema, as in the paper). metrics.json holds the test L_simple on
--eval-n test images (fixed t and ε, --eval-seed) and FID/KID/precision/recall/modes of
--fid-n samples drawn by --sampler (ancestral: the paper's Algorithm 2; ddim: η = --eta) with
--sample-steps reverse steps (1000 = every timestep; fewer visit a respaced subsequence).
With --conditional the U-Net also sees the label (dropped to ∅ with probability
--p-uncond) and the samples are scored, with their conditional accuracy, at every
guidance scale in --guidance-scales (the first one draws samples.png). It writes
samples.png/.npz, reverse_process.png (x_t along the reverse process of 8 samples) and losses.png.
"""


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples
from tinygen.models import DDPM


def add_flags(parser):
    parser.add_argument("--channels", type=int, default=32, help="U-Net channels at 28×28 (twice that below)")
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average")
    parser.add_argument("--sample-steps", type=int, default=1000, help="reverse steps per sample")
    parser.add_argument("--sampler", choices=DDPM.SAMPLERS, default="ancestral",
                        help="ancestral (Algorithm 2) or ddim (deterministic at --eta 0)")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="ddim: η, the share of fresh noise per step (1: the posterior variance β̃_t)")
    parser.add_argument("--conditional", action="store_true",
                        help="class-conditional ε_θ(x_t, t, y) trained for classifier-free guidance")
    parser.add_argument("--p-uncond", type=float, default=0.1, help="--conditional: how often the label is dropped")
    parser.add_argument("--guidance-scales", type=lambda s: [float(w) for w in s.split(",")], default=[0.0],
                        help="--conditional: comma-separated guidance scales w to score (e.g. 0,1,3)")
    parser.add_argument("--grad-clip", type=float, default=1.0, help="clip the global gradient norm")
    experiment.add_lr_decay_flag(parser)
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for the test loss")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test loss's noise and timesteps")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")


def test_loss(model, args):
    """Mean L_simple over test images, with t and ε drawn once from --eval-seed (a conditional
    model sees each image's label)."""
    images, labels = data.load_mnist("test")
    x_all = images[:args.eval_n, None].astype(np.float32) / 127.5 - 1.0
    rng = np.random.default_rng(args.eval_seed)
    t_all = rng.integers(0, model.num_steps, len(x_all))
    eps_all = rng.standard_normal(x_all.shape).astype(np.float32)
    total = 0.0
    with tg.no_grad():
        for i in range(0, len(x_all), 500):
            x0, t, eps = tg.tensor(x_all[i:i + 500]), tg.tensor(t_all[i:i + 500]), tg.tensor(eps_all[i:i + 500])
            y = tg.tensor(labels[i:i + len(x0)].astype(np.int64)) if model.num_classes else None
            predicted = model.net(model.q_sample(x0, t, eps), t, y)
            total += ((eps - predicted) ** 2).mean().item() * len(x0)
    return total / len(x_all)


def samples(model, n, args, labels=None, guidance=0.0, batch=500):
    """n images in [0, 1]; a conditional model draws ``labels`` (n,) with guidance scale w."""
    return np.concatenate([
        (model.sample(min(batch, n - i), args.sample_steps, progress=True, sampler=args.sampler, eta=args.eta,
                      guidance=guidance, labels=None if labels is None else labels[i:i + batch]).numpy() + 1.0) / 2.0
        for i in range(0, n, batch)])


def reverse_process_strip(model, run, args):
    """x_t along the reverse process, one sample per row: how noise becomes a digit."""
    tg.manual_seed(0)
    labels = np.arange(8) if args.conditional else None
    model.sample(8, args.sample_steps, sampler=args.sampler, eta=args.eta, labels=labels,
                 guidance=args.guidance_scales[0], snapshots=10)
    frames = [(x + 1.0) / 2.0 for _, x in model.last_trajectory]
    grid = np.stack(frames, 1).reshape(-1, 1, 28, 28)
    times = ", ".join(str(t) for t, _ in model.last_trajectory)
    viz.save_image_grid(grid, run.path("reverse_process.png"), nrow=len(frames),
                        title=f"the reverse process, x_t at t = {times}")


def main(argv=None):
    args = experiment.parse_args("DDPM on MNIST", argv, extra=add_flags, epochs=20, batch_size=64, lr=2e-4,
                                 quick=dict(epochs=1, limit=9600, channels=8, sample_steps=10, eval_n=200,
                                            fid_n=100, num_samples=16))
    if args.eta < 0 or (args.eta and args.sampler != "ddim"):      # refused now, not after the training
        raise experiment.UsageError("ddpm_mnist", f"--eta {args.eta} needs --sampler ddim and η ≥ 0 (the "
                                    "ancestral sampler's variance is β_t; ddim --eta 1 gives β̃_t)")
    run = experiment.Run("ddpm_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, scale_to="pm1", resident=True)
    model = DDPM(args.channels, num_classes=10 if args.conditional else 0, p_uncond=args.p_uncond)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    ema = optim.EMA(model, args.ema)
    models, optimizers = {"model": model, "ema": ema.model}, {"opt": opt}
    state = run.resume(models, optimizers)
    sched = experiment.lr_schedule(args, opt, args.epochs * len(train), state)

    def train_step(x, y):
        loss = model.loss(x, y if args.conditional else None)
        opt.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        if sched:
            sched.step()
        ema.update(model)
        return {"loss": loss}

    def report(epoch):
        print(f"epoch {epoch}: L_simple {run.epoch_means().get('loss', float('nan')):.4f}", flush=True)

    run.train(train, train_step, models, optimizers, state, modules=(model,), end_of_epoch=report,
              extra=(lambda: {"sched": sched.state_dict()}) if sched else None)

    sampler = ema.model
    run.plot_history(title="DDPM: L_simple per step")
    metrics = {"test_l_simple": round(test_loss(sampler, args), 5), "test_n": min(args.eval_n, 10_000)}
    labels = np.arange(args.fid_n) % 10 if args.conditional else None       # every digit equally often
    for k, w in enumerate(args.guidance_scales if args.conditional else [0.0]):
        tg.manual_seed(args.seed)
        images_out = samples(sampler, args.fid_n, args, labels, w)
        name = f"samples_w{w:g}" if args.conditional else "samples"
        if k == 0:
            run.save_samples(images_out[:args.num_samples],
                             title=f"DDPM samples ({args.sampler}, {args.sample_steps} steps, EMA"
                                   + (f", w = {w:g})" if args.conditional else ")"))
        try:
            metrics[name] = evaluate_samples(images_out, labels, "mnist", args.fid_n)
        except FileNotFoundError as exc:       # the reference classifier is not trained yet
            metrics[name] = {"skipped": str(exc)}
    reverse_process_strip(sampler, run, args)
    metrics.update({"epochs": args.epochs, "channels": args.channels, "lr_decay": args.lr_decay,
                    "sample_steps": args.sample_steps,
                    "sampler": args.sampler, "eta": args.eta, "conditional": args.conditional,
                    "guidance_scales": args.guidance_scales if args.conditional else None,
                    "ema": args.ema, "sampled_from": "EMA of the weights",
                    "parameters": sum(p.numel() for p in model.parameters())})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
