"""Ready-made models: build a network from a list of layer sizes.

``mlp([64, 128, 64, 10])`` is the multilayer perceptron of lesson 3: dense layers of the
given sizes with a nonlinearity between each pair, and none after the last one, so that
the network outputs logits for a loss such as ``SoftmaxCrossEntropy``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import numpy as np

from dlteach.activations import ReLU
from dlteach.core import Layer, Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError
from dlteach.init import INITIALIZERS
from dlteach.validation import as_rng, check_positive_int


def _check_sizes(sizes: object, owner: str) -> list[int]:
    if isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence):
        raise DTypeError(
            f"{owner}: expected sizes to be a list of layer sizes such as [64, 128, 10], "
            f"got {type(sizes).__name__}."
        )
    if len(sizes) < 2:
        raise InvalidValueError(
            f"{owner}: expected at least 2 sizes (the input size and the output size), "
            f"got {list(sizes)}."
        )
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, Integral):
            raise DTypeError(
                f"{owner}: expected every size to be an integer, got sizes[{i}] = {s!r} "
                f"({type(s).__name__})."
            )
        check_positive_int(s, owner=owner, name=f"sizes[{i}]")
    return [int(s) for s in sizes]


def _check_activation(activation: object, owner: str) -> Callable[[], Layer]:
    if isinstance(activation, Layer):
        name = type(activation).__name__
        raise DTypeError(
            f"{owner}: expected activation to be a layer class such as ReLU, got an "
            f"instance {activation!r}. Pass {name} (not {name}()): every hidden layer needs "
            f"its own activation, because a layer caches its last input."
        )
    if isinstance(activation, type):
        if not issubclass(activation, Layer):
            raise DTypeError(
                f"{owner}: expected activation to be a Layer class such as ReLU or Tanh, "
                f"got the class {activation.__name__}."
            )
        return activation
    if not callable(activation):
        raise DTypeError(
            f"{owner}: expected activation to be a Layer class such as ReLU, or a function "
            f"returning a new Layer, got {type(activation).__name__}."
        )
    return activation


def mlp(
    sizes: Sequence[int],
    activation: Callable[[], Layer] = ReLU,
    *,
    init: str = "he",
    rng: int | np.random.Generator | None = None,
    dtype: type = np.float64,
) -> Sequential:
    """A multilayer perceptron: Dense layers of the given sizes, an activation between them.

    sizes: [D_in, H_1, ..., H_k, D_out], at least 2 positive integers; the network maps
        x: (N, D_in) -> logits: (N, D_out), with Dense(sizes[i] -> sizes[i+1]) layers.
    activation: a Layer class (or a function returning a new Layer) called once per
        hidden layer, so that no two layers share a cache; no activation after the
        last Dense layer, which outputs logits.
    init: "he" (for ReLU, the default) or "xavier" (for tanh and sigmoid).
    rng: a seed or numpy Generator; the Dense layers draw their weights from it in
        order, so the same seed gives the same network.
    dtype: the dtype of every parameter (float64 by default, float32 for speed).

    Example: ``mlp([64, 128, 10], rng=0)`` is Dense(64 -> 128), ReLU(), Dense(128 -> 10).
    """
    owner = "mlp"
    sizes = _check_sizes(sizes, owner)
    make_activation = _check_activation(activation, owner)
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise InvalidValueError(
            f"{owner}: init must be one of {sorted(INITIALIZERS)}, got {init!r}."
        )
    # One Generator shared in order: layer i's weights depend on the seed.
    rng = as_rng(rng, owner="mlp", name="rng")
    n_dense = len(sizes) - 1
    layers: list[Layer] = []
    for i in range(n_dense):
        layers.append(Dense(sizes[i], sizes[i + 1], init=init, rng=rng, dtype=dtype))
        if i < n_dense - 1:  # no activation after the last layer: it outputs logits
            act = make_activation()
            if not isinstance(act, Layer):
                raise DTypeError(
                    f"{owner}: expected activation() to return a Layer, "
                    f"got {type(act).__name__}."
                )
            layers.append(act)
    return Sequential(*layers)
