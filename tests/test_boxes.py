"""Box utilities: pairwise IoU, normalised encoding, drawing boxes and masks."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.boxes import box_areas, box_iou, decode_boxes, draw_boxes, draw_mask, encode_boxes
from dlteach.errors import InvalidValueError, NonFiniteError, ShapeError

matplotlib.use("Agg")


def _iou_loop(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((len(a), len(b)))
    for i, (ax0, ay0, ax1, ay1) in enumerate(a):
        for j, (bx0, by0, bx1, by1) in enumerate(b):
            iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
            ih = max(0.0, min(ay1, by1) - max(ay0, by0))
            inter = iw * ih
            union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    corners = rng.integers(0, 10, size=(n, 2, 2)).astype(float)
    corners.sort(axis=1)  # x0 <= x1, y0 <= y1; some boxes have zero width or height
    return corners.transpose(0, 2, 1).reshape(n, 4)[:, [0, 2, 1, 3]]


def test_box_iou_by_hand():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]])
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [2, 0, 4, 2]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 4)
    # Overlap 1 of union 7; identical; apart; touching along an edge (overlap 0).
    np.testing.assert_allclose(iou[0], [1 / 7, 1, 0, 0])
    np.testing.assert_allclose(iou[1], [0, 1 / 4, 0, 0])
    np.testing.assert_array_equal(box_areas(a), [4, 1])


def test_box_iou_of_zero_area_boxes_is_zero_without_a_warning():
    point = np.array([[1.0, 1.0, 1.0, 1.0]])
    line = np.array([[0.0, 1.0, 3.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert box_iou(point, point)[0, 0] == 0.0
        assert box_iou(point, line)[0, 0] == 0.0
        assert box_iou(line, np.array([[0.0, 0.0, 3.0, 3.0]]))[0, 0] == 0.0
        assert box_iou(np.zeros((0, 4)), line).shape == (0, 1)


@given(seed=st.integers(0, 2**16), n=st.integers(1, 6), m=st.integers(1, 6))
def test_box_iou_matches_loops_and_is_symmetric(seed, n, m):
    rng = np.random.default_rng(seed)
    a, b = _random_boxes(rng, n), _random_boxes(rng, m)
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou, _iou_loop(a, b), rtol=1e-12, atol=0)
    np.testing.assert_allclose(box_iou(b, a), iou.T)
    assert ((iou >= 0) & (iou <= 1)).all()


def test_box_errors():
    with pytest.raises(ShapeError, match=r"^box_iou: expected a of shape \(N, 4\)"):
        box_iou(np.zeros((2, 3)), np.zeros((1, 4)))
    with pytest.raises(InvalidValueError, match=r"^box_iou: b must be \(x0, y0, x1, y1\) with "
                                                r"x0 <= x1.*at row 1"):
        box_iou(np.zeros((1, 4)), np.array([[0, 0, 1, 1], [2, 0, 1, 1]]))
    with pytest.raises(NonFiniteError, match=r"^box_areas: boxes holds 1 NaN"):
        box_areas(np.array([[0, 0, np.nan, 1]]))


def test_encode_and_decode_by_hand():
    boxes = np.array([[0, 0, 100, 50], [20, 10, 40, 30]])
    enc = encode_boxes(boxes, (50, 200))  # height 50, width 200
    np.testing.assert_allclose(enc, [[0.25, 0.5, 0.5, 1.0], [0.15, 0.4, 0.1, 0.4]])
    np.testing.assert_allclose(decode_boxes(enc, (50, 200)), boxes)


@given(seed=st.integers(0, 2**16), n=st.integers(0, 5), height=st.integers(10, 50),
       width=st.integers(10, 50))
def test_decode_inverts_encode(seed, n, height, width):
    boxes = _random_boxes(np.random.default_rng(seed), n)
    enc = encode_boxes(boxes, (height, width))
    assert enc.shape == (n, 4) and ((enc >= 0) & (enc <= 1)).all()
    np.testing.assert_allclose(decode_boxes(enc, (height, width)), boxes, atol=1e-12)


def test_encode_and_decode_errors():
    with pytest.raises(InvalidValueError, match=r"^encode_boxes: box \[0.0, 0.0, 30.0, 5.0\] at "
                                                r"row 0 reaches outside the 10 x 20 image"):
        encode_boxes(np.array([[0, 0, 30, 5]]), (10, 20))
    with pytest.raises(ShapeError, match=r"^encode_boxes: expected image_size = \(height, width"):
        encode_boxes(np.zeros((1, 4)), 10)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"^decode_boxes: the image width must be"):
        decode_boxes(np.zeros((1, 4)), (10, 0))
    with pytest.raises(InvalidValueError, match=r"^decode_boxes: widths and heights must be"):
        decode_boxes(np.array([[0.5, 0.5, -0.1, 0.2]]), (10, 10))
    with pytest.raises(ShapeError, match=r"^decode_boxes: expected encoded of shape \(N, 4\)"):
        decode_boxes(np.zeros(4), (10, 10))


def test_draw_boxes_adds_one_patch_per_box_with_labels():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        ax.imshow(np.zeros((20, 30)))
        patches = draw_boxes(ax, np.array([[1, 2, 10, 12], [5, 5, 25, 15]]), ["cat", "dog 0.9"],
                             color="tab:blue")
        assert len(patches) == 2 and len(ax.patches) == 2
        assert patches[0].get_width() == 9 and patches[0].get_height() == 10
        assert [t.get_text() for t in ax.texts] == ["cat", "dog 0.9"]
        with pytest.raises(ShapeError, match=r"^draw_boxes: expected one label per box \(2\)"):
            draw_boxes(ax, np.zeros((2, 4)), ["one"])
        fig.canvas.draw()  # renders without an error
    finally:
        plt.close(fig)


def test_draw_mask_paints_over_the_image():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        mask = np.zeros((6, 8), dtype=int)
        mask[1:3, 2:5] = 1
        mask[4:, 6:] = 2
        assert draw_mask(ax, np.random.default_rng(0).random((6, 8)), mask, alpha=0.4) is ax
        assert len(ax.images) == 2  # the image and the painted mask
        painted = ax.images[1].get_array()
        assert painted.mask.sum() == (mask == 0).sum()  # background left unpainted
        draw_mask(ax, np.zeros((6, 8, 3)), mask > 0)  # colour image, boolean mask
        fig.canvas.draw()
        with pytest.raises(ShapeError, match=r"^draw_mask: expected mask of the image's size"):
            draw_mask(ax, np.zeros((6, 8)), np.zeros((6, 7), dtype=int))
        with pytest.raises(InvalidValueError, match=r"^draw_mask: alpha must lie in \[0, 1\]"):
            draw_mask(ax, np.zeros((6, 8)), mask, alpha=2)
        with pytest.raises(ShapeError, match=r"^draw_mask: expected image of shape"):
            draw_mask(ax, np.zeros((2, 6, 8)), mask)
    finally:
        plt.close(fig)
