"""Segmentation: a class for every pixel, a loss for every pixel, and how to score it.

A segmentation network outputs logits (N, K, H, W): K class scores at every pixel.
:class:`PixelCrossEntropy` is softmax cross-entropy at each pixel, averaged over the
pixels that count; :func:`pixel_accuracy` and :func:`segmentation_iou` measure the
predicted label maps. IoU (intersection over union) is the usual score: a rare class
(a small tumour on a large background) barely moves the pixel accuracy but has its
own IoU.
"""

from __future__ import annotations

import numpy as np

from dlteach.activations import _log_softmax
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.losses import _PRED_HINT, Loss, check_class_weights
from dlteach.sequence import check_position_labels
from dlteach.validation import (
    check_array,
    check_finite,
    check_positive_int,
    format_shape,
)


def _check_label_map(target: object, shape: tuple[int, ...], k: int, *, owner: str, name: str,
                     ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N, H, W) intp, kept (N, H, W) bool) after checking them against K classes."""
    return check_position_labels(
        target, shape, k, owner=owner, name=name, ignore_index=ignore_index, unit="pixel",
        place=lambda i: f"image {i[0]}, pixel ({i[1]}, {i[2]})",
    )


class PixelCrossEntropy(Loss):
    """Softmax cross-entropy at every pixel, a (weighted) mean over the pixels that count.

    logits: (N, K, H, W);  target: integer labels (N, H, W) in 0..K-1.

        L = -sum_p w[y_p] log softmax(logits_p)[y_p] / sum_p w[y_p]
        dL/dlogits_p = w[y_p] (softmax(logits_p) - onehot(y_p)) / sum_p w[y_p]

    the sums running over the pixels p = (n, h, w) whose label is not ``ignore_index``
    (an "unlabelled" or "border" value such as 255, whose pixels get zero gradient).
    class_weights: (K,) positive weights, w = 1 by default (then L is the plain mean);
    see dlteach.diagnosis.class_weights for balanced weights. log softmax uses the
    log-sum-exp trick, so huge logits are fine.
    """

    def __init__(self, ignore_index: int | None = None,
                 class_weights: np.ndarray | None = None) -> None:
        owner = "PixelCrossEntropy"
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer)
        ):
            raise DTypeError(
                f"{owner}: ignore_index must be an integer label or None, "
                f"got {type(ignore_index).__name__}."
            )
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.class_weights = check_class_weights(class_weights, owner=owner)
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        owner = repr(self)
        logits = check_array(logits, owner=owner, name="logits", shape=("N", "K", "H", "W"))
        check_finite(logits, owner=owner, name="logits", hint=_PRED_HINT)
        N, K, H, W = logits.shape
        self._check_weights(K, owner)
        labels, kept = _check_label_map(target, (N, H, W), K, owner=owner, name="target",
                                        ignore_index=self.ignore_index)
        if not kept.any():
            raise InvalidValueError(f"{owner}: every pixel is ignored: no pixel to average over.")
        if self.class_weights is None:
            w = kept.astype(logits.dtype)
        else:
            w = np.where(kept, self.class_weights.astype(logits.dtype)[labels], 0)
        w /= w.sum()  # the per-pixel weights of the mean, summing to 1
        logp = _log_softmax(logits, axis=1)  # finite, since the logits are
        picked = np.take_along_axis(logp, labels[:, None], axis=1)[:, 0]  # (N, H, W)
        terms = np.zeros_like(picked)  # ignored pixels add 0, even where log p is -inf
        np.multiply(w, picked, out=terms, where=kept)
        with np.errstate(over="ignore"):  # beyond float: inf is the rounding of the loss
            loss = -float(np.sum(terms))
        self._cache = (logp, labels, w)
        return loss

    def backward(self) -> np.ndarray:
        """-> dL/dlogits: (N, K, H, W), in the logits' dtype; zero at ignored pixels."""
        if self._cache is None:
            raise self._missing_cache()
        logp, labels, w = self._cache
        grad = np.exp(logp)  # softmax, a new array
        at = labels[:, None]
        np.put_along_axis(grad, at, np.take_along_axis(grad, at, axis=1) - 1, axis=1)
        grad *= w[:, None]
        return grad

    def _check_weights(self, k: int, owner: str) -> None:
        if self.class_weights is not None and len(self.class_weights) != k:
            raise ShapeError(
                f"{owner}: class_weights has {len(self.class_weights)} entries but the "
                f"logits have {k} classes; expected shape ({k},)."
            )

    def _check_target_values(
        self, target: np.ndarray, out_shape: tuple[int, ...], *, owner: str, name: str
    ) -> None:
        if len(out_shape) != 4:
            raise ShapeError(
                f"{owner} needs a model whose output is per-pixel logits (N, K, H, W), "
                f"got an output of shape {format_shape(('N', *out_shape[1:]))}."
            )
        self._check_weights(out_shape[1], owner)
        n = target.shape[0] if target.ndim else 1
        _check_label_map(target, (n, *out_shape[2:]), out_shape[1], owner=owner, name=name,
                         ignore_index=self.ignore_index)

    def __repr__(self) -> str:
        parts = []
        if self.ignore_index is not None:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.class_weights is not None:
            parts.append(f"class_weights=({len(self.class_weights)},)")
        return f"PixelCrossEntropy({', '.join(parts)})"


