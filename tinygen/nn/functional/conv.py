"""2-D convolution and transposed convolution (NCHW, PyTorch's weight layouts).

Shapes, for one spatial axis (the other is the same):

    conv:        H_out = ⌊(H + 2p - d(k-1) - 1) / s⌋ + 1
    transposed:  H_out = (H - 1)s - 2p + d(k-1) + output_padding + 1

**conv2d** (im2col + one GEMM). After padding, the input is viewed — without
copying — as ``cols[n, c, i, j, y, x] = x_pad[n, c, y·s + i·d, x·s + j·d]``, a
sliding-window view made by ``as_strided``. One GEMM contracts it with the
weight ``W[o, c, i, j]``:

    y[n, o, y, x] = Σ_{c,i,j} W[o, c, i, j] · cols[n, c, i, j, y, x] + b[o]

**conv_transpose2d** is the adjoint (the input gradient) of conv2d. One GEMM
makes ``cols[o, i, j, n, y, x] = Σ_c W[c, o, i, j] · x[n, c, y, x]``, and col2im
adds each of the k_h·k_w kernel taps into the output with one strided slice:

    out[n, o, y·s + i·d, x·s + j·d] += cols[o, i, j, n, y, x]     (then crop p)

**The weight gradient** is its own differentiable Function, ``Conv2dGradW``:

    ∂L/∂W[o, c, i, j] = Σ_{n,y,x} ∂L/∂y[n, o, y, x] · cols[n, c, i, j, y, x]

Each backward is built from these three Functions, so gradients of gradients
(double backward) work through both convolutions:

    conv2d:            ∂x = conv_transpose2d(∂y, W),  ∂W = Conv2dGradW(x, ∂y)
    conv_transpose2d:  ∂x = conv2d(∂y, W),            ∂W = Conv2dGradW(∂y, x)

**At stride 1 each is the other with the kernel flipped** (taps reversed, the two
channel axes swapped) and padding d(k-1) - p. The two forms do the same
multiply-adds but expand different tensors k_h·k_w-fold: conv2d's im2col holds
C_in·kh·kw rows per *output* pixel, the transposed form's GEMM output C_out·kh·kw
rows per *input* pixel. ``conv2d`` and ``conv_transpose2d`` take whichever is
smaller (``_cheaper_as_other_form``): the conv GAN's last layer, a 7×7 conv from
128 channels to 1 at 28×28, builds 49 rows per pixel instead of 6,272.

Groups split the channels into G independent convolutions; the GEMM is then a
batched matmul over G. On CuPy the same code runs (cuBLAS does the GEMMs); no
custom kernel is used because none has been measured to pay yet.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.ops import sum as reduce_sum, pad as pad_op, flip
from ...backend import get_array_module


SINGLE_GEMM = True   # groups = 1: batch-innermost layout and one large GEMM (see BENCHMARKS.md)
FORM_SWAP = True     # stride 1: run as the other form when its buffer is smaller (see BENCHMARKS.md)
# Largest im2col buffer a forward without a weight gradient (sampling, evaluation) may
# build at once; above it the batch is processed in chunks. A 5×5 conv over 128 channels
# at 28×28 needs 3200 × 784 floats per image: 5 GB for 500 images in one go.
IM2COL_BUDGET_BYTES = 256 << 20


# the least value each geometry argument may take, as in PyTorch
_MINIMUM = {"stride": 1, "dilation": 1, "padding": 0, "output_padding": 0}


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v}")
        pair = (int(v[0]), int(v[1]))
    else:
        pair = (int(v), int(v))
    least = _MINIMUM.get(name)
    if least is not None and min(pair) < least:
        raise ValueError(f"{name} must be at least {least} (got {v})")
    return pair


def _check_bias(bias, out_channels, op):
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},) for {out_channels} output "
                         f"channels, not {tuple(bias.shape)}")


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


def _batch_last(x, padding=(0, 0)):
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
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype) if ph or pw else \
        xp.empty((c, h, w, n), dtype=x.dtype)
    out[:, ph:ph + h, pw:pw + w, :] = moved
    return out


def im2col_batch_last(x, kernel, stride, padding, dilation):
    """cols[c·kh·kw, (y·Wo + x)·N + n] = x_pad[n, c, y·s + i·d, x·s + j·d], one copy of a strided view."""
    xp = get_array_module(x)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    padded = _batch_last(x, padding)
    c, hp, wp, n = padded.shape
    ho = (hp - dh * (kh - 1) - 1) // sh + 1
    wo = (wp - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = padded.strides
    view = _as_strided(xp, padded, (c, kh, kw, ho, wo, n), (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3))
    return view.reshape(c * kh * kw, ho * wo * n), (ho, wo)


def _conv_forward_single_gemm(x, weight, stride, padding, dilation, bias=None, im2col=None):
    """groups = 1: y (Cout, Ho·Wo·N) = W (Cout, C·kh·kw) @ cols — ONE GEMM — then back to NCHW
    (adding the bias in the same pass). ``im2col`` = (cols, (Ho, Wo)) if already made; the
    return value includes it, for the weight gradient to reuse."""
    cout = weight.shape[0]
    n = x.shape[0]
    if im2col is None:
        im2col = im2col_batch_last(x, weight.shape[2:], stride, padding, dilation)
    cols, (ho, wo) = im2col
    y = (weight.reshape(cout, -1) @ cols).reshape(cout, ho, wo, n).transpose(3, 0, 1, 2)
    return _to_nchw(y, bias), im2col


def _batch_chunk(x, weight, stride, padding, dilation):
    """How many images fit one im2col buffer of at most IM2COL_BUDGET_BYTES (at least 1)."""
    n, _, h, w = x.shape
    cout, cin, kh, kw = weight.shape
    ho = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    per_image = cin * kh * kw * ho * wo * x.dtype.itemsize
    return max(1, min(n, IM2COL_BUDGET_BYTES // max(per_image, 1)))


def _conv_forward_in_chunks(x, weight, stride, padding, dilation, bias, chunk):
    """The same convolution, ``chunk`` images at a time, so im2col stays within budget."""
    xp = get_array_module(x)
    parts = [_conv_forward_single_gemm(x[start:start + chunk], weight, stride, padding, dilation,
                                       bias)[0] for start in range(0, x.shape[0], chunk)]
    return xp.concatenate(parts, axis=0)


def _to_nchw(y_view, bias):
    """(C, H, W, N) memory seen as (N, C, H, W), bias added; no transposing copy.

    The result keeps the batch innermost in memory (elementwise ops such as the
    bias add, ReLU or batch norm preserve an input's layout), so the next conv's
    ``_batch_last`` finds its input already in place. Ops that need NCHW order
    (a flatten before a linear layer) make the one copy themselves.
    """
    if bias is not None:
        return y_view + bias.reshape(1, -1, 1, 1)
    return y_view


def _conv_transpose_single_gemm(x, weight, stride, padding, dilation, output_size, bias=None,
                                x_t=None):
    """groups = 1, batch innermost: ONE GEMM Wᵀ (kh·kw·Cout, Cin) @ x (Cin, H·W·N) gives each
    kernel tap as a contiguous (Cout, H, W, N) block; col2im adds them into phase planes.
    ``x_t`` is x in that (Cin, H·W·N) layout if already made; it is returned for reuse."""
    xp = get_array_module(x)
    cin, cout, kh, kw = weight.shape
    n, _, h, w = x.shape
    if x_t is None:
        x_t = _batch_last(x).reshape(cin, h * w * n)
    w_t = xp.ascontiguousarray(weight.reshape(cin, cout, kh * kw).transpose(2, 1, 0))
    cols = (w_t.reshape(kh * kw * cout, cin) @ x_t).reshape(kh, kw, cout, h, w, n)
    out = _col2im_batch_last(cols, stride, padding, dilation, output_size)   # (Cout, H', W', N)
    return _to_nchw(out.transpose(3, 0, 1, 2), bias), x_t


def _col2im_batch_last(cols, stride, padding, dilation, output_size):
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
    hq = max(-(-(hout + 2 * ph) // sh), (dh * (kh - 1)) // sh + h)
    wq = max(-(-(wout + 2 * pw) // sw), (dw * (kw - 1)) // sw + w)
    planes = xp.zeros((c, hq, sh, wq, sw, n), dtype=cols.dtype)
    for i in range(kh):
        r, a = (i * dh) % sh, (i * dh) // sh
        for j in range(kw):
            q, b = (j * dw) % sw, (j * dw) // sw
            planes[:, a:a + h, r, b:b + w, q] += cols[i, j]
    out = planes.reshape(c, hq * sh, wq * sw, n)
    return out[:, ph: ph + hout, pw: pw + wout]


def _weight_grad_single_gemm(x, gy, kernel, stride, padding, dilation, im2col=None, gy_t=None):
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
        gy_t = _batch_last(gy).reshape(cout, -1)
    return (gy_t @ cols.T).reshape(cout, c, *kernel)


def _conv_forward(x, weight, stride, padding, dilation, groups):
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


def _conv_transpose_forward(x, weight, stride, padding, dilation, groups, output_size):
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


def _weight_grad(x, gy, kernel, stride, padding, dilation, groups):
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


class _ConvFunction(Function):
    """What conv2d and conv_transpose2d share: their geometry and the shape of their backward.

    Each is the other's input gradient; both take their weight gradient from Conv2dGradW,
    with x and ∂L/∂y in opposite roles; the bias gradient is ∂L/∂y summed per channel.

    With groups = 1 the input and weight gradients need the same batch-last copies of
    ∂L/∂y (and the forward already made one of x's), so ``shared_operands`` makes them
    once per backward and hands them to both Functions. ``reuse`` carries such
    precomputed arrays into a forward; they are plain caches of the inputs' data.
    """

    def __init__(self, stride, padding, dilation, groups, reuse=None):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.reuse = reuse

    @property
    def geometry(self):
        return (self.stride, self.padding, self.dilation, self.groups)

    @property
    def single_gemm(self):
        return self.groups == 1 and SINGLE_GEMM

    def forward(self, x, weight, bias=None):
        if self.single_gemm:
            y, kept = self.kernel_single_gemm(x, weight, bias)
            # only worth keeping when the weight gradient will be asked for
            self.kept = kept if self.requires_grad and self.needs_input_grad[1] else None
            self.reuse = None
            return y
        y = self.kernel_grouped(x, weight)
        return y if bias is None else y + bias.reshape(1, -1, 1, 1)

    def backward(self, gy):
        x, weight = self.inputs[0], self.inputs[1]
        needs = self.needs_input_grad
        shared = self.shared_operands(gy, weight) if self.single_gemm and needs[0] and needs[1] else {}
        gx = self.input_grad(gy, weight, x.shape, shared) if needs[0] else None
        gw = self.weight_grad(x, gy, weight.shape[2:], shared) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (reduce_sum(gy, (0, 2, 3)) if needs[2] else None)


class Conv2d(_ConvFunction):
    """y = conv2d(x, W) + b  (see the module docstring for the math)"""

    kept = None    # im2col(x) from the forward: the weight gradient's GEMM operand

    def kernel_single_gemm(self, x, weight, bias):
        keeps = self.requires_grad and self.needs_input_grad[1]
        if self.reuse is None and not keeps:
            chunk = _batch_chunk(x, weight, self.stride, self.padding, self.dilation)
            if chunk < x.shape[0]:
                return _conv_forward_in_chunks(x, weight, self.stride, self.padding, self.dilation,
                                               bias, chunk), None
        return _conv_forward_single_gemm(x, weight, self.stride, self.padding, self.dilation, bias,
                                         im2col=self.reuse)

    def kernel_grouped(self, x, weight):
        return _conv_forward(x, weight, *self.geometry)

    def shared_operands(self, gy, weight):
        # ∂x = convT(gy) and ∂W = gy @ colsᵀ both start from gy batch-last
        return {"gy_t": _batch_last(gy.data).reshape(weight.shape[0], -1)}

    def input_grad(self, gy, weight, x_shape, shared):
        return ConvTranspose2d(*self.geometry, output_size=x_shape[2:],
                               reuse=shared.get("gy_t"))(gy, weight)

    def weight_grad(self, x, gy, kernel, shared):
        return Conv2dGradW(kernel, *self.geometry, im2col=self.kept,
                           gy_t=shared.get("gy_t"))(x, gy)


class ConvTranspose2d(_ConvFunction):
    """y = conv_transpose2d(x, W) + b, the adjoint of conv2d"""

    kept = None    # x batch-last from the forward: the weight gradient's GEMM operand

    def __init__(self, stride, padding, dilation, groups, output_size, reuse=None):
        super().__init__(stride, padding, dilation, groups, reuse)
        self.output_size = tuple(output_size)

    def kernel_single_gemm(self, x, weight, bias):
        return _conv_transpose_single_gemm(x, weight, self.stride, self.padding, self.dilation,
                                           self.output_size, bias, x_t=self.reuse)

    def kernel_grouped(self, x, weight):
        return _conv_transpose_forward(x, weight, *self.geometry, self.output_size)

    def shared_operands(self, gy, weight):
        # ∂x = conv2d(gy) and ∂W = Conv2dGradW(gy, x) both need im2col(gy)
        return {"im2col": im2col_batch_last(gy.data, weight.shape[2:], self.stride, self.padding,
                                            self.dilation)}

    def input_grad(self, gy, weight, x_shape, shared):
        return _crop_to(Conv2d(*self.geometry, reuse=shared.get("im2col"))(gy, weight), x_shape)

    def weight_grad(self, x, gy, kernel, shared):
        return Conv2dGradW(kernel, *self.geometry, im2col=shared.get("im2col"),
                           gy_t=self.kept)(gy, x)


class Conv2dGradW(Function):
    """gW = Σ_{n,y,x} gy[n, o, y, x] · x_pad[n, c, y·s + i·d, x·s + j·d]  (bilinear in x and gy)

    ``im2col`` and ``gy_t`` are optional precomputed batch-last copies of x and gy
    (see _ConvFunction); they are used once and dropped.
    """

    def __init__(self, kernel, stride, padding, dilation, groups, im2col=None, gy_t=None):
        self.kernel = tuple(kernel)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.im2col, self.gy_t = im2col, gy_t

    def forward(self, x, gy):
        if self.groups == 1 and SINGLE_GEMM:
            im2col, gy_t, self.im2col, self.gy_t = self.im2col, self.gy_t, None, None
            return _weight_grad_single_gemm(x, gy, self.kernel, self.stride, self.padding,
                                            self.dilation, im2col, gy_t)
        return _weight_grad(x, gy, self.kernel, self.stride, self.padding, self.dilation,
                            self.groups)

    def backward(self, ggw):
        x, gy = self.inputs
        nx, ngy = self.needs_input_grad
        geometry = (self.stride, self.padding, self.dilation, self.groups)
        gx = ConvTranspose2d(*geometry, output_size=x.shape[2:])(gy, ggw) if nx else None
        ggy = _crop_to(Conv2d(*geometry)(x, ggw), gy.shape) if ngy else None
        return gx, ggy


def _crop_to(t, shape):
    """Drop trailing rows/cols: when output_padding ≥ stride (allowed if < dilation), the
    adjoint conv covers a little more than the tensor it differentiates."""
    if t.shape[2:] == tuple(shape[2:]):
        return t
    return t[:, :, :shape[2], :shape[3]]


def _check_conv_args(x, weight, groups, transposed):
    if x.ndim != 4:
        raise ValueError(f"expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if weight.ndim != 4:
        raise ValueError(f"expected a 4-D weight, got shape {tuple(weight.shape)}")
    if x.dtype != weight.dtype:
        raise TypeError(f"input dtype {x.dtype} and weight dtype {weight.dtype} differ; "
                        f"convert one with .to('{weight.dtype}')")
    cin = x.shape[1]
    if transposed:
        if weight.shape[0] != cin:
            raise ValueError(f"conv_transpose2d: input has {cin} channels but the weight "
                             f"(Cin, Cout/groups, kh, kw) = {tuple(weight.shape)} expects "
                             f"{weight.shape[0]}")
    elif weight.shape[1] * groups != cin:
        raise ValueError(f"conv2d: input has {cin} channels but the weight (Cout, Cin/groups, "
                         f"kh, kw) = {tuple(weight.shape)} with groups={groups} expects "
                         f"{weight.shape[1] * groups}")
    if groups < 1:
        raise ValueError(f"groups must be at least 1, not {groups}")
    if cin % groups:
        raise ValueError(f"{cin} input channels are not divisible by groups={groups}")


def _cheaper_as_other_form(x, weight, stride, padding, dilation, groups, output_size, transposed):
    """The padding d(k-1) - p of the stride-1 other form, if its k-fold buffer is at most half
    the size of this form's; else None. Buffer rows × pixels (per image):

        conv2d:            C_in  · kh·kw · H_out·W_out     (im2col of the input)
        conv_transpose2d:  C_out · kh·kw · H_in·W_in       (the GEMM's per-tap output)
    """
    if not FORM_SWAP or groups != 1 or stride != (1, 1):
        return None
    kernel = weight.shape[2:]
    other_padding = tuple(d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation))
    if min(other_padding) < 0:
        return None
    in_pixels = x.shape[2] * x.shape[3]
    out_pixels = output_size[0] * output_size[1]
    cin = x.shape[1]
    cout = weight.shape[1] if transposed else weight.shape[0]
    conv_form, transposed_form = cin * out_pixels, cout * in_pixels
    this, other = (transposed_form, conv_form) if transposed else (conv_form, transposed_form)
    return other_padding if 2 * other < this else None


def _swap_roles(weight):
    """W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j]: a conv2d weight as the weight of the equivalent
    stride-1 conv_transpose2d, and back (the map is its own inverse)."""
    return flip(weight, (2, 3)).transpose(0, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's F.conv2d. ``padding`` is an int, a pair, 'valid' or 'same' (stride 1)."""
    _check_conv_args(x, weight, groups, transposed=False)
    _check_bias(bias, weight.shape[0], "conv2d")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kh, kw = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' needs stride 1 (as in PyTorch)")
            total = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
            before = (total[0] // 2, total[1] // 2)
            if total[0] % 2 or total[1] % 2:   # even kernel: the extra row/col goes after
                x = pad_op(x, (before[1], total[1] - before[1], before[0], total[0] - before[0]))
                padding = (0, 0)
            else:
                padding = before
        else:
            raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', not {padding!r}")
    padding = _pair(padding, "padding")
    output_size = tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in
                        zip(x.shape[2:], (kh, kw), stride, padding, dilation))
    if min(output_size) < 1:
        raise ValueError(f"conv2d: input of spatial size {tuple(x.shape[2:])} is smaller "
                         f"than the (dilated) kernel {kh}x{kw} after padding {padding}")
    other_padding = _cheaper_as_other_form(x, weight, stride, padding, dilation, groups,
                                           output_size, transposed=False)
    if other_padding is not None:
        return conv_transpose2d(x, _swap_roles(weight), bias, padding=other_padding,
                                dilation=dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d(stride, padding, dilation, groups)(*inputs)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """PyTorch's F.conv_transpose2d; ``output_padding`` picks among the output sizes that a
    strided conv2d maps to the same input size (it must be < stride or < dilation)."""
    _check_conv_args(x, weight, groups, transposed=True)
    _check_bias(bias, weight.shape[1] * groups, "conv_transpose2d")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation, output_padding = _pair(dilation, "dilation"), _pair(output_padding, "output_padding")
    for op, s, d in zip(output_padding, stride, dilation):
        if not (op < s or op < d):
            raise ValueError(f"output_padding {output_padding} must be smaller than stride "
                             f"{stride} or dilation {dilation}")
    kh, kw = weight.shape[2:]
    output_size = tuple(conv_transpose_output_size(size, k, s, p, d, op) for size, k, s, p, d, op in
                        zip(x.shape[2:], (kh, kw), stride, padding, dilation, output_padding))
    if min(output_size) < 1:
        raise ValueError(f"conv_transpose2d: output size {output_size} is not positive")
    if output_padding == (0, 0):
        other_padding = _cheaper_as_other_form(x, weight, stride, padding, dilation, groups,
                                               output_size, transposed=True)
        if other_padding is not None:
            return conv2d(x, _swap_roles(weight), bias, padding=other_padding, dilation=dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return ConvTranspose2d(stride, padding, dilation, groups, output_size)(*inputs)
