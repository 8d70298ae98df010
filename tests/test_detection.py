"""The two-head detector, its joint loss, box scores and the small FCN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlteach as dl
from dlteach.boxes import box_iou, decode_boxes
from dlteach.detection import (
    DetectionLoss,
    Detector,
    build_detector,
    conv_trunk,
    decode_predictions,
    detection_scores,
    detection_targets,
    fcn,
    paired_box_iou,
    smooth_l1,
)
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck


def _targets(rng, n, k):
    """(N, 5) rows (label, cx, cy, w, h) with boxes inside the unit square."""
    labels = rng.integers(0, k, size=n)
    cx, cy = rng.uniform(0.3, 0.7, size=(2, n))
    w, h = rng.uniform(0.1, 0.5, size=(2, n))
    return np.column_stack([labels, cx, cy, w, h]).astype(np.float64)


def _small_detector(seed, c=1, size=(4, 4), k=3, dtype=np.float64):
    trunk, f = conv_trunk(c, size, widths=(2,), features=5, rng=seed, dtype=dtype)
    return Detector(trunk, dl.Dense(f, k, rng=seed + 1, dtype=dtype),
                    dl.Dense(f, 4, rng=seed + 2, dtype=dtype))


# ---------------------------------------------------------------- the detector


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 2), k=st.integers(2, 4),
       hw=st.sampled_from([(2, 2), (4, 2), (2, 6), (4, 4)]), seed=st.integers(0, 1000))
def test_detector_gradcheck_on_random_shapes(n, c, k, hw, seed):
    model = _small_detector(seed, c, hw, k)
    x = np.random.default_rng(seed).standard_normal((n, c, *hw))
    report = gradcheck(model, x, seed=seed)
    assert report.passed(1e-7), report.summary()
    names = set(report.errors)
    assert {"input", "class_head.W", "box_head.b", "trunk.0.W", "trunk.4.W"} <= names


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(2, 4), seed=st.integers(0, 1000),
       weight=st.sampled_from([0.5, 1.0, 3.0]), beta=st.sampled_from([0.05, 0.5, 2.0]))
def test_detector_with_the_joint_loss_gradcheck(n, k, seed, weight, beta):
    model = _small_detector(seed, 1, (4, 4), k)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 4, 4))
    report = gradcheck(model, x, loss=DetectionLoss(weight, beta), target=_targets(rng, n, k))
    assert report.passed(1e-7), report.summary()


def test_the_output_is_the_two_heads_side_by_side():
    model = _small_detector(0, k=3)
    x = np.random.default_rng(0).standard_normal((5, 1, 4, 4))
    out = model.forward(x)
    f = model.trunk.forward(x)
    np.testing.assert_allclose(out[:, :3], model.class_head.forward(f))
    np.testing.assert_allclose(out[:, 3:], model.box_head.forward(f))
    logits, box = Detector.split(out)
    assert logits.shape == (5, 3) and box.shape == (5, 4)


def test_the_trunk_gets_the_sum_of_both_heads_gradients():
    model = _small_detector(1, k=3)
    x = np.random.default_rng(1).standard_normal((2, 1, 4, 4))
    out = model.forward(x)
    g_cls = np.zeros_like(out)
    g_cls[:, :3] = 1.0
    g_box = np.zeros_like(out)
    g_box[:, 3:] = 1.0
    dx_cls = model.backward(g_cls)
    model.forward(x)
    dx_box = model.backward(g_box)
    model.forward(x)
    np.testing.assert_allclose(model.backward(g_cls + g_box), dx_cls + dx_box, atol=1e-12)


def test_detector_parameters_modes_and_float32():
    model = build_detector(10, (32, 32), rng=0)
    names = list(model.named_parameters())
    assert names[0] == "trunk.0.W" and names[-1] == "box_head.b"
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    model.eval()
    assert not model.training and not model.trunk.training and not model.box_head.training
    model.train()
    assert model.trunk[0].training
    x = np.random.default_rng(0).standard_normal((3, 1, 32, 32)).astype(np.float32)
    out = model.forward(x)
    assert out.shape == (3, 14) and out.dtype == np.float32
    assert model.backward(np.ones_like(out)).dtype == np.float32


def test_detector_weights_round_trip_through_npz(tmp_path):
    model = build_detector(4, (16, 16), widths=(4, 8), features=6, rng=0)
    path = tmp_path / "det.npz"
    dl.save_parameters(model, path)
    other = build_detector(4, (16, 16), widths=(4, 8), features=6, rng=1)
    dl.load_parameters(other, path)
    x = np.random.default_rng(0).standard_normal((2, 1, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), other.forward(x))


def test_detector_errors_name_the_problem():
    with pytest.raises(InvalidValueError, match="trunk must be a Layer"):
        Detector("conv", dl.Dense(2, 3), dl.Dense(2, 4))
    bad = Detector(dl.Sequential(dl.ReLU()), dl.Dense(4, 3), dl.Dense(4, 4))
    with pytest.raises(ShapeError, match="add a Flatten"):
        bad.forward(np.zeros((2, 1, 2, 2)))
    wrong_box = Detector(dl.Flatten(), dl.Dense(4, 3), dl.Dense(4, 2))
    with pytest.raises(ShapeError, match="boxes \\(N, 4\\)"):
        wrong_box.forward(np.zeros((2, 1, 2, 2)))
    model = _small_detector(0)
    with pytest.raises(InvalidValueError, match="before forward"):
        model.backward(np.zeros((2, 7)))
    model.forward(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ShapeError, match=r"\(N, 7\)"):
        model.backward(np.zeros((2, 6)))
    with pytest.raises(InvalidValueError, match="multiple of 8"):
        conv_trunk(1, (20, 24))


# ---------------------------------------------------------------- the joint loss


def test_smooth_l1_is_quadratic_then_linear_and_continuous():
    d = np.array([-2.0, -0.5, -0.1, 0.0, 0.05, 0.5, 0.5 + 1e-12, 3.0])
    value, slope = smooth_l1(d, 0.5)
    np.testing.assert_allclose(value, [1.75, 0.25, 0.01, 0.0, 0.0025, 0.25, 0.25, 2.75],
                               atol=1e-9)
    np.testing.assert_allclose(slope, [-1, -1, -0.2, 0, 0.1, 1, 1, 1], atol=1e-9)


def test_detection_loss_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    boxes = np.array([[0.5, 0.5, 0.2, 0.2], [0.1, 0.9, 0.3, 0.0]])
    target = np.array([[0, 0.5, 0.4, 0.2, 0.5], [2, 0.1, 0.9, 0.3, 0.02]])
    loss = DetectionLoss(box_weight=3.0, beta=0.05)
    value = loss(np.concatenate([logits, boxes], axis=1), target)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ce = -(np.log(p[0, 0]) + np.log(p[1, 2])) / 2
    # |d| = 0.1 and 0.3 (linear), 0.02 (quadratic); the rest 0.
    reg = ((0.1 - 0.025) + (0.3 - 0.025) + 0.02**2 / 0.1) / 2
    assert value == pytest.approx(ce + 3.0 * reg, rel=1e-12)
    assert loss.last_parts == pytest.approx((ce, reg), rel=1e-12)


def test_detection_loss_gradcheck_in_both_regimes():
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((6, 7))
    target = _targets(rng, 6, 3)
    pred[:3, 3:] = target[:3, 1:] + rng.uniform(-0.01, 0.01, size=(3, 4))  # quadratic part
    report = gradcheck(DetectionLoss(2.0, 0.05), pred, target=target)
    assert report.passed(1e-7), report.summary()


def test_detection_loss_keeps_float32():
    rng = np.random.default_rng(1)
    pred = rng.standard_normal((4, 6)).astype(np.float32)
    loss = DetectionLoss()
    loss(pred, _targets(rng, 4, 2))
    assert loss.backward().dtype == np.float32


def test_detection_targets_round_trip_to_pixel_boxes():
    boxes = np.array([[2.0, 3.0, 10.0, 20.0], [0.0, 0.0, 32.0, 16.0]])
    t = detection_targets(np.array([7, 1]), boxes, (32, 40))
    np.testing.assert_array_equal(t[:, 0], [7, 1])
    np.testing.assert_allclose(decode_boxes(t[:, 1:], (32, 40)), boxes)


def test_bad_targets_are_refused_before_training():
    model = _small_detector(0, k=3)
    x = np.zeros((2, 1, 4, 4))
    opt = dl.SGD(model.parameters(), lr=0.1)
    loss = DetectionLoss()
    good = _targets(np.random.default_rng(0), 2, 3)
    for target, fragment in [
        (good[:, :4], r"shape \(N, 5\)"),
        (np.column_stack([[0.5, 1.0], good[:, 1:]]), "not a whole number"),
        (np.column_stack([[0, 3], good[:, 1:]]), "must lie in 0..2"),
    ]:
        with pytest.raises((ShapeError, InvalidValueError), match=fragment):
            dl.fit(model, x, target, loss=loss, optimizer=opt, epochs=1, metrics=None,
                   progress=False)


def test_fit_trains_the_detector_on_canvases():
    data = dl.make_detection_canvases(256, 16, scale=(1.0, 1.25), noise=0.1, seed=0)
    y = detection_targets(data.labels, data.boxes, (16, 16))
    model = build_detector(10, (16, 16), widths=(4, 8), features=16, rng=0)
    loss = DetectionLoss()
    before = loss(dl.predict(model, data.images), y)
    history = dl.fit(model, data.images, y, loss=loss, epochs=4, batch_size=32, metrics=None,
                     optimizer=dl.Adam(model.parameters(), lr=3e-3), progress=False)
    assert history["loss"][-1] < 0.8 * before
    after = detection_scores(dl.predict(model, data.images), data.labels, data.boxes, (16, 16))
    assert after["mean_iou"] > 0.3


# ---------------------------------------------------------------- box scores


def test_paired_box_iou_is_the_diagonal_of_box_iou():
    rng = np.random.default_rng(0)
    corners = np.sort(rng.integers(0, 10, size=(2, 40, 2, 2)), axis=2).astype(float)
    a, b = (c.transpose(0, 2, 1).reshape(40, 4)[:, [0, 2, 1, 3]] for c in corners)
    np.testing.assert_allclose(paired_box_iou(a, b), np.diag(box_iou(a, b)), atol=1e-15)
    assert paired_box_iou(np.zeros((1, 4)), np.zeros((1, 4)))[0] == 0.0
    with pytest.raises(ShapeError, match="as many boxes"):
        paired_box_iou(a, b[:3])


def test_decode_predictions_clips_and_scores_are_perfect_on_the_truth():
    boxes = np.array([[2.0, 3.0, 10.0, 20.0], [0.0, 0.0, 32.0, 16.0]])
    t = detection_targets(np.array([2, 0]), boxes, (32, 32))
    logits = np.eye(3)[[2, 0]] * 5
    out = np.concatenate([logits, t[:, 1:]], axis=1)
    labels, decoded = decode_predictions(out, (32, 32))
    np.testing.assert_array_equal(labels, [2, 0])
    np.testing.assert_allclose(decoded, boxes)
    assert detection_scores(out, np.array([2, 0]), boxes, (32, 32)) == {
        "accuracy": 1.0, "mean_iou": 1.0, "found": 1.0}
    wild = out.copy()
    wild[0, 3:] = [1.2, 0.5, -0.3, 0.4]  # off the image, negative width
    _, decoded = decode_predictions(wild, (32, 32))
    assert decoded[0, 0] == decoded[0, 2] == 32.0
    scores = detection_scores(wild, np.array([2, 1]), boxes, (32, 32))
    # Example 0: right class, box off the image (IoU 0); example 1: wrong class, box exact.
    assert scores == {"accuracy": 0.5, "mean_iou": 0.5, "found": 0.0}


# ---------------------------------------------------------------- the FCN


def test_fcn_outputs_per_pixel_logits_and_passes_gradcheck():
    model = fcn(2, 3, (2, 3), rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 6))
    assert model.forward(x).shape == (2, 3, 4, 6)
    labels = np.random.default_rng(1).integers(0, 3, size=(2, 4, 6))
    report = gradcheck(model, x, loss=dl.PixelCrossEntropy(), target=labels)
    assert report.passed(1e-7), report.summary()


def test_fcn_goes_down_then_up():
    model = fcn(1, 4, (16, 32, 32), rng=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds.count("MaxPool2D") == kinds.count("Upsample2D") == 2
    assert kinds.index("Upsample2D") > max(i for i, k in enumerate(kinds) if k == "MaxPool2D")
    x = np.zeros((1, 1, 32, 32), dtype=np.float32)
    assert model.forward(x).shape == (1, 4, 32, 32)
    with pytest.raises(InvalidValueError, match="at least 2 widths"):
        fcn(1, 4, (8,))


def test_fit_trains_the_fcn_on_scenes():
    """A smoke test: the loss falls (the lesson's script measures the trained FCN)."""
    data = dl.make_shape_scenes(128, 16, radius=(2.5, 4.0), seed=0)
    model = fcn(1, 4, (8, 8), rng=0)
    history = dl.fit(model, data.images, data.masks, loss=dl.PixelCrossEntropy(), epochs=4,
                     batch_size=16, metrics=None,
                     optimizer=dl.Adam(model.parameters(), lr=1e-2), progress=False)
    assert history["loss"][-1] < 0.6 * history["loss"][0]


# ---------------------------------------------------------------- the shipped weights

PRETRAINED = Path(dl.__file__).parent / "pretrained"


@pytest.mark.parametrize("name", ["detector", "segmenter"])
def test_the_shipped_weights_are_small_float32_npz_without_pickle(name):
    path = PRETRAINED / f"{name}.npz"
    assert path.stat().st_size < 400_000
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[key].dtype == np.float32 for key in archive.files)


def test_the_shipped_weights_do_what_lesson_8_says():
    """The figures lesson 8 prints, with a margin: held-out digits and scenes."""
    size = (32, 32)
    detector = build_detector(10, size, rng=0)
    dl.load_parameters(detector, PRETRAINED / "detector.npz")
    test = dl.make_detection_canvases(1_000, part="test", seed=2)
    scores = detection_scores(dl.predict(detector, test.images), test.labels, test.boxes, size)
    assert scores["accuracy"] > 0.9 and scores["mean_iou"] > 0.75 and scores["found"] > 0.9
    segmenter = fcn(1, 4, (16, 32, 32), rng=0)
    dl.load_parameters(segmenter, PRETRAINED / "segmenter.npz")
    held = dl.make_shape_scenes(300, seed=2)
    pred = dl.predict(segmenter, held.images, batch_size=16).argmax(axis=1)
    assert (dl.segmentation_iou(pred, held.masks, 4) > 0.9).all()
