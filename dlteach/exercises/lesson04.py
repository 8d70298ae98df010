"""Checks for lesson 4, convolutional networks (``solutions/04_cnn.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, including
the edge cases that catch the usual mistakes (a stride that leaves a leftover column, a
non-square kernel that exposes swapped axes, an asymmetric kernel that exposes a flipped
one, all-negative windows, tied maxima after a ReLU), against the library's reference,
and returns a :class:`~dlteach.checking.Verdict`.

The references are the library's own code: :func:`dlteach.im2col.conv_output_size`,
:func:`dlteach.im2col.im2col` and the plain-loop functions of
:mod:`dlteach.conv_reference`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.checking import Case, Verdict, check_function
from dlteach.conv_reference import (
    conv2d_forward_naive,
    maxpool2d_backward_naive,
    maxpool2d_forward_naive,
)
from dlteach.exercises import LESSON_EXERCISES
from dlteach.im2col import conv_output_size as _conv_output_size
from dlteach.im2col import im2col as _im2col

LESSON = "04_cnn"
EXERCISES = LESSON_EXERCISES[LESSON]


# ---------------------------------------------------------------- references


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Reference: (size + 2*padding - kernel) // stride + 1 positions along one axis."""
    return _conv_output_size(size, kernel, stride, padding)


