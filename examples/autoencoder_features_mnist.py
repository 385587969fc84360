"""Autoencoder features for classification on MNIST: train without labels, then classify
with a linear probe on the codes.

    python examples/autoencoder_features_mnist.py               # plain autoencoder, 32-d code
    python examples/autoencoder_features_mnist.py --noise 0.3   # denoising autoencoder
    python examples/autoencoder_features_mnist.py --backend cupy
    python examples/autoencoder_features_mnist.py --quick       # smoke run, under a minute

metrics.json holds the test reconstruction loss (nats per image) and the linear-probe
test accuracy of each of the encoder's layers (the code, the 128-unit hidden layer, the
64×7×7 conv map; ``--layers`` picks them), trained and at initialisation (what training
added), and of raw pixels; each with all 60,000 labels and with 100 per class. It writes reconstructions.png, codes.png (test codes projected on their first two
principal axes, coloured by digit) and losses.png.
"""


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import linear_probe
from tinygen.models import Autoencoder


def add_flags(parser):
    parser.add_argument("--code-dim", type=int, default=32, help="size of the code the encoder makes")
    parser.add_argument("--noise", type=float, default=0.0,
                        help="masking noise: zero each input pixel with this probability (denoising AE)")
    parser.add_argument("--probe-epochs", type=int, default=30, help="epochs of each linear probe")
    parser.add_argument("--layers", default="code,hidden,conv",
                        help="encoder layers the probes read, comma-separated: code (--code-dim), "
                             "hidden (128), conv (64x7x7 = 3136)")


def parse_layers(text):
    layers = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(layers) - set(Autoencoder.LAYERS))
    if unknown or not layers:
        raise experiment.UsageError("autoencoder_features_mnist",
                                    f"--layers: unknown {unknown or text!r}; choose from {sorted(Autoencoder.LAYERS)}")
    return layers


def features_of(model, images, layer="code"):
    model.eval()
    with tg.no_grad():
        return np.concatenate([model.features(tg.tensor(images[i:i + 1000]), layer).numpy()
                               for i in range(0, len(images), 1000)])


def probes(train_feats, y_train, test_feats, y_test, few, epochs):
    """Linear-probe accuracy with all labels and with the ``few`` (100 per class)."""
    return {"all_labels": round(linear_probe(train_feats, y_train, test_feats, y_test, epochs=epochs), 2),
            "100_per_class": round(linear_probe(train_feats[few], y_train[few], test_feats, y_test,
                                                epochs=epochs * 10), 2)}


def main(argv=None):
    args = experiment.parse_args("Autoencoder features for MNIST classification", argv, extra=add_flags,
                                 epochs=10, batch_size=128, lr=1e-3,
                                 quick=dict(epochs=1, limit=12800, probe_epochs=2))
    layers = parse_layers(args.layers)
    run = experiment.Run("autoencoder_features_mnist", args)
    images, labels = data.load_mnist("train")
    test_images, test_labels = data.load_mnist("test")
    train = data.DataLoader(data.ArrayDataset(images, labels), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, resident=True)
    model = Autoencoder(args.code_dim, args.noise)
    n = args.limit or len(images)
    x_train = images[:n, None].astype(np.float32) / 255.0
    y_train = labels[:n].astype(np.int64)
    x_test = test_images[:, None].astype(np.float32) / 255.0
    y_test = test_labels.astype(np.int64)
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    few = np.concatenate([np.flatnonzero(y_train == c)[:100] for c in range(10)])
    # the baseline: the same encoder at initialisation (probed now, before training changes it)
    at_initialisation = {layer: probes(features_of(model, x_train, layer), y_train,
                                       features_of(model, x_test, layer), y_test, few, args.probe_epochs)
                         for layer in layers}
    opt = optim.Adam(model.parameters(), lr=args.lr)
    state = run.resume({"model": model}, {"opt": opt})

    def train_step(x, _):
        loss = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"rec": loss}

    def report(epoch):
        print(f"epoch {epoch}: reconstruction {run.epoch_means().get('rec', float('nan')):.3f} nats", flush=True)

    run.train(train, train_step, {"model": model}, {"opt": opt}, state, modules=(model,), end_of_epoch=report)

    model.eval()
    with tg.no_grad():
        test_rec = np.mean([model.loss(tg.tensor(x_test[i:i + 1000])).item() for i in range(0, len(x_test), 1000)])
        recon = tg.sigmoid(model(tg.tensor(x_test[:32]))).numpy()
    viz.save_image_grid(np.stack([x_test[:32], recon], 1).reshape(-1, 1, 28, 28), run.path("reconstructions.png"),
                        nrow=16, title="input | reconstruction (pairs)")
    test_codes = features_of(model, x_test)
    centred = test_codes - test_codes.mean(0)
    axes = np.linalg.svd(centred[:5000], full_matrices=False)[2][:2]
    viz.scatter_latents(centred @ axes.T, y_test, run.path("codes.png"), "test codes, first two principal axes")
    run.plot_history(title="autoencoder: reconstruction loss (nats per image)")

    pixels = (x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1))
    probe = {layer: {"trained": probes(features_of(model, x_train, layer), y_train,
                                       features_of(model, x_test, layer), y_test, few, args.probe_epochs),
                     "at_initialisation": at_initialisation[layer],
                     "width": int(test_codes.shape[1] if layer == "code" else
                                  features_of(model, x_test[:1], layer).shape[1])}
             for layer in layers}
    probe["pixels"] = probes(pixels[0], y_train, pixels[1], y_test, few, args.probe_epochs)
    probe.update(train_n=int(len(y_train)), test_n=int(len(y_test)))
    metrics = {
        "test_reconstruction_nats": round(float(test_rec), 3),
        "linear_probe": probe,
        "epochs": args.epochs, "code_dim": args.code_dim, "noise": args.noise,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
