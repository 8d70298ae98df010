"""The fully connected (dense) layer: every input feeds every output."""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import InvalidValueError
from dlteach.init import INITIALIZERS
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_rng, check_array, check_positive_int


class Dense(Layer):
    """Fully connected layer: y = x @ W + b.

    x: (N, D_in)  ->  y: (N, D_out);  W: (D_in, D_out), b: (D_out,)

    init: ``"he"`` (for ReLU, the default) or ``"xavier"`` (for tanh/sigmoid).
    rng: a seed or numpy Generator, so the same seed gives the same weights.

    dtype: of the parameters. The layer computes in its INPUT's dtype (the rule of
    :class:`dlteach.core.Layer`): float32 x gives float32 y and dL/dx even with float64
    W, whose gradients still accumulate in float64. For speed, build the layer with
    ``dtype=np.float32`` when you feed it float32 data: then nothing is cast or copied.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        init: str = "he",
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        self.d_in = check_positive_int(d_in, owner="Dense", name="d_in")
        self.d_out = check_positive_int(d_out, owner="Dense", name="d_out")
        if init not in INITIALIZERS:
            raise InvalidValueError(
                f"{self!r}: init must be one of {sorted(INITIALIZERS)}, got {init!r}."
            )
        gen = as_rng(rng, owner="Dense", name="rng")
        self.W = Parameter(INITIALIZERS[init]((self.d_in, self.d_out), gen, dtype), "W")
        self.b = Parameter(np.zeros(self.d_out, dtype=dtype), "b")
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D_in) -> y: (N, D_out), in x's dtype."""
        x = check_array(x, owner=repr(self), shape=("N", self.d_in))
        self._x = x  # backward needs the input
        with FloatRange(self, "forward") as fr:  # beyond the dtype's range: +-inf
            W = self.W.value.astype(x.dtype, copy=False)  # no copy when dtypes match
            b = self.b.value.astype(x.dtype, copy=False)
            y = x @ W + b
        fr.check(y, inputs=(x, W, b))  # inf - inf: a named error, not a silent NaN
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, D_out) -> grad_x: (N, D_in); accumulates dL/dW and dL/db."""
        if self._x is None:
            raise self._missing_cache()
        x = self._x
        self._check_grad_shape(grad_y, (x.shape[0], self.d_out))
        with FloatRange(self, "backward") as fr:
            grad_y = grad_as(grad_y, x.dtype)  # everything in x's dtype
            W = self.W.value.astype(x.dtype, copy=False)
            dW = x.T @ grad_y
            db = grad_y.sum(axis=0)
            grad_x = grad_y @ W.T
            self.W.grad += dW  # accumulated in the parameters' own dtype
            self.b.grad += db
        fr.check(dW, db, grad_x, inputs=(x, grad_y, W))
        return grad_x

    def __repr__(self) -> str:
        return f"Dense({self.d_in} -> {self.d_out})"
