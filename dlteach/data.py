"""Datasets for the course: toy 2-D problems from a seed, and small real data sets.

Every generator returns ``(X, y)`` with ``X: (N, 2) float64`` and ``y: (N,) int64``,
shuffled, and the same seed always gives the same arrays. The real data sets come
with scikit-learn, so nothing is downloaded.

Also here: splitting into train/validation/test sets, standardizing features,
one-hot encoding and iterating over minibatches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import NamedTuple

import numpy as np

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.validation import (
    Seed,
    as_rng,
    check_array,
    check_labels,
    check_positive,
    check_positive_int,
    check_same_length,
)

# ---------------------------------------------------------------------------
# Toy 2-D data sets
# ---------------------------------------------------------------------------


def _class_sizes(n: int, k: int) -> np.ndarray:
    """Split n examples over k classes as evenly as possible (the first classes get the rest)."""
    sizes = np.full(k, n // k, dtype=np.int64)
    sizes[: n % k] += 1
    return sizes


def _shuffled(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # Generators build the data class by class; shuffle so that any slice mixes classes.
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order], dtype=np.float64), y[order].astype(np.int64)


def _check_noise(noise: object, owner: str) -> float:
    if isinstance(noise, bool) or not isinstance(noise, Real):
        raise DTypeError(f"{owner}: expected noise to be a number, got {type(noise).__name__}.")
    if not np.isfinite(noise) or noise < 0:
        raise InvalidValueError(f"{owner}: noise must be a number >= 0, got {noise}.")
    return float(noise)


def _check_n(n: object, owner: str, minimum: int) -> int:
    n = check_positive_int(n, owner=owner, name="n")
    if n < minimum:
        raise InvalidValueError(
            f"{owner}: n must be at least {minimum} (one example per class), got {n}."
        )
    return n


def make_blobs(
    n: int = 200,
    centers: int | np.ndarray | Sequence[Sequence[float]] = 2,
    std: float = 1.0,
    seed: Seed = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one per class.

    centers: the number of classes K (their centers are spread evenly on a circle of
        radius 4, at a random rotation), or an array of centers (K, 2).
    std: the standard deviation of every blob.
    Returns X: (n, 2) float64, y: (n,) int64 with labels 0..K-1.
    """
    owner = "make_blobs"
    rng = as_rng(seed, owner="make_blobs")
    if isinstance(centers, Real) and not isinstance(centers, bool):
        k = check_positive_int(centers, owner=owner, name="centers (the number of classes)")
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(k) / k
        mu = 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        mu = check_array(centers, owner=owner, name="centers", shape=("K", 2), kind="number")
        mu = mu.astype(np.float64)
        k = len(mu)
    std = check_positive(std, owner=owner, name="std")
    n = _check_n(n, owner, k)
    y = np.repeat(np.arange(k), _class_sizes(n, k))
    X = mu[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_xor(n: int = 200, noise: float = 0.2, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian clusters at the corners (+-1, +-1); the label is 1 when the signs differ.

    No straight line separates the classes: the classic problem a perceptron cannot solve.
    noise: standard deviation of each cluster.  Returns X: (n, 2), y: (n,) in {0, 1}.
    """
    owner = "make_xor"
    noise = _check_noise(noise, owner)
    n = _check_n(n, owner, 4)
    rng = as_rng(seed, owner="make_xor")
    corner = np.repeat(np.arange(4), _class_sizes(n, 4))
    signs = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    X = signs[corner] + noise * rng.standard_normal((n, 2))
    y = (signs[corner, 0] != signs[corner, 1]).astype(np.int64)
    return _shuffled(X, y, rng)


def make_moons(n: int = 200, noise: float = 0.1, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below).

    noise: standard deviation of the Gaussian noise added to every point.
    Returns X: (n, 2), y: (n,) in {0, 1}.
    """
    owner = "make_moons"
    noise = _check_noise(noise, owner)
    n = _check_n(n, owner, 2)
    rng = as_rng(seed, owner="make_moons")
    n0, n1 = _class_sizes(n, 2)
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n0, n1])
    return _shuffled(X, y, rng)


