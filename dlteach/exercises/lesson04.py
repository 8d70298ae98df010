"""Checks for lesson 4, convolutional networks (``solutions/04_cnn.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, including
the edge cases that catch the usual mistakes (a stride that leaves a leftover column, a
non-square kernel that exposes swapped axes, an asymmetric kernel that exposes a flipped
one, all-negative windows, tied maxima after a ReLU), against the library's reference,
and returns a :class:`~dlteach.checking.Verdict`. Further cases probe what a learner's
code can get subtly wrong: values that are not whole numbers (an integer array rounds
them), stride and padding together, several channels and filters at once, values far
below any fixed starting maximum, and activations too close for a tolerance to tell
apart. Each case may carry its own hint, which names what to look at without giving the
code away (:func:`dlteach.exercises.lesson03.check_with_case_hints`).

The references are the library's own code: :func:`dlteach.im2col.conv_output_size`,
:func:`dlteach.im2col.im2col` and the plain-loop functions of
:mod:`dlteach.conv_reference`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.checking import Case, Verdict, check_with_case_hints, graded
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


def _quarters(rng: np.random.Generator, shape: tuple[int, ...], low: int = -3, high: int = 4):
    """Random multiples of 0.25 that are not whole numbers: an integer array would lose them.

    Short to print, and exact in binary, so sums of them are exact too.
    """
    return rng.integers(low, high, size=shape) + rng.choice([0.25, 0.5, 0.75], size=shape)


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

_FLOAT_BUFFER_HINT = (
    "Compare expected and got: if the values differ only by their fractions, the array "
    "you fill holds integers (an int dtype, or np.zeros_like of an int array) and rounds "
    "every value you store. It must hold floats like the input."
)


# ---------------------------------------------------------------- checks


@graded
def check_conv_output_size(fn: Callable) -> Verdict:
    """conv_output_size(size, kernel, stride=1, padding=0) -> H_out, an int."""
    cases = [
        (Case((5, 3), label="5 pixels, a 3-wide kernel, stride 1, no padding"),
         "Count the positions by hand: a 3-wide kernel fits at pixels 0, 1 and 2 of 5, so "
         "3 positions. The first position counts too."),
        (Case((5, 3, 1, 1), label="padding 1 keeps the size of a 3x3 convolution"),
         "Padding adds p zeros at EACH end of the axis, before the kernel slides."),
        (Case((7, 3, 2, 0), label="stride 2"), None),
        (Case((6, 3, 2, 0), label="stride 2 leaves a leftover column: it is dropped"),
         "A window that would stick out past the (padded) edge is not a position, so the "
         "division rounds down; and the result is a size: a whole number, an int, not a "
         "float such as 2.5 or 2.0."),
        (Case((8, 3, 2, 1), label="stride 2 and padding 1"), None),
        (Case((28, 5, 1, 2), label="a 5x5 kernel with padding 2"), None),
        (Case((4, 4), label="a kernel as large as the input: one position"), None),
        (Case((8, 2, 2, 0), label="a 2x2 pooling window with stride 2"), None),
        (Case((8, 3, 3, 1), label="stride 3 and padding 1: pad first, then step by 3"),
         "With stride 3 the order matters: the kernel steps over the padded length. Divide "
         "the room the kernel has in the padded input by the stride once, rather than "
         "dividing the image and the padding separately."),
    ]
    return check_with_case_hints(
        fn,
        conv_output_size,
        cases,
        exercise="conv_output_size",
        hint=(
            "Count the positions where the kernel fits inside the padded input when it steps "
            "by the stride (section 3 has the formula). The result is a size: an int."
        ),
        integers=True,
    )


@graded
def check_conv2d_forward(fn: Callable) -> Verdict:
    """conv2d_forward(x, W, b, stride=1, padding=0) for one image x: (C, H, W)."""
    rng = np.random.default_rng(4)
    cases = [
        (Case((_IMAGE[None], _KERNEL[None, None], np.zeros(1)),
              label="the lesson's 5x5 image and vertical-edge kernel"),
         "Compare with the hand computation of section 1: each output is the sum of a "
         "window times the kernel as it is given. Deep learning's convolution does not flip "
         "the kernel (it is a cross-correlation)."),
        (Case((_ints(rng, (1, 4, 4)), _ints(rng, (2, 1, 3, 3)), np.array([0.5, -1.0])),
              label="two filters, each with its bias"),
         "Filter f has its own bias b[f], added once to each output of its map (not to "
         "every product, and not b[w] by broadcasting along the wrong axis)."),
        (Case((_ints(rng, (1, 4, 4)), _ints(rng, (1, 1, 3, 3)), np.zeros(1)), {"padding": 1},
              label="padding 1: zeros around the image"),
         "Padding adds p rows and columns of zeros around the height and width of the "
         "image (not around the channel axis) before the kernel slides."),
        (Case((_ints(rng, (1, 6, 6)), _ints(rng, (1, 1, 3, 3)), np.zeros(1)), {"stride": 2},
              label="stride 2 (the leftover last column is dropped)"),
         "With stride s, the window of output (h, w) starts s*h rows and s*w columns into "
         "the image; a window that would stick out is not computed."),
        (Case((_ints(rng, (3, 4, 4)), _ints(rng, (2, 3, 3, 3)), np.array([1.0, 0.0])),
              label="3 input channels: a kernel spans all of them"),
         "Each kernel W[f] has one slice per input channel: one output number sums over "
         "all channels of the window, so C input channels still give one map per filter."),
        (Case((_ints(rng, (2, 4, 6)), _ints(rng, (2, 2, 2, 3)), np.array([0.0, 2.0])),
              {"stride": 1, "padding": 1},
              label="a 4x6 image and 2x3 kernels: rows and columns differ"),
         "Rows and columns differ here: the output height comes from the image height and "
         "kh, the width from the image width and kw."),
        (Case((_quarters(rng, (3, 7, 5)), _quarters(rng, (4, 3, 3, 3)),
               _quarters(rng, (4,))), {"stride": 2, "padding": 1},
              label="3 channels, 4 filters, stride 2 and padding 1 at once, values not whole"),
         "Everything at once, as in the lesson's layer, with values that are not whole "
         "numbers. " + _FLOAT_BUFFER_HINT + " Otherwise look at where the window of output "
         "(h, w) starts in the padded image."),
    ]
    return check_with_case_hints(
        fn,
        conv2d_forward,
        cases,
        exercise="conv2d_forward",
        hint=(
            "Each output y[f, h, w] is one window of the padded image, over all channels, "
            "times kernel f, summed, plus b[f] (section 4)."
        ),
    )


@graded
def check_im2col(fn: Callable) -> Verdict:
    """im2col(x, k) -> cols: (C*k*k, N*H_out*W_out), stride 1, no padding."""
    rng = np.random.default_rng(5)
    counting = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    cases = [
        (Case((counting, 2), label="one 3x3 image holding 1..9, a 2x2 kernel"),
         "Each column of cols is one patch (one output position), read row by row; compare "
         "yours with the figure of section 5."),
        (Case((np.arange(16.0).reshape(1, 1, 4, 4), 3), label="one 4x4 image, a 3x3 kernel"),
         "cols has one row per kernel entry (C*k*k rows) and one column per output position "
         "(N*H_out*W_out columns): not the transposed layout of some textbooks."),
        (Case((np.stack([counting[0, 0], -counting[0, 0]])[None], 2),
              label="2 channels: rows are ordered (c, i, j)"),
         "The rows go channel by channel: all k*k entries of channel 0, then those of "
         "channel 1."),
        (Case((np.concatenate([counting, 10 * counting]), 2),
              label="2 images: columns are ordered (n, h, w)"),
         "The columns go image by image: every position of image 0, then those of image 1."),
        (Case((_ints(rng, (2, 3, 5, 4)), 3), label="2 images, 3 channels, 5x4 pixels"), None),
        (Case((_ints(rng, (1, 2, 3, 3)), 3), label="a kernel as large as the image: one column"),
         None),
        (Case((_quarters(rng, (2, 2, 3, 3)), 2),
              label="values that are not whole numbers: cols holds them unchanged"),
         _FLOAT_BUFFER_HINT),
    ]
    return check_with_case_hints(
        fn,
        im2col,
        cases,
        exercise="im2col",
        hint=(
            "Row (c, i, j) and column (n, h, w) of cols hold entry (i, j) of channel c of the "
            "patch at output position (h, w) of image n, in the layout of section 5."
        ),
    )


_SENTINEL_HINT = (
    "Every value is below -1e9. A running maximum that starts from a fixed number (0, "
    "-1e9, -9999) is never beaten here; start it from a value of the window itself."
)


@graded
def check_maxpool_forward(fn: Callable) -> Verdict:
    """maxpool_forward(x, k) -> (N, C, H//k, W//k), the maximum of every k x k window."""
    rng = np.random.default_rng(6)
    cases = [
        (Case((np.arange(16.0).reshape(1, 1, 4, 4)[:, :, :, ::-1].copy(), 2),
              label="one 4x4 channel, 2x2 windows"), None),
        (Case((-1.0 - np.arange(16.0).reshape(1, 1, 4, 4), 2),
              label="all values negative: the maximum is below 0"),
         "All values are negative, so every maximum is below 0: a running maximum must "
         "start from a value of the window, not from 0."),
        (Case((_ints(rng, (2, 3, 4, 4), -5, 6), 2), label="2 images, 3 channels"), None),
        (Case((_ints(rng, (1, 2, 5, 5), -5, 6), 2),
              label="5x5 with 2x2 windows: the last row and column are dropped"),
         "H // k rows and W // k columns of windows: a partial window at the bottom or "
         "right border is dropped, not pooled."),
        (Case((_ints(rng, (1, 1, 6, 6), -9, 10), 3), label="3x3 windows"),
         "With k = 3 the windows are 3x3 and start every 3 pixels."),
        (Case((_ints(rng, (1, 1, 4, 6), -9, 10), 2),
              label="a 4x6 channel: rows and columns differ"),
         "The number of window rows comes from H, the number of window columns from W."),
        (Case((_quarters(rng, (1, 2, 4, 4)), 2),
              label="values that are not whole numbers: the maxima keep their fractions"),
         _FLOAT_BUFFER_HINT),
        (Case((-1e10 * (1.0 + rng.permutation(16).reshape(1, 1, 4, 4)), 2),
              label="every value below -1e9: no fixed start is small enough"),
         _SENTINEL_HINT),
    ]
    return check_with_case_hints(
        fn,
        maxpool_forward,
        cases,
        exercise="maxpool_forward",
        hint=(
            "Each output is the largest value of one k x k window; the windows sit side by "
            "side (stride k) and a partial window at the border is dropped (section 6)."
        ),
    )


@graded
def check_maxpool_backward(fn: Callable) -> Verdict:
    """maxpool_backward(grad_y, x, k) -> grad_x: (N, C, H, W)."""
    rng = np.random.default_rng(7)
    x_rand = rng.permutation(2 * 2 * 4 * 4).astype(np.float64).reshape(2, 2, 4, 4)
    relu_out = np.maximum(_ints(rng, (1, 1, 4, 4), -4, 3), 0.0)
    relu_out[0, 0, :2, :2] = 0.0  # a window of zeros, as after a ReLU
    # Small activations whose maximum is never a window's first entry, with near-maxima
    # 1e-9 below it: np.isclose calls all of them equal.
    tiny = 1e-9 * np.array([[[[1.0, 3.0, 2.0, 1.5], [2.5, 0.5, 2.9, 3.0],
                              [0.0, 0.2, 4.0, 4.5], [0.1, 0.3, 1.0, 3.5]]]])
    far_below = -1e10 * (1.0 + np.random.default_rng(8).permutation(16).reshape(1, 1, 4, 4))
    cases = [
        (Case((np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
               np.arange(16.0).reshape(1, 1, 4, 4)[:, :, :, ::-1].copy(), 2),
              label="one 4x4 channel: each gradient goes to its window's maximum"),
         "Only the maximum of a window reached the output, so it alone receives that "
         "window's gradient, whole; every other entry of grad_x is 0 (section 6)."),
        (Case((_ints(rng, (2, 2, 2, 2)), x_rand, 2), label="2 images, 2 channels"), None),
        (Case((np.array([[[[1.0, -2.0], [2.0, 3.0]]]]), _ints(rng, (1, 1, 5, 5), -9, 10), 2),
              label="5x5: the dropped last row and column get gradient 0",
              rebuild="rng = np.random.default_rng(7); rng.permutation(64); "
                      "rng.integers(-4, 3, size=(1, 1, 4, 4)); "
                      "rng.integers(-3, 4, size=(2, 2, 2, 2)); "
                      "grad_y = np.array([[[[1.0, -2.0], [2.0, 3.0]]]]); "
                      "x = rng.integers(-9, 10, size=(1, 1, 5, 5)).astype(np.float64); k = 2"),
         "The last row and column belong to no window: their gradient is 0, and grad_x "
         "has the shape of x."),
        (Case((np.array([[[[5.0, 1.0], [2.0, 3.0]]]]), relu_out, 2),
              label="ties (a window of zeros after a ReLU): only the first maximum"),
         "Several entries tie for the maximum here: only the FIRST of them in reading order "
         "(row by row) gets the gradient, or the window would pass it on several times."),
        (Case((_ints(rng, (1, 2, 2, 2)), _ints(rng, (1, 2, 6, 6), -20, 20), 3),
              label="3x3 windows"), None),
        (Case((_ints(rng, (1, 1, 2, 3)),
               rng.permutation(24).astype(np.float64).reshape(1, 1, 4, 6), 2),
              label="a 4x6 channel: 2 rows and 3 columns of windows"),
         "Rows and columns of windows differ here: their numbers come from H and W "
         "separately."),
        (Case((np.array([[[[0.25, -1.5], [2.75, 0.5]]]]), x_rand[:1, :1], 2),
              label="gradients that are not whole numbers: grad_x keeps their fractions"),
         _FLOAT_BUFFER_HINT),
        (Case((np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), tiny, 2),
              label="small activations 1e-9 apart: only the exact maximum"),
         "These values differ by about 1e-9, and each window's maximum is not its first "
         "entry. Compare them exactly: a tolerance (np.isclose, or >= max - 1e-6) makes "
         "near-maxima look tied and sends the gradient to the wrong entry."),
        (Case((np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), far_below, 2),
              label="every value below -1e9: no fixed start is small enough"),
         _SENTINEL_HINT),
    ]
    return check_with_case_hints(
        fn,
        maxpool_backward,
        cases,
        exercise="maxpool_backward",
        hint=(
            "grad_x is zero everywhere except at each window's maximum, which receives that "
            "window's grad_y (section 6); on a tie, the first maximum in reading order."
        ),
    )
