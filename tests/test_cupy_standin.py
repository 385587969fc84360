"""The CuPy paths, run on the strict CPU stand-in (tests/fake_cupy) when no GPU is here,
and on real CuPy when one is: the stand-in's own strictness, zero host syncs inside
training steps, every example's ``--quick --backend cupy`` run, and exact --resume.
"""
import importlib
import json
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim

from helpers import load_example

pytestmark = pytest.mark.cupy


@pytest.fixture
def cupy():
    module = importlib.import_module("cupy")
    if hasattr(module, "ledger"):
        module.ledger.reset()
    with tg.use_backend("cupy"):
        tg.manual_seed(0)
        yield module


def stand_in_only(cupy):
    if not hasattr(cupy, "ledger"):
        pytest.skip("checks of the stand-in itself; real CuPy is in use")


# -- the stand-in is as strict as CuPy ------------------------------------------------

def test_stand_in_refuses_what_cupy_refuses(cupy):
    stand_in_only(cupy)
    a = cupy.arange(6, dtype=np.float32).reshape(2, 3)
    assert not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(3)                                     # a host array meets a device array
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.exp(np.ones(3))
    assert not isinstance(a.data, (np.ndarray, cupy.ndarray))  # a pointer, not the values
    total = a.sum()
    assert isinstance(total, cupy.ndarray) and total.shape == ()  # 0-d on the device
    assert isinstance(np.exp(a), cupy.ndarray)             # NumPy ufuncs dispatch to CuPy
    assert isinstance(np.concatenate([a, a]), cupy.ndarray)  # and NumPy functions too
    with pytest.raises(TypeError, match="unexpected keyword argument 'sparse'"):
        cupy.indices((2, 2), sparse=True)                  # NumPy has it, CuPy does not
    with pytest.raises(AttributeError):
        cupy.lib.stride_tricks.broadcast_shapes              # not in every CuPy release
    with pytest.raises(NotImplementedError):
        cupy.ElementwiseKernel("T x", "T y", "y = x", "copy")(a)


def test_stand_in_counts_syncs_and_uploads_with_their_call_sites(cupy):
    stand_in_only(cupy)
    a = cupy.asarray(np.arange(4.0))                       # one upload
    b = a * 2
    assert cupy.ledger.summary() == {"syncs": 0, "uploads": 1}
    float(b.sum()), b.get(), b[b > 2], cupy.asnumpy(b), b.tolist(), cupy.nonzero(b)
    kinds = [what for what, _ in cupy.ledger.syncs]
    assert len(kinds) == 6 and "boolean-mask indexing (data-dependent size)" in kinds
    assert all(site.startswith("tests/test_cupy_standin.py:") for _, site in cupy.ledger.syncs)
    import cupyx
    with pytest.raises(cupyx.DeviceSynchronized):
        with cupyx.allow_synchronize(False):
            b.item()


def test_manifest_covers_cupy_13_and_14():
    with open(os.path.join(os.path.dirname(__file__), "fake_cupy", "manifest.json")) as f:
        versions = json.load(f)["versions"]
    majors = {v.split(".")[0] for v in versions}
    assert {"13", "14"} <= majors


# -- no host syncs inside a training step -----------------------------------------------

def _vae_step():
    from tinygen.models import VAE
    model, x = VAE(16), (tg.rand(32, 1, 28, 28) > 0.5).float()
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss, parts = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _dcgan_step():
    gan_example = load_example("gan_mnist")
    from types import SimpleNamespace
    G, D = gan_example.build("dcgan", 100)
    opt_g, opt_d = (optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D))
    ema = optim.EMA(G, 0.999)
    real = tg.rand(16, 1, 28, 28) * 2 - 1
    args = SimpleNamespace(label_smoothing=0.0, saturating=False, gp_weight=10.0)

    def step():
        fake = G(tg.randn(16, 100))
        d_loss, _ = gan_example.discriminator_step(gan_example.objective("dcgan", args), D, opt_d, real, None,
                                                   fake, None)
        gan_example.generator_step(gan_example.objective("dcgan", args), D, opt_g, fake, None)
        ema.update(G)
        return d_loss
    return step


def _wgan_step():
    gan_example = load_example("gan_mnist")
    from types import SimpleNamespace
    G, D = gan_example.build("wgan-gp", 100)
    opt_d = optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
    real = tg.rand(8, 1, 28, 28) * 2 - 1
    args = SimpleNamespace(label_smoothing=0.0, saturating=False, gp_weight=10.0)

    def step():       # the critic's step: the gradient penalty's double backward included
        return gan_example.discriminator_step(gan_example.objective("wgan-gp", args), D, opt_d, real, None,
                                              G(tg.randn(8, 100)), None)[0]
    return step


def _ddpm_step():
    from tinygen.models import DDPM
    model = DDPM(channels=8, num_steps=100)
    opt = optim.Adam(model.parameters(), lr=2e-4)
    ema = optim.EMA(model, 0.999)
    x = tg.rand(8, 1, 28, 28) * 2 - 1

    def step():
        loss = model.loss(x)
        opt.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model)
        return loss
    return step


