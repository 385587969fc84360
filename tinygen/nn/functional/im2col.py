"""The convolution kernels on raw arrays (NumPy or CuPy): im2col, col2im and their GEMMs.

``conv.py`` wraps them in Functions; the math is in its docstring. Two layouts:

* **batch last** (groups = 1, the common case): the im2col copy is laid out as
  cols[c·kh·kw, (y, x, n)] with the batch innermost, so a whole batch is one large
  GEMM  y[o, (y, x, n)] = W[o, c·kh·kw] @ cols, and the same copy of x serves the
  weight gradient  ∂W = ∂y[o, (y, x, n)] @ colsᵀ  (BENCHMARKS.md measures why).
* **grouped** (groups > 1): cols[n, g, c·kh·kw, (y, x)] and one batched matmul over
  the G groups.

Everything here is a view made with ``as_strided`` plus one copy and one GEMM; no
Python loop runs over pixels or images (col2im loops over the k_h·k_w kernel taps).
"""
from __future__ import annotations

import numpy as np

from ... import workspace
from ...backend import get_array_module

# Largest im2col buffer a forward without a weight gradient (sampling, evaluation) may
# build at once; above it the batch is processed in chunks. A 5×5 conv over 128 channels
# at 28×28 needs 3200 × 784 floats per image: 5 GB for 500 images in one go.
IM2COL_BUDGET_BYTES = 256 << 20


