"""Lesson 8's exercise checks: the reference passes, each typical mistake fails on its case."""

from __future__ import annotations

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, failed_at, flat, quiet

import dlteach as dl
from dlteach.checking import rebuilt_inputs
from dlteach.exercises import lesson08 as ex

# ---------------------------------------------------------------- learner-style solutions


def box_iou(a, b):
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0 * inter / 1)


def upsample_nearest(x, factor):
    return x.repeat(factor, axis=2).repeat(factor, axis=3)


def upsample_nearest_backward(grad_y, factor):
    N, C, Hf, Wf = grad_y.shape
    return grad_y.reshape(N, C, Hf // factor, factor, Wf // factor, factor).sum(axis=(3, 5))


def pixel_cross_entropy(logits, labels, ignore_index):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = labels != ignore_index
    safe = np.where(keep, labels, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    return float(-picked[keep].sum() / keep.sum())


REFERENCES = {
    "box_iou": box_iou,
    "upsample_nearest": upsample_nearest,
    "upsample_nearest_backward": upsample_nearest_backward,
    "pixel_cross_entropy": pixel_cross_entropy,
}


class TestLesson08Exercises(
    LessonExerciseTests, lesson="08_vision", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=5,
):
    """Lesson 8's checks and notebook, by the tests every lesson shares."""


# ---------------------------------------------------------------- the library agrees


def test_the_references_agree_with_the_library_and_the_definitions():
    a = np.array([[0.0, 0.0, 4.0, 4.0], [1.0, 1.0, 2.0, 3.0]])
    b = np.array([[2.0, 2.0, 6.0, 6.0]])
    np.testing.assert_allclose(ex.box_iou(a, b), [[4 / 28], [0.0]])
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 4))
    layer = dl.Upsample2D(3)
    np.testing.assert_array_equal(ex.upsample_nearest(x, 3), layer.forward(x))
    g = np.random.default_rng(1).standard_normal((2, 3, 6, 12))
    np.testing.assert_allclose(ex.upsample_nearest_backward(g, 3), layer.backward(g))
    # <up(x), g> = <x, up_backward(g)>: backward is the adjoint of forward.
    assert np.sum(ex.upsample_nearest(x, 3) * g) == pytest.approx(
        np.sum(x * ex.upsample_nearest_backward(g, 3)))
    logits = np.random.default_rng(2).standard_normal((2, 3, 2, 2))
    labels = np.array([[[0, 2], [255, 1]], [[1, 1], [0, 255]]])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    terms = [-np.log(p[n, labels[n, h, w], h, w]) for n in range(2) for h in range(2)
             for w in range(2) if labels[n, h, w] != 255]
    assert ex.pixel_cross_entropy(logits, labels, 255) == pytest.approx(np.mean(terms))


def test_the_box_iou_reference_keeps_float32_and_the_rebuild_lines_recreate_the_cases():
    a32 = np.array([[0, 0, 2, 2]], dtype=np.float32)
    assert ex.box_iou(a32, a32).dtype == np.float32
    assert ex.box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]])).dtype == np.float64
    case = ex._boxes(81, 20, 30)
    made = rebuilt_inputs(case)
    np.testing.assert_array_equal(made["a"], case.args[0])
    assert case.args[0].shape == (20, 4) and case.args[1].shape == (30, 4)
    assert (case.args[0][:, 2:] >= case.args[0][:, :2]).all()


# ---------------------------------------------------------------- box_iou


def _iou_with(**parts):
    """box_iou with one step replaced by a typical mistake."""

    def fn(a, b):
        a = np.asarray(a)
        b = np.asarray(b)
        if parts.get("xywh"):
            a = np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], axis=1)
            b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
        plus = 1 if parts.get("inclusive") else 0
        w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
        h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
        w, h = w + plus, h + plus
        if parts.get("clip", "each") == "each":
            inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        elif parts["clip"] == "product":
            inter = np.maximum(w * h, 0)
        else:
            inter = w * h
        area_a = (a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus)
        area_b = (b[:, 2] - b[:, 0] + plus) * (b[:, 3] - b[:, 1] + plus)
        union = area_a[:, None] + area_b[None, :]
        if not parts.get("no_subtract"):
            union = union - inter
        guard = parts.get("guard", "where")
        if guard == "none":
            return inter / union
        if guard == "max1":
            return inter / np.maximum(union, 1)
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0 * inter)

    return fn


