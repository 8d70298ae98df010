"""Convolution and pooling written as the math reads: plain loops, for learning.

These functions are slow on purpose (Python loops over examples, filters and output
positions) and easy to check by hand. The fast layers in dlteach.conv and
dlteach.pooling are tested against them. Use them on small inputs only.

Notation: x: (N, C, H, W), W: (F, C, kh, kw), b: (F,), stride s, zero padding p,
H_out = (H + 2p - kh) // s + 1, W_out = (W + 2p - kw) // s + 1.
"""

from __future__ import annotations

import numpy as np

from dlteach.im2col import IntPair, as_pair, output_shape
from dlteach.validation import check_array


def _conv_args(x, W, stride, padding, owner):
    x = check_array(x, owner=owner, name="x", shape=("N", "C", "H", "W"))
    W = check_array(W, owner=owner, name="W", shape=("F", x.shape[1], "kh", "kw"))
    s = as_pair(stride, owner=owner, name="stride")
    p = as_pair(padding, owner=owner, name="padding", minimum=0)
    out_hw = output_shape(x.shape, W.shape[2:], s, p, owner=owner)
    x_pad = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))  # zeros around
    return x, W, s, p, out_hw, x_pad


def conv2d_forward_naive(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """y[n, f, h, w] = b[f] + sum_{c,i,j} W[f, c, i, j] * x_pad[n, c, h*s + i, w*s + j].

    x: (N, C, H, W), W: (F, C, kh, kw), b: (F,) or None  ->  y: (N, F, H_out, W_out).
    """
    x, W, (sh, sw), _, (Ho, Wo), x_pad = _conv_args(x, W, stride, padding, "conv2d_forward_naive")
    N, F, kh, kw = x.shape[0], W.shape[0], W.shape[2], W.shape[3]
    if b is not None:
        b = check_array(b, owner="conv2d_forward_naive", name="b", shape=(F,))
    y = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, W))
    for n in range(N):
        for f in range(F):
            for h in range(Ho):
                for w in range(Wo):
                    window = x_pad[n, :, h * sh : h * sh + kh, w * sw : w * sw + kw]
                    y[n, f, h, w] = np.sum(window * W[f]) + (b[f] if b is not None else 0)
    return y


