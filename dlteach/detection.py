"""Where is it, and which pixels are it: a detector with two heads, and a small FCN.

Detection (one object per image): a shared convolutional trunk turns the image into a
feature vector f, and two heads read it::

    logits = class_head(f)     (N, K)   what the object is
    box    = box_head(f)       (N, 4)   where it is: (cx, cy, w, h) as fractions of the
                                        image size (dlteach.boxes.encode_boxes)

:class:`Detector` returns both side by side, (N, K + 4), so that ``dl.fit`` trains it
like any model. Backward splits the gradient again and ADDS the two heads' gradients
at f: the trunk learns from both tasks. :class:`DetectionLoss` is the joint loss::

    L = CE(logits, labels) + box_weight * mean_n sum_j smoothL1(box_nj - target_nj)

    smoothL1(d) = d^2 / (2 beta)   for |d| < beta,    |d| - beta / 2   otherwise

quadratic near 0 (gentle steps when almost right) and linear far away (a wild guess
does not dominate the loss). Targets are (N, 5) rows (label, cx, cy, w, h):
:func:`detection_targets` builds them from labels and pixel boxes.

Segmentation: :func:`fcn` builds a small fully convolutional network, down (convolutions
and max pooling) then up (nearest upsampling and convolutions), that outputs per-pixel
logits (N, K, H, W) for ``dl.PixelCrossEntropy``; it works on any image whose sides are
multiples of 2**depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlteach.activations import ReLU
from dlteach.boxes import _check_boxes, decode_boxes, encode_boxes
from dlteach.conv import Conv2D
from dlteach.core import Layer, Parameter, Sequential
from dlteach.dense import Dense
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.losses import _PRED_HINT, Loss, SoftmaxCrossEntropy
from dlteach.numerics import grad_as
from dlteach.pooling import MaxPool2D
from dlteach.reshape import Flatten
from dlteach.upsampling import Upsample2D
from dlteach.validation import (
    as_rng,
    check_array,
    check_finite,
    check_labels,
    check_positive,
    check_positive_int,
    format_shape,
)

BOX_NAMES = ("cx", "cy", "w", "h")


class Detector(Layer):
    """A shared trunk and two heads: x -> f = trunk(x) -> [class_head(f), box_head(f)].

    x: (N, ...) images;  f: (N, F);  output (N, K + 4): K class logits, then the 4
    encoded box numbers (cx, cy, w, h). Use :meth:`split` to take them apart.
    Backward: dL/df = class_head.backward(dL/dlogits) + box_head.backward(dL/dbox),
    then dL/dx = trunk.backward(dL/df).
    Parameters are named "trunk.0.W", "class_head.W", "box_head.b", ...
    """

    def __init__(self, trunk: Layer, class_head: Layer, box_head: Layer) -> None:
        for name, part in (("trunk", trunk), ("class_head", class_head), ("box_head", box_head)):
            if not isinstance(part, Layer):
                raise InvalidValueError(
                    f"Detector: {name} must be a Layer, got {type(part).__name__}."
                )
        self.trunk, self.class_head, self.box_head = trunk, class_head, box_head
        self._cache: tuple[int, np.dtype] | None = None

    def _parts(self) -> list[tuple[str, Layer]]:
        return [("trunk", self.trunk), ("class_head", self.class_head),
                ("box_head", self.box_head)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, ...) -> (N, K + 4) in x's dtype: class logits, then (cx, cy, w, h)."""
        x = check_array(x, owner=repr(self), name="x")
        f = self.trunk.forward(x)
        if f.ndim != 2:
            raise ShapeError(
                f"{self!r}: the trunk must end in features of shape (N, F) (add a Flatten), "
                f"got {tuple(f.shape)}."
            )
        logits, box = self.class_head.forward(f), self.box_head.forward(f)
        if logits.ndim != 2 or box.shape != (len(x), 4):
            raise ShapeError(
                f"{self!r}: expected class logits (N, K) and boxes (N, 4) from the heads, "
                f"got {tuple(logits.shape)} and {tuple(box.shape)}."
            )
        self._cache = (logits.shape[1], x.dtype)
        return np.concatenate([logits, box], axis=1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out: (N, K + 4) -> dL/dx; fills the gradients of the trunk and both heads."""
        if self._cache is None:
            raise self._missing_cache()
        k, dtype = self._cache
        grad_out = np.asarray(grad_out)
        if grad_out.ndim != 2 or grad_out.shape[1] != k + 4:
            raise ShapeError(
                f"{self!r}: backward expected a gradient of shape (N, {k + 4}) (the shape of "
                f"the last forward's output), got {tuple(grad_out.shape)}."
            )
        g = grad_as(grad_out, dtype)
        grad_f = self.class_head.backward(g[:, :k]) + self.box_head.backward(g[:, k:])
        return self.trunk.backward(grad_f)

    @staticmethod
    def split(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, K + 4) outputs -> (logits (N, K), encoded boxes (N, 4)): views, not copies."""
        out = np.asarray(out)
        if out.ndim != 2 or out.shape[1] < 5:
            raise ShapeError(
                f"Detector.split: expected outputs of shape (N, K + 4) with K >= 1, "
                f"got {tuple(out.shape)}."
            )
        return out[:, :-4], out[:, -4:]

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        for name, part in self._parts():
            out.update(part.named_parameters(prefix=f"{prefix}{name}."))
        return out

    def train(self, mode: bool = True) -> Detector:
        self.training = mode
        for _, part in self._parts():
            part.train(mode)
        return self

    def __repr__(self) -> str:
        return f"Detector({self.class_head!r}, {self.box_head!r})"


def conv_trunk(in_channels: int, image_size: tuple[int, int], widths: Sequence[int] = (8, 16, 32),
               features: int = 64, *, rng: int | np.random.Generator | None = 0,
               dtype: type = np.float32) -> tuple[Sequential, int]:
    """(trunk, F): [Conv 3x3 (padding 1) - ReLU - MaxPool 2] per width, Flatten,
    Dense(features) - ReLU. image_size: (H, W), each a multiple of 2**len(widths)."""
    owner = "conv_trunk"
    gen = as_rng(rng, owner=owner, name="rng")
    H, W = (check_positive_int(s, owner=owner, name="image_size") for s in image_size)
    step = 2 ** len(widths)
    if H % step or W % step:
        raise InvalidValueError(
            f"{owner}: image_size {H}x{W} must be a multiple of {step} along each side for "
            f"{len(widths)} poolings by 2."
        )
    layers: list[Layer] = []
    c = check_positive_int(in_channels, owner=owner, name="in_channels")
    for w in widths:
        layers += [Conv2D(c, w, 3, padding=1, rng=gen, dtype=dtype), ReLU(), MaxPool2D(2)]
        c = w
    flat = c * (H // step) * (W // step)
    layers += [Flatten(), Dense(flat, features, rng=gen, dtype=dtype), ReLU()]
    return Sequential(*layers), features


def build_detector(n_classes: int, image_size: tuple[int, int], *, in_channels: int = 1,
                   widths: Sequence[int] = (8, 16, 32), features: int = 128,
                   rng: int | np.random.Generator | None = 0,
                   dtype: type = np.float32) -> Detector:
    """The lesson's detector: :func:`conv_trunk`, a Dense class head (F -> n_classes) and a
    Dense box head (F -> 4), in one :class:`Detector`."""
    gen = as_rng(rng, owner="build_detector", name="rng")
    trunk, f = conv_trunk(in_channels, image_size, widths, features, rng=gen, dtype=dtype)
    k = check_positive_int(n_classes, owner="build_detector", name="n_classes")
    return Detector(trunk, Dense(f, k, init="xavier", rng=gen, dtype=dtype),
                    Dense(f, 4, init="xavier", rng=gen, dtype=dtype))


def detection_targets(labels: np.ndarray, boxes: np.ndarray,
                      image_size: tuple[int, int]) -> np.ndarray:
    """Rows (label, cx, cy, w, h): labels (N,) ints, pixel boxes (N, 4) -> (N, 5) float64.

    The box part is :func:`dlteach.boxes.encode_boxes` (fractions of the image size);
    image_size is (height, width). :class:`DetectionLoss` reads these rows.
    """
    owner = "detection_targets"
    y = check_array(labels, owner=owner, name="labels", ndim=1, kind="int")
    enc = encode_boxes(boxes, image_size)
    if len(enc) != len(y):
        raise ShapeError(
            f"{owner}: expected one box per label, got {len(y)} labels and {len(enc)} boxes."
        )
    return np.concatenate([y[:, None].astype(np.float64), enc], axis=1)


def smooth_l1(d: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(smoothL1(d), its derivative) elementwise: d^2/(2 beta) for |d| < beta, else
    |d| - beta/2; the derivative is d/beta, else sign(d)."""
    d = check_array(d, owner="smooth_l1", name="d", allow_empty=True)
    beta = check_positive(beta, owner="smooth_l1", name="beta")
    a = np.abs(d)
    small = a < beta
    value = np.where(small, 0.5 * d * d / beta, a - 0.5 * beta)
    slope = np.where(small, d / beta, np.sign(d))
    return value, slope


class DetectionLoss(Loss):
    """Joint loss of a :class:`Detector`: cross-entropy on the class, smooth L1 on the box.

    pred: (N, K + 4) detector outputs;  target: (N, 5) rows (label, cx, cy, w, h), see
    :func:`detection_targets`.

        L = CE(logits, labels) + box_weight * (1/N) sum_n sum_j smoothL1(box_nj - t_nj)

    dL/dlogits is the cross-entropy's (softmax - onehot) / N; dL/dbox_nj =
    box_weight * smoothL1'(box_nj - t_nj) / N. ``last_parts`` holds the two terms of the
    last forward, (classification, box regression), each before weighting.
    """

    def __init__(self, box_weight: float = 1.0, beta: float = 0.05) -> None:
        self.box_weight = check_positive(box_weight, owner="DetectionLoss", name="box_weight")
        self.beta = check_positive(beta, owner="DetectionLoss", name="beta")
        self._ce = SoftmaxCrossEntropy()
        self._cache: tuple[np.ndarray, int] | None = None
        self.last_parts: tuple[float, float] | None = None

    def _labels(self, target: np.ndarray, k: int, owner: str, name: str) -> np.ndarray:
        labels = target[:, 0]
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)][0]
            raise InvalidValueError(
                f"{owner}: column 0 of {name} holds the class labels, got {bad}, which is "
                "not a whole number. Build targets with detection_targets(labels, boxes, "
                "image_size)."
            )
        return check_labels(labels.astype(np.int64), k, owner=owner,
                            name=f"the labels (column 0 of {name})")

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        owner = repr(self)
        pred = check_array(pred, owner=owner, name="pred", ndim=2)
        check_finite(pred, owner=owner, name="pred", hint=_PRED_HINT)
        t = check_array(target, owner=owner, name="target", kind="number")
        check_finite(t, owner=owner, name="target")
        if t.shape != (len(pred), 5) or pred.shape[1] < 5:
            raise ShapeError(
                f"{owner}: expected pred (N, K + 4) and target (N, 5) rows (label, cx, cy, "
                f"w, h), got {tuple(pred.shape)} and {tuple(t.shape)}."
            )
        logits, box = Detector.split(pred)
        labels = self._labels(t, logits.shape[1], owner, "target")
        ce = self._ce.forward(logits, labels)
        n = len(pred)
        value, slope = smooth_l1(box - t[:, 1:].astype(pred.dtype), self.beta)
        reg = float(value.sum()) / n
        self._cache = ((self.box_weight / n) * slope).astype(pred.dtype), logits.shape[1]
        self.last_parts = (ce, reg)
        return ce + self.box_weight * reg

    def backward(self) -> np.ndarray:
        """-> dL/dpred: (N, K + 4), in pred's dtype."""
        if self._cache is None:
            raise self._missing_cache()
        grad_box, _ = self._cache
        return np.concatenate([self._ce.backward(), grad_box], axis=1)

    def _check_target_values(self, target: np.ndarray, out_shape: tuple[int, ...], *,
                             owner: str, name: str) -> None:
        if len(out_shape) != 2 or out_shape[1] < 5:
            raise ShapeError(
                f"{owner} needs a detector whose output is (N, K + 4), got an output of "
                f"shape {format_shape(('N', *out_shape[1:]))}."
            )
        if target.ndim != 2 or target.shape[1] != 5:
            raise ShapeError(
                f"{owner} needs {name} of shape (N, 5), rows (label, cx, cy, w, h), got "
                f"{tuple(target.shape)}. Build it with detection_targets(labels, boxes, "
                "image_size)."
            )
        self._labels(target, out_shape[1] - 4, owner, name)

    def __repr__(self) -> str:
        return f"DetectionLoss(box_weight={self.box_weight:g}, beta={self.beta:g})"


def paired_box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a[i] with box b[i] for every i: a, b (N, 4) -> (N,) float64.

    The diagonal of ``box_iou(a, b)``, without the N x N matrix. Disjoint or touching
    boxes give 0, and so do two zero-area boxes.
    """
    owner = "paired_box_iou"
    a = _check_boxes(a, owner=owner, name="a")
    b = _check_boxes(b, owner=owner, name="b")
    if a.shape != b.shape:
        raise ShapeError(
            f"{owner}: expected as many boxes in a as in b, got {len(a)} and {len(b)}."
        )
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
             + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def decode_predictions(out: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Detector outputs (N, K + 4) -> (labels (N,) int64, pixel boxes (N, 4) float64).

    The class is the largest logit. Negative widths or heights (a raw guess) become 0,
    and the boxes are clipped to the image, (height, width) = image_size.
    """
    logits, enc = Detector.split(check_array(out, owner="decode_predictions", name="out"))
    enc = np.array(enc, dtype=np.float64)
    enc[:, 2:] = np.clip(enc[:, 2:], 0, None)
    boxes = decode_boxes(enc, image_size)
    height, width = image_size
    boxes = np.clip(boxes, 0, [width, height, width, height])
    return np.argmax(logits, axis=1).astype(np.int64), boxes


def detection_scores(out: np.ndarray, labels: np.ndarray, boxes: np.ndarray,
                     image_size: tuple[int, int], *,
                     iou_threshold: float = 0.5) -> dict[str, float]:
    """How good the detector's outputs (N, K + 4) are against labels (N,) and pixel boxes
    (N, 4): {"accuracy", "mean_iou", "found"}, each in [0, 1]. "found" counts an object
    as found when the class is right AND the box has IoU >= iou_threshold."""
    pred_labels, pred_boxes = decode_predictions(out, image_size)
    y = check_array(labels, owner="detection_scores", name="labels", ndim=1, kind="int")
    iou = paired_box_iou(pred_boxes, boxes)
    right = pred_labels == y
    return {"accuracy": float(right.mean()), "mean_iou": float(iou.mean()),
            "found": float((right & (iou >= iou_threshold)).mean())}


def fcn(in_channels: int, n_classes: int, widths: Sequence[int] = (16, 32, 32), *,
        rng: int | np.random.Generator | None = 0, dtype: type = np.float32) -> Sequential:
    """A small fully convolutional network: per-pixel logits (N, n_classes, H, W).

    Down: for each width but the last, Conv 3x3 (padding 1) - ReLU - MaxPool 2; then a
    Conv 3x3 - ReLU of the last width at the lowest resolution. Up: for each pooling,
    Upsample2D(2) - Conv 3x3 - ReLU back through the widths in reverse; finally a 1x1
    Conv to n_classes logits. H and W must be multiples of 2**(len(widths) - 1).
    With widths (16, 32, 32): 32x32 -> 16x16 -> 8x8 (32 channels) -> 16x16 -> 32x32.
    """
    owner = "fcn"
    gen = as_rng(rng, owner=owner, name="rng")
    c = check_positive_int(in_channels, owner=owner, name="in_channels")
    k = check_positive_int(n_classes, owner=owner, name="n_classes")
    widths = [check_positive_int(w, owner=owner, name="widths") for w in widths]
    if len(widths) < 2:
        raise InvalidValueError(f"{owner}: expected at least 2 widths, got {widths}.")
    layers: list[Layer] = []
    for w in widths[:-1]:
        layers += [Conv2D(c, w, 3, padding=1, rng=gen, dtype=dtype), ReLU(), MaxPool2D(2)]
        c = w
    layers += [Conv2D(c, widths[-1], 3, padding=1, rng=gen, dtype=dtype), ReLU()]
    c = widths[-1]
    for w in reversed(widths[:-1]):
        layers += [Upsample2D(2), Conv2D(c, w, 3, padding=1, rng=gen, dtype=dtype), ReLU()]
        c = w
    layers.append(Conv2D(c, k, 1, init="xavier", rng=gen, dtype=dtype))
    return Sequential(*layers)
