"""The convolutional VAE on MNIST — tinygen's main job. Add --conditional for the CVAE.

    python examples/vae_mnist.py                       # default CPU run (≤ 15 min on 2 cores)
    python examples/vae_mnist.py --backend cupy        # on a GPU
    python examples/vae_mnist.py --latent-dim 2        # adds a 2-D manifold plot
    python examples/vae_mnist.py --loss mean           # means over pixels and latents, not sums
    python examples/vae_mnist.py --quick               # smoke run, under a minute

Training images are dynamically binarized (a fresh Bernoulli draw every epoch).
At the end it reports, in metrics.json: the test negative ELBO (all 10,000 test
images), the IWAE NLL with --iwae-k samples on --iwae-n test images (both with
dynamic binarization, seeded), sample metrics for z from the prior and for z from
an ex-post Gaussian mixture fitted to the training codes (--expost-components), and
writes reconstructions.png, samples.png/.npz, samples_expost.png, interpolation.png,
losses.png (and manifold.png + latents.png for --latent-dim 2).
"""
import sys

import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import binarization_protocol, evaluate_samples
from tinygen.models import VAE, ClassConditionalMixture, GaussianMixture


def add_flags(parser):
    parser.add_argument("--latent-dim", type=int, default=16, help="size of the latent z")
    parser.add_argument("--loss", choices=["elbo", "mean"], default="elbo",
                        help="elbo: sums over pixels and latents (a bound); mean: means (not a bound)")
    parser.add_argument("--conditional", action="store_true", help="train the conditional VAE")
    parser.add_argument("--prior", choices=["standard", "class"], default=None,
                        help="p(z): N(0, I), or for the CVAE a learned N(m_y, s_y²) per class "
                             "(default: standard for the VAE, class for the CVAE)")
    parser.add_argument("--beta-start", type=float, default=1.0,
                        help="KL weight β at the first step, decaying linearly to 1 over --beta-epochs "
                             "(β > 1 first starves z, so a CVAE's decoder learns to use the label)")
    parser.add_argument("--beta-epochs", type=float, default=0.0,
                        help="epochs over which β goes from --beta-start to 1 (then the plain ELBO)")
    experiment.add_lr_decay_flag(parser, default="none")
    parser.add_argument("--iwae-k", type=int, default=1000, help="importance samples per image")
    parser.add_argument("--iwae-n", type=int, default=1000, help="test images for the IWAE NLL")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test binarization")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")
    parser.add_argument("--expost-components", type=int, default=10,
                        help="also score samples whose z comes from a Gaussian mixture with this "
                             "many components fitted to the training codes (per class for the "
                             "CVAE) after training; 0: off")


def evaluate(model, args, run):
    model.eval()
    conditional = model.num_classes > 0
    x_all, y_all = data.binarized_mnist("test", 10_000 if not args.quick else 500, args.eval_seed)
    with tg.no_grad():
        nelbo = []
        for start in range(0, len(x_all), 500):
            x = tg.tensor(x_all[start:start + 500])
            y = tg.tensor(y_all[start:start + 500]) if conditional else None
            nelbo.append(model.negative_elbo(x, y))
        nelbo = np.concatenate(nelbo)
        n_iwae = min(args.iwae_n, len(x_all))
        iwae = []
        batch = 20
        for start in run_progress(range(0, n_iwae, batch), "IWAE"):
            x = tg.tensor(x_all[start:start + batch])
            y = tg.tensor(y_all[start:start + batch]) if conditional else None
            iwae.append(model.iwae_log_likelihood(x, k=args.iwae_k, labels=y, chunk=100))
        nll = -np.concatenate(iwae)
    report = {
        "test_negative_elbo_nats": round(float(nelbo.mean()), 3),
        "test_negative_elbo_n": int(len(nelbo)),
        "test_iwae_nll_nats": round(float(nll.mean()), 3),
        "test_iwae_nll_stderr": round(float(nll.std(ddof=1) / np.sqrt(len(nll))), 3),
        "iwae_k": args.iwae_k, "iwae_n": int(len(nll)),
        "binarization": binarization_protocol("dynamic") + f", eval seed {args.eval_seed}",
    }
    report["samples"] = sample_quality(model, args, prior_latents(model))
    if args.expost_components:
        density = fit_expost_density(model, args)
        # kept beside the checkpoint: sampling from the ex-post density needs it (tinygen.zoo)
        tg.save({"components": args.expost_components, "fitted_on": density.fitted_on,
                 "density": density.state_dict()}, run.path("expost_density.npz"))
        report["samples_expost"] = sample_quality(model, args, expost_latents(density),
                                                  run.path("samples_expost.png"))
        report["samples_expost"]["density"] = (
            f"{args.expost_components}-component full-covariance Gaussian mixture (EM) fitted to "
            f"the encoder means μ(x) of {density.fitted_on} training images"
            + (", one mixture per digit" if model.num_classes else ""))
    return report