def conv2d_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Reference: the convolution of ONE image.

    x: (C, H, W), W: (F, C, kh, kw), b: (F,)  ->  y: (F, H_out, W_out), computed by
    :func:`dlteach.conv_reference.conv2d_forward_naive` on a batch of one.
    """
    return conv2d_forward_naive(x[None], W, b, stride, padding)[0]


def im2col(x: np.ndarray, k: int) -> np.ndarray:
    """Reference: x: (N, C, H, W) -> cols: (C*k*k, N*H_out*W_out), stride 1, no padding."""
    return _im2col(x, k)


def maxpool_forward(x: np.ndarray, k: int) -> np.ndarray:
    """Reference: k x k max pooling with stride k. x: (N, C, H, W) -> (N, C, H//k, W//k)."""
    return maxpool2d_forward_naive(x, k)


def maxpool_backward(grad_y: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Reference: grad_y: (N, C, H_out, W_out), x: (N, C, H, W) -> grad_x: (N, C, H, W).

    Each window's gradient goes to its maximum; on a tie, to the first maximum in
    window order (row by row).
    """
    return maxpool2d_backward_naive(grad_y, x, k)


def _ints(rng: np.random.Generator, shape: tuple[int, ...], low: int = -3, high: int = 4):
    """Small random integers as floats, so failure messages stay readable."""
    return rng.integers(low, high, size=shape).astype(np.float64)


# The 5x5 image and 3x3 kernel of the lesson's first example (a vertical edge).
_IMAGE = np.array(
    [
        [0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 0.0],
    ]
)
_KERNEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


# ---------------------------------------------------------------- checks


def check_conv_output_size(fn: Callable) -> Verdict:
    """conv_output_size(size, kernel, stride=1, padding=0) -> H_out, an int."""
    cases = [
        Case((5, 3), label="5 pixels, a 3-wide kernel, stride 1, no padding"),
        Case((5, 3, 1, 1), label="padding 1 keeps the size of a 3x3 convolution"),
        Case((7, 3, 2, 0), label="stride 2"),
        Case((6, 3, 2, 0), label="stride 2 leaves a leftover column: it is dropped"),
        Case((8, 3, 2, 1), label="stride 2 and padding 1"),
        Case((28, 5, 1, 2), label="a 5x5 kernel with padding 2"),
        Case((4, 4), label="a kernel as large as the input: one position"),
        Case((8, 2, 2, 0), label="a 2x2 pooling window with stride 2"),
    ]
    return check_function(
        fn,
        conv_output_size,
        cases,
        exercise="conv_output_size",
        hint=(
            "H_out = floor((H + 2p - k) / s) + 1. Use integer division, "
            "(size + 2 * padding - kernel) // stride + 1: a window that would stick out past "
            "the (padded) edge is not counted, and the result is an int (a size: np.floor "
            "and / give floats). Do not forget that padding adds p pixels on BOTH sides."
        ),
        integers=True,
    )


def check_conv2d_forward(fn: Callable) -> Verdict:
    """conv2d_forward(x, W, b, stride=1, padding=0) for one image x: (C, H, W)."""
    rng = np.random.default_rng(4)
    cases = [
        Case((_IMAGE[None], _KERNEL[None, None], np.zeros(1)),
             label="the lesson's 5x5 image and vertical-edge kernel"),
        Case((_ints(rng, (1, 4, 4)), _ints(rng, (2, 1, 3, 3)), np.array([0.5, -1.0])),
             label="two filters, each with its bias"),
        Case((_ints(rng, (1, 4, 4)), _ints(rng, (1, 1, 3, 3)), np.zeros(1)), {"padding": 1},
             label="padding 1: zeros around the image"),
        Case((_ints(rng, (1, 6, 6)), _ints(rng, (1, 1, 3, 3)), np.zeros(1)), {"stride": 2},
             label="stride 2 (the leftover last column is dropped)"),
        Case((_ints(rng, (3, 4, 4)), _ints(rng, (2, 3, 3, 3)), np.array([1.0, 0.0])),
             label="3 input channels: a kernel spans all of them"),
        Case((_ints(rng, (2, 4, 6)), _ints(rng, (2, 2, 2, 3)), np.array([0.0, 2.0])),
             {"stride": 1, "padding": 1},
             label="a 4x6 image and 2x3 kernels: rows and columns differ"),
    ]
    return check_function(
        fn,
        conv2d_forward,
        cases,
        exercise="conv2d_forward",
        hint=(
            "y[f, h, w] = b[f] + sum over c, i, j of W[f, c, i, j] * x_pad[c, h*s + i, w*s + j]. "
            "Pad with np.pad(x, ((0, 0), (p, p), (p, p))), compute H_out and W_out with the "
            "formula, then for every f, h, w take the window x_pad[:, h*s : h*s + kh, "
            "w*s : w*s + kw] (all channels) and add np.sum(window * W[f]) + b[f]. Do not flip "
            "the kernel: deep learning's 'convolution' is a cross-correlation."
        ),
    )


def check_im2col(fn: Callable) -> Verdict:
    """im2col(x, k) -> cols: (C*k*k, N*H_out*W_out), stride 1, no padding."""
    rng = np.random.default_rng(5)
    counting = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    cases = [
        Case((counting, 2), label="one 3x3 image holding 1..9, a 2x2 kernel"),
        Case((np.arange(16.0).reshape(1, 1, 4, 4), 3), label="one 4x4 image, a 3x3 kernel"),
        Case((np.stack([counting[0, 0], -counting[0, 0]])[None], 2),
             label="2 channels: rows are ordered (c, i, j)"),
        Case((np.concatenate([counting, 10 * counting]), 2),
             label="2 images: columns are ordered (n, h, w)"),
        Case((_ints(rng, (2, 3, 5, 4)), 3), label="2 images, 3 channels, 5x4 pixels"),
        Case((_ints(rng, (1, 2, 3, 3)), 3), label="a kernel as large as the image: one column"),
    ]
    return check_function(
        fn,
        im2col,
        cases,
        exercise="im2col",
        hint=(
            "Row (c*k + i)*k + j, column (n*H_out + h)*W_out + w of cols holds "
            "x[n, c, h + i, w + j] (not the transposed (N*H_out*W_out, C*k*k) layout of some "
            "textbooks). Loop over the k*k offsets (i, j): x[:, :, i : i + H_out, j : j + W_out] "
            "holds element (i, j) of every patch; transpose it to (C, N, H_out, W_out), store "
            "it in cols6[:, i, j] of an array of shape (C, k, k, N, H_out, W_out), and reshape "
            "that to (C*k*k, N*H_out*W_out) at the end."
        ),
    )


def check_maxpool_forward(fn: Callable) -> Verdict:
    """maxpool_forward(x, k) -> (N, C, H//k, W//k), the maximum of every k x k window."""
    rng = np.random.default_rng(6)
    cases = [
        Case((np.arange(16.0).reshape(1, 1, 4, 4)[:, :, :, ::-1].copy(), 2),
             label="one 4x4 channel, 2x2 windows"),
        Case((-1.0 - np.arange(16.0).reshape(1, 1, 4, 4), 2),
             label="all values negative: the maximum is below 0"),
        Case((_ints(rng, (2, 3, 4, 4), -5, 6), 2), label="2 images, 3 channels"),
        Case((_ints(rng, (1, 2, 5, 5), -5, 6), 2),
             label="5x5 with 2x2 windows: the last row and column are dropped"),
        Case((_ints(rng, (1, 1, 6, 6), -9, 10), 3), label="3x3 windows"),
        Case((_ints(rng, (1, 1, 4, 6), -9, 10), 2), label="a 4x6 channel: rows and columns differ"),
    ]
    return check_function(
        fn,
        maxpool_forward,
        cases,
        exercise="maxpool_forward",
        hint=(
            "y[n, c, h, w] is the maximum of x[n, c, h*k : h*k + k, w*k : w*k + k], with "
            "H_out = H // k (a partial window at the edge is dropped). Loops over h and w work; "
            "vectorized: np.maximum over the k*k slices x[:, :, i : i + k*H_out : k, "
            "j : j + k*W_out : k]. Start from the first slice, not from 0: all values may be "
            "negative."
        ),
    )


def check_maxpool_backward(fn: Callable) -> Verdict:
    """maxpool_backward(grad_y, x, k) -> grad_x: (N, C, H, W)."""
    rng = np.random.default_rng(7)
    x_rand = rng.permutation(2 * 2 * 4 * 4).astype(np.float64).reshape(2, 2, 4, 4)
    relu_out = np.maximum(_ints(rng, (1, 1, 4, 4), -4, 3), 0.0)
    relu_out[0, 0, :2, :2] = 0.0  # a window of zeros, as after a ReLU
    cases = [
        Case((np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
              np.arange(16.0).reshape(1, 1, 4, 4)[:, :, :, ::-1].copy(), 2),
             label="one 4x4 channel: each gradient goes to its window's maximum"),
        Case((_ints(rng, (2, 2, 2, 2)), x_rand, 2), label="2 images, 2 channels"),
        Case((np.array([[[[1.0, -2.0], [0.5, 3.0]]]]), _ints(rng, (1, 1, 5, 5), -9, 10), 2),
             label="5x5: the dropped last row and column get gradient 0"),
        Case((np.array([[[[5.0, 1.0], [2.0, 3.0]]]]), relu_out, 2),
             label="ties (a window of zeros after a ReLU): only the first maximum"),
        Case((_ints(rng, (1, 2, 2, 2)), _ints(rng, (1, 2, 6, 6), -20, 20), 3),
             label="3x3 windows"),
        Case((_ints(rng, (1, 1, 2, 3)), rng.permutation(24).astype(np.float64).reshape(1, 1, 4, 6),
              2), label="a 4x6 channel: 2 rows and 3 columns of windows"),
    ]
    return check_function(
        fn,
        maxpool_backward,
        cases,
        exercise="maxpool_backward",
        hint=(
            "Only the maximum of a window affected the output, so grad_x is zero everywhere "
            "except at each window's maximum, which receives that window's grad_y[n, c, h, w]. "
            "Start from np.zeros_like(x); for every window find the maximum with "
            "i, j = divmod(np.argmax(window), k) and add grad_y there. When several elements "
            "tie for the maximum, only the FIRST (row by row, what np.argmax returns) gets the "
            "gradient: a mask x == max would give it to all of them."
        ),
    )
