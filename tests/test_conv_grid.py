"""conv2d and conv_transpose2d over an exhaustive small grid of geometries, against loops.

Random draws visit a few geometries per run; an off-by-one in a plane size (floor
against ceil), 'same' padding on the wrong side for an even kernel, or a stride that
skips the last row shows up only at particular sizes. Here every combination of
kernel, stride, padding ('same' included), dilation, output_padding and input size in
a small range is run, forward and both gradients, against plain loops: the forward as
a gather, and its adjoints (the gradients) as the matching scatters, each obviously
right on its own. About two seconds.
"""
import itertools

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F

KERNELS = [(1, 1), (2, 2), (3, 3), (2, 3), (4, 1)]
STRIDES = [(1, 1), (2, 2), (3, 1), (2, 3)]
PADDINGS = [(0, 0), (1, 1), (2, 1), "same"]
DILATIONS = [(1, 1), (2, 1)]
SIZES = [0, 1, 2, 3]           # input size beyond the smallest the (dilated) kernel fits


def conv_loops(x, w, stride, padding, dilation):
    """y[n,o,r,c] = Σ_{ch,i,j} w[o,ch,i,j] · x[n, ch, r·s + i·d - p, c·s + j·d - p] (0 outside)."""
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = padding
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, cout, ho, wo))
    for r, c, i, j in itertools.product(range(ho), range(wo), range(kh), range(kw)):
        rr, cc = r * sh + i * dh - pt, c * sw + j * dw - pl
        if 0 <= rr < h and 0 <= cc < wd:
            y[:, :, r, c] += x[:, :, rr, cc] @ w[:, :, i, j].T
    return y


def conv_adjoint_loops(x, w, u, stride, padding, dilation):
    """The gradients of Σ y·u: gx[n, ch, r·s + i·d - p, ...] += Σ_o u[n,o,r,c] w[o,ch,i,j] and
    gw[o,ch,i,j] = Σ_{n,r,c} u[n,o,r,c] x[n, ch, r·s + i·d - p, ...]: the same index map, scattered."""
    n, cin, h, wd = x.shape
    cout, _, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    (pt, _), (pl, _) = padding
    gx, gw = np.zeros_like(x), np.zeros_like(w)
    for r, c, i, j in itertools.product(range(u.shape[2]), range(u.shape[3]), range(kh), range(kw)):
        rr, cc = r * sh + i * dh - pt, c * sw + j * dw - pl
        if 0 <= rr < h and 0 <= cc < wd:
            gx[:, :, rr, cc] += u[:, :, r, c] @ w[:, :, i, j]
            gw[:, :, i, j] += u[:, :, r, c].T @ x[:, :, rr, cc]
    return gx, gw


def same_padding(kernel, dilation):
    """PyTorch's 'same': total d(k-1) per axis, the odd one out after (bottom/right)."""
    out = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        out.append((total // 2, total - total // 2))
    return out


def conv_cases():
    for k, s, p, d, extra in itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS, SIZES):
        if p == "same" and s != (1, 1):
            continue
        pads = same_padding(k, d) if p == "same" else [(p[0], p[0]), (p[1], p[1])]
        h = max(1, d[0] * (k[0] - 1) + 1 - sum(pads[0])) + extra
        w = max(1, d[1] * (k[1] - 1) + 1 - sum(pads[1])) + extra + 1     # a non-square input
        yield k, s, p, pads, d, (h, w)


def test_conv2d_forward_and_gradients_over_the_grid():
    rng = np.random.default_rng(0)
    count = 0
    for k, s, p, pads, d, (h, w) in conv_cases():
        x = rng.standard_normal((2, 2, h, w))
        wt = rng.standard_normal((3, 2) + k)
        b = rng.standard_normal(3)
        tx = tg.tensor(x, dtype="float64", requires_grad=True)
        tw = tg.tensor(wt, dtype="float64", requires_grad=True)
        tb = tg.tensor(b, dtype="float64", requires_grad=True)
        y = F.conv2d(tx, tw, tb, stride=s, padding=p, dilation=d)
        expected = conv_loops(x, wt, s, pads, d) + b.reshape(1, -1, 1, 1)
        where = f"kernel {k}, stride {s}, padding {p}, dilation {d}, input {(h, w)}"
        assert y.shape == expected.shape, where
        np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-10, atol=1e-10, err_msg=where)
        u = rng.standard_normal(expected.shape)
        (y * tg.tensor(u, dtype="float64")).sum().backward()
        gx, gw = conv_adjoint_loops(x, wt, u, s, pads, d)
        np.testing.assert_allclose(tx.grad.numpy(), gx, rtol=1e-10, atol=1e-10, err_msg="grad x, " + where)
        np.testing.assert_allclose(tw.grad.numpy(), gw, rtol=1e-10, atol=1e-10, err_msg="grad w, " + where)
        np.testing.assert_allclose(tb.grad.numpy(), u.sum((0, 2, 3)), rtol=1e-10, err_msg="grad b, " + where)
        count += 1
    assert count > 400


