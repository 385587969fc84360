"""CycleGAN (Zhu et al., 2017) between two real datasets with no pairs: MNIST digits (A) and
--target B: the UCI handwritten digits (``digits``, scikit-learn's 8×8 scans upsampled to
28×28; the default) or Fashion-MNIST clothes (``fashion``, the style demo).

    python examples/cyclegan_mnist.py                      # MNIST <-> UCI digits
    python examples/cyclegan_mnist.py --target fashion     # MNIST <-> Fashion-MNIST
    python examples/cyclegan_mnist.py --backend cupy       # on a GPU
    python examples/cyclegan_mnist.py --quick              # smoke run, under a minute

Nothing tells the model which digit (or garment) an image "is"; the cycle loss only asks
that F(G(a)) ≈ a, so G must keep enough of a's shape to redraw it. Between two digit
sets a good translation keeps the digit, and that is measured (CyCADA's protocol): the
reference classifier of the target domain labels G(x) for every test image x of the
source domain, and ``label_kept_AB`` / ``label_kept_BA`` are the shares that keep x's
label. With --lambda-semantic > 0 (CyCADA's semantic consistency) the generators are also
trained to keep what each domain's own reference classifier sees: the MNIST classifier's
label of a on G(a), the digits classifier's label of b on F(b). Label preservation reads
the other classifier in each direction (the digits one on G(a), the MNIST one on F(b)), so
no direction is scored by the classifier that trained it. ``label_kept_AB_rendered`` /
``label_kept_BA_rendered`` score the same test digits drawn in the other set's style by a
fixed rule (``data.uci_style``, ``data.mnist_style``): translations that keep the digit by
construction, so these are the most a classifier trained on one set's writers confirms.
An epoch is one pass over the smaller domain (the other is reshuffled each epoch).
Per step: one generator update (LSGAN + cycle + identity losses), then one discriminator
update on fakes drawn from a pool of the last 50 (see tinygen/models/cyclegan.py); Adam
2e-4, β = (0.5, 0.999) as in the paper, images in [-1, 1].

metrics.json holds, on up to --eval-n test images of each domain: FID/KID/precision/recall
of G(a) against the real target domain in its reference feature space, and of F(b)
against real MNIST in the MNIST one, each beside its real-vs-real floor; the label
preservation both ways (digits only); and the cycle errors ‖F(G(a)) - a‖₁ and ‖G(F(b)) - b‖₁ (mean absolute error in [-1, 1] units). It
writes translations_AB.png (rows: a, G(a), F(G(a))), translations_BA.png, losses.png.
"""


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples, features_and_probs, load_reference_classifier, real_floor
from tinygen.models import CycleGAN
from tinygen.models.translation import ImagePool


def add_flags(parser):
    parser.add_argument("--target", choices=["digits", "fashion"], default="digits",
                        help="domain B: the UCI digits (labels are kept) or Fashion-MNIST (a style demo)")
    parser.add_argument("--gen-width", type=int, default=32, help="channels of the generators' first layer")
    parser.add_argument("--blocks", type=int, default=3, help="residual blocks at 7×7 (the paper: 6 at 128 px)")
    parser.add_argument("--disc-width", type=int, default=64, help="channels of the discriminators' first layer")
    parser.add_argument("--lambda-cycle", type=float, default=10.0, help="weight λ_cyc of the cycle loss")
    parser.add_argument("--lambda-identity", type=float, default=0.5, help="as a fraction of λ_cyc")
    parser.add_argument("--pool-size", type=int, default=50,
                        help="past fakes kept to train the discriminators on (Shrivastava et al.)")
    parser.add_argument("--lambda-semantic", type=float, default=0.0,
                        help="weight λ_sem of CyCADA's semantic consistency: each domain's reference "
                             "classifier asks the translation of an image to keep the label it gives "
                             "the image (0: the paper's CycleGAN)")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images per domain")


