"""Loss functions: one number that says how wrong the predictions are.

A loss is the last link of the chain. ``forward`` returns the loss, a Python
float averaged over the batch; ``backward`` returns dL/dpred, the gradient the
model's ``backward`` starts from::

    loss = criterion(model.forward(x), y)     # same as criterion.forward(...)
    model.backward(criterion.backward())

Because the loss is a mean, every gradient is already divided by the number of
averaged terms: a bigger batch does not mean bigger steps.

Imbalanced classes: SoftmaxCrossEntropy and BinaryCrossEntropy take ``class_weights=``,
one weight per class, and then return the weighted mean sum_i w_i L_i / sum_i w_i, where
w_i is the weight of example i's class (dlteach.diagnosis.class_weights computes
balanced ones). Equal weights give the plain mean.
"""

from __future__ import annotations

import numpy as np

from dlteach.activations import _log_softmax, _sigmoid
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.validation import (
    check_array,
    check_finite,
    check_labels,
    check_positive,
    check_same_length,
    format_shape,
    index_text,
)

# What a NaN or inf prediction usually means, said wherever a loss refuses one.
_PRED_HINT = ("A loss needs finite predictions: did the model's weights blow up (try a smaller "
              "learning rate), or does the input hold NaN or inf?")


def check_class_weights(
    class_weights: object, *, owner: str, n_classes: int | None = None
) -> np.ndarray | None:
    """class_weights (K,) as a float64 copy after checking they are finite and > 0.

    None stays None (no weighting). n_classes: K, when it is known already.
    """
    if class_weights is None:
        return None
    w = check_array(class_weights, owner=owner, name="class_weights", ndim=1, kind="number")
    check_finite(w, owner=owner, name="class_weights")
    if (w <= 0).any():
        k = int(np.argmax(w <= 0))
        raise InvalidValueError(
            f"{owner}: class_weights must be positive, got {w[k]} for class {k}."
        )
    if n_classes is not None and len(w) != n_classes:
        raise ShapeError(
            f"{owner}: expected class_weights of shape ({n_classes},), one weight per class, "
            f"got {tuple(w.shape)}."
        )
    return np.array(w, dtype=np.float64)


