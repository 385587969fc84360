"""Whole networks against PyTorch (skipped when torch is not installed): the same weights,
ported 1:1 through state_dict, give the same outputs, gradients and BN running statistics.

This exercises what the per-op tests cannot: chains of layers, where tinygen keeps conv
outputs batch-last in memory and the next layer must read them correctly.
"""
import numpy as np
import pytest

import tinygen as tg
from tinygen.models import gans

torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_dcgan_generator(latent_dim, width):
    class G(tnn.Module):
        def __init__(self):
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Unflatten(1, (latent_dim, 1, 1)),
                tnn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), tnn.BatchNorm2d(4 * width), tnn.ReLU(),
                tnn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), tnn.BatchNorm2d(2 * width), tnn.ReLU(),
                tnn.ConvTranspose2d(2 * width, 1, 4, 2, 1), tnn.Tanh())

        def forward(self, z):
            return self.net(z)
    return G()


def torch_acgan_discriminator(width):
    class Trunk(tnn.Module):
        def __init__(self):
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Conv2d(1, width, 4, 2, 1), tnn.LeakyReLU(0.2),
                tnn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), tnn.BatchNorm2d(2 * width), tnn.LeakyReLU(0.2),
                tnn.Flatten())

        def forward(self, x):
            return self.net(x)

    class D(tnn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = Trunk()
            self.adversarial = tnn.Linear(2 * width * 49, 1)
            self.classifier = tnn.Linear(2 * width * 49, 10)

        def forward(self, x):
            f = self.trunk(x)
            return self.adversarial(f), self.classifier(f)
    return D()


def port(ours, theirs):
    """Copy tinygen's state_dict into the PyTorch module (same keys, same layouts)."""
    state = {k: torch.tensor(np.asarray(v.numpy() if hasattr(v, "numpy") else v))
             for k, v in ours.state_dict().items()}
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    theirs.double()


def test_dcgan_generator_and_acgan_discriminator_match_pytorch():
    tg.manual_seed(0)
    G, D = gans.DCGANGenerator(8, width=4).double(), gans.ACGANDiscriminator(width=4).double()
    tG, tD = torch_dcgan_generator(8, 4), torch_acgan_discriminator(4)
    port(G, tG), port(D, tD)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 8))
    labels = np.array([0, 3, 3, 9, 1])

    images = G(tg.tensor(z, dtype="float64"))
    adv, cls = D(images)
    loss = (adv * adv).mean() + tg.nn.functional.cross_entropy(cls, tg.tensor(labels, dtype="int64"))
    loss.backward()

    t_images = tG(torch.tensor(z))
    t_adv, t_cls = tD(t_images)
    t_loss = (t_adv * t_adv).mean() + torch.nn.functional.cross_entropy(t_cls, torch.tensor(labels))
    t_loss.backward()

    np.testing.assert_allclose(images.detach().numpy(), t_images.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-10)
    for module, t_module in ((G, tG), (D, tD)):
        t_params = dict(t_module.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-7, atol=1e-10,
                                       err_msg=name)
        t_buffers = dict(t_module.named_buffers())
        for name, b in module.named_buffers():
            np.testing.assert_allclose(b.numpy(), t_buffers[name].numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def torch_seed_vae(latent_dim):
    class VAE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(tnn.Conv2d(1, 32, 3, stride=2, padding=1), tnn.ReLU(),
                                           tnn.Conv2d(32, 64, 3, stride=2, padding=1), tnn.ReLU(),
                                           tnn.Flatten())
            self.hidden = tnn.Sequential(tnn.Linear(3136, 128), tnn.ReLU())
            self.mu, self.logvar = tnn.Linear(128, latent_dim), tnn.Linear(128, latent_dim)
            self.project = tnn.Sequential(tnn.Linear(latent_dim, 3136), tnn.ReLU(), tnn.Unflatten(1, (64, 7, 7)))
            self.deconv = tnn.Sequential(
                tnn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), tnn.ReLU(),
                tnn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), tnn.ReLU(),
                tnn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))
    return VAE()


def test_seed_vae_loss_and_gradients_match_pytorch():
    from tinygen.models import VAE
    from tinygen.models.vae import vae_loss
    tg.manual_seed(1)
    model = VAE(latent_dim=4).double()
    ref = torch_seed_vae(4)
    port(model, ref)
    rng = np.random.default_rng(1)
    x = (rng.random((3, 1, 28, 28)) > 0.5).astype(np.float64)
    eps = rng.standard_normal((3, 4))

    # the same reparameterised sample in both: z = μ + σ ε with a fixed ε
    mu, logvar = model.encode(tg.tensor(x, dtype="float64"))
    logits = model.decode(mu + (0.5 * logvar).exp() * tg.tensor(eps, dtype="float64"))
    loss, _ = vae_loss(logits, tg.tensor(x, dtype="float64"), mu, logvar)
    loss.backward()

    h = ref.hidden(ref.features(torch.tensor(x)))
    t_mu, t_logvar = ref.mu(h), ref.logvar(h)
    t_logits = ref.deconv(ref.project(t_mu + (0.5 * t_logvar).exp() * torch.tensor(eps)))
    rec = torch.nn.functional.binary_cross_entropy_with_logits(t_logits, torch.tensor(x), reduction="sum") / 3
    kl = -0.5 * (1 + t_logvar - t_mu ** 2 - t_logvar.exp()).sum() / 3
    (rec + kl).backward()

    assert loss.item() == pytest.approx((rec + kl).item(), rel=1e-10)
    t_params = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=name)
