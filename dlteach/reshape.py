"""Flatten: the bridge from convolutional feature maps to dense layers."""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer
from dlteach.errors import ShapeError
from dlteach.numerics import grad_as
from dlteach.validation import check_array


class Flatten(Layer):
    """Flatten every example: x: (N, d1, d2, ...) -> y: (N, d1*d2*...).

    No parameters and no arithmetic: backward reshapes the gradient back to the input's
    shape, (N, d1*d2*...) -> (N, d1, d2, ...), in the input's dtype when that is a
    floating one (integer inputs pass through; their gradient keeps its own dtype).
    In NCHW order, feature index ``c*H*W + h*W + w`` comes from x[n, c, h, w].
    """

    def __init__(self) -> None:
        self._x_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, ...) -> (N, prod(...)); a view of x when x is contiguous."""
        x = check_array(x, owner=repr(self), kind="number")
        if x.ndim < 2:
            raise ShapeError(
                f"{self!r}: expected input of shape (N, ...) with at least 2 dimensions, "
                f"got {tuple(x.shape)}."
            )
        self._x_shape = x.shape
        self._dtype = x.dtype if x.dtype.kind == "f" else None
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, prod(...)) -> grad_x: (N, ...), the input's shape."""
        if self._x_shape is None:
            raise self._missing_cache()
        N = self._x_shape[0]
        self._check_grad_shape(grad_y, (N, int(np.prod(self._x_shape[1:]))))
        grad = np.asarray(grad_y) if self._dtype is None else grad_as(grad_y, self._dtype)
        return grad.reshape(self._x_shape)

    def __repr__(self) -> str:
        return "Flatten()"
