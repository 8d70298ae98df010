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

Dtypes and huge values follow the layer protocol (:class:`dlteach.core.Layer`): both
layers compute in their input's dtype, and an average whose window sum would pass the
dtype's range (four values of 1e308) is still computed right, from scaled values.
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer
from dlteach.im2col import IntPair, as_pair, output_shape
from dlteach.numerics import FloatRange, grad_as
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
        y = x[slices[0]].copy()  # running maximum, contiguous
        # Index (in window order) of each window's maximum so far: all backward needs.
        index = np.zeros(y.shape, dtype=np.min_scalar_type(len(slices) - 1))
        candidate = np.empty_like(y)
        replaced = np.empty(y.shape, dtype=bool)
        for n, s in enumerate(slices[1:], start=1):
            # One strided copy, then three fast contiguous passes (comparing or taking the
            # maximum straight from the strided slice would read it twice, slowly).
            np.copyto(candidate, x[s])
            # Only a strictly larger element takes over, so ties keep the first maximum.
            # "not <=" rather than ">": a NaN compares False either way, so this makes
            # every element from a NaN on take over -- the NaN rule of the module docs.
            np.less_equal(candidate, y, out=replaced)
            np.logical_not(replaced, out=replaced)
            np.maximum(y, candidate, out=y)
            # Later elements have larger n, so index = max(index, n * replaced) records
            # the last replacement (np.copyto(..., where=) is several times slower).
            np.maximum(index, replaced * index.dtype.type(n), out=index)
        self._cache = (index, x.shape, x.dtype, out_hw)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C, H_out, W_out) -> grad_x: (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_cache()
        index, x_shape, dtype, out_hw = self._cache
        self._check_grad_shape(grad_y, index.shape)
        grad_y = grad_as(grad_y, dtype)
        overlapping = self._overlapping()
        (kh, kw), (Ho, Wo) = self.kernel_size, out_hw
        tiled = self.stride == self.kernel_size and x_shape[2:] == (Ho * kh, Wo * kw)
        # When the windows tile x exactly, every element is written below: no zero fill.
        grad_x = np.empty(x_shape, dtype=dtype) if tiled else np.zeros(x_shape, dtype=dtype)
        hit = np.empty(index.shape, dtype=bool)
        with FloatRange(self, "backward") as fr:  # overlapping sums may pass the range
            for n, s in enumerate(self._slices(out_hw)):
                np.equal(index, n, out=hit)  # windows whose maximum is element n (uint8)
                if overlapping:  # windows share elements: contributions add up
                    grad_x[s] += grad_y * hit
                else:  # each input element belongs to at most one window: write directly
                    np.multiply(grad_y, hit, out=grad_x[s])
        fr.check(grad_x, inputs=(grad_y,))
        return grad_x


class AvgPool2D(_Pool2D):
    """Average pooling: y[n, c, h, w] = mean over the window at (h*s, w*s) of x[n, c].

    x: (N, C, H, W)  ->  y: (N, C, H_out, W_out), in x's dtype.
    Backward spreads each gradient evenly: every window element gets grad / (kh*kw).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x, out_hw = self._check(x)
        slices = self._slices(out_hw)
        scale = 1.0 / (self.kernel_size[0] * self.kernel_size[1])
        with FloatRange(self, "forward") as fr:
            y = x[slices[0]].copy()
            for s in slices[1:]:
                y += x[s]
            y *= scale
            if fr.overflow:  # a window's sum passed the dtype's range, its mean may not:
                fr.invalid = False  # start again, scaling every element before adding
                y = x[slices[0]] * scale
                for s in slices[1:]:
                    y += x[s] * scale
        fr.check(y, inputs=(x,))  # +inf and -inf in one window: no mean
        self._cache = (x.shape, x.dtype, out_hw)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, C, H_out, W_out) -> grad_x: (N, C, H, W)."""
        if self._cache is None:
            raise self._missing_cache()
        x_shape, dtype, out_hw = self._cache
        self._check_grad_shape(grad_y, (*x_shape[:2], *out_hw))
        kh, kw = self.kernel_size
        grad_x = np.zeros(x_shape, dtype=dtype)
        with FloatRange(self, "backward") as fr:
            grad_y = grad_as(grad_y, dtype)
            share = grad_y * (1.0 / (kh * kw))  # a Python float: keeps the dtype
            for s in self._slices(out_hw):
                grad_x[s] += share
        fr.check(grad_x, inputs=(grad_y,))
        return grad_x
