"""Train a small CNN on MNIST (or Fashion-MNIST) and report test accuracy.

    python examples/classifier_mnist.py                   # the full run (≥ 99.0% on MNIST)
    python examples/classifier_mnist.py --quick           # a smoke run in well under a minute
    python examples/classifier_mnist.py --backend cupy    # on a GPU

Files in --out: config.json, checkpoint.npz, losses.png, metrics.json,
samples.png (test digits with their predicted labels in the title).
"""


import tinygen as tg
import tinygen.nn.functional as F
from tinygen import data, experiment, optim
from tinygen.metrics import SmallCNN


def add_flags(parser):
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist",
                        help="train on MNIST or Fashion-MNIST")
    parser.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test images")


def evaluate(model, loader):
    """Accuracy in % over a loader; the count stays on the device until the end."""
    model.eval()
    correct, total = None, 0
    with tg.no_grad():
        for x, y in loader:
            hits = (model(x).argmax(1) == y).sum()   # .sum() of a bool array: one number
            correct = hits.data if correct is None else correct + hits.data
            total += x.shape[0]
    model.train()
    return 100.0 * float(correct) / total


def main(argv=None):
    args = experiment.parse_args("Small CNN classifier on MNIST", argv, extra=add_flags,
                                 epochs=3, batch_size=128, lr=2e-3,
                                 quick=dict(epochs=1, limit=6000, test_limit=1000))
    run = experiment.Run(f"classifier_{args.dataset}", args)
    train_x, train_y = data.load_dataset(args.dataset, "train")
    test_x, test_y = data.load_dataset(args.dataset, "test")
    train = data.DataLoader(data.ArrayDataset(train_x, train_y), args.batch_size, shuffle=True,
                            seed=args.seed, limit=args.limit, resident=True)
    test = data.DataLoader(data.ArrayDataset(test_x, test_y), 500, limit=args.test_limit,
                           resident=True)

    model = SmallCNN()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    # one cosine decay over the whole run, stepped per batch: a high rate first, a fine finish
    total_steps = max(args.epochs * len(train), 1)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    state = run.resume({"model": model}, {"opt": opt})
    if state:
        sched.load_state_dict(state["extra"]["sched"])

    def train_step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return {"loss": loss}

    def report(epoch):
        print(f"epoch {epoch}: train loss {run.epoch_means().get('loss', float('nan')):.4f}", flush=True)

    run.train(train, train_step, {"model": model}, {"opt": opt}, state, modules=(model,),
              extra=lambda: {"sched": sched.state_dict()}, end_of_epoch=report)

    accuracy = evaluate(model, test)
    x, _ = next(iter(data.DataLoader(data.ArrayDataset(test_x[:64], test_y[:64]), 64)))
    model.eval()
    with tg.no_grad():
        predicted = model(x).argmax(1).numpy()
    run.save_samples(x, predicted, title="predicted: " + "".join(map(str, predicted[:32])))
    run.plot_history(title=f"SmallCNN on {args.dataset}")
    run.write_metrics({"test_accuracy_percent": round(accuracy, 3), "n_test": len(test.dataset),
                       "epochs": args.epochs, "dataset": args.dataset})
    run.finish()
    return accuracy


if __name__ == "__main__":
    experiment.cli(main)
