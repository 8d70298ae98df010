"""Activation functions: the nonlinearities between layers.

Each activation comes twice: as a pure function (``sigmoid(x)``) to use and
plot on its own, and as a layer (``Sigmoid()``) with a ``backward`` for
networks. The layers cache their *output* where the derivative is cheapest to
write in terms of it::

    sigmoid:  y = 1 / (1 + e^-x)        dy/dx = y (1 - y)
    tanh:     y = tanh(x)               dy/dx = 1 - y^2
    relu:     y = max(x, 0)             dy/dx = 1 if x > 0 else 0
    softmax:  y_k = e^x_k / sum_j e^x_j  dL/dx = y * (g - sum_k g_k y_k),  g = dL/dy

Everything works in the input's floating dtype (float32 stays float32) and is
numerically stable for inputs as large as 1000 in magnitude.
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer
from dlteach.errors import ShapeError
from dlteach.validation import check_array


def _as_float(x: object, owner: str, *, allow_empty: bool = True) -> np.ndarray:
    """x as a float ndarray; integers become float64, so sigmoid(0) or relu([1, -2]) work."""
    arr = check_array(x, owner=owner, kind="number", allow_empty=allow_empty)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _scalar_if_0d(out: np.ndarray) -> np.ndarray:
    # sigmoid(0.0) should print 0.5, not array(0.5).
    return out[()] if out.ndim == 0 else out


def _check_axis(x: np.ndarray, axis: int, owner: str) -> int:
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(
            f"{owner}: axis {axis} is out of range for an input with {x.ndim} "
            f"dimension{'s' if x.ndim != 1 else ''} (shape {tuple(x.shape)})."
        )
    return axis


# --- pure functions -----------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # e^-|x| lies in (0, 1], so it can never overflow. For x >= 0 this is
    # 1 / (1 + e^-x); for x < 0 the same value written as e^x / (1 + e^x).
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^-x), elementwise; any shape, same shape out.

    Stable for any x: it never overflows and never warns, sigmoid(-1000) is 0.0.
    """
    return _scalar_if_0d(_sigmoid(_as_float(x, "sigmoid")))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    """The derivative of sigmoid at x: s (1 - s) with s = sigmoid(x); same shape as x."""
    s = _sigmoid(_as_float(x, "sigmoid_grad"))
    return _scalar_if_0d(s * (1 - s))


def tanh(x: np.ndarray) -> np.ndarray:
    """The hyperbolic tangent, elementwise; any shape, same shape out, values in (-1, 1)."""
    return _scalar_if_0d(np.tanh(_as_float(x, "tanh")))


def relu(x: np.ndarray) -> np.ndarray:
    """The rectified linear unit max(x, 0), elementwise; any shape, same shape out."""
    x = _as_float(x, "relu")
    return _scalar_if_0d(np.maximum(x, 0))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    # Softmax does not change when a constant is subtracted from every logit;
    # subtracting the largest makes every exponent <= 0, so e^... cannot overflow.
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    # log softmax(x) = x - logsumexp(x), with logsumexp(x) = m + log sum e^(x - m).
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Turn scores into probabilities along ``axis``: y_k = e^x_k / sum_j e^x_j.

    x: (N, K) logits (any shape works)  ->  y: same shape, each slice along ``axis``
    sums to 1. Stable for logits like 1000 or -1000: the maximum is subtracted first.
    """
    x = _as_float(x, "softmax", allow_empty=False)
    return _softmax(x, _check_axis(x, axis, "softmax"))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) along ``axis``, computed without ever taking log(0).

    x: (N, K) logits (any shape works)  ->  same shape, every entry <= 0.
    """
    x = _as_float(x, "log_softmax", allow_empty=False)
    return _log_softmax(x, _check_axis(x, axis, "log_softmax"))


# --- layers --------------------------------------------------------------------------------


class _Elementwise(Layer):
    """Shared plumbing of activation layers: x: any shape -> y: same shape."""

    def __init__(self) -> None:
        self._cache: np.ndarray | None = None

    def _input(self, x: np.ndarray) -> np.ndarray:
        return check_array(x, owner=repr(self), allow_empty=True)

    def _cached(self, grad_y: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise self._missing_cache()
        self._check_grad_shape(grad_y, self._cache.shape)
        return self._cache


class Sigmoid(_Elementwise):
    """y = 1 / (1 + e^-x), elementwise.  x: any shape -> y: same shape.

    backward: dL/dx = dL/dy * y (1 - y), using the cached output y.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = _sigmoid(self._input(x))
        self._cache = y  # the derivative is y (1 - y)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: same shape as the output -> grad_x: same shape."""
        y = self._cached(grad_y)
        return grad_y * y * (1 - y)


class Tanh(_Elementwise):
    """y = tanh(x), elementwise.  x: any shape -> y: same shape.

    backward: dL/dx = dL/dy * (1 - y^2), using the cached output y.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.tanh(self._input(x))
        self._cache = y  # the derivative is 1 - y^2
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: same shape as the output -> grad_x: same shape."""
        y = self._cached(grad_y)
        return grad_y * (1 - y * y)


class ReLU(_Elementwise):
    """y = max(x, 0), elementwise.  x: any shape -> y: same shape.

    backward: dL/dx = dL/dy where x > 0, else 0 (at exactly x = 0 the gradient is
    taken to be 0, the usual convention).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._input(x)
        self._cache = x > 0  # which units let the gradient through
        return np.maximum(x, 0)  # a NaN input stays NaN, so divergence is not hidden

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: same shape as the output -> grad_x: same shape."""
        mask = self._cached(grad_y)
        return np.where(mask, grad_y, 0)


class Softmax(Layer):
    """y = softmax(x) along ``axis`` (default: the last one, the classes).

    x: (N, K) -> y: (N, K), each row sums to 1 (any shape works along ``axis``).

    backward is the Jacobian-vector product, without building the K x K Jacobian
    dy_i/dx_j = y_i (delta_ij - y_j):  dL/dx = y * (g - sum_k g_k y_k),  g = dL/dy.
    For classification prefer ``SoftmaxCrossEntropy`` on the logits: it is
    faster and more accurate than a Softmax layer followed by a log.
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, owner=repr(self))
        y = _softmax(x, _check_axis(x, self.axis, repr(self)))
        self._y = y  # the Jacobian is written in terms of y
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: same shape as the output -> grad_x: same shape."""
        if self._y is None:
            raise self._missing_cache()
        self._check_grad_shape(grad_y, self._y.shape)
        y = self._y
        return y * (grad_y - (grad_y * y).sum(axis=self.axis, keepdims=True))

    def __repr__(self) -> str:
        return "Softmax()" if self.axis == -1 else f"Softmax(axis={self.axis})"
