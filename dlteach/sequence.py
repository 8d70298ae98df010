"""Working with whole sequences: a per-step output layer, a per-step loss, and windows.

A language model predicts, at every step t of a sequence, the next token. Its last
layers and its loss work on every step at once::

    scores = TimeDense(H, K).forward(hidden)          # (N, T, H) -> (N, T, K)
    loss = SequenceCrossEntropy()(scores, targets)     # targets: (N, T) token ids
    acc = sequence_accuracy(scores, targets)

Padding: sequences of different lengths are padded to one length T, and a mask (N, T)
of 1 (a real step) and 0 (padding) keeps the padded steps out of the loss and the
accuracy. The mean runs over the real steps only.

Long sequences: backpropagation through a sequence of 10,000 steps would keep 10,000
steps of activations and let gradients fade over them anyway. Truncated BPTT cuts the
sequence into windows (:func:`tbptt_windows`), carries the hidden state from one window
to the next (``stateful=True``, or ``h0=layer.last_state``) and backpropagates within
each window only.

:func:`gradient_through_time` measures how much gradient from the last step reaches
each earlier step: the vanishing gradient problem, as a curve.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.activations import _log_softmax
from dlteach.core import Layer, Parameter, check_model
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.init import INITIALIZERS
from dlteach.losses import _PRED_HINT, Loss
from dlteach.numerics import FloatRange, grad_as
from dlteach.recurrent import _Recurrent
from dlteach.validation import (
    as_array,
    as_rng,
    check_array,
    check_finite,
    check_positive_int,
    format_shape,
)


class TimeDense(Layer):
    """The same fully connected layer at every time step: y[:, t] = x[:, t] @ W + b.

    x: (N, T, D_in)  ->  y: (N, T, D_out);  W: (D_in, D_out), b: (D_out,)

    All N*T steps go through ONE matrix product: x is viewed as (N*T, D_in).
    init: ``"xavier"`` (the default, for scores after tanh units) or ``"he"``;
    rng: seed or Generator.  dtype: of the parameters; the layer computes in its
    input's dtype (the rule of :class:`dlteach.core.Layer`).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        init: str = "xavier",
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        self.d_in = check_positive_int(d_in, owner="TimeDense", name="d_in")
        self.d_out = check_positive_int(d_out, owner="TimeDense", name="d_out")
        if init not in INITIALIZERS:
            raise InvalidValueError(
                f"{self!r}: init must be one of {sorted(INITIALIZERS)}, got {init!r}."
            )
        gen = as_rng(rng, owner="TimeDense", name="rng")
        self.W = Parameter(INITIALIZERS[init]((self.d_in, self.d_out), gen, dtype), "W")
        self.b = Parameter(np.zeros(self.d_out, dtype=dtype), "b")
        self._x2: np.ndarray | None = None
        self._shape: tuple[int, int] = (0, 0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, T, D_in) -> y: (N, T, D_out), in x's dtype."""
        x = check_array(x, owner=repr(self), shape=("N", "T", self.d_in))
        N, T = x.shape[:2]
        x2 = x.reshape(N * T, self.d_in)  # every step of every sequence: one row each
        with FloatRange(self, "forward") as fr:
            W = self.W.value.astype(x.dtype, copy=False)
            b = self.b.value.astype(x.dtype, copy=False)
            y2 = x2 @ W + b
        fr.check(y2, inputs=(x2, W, b))
        self._x2, self._shape = x2, (N, T)  # backward needs the input
        return y2.reshape(N, T, self.d_out)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """grad_y: (N, T, D_out) -> grad_x: (N, T, D_in); accumulates dL/dW and dL/db."""
        if self._x2 is None:
            raise self._missing_cache()
        x2, (N, T) = self._x2, self._shape
        self._check_grad_shape(grad_y, (N, T, self.d_out))
        with FloatRange(self, "backward") as fr:
            g2 = grad_as(grad_y, x2.dtype).reshape(N * T, self.d_out)
            W = self.W.value.astype(x2.dtype, copy=False)
            dW = x2.T @ g2  # the sum over all steps, in one product
            db = g2.sum(axis=0)
            grad_x = g2 @ W.T
            self.W.grad += dW
            self.b.grad += db
        fr.check(dW, db, grad_x, inputs=(x2, g2, W))
        return grad_x.reshape(N, T, self.d_in)

    def __repr__(self) -> str:
        return f"TimeDense({self.d_in} -> {self.d_out})"


