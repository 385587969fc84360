"""Runs that never lose data and settings checked before any work (the examples' shared
scaffolding in tinygen/experiment.py), tried as a careless or hostile user would."""
import argparse
import glob
import json
import os
import re
import signal
import time

import numpy as np
import pytest

import tinygen as tg
from tinygen import experiment

from helpers import load_example

EXAMPLES = sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.py")))


class _Captured(Exception):
    pass


def example_parser(name, monkeypatch):
    """The argparse parser an example builds, caught as it is about to parse."""
    captured = {}

    def capture(self, args=None, namespace=None):
        captured["parser"] = self
        raise _Captured
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Captured):
        load_example(name).main([])
    monkeypatch.undo()
    return captured["parser"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_flag_has_help_and_names_only_real_flags(name, monkeypatch):
    parser = example_parser(name, monkeypatch)
    flags = {s for a in parser._actions for s in a.option_strings}
    for action in parser._actions:
        assert action.help and action.help.strip(), f"{name}: {action.option_strings} has no help text"
        for mentioned in re.findall(r"--[a-z][a-z0-9-]*", action.help):
            assert mentioned in flags, f"{name}: help of {action.option_strings} names {mentioned}, no such flag"


def test_quick_keeps_an_abbreviated_flag(tmp_path):
    args = experiment.parse_args("t", ["--quick", "--lim", "300", "--out", str(tmp_path)],
                                 quick=dict(limit=100, epochs=1))
    assert args.limit == 300 and args.epochs == 1
    args = experiment.parse_args("t", ["--quick", "--limit=300"], quick=dict(limit=100))
    assert args.limit == 300


@pytest.mark.parametrize("argv, complaint", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--limit", "10", "--batch-size", "64"], "--limit must be at least 64"),
    (["--fid-n", "2"], "--fid-n must be at least 4"),
    (["--iwae-k", "0"], "--iwae-k must be at least 1"),
])
def test_settings_that_cannot_work_stop_before_any_work(argv, complaint, tmp_path, capsys):
    example = load_example("vae_mnist")
    with pytest.raises(SystemExit) as stop:
        example.main(argv + ["--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    assert complaint in capsys.readouterr().err
    assert not (tmp_path / "run").exists()          # nothing was written


@pytest.mark.parametrize("argv", [["--eta", "1"], ["--sampler", "ddim", "--eta", "-0.5"]])
def test_ddpm_noise_share_without_ddim_stops_before_training(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        load_example("ddpm_mnist").main(["--quick"] + argv + ["--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    assert "needs --sampler ddim and η ≥ 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _classifier(tmp_path, *extra, example=None):
    example = example or load_example("classifier_mnist")
    return example.main(["--quick", "--limit", "128", "--batch-size", "64", "--test-limit", "64",
                         "--out", str(tmp_path), *extra])


def test_a_run_folder_is_never_silently_replaced(tmp_path, capsys):
    _classifier(tmp_path, "--epochs", "2")
    before = tg.load(tmp_path / "checkpoint.npz")
    config_before = (tmp_path / "config.json").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        _classifier(tmp_path, "--epochs", "1")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resume" in err and "--overwrite" in err and "--out" in err
    after = tg.load(tmp_path / "checkpoint.npz")
    assert after["epoch"] == before["epoch"] == 2
    assert (tmp_path / "config.json").read_text() == config_before
    _classifier(tmp_path, "--epochs", "1", "--overwrite")      # the way on that starts afresh
    assert tg.load(tmp_path / "checkpoint.npz")["epoch"] == 1


def test_resume_with_other_shaping_flags_names_each_flag(tmp_path, capsys):
    _classifier(tmp_path, "--epochs", "1")
    config_before = (tmp_path / "config.json").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        _classifier(tmp_path, "--epochs", "2", "--resume", "--batch-size", "32", "--seed", "5")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--batch-size 64 in the checkpoint, 32 now" in err and "--seed 0 in the checkpoint, 5 now" in err
    assert "KeyError" not in err
    assert (tmp_path / "config.json").read_text() == config_before    # written only after the check
    # evaluation flags and the length may change: this resumes
    _classifier(tmp_path, "--epochs", "2", "--resume", "--test-limit", "32")
    assert tg.load(tmp_path / "checkpoint.npz")["epoch"] == 2


def test_resume_refuses_another_examples_checkpoint(tmp_path, capsys):
    _classifier(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        load_example("vae_mnist").main(["--quick", "--out", str(tmp_path), "--resume"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "is a run of classifier_mnist" in err
    assert str(tmp_path / "config.json") in err          # where to find the flags to resume it with
    assert json.load(open(tmp_path / "config.json"))["example"] == "classifier_mnist"   # left as it was


def test_checkpoint_records_the_example_and_its_shaping_flags(tmp_path):
    _classifier(tmp_path)
    config = tg.load(tmp_path / "checkpoint.npz")["config"]
    assert config["example"] == "classifier_mnist"
    assert config["batch_size"] == 64 and config["limit"] == 128 and config["dataset"] == "mnist"


def test_stale_temporary_from_a_killed_save_is_removed(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    stale = tmp_path / "checkpoint.npz.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    _classifier(tmp_path)
    assert not stale.exists() and (tmp_path / "checkpoint.npz").exists()


def test_gan_resumes_from_another_working_directory(tmp_path, monkeypatch):
    example = load_example("gan_mnist")
    out = tmp_path / "runs" / "gan"
    monkeypatch.chdir(tmp_path)
    example.main(["--arch", "mlp", "--quick", "--limit", "128", "--fid-n", "100", "--out", "runs/gan"])
    frames = tg.load(out / "checkpoint.npz")["extra"]["frames"]
    assert frames == ["epoch_001.png"]                       # relative to the run folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    example.main(["--arch", "mlp", "--quick", "--limit", "128", "--fid-n", "100", "--out", str(out),
                  "--epochs", "2", "--resume"])
    assert (out / "progress.gif").exists() and (out / "epoch_002.png").exists()


def test_a_resumed_runs_wall_time_counts_the_earlier_sessions(tmp_path):
    """metrics.json and the zoo's cards report a run's whole training time, not the last session's."""
    _classifier(tmp_path)
    state = tg.load(tmp_path / "checkpoint.npz")
    first = json.loads((tmp_path / "metrics.json").read_text())["wall_time_s"]
    assert 0 < state["wall_time_s"] <= first
    state["wall_time_s"] = 5000.0                     # as if the first session had trained for hours
    tg.save(state, tmp_path / "checkpoint.npz")
    _classifier(tmp_path, "--epochs", "2", "--resume")
    assert tg.load(tmp_path / "checkpoint.npz")["wall_time_s"] > 5000
    assert json.loads((tmp_path / "metrics.json").read_text())["wall_time_s"] > 5000


def test_ctrl_c_during_evaluation_prints_one_line(tmp_path, monkeypatch, capsys):
    example = load_example("classifier_mnist")

    def interrupted_evaluation(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
        pytest.fail("the interrupt did not arrive")
    monkeypatch.setattr(example, "evaluate", interrupted_evaluation)
    with pytest.raises(SystemExit) as stop:
        _classifier(tmp_path, example=example)
    assert stop.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert "interrupted during evaluation" in err[-1] and "--resume" in err[-1]
    assert tg.load(tmp_path / "checkpoint.npz")["epoch"] == 1
    monkeypatch.undo()
    accuracy = _classifier(tmp_path, "--resume")                 # redoes only the evaluation
    assert accuracy == _classifier(tmp_path / "straight")       # of the same trained model
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy_percent"] == round(accuracy, 3)


def test_non_finite_loss_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    example = load_example("vae_mnist")
    common = ["--quick", "--limit", "512", "--batch-size", "32", "--out", str(tmp_path)]
    example.main(common + ["--epochs", "1"])
    good = tg.load(tmp_path / "checkpoint.npz")
    capsys.readouterr()
    real_step, steps = tg.optim.Adam.step, []

    def diverging_step(self):       # the third step of the resumed epoch blows the weights up
        real_step(self)
        steps.append(1)
        if len(steps) == 3:
            with tg.no_grad():
                for p in self.param_groups[0]["params"]:
                    p.fill_(float("inf"))
    monkeypatch.setattr(tg.optim.Adam, "step", diverging_step)
    started = time.time()
    with pytest.raises(SystemExit) as stop:
        example.main(common + ["--epochs", "2", "--resume"])
    assert stop.value.code == 1
    assert len(steps) <= 10 + 3                  # stopped within one logging interval (10 steps)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.search(r"'(loss|rec|kl)' is (nan|inf|-inf) at step \d+", err), err
    assert "--detect-anomaly" in err and "last good checkpoint" in err
    assert time.time() - started < 60             # no minutes in sqrtm on NaN features
    kept = tg.load(tmp_path / "checkpoint.npz")
    assert kept["epoch"] == good["epoch"] == 1
    for key, value in good["models"]["model"].items():
        np.testing.assert_array_equal(kept["models"]["model"][key], value)


def test_detect_anomaly_flag_names_the_op(tmp_path, capsys, monkeypatch):
    example = load_example("vae_mnist")
    real_step = tg.optim.Adam.step

    def poisoning_step(self):
        real_step(self)
        with tg.no_grad():
            self.param_groups[0]["params"][0].fill_(float("nan"))
    monkeypatch.setattr(tg.optim.Adam, "step", poisoning_step)
    with pytest.raises(FloatingPointError, match=r"anomaly: \w+ forward produced NaN"):
        example.main(["--quick", "--limit", "64", "--batch-size", "32", "--out", str(tmp_path),
                      "--detect-anomaly"])
    assert not tg.autograd.grad_mode.state.anomaly       # switched off again after the run


def test_metrics_refuse_non_finite_images_in_under_a_second():
    from tinygen.metrics import evaluate_samples
    from tinygen.metrics.report import SampleError
    images = np.full((1000, 1, 28, 28), np.nan, dtype=np.float32)
    started = time.time()
    with pytest.raises(SampleError, match="NaN or Inf"):
        evaluate_samples(images)
    assert time.time() - started < 1.0


def test_an_older_flow_run_does_not_resume_under_the_new_alpha_default(tmp_path, capsys):
    """flow_mnist's --alpha came after runs trained with the logit transform's old α = 0.05:
    a checkpoint whose config lacks the flag counts as α = 0.05, so resuming it under the new
    default is refused in one line, and resuming with --alpha 0.05 continues it."""
    flow = load_example("flow_mnist")
    flags = ["--quick", "--arch", "realnvp", "--limit", "64", "--eval-n", "20", "--fid-n", "10",
             "--out", str(tmp_path)]
    flow.main([*flags, "--alpha", "0.05"])
    path = tmp_path / "checkpoint.npz"
    state = tg.load(path)
    del state["config"]["alpha"]                  # as written before the flag existed
    tg.save(state, path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        flow.main([*flags, "--epochs", "2", "--resume"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1
    assert "--alpha 0.05 in the checkpoint, 1e-06 now" in err
    assert tg.load(path)["epoch"] == 1
    flow.main([*flags, "--epochs", "2", "--resume", "--alpha", "0.05"])
    assert tg.load(path)["epoch"] == 2
