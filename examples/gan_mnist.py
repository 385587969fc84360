"""GANs on MNIST, one file for the family: pick the model with --arch.

    python examples/gan_mnist.py --arch dcgan          # DCGAN (Radford et al.)
    python examples/gan_mnist.py --arch seed           # seed 004's GAN, its losses as stated
    python examples/gan_mnist.py --arch mlp            # seed 000's fully connected "simple GAN"
    python examples/gan_mnist.py --arch wgan-gp        # WGAN-GP: critic without BN, λ = 10, n_critic = 5
    python examples/gan_mnist.py --arch dcgan --quick  # smoke run

One file with --arch (rather than one per model) because the loop is the same
alternation of D and G steps; what changes — networks, losses, optimizer
settings, pixel range — sits in the ARCHS table below. The conditional GANs
(CGAN, ACGAN) are not written yet.

Outputs in --out: a sample grid from fixed noise every epoch (epoch_001.png, ...)
and progress.gif, losses.png (D and G losses), dx.png (D(x) and D(G(z))),
samples.png/.npz, metrics.json (FID, KID, precision/recall, class histogram
against the MNIST reference features), config.json, checkpoint.npz (--resume).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))   # run from a checkout

import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples
from tinygen.models import gan

# per-arch: networks, pixel range, Adam settings, and how D's output is read
ARCHS = {
    "mlp": dict(G=gan.MLPGenerator, D=gan.MLPDiscriminator, pixels="pm1", lr=2e-4, betas=(0.5, 0.999)),
    "seed": dict(G=gan.SeedGenerator, D=gan.SeedDiscriminator, pixels="01", lr=2e-4, betas=(0.5, 0.999)),
    "dcgan": dict(G=gan.DCGANGenerator, D=gan.DCGANDiscriminator, pixels="pm1", lr=2e-4, betas=(0.5, 0.999)),
    "wgan-gp": dict(G=gan.DCGANGenerator, D=gan.WGANCritic, pixels="pm1", lr=1e-4, betas=(0.5, 0.9)),
}


def add_flags(parser):
    parser.add_argument("--arch", choices=sorted(ARCHS), default="dcgan")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--label-smoothing", type=float, default=0.0,
                        help="one-sided: real targets become 1 - s (not for seed/wgan-gp)")
    parser.add_argument("--saturating", action="store_true",
                        help="use the original minimax G loss log(1 - D(G(z))) instead of -log D(G(z))")
    parser.add_argument("--n-critic", type=int, default=5, help="critic steps per G step (wgan-gp)")
    parser.add_argument("--gp-weight", type=float, default=10.0)
    parser.add_argument("--fid-n", type=int, default=10_000)


def to_unit(images, pixels):
    """Generator output → [0, 1] for pictures and metrics."""
    x = images.detach().numpy() if hasattr(images, "numpy") else images
    return np.clip((x + 1.0) / 2.0 if pixels == "pm1" else x, 0.0, 1.0)


def main(argv=None):
    args = experiment.parse_args("GANs on MNIST", argv, extra=add_flags, epochs=20, batch_size=64,
                                 lr=None, quick=dict(epochs=1, limit=1024, fid_n=500))
    spec = ARCHS[args.arch]
    lr = args.lr or spec["lr"]
    run = experiment.Run(f"gan_{args.arch.replace('-', '')}_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, scale_to=spec["pixels"],
                            drop_last=True, resident=True)
    G, D = spec["G"](args.latent_dim), spec["D"]()
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=spec["betas"])
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=spec["betas"])
    wgan, seed_losses = args.arch == "wgan-gp", args.arch == "seed"
    critic = D.logits if seed_losses else D           # logits for the stable BCE form

    fixed_noise = tg.randn(64, args.latent_dim)        # the same z for every epoch's grid
    state = run.resume({"G": G, "D": D}, {"G": opt_g, "D": opt_d})
    start_epoch, skip = (state["epoch"], state["batch"]) if state else (0, 0)
    frames = list(state["extra"].get("frames", [])) if state else []
    epoch, batch = start_epoch, skip

    def save():
        run.save_checkpoint(epoch, batch, {"G": G, "D": D}, {"G": opt_g, "D": opt_d},
                            extra={"frames": frames})

    with run.interrupt_guard(save):
        for epoch in range(start_epoch, args.epochs):
            batch = skip if epoch == start_epoch else 0
            train.set_epoch(epoch, batch)
            G.train(), D.train()
            for real, _ in run.progress(train, epoch):
                z = tg.randn(real.shape[0], args.latent_dim)
                fake = G(z)
                # -- D (critic) step: G's output is detached, so only D learns here
                if wgan:
                    real_score, fake_score = D(real), D(fake.detach())
                    d_loss = fake_score.mean() - real_score.mean() + \
                        gan.gradient_penalty(D, real, fake, args.gp_weight)
                elif seed_losses:
                    real_score, fake_score = D(real), D(fake.detach())
                    d_loss = gan.seed_discriminator_loss(real_score, fake_score)
                else:
                    real_score, fake_score = D(real), D(fake.detach())
                    d_loss = gan.discriminator_loss(real_score, fake_score, args.label_smoothing)
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                # -- G step (every n_critic batches for WGAN-GP); only G's optimizer steps
                g_loss = None
                if not wgan or batch % args.n_critic == args.n_critic - 1:
                    if wgan:
                        g_loss = -D(fake).mean()
                    elif seed_losses:
                        g_loss = gan.seed_generator_loss(D(fake))
                    else:
                        g_loss = gan.generator_loss(critic(fake), not args.saturating)
                    opt_g.zero_grad()
                    g_loss.backward()
                    opt_g.step()
                batch += 1
                if batch % 10 == 0 or batch == len(train):
                    prob = (lambda s: s.mean()) if (wgan or seed_losses) else (lambda s: tg.sigmoid(s).mean())
                    run.log(d_loss=d_loss, d_real=prob(real_score), d_fake=prob(fake_score))
                    if g_loss is not None:
                        run.log(g_loss=g_loss)
            epoch, batch = epoch + 1, 0
            G.eval()
            with tg.no_grad():
                grid = to_unit(G(fixed_noise), spec["pixels"])
            G.train()
            viz.save_image_grid(grid, run.path(f"epoch_{epoch:03d}.png"), nrow=8, title=f"epoch {epoch}")
            frames.append(run.path(f"epoch_{epoch:03d}.png"))
            save()

    viz.save_gif(frames, run.path("progress.gif"))
    run.plot_history("losses.png", keys=("d_loss", "g_loss"), title=f"{args.arch}: D and G losses")
    run.plot_history("dx.png", keys=("d_real", "d_fake"),
                     title=f"{args.arch}: " + ("critic scores" if wgan else "D(x) and D(G(z))"))
    G.eval()
    with tg.no_grad():
        samples = np.concatenate([to_unit(G(tg.randn(min(500, args.fid_n - s), args.latent_dim)),
                                          spec["pixels"]) for s in range(0, args.fid_n, 500)])
    run.save_samples(samples[:max(args.num_samples, 64)], title=f"{args.arch} samples")
    metrics = evaluate_samples(samples, None, "mnist", args.fid_n)
    metrics.update({"arch": args.arch, "epochs": args.epochs})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    main()
