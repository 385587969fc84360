"""Training-trajectory parity with PyTorch twins: the same initial weights (ported 1:1),
the same batches and noise (drawn once, fed to both), many optimizer steps of the
example's own training step, then losses and every parameter agree. One-step gradient
checks miss what this catches: optimizer state, loss wiring, EMA, the step's order.

Needs PyTorch (`pip install -e ".[parity]"`, which .ci/run installs); skips without it.
"""
import importlib
import os
from types import SimpleNamespace

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim

from helpers import load_example

torch = pytest.importorskip("torch", reason="the PyTorch twins need torch: pip install -e \".[parity]\"")
BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def load_twin(name):
    """benchmarks/twins/NAME.py, imported as the package ``twins`` (the twins import each other)."""
    import sys
    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    return importlib.import_module(f"twins.{name}")


twin = load_twin("mlp_gan")


def test_mlp_gan_trajectory_matches_its_pytorch_twin():
    """25 steps of both networks (D on real and detached fake, then G through D), Adam with
    the example's settings, and an EMA of G, in float64: every loss and weight to 1e-9."""
    torch.set_default_dtype(torch.float64)
    try:
        example = load_example("gan_mnist")
        tg.manual_seed(0)
        G, D = (m.to("float64") for m in example.build("mlp", 100))
        tG, tD = twin.torch_generator().double(), twin.torch_discriminator().double()
        twin.port(G, tG)
        twin.port(D, tD)
        opt_g, opt_d = (optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D))
        t_opt_g, t_opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (tG, tD))
        ema = optim.EMA(G, 0.9)
        t_ema = [p.detach().clone() for p in tG.parameters()]
        bce = torch.nn.BCEWithLogitsLoss()
        args = SimpleNamespace(label_smoothing=0.0, saturating=False, gp_weight=10.0)
        rng = np.random.default_rng(0)
        for step in range(25):
            real = rng.uniform(-1, 1, (16, 1, 28, 28))
            z = rng.standard_normal((16, 100))
            fake = G(tg.tensor(z, dtype="float64"))
            d_loss, _ = example.discriminator_step(example.objective("mlp", args), D, opt_d,
                                                   tg.tensor(real, dtype="float64"), None, fake, None)
            g_loss = example.generator_step(example.objective("mlp", args), D, opt_g, fake, None)
            ema.update(G)

            t_fake = tG(torch.from_numpy(z)).reshape(16, 1, 28, 28)
            t_real = torch.from_numpy(real).reshape(16, -1)
            t_d = bce(tD(t_real), torch.ones(16, 1)) + bce(tD(t_fake.detach().reshape(16, -1)), torch.zeros(16, 1))
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            t_g = bce(tD(t_fake.reshape(16, -1)), torch.ones(16, 1))
            t_opt_g.zero_grad()
            t_g.backward()
            t_opt_g.step()
            with torch.no_grad():
                for avg, p in zip(t_ema, tG.parameters()):
                    avg.mul_(0.9).add_(p, alpha=0.1)
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
            assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
        ours = [m.weight for _, m in G.named_modules() if isinstance(m, tg.nn.Linear)]
        theirs = [m.weight for m in tG if isinstance(m, torch.nn.Linear)]
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-12)
        ema_weights = [m.weight for _, m in ema.model.named_modules() if isinstance(m, tg.nn.Linear)]
        t_ema_weights = [t_ema[i] for i, p in enumerate(tG.parameters()) if p.ndim == 2]
        for a, b in zip(ema_weights, t_ema_weights):
            np.testing.assert_allclose(a.detach().numpy(), b.numpy(), rtol=1e-9, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


dcgan_twin = load_twin("dcgan")


def _compare_states(ours, theirs, what, atol=1e-11):
    theirs = {k: v.detach().numpy() for k, v in theirs.items()}
    assert sorted(ours) == sorted(theirs), what
    for key in ours:
        np.testing.assert_allclose(np.asarray(ours[key], dtype=np.float64), theirs[key].astype(np.float64),
                                   rtol=1e-8, atol=atol, err_msg=f"{what} {key}")


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_dcgan_trajectory_matches_its_pytorch_twin(spectral_norm):
    """25 steps of the example's DCGAN step (D on real and detached fake, then G through D)
    in float64 from one state_dict: both networks' batch-norm running statistics, Adam's
    state, spectral norm's power iteration (u, v) and an EMA of G, every tensor to 1e-8."""
    torch.set_default_dtype(torch.float64)
    try:
        example = load_example("gan_mnist")
        tg.manual_seed(0)
        G, D = (m.to("float64") for m in example.build("dcgan", 16, spectral_norm=spectral_norm))
        tG = dcgan_twin.Generator(16)
        tD = dcgan_twin.Discriminator(spectral_norm=spectral_norm)
        tG.load_state_dict(dcgan_twin.ported(G.state_dict()))
        tD.load_state_dict(dcgan_twin.ported(D.state_dict()))
        opt_g, opt_d = (optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for m in (G, D))
        t_opt_g, t_opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for m in (tG, tD))
        ema = optim.EMA(G, 0.8)
        t_ema = {k: v.detach().clone() for k, v in tG.state_dict().items()}
        bce = torch.nn.BCEWithLogitsLoss()
        args = SimpleNamespace(label_smoothing=0.1, saturating=False, gp_weight=10.0)
        loss_of = example.objective("dcgan", args)
        rng = np.random.default_rng(1)
        for step in range(25):
            real = rng.uniform(-1, 1, (8, 1, 28, 28))
            z = rng.standard_normal((8, 16))
            fake = G(tg.tensor(z, dtype="float64"))
            d_loss, _ = example.discriminator_step(loss_of, D, opt_d, tg.tensor(real, dtype="float64"), None,
                                                   fake, None)
            g_loss = example.generator_step(loss_of, D, opt_g, fake, None)
            ema.update(G)

            t_fake = tG(torch.from_numpy(z))
            t_d = bce(tD(torch.from_numpy(real)), torch.full((8, 1), 0.9)) + bce(tD(t_fake.detach()), torch.zeros(8, 1))
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            t_g = bce(tD(t_fake), torch.ones(8, 1))
            t_opt_g.zero_grad()
            t_g.backward()
            t_opt_g.step()
            with torch.no_grad():
                params = dict(tG.named_parameters())
                for k, v in tG.state_dict().items():
                    if k in params:
                        t_ema[k].mul_(0.8).add_(v, alpha=0.2)
                    else:
                        t_ema[k].copy_(v)          # buffers: copied, as optim.EMA does
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
            assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
        _compare_states(G.state_dict(), tG.state_dict(), "G")
        _compare_states(D.state_dict(), tD.state_dict(), "D")
        _compare_states(ema.model.state_dict(), t_ema, "EMA of G")
    finally:
        torch.set_default_dtype(torch.float32)