def test_conv_transpose2d_forward_and_gradients_over_the_grid():
    """conv_transpose2d(u, w) is the adjoint of conv2d(·, w): its forward is the scatter
    above, and its gradients are conv2d's forward (for the input) and the same pairing."""
    rng = np.random.default_rng(1)
    count = 0
    for k, s, p, pads, d, (h, w) in conv_cases():
        if p == "same":
            continue                     # conv_transpose2d takes integer padding only
        for op in itertools.product(range(max(s[0], d[0])), range(max(s[1], d[1]))):
            if not (op[0] < s[0] or op[0] < d[0]) or not (op[1] < s[1] or op[1] < d[1]):
                continue
            u = rng.standard_normal((2, 3, h, w))               # the transposed conv's input
            wt = rng.standard_normal((3, 2) + k)                 # (C_in, C_out, kh, kw)
            ho = (h - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
            wo = (w - 1) * s[1] - 2 * p[1] + d[1] * (k[1] - 1) + op[1] + 1
            if ho < 1 or wo < 1:
                continue
            tu = tg.tensor(u, dtype="float64", requires_grad=True)
            tw = tg.tensor(wt, dtype="float64", requires_grad=True)
            y = F.conv_transpose2d(tu, tw, stride=s, padding=p, output_padding=op, dilation=d)
            where = f"kernel {k}, stride {s}, padding {p}, dilation {d}, output_padding {op}, input {(h, w)}"
            assert y.shape == (2, 2, ho, wo), where
            # the forward is the scatter: out[n, o, r·s + i·d - p, ...] += u[n, ci, r, c] · w[ci, o, i, j]
            # over every input position (r, c), the output_padding rows being out of reach above
            zeros = np.zeros((2, 2, ho, wo))
            pad_pairs = [(p[0], p[0]), (p[1], p[1])]
            expected, _ = conv_adjoint_loops(zeros, wt, u, s, pad_pairs, d)
            np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-10, atol=1e-10, err_msg=where)
            g = rng.standard_normal(expected.shape)
            (y * tg.tensor(g, dtype="float64")).sum().backward()
            gu = conv_loops(g, wt, s, pad_pairs, d)[:, :, :h, :w]       # the gather, at the input positions
            np.testing.assert_allclose(tu.grad.numpy(), gu, rtol=1e-10, atol=1e-10, err_msg="grad input, " + where)
            np.testing.assert_allclose(tw.grad.numpy(), gw_of_transpose(g, u, wt, s, pad_pairs, d),
                                       rtol=1e-10, atol=1e-10, err_msg="grad w, " + where)
            count += 1
    assert count > 200


def gw_of_transpose(g, u, w, stride, padding, dilation):
    """∂/∂w[ci,o,i,j] of Σ y·g, y = conv_transpose(u, w): Σ u[n,ci,r,c] g[n, o, r·s + i·d - p, ...]."""
    (sh, sw), (dh, dw) = stride, dilation
    (pt, _), (pl, _) = padding
    gw = np.zeros_like(w)
    ho, wo = g.shape[2:]
    for r, c, i, j in itertools.product(range(u.shape[2]), range(u.shape[3]), range(w.shape[2]), range(w.shape[3])):
        rr, cc = r * sh + i * dh - pt, c * sw + j * dw - pl
        if 0 <= rr < ho and 0 <= cc < wo:
            gw[:, :, i, j] += u[:, :, r, c].T @ g[:, :, rr, cc]
    return gw
