"""The autoencoder: shapes, masking noise, the loss on a hand-computed case, training."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim
from tinygen.models import Autoencoder


def test_shapes_noise_and_errors():
    tg.manual_seed(0)
    model = Autoencoder(code_dim=8, noise=0.3)
    x = tg.ones(4, 1, 28, 28)
    assert model.encode(x).shape == (4, 8) and model(x).shape == (4, 1, 28, 28)
    kept = model.corrupt(tg.ones(200, 1, 28, 28)).numpy()
    assert set(np.unique(kept)) <= {0.0, 1.0} and abs(kept.mean() - 0.7) < 0.01
    model.eval()                                   # no corruption outside training
    with tg.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), model.decoder(model.encode(x)).numpy())
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model.encode(tg.rand(2, 784))
    with pytest.raises(ValueError, match="noise"):
        Autoencoder(noise=1.0)


def test_loss_on_a_hand_computed_case():
    model = Autoencoder(code_dim=4)
    last = model.decoder[-1]
    last.weight.data[...] = 0.0
    last.bias.data[...] = 0.0                      # x̂ = ½ everywhere: BCE = ln 2 per pixel
    x = tg.tensor((np.random.default_rng(0).random((3, 1, 28, 28)) < 0.5).astype(np.float32))
    assert model.loss(x).item() == pytest.approx(784 * math.log(2), rel=1e-5)


def test_a_few_steps_lower_the_loss():
    tg.manual_seed(0)
    model = Autoencoder(code_dim=8, noise=0.2)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    x = tg.tensor((np.random.default_rng(0).random((16, 1, 28, 28)) < 0.2).astype(np.float32))
    first = None
    for _ in range(10):
        loss = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first - 50.0
