"""conv2d / conv_transpose2d: naive-loop references, gradcheck, gradgradcheck, geometry.

The geometry (kernel, stride, padding, dilation, groups, output_padding) is drawn
first; valid input sizes are derived from it.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.autograd import gradcheck, gradgradcheck
from tinygen.nn.functional.conv import conv_output_size, conv_transpose_output_size
from helpers import check_forward, leaf


def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """y[n,o,r,c] = Σ_{ch,i,j} w[o,ch,i,j] · x_pad[n, g·Cg + ch, r·s + i·d, c·s + j·d] + b[o]"""
    n, cin, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = conv_output_size(h, kh, sh, ph, dh)
    wo = conv_output_size(wd, kw, sw, pw, dw)
    y = np.zeros((n, cout, ho, wo))
    per_group = cout // groups
    for b_ in range(n):
        for o in range(cout):
            g = o // per_group
            for r in range(ho):
                for c in range(wo):
                    total = 0.0
                    for ch in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                total += w[o, ch, i, j] * xp[b_, g * cg + ch, r * sh + i * dh, c * sw + j * dw]
                    y[b_, o, r, c] = total + (b[o] if b is not None else 0.0)
    return y


def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups):
    """out[n, g·Cg_out + o, r·s + i·d - p, c·s + j·d - p] += x[n, ci, r, c] · w[ci, o, i, j]"""
    n, cin, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = stride, padding, dilation, output_padding
    ho = conv_transpose_output_size(h, kh, sh, ph, dh, oph)
    wo = conv_transpose_output_size(wd, kw, sw, pw, dw, opw)
    out = np.zeros((n, cout_g * groups, ho, wo))
    cin_g = cin // groups
    for b_ in range(n):
        for ci in range(cin):
            g = ci // cin_g
            for r in range(h):
                for c in range(wd):
                    for o in range(cout_g):
                        for i in range(kh):
                            for j in range(kw):
                                rr, cc = r * sh + i * dh - ph, c * sw + j * dw - pw
                                if 0 <= rr < ho and 0 <= cc < wo:
                                    out[b_, g * cout_g + o, rr, cc] += x[b_, ci, r, c] * w[ci, o, i, j]
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


@st.composite
def conv_geometry(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    batch = draw(st.integers(1, 3))
    # smallest input the (dilated) kernel fits into, then a few more rows (odd and even sizes)
    h = max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]) + draw(st.integers(0, 4))
    w = max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]) + draw(st.integers(0, 4))
    return dict(k=(kh, kw), stride=stride, padding=padding, dilation=dilation, groups=groups,
                cin=cin, cout=cout, batch=batch, h=h, w=w)


@st.composite
def output_paddings(draw, stride, dilation):
    return tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))


def _values(rng, shape):
    return rng.uniform(-1, 1, size=shape)


@given(g=conv_geometry(), seed=st.integers(0, 2**16), use_bias=st.booleans())
def test_conv2d_matches_naive_loops_and_gradcheck(g, seed, use_bias):
    rng = np.random.default_rng(seed)
    x_values = _values(rng, (g["batch"], g["cin"], g["h"], g["w"]))
    w_values = _values(rng, (g["cout"], g["cin"] // g["groups"]) + g["k"])
    b_values = _values(rng, (g["cout"],)) if use_bias else None
    x, w = leaf(x_values), leaf(w_values)
    b = leaf(b_values) if use_bias else None
    geometry = (g["stride"], g["padding"], g["dilation"], g["groups"])
    expected = naive_conv2d(x_values, w_values, b_values, *geometry)
    check_forward(F.conv2d(x, w, b, *geometry), expected, rtol=1e-9, atol=1e-12)
    inputs = (x, w) + ((b,) if use_bias else ())
    gradcheck(lambda *t: F.conv2d(t[0], t[1], t[2] if use_bias else None, *geometry), inputs)


@given(g=conv_geometry(), seed=st.integers(0, 2**16), data=st.data())
def test_conv_transpose2d_matches_naive_loops_and_gradcheck(g, seed, data):
    rng = np.random.default_rng(seed)
    op = data.draw(output_paddings(g["stride"], g["dilation"]))
    h, w_ = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    out_size = [conv_transpose_output_size(s, k, st_, p, d, o) for s, k, st_, p, d, o in
                zip((h, w_), g["k"], g["stride"], g["padding"], g["dilation"], op)]
    assume(min(out_size) >= 1)          # hypothesis draws another case instead
    x_values = _values(rng, (g["batch"], g["cin"], h, w_))
    w_values = _values(rng, (g["cin"], g["cout"] // g["groups"]) + g["k"])
    b_values = _values(rng, (g["cout"],))
    x, w, b = leaf(x_values), leaf(w_values), leaf(b_values)
    args = dict(stride=g["stride"], padding=g["padding"], output_padding=op, groups=g["groups"],
                dilation=g["dilation"])
    expected = naive_conv_transpose2d(x_values, w_values, b_values, g["stride"], g["padding"], op,
                                      g["dilation"], g["groups"])
    check_forward(F.conv_transpose2d(x, w, b, **args), expected, rtol=1e-9, atol=1e-12)
    gradcheck(lambda *t: F.conv_transpose2d(*t, **args), (x, w, b))


@given(g=conv_geometry(), data=st.data())
def test_conv2d_recovers_the_input_shape_from_conv_transpose2d(g, data):
    """For every valid geometry: conv2d(conv_transpose2d(x)) has x's shape."""
    op = data.draw(output_paddings(g["stride"], g["dilation"]))
    h, w_ = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    size = [conv_transpose_output_size(s, k, st_, p, d, o) for s, k, st_, p, d, o in
            zip((h, w_), g["k"], g["stride"], g["padding"], g["dilation"], op)]
    if min(size) < 1 or any(o >= s for o, s in zip(op, g["stride"])):
        return   # output_padding ≥ stride (allowed when < dilation) adds rows conv2d drops
    x = tg.randn(g["batch"], g["cin"], h, w_)
    wt = tg.randn(g["cin"], g["cout"] // g["groups"], *g["k"])
    y = F.conv_transpose2d(x, wt, stride=g["stride"], padding=g["padding"], output_padding=op,
                           groups=g["groups"], dilation=g["dilation"])
    back = F.conv2d(y, wt, stride=g["stride"], padding=g["padding"], dilation=g["dilation"],
                    groups=g["groups"])
    assert back.shape == x.shape


@given(seed=st.integers(0, 2**16), stride=st.integers(1, 2), padding=st.integers(0, 1),
       groups=st.integers(1, 2))
def test_conv_double_backward(seed, stride, padding, groups):
    rng = np.random.default_rng(seed)
    x = leaf(rng.uniform(-1, 1, (2, 2 * groups, 5, 4)))
    w = leaf(rng.uniform(-1, 1, (2 * groups, 2, 3, 2)))
    gradgradcheck(lambda a, b: F.conv2d(a, b, stride=stride, padding=padding, groups=groups), (x, w))
    gradgradcheck(lambda a, b: F.conv_transpose2d(a, b, stride=stride, padding=padding,
                                                  output_padding=stride - 1, groups=groups), (x, w))


@given(seed=st.integers(0, 2**16), k=st.integers(1, 4), dilation=st.integers(1, 2),
       wide=st.integers(4, 6), transposed=st.booleans(), data=st.data())
def test_stride_one_conv_takes_the_form_with_the_smaller_buffer(seed, k, dilation, wide, transposed,
                                                               data):
    """Many channels to one at stride 1 (the conv GAN's last layer): conv2d runs as the flipped
    conv_transpose2d and vice versa. Same values and gradients as the naive loops, to second order."""
    reach = dilation * (k - 1)
    # padding of at least "same" keeps a conv's output no smaller than its input and a transposed
    # conv's no larger, so the other form's buffer is the smaller one; d(k-1) - p ≥ 0 so that
    # the other form exists
    size = data.draw(st.integers(5, 6))
    high = min(reach, (size + reach - 1) // 2) if transposed else reach   # convT output ≥ 1
    padding = data.draw(st.integers(reach // 2, high))
    rng = np.random.default_rng(seed)
    x_values = _values(rng, (2, 1 if transposed else wide, size, size + 1))
    w_values = _values(rng, (1, wide, k, k))             # conv: (Cout, Cin); transposed: (Cin, Cout)
    b_values = _values(rng, (wide if transposed else 1,))
    x, w, b = leaf(x_values), leaf(w_values), leaf(b_values)
    if transposed:
        op = lambda *t: F.conv_transpose2d(*t, padding=padding, dilation=dilation)   # noqa: E731
        expected = naive_conv_transpose2d(x_values, w_values, b_values, (1, 1), (padding, padding),
                                          (0, 0), (dilation, dilation), 1)
    else:
        op = lambda *t: F.conv2d(*t, padding=padding, dilation=dilation)              # noqa: E731
        expected = naive_conv2d(x_values, w_values, b_values, (1, 1), (padding, padding),
                                (dilation, dilation), 1)
    y = op(x, w, b)
    swapped = "Conv2d" if transposed else "ConvTranspose2d"
    assert type(y.grad_fn).__name__ == swapped
    check_forward(y, expected, rtol=1e-9, atol=1e-12)
    gradcheck(op, (x, w, b))
    gradgradcheck(lambda a, c: op(a, c), (x, w))
    # swap_forms=False keeps the form asked for, with the same values
    kept = (F.conv_transpose2d(x, w, b, padding=padding, dilation=dilation, swap_forms=False) if transposed
            else F.conv2d(x, w, b, padding=padding, dilation=dilation, swap_forms=False))
    assert type(kept.grad_fn).__name__ == ("ConvTranspose2d" if transposed else "Conv2d")
    check_forward(kept, expected, rtol=1e-9, atol=1e-12)


def test_padding_same_and_valid():
    x = tg.randn(1, 2, 7, 6, dtype="float64", requires_grad=True)
    for k in (1, 2, 3, 4):
        w = tg.randn(3, 2, k, k, dtype="float64")
        y = F.conv2d(x, w, padding="same")
        assert y.shape == (1, 3, 7, 6)
        assert F.conv2d(x, w, padding="valid").shape == (1, 3, 8 - k, 7 - k)
    w_even = tg.randn(3, 2, 4, 4, dtype="float64")
    gradcheck(lambda t: F.conv2d(t, w_even, padding="same"), (x,))
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(x, tg.randn(3, 2, 3, 3, dtype="float64"), stride=2, padding="same")


def test_conv_errors_name_the_problem():
    x = tg.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match="4-D input"):
        F.conv2d(tg.randn(3, 8, 8), tg.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="3 channels"):
        F.conv2d(x, tg.randn(4, 2, 3, 3))
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(x, tg.randn(4, 3, 3, 3, dtype="float64"))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, tg.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="smaller than"):
        F.conv2d(tg.randn(1, 3, 2, 2), tg.randn(4, 3, 3, 3))


def test_conv_stays_float32():
    y = F.conv2d(tg.randn(2, 3, 8, 8), tg.randn(4, 3, 3, 3), tg.randn(4), stride=2, padding=1)
    assert y.dtype == np.float32
    z = F.conv_transpose2d(y, tg.randn(4, 3, 3, 3), stride=2, padding=1, output_padding=1)
    assert z.dtype == np.float32 and z.shape == (2, 3, 8, 8)


def test_side_by_side_with_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    ours = F.conv2d(tg.tensor(x, dtype="float64"), tg.tensor(w, dtype="float64"), stride=2,
                    padding=1, dilation=(2, 1), groups=2)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1,
                                     dilation=(2, 1), groups=2)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)
    wt = rng.standard_normal((4, 3, 3, 3))
    ours = F.conv_transpose2d(tg.tensor(x, dtype="float64"), tg.tensor(wt, dtype="float64"),
                              stride=2, padding=1, output_padding=1)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(wt), stride=2,
                                               padding=1, output_padding=1)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)