def test_box_iou_mistakes_fail_on_their_own_case():
    expectations = [
        (dict(inclusive=True), "case 1 of 10: two 2x2 boxes that only touch",
         "a width is x1 - x0, with no + 1"),
        (dict(no_subtract=True), "case 2 of 10: one box inside the other",
         "The union is both areas minus the overlap"),
        (dict(xywh=True), "case 3 of 10: corners (x0, y0, x1, y1)",
         "Read as (x, y, width, height)"),
        (dict(clip="none"), "case 4 of 10: apart along x only", "clip each at 0"),
        (dict(clip="product"), "case 5 of 10: apart along x and y",
         "not their product"),
        (dict(guard="none"), "case 6 of 10: zero-area boxes", "divide only where the union"),
        (dict(guard="max1"), "case 10 of 10: 20 boxes against 30, random",
         "not by raising the union to 1"),
    ]
    for parts, label, fragment in expectations:
        failed_at(quiet(ex.check_box_iou, _iou_with(**parts)), label, fragment)
    v = quiet(ex.check_box_iou, _iou_with(guard="none"))
    assert "nan" in v.message.split("got:")[1]


def test_box_iou_mistakes_of_ordering_and_shape_fail_on_their_case():
    def one_sided(a, b):  # assumes a starts left of (and above) b
        w = np.clip(a[:, None, 2] - b[None, :, 0], 0, None)
        h = np.clip(a[:, None, 3] - b[None, :, 1], 0, None)
        inter = np.minimum(w, np.minimum(a[:, None, 2] - a[:, None, 0],
                                         b[None, :, 2] - b[None, :, 0])) * np.minimum(
            h, np.minimum(a[:, None, 3] - a[:, None, 1], b[None, :, 3] - b[None, :, 1]))
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        return inter / (area_a[:, None] + area_b[None, :] - inter)

    failed_at(ex.check_box_iou(one_sided), "case 3 of 10", "a is 3 - 1 = 2 wide")

    def pairwise_rows(a, b):  # box i of a against box i of b: (N,), not (N, M)
        w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = w * h
        union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
                 + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)[:, None]

    v = ex.check_box_iou(pairwise_rows)
    failed_at(v, "case 7 of 10: 3 boxes against 2: a (3, 2) table", "gives an (N, M) table")
    assert "your function raised ValueError" in v.message

    def transposed(a, b):
        return box_iou(b, a)

    failed_at(ex.check_box_iou(transposed), "case 7 of 10", "row i is box a[i]")

    def integer_buffer(a, b):
        iou = np.zeros_like(a[:, :1] * b[:, 0])  # integer boxes: an integer buffer
        inter = box_iou(a, b) * 0 + _inter(a, b)
        union = _area(a)[:, None] + _area(b)[None, :] - inter
        np.divide(inter, union, out=iou, where=union > 0)
        return iou

    v = ex.check_box_iou(integer_buffer)
    failed_at(v, "case 8 of 10: integer pixel coordinates", "keeps the integer type")


def _inter(a, b):
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def _area(a):
    return (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])


def test_box_iou_in_float64_fails_on_the_float32_case():
    def float64_table(a, b):
        out = np.zeros((len(a), len(b)))
        out[:] = box_iou(a, b)
        return out

    v = ex.check_box_iou(float64_table)
    assert_failed_showing(v, "case 9 of 10: float32 boxes: a float32 table",
                          "expected float32 array, got float64 array")
    assert "Every value is right, but not the dtype" in flat(v.message)


def test_box_iou_correct_variants_pass():
    def loops(a, b):  # pair by pair, in the boxes' dtype
        dtype = np.result_type(a.dtype, b.dtype, np.float32)
        out = np.zeros((len(a), len(b)), dtype=dtype)
        for i, (ax0, ay0, ax1, ay1) in enumerate(a):
            for j, (bx0, by0, bx1, by1) in enumerate(b):
                inter = (max(0, min(ax1, bx1) - max(ax0, bx0))
                         * max(0, min(ay1, by1) - max(ay0, by0)))
                union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
                out[i, j] = inter / union if union > 0 else 0
        return out

    def with_divide(a, b):
        inter = _inter(a, b)
        union = _area(a)[:, None] + _area(b)[None, :] - inter
        iou = np.zeros(union.shape, dtype=np.result_type(union.dtype, np.float32))
        np.divide(inter, union, out=iou, where=union > 0)
        return iou

    for fn in (loops, with_divide, box_iou, ex.box_iou):
        assert ex.check_box_iou(fn).status == "passed", fn.__name__


# ---------------------------------------------------------------- upsample_nearest


