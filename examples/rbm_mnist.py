"""An RBM, or a deep belief network of stacked RBMs, on binarized MNIST.

    python examples/rbm_mnist.py                          # one RBM, 500 hidden units, CD-1
    python examples/rbm_mnist.py --pcd --cd-steps 1       # persistent CD (better likelihoods)
    python examples/rbm_mnist.py --hidden 500,500         # a DBN: two RBMs trained greedily
    python examples/rbm_mnist.py --hidden 500,500,2000 --finetune-epochs 30 --control
                                                          # the DBN fine-tuned as a classifier,
                                                          # beside the same net from random init
    python examples/rbm_mnist.py --backend cupy           # on a GPU
    python examples/rbm_mnist.py --quick                  # smoke run, under a minute

Each RBM trains for --epochs on dynamically binarized images (the DBN's upper RBMs on the
sampled hidden states of the layer below), by SGD with momentum on the CD loss
mean F(v_data) - mean F(v_k) (see tinygen/models/rbm.py).

metrics.json holds: for a single RBM, log Z by annealed importance sampling and the test
NLL = mean F(v) + log Z in nats on --eval-n binarized test images (for a DBN that needs a
variational bound, not computed here); the linear-probe test accuracy of the top layer's
features beside that of raw pixels (with all labels, and with 100 per class); and
FID/KID/precision/recall/modes of --fid-n samples (--gibbs-steps sweeps from noise); with
--finetune-epochs, the test error of the fine-tuned classifier (and of --control). It
writes samples.png/.npz, filters.png (the first RBM's weights) and losses.png.
"""
import sys

import numpy as np

import tinygen as tg
from tinygen import data, experiment, nn, optim, viz
from tinygen.nn import functional as F
from tinygen.metrics import binarization_protocol, evaluate_samples, linear_probe
from tinygen.models import DBNClassifier, DeepBeliefNetwork
from tinygen.models.energy import base_rate_visible_bias


def add_flags(parser):
    parser.add_argument("--hidden", default="500", help="hidden sizes, comma-separated (two or more: a DBN)")
    parser.add_argument("--cd-steps", type=int, default=1, help="k of CD-k")
    parser.add_argument("--pcd", action="store_true", help="persistent chains instead of restarting at the data")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--initial-momentum", type=float, default=None,
                        help="momentum for each layer's first --momentum-epochs epochs, then "
                             "--momentum (Hinton's practical guide: 0.5, then 0.9; default: "
                             "--momentum throughout)")
    parser.add_argument("--momentum-epochs", type=int, default=5,
                        help="epochs of --initial-momentum at the start of each layer")
    parser.add_argument("--lr-decay", choices=["none", "linear"], default="none",
                        help="linear: the learning rate falls linearly to 0 over each layer's "
                             "epochs, stepped per batch (Tieleman 2008's schedule for PCD)")
    parser.add_argument("--weight-decay", type=float, default=2e-4, help="L2 weight decay of the weights")
    parser.add_argument("--ais-chains", type=int, default=100, help="AIS runs for log Z")
    parser.add_argument("--finetune-epochs", type=int, default=0,
                        help="then fine-tune the DBN as a classifier (its RBMs initialise a sigmoid "
                             "MLP with a softmax on top; backprop on the labels) for this many epochs")
    parser.add_argument("--finetune-lr", type=float, default=0.1,
                        help="fine-tuning SGD learning rate, decayed linearly to 0")
    parser.add_argument("--control", action="store_true",
                        help="with --finetune-epochs: also train the same classifier from random "
                             "(Glorot-uniform ×4, the sigmoid range) initialisation, the same way (the control for pretraining)")
    parser.add_argument("--ais-runs", type=int, default=1,
                        help="independent AIS runs (seeds seed, seed+1, ...): their spread of log Z "
                             "is reported, and the NLL uses their pooled estimate")
    parser.add_argument("--ais-betas", type=int, default=10_000, help="intermediate temperatures per AIS run")
    parser.add_argument("--gibbs-steps", type=int, default=1000, help="Gibbs sweeps per sample")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for the NLL")
    parser.add_argument("--eval-seed", type=int, default=1234, help="seed of the test binarization")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples for FID and friends")


def train_layer(dbn, layer, train, run, args, state, epochs, models):
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

    def set_schedule():
        """lr and momentum from the position in this layer's epochs alone (so --resume needs
        no scheduler state): lr₀ · (1 - done / total) for --lr-decay linear."""
        done = (run.epoch - epochs.start) * len(train) + run.batch
        for group in opt.param_groups:
            if args.lr_decay == "linear":
                group["lr"] = args.lr * (1.0 - done / (len(epochs) * len(train)))
            warming = args.initial_momentum is not None and run.epoch - epochs.start < args.momentum_epochs
            group["momentum"] = args.initial_momentum if warming else args.momentum

    def cd_step(x, _):
        nonlocal chains
        set_schedule()
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

    run.train(train, cd_step, models, {f"opt{layer}": opt}, state, end_of_epoch=report, epochs=epochs,
              extra=lambda: {"chains": chains.numpy(), "chains_layer": layer} if chains is not None else {})


