"""Every shipped zoo model loads, samples, and still scores near its card.

The bounds come from each card, loosened for a few hundred samples: the modes it
covered, its conditional accuracy (within 3 points), and its FID within 2x the card's
plus the real-vs-real floor at the same small n (FID on 300 samples is biased upward).
"""
import json

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
    return real_floor("mnist", N)


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_samples_near_its_card(name, floor):
    info = zoo.card(name)
    model = zoo.load(name)
    assert not model.training
    images, labels = zoo.sample(model, N, seed=0)
    again, _ = zoo.sample(model, N, seed=0)
    np.testing.assert_array_equal(images, again)                 # a seed fixes the draws
    assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    report = evaluate_samples(images, labels, "mnist", N)
    samples = info["metrics"].get("samples") or info["metrics"].get("samples_" + info["sampling"].get("sampler", ""))
    assert report["modes_covered"] >= samples["modes_covered"]
    if "conditional_accuracy" in samples:
        assert report["conditional_accuracy"] >= samples["conditional_accuracy"] - 3.0
    assert report["fid"] <= 2 * samples["fid"] + floor["fid"], (report["fid"], samples["fid"], floor["fid"])


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