def test_upsample_nearest_mistakes_fail_on_their_own_case():
    def tiled(x, f):
        return np.tile(x, (1, 1, f, f))

    def always_two(x, f):
        return x.repeat(2, axis=2).repeat(2, axis=3)

    def first_image(x, f):
        return upsample_nearest(x[:1], f)

    def first_channel(x, f):
        out = np.empty((*x.shape[:2], x.shape[2] * f, x.shape[3] * f), dtype=x.dtype)
        for n in range(len(x)):
            out[n] = upsample_nearest(x[n:n + 1, :1], f)[0]  # channel 0, broadcast
        return out

    def rows_only(x, f):
        return x.repeat(f, axis=2)

    expectations = [
        (tiled, "case 1 of 5: one 2x3 image, factor 2", "Repeating the whole image (tiling)"),
        (rows_only, "case 1 of 5", "both H and W grow"),
        (always_two, "case 2 of 5: a 2x4 image, factor 3", "Use the factor you are given"),
        (first_image, "case 3 of 5: 2 images of 1 channel", "not on x[0]"),
        (first_channel, "case 4 of 5: 4 images, 3 channels, 5x7",
         "Every channel of every image is upsampled on its own"),
    ]
    for fn, label, fragment in expectations:
        failed_at(ex.check_upsample_nearest(fn), label, fragment)
    v = ex.check_upsample_nearest(rows_only)
    assert "expected an array of shape (1, 1, 4, 6), got shape (1, 1, 4, 3)" in v.message


def test_upsample_nearest_in_float64_fails_on_the_float32_case():
    def float64_buffer(x, f):
        out = np.zeros((*x.shape[:2], x.shape[2] * f, x.shape[3] * f))
        for i in range(f):
            for j in range(f):
                out[:, :, i::f, j::f] = x
        return out

    assert_failed_showing(ex.check_upsample_nearest(float64_buffer),
                          "case 5 of 5: float32 images: float32 result",
                          "expected float32 array, got float64 array")


def test_upsample_nearest_correct_variants_pass():
    def by_index(x, f):
        rows = np.arange(x.shape[2] * f) // f
        cols = np.arange(x.shape[3] * f) // f
        return x[:, :, rows][:, :, :, cols]

    def kron(x, f):
        return np.kron(x, np.ones((f, f), dtype=x.dtype))

    def slices(x, f):
        out = np.empty((*x.shape[:2], x.shape[2] * f, x.shape[3] * f), dtype=x.dtype)
        for i in range(f):
            for j in range(f):
                out[:, :, i::f, j::f] = x
        return out

    for fn in (by_index, kron, slices, upsample_nearest, ex.upsample_nearest):
        assert ex.check_upsample_nearest(fn).status == "passed", fn.__name__


# ---------------------------------------------------------------- upsample_nearest_backward


