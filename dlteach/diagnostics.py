"""Looking inside a network: activations, gradients and 2-D pictures of representations.

Training a deep network goes wrong in ways the loss alone does not show. These tools
measure what happens layer by layer::

    outs = layer_outputs(model, X)            # every layer's output, in evaluation mode
    stats = activation_stats(model, X)        # mean, std, fraction of zeros per layer
    norms = gradient_norms(model, X, y, loss) # |dL/dW| for every parameter
    Z, explained = pca_project(outs[1])       # (N, 2) coordinates for a scatter plot

None of them changes the model: the training/evaluation mode and the stored
gradients are the same afterwards as before.

Huge values (activations of 1e300, gradients of 1e200) are measured without overflow:
the statistics are computed in units of the largest value when plain sums of squares
would pass float64's range. A result beyond that range is inf, its rounding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from dlteach.core import Layer, Sequential, check_model
from dlteach.errors import DTypeError, InvalidValueError, NonFiniteError, ShapeError
from dlteach.optim import _norm_parts
from dlteach.validation import (
    check_array,
    check_has_methods,
    check_positive_int,
    check_same_length,
)


def _check_sequential(model: object, owner: str) -> Sequential:
    if not isinstance(model, Sequential):
        raise DTypeError(
            f"{owner}: expected a Sequential model (its layers are looked at one by one), "
            f"got {type(model).__name__}."
        )
    if len(model) == 0:
        raise InvalidValueError(f"{owner}: the Sequential model has no layers.")
    return model


def _check_batch(X: object, owner: str) -> np.ndarray:
    X = check_array(X, owner=owner, name="X")
    if X.ndim == 0:
        raise ShapeError(f"{owner}: expected X of shape (N, ...), got a scalar.")
    return X


def _mean_std(a: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of all of a, in float64, for values of any finite size.

    When the sums overflow (values near 1e300), they are taken in units of the largest
    |value|. Infinite values give an infinite mean (NaN when +inf and -inf meet) and an
    infinite std; NaN gives NaN. Never a warning.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(np.mean(a, dtype=np.float64))
        std = float(np.std(a, dtype=np.float64))
    if (math.isfinite(mean) and math.isfinite(std)) or a.size == 0:
        return mean, std
    if np.isnan(a).any():
        return math.nan, math.nan
    if np.isinf(a).any():
        up, down = bool((a == np.inf).any()), bool((a == -np.inf).any())
        return (math.nan if up and down else math.inf if up else -math.inf), math.inf
    peak = float(np.max(np.abs(a)))  # finite values whose sums overflowed
    scaled = a / np.asarray(peak, dtype=a.dtype)
    return (peak * float(np.mean(scaled, dtype=np.float64)),
            peak * float(np.std(scaled, dtype=np.float64)))


def _finite_scaled(X: np.ndarray, owner: str, name: str) -> tuple[np.ndarray, float]:
    """(X / unit, unit) after checking X is finite: unit = max|X| when that is so large
    (above 1e100) that sums of squares could overflow, else 1 (and X is returned as is).

    For results that do not change when X is scaled: directions, variance fractions.
    """
    finite = np.isfinite(X)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise NonFiniteError(
            f"{owner}: {name} holds {X[index]} at index {index}; the statistics need "
            "finite values (did the model's activations overflow?)."
        )
    peak = float(np.max(np.abs(X))) if X.size else 0.0
    return (X / peak, peak) if peak > 1e100 else (X, 1.0)


def layer_outputs(model: Sequential, X: np.ndarray) -> list[np.ndarray]:
    """The output of every layer of ``model`` for the batch X, in evaluation mode.

    X: (N, ...)  ->  a list of len(model) arrays; element i is the output of model[i],
    so the last one is the model's output. The model's mode is restored afterwards;
    what the layers keep for backward is replaced, as by any forward pass.
    """
    owner = "layer_outputs"
    model = _check_sequential(model, owner)
    X = _check_batch(X, owner)
    was_training = model.training
    model.eval()
    try:
        outs = []
        h = X
        for layer in model:
            h = layer.forward(h)
            outs.append(h)
    finally:
        model.train(was_training)
    return outs


class ActivationStats(NamedTuple):
    """Per-layer summaries from :func:`activation_stats`, one entry per selected layer.

    layers: indices into the model;  names: the layers' reprs ("ReLU()", "Dense(64 -> 10)");
    mean, std: (L,) mean and standard deviation of each layer's outputs over the batch
    and all units;  zero_fraction: (L,) fraction of outputs exactly 0 (silent ReLUs).
    """

    layers: tuple[int, ...]
    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    zero_fraction: np.ndarray

    def table(self) -> str:
        """The statistics as a small fixed-format text table (deterministic, 3 decimals)."""
        rows = [f"{'#':>3}  {'layer':<20} {'mean':>9} {'std':>9} {'zeros':>7}"]
        for i, name, m, s, z in zip(self.layers, self.names, self.mean, self.std,
                                    self.zero_fraction, strict=True):
            rows.append(f"{i:>3}  {name:<20} {m:>9.3g} {s:>9.3g} {z:>7.1%}")
        return "\n".join(rows)


def activation_stats(
    model: Sequential,
    X: np.ndarray,
    *,
    only: type[Layer] | tuple[type[Layer], ...] | None = None,
) -> ActivationStats:
    """Mean, standard deviation and fraction of zeros of every layer's output for X.

    X: (N, ...);  only: keep the layers of this class (or classes), e.g. ``only=ReLU``
    to look at the activations after each nonlinearity; None keeps every layer.
    A healthy deep network keeps the std of its activations roughly constant from
    layer to layer; a std that shrinks or grows geometrically means bad initialization.
    """
    owner = "activation_stats"
    model = _check_sequential(model, owner)
    if only is not None:
        classes = only if isinstance(only, tuple) else (only,)
        if not classes or not all(isinstance(c, type) and issubclass(c, Layer) for c in classes):
            raise DTypeError(
                f"{owner}: expected only to be a Layer class such as ReLU (or a tuple of "
                f"them), got {only!r}."
            )
    outs = layer_outputs(model, X)
    keep = [i for i, layer in enumerate(model) if only is None or isinstance(layer, only)]
    if not keep:
        raise InvalidValueError(
            f"{owner}: the model has no layer of type {only!r}; its layers are "
            f"{', '.join(repr(layer) for layer in model)}."
        )
    # Statistics in float64 whatever the model's dtype: float32 sums lose digits.
    mean_std = [_mean_std(outs[i]) for i in keep]
    return ActivationStats(
        layers=tuple(keep),
        names=tuple(repr(model[i]) for i in keep),
        mean=np.array([m for m, _ in mean_std]),
        std=np.array([sd for _, sd in mean_std]),
        zero_fraction=np.array([np.mean(outs[i] == 0) for i in keep]),
    )


def gradient_norms(model: Layer, X: np.ndarray, y: np.ndarray, loss: object) -> dict[str, float]:
    """The L2 norm of dL/dp for every parameter p, from one forward/backward pass on (X, y).

    X: (N, ...), y: the targets ``loss`` expects.  loss: a dlteach loss such as
    SoftmaxCrossEntropy().  Returns {"0.W": ..., "0.b": ..., ...} in the model's
    parameter order (the keys of ``model.named_parameters()``).

    The pass runs in the model's current mode; the gradients stored in the
    parameters before the call are put back afterwards, so it can be used between
    training steps. Not between a forward pass and its backward pass: like any
    forward, this one replaces what the layers and ``loss`` keep for their backward.
    Vanishing gradients show as norms that shrink geometrically towards the first
    layers.
    """
    owner = "gradient_norms"
    model = check_model(model, owner)
    check_has_methods(loss, ("forward", "backward"), owner=owner, role="a loss",
                      example="SoftmaxCrossEntropy()")
    X = _check_batch(X, owner)
    named = model.named_parameters()
    if not named:
        raise InvalidValueError(f"{owner}: the model has no parameters.")
    saved = {name: p.grad for name, p in named.items()}
    try:
        for p in named.values():
            p.grad = np.zeros_like(p.value)
        loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        return {name: _norm(p.grad) for name, p in named.items()}
    finally:
        for name, p in named.items():
            p.grad = saved[name]


def _norm(a: np.ndarray) -> float:
    """The L2 norm of a, inf only when it passes float64's range itself (not its squares)."""
    with np.errstate(over="ignore"):
        norm = float(np.linalg.norm(a.astype(np.float64).ravel()))
    if math.isinf(norm):  # the squares overflowed: measure in units of the largest entry
        peak, root = _norm_parts([a])
        norm = peak * root
    return norm


