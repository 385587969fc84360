"""An RBM, or a deep belief network of stacked RBMs, on binarized MNIST.

    python examples/rbm_mnist.py                          # one RBM, 500 hidden units, CD-1
    python examples/rbm_mnist.py --pcd --cd-steps 1       # persistent CD (better likelihoods)
    python examples/rbm_mnist.py --hidden 500,500         # a DBN: two RBMs trained greedily
    python examples/rbm_mnist.py --backend cupy           # on a GPU
    python examples/rbm_mnist.py --quick                  # smoke run, under a minute

Each RBM trains for --epochs on dynamically binarized images (the DBN's upper RBMs on the
sampled hidden states of the layer below), by SGD with momentum on the CD loss
mean F(v_data) - mean F(v_k) (see tinygen/models/rbm.py).

metrics.json holds: for a single RBM, log Z by annealed importance sampling and the test
NLL = mean F(v) + log Z in nats on --eval-n binarized test images (for a DBN that needs a
variational bound, not computed here); the linear-probe test accuracy of the top layer's
features beside that of raw pixels (with all labels, and with 100 per class); and
FID/KID/precision/recall/modes of --fid-n samples (--gibbs-steps sweeps from noise). It
writes samples.png/.npz, filters.png (the first RBM's weights) and losses.png.
"""
import sys

import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import binarization_protocol, evaluate_samples, linear_probe
from tinygen.models import DeepBeliefNetwork
from tinygen.models.energy import base_rate_visible_bias


def add_flags(parser):
    parser.add_argument("--hidden", default="500", help="hidden sizes, comma-separated (two or more: a DBN)")
    parser.add_argument("--cd-steps", type=int, default=1, help="k of CD-k")
    parser.add_argument("--pcd", action="store_true", help="persistent chains instead of restarting at the data")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--weight-decay", type=float, default=2e-4, help="L2 weight decay of the weights")
    parser.add_argument("--ais-chains", type=int, default=100, help="AIS runs for log Z")
    parser.add_argument("--ais-betas", type=int, default=10_000, help="intermediate temperatures per AIS run")
    parser.add_argument("--gibbs-steps", type=int, default=1000, help="Gibbs sweeps per sample")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for the NLL")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test binarization")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")


