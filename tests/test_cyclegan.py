"""CycleGAN: shapes, the losses on a hand-computed case, which parameters each step moves,
and the image pool."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim
from tinygen.models import CycleGAN
from tinygen.models.translation import ImagePool


class Constant(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return x[:, :1, :2, :2] * 0.0 + self.value


def test_shapes():
    model = CycleGAN(gen_width=8, num_blocks=1, disc_width=8)
    x = tg.rand(2, 1, 28, 28) * 2 - 1
    y = model.G(x).detach().numpy()
    assert y.shape == (2, 1, 28, 28) and np.abs(y).max() <= 1.0
    assert model.D_A(x).shape == (2, 1, 5, 5)               # one score per overlapping patch
    with pytest.raises(ValueError, match="divisible by 4"):
        model.G(tg.rand(1, 1, 30, 30))


def test_losses_on_a_hand_computed_case():
    # G = F = identity and D ≡ c: adversarial 2(c-1)², cycle 0, identity 0; D loss ½[(c-1)² + c²] per D
    model = CycleGAN(gen_width=8, num_blocks=1, disc_width=8, lambda_cycle=10.0, lambda_identity=0.5)
    model.G, model.F = nn.Identity(), nn.Identity()
    model.D_A, model.D_B = Constant(0.3), Constant(0.3)
    a, b = tg.rand(2, 1, 28, 28), tg.rand(2, 1, 28, 28)
    loss, parts, fake_a, fake_b = model.generator_loss(a, b)
    assert parts["g_adv"].item() == pytest.approx(2 * 0.49) and parts["cycle"].item() == 0.0
    assert parts["identity"].item() == 0.0 and loss.item() == pytest.approx(0.98)
    d_loss, _ = model.discriminator_loss(a, b, fake_a, fake_b)
    assert d_loss.item() == pytest.approx(2 * 0.5 * (0.49 + 0.09))
    # with G(x) = x + 0.1 and F(x) = x - 0.1, each translation is off by 0.1 and each cycle is exact
    model.G, model.F = Shift(0.1), Shift(-0.1)
    _, parts, _, _ = model.generator_loss(a, b)
    assert parts["cycle"].item() == pytest.approx(0.0, abs=1e-6)
    assert parts["identity"].item() == pytest.approx(0.2, rel=1e-5)


class Shift(nn.Module):
    def __init__(self, by):
        super().__init__()
        self.by = by

    def forward(self, x):
        return x + self.by


def test_each_step_moves_only_its_networks():
    tg.manual_seed(0)
    model = CycleGAN(gen_width=4, num_blocks=1, disc_width=4)
    opt_g = optim.Adam(model.generator_parameters(), lr=1e-2)
    opt_d = optim.Adam(model.discriminator_parameters(), lr=1e-2)
    a, b = tg.rand(2, 1, 28, 28) * 2 - 1, tg.rand(2, 1, 28, 28) * 2 - 1

    def snapshot(params):
        return [p.detach().numpy().copy() for p in params]

    d_before = snapshot(model.discriminator_parameters())
    g_loss, _, fake_a, fake_b = model.generator_loss(a, b)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert all(np.array_equal(x, p.detach().numpy()) for x, p in zip(d_before, model.discriminator_parameters()))
    g_before = snapshot(model.generator_parameters())
    d_loss, _ = model.discriminator_loss(a, b, fake_a, fake_b)
    opt_d.zero_grad()
    model.zero_grad()
    d_loss.backward()
    opt_d.step()
    assert all(np.array_equal(x, p.detach().numpy()) for x, p in zip(g_before, model.generator_parameters()))
    assert not all(np.array_equal(x, p.detach().numpy()) for x, p in zip(d_before, model.discriminator_parameters()))


def test_semantic_consistency_is_each_classifiers_cross_entropy_on_the_translation():
    """λ_sem [CE(f_A(G(a)), argmax f_A(a)) + CE(f_B(F(b)), argmax f_B(b))], by hand with linear
    classifiers; it moves G and F and leaves the frozen classifiers and the state_dict alone."""
    tg.manual_seed(0)
    model = CycleGAN(gen_width=4, num_blocks=1, disc_width=4)
    keys = list(model.state_dict())
    f_a, f_b = (nn.Sequential(nn.Flatten(), nn.Linear(784, 3)).requires_grad_(False) for _ in range(2))
    a, b = tg.rand(4, 1, 28, 28) * 2 - 1, tg.rand(4, 1, 28, 28) * 2 - 1
    base, _, _, _ = model.generator_loss(a, b)
    loss, parts, fake_a, fake_b = model.generator_loss(a, b, (f_a, f_b), lambda_semantic=2.0)

    def ce_by_hand(f, source, translated):
        w, bias = f[1].weight.numpy().astype(np.float64), f[1].bias.numpy().astype(np.float64)
        total = 0.0
        for s, t in zip(source.numpy().astype(np.float64), translated.detach().numpy().astype(np.float64)):
            label = int(np.argmax(w @ ((s.ravel() + 1) / 2) + bias))
            logits = w @ ((t.ravel() + 1) / 2) + bias
            total += np.log(np.exp(logits).sum()) - logits[label]
        return total / len(source)

    expected = ce_by_hand(f_a, a, fake_b) + ce_by_hand(f_b, b, fake_a)
    assert parts["semantic"].item() == pytest.approx(expected, rel=1e-4)
    assert loss.item() == pytest.approx(base.item() + 2.0 * expected, rel=1e-4)
    model.zero_grad()
    parts["semantic"].backward()
    assert all(p.grad is not None for p in model.G.parameters()) and f_a[1].weight.grad is None
    assert all(p.grad is None for p in model.discriminator_parameters())
    assert list(model.state_dict()) == keys


def test_image_pool_fills_then_swaps_half():
    pool = ImagePool(size=4, seed=0)
    first = tg.arange(6).float().reshape(6, 1, 1, 1)
    out = pool.query(first).numpy().ravel()
    assert out[:4].tolist() == [0, 1, 2, 3]                     # filling: they pass through
    # images 4 and 5 were each returned as-is, or swapped for a stored one that they replaced
    stored = pool.pool.numpy().ravel()
    assert sorted(set(stored) | set(out[4:])) == [0, 1, 2, 3, 4, 5]
    # after filling: every output is either the new image or one that was in the pool
    many = tg.arange(100, 1100).float().reshape(1000, 1, 1, 1)
    seen = set(pool.pool.numpy().ravel().tolist())
    out = pool.query(many).numpy().ravel()
    swapped = out != many.numpy().ravel()
    assert 0.4 < swapped.mean() < 0.6                          # about half
    assert all(v in seen or v >= 100 for v in out[swapped])
    assert ImagePool(size=0).query(first) is not None
