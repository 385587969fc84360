"""GANs on MNIST, one file for the family: pick the model with --arch.

    python examples/gan_mnist.py --arch dcgan          # DCGAN (Radford et al.)
    python examples/gan_mnist.py --arch conv           # small conv GAN (Keras' MNIST tutorial), losses on probabilities
    python examples/gan_mnist.py --arch mlp            # the fully connected GAN
    python examples/gan_mnist.py --arch wgan-gp        # WGAN-GP: critic without BN, λ = 10, n_critic = 5
    python examples/gan_mnist.py --arch cgan           # conditional GAN: G(z, y) and D(x, y)
    python examples/gan_mnist.py --arch acgan          # auxiliary-classifier GAN: D(x) → (real?, class)
    python examples/gan_mnist.py --arch infogan        # unconditional DCGAN with a categorical code (no labels)
    python examples/gan_mnist.py --arch selfcond       # CGAN on k-means clusters of the pixels (no labels)
    python examples/gan_mnist.py --arch dcgan --quick  # smoke run

One file with --arch (rather than one per model) because the loop is the same
alternation of D and G steps; what changes — networks, losses, optimizer
settings, pixel range — sits in the ARCHS table and in the two step functions
below, whose branches are the only per-model code.

Stabilisers: --label-smoothing (one-sided), --saturating (to compare with the
non-saturating default), --minibatch-std 4 (DCGAN's D sees how varied its batch
is), --spectral-norm (DCGAN's D spectrally normalised, no batch norm),
--g-steps 2 (two G updates per D update), --g-lr (G's own learning rate),
--ema 0.999 (grids and metrics from an exponential moving average of G's
weights), for WGAN-GP --n-critic and --gp-weight, for InfoGAN --info-weight,
for the self-conditioned GAN --clusters (K, the number of k-means clusters).

Outputs in --out: a sample grid from fixed noise (and, for the conditional
models, fixed labels: row r shows digit r) every epoch (epoch_001.png, ...) and
progress.gif, losses.png (D and G losses), dx.png (D(x) and D(G(z))),
samples.png/.npz, metrics.json (FID, KID, precision/recall, class histogram
against the MNIST reference features; conditional accuracy and per-class FID for
cgan/acgan; for infogan, the code → digit matching and the share of samples that
are their code's digit; for selfcond, the clusters' purity against the labels,
which are used for nothing else), config.json, checkpoint.npz (--resume).

FID on 10,000 samples moves between draws of the same G; to see by how much,
rerun a finished run on a copy of its folder with --epochs E --resume and a few
--sample-seed values (the evaluation's own seed for z and c).
"""
import os


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples, features_and_probs
from tinygen.models import gans

# per-arch: networks, pixel range, Adam settings
ARCHS = {
    "mlp": dict(G=gans.MLPGenerator, D=gans.MLPDiscriminator, pixels="pm1", lr=2e-4, betas=(0.5, 0.999)),
    "conv": dict(G=gans.ConvGenerator, D=gans.ConvDiscriminator, pixels="01", lr=2e-4, betas=(0.5, 0.999)),
    "dcgan": dict(G=gans.DCGANGenerator, D=gans.DCGANDiscriminator, pixels="pm1", lr=2e-4, betas=(0.5, 0.999)),
    "wgan-gp": dict(G=gans.DCGANGenerator, D=gans.WGANCritic, pixels="pm1", lr=1e-4, betas=(0.5, 0.9)),
    "cgan": dict(G=gans.ConditionalGenerator, D=gans.CGANDiscriminator, pixels="pm1", lr=2e-4,
                 betas=(0.5, 0.999), conditional=True),
    "acgan": dict(G=gans.ConditionalGenerator, D=gans.ACGANDiscriminator, pixels="pm1", lr=2e-4,
                  betas=(0.5, 0.999), conditional=True),
    # G(z, c) and D → (real?, Q(c|x)) as in ACGAN, but c is a drawn code and no label is used
    "infogan": dict(G=gans.ConditionalGenerator, D=gans.ACGANDiscriminator, pixels="pm1", lr=2e-4,
                    betas=(0.5, 0.999), coded=True),
    # CGAN's G(z, c) and D(x, c) with c the image's k-means cluster, not its label
    "selfcond": dict(G=gans.SelfConditionedGenerator, D=gans.CGANDiscriminator, pixels="pm1",
                      lr=2e-4, betas=(0.5, 0.999), clustered=True),
}


