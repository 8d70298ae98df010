"""Dense prediction: layers that make feature maps LARGER again.

A classifier shrinks an image to one vector; a segmentation network must answer for
every pixel, so after shrinking it grows the maps back. Two ways:

- :class:`Upsample2D`: copy every pixel into an f x f block (nearest neighbour). No
  parameters. Backward sums the gradient over each block.
- :class:`ConvTranspose2D`: a learned upsampling. Every input pixel "stamps" the kernel,
  scaled by its value, onto the output, ``stride`` pixels apart; overlaps add up::

      y[n, o, h*s + i - p, w*s + j - p] += x[n, c, h, w] * W[c, o, i, j]     (+ b[o])

  That is exactly the BACKWARD of a convolution with the same W (the map x -> dL/dx of
  Conv2D), so it is built from the same pieces with their roles swapped: forward is
  ``col2im(W2.T @ X2)`` and backward uses ``im2col``::

      X2    = x laid out as (C_in, N*H*W),  W2 = W.reshape(C_in, C_out*kh*kw)
      cols  = W2.T @ X2                 (C_out*kh*kw, N*H*W)  ->  y = col2im(cols) + b
      dcols = im2col(dL/dy)             (C_out*kh*kw, N*H*W)
      dL/dx = W2 @ dcols,   dL/dW2 = X2 @ dcols.T,   dL/db = sum of dL/dy over n, h, w

  Output size:  H_out = (H - 1)*stride - 2*padding + kh   (the same for W).
"""

from __future__ import annotations

import numpy as np

from dlteach.conv import init_conv_parameters
from dlteach.core import Layer
from dlteach.errors import InvalidValueError
from dlteach.im2col import IntPair, _col2im, _im2col, as_pair
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import check_array


