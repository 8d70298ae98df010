"""Generated pictures for lesson 8: digits to find on a canvas, shapes to label pixel by pixel.

Two tasks, both made here from a seed (nothing is downloaded):

- :func:`make_detection_canvases`: one handwritten digit from scikit-learn's 8x8 digits
  (real data, shipped with scikit-learn), enlarged to 10-20 pixels and put at a random
  place on a larger canvas of noise (generated). Targets: the digit's class and its box,
  the tight rectangle around its ink, (x0, y0, x1, y1) in pixels.
- :func:`make_shape_scenes`: circles, squares and triangles of random size, place and
  brightness on a striped, noisy background (all generated). Targets: a label for
  every pixel, 0 background, 1 circle, 2 square, 3 triangle.

Pixel (row r, column c) covers the square [c, c+1] x [r, r+1]: a box (x0, y0, x1, y1)
holds the columns x0..x1-1 and the rows y0..y1-1. Draw images with
``ax.imshow(image, extent=(0, W, H, 0))`` so that boxes land on the pixels' edges.

The source digits are split once, by index, into a training part (3 of every 4) and a
test part (every 4th digit), so test canvases show handwriting no training canvas holds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlteach.data import load_digits
from dlteach.errors import InvalidValueError
from dlteach.validation import Seed, as_rng, check_array, check_positive, check_positive_int

SHAPE_NAMES = ("background", "circle", "square", "triangle")
DIGIT_PARTS = ("train", "test", "all")
_INK = 0.3  # a scaled digit's pixel above this is ink: it belongs inside the box


class Canvases(NamedTuple):
    """images (N, 1, H, W) float32; labels (N,) int64 digits 0..9; boxes (N, 4) float64
    (x0, y0, x1, y1) in pixels; digit_ids (N,) int64: the source digit's index in
    ``load_digits()``."""

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    digit_ids: np.ndarray


class Scenes(NamedTuple):
    """images (N, 1, H, W) float32; masks (N, H, W) int64 labels (see SHAPE_NAMES)."""

    images: np.ndarray
    masks: np.ndarray


def digit_ids(part: str = "train") -> np.ndarray:
    """Indices into ``load_digits()`` of one part: "train" (index % 4 != 3), "test"
    (index % 4 == 3) or "all"; (M,) int64."""
    if part not in DIGIT_PARTS:
        raise InvalidValueError(
            f"digit_ids: part must be one of {', '.join(map(repr, DIGIT_PARTS))}, got {part!r}."
        )
    ids = np.arange(1797, dtype=np.int64)
    if part == "all":
        return ids
    return ids[(ids % 4 == 3) == (part == "test")]


def _resize_matrix(size: int, src: int = 8) -> np.ndarray:
    """(size, src) bilinear interpolation weights: R @ img @ R.T resizes a src x src image."""
    centre = (np.arange(size) + 0.5) * src / size - 0.5  # output pixel centres, source units
    centre = np.clip(centre, 0, src - 1)
    lo = np.minimum(np.floor(centre).astype(np.int64), src - 2)
    frac = centre - lo
    R = np.zeros((size, src))
    rows = np.arange(size)
    R[rows, lo] = 1 - frac
    R[rows, lo + 1] += frac
    return R


def _check_range(value: object, owner: str, name: str, *, low: float = 0.0) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"{owner}: expected {name} = (smallest, largest), got {value!r}."
        ) from None
    if not (low < lo <= hi):
        raise InvalidValueError(
            f"{owner}: expected {name} = (smallest, largest) with {low:g} < smallest <= largest, "
            f"got {value!r}."
        )
    return lo, hi


def make_detection_canvases(
    n: int = 1000,
    canvas: int = 32,
    *,
    part: str = "train",
    scale: tuple[float, float] = (1.25, 2.5),
    noise: float = 0.2,
    seed: Seed = 0,
) -> Canvases:
    """n canvases of canvas x canvas pixels, each holding one digit at a random place.

    part: which source digits to draw from, "train", "test" or "all" (see :func:`digit_ids`).
    scale: the digit's 8 pixels become round(8 * s) pixels, s uniform in this range
        (bilinear enlargement), so 10 to 20 pixels by default.
    noise: standard deviation of the Gaussian noise added to every pixel (digit
        pixels are 0..1, the background 0 before the noise).
    Returns :class:`Canvases`: images (N, 1, H, W) float32, labels (N,), boxes (N, 4)
    (the tight box around the ink, pixels > 0.3), digit_ids (N,).
    The same arguments always give the same canvases.
    """
    owner = "make_detection_canvases"
    n = check_positive_int(n, owner=owner, name="n")
    canvas = check_positive_int(canvas, owner=owner, name="canvas", minimum=8)
    lo, hi = _check_range(scale, owner, "scale")
    if round(8 * hi) > canvas:
        raise InvalidValueError(
            f"{owner}: a digit scaled by {hi:g} is {round(8 * hi)} pixels wide, more than "
            f"the {canvas}-pixel canvas. Use a larger canvas or a smaller scale."
        )
    noise = 0.0 if noise == 0 else check_positive(noise, owner=owner, name="noise")
    ids = digit_ids(part)
    rng = as_rng(seed, owner=owner)
    data = load_digits()
    pick = ids[rng.integers(0, len(ids), size=n)]
    sizes = np.rint(8 * rng.uniform(lo, hi, size=n)).astype(np.int64)
    corner = rng.random((n, 2))  # where the digit's square goes, as a fraction of the room
    images = rng.normal(0.0, noise, size=(n, canvas, canvas)) if noise else np.zeros(
        (n, canvas, canvas))
    boxes = np.zeros((n, 4))
    for i in range(n):  # one object per canvas: a loop over objects, not over pixels
        s = int(sizes[i])
        R = _resize_matrix(s)
        digit = R @ data.images[pick[i]] @ R.T  # (s, s), values in [0, 1]
        r0, c0 = (np.floor(corner[i] * (canvas - s + 1))).astype(np.int64)
        images[i, r0:r0 + s, c0:c0 + s] += digit
        rows = np.flatnonzero((digit > _INK).any(axis=1))
        cols = np.flatnonzero((digit > _INK).any(axis=0))
        boxes[i] = (c0 + cols[0], r0 + rows[0], c0 + cols[-1] + 1, r0 + rows[-1] + 1)
    return Canvases(images[:, None].astype(np.float32), data.y[pick].copy(), boxes,
                    pick.astype(np.int64))


def _texture(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(n, size, size) striped backgrounds: two random gratings each, about 0.1..0.5."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    out = np.full((n, size, size), 0.3)
    for _ in range(2):  # two gratings, every image at once
        freq = rng.uniform(0.04, 0.15, size=(n, 1, 1))  # cycles per pixel
        angle = rng.uniform(0, np.pi, size=(n, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
        wave = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
        out += 0.1 * wave
    return out


def _grow(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool mask grown by one pixel in all 8 directions."""
    padded = np.pad(mask, 1)
    H, W = mask.shape
    out = np.zeros_like(mask)
    for dy in range(3):
        for dx in range(3):
            out |= padded[dy:dy + H, dx:dx + W]
    return out


