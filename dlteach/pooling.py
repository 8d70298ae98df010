"""Max and average pooling: summarise each k x k window of every channel by one number.

Both layers work on whole batches with k*k strided slices: slice (i, j) of the input,
``x[:, :, i::s, j::s]`` cut to (H_out, W_out), holds element (i, j) of every window at
once. So a pooling layer is k*k vectorized operations, never a loop over pixels.

    H_out = (H - k) // s + 1        (the same for W; no padding)

Max-pool ties. When several elements of a window share the maximum (common after a
ReLU: a window of zeros), the gradient goes to ONE of them: the first in window order,
row by row (i, then j) -- the element ``np.argmax`` on the flattened window picks, and
what PyTorch does. dlteach.conv_reference follows the same rule. (A window holding a
NaN has no well-defined maximum; its gradient goes to its last element.)
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer
from dlteach.im2col import IntPair, as_pair, output_shape
from dlteach.validation import check_array


class _Pool2D(Layer):
    """Shared set-up of the pooling layers: kernel, stride, input checks, slices."""

    def __init__(self, kernel_size: IntPair = 2, stride: IntPair | None = None) -> None:
        owner = type(self).__name__
        self.kernel_size = as_pair(kernel_size, owner=owner, name="kernel_size")
        # Default stride = kernel size: windows tile the input without overlapping.
        self.stride = (
            self.kernel_size if stride is None else as_pair(stride, owner=owner, name="stride")
        )
        self._cache: tuple | None = None

    def _check(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        x = check_array(x, owner=repr(self), shape=("N", "C", "H", "W"))
        out_hw = output_shape(
            x.shape, self.kernel_size, self.stride, (0, 0), owner=repr(self), has_padding=False
        )
        return x, out_hw

    def _slices(self, out_hw: tuple[int, int]) -> list[tuple[slice, slice, slice, slice]]:
        """Index of window element (i, j) for every window, in window order (i, then j)."""
        (kh, kw), (sh, sw), (Ho, Wo) = self.kernel_size, self.stride, out_hw
        full = slice(None)
        return [
            (full, full, slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))
            for i in range(kh)
            for j in range(kw)
        ]

    def _overlapping(self) -> bool:
        return self.stride[0] < self.kernel_size[0] or self.stride[1] < self.kernel_size[1]

    def __repr__(self) -> str:
        kh, kw = self.kernel_size
        text = f"{type(self).__name__}({kh}x{kw}"
        if self.stride != self.kernel_size:
            sh, sw = self.stride
            text += f", stride={sh if sh == sw else self.stride}"
        return text + ")"


class MaxPool2D(_Pool2D):
    """Max pooling: y[n, c, h, w] = max over the window at (h*s, w*s) of x[n, c].

    x: (N, C, H, W)  ->  y: (N, C, H_out, W_out), in x's dtype.
    kernel_size: int or (kh, kw); stride: defaults to kernel_size (overlap allowed).
    Backward routes each gradient to its window's maximum (ties: first in window order).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, out_hw = self._check(x)
        slices = self._slices(out_hw)
        if len(slices) == 1:  # a 1x1 window: pooling only subsamples
            y = x[slices[0]].copy()
        else:
            y = np.maximum(x[slices[0]], x[slices[1]])
        for s in slices[2:]:  # k*k - 1 elementwise maxima over the whole batch
            np.maximum(y, x[s], out=y)
        self._cache = (x, y, out_hw)  # backward compares x with y to find the argmax
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C, H_out, W_out) -> grad_x: (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_cache()
        x, y, out_hw = self._cache
        self._check_grad_shape(grad_y, y.shape)
        grad_y = np.asarray(grad_y, dtype=x.dtype)
        overlapping = self._overlapping()
        (kh, kw), (Ho, Wo) = self.kernel_size, out_hw
        tiled = self.stride == self.kernel_size and x.shape[2:] == (Ho * kh, Wo * kw)
        # When the windows tile x exactly, every element is written below: no zero fill.
        grad_x = np.empty_like(x) if tiled else np.zeros_like(x)
        slices = self._slices(out_hw)
        free = np.ones(y.shape, dtype=bool)  # windows whose gradient is not yet routed
        hit = np.empty(y.shape, dtype=bool)
        for k, s in enumerate(slices):
            if k == len(slices) - 1:
                hit = free  # no earlier element was the maximum: the last one is
            else:
                np.equal(x[s], y, out=hit)  # is element (i, j) its window's maximum?
                np.logical_and(hit, free, out=hit)  # ...and the first maximum seen?
                np.logical_xor(free, hit, out=free)  # free &= ~hit (hit lies within free)
            if overlapping:  # windows share elements: contributions add up
                grad_x[s] += grad_y * hit
            else:  # each input element belongs to at most one window: write directly
                np.multiply(grad_y, hit, out=grad_x[s])
        return grad_x


class AvgPool2D(_Pool2D):
    """Average pooling: y[n, c, h, w] = mean over the window at (h*s, w*s) of x[n, c].

    x: (N, C, H, W)  ->  y: (N, C, H_out, W_out), in x's dtype.
    Backward spreads each gradient evenly: every window element gets grad / (kh*kw).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, out_hw = self._check(x)
        slices = self._slices(out_hw)
        y = x[slices[0]].copy()
        for s in slices[1:]:
            y += x[s]
        y *= 1.0 / (self.kernel_size[0] * self.kernel_size[1])
        self._cache = (x.shape, x.dtype, out_hw)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C, H_out, W_out) -> grad_x: (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_cache()
        x_shape, dtype, out_hw = self._cache
        self._check_grad_shape(grad_y, (*x_shape[:2], *out_hw))
        share = np.asarray(grad_y, dtype=dtype) * (1.0 / np.prod(self.kernel_size))
        grad_x = np.zeros(x_shape, dtype=dtype)
        for s in self._slices(out_hw):
            grad_x[s] += share
        return grad_x
