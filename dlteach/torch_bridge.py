"""From dlteach to PyTorch and back: the same network, the same weights, in either library.

``to_torch(model)`` builds the ``torch.nn.Module`` that computes what a dlteach model
computes, holding copies of its weights; ``from_torch(module)`` builds the dlteach model
of a PyTorch one. Layer by layer, with the weight layouts::

    dlteach                             PyTorch
    Sequential(...)                     nn.Sequential(...)
    Dense, TimeDense (D_in -> D_out)    nn.Linear: weight = W.T (D_out, D_in), bias = b
    Conv2D(k, stride, padding)          nn.Conv2d: weight = W (F, C, kh, kw), bias = b
    ConvTranspose2D(k, stride, padding) nn.ConvTranspose2d: weight = W (C_in, C_out, kh, kw)
    MaxPool2D, AvgPool2D (k, stride)    nn.MaxPool2d, nn.AvgPool2d (no padding)
    Upsample2D(f)                       nn.Upsample(scale_factor=f, mode="nearest")
    Flatten()                           nn.Flatten()
    ReLU, Sigmoid, Tanh, Softmax(axis)  nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax(dim=axis)
    Embedding(V -> D)                   nn.Embedding: weight = W (V, D)
    RNN, LSTM (D -> H)                  RecurrentLayer(nn.RNN or nn.LSTM, return_sequences)

PyTorch stores a weight as (out, in), hence the transposes. The recurrent layers differ
most: weight_ih = Wx.T, weight_hh = Wh.T, and two biases that are always added,
bias_ih + bias_hh (the export puts b into bias_ih and zeros into bias_hh; the import
adds them). The LSTM's four gate blocks come in another order: dlteach's i, f, o, g,
PyTorch's i, f, g, o. And ``nn.RNN`` / ``nn.LSTM`` return (outputs, state), which
``nn.Sequential`` cannot pass on: :class:`RecurrentLayer` (available as
``dlteach.torch_bridge.RecurrentLayer`` once PyTorch is installed) wraps one and returns
every hidden state (N, T, H), or only the last (N, H) with ``return_sequences=False``,
as dlteach's layers do. An nn.Linear comes back as TimeDense where its input has a time
axis, (N, T, D), and as Dense where it is (N, D) (see ``from_torch``'s input_ndim).

Exactness: dlteach -> PyTorch -> dlteach gives back every parameter bit for bit
(copies, transposes and gate permutations do not round), with its dtype (float32 or
float64). PyTorch -> dlteach -> PyTorch does too, except where dlteach has one number
for two: bias_ih + bias_hh becomes one (rounded) bias, and an nn.Linear without bias
gets a zero bias. Both models then compute the same function up to floating-point
rounding (the two libraries add in different orders).

PyTorch is optional: it is imported inside the functions, so ``import dlteach`` never
imports it; without it, both functions raise ImportError saying how to install it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dlteach.activations import ReLU, Sigmoid, Softmax, Tanh
from dlteach.conv import Conv2D
from dlteach.core import Layer, Sequential, check_model
from dlteach.dense import Dense
from dlteach.embedding import Embedding
from dlteach.errors import DTypeError, InvalidValueError, UnsupportedLayerError
from dlteach.lstm import LSTM
from dlteach.pooling import AvgPool2D, MaxPool2D
from dlteach.recurrent import RNN
from dlteach.reshape import Flatten
from dlteach.sequence import TimeDense
from dlteach.upsampling import ConvTranspose2D, Upsample2D

if TYPE_CHECKING:  # only for type checkers: importing dlteach never imports torch
    import torch

INSTALL_HINT = "pip install torch==2.13.0 (the CPU build; CI installs it)"

SUPPORTED_TORCH = (
    "nn.Sequential, nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.AvgPool2d, "
    "nn.Upsample (nearest, whole factors), nn.Flatten, nn.ReLU, nn.Sigmoid, nn.Tanh, "
    "nn.Softmax, nn.Embedding, RecurrentLayer (around nn.RNN or nn.LSTM)"
)


def _gate_order(H: int) -> np.ndarray:
    """Columns that put an LSTM's gate blocks in the other library's order: dlteach's
    i, f, o, g <-> PyTorch's i, f, g, o. Swapping the last two blocks is its own inverse,
    so the same order serves both ways."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in (0, 1, 3, 2)])