def add_flags(parser):
    parser.add_argument("--arch", choices=sorted(ARCHS), default="dcgan", help="which GAN to train")
    parser.add_argument("--latent-dim", type=int, default=100, help="size of the noise z")
    parser.add_argument("--label-smoothing", type=float, default=0.0,
                        help="one-sided: real targets become 1 - s (not for wgan-gp)")
    parser.add_argument("--saturating", action="store_true",
                        help="use the original minimax G loss log(1 - D(G(z))) instead of -log D(G(z))")
    parser.add_argument("--n-critic", type=int, default=5, help="critic steps per G step (wgan-gp)")
    parser.add_argument("--gp-weight", type=float, default=10.0, help="weight λ of the gradient penalty (wgan-gp)")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="decay of an exponential moving average of G's weights, used for the "
                             "grids and metrics (0: off, the plain G; 0.999 is usual)")
    parser.add_argument("--minibatch-std", type=int, default=0, metavar="GROUP",
                        help="dcgan: add a minibatch standard-deviation channel to D, over groups "
                             "of GROUP samples (Karras et al. 2018; 0: off)")
    parser.add_argument("--spectral-norm", action="store_true",
                        help="dcgan: spectrally normalise every layer of D, without batch norm "
                             "(Miyato et al. 2018)")
    parser.add_argument("--g-batch-norm", action="store_true",
                        help="mlp: batch norm in G's hidden layers (as PyTorch-GAN's MLP GAN)")
    parser.add_argument("--g-lr", type=float, default=None,
                        help="G's learning rate when it differs from D's (--lr); InfoGAN's paper "
                             "trains G at 1e-3 against D at 2e-4")
    parser.add_argument("--g-steps", type=int, default=1,
                        help="G updates per D update (a D that keeps winning can be given a G "
                             "that moves more often)")
    parser.add_argument("--info-weight", type=float, default=1.0,
                        help="infogan: λ, the weight of the mutual-information term")
    parser.add_argument("--clusters", type=int, default=50,
                        help="selfcond: K, the number of k-means clusters of the training pixels")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")
    parser.add_argument("--sample-seed", type=int, default=None,
                        help="seed the evaluation's draws (z, and c for the coded models) on their "
                             "own; rerun a finished run with --resume and a few seeds to see how "
                             "much FID moves between draws of the same G (default: the training RNG)")


def build(arch, latent_dim, minibatch_std=0, spectral_norm=False, num_clusters=50, g_batch_norm=False):
    spec = ARCHS[arch]
    if (minibatch_std or spectral_norm) and arch != "dcgan":
        raise SystemExit("--minibatch-std and --spectral-norm are DCGAN options (--arch dcgan)")
    if g_batch_norm and arch != "mlp":
        raise SystemExit("--g-batch-norm is an MLP GAN option (--arch mlp)")
    if arch == "mlp":
        return spec["G"](latent_dim, batch_norm=g_batch_norm), spec["D"]()
    if spec.get("clustered"):
        return spec["G"](latent_dim, num_clusters), spec["D"](num_classes=num_clusters)
    if spec.get("conditional") or spec.get("coded"):
        return spec["G"](latent_dim, num_classes=10), spec["D"](num_classes=10)
    if arch == "dcgan":
        return spec["G"](latent_dim), spec["D"](minibatch_std=minibatch_std, spectral_norm=spectral_norm)
    return spec["G"](latent_dim), spec["D"]()


def generate(G, z, labels):
    return G(z, labels) if labels is not None else G(z)


def objective(arch, args):
    """The arch's loss object (``gans.objectives``): how its D and G are scored."""
    if arch == "wgan-gp":
        return gans.WGANGP(args.gp_weight)
    if arch == "conv":         # D ends in a sigmoid: the loss works on probabilities
        return gans.ProbabilityGAN(args.label_smoothing)
    if arch == "acgan":
        return gans.ACGAN(args.label_smoothing, args.saturating)
    if arch == "infogan":      # the labels are the drawn codes c; Q sees no real label
        return gans.InfoGAN(args.info_weight, args.label_smoothing, args.saturating)
    return gans.LogitGAN(args.label_smoothing, args.saturating)     # mlp, dcgan, cgan, selfcond


def discriminator_step(loss_of, D, opt_d, real, labels, fake, fake_labels):
    """One D (critic) update on a real batch and a fake batch. ``fake`` is detached here,
    so only D's parameters receive gradients. Returns the loss and D's mean scores."""
    loss, scores = loss_of.discriminator(D, real, labels, fake.detach(), fake_labels)
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss, scores