def _pixelcnn_step():
    from tinygen.models import PixelCNN
    model = PixelCNN(hidden=8, num_blocks=2)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = (tg.rand(8, 1, 28, 28) > 0.5).float()

    def step():
        loss = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


STEPS = {"vae": _vae_step, "dcgan": _dcgan_step, "wgan-gp": _wgan_step, "ddpm": _ddpm_step,
         "pixelcnn": _pixelcnn_step}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_no_host_sync_inside_a_training_step(name, cupy):
    import cupyx
    step = STEPS[name]()
    step()                                 # the first step also creates the optimizer's state
    with cupyx.allow_synchronize(False):   # any sync in these three steps raises, naming it
        for _ in range(3):
            loss = step()
    if hasattr(cupy, "ledger"):
        before = len(cupy.ledger.syncs)
        float(loss)                        # what logging every N steps costs: exactly one sync
        assert len(cupy.ledger.syncs) == before + 1


# -- every example runs its cupy path ---------------------------------------------------

EXAMPLES = [("vae_mnist", ["--limit", "256", "--epochs", "1"]),
            ("cvae_mnist", ["--limit", "256", "--epochs", "1"]),
            ("classifier_mnist", ["--limit", "256", "--test-limit", "64"]),
            ("gan_mnist", ["--arch", "dcgan", "--limit", "128", "--fid-n", "100", "--ema", "0.9",
                           "--spectral-norm", "--minibatch-std", "4"]),
            ("gan_mnist", ["--arch", "cgan", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "acgan", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "wgan-gp", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "conv", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "mlp", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "infogan", "--limit", "128", "--fid-n", "100"]),
            ("gan_mnist", ["--arch", "selfcond", "--limit", "128", "--fid-n", "100", "--clusters", "8"]),
            ("pixelcnn_mnist", ["--limit", "128"]),
            ("vqvae_mnist", ["--limit", "256", "--epochs", "1", "--prior-epochs", "1"]),
            ("flow_mnist", ["--arch", "glow", "--limit", "128"]),
            ("flow_mnist", ["--arch", "realnvp", "--limit", "128"]),
            ("ddpm_mnist", ["--limit", "64"]),
            ("ddpm_mnist", ["--limit", "64", "--conditional", "--sampler", "ddim", "--guidance-scales", "0,1"]),
            ("rbm_mnist", ["--limit", "200", "--epochs", "1"]),
            ("rbm_mnist", ["--limit", "200", "--epochs", "1", "--hidden", "32,16"]),
            ("autoencoder_features_mnist", ["--limit", "256"]),
            ("cyclegan_mnist", ["--limit", "32"])]


@pytest.mark.parametrize("name, flags", EXAMPLES, ids=[f"{n}-{f[1] if f[0] == '--arch' else ''}" for n, f in EXAMPLES])
def test_example_quick_runs_on_cupy(name, flags, tmp_path, cupy, monkeypatch):
    if name == "cyclegan_mnist":
        from test_examples import fashion_stand_in
        fashion_stand_in(monkeypatch)
    metrics = load_example(name).main(["--quick", "--backend", "cupy", "--out", str(tmp_path), *flags])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written and metrics is not None
    assert tg.load(tmp_path / "checkpoint.npz")["config"]["backend"] == "cupy"


# -- exact resume on cupy -------------------------------------------------------------------

def test_resume_on_cupy_is_bit_exact(tmp_path, cupy, monkeypatch):
    """Ctrl-C in the middle of an epoch, --resume, and the weights equal an uninterrupted
    run's: the checkpoint carries the cupy generator's position as well as NumPy's."""
    import signal
    example = load_example("vae_mnist")
    args = ["--quick", "--backend", "cupy", "--limit", "256", "--batch-size", "32", "--epochs", "2",
            "--iwae-k", "5", "--iwae-n", "10", "--fid-n", "100", "--expost-components", "0"]
    example.main(args + ["--out", str(tmp_path / "straight")])
    real_step, calls = optim.Adam.step, {"n": 0}

    def step_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 11:                     # in the middle of the second epoch (8 steps each)
            os.kill(os.getpid(), signal.SIGINT)
        real_step(self)
    monkeypatch.setattr(optim.Adam, "step", step_then_interrupt)
    with pytest.raises(SystemExit):
        example.main(args + ["--out", str(tmp_path / "resumed")])
    monkeypatch.setattr(optim.Adam, "step", real_step)
    example.main(args + ["--out", str(tmp_path / "resumed"), "--resume"])
    straight = tg.load(tmp_path / "straight" / "checkpoint.npz")["models"]["model"]
    resumed = tg.load(tmp_path / "resumed" / "checkpoint.npz")["models"]["model"]
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)


def test_zoo_models_sample_on_cupy(cupy):
    from tinygen import zoo
    for name in zoo.available():
        model = zoo.load(name, backend="cupy")
        assert next(iter(model.parameters())).device == "cupy"
        images, labels = zoo.sample(model, 12, seed=1)
        assert isinstance(images, np.ndarray) and images.shape == (12, 1, 28, 28)
        assert images.min() >= 0 and images.max() <= 1