vae_twin = load_twin("vae")


@pytest.mark.parametrize("conditional", [False, True])
def test_vae_trajectory_matches_its_pytorch_twin(conditional, monkeypatch):
    """25 steps of the example's VAE step in float64 (the same ε fed to both, Adam with a
    per-step cosine decay as --lr-decay cosine sets it): losses and every weight to 1e-8.
    Conditional: the CVAE with its learned class prior p(z|y), as the example trains it."""
    import tinygen.models.vae.vae as vae_module
    from tinygen.models import VAE
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(2)
        model = (VAE(4, num_classes=10, prior="class") if conditional else VAE(4)).to("float64")
        if conditional:                      # move the prior off its zero start, so that it is tested
            model.prior_mu.weight.data[...] = np.random.default_rng(1).normal(0, 0.3, (10, 4))
            model.prior_logvar.weight.data[...] = np.random.default_rng(2).normal(0, 0.3, (10, 4))
        twin_model = vae_twin.CVAE(4) if conditional else vae_twin.VAE(4)
        twin_model.load_state_dict(vae_twin.ported(model.state_dict()))
        opt = optim.Adam(model.parameters(), lr=1e-3)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=25)
        t_opt = torch.optim.Adam(twin_model.parameters(), lr=1e-3)
        t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=25)
        rng = np.random.default_rng(3)
        for step in range(25):
            x = (rng.random((6, 1, 28, 28)) < 0.3).astype(np.float64)
            eps = rng.standard_normal((6, 4))
            y = rng.integers(0, 10, 6)
            monkeypatch.setattr(vae_module, "randn", lambda *shape, **kw: tg.tensor(eps, dtype="float64"))
            loss, parts = model.loss(tg.tensor(x, dtype="float64"), tg.tensor(y, dtype="int64") if conditional else None)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            t_args = (torch.from_numpy(x), torch.from_numpy(y)) if conditional else (torch.from_numpy(x),)
            t_loss, t_rec, t_kl = twin_model.loss(*t_args, torch.from_numpy(eps))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
            t_sched.step()
            assert loss.item() == pytest.approx(t_loss.item(), rel=1e-9), step
            assert parts["kl"].item() == pytest.approx(t_kl.item(), rel=1e-8), step
        _compare_states(model.state_dict(), twin_model.state_dict(), "VAE")
    finally:
        torch.set_default_dtype(torch.float32)