class Upsample2D(Layer):
    """Nearest-neighbour upsampling: every pixel becomes an f x f block of copies.

    x: (N, C, H, W)  ->  y: (N, C, H*fh, W*fw),  y[n, c, h, w] = x[n, c, h // fh, w // fw]
    factor: an int or an (along H, along W) pair, each >= 1.
    Backward: dL/dx[n, c, h, w] = sum of dL/dy over the block that copied x[n, c, h, w].
    """

    def __init__(self, factor: IntPair = 2) -> None:
        self.factor = as_pair(factor, owner="Upsample2D", name="factor")
        self._cache: tuple[tuple[int, ...], np.dtype] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> y: (N, C, H*fh, W*fw), in x's dtype."""
        x = check_array(x, owner=repr(self), shape=("N", "C", "H", "W"))
        N, C, H, W = x.shape
        fh, fw = self.factor
        self._cache = (x.shape, x.dtype)  # backward needs only the shape
        blocks = np.broadcast_to(x[:, :, :, None, :, None], (N, C, H, fh, W, fw))
        return blocks.reshape(N, C, H * fh, W * fw)  # reshape of a broadcast: a copy

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C, H*fh, W*fw) -> grad_x: (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_cache()
        (N, C, H, W), dtype = self._cache
        fh, fw = self.factor
        self._check_grad_shape(grad_y, (N, C, H * fh, W * fw))
        grad_y = grad_as(grad_y, dtype)
        with FloatRange(self, "backward") as fr:  # a block's sum may pass the range: inf
            grad_x = grad_y.reshape(N, C, H, fh, W, fw).sum(axis=(3, 5))
        fr.check(grad_x, inputs=(grad_y,))
        return grad_x

    def __repr__(self) -> str:
        fh, fw = self.factor
        return f"Upsample2D({fh if fh == fw else self.factor})"


class ConvTranspose2D(Layer):
    """Transposed convolution (learned upsampling), NCHW: the adjoint of Conv2D.

    x: (N, C_in, H, W)  ->  y: (N, C_out, H_out, W_out),
    H_out = (H - 1)*stride - 2*padding + kh   (the same for W)
    W: (C_in, C_out, kh, kw)  (the layout of PyTorch's ConvTranspose2d),  b: (C_out,)

    kernel_size, stride, padding: an int or an (along H, along W) pair. padding crops
    ``padding`` rows/columns from each border of the full output, so that
    ConvTranspose2D(k, s, p) undoes the SHAPE change of Conv2D(k, s, p) when
    (H + 2p - k) is a multiple of s.
    With shared weights, <Conv2D(x), y> = <x, ConvTranspose2D(y)> (no biases): the
    module docstring shows why forward is col2im and backward is im2col.
    init: ``"he"`` (default) or ``"xavier"``; rng: seed or numpy Generator;
    dtype: of the parameters (the layer computes in its input's dtype, as every layer).
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
        init_conv_parameters(self, "ConvTranspose2D", in_channels, out_channels, kernel_size,
                             stride, padding, bias=bias, init=init, rng=rng, dtype=dtype,
                             transposed=True)

    def output_size(self, H: int, W: int) -> tuple[int, int]:
        """(H_out, W_out) for an input of spatial size (H, W): (H - 1)*s - 2*p + k."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        Ho, Wo = (H - 1) * sh - 2 * ph + kh, (W - 1) * sw - 2 * pw + kw
        if Ho < 1 or Wo < 1:
            raise InvalidValueError(
                f"{self!r}: an input of size {H}x{W} gives an output of size {Ho}x{Wo}: "
                f"the padding crops away everything. Use less padding or a larger input."
            )
        return Ho, Wo

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C_in, H, W) -> y: (N, C_out, H_out, W_out), in x's dtype."""
        x = check_array(x, owner=repr(self), shape=("N", self.in_channels, "H", "W"))
        N, C, H, W = x.shape
        Ho, Wo = self.output_size(H, W)
        X2 = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(C, N * H * W)
        with FloatRange(self, "forward") as fr:
            W2 = self.W.value.reshape(C, -1).astype(x.dtype, copy=False)
            cols = W2.T @ X2  # (C_out*kh*kw, N*H*W): every pixel times the whole kernel
            y = _col2im(cols, (N, self.out_channels, Ho, Wo), self.kernel_size, self.stride,
                        self.padding, (H, W))  # stamp the kernels, overlaps add up
            if self.b is not None:
                y += self.b.value.astype(x.dtype, copy=False)[:, None, None]
        inputs = (X2, W2) if self.b is None else (X2, W2, self.b.value)
        fr.check(y, inputs=inputs)
        self._cache = (x.shape, X2)  # backward needs the input, laid out as (C_in, N*H*W)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C_out, H_out, W_out) -> grad_x: (N, C_in, H, W); accumulates dW, db."""
        if self._cache is None:
            raise self._missing_cache()
        (N, C, H, W), X2 = self._cache
        Ho, Wo = self.output_size(H, W)
        self._check_grad_shape(grad_y, (N, self.out_channels, Ho, Wo))
        with FloatRange(self, "backward") as fr:
            g = grad_as(grad_y, X2.dtype)
            # Every (C_out, kh, kw) patch of dL/dy that input pixel (h, w) stamped onto.
            dcols = _im2col(g, self.kernel_size, self.stride, self.padding, (H, W))
            dW2 = X2 @ dcols.T  # (C_in, C_out*kh*kw)
            self.W.grad += dW2.reshape(self.W.value.shape)
            if self.b is not None:
                self.b.grad += g.sum(axis=(0, 2, 3))
            W2 = self.W.value.reshape(C, -1).astype(X2.dtype, copy=False)
            grad_x2 = W2 @ dcols  # (C_in, N*H*W)
        fr.check(dW2, grad_x2, inputs=(X2, dcols, W2))
        return np.ascontiguousarray(grad_x2.reshape(C, N, H, W).transpose(1, 0, 2, 3))

    def __repr__(self) -> str:
        kh, kw = self.kernel_size
        text = f"ConvTranspose2D({self.in_channels} -> {self.out_channels}, {kh}x{kw}"
        for name in ("stride", "padding"):
            pair = getattr(self, name)
            if pair != ((1, 1) if name == "stride" else (0, 0)):
                text += f", {name}={pair[0] if pair[0] == pair[1] else pair}"
        return text + ")"
