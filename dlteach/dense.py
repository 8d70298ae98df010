"""The fully connected (dense) layer: every input feeds every output."""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import InvalidValueError
from dlteach.init import INITIALIZERS
from dlteach.validation import as_rng, check_array, check_positive_int


class Dense(Layer):
    """Fully connected layer: y = x @ W + b.

    x: (N, D_in)  ->  y: (N, D_out);  W: (D_in, D_out), b: (D_out,)

    init: ``"he"`` (for ReLU, the default) or ``"xavier"`` (for tanh/sigmoid).
    rng: a seed or numpy Generator, so the same seed gives the same weights.
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
        x = check_array(x, owner=repr(self), shape=("N", self.d_in))
        self._x = x  # backward needs the input
        return x @ self.W.value + self.b.value

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, D_out) -> grad_x: (N, D_in); accumulates dL/dW and dL/db."""
        if self._x is None:
            raise self._missing_cache()
        self._check_grad_shape(grad_y, (self._x.shape[0], self.d_out))
        self.W.grad += self._x.T @ grad_y
        self.b.grad += grad_y.sum(axis=0)
        return grad_y @ self.W.value.T

    def __repr__(self) -> str:
        return f"Dense({self.d_in} -> {self.d_out})"