def prior_latents(model):
    """z ~ the model's prior: N(0, I), or p(z|y) for a CVAE with the class prior."""
    def draw(n, labels):
        return model.sample_latents(n, None if labels is None else tg.tensor(labels))
    draw.description = "p(z|y), learned per class" if model.prior_kind == "class" else "N(0, I)"
    return draw


def fit_expost_density(model, args):
    """The ex-post latent density (Ghosh et al., 2020): a Gaussian mixture fitted to the encoder
    means of the training images (binarized once with --eval-seed), per class for a CVAE."""
    images, labels = data.load_mnist("train")
    n = min(len(images), args.limit or len(images))
    rng = np.random.default_rng(args.eval_seed)
    codes = []
    with tg.no_grad():
        for start in range(0, n, 1000):
            x = data.binarize_images(images[start:min(start + 1000, n)], rng)
            y = tg.tensor(labels[start:start + len(x)].astype(np.int64)) if model.num_classes else None
            codes.append(model.encode(tg.tensor(x), y)[0].numpy())
    codes = np.concatenate(codes)
    if model.num_classes:
        density = ClassConditionalMixture(model.num_classes, args.expost_components,
                                          seed=args.seed).fit(codes, labels[:n])
    else:
        density = GaussianMixture(args.expost_components, seed=args.seed).fit(codes)
    density.fitted_on = n
    return density


def expost_latents(density):
    def draw(n, labels):
        z = density.sample(labels) if labels is not None else density.sample(n)
        return tg.tensor(z.astype(np.float32))
    draw.description = "the ex-post Gaussian mixture fitted to training codes"
    return draw


def sample_quality(model, args, draw_latents, grid_path=None):
    """FID/KID/precision/recall/modes of --fid-n mean images sigmoid(decoder(z)), z from
    ``draw_latents(n, labels)``, in the reference feature space (plus conditional accuracy
    and per-class FID for the CVAE); the first 100 go to ``grid_path`` if given."""
    n = args.fid_n
    labels = np.arange(n) % 10 if model.num_classes else None
    images = []
    with tg.no_grad():
        for start in range(0, n, 500):
            y = None if labels is None else labels[start:start + 500]
            z = draw_latents(min(500, n - start), y)
            images.append(tg.sigmoid(model.decode(z, None if y is None else tg.tensor(y))).numpy())
    images = np.concatenate(images)
    if grid_path:
        viz.save_image_grid(images[:100], grid_path, nrow=10,
                            title=f"samples, z ~ {draw_latents.description}"
                            + (", digit = column" if labels is not None else ""))
    try:
        report = evaluate_samples(images, labels, "mnist", n)
    except FileNotFoundError as exc:      # the reference classifier is not trained yet
        return {"skipped": str(exc)}
    report["images"] = f"mean images sigmoid(decoder(z)), z ~ {draw_latents.description}"
    return report


def run_progress(iterable, desc):
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, file=sys.stderr, mininterval=1.0)