def pca_project(X: np.ndarray, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project X onto its top principal directions (PCA through the SVD).

    X: (N, D), or (N, ...) flattened to (N, D)  ->  (Z, explained):
    Z: (N, n_components), the coordinates of the centred data along the directions
    of largest variance;  explained: (n_components,), the fraction of the total
    variance each direction captures.

    A singular vector's sign is arbitrary; it is fixed here so that each
    direction's largest entry is positive, so the same data always gives the same
    picture.
    """
    owner = "pca_project"
    X = _check_batch(X, owner)
    if X.ndim == 1:
        raise ShapeError(f"{owner}: expected X of shape (N, D), got {tuple(X.shape)}.")
    X = X.reshape(len(X), -1).astype(np.float64)  # a copy: the caller's X stays as it was
    k = check_positive_int(n_components, owner=owner, name="n_components")
    # Huge values are divided by the largest one: the directions and fractions stay the
    # same, and the coordinates are multiplied back at the end.
    X, unit = _finite_scaled(X, owner, "X")
    n, d = X.shape
    if k > min(n, d):
        raise InvalidValueError(
            f"{owner}: n_components must be at most min(N, D) = {min(n, d)} for X of shape "
            f"{(n, d)}, got {k}."
        )
    Xc = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    V = Vt[:k]
    signs = np.sign(V[np.arange(k), np.argmax(np.abs(V), axis=1)])
    V = V * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(s**2))
    explained = s[:k] ** 2 / total if total > 0 else np.zeros(k)
    Z = Xc @ V.T
    if unit != 1.0:
        with np.errstate(over="ignore"):  # a coordinate beyond float64's range is +-inf
            Z *= unit
    return Z, explained


def class_separation(H: np.ndarray, y: np.ndarray) -> float:
    """How much of the spread of the representations H lies between the classes.

    H: (N, D) activations (or (N, ...) flattened);  y: (N,) integer labels.
    Returns  sum_k N_k ||mean_k - mean||^2 / sum_i ||h_i - mean||^2,  in [0, 1]:
    0 when every class has the same mean, 1 when each class collapses onto its mean.
    Rising from layer to layer, it shows a network making the classes separable.
    """
    owner = "class_separation"
    H = _check_batch(H, owner)
    H = H.reshape(len(H), -1).astype(np.float64)
    H, _ = _finite_scaled(H, owner, "H")  # the ratio is the same for H / max|H|
    y = check_array(y, owner=owner, name="y", ndim=1, kind="int")
    check_same_length(H, y, owner=owner, names=("H", "y"))
    if y.min() < 0:
        raise InvalidValueError(f"{owner}: labels must be >= 0, got {int(y.min())}.")
    centred = H - H.mean(axis=0)
    counts = np.bincount(y)
    sums = np.zeros((len(counts), H.shape[1]))
    np.add.at(sums, y, centred)  # per-class sums of the centred rows
    present = counts > 0
    between = float(np.sum(sums[present] ** 2 / counts[present, None]))
    total = float(np.sum(centred**2))
    return between / total if total > 0 else 0.0