def _shape_mask(kind: int, cy: float, cx: float, r: float, flip: bool,
                yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels (centres yy, xx) inside one shape of 'radius' r."""
    dy, dx = yy - cy, xx - cx
    if kind == 1:  # circle of radius r
        return dy**2 + dx**2 <= r**2
    if kind == 2:  # square of side 1.8 r (about the circle's area)
        return (np.abs(dy) <= 0.9 * r) & (np.abs(dx) <= 0.9 * r)
    # triangle: apex r above the centre, base r below, base width 2.4 r; flip: upside down
    if flip:
        dy = -dy
    return (dy >= -r) & (dy <= r) & (np.abs(dx) <= 0.6 * (dy + r))


def make_shape_scenes(
    n: int = 500,
    size: int = 32,
    *,
    n_shapes: tuple[int, int] = (1, 3),
    radius: tuple[float, float] = (3.5, 7.0),
    noise: float = 0.08,
    seed: Seed = 0,
) -> Scenes:
    """n scenes of size x size pixels: shapes on a striped background, labelled per pixel.

    n_shapes: each scene holds between these many shapes (inclusive), each a circle, a
        square or a triangle (pointing up or down), chosen at random, of 'radius' r
        uniform in ``radius`` (the circle's radius; the square's side is 1.8 r, the
        triangle 2 r high and 2.4 r wide) and brightness uniform in 0.6..1.0. Shapes do
        not overlap or touch (each is placed at least a pixel away from the earlier ones,
        if it can be within 50 tries; otherwise it is left out).
    noise: standard deviation of the Gaussian noise added to every pixel.
    Returns :class:`Scenes`: images (N, 1, H, W) float32, masks (N, H, W) int64 labels,
    0 background, 1 circle, 2 square, 3 triangle (``SHAPE_NAMES``).
    """
    owner = "make_shape_scenes"
    n = check_positive_int(n, owner=owner, name="n")
    size = check_positive_int(size, owner=owner, name="size", minimum=8)
    k_lo, k_hi = (int(v) for v in _check_range(n_shapes, owner, "n_shapes", low=0.0))
    r_lo, r_hi = _check_range(radius, owner, "radius", low=1.0)
    if 2 * r_hi >= size:
        raise InvalidValueError(
            f"{owner}: shapes of radius up to {r_hi:g} do not fit a {size}-pixel scene; "
            f"use a radius below {size / 2:g}."
        )
    noise = 0.0 if noise == 0 else check_positive(noise, owner=owner, name="noise")
    rng = as_rng(seed, owner=owner)
    images = _texture(rng, n, size)
    masks = np.zeros((n, size, size), dtype=np.int64)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    counts = rng.integers(k_lo, k_hi + 1, size=n)
    for i in range(n):  # a loop over scenes and shapes; the pixels of a shape at once
        for _ in range(counts[i]):
            kind, r = int(rng.integers(1, 4)), rng.uniform(r_lo, r_hi)
            flip, bright = bool(rng.integers(0, 2)), rng.uniform(0.6, 1.0)
            for _try in range(50):
                cy, cx = rng.uniform(r, size - r, size=2)
                inside = _shape_mask(kind, cy, cx, r, flip, yy, xx)
                if not (masks[i][_grow(inside)] != 0).any():  # a gap of a pixel at least
                    masks[i][inside] = kind
                    images[i][inside] = bright
                    break
    if noise:
        images += rng.normal(0.0, noise, size=images.shape)
    return Scenes(images[:, None].astype(np.float32), masks)


SHAPE_COLORS = ("none", "tab:orange", "tab:blue", "tab:green")


def draw_labels(ax, image: np.ndarray, labels: np.ndarray, *, alpha: float = 0.6,
                legend: bool = False):
    """Show a greyscale image (H, W) with a shape label map (H, W) painted over it, in
    fixed colours (circle orange, square blue, triangle green; background unpainted),
    the same in every picture. legend: add a legend naming the colours. Returns ax."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    img = check_array(image, owner="draw_labels", name="image", kind="number")
    m = check_array(labels, owner="draw_labels", name="labels", kind="int")
    if img.ndim != 2 or m.shape != img.shape:
        raise InvalidValueError(
            f"draw_labels: expected an image (H, W) and labels of the same shape, got "
            f"{img.shape} and {m.shape}."
        )
    H, W = img.shape
    ax.imshow(img, cmap="gray", extent=(0, W, H, 0))
    cmap = ListedColormap(SHAPE_COLORS[1:])
    ax.imshow(np.ma.masked_where(m == 0, m), cmap=cmap, vmin=0.5, vmax=3.5, alpha=alpha,
              interpolation="nearest", extent=(0, W, H, 0))
    ax.set_axis_off()
    if legend:
        ax.legend(handles=[Patch(color=c, label=n) for n, c in
                           zip(SHAPE_NAMES[1:], SHAPE_COLORS[1:], strict=True)],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return ax
