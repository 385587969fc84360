"""VQ-VAE (van den Oord et al., 2017) with a learned PixelCNN prior, on binarized MNIST.

    python examples/vqvae_mnist.py                     # CPU
    python examples/vqvae_mnist.py --backend cupy      # on a GPU
    python examples/vqvae_mnist.py --quick             # smoke run, under a minute

Two stages, as in the paper: first the VQ-VAE (--epochs), on dynamically binarized
training images; then the prior (--prior-epochs), a CategoricalPixelCNN over the 7×7 code
maps of the training images (binarized once, with --eval-seed). Samples are code maps
drawn from the prior and decoded.

metrics.json holds, on the first --eval-n binarized test images: the reconstruction NLL
-log p(x|z_q), the prior's NLL of the codes -log p(k(x)), their sum (an upper bound on
-log p(x) in nats, comparable with the VAE's and PixelCNN's), the codebook's perplexity
and usage; and FID/KID/precision/recall/modes of --fid-n samples. It writes
reconstructions.png, samples.png/.npz, codes.png (test code maps) and losses.png.
"""


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import binarization_protocol, evaluate_samples
from tinygen.models import VQVAE, CategoricalPixelCNN
from tinygen.models.vq import code_perplexity


def add_flags(parser):
    parser.add_argument("--num-codes", type=int, default=64, help="codebook size K")
    parser.add_argument("--code-dim", type=int, default=16, help="codebook vector size D")
    parser.add_argument("--hidden", type=int, default=64, help="encoder/decoder channels")
    parser.add_argument("--beta", type=float, default=0.25, help="commitment weight β")
    parser.add_argument("--ema-decay", type=float, default=0.99,
                        help="codebook entries as running means with this decay; 0: trained by "
                             "the codebook loss instead")
    parser.add_argument("--prior-epochs", type=int, default=10, help="epochs of the PixelCNN prior")
    parser.add_argument("--prior-lr", type=float, default=1e-3, help="learning rate of the prior")
    experiment.add_lr_decay_flag(parser)
    parser.add_argument("--prior-hidden", type=int, default=32, help="channels h of the prior's PixelCNN")
    parser.add_argument("--prior-blocks", type=int, default=5, help="residual blocks of the prior's PixelCNN")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for the NLL bound")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test binarization")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")
    parser.add_argument("--pixel-temperature", type=float, default=1.0,
                        help="samples are mean images σ(ℓ/τ) of the decoder tempered by τ (1: its own "
                             "means; below 1 sharper); metrics.json scores τ = 1 as well")


def training_codes(model, args):
    """k(x) of every training image (binarized once with --eval-seed): the prior's data."""
    images, _ = data.load_mnist("train")
    n = min(len(images), args.limit or len(images))
    rng = np.random.default_rng(args.eval_seed)
    model.eval()
    with tg.no_grad():
        return np.concatenate([
            model.encode(tg.tensor(data.binarize_images(images[i:min(i + 1000, n)], rng))).numpy()
            for i in range(0, n, 1000)])


def evaluate(model, prior, args, run):
    x_all, _ = data.binarized_mnist("test", args.eval_n, args.eval_seed)
    model.eval()
    prior.eval()
    rec, prior_nll, codes = [], [], []
    with tg.no_grad():
        for i in range(0, len(x_all), 500):
            x = tg.tensor(x_all[i:i + 500])
            k = model.encode(x)
            rec.append(model.reconstruction_nll(x).numpy())
            prior_nll.append(prior.nll(k).numpy())
            codes.append(k.numpy())
    rec, prior_nll, codes = np.concatenate(rec), np.concatenate(prior_nll), np.concatenate(codes)
    bound = rec + prior_nll
    report = {
        "test_reconstruction_nll_nats": round(float(rec.mean()), 3),
        "test_prior_nll_nats": round(float(prior_nll.mean()), 3),
        "test_nll_bound_nats": round(float(bound.mean()), 3),
        "test_nll_bound_stderr": round(float(bound.std(ddof=1) / np.sqrt(len(bound))), 3),
        "test_n": int(len(bound)),
        "code_perplexity": round(code_perplexity(codes, args.num_codes), 2),
        "codes_used": int(len(np.unique(codes))),
        "binarization": binarization_protocol("dynamic") + f", eval seed {args.eval_seed}",
    }
    viz.save_image_grid(codes[:32, None].astype(np.float32) / (args.num_codes - 1), run.path("codes.png"),
                        nrow=8, title="test code maps (7×7, code / K)")
    report.update(sample_quality(model, prior, args))
    return report


def decoded_prior_samples(model, prior, n, pixel_temperatures=(1.0,), batch=500):
    """Mean images σ(decoder(e_k)/τ), k ~ the PixelCNN prior: one array per τ, from the same codes."""
    chunks = []
    with tg.no_grad():
        for i in range(0, n, batch):
            codes = prior.sample(min(batch, n - i), 7, 7)
            chunks.append([model.mean_image(codes, tau).numpy() for tau in pixel_temperatures])
    return [np.concatenate(per_tau) for per_tau in zip(*chunks)]


