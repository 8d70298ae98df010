"""The 2-D convolution layer, vectorized with im2col: one matrix product per pass.

Forward, for every example n, filter f and output position (h, w)::

    y[n, f, h, w] = b[f] + sum_{c, i, j} W[f, c, i, j] * x_pad[n, c, h*s + i, w*s + j]

With ``cols = im2col(x)`` of shape (C*kh*kw, N*H_out*W_out) that is ``W2 @ cols + b``
where ``W2 = W.reshape(F, C*kh*kw)``. Backward is the same product differentiated::

    dW2   = dY2 @ cols.T          (F, C*kh*kw)
    db    = dY2.sum(axis=1)       (F,)
    dcols = W2.T @ dY2            (C*kh*kw, N*H_out*W_out)  ->  dx = col2im(dcols)

with ``dY2 = grad_y`` laid out as (F, N*H_out*W_out). See dlteach.conv_reference for the
same computation written as plain loops.

Speed and memory: the columns are the one large buffer (C*kh*kw values per output
position); forward keeps them for backward instead of the input. With stride 1 along W
the layer uses a "wide rows" variant of the same layout (explained in dlteach.im2col),
which makes the copies several times faster; the arithmetic is unchanged.
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import InvalidValueError
from dlteach.im2col import (
    IntPair,
    _col2im,
    _col2im_wide,
    _im2col,
    _im2col_wide,
    as_pair,
    output_shape,
)
from dlteach.init import INITIALIZERS
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_rng, check_array, check_positive_int


def init_conv_parameters(
    layer: Layer, owner: str, in_channels: int, out_channels: int, kernel_size: IntPair,
    stride: IntPair, padding: IntPair, *, bias: bool, init: str,
    rng: int | np.random.Generator | None, dtype: type, transposed: bool = False,
) -> None:
    """Check a convolution's settings, set them on ``layer`` and create its parameters.

    W: (out_channels, in_channels, kh, kw) for a convolution; (in_channels, out_channels,
    kh, kw) for a transposed one (``transposed=True``), whose W is read as the weight of
    the convolution it is the adjoint of, so He scales by that convolution's fan-in
    out_channels*kh*kw, as PyTorch does. b: (out_channels,), or None without a bias (then
    there is no Parameter b, and optimizers never see one).
    """
    layer.in_channels = check_positive_int(in_channels, owner=owner, name="in_channels")
    layer.out_channels = check_positive_int(out_channels, owner=owner, name="out_channels")
    layer.kernel_size = as_pair(kernel_size, owner=owner, name="kernel_size")
    layer.stride = as_pair(stride, owner=owner, name="stride")
    layer.padding = as_pair(padding, owner=owner, name="padding", minimum=0)
    if init not in INITIALIZERS:
        raise InvalidValueError(
            f"{layer!r}: init must be one of {sorted(INITIALIZERS)}, got {init!r}."
        )
    channels = (layer.in_channels, layer.out_channels)
    shape = (*(channels if transposed else channels[::-1]), *layer.kernel_size)
    gen = as_rng(rng, owner=owner, name="rng")
    layer.W = Parameter(INITIALIZERS[init](shape, gen, dtype), "W")
    layer.b = Parameter(np.zeros(layer.out_channels, dtype=dtype), "b") if bias else None
    layer._cache = None


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep learning library), NCHW.

    x: (N, C, H, W)  ->  y: (N, F, H_out, W_out),  H_out = (H + 2*p - kh) // s + 1
    W: (F, C, kh, kw),  b: (F,)

    kernel_size, stride, padding: an int or an (along H, along W) pair; padding is zeros.
    init: ``"he"`` (for ReLU, the default) or ``"xavier"``; rng: seed or numpy Generator.

    dtype: of the parameters. The layer computes in the dtype of its INPUT (the rule of
    :class:`dlteach.core.Layer`). A float32 batch gives float32 outputs and input
    gradients even when the parameters are float64: the parameters are cast on use (no
    copy when the dtypes already match), and their gradients are accumulated in the
    parameters' own dtype. For speed, build the layer with ``dtype=np.float32`` when you
    feed it float32 data.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        *,
        bias: bool = True,
        init: str = "he",
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        init_conv_parameters(self, "Conv2D", in_channels, out_channels, kernel_size, stride,
                             padding, bias=bias, init=init, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> y: (N, F, H_out, W_out), in x's dtype."""
        x = check_array(x, owner=repr(self), shape=("N", self.in_channels, "H", "W"))
        out_hw = output_shape(
            x.shape, self.kernel_size, self.stride, self.padding, owner=repr(self)
        )
        N, F = x.shape[0], self.out_channels
        (Ho, Wo), Wp = out_hw, x.shape[3] + 2 * self.padding[1]
        # With stride 1 along W, the "wide rows" layout (see dlteach.im2col) makes the
        # copies several times faster for the price of Wp - W_out junk columns per row.
        wide = self.stride[1] == 1 and 4 * (Wp - Wo) <= Wp
        width = Wp if wide else Wo  # columns per output row inside cols
        im2col = _im2col_wide if wide else _im2col
        cols = im2col(x, self.kernel_size, self.stride, self.padding, out_hw)
        with FloatRange(self, "forward") as fr:  # beyond the dtype's range: +-inf
            W2 = self.W.value.reshape(F, -1).astype(x.dtype, copy=False)
            y2 = W2 @ cols  # (F, N*H_out*width): the whole layer is this product
            if self.b is not None:
                y2 += self.b.value.astype(x.dtype, copy=False)[:, None]
        # inf - inf: a named error, not a silent NaN.
        fr.check(y2, inputs=(cols, W2) if self.b is None else (cols, W2, self.b.value))
        self._cache = (x.shape, cols, out_hw, wide)  # backward needs the columns, not x
        # (F, N, H_out, W_out) -> (N, F, H_out, W_out); a contiguous copy, so that the
        # next layer (pooling, flatten) reads memory in order.
        y = y2.reshape(F, N, Ho, width)[..., :Wo]
        return np.ascontiguousarray(y.transpose(1, 0, 2, 3))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, F, H_out, W_out) -> grad_x: (N, C, H, W); accumulates dL/dW, dL/db."""
        if self._cache is None:
            raise self._missing_cache()
        x_shape, cols, out_hw, wide = self._cache
        N, F = x_shape[0], self.out_channels
        self._check_grad_shape(grad_y, (N, F, *out_hw))
        (Ho, Wo), Wp = out_hw, x_shape[3] + 2 * self.padding[1]
        with FloatRange(self, "backward") as fr:
            # (N, F, H_out, W_out) -> (F, N*H_out*width), the layout of the forward's
            # product, in the input's dtype; the junk columns of the wide layout get 0.
            dY = np.zeros((F, N, Ho, Wp if wide else Wo), dtype=cols.dtype)
            dY[..., :Wo] = grad_as(grad_y, cols.dtype).transpose(1, 0, 2, 3)
            dY2 = dY.reshape(F, -1)
            # Computed in the input's dtype, accumulated in the parameters'.
            dW2 = dY2 @ cols.T
            self.W.grad += dW2.reshape(self.W.value.shape)
            if self.b is not None:
                self.b.grad += dY2.sum(axis=1)
            W2 = self.W.value.reshape(F, -1).astype(cols.dtype, copy=False)
            dcols = W2.T @ dY2  # (C*kh*kw, N*H_out*width)
            col2im = _col2im_wide if wide else _col2im
            grad_x = col2im(dcols, x_shape, self.kernel_size, self.stride, self.padding, out_hw)
        fr.check(dW2, grad_x, inputs=(cols, dY2, W2))
        return grad_x

    def __repr__(self) -> str:
        kh, kw = self.kernel_size
        text = f"Conv2D({self.in_channels} -> {self.out_channels}, {kh}x{kw}"
        if self.stride != (1, 1):
            text += f", stride={_fmt(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_fmt(self.padding)}"
        return text + ")"


def _fmt(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)