# --- targets and masks --------------------------------------------------------------------


def _check_mask(mask: object, shape: tuple[int, int], *, owner: str) -> np.ndarray:
    """A 0/1 (or boolean) mask of shape (N, T) with at least one 1, as a bool array."""
    arr = as_array(mask, owner=owner, name="mask")
    if arr.dtype != np.bool_:
        arr = check_array(arr, owner=owner, name="mask", kind="number", allow_empty=True)
    if arr.shape != shape:
        raise ShapeError(f"{owner}: expected mask of shape {shape} (N, T), got {arr.shape}.")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        n, t = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidValueError(
            f"{owner}: mask must hold 0 (padding) or 1 (a real step), got {arr[n, t]} "
            f"at sequence {n}, step {t}."
        )
    arr = arr.astype(bool, copy=False)
    if not arr.any():
        raise InvalidValueError(f"{owner}: the mask is all 0: no step to average over.")
    return arr


def check_position_labels(
    target: object, shape: tuple[int, ...], k: int, *, owner: str, name: str,
    ignore_index: int | None, unit: str = "step",
    place: Callable[[tuple[int, ...]], str] = lambda i: f"sequence {i[0]}, step {i[1]}",
) -> tuple[np.ndarray, np.ndarray]:
    """(labels of ``shape`` as intp, kept: bool of ``shape``): one class label per position
    (a time step here; a pixel in lesson 8's segmentation), checked against K classes.

    unit: what one label belongs to, for the shape error; place: an index as text, for the
    error naming the first label out of range. Ignored positions (``ignore_index``) hold 0
    in the returned labels and False in ``kept``.
    """
    arr = check_array(target, owner=owner, name=name, kind="number")
    if arr.dtype.kind == "f":
        whole = bool(np.all(arr == np.round(arr)))
        raise DTypeError(
            f"{owner}: {name} holds class labels as floats (dtype {arr.dtype}); labels "
            "must be integers." + (f" Convert them with {name}.astype(int)." if whole else "")
        )
    if arr.shape != tuple(shape):
        raise ShapeError(
            f"{owner}: expected {name} of shape {format_shape(shape)} (one label per {unit}), "
            f"got {tuple(arr.shape)}."
        )
    kept = np.ones(arr.shape, dtype=bool) if ignore_index is None else arr != ignore_index
    bad = kept & ((arr < 0) | (arr >= k))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        count = int(bad.sum())
        others = f"; {count} labels are out of range" if count > 1 else ""
        raise InvalidValueError(
            f"{owner}: {name} must lie in 0..{k - 1} for {k} classes, got a label "
            f"{int(arr[index])} at {place(index)}{others}."
        )
    return np.where(kept, arr, 0).astype(np.intp), kept


