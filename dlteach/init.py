"""Weight initialization: keep the signal's variance steady from layer to layer.

Xavier/Glorot (for tanh and sigmoid):  W ~ U(-a, a),  a = sqrt(6 / (fan_in + fan_out))
He/Kaiming (for ReLU):                  W ~ N(0, 2 / fan_in)
"""

from __future__ import annotations

import numpy as np

from dlteach.errors import ShapeError
from dlteach.validation import as_rng, check_positive_int


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    # Dense W: (D_in, D_out); Conv W: (F, C, kh, kw) -> fan_in = C*kh*kw, fan_out = F*kh*kw.
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _check_shape(shape: tuple[int, ...], owner: str) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) < 2:
        raise ShapeError(
            f"{owner}: expected a weight shape with at least 2 dimensions, got {shape}."
        )
    for s in shape:
        check_positive_int(s, owner=owner, name="each dimension of shape")
    return shape


def xavier_uniform(
    shape: tuple[int, ...], rng: int | np.random.Generator | None = None, dtype=np.float64
) -> np.ndarray:
    """Glorot/Xavier uniform: Var(W) = 2 / (fan_in + fan_out)."""
    shape = _check_shape(shape, "xavier_uniform")
    fan_in, fan_out = _fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    gen = as_rng(rng, owner="xavier_uniform", name="rng")
    return gen.uniform(-a, a, size=shape).astype(dtype)


def he_normal(
    shape: tuple[int, ...], rng: int | np.random.Generator | None = None, dtype=np.float64
) -> np.ndarray:
    """He/Kaiming normal: Var(W) = 2 / fan_in, for ReLU networks."""
    shape = _check_shape(shape, "he_normal")
    fan_in, _ = _fans(shape)
    gen = as_rng(rng, owner="he_normal", name="rng")
    return (gen.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def normal(
    shape: tuple[int, ...],
    std: float,
    rng: int | np.random.Generator | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """Plain N(0, std^2): for showing what too small or too large initial weights do."""
    shape = _check_shape(shape, "normal")
    gen = as_rng(rng, owner="normal", name="rng")
    return (gen.standard_normal(shape) * std).astype(dtype)


INITIALIZERS = {"xavier": xavier_uniform, "glorot": xavier_uniform, "he": he_normal}
