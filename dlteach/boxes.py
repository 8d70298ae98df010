"""Bounding boxes: overlap, the normalised form a detector predicts, and drawing.

A box is (x0, y0, x1, y1) in pixels: x0 <= x1 along the image's width (columns), y0 <= y1
along its height (rows), as matplotlib draws them over ``imshow`` (y grows downwards).
N boxes are an (N, 4) array.

- :func:`box_iou`: intersection over union of every pair, (N, M), in one broadcast.
- :func:`encode_boxes` / :func:`decode_boxes`: pixels <-> (cx, cy, w, h) as fractions
  of the image size, the form a detector's regression head predicts (every number in
  [0, 1], whatever the image size).
- :func:`draw_boxes`, :func:`draw_mask`: draw boxes and segmentation masks on an axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.validation import check_array, check_finite, check_positive, index_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.patches import Rectangle


def _check_boxes(boxes: object, *, owner: str, name: str = "boxes") -> np.ndarray:
    """boxes (N, 4) as float64 after checking x0 <= x1 and y0 <= y1; N may be 0."""
    arr = check_array(boxes, owner=owner, name=name, kind="number", allow_empty=True)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ShapeError(
            f"{owner}: expected {name} of shape (N, 4), one (x0, y0, x1, y1) per row, "
            f"got {tuple(arr.shape)}."
        )
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, owner=owner, name=name)
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValueError(
            f"{owner}: {name} must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, got "
            f"{arr[row].tolist()} at {index_text((row,))}. Are they (x, y, width, height) "
            "or (cx, cy, w, h)?"
        )
    return arr


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """(x1 - x0) * (y1 - y0) for every box: boxes (N, 4) -> (N,) float64."""
    b = _check_boxes(boxes, owner="box_areas")
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes: a (N, 4), b (M, 4) -> (N, M) float64.

    IoU = area(a & b) / area(a | b), in [0, 1]. Boxes that do not overlap (or only touch)
    give 0; two zero-area boxes have no union and give 0 too (no division warning).
    IoU does not change when every coordinate is scaled, so the boxes are first divided by
    their largest |coordinate|: areas cannot overflow, even for coordinates near 1e308.
    """
    owner = "box_iou"
    a = _check_boxes(a, owner=owner, name="a")
    b = _check_boxes(b, owner=owner, name="b")
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    if scale > 0:
        a, b = a / scale, b / scale
    # (N, 1) against (1, M): the overlap rectangle of every pair, empty when negative.
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    iou = np.zeros_like(inter)
    np.divide(inter, union, out=iou, where=union > 0)
    return iou


def _image_size(image_size: object, owner: str) -> tuple[float, float]:
    if not isinstance(image_size, Sequence) or len(image_size) != 2:
        raise ShapeError(
            f"{owner}: expected image_size = (height, width), e.g. image.shape[:2], "
            f"got {image_size!r}."
        )
    height = check_positive(image_size[0], owner=owner, name="the image height")
    width = check_positive(image_size[1], owner=owner, name="the image width")
    return height, width