def make_circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1).

    factor: radius of the inner circle, in (0, 1).  Returns X: (n, 2), y: (n,) in {0, 1}.
    """
    owner = "make_circles"
    noise = _check_noise(noise, owner)
    factor = check_positive(factor, owner=owner, name="factor")
    if factor >= 1:
        raise InvalidValueError(f"{owner}: factor must lie in (0, 1), got {factor}.")
    n = _check_n(n, owner, 2)
    rng = as_rng(seed, owner="make_circles")
    n0, n1 = _class_sizes(n, 2)
    t = np.concatenate([np.linspace(0, 2 * np.pi, n0, endpoint=False),
                        np.linspace(0, 2 * np.pi, n1, endpoint=False)])
    radius = np.repeat([1.0, factor], [n0, n1])
    X = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n0, n1])
    return _shuffled(X, y, rng)


def make_spirals(
    n: int = 300, n_classes: int = 2, noise: float = 0.2, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral).

    Along arm k the radius r grows from 0 to 1 while the angle turns by 4 radians:
    angle = 2*pi*k/K + 4*r + noise * N(0, 1).  Returns X: (n, 2), y: (n,) in 0..K-1.
    """
    owner = "make_spirals"
    noise = _check_noise(noise, owner)
    k = check_positive_int(n_classes, owner=owner, name="n_classes")
    if k < 2:
        raise InvalidValueError(f"{owner}: n_classes must be at least 2, got {k}.")
    n = _check_n(n, owner, k)
    rng = as_rng(seed, owner="make_spirals")
    sizes = _class_sizes(n, k)
    y = np.repeat(np.arange(k), sizes)
    # Radius 0..1 within each arm, built without a Python loop over the arms.
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    pos = np.arange(n) - start
    r = pos / np.maximum(np.repeat(sizes, sizes) - 1, 1)
    angle = 2 * np.pi * y / k + 4.0 * r + noise * rng.standard_normal(n)
    X = r[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    return _shuffled(X, y, rng)


def make_checkerboard(
    n: int = 1000, tiles: int = 4, noise: float = 0.0, seed: Seed = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A checkerboard of tiles x tiles squares on [-1, 1]^2, in two alternating classes.

    The square in column i and row j (counted from the corner (-1, -1), each of side
    2 / tiles) has the label (i + j) % 2, so the corner square is class 0. Each class
    gets n // 2 points (the first the rest), uniform over the squares of its colour.
    noise: standard deviation of the Gaussian noise added to every point after labelling
        (points near an edge may cross into a square of the other colour).
    Returns X: (n, 2) float64, y: (n,) int64 in {0, 1}.
    """
    owner = "make_checkerboard"
    noise = _check_noise(noise, owner)
    tiles = check_positive_int(tiles, owner=owner, name="tiles")
    if tiles < 2:
        raise InvalidValueError(
            f"{owner}: tiles must be at least 2 (one square has only one class), got {tiles}."
        )
    n = _check_n(n, owner, 2)
    rng = as_rng(seed, owner="make_checkerboard")
    y = np.repeat([0, 1], _class_sizes(n, 2))
    # The (column, row) of every square, class 0's squares first, then class 1's.
    cols, rows = np.divmod(np.arange(tiles * tiles), tiles)
    colour = (cols + rows) % 2
    squares = np.concatenate([np.flatnonzero(colour == 0), np.flatnonzero(colour == 1)])
    per_class = np.bincount(colour, minlength=2)
    # A square drawn uniformly among those of the example's class, then a uniform point in it.
    first = np.where(y == 1, per_class[0], 0)  # where the example's class starts in squares
    square = squares[np.floor(rng.random(n) * per_class[y]).astype(np.int64) + first]
    cell = np.stack([cols[square], rows[square]], axis=1)
    X = (cell + rng.random((n, 2))) * (2.0 / tiles) - 1.0
    X = X + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_first_symbol(
    n: int = 1000, steps: int = 60, n_classes: int = 4, n_symbols: int = 8, seed: Seed = 0,
    dtype: type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences whose class is their FIRST symbol: a task that needs a long memory.

    Each of the n sequences holds ``steps`` symbols drawn uniformly from 0..n_symbols-1,
    one-hot encoded; its label y is its first symbol, drawn from 0..n_classes-1. The other
    symbols are noise (the label's symbols keep turning up among them), so a recurrent
    network must carry the first one through every later step (lesson 5).
    Returns X: (n, steps, n_symbols) of ``dtype``, y: (n,) int64.
    """
    owner = "make_first_symbol"
    n = _check_n(n, owner, 1)
    steps = check_positive_int(steps, owner=owner, name="steps")
    n_classes = check_positive_int(n_classes, owner=owner, name="n_classes")
    n_symbols = check_positive_int(n_symbols, owner=owner, name="n_symbols")
    if n_classes > n_symbols:
        raise InvalidValueError(
            f"{owner}: n_classes ({n_classes}) must not exceed n_symbols ({n_symbols}): the "
            "label is one of the symbols."
        )
    rng = as_rng(seed, owner=owner)
    y = rng.integers(0, n_classes, size=n)
    symbols = rng.integers(0, n_symbols, size=(n, steps))
    symbols[:, 0] = y
    return np.eye(n_symbols, dtype=dtype)[symbols], y.astype(np.int64)


_GATES = {
    "and": np.array([0, 0, 0, 1]),
    "or": np.array([0, 1, 1, 1]),
    "xor": np.array([0, 1, 1, 0]),
    "nand": np.array([1, 1, 1, 0]),
}


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a logic gate: "and", "or", "xor" or "nand".

    Returns X: (4, 2) float64 with rows (0,0), (0,1), (1,0), (1,1) and y: (4,) int64.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in _GATES:
        raise InvalidValueError(
            f"logic_gate: unknown gate {name!r}; choose one of {', '.join(map(repr, _GATES))}."
        )
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, _GATES[key].astype(np.int64)


# ---------------------------------------------------------------------------
# Real data sets (bundled with scikit-learn, no download)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Dataset:
    """A labelled data set.

    X: (N, D) float64 features;  y: (N,) int64 labels in 0..K-1;
    images: (N, H, W) for image data sets, else None;
    feature_names: D names;  class_names: K names;  description: where the data comes from.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    description: str
    images: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        owner = f"Dataset({self.name!r})"
        for name in ("X", "y", "images"):
            value = getattr(self, name)
            if value is not None:  # frozen: set through object, once, at construction
                object.__setattr__(self, name, check_array(value, owner=owner, name=name,
                                                           kind="number"))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        parts = [
            f"name={self.name!r}",
            f"X: {self.X.shape} {self.X.dtype}",
            f"y: {self.y.shape} {self.y.dtype}",
            f"{self.n_classes} classes",
        ]
        if self.images is not None:
            parts.append(f"images: {self.images.shape}")
        return "Dataset(" + ", ".join(parts) + ")"


def load_digits() -> Dataset:
    """scikit-learn's handwritten digits: 1797 grayscale images of 8x8 pixels.

    X: (1797, 64) float64 in [0, 1] (the 0..16 pixel counts divided by 16);
    images: (1797, 8, 8), the same values as pictures;  y: (1797,) int64 digits 0..9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # slow import: only when used

    raw = _sk_load_digits()
    X = raw.data.astype(np.float64) / 16.0
    return Dataset(
        name="digits",
        X=X,
        y=raw.target.astype(np.int64),
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        class_names=tuple(str(d) for d in range(10)),
        description=(
            "Optical recognition of handwritten digits (UCI ML repository, via scikit-learn): "
            "1797 images of 8x8 pixels, values scaled from 0..16 to [0, 1]."
        ),
        images=X.reshape(-1, 8, 8).copy(),
    )


def load_breast_cancer() -> Dataset:
    """scikit-learn's Wisconsin breast cancer data: 569 tumours, 30 features each.

    X: (569, 30) float64, raw measurements on very different scales (standardize them);
    y: (569,) int64 with 0 = malignant, 1 = benign.
    """
    from sklearn.datasets import load_breast_cancer as _sk_load_breast_cancer

    raw = _sk_load_breast_cancer()
    return Dataset(
        name="breast_cancer",
        X=raw.data.astype(np.float64),
        y=raw.target.astype(np.int64),
        feature_names=tuple(str(f) for f in raw.feature_names),
        class_names=tuple(str(c) for c in raw.target_names),
        description=(
            "Breast cancer Wisconsin (diagnostic) data (UCI ML repository, via scikit-learn): "
            "569 tumours described by 30 features computed from a digitized image."
        ),
    )


# ---------------------------------------------------------------------------
# Splitting, scaling, encoding, batching
# ---------------------------------------------------------------------------


class Split(NamedTuple):
    """The result of :func:`train_val_test_split`; unpacks as six arrays."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_val, self.y_val

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_test, self.y_test

    def __repr__(self) -> str:
        return (f"Split(train={len(self.y_train)}, val={len(self.y_val)}, "
                f"test={len(self.y_test)})")


def _check_fraction(value: object, owner: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DTypeError(f"{owner}: expected {name} to be a number, got {type(value).__name__}.")
    if not 0 < value < 1:
        raise InvalidValueError(f"{owner}: {name} must be a fraction in (0, 1), got {value}.")
    return float(value)


def _largest_remainder(counts: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``counts`` that sum to exactly ``total``."""
    share = counts * (total / counts.sum())
    out = np.floor(share).astype(np.int64)
    # Hand the rounding leftovers to the largest fractional parts (ties: by class order).
    rest = total - out.sum()
    out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    val: float = 0.15,
    test: float = 0.15,
    seed: Seed = 0,
    stratify: bool = True,
) -> Split:
    """Shuffle and split into training, validation and test sets.

    X: (N, ...) and y: (N, ...).  val, test: fractions of N in (0, 1), val + test < 1.
    stratify: keep each class's share the same in every part (needs integer labels y: (N,)).
    Every part is a copy, in random order. The sizes are round(val * N) and
    round(test * N); the training set gets the rest.
    """
    owner = "train_val_test_split"
    X = check_array(X, owner=owner, name="X", kind="number")
    if X.ndim == 0:
        raise ShapeError(f"{owner}: expected X of shape (N, ...), got a scalar.")
    y = check_array(y, owner=owner, name="y", kind="int" if stratify else "number")
    check_same_length(X, y, owner=owner, names=("X", "y"))
    val = _check_fraction(val, owner, "val")
    test = _check_fraction(test, owner, "test")
    if val + test >= 1:
        raise InvalidValueError(
            f"{owner}: val + test must be below 1 to leave training data, got {val} + {test}."
        )
    n = len(y)
    n_test, n_val = round(test * n), round(val * n)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise InvalidValueError(
            f"{owner}: {n} examples are too few for val={val} and test={test}: "
            f"a part would be empty (train {n - n_test - n_val}, val {n_val}, test {n_test})."
        )
    rng = as_rng(seed, owner="train_val_test_split")
    key = rng.permutation(n)  # a random rank for every example
    if stratify:
        if y.ndim != 1:
            raise ShapeError(
                f"{owner}: stratify=True needs labels of shape (N,), got {y.shape}. "
                "Pass integer labels, or stratify=False."
            )
        _, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        test_k = _largest_remainder(counts, n_test)
        val_k = _largest_remainder(counts - test_k, n_val)
        # Rank every example inside its class (in random order), then cut by rank.
        order = np.lexsort((key, y_idx))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
        part = np.where(rank < test_k[y_idx], 2, np.where(rank < (test_k + val_k)[y_idx], 1, 0))
    else:
        part = np.zeros(n, dtype=np.int64)
        part[key < n_test] = 2
        part[(key >= n_test) & (key < n_test + n_val)] = 1
    by_key = np.argsort(key)  # examples in random order; each part keeps that order
    idx = [by_key[part[by_key] == p] for p in (0, 1, 2)]
    return Split(X[idx[0]], y[idx[0]], X[idx[1]], y[idx[1]], X[idx[2]], y[idx[2]])


class Standardizer:
    """Rescale every feature to mean 0 and standard deviation 1: x' = (x - mean) / std.

    Fit on the training set only, then transform every set with the same mean and std.
    A constant feature (std 0) is only centred (its std is taken as 1).
    The input is never modified; every method returns a new array.

    X: (N, D)  ->  (N, D);  mean_, scale_: (D,)
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn each column's mean and standard deviation from X: (N, D); returns self."""
        X = check_array(X, owner="Standardizer.fit", name="X", shape=("N", "D"), kind="number")
        X = X.astype(np.float64)  # a copy: X itself stays untouched
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        # Rounding leaves a tiny nonzero std in some constant columns: treat those as constant too.
        constant = (std == 0) | (std <= 1e-12 * np.abs(mean))
        self.mean_ = mean
        self.scale_ = np.where(constant, 1.0, std)
        return self

    def _check(self, X: np.ndarray, method: str) -> np.ndarray:
        owner = f"Standardizer.{method}"
        if self.mean_ is None or self.scale_ is None:
            raise InvalidValueError(
                f"{owner}: this Standardizer is not fitted yet. Call fit(X_train) first."
            )
        return check_array(X, owner=owner, name="X", shape=("N", len(self.mean_)), kind="number")

    def _out_dtype(self, X: np.ndarray) -> np.dtype:
        return X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(X - mean_) / scale_, as a new array of X's float dtype (float64 for integers)."""
        X = self._check(X, "transform")
        return ((X - self.mean_) / self.scale_).astype(self._out_dtype(X), copy=False)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Undo transform: Z * scale_ + mean_."""
        Z = self._check(Z, "inverse_transform")
        return (Z * self.scale_ + self.mean_).astype(self._out_dtype(Z), copy=False)

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer(not fitted)"
        return f"Standardizer({len(self.mean_)} features)"


def one_hot(y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Labels (N,) -> one-hot rows (N, K) float64: row i has a 1 in column y[i].

    n_classes: K; by default max(y) + 1.
    """
    owner = "one_hot"
    y = check_array(y, owner=owner, name="labels", ndim=1, kind="int")
    if n_classes is None:
        if y.min() < 0:
            raise InvalidValueError(f"{owner}: labels must be >= 0, got a label {int(y.min())}.")
        n_classes = int(y.max()) + 1
    else:
        n_classes = check_positive_int(n_classes, owner=owner, name="n_classes")
    y = check_labels(y, n_classes, owner=owner)
    out = np.zeros((len(y), n_classes))
    out[np.arange(len(y)), y] = 1.0
    return out


def minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    seed: Seed = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over ``(X_batch, y_batch)`` pairs covering the data once (one epoch).

    X: (N, ...), y: (N, ...)  ->  batches of batch_size examples; the last one holds
    the remaining N % batch_size examples if any. shuffle: visit the examples in a
    random order drawn from ``seed`` (pass one Generator to get a new order every epoch).
    The arguments are checked at once, before the first batch is requested.
    """
    owner = "minibatches"
    X = check_array(X, owner=owner, name="X", kind="number")
    y = check_array(y, owner=owner, name="y", kind="number")
    if X.ndim == 0 or y.ndim == 0:
        raise ShapeError(f"{owner}: expected X and y of shape (N, ...), got a scalar.")
    check_same_length(X, y, owner=owner, names=("X", "y"))
    batch_size = check_positive_int(batch_size, owner=owner, name="batch_size")
    order = as_rng(seed, owner="minibatches").permutation(len(y)) if shuffle else None

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(y), batch_size):
            if order is None:
                yield X[start : start + batch_size], y[start : start + batch_size]
            else:
                idx = order[start : start + batch_size]
                yield X[idx], y[idx]

    return batches()
