"""Activation functions: the nonlinearities between layers.

Each activation comes twice: as a pure function (``sigmoid(x)``) to use and
plot on its own, and as a layer (``Sigmoid()``) with a ``backward`` for
networks. The layers cache their *output* where the derivative is cheapest to
write in terms of it::

    sigmoid:  y = 1 / (1 + e^-x)        dy/dx = y (1 - y)
    tanh:     y = tanh(x)               dy/dx = 1 - y^2
    relu:     y = max(x, 0)             dy/dx = 1 if x > 0 else 0
    softmax:  y_k = e^x_k / sum_j e^x_j  dL/dx = y * (g - sum_k g_k y_k),  g = dL/dy

Everything works in the input's floating dtype (float32 stays float32), following
the layer protocol's dtype rule (see :class:`dlteach.core.Layer`), and never warns on
extreme inputs: softmax([1e4, 0]) is [1, 0], softmax([inf, 0]) is [1, 0] too, two +inf
logits share the probability equally, a -inf logit gets probability 0 (log-probability
-inf). A slice that is all -inf, or holds NaN, has no softmax: NonFiniteError says which.

"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer
from dlteach.errors import NonFiniteError, ShapeError
from dlteach.numerics import FloatRange, grad_as
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


def _slice_name(index: tuple[int, ...], axis: int, ndim: int) -> str:
    """How a learner names the slice softmax normalises: 'row 3', 'column 1', 'x[2, :, 0]'."""
    axis %= ndim
    if ndim == 1:
        return "the input"
    if ndim == 2:
        return f"row {index[0]}" if axis == 1 else f"column {index[1]}"
    parts = [":" if d == axis else str(i) for d, i in enumerate(index)]
    return f"the slice x[{', '.join(parts)}]"


def _infinite_max(
    x: np.ndarray, axis: int, m: np.ndarray, owner: str
) -> tuple[np.ndarray, np.ndarray]:
    """Slices whose maximum m is not finite: +inf wins, NaN or all -inf have no softmax.

    A slice holding +inf: its +inf entries share the probability equally (the limit
    when they grow together) and the others get 0. It is rewritten as 0 at those
    entries and -inf elsewhere, with maximum 0, so the usual formula gives exactly that.
    A slice holding NaN, or all -inf, raises NonFiniteError -- unless the caller asked
    NumPy for NaN with ``np.errstate(invalid="ignore")`` (``fit`` does, and reports it).
    """
    quiet = np.geterr()["invalid"] == "ignore"
    for bad, what in (
        (np.isnan(m), "holds NaN, so it has no softmax (every probability would be NaN)"),
        (m == -np.inf, "is all -inf: every e^x is 0, so every probability would be 0/0"),
    ):
        if not quiet and bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            others = int(bad.sum()) - 1
            more = f" ({others} more like it)" if others else ""
            raise NonFiniteError(
                f"{owner}: {_slice_name(index, axis, x.ndim)} {what}{more}. Check the "
                "input for NaN or -inf (did the model's weights blow up?)."
            )
    top = m == np.inf  # only +inf maxima are left
    zero, minus_inf = x.dtype.type(0), x.dtype.type(-np.inf)
    x = np.where(top, np.where(x == np.inf, zero, minus_inf), x)
    return x, np.where(top, zero, m)


def _shifted(x: np.ndarray, axis: int, owner: str) -> np.ndarray:
    """x - max(x) along axis: every entry <= 0, so e^... cannot overflow."""
    m = x.max(axis=axis, keepdims=True)
    if not np.isfinite(m).all():  # the rare case, handled apart to keep this one cheap
        x, m = _infinite_max(x, axis, m, owner)
    # -1e300 - 1e300 is below -1.8e308: -inf, whose e^ is exactly the right 0.
    with np.errstate(over="ignore"):
        return x - m


def _softmax(x: np.ndarray, axis: int, *, owner: str = "softmax") -> np.ndarray:
    # Softmax does not change when a constant is subtracted from every logit;
    # subtracting the largest makes every exponent <= 0, so e^... cannot overflow.
    e = np.exp(_shifted(x, axis, owner))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int, *, owner: str = "log_softmax") -> np.ndarray:
    # log softmax(x) = x - logsumexp(x), with logsumexp(x) = m + log sum e^(x - m).
    shifted = _shifted(x, axis, owner)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Turn scores into probabilities along ``axis``: y_k = e^x_k / sum_j e^x_j.

    x: (N, K) logits (any shape works)  ->  y: same shape, each slice along ``axis``
    sums to 1. Stable for logits like 1e4 or -1e300: the maximum is subtracted first.
    +inf logits share the probability equally, -inf ones get 0; a slice that is all
    -inf or holds NaN raises NonFiniteError (inside ``np.errstate(invalid="ignore")``,
    as in ``fit``, it is NaN instead, as NumPy would give).
    """
    x = _as_float(x, "softmax", allow_empty=False)
    return _softmax(x, _check_axis(x, axis, "softmax"))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) along ``axis``, computed without ever taking log(0).

    x: (N, K) logits (any shape works)  ->  same shape, every entry <= 0; -inf where
    the probability is 0 (a -inf logit). Infinite and NaN logits: as for :func:`softmax`.
    """
    x = _as_float(x, "log_softmax", allow_empty=False)
    return _log_softmax(x, _check_axis(x, axis, "log_softmax"))


# --- layers --------------------------------------------------------------------------------


class _Elementwise(Layer):
    """Shared plumbing of activation layers: x: any shape -> y: same shape, x's dtype."""

    def __init__(self) -> None:
        self._cache: np.ndarray | None = None
        self._dtype: np.dtype | None = None

    def _input(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, owner=repr(self), allow_empty=True)
        self._dtype = x.dtype  # backward returns the gradient in this dtype
        return x

    def _cached(self, grad_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(what forward cached, grad_y in the forward input's dtype)."""
        if self._cache is None:
            raise self._missing_cache()
        self._check_grad_shape(grad_y, self._cache.shape)
        return self._cache, grad_as(grad_y, self._dtype)


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
        y, grad_y = self._cached(grad_y)
        return grad_y * y * (1 - y)  # y (1 - y) <= 1/4: no overflow, however large grad_y


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
        y, grad_y = self._cached(grad_y)
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
        mask, grad_y = self._cached(grad_y)
        return np.where(mask, grad_y, 0)


class Softmax(Layer):
    """y = softmax(x) along ``axis`` (default: the last one, the classes).

    x: (N, K) -> y: (N, K), each row sums to 1 (any shape works along ``axis``).

    backward is the Jacobian-vector product, without building the K x K Jacobian
    dy_i/dx_j = y_i (delta_ij - y_j):  dL/dx = y * (g - sum_k g_k y_k),  g = dL/dy.
    For classification prefer ``SoftmaxCrossEntropy`` on the logits: it is
    faster and more accurate than a Softmax layer followed by a log.
    Infinite logits: as for :func:`softmax` (a row all -inf, or with NaN, raises).
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, owner=repr(self))
        y = _softmax(x, _check_axis(x, self.axis, repr(self)), owner=repr(self))
        self._y = y  # the Jacobian is written in terms of y
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: same shape as the output -> grad_x: same shape."""
        if self._y is None:
            raise self._missing_cache()
        self._check_grad_shape(grad_y, self._y.shape)
        y = self._y
        # y * (g - s) written as y*g - y*s, s = sum_k g_k y_k: each product is at most
        # |g| or |s| (y <= 1), so huge gradients overflow only where the answer does.
        with FloatRange(self, "backward") as fr:
            grad_y = grad_as(grad_y, y.dtype)
            gy = grad_y * y
            grad_x = gy - y * gy.sum(axis=self.axis, keepdims=True)
        fr.check(grad_x, inputs=(grad_y, y))
        return grad_x

    def __repr__(self) -> str:
        return "Softmax()" if self.axis == -1 else f"Softmax(axis={self.axis})"
