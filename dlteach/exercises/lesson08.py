"""Checks for lesson 8, detection and segmentation (``solutions/08_vision.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
library's reference (:func:`dlteach.boxes.box_iou`, :class:`dlteach.upsampling.Upsample2D`,
:class:`dlteach.segmentation.PixelCrossEntropy`) and returns a
:class:`~dlteach.checking.Verdict`. The cases catch the usual mistakes: boxes apart along
one axis or both (an unclipped overlap is negative, or a product of two negatives),
boxes that only touch, one box inside another, zero-area boxes (0 / 0), the corner order
(x0, y0, x1, y1) against (x, y, w, h), a pairwise (N, M) result with N != M; upsampling
of non-square images by 2 and by 3 with several images and channels, and a backward that
must SUM each block; a per-pixel cross-entropy with logits of +-1000 (a naive softmax
overflows), K != H != W (a softmax along the wrong axis), and ignored pixels that must
not count in the mean (a mean over all pixels, or per image, is wrong). A case may carry
its own hint, which names what to look at without giving the code away. Once every
value is right, a second pass compares the dtypes: float32 in, float32 out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlteach.boxes import box_iou as _box_iou
from dlteach.checking import Case, Verdict, check_with_case_hints, graded, seeded_case
from dlteach.exercises import LESSON_EXERCISES
from dlteach.segmentation import PixelCrossEntropy
from dlteach.upsampling import Upsample2D

LESSON = "08_vision"
# Every check: the values on every case, then, once they are all right, the dtypes.
_check = partial(check_with_case_hints, dtypes=True)
EXERCISES = LESSON_EXERCISES[LESSON]
Array = np.ndarray


# ---------------------------------------------------------------- references


def box_iou(a: Array, b: Array) -> Array:
    """Reference: IoU of every pair, a (N, 4), b (M, 4) (x0, y0, x1, y1) -> (N, M), by
    dlteach.boxes.box_iou, in the inputs' float dtype (float32 boxes give float32)."""
    dtype = np.result_type(np.asarray(a).dtype, np.asarray(b).dtype, np.float32)
    return _box_iou(a, b).astype(dtype)


def upsample_nearest(x: Array, factor: int) -> Array:
    """Reference: x (N, C, H, W) -> (N, C, H*factor, W*factor), every pixel an f x f block."""
    return Upsample2D(factor).forward(x)


