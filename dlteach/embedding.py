"""Embedding: integer tokens become learned vectors, by looking up rows of a table.

A token t (a character's or a word's number in a vocabulary of V) is represented by
row t of a table W: (V, D). Looking a row up is the same as multiplying a one-hot
vector by W, without ever building the one-hot vector::

    y[n, t] = W[tokens[n, t]]            tokens: (N, T) -> y: (N, T, D)

Backward: every position that looked up row v adds its gradient to dL/dW[v], so a
token used three times in a batch collects three gradients (``np.add.at``, which adds
repeated indices instead of keeping only the last one, as ``dW[tokens] += g`` would).
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_rng, check_array, check_positive_int, index_text


def check_tokens(tokens: object, vocab_size: int, *, owner: str, name: str = "tokens",
                 ndims: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Return ``tokens`` as an ndarray after checking they are token ids in 0..vocab_size-1.

    Integer arrays are the usual form; floats holding whole numbers (3.0) are accepted
    too, because ``fit`` and ``predict`` carry their X as floats. A fraction, NaN, or
    a token outside the vocabulary is refused, naming where it is.
    ndims: the accepted numbers of dimensions ((N,) and (N, T) by default).
    """
    arr = check_array(tokens, owner=owner, name=name, kind="number")
    if arr.ndim not in ndims:
        shapes = " or ".join({1: "(N,)", 2: "(N, T)"}.get(d, f"{d} dimensions") for d in ndims)
        raise ShapeError(
            f"{owner}: expected {name} of shape {shapes} (token ids), got {tuple(arr.shape)}."
        )
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(arr) & (arr == np.round(arr)))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DTypeError(
                f"{owner}: {name} must be whole numbers (token ids), got {arr[where]} at "
                f"{index_text(where)}. Use an integer array, e.g. {name}.astype(int), "
                "after rounding."
            )
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi >= vocab_size:
        out = (arr < 0) | (arr >= vocab_size)
        where = tuple(int(i) for i in np.argwhere(out)[0])
        count = int(out.sum())
        others = f" ({count} tokens are out of range)" if count > 1 else ""
        value = arr[where]
        shown = int(value) if arr.dtype.kind in "iu" else value
        raise InvalidValueError(
            f"{owner}: {name} must lie in 0..{vocab_size - 1} (a vocabulary of {vocab_size}), "
            f"got {shown} at {index_text(where)}{others}."
        )
    return arr


class Embedding(Layer):
    """A lookup table of learned vectors, one row per token: y = W[tokens].

    tokens: (N, T) or (N,) token ids in 0..V-1  ->  y: (N, T, D) or (N, D);  W: (V, D).

    W starts as N(0, 1) entries (as in PyTorch); rng: seed or numpy Generator.

    dtype: of W. Tokens are integers, so there is no input dtype to follow: the output
    has W's dtype. Tokens given as floats holding whole numbers (as ``fit`` passes X)
    follow the layer protocol's dtype rule instead: float32 tokens give a float32
    output, whatever W's dtype. W's gradient always accumulates in W's dtype.

    backward returns zeros of the tokens' shape: a token is a whole number, so the loss
    has no gradient with respect to it; what is learned is W.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        *,
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        self.vocab_size = check_positive_int(vocab_size, owner="Embedding", name="vocab_size")
        self.dim = check_positive_int(dim, owner="Embedding", name="dim")
        gen = as_rng(rng, owner="Embedding", name="rng")
        self.W = Parameter(gen.standard_normal((self.vocab_size, self.dim)).astype(dtype), "W")
        self._cache: tuple[np.ndarray, tuple[int, ...], np.dtype] | None = None

    def forward(self, tokens: np.ndarray) -> np.ndarray:
        """tokens: (N, T) or (N,) -> y: (N, T, D) or (N, D)."""
        tokens = check_tokens(tokens, self.vocab_size, owner=repr(self))
        dtype = tokens.dtype if tokens.dtype.kind == "f" else self.W.value.dtype
        idx = tokens.astype(np.intp, copy=False)
        y = self.W.value[idx]  # fancy indexing: a new array, one row per token
        if y.dtype != dtype:
            with np.errstate(over="ignore"):  # 1e300 in float32 is inf, its rounding
                y = y.astype(dtype)
        self._cache = (idx, tokens.shape, dtype)  # backward needs which rows were used
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, T, D) or (N, D) -> zeros of the tokens' shape; accumulates dL/dW."""
        if self._cache is None:
            raise self._missing_cache()
        idx, shape, dtype = self._cache
        self._check_grad_shape(grad_y, (*shape, self.dim))
        with FloatRange(self, "backward") as fr:
            grad_y = grad_as(grad_y, dtype)
            # Repeated tokens add up: np.add.at does not drop duplicate indices.
            np.add.at(self.W.grad, idx.reshape(-1), grad_y.reshape(-1, self.dim))
        fr.check(self.W.grad, inputs=(grad_y,))
        return np.zeros(shape, dtype=dtype)

    def __repr__(self) -> str:
        return f"Embedding({self.vocab_size} -> {self.dim})"