def train_layer(dbn, layer, train, run, args, state, epochs):
    """CD-k (or PCD-k) on RBM ``layer`` for ``epochs``, a range of the epochs numbered across
    all layers (so that --resume finds its place)."""
    rbm = dbn.rbms[layer]
    opt = optim.SGD(rbm.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    chains = None                     # PCD: the persistent Gibbs chains, kept across batches
    if state and state["epoch"] >= epochs.start:          # resuming inside (or after) this layer
        if f"opt{layer}" in state["optimizers"]:
            opt.load_state_dict(state["optimizers"][f"opt{layer}"])
        if "chains" in state["extra"] and state["extra"].get("chains_layer") == layer:
            chains = tg.tensor(state["extra"]["chains"])

    def cd_step(x, _):
        nonlocal chains
        v = dbn.layer_input(x.flatten(1), layer)
        if args.pcd:
            if chains is None or chains.shape[0] != v.shape[0]:
                chains = v
            chains, _ = rbm.gibbs(chains, args.cd_steps)
            v_model = chains
        else:
            v_model, _ = rbm.gibbs(v, args.cd_steps)
        loss = rbm.contrastive_divergence_loss(v, v_model)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {f"cd_loss_{layer}": loss}

    def report(epoch):
        print(f"layer {layer + 1}, epoch {epoch - epochs.start}: CD loss "
              f"{run.epoch_means().get(f'cd_loss_{layer}', float('nan')):.3f}", flush=True)

    run.train(train, cd_step, {"dbn": dbn}, {f"opt{layer}": opt}, state, end_of_epoch=report, epochs=epochs,
              extra=lambda: {"chains": chains.numpy(), "chains_layer": layer} if chains is not None else {})


def evaluate(dbn, args, run, train_mean):
    x_test, y_test = data.binarized_mnist("test", args.eval_n, args.eval_seed)
    report = {"binarization": binarization_protocol("dynamic") + f", eval seed {args.eval_seed}"}
    if len(dbn.rbms) == 1:
        rbm = dbn.rbms[0]
        base = tg.tensor(base_rate_visible_bias(train_mean))
        log_z, log_z_err = rbm.ais_log_partition(base, args.ais_chains, args.ais_betas, seed=args.seed,
                                                 progress=True)
        with tg.no_grad():
            free = np.concatenate([rbm.free_energy(tg.tensor(x_test[i:i + 1000].reshape(-1, 784))).numpy()
                                   for i in range(0, len(x_test), 1000)])
        nll = free.astype(np.float64) + log_z
        report.update({"ais_log_z": round(log_z, 3), "ais_log_z_stderr": round(log_z_err, 4),
                       "ais_chains": args.ais_chains, "ais_betas": args.ais_betas,
                       "test_nll_nats": round(float(nll.mean()), 3),
                       "test_nll_stderr": round(float(nll.std(ddof=1) / np.sqrt(len(nll))), 3),
                       "test_nll_n": int(len(nll))})
    report["linear_probe"] = probe_accuracies(dbn, args)
    samples = draw(dbn, args.fid_n, args.gibbs_steps)
    run.save_samples(samples[:args.num_samples].reshape(-1, 1, 28, 28),
                     title=f"{'DBN' if len(dbn.rbms) > 1 else 'RBM'} samples, {args.gibbs_steps} Gibbs sweeps")
    try:
        report["samples"] = evaluate_samples(samples.reshape(-1, 1, 28, 28), None, "mnist", args.fid_n)
        report["samples"]["images"] = f"mean images p(v|h) after {args.gibbs_steps} Gibbs sweeps from noise"
    except FileNotFoundError as exc:       # the reference classifier is not trained yet
        report["samples"] = {"skipped": str(exc)}
    return report


def draw(dbn, n, steps, batch=2000):
    from tqdm import tqdm
    return np.concatenate([dbn.sample(min(batch, n - i), steps).numpy()
                           for i in tqdm(range(0, n, batch), desc=f"sampling ({steps} Gibbs sweeps)",
                                         file=sys.stderr)])


def probe_accuracies(dbn, args):
    """Linear-probe accuracy of the top features and of raw pixels (images binarized once)."""
    n_train = min(60_000, args.limit or 60_000)
    x_train, y_train = data.binarized_mnist("train", n_train, args.eval_seed)
    x_test, y_test = data.binarized_mnist("test", args.eval_n, args.eval_seed + 1)
    with tg.no_grad():
        def feats(x):
            return np.concatenate([dbn.features(tg.tensor(x[i:i + 2000].reshape(-1, 784))).numpy()
                                   for i in range(0, len(x), 2000)])
        f_train, f_test = feats(x_train), feats(x_test)
    few = np.concatenate([np.flatnonzero(y_train == c)[:100] for c in range(10)])
    pixels_train, pixels_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return {
        "features_all_labels": round(linear_probe(f_train, y_train, f_test, y_test), 2),
        "pixels_all_labels": round(linear_probe(pixels_train, y_train, pixels_test, y_test), 2),
        "features_100_per_class": round(linear_probe(f_train[few], y_train[few], f_test, y_test, epochs=200), 2),
        "pixels_100_per_class": round(linear_probe(pixels_train[few], y_train[few], pixels_test, y_test,
                                                   epochs=200), 2),
        "train_n": int(n_train), "test_n": int(len(x_test)),
    }


def main(argv=None):
    args = experiment.parse_args("RBM / deep belief network on MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=100, lr=0.05,
                                 quick=dict(epochs=3, limit=60000, hidden="64", ais_chains=16, ais_betas=200,
                                            gibbs_steps=20, eval_n=200, fid_n=200, num_samples=16))
    sizes = (784,) + tuple(int(h) for h in str(args.hidden).split(","))
    run = experiment.Run("rbm_mnist" if len(sizes) == 2 else "dbn_mnist", args)
    images, labels = data.load_mnist("train")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, transform=data.DynamicBinarize(),
                            resident=True)
    train_mean = images[:args.limit or len(images)].reshape(-1, 784).mean(0) / 255.0
    dbn = DeepBeliefNetwork(sizes)
    dbn.rbms[0].visible_bias.data[...] = tg.tensor(base_rate_visible_bias(train_mean)).data  # Hinton's guide
    state = run.resume({"dbn": dbn})
    for layer in range(len(dbn.rbms)):
        train_layer(dbn, layer, train, run, args, state, range(layer * args.epochs, (layer + 1) * args.epochs))

    filters = dbn.rbms[0].weight.detach().numpy()[:100]
    low, high = filters.min(1, keepdims=True), filters.max(1, keepdims=True)
    viz.save_image_grid(((filters - low) / (high - low + 1e-12)).reshape(-1, 1, 28, 28),
                        run.path("filters.png"), nrow=10, title="first-layer weights W_j (each scaled to [0, 1])")
    run.plot_history(title="CD loss per layer: mean F(data) - mean F(model samples)")
    metrics = evaluate(dbn, args, run, train_mean)
    metrics.update({"sizes": list(sizes), "epochs_per_layer": args.epochs, "cd_steps": args.cd_steps,
                    "pcd": args.pcd, "lr": args.lr, "momentum": args.momentum,
                    "weight_decay": args.weight_decay})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
