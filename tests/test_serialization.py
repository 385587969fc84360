"""tg.save / tg.load: round trip, atomic writes, clear errors for corrupt files."""

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim


def test_roundtrip_nested_state(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = optim.Adam(net.parameters())
    net(tg.randn(5, 3)).sum().backward()
    opt.step()
    state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "loss": 0.25,
             "name": "vae", "betas": (0.5, 0.9), "history": [1.0, float("nan")], "none": None}
    path = tmp_path / "ckpt.npz"
    tg.save(state, path)
    loaded = tg.load(path)
    assert loaded["epoch"] == 7 and loaded["name"] == "vae" and loaded["betas"] == (0.5, 0.9)
    assert loaded["none"] is None and np.isnan(loaded["history"][1])
    assert list(loaded["model"]) == list(net.state_dict())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(loaded["model"][k], tg.backend.to_numpy(v))
    assert set(loaded["optimizer"]["state"]) == {0, 1, 2, 3}   # int keys survive
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fresh.load_state_dict(loaded["model"])


def test_compressed_archive_roundtrips_and_is_smaller(tmp_path):
    weights = {"w": np.zeros((64, 64), np.float16), "b": np.arange(5, dtype=np.float32)}
    tg.save(weights, tmp_path / "plain.npz")
    tg.save(weights, tmp_path / "small.npz", compress=True)
    loaded = tg.load(tmp_path / "small.npz")
    for k, v in weights.items():
        assert loaded[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded[k], v)
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "plain.npz").stat().st_size / 4


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tg.save({"step": 1, "w": np.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated Ctrl-C mid-write")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"step": 2, "w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert tg.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]   # no temporary file left


def test_truncated_or_corrupt_files_raise_clear_errors(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"w": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(tg.CheckpointError, match="truncated or corrupt"):
        tg.load(path)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(tg.CheckpointError, match="ckpt.npz"):
        tg.load(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        tg.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(tg.CheckpointError, match="not one written by tg.save"):
        tg.load(tmp_path / "plain.npz")


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        tg.save({"f": lambda: 0}, tmp_path / "x.npz")