def _label_maps(pred: object, true: object, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels (N, H, W) from labels or logits (N, K, H, W), and true labels."""
    p = check_array(pred, owner=owner, name="pred", kind="number")
    if p.ndim == 4:
        check_finite(p, owner=owner, name="pred", hint=_PRED_HINT)
        p = np.argmax(p, axis=1)
    elif p.dtype.kind == "f":
        raise DTypeError(
            f"{owner}: expected pred as integer labels (N, H, W) or logits (N, K, H, W), "
            f"got floats of shape {tuple(p.shape)}."
        )
    t = check_array(true, owner=owner, name="true", kind="int")
    if p.shape != t.shape:
        raise ShapeError(
            f"{owner}: expected pred and true label maps of the same shape, got "
            f"{tuple(p.shape)} (after argmax) and {tuple(t.shape)}."
        )
    return p, t


def pixel_accuracy(pred: np.ndarray, true: np.ndarray, *,
                   ignore_index: int | None = None) -> float:
    """The fraction of pixels whose predicted class is the true class, in [0, 1].

    pred: labels (N, H, W) (any shape matching true) or logits (N, K, H, W) (argmax over K);
    true: integer labels, the same shape as the label map. Pixels whose true label is
    ignore_index do not count.
    """
    owner = "pixel_accuracy"
    p, t = _label_maps(pred, true, owner)
    kept = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
    if not kept.any():
        raise InvalidValueError(f"{owner}: every pixel is ignored: no pixel to count.")
    return float(np.mean(p[kept] == t[kept]))


def segmentation_iou(pred_labels: np.ndarray, true_labels: np.ndarray,
                     n_classes: int) -> np.ndarray:
    """Intersection over union for every class: (K,) float64.

    pred_labels, true_labels: integer label maps of one shape (e.g. (N, H, W)), in
    0..K-1.  IoU_k = |pred == k and true == k| / |pred == k or true == k|.
    A class absent from both maps has no IoU: nan (no warning), so that
    ``np.nanmean(iou)`` is the mean IoU over the classes that occur.
    """
    owner = "segmentation_iou"
    k = check_positive_int(n_classes, owner=owner, name="n_classes")
    p = check_array(pred_labels, owner=owner, name="pred_labels", kind="int")
    t = check_array(true_labels, owner=owner, name="true_labels", kind="int")
    if p.shape != t.shape:
        raise ShapeError(
            f"{owner}: expected pred_labels and true_labels of the same shape, got "
            f"{tuple(p.shape)} and {tuple(t.shape)}."
        )
    for name, a in (("pred_labels", p), ("true_labels", t)):
        if a.min() < 0 or a.max() >= k:
            bad = a[(a < 0) | (a >= k)][0]
            raise InvalidValueError(
                f"{owner}: {name} must lie in 0..{k - 1} for n_classes={k}, got a label {bad}."
            )
    # One bincount of the (true, pred) pairs: the K x K confusion matrix of the pixels.
    cm = np.bincount(k * t.ravel() + p.ravel(), minlength=k * k).reshape(k, k)
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - np.diag(cm)
    iou = np.full(k, np.nan)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou
