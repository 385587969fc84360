"""Optimizers step by step against their update formulas (float64), schedulers, EMA, clipping."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.2, 1.0]), np.array([1.0, 1.0, -1.0])]
START = np.array([1.0, -2.0, 0.5])


def run(make_optimizer):
    p = tg.tensor(START.copy(), dtype="float64", requires_grad=True)
    opt = make_optimizer([p])
    history = []
    for g in GRADS:
        p.grad = tg.tensor(g, dtype="float64")
        opt.step()
        history.append(p.detach().numpy().copy())
    return history


@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [
    (0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.1, False, 0.01), (0.9, 0.0, True, 0.01)])
def test_sgd_matches_formula(momentum, dampening, nesterov, wd):
    got = run(lambda ps: optim.SGD(ps, lr=0.1, momentum=momentum, dampening=dampening,
                                   nesterov=nesterov, weight_decay=wd))
    theta, buf = START.copy(), None
    for g, step in zip(GRADS, got):
        g = g + wd * theta
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta - 0.1 * g
        np.testing.assert_allclose(step, theta, rtol=1e-14)


@pytest.mark.parametrize("decoupled,amsgrad", [(False, False), (True, False), (False, True)])
def test_adam_and_adamw_match_formula(decoupled, amsgrad):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    cls = optim.AdamW if decoupled else optim.Adam
    got = run(lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad))
    theta, m, v, vmax = START.copy(), 0.0, 0.0, 0.0
    for t, (g, step) in enumerate(zip(GRADS, got), start=1):
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        v_used = vmax if amsgrad else v
        m_hat, v_hat = m / (1 - b1 ** t), v_used / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(step, theta, rtol=1e-12)


@pytest.mark.parametrize("momentum,centered,wd", [(0.0, False, 0.0), (0.5, True, 0.0), (0.0, False, 0.1),
                                                  (0.5, True, 0.2)])
def test_rmsprop_matches_formula(momentum, centered, wd):
    lr, alpha, eps = 0.01, 0.99, 1e-8
    got = run(lambda ps: optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                       centered=centered, weight_decay=wd))
    theta, v, a, b = START.copy(), 0.0, 0.0, 0.0
    for g, step in zip(GRADS, got):
        g = g + wd * theta                          # L2 weight decay joins the gradient (PyTorch)
        v = alpha * v + (1 - alpha) * g * g
        denom = v
        if centered:
            a = alpha * a + (1 - alpha) * g
            denom = v - a * a
        denom = np.sqrt(denom) + eps
        if momentum:
            b = momentum * b + g / denom
            theta = theta - lr * b
        else:
            theta = theta - lr * g / denom
        np.testing.assert_allclose(step, theta, rtol=1e-12)


def test_optimizers_match_pytorch_side_by_side():
    torch = pytest.importorskip("torch")
    for ours_cls, torch_cls, kw in [(optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.5, 0.9))),
                                    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
                                    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True))]:
        got = run(lambda ps: ours_cls(ps, **kw))
        p = torch.tensor(START.copy(), requires_grad=True)
        opt = torch_cls([p], **kw)
        for g, step in zip(GRADS, got):
            p.grad = torch.tensor(g)
            opt.step()
            np.testing.assert_allclose(step, p.detach().numpy(), rtol=1e-12)


def test_optimizer_state_dict_resumes_exactly():
    tg.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = optim.Adam(net.parameters(), lr=0.01)
    x = tg.randn(4, 3)

    def train(model, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()

    train(net, opt, 2)
    saved_model, saved_opt = net.state_dict(), opt.state_dict()
    saved_model = {k: v.copy() for k, v in saved_model.items()}
    train(net, opt, 3)
    clone = nn.Linear(3, 2)
    clone.load_state_dict(saved_model)
    clone_opt = optim.Adam(clone.parameters(), lr=0.5)
    clone_opt.load_state_dict(saved_opt)
    assert clone_opt.param_groups[0]["lr"] == 0.01
    train(clone, clone_opt, 3)
    np.testing.assert_array_equal(clone.weight.detach().numpy(), net.weight.detach().numpy())


def test_schedulers():
    p = tg.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    step = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        step.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    opt = optim.SGD([p], lr=1.0)
    cos = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    for epoch in range(1, 5):
        cos.step()
        assert opt.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * epoch / 4)) / 2)
    opt = optim.SGD([p], lr=2.0)
    optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 4))
    assert opt.param_groups[0]["lr"] == 0.5
    exp = optim.lr_scheduler.ExponentialLR(optim.SGD([p], lr=1.0), gamma=0.9)
    exp.step()
    assert exp.get_last_lr() == [pytest.approx(0.9)]


def test_clip_grad_norm():
    a = tg.zeros(2, requires_grad=True)
    b = tg.zeros(1, requires_grad=True)
    a.grad, b.grad = tg.tensor([3.0, 0.0]), tg.tensor([4.0])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0.8], rtol=1e-5)
    nn.utils.clip_grad_norm_([a, b], max_norm=10.0)
    np.testing.assert_allclose(b.grad.numpy(), [0.8], rtol=1e-5)
    # a generator, as model.parameters() is: it must clip too (it was read once and then empty)
    net = nn.Linear(2, 1)
    net.weight.grad, net.bias.grad = tg.tensor([[3.0, 0.0]]), tg.tensor([4.0])
    assert nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(net.weight.grad.numpy(), [[0.6, 0.0]], rtol=1e-5)
    np.testing.assert_allclose(net.bias.grad.numpy(), [0.8], rtol=1e-5)


def test_ema_tracks_weights():
    net = nn.Linear(2, 1)
    ema = optim.EMA(net, decay=0.5)
    start = ema.model.weight.detach().numpy().copy()
    with tg.no_grad():
        net.weight.data += 2.0
    ema.update(net)
    np.testing.assert_allclose(ema.model.weight.detach().numpy(), start + 1.0, rtol=1e-6)