def test_wgan_gp_trajectory_matches_its_pytorch_twin(monkeypatch):
    """20 critic steps with the gradient penalty (a double backward through the critic) and
    a G step after every 5th, Adam (1e-4, (0.5, 0.9)) as the example sets it, the same ε for
    the penalty's interpolates: every loss and tensor to 1e-8."""
    import tinygen.models.gans.wgan_gp as wgan_module
    torch.set_default_dtype(torch.float64)
    try:
        example = load_example("gan_mnist")
        tg.manual_seed(4)
        G, D = (m.to("float64") for m in example.build("wgan-gp", 16))
        tG, tD = dcgan_twin.Generator(16), dcgan_twin.WGANCritic()
        tG.load_state_dict(dcgan_twin.ported(G.state_dict()))
        tD.load_state_dict(dcgan_twin.ported(D.state_dict()))
        opt_g, opt_d = (optim.Adam(m.parameters(), lr=1e-4, betas=(0.5, 0.9)) for m in (G, D))
        t_opt_g, t_opt_d = (torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.5, 0.9)) for m in (tG, tD))
        loss_of = example.objective("wgan-gp", SimpleNamespace(gp_weight=10.0))
        rng = np.random.default_rng(5)
        for step in range(20):
            real = rng.uniform(-1, 1, (6, 1, 28, 28))
            z = rng.standard_normal((6, 16))
            eps = rng.random((6, 1, 1, 1))
            monkeypatch.setattr(wgan_module, "rand", lambda *shape, **kw: tg.tensor(eps, dtype="float64"))
            fake = G(tg.tensor(z, dtype="float64"))
            d_loss, _ = example.discriminator_step(loss_of, D, opt_d, tg.tensor(real, dtype="float64"), None,
                                                   fake, None)
            t_real, t_fake = torch.from_numpy(real), tG(torch.from_numpy(z))
            t_d = tD(t_fake.detach()).mean() - tD(t_real).mean() + \
                dcgan_twin.gradient_penalty(tD, t_real, t_fake, torch.from_numpy(eps))
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
            if step % 5 == 4:
                g_loss = example.generator_step(loss_of, D, opt_g, fake, None)
                t_g = -tD(t_fake).mean()
                t_opt_g.zero_grad()
                t_g.backward()
                t_opt_g.step()
                assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
        _compare_states(G.state_dict(), tG.state_dict(), "G")
        _compare_states(D.state_dict(), tD.state_dict(), "critic")
    finally:
        torch.set_default_dtype(torch.float32)


rbm_twin = load_twin("rbm")


@pytest.mark.parametrize("persistent", [False, True])
def test_rbm_cd_and_pcd_updates_match_the_textbook_twin(persistent, monkeypatch):
    """20 CD-1 (or PCD-1) steps of the example's update with SGD (momentum 0.9, weight decay
    2e-4): tinygen differentiates L = mean F(v_data) - mean F(v_k); the twin writes the
    textbook ⟨vhᵀ⟩_data - ⟨vhᵀ⟩_model. The same Gibbs draws in both; every tensor to 1e-8."""
    import tinygen.models.energy.rbm as rbm_module
    from tinygen.models import RBM
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(6)
        model = RBM(visible=20, hidden=7).to("float64")
        twin_model = rbm_twin.RBM(20, 7)
        twin_model.load_state_dict(rbm_twin.ported(model.state_dict()))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
        t_opt = torch.optim.SGD(twin_model.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4)
        rng = np.random.default_rng(7)
        draws = []
        monkeypatch.setattr(rbm_module, "rand", lambda *shape, **kw: tg.tensor(draws.pop(0), dtype="float64"))
        chains = t_chains = None
        for step in range(20):
            v = (rng.random((5, 20)) < 0.4).astype(np.float64)
            start = chains if persistent and chains is not None else tg.tensor(v, dtype="float64")
            t_start = t_chains if persistent and t_chains is not None else torch.from_numpy(v)
            uniforms = [rng.random((5, 7)), rng.random((5, 20))]           # h, then v
            draws[:] = [u.copy() for u in uniforms]
            chains, _ = model.gibbs(start, 1)
            loss = model.contrastive_divergence_loss(tg.tensor(v, dtype="float64"), chains)
            opt.zero_grad()
            loss.backward()
            opt.step()
            t_draws = [torch.from_numpy(u) for u in uniforms]
            t_chains = twin_model.gibbs(t_start, lambda: t_draws.pop(0), 1)
            twin_model.set_cd_gradients(torch.from_numpy(v), t_chains)
            t_opt.step()
            np.testing.assert_array_equal(chains.numpy(), t_chains.numpy())
        _compare_states(model.state_dict(), twin_model.state_dict(), "RBM")
    finally:
        torch.set_default_dtype(torch.float32)