def upsample_nearest_backward(grad_y: Array, factor: int) -> Array:
    """Reference: grad_y (N, C, H*f, W*f) -> grad_x (N, C, H, W), the sum of each block."""
    N, C, Hf, Wf = np.shape(grad_y)
    layer = Upsample2D(factor)
    layer.forward(np.zeros((N, C, Hf // factor, Wf // factor), dtype=np.asarray(grad_y).dtype))
    return layer.backward(grad_y)


def pixel_cross_entropy(logits: Array, labels: Array, ignore_index: int) -> float:
    """Reference: mean over the pixels whose label is not ignore_index of
    -log softmax(logits[n, :, h, w])[labels[n, h, w]]; logits (N, K, H, W)."""
    return PixelCrossEntropy(ignore_index=ignore_index).forward(logits, labels)


# ---------------------------------------------------------------- helpers


def _boxes(seed: int, n: int, m: int) -> Case:
    """a (n, 4), b (m, 4): random boxes with corners on a grid of quarters in [0, 3]."""
    draw = ("np.sort(rng.integers(0, 13, size=({k}, 2, 2)), axis=1)"
            ".transpose(0, 2, 1).reshape({k}, 4)[:, [0, 2, 1, 3]] / 4")
    return seeded_case(seed, f"{n} boxes against {m}, random", a=draw.format(k=n),
                       b=draw.format(k=m))


_SHAPE_HINT = ("a (N, 4) against b (M, 4) gives an (N, M) table: row i is box a[i] against "
               "every box of b. Broadcast a[:, None] against b[None, :].")


# ---------------------------------------------------------------- checks


@graded
def check_box_iou(fn: Callable) -> Verdict:
    """box_iou(a, b) -> (N, M) intersection over union of every pair of boxes."""
    cases = [
        (Case((np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[2.0, 0.0, 4.0, 2.0]])),
              label="two 2x2 boxes that only touch: IoU 0"),
         "The boxes share an edge (x = 2) but no area, so the IoU is 0: the overlap runs "
         "from the larger left edge to the smaller right edge, 2 - 2 = 0 wide. Coordinates "
         "are edges, not pixel indices: a width is x1 - x0, with no + 1."),
        (Case((np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([[0.0, 0.0, 2.0, 2.0]])),
              label="one box inside the other"),
         "b lies inside a: the overlap is b itself (area 4) and the union is a (area 16), "
         "so IoU = 4 / 16. The union is both areas minus the overlap (counted twice "
         "otherwise); the overlap takes the larger left/top edge and the SMALLER "
         "right/bottom edge."),
        (Case((np.array([[1.0, 2.0, 3.0, 7.0]]), np.array([[2.0, 1.0, 6.0, 4.0]])),
              label="corners (x0, y0, x1, y1), not (x, y, width, height)"),
         "A box is (x0, y0, x1, y1), two corners: a is 3 - 1 = 2 wide and 7 - 2 = 5 high. "
         "Read as (x, y, width, height) it would be 3 wide and 7 high."),
        (Case((np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[3.0, 0.0, 5.0, 2.0]])),
              label="apart along x only: the overlap's width is negative"),
         "These boxes do not overlap: the overlap's width is 2 - 3 = -1, and times its "
         "height 2 that is a negative area. A width or a height below 0 means no overlap: "
         "clip each at 0 before multiplying."),
        (Case((np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[2.0, 3.0, 4.0, 5.0]])),
              label="apart along x and y: two negatives make a positive"),
         "Apart along both axes, the overlap's width (-1) and height (-2) are both "
         "negative, and their product is +2: a 'positive overlap' of boxes that do not "
         "meet. Clip the width and the height at 0 each, not their product."),
        (Case((np.array([[0.0, 0.0, 0.0, 3.0]]), np.array([[0.0, 1.0, 0.0, 1.0]])),
              label="zero-area boxes (a line, a point): 0 / 0 must give 0, not nan"),
         "A line and a point have area 0: their union is 0 and the IoU 0 / 0 is nan. IoU "
         "is 0 here by definition: divide only where the union is above 0 (np.divide "
         "with where=, or np.where on a safe denominator)."),
        (Case((np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0], [5.0, 5.0, 6.0, 6.0]]),
               np.array([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 4.0, 3.0]])),
              label="3 boxes against 2: a (3, 2) table"),
         _SHAPE_HINT),
        (Case((np.array([[0, 0, 10, 10], [5, 5, 15, 20]]), np.array([[5, 0, 10, 10]])),
              label="integer pixel coordinates: the IoU is still a fraction"),
         "The coordinates are integers, but the IoU is a fraction: an array made like them "
         "(zeros_like, empty_like) keeps the integer type, and a division cannot be stored "
         "in it."),
        (Case((np.array([[0.5, 0.25, 4.0, 3.5], [2.0, 1.0, 3.0, 6.0]], dtype=np.float32),
               np.array([[1.0, 1.0, 3.5, 2.5]], dtype=np.float32)),
              label="float32 boxes: a float32 table"), None),
        (_boxes(81, 20, 30),
         "Small boxes here: some unions are below 1. Guard the division by testing "
         "union > 0, not by raising the union to 1 or more."),
    ]
    return _check(
        fn, box_iou, cases, exercise="box_iou",
        hint=("For every pair: the overlap rectangle (larger left/top edge, smaller "
              "right/bottom edge), its width and height clipped at 0, area = width x height; "
              "IoU = overlap / (area a + area b - overlap), 0 where the union is 0. Result "
              "(N, M)."),
    )