def pictures(model, run, args):
    """reconstructions.png, samples.png/.npz, interpolation.png (+ manifold for 2-D latents)."""
    model.eval()
    conditional = model.num_classes > 0
    x_test, y_test = data.binarized_mnist("test", 32, args.eval_seed)
    with tg.no_grad():
        x = tg.tensor(x_test)
        y = tg.tensor(y_test) if conditional else None
        mu, logvar = model.encode(x, y)
        recon = tg.sigmoid(model.decode(mu, y)).numpy()
        pairs = np.stack([x_test, recon], 1).reshape(-1, 1, 28, 28)   # input, output, input, ...
        viz.save_image_grid(pairs, run.path("reconstructions.png"), nrow=16,
                            title="input | reconstruction (pairs)")
        n = args.num_samples
        if conditional:
            labels = np.arange(n) % 10
            samples = model.sample(labels=labels).numpy()
            run.save_samples(samples, labels, nrow=10, title="CVAE samples, digit = column")
        else:
            samples = model.sample(n).numpy()
            run.save_samples(samples, title="VAE samples, z ~ N(0, I)")
        z = mu.numpy()
        path = viz.interpolate_latents(z[:8], z[8:16], steps=10)        # (10, 8, D)
        strip = path.transpose(1, 0, 2).reshape(-1, z.shape[1])
        strip_labels = tg.tensor(np.repeat(y_test[:8], 10)) if conditional else None
        frames = tg.sigmoid(model.decode(tg.tensor(strip), strip_labels)).numpy()
        viz.save_image_grid(frames, run.path("interpolation.png"), nrow=10,
                            title="latent interpolation between test digits")
        if args.latent_dim == 2 and not conditional:
            grid = viz.latent_grid_2d(20)
            images = tg.sigmoid(model.decode(tg.tensor(grid))).numpy()
            viz.save_image_grid(images, run.path("manifold.png"), nrow=20, padding=0,
                                title="decoded 2-D latent manifold")
            xs, ys = data.binarized_mnist("test", 5000, args.eval_seed)
            means = np.concatenate([model.encode(tg.tensor(xs[i:i + 500]))[0].numpy()
                                    for i in range(0, len(xs), 500)])
            viz.scatter_latents(means, ys, run.path("latents.png"), "test-set latent means")


def kl_weight(step, args, steps_per_epoch):
    """β(t) = 1 + (β₀ - 1)·max(0, 1 - t/T), T = --beta-epochs worth of steps: the loss
    ends as the plain ELBO, so every reported likelihood is that of the β = 1 model."""
    total = args.beta_epochs * steps_per_epoch
    if args.beta_start == 1.0 or total <= 0:
        return 1.0
    return 1.0 + (args.beta_start - 1.0) * max(0.0, 1.0 - step / total)


def main(argv=None):
    args = experiment.parse_args("Convolutional VAE on MNIST", argv, extra=add_flags, distributed=True,
                                 epochs=8, batch_size=128, lr=1e-3,
                                 quick=dict(epochs=3, limit=12800, iwae_k=50, iwae_n=100,
                                            num_samples=64, fid_n=500))
    name = "cvae_mnist" if args.conditional else "vae_mnist"
    run = experiment.Run(name, args)
    images, labels = data.load_mnist("train")
    train = run.data_loader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, transform=data.DynamicBinarize(),
                            resident=True)
    args.prior = args.prior or ("class" if args.conditional else "standard")
    model = VAE(args.latent_dim, num_classes=10 if args.conditional else 0, prior=args.prior)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    opt = run.data_parallel({"model": model}, {"opt": opt})["opt"]     # --distributed: shared steps
    state = run.resume({"model": model}, {"opt": opt})
    sched = experiment.lr_schedule(args, opt, args.epochs * len(train), state)

    def train_step(x, y):
        beta = kl_weight(run.step, args, len(train))
        loss, parts = model.loss(x, y if args.conditional else None, kind=args.loss, beta=beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        return {"loss": loss, "rec": parts["rec"], "kl": parts["kl"]}

    def report(epoch):
        means = run.epoch_means()
        if run.is_main:
            print(f"epoch {epoch}: loss {means.get('loss', float('nan')):.3f} "
                  f"(rec {means.get('rec', float('nan')):.3f}, kl {means.get('kl', float('nan')):.3f})",
                  flush=True)

    run.train(train, train_step, {"model": model}, {"opt": opt}, state, modules=(model,),
              extra=(lambda: {"sched": sched.state_dict()}) if sched else None, end_of_epoch=report)
    if not run.is_main:          # --distributed: rank 0 alone draws, evaluates and writes
        return run.finish()

    pictures(model, run, args)
    run.plot_history(title=f"{name}: loss ({args.loss}) per step")
    metrics = evaluate(model, args, run)
    metrics.update({"epochs": args.epochs, "latent_dim": args.latent_dim, "loss": args.loss, "lr_decay": args.lr_decay,
                    "beta_start": args.beta_start, "beta_epochs": args.beta_epochs, "prior": args.prior,
                    "parameters": sum(p.numel() for p in model.parameters())})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
