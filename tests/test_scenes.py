"""Generated canvases and shape scenes: shapes, seeds, boxes around the ink, honest labels."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from scipy import ndimage

from dlteach.data import load_digits
from dlteach.errors import InvalidValueError
from dlteach.scenes import (
    SHAPE_NAMES,
    digit_ids,
    draw_labels,
    make_detection_canvases,
    make_shape_scenes,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# ---------------------------------------------------------------- detection canvases


def test_canvases_have_the_documented_shapes_and_types():
    c = make_detection_canvases(7, 24, seed=0)
    assert c.images.shape == (7, 1, 24, 24) and c.images.dtype == np.float32
    assert c.labels.shape == (7,) and c.labels.dtype == np.int64
    assert c.boxes.shape == (7, 4) and c.boxes.dtype == np.float64
    assert c.digit_ids.shape == (7,)


def test_the_same_seed_gives_the_same_canvases_and_another_seed_others():
    a, b = make_detection_canvases(5, seed=3), make_detection_canvases(5, seed=3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    other = make_detection_canvases(5, seed=4)
    assert not np.array_equal(a.images, other.images)


def test_labels_are_the_source_digits_labels(digits):
    c = make_detection_canvases(50, seed=1)
    np.testing.assert_array_equal(c.labels, digits.y[c.digit_ids])


def test_train_and_test_canvases_draw_from_disjoint_digits():
    train, test = digit_ids("train"), digit_ids("test")
    assert len(train) + len(test) == 1797 and not set(train) & set(test)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), digit_ids("all"))
    c = make_detection_canvases(200, part="test", seed=0)
    assert set(c.digit_ids) <= set(test)
    c = make_detection_canvases(200, part="train", seed=0)
    assert set(c.digit_ids) <= set(train)


def test_the_box_is_the_tight_box_around_the_ink():
    c = make_detection_canvases(60, 32, noise=0, seed=2)  # noise 0: the digit alone
    for img, (x0, y0, x1, y1) in zip(c.images[:, 0], c.boxes, strict=True):
        ink = img > 0.3
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        assert (x0, y0, x1, y1) == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
        inside = np.zeros_like(ink)
        inside[int(y0):int(y1), int(x0):int(x1)] = True
        assert not (ink & ~inside).any()


def test_boxes_lie_inside_the_canvas_and_their_size_follows_the_scale():
    c = make_detection_canvases(300, 40, scale=(2.0, 2.0), seed=5)
    assert (c.boxes >= 0).all() and (c.boxes[:, 2:] <= 40).all()
    heights = c.boxes[:, 3] - c.boxes[:, 1]
    assert heights.max() <= 16 and np.median(heights) >= 12  # the digit is 16 pixels


def test_positions_spread_over_the_canvas():
    c = make_detection_canvases(400, 32, seed=6)
    centres = (c.boxes[:, :2] + c.boxes[:, 2:]) / 2
    assert centres.min() < 10 and centres.max() > 22


def test_noise_has_the_requested_spread():
    c = make_detection_canvases(20, 32, noise=0.2, seed=7)
    clean = make_detection_canvases(20, 32, noise=0, seed=7)
    background = clean.images == 0
    assert abs(float(np.std(c.images[background])) - 0.2) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"part": "valid"}, "part must be one of"),
        ({"canvas": 16, "scale": (1.0, 3.0)}, "more than the 16-pixel canvas"),
        ({"scale": (2.0, 1.0)}, "smallest <= largest"),
        ({"scale": 2.0}, "expected scale = (smallest, largest)"),
    ],
)
def test_bad_canvas_arguments_are_named(kwargs, fragment):
    with pytest.raises(InvalidValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make_detection_canvases(3, **kwargs)


# ---------------------------------------------------------------- shape scenes


def test_scenes_have_the_documented_shapes_and_labels():
    s = make_shape_scenes(6, 24, seed=0)
    assert s.images.shape == (6, 1, 24, 24) and s.images.dtype == np.float32
    assert s.masks.shape == (6, 24, 24) and s.masks.dtype == np.int64
    assert set(np.unique(s.masks)) <= set(range(len(SHAPE_NAMES)))
    again = make_shape_scenes(6, 24, seed=0)
    np.testing.assert_array_equal(s.images, again.images)
    np.testing.assert_array_equal(s.masks, again.masks)


def _components(masks):
    """(label, bool region) of every connected shape in the label maps."""
    for m in masks:
        regions, count = ndimage.label(m > 0)
        for k in range(1, count + 1):
            region = regions == k
            yield int(np.bincount(m[region]).argmax()), region


def test_each_label_has_its_shape():
    """Fill ratio of the bounding box: pi/4 for a circle, 1 for a square, 1/2 for a triangle."""
    s = make_shape_scenes(150, 32, n_shapes=(1, 1), radius=(5.0, 7.0), noise=0, seed=1)
    fills = {1: [], 2: [], 3: []}
    for label, region in _components(s.masks):
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        fills[label].append(region.sum() / box)
    assert all(len(v) > 20 for v in fills.values())
    assert 0.7 < np.mean(fills[1]) < 0.85
    assert np.mean(fills[2]) > 0.95
    assert 0.45 < np.mean(fills[3]) < 0.65


def test_shapes_do_not_overlap_and_each_is_one_bright_patch():
    s = make_shape_scenes(80, 32, n_shapes=(2, 4), noise=0, seed=2)
    img = s.images[:, 0]
    # Every labelled pixel is a shape's brightness (0.6..1), the background stays below.
    shape = s.masks > 0
    assert img[shape].min() >= 0.6 - 1e-6 and img[~shape].max() <= 0.5 + 1e-6
    # Each patch of one class is one shape of one brightness: none painted over another.
    patches = 0
    for scene in range(len(s.masks)):
        for k in (1, 2, 3):
            regions, count = ndimage.label(s.masks[scene] == k)
            for r in range(1, count + 1):
                assert len(np.unique(img[scene][regions == r])) == 1
            patches += count
    assert patches > 150


def test_the_number_of_shapes_stays_in_range():
    s = make_shape_scenes(60, 32, n_shapes=(2, 2), radius=(3.0, 4.0), noise=0, seed=3)
    counts = [ndimage.label(m > 0)[1] for m in s.masks]
    assert set(counts) <= {1, 2} and np.mean(counts) > 1.8  # touching shapes merge rarely


def test_every_class_occurs_and_background_dominates():
    s = make_shape_scenes(200, 32, seed=4)
    share = np.bincount(s.masks.ravel(), minlength=4) / s.masks.size
    assert share[0] > 0.6 and (share[1:] > 0.02).all()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"radius": (3.0, 20.0)}, "do not fit"),
        ({"radius": (5.0, 3.0)}, "smallest <= largest"),
        ({"n_shapes": (3, 1)}, "smallest <= largest"),
    ],
)
def test_bad_scene_arguments_are_named(kwargs, fragment):
    with pytest.raises(InvalidValueError, match=fragment):
        make_shape_scenes(3, **kwargs)


def test_draw_labels_paints_fixed_colours():
    import matplotlib.pyplot as plt

    s = make_shape_scenes(2, 16, radius=(2.0, 3.0), seed=5)
    fig, ax = plt.subplots()
    draw_labels(ax, s.images[0, 0], s.masks[0], legend=True)
    painted = ax.images[1]
    assert painted.get_clim() == (0.5, 3.5)  # the same colour for a class in every picture
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(SHAPE_NAMES[1:])
    with pytest.raises(InvalidValueError, match="same shape"):
        draw_labels(ax, s.images[0, 0], s.masks[0, :3])
    plt.close(fig)