@graded
def check_upsample_nearest(fn: Callable) -> Verdict:
    """upsample_nearest(x, factor) -> (N, C, H*factor, W*factor)."""
    cases = [
        (Case((np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]]), 2),
              label="one 2x3 image, factor 2: every pixel a 2x2 block"),
         "Each pixel becomes a 2x2 block of copies of itself, in place: row 0 of the "
         "result is 1, 1, 2, 2, 3, 3, and so is row 1. Repeating the whole image (tiling) "
         "puts the copies in the wrong places; both H and W grow, by the factor."),
        (Case((np.array([[[[1.0, -2.0, 0.5, 3.0], [0.25, 4.0, -1.0, 2.0]]]]), 3),
              label="a 2x4 image, factor 3: 6x12"),
         "With factor 3 every pixel becomes a 3x3 block: the 2x4 image becomes 6x12. Use "
         "the factor you are given along both H and W."),
        (seeded_case(82, "2 images of 1 channel: N stays", x=(2, 1, 2, 3), factor="2"),
         "x holds N = 2 images: the result holds both, each upsampled, (N, C, H*f, W*f). "
         "Work on the whole batch, not on x[0]."),
        (seeded_case(84, "4 images, 3 channels, 5x7, random", x=(4, 3, 5, 7), factor="2"),
         "Every channel of every image is upsampled on its own: channels keep their number, "
         "order and values. Only the last two axes (H, W) grow."),
        (seeded_case(83, "float32 images: float32 result", "float32", x=(2, 2, 3, 2),
                     factor="3"), None),
    ]
    return _check(
        fn, upsample_nearest, cases, exercise="upsample_nearest",
        hint=("y[n, c, h, w] = x[n, c, h // factor, w // factor]: every pixel becomes a "
              "factor x factor block, along H and W only."),
    )


@graded
def check_upsample_nearest_backward(fn: Callable) -> Verdict:
    """upsample_nearest_backward(grad_y, factor) -> grad_x (N, C, H, W)."""
    cases = [
        (Case((np.ones((1, 1, 4, 6)), 2), label="a gradient of ones, factor 2: 4 everywhere"),
         "Each input pixel was copied into 4 output pixels, and each copy sends its "
         "gradient back: the pixel's gradient is the SUM of its 2x2 block, 4 here. A mean "
         "gives 1; taking one entry of each block gives 1 too."),
        (Case((np.arange(24.0).reshape(1, 1, 4, 6), 2),
              label="distinct values, factor 2: the sum of each 2x2 block"),
         "grad_x[0, 0, 0, 0] is the sum of rows 0-1, columns 0-1 of grad_y: 0 + 1 + 6 + 7 "
         "= 14. Output row h*f + i comes from input row h: split the rows as (H, f), the "
         "input row first, and sum over the f (the same for the columns)."),
        (Case((np.arange(18.0).reshape(1, 1, 6, 3) - 8.5, 3),
              label="a 6x3 gradient, factor 3: a 2x1 result"),
         "With factor 3, 6 rows give H = 2 input rows and 3 columns give W = 1: sum each "
         "3x3 block. Use the factor you are given."),
        (seeded_case(85, "2 images, 3 channels, 4x6: N and C stay", grad_y=(2, 3, 4, 6),
                     factor="2"),
         "Sum over the blocks only: the images (N) and channels (C) keep their number and "
         "order, and grad_x has the shape (N, C, H, W) of the forward's input."),
        (seeded_case(86, "float32 gradients: a float32 result", "float32",
                     grad_y=(1, 2, 6, 6), factor="3"), None),
    ]
    return _check(
        fn, upsample_nearest_backward, cases, exercise="upsample_nearest_backward",
        hint=("Forward copied x[n, c, h, w] into a factor x factor block; backward adds up "
              "the gradients of that block: grad_x has shape (N, C, H, W) with H = rows of "
              "grad_y // factor."),
    )


