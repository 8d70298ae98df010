"""Generated nuclei: the slides, their segmentation and measurements, checked by hand,
against scipy and against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from dlteach.errors import DLTeachError, InvalidValueError, ShapeError
from dlteach.microscopy import (
    FEATURE_NAMES,
    label_regions,
    make_slides,
    measure_nuclei,
    otsu_threshold,
    segment_nuclei,
    slide_features,
)


def _disc(size, cy, cx, r):
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    return np.hypot(yy - cy, xx - cx) <= r


# ---------------------------------------------------------------- the slides


def test_make_slides_shapes_kinds_and_seed():
    s = make_slides(10, size=64, grid=2, malignant_fraction=0.4, seed=3)
    assert s.images.shape == s.masks.shape == (10, 64, 64)
    assert s.images.dtype == np.float64 and s.masks.dtype == np.int64
    assert s.malignant.dtype == np.int64 and s.malignant.sum() == 4
    assert 0 <= s.images.min() and s.images.max() <= 1
    for a, b in zip(s, make_slides(10, size=64, grid=2, malignant_fraction=0.4, seed=3),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(s.images, make_slides(10, seed=4).images)


def test_every_nucleus_stays_in_its_own_grid_cell():
    s = make_slides(100, size=60, grid=3, malignant_fraction=1.0, seed=1)
    c = 60 // 3
    for k in range(1, 10):
        row, col = divmod(k - 1, 3)
        pixels = s.masks == k
        assert pixels.sum(axis=(1, 2)).min() > 20  # present in every slide
        outside = pixels.copy()
        outside[:, row * c:(row + 1) * c, col * c:(col + 1) * c] = False
        assert not outside.any()
        # a margin of at least one pixel to the cell's border: nuclei never touch
        cell = pixels[:, row * c:(row + 1) * c, col * c:(col + 1) * c]
        assert not cell[:, [0, -1], :].any() and not cell[:, :, [0, -1]].any()


def test_malignant_nuclei_are_larger_and_coarser():
    s = make_slides(200, seed=0)
    area = (s.masks > 0).sum(axis=(1, 2))
    assert area[s.malignant == 1].mean() > 1.4 * area[s.malignant == 0].mean()
    inside_std = np.array([img[m > 0].std() for img, m in zip(s.images, s.masks, strict=True)])
    assert inside_std[s.malignant == 1].mean() > 1.5 * inside_std[s.malignant == 0].mean()
    # the two kinds overlap: some benign slide has more nucleus area than some malignant one
    assert area[s.malignant == 0].max() > area[s.malignant == 1].min()


def test_make_slides_errors():
    with pytest.raises(InvalidValueError, match=r"^make_slides: each nucleus needs a cell"):
        make_slides(2, size=60, grid=4)
    with pytest.raises(InvalidValueError, match=r"^make_slides: malignant_fraction must be"):
        make_slides(2, malignant_fraction=1.5)


# ---------------------------------------------------------------- thresholds and regions


def _otsu_by_search(image, bins=256):
    """Try every cut between bins and keep the best between-class variance: the definition."""
    lo, hi = image.min(), image.max()
    width = (hi - lo) / bins
    best, best_t = -1.0, None
    for cut in range(1, bins):
        t = lo + cut * width
        below = image < t
        w0, w1 = below.mean(), 1 - below.mean()
        if w0 == 0 or w1 == 0:
            continue
        between = w0 * w1 * (image[below].mean() - image[~below].mean()) ** 2
        if between > best:
            best, best_t = between, t
    return best_t


def test_otsu_threshold_splits_two_peaks():
    rng = np.random.default_rng(0)
    img = np.where(rng.random((1, 40, 40)) < 0.3, 0.3, 0.8) + 0.02 * rng.standard_normal(
        (1, 40, 40))
    t = otsu_threshold(img)
    assert t.shape == (1,) and 0.4 < t[0] < 0.7
    s = make_slides(3, seed=2)
    for image, t in zip(s.images, otsu_threshold(s.images), strict=True):
        # bin centres versus pixels: the two agree on which pixels fall below
        want = _otsu_by_search(image)
        assert ((image < t) == (image < want)).mean() > 0.999


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 12))))
def test_label_regions_matches_scipy(fg):
    labels = label_regions(fg)
    assert labels.dtype == np.int64 and labels.shape == fg.shape
    for i in range(len(fg)):
        want, k = ndimage.label(fg[i])  # 4-connectivity, numbered in raster order
        np.testing.assert_array_equal(labels[i], want)
        assert labels[i].max() == k


def test_segment_nuclei_recovers_the_generated_outlines():
    s = make_slides(30, seed=5)
    labels = segment_nuclei(s.images)
    assert (labels.max(axis=(1, 2)) == 4).all()  # four nuclei in every slide
    # each true nucleus is one segmented region with nearly the same pixels
    for i in range(len(s.images)):
        for k in range(1, 5):
            true = s.masks[i] == k
            found = labels[i] == np.bincount(labels[i][true]).argmax()
            assert (true & found).sum() / (true | found).sum() > 0.97


def test_segment_nuclei_drops_specks_and_takes_a_given_threshold():
    img = np.full((1, 20, 20), 0.9)
    img[0, 2:8, 2:8] = 0.2  # 36 pixels: a nucleus
    img[0, 15, 15] = 0.2  # one dark pixel: noise
    labels = segment_nuclei(img, threshold=0.5)
    assert labels.max() == 1 and (labels == 1).sum() == 36
    assert segment_nuclei(img, threshold=np.array([0.5]), min_area=1).max() == 2
    with pytest.raises(ShapeError, match=r"^segment_nuclei: expected images of shape"):
        segment_nuclei(img[0])


# ---------------------------------------------------------------- measurements


def test_measurements_of_a_disc_and_a_square_by_hand():
    img = np.full((1, 64, 64), 0.9)
    disc = _disc(64, 20.0, 20.0, 10.0)
    img[0][disc] = 0.3
    square = np.zeros((64, 64), dtype=bool)
    square[40:50, 40:50] = True
    img[0][square] = np.tile([0.2, 0.4], 50)  # texture: std 0.1
    labels = (disc * 1 + square * 2)[None].astype(np.int64)
    nu = measure_nuclei(img, labels)
    assert nu.image.tolist() == [0, 0]
    assert nu.area.tolist() == [disc.sum(), 100]
    assert nu.area[0] == pytest.approx(np.pi * 100, rel=0.03)
    assert nu.perimeter[0] == pytest.approx(2 * np.pi * 10, rel=0.03)
    assert nu.radius[0] == pytest.approx(10, rel=0.05)
    assert nu.perimeter[1] == pytest.approx(np.pi / 4 * 40)  # 40 pixel edges
    assert nu.texture.tolist() == pytest.approx([0.0, 0.1])
    assert nu.compactness[0] == pytest.approx(4 * np.pi - 1, rel=0.05)
    assert nu.compactness[1] == pytest.approx(nu.perimeter[1] ** 2 / 100 - 1)


def _measure_by_loops(images, labels):
    """Each nucleus on its own: the definitions written plainly."""
    rows = []
    for i in range(len(images)):
        for k in range(1, labels[i].max() + 1):
            m = labels[i] == k
            if not m.any():
                continue
            pad = np.pad(m, 1)
            edges = sum((pad[1:-1, 1:-1] & ~np.roll(pad, shift, axis)[1:-1, 1:-1]).astype(int)
                        for shift, axis in [(1, 0), (-1, 0), (1, 1), (-1, 1)])
            ys, xs = np.nonzero(m)
            cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
            ey, ex = np.nonzero(m & (edges > 0))
            radius = np.hypot(ey + 0.5 - cy, ex + 0.5 - cx).mean() + 0.5
            perimeter = np.pi / 4 * edges.sum()
            rows.append((i, m.sum(), perimeter, radius, images[i][m].std(),
                         perimeter**2 / m.sum() - 1))
    return np.array(rows)


def test_measurements_match_plain_loops_on_generated_slides():
    s = make_slides(6, grid=3, size=72, seed=7)
    labels = segment_nuclei(s.images)
    nu = measure_nuclei(s.images, labels)
    want = _measure_by_loops(s.images, labels)
    got = np.stack([nu.image, nu.area, nu.perimeter, nu.radius, nu.texture, nu.compactness], 1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_slide_features_average_over_each_image():
    s = make_slides(8, seed=9)
    labels = segment_nuclei(s.images)
    labels[3] = 0  # an image without nuclei
    nu = measure_nuclei(s.images, labels)
    f = slide_features(nu, 8)
    assert f.shape == (8, len(FEATURE_NAMES)) and np.isnan(f[3]).all()
    for j, name in enumerate(FEATURE_NAMES):
        values = getattr(nu, name)
        np.testing.assert_allclose(f[0, j], values[nu.image == 0].mean(), rtol=1e-12)
    with pytest.raises(InvalidValueError, match=r"^slide_features: a nucleus belongs to image"):
        slide_features(nu, 2)


def test_measure_nuclei_errors():
    img = np.zeros((1, 4, 4))
    with pytest.raises(ShapeError, match=r"^measure_nuclei: labels must have the shape"):
        measure_nuclei(img, np.zeros((1, 4, 5), dtype=np.int64))
    with pytest.raises(InvalidValueError, match=r"^measure_nuclei: labels must be >= 0"):
        measure_nuclei(img, -np.ones((1, 4, 4), dtype=np.int64))
    with pytest.raises(DLTeachError):
        measure_nuclei(img, np.zeros((1, 4, 4)))  # float labels