pixelcnn_twin = load_twin("pixelcnn")


def test_pixelcnn_trajectory_matches_its_pytorch_twin():
    """20 Adam steps of the exact-NLL loss in float64 (masks built independently on each
    side): losses and every weight to 1e-8, the masked-out taps included (they never move)."""
    from tinygen.models import PixelCNN
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(8)
        model = PixelCNN(hidden=4, num_blocks=2, output_hidden=8).to("float64")
        twin_model = pixelcnn_twin.PixelCNN(4, 2, 8)
        twin_model.load_state_dict(pixelcnn_twin.ported(model.state_dict()))
        rng = np.random.default_rng(9)
        start = model.net[0].weight.detach().numpy().copy()
        binary = [(rng.random((4, 1, 9, 9)) < 0.3).astype(np.float64) for _ in range(20)]
        _loss_trajectory(model, twin_model, binary, "PixelCNN", lr=2e-3, rel=1e-9)
        masked_out = pixelcnn_twin.raster_mask(7, False).numpy() == 0
        np.testing.assert_array_equal(model.net[0].weight.detach().numpy()[..., masked_out], start[..., masked_out])
    finally:
        torch.set_default_dtype(torch.float32)


def test_vq_vae_prior_trajectory_matches_its_pytorch_twin():
    """25 Adam steps of the VQ-VAE's categorical PixelCNN prior over 7×7 code maps, with the
    example's cosine learning-rate decay, in float64: losses, the embedding and every weight
    to 1e-8."""
    from tinygen.models import CategoricalPixelCNN
    from tinygen.optim.lr_scheduler import CosineAnnealingLR
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(18)
        prior = CategoricalPixelCNN(8, hidden=4, num_blocks=2, output_hidden=8, embedding_dim=3).to("float64")
        twin_prior = pixelcnn_twin.CategoricalPixelCNN(8, 4, 2, 8, 3)
        twin_prior.load_state_dict(pixelcnn_twin.ported(prior.state_dict()))
        opt = optim.Adam(prior.parameters(), lr=3e-3)
        t_opt = torch.optim.Adam(twin_prior.parameters(), lr=3e-3)
        sched, t_sched = CosineAnnealingLR(opt, T_max=25), torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=25)
        rng = np.random.default_rng(19)
        for step in range(25):
            codes = rng.integers(0, 8, (5, 7, 7))
            loss = prior.loss(tg.tensor(codes, dtype="int64"))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            t_loss = twin_prior.loss(torch.from_numpy(codes))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
            t_sched.step()
            assert loss.item() == pytest.approx(t_loss.item(), rel=1e-9), step
        _compare_states(prior.state_dict(), twin_prior.state_dict(), "CategoricalPixelCNN")
    finally:
        torch.set_default_dtype(torch.float32)


ddpm_twin = load_twin("ddpm")


