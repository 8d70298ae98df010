"""Figures for the course: decision boundaries, learning curves, confusion matrices, images.

Every function draws on the Axes you pass (``ax=``) or on a new figure, and returns
the Axes it drew on; nothing here calls ``plt.show()`` or touches pyplot's current
figure, so plots never leak into each other. In a notebook the figures render as
PNG images (the inline backend's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.metrics import scores_to_labels
from dlteach.validation import (
    check_array,
    check_positive,
    check_positive_int,
    check_same_length,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import ListedColormap


def _pyplot():
    """matplotlib.pyplot, imported on first use: it costs most of ``import dlteach``'s time."""
    import matplotlib.pyplot as plt

    return plt


def _class_cmap(k: int) -> ListedColormap:
    """k colour-blind friendly class colours (matplotlib's "tab10", repeating)."""
    from matplotlib.colors import ListedColormap

    colors = _pyplot().get_cmap("tab10").colors
    return ListedColormap([colors[i % len(colors)] for i in range(k)])


def _predict_labels(model: object, grid: np.ndarray, threshold: float) -> np.ndarray:
    """Class labels for grid: (M, 2) from a layer/model (in eval mode) or a function."""
    if hasattr(model, "forward"):
        # A dlteach layer: predict in evaluation mode, then restore the mode it had.
        was_training = getattr(model, "training", True)
        if hasattr(model, "train"):
            model.train(False)
        try:
            out = model.forward(grid)
        finally:
            if hasattr(model, "train"):
                model.train(was_training)
    elif callable(model):
        out = model(grid)
    else:
        raise InvalidValueError(
            "plot_decision_boundary: expected a model (a layer with forward) or a function "
            f"mapping points (M, 2) to labels or scores, got {type(model).__name__}."
        )
    out = np.asarray(out)
    if len(out) != len(grid):
        raise ShapeError(
            f"plot_decision_boundary: the model returned {len(out)} outputs for {len(grid)} "
            f"points (output shape {out.shape}); expected one row per point."
        )
    return scores_to_labels(out, threshold, owner="plot_decision_boundary", name="model output")