def finetune(name, model, labelled, run, args, state, epochs, models, start_from=None):
    """Backprop on -log p(y|v) for ``epochs`` (a stage of the run's epochs): SGD with momentum
    0.9, the learning rate falling linearly from --finetune-lr to 0. ``start_from()`` sets the
    initial weights when the stage starts fresh (not when --resume lands inside it)."""
    opt = optim.SGD(model.parameters(), lr=args.finetune_lr, momentum=0.9)
    inside = state is not None and (state["epoch"], state["batch"]) > (epochs.start, 0)
    if inside and f"opt_{name}" in state["optimizers"]:
        opt.load_state_dict(state["optimizers"][f"opt_{name}"])
    elif not inside and start_from:
        start_from()

    def step(x, y):
        done = (run.epoch - epochs.start) * len(labelled) + run.batch
        for group in opt.param_groups:
            group["lr"] = args.finetune_lr * (1.0 - done / (len(epochs) * len(labelled)))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {f"loss_{name}": loss}

    def report(epoch):
        print(f"{name}, epoch {epoch - epochs.start}: loss "
              f"{run.epoch_means().get(f'loss_{name}', float('nan')):.4f}", flush=True)

    run.train(labelled, step, models, {f"opt_{name}": opt}, state, modules=(model,), end_of_epoch=report,
              epochs=epochs)


def test_error(model, x_test, y_test):
    """Test error in % of a classifier on grey-level images in [0, 1]."""
    model.eval()
    with tg.no_grad():
        predicted = np.concatenate([model(tg.tensor(x_test[i:i + 1000])).argmax(1).numpy()
                                    for i in range(0, len(x_test), 1000)])
    return round(100.0 * float((predicted != y_test).mean()), 3)


def evaluate(dbn, args, run, train_mean):
    x_test, y_test = data.binarized_mnist("test", args.eval_n, args.eval_seed)
    report = {"binarization": binarization_protocol("dynamic") + f", eval seed {args.eval_seed}"}
    if len(dbn.rbms) == 1:
        rbm = dbn.rbms[0]
        base = tg.tensor(base_rate_visible_bias(train_mean))
        runs = [rbm.ais_log_partition(base, args.ais_chains, args.ais_betas, seed=args.seed + r, progress=True)
                for r in range(args.ais_runs)]
        estimates = np.array([z for z, _ in runs])
        # equal-sized runs pool as one: Ẑ = mean_r Ẑ_r, i.e. log Z = logsumexp(log Z_r) - log R
        log_z = float(np.logaddexp.reduce(estimates) - np.log(len(estimates)))
        log_z_err = float(np.sqrt(np.mean([e ** 2 for _, e in runs]) / len(runs)))
        if len(runs) > 1:
            report.update({"ais_runs": len(runs), "ais_log_z_runs": [round(float(z), 3) for z in estimates],
                           "ais_log_z_spread": round(float(estimates.max() - estimates.min()), 3),
                           "ais_log_z_sd": round(float(estimates.std(ddof=1)), 3)})
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
    # every network the run trains is in every checkpoint, so --resume finds each one's place
    classifiers = {}
    if args.finetune_epochs:
        classifiers["pretrained"] = DBNClassifier(sizes)
        if args.control:
            # Glorot-uniform weights with the range ×4 that Glorot & Bengio (2010) give for
            # sigmoid units, and zero biases. Sigmoid's slope is 1/4 at 0, so with gain 1 (or
            # PyTorch's default U(±1/√fan_in)) each layer shrinks the signal's variance ~16×
            # and these four layers stay at chance (loss 2.30 for 10+ epochs), which would
            # make pretraining look better than it is
            control = classifiers["control"] = DBNClassifier(sizes)
            for layer in control.hidden:
                nn.init.xavier_uniform_(layer.weight, gain=4.0)
                nn.init.zeros_(layer.bias)
    models = {"dbn": dbn, **classifiers}
    state = run.resume(models)
    for layer in range(len(dbn.rbms)):
        train_layer(dbn, layer, train, run, args, state, range(layer * args.epochs, (layer + 1) * args.epochs),
                    models)
    finetuned = {}
    if classifiers:
        labelled = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                                   seed=args.seed, limit=args.limit, resident=True)
        x_test, y_test = data.load_mnist("test")
        x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
        start = len(dbn.rbms) * args.epochs
        for name, model in classifiers.items():
            stage = range(start, start + args.finetune_epochs)
            finetune(name, model, labelled, run, args, state, stage, models,
                     start_from=(lambda: classifiers["pretrained"].load_rbms(dbn)) if name == "pretrained" else None)
            finetuned[f"{name}_test_error_percent"] = test_error(model, x_test, y_test)
            start = stage.stop
        finetuned.update({"epochs": args.finetune_epochs, "lr": args.finetune_lr, "momentum": 0.9,
                          "test_n": int(len(y_test)), "inputs": "grey levels in [0, 1], not binarized"})
        print(f"[{run.name}] fine-tuned test error: " + ", ".join(
            f"{k.split('_')[0]} {v}%" for k, v in finetuned.items() if k.endswith("percent")), flush=True)

    filters = dbn.rbms[0].weight.detach().numpy()[:100]
    low, high = filters.min(1, keepdims=True), filters.max(1, keepdims=True)
    viz.save_image_grid(((filters - low) / (high - low + 1e-12)).reshape(-1, 1, 28, 28),
                        run.path("filters.png"), nrow=10, title="first-layer weights W_j (each scaled to [0, 1])")
    run.plot_history(title="CD loss per layer: mean F(data) - mean F(model samples)")
    metrics = evaluate(dbn, args, run, train_mean)
    metrics.update({"sizes": list(sizes), "epochs_per_layer": args.epochs, "cd_steps": args.cd_steps,
                    "pcd": args.pcd, "lr": args.lr, "lr_decay": args.lr_decay, "momentum": args.momentum,
                    "initial_momentum": args.initial_momentum, "momentum_epochs": args.momentum_epochs,
                    "weight_decay": args.weight_decay})
    if finetuned:
        metrics["finetune"] = finetuned
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