def _torch(owner: str) -> Any:
    """The torch module, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"{owner}: PyTorch is not installed. Install it with {INSTALL_HINT}.") \
            from exc
    return torch


_CLASSES: dict[str, type] = {}


def _recurrent_layer_class() -> type:
    """RecurrentLayer, defined on first use (it subclasses torch.nn.Module)."""
    if "RecurrentLayer" not in _CLASSES:
        torch = _torch("RecurrentLayer")

        class RecurrentLayer(torch.nn.Module):
            """An nn.RNN or nn.LSTM (batch_first=True) returning what dlteach's RNN and
            LSTM return: every hidden state (N, T, H), or the last one (N, H) with
            ``return_sequences=False``. So it can sit inside an nn.Sequential.

            x: (N, T, D) -> (N, T, H) or (N, H); the initial state is zeros.
            """

            def __init__(self, rnn: torch.nn.Module, return_sequences: bool = True) -> None:
                super().__init__()
                self.rnn = rnn
                self.return_sequences = bool(return_sequences)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                out, _ = self.rnn(x)
                return out if self.return_sequences else out[:, -1]

            def extra_repr(self) -> str:
                return f"return_sequences={self.return_sequences}"

        RecurrentLayer.__module__, RecurrentLayer.__qualname__ = __name__, "RecurrentLayer"
        _CLASSES["RecurrentLayer"] = RecurrentLayer
    return _CLASSES["RecurrentLayer"]


def __getattr__(name: str) -> type:
    # ``from dlteach.torch_bridge import RecurrentLayer`` imports torch only then.
    if name == "RecurrentLayer":
        return _recurrent_layer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- dlteach -> PyTorch ------------------------------------------------------------------------


def _tensor(torch: Any, value: np.ndarray) -> torch.nn.Parameter:
    """A torch Parameter holding a copy of value, in value's dtype."""
    return torch.nn.Parameter(torch.from_numpy(np.array(value, copy=True)))


def _dtype_of(layer: Layer) -> Any:
    return layer.parameters()[0].value.dtype


def _export_linear(torch: Any, layer: Dense | TimeDense) -> torch.nn.Module:
    m = torch.nn.Linear(layer.d_in, layer.d_out, dtype=_torch_dtype(torch, _dtype_of(layer)))
    m.weight = _tensor(torch, layer.W.value.T)
    m.bias = _tensor(torch, layer.b.value)
    return m


def _export_conv(torch: Any, layer: Conv2D | ConvTranspose2D) -> torch.nn.Module:
    cls = torch.nn.Conv2d if isinstance(layer, Conv2D) else torch.nn.ConvTranspose2d
    m = cls(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
            padding=layer.padding, bias=layer.b is not None,
            dtype=_torch_dtype(torch, _dtype_of(layer)))
    m.weight = _tensor(torch, layer.W.value)
    if layer.b is not None:
        m.bias = _tensor(torch, layer.b.value)
    return m


def _export_recurrent(torch: Any, layer: RNN | LSTM) -> torch.nn.Module:
    if layer.stateful:
        raise InvalidValueError(
            f"{layer!r} carries its state from one forward to the next (stateful=True), "
            "which a PyTorch module does not. Export a copy built with stateful=False."
        )
    dtype = _torch_dtype(torch, _dtype_of(layer))
    D, H = layer.input_size, layer.hidden_size
    Wx, Wh, b = layer.Wx.value, layer.Wh.value, layer.b.value
    if isinstance(layer, LSTM):
        rnn = torch.nn.LSTM(D, H, batch_first=True, dtype=dtype)
        order = _gate_order(H)
        Wx, Wh, b = Wx[:, order], Wh[:, order], b[order]  # gate blocks i, f, g, o
    else:
        rnn = torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh", dtype=dtype)
    rnn.weight_ih_l0 = _tensor(torch, Wx.T)
    rnn.weight_hh_l0 = _tensor(torch, Wh.T)
    rnn.bias_ih_l0 = _tensor(torch, b)
    rnn.bias_hh_l0 = _tensor(torch, np.zeros_like(b))
    return _recurrent_layer_class()(rnn, layer.return_sequences)


def _export_embedding(torch: Any, layer: Embedding) -> torch.nn.Module:
    m = torch.nn.Embedding(layer.vocab_size, layer.dim, dtype=_torch_dtype(torch, _dtype_of(layer)))
    m.weight = _tensor(torch, layer.W.value)
    return m