def generator_step(loss_of, D, opt_g, fake, fake_labels):
    """One G update through a frozen D: D's gradients are computed but only opt_g steps
    (and each D step starts with zero_grad, so nothing leaks into D's next update)."""
    loss = loss_of.generator(D, fake, fake_labels)
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss


def to_unit(images, pixels):
    """Generator output → [0, 1] for pictures and metrics."""
    x = images.detach().numpy() if hasattr(images, "numpy") else images
    return np.clip((x + 1.0) / 2.0 if pixels == "pm1" else x, 0.0, 1.0)


def main(argv=None):
    args = experiment.parse_args("GANs on MNIST", argv, extra=add_flags, distributed=True, epochs=20, batch_size=64,
                                 lr=None, quick=dict(epochs=1, limit=12800, fid_n=500))
    spec = ARCHS[args.arch]
    conditional = spec.get("conditional", False)      # G and D use the data's labels
    clustered = spec.get("clustered", False)          # G and D use the images' k-means clusters
    takes_code = conditional or clustered or spec.get("coded", False)  # G(z, y): label, cluster or code
    lr = args.lr or spec["lr"]
    run = experiment.Run(f"gan_{args.arch.replace('-', '')}_mnist", args)
    images, labels = data.load_mnist("train")
    G, D = build(args.arch, args.latent_dim, args.minibatch_std, args.spectral_norm, args.clusters,
                 args.g_batch_norm)
    opt_g = optim.Adam(G.parameters(), lr=args.g_lr or lr, betas=spec["betas"])
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=spec["betas"])
    # --distributed: rank 0's weights everywhere (before the EMA copies G), gradients averaged
    opt_g, opt_d = run.data_parallel({"G": G, "D": D}, {"G": opt_g, "D": opt_d}).values()
    every_g = args.n_critic if args.arch == "wgan-gp" else 1
    loss_of = objective(args.arch, args)
    ema = optim.EMA(G, args.ema) if args.ema else None
    models = {"G": G, "D": D, **({"G_ema": ema.model} if ema else {})}

    # the same z (and labels or codes: row r is digit or code r) for every epoch's grid
    grid_rows = 10 if takes_code else 8
    fixed_noise = tg.randn(grid_rows * grid_rows, args.latent_dim)
    fixed_labels = tg.tensor(np.repeat(np.arange(10), 10), dtype="int64") if takes_code else None
    state = run.resume(models, {"G": opt_g, "D": opt_d})
    # the epoch grids' file names, relative to the run folder (older checkpoints kept paths)
    frames = [os.path.basename(f) for f in state["extra"].get("frames", [])] if state else []
    clusters = state["extra"].get("clusters") if state else None
    if clustered:       # the cluster ids take the labels' place; the labels only score the clusters
        images, labels = images[:args.limit], labels[:args.limit]
        if clusters is None:    # found once and kept in the checkpoint: a resumed run keeps its ids
            clusters = np.asarray(gans.cluster_images(images, args.clusters, seed=args.seed))
        if len(clusters) != len(images):
            raise SystemExit(f"the checkpoint's clustering covers {len(clusters)} images, this run has "
                             f"{len(images)}: resume with the --limit it was started with")
        for generator in (G, ema.model) if ema else (G,):
            generator.set_cluster_weights(clusters)
        cluster_probs = G.cluster_weights.numpy().astype(np.float64)
        cluster_probs /= cluster_probs.sum()          # π in float64, as rng.choice wants it
        true_labels, labels = labels, clusters
        # the grid's clusters drawn from π and sorted, so that a cluster's samples sit together
        grid_clusters = np.random.default_rng(args.seed).choice(args.clusters, 100, p=cluster_probs)
        fixed_labels = tg.tensor(np.sort(grid_clusters), dtype="int64")
    train = run.data_loader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, scale_to=spec["pixels"],
                            drop_last=True, resident=True)

    def train_step(real, real_labels):
        n = real.shape[0]
        real_labels = real_labels if conditional or clustered else None
        if clustered:          # the real batch's clusters: c ~ π, with no host round trip
            fake_labels = real_labels
        else:
            fake_labels = tg.randint(0, 10, (n,)) if takes_code else None
        fake = generate(G, tg.randn(n, args.latent_dim), fake_labels)
        d_loss, (d_real, d_fake) = discriminator_step(loss_of, D, opt_d, real, real_labels, fake, fake_labels)
        g_loss = None
        if run.batch % every_g == every_g - 1:     # WGAN-GP: n_critic D steps per G step
            for g_step in range(args.g_steps):
                if g_step:                         # later G steps: fresh z through the updated G
                    fake_labels = tg.randint(0, 10, (n,)) if takes_code and not clustered else fake_labels
                    fake = generate(G, tg.randn(n, args.latent_dim), fake_labels)
                g_loss = generator_step(loss_of, D, opt_g, fake, fake_labels)
                if ema:
                    ema.update(G)
        return {"d_loss": d_loss, "d_real": d_real, "d_fake": d_fake, "g_loss": g_loss}

    def epoch_grid(epoch):     # the same z (and labels) every epoch: progress.gif
        if not run.is_main:
            return
        sampler = ema.model if ema else G
        sampler.eval()
        with tg.no_grad():
            grid = to_unit(generate(sampler, fixed_noise, fixed_labels), spec["pixels"])
        G.train()
        viz.save_image_grid(grid, run.path(f"epoch_{epoch:03d}.png"), nrow=grid_rows, title=f"epoch {epoch}")
        frames.append(f"epoch_{epoch:03d}.png")

    run.train(train, train_step, models, {"G": opt_g, "D": opt_d}, state, modules=(G, D),
              extra=lambda: {"frames": frames, **({"clusters": clusters} if clustered else {})},
              end_of_epoch=epoch_grid)
    if not run.is_main:          # --distributed: rank 0 alone evaluates and writes
        return run.finish()

    wgan = args.arch == "wgan-gp"
    viz.save_gif([run.path(f) for f in frames], run.path("progress.gif"))
    run.plot_history("losses.png", keys=("d_loss", "g_loss"), title=f"{args.arch}: D and G losses")
    run.plot_history("dx.png", keys=("d_real", "d_fake"),
                     title=f"{args.arch}: " + ("critic scores" if wgan else "D(x) and D(G(z))"))
    sampler = ema.model if ema else G
    sampler.eval()
    # conditional models: an equal number of samples of each requested digit; infogan: codes
    # drawn from their uniform prior, as the model's own sampling does
    label_seed = args.seed if args.sample_seed is None else args.sample_seed
    if args.sample_seed is not None:
        tg.manual_seed(args.sample_seed)
    sample_labels = np.repeat(np.arange(10), -(-args.fid_n // 10))[:args.fid_n] if conditional else None
    if not conditional and takes_code:
        sample_labels = np.random.default_rng(label_seed).integers(0, 10, args.fid_n)
    if clustered:       # c ~ Categorical(π): the mixture the model stands for
        sample_labels = np.random.default_rng(label_seed).choice(args.clusters, args.fid_n, p=cluster_probs)
    chunks = []
    with tg.no_grad():
        for s in range(0, args.fid_n, 500):
            m = min(500, args.fid_n - s)
            y = tg.tensor(sample_labels[s:s + m], dtype="int64") if takes_code else None
            chunks.append(to_unit(generate(sampler, tg.randn(m, args.latent_dim), y), spec["pixels"]))
    samples = np.concatenate(chunks)
    if conditional:     # 10 of each digit, one digit per row
        per_class = -(-args.fid_n // 10)
        shown = np.array([c * per_class + j for c in range(10) for j in range(min(10, per_class))])
        run.save_samples(samples[shown], sample_labels[shown], nrow=10, title=f"{args.arch} samples")
    else:
        run.save_samples(samples[:max(args.num_samples, 64)], title=f"{args.arch} samples")
    metrics = evaluate_samples(samples, sample_labels if conditional else None, "mnist", args.fid_n)
    metrics.update({"arch": args.arch, "epochs": args.epochs, "ema": args.ema,
                    "sampled_from": "EMA of G's weights" if ema else "G", "sample_seed": args.sample_seed})
    if clustered:       # how well k-means found the digits: each cluster's majority-label share
        per_cluster = np.bincount(labels * 10 + true_labels, minlength=args.clusters * 10)
        majority = per_cluster.reshape(args.clusters, 10).max(1).sum()
        metrics.update({"clusters": args.clusters, "cluster_purity": round(majority / len(labels), 4)})
    if takes_code and not conditional and not clustered:      # does the unsupervised code mean "digit"?
        _, probs = features_and_probs(samples, "mnist")
        digit_of_code, accuracy = gans.code_accuracy(sample_labels, probs.argmax(1))
        metrics.update({"code_digit_map": digit_of_code, "code_accuracy": round(100 * accuracy, 3)})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