def test_forward_without_weight_grad_is_chunked_within_the_im2col_budget(monkeypatch):
    """Sampling a big-kernel conv must not build one huge im2col buffer: with a tiny
    budget the batch is processed in chunks, and the result is the same."""
    from tinygen.nn.functional import im2col as kernels
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((7, 3, 9, 9)), dtype="float64")
    w = tg.tensor(rng.standard_normal((2, 3, 5, 5)), dtype="float64")
    b = tg.tensor(rng.standard_normal(2), dtype="float64")
    with tg.no_grad():
        whole = F.conv2d(x, w, b, padding=2).numpy()
        per_image = 3 * 25 * 81 * 8
        monkeypatch.setattr(kernels, "IM2COL_BUDGET_BYTES", 3 * per_image)   # 3 images per chunk
        assert kernels.batch_chunk(x.data, w.data, (1, 1), (2, 2), (1, 1)) == 3
        chunked = F.conv2d(x, w, b, padding=2).numpy()
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_conv2d_keeps_its_im2col_for_the_weight_gradient_only_when_no_larger_than_x():
    # a k×k conv's im2col is k² times x: it is made again in the backward rather than held
    x = tg.randn(2, 3, 8, 8, requires_grad=True)
    for k, kept in ((1, True), (3, False)):
        w = tg.randn(4, 3, k, k, requires_grad=True)
        y = F.conv2d(x, w)
        assert (y.grad_fn.kept is not None) == kept
        y.sum().backward()
        assert w.grad.shape == w.shape