_EXPORTS: dict[type, Callable[[Any, Any], Any]] = {
    Dense: _export_linear,
    TimeDense: _export_linear,
    Conv2D: _export_conv,
    ConvTranspose2D: _export_conv,
    MaxPool2D: lambda torch, layer: torch.nn.MaxPool2d(layer.kernel_size, stride=layer.stride),
    AvgPool2D: lambda torch, layer: torch.nn.AvgPool2d(layer.kernel_size, stride=layer.stride),
    Upsample2D: lambda torch, layer: torch.nn.Upsample(scale_factor=layer.factor, mode="nearest"),
    Flatten: lambda torch, layer: torch.nn.Flatten(),
    ReLU: lambda torch, layer: torch.nn.ReLU(),
    Sigmoid: lambda torch, layer: torch.nn.Sigmoid(),
    Tanh: lambda torch, layer: torch.nn.Tanh(),
    Softmax: lambda torch, layer: torch.nn.Softmax(dim=layer.axis),
    Embedding: _export_embedding,
    RNN: _export_recurrent,
    LSTM: _export_recurrent,
}
SUPPORTED = ", ".join(["Sequential", *(cls.__name__ for cls in _EXPORTS)])


def _torch_dtype(torch: Any, dtype: np.dtype) -> Any:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(dtype)
    ]


def _where(position: str) -> str:
    return f"layer {position} of the Sequential" if position else "the model"


def _export(torch: Any, layer: Layer, position: str) -> torch.nn.Module:
    if type(layer) is Sequential:
        prefix = f"{position}." if position else ""
        seq = torch.nn.Sequential(
            *(_export(torch, sub, f"{prefix}{i}") for i, sub in enumerate(layer.layers))
        )
        seq.training = layer.training  # the container's own mode; its layers keep theirs
        return seq
    export = _EXPORTS.get(type(layer))
    if export is None:
        raise UnsupportedLayerError(
            f"to_torch: {_where(position)} is {layer!r} ({type(layer).__name__}), which has "
            f"no PyTorch counterpart here. Supported layers: {SUPPORTED}."
        )
    for p in layer.parameters():
        if p.value.dtype not in (np.float32, np.float64):
            raise DTypeError(
                f"to_torch: {_where(position)}, {layer!r}, has a parameter {p.name} of dtype "
                f"{p.value.dtype}; only float32 and float64 are supported."
            )
    try:
        module = export(torch, layer)
    except InvalidValueError as exc:
        raise InvalidValueError(f"to_torch: {_where(position)}: {exc}") from None
    return module.train(layer.training)


def to_torch(model: Layer) -> torch.nn.Module:
    """The ``torch.nn.Module`` equivalent to ``model``, holding copies of its weights.

    model: a dlteach Sequential (nested ones too) of the layers listed in the module
    docstring, or one such layer  ->  nn.Sequential (or the one module), taking and
    returning the same shapes as the dlteach model. Each parameter keeps its dtype
    (float32 or float64); feed the module tensors of that dtype (token ids for an
    Embedding as an integer tensor, ``torch.from_numpy(tokens.astype(np.int64))``). The
    module is in training mode when the model is (no layer here behaves differently in
    either mode).

    An unsupported layer (attention, Seq2Seq, a stateful RNN, ...) raises UnsupportedLayerError
    (InvalidValueError for an unsupported setting) naming it and its position.
    """
    model = check_model(model, "to_torch")
    torch = _torch("to_torch")
    return _export(torch, model, "")


# --- PyTorch -> dlteach ------------------------------------------------------------------------


def _array(t: Any, position: str, name: str) -> np.ndarray:
    """A numpy copy of a torch tensor, float32 or float64 only."""
    arr = t.detach().cpu().numpy()
    if arr.dtype not in (np.float32, np.float64):
        raise DTypeError(
            f"from_torch: {_where(position)} has a parameter {name} of dtype {arr.dtype}; "
            "only float32 and float64 are supported (convert with module.double() or "
            "module.float())."
        )
    return np.array(arr, copy=True)


def _refuse(position: str, module: Any, setting: str) -> InvalidValueError:
    return InvalidValueError(
        f"from_torch: {_where(position)}, {module}, uses {setting}, which dlteach's layer "
        "does not have."
    )


