"""Generated microscope slides of cell nuclei, segmented and measured (lesson 9).

The breast cancer data of lesson 9 were measured from photographs of cell nuclei. This
module makes that pipeline small enough to run in a notebook, on *generated* images:

- :func:`make_slides`: grey images of dark, stained nuclei on a light background, one
  nucleus per cell of a grid (they never touch). Benign nuclei are smaller, rounder and
  more evenly stained; malignant ones larger, with dented outlines and a coarse texture.
  The two overlap, as real ones do. The true outline of every nucleus is returned.
- :func:`otsu_threshold` and :func:`segment_nuclei`: a grey-level threshold per image
  (Otsu's method) and the connected regions of dark pixels, numbered 1, 2, ... per image
  (:func:`label_regions`).
- :func:`measure_nuclei`: area, perimeter, radius, texture and compactness of every
  region, defined as in the breast cancer data; :func:`slide_features` averages them
  over the nuclei of each image.

A threshold suffices here because the generator makes it so: even lighting, dark
nuclei, no overlaps. Real slides are not so kind, which is where a trained segmentation
network comes in. Everything is vectorized over images, nuclei and pixels; loops run
only over the harmonics of an outline and the steps of the region labelling.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.validation import Seed, as_rng, check_array, check_positive_int

FEATURE_NAMES = ("radius", "texture", "perimeter", "area", "compactness")
_BACKGROUND = 0.85  # the grey level of the empty slide
_HARMONICS = (2, 3, 4, 5)  # the dents of an outline: r(theta) = r0 (1 + sum a_k cos(k theta))


class Slides(NamedTuple):
    """images (N, H, W) float64 in [0, 1], dark nuclei on a light background;
    masks (N, H, W) int64, 0 background and k = 1..K the k-th nucleus of its image;
    malignant (N,) int64, 1 for a malignant slide."""

    images: np.ndarray
    masks: np.ndarray
    malignant: np.ndarray


def make_slides(n: int = 100, size: int = 64, grid: int = 2, malignant_fraction: float = 0.4,
                seed: Seed = 0) -> Slides:
    """n generated slides of size x size pixels, each with grid x grid nuclei of one kind.

    Per nucleus (benign / malignant): mean radius uniform in [0.16, 0.26] / [0.2, 0.32]
    of a grid cell's side, outline dents whose relative amplitudes add up to at most
    0.12 / 0.25, centre within 0.04 cells of the cell's middle, grey level 0.45 / 0.35;
    per slide, a pixel noise inside the nuclei of standard deviation uniform in
    [0.02, 0.05] / [0.04, 0.08]. The ranges overlap: some slides of either kind look
    alike. The slide adds noise of 0.02 everywhere. round(n * malignant_fraction)
    slides are malignant, in random order.
    """
    owner = "make_slides"
    n = check_positive_int(n, owner=owner, name="n")
    size = check_positive_int(size, owner=owner, name="size", minimum=20)
    grid = check_positive_int(grid, owner=owner, name="grid")
    if size // grid < 20:
        raise InvalidValueError(f"{owner}: each nucleus needs a cell of at least 20 pixels; "
                                f"size {size} / grid {grid} gives {size // grid}.")
    if isinstance(malignant_fraction, bool) or not 0 <= malignant_fraction <= 1:
        raise InvalidValueError(f"{owner}: malignant_fraction must be in [0, 1], got "
                                f"{malignant_fraction!r}.")
    rng = as_rng(seed, owner=owner)
    malignant = np.zeros(n, dtype=np.int64)
    malignant[: round(n * malignant_fraction)] = 1
    malignant = rng.permutation(malignant)
    k, cell = grid * grid, size // grid
    m = malignant[:, None].astype(bool)  # (n, 1): the kind of every nucleus of a slide
    r0 = cell * np.where(m, rng.uniform(0.2, 0.32, (n, k)), rng.uniform(0.16, 0.26, (n, k)))
    # At most 0.32 * 1.25 + 0.04 = 0.44 of a cell from its middle: 1 pixel or more of
    # margin from a cell of 20 pixels on, so that two nuclei never touch.
    amp = (np.where(m[..., None], 0.25, 0.12) / len(_HARMONICS)
           * rng.uniform(0, 1, (n, k, len(_HARMONICS))))
    phase = rng.uniform(0, 2 * np.pi, (n, k, len(_HARMONICS)))
    # Each nucleus is drawn in its own grid cell of c x c pixels (the image's last
    # size - grid * c rows and columns stay empty), near the cell's middle.
    c = size // grid
    centre = c / 2 + rng.uniform(-0.04 * c, 0.04 * c, (n, k, 2))
    yy, xx = np.mgrid[0:c, 0:c] + 0.5  # pixel centres inside a cell
    dy = yy - centre[..., 0, None, None]  # (n, k, c, c)
    dx = xx - centre[..., 1, None, None]
    theta = np.arctan2(dy, dx)
    outline = np.ones_like(theta)
    for j, h in enumerate(_HARMONICS):  # loop over 4 harmonics, vectorized over the rest
        outline += amp[:, :, j, None, None] * np.cos(h * theta + phase[:, :, j, None, None])
    inside = np.hypot(dy, dx) <= r0[..., None, None] * outline  # (n, k, c, c)
    cells = inside * np.arange(1, k + 1)[None, :, None, None]
    masks = np.zeros((n, size, size), dtype=np.int64)
    masks[:, : grid * c, : grid * c] = (cells.reshape(n, grid, grid, c, c)
                                        .transpose(0, 1, 3, 2, 4).reshape(n, grid * c, grid * c))
    grey = np.where(malignant, 0.35, 0.45)[:, None, None]
    grain = np.where(malignant, rng.uniform(0.04, 0.08, n), rng.uniform(0.02, 0.05, n))
    grain = grain[:, None, None]
    nucleus = grey + grain * rng.standard_normal((n, size, size))
    images = np.where(masks > 0, nucleus, _BACKGROUND)
    images = np.clip(images + 0.02 * rng.standard_normal((n, size, size)), 0.0, 1.0)
    return Slides(images, masks, malignant)


def _check_images(images: object, owner: str) -> np.ndarray:
    arr = check_array(images, owner=owner, name="images", kind="number")
    if arr.ndim != 3:
        raise ShapeError(f"{owner}: expected images of shape (N, H, W), got {arr.shape}. "
                         "For one image, pass image[None].")
    return arr


def otsu_threshold(images: np.ndarray, bins: int = 256) -> np.ndarray:
    """Otsu's threshold of every image: (N,) float64.

    The grey levels of an image are cut into ``bins`` equal bins between its minimum and
    maximum; the threshold is the bin edge that maximises the between-class variance
    w0 w1 (mu0 - mu1)^2 of the two groups it makes (w: the fraction of pixels in a group,
    mu: their mean), i.e. the cut that best splits a two-peaked histogram. When several
    cuts tie (an empty gap between the peaks), the threshold is the middle of the gap.
    images: (N, H, W).
    """
    owner = "otsu_threshold"
    x = _check_images(images, owner).astype(np.float64)
    b = check_positive_int(bins, owner=owner, name="bins", minimum=2)
    n = len(x)
    flat = x.reshape(n, -1)
    lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    width = np.where(hi > lo, (hi - lo) / b, 1.0)
    idx = np.minimum(((flat - lo) / width).astype(np.int64), b - 1)
    counts = np.bincount((idx + b * np.arange(n)[:, None]).ravel(),
                         minlength=n * b).reshape(n, b)
    centres = lo + (np.arange(b) + 0.5) * width  # (n, b)
    w0 = np.cumsum(counts, axis=1)[:, :-1]  # pixels at or below each of the b-1 cuts
    s0 = np.cumsum(counts * centres, axis=1)[:, :-1]
    total, s_total = w0[:, -1:] + counts[:, -1:], s0[:, -1:] + (counts * centres)[:, -1:]
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (s0 / w0 - (s_total - s0) / w1) ** 2
    between = np.where((w0 > 0) & (w1 > 0), between, -1.0)
    # Every cut inside an empty stretch of the histogram splits the pixels alike: take
    # the middle of the best stretch, not its first bin edge.
    best = between >= between.max(axis=1, keepdims=True) * (1 - 1e-12)
    first = np.argmax(best, axis=1)
    last = best.shape[1] - 1 - np.argmax(best[:, ::-1], axis=1)
    cut = (first + last) / 2  # the best cut lies after bin `cut`
    return (lo[:, 0] + (cut + 1) * width[:, 0]).astype(np.float64)


def label_regions(foreground: np.ndarray) -> np.ndarray:
    """Number the 4-connected regions of True pixels in each image: (N, H, W) int64.

    0 is background; the regions of each image are 1, 2, ... in the order of their first
    pixel (row by row). Each region's pixels take the smallest flat index among them,
    spread to neighbours (and along the labels themselves, "pointer jumping") until
    nothing changes, then are renumbered per image.
    foreground: (N, H, W) booleans.
    """
    owner = "label_regions"
    if isinstance(foreground, np.ndarray) and foreground.dtype == np.bool_:
        fg = foreground
    else:  # numbers: nonzero is foreground
        fg = check_array(foreground, owner=owner, name="foreground", kind="number") != 0
    if fg.ndim != 3:
        raise ShapeError(f"{owner}: expected foreground of shape (N, H, W), got {fg.shape}.")
    n, h, w = fg.shape
    big = np.iinfo(np.int64).max
    lab = np.where(fg, np.arange(n * h * w).reshape(n, h, w), big)
    fg_flat = fg.reshape(-1)
    while True:
        new = lab.copy()
        np.minimum(new[:, 1:], lab[:, :-1], out=new[:, 1:])  # from the pixel above
        np.minimum(new[:, :-1], lab[:, 1:], out=new[:, :-1])  # below
        np.minimum(new[:, :, 1:], lab[:, :, :-1], out=new[:, :, 1:])  # left
        np.minimum(new[:, :, :-1], lab[:, :, 1:], out=new[:, :, :-1])  # right
        new = np.where(fg, new, big)
        # Pointer jumping: a label is the flat index of a pixel of the same region, so take
        # that pixel's label too. Paths then shrink geometrically, not one pixel per step.
        flat = new.reshape(-1)
        flat[fg_flat] = flat[flat[fg_flat]]
        if np.array_equal(new, lab):
            break
        lab = new
    roots, inverse = np.unique(lab[fg], return_inverse=True)  # sorted: by image, then row
    image_of_root = roots // (h * w)
    first = np.searchsorted(image_of_root, image_of_root)  # each image's first root
    out = np.zeros((n, h, w), dtype=np.int64)
    out[fg] = (np.arange(len(roots)) - first + 1)[inverse.ravel()]
    return out


def segment_nuclei(images: np.ndarray, threshold: np.ndarray | None = None,
                   min_area: int = 10) -> np.ndarray:
    """Nuclei found by a grey-level threshold: (N, H, W) int64 labels, 0 background.

    A pixel darker than its image's threshold (default: :func:`otsu_threshold`) is part
    of a nucleus; connected dark pixels form one nucleus (:func:`label_regions`); regions
    smaller than min_area pixels (specks of noise) are dropped and the rest renumbered.
    images: (N, H, W);  threshold: (N,) or a number.
    """
    owner = "segment_nuclei"
    x = _check_images(images, owner)
    t = otsu_threshold(x) if threshold is None else np.broadcast_to(
        check_array(threshold, owner=owner, name="threshold", kind="number"), (len(x),))
    labels = label_regions(x < t[:, None, None])
    min_area = check_positive_int(min_area, owner=owner, name="min_area")
    n = len(labels)
    key = labels + (labels.max() + 1) * np.arange(n)[:, None, None]  # unique per image
    area = np.bincount(key.ravel())
    keep = (labels > 0) & (area[key] >= min_area)
    return label_regions(keep)


class Nuclei(NamedTuple):
    """One row per nucleus, each (M,): the image it is in, and its measurements in pixels:
    area, perimeter, radius (mean distance from the centre to the outline), texture
    (standard deviation of its grey levels) and compactness (perimeter^2 / area - 1)."""

    image: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    radius: np.ndarray
    texture: np.ndarray
    compactness: np.ndarray


def measure_nuclei(images: np.ndarray, labels: np.ndarray) -> Nuclei:
    """Measure every labelled nucleus, as the breast cancer data define the features.

    area: its pixels. perimeter: the pixel edges between it and anything else, times
    pi/4 (a pixel outline follows a slanted edge in steps, which are 4/pi too long on
    average over directions: a disc of radius r then measures close to 2 pi r).
    radius: mean distance from its centre to its edge pixels (those with a 4-neighbour
    outside it), plus half a pixel. texture: standard deviation of its grey levels.
    compactness: perimeter^2 / area - 1 (4 pi - 1 for a disc, more for a dented outline).
    images: (N, H, W);  labels: (N, H, W) integers, 0 background, 1..K per image.
    Returns :class:`Nuclei`, each field (M,) for the M nuclei, ordered by image then label.
    """
    owner = "measure_nuclei"
    x = _check_images(images, owner).astype(np.float64)
    lab = check_array(labels, owner=owner, name="labels", kind="int")
    if lab.shape != x.shape:
        raise ShapeError(f"{owner}: labels must have the shape of images {x.shape}, "
                         f"got {lab.shape}.")
    if (lab < 0).any():
        raise InvalidValueError(f"{owner}: labels must be >= 0 (0 = background), got "
                                f"{lab.min()}.")
    n, h, w = x.shape
    stride = int(lab.max()) + 1
    key = np.where(lab > 0, lab + stride * np.arange(n)[:, None, None], -1)  # -1: background
    present = np.unique(key[key >= 0])
    dense = np.full(n * stride, -1, dtype=np.int64)
    dense[present] = np.arange(len(present))
    pid = np.where(key >= 0, dense[np.maximum(key, 0)], -1)  # (N, H, W): 0..M-1, -1 outside
    m = len(present)
    inside = pid >= 0

    def per_nucleus(where: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(pid[where], weights=None if weights is None else weights[where],
                           minlength=m)

    area = per_nucleus(inside).astype(np.float64)
    mean = per_nucleus(inside, x) / area
    # Two passes (deviations from each nucleus's own mean): no cancellation in E[x^2] - mean^2.
    texture = np.sqrt(per_nucleus(inside, (x - mean[np.maximum(pid, 0)]) ** 2) / area)
    # Edges to anything else: pad with -1 so that the image border counts as outside.
    padded = np.pad(pid, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    centre = padded[:, 1:-1, 1:-1]
    edges = np.zeros((n, h, w), dtype=np.int64)
    for nb in (padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2],
               padded[:, 1:-1, 2:]):
        edges += nb != centre
    perimeter = np.pi / 4 * per_nucleus(inside, edges.astype(np.float64))
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    yy, xx = np.broadcast_to(yy, x.shape), np.broadcast_to(xx, x.shape)
    cy, cx = per_nucleus(inside, yy) / area, per_nucleus(inside, xx) / area
    edge = inside & (edges > 0)
    dist = np.hypot(yy - cy[np.maximum(pid, 0)], xx - cx[np.maximum(pid, 0)])
    radius = per_nucleus(edge, dist) / per_nucleus(edge) + 0.5
    return Nuclei(image=(present // stride).astype(np.int64), area=area, perimeter=perimeter,
                  radius=radius, texture=texture, compactness=perimeter**2 / area - 1)


def slide_features(nuclei: Nuclei, n_images: int) -> np.ndarray:
    """The mean of each measurement over the nuclei of each image: (n_images, 5) float64,
    columns in the order of FEATURE_NAMES; nan for an image without any nucleus."""
    owner = "slide_features"
    n = check_positive_int(n_images, owner=owner, name="n_images")
    image = np.asarray(nuclei.image)
    if len(image) and image.max() >= n:
        raise InvalidValueError(f"{owner}: a nucleus belongs to image {image.max()}, but "
                                f"n_images is {n}.")
    count = np.bincount(image, minlength=n).astype(np.float64)
    out = np.full((n, len(FEATURE_NAMES)), np.nan)
    for j, name in enumerate(FEATURE_NAMES):  # 5 columns
        total = np.bincount(image, weights=getattr(nuclei, name), minlength=n)
        np.divide(total, count, out=out[:, j], where=count > 0)
    return out