class SequenceCrossEntropy(Loss):
    """Softmax cross-entropy at every time step, averaged over the real (unmasked) steps.

    logits: (N, T, K);  target: integer labels (N, T) in 0..K-1;  mask: (N, T) of 0/1,
    optional (1 = a real step, 0 = padding).

        L = -sum_{n,t} m_nt log softmax(logits_nt)[y_nt] / sum_{n,t} m_nt
        dL/dlogits_nt = m_nt (softmax(logits_nt) - onehot(y_nt)) / sum m

    ignore_index: a label value that marks padding in the targets themselves (e.g. -1),
    masked like a 0 in ``mask``. ``fit`` passes no mask, so with ``fit`` pad the
    targets with it instead.
    """

    def __init__(self, ignore_index: int | None = None) -> None:
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer)
        ):
            raise DTypeError(
                "SequenceCrossEntropy: ignore_index must be an integer label or None, "
                f"got {type(ignore_index).__name__}."
            )
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, logits: np.ndarray, target: np.ndarray,
                mask: np.ndarray | None = None) -> float:
        owner = repr(self)
        logits = check_array(logits, owner=owner, name="logits", shape=("N", "T", "K"))
        check_finite(logits, owner=owner, name="logits", hint=_PRED_HINT)
        N, T, K = logits.shape
        labels, kept = check_position_labels(target, (N, T), K, owner=owner, name="target",
                                          ignore_index=self.ignore_index)
        if mask is not None:
            kept = kept & _check_mask(mask, (N, T), owner=owner)
        count = int(kept.sum())
        if count == 0:
            raise InvalidValueError(
                f"{owner}: every step is masked or ignored: no step to average over."
            )
        logp = _log_softmax(logits, axis=2)
        picked = np.take_along_axis(logp, labels[..., None], axis=2)[..., 0]  # (N, T)
        loss = -float(np.sum(picked, where=kept)) / count
        weights = kept.astype(logits.dtype) / logits.dtype.type(count)
        self._cache = (logp, labels, weights)
        return loss

    def __call__(self, logits: np.ndarray, target: np.ndarray,
                 mask: np.ndarray | None = None) -> float:
        return self.forward(logits, target, mask)

    def backward(self) -> np.ndarray:
        """-> dL/dlogits: (N, T, K); zero at masked steps."""
        if self._cache is None:
            raise self._missing_cache()
        logp, labels, weights = self._cache
        grad = np.exp(logp)  # softmax
        at = labels[..., None]
        picked = np.take_along_axis(grad, at, axis=2)
        np.put_along_axis(grad, at, picked - 1, axis=2)  # softmax - onehot
        grad *= weights[..., None]
        return grad

    def _check_target_values(
        self, target: np.ndarray, out_shape: tuple[int, ...], *, owner: str, name: str
    ) -> None:
        if len(out_shape) != 3:
            raise ShapeError(
                f"{owner} needs a model whose output is per-step logits (N, T, K), "
                f"got an output of shape {format_shape(('N', *out_shape[1:]))}."
            )
        n = target.shape[0] if target.ndim else 1
        check_position_labels(target, (n, out_shape[1]), out_shape[2], owner=owner, name=name,
                           ignore_index=self.ignore_index)

    def __repr__(self) -> str:
        extra = "" if self.ignore_index is None else f"ignore_index={self.ignore_index}"
        return f"SequenceCrossEntropy({extra})"


def sequence_accuracy(scores: np.ndarray, targets: np.ndarray,
                      mask: np.ndarray | None = None) -> float:
    """The fraction of real steps whose predicted class is the target.

    scores: (N, T, K) scores or logits (the class is the argmax), or predicted labels
    (N, T);  targets: (N, T) integer labels;  mask: (N, T) of 0/1, optional.
    """
    owner = "sequence_accuracy"
    arr = check_array(scores, owner=owner, name="scores", kind="number")
    if arr.ndim == 3:
        check_finite(arr, owner=owner, name="scores", hint=_PRED_HINT)
        pred = np.argmax(arr, axis=2)
    elif arr.ndim == 2 and arr.dtype.kind in "iu":
        pred = arr
    else:
        raise ShapeError(
            f"{owner}: expected scores of shape (N, T, K), or predicted labels (N, T) as "
            f"integers, got {tuple(arr.shape)} (dtype {arr.dtype})."
        )
    tgt = check_array(targets, owner=owner, name="targets", kind="int")
    if tgt.shape != pred.shape:
        raise ShapeError(
            f"{owner}: expected targets of shape {pred.shape} (N, T), got {tuple(tgt.shape)}."
        )
    hit = pred == tgt
    if mask is None:
        return float(hit.mean())
    kept = _check_mask(mask, pred.shape, owner=owner)
    return float(hit[kept].mean())


