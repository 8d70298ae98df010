"""Floating-point plumbing every layer shares: the dtype rule and huge values.

- :func:`grad_as`: an incoming gradient in the forward input's dtype (the dtype rule
  of :class:`dlteach.core.Layer`).
- :class:`FloatRange`: arithmetic whose results pass the dtype's range becomes +-inf
  (its rounding) without a warning, and inf - inf raises a NonFiniteError that names
  the layer instead of NumPy's RuntimeWarning.
"""

from __future__ import annotations

import numpy as np

from dlteach.errors import NonFiniteError


def grad_as(grad: object, dtype: np.dtype) -> np.ndarray:
    """The incoming gradient in the forward input's dtype: the same array when it already is.

    A gradient of another dtype is cast; a value beyond the new dtype's range (a float64
    1e300 into float32) becomes +-inf, its float32 rounding, without a warning.
    """
    grad = np.asarray(grad)
    if grad.dtype == dtype:
        return grad
    with np.errstate(over="ignore"):
        return grad.astype(dtype)


class FloatRange:
    """Arithmetic on huge values, the same way in every layer::

        with FloatRange(layer, "forward") as fr:
            y = x @ W + b
        fr.check(y, inputs=(x, W, b))

    Overflow: a result beyond the dtype's range (about 1.8e308 in float64, 3.4e38 in
    float32) becomes +-inf, the floating-point rounding of the true value, without a
    warning; ``fr.overflow`` is then True, for code that can do better (average
    pooling, Adam).

    No value: where infinite or overflowed terms of opposite signs meet (inf - inf), or
    inf meets 0, the result is NaN. NumPy would warn; ``check`` raises NonFiniteError
    naming the layer instead, when NumPy flagged such an operation, an output holds NaN
    and no input does (NaN in, NaN out is no error: divergence is not hidden, and a
    flag some BLAS builds raise on ordinary numbers is no error either). It stays quiet
    when the caller silenced NumPy's invalid-value warnings itself with
    ``np.errstate(invalid="ignore")``, as ``fit`` does to report the NaN as divergence
    with its epoch and batch.

    Cost: one ``np.errstate`` (about a microsecond); the outputs are only looked at
    after NumPy has flagged an invalid operation.
    """

    __slots__ = ("_errstate", "_owner", "_what", "invalid", "overflow")

    def __init__(self, owner: object, what: str) -> None:
        self._owner, self._what = owner, what
        self.overflow = self.invalid = False
        self._errstate = np.errstate(
            over="call", invalid="call", divide="ignore", call=self._record
        )

    def _record(self, kind: str, flag: int) -> None:
        # NumPy calls this after an operation that overflowed or had no value.
        if kind == "overflow":
            self.overflow = True
        else:
            self.invalid = True

    def __enter__(self) -> FloatRange:
        self._errstate.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._errstate.__exit__(exc_type, exc, tb)

    def check(self, *outputs: np.ndarray, inputs: tuple = ()) -> None:
        """After the ``with`` block: raise NonFiniteError for NaN the arithmetic made."""
        if not self.invalid or np.geterr()["invalid"] == "ignore":  # the caller's setting
            return
        if not any(np.isnan(out).any() for out in outputs):
            return
        if any(np.isnan(a).any() for a in inputs):
            return
        owner = self._owner if isinstance(self._owner, str) else repr(self._owner)
        raise NonFiniteError(
            f"{owner}: the {self._what} cannot be computed: it met inf - inf (or 0 * inf), "
            "from infinite inputs or from terms beyond the dtype's range (about 1.8e308 "
            "in float64, 3.4e38 in float32) with opposite signs. Values this large "
            "usually mean training diverged: lower the learning rate, scale the inputs, "
            "or clip the gradients."
        )
