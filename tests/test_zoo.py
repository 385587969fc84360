"""Every shipped zoo model loads, samples, and still scores near its card.

The bounds come from each card, loosened for a few hundred samples: the modes it
covered, its conditional accuracy (within 3 points), and its FID within 2x the card's
plus the real-vs-real floor at the same small n (FID on 300 samples is biased upward).
"""

import numpy as np
import pytest

from tinygen import zoo
from tinygen.metrics import evaluate_samples, real_floor

N = 300
NAMES = zoo.available()


def test_the_zoo_ships_models_within_its_size_budget():
    import os
    assert NAMES, "the zoo is empty"
    sizes = {n: os.path.getsize(os.path.join(zoo.WEIGHTS_DIR, n + ".npz")) for n in NAMES}
    assert all(s <= 8 << 20 for s in sizes.values()), sizes
    assert sum(sizes.values()) <= 60 << 20
    for name in NAMES:
        info = zoo.card(name)
        for key in ("command", "epochs", "wall_time_s", "commit", "metrics", "protocol", "kind", "config"):
            assert key in info, f"{name}: the card has no {key}"
        assert info["command"].startswith("python examples/")


@pytest.fixture(scope="module")
def floor():
    """The real-vs-real report at N per feature space (the CycleGAN's samples are UCI digits)."""
    cache = {}
    return lambda dataset: cache.setdefault(dataset, real_floor(dataset, N))


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_samples_near_its_card(name, floor):
    info = zoo.card(name)
    model = zoo.load(name)
    assert not model.training
    images, labels = zoo.sample(model, N, seed=0)
    few, _ = zoo.sample(model, 16, seed=1)
    np.testing.assert_array_equal(few, zoo.sample(model, 16, seed=1)[0])      # a seed fixes the draws
    assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    samples = info["metrics"].get("samples") or info["metrics"].get("samples_" + info["sampling"].get("sampler", ""))
    dataset = samples.get("dataset", "mnist")
    report = evaluate_samples(images, labels, dataset, N)
    assert report["modes_covered"] >= samples["modes_covered"]
    if "conditional_accuracy" in samples:
        assert report["conditional_accuracy"] >= samples["conditional_accuracy"] - 3.0
    real = floor(dataset)["fid"]
    assert report["fid"] <= 2 * samples["fid"] + real, (report["fid"], samples["fid"], real)


def kind_of(name):
    return zoo.kinds()[zoo.card(name)["kind"]]


LIKELIHOOD_NAMES = [n for n in NAMES if hasattr(kind_of(n), "likelihood")]


@pytest.mark.parametrize("name", LIKELIHOOD_NAMES)
def test_a_shipped_likelihood_model_scores_near_its_card(name):
    """The first N test images under the card's protocol: their mean is a subset of the card's
    n images, so it lies within a few standard errors of the card's figure (5σ at N)."""
    recorded = zoo.card(name)["metrics"]["likelihood"]
    values = kind_of(name).likelihood(zoo.load(name), N)
    assert values.shape == (N,) and np.isfinite(values).all()
    tolerance = 5 * recorded["stderr"] * np.sqrt(recorded["n"] / N)
    assert abs(values.mean() - recorded["value"]) <= tolerance, (values.mean(), recorded)



def test_sample_command_writes_png_and_npz(tmp_path, capsys):
    from tinygen.sample import main
    name = NAMES[0]
    conditional = zoo.kinds()[zoo.card(name)["kind"]].conditional
    argv = [name, "--n", "20", "--seed", "3", "--out", str(tmp_path / "grid")]
    if conditional:
        argv += ["--labels", "3,1,4,1,5,9,2,6,5,3"]
    images, labels = main(argv)
    saved = np.load(tmp_path / "grid.npz")
    assert (tmp_path / "grid.png").exists()
    np.testing.assert_array_equal(saved["images"], images)
    if conditional:                            # the labels repeat to --n samples
        assert saved["labels"].tolist() == [3, 1, 4, 1, 5, 9, 2, 6, 5, 3] * 2
        assert saved["images"].shape == (20, 1, 28, 28)


