"""The metrics themselves: closed forms, sanity floors, and the shipped reference classifiers."""
import json

import numpy as np
import pytest

from tinygen import metrics
from tinygen.metrics import fid, frechet_distance, gaussian_stats, kid, precision_recall
from tinygen.metrics.reference import _paths


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    s1, s2 = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    closed = ((m1 - m2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(closed, rel=1e-10)
    # full covariances: FID(N(m, A), N(m, A)) = 0, and it is symmetric
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.eye(4)
    b = rng.normal(size=(4, 4))
    cov2 = b @ b.T + np.eye(4)
    assert frechet_distance(m1, cov, m1, cov) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(m1, cov, m2, cov2) == pytest.approx(frechet_distance(m2, cov2, m1, cov), rel=1e-8)


def test_fid_of_samples_uses_their_mean_and_covariance():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (4000, 3))
    y = rng.normal(1, 2, (4000, 3))
    assert fid(x, y) == pytest.approx(frechet_distance(*gaussian_stats(x), *gaussian_stats(y)))
    assert fid(x, y) == pytest.approx(3 * 1 + 3 * (1 + 4 - 2 * 2), rel=0.05)   # the population value
    singular = np.zeros((100, 3))
    singular[:, 0] = rng.normal(size=100)
    assert np.isfinite(fid(singular, singular + 1e-3))


def test_precision_and_recall_of_a_set_against_itself_are_one():
    x = np.random.default_rng(2).normal(size=(300, 5))
    assert precision_recall(x, x.copy()) == (1.0, 1.0)
    far = x + 100.0
    assert precision_recall(x, far) == (0.0, 0.0)
    with pytest.raises(ValueError, match="equal numbers"):
        precision_recall(x, x[:10])


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    same, _, _ = kid(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)), subsets=5, subset_size=200)
    different, _, _ = kid(rng.normal(size=(500, 8)), rng.normal(1, 1, (500, 8)), subsets=5, subset_size=200)
    assert abs(same) < 0.05 and different > 0.5


def test_classifier_score_and_modes():
    confident = np.eye(10)[np.arange(1000) % 10]
    assert metrics.classifier_score(confident) == pytest.approx(10.0, rel=1e-6)
    assert metrics.classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)
    hist = metrics.class_histogram(np.eye(10)[[0] * 95 + [1] * 5])
    assert hist.tolist() == [95, 5] + [0] * 8
    assert metrics.modes_covered(hist) == 2            # 5 ≥ 10% of the uniform share (10)
    assert metrics.modes_covered(np.array([199, 1] + [0] * 8)) == 1   # 1 < 10% of 20


needs_weights = pytest.mark.skipif(not all(__import__("os").path.exists(_paths(d)[0]) for d in ("mnist",)),
                                   reason="reference classifier weights not trained yet")


@needs_weights
@pytest.mark.parametrize("dataset", ["mnist", "digits"])
def test_shipped_classifier_reproduces_its_recorded_accuracy(dataset):
    from tinygen import data
    from tinygen.metrics.train_reference import HELD_OUT, accuracy
    record = metrics.reference_record(dataset)
    assert record["test_accuracy_percent"] >= 99.3
    images, labels = data.load_dataset(dataset, "test")
    model = metrics.load_reference_classifier(dataset)
    assert accuracy(model, images[:HELD_OUT], labels[:HELD_OUT]) == pytest.approx(
        record["held_out_accuracy_percent"], abs=5e-4)     # the record keeps 3 decimals


@needs_weights
def test_fid_real_vs_real_is_small_and_noise_is_large():
    from tinygen import data
    train, _ = data.load_mnist("train")
    test, _ = data.load_mnist("test")
    real_a = train[:2000, None] / 255.0
    real_b = test[:2000, None] / 255.0
    noise = np.random.default_rng(0).random((2000, 1, 28, 28))
    fa, _ = metrics.features_and_probs(real_a)
    fb, _ = metrics.features_and_probs(real_b)
    fn, _ = metrics.features_and_probs(noise)
    floor = fid(fa, fb)
    assert floor < 0.05 * fid(fa, fn)
    p, r = precision_recall(fa, fb)
    assert p > 0.6 and r > 0.6


@needs_weights
def test_metrics_cli_reports_n_and_k(tmp_path, capsys):
    from tinygen import data
    from tinygen.metrics.__main__ import main
    images, labels = data.load_mnist("test")
    path = tmp_path / "samples.npz"
    np.savez(path, images=(images[:600, None] / 255.0).astype(np.float32), labels=labels[:600].astype(np.int64))
    report = main([str(path), "--n", "500"])
    assert report["n"] == 500 and report["pr_k"] == 3 and report["pr_n"] == 500
    assert report["modes_covered"] == 10 and report["conditional_accuracy"] > 95
    out = capsys.readouterr().out
    assert "FID" in out and "real floor" in out and "KID x 10^3" in out     # a table, floor beside
    assert report["real_floor"]["fid"] < report["fid"] + 50 and "kid_x1000" in report["real_floor"]
    main([str(path), "--n", "500", "--json"])
    assert json.loads(capsys.readouterr().out)["kid_x1000"] == pytest.approx(report["kid"] * 1000, abs=1e-3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.evaluate_samples(np.full((4, 1, 28, 28), 2.0))


def _cli_error(argv, capsys):
    from tinygen.metrics.__main__ import main
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    return err


def test_metrics_cli_checks_its_input(tmp_path, capsys):
    good = np.random.default_rng(0).uniform(0, 1, (50, 1, 28, 28)).astype(np.float32)
    assert "no such file" in _cli_error([str(tmp_path / "missing.npz")], capsys)
    np.save(tmp_path / "images.npy", good)
    assert "is an .npy" in _cli_error([str(tmp_path / "images.npy")], capsys)
    np.savez(tmp_path / "wrong_key.npz", samples=good, y=np.zeros(50))
    err = _cli_error([str(tmp_path / "wrong_key.npz")], capsys)
    assert "no 'images' key" in err and "samples, y" in err
    np.savez(tmp_path / "uint8.npz", images=(good * 255).astype(np.uint8))
    assert "uint8" in _cli_error([str(tmp_path / "uint8.npz")], capsys)
    np.savez(tmp_path / "255.npz", images=good * 255)
    assert "divide by 255" in _cli_error([str(tmp_path / "255.npz")], capsys)
    np.savez(tmp_path / "tanh.npz", images=good * 2 - 1)
    assert "(x + 1) / 2" in _cli_error([str(tmp_path / "tanh.npz")], capsys)
    np.savez(tmp_path / "labels.npz", images=good, labels=np.arange(50) % 12)
    assert "outside the classes" in _cli_error([str(tmp_path / "labels.npz")], capsys)
    np.savez(tmp_path / "few.npz", images=good[:3])
    assert "too few" in _cli_error([str(tmp_path / "few.npz")], capsys)
    nan = good.copy()
    nan[7, 0, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", images=nan)
    assert "1 of 50 images hold NaN" in _cli_error([str(tmp_path / "nan.npz")], capsys)
    (tmp_path / "broken.npz").write_bytes(b"PK not really a zip")
    assert "not a readable .npz" in _cli_error([str(tmp_path / "broken.npz")], capsys)


def test_few_samples_are_scored_with_a_warning():
    from tinygen import data
    images, _ = data.load_mnist("test")
    report = metrics.evaluate_samples((images[:40, None] / 255.0).astype(np.float32))
    assert report["n"] == 40 and "only 40 samples" in report["warning"]