@pytest.mark.parametrize("num_classes", [0, 10])
def test_ddpm_trajectory_matches_its_pytorch_twin(num_classes, monkeypatch):
    """20 Adam steps of L_simple in float64 with the same t and ε on both sides, gradient
    clipping at 1 and an EMA of the weights as the example trains: every tensor to 1e-8.
    Class-conditional: the same labels, half of them dropped to ∅ by the same coin, and
    at the end the guided ε̃ of both at w = 2."""
    import tinygen.models.diffusion.ddpm as ddpm_module
    from tinygen.models import DDPM
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(10)
        # 16 channels: GroupNorm's 8 groups hold 2 channels each. With 1 a group's norm
        # cancels the conv bias before it exactly, and Adam would amplify that gradient's
        # rounding noise (1e-18) into steps of size lr on both sides, differently
        model = DDPM(channels=16, num_classes=num_classes, p_uncond=0.5).to("float64")
        for p in model.parameters():           # move the zero-initialised output conv off zero
            p.data += 0.01 * np.random.default_rng(0).standard_normal(p.shape)
        twin_model = ddpm_twin.DDPM(channels=16, num_classes=num_classes)
        twin_model.load_state_dict(ddpm_twin.ported(model.state_dict()))
        opt, t_opt = optim.Adam(model.parameters(), lr=1e-3), torch.optim.Adam(twin_model.parameters(), lr=1e-3)
        ema = optim.EMA(model, 0.9)
        t_ema = {k: v.detach().clone() for k, v in twin_model.state_dict().items()}
        rng = np.random.default_rng(11)
        for step in range(20):
            x0 = rng.uniform(-1, 1, (3, 1, 28, 28))
            t = rng.integers(0, 1000, 3)
            noise = rng.standard_normal((3, 1, 28, 28))
            labels, coin = rng.integers(0, 10, 3), rng.random(3)
            monkeypatch.setattr(ddpm_module, "randint", lambda *a, **k: tg.tensor(t, dtype="int64"))
            monkeypatch.setattr(ddpm_module, "randn", lambda *a, **k: tg.tensor(noise, dtype="float64"))
            monkeypatch.setattr(ddpm_module, "rand", lambda *a, **k: tg.tensor(coin, dtype="float64"))
            y = labels if num_classes else None
            t_y = torch.from_numpy(np.where(coin < 0.5, 10, labels)) if num_classes else None
            loss = model.loss(tg.tensor(x0, dtype="float64"), y)
            opt.zero_grad()
            loss.backward()
            tg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            ema.update(model)
            t_loss = twin_model.loss(torch.from_numpy(x0), torch.from_numpy(t), torch.from_numpy(noise), t_y)
            t_opt.zero_grad()
            t_loss.backward()
            torch.nn.utils.clip_grad_norm_(twin_model.parameters(), 1.0)
            t_opt.step()
            with torch.no_grad():
                for k, v in twin_model.state_dict().items():
                    t_ema[k].mul_(0.9).add_(v, alpha=0.1)
            assert loss.item() == pytest.approx(t_loss.item(), rel=1e-9), step
        _compare_states(model.state_dict(), twin_model.state_dict(), "U-Net")
        _compare_states(ema.model.state_dict(), t_ema, "EMA")
        if num_classes:
            x, t, y = rng.standard_normal((3, 1, 28, 28)), np.array([5, 500, 999]), np.array([1, 4, 7])
            with tg.no_grad():
                ours = model.predict_noise(tg.tensor(x, dtype="float64"), tg.tensor(t), tg.tensor(y), 2.0).numpy()
            with torch.no_grad():
                theirs = twin_model.guided_noise(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y), 2.0)
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-12)
    finally:
        torch.set_default_dtype(torch.float32)


cyclegan_twin = load_twin("cyclegan")


def test_cyclegan_trajectory_matches_its_pytorch_twin():
    """20 alternating G and D steps of CycleGAN's losses (LSGAN, cycle and identity terms)
    through both generators and both PatchGANs, in float64: every tensor to 1e-8. SGD with
    momentum here, not the example's Adam: a conv bias before instance norm has a gradient
    that is 0 up to rounding, which Adam would scale up into different steps on each side
    (Adam itself is matched by the other twins)."""
    from tinygen.models import CycleGAN
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(12)
        model = CycleGAN(gen_width=4, num_blocks=1, disc_width=4).to("float64")
        twin_model = cyclegan_twin.CycleGAN(4, 1, 4)
        twin_model.load_state_dict(cyclegan_twin.ported(model.state_dict()))
        # a small step: at lr 0.01 this GAN's dynamics are chaotic from about step 12 on, and
        # the sides' float64 rounding (summation order) grows ~10x a step, 1e-7 apart by step 17
        lr = 0.002
        opt_g = optim.SGD(model.generator_parameters(), lr=lr, momentum=0.5)
        opt_d = optim.SGD(model.discriminator_parameters(), lr=lr, momentum=0.5)
        t_opt_g = torch.optim.SGD(list(twin_model.G.parameters()) + list(twin_model.F.parameters()), lr=lr,
                                  momentum=0.5)
        t_opt_d = torch.optim.SGD(list(twin_model.D_A.parameters()) + list(twin_model.D_B.parameters()), lr=lr,
                                  momentum=0.5)
        rng = np.random.default_rng(13)
        for step in range(20):
            a, b = rng.uniform(-1, 1, (2, 1, 28, 28)), rng.uniform(-1, 1, (2, 1, 28, 28))
            g_loss, _, fake_a, fake_b = model.generator_loss(tg.tensor(a, dtype="float64"), tg.tensor(b, dtype="float64"))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            d_loss, _ = model.discriminator_loss(tg.tensor(a, dtype="float64"), tg.tensor(b, dtype="float64"),
                                                 fake_a, fake_b)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            t_g, t_fake_a, t_fake_b = twin_model.generator_loss(ta, tb)
            t_opt_g.zero_grad()
            t_g.backward()
            t_opt_g.step()
            t_d = twin_model.discriminator_loss(ta, tb, t_fake_a, t_fake_b)
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
        _compare_states(model.state_dict(), twin_model.state_dict(), "CycleGAN")
    finally:
        torch.set_default_dtype(torch.float32)