def plot_decision_boundary(
    model: object | Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
    *,
    threshold: float = 0.5,
    class_names: Sequence[str] | None = None,
    margin: float = 0.1,
    alpha: float = 0.25,
    title: str | None = None,
    marker_size: float = 14,
    legend: bool = True,
) -> Axes:
    """Colour the plane by the predicted class and scatter the data on top.

    model: a dlteach layer/model (its outputs are turned into classes: argmax for
        scores (M, K), >= threshold for one probability (M,) or (M, 1)), or a function
        mapping points (M, 2) to labels (M,) or scores.  For a binary model that ends
        in a logit (no sigmoid), pass threshold=0.0.
    X: (N, 2) points;  y: (N,) integer labels.
    resolution: grid points per axis (resolution**2 predictions).
    margin: extra room around the data, as a fraction of its range.
    marker_size: area of the data markers in points^2 (matplotlib's ``s``); make it
        larger (e.g. 90) for a handful of points such as a logic gate's four inputs.
    legend: draw a legend naming the classes.
    Draws one filled contour set and one scatter per class (and a legend, unless legend=False).
    """
    owner = "plot_decision_boundary"
    X = check_array(X, owner=owner, name="X", shape=("N", 2), kind="number")
    y = check_array(y, owner=owner, name="y", ndim=1, kind="int")
    check_same_length(X, y, owner=owner, names=("X", "y"))
    resolution = check_positive_int(resolution, owner=owner, name="resolution")
    marker_size = check_positive(marker_size, owner=owner, name="marker_size")
    if resolution < 2:
        raise InvalidValueError(f"{owner}: resolution must be at least 2, got {resolution}.")
    lo, hi = X.min(axis=0).astype(float), X.max(axis=0).astype(float)
    pad = margin * np.maximum(hi - lo, 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    z = _predict_labels(model, grid, threshold).reshape(xx.shape)

    k = max(int(y.max()), int(z.max())) + 1
    if class_names is not None and len(class_names) < k:
        raise InvalidValueError(
            f"{owner}: expected at least {k} class_names, got {len(class_names)}."
        )
    cmap = _class_cmap(k)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5, 4.5))
    ax.contourf(xx, yy, z, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=alpha)
    for c in range(k):
        mask = y == c
        if mask.any():
            name = class_names[c] if class_names is not None else f"class {c}"
            ax.scatter(X[mask, 0], X[mask, 1], s=marker_size, color=cmap(c), edgecolors="k",
                       linewidths=0.4, label=name)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if legend:
        ax.legend(loc="best", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    metrics: Sequence[str] | None = None,
    axes: Axes | Sequence[Axes] | None = None,
) -> list[Axes]:
    """Learning curves: one panel per metric, training and validation, against the epoch.

    history: a ``History`` from ``dlteach.training.fit`` (or a dict of per-epoch lists
        such as {"loss": [...], "val_loss": [...]}).
    metrics: names to plot; by default "loss" and "accuracy", those that were recorded.
    axes: one Axes per metric, or None for a new figure.
    A dashed vertical line marks ``history.best_epoch`` when early stopping set it.
    """
    owner = "plot_history"
    if not isinstance(history, Mapping):
        raise InvalidValueError(
            f"{owner}: expected the History returned by fit (or a dict of lists), "
            f"got {type(history).__name__}."
        )
    recorded = [key for key in history if not key.startswith("val_") and len(history[key])]
    if metrics is None:
        metrics = [m for m in ("loss", "accuracy") if m in recorded]
        if not metrics:
            metrics = recorded[:1]
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in recorded]
        if unknown:
            raise InvalidValueError(
                f"{owner}: no training values recorded for {', '.join(map(repr, unknown))}; "
                f"the history has {', '.join(map(repr, recorded)) or 'nothing'}."
            )
    if not metrics:
        raise InvalidValueError(f"{owner}: the history is empty; train the model first.")
    if axes is None:
        _, created = _pyplot().subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5),
                                        squeeze=False)
        axes_list = list(created[0])
    else:
        from matplotlib.axes import Axes

        axes_list = [axes] if isinstance(axes, Axes) else list(np.ravel(axes))
        if len(axes_list) != len(metrics):
            raise InvalidValueError(
                f"{owner}: got {len(axes_list)} axes for {len(metrics)} metrics {metrics}."
            )
    best = getattr(history, "best_epoch", None)
    for ax, name in zip(axes_list, metrics, strict=True):
        train = np.asarray(history[name], dtype=float)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, marker="o", markersize=3, label="training")
        val = history.get("val_" + name)
        if val is not None and len(val):
            ax.plot(np.arange(1, len(val) + 1), np.asarray(val, dtype=float), marker="o",
                    markersize=3, label="validation")
        if best is not None:
            ax.axvline(best, color="gray", linestyle="--", linewidth=1, label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.legend(fontsize="small")
    return axes_list


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str] | None = None,
    ax: Axes | None = None,
    normalize: bool = False,
    *,
    cmap: str = "Blues",
    annotate: bool = True,
) -> Axes:
    """Show a confusion matrix (K, K) (rows: true class, columns: predicted class).

    normalize: divide each row by its total, so cell [i, j] is the fraction of class i
        predicted as j (a row with no examples stays 0).
    annotate: write the count (or fraction) in every cell.
    """
    owner = "plot_confusion_matrix"
    cm = check_array(cm, owner=owner, name="cm", shape=("K", "K"), kind="number")
    if (cm < 0).any():
        raise InvalidValueError(f"{owner}: counts must be >= 0, got {cm.min()}.")
    k = cm.shape[0]
    if class_names is not None and len(class_names) != k:
        raise InvalidValueError(
            f"{owner}: expected {k} class_names for a {k}x{k} matrix, got {len(class_names)}."
        )
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
        fmt = "{:.2f}"
    else:
        values = cm
        fmt = "{:.0f}" if cm.dtype.kind in "iu" or np.all(cm == np.round(cm)) else "{:.2f}"
    if ax is None:
        size = max(3.5, 0.45 * k + 1.5)
        _, ax = _pyplot().subplots(figsize=(size, size))
    vmax = float(values.max()) if values.size and values.max() > 0 else 1.0
    ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    if annotate:
        for i, j in np.ndindex(k, k):  # K*K labels, not a hot path
            dark = values[i, j] > 0.5 * vmax
            ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center",
                    color="white" if dark else "black", fontsize="small")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return ax


