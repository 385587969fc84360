"""CycleGAN (Zhu et al., 2017) between two real datasets with no pairs: MNIST digits (A) and
Fashion-MNIST clothes (B).

    python examples/cyclegan_mnist_fashion.py --backend cupy     # the intended setting: a GPU
    python examples/cyclegan_mnist_fashion.py --limit 2000       # CPU: ~3 s per step of 32
    python examples/cyclegan_mnist_fashion.py --quick            # smoke run, under a minute

Nothing tells the model which garment a digit "is"; the cycle loss only asks that
F(G(a)) ≈ a, so G must keep enough of the digit's shape inside the garment to redraw it.
Per step: one generator update (LSGAN + cycle + identity losses), then one discriminator
update on fakes drawn from a pool of the last 50 (see tinygen/models/cyclegan.py); Adam
2e-4, β = (0.5, 0.999) as in the paper, images in [-1, 1].

metrics.json holds, on --eval-n test images of each domain: FID/KID/precision/recall of
G(a) against real Fashion-MNIST in the Fashion reference feature space, and of F(b)
against real MNIST in the MNIST one, each beside its real-vs-real floor; and the cycle
errors ‖F(G(a)) - a‖₁ and ‖G(F(b)) - b‖₁ (mean absolute error in [-1, 1] units). It
writes translations_AB.png (rows: a, G(a), F(G(a))), translations_BA.png, losses.png.
"""


import numpy as np

import tinygen as tg
from tinygen import data, experiment, optim, viz
from tinygen.metrics import evaluate_samples, real_floor
from tinygen.models import CycleGAN
from tinygen.models.translation import ImagePool


def add_flags(parser):
    parser.add_argument("--gen-width", type=int, default=32, help="channels of the generators' first layer")
    parser.add_argument("--blocks", type=int, default=3, help="residual blocks at 7×7 (the paper: 6 at 128 px)")
    parser.add_argument("--disc-width", type=int, default=64, help="channels of the discriminators' first layer")
    parser.add_argument("--lambda-cycle", type=float, default=10.0, help="weight λ_cyc of the cycle loss")
    parser.add_argument("--lambda-identity", type=float, default=0.5, help="as a fraction of λ_cyc")
    parser.add_argument("--pool-size", type=int, default=50,
                        help="past fakes kept to train the discriminators on (Shrivastava et al.)")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images per domain")


def translate(net, images, batch=500):
    net.eval()
    with tg.no_grad():
        out = np.concatenate([net(tg.tensor(images[i:i + batch])).numpy() for i in range(0, len(images), batch)])
    net.train()
    return out


def to01(x):
    return (x + 1.0) / 2.0


def evaluate(model, args, run):
    n = args.eval_n
    a = data.load_mnist("test")[0][:n, None].astype(np.float32) / 127.5 - 1.0
    b = data.load_fashion_mnist("test")[0][:n, None].astype(np.float32) / 127.5 - 1.0
    g_a, f_b = translate(model.G, a), translate(model.F, b)
    f_g_a, g_f_b = translate(model.F, g_a), translate(model.G, f_b)
    for name, rows in (("translations_AB.png", (a, g_a, f_g_a)), ("translations_BA.png", (b, f_b, g_f_b))):
        viz.save_image_grid(to01(np.concatenate([r[:12] for r in rows])), run.path(name), nrow=12,
                            title="rows: input, translation, back again")
    report = {"cycle_l1_ABA": round(float(np.abs(f_g_a - a).mean()), 4),
              "cycle_l1_BAB": round(float(np.abs(g_f_b - b).mean()), 4), "eval_n": int(n)}
    try:
        report["G_of_mnist_vs_fashion"] = evaluate_samples(to01(g_a), None, "fashion", n)
        report["F_of_fashion_vs_mnist"] = evaluate_samples(to01(f_b), None, "mnist", n)
        report["fashion_floor_fid"] = real_floor("fashion", n)["fid"]
        report["mnist_floor_fid"] = real_floor("mnist", n)["fid"]
    except FileNotFoundError as exc:       # the reference classifiers are not trained yet
        report["samples"] = {"skipped": str(exc)}
    run.save_samples(to01(g_a[:64]), title="G(MNIST test digits): Fashion-MNIST style")
    return report


def main(argv=None):
    args = experiment.parse_args("CycleGAN: MNIST <-> Fashion-MNIST", argv, extra=add_flags,
                                 epochs=10, batch_size=32, lr=2e-4,
                                 quick=dict(epochs=1, limit=640, gen_width=8, blocks=1, disc_width=8,
                                            eval_n=100, batch_size=16))
    run = experiment.Run("cyclegan_mnist_fashion", args)
    mnist, _ = data.load_mnist("train")
    fashion, _ = data.load_fashion_mnist("train")
    # two loaders with different shuffles: the pairs (a, b) of a step are unrelated
    loader_a = data.DataLoader(data.ArrayDataset(mnist), args.batch_size, shuffle=True, seed=args.seed,
                               limit=args.limit, scale_to="pm1", resident=True, drop_last=True)
    loader_b = data.DataLoader(data.ArrayDataset(fashion), args.batch_size, shuffle=True, seed=args.seed + 1,
                               limit=args.limit, scale_to="pm1", resident=True, drop_last=True)
    model = CycleGAN(1, args.gen_width, args.blocks, args.disc_width, args.lambda_cycle, args.lambda_identity)
    opt_g = optim.Adam(model.generator_parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(model.discriminator_parameters(), lr=args.lr, betas=(0.5, 0.999))
    pool_a, pool_b = ImagePool(args.pool_size, args.seed), ImagePool(args.pool_size, args.seed + 1)
    state = run.resume({"cyclegan": model}, {"G": opt_g, "D": opt_d})

    def train_step(real_a, real_b):
        g_loss, parts, fake_a, fake_b = model.generator_loss(real_a, real_b)
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

    run.train(data.ZipLoader(loader_a, loader_b), train_step, {"cyclegan": model}, {"G": opt_g, "D": opt_d},
              state, end_of_epoch=report)

    run.plot_history(title="CycleGAN losses")
    metrics = evaluate(model, args, run)
    metrics.update({"epochs": args.epochs, "images_per_domain": int(args.limit or 60_000),
                    "blocks": args.blocks, "lambda_cycle": args.lambda_cycle,
                    "lambda_identity": args.lambda_identity})
    run.write_metrics(metrics)
    run.finish()
    return metrics


if __name__ == "__main__":
    experiment.cli(main)