conditional_twin = load_twin("conditional_gan")


@pytest.mark.parametrize("arch", ["cgan", "acgan"])
def test_conditional_gan_trajectory_matches_its_pytorch_twin(arch):
    """20 steps of the example's CGAN / ACGAN step in float64; the twin's CGAN D reads the
    label as concatenated one-hot planes (tinygen: per-class maps after the first conv)."""
    torch.set_default_dtype(torch.float64)
    try:
        example = load_example("gan_mnist")
        tg.manual_seed(14)
        G, D = (m.to("float64") for m in example.build(arch, 16))
        tG = conditional_twin.ConditionalGenerator(16)
        tD = conditional_twin.CGANDiscriminator() if arch == "cgan" else conditional_twin.ACGANDiscriminator()
        tG.load_state_dict(conditional_twin.ported(G.state_dict()))
        tD.load_state_dict(conditional_twin.ported(D.state_dict()))
        opt_g, opt_d = (optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for m in (G, D))
        t_opt_g, t_opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for m in (tG, tD))
        loss_of = example.objective(arch, SimpleNamespace(label_smoothing=0.0, saturating=False))
        bce, ce = torch.nn.BCEWithLogitsLoss(), torch.nn.CrossEntropyLoss()
        rng = np.random.default_rng(15)
        for step in range(20):
            real = rng.uniform(-1, 1, (6, 1, 28, 28))
            y, y_fake = rng.integers(0, 10, 6), rng.integers(0, 10, 6)
            z = rng.standard_normal((6, 16))
            labels, fake_labels = tg.tensor(y, dtype="int64"), tg.tensor(y_fake, dtype="int64")
            fake = G(tg.tensor(z, dtype="float64"), fake_labels)
            d_loss, _ = example.discriminator_step(loss_of, D, opt_d, tg.tensor(real, dtype="float64"), labels,
                                                   fake, fake_labels)
            g_loss = example.generator_step(loss_of, D, opt_g, fake, fake_labels)

            ty, ty_fake, t_real = torch.from_numpy(y), torch.from_numpy(y_fake), torch.from_numpy(real)
            t_fake = tG(torch.from_numpy(z), ty_fake)
            ones, zeros = torch.ones(6, 1), torch.zeros(6, 1)
            if arch == "cgan":
                t_d = bce(tD(t_real, ty), ones) + bce(tD(t_fake.detach(), ty_fake), zeros)
            else:
                (rl, rc), (fl, fc) = tD(t_real), tD(t_fake.detach())
                t_d = bce(rl, ones) + bce(fl, zeros) + ce(rc, ty) + ce(fc, ty_fake)
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            if arch == "cgan":
                t_g = bce(tD(t_fake, ty_fake), ones)
            else:
                fl, fc = tD(t_fake)
                t_g = bce(fl, ones) + ce(fc, ty_fake)
            t_opt_g.zero_grad()
            t_g.backward()
            t_opt_g.step()
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
            assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
        # atol 1e-9: where a gradient cancels to rounding noise (~1e-15), Adam's step is
        # lr·g/ε ≈ 1e-10 on each side, differently; a wrong gradient moves weights by ~lr = 1e-3
        _compare_states(G.state_dict(), tG.state_dict(), "G", atol=1e-9)
        _compare_states(D.state_dict(), tD.state_dict(), "D", atol=1e-9)
    finally:
        torch.set_default_dtype(torch.float32)


vq_twin = load_twin("vq_vae")