def test_sample_command_lists_the_models_for_an_unknown_name(capsys):
    from tinygen.sample import main
    with pytest.raises(SystemExit) as stop:
        main(["no-such-model"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no zoo model named 'no-such-model'" in err and all(n in err for n in NAMES)
    with pytest.raises(zoo.UnknownModelError, match="available"):
        zoo.load("no-such-model")


def test_export_ships_a_finished_run_that_then_samples(tmp_path, monkeypatch):
    """A quick DDPM-with-guidance and a quick CycleGAN run, exported into a scratch zoo: the
    cards name the right kinds and defaults, and sampling honours them (the CycleGAN
    translates the first n MNIST test digits and returns their labels)."""
    import tinygen.zoo.export as export_module
    from test_examples import load_example
    from tinygen.data import load_mnist
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", str(tmp_path / "zoo"))
    monkeypatch.setattr(export_module, "WEIGHTS_DIR", str(tmp_path / "zoo"))
    load_example("ddpm_mnist").main(["--quick", "--limit", "64", "--conditional", "--sampler", "ddim", "--eta", "1",
                                     "--guidance-scales", "2,0", "--fid-n", "20", "--out", str(tmp_path / "ddpm")])
    card = export_module.export("ddpm-cfg", str(tmp_path / "ddpm"), "python examples/ddpm_mnist.py --quick")
    assert card["kind"] == "ddpm-cfg" and card["weights"]["network"] == "ema"
    assert card["sampling"] == {"sampler": "ddim", "steps": 10, "eta": 1.0, "guidance": 2.0}
    assert card["metrics"]["samples"] == card["metrics"]["samples_w2"]
    images, labels = zoo.sample("ddpm-cfg", 12, seed=1)
    assert images.shape == (12, 1, 28, 28) and labels.tolist() == [i % 10 for i in range(12)]
    with pytest.raises(ValueError, match="no sampling option"):
        zoo.sample("ddpm-cfg", 2, temperature=0.5)

    load_example("cyclegan_mnist").main(["--quick", "--limit", "64", "--out", str(tmp_path / "cyclegan")])
    card = export_module.export("cyclegan-digits", str(tmp_path / "cyclegan"), "python examples/cyclegan_mnist.py")
    assert card["config"] == {"gen_width": 8, "blocks": 1} and card["metrics"]["samples"]["dataset"] == "digits"
    assert all(k.startswith("net.") for k in tg_load_model_keys(tmp_path / "zoo" / "cyclegan-digits.npz"))
    images, labels = zoo.sample("cyclegan-digits", 520, seed=0)      # two chunks: 500, then 20
    np.testing.assert_array_equal(labels, load_mnist("test")[1][:520])
    model = zoo.load("cyclegan-digits")
    x = load_mnist("test")[0][500:520, None].astype(np.float32) / 127.5 - 1.0
    import tinygen as tg
    with tg.no_grad():
        direct = (model(tg.tensor(x)).numpy() + 1) / 2
    np.testing.assert_allclose(images[500:], np.clip(direct, 0, 1), atol=1e-6)   # the second chunk starts at 500


LIKELIHOOD_RUNS = {  # zoo name: example, its quick flags
    "pixelcnn": ("pixelcnn_mnist", ["--limit", "128", "--nll-n", "100", "--fid-n", "20"]),
    "glow": ("flow_mnist", ["--arch", "glow", "--limit", "128", "--eval-n", "100", "--fid-n", "20"]),
    "realnvp": ("flow_mnist", ["--arch", "realnvp", "--limit", "128", "--eval-n", "100", "--fid-n", "20"]),
    "vqvae": ("vqvae_mnist", ["--limit", "256", "--epochs", "1", "--prior-epochs", "1", "--eval-n", "100",
                              "--fid-n", "20", "--pixel-temperature", "0.5"]),
}


@pytest.mark.parametrize("name", sorted(LIKELIHOOD_RUNS))
def test_export_ships_a_likelihood_model_that_rescores_its_figure(name, tmp_path, monkeypatch):
    """A quick run exported into a scratch zoo: the kind's likelihood on the same test images
    is the example's figure (same protocol, same numbers), and the model samples."""
    import tinygen.zoo.export as export_module
    from test_examples import load_example
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", str(tmp_path / "zoo"))
    monkeypatch.setattr(export_module, "WEIGHTS_DIR", str(tmp_path / "zoo"))
    example, flags = LIKELIHOOD_RUNS[name]
    load_example(example).main(["--quick", *flags, "--out", str(tmp_path / "run")])
    card = export_module.export(name, str(tmp_path / "run"), f"python examples/{example}.py --quick",
                                storage="float32")
    recorded = card["metrics"]["likelihood"]
    assert card["kind"] == name and recorded["n"] == 100
    if name in ("glow", "realnvp"):          # the card counts clamped draws at both temperatures
        for key in ("samples", "samples_reduced_temperature"):
            assert card["metrics"][key]["clamped_samples"] >= 0, key
    if name == "vqvae":                      # samples at the run's decoder temperature, and at τ = 1
        assert card["sampling"] == {"pixel_temperature": 0.5}
        assert card["metrics"]["samples"]["pixel_temperature"] == 0.5
        assert card["metrics"]["samples_untempered"]["pixel_temperature"] == 1.0
        sharp, _ = zoo.sample(name, 8, seed=2)                       # the card's τ = 0.5
        mean, _ = zoo.sample(name, 8, seed=2, pixel_temperature=1.0)  # the same codes, τ = 1
        inside = (mean > 1e-4) & (mean < 1 - 1e-4)                   # logits float32 can still resolve
        logit = lambda p: np.log(p) - np.log1p(-p)                   # noqa: E731
        np.testing.assert_allclose(logit(sharp[inside]), 2 * logit(mean[inside]), rtol=1e-3, atol=1e-3)
    values = zoo.kinds()[name].likelihood(zoo.load(name), 100)
    assert values.mean() == pytest.approx(recorded["value"], abs=2e-3 if name in ("glow", "realnvp") else 2e-2)
    images, labels = zoo.sample(name, 5, seed=0)
    assert images.shape == (5, 1, 28, 28) and labels is None and 0 <= images.min() and images.max() <= 1


def tg_load_model_keys(path):
    import tinygen as tg
    return list(tg.load(path)["model"])



def test_sample_command_passes_ddims_eta_to_a_diffusion_model(tmp_path):
    from tinygen.sample import main
    argv = ["ddpm", "--n", "2", "--steps", "3", "--sampler", "ddim", "--seed", "1", "--out", str(tmp_path / "d")]
    deterministic, noisy = main(argv + ["--eta", "0"])[0], main(argv + ["--eta", "1"])[0]
    assert not np.allclose(deterministic, noisy)                 # η = 1 adds fresh noise each step
    np.testing.assert_array_equal(noisy, main(argv + ["--eta", "1"])[0])
    # the card samples with DDIM η = 1; asking for the ancestral sampler leaves that η behind
    argv[argv.index("ddim")] = "ancestral"
    assert main(argv)[0].shape == (2, 1, 28, 28)


@pytest.mark.parametrize("argv, message", [
    (["ddpm", "--sampler", "ancestral", "--eta", "1"], "eta is the DDIM sampler's"),
    (["ddpm", "--steps", "0"], "steps must be in 1"),              # 0 is a value, not "the default"
    (["rbm", "--steps", "0"], "must be at least 1"),
    (["pixelcnn", "--temperature", "0"], "temperature must be positive"),
    (["vqvae", "--pixel-temperature", "0"], "pixel_temperature must be positive"),
    (["glow", "--temperature", "-1"], "temperature must be at least 0"),
])
def test_sample_command_refuses_a_knob_value_in_one_line(argv, message, capsys):
    from tinygen.sample import main
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--n", "1"])
    last = capsys.readouterr().err.strip().splitlines()[-1]        # argparse's usage, then one error line
    assert stop.value.code == 2 and last.startswith("python -m tinygen.sample: error:") and message in last, last
