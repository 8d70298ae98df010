"""Masks: a softmax over the real positions of a padded sequence only.

A batch of sequences of different lengths is padded to one length, and a mask says
which positions are real (True/1) and which are padding (False/0). Attention must give
the padding no weight at all, so its softmax runs over the real positions only::

    a_j = e^(s_j - m) / sum_{real j'} e^(s_j' - m)  for a real j,   a_j = 0 for padding

It is computed by replacing the masked scores with -inf (e^-inf is exactly 0), and
m, the maximum subtracted so that e^... cannot overflow, is then the maximum over the
real positions: a huge score at a padded position changes nothing. A row whose every
position is masked has no softmax (0 / 0) and raises InvalidValueError.

Backward is the softmax's: dL/ds = a * (g - sum_j a_j g_j), g = dL/da; where a = 0
(padding) the gradient is 0.
"""

from __future__ import annotations

import numpy as np

from dlteach.activations import _softmax
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_array, check_array


def _check_mask(mask: object, shape: tuple[int, ...], axis: int, owner: str) -> np.ndarray:
    """mask as bool, of scores' number of dimensions (axes of size 1 broadcast); every
    slice along ``axis`` must keep at least one position."""
    arr = as_array(mask, owner=owner, name="mask")
    if arr.dtype != np.bool_:
        arr = check_array(arr, owner=owner, name="mask", kind="number", allow_empty=True)
        if ((arr != 0) & (arr != 1)).any():
            bad = arr[(arr != 0) & (arr != 1)].flat[0]
            raise InvalidValueError(
                f"{owner}: mask must hold 1/True (a real position) or 0/False (padding), "
                f"got {bad}."
            )
    if arr.ndim != len(shape) or any(m not in (1, s) for m, s in zip(arr.shape, shape,
                                                                        strict=True)):
        raise ShapeError(
            f"{owner}: expected a mask of the scores' shape {shape} (an axis of size 1 "
            f"is repeated), got {tuple(arr.shape)}. For scores (N, Tq, Tk), a mask of the "
            "keys (N, Tk) is written mask[:, None, :]."
        )
    arr = arr.astype(bool, copy=False)
    empty = ~np.broadcast_to(arr, shape).any(axis=axis)
    if empty.any():
        where = [str(int(i)) for i in np.argwhere(empty)[0]]
        where.insert(axis % len(shape), ":")
        raise InvalidValueError(
            f"{owner}: every position of scores[{', '.join(where)}] is masked: "
            f"no weight can be given (softmax over nothing). Every row needs at least one "
            "real position; an empty sequence has none."
        )
    return arr


def _masked(scores: np.ndarray, mask: np.ndarray | None, axis: int, owner: str) -> np.ndarray:
    """softmax of scores along axis with masked positions at exactly 0 (mask checked)."""
    if mask is not None:
        # -inf can never be the maximum, so the max subtracted is the unmasked one's.
        scores = np.where(mask, scores, scores.dtype.type(-np.inf))
    return _softmax(scores, axis, owner=owner)


def _float(x: object, owner: str, name: str, axis: int) -> np.ndarray:
    """x as a float array (integers become float64) with ``axis`` one of its axes."""
    arr = check_array(x, owner=owner, name=name, kind="number")
    if not -arr.ndim <= axis < arr.ndim:
        raise ShapeError(f"{owner}: axis {axis} is out of range for {name} of shape {arr.shape}.")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None = None,
                   axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` over the real positions only; masked ones get exactly 0.

    scores: any shape, e.g. (N, Tq, Tk);  mask: True/1 = real, False/0 = padding, of the
    scores' number of dimensions (an axis of size 1 is repeated: a key mask (N, Tk) for
    scores (N, Tq, Tk) is ``mask[:, None, :]``), or None (plain softmax)  ->  weights:
    scores' shape, summing to 1 along axis. The maximum subtracted before e^ is taken
    over the real positions, so huge scores do not overflow; masked scores may hold
    anything (inf, NaN). A slice that is masked everywhere raises InvalidValueError.
    """
    owner = "masked_softmax"
    s = _float(scores, owner, "scores", axis)
    m = None if mask is None else _check_mask(mask, s.shape, axis, owner)
    return _masked(s, m, axis, owner)


def _softmax_backward(grad_w: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    gw = grad_w * w  # written as w*g - w*sum(w*g): overflows only where the answer does
    return gw - w * gw.sum(axis=axis, keepdims=True)


def masked_softmax_backward(grad_weights: np.ndarray, weights: np.ndarray,
                            axis: int = -1) -> np.ndarray:
    """dL/dscores from dL/dweights and the forward's weights (both of the same shape):
    dL/de = a * (g - sum_axis(a * g)). Masked positions have a = 0, so their gradient is 0."""
    owner = "masked_softmax_backward"
    w = _float(weights, owner, "weights", axis)
    g = check_array(grad_weights, owner=owner, name="grad_weights", shape=w.shape)
    with FloatRange(owner, "backward") as fr:
        out = _softmax_backward(grad_as(g, w.dtype), w, axis)
    fr.check(out, inputs=(g, w))
    return out