def _as_images(images: np.ndarray, owner: str) -> np.ndarray:
    arr = check_array(images, owner=owner, name="images", kind="number")
    if arr.ndim == 2:
        side = math.isqrt(arr.shape[1])
        if side * side != arr.shape[1]:
            raise ShapeError(
                f"{owner}: flat images (N, D) need a square number of pixels D, got {arr.shape}. "
                "Pass images of shape (N, H, W) instead."
            )
        return arr.reshape(-1, side, side)
    if arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] in (1, 3, 4)):
        return arr[..., 0] if arr.ndim == 4 and arr.shape[-1] == 1 else arr
    raise ShapeError(
        f"{owner}: expected images of shape (N, H, W), (N, H, W, C) with C in 1, 3, 4, "
        f"or flat square images (N, H*W), got {arr.shape}."
    )


def plot_image_grid(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    predictions: np.ndarray | None = None,
    n_cols: int = 8,
    cmap: str = "gray",
    *,
    class_names: Sequence[str] | None = None,
    max_images: int = 256,
) -> np.ndarray:
    """A grid of small images, titled with their labels and/or predictions.

    images: (N, H, W), (N, H, W, C), or flat square images (N, H*W) such as digits.X.
    labels, predictions: (N,) integer classes. With both, a correct prediction is
        titled in black, a wrong one in red as "predicted (true)".
    Returns the (rows, n_cols) array of Axes; cells past the last image are blank.
    """
    owner = "plot_image_grid"
    imgs = _as_images(images, owner)
    n = len(imgs)
    max_images = check_positive_int(max_images, owner=owner, name="max_images")
    if n > max_images:
        raise InvalidValueError(
            f"{owner}: got {n} images, more than max_images={max_images}; "
            "pass a slice such as images[:64]."
        )
    n_cols = check_positive_int(n_cols, owner=owner, name="n_cols")
    checked = []
    for name, arr in (("labels", labels), ("predictions", predictions)):
        if arr is not None:
            arr = check_array(arr, owner=owner, name=name, ndim=1, kind="int")
            if len(arr) != n:
                raise ShapeError(f"{owner}: expected {n} {name} (one per image), got {len(arr)}.")
        checked.append(arr)
    labels, predictions = checked
    if class_names is not None:
        used = [int(a.max()) for a in checked if a is not None and a.size]
        if used and max(used) >= len(class_names):
            raise InvalidValueError(
                f"{owner}: got {len(class_names)} class_names, but a label or prediction is "
                f"{max(used)}: give one name per class (0..{max(used)})."
            )

    def text(c: int) -> str:
        return class_names[c] if class_names is not None else str(c)

    n_cols = min(n_cols, n)
    n_rows = -(-n // n_cols)
    fig, axes = _pyplot().subplots(n_rows, n_cols, figsize=(1.2 * n_cols, 1.35 * n_rows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):  # one subplot per image: drawing, not a hot path
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(imgs[i], cmap=cmap if imgs[i].ndim == 2 else None)
        if predictions is not None:
            wrong = labels is not None and predictions[i] != labels[i]
            title = f"{text(predictions[i])} ({text(labels[i])})" if wrong else text(predictions[i])
            ax.set_title(title, color="red" if wrong else "black", fontsize="small")
        elif labels is not None:
            ax.set_title(text(labels[i]), fontsize="small")
    fig.tight_layout()
    return axes
