"""nn.utils.spectral_norm: σ against the SVD, W/σ's gradient (gradcheck, gradgradcheck),
the state it keeps, eval mode, removal, errors, and PyTorch's outputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen as tg
from tinygen import nn
from tinygen.autograd import gradcheck, gradgradcheck
from helpers import arrays, leaf

LAYERS = {
    "linear": (lambda: nn.Linear(6, 4), (3, 6), 0),
    "conv": (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5), 0),
    "conv_transpose": (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 3, 3), 1),
}


def top_singular_value(weight, dim):
    """σ₁ of the weight seen as a (size of dim, rest) matrix."""
    matrix = np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)
    return np.linalg.svd(matrix, compute_uv=False)[0]


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_power_iteration_converges_to_the_top_singular_value(kind):
    make, input_shape, dim = LAYERS[kind]
    layer = nn.utils.spectral_norm(make().double())
    x = tg.randn(*input_shape).double()
    for _ in range(200):                  # each training forward runs one power iteration
        layer(x)
    weight = layer.weight_orig.detach().numpy()
    sigma = top_singular_value(weight, dim)
    normalized = layer.weight.detach().numpy()
    np.testing.assert_allclose(normalized, weight / sigma, rtol=1e-6)
    assert top_singular_value(normalized, dim) == pytest.approx(1.0, rel=1e-6)


def test_state_has_pytorchs_names_and_round_trips():
    layer = nn.utils.spectral_norm(nn.Conv2d(2, 3, 3))
    state = layer.state_dict()
    assert list(state) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert state["weight_u"].shape == (3,) and state["weight_v"].shape == (18,)
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    x = tg.randn(2, 2, 6, 6)
    layer(x)                                            # moves u and v
    copy = nn.utils.spectral_norm(nn.Conv2d(2, 3, 3))
    copy.load_state_dict(layer.state_dict())
    layer.eval(), copy.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), copy(x).detach().numpy())


def test_training_updates_u_and_v_and_eval_does_not():
    layer = nn.utils.spectral_norm(nn.Linear(5, 4))
    x = tg.randn(3, 5)
    u0 = layer.weight_u.numpy().copy()
    layer(x)
    assert not np.array_equal(u0, layer.weight_u.numpy())
    layer.eval()
    u1, v1 = layer.weight_u.numpy().copy(), layer.weight_v.numpy().copy()
    with tg.no_grad():
        layer(x)
    np.testing.assert_array_equal(u1, layer.weight_u.numpy())
    np.testing.assert_array_equal(v1, layer.weight_v.numpy())


def test_gradient_flows_only_to_weight_orig_and_bias():
    layer = nn.utils.spectral_norm(nn.Linear(5, 4))
    layer(tg.randn(3, 5)).sum().backward()
    assert layer.weight_orig.grad is not None and layer.bias.grad is not None
    assert layer.weight_u.grad is None and layer.weight_v.grad is None


@given(kind=st.sampled_from(sorted(LAYERS)), seed=st.integers(0, 2**16))
def test_gradcheck_through_sigma(kind, seed):
    """∂/∂W of layer(x; W/σ(W)) with u, v held fixed (eval mode): float64 central differences."""
    make, input_shape, _ = LAYERS[kind]
    tg.manual_seed(seed)
    layer = nn.utils.spectral_norm(make().double())
    layer(tg.randn(*input_shape).double())              # one update, so u and v are not the initial draw
    layer.eval()
    x = leaf(np.random.default_rng(seed).uniform(-1, 1, input_shape))
    assert gradcheck(lambda x, w: layer(x), (x, layer.weight_orig))


@given(values=arrays((2, 2, 4, 4)))
def test_gradgradcheck_on_a_critic_path(values):
    """A WGAN-GP critic differentiates its input gradient again: check the second derivative."""
    tg.manual_seed(1)
    critic = nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(2, 3, 3, 2, 1)), nn.LeakyReLU(0.2),
                           nn.Flatten(), nn.utils.spectral_norm(nn.Linear(12, 1))).double().eval()
    x = leaf(values)
    weight = critic[0].weight_orig
    assert gradgradcheck(lambda x, w: critic(x), (x, weight))


def test_remove_spectral_norm_keeps_the_normalized_weight():
    layer = nn.utils.spectral_norm(nn.Linear(5, 4))
    x = tg.randn(3, 5)
    layer(x)
    layer.eval()
    with tg.no_grad():
        before = layer(x).numpy()
    nn.utils.remove_spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"]           # PyTorch's order after removal
    assert isinstance(layer.weight, nn.Parameter)
    with tg.no_grad():
        np.testing.assert_allclose(layer(x).numpy(), before, rtol=1e-6)


def test_errors_name_the_problem():
    layer = nn.utils.spectral_norm(nn.Linear(5, 4))
    with pytest.raises(RuntimeError, match="already applied"):
        nn.utils.spectral_norm(layer)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(5, 4), name="kernel")
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(5, 4), n_power_iterations=0)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_spectral_norm(nn.Linear(5, 4))


def test_matches_pytorch_in_training_mode():
    torch = pytest.importorskip("torch")
    tg.manual_seed(0)
    ours = nn.utils.spectral_norm(nn.ConvTranspose2d(3, 2, 4, 2, 1).double())
    theirs = torch.nn.utils.spectral_norm(torch.nn.ConvTranspose2d(3, 2, 4, 2, 1).double())
    with torch.no_grad():                  # same W, b, u, v (dim = 1 for a transposed conv)
        for name in ("weight_orig", "bias", "weight_u", "weight_v"):
            getattr(theirs, name).copy_(torch.tensor(getattr(ours, name).detach().numpy()))
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 3))
    for _ in range(3):                     # three forwards: three power-iteration updates
        out = ours(tg.tensor(x, dtype="float64"))
        t_out = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight_u.numpy(), theirs.weight_u.numpy(), rtol=1e-10, atol=1e-12)
    (out * out).sum().backward()
    (t_out * t_out).sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(),
                               rtol=1e-8, atol=1e-12)
