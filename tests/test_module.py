"""nn.Module: traversal, modes, state_dict with PyTorch's keys, strict loading, init, repr."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def test_state_dict_keys_follow_pytorch():
    keys = list(small_net().state_dict())
    assert keys == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                    "1.num_batches_tracked", "5.weight", "5.bias"]


def test_parameters_buffers_children_modules():
    net = small_net()
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_buffers()] == ["1.running_mean", "1.running_var",
                                                   "1.num_batches_tracked"]
    assert len(list(net.children())) == 6 and len(list(net.modules())) == 7
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(list(twice.parameters())) == 2   # shared weights are listed once


def test_train_eval_and_zero_grad():
    net = small_net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    net(tg.randn(2, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_load_state_dict_roundtrip_and_errors():
    a, b = small_net(), small_net()
    b.load_state_dict(a.state_dict())
    x = tg.randn(2, 1, 8, 8)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    state = dict(a.state_dict())
    state.pop("0.bias")
    state["extra.weight"] = np.zeros(3)
    state["5.weight"] = np.zeros((3, 3))
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(state)
    message = str(err.value)
    assert "0.bias" in message and "extra.weight" in message and "5.weight" in message
    missing, unexpected = small_net().load_state_dict(
        {k: v for k, v in a.state_dict().items() if k != "0.bias"}, strict=False)
    assert missing == ["0.bias"] and unexpected == []


def test_repr_looks_like_pytorch():
    text = repr(small_net())
    assert "(0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in text
    assert "(5): Linear(in_features=64, out_features=10, bias=True)" in text


def test_default_init_bounds_match_pytorch():
    tg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.detach().numpy()
    assert w.min() >= -bound and w.max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    conv = nn.ConvTranspose2d(16, 8, 3)
    assert conv.weight.shape == (16, 8, 3, 3)
    fan_in = 8 * 9   # PyTorch computes it from weight.size(1) for transposed convs too
    assert np.abs(conv.bias.detach().numpy()).max() <= 1 / math.sqrt(fan_in)


def test_init_functions_have_the_right_statistics():
    tg.manual_seed(0)
    w = tg.empty(256, 512)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    nn.init.xavier_uniform_(w)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / (256 + 512)), rel=0.05)
    nn.init.orthogonal_(w)
    np.testing.assert_allclose(w.numpy() @ w.numpy().T, np.eye(256), atol=1e-4)
    nn.init.zeros_(w)
    assert not w.numpy().any()


def test_module_to_float64_and_parameter_count():
    net = small_net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == 4 * 9 + 4 + 4 + 4 + 64 * 10 + 10


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert nn.Unflatten(1, (2, 3))(tg.randn(4, 6)).shape == (4, 2, 3)
    assert nn.Identity()(tg.ones(2)).shape == (2,)


def test_custom_module_registration():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(3, 2)
            self.scale = nn.Parameter(tg.ones(1))
            self.register_buffer("count", tg.zeros(1))

        def forward(self, x):
            return self.encoder(x) * self.scale

    net = Net()
    assert list(net.state_dict()) == ["scale", "count", "encoder.weight", "encoder.bias"]
    assert net(tg.randn(4, 3)).shape == (4, 2)