class Loss:
    """Base class: ``forward(pred, target) -> float`` then ``backward() -> dL/dpred``.

    ``loss(pred, target)`` is the same as ``loss.forward(pred, target)``.
    backward returns an array of pred's shape and dtype; calling it twice
    returns the same gradient (the loss keeps no running state).
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def check_targets(
        self, target: object, out_shape: tuple[int, ...], *, owner: str, name: str = "y"
    ) -> np.ndarray:
        """Check a whole data set's targets before training: what ``forward`` would refuse.

        out_shape: the model's output shape for a batch, (M, ...). ``fit`` and ``evaluate``
        call this once on all of y, so a bad target is reported with its row before any
        step, instead of in the middle of an epoch. Returns the targets as an array.
        """
        target = check_array(target, owner=owner, name=name, kind="number")
        check_finite(target, owner=owner, name=name)
        self._check_target_values(target, out_shape, owner=f"{owner}: {self!r}", name=name)
        return target

    def _check_target_values(
        self, target: np.ndarray, out_shape: tuple[int, ...], *, owner: str, name: str
    ) -> None:
        # Default: the target has the prediction's shape (MSE and friends).
        if target.shape[1:] != tuple(out_shape[1:]):
            want = format_shape(("N", *out_shape[1:]))
            raise ShapeError(
                f"{owner} needs {name} of the model output's shape {want}, "
                f"got {tuple(target.shape)}."
            )

    def _missing_cache(self) -> InvalidValueError:
        return InvalidValueError(
            f"{self!r}: backward called before forward. Compute the loss on a batch first, "
            f"e.g. loss = {self!r}(pred, target)."
        )

    def _check_pred_target(self, pred: object, target: object) -> tuple[np.ndarray, np.ndarray]:
        """Shared checks for losses whose target has exactly pred's shape."""
        owner = repr(self)
        pred = check_array(pred, owner=owner, name="pred")
        target = check_array(target, owner=owner, name="target", kind="number")
        for name, a in (("pred", pred), ("target", target)):
            if a.ndim == 0:
                raise ShapeError(
                    f"{owner}: expected {name} with a batch axis, shape (N,) or (N, D), got "
                    f"a single number. For one example write np.array([{name}])."
                )
        check_finite(pred, owner=owner, name="pred", hint=_PRED_HINT)
        check_finite(target, owner=owner, name="target")
        check_same_length(pred, target, owner=owner, names=("pred", "target"))
        if pred.shape != target.shape:
            hint = ""
            if pred.ndim == 2 and pred.shape[1] == 1 and target.ndim == 1:
                hint = " Reshape the target with target.reshape(-1, 1)."
            elif pred.ndim == 1 and target.ndim == 2 and target.shape[1] == 1:
                hint = " Flatten the target with target.ravel()."
            raise ShapeError(
                f"{owner}: expected target of the same shape as pred {tuple(pred.shape)}, "
                f"got {tuple(target.shape)}.{hint}"
            )
        return pred, target

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error over *all* elements: L = mean((pred - target)^2).

    pred: (N,) or (N, D) (any shape);  target: the same shape.
    dL/dpred = 2 (pred - target) / pred.size. There is no factor 1/2: for D > 1
    outputs the mean also runs over the D outputs, so the gradient is divided
    by N * D, not by N alone. A loss too large for a float (errors beyond ~1e154) is
    returned as inf, which ``fit`` reports as divergence.
    """

    def __init__(self) -> None:
        self._diff: np.ndarray | None = None

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred, target = self._check_pred_target(pred, target)
        diff = pred - target.astype(pred.dtype, copy=False)
        self._diff = diff  # backward is 2 * diff / size
        with np.errstate(over="ignore"):  # the true value exceeds float: inf is its rounding
            return float(np.mean(diff * diff))

    def backward(self) -> np.ndarray:
        """-> dL/dpred, same shape as pred."""
        if self._diff is None:
            raise self._missing_cache()
        return self._diff * (2 / self._diff.size)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, for yes/no targets t in {0, 1} (or soft targets in [0, 1]).

    L = -mean(t log p + (1 - t) log(1 - p)), averaged over all elements.
    pred: (N,) or (N, 1) (any shape);  target: the same shape, ints 0/1 or floats in [0, 1].
    class_weights: optional (w_0, w_1); element i then weighs w_i = w_0 (1 - t_i) + w_1 t_i
    and L = sum_i w_i l_i / sum_i w_i (the gradient's 1/n becomes w_i / sum w).

    from_logits=False: pred holds probabilities p in [0, 1]. They are clipped to
        [eps, 1 - eps] (eps=1e-7 by default) so that log(0) never happens; backward
        returns (p - t) / (p (1 - p)) / n at the clipped p (the clip itself is not
        differentiated, so a confident mistake still gets a gradient).
    from_logits=True: pred holds raw scores z with p = sigmoid(z). The loss is computed
        as max(z, 0) - z t + log(1 + e^-|z|), exact and stable for any z, and the
        gradient is simply (sigmoid(z) - t) / n. Prefer this form.
    """

    def __init__(self, from_logits: bool = False, eps: float = 1e-7, *,
                 class_weights: np.ndarray | None = None) -> None:
        self.from_logits = bool(from_logits)
        self.eps = check_positive(eps, owner="BinaryCrossEntropy", name="eps")
        if self.eps >= 0.5:
            raise InvalidValueError(f"BinaryCrossEntropy: eps must be smaller than 0.5, got {eps}.")
        self.class_weights = check_class_weights(class_weights, owner="BinaryCrossEntropy",
                                                 n_classes=2)
        # (p, t, w): w the weights of the mean (summing to 1), None for the plain mean.
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    def _check_target_values(
        self, target: np.ndarray, out_shape: tuple[int, ...], *, owner: str, name: str
    ) -> None:
        super()._check_target_values(target, out_shape, owner=owner, name=name)
        self._check_01(target, owner=owner, name=name)

    def _check_01(self, target: np.ndarray, *, owner: str, name: str) -> None:
        if target.dtype.kind in "iub":
            bad = (target != 0) & (target != 1)
            rule = "must be 0 or 1, got a label"
        else:
            bad = ~((target >= 0) & (target <= 1))
            rule = "must lie in [0, 1], got"
        if bad.any():
            first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
            kind = "integer targets" if target.dtype.kind in "iub" else "targets"
            subject = kind if name == "target" else f"{name} ({kind})"
            raise InvalidValueError(
                f"{owner}: {subject} {rule} {target[first]} at {index_text(first)}."
            )

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred, target = self._check_pred_target(pred, target)
        self._check_01(target, owner=repr(self), name="target")
        t = target.astype(pred.dtype, copy=False)
        if self.from_logits:
            z = pred
            losses = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
            p = _sigmoid(z)
        else:
            outside = pred[~((pred >= 0) & (pred <= 1))]
            if outside.size:
                raise InvalidValueError(
                    f"{self!r}: expected probabilities in [0, 1], got {outside.flat[0]}. "
                    f"If pred holds raw scores, use BinaryCrossEntropy(from_logits=True)."
                )
            p = np.clip(pred, self.eps, 1 - self.eps)
            losses = -(t * np.log(p) + (1 - t) * np.log1p(-p))
        if self.class_weights is None:
            self._cache = (p, t, None)
            return float(np.mean(losses))
        w0, w1 = self.class_weights.astype(t.dtype)
        w = w0 + (w1 - w0) * t
        w /= w.sum()
        self._cache = (p, t, w)
        with np.errstate(over="ignore"):  # beyond float: inf is the rounding of the loss
            return float(np.sum(w * losses))

    def backward(self) -> np.ndarray:
        """-> dL/dpred, same shape as pred."""
        if self._cache is None:
            raise self._missing_cache()
        p, t, w = self._cache
        if w is not None:  # the weighted mean: w_i in place of 1/n
            return (p - t) * w if self.from_logits else (p - t) / (p * (1 - p)) * w
        n = p.size
        if self.from_logits:
            return (p - t) / n
        return (p - t) / (p * (1 - p) * n)

    def __repr__(self) -> str:
        parts = ["from_logits=True"] if self.from_logits else []
        if self.class_weights is not None:
            parts.append(f"class_weights={self.class_weights.tolist()}")
        return f"BinaryCrossEntropy({', '.join(parts)})"


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, in one stable step, on raw scores (logits).

    logits: (N, K).  target: integer labels (N,) in 0..K-1, or rows (N, K) of
    probabilities (one-hot, or soft labels) that each sum to 1.

    L = -mean_n log softmax(logits_n)[y_n]  (labels)
      = -mean_n sum_k t_nk log softmax(logits_n)_k  (probability rows)
    log softmax uses the log-sum-exp trick, so logits of 1000 are fine.
    dL/dlogits = (softmax(logits) - onehot(y)) / N.

    class_weights: optional (K,) weights w_k > 0: the weighted mean
    L = -sum_n w[y_n] log softmax(logits_n)[y_n] / sum_n w[y_n], and
    dL/dlogits_n = w[y_n] (softmax(logits_n) - onehot(y_n)) / sum_n w[y_n]; probability
    rows t weigh sum_k w_k t_nk (the same for one-hot rows).
    """

    def __init__(self, *, class_weights: np.ndarray | None = None) -> None:
        self.class_weights = check_class_weights(class_weights, owner="SoftmaxCrossEntropy")
        # (log p, a, d): L = -sum(a * log p) / d; a = t (or w * t), d = N (or sum a).
        self._cache: tuple[np.ndarray, np.ndarray, float] | None = None

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        owner = repr(self)
        logits = check_array(logits, owner=owner, name="logits", shape=("N", "K"))
        check_finite(logits, owner=owner, name="logits", hint=_PRED_HINT)
        n, k = logits.shape
        target_arr = check_array(target, owner=owner, name="target", kind="number")
        check_same_length(logits, target_arr, owner=owner, names=("logits", "target"))
        labels, t = self._read_target(target_arr, k, owner=owner, name="target")
        logp = _log_softmax(logits, axis=1)  # finite, since the logits are
        if labels is not None:
            t = np.zeros_like(logits)
            t[np.arange(n), labels] = 1
        else:
            t = t.astype(logits.dtype, copy=False)
        denom: float = n
        if self.class_weights is not None:
            self._check_weights(k, owner)
            t = t * self.class_weights.astype(logits.dtype)  # a new array: w_k t_nk
            denom = float(t.sum())
        # With labels this is -mean(logp[range(N), y]); the one-hot form covers both.
        loss = -float(np.sum(t * logp)) / denom
        self._cache = (logp, t, denom)
        return loss

    def _check_weights(self, k: int, owner: str) -> None:
        if self.class_weights is not None and len(self.class_weights) != k:
            raise ShapeError(
                f"{owner}: class_weights has {len(self.class_weights)} entries but the "
                f"logits have {k} classes; expected shape ({k},)."
            )

    def _read_target(
        self, target: np.ndarray, k: int, *, owner: str, name: str
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(labels, None) for labels (N,) in 0..K-1, or (None, rows) for rows (N, K)."""
        if target.ndim == 1:
            if target.dtype.kind == "f":
                check_finite(target, owner=owner, name=name)
                whole = bool(np.all(target == np.round(target)))
                raise DTypeError(
                    f"{owner}: {name} holds class labels as floats (dtype {target.dtype}); "
                    "labels must be integers."
                    + (f" Convert them with {name}.astype(int)." if whole else
                       f" {target[target != np.round(target)].flat[0]} is not a class number.")
                )
            what = "labels" if name == "target" else name
            return check_labels(target, k, owner=owner, name=what), None
        if target.shape[1:] == (k,) and target.ndim == 2:
            check_finite(target, owner=owner, name=name)
            self._check_rows(target, owner=owner, name=name)
            return None, target
        n = len(target)
        raise ShapeError(
            f"{owner}: expected {name} as labels of shape ({n},) or probability rows "
            f"of shape ({n}, {k}), got {tuple(target.shape)}."
        )

    def _check_target_values(
        self, target: np.ndarray, out_shape: tuple[int, ...], *, owner: str, name: str
    ) -> None:
        if len(out_shape) != 2:
            raise ShapeError(
                f"{owner} needs a model whose output is logits (N, K), "
                f"got an output of shape {format_shape(('N', *out_shape[1:]))}."
            )
        self._check_weights(out_shape[1], owner)
        self._read_target(target, out_shape[1], owner=owner, name=name)

    def _check_rows(self, t: np.ndarray, *, owner: str, name: str) -> None:
        what = "target rows" if name == "target" else f"the rows of {name}"
        each = "each target row" if name == "target" else f"each row of {name}"
        if (t < 0).any():
            row = int(np.argmax((t < 0).any(axis=1)))
            raise InvalidValueError(
                f"{owner}: {what} must hold probabilities >= 0, got {t[t < 0].flat[0]} "
                f"in row {row}."
            )
        sums = t.sum(axis=1)
        # Allow rounding in the user's normalisation: float32 rows are only ~1e-7 exact.
        bad = np.flatnonzero(np.abs(sums - 1) > (1e-3 if t.dtype.itemsize < 8 else 1e-6))
        if bad.size:
            i = int(bad[0])
            raise InvalidValueError(
                f"{owner}: {each} must sum to 1 (one-hot or probabilities), "
                f"row {i} sums to {float(sums[i]):.6g}."
            )

    def backward(self) -> np.ndarray:
        """-> dL/dlogits: (N, K)."""
        if self._cache is None:
            raise self._missing_cache()
        logp, t, denom = self._cache
        # d/dz of -sum_k t_k log softmax(z)_k is softmax(z) * sum_k t_k - t; rows sum to 1
        # (to w[y_n] with class weights).
        return (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / denom

    def __repr__(self) -> str:
        if self.class_weights is None:
            return "SoftmaxCrossEntropy()"
        return f"SoftmaxCrossEntropy(class_weights=({len(self.class_weights)},))"