@graded
def check_pixel_cross_entropy(fn: Callable) -> Verdict:
    """pixel_cross_entropy(logits, labels, ignore_index) -> a float."""
    cases = [
        (Case((np.array([[[[2.0]], [[0.5]], [[-1.0]]]]), np.array([[[1]]]), 255),
              label="one pixel, 3 classes"),
         "One pixel with class scores 2, 0.5, -1 (axis 1) and label 1: the loss is "
         "-log softmax(scores)[1] = -(0.5 - log(e^2 + e^0.5 + e^-1)). Every class's score "
         "counts, through the log-sum-exp."),
        (seeded_case(88, "2 images, K = 3 classes, H = 4, W = 5", logits=(2, 3, 4, 5),
                     labels="rng.integers(0, 3, size=(2, 4, 5))", ignore_index="255"),
         "The classes are axis 1 of (N, K, H, W), and K = 3, H = 4, W = 5 differ here. To "
         "put the classes last, transpose (N, K, H, W) -> (N, H, W, K); a reshape to that "
         "shape mixes classes and pixels. The loss is the MEAN over the 40 pixels."),
        (Case((np.array([[[[1000.0, -1000.0]], [[0.0, 1000.0]]]]), np.array([[[1, 0]]]), 255),
              label="logits of +-1000: e^1000 overflows"),
         "e^1000 is inf and inf / inf is nan; and log of a probability that rounds to 0 is "
         "-inf. Work with log probabilities: log softmax(z) = z - m - log sum exp(z - m), m "
         "the largest logit. The loss is large here (1500), but finite."),
        (Case((np.array([[[[1000.0, -1000.0]], [[999.0, -999.0]]]]), np.array([[[0, 1]]]),
               255), label="pixels 2000 apart: each pixel needs its own maximum"),
         "The two pixels' logits are near +1000 and near -1000. Subtracting one maximum for "
         "the whole array leaves exponents near -2000 for the second pixel: e^-2000 rounds "
         "to 0 and its log is -inf. Subtract each pixel's own maximum over the class axis "
         "(keepdims=True)."),
        (Case((np.arange(24.0).reshape(2, 3, 2, 2) % 7 / 2 - 1,
               np.array([[[0, 255], [1, 255]], [[2, 1], [255, 255]]]), 255),
              label="pixels labelled 255 are ignored: the mean of the other 4"),
         "Pixels labelled ignore_index have no class: they add nothing, and the mean is "
         "over the pixels that count (4 here), not over all 8. Build a mask labels != "
         "ignore_index, and index with a safe label where it is False."),
        (Case((np.arange(48.0).reshape(2, 4, 2, 3) % 5 - 2,
               np.array([[[0, 1, 255], [255, 255, 255]], [[2, 0, 1], [1, 3, 0]]]), 255),
              label="image 0 has 2 pixels that count, image 1 has 6: one mean over all 8"),
         "The mean runs over every pixel that counts, in all images together: 8 pixels "
         "here, 2 from the first image and 6 from the second. A mean per image, then over "
         "the images, weighs the first image's 2 pixels as much as the other's 6."),
        (Case((np.arange(12.0).reshape(1, 3, 2, 2) % 5 - 1, np.array([[[-1, 2], [0, -1]]]),
               -1), label="ignore_index = -1: use the value given"),
         "ignore_index is an argument: here it is -1, and the pixels labelled -1 do not "
         "count. (Used as an index, -1 would quietly pick the last class.)"),
    ]
    return _check(
        fn, pixel_cross_entropy, cases, exercise="pixel_cross_entropy",
        hint=("At each pixel: log softmax over the class axis (axis 1), computed stably, "
              "and -log p of the pixel's label; then the mean over the pixels whose label "
              "is not ignore_index, all images together. Return one number."),
    )