def test_vq_vae_trajectory_matches_its_pytorch_twin(monkeypatch):
    """20 Adam steps of the VQ-VAE with its EMA codebook (initialised from the first batch,
    Laplace-smoothed means, dead-code restarts from the same drawn rows) in float64: the
    codes chosen at every step and every tensor to 1e-8."""
    import tinygen.models.vq.vq_vae as vq_module
    from tinygen.models import VQVAE
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(16)
        model = VQVAE(num_codes=8, code_dim=4, hidden=8).to("float64")
        twin_model = vq_twin.VQVAE(8, 4, 8)
        rng = np.random.default_rng(17)
        drawn = []

        def rows(low, high, shape, **kw):              # tinygen's draws, kept for the twin
            drawn.append(rng.integers(low, high, shape))
            return tg.tensor(drawn[-1], dtype="int64")
        monkeypatch.setattr(vq_module, "randint", rows)
        opt = optim.Adam(model.parameters(), lr=2e-3)
        twin_state_loaded = False
        for step in range(20):
            x = (rng.random((3, 1, 28, 28)) < 0.3).astype(np.float64)
            if not twin_state_loaded:                  # the same weights, before the codebook is set
                twin_model.load_state_dict(vq_twin.ported(model.state_dict()))
                t_opt = torch.optim.Adam(twin_model.parameters(), lr=2e-3)
                twin_state_loaded = True
            drawn.clear()
            loss, parts = model.loss(tg.tensor(x, dtype="float64"))
            opt.zero_grad()
            loss.backward()
            opt.step()
            handed = [torch.from_numpy(r) for r in drawn]
            t_loss, t_codes = twin_model.loss(torch.from_numpy(x), lambda: handed.pop(0))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
            np.testing.assert_array_equal(parts["codes"].numpy().reshape(-1), t_codes.numpy(), err_msg=str(step))
            assert loss.item() == pytest.approx(t_loss.item(), rel=1e-9), step
        _compare_states(model.state_dict(), twin_model.state_dict(), "VQ-VAE")
    finally:
        torch.set_default_dtype(torch.float32)


conv_gan_twin = load_twin("conv_gan")


def test_conv_gan_trajectory_matches_its_pytorch_twin(monkeypatch):
    """20 steps of the small conv GAN (Keras-initialised, BCE on D's probabilities, dropout
    in D with the same masks on both sides) in float64: every loss and tensor to 1e-8."""
    import tinygen.nn.functional.layers as layers_module
    torch.set_default_dtype(torch.float64)
    try:
        example = load_example("gan_mnist")
        tg.manual_seed(18)
        G, D = (m.to("float64") for m in example.build("conv", 8))
        queue = []
        tG, tD = conv_gan_twin.Generator(8), conv_gan_twin.Discriminator(lambda: torch.from_numpy(queue.pop(0)))
        tG.load_state_dict(conv_gan_twin.ported(G.state_dict()))
        tD.load_state_dict(conv_gan_twin.ported(D.state_dict()))
        opt_g, opt_d = (optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D))
        t_opt_g, t_opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (tG, tD))
        loss_of = example.objective("conv", SimpleNamespace(label_smoothing=0.0))
        rng = np.random.default_rng(19)
        drawn = []

        def uniforms(shape, *a, **k):                  # tinygen's dropout draws, kept for the twin
            drawn.append(rng.random(shape))
            return tg.tensor(drawn[-1], dtype="float64").data
        monkeypatch.setattr(layers_module, "uniform_array", uniforms)
        bce = torch.nn.BCELoss()
        for step in range(20):
            real = rng.random((4, 1, 28, 28))
            z = rng.standard_normal((4, 8))
            drawn.clear()
            fake = G(tg.tensor(z, dtype="float64"))
            d_loss, _ = example.discriminator_step(loss_of, D, opt_d, tg.tensor(real, dtype="float64"), None,
                                                   fake, None)
            g_loss = example.generator_step(loss_of, D, opt_g, fake, None)
            queue[:] = list(drawn)                     # D(real), D(fake) in the D step, D(fake) in the G step
            t_fake = tG(torch.from_numpy(z))
            t_d = bce(tD(torch.from_numpy(real)), torch.ones(4, 1)) + bce(tD(t_fake.detach()), torch.zeros(4, 1))
            t_opt_d.zero_grad()
            t_d.backward()
            t_opt_d.step()
            t_g = bce(tD(t_fake), torch.ones(4, 1))
            t_opt_g.zero_grad()
            t_g.backward()
            t_opt_g.step()
            assert not queue, "the twin used fewer dropout masks than tinygen drew"
            assert d_loss.item() == pytest.approx(t_d.item(), rel=1e-9), step
            assert g_loss.item() == pytest.approx(t_g.item(), rel=1e-9), step
        _compare_states(G.state_dict(), tG.state_dict(), "G")
        _compare_states(D.state_dict(), tD.state_dict(), "D")
    finally:
        torch.set_default_dtype(torch.float32)