def sample_quality(model, prior, args):
    """'samples' at --pixel-temperature; 'samples_untempered' at τ = 1 on the same codes when they differ."""
    taus = (args.pixel_temperature,) if args.pixel_temperature == 1.0 else (args.pixel_temperature, 1.0)
    report = {}
    for key, tau, images in zip(("samples", "samples_untempered"), taus,
                                decoded_prior_samples(model, prior, args.fid_n, taus)):
        try:
            report[key] = evaluate_samples(images, None, "mnist", args.fid_n)
        except FileNotFoundError as exc:       # the reference classifier is not trained yet
            return {"samples": {"skipped": str(exc)}}
        report[key]["images"] = f"mean images σ(decoder(e_k)/τ), τ = {tau:g}, k ~ the PixelCNN prior"
        report[key]["pixel_temperature"] = tau
    return report


def pictures(model, prior, run, args):
    model.eval()
    x_test, _ = data.binarized_mnist("test", 32, args.eval_seed)
    with tg.no_grad():
        recon = tg.sigmoid(model.decode(model.encode(tg.tensor(x_test)))).numpy()
    pairs = np.stack([x_test, recon], 1).reshape(-1, 1, 28, 28)
    viz.save_image_grid(pairs, run.path("reconstructions.png"), nrow=16, title="input | reconstruction (pairs)")
    run.save_samples(decoded_prior_samples(model, prior, args.num_samples, (args.pixel_temperature,))[0],
                     title=f"VQ-VAE samples, codes ~ PixelCNN prior, τ = {args.pixel_temperature:g}")



class _Perplexity:
    """A batch's code perplexity, computed only if the training loop logs it: it reads the
    codes back to the host, which a GPU step should not wait for every batch."""

    def __init__(self, codes, num_codes):
        self.codes, self.num_codes = codes, num_codes

    def item(self):
        return code_perplexity(self.codes.numpy(), self.num_codes)


def main(argv=None):
    args = experiment.parse_args("VQ-VAE with a PixelCNN prior on MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=128, lr=1e-3,
                                 quick=dict(epochs=3, prior_epochs=2, limit=60000, hidden=16,
                                            num_codes=16, code_dim=4, prior_hidden=8, prior_blocks=2,
                                            eval_n=200, fid_n=200, num_samples=16))
    if not args.pixel_temperature > 0:
        raise experiment.UsageError("vqvae_mnist",
                                    f"--pixel-temperature must be positive, not {args.pixel_temperature}")
    run = experiment.Run("vqvae_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, transform=data.DynamicBinarize(),
                            resident=True)
    model = VQVAE(args.num_codes, args.code_dim, args.hidden, args.beta, args.ema_decay or None)
    prior = CategoricalPixelCNN(args.num_codes, args.prior_hidden, args.prior_blocks)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    prior_opt = optim.Adam(prior.parameters(), lr=args.prior_lr)
    models, optimizers = {"vqvae": model, "prior": prior}, {"vqvae": opt, "prior": prior_opt}
    state = run.resume(models, optimizers)
    total = args.epochs + args.prior_epochs           # epochs past args.epochs train the prior
    sched = experiment.lr_schedule(args, opt, args.epochs * len(train), state)
    schedules = {"sched": sched}                      # the prior's joins after stage 1

    def vq_step(x, _):                                # stage 1: the VQ-VAE
        loss, parts = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        return {"rec": parts["rec"], "codebook": parts["codebook"], "commitment": parts["commitment"],
                "perplexity": _Perplexity(parts["codes"], args.num_codes)}

    def prior_step(codes, _):                         # stage 2: the prior over code maps
        loss = prior.loss(codes[:, 0])
        prior_opt.zero_grad()
        loss.backward()
        prior_opt.step()
        if schedules.get("prior_sched"):
            schedules["prior_sched"].step()
        return {"prior_nll": loss}

    def saved_schedules():
        return {key: value.state_dict() for key, value in schedules.items() if value}

    def report(epoch):
        print(f"epoch {epoch}: " + ", ".join(f"{k} {v:.3f}" for k, v in run.epoch_means().items()), flush=True)

    run.train(train, vq_step, models, optimizers, state, modules=(model,), end_of_epoch=report,
              epochs=range(0, args.epochs), extra=saved_schedules)
    code_loader = data.DataLoader(data.ArrayDataset(training_codes(model, args)), args.batch_size,
                                  shuffle=True, seed=args.seed, scale_to=None, resident=True)
    schedules["prior_sched"] = experiment.lr_schedule(args, prior_opt, args.prior_epochs * len(code_loader),
                                                      state, key="prior_sched")
    run.train(code_loader, prior_step, models, optimizers, state, modules=(prior,), end_of_epoch=report,
              epochs=range(args.epochs, total), extra=saved_schedules)

    pictures(model, prior, run, args)
    run.plot_history(title="VQ-VAE: reconstruction / VQ terms, then the prior's NLL (nats)")
    metrics = evaluate(model, prior, args, run)
    metrics.update({"epochs": args.epochs, "prior_epochs": args.prior_epochs, "num_codes": args.num_codes,
                    "lr_decay": args.lr_decay,
                    "code_dim": args.code_dim, "beta": args.beta, "ema_decay": args.ema_decay,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "prior_parameters": sum(p.numel() for p in prior.parameters())})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
