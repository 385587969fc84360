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

from ...autograd.function import Function
from ...autograd.ops import sum as reduce_sum, pad as pad_op, flip
from .im2col import (batch_chunk, batch_last, conv_batch_last, conv_batch_last_in_chunks,
                     conv_grouped, conv_output_size, conv_transpose_batch_last, conv_transpose_grouped,
                     conv_transpose_output_size, im2col_batch_last,
                     weight_grad_batch_last, weight_grad_grouped)


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
        return self.groups == 1

    def forward(self, x, weight, bias=None):
        if self.single_gemm:
            y, kept = self.kernel_single_gemm(x, weight, bias)
            # only worth keeping when the weight gradient will be asked for, and only while
            # it is no larger than x (a 1×1 conv): a k×k conv's im2col is k² times x, and
            # making it again in the backward costs a copy, holding it from forward to
            # backward costs peak memory (PixelCNN's step: −40%, BENCHMARKS.md)
            wanted = self.requires_grad and self.needs_input_grad[1]
            self.kept = kept if wanted and kept[0].nbytes <= x.nbytes else None
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

    kept = None    # im2col(x) from the forward, when small: the weight gradient's GEMM operand

    def kernel_single_gemm(self, x, weight, bias):
        keeps = self.requires_grad and self.needs_input_grad[1]
        if self.reuse is None and not keeps:
            chunk = batch_chunk(x, weight, self.stride, self.padding, self.dilation)
            if chunk < x.shape[0]:
                return conv_batch_last_in_chunks(x, weight, self.stride, self.padding, self.dilation,
                                               bias, chunk), None
        return conv_batch_last(x, weight, self.stride, self.padding, self.dilation, bias,
                                         im2col=self.reuse)

    def kernel_grouped(self, x, weight):
        return conv_grouped(x, weight, *self.geometry)

    def shared_operands(self, gy, weight):
        # ∂x = convT(gy) and ∂W = gy @ colsᵀ both start from gy batch-last
        return {"gy_t": batch_last(gy.data).reshape(weight.shape[0], -1)}

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
        return conv_transpose_batch_last(x, weight, self.stride, self.padding, self.dilation,
                                           self.output_size, bias, x_t=self.reuse)

    def kernel_grouped(self, x, weight):
        return conv_transpose_grouped(x, weight, *self.geometry, self.output_size)

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
        if self.groups == 1:
            im2col, gy_t, self.im2col, self.gy_t = self.im2col, self.gy_t, None, None
            return weight_grad_batch_last(x, gy, self.kernel, self.stride, self.padding,
                                            self.dilation, im2col, gy_t)
        return weight_grad_grouped(x, gy, self.kernel, self.stride, self.padding, self.dilation,
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
    if groups != 1 or stride != (1, 1):
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


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, swap_forms=True):
    """PyTorch's F.conv2d. ``padding`` is an int, a pair, 'valid' or 'same' (stride 1).
    ``swap_forms=False`` keeps the im2col form even where the transposed form is cheaper
    (to compare the two; the results agree)."""
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
    other_padding = swap_forms and _cheaper_as_other_form(x, weight, stride, padding, dilation, groups,
                                                          output_size, transposed=False)
    if other_padding:
        return conv_transpose2d(x, _swap_roles(weight), bias, padding=other_padding,
                                dilation=dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d(stride, padding, dilation, groups)(*inputs)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, swap_forms=True):
    """PyTorch's F.conv_transpose2d; ``output_padding`` picks among the output sizes that a
    strided conv2d maps to the same input size (it must be < stride or < dilation).
    ``swap_forms`` as in conv2d."""
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
    if output_padding == (0, 0) and swap_forms:
        other_padding = _cheaper_as_other_form(x, weight, stride, padding, dilation, groups,
                                               output_size, transposed=True)
        if other_padding is not None:
            return conv2d(x, _swap_roles(weight), bias, padding=other_padding, dilation=dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return ConvTranspose2d(stride, padding, dilation, groups, output_size)(*inputs)