def encode_boxes(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Pixel boxes (N, 4) (x0, y0, x1, y1) -> (N, 4) (cx, cy, w, h) as fractions in [0, 1].

    image_size: (height, width), the order of ``image.shape[:2]``. The boxes must lie
    inside the image (0 <= x0 <= x1 <= width, 0 <= y0 <= y1 <= height).
        cx = (x0 + x1) / 2 / width,  cy = (y0 + y1) / 2 / height,
        w = (x1 - x0) / width,       h = (y1 - y0) / height.
    """
    owner = "encode_boxes"
    b = _check_boxes(boxes, owner=owner)
    height, width = _image_size(image_size, owner)
    outside = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] > width) | (b[:, 3] > height)
    if outside.any():
        row = int(np.argmax(outside))
        raise InvalidValueError(
            f"{owner}: box {b[row].tolist()} at {index_text((row,))} reaches outside the "
            f"{height:g} x {width:g} image (height x width). Clip it first, or check that "
            "image_size is (height, width)."
        )
    scale = np.array([width, height, width, height])
    centre = b[:, :2] / 2 + b[:, 2:] / 2  # (x0 + x1) / 2 would overflow near 1e308
    return np.concatenate([centre, b[:, 2:] - b[:, :2]], axis=1) / scale


def decode_boxes(encoded: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`encode_boxes`: (N, 4) (cx, cy, w, h) fractions -> pixel boxes.

    encoded: (N, 4) with w, h >= 0;  image_size: (height, width). Returns (N, 4) float64
    (x0, y0, x1, y1) = ((cx - w/2) width, (cy - h/2) height, (cx + w/2) width, ...).
    Values outside [0, 1] (a detector's raw guess) are decoded as they are, not clipped.
    """
    owner = "decode_boxes"
    e = check_array(encoded, owner=owner, name="encoded", kind="number", allow_empty=True)
    if e.ndim != 2 or e.shape[1] != 4:
        raise ShapeError(
            f"{owner}: expected encoded of shape (N, 4), one (cx, cy, w, h) per row, "
            f"got {tuple(e.shape)}."
        )
    e = e.astype(np.float64, copy=False)
    check_finite(e, owner=owner, name="encoded")
    if (e[:, 2:] < 0).any():
        row = int(np.argmax((e[:, 2:] < 0).any(axis=1)))
        raise InvalidValueError(
            f"{owner}: widths and heights must be >= 0, got {e[row].tolist()} at "
            f"{index_text((row,))}."
        )
    height, width = _image_size(image_size, owner)
    scale = np.array([width, height])
    centre, half = e[:, :2], e[:, 2:] / 2
    # Corners first, then pixels: a raw guess beyond the range becomes +-inf, never inf - inf.
    with np.errstate(over="ignore"):
        return np.concatenate([(centre - half) * scale, (centre + half) * scale], axis=1)


def draw_boxes(
    ax: Axes, boxes: np.ndarray, labels: Sequence[str] | None = None, color: str = "tab:red",
    *, linewidth: float = 2.0,
) -> list[Rectangle]:
    """Draw pixel boxes (N, 4) (x0, y0, x1, y1) on ``ax`` (over ``ax.imshow(image)``).

    labels: one text per box (class name, score), written at its top-left corner.
    Returns the N Rectangle patches added to the axes.
    """
    from matplotlib.patches import Rectangle

    owner = "draw_boxes"
    b = _check_boxes(boxes, owner=owner)
    if labels is not None and len(labels) != len(b):
        raise ShapeError(
            f"{owner}: expected one label per box ({len(b)}), got {len(labels)} labels."
        )
    patches = []
    for i, (x0, y0, x1, y1) in enumerate(b):  # one patch per box: matplotlib's own unit
        rect = Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                         linewidth=linewidth)
        ax.add_patch(rect)
        patches.append(rect)
        if labels is not None:
            ax.text(x0, y0, str(labels[i]), color="white", fontsize=8, va="bottom",
                    bbox={"facecolor": color, "alpha": 0.8, "pad": 1, "edgecolor": "none"})
    return patches


def draw_mask(ax: Axes, image: np.ndarray, mask: np.ndarray, alpha: float = 0.5,
              *, cmap: str = "tab10") -> Axes:
    """Show ``image`` with a label ``mask`` painted over it, one colour per class.

    image: (H, W) greyscale or (H, W, 3) colour;  mask: (H, W) integer labels or booleans,
    0 = background (left unpainted).  alpha: opacity of the paint, in [0, 1].
    """
    owner = "draw_mask"
    img = check_array(image, owner=owner, name="image", kind="number")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ShapeError(
            f"{owner}: expected image of shape (H, W) or (H, W, 3), got {tuple(img.shape)}."
        )
    if isinstance(mask, np.ndarray) and mask.dtype == np.bool_:
        mask = mask.astype(np.int64)  # True/False are the labels 1/0
    m = check_array(mask, owner=owner, name="mask", kind="number")
    if m.shape != img.shape[:2]:
        raise ShapeError(
            f"{owner}: expected mask of the image's size {img.shape[:2]} (H, W), "
            f"got {tuple(m.shape)}."
        )
    a = float(alpha)
    if not 0 <= a <= 1:
        raise InvalidValueError(f"{owner}: alpha must lie in [0, 1], got {alpha}.")
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    painted = np.ma.masked_where(m == 0, m)
    ax.imshow(painted, cmap=cmap, alpha=a, vmin=0, vmax=max(int(m.max()), 1),
              interpolation="nearest")
    ax.set_axis_off()
    return ax
