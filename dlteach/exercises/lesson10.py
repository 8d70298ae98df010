"""Checks for lesson 10, from dlteach to PyTorch (``solutions/10_to_pytorch.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
reference below and returns a :class:`~dlteach.checking.Verdict`. The exercises move
weights and images between the two libraries' layouts, in NumPy: no check needs PyTorch.

- ``linear_weights``: a Dense layer's W (D_in, D_out) and b (D_out,) as nn.Linear's weight
  (D_out, D_in) and bias. D_in != D_out (a missing transpose changes the shape), a square
  W that is not symmetric (only the values tell W from its transpose), a single output
  (weight keeps two axes), float32.
- ``lstm_weights``: an LSTM's Wx (D, 4H), Wh (H, 4H), b (4H,) with gate blocks i, f, o, g
  (dlteach, lesson 5) as nn.LSTM's weight_ih (4H, D), weight_hh (4H, H), bias_ih and
  bias_hh with blocks i, f, g, o. The convention of ``dlteach.torch_bridge.to_torch``: all
  of b in bias_ih, zeros in bias_hh (PyTorch adds the two). Every block has its own values
  (a wrong gate order shows), D != H (a block size taken from the wrong matrix shows),
  H = 1 and D = 1, float32 (zeros made without the dtype show).
- ``channels_last``: images (N, C, H, W) as (N, H, W, C), and back with
  ``inverse=True``. Every axis a different length, a square image (swapping height and
  width keeps the shape but transposes the picture), a batch of one grayscale digit
  (no axis may be dropped), uint8 pixels and float32 (the dtype is kept).

A case may carry its own hint, which names what to look at without giving the code away.
Once every value is right, a second pass compares the dtypes: float32 in, float32 out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlteach.checking import (
    DTYPE_HINT,
    Case,
    Verdict,
    check_with_case_hints,
    graded,
    seeded_case,
)
from dlteach.checking import normal_code as _normal
from dlteach.exercises import LESSON_EXERCISES
from dlteach.lstm import GATES

LESSON = "10_to_pytorch"
# Every check: the values on every case, then, once they are all right, the dtypes.
_check = partial(check_with_case_hints, dtypes=True)
EXERCISES = LESSON_EXERCISES[LESSON]
Array = np.ndarray

# PyTorch's nn.LSTM keeps its four gate blocks in this order (dlteach's is GATES: i, f, o, g).
TORCH_GATES = ("input", "forget", "candidate", "output")


# ---------------------------------------------------------------- references


def linear_weights(W: Array, b: Array) -> tuple[Array, Array]:
    """Reference: a Dense layer's W (D_in, D_out), b (D_out,) as nn.Linear's
    (weight (D_out, D_in), bias (D_out,)): x @ weight.T + bias == x @ W + b."""
    W, b = np.asarray(W), np.asarray(b)
    return W.T.copy(), b.copy()


def lstm_weights(Wx: Array, Wh: Array, b: Array) -> tuple[Array, Array, Array, Array]:
    """Reference: dlteach's LSTM weights as nn.LSTM's, gate blocks reordered.

    Wx: (D, 4H), Wh: (H, 4H), b: (4H,), blocks i, f, o, g  ->  (weight_ih (4H, D),
    weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,)), blocks i, f, g, o; bias_ih holds
    all of b, bias_hh zeros (PyTorch adds the two biases).
    """
    Wx, Wh, b = np.asarray(Wx), np.asarray(Wh), np.asarray(b)
    H = Wh.shape[0]
    order = np.concatenate([np.arange(H) + GATES.index(gate) * H for gate in TORCH_GATES])
    return Wx[:, order].T.copy(), Wh[:, order].T.copy(), b[order], np.zeros_like(b)


def channels_last(x: Array, inverse: bool = False) -> Array:
    """Reference: images (N, C, H, W) -> (N, H, W, C); with inverse=True,
    (N, H, W, C) -> (N, C, H, W). out[n, i, j, c] == x[n, c, i, j]."""
    x = np.asarray(x)
    axes = (0, 3, 1, 2) if inverse else (0, 2, 3, 1)
    return np.transpose(x, axes).copy()


# ---------------------------------------------------------------- cases


@graded
def check_linear_weights(fn: Callable) -> Verdict:
    """linear_weights(W, b) -> (weight (D_out, D_in), bias (D_out,)) for nn.Linear."""
    cases = [
        (Case((np.array([[0.5, -1.0], [0.25, 2.0], [-0.75, 1.5]]), np.array([0.25, -0.5])),
              label="D_in = 3 inputs, D_out = 2 outputs"),
         "nn.Linear stores its weight as (D_out, D_in) = (2, 3): row j holds the 3 weights "
         "that make output j, so that x @ weight.T + bias equals the Dense layer's "
         "x @ W + b. The bias is the same vector b, shape (D_out,)."),
        (Case((np.array([[1.0, -0.5], [0.75, 2.0]]), np.array([0.5, -0.25])),
              label="D_in = D_out = 2: a square W that is not symmetric"),
         "W is square here, so W and its transpose have the same shape (2, 2): only the "
         "values tell them apart. weight[j, k] must be W[k, j]. Rearranging the numbers "
         "into the new shape (a reshape) is not a transpose either."),
        (Case((np.array([[0.5], [-1.25], [2.0], [0.75]]), np.array([0.125])),
              label="D_out = 1: a single output"),
         "With one output the weight is still a matrix, (D_out, D_in) = (1, 4), and the "
         "bias still a vector of shape (1,): keep both axes, drop none."),
        (seeded_case(1, "float32 weights: float32 results", "float32", W=(5, 3), b=(3,)), None),
        (seeded_case(2, "the lesson-4 CNN's last layer: D_in = 512, D_out = 10",
                     W=_normal(512, 10, scale=0.05), b=_normal(10, scale=0.1)), None),
    ]
    return _check(
        fn, linear_weights, cases, exercise="linear_weights",
        hint=("A Dense layer computes x @ W + b with W of shape (D_in, D_out); nn.Linear "
              "computes x @ weight.T + bias with weight of shape (D_out, D_in). Return "
              "(weight, bias) so that both give the same outputs."),
    )


_GATE_HINT = (
    "dlteach's LSTM keeps its four gate blocks of H columns in the order i, f, o, g "
    "(lesson 5); nn.LSTM keeps them as rows, in the order i, f, g, o: the first two blocks "
    "stay where they are, the last two swap. Take H from Wh, which is (H, 4H)."
)


@graded
def check_lstm_weights(fn: Callable) -> Verdict:
    """lstm_weights(Wx, Wh, b) -> (weight_ih, weight_hh, bias_ih, bias_hh) for nn.LSTM."""
    b = np.array([0.25, 0.5, 1.25, 1.5, 2.25, 2.5, 3.25, 3.5])  # block k: k + 0.25, k + 0.5
    cases = [
        (Case((np.zeros((2, 8)), np.zeros((2, 8)), b),
              label="Wx = 0 and Wh = 0, D = 2, H = 2: the biases alone"),
         f"{_GATE_HINT} The blocks of b move like the columns of the weights. The lesson's "
         "convention (to_torch's, in dlteach.torch_bridge): all of b goes into bias_ih, and "
         "bias_hh is zeros of b's shape and dtype. PyTorch adds the two, so b/2 + b/2 would "
         "compute the same function, but the check wants the convention."),
        (Case((np.arange(16.0).reshape(2, 8) / 4, -np.arange(16.0).reshape(2, 8) / 8, b),
              label="D = 2, H = 2: every column of Wx and Wh its own value"),
         f"{_GATE_HINT} Reorder the columns of Wx and Wh by whole blocks, like b, then "
         "transpose: PyTorch stores weight_ih as (4H, D) and weight_hh as (4H, H), one row "
         "per gate unit. Rearranging the numbers into the new shape (a reshape) is not a "
         "transpose."),
        (seeded_case(11, "D = 1, H = 1: each gate block is a single column", Wx=(1, 4),
                     Wh=(1, 4), b=(4,)),
         "With D = 1 and H = 1 the weights are still matrices: weight_ih is (4H, D) = (4, 1) "
         "and weight_hh (4H, H) = (4, 1). Keep both axes, drop none."),
        (seeded_case(12, "D = 1, H = 3: a block is H = 3 columns, not D", Wx=(1, 12),
                     Wh=(3, 12), b=(12,)),
         "Here D = 1 and H = 3: a gate block is H = 3 columns wide. H is the number of "
         "rows of Wh (or a quarter of the columns), not the number of rows of Wx."),
        (seeded_case(13, "float32 weights: float32 results, bias_hh included", "float32",
                     Wx=(3, 8), Wh=(2, 8), b=(8,)), None),
        (seeded_case(14, "D = 8 inputs, H = 16 units, random values", Wx=_normal(8, 64),
                     Wh=_normal(16, 64), b=_normal(64)), None),
    ]
    return _check(
        fn, lstm_weights, cases, exercise="lstm_weights",
        hint=(f"{_GATE_HINT} Reorder the blocks, then transpose: weight_ih (4H, D), "
              "weight_hh (4H, H); bias_ih is b reordered, bias_hh zeros like b."),
        dtype_hint=(DTYPE_HINT[:-1] + ": bias_hh too, whose zeros must be made with b's "
                    "dtype."),
    )


@graded
def check_channels_last(fn: Callable) -> Verdict:
    """channels_last(x, inverse=False): (N, C, H, W) <-> (N, H, W, C)."""
    square = "The images are square, so swapping the height and width axes keeps the shape "
    cases = [
        (Case((np.arange(36.0).reshape(2, 2, 3, 3),),
              label="square 3x3 images, N = 2, C = 2: (2, 2, 3, 3) -> (2, 3, 3, 2)"),
         "Move the channel axis to the end and keep the other three in their order, so "
         "that out[n, i, j, c] == x[n, c, i, j]. " + square + "but transposes every "
         "picture: height stays before width. A reshape to (N, H, W, C) keeps the numbers "
         "in their old order: a permutation of the axes is what moves them."),
        (Case((np.arange(120.0).reshape(2, 3, 4, 5),),
              label="N = 2, C = 3, H = 4, W = 5: (2, 3, 4, 5) -> (2, 4, 5, 3)"),
         "Every axis has its own length here: the result is (N, H, W, C) = (2, 4, 5, 3), "
         "height (4) before width (5), with out[n, i, j, c] == x[n, c, i, j]."),
        (seeded_case(21, "one grayscale 8x8 digit: (1, 1, 8, 8) -> (1, 8, 8, 1)",
                     x=(1, 1, 8, 8)),
         "A batch of one image with one channel keeps all four axes: (1, 8, 8, 1). Do not "
         "drop the axes of length 1 (squeeze): the next layer expects four."),
        (Case((np.arange(36.0).reshape(2, 3, 3, 2),), {"inverse": True},
              label="inverse=True, square images: (2, 3, 3, 2) -> (2, 2, 3, 3)"),
         "With inverse=True the input is (N, H, W, C) and the channel axis, the last one, "
         "comes back to position 1: out[n, c, i, j] == x[n, i, j, c]. " + square + "but "
         "transposes every picture. Applying the forward permutation a second time does not "
         "undo it either: its inverse is another permutation."),
        (Case((np.arange(120.0).reshape(2, 4, 5, 3),), {"inverse": True},
              label="inverse=True: (2, 4, 5, 3) -> (2, 3, 4, 5)"),
         "Every axis has its own length here: the result is (N, C, H, W) = (2, 3, 4, 5), "
         "height (4) before width (5), with out[n, c, i, j] == x[n, i, j, c]."),
        (seeded_case(22, "uint8 pixels stay uint8", x="rng.integers(0, 256, size=(2, 3, 2, 4), "
                     "dtype=np.uint8)"), None),
        (seeded_case(23, "float32 images stay float32, inverse=True", "float32",
                     x=(3, 5, 2, 4), inverse="True"), None),
    ]
    return _check(
        fn, channels_last, cases, exercise="channels_last",
        hint=("Images (N, C, H, W) become (N, H, W, C): the channel axis moves to the end, "
              "the others keep their order; inverse=True moves it back to position 1. The "
              "values move with their axes, and the dtype stays the input's."),
        dtype_hint=(DTYPE_HINT[:-1] + ", and images of uint8 pixels stay uint8."),
    )