# --- long sequences --------------------------------------------------------------------------


def tbptt_windows(
    x: np.ndarray, length: int, y: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Cut sequences along time into consecutive windows, for truncated BPTT.

    x: (N, T, ...) (token ids (N, T), or features (N, T, D));  y: targets with the same
    first two axes, or None  ->  [(x[:, 0:L], y[:, 0:L]), (x[:, L:2L], ...), ...] with
    L = length; the last window holds the rest (it may be shorter). The windows are
    views, not copies. Row n of each window continues row n of the window before, so a
    stateful layer (``stateful=True``, or ``h0=layer.last_state``) carries each
    sequence's state from window to window, while backward stops at the window's start.
    """
    owner = "tbptt_windows"
    length = check_positive_int(length, owner=owner, name="length")
    xa = check_array(x, owner=owner, name="x", kind="number")
    if xa.ndim < 2:
        raise ShapeError(
            f"{owner}: expected x of shape (N, T) or (N, T, D), time on axis 1, "
            f"got {tuple(xa.shape)}."
        )
    ya = None
    if y is not None:
        ya = check_array(y, owner=owner, name="y", kind="number")
        if ya.shape[:2] != xa.shape[:2]:
            raise ShapeError(
                f"{owner}: expected y with the first two axes of x {xa.shape[:2]} (N, T), "
                f"got {tuple(ya.shape)}."
            )
    T = xa.shape[1]
    return [
        (xa[:, s : s + length], None if ya is None else ya[:, s : s + length])
        for s in range(0, T, length)
    ]


def gradient_through_time(layer: Layer, x: np.ndarray) -> np.ndarray:
    """How much gradient from the LAST step reaches each step: ||dL/dx_t||, t = 0..T-1.

    layer: a sequence layer taking x: (N, T, D) (an RNN, an LSTM, or a Sequential of
    them);  L = the sum of the last step's outputs (h_T), so only the last step sends a
    gradient back.  Returns (T,) float64: for each step t, the mean over the batch of
    the L2 norm of dL/dx_t. A vanilla RNN's norms shrink roughly geometrically towards
    the first steps: the vanishing gradient, measured. Plot them on a log scale.

    The parameters' stored gradients and a stateful layer's carried state are put back
    afterwards; like any forward, this one replaces what the layers keep for backward.
    """
    owner = "gradient_through_time"
    model = check_model(layer, owner)
    xa = check_array(x, owner=owner, name="x", ndim=3)
    params = model.parameters()
    saved = [p.grad for p in params]
    carried = {id(r): (r, r._carry) for r in _recurrent_layers(model)}
    try:
        for p in params:
            p.grad = np.zeros_like(p.value)
        out = model.forward(xa)
        g = np.zeros_like(out)
        if out.ndim == 3:
            g[:, -1] = 1  # only the last step's outputs
        else:
            g[...] = 1  # return_sequences=False: the output is the last step
        dx = model.backward(g)
    finally:
        for p, grad in zip(params, saved, strict=True):
            p.grad = grad
        for r, carry in carried.values():
            r._carry = carry
    with np.errstate(over="ignore"):
        norms = np.linalg.norm(dx.astype(np.float64), axis=2)  # (N, T)
    return norms.mean(axis=0)


def _recurrent_layers(model: Layer) -> list[_Recurrent]:
    """Every recurrent layer inside model (model itself included)."""
    found, stack = [], [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, _Recurrent):
            found.append(layer)
        for value in vars(layer).values():
            items = value if isinstance(value, list | tuple) else [value]
            stack.extend(v for v in items if isinstance(v, Layer))
    return found
