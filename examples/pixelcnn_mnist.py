"""PixelCNN (van den Oord et al., 2016) on dynamically binarized MNIST: an exact likelihood.

    python examples/pixelcnn_mnist.py                  # CPU
    python examples/pixelcnn_mnist.py --backend cupy   # on a GPU
    python examples/pixelcnn_mnist.py --quick          # smoke run, under a minute

Training minimises the exact negative log-likelihood Σ_i -log p(x_i | x_<i) (nats per
image; no bound, unlike the VAE's ELBO). At the end it reports, in metrics.json, the test
NLL on --nll-n test images (binarized once with --eval-seed, the VAE example's protocol,
so the two numbers compare), and sample metrics for --fid-n samples beside those of as
many binarized *real* images (the samples are binary, so that is their floor). It writes
samples.png/.npz (drawn pixel by pixel: 784 network passes) and losses.png.
"""
import sys

import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim
from tinygen.metrics import binarization_protocol, evaluate_samples
from tinygen.models import PixelCNN


def add_flags(parser):
    parser.add_argument("--hidden", type=int, default=32, help="h: residual blocks carry 2h channels")
    parser.add_argument("--blocks", type=int, default=7, help="masked 3×3 residual blocks")
    experiment.add_lr_decay_flag(parser, default="cosine")
    parser.add_argument("--nll-n", type=int, default=10_000, help="test images for the exact NLL")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test binarization")
    parser.add_argument("--fid-n", type=int, default=1000,
                        help="samples for FID and friends (each costs 784 passes; 10,000 on a GPU)")


def test_nll(model, args):
    """Mean exact NLL (nats) and its standard error over the first --nll-n binarized test images."""
    x_all, _ = data.binarized_mnist("test", args.nll_n, args.eval_seed)
    model.eval()
    with tg.no_grad():
        nll = np.concatenate([model.nll(tg.tensor(x_all[i:i + 500])).numpy()
                              for i in range(0, len(x_all), 500)])
    return {"test_nll_nats": round(float(nll.mean()), 3),
            "test_nll_stderr": round(float(nll.std(ddof=1) / np.sqrt(len(nll))), 3),
            "test_nll_n": int(len(nll)),
            "test_nll_bits_per_dim": round(float(nll.mean() / (784 * np.log(2))), 4),
            "binarization": binarization_protocol("dynamic") + f", eval seed {args.eval_seed}"}


def draw_samples(model, n, batch=100):
    from tqdm import tqdm
    return np.concatenate([model.sample(min(batch, n - i)).numpy()
                           for i in tqdm(range(0, n, batch), desc="sampling", file=sys.stderr)])


def sample_quality(model, args, run):
    """Reference-feature metrics of --fid-n samples, and of as many binarized real training
    images: binary images sit far from the grey test digits, so the second is the floor."""
    samples = draw_samples(model, args.fid_n)
    run.save_samples(samples[:args.num_samples], title="PixelCNN samples")
    real, _ = data.binarized_mnist("train", args.fid_n, args.eval_seed)
    try:
        report = evaluate_samples(samples, None, "mnist", args.fid_n)
        report["binarized_real_floor"] = evaluate_samples(real, None, "mnist", args.fid_n)
    except FileNotFoundError as exc:       # the reference classifier is not trained yet
        return {"skipped": str(exc)}
    report["images"] = "binary samples, pixel by pixel"
    report["binarized_real_floor"]["what"] = f"binarized real train[:{args.fid_n}] vs real test"
    return report


def main(argv=None):
    args = experiment.parse_args("PixelCNN on binarized MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=64, lr=1e-3,
                                 quick=dict(epochs=1, limit=30000, hidden=8, blocks=2, nll_n=200,
                                            fid_n=64, num_samples=16))
    run = experiment.Run("pixelcnn_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, transform=data.DynamicBinarize(),
                            resident=True)
    model = PixelCNN(args.hidden, args.blocks)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    state = run.resume({"model": model}, {"opt": opt})
    sched = experiment.lr_schedule(args, opt, args.epochs * len(train), state)

    def train_step(x, _):
        loss = model.loss(x)                 # exact NLL, nats per image
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        return {"nll": loss}

    def report(epoch):
        print(f"epoch {epoch}: train NLL {run.epoch_means().get('nll', float('nan')):.3f} nats", flush=True)

    run.train(train, train_step, {"model": model}, {"opt": opt}, state, modules=(model,),
              extra=(lambda: {"sched": sched.state_dict()}) if sched else None, end_of_epoch=report)

    run.plot_history(title="PixelCNN: training NLL (nats per image)")
    metrics = test_nll(model, args)
    metrics["samples"] = sample_quality(model, args, run)
    metrics.update({"epochs": args.epochs, "hidden": args.hidden, "blocks": args.blocks,
                    "lr_decay": args.lr_decay,
                    "parameters": sum(p.numel() for p in model.parameters())})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