def _pair(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _require(module: Any, position: str, **settings: object) -> None:
    """Refuse a module whose attributes differ from the settings dlteach's layer has
    (a tuple setting is compared with the attribute as an (H, W) pair)."""
    for name, ok in settings.items():
        value = getattr(module, name)
        if (_pair(value) if isinstance(ok, tuple) else value) != ok:
            raise _refuse(position, module, f"{name}={value!r}")


def _import_linear(module: Any, position: str, rank: int) -> Layer:
    W = _array(module.weight, position, "weight").T
    b = np.zeros(W.shape[1], dtype=W.dtype) if module.bias is None else \
        _array(module.bias, position, "bias")
    if rank not in (2, 3):
        raise InvalidValueError(
            f"from_torch: {_where(position)}, {module}, is applied to an input with {rank} "
            "dimensions (along its last axis), which neither Dense (N, D) nor TimeDense "
            "(N, T, D) takes. Put nn.Flatten() before it, or give from_torch the right "
            "input_ndim."
        )
    cls = TimeDense if rank == 3 else Dense
    layer = cls(W.shape[0], W.shape[1], rng=0, dtype=W.dtype)
    layer.W.value[...], layer.b.value[...] = W, b
    return layer


def _import_conv(torch: Any, module: Any, position: str) -> Layer:
    transposed = isinstance(module, torch.nn.ConvTranspose2d)
    if isinstance(module.padding, str):
        raise _refuse(position, module, f"padding={module.padding!r}")
    _require(module, position, dilation=(1, 1), groups=1, padding_mode="zeros",
             output_padding=(0, 0))
    W = _array(module.weight, position, "weight")
    cls = ConvTranspose2D if transposed else Conv2D
    layer = cls(module.in_channels, module.out_channels, _pair(module.kernel_size),
                stride=_pair(module.stride), padding=_pair(module.padding),
                bias=module.bias is not None, rng=0, dtype=W.dtype)
    layer.W.value[...] = W
    if module.bias is not None:
        layer.b.value[...] = _array(module.bias, position, "bias")
    return layer


def _import_pool(torch: Any, module: Any, position: str) -> Layer:
    is_max = isinstance(module, torch.nn.MaxPool2d)
    extra = {"dilation": (1, 1), "return_indices": False} if is_max else \
        {"divisor_override": None}
    _require(module, position, padding=(0, 0), ceil_mode=False, **extra)
    cls = MaxPool2D if is_max else AvgPool2D
    stride = module.stride if module.stride is not None else module.kernel_size
    return cls(_pair(module.kernel_size), _pair(stride))


def _import_upsample(module: Any, position: str) -> Layer:
    factor = module.scale_factor
    if module.mode != "nearest" or module.size is not None or factor is None:
        raise _refuse(position, module, f"mode={module.mode!r}, size={module.size}")
    factors = _pair(factor)
    if any(float(f) != int(f) or f < 1 for f in factors):
        raise _refuse(position, module, f"scale_factor={factor} (not whole numbers)")
    return Upsample2D(tuple(int(f) for f in factors))


def _import_embedding(module: Any, position: str) -> Layer:
    _require(module, position, padding_idx=None, max_norm=None, scale_grad_by_freq=False)
    W = _array(module.weight, position, "weight")
    layer = Embedding(W.shape[0], W.shape[1], rng=0, dtype=W.dtype)
    layer.W.value[...] = W
    return layer


def _import_recurrent(torch: Any, module: Any, position: str) -> Layer:
    rnn = module.rnn
    is_lstm = type(rnn) is torch.nn.LSTM
    if not is_lstm and not (type(rnn) is torch.nn.RNN and rnn.nonlinearity == "tanh"):
        raise UnsupportedLayerError(
            f"from_torch: {_where(position)} wraps {rnn}; only nn.RNN (tanh) and nn.LSTM "
            "have dlteach counterparts."
        )
    _require(rnn, position, num_layers=1, bidirectional=False, batch_first=True, bias=True,
             **({"proj_size": 0} if is_lstm else {}))
    H = rnn.hidden_size
    Wx = _array(rnn.weight_ih_l0, position, "weight_ih_l0").T
    Wh = _array(rnn.weight_hh_l0, position, "weight_hh_l0").T
    b = _array(rnn.bias_ih_l0, position, "bias_ih_l0") + \
        _array(rnn.bias_hh_l0, position, "bias_hh_l0")
    if is_lstm:  # PyTorch's blocks i, f, g, o back to dlteach's i, f, o, g
        order = _gate_order(H)
        Wx, Wh, b = Wx[:, order], Wh[:, order], b[order]
    cls = LSTM if is_lstm else RNN
    layer = cls(rnn.input_size, H, return_sequences=module.return_sequences, rng=0,
                dtype=Wx.dtype)
    layer.Wx.value[...], layer.Wh.value[...], layer.b.value[...] = Wx, Wh, b
    return layer


def _import(torch: Any, module: Any, position: str, rank: int) -> tuple[Layer, int]:
    """(the dlteach layer, the number of dimensions of its output), given its input's."""
    nn = torch.nn
    kind = type(module)
    if kind is nn.Sequential:
        layers, prefix = [], f"{position}." if position else ""
        for i, sub in enumerate(module):
            layer, rank = _import(torch, sub, f"{prefix}{i}", rank)
            layers.append(layer)
        return Sequential(*layers), rank
    if kind is nn.Linear:
        return _import_linear(module, position, rank), rank
    if kind in (nn.Conv2d, nn.ConvTranspose2d):
        return _import_conv(torch, module, position), 4
    if kind in (nn.MaxPool2d, nn.AvgPool2d):
        return _import_pool(torch, module, position), 4
    if kind is nn.Upsample:
        return _import_upsample(module, position), 4
    if kind is nn.Flatten:
        _require(module, position, start_dim=1, end_dim=-1)
        return Flatten(), 2
    simple = {nn.ReLU: ReLU, nn.Sigmoid: Sigmoid, nn.Tanh: Tanh}
    if kind in simple:
        return simple[kind](), rank
    if kind is nn.Softmax:
        if module.dim is None:
            raise _refuse(position, module, "dim=None (an implicit axis)")
        return Softmax(axis=module.dim), rank
    if kind is nn.Embedding:  # tokens (N,) -> (N, D), (N, T) -> (N, T, D)
        return _import_embedding(module, position), rank + 1
    if kind is _CLASSES.get("RecurrentLayer"):
        layer = _import_recurrent(torch, module, position)
        return layer, 3 if layer.return_sequences else 2
    hint = ""
    if kind in (nn.RNN, nn.LSTM):
        hint = (" An nn.RNN or nn.LSTM returns (outputs, state), which nn.Sequential cannot "
                "pass on: wrap it, dlteach.torch_bridge.RecurrentLayer(rnn, "
                "return_sequences=True).")
    raise UnsupportedLayerError(
        f"from_torch: {_where(position)} is {kind.__name__} ({module}), which has no dlteach "
        f"counterpart. Supported modules: {SUPPORTED_TORCH}.{hint}"
    )


def from_torch(module: torch.nn.Module, *, input_ndim: int = 2) -> Layer:
    """The dlteach model equivalent to a PyTorch module, holding copies of its weights.

    module: an nn.Sequential (nested ones too) of the modules listed in the module
    docstring, or one such module  ->  a dlteach Sequential (or the one layer). Each
    parameter keeps its dtype (float32 or float64).
    input_ndim: the number of dimensions of the module's input: 2 for (N, D) or tokens
    (N, T), 3 for sequences (N, T, D), 4 for images, 1 for tokens (N,). An nn.Linear
    becomes Dense where its input is (N, D) and TimeDense where it is (N, T, D); the
    shapes are followed from the input through the layers (an Embedding adds an axis, a
    recurrent layer gives (N, T, H) or (N, H), Flatten (N, D)).

    A module PyTorch has and dlteach does not (nn.Dropout, nn.BatchNorm2d, nn.GRU, ...),
    or a setting dlteach's layer lacks (dilation, padding_idx, bidirectional, ...), raises
    an error naming it and its position.
    """
    torch = _torch("from_torch")
    _recurrent_layer_class()  # so that isinstance checks can find it
    if not isinstance(module, torch.nn.Module):
        raise DTypeError(
            f"from_torch: expected a torch.nn.Module such as nn.Sequential(...), "
            f"got {type(module).__name__}."
        )
    if isinstance(input_ndim, bool) or input_ndim not in (1, 2, 3, 4):
        raise InvalidValueError(
            f"from_torch: input_ndim must be 1, 2, 3 or 4 (the number of dimensions of the "
            f"module's input: (N, D) has 2), got {input_ndim!r}."
        )
    layer, _ = _import(torch, module, "", input_ndim)
    return layer.train(module.training)