def conv2d_backward_naive(
    grad_y: np.ndarray, x: np.ndarray, W: np.ndarray, stride: IntPair = 1, padding: IntPair = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the convolution, one output position at a time.

    grad_y: (N, F, H_out, W_out), x: (N, C, H, W), W: (F, C, kh, kw)
    -> (grad_x: (N, C, H, W), grad_W: (F, C, kh, kw), grad_b: (F,)).

    Each output y[n, f, h, w] used one window of x_pad and the filter W[f], so its
    gradient g flows back to both: the window gets g * W[f] and W[f] gets g * window.
    """
    owner = "conv2d_backward_naive"
    x, W, (sh, sw), (ph, pw), (Ho, Wo), x_pad = _conv_args(x, W, stride, padding, owner)
    N, F, kh, kw = x.shape[0], W.shape[0], W.shape[2], W.shape[3]
    grad_y = check_array(grad_y, owner=owner, name="grad_y", shape=(N, F, Ho, Wo))
    grad_x_pad = np.zeros_like(x_pad, dtype=np.result_type(x, W, grad_y))
    grad_W = np.zeros_like(W, dtype=grad_x_pad.dtype)
    for n in range(N):
        for f in range(F):
            for h in range(Ho):
                for w in range(Wo):
                    g = grad_y[n, f, h, w]
                    rows = slice(h * sh, h * sh + kh)
                    cols = slice(w * sw, w * sw + kw)
                    grad_x_pad[n, :, rows, cols] += g * W[f]
                    grad_W[f] += g * x_pad[n, :, rows, cols]
    grad_b = grad_y.sum(axis=(0, 2, 3))
    H, Wd = x.shape[2], x.shape[3]
    return grad_x_pad[:, :, ph : ph + H, pw : pw + Wd], grad_W, grad_b


def _pool_args(x, kernel_size, stride, owner):
    x = check_array(x, owner=owner, name="x", shape=("N", "C", "H", "W"))
    k = as_pair(kernel_size, owner=owner, name="kernel_size")
    s = k if stride is None else as_pair(stride, owner=owner, name="stride")
    out_hw = output_shape(x.shape, k, s, (0, 0), owner=owner, has_padding=False)
    return x, k, s, out_hw


def maxpool2d_forward_naive(
    x: np.ndarray, kernel_size: IntPair = 2, stride: IntPair | None = None
) -> np.ndarray:
    """y[n, c, h, w] = max of the window x[n, c, h*s : h*s + kh, w*s : w*s + kw].

    x: (N, C, H, W) -> y: (N, C, H_out, W_out); stride defaults to kernel_size.
    """
    x, (kh, kw), (sh, sw), (Ho, Wo) = _pool_args(x, kernel_size, stride, "maxpool2d_forward_naive")
    N, C = x.shape[:2]
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    y[n, c, h, w] = x[n, c, h * sh : h * sh + kh, w * sw : w * sw + kw].max()
    return y


def maxpool2d_backward_naive(
    grad_y: np.ndarray, x: np.ndarray, kernel_size: IntPair = 2, stride: IntPair | None = None
) -> np.ndarray:
    """Each window's gradient goes to its maximum: grad_y (N, C, H_out, W_out) -> (N, C, H, W).

    Ties: the first maximum in window order (row by row), which is what np.argmax of
    the flattened window returns -- the same rule as dlteach.pooling.MaxPool2D.
    (Windows holding a NaN differ: np.argmax picks the first NaN, MaxPool2D the window's
    last element. Neither is meaningful; a NaN means training has already diverged.)
    """
    owner = "maxpool2d_backward_naive"
    x, (kh, kw), (sh, sw), (Ho, Wo) = _pool_args(x, kernel_size, stride, owner)
    N, C = x.shape[:2]
    grad_y = check_array(grad_y, owner=owner, name="grad_y", shape=(N, C, Ho, Wo))
    grad_x = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    window = x[n, c, h * sh : h * sh + kh, w * sw : w * sw + kw]
                    i, j = divmod(int(np.argmax(window)), kw)  # first maximum
                    grad_x[n, c, h * sh + i, w * sw + j] += grad_y[n, c, h, w]
    return grad_x


def avgpool2d_forward_naive(
    x: np.ndarray, kernel_size: IntPair = 2, stride: IntPair | None = None
) -> np.ndarray:
    """y[n, c, h, w] = mean of the window x[n, c, h*s : h*s + kh, w*s : w*s + kw]."""
    x, (kh, kw), (sh, sw), (Ho, Wo) = _pool_args(x, kernel_size, stride, "avgpool2d_forward_naive")
    N, C = x.shape[:2]
    y = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    y[n, c, h, w] = x[n, c, h * sh : h * sh + kh, w * sw : w * sw + kw].mean()
    return y


def avgpool2d_backward_naive(
    grad_y: np.ndarray, x: np.ndarray, kernel_size: IntPair = 2, stride: IntPair | None = None
) -> np.ndarray:
    """Each window's gradient is shared equally: every element gets g / (kh*kw)."""
    owner = "avgpool2d_backward_naive"
    x, (kh, kw), (sh, sw), (Ho, Wo) = _pool_args(x, kernel_size, stride, owner)
    N, C = x.shape[:2]
    grad_y = check_array(grad_y, owner=owner, name="grad_y", shape=(N, C, Ho, Wo))
    grad_x = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for h in range(Ho):
                for w in range(Wo):
                    rows = slice(h * sh, h * sh + kh)
                    cols = slice(w * sw, w * sw + kw)
                    grad_x[n, c, rows, cols] += grad_y[n, c, h, w] / (kh * kw)
    return grad_x