def test_upsample_nearest_backward_mistakes_fail_on_their_own_case():
    def mean(g, f):
        return upsample_nearest_backward(g, f) / (f * f)

    def top_left(g, f):
        return g[:, :, ::f, ::f]

    def wrong_grouping(g, f):  # (f, H) instead of (H, f): sums rows H apart
        N, C, Hf, Wf = g.shape
        return g.reshape(N, C, f, Hf // f, f, Wf // f).sum(axis=(2, 4))

    def always_two(g, f):
        return upsample_nearest_backward(g, 2)

    def one_image(g, f):
        H, W = g.shape[2] // f, g.shape[3] // f
        return g[0, 0].reshape(H, f, W, f).sum(axis=(1, 3))[None, None]

    expectations = [
        (mean, "case 1 of 5: a gradient of ones, factor 2", "the SUM of its 2x2 block"),
        (top_left, "case 1 of 5", "taking one entry of each block gives 1 too"),
        (wrong_grouping, "case 2 of 5: distinct values, factor 2", "0 + 1 + 6 + 7 = 14"),
        (always_two, "case 3 of 5: a 6x3 gradient, factor 3", "Use the factor you are given"),
        (one_image, "case 4 of 5: 2 images, 3 channels, 4x6",
         "the images (N) and channels (C) keep their number"),
    ]
    for fn, label, fragment in expectations:
        failed_at(quiet(ex.check_upsample_nearest_backward, fn), label, fragment)


def test_upsample_nearest_backward_in_float64_fails_on_the_float32_case():
    def float64_buffer(g, f):
        N, C, Hf, Wf = g.shape
        out = np.zeros((N, C, Hf // f, Wf // f))
        for i in range(f):
            for j in range(f):
                out += g[:, :, i::f, j::f]
        return out

    assert_failed_showing(ex.check_upsample_nearest_backward(float64_buffer),
                          "case 5 of 5: float32 gradients: a float32 result",
                          "expected float32 array, got float64 array")


def test_upsample_nearest_backward_correct_variants_pass():
    def slice_adds(g, f):
        out = g[:, :, ::f, ::f].copy()
        for i in range(f):
            for j in range(f):
                if i or j:
                    out += g[:, :, i::f, j::f]
        return out

    def by_adjoint(g, f):  # the transpose of forward's 0/1 matrix, along each axis
        H, W = g.shape[2] // f, g.shape[3] // f
        Rh = (np.arange(H * f)[:, None] // f == np.arange(H)).astype(g.dtype)
        Rw = (np.arange(W * f)[:, None] // f == np.arange(W)).astype(g.dtype)
        return Rh.T @ g @ Rw

    for fn in (slice_adds, by_adjoint, upsample_nearest_backward, ex.upsample_nearest_backward):
        assert ex.check_upsample_nearest_backward(fn).status == "passed", fn.__name__


# ---------------------------------------------------------------- pixel_cross_entropy


def _ce_with(**parts):
    """pixel_cross_entropy with one step replaced by a typical mistake."""

    def fn(logits, labels, ignore_index):
        if parts.get("reshape"):
            N, K, H, W = logits.shape
            logits = logits.reshape(N, H, W, K).transpose(0, 3, 1, 2)
        if parts.get("shift") == "global":
            z = logits - logits.max()
        elif parts.get("shift") == "none":
            z = logits
        else:
            z = logits - logits.max(axis=1, keepdims=True)
        if parts.get("log_of_softmax"):
            logp = np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
        elif parts.get("no_logsumexp"):
            logp = z
        else:
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        keep = labels != (255 if parts.get("hard_255") else ignore_index)
        safe = np.where(keep, labels, 0)
        terms = -np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
        if parts.get("sum"):
            return float(terms[keep].sum())
        if parts.get("all_pixels"):
            return float(np.where(keep, terms, 0).sum() / keep.size)
        if parts.get("per_image"):
            return float(np.mean([terms[n][keep[n]].mean() for n in range(len(terms))]))
        return float(terms[keep].mean())

    return fn


def test_pixel_cross_entropy_mistakes_fail_on_their_own_case():
    expectations = [
        (dict(no_logsumexp=True), "case 1 of 7: one pixel, 3 classes",
         "Every class's score counts"),
        (dict(reshape=True), "case 2 of 7: 2 images, K = 3 classes, H = 4, W = 5",
         "a reshape to that shape mixes classes and pixels"),
        (dict(sum=True), "case 2 of 7", "The loss is the MEAN over the 40 pixels"),
        (dict(shift="none"), "case 3 of 7: logits of +-1000", "e^1000 is inf"),
        (dict(log_of_softmax=True), "case 3 of 7", "log of a probability that rounds to 0"),
        (dict(shift="global"), "case 4 of 7: pixels 2000 apart",
         "Subtract each pixel's own maximum"),
        (dict(all_pixels=True), "case 5 of 7: pixels labelled 255 are ignored",
         "not over all 8"),
        (dict(per_image=True), "case 6 of 7: image 0 has 2 pixels that count",
         "A mean per image, then over the images"),
        (dict(hard_255=True), "case 7 of 7: ignore_index = -1", "here it is -1"),
    ]
    for parts, label, fragment in expectations:
        failed_at(quiet(ex.check_pixel_cross_entropy, _ce_with(**parts)), label, fragment)


def test_pixel_cross_entropy_softmax_on_the_wrong_axis_fails_on_the_first_case():
    def last_axis(logits, labels, ignore_index):  # softmax over W, not over the classes
        z = logits - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        keep = labels != ignore_index
        safe = np.where(keep, labels, 0)
        return float(-np.take_along_axis(logp, safe[:, None], axis=1)[:, 0][keep].mean())

    failed_at(ex.check_pixel_cross_entropy(last_axis), "case 1 of 7: one pixel, 3 classes",
              "class scores 2, 0.5, -1 (axis 1)")


def test_pixel_cross_entropy_not_ignoring_fails_with_the_error():
    def no_mask(logits, labels, ignore_index):
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.take_along_axis(logp, labels[:, None], axis=1).mean())

    v = ex.check_pixel_cross_entropy(no_mask)
    failed_at(v, "case 5 of 7", "Pixels labelled ignore_index have no class")
    assert "your function raised IndexError" in v.message


def test_pixel_cross_entropy_correct_variants_pass():
    def classes_last(logits, labels, ignore_index):
        z = np.moveaxis(logits, 1, -1)  # (N, H, W, K)
        keep = labels != ignore_index
        rows = z[keep]  # (P, K), the pixels that count
        m = rows.max(axis=1)
        lse = m + np.log(np.exp(rows - m[:, None]).sum(axis=1))
        return float(np.mean(lse - rows[np.arange(len(rows)), labels[keep]]))

    def library(logits, labels, ignore_index):
        return dl.PixelCrossEntropy(ignore_index=ignore_index)(logits, labels)

    for fn in (classes_last, library, pixel_cross_entropy, ex.pixel_cross_entropy):
        assert ex.check_pixel_cross_entropy(fn).status == "passed", fn.__name__