def translate(net, images, batch=500):
    net.eval()
    with tg.no_grad():
        out = np.concatenate([net(tg.tensor(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])
    net.train()
    return out


def to01(x):
    return (x + 1.0) / 2.0


def label_kept(translated, labels, dataset):
    """% of translations that the target domain's reference classifier labels as their source."""
    _, probs = features_and_probs(to01(translated), dataset)
    return round(100.0 * float((probs.argmax(1) == labels).mean()), 2)


def evaluate(model, args, run):
    n = args.eval_n
    a_images, a_labels = data.load_mnist("test")
    b_images, b_labels = data.load_dataset(args.target, "test")
    a, a_labels = a_images[:n, None].astype(np.float32) / 127.5 - 1.0, a_labels[:n]
    b, b_labels = b_images[:n, None].astype(np.float32) / 127.5 - 1.0, b_labels[:n]
    g_a, f_b = translate(model.G, a), translate(model.F, b)
    f_g_a, g_f_b = translate(model.F, g_a), translate(model.G, f_b)
    for name, rows in (("translations_AB.png", (a, g_a, f_g_a)), ("translations_BA.png", (b, f_b, g_f_b))):
        viz.save_image_grid(to01(np.concatenate([r[:12] for r in rows])), run.path(name), nrow=12,
                            title="rows: input, translation, back again")
    report = {"cycle_l1_ABA": round(float(np.abs(f_g_a - a).mean()), 4),
              "cycle_l1_BAB": round(float(np.abs(g_f_b - b).mean()), 4), "eval_n_A": len(a), "eval_n_B": len(b)}
    if args.target == "digits":             # the same ten classes on both sides
        report["label_kept_AB"] = label_kept(g_a, a_labels, "digits")
        report["label_kept_BA"] = label_kept(f_b, b_labels, "mnist")
        report["label_kept_ABA"] = label_kept(f_g_a, a_labels, "mnist")      # after the round trip
        # what the classifiers confirm of translations that keep the digit by construction
        # (each set's own normalisation, data.uci_style / mnist_style): the measure's ceiling
        report["label_kept_AB_rendered"] = label_kept(
            data.uci_style(a_images[:n])[:, None].astype(np.float32) / 127.5 - 1.0, a_labels, "digits")
        report["label_kept_BA_rendered"] = label_kept(
            data.mnist_style(b_images[:n])[:, None].astype(np.float32) / 127.5 - 1.0, b_labels, "mnist")
    report[f"G_of_mnist_vs_{args.target}"] = evaluate_samples(to01(g_a), None, args.target, len(a))
    report[f"F_of_{args.target}_vs_mnist"] = evaluate_samples(to01(f_b), None, "mnist", len(b))
    report[f"{args.target}_floor_fid"] = real_floor(args.target, min(len(a), len(b_images)))["fid"]
    report["mnist_floor_fid"] = real_floor("mnist", len(b))["fid"]
    run.save_samples(to01(g_a[:64]), title=f"G(MNIST test digits): {args.target} style")
    return report


def main(argv=None):
    args = experiment.parse_args("CycleGAN: MNIST <-> UCI digits or Fashion-MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=32, lr=2e-4,
                                 quick=dict(epochs=1, limit=640, gen_width=8, blocks=1, disc_width=8,
                                            eval_n=100, batch_size=16))
    run = experiment.Run("cyclegan_mnist", args)
    mnist, _ = data.load_mnist("train")
    target, _ = data.load_dataset(args.target, "train")
    # two loaders with different shuffles: the pairs (a, b) of a step are unrelated
    loader_a = data.DataLoader(data.ArrayDataset(mnist), args.batch_size, shuffle=True, seed=args.seed,
                               limit=args.limit, scale_to="pm1", resident=True, drop_last=True)
    loader_b = data.DataLoader(data.ArrayDataset(target), args.batch_size, shuffle=True, seed=args.seed + 1,
                               limit=args.limit, scale_to="pm1", resident=True, drop_last=True)
    pairs = data.ZipLoader(loader_a, loader_b)
    model = CycleGAN(1, args.gen_width, args.blocks, args.disc_width, args.lambda_cycle, args.lambda_identity)
    opt_g = optim.Adam(model.generator_parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(model.discriminator_parameters(), lr=args.lr, betas=(0.5, 0.999))
    pool_a, pool_b = ImagePool(args.pool_size, args.seed), ImagePool(args.pool_size, args.seed + 1)
    # frozen, in eval mode: the semantic term moves only the generators
    classifiers = tuple(load_reference_classifier(d).requires_grad_(False) for d in ("mnist", args.target)) \
        if args.lambda_semantic else None
    state = run.resume({"cyclegan": model}, {"G": opt_g, "D": opt_d})
    if state and "pool_a" in state["extra"]:            # the past fakes D trains on, and their coin
        pool_a.load_state_dict(state["extra"]["pool_a"])
        pool_b.load_state_dict(state["extra"]["pool_b"])

    def train_step(real_a, real_b):
        g_loss, parts, fake_a, fake_b = model.generator_loss(real_a, real_b, classifiers, args.lambda_semantic)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_loss, d_parts = model.discriminator_loss(real_a, real_b, pool_a.query(fake_a), pool_b.query(fake_b))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        return {**parts, **d_parts}

    def report(epoch):
        print(f"epoch {epoch}: " + ", ".join(f"{k} {v:.3f}" for k, v in run.epoch_means().items()), flush=True)

    run.train(pairs, train_step, {"cyclegan": model}, {"G": opt_g, "D": opt_d}, state, end_of_epoch=report,
              extra=lambda: {"pool_a": pool_a.state_dict(), "pool_b": pool_b.state_dict()})

    run.plot_history(title="CycleGAN losses")
    metrics = evaluate(model, args, run)
    metrics.update({"epochs": args.epochs, "target": args.target, "steps_per_epoch": len(pairs),
                    "blocks": args.blocks, "lambda_cycle": args.lambda_cycle,
                    "lambda_identity": args.lambda_identity, "lambda_semantic": args.lambda_semantic})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