def conv_output_size(size, kernel, stride, padding, dilation):
    """⌊(H + 2p - d(k-1) - 1) / s⌋ + 1"""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, dilation, output_padding):
    """(H - 1)s - 2p + d(k-1) + output_padding + 1"""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _as_strided(xp, array, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(array, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(array, shape, strides)


def sliding_windows(x, kernel, stride, padding, dilation):
    """The im2col view ``cols[n, c, i, j, y, x] = x_pad[n, c, y·s + i·d, x·s + j·d]``.

    No data is copied except the zero padding; the GEMM that consumes the view
    does the one copy it needs.
    """
    xp = get_array_module(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, w = x.shape
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (w - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = x.strides
    return _as_strided(xp, x, (n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))


def batch_last(x, padding=(0, 0)):
    """(N, C, H, W) → a padded (C, H', W', N) copy: the batch becomes the innermost axis.

    MNIST-sized images have rows of 7–28 pixels, far too short for NumPy's inner
    loops; with the batch innermost every copy and addition below runs over
    contiguous stretches of N (or W·N) values instead.
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    ph, pw = padding
    moved = x.transpose(1, 2, 3, 0)
    if not (ph or pw) and moved.flags.c_contiguous:
        return moved            # x came from a conv here: it already is batch-last in memory
    out = workspace.zeros(xp, (c, h + 2 * ph, w + 2 * pw, n), x.dtype) if ph or pw else \
        workspace.empty(xp, (c, h, w, n), x.dtype)
    out[:, ph:ph + h, pw:pw + w, :] = moved
    return out


def im2col_batch_last(x, kernel, stride, padding, dilation):
    """cols[c·kh·kw, (y·Wo + x)·N + n] = x_pad[n, c, y·s + i·d, x·s + j·d], one copy of a strided view."""
    xp = get_array_module(x)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    padded = batch_last(x, padding)
    c, hp, wp, n = padded.shape
    ho = (hp - dh * (kh - 1) - 1) // sh + 1
    wo = (wp - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = padded.strides
    view = _as_strided(xp, padded, (c, kh, kw, ho, wo, n), (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3))
    if view.flags.c_contiguous:          # a 1×1 kernel at stride 1: the input already is cols
        return view.reshape(c * kh * kw, ho * wo * n), (ho, wo)
    cols = workspace.empty(xp, view.shape, x.dtype)
    cols[...] = view
    return cols.reshape(c * kh * kw, ho * wo * n), (ho, wo)


def _matmul(a, b):
    """a @ b into a workspace block (the conv GEMMs' large outputs are reused across steps)."""
    xp = get_array_module(a)
    return xp.matmul(a, b, out=workspace.empty(xp, (a.shape[0], b.shape[1]), np.result_type(a, b)))


def conv_batch_last(x, weight, stride, padding, dilation, bias=None, im2col=None):
    """groups = 1: y (Cout, Ho·Wo·N) = W (Cout, C·kh·kw) @ cols — ONE GEMM — then back to NCHW
    (adding the bias in the same pass). ``im2col`` = (cols, (Ho, Wo)) if already made; the
    return value includes it, for the weight gradient to reuse."""
    cout = weight.shape[0]
    n = x.shape[0]
    if im2col is None:
        im2col = im2col_batch_last(x, weight.shape[2:], stride, padding, dilation)
    cols, (ho, wo) = im2col
    y = _matmul(weight.reshape(cout, -1), cols).reshape(cout, ho, wo, n).transpose(3, 0, 1, 2)
    return _to_nchw(y, bias), im2col


def batch_chunk(x, weight, stride, padding, dilation):
    """How many images fit one im2col buffer of at most IM2COL_BUDGET_BYTES (at least 1)."""
    n, _, h, w = x.shape
    cout, cin, kh, kw = weight.shape
    ho = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    per_image = cin * kh * kw * ho * wo * x.dtype.itemsize
    return max(1, min(n, IM2COL_BUDGET_BYTES // max(per_image, 1)))


def conv_batch_last_in_chunks(x, weight, stride, padding, dilation, bias, chunk):
    """The same convolution, ``chunk`` images at a time, so im2col stays within budget."""
    xp = get_array_module(x)
    parts = [conv_batch_last(x[start:start + chunk], weight, stride, padding, dilation,
                                       bias)[0] for start in range(0, x.shape[0], chunk)]
    return xp.concatenate(parts, axis=0)


def _to_nchw(y_view, bias):
    """(C, H, W, N) memory seen as (N, C, H, W), bias added; no transposing copy.

    The result keeps the batch innermost in memory (elementwise ops such as the
    bias add, ReLU or batch norm preserve an input's layout), so the next conv's
    ``batch_last`` finds its input already in place. Ops that need NCHW order
    (a flatten before a linear layer) make the one copy themselves.
    """
    if bias is not None:
        y_view += bias.reshape(1, -1, 1, 1)      # in place: y_view is this conv's own fresh block
    return y_view


def conv_transpose_batch_last(x, weight, stride, padding, dilation, output_size, bias=None,
                                x_t=None):
    """groups = 1, batch innermost: ONE GEMM Wᵀ (kh·kw·Cout, Cin) @ x (Cin, H·W·N) gives each
    kernel tap as a contiguous (Cout, H, W, N) block; col2im adds them into phase planes.
    ``x_t`` is x in that (Cin, H·W·N) layout if already made; it is returned for reuse."""
    xp = get_array_module(x)
    cin, cout, kh, kw = weight.shape
    n, _, h, w = x.shape
    if x_t is None:
        x_t = batch_last(x).reshape(cin, h * w * n)
    w_t = xp.ascontiguousarray(weight.reshape(cin, cout, kh * kw).transpose(2, 1, 0))
    cols = _matmul(w_t.reshape(kh * kw * cout, cin), x_t).reshape(kh, kw, cout, h, w, n)
    out = col2im_batch_last(cols, stride, padding, dilation, output_size)   # (Cout, H', W', N)
    return _to_nchw(out.transpose(3, 0, 1, 2), bias), x_t


def col2im_batch_last(cols, stride, padding, dilation, output_size):
    """out[c, y·s + i·d - p, x·s + j·d - p, n] += cols[i, j, c, y, x, n].

    Split each output axis into s phases, out[c, s·a + r, s·b + q] = planes[c, a, r, b, q]:
    tap (i, j) lands in phase (i·d mod s, j·d mod s) at offset (⌊i·d/s⌋, ⌊j·d/s⌋), a
    plain (h, w) block of that phase. The planes are stored in (C, a, r, b, q, N)
    order, which IS the output's memory order, so no copy interleaves them at the
    end; every addition writes runs of N contiguous values (the batch is innermost).
    """
    xp = get_array_module(cols)
    kh, kw, c, h, w, n = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    hout, wout = output_size
    if (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0) and (hout, wout) == (h, w):
        return cols[0, 0]          # a 1×1 kernel's one tap is the output: nothing to add up
    hq = max(-(-(hout + 2 * ph) // sh), (dh * (kh - 1)) // sh + h)
    wq = max(-(-(wout + 2 * pw) // sw), (dw * (kw - 1)) // sw + w)
    planes = workspace.zeros(xp, (c, hq, sh, wq, sw, n), cols.dtype)
    for i in range(kh):
        r, a = (i * dh) % sh, (i * dh) // sh
        for j in range(kw):
            q, b = (j * dw) % sw, (j * dw) // sw
            planes[:, a:a + h, r, b:b + w, q] += cols[i, j]
    out = planes.reshape(c, hq * sh, wq * sw, n)
    return out[:, ph: ph + hout, pw: pw + wout]


def weight_grad_batch_last(x, gy, kernel, stride, padding, dilation, im2col=None, gy_t=None):
    """groups = 1: gW (Cout, C·kh·kw) = gy (Cout, Ho·Wo·N) @ colsᵀ, ONE GEMM. ``im2col`` =
    (cols, (Ho, Wo)) of x and ``gy_t`` (gy batch-last) may come from elsewhere in the same
    forward or backward pass, which saves redoing those copies."""
    cout = gy.shape[1]
    ho, wo = gy.shape[2], gy.shape[3]
    if im2col is None:
        im2col = im2col_batch_last(x, kernel, stride, padding, dilation)
    cols, (ho_full, wo_full) = im2col
    c = x.shape[1]
    if (ho_full, wo_full) != (ho, wo):   # the last window was dropped by the forward: trim
        n = x.shape[0]
        cols = cols.reshape(-1, ho_full, wo_full, n)[:, :ho, :wo].reshape(cols.shape[0], -1)
    if gy_t is None:
        gy_t = batch_last(gy).reshape(cout, -1)
    return (gy_t @ cols.T).reshape(cout, c, *kernel)


def conv_grouped(x, weight, stride, padding, dilation, groups):
    """y = W ⋆ x: im2col copy in (N, C·kh·kw, Ho·Wo) order, then one batched GEMM.

    That order copies the sliding view with its innermost axis (Wo) nearly
    contiguous, and the product W (Cout, K) @ cols (N, K, L) lands directly in
    NCHW order, so nothing downstream sees a transposed layout.
    """
    xp = get_array_module(x)
    cout, cin_g, kh, kw = weight.shape
    cols = sliding_windows(x, (kh, kw), stride, padding, dilation)
    n, c, _, _, ho, wo = cols.shape
    g = groups
    cols = cols.reshape(n, g, cin_g * kh * kw, ho * wo)            # the one im2col copy
    w_g = weight.reshape(g, cout // g, cin_g * kh * kw)
    y = xp.matmul(w_g, cols) if g > 1 else xp.matmul(w_g[0], cols[:, 0])
    return y.reshape(n, cout, ho, wo)


def conv_transpose_grouped(x, weight, stride, padding, dilation, groups, output_size):
    """out = Wᵀ x scattered back by col2im: one batched GEMM, k_h·k_w strided additions, crop."""
    xp = get_array_module(x)
    cin, cout_g, kh, kw = weight.shape
    n, _, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    g = groups
    cout = cout_g * g
    # cols[n, i, j, o, y, x] = Σ_c W[c, o, i, j] x[n, c, y, x]; taps (i, j) outermost after n,
    # so each tap's (Cout, H·W) block is contiguous for the strided additions below
    w_t = weight.reshape(g, cin // g, cout_g, kh * kw).transpose(0, 3, 2, 1)     # (G, k, Cout_g, Cin_g)
    w_t = xp.ascontiguousarray(w_t).reshape(g, kh * kw * cout_g, cin // g)
    x_g = x.reshape(n, g, cin // g, h * w)
    cols = xp.matmul(w_t, x_g) if g > 1 else xp.matmul(w_t[0], x_g[:, 0])
    # (N, G, k, Cout_g, HW) → (N, k, Cout, H, W)
    cols = cols.reshape(n, g, kh * kw, cout_g, h, w)
    cols = cols.transpose(0, 2, 1, 3, 4, 5).reshape(n, kh, kw, cout, h, w) if g > 1 else \
        cols.reshape(n, kh, kw, cout, h, w)
    hout, wout = output_size
    full_h = max(hout + 2 * ph, (h - 1) * sh + dh * (kh - 1) + 1)
    full_w = max(wout + 2 * pw, (w - 1) * sw + dw * (kw - 1) + 1)
    out = xp.zeros((n, cout, full_h, full_w), dtype=cols.dtype)
    for i in range(kh):                      # k_h·k_w strided accumulations (col2im)
        for j in range(kw):
            out[:, :, i * dh: i * dh + sh * (h - 1) + 1: sh,
                j * dw: j * dw + sw * (w - 1) + 1: sw] += cols[:, i, j]
    if ph or pw or full_h != hout or full_w != wout:
        out = out[:, :, ph: ph + hout, pw: pw + wout]
    return out


def weight_grad_grouped(x, gy, kernel, stride, padding, dilation, groups):
    """∂L/∂W[o, c, i, j] = Σ_{n,y,x} ∂L/∂y[n, o, y, x] · cols[n, c, i, j, y, x], as one GEMM
    (Cout, N·L) @ (N·L, K) per group. cols is copied in (C·kh·kw, N, Ho·Wo) order, which
    keeps the copy's inner loop contiguous."""
    xp = get_array_module(x)
    kh, kw = kernel
    cols = sliding_windows(x, kernel, stride, padding, dilation)
    n, c, _, _, _, _ = cols.shape
    ho, wo = gy.shape[2], gy.shape[3]
    # the view may be a little larger than gy when the last window was dropped; trim it
    cols = cols[:, :, :, :, :ho, :wo]
    g, cout = groups, gy.shape[1]
    k = (c // g) * kh * kw
    cols_t = cols.transpose(1, 2, 3, 0, 4, 5).reshape(g, k, n * ho * wo)          # copy
    gy_t = gy.reshape(n, g, cout // g, ho * wo).transpose(1, 2, 0, 3).reshape(g, cout // g, n * ho * wo)
    gw = xp.matmul(gy_t, cols_t.transpose(0, 2, 1)) if g > 1 else gy_t[0] @ cols_t[0].T
    return gw.reshape(cout, c // g, kh, kw)