def _loss_trajectory(model, twin_model, batches, what, lr=1e-3, rel=1e-10):
    """Adam steps of model.loss on both sides, one per float64 batch: every loss to ``rel``
    and, at the end, every weight to 1e-8 (relative)."""
    opt, t_opt = optim.Adam(model.parameters(), lr=lr), torch.optim.Adam(twin_model.parameters(), lr=lr)
    for step, x in enumerate(batches):
        loss = model.loss(tg.tensor(x, dtype="float64"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_loss = twin_model.loss(torch.from_numpy(x))
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        assert loss.item() == pytest.approx(t_loss.item(), rel=rel), (what, step)
    _compare_states(model.state_dict(), twin_model.state_dict(), what)


def _uniform_batches(seed, steps=20):
    """Dequantized-looking images in (0, 1) for the flows."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.01, 0.99, (3, 1, 28, 28)) for _ in range(steps)]


realnvp_twin = load_twin("realnvp")


def test_realnvp_trajectory_matches_its_pytorch_twin():
    """20 Adam steps of RealNVP's bits/dim (logit transform, checkerboard and channel
    couplings, squeezes, factored-out latents) in float64, from perturbed weights so that
    no coupling is the identity: every loss and weight to 1e-8."""
    from tinygen.models import RealNVP
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(20)
        model = RealNVP(num_scales=1, hidden=8).to("float64")
        noise = np.random.default_rng(21)
        for p in model.parameters():
            p.data += 0.05 * noise.standard_normal(p.shape)
        twin_model = realnvp_twin.RealNVP(num_scales=1, hidden=8)
        twin_model.load_state_dict(realnvp_twin.ported(model.state_dict()))
        _loss_trajectory(model, twin_model, _uniform_batches(22), "RealNVP")
    finally:
        torch.set_default_dtype(torch.float32)


glow_twin = load_twin("glow")


def test_glow_trajectory_matches_its_pytorch_twin():
    """20 Adam steps of Glow's bits/dim in float64: ActNorm's data-dependent init on the first
    batch (done by each side on its own), the LU-form 1×1 convs, the couplings, the learned
    split prior: every loss and tensor to 1e-8."""
    from tinygen.models import Glow
    torch.set_default_dtype(torch.float64)
    try:
        tg.manual_seed(23)
        model = Glow(num_levels=2, steps_per_level=2, hidden=8).to("float64")
        noise = np.random.default_rng(24)
        for name, p in model.named_parameters():
            if "net." in name or "split_priors" in name:   # couplings and split priors off the identity
                p.data += 0.05 * noise.standard_normal(p.shape)
        twin_model = glow_twin.Glow(2, 2, 8)
        twin_model.load_state_dict(glow_twin.ported(model.state_dict()))
        _loss_trajectory(model, twin_model, _uniform_batches(25), "Glow")
    finally:
        torch.set_default_dtype(torch.float32)


def test_twins_profile_counts_each_call_once_and_restores_the_functions():
    """benchmarks/twins_profile.py's per-Function clock: a Function run inside another's
    backward counts as itself, not also as its caller (the times add up to at most the
    wall time), and every wrapped method is put back afterwards."""
    import time
    from tinygen.autograd.ops.activation import ReLU
    load_twin("mlp_gan")                      # puts benchmarks/ on sys.path
    twins_profile = importlib.import_module("twins_profile")
    relu_forward = ReLU.forward
    clock = twins_profile.OwnTime()
    restore = twins_profile.instrument_tinygen(clock)
    try:
        x = tg.randn(16, 2, 9, 9, requires_grad=True)
        w = tg.randn(4, 2, 3, 3, requires_grad=True)
        start = time.perf_counter()
        tg.nn.functional.conv2d(x, w, padding=1).relu().sum().backward()
        wall = time.perf_counter() - start
    finally:
        restore()
    # the conv's backward runs ConvTranspose2d (∂x) and Conv2dGradW (∂W) as Functions
    assert {"Conv2d", "ConvTranspose2d", "Conv2dGradW", "ReLU", "Sum"} <= set(clock.seconds)
    assert 0 < sum(clock.seconds.values()) <= wall
    assert ReLU.forward is relu_forward
    kinds = {twins_profile.tinygen_kind(name) for name in clock.seconds}
    assert "convolution" in kinds and "other ops" in kinds
    # own time, by construction: an outer call of 20 ms that makes an inner one of 40 ms
    clock = twins_profile.OwnTime()

    class Work:
        def __init__(self, label, seconds, inner=None):
            self.label, self.seconds, self.inner = label, seconds, inner

        def run(self):
            time.sleep(self.seconds)
            if self.inner is not None:
                self.inner.run()
    Work.run = clock.wrap(Work.run, lambda work: work.label)
    Work("outer", 0.02, Work("inner", 0.04)).run()
    assert clock.seconds["outer"] == pytest.approx(0.02, abs=0.015)
    assert clock.seconds["inner"] == pytest.approx(0.04, abs=0.015)
