"""Measuring a classifier: accuracy and the confusion matrix.

Both accept what a model actually outputs, and turn it into class labels first
(:func:`scores_to_labels`):

- integer labels (N,)                          -> used as they are;
- scores, logits or probabilities (N, K), K>=2 -> the class with the largest score;
- one probability per example (N,) or (N, 1)   -> class 1 when p >= threshold (0.5).

For a binary model that outputs *logits* (no sigmoid at the end), compare with
``threshold=0.0``, or pass labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.validation import as_array, check_array, check_positive_int, check_same_length


def scores_to_labels(
    scores: np.ndarray, threshold: float = 0.5, *, owner: str = "scores_to_labels",
    name: str = "predictions",
) -> np.ndarray:
    """Class labels (N,) int64 from labels (N,), scores (N, K) or binary probabilities (N,)/(N, 1).

    See the module docstring for the rules. Booleans count as labels 0/1.
    """
    if isinstance(scores, np.ndarray | list | tuple):
        scores = as_array(scores, owner=owner, name=name)
        if scores.dtype == np.bool_:
            scores = scores.astype(np.int64)  # True/False are the labels 1/0
    arr = check_array(scores, owner=owner, name=name, kind="number")
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = bad[0] if len(bad) == 1 else bad
        raise InvalidValueError(
            f"{owner}: {name} holds {arr[bad]} at index {where}; a prediction must be a "
            "finite number (did the model's weights or loss blow up?)."
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64, copy=False)
        # Whole numbers >= 2 look like labels -- unless some are negative (scores).
        if arr.size and arr.max() >= 2 and arr.min() >= 0 and np.all(arr == np.round(arr)):
            raise InvalidValueError(
                f"{owner}: {name} holds floats that are whole numbers up to {arr.max():g}: "
                "class labels stored as floats? Convert them with .astype(int). (1-D floats "
                "are read as probabilities of class 1.)"
            )
        return (arr >= threshold).astype(np.int64)
    if arr.ndim == 2:
        return np.argmax(arr, axis=1)
    raise ShapeError(
        f"{owner}: expected {name} of shape (N,) labels, (N, K) scores or (N, 1) probabilities, "
        f"got {arr.shape}."
    )


def _true_labels(y_true: np.ndarray, owner: str) -> np.ndarray:
    """Labels from integer labels (N,)/(N, 1), 0/1 float targets, or one-hot rows (N, K)."""
    if isinstance(y_true, np.ndarray | list | tuple):
        y_true = as_array(y_true, owner=owner, name="y_true")
        if y_true.dtype == np.bool_:
            y_true = y_true.astype(np.int64)
    arr = check_array(y_true, owner=owner, name="y_true", kind="number")
    if arr.dtype.kind == "f" and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
        if not np.all((arr == 0) | (arr == 1)):
            raise InvalidValueError(
                f"{owner}: y_true holds floats other than 0 and 1; expected integer class "
                "labels (N,), 0/1 targets or one-hot rows (N, K)."
            )
    return scores_to_labels(arr, owner=owner, name="y_true")


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, *, threshold: float = 0.5) -> float:
    """The fraction of examples whose predicted class is the true class, in [0, 1].

    y_true: labels (N,), or one-hot rows (N, K).
    y_pred: labels (N,), scores (N, K) (argmax), or probabilities (N,)/(N, 1) (>= threshold).
    """
    owner = "accuracy"
    t = _true_labels(y_true, owner)
    p = scores_to_labels(y_pred, threshold, owner=owner, name="y_pred")
    check_same_length(t, p, owner=owner, names=("y_true", "y_pred"))
    return float(np.mean(t == p))


_MAX_INFERRED_CLASSES = 10_000  # beyond this, a label is more likely a bug than a class


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None, *, threshold: float = 0.5
) -> np.ndarray:
    """Counts (K, K) int64: entry [i, j] = how many examples of true class i were predicted j.

    Rows are true classes and columns predicted classes, so the diagonal holds the
    correct predictions. y_true, y_pred: as for :func:`accuracy`.
    n_classes: K; by default the largest label seen + 1.
    """
    owner = "confusion_matrix"
    t = _true_labels(y_true, owner)
    p = scores_to_labels(y_pred, threshold, owner=owner, name="y_pred")
    check_same_length(t, p, owner=owner, names=("y_true", "y_pred"))
    lo = min(int(t.min()), int(p.min()))
    if lo < 0:
        raise InvalidValueError(f"{owner}: labels must be >= 0, got a label {lo}.")
    seen = max(int(t.max()), int(p.max())) + 1
    if n_classes is None:
        if seen > _MAX_INFERRED_CLASSES:
            raise InvalidValueError(
                f"{owner}: the largest label is {seen - 1}, which would make a "
                f"{seen:,} x {seen:,} matrix; check the labels, or pass n_classes."
            )
        k = seen
    else:
        k = check_positive_int(n_classes, owner=owner, name="n_classes")
        if seen > k:
            raise InvalidValueError(
                f"{owner}: labels must lie in 0..{k - 1} for n_classes={k}, got a label {seen - 1}."
            )
    # Each (true, predicted) pair gets its own bin: index = K * true + predicted.
    return np.bincount(k * t + p, minlength=k * k).reshape(k, k)


# Metric names understood by dlteach.training.fit and evaluate: name -> f(y_true, outputs).
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"accuracy": accuracy}
