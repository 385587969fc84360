"""Every model's loss and gradients on CuPy against NumPy (skipped without a GPU).

Each model is built on NumPy in float64 and run once (ActNorm and the VQ codebook
initialise from their first batch); then its loss and parameter gradients are computed
on NumPy, the model is moved with ``.to("cupy")`` and the same inputs with
``t.to("cupy")``, and the two must agree. Random draws inside a loss differ between
backends, so each model is compared through a deterministic function of it.
"""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.models import (VAE, DDPM, RBM, Autoencoder, CategoricalPixelCNN, CGANDiscriminator, CycleGAN,
                            DCGANDiscriminator, Glow, PixelCNN, RealNVP, VQVAE)

pytestmark = pytest.mark.cupy
RNG = np.random.default_rng(0)
BINARY = (RNG.random((2, 1, 28, 28)) < 0.3).astype(np.float64)
UNIT = RNG.uniform(0.01, 0.99, (2, 1, 28, 28))
SIGNED = RNG.uniform(-1, 1, (2, 1, 28, 28))


def vae_reconstruction(model, x):
    mu, _ = model.encode(x)                     # the mean code: no sampling
    return F.binary_cross_entropy_with_logits(model.decode(mu), x)


def ddpm_net(model, x):
    return (model.net(x, tg.tensor(np.array([3, 700])).to(x.device)) ** 2).mean()


CASES = {   # name: (model, deterministic loss, input)
    "vae": (lambda: VAE(4), vae_reconstruction, BINARY),
    "pixelcnn": (lambda: PixelCNN(4, 2, 8), lambda m, x: m.loss(x), BINARY),
    "categorical_pixelcnn": (lambda: CategoricalPixelCNN(5, 4, 2, 8, 3), lambda m, x: m.loss(x),
                             RNG.integers(0, 5, (2, 7, 7))),
    "vqvae": (lambda: VQVAE(8, 4, 8, ema_decay=None), lambda m, x: m.loss(x)[0], BINARY),
    "glow": (lambda: Glow(2, 1, 8), lambda m, x: m.loss(x), UNIT),
    "realnvp": (lambda: RealNVP(1, 8), lambda m, x: m.loss(x), UNIT),
    "ddpm_unet": (lambda: DDPM(8), ddpm_net, SIGNED),
    "autoencoder": (lambda: Autoencoder(4), lambda m, x: m.loss(x), BINARY),
    "rbm": (lambda: RBM(784, 16), lambda m, x: m.free_energy(x.flatten(1)).mean(), BINARY),
    # eval mode: spectral norm's power iteration would otherwise move u between the two runs
    "dcgan_sn_discriminator": (lambda: DCGANDiscriminator(width=4, spectral_norm=True),
                               lambda m, x: (m.eval()(x) ** 2).mean(), SIGNED),
    # its per-class maps: a gather forward, a scatter-add backward
    "cgan_discriminator": (lambda: CGANDiscriminator(num_classes=3, width=4),
                           lambda m, x: (m.eval()(x, tg.tensor([2, 0], dtype="int64").to(x.device)) ** 2).mean(),
                           SIGNED),
    "cyclegan": (lambda: CycleGAN(gen_width=4, num_blocks=1, disc_width=4),
                 lambda m, x: m.generator_loss(x, x)[0], SIGNED),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_and_gradients_match_numpy(name):
    make, loss_of, data = CASES[name]
    tg.manual_seed(0)
    model = make().double()
    dtype = "int64" if data.dtype.kind == "i" else "float64"
    x = tg.tensor(data, dtype=dtype)
    loss_of(model, x)                           # data-dependent initialisations happen here
    host_loss = loss_of(model, x)
    host_loss.backward()
    host_grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model.to("cupy")
    with tg.use_backend("cupy"):
        loss = loss_of(model, x.to("cupy"))
        loss.backward()
    assert loss.item() == pytest.approx(host_loss.item(), rel=1e-9, abs=1e-9)
    for p, g in zip(model.parameters(), host_grads):
        if g is not None:
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-7, atol=1e-10)
