"""The layer protocol every dlteach layer follows.

A layer is a function with memory::

    y = layer.forward(x)             # caches what backward needs
    grad_x = layer.backward(grad_y)  # returns dL/dx, accumulates dL/dW into W.grad

Parameters are :class:`Parameter` objects holding a ``value`` and its ``grad``.
``Sequential`` chains layers: forward left to right, backward right to left,
which is backpropagation in one line each.

Every layer follows one dtype rule, written out in :class:`Layer`: it computes in its
input's floating dtype (float32 in, float32 out), whatever its parameters' dtype.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dlteach.errors import DLTeachError, DTypeError, InvalidValueError, ShapeError
from dlteach.validation import as_array


class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    value: any shape;  grad: same shape as value, accumulated by ``backward``.
    The Parameter keeps a copy of ``value``: optimizers update it in place, and that
    must never change an array the caller still holds.
    """

    def __init__(self, value: np.ndarray, name: str = "") -> None:
        # A copy: optimizers update it in place. as_array names ragged or non-numeric input.
        self.value = np.array(as_array(value, owner="Parameter", name=name or "value"),
                              copy=True)
        self.grad = np.zeros_like(self.value)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def size(self) -> int:
        return self.value.size

    def zero_grad(self) -> None:
        self.grad = np.zeros_like(self.value)

    def __repr__(self) -> str:
        return f"Parameter({self.name or '?'}, shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """Base class: subclasses implement ``forward`` and ``backward``.

    Parameters are found automatically: every attribute holding a
    :class:`Parameter` (in definition order) is a parameter of the layer.
    ``training`` is True in training mode and False in evaluation mode.

    The dtype rule, the same for every layer: a layer computes in its INPUT's floating
    dtype.

    - ``forward(x)`` returns an array of x's dtype, and ``backward`` returns dL/dx in
      that dtype too: float32 in gives float32 out even with float64 parameters, and
      float64 in with float32 parameters gives float64 out.
    - Parameters are cast to the input's dtype on use, without a copy when the dtypes
      already match (build the layers with ``dtype=np.float32`` for float32 data, and
      nothing is cast: the fast path).
    - Parameter gradients are accumulated in the parameters' own dtype: ``p.grad``
      always has ``p.value``'s dtype.
    - ``backward`` casts an incoming gradient of another float dtype to the forward
      input's dtype before using it.

    ``Sequential`` follows from these: its output and dL/dx have its input's dtype.
    tests/test_dtype_rule.py checks the rule on every Layer subclass in dlteach.

    Huge values: a result beyond the dtype's range (about 1.8e308 in float64, 3.4e38 in
    float32) becomes +-inf, the rounding of the true value, without a warning. Where
    infinite or overflowed terms of opposite signs meet (inf - inf) there is no result:
    where NumPy reports it, the layer raises NonFiniteError rather than return NaN,
    unless the caller silenced NumPy with ``np.errstate(invalid="ignore")`` (``fit``
    does, and reports the NaN as divergence). A NaN in the input is passed on, so
    divergence is never hidden.
    """

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        """Every parameter, keyed by its path (``"W"``, or ``"0.W"`` inside a Sequential)."""
        return {prefix + name: p for name, p in vars(self).items() if isinstance(p, Parameter)}

    def parameters(self) -> list[Parameter]:
        return list(self.named_parameters().values())

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (or evaluation mode with ``mode=False``); returns self."""
        self.training = mode
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def _missing_cache(self) -> InvalidValueError:
        return InvalidValueError(
            f"{self!r}: backward called before forward. Run forward on a batch first."
        )

    def _check_grad_shape(self, grad: np.ndarray, expected: tuple[int, ...]) -> None:
        if np.shape(grad) != expected:
            raise ShapeError(
                f"{self!r}: backward expected a gradient of shape {expected} "
                f"(the shape of the last forward's output), got {np.shape(grad)}."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _sublayers(layer: Layer) -> list[tuple[str, Layer]]:
    """The layers directly inside ``layer``, each with its position ("0", or "encoder")."""
    if isinstance(layer, Sequential):
        return [(str(i), sub) for i, sub in enumerate(layer.layers)]
    found = []
    for name, value in vars(layer).items():
        if isinstance(value, Layer):
            found.append((name, value))
        elif isinstance(value, list | tuple):
            found += [(f"{name}.{i}", v) for i, v in enumerate(value) if isinstance(v, Layer)]
    return found


def check_unique_layers(model: Layer, owner: str) -> None:
    """Refuse a model that holds one layer instance at two positions (nested or not).

    A layer caches its last forward input for backward, so a second use overwrites the
    first one's cache and backward returns wrong gradients. Positions are dotted paths,
    the same as in ``named_parameters()`` ("3.0" is layer 0 of the Sequential at 3).
    """
    seen: dict[int, str] = {id(model): "the model itself"}

    def walk(layer: Layer, prefix: str) -> None:
        for name, sub in _sublayers(layer):
            where = prefix + name
            if id(sub) in seen:
                first = seen[id(sub)]
                first_text = first if first == "the model itself" else f"layer {first}"
                note = (" (dotted positions as in named_parameters(): 1.0 is layer 0 of the "
                        "Sequential at 1)") if "." in where + first else ""
                text = repr(sub)
                if "\n" in text:  # a Sequential prints one line per layer
                    text = f"{type(sub).__name__} ({len(_sublayers(sub))} layers)"
                raise InvalidValueError(
                    f"{owner}: the same {text} instance is used twice, as {first_text} and "
                    f"as layer {where}{note}. A layer remembers its last input for backward, "
                    "so a second use would overwrite the first one's and give wrong "
                    "gradients. Create a separate layer for each position."
                )
            seen[id(sub)] = where
            walk(sub, where + ".")

    walk(model, "")


def check_model(model: object, owner: str) -> Layer:
    """Return ``model`` after checking that it is a Layer instance (not the class) that
    uses each layer instance once."""
    if isinstance(model, type) and issubclass(model, Layer):
        raise DTypeError(
            f"{owner}: expected a model (a Layer instance), got the class {model.__name__}. "
            f"Did you forget the parentheses, {model.__name__}(...)?"
        )
    if not isinstance(model, Layer):
        raise DTypeError(
            f"{owner}: expected a model (a dlteach Layer such as Sequential(...)), "
            f"got {type(model).__name__}."
        )
    check_unique_layers(model, owner)  # layers may have been added after the model was built
    return model


class Sequential(Layer):
    """Layers applied one after another: y = f_L(... f_2(f_1(x)))."""

    def __init__(self, *layers: Layer) -> None:
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {i} must be a Layer, got {type(layer).__name__}."
                )
        self.layers = list(layers)
        check_unique_layers(self, "Sequential")

    def forward(self, x: np.ndarray) -> np.ndarray:
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x)
            except DLTeachError as exc:
                raise _at_layer(exc, i) from None
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for i in reversed(range(len(self.layers))):
            try:
                grad_out = self.layers[i].backward(grad_out)
            except DLTeachError as exc:
                raise _at_layer(exc, i) from None
        return grad_out

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        for i, layer in enumerate(self.layers):
            out.update(layer.named_parameters(prefix=f"{prefix}{i}."))
        return out

    def train(self, mode: bool = True) -> Sequential:
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

    def summary(self) -> str:
        """A table of layers and parameter counts."""
        rows = [f"{'#':>3}  {'layer':<32} {'parameters':>10}"]
        for i, layer in enumerate(self.layers):
            rows.append(f"{i:>3}  {layer!r:<32} {layer.num_parameters():>10,}")
        rows.append(f"     {'total':<32} {self.num_parameters():>10,}")
        return "\n".join(rows)


def _at_layer(exc: DLTeachError, index: int) -> DLTeachError:
    """The same error, its message saying which layer of a Sequential raised it.

    Two identical layers (two Dense(64 -> 64), say) are then told apart.
    """
    return type(exc)(f"layer {index} of the Sequential: {exc}")
