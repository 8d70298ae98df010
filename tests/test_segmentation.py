"""PixelCrossEntropy, pixel_accuracy and segmentation_iou."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.errors import DTypeError, InvalidValueError, NonFiniteError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import SoftmaxCrossEntropy
from dlteach.segmentation import PixelCrossEntropy, pixel_accuracy, segmentation_iou


def _as_rows(logits: np.ndarray) -> np.ndarray:
    """(N, K, H, W) -> (N*H*W, K): one row per pixel."""
    return logits.transpose(0, 2, 3, 1).reshape(-1, logits.shape[1])


def test_pixel_loss_is_softmax_cross_entropy_over_all_pixels():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2, 4, 3, 5))
    target = rng.integers(0, 4, size=(2, 3, 5))
    loss = PixelCrossEntropy()
    ref = SoftmaxCrossEntropy()
    assert loss(logits, target) == pytest.approx(ref(_as_rows(logits), target.ravel()), rel=1e-12)
    grad = loss.backward()
    assert grad.shape == logits.shape
    np.testing.assert_allclose(_as_rows(grad), ref.backward(), rtol=1e-12, atol=1e-15)


def test_ignored_pixels_and_class_weights_by_hand():
    logits = np.zeros((1, 2, 1, 3))  # p = 1/2 everywhere: every kept pixel costs log 2
    logits[0, 0, 0, 2] = np.log(3.0)  # pixel 2: p = (3/4, 1/4)
    target = np.array([[[0, 255, 1]]])
    loss = PixelCrossEntropy(ignore_index=255, class_weights=np.array([1.0, 3.0]))
    # Weighted mean over pixels 0 (w=1, -log 1/2) and 2 (w=3, -log 1/4).
    want = (1 * np.log(2) + 3 * np.log(4)) / 4
    assert loss(logits, target) == pytest.approx(want, rel=1e-12)
    grad = loss.backward()
    np.testing.assert_array_equal(grad[0, :, 0, 1], 0)  # the ignored pixel
    np.testing.assert_allclose(grad[0, :, 0, 2], 3 / 4 * np.array([0.75, 0.25 - 1]), rtol=1e-12)
    assert repr(loss) == "PixelCrossEntropy(ignore_index=255, class_weights=(2,))"


@given(n=st.integers(1, 2), k=st.integers(2, 4), h=st.integers(1, 3), w=st.integers(1, 3),
       weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_pixel_loss_gradcheck(n, k, h, w, weighted, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k, h, w)) * 3
    target = rng.integers(-1, k, size=(n, h, w))
    target.flat[0] = 0  # at least one pixel counts
    cw = rng.uniform(0.5, 2.0, size=k) if weighted else None
    report = gradcheck(PixelCrossEntropy(ignore_index=-1, class_weights=cw), logits,
                       target=target)
    assert report.passed(1e-7), report.summary()


def test_pixel_loss_keeps_float32():
    logits = np.random.default_rng(1).standard_normal((1, 3, 2, 2)).astype(np.float32)
    loss = PixelCrossEntropy(class_weights=np.array([1.0, 2.0, 3.0]))
    loss(logits, np.zeros((1, 2, 2), dtype=int))
    assert loss.backward().dtype == np.float32


def test_pixel_loss_errors():
    loss = PixelCrossEntropy()
    logits = np.zeros((1, 3, 2, 2))
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        loss.backward()
    with pytest.raises(ShapeError, match=r"^PixelCrossEntropy\(\): expected logits of shape "
                                         r"\(N, K, H, W\)"):
        loss(np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ShapeError, match=r"expected target of shape \(1, 2, 2\) \(one label "
                                         r"per pixel\), got \(1, 2, 3\)"):
        loss(logits, np.zeros((1, 2, 3), dtype=int))
    with pytest.raises(InvalidValueError, match=r"must lie in 0..2 for 3 classes, got a label 3 "
                                                r"at image 0, pixel \(1, 0\)"):
        loss(logits, np.array([[[0, 1], [3, 0]]]))
    with pytest.raises(DTypeError, match=r"labels as floats.*target.astype\(int\)"):
        loss(logits, np.zeros((1, 2, 2)))
    with pytest.raises(InvalidValueError, match=r"every pixel is ignored"):
        PixelCrossEntropy(ignore_index=-1)(logits, np.full((1, 2, 2), -1))
    with pytest.raises(ShapeError, match=r"class_weights has 2 entries but the logits have 3"):
        PixelCrossEntropy(class_weights=np.ones(2))(logits, np.zeros((1, 2, 2), dtype=int))
    with pytest.raises(InvalidValueError, match=r"class_weights must be positive, got 0.0"):
        PixelCrossEntropy(class_weights=np.array([1.0, 0.0]))
    with pytest.raises(DTypeError, match=r"ignore_index must be an integer"):
        PixelCrossEntropy(ignore_index=1.5)  # type: ignore[arg-type]
    bad = logits.copy()
    bad[0, 1, 1, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"logits holds 1 NaN value"):
        loss(bad, np.zeros((1, 2, 2), dtype=int))


def test_pixel_loss_check_targets_before_training():
    loss = PixelCrossEntropy(ignore_index=9)
    y = np.array([[[0, 9], [1, 2]]])
    assert loss.check_targets(y, (5, 3, 2, 2), owner="fit") is y
    with pytest.raises(InvalidValueError, match=r"^fit: PixelCrossEntropy\(ignore_index=9\): "
                                                r"target must lie in 0..2"):
        loss.check_targets(np.array([[[0, 3], [1, 2]]]), (5, 3, 2, 2), owner="fit",
                           name="target")
    with pytest.raises(ShapeError, match=r"needs a model whose output is per-pixel logits"):
        loss.check_targets(y, (5, 3), owner="fit")


def test_pixel_accuracy_from_labels_or_logits():
    true = np.array([[[0, 1], [2, 255]]])
    pred = np.array([[[0, 1], [1, 0]]])
    assert pixel_accuracy(pred, true) == 0.5
    assert pixel_accuracy(pred, true, ignore_index=255) == pytest.approx(2 / 3)
    logits = np.eye(3)[pred].transpose(0, 3, 1, 2)  # one-hot scores (1, 3, 2, 2)
    assert pixel_accuracy(logits, true) == 0.5
    with pytest.raises(ShapeError, match=r"^pixel_accuracy: expected pred and true label maps"):
        pixel_accuracy(pred, true[:, :1])
    with pytest.raises(DTypeError, match=r"^pixel_accuracy: expected pred as integer labels"):
        pixel_accuracy(pred.astype(float), true)


def test_segmentation_iou_by_hand():
    true = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 0, 1]])
    iou = segmentation_iou(pred, true, 3)
    # Class 0: 3 shared of 5 in the union; class 1: 3 of 5; class 2: absent -> nan.
    np.testing.assert_allclose(iou[:2], [3 / 5, 3 / 5])
    assert np.isnan(iou[2])
    assert np.nanmean(iou) == pytest.approx(0.6)
    np.testing.assert_array_equal(segmentation_iou(true, true, 2), [1.0, 1.0])
    with pytest.raises(InvalidValueError, match=r"^segmentation_iou: pred_labels must lie in "
                                                r"0..1 for n_classes=2, got a label 2"):
        segmentation_iou(true + 1, true, 2)
    with pytest.raises(ShapeError, match=r"same shape"):
        segmentation_iou(true, true[0], 2)


def test_segmentation_iou_matches_sklearn_jaccard():
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(3)
    true = rng.integers(0, 4, size=(3, 8, 8))
    pred = np.where(rng.random(true.shape) < 0.7, true, rng.integers(0, 4, size=true.shape))
    want = jaccard_score(true.ravel(), pred.ravel(), average=None, labels=range(4))
    np.testing.assert_allclose(segmentation_iou(pred, true, 4), want, rtol=1e-12)
