"""The layer protocol's dtype rule (dlteach.core.Layer), checked on EVERY layer of the package.

A layer computes in its input's floating dtype: forward's output and backward's input
gradient have the input's dtype whatever the parameters' dtype; the parameters'
gradients accumulate in the parameters' own dtype; an incoming gradient of another
float dtype is cast to the input's dtype. The layers are found by walking the package,
so a new layer without an entry in FACTORIES below fails here until it gets one.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
import tracemalloc

import numpy as np
import pytest

import dlteach
from dlteach import (
    LSTM,
    RNN,
    AdditiveAttention,
    AvgPool2D,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Detector,
    DotProductAttention,
    Embedding,
    Flatten,
    Layer,
    LSTMClassifier,
    MaxPool2D,
    MemoryQA,
    ReLU,
    Seq2Seq,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    TimeDense,
    Upsample2D,
)


def _tokens(vocab_size: int):
    """An input maker for layers that read token ids: whole numbers held in x's float dtype
    (the form ``fit`` passes them in), so the dtype rule applies to them too."""
    return lambda rng, shape, dtype: rng.integers(0, vocab_size, size=shape).astype(dtype)


def _attention_inputs(tk: int, dk: int, dv: int):
    """An input maker for attention layers: (query of the given shape, keys (N, tk, dk),
    values (N, tk, dv), a key mask (N, tk) with padding in every row but the first)."""

    def make(rng, shape, dtype):
        n = shape[0]
        mask = np.arange(tk) < rng.integers(1, tk + 1, size=n)[:, None]
        mask[0] = True
        return (rng.standard_normal(shape).astype(dtype),
                rng.standard_normal((n, tk, dk)).astype(dtype),
                rng.standard_normal((n, tk, dv)).astype(dtype), mask)

    return make


def _seq2seq_inputs(vocab_size: int, t_out: int):
    """An input maker for Seq2Seq: (source tokens of the given shape, padded with 0 at the
    end, decoder tokens (N, t_out), both as whole numbers in x's dtype, the source mask)."""

    def make(rng, shape, dtype):
        lengths = rng.integers(1, shape[1] + 1, size=shape[0])
        lengths[0] = shape[1]  # one row without padding
        mask = np.arange(shape[1]) < lengths[:, None]
        src = np.where(mask, rng.integers(1, vocab_size, size=shape), 0).astype(dtype)
        return src, rng.integers(0, vocab_size, size=(shape[0], t_out)).astype(dtype), mask

    return make


def _story_inputs(vocab_size: int, question_words: int):
    """An input maker for MemoryQA: (stories of the given shape (N, M, J), padded with 0
    sentences and words, questions (N, question_words), both as whole numbers in x's
    dtype, the story mask (N, M))."""

    def make(rng, shape, dtype):
        n, m, _ = shape
        mask = np.arange(m) < rng.integers(1, m + 1, size=n)[:, None]
        mask[0] = True
        story = np.where(mask[..., None], rng.integers(1, vocab_size, size=shape), 0)
        question = rng.integers(1, vocab_size, size=(n, question_words))
        return story.astype(dtype), question.astype(dtype), mask

    return make


# class -> factories; each factory takes the parameters' dtype and returns
# (a layer whose parameters have that dtype, the shape of an input batch), optionally
# followed by a function (rng, shape, dtype) -> input batch (default: standard normal).
# Layers with several inputs (attention, Seq2Seq): that function returns a tuple, the
# arguments of forward, and backward returns a tuple of gradients, one for each leading
# argument (a mask, the last argument, takes none); each is checked like dL/dx.
FACTORIES = {
    Dense: [lambda dt: (Dense(5, 3, rng=0, dtype=dt), (4, 5))],
    Conv2D: [
        lambda dt: (Conv2D(2, 3, 3, padding=1, rng=0, dtype=dt), (2, 2, 6, 6)),  # wide rows
        lambda dt: (Conv2D(2, 3, (3, 2), stride=2, bias=False, rng=1, dtype=dt), (2, 2, 7, 6)),
    ],
    MaxPool2D: [
        lambda dt: (MaxPool2D(2), (2, 3, 6, 6)),  # windows tile the input
        lambda dt: (MaxPool2D(3, stride=2), (2, 3, 7, 8)),  # overlapping windows
    ],
    AvgPool2D: [
        lambda dt: (AvgPool2D(2), (2, 3, 6, 6)),
        lambda dt: (AvgPool2D(3, stride=2), (2, 3, 7, 8)),
    ],
    Flatten: [lambda dt: (Flatten(), (2, 3, 4, 5))],
    Detector: [
        lambda dt: (
            Detector(Sequential(Conv2D(2, 3, 3, padding=1, rng=0, dtype=dt), ReLU(), Flatten()),
                     Dense(3 * 4 * 4, 5, rng=1, dtype=dt), Dense(3 * 4 * 4, 4, rng=2, dtype=dt)),
            (3, 2, 4, 4),
        ),
    ],
    Upsample2D: [
        lambda dt: (Upsample2D(2), (2, 3, 3, 4)),
        lambda dt: (Upsample2D((1, 3)), (1, 2, 3, 2)),
    ],
    ConvTranspose2D: [
        lambda dt: (ConvTranspose2D(2, 3, 3, rng=0, dtype=dt), (2, 2, 4, 4)),
        lambda dt: (ConvTranspose2D(3, 2, (3, 2), stride=2, padding=1, bias=False, rng=1,
                                    dtype=dt), (2, 3, 3, 5)),
    ],
    Sigmoid: [lambda dt: (Sigmoid(), (4, 5))],
    Tanh: [lambda dt: (Tanh(), (4, 5))],
    ReLU: [lambda dt: (ReLU(), (4, 5))],
    Softmax: [
        lambda dt: (Softmax(), (4, 5)),
        lambda dt: (Softmax(axis=1), (2, 3, 4)),
    ],
    Sequential: [
        lambda dt: (
            Sequential(
                Conv2D(1, 2, 3, padding=1, rng=0, dtype=dt), ReLU(), MaxPool2D(2), Flatten(),
                Dense(2 * 3 * 3, 4, rng=1, dtype=dt), Tanh(), Dense(4, 3, rng=2, dtype=dt),
                Softmax(),
            ),
            (3, 1, 6, 6),
        ),
        lambda dt: (
            Sequential(Embedding(7, 3, rng=0, dtype=dt), LSTM(3, 4, rng=1, dtype=dt),
                       TimeDense(4, 7, rng=2, dtype=dt)),
            (2, 5),
            _tokens(7),
        ),
    ],
    Embedding: [lambda dt: (Embedding(7, 3, rng=0, dtype=dt), (2, 5), _tokens(7))],
    LSTMClassifier: [  # token ids padded at the end with 0: lengths 5 and 2
        lambda dt: (LSTMClassifier(7, 3, 4, rng=0, dtype=dt), (2, 5),
                    lambda rng, shape, dtype: np.where(np.arange(5) < [[5], [2]],
                                                       rng.integers(1, 7, size=shape),
                                                       0).astype(dtype)),
    ],
    RNN: [
        lambda dt: (RNN(3, 4, rng=0, dtype=dt), (2, 5, 3)),
        lambda dt: (RNN(3, 4, return_sequences=False, rng=0, dtype=dt), (2, 5, 3)),
    ],
    LSTM: [
        lambda dt: (LSTM(3, 4, rng=0, dtype=dt), (2, 5, 3)),
        lambda dt: (LSTM(3, 4, return_sequences=False, rng=0, dtype=dt), (2, 5, 3)),
    ],
    TimeDense: [lambda dt: (TimeDense(3, 4, rng=0, dtype=dt), (2, 5, 3))],
    DotProductAttention: [
        lambda dt: (DotProductAttention(), (3, 2, 4), _attention_inputs(5, 4, 3)),
        lambda dt: (DotProductAttention(scaled=False), (2, 3, 2), _attention_inputs(4, 2, 2)),
    ],
    AdditiveAttention: [
        lambda dt: (AdditiveAttention(4, 3, 5, rng=0, dtype=dt), (3, 2, 4),
                    _attention_inputs(5, 3, 2)),
    ],
    Seq2Seq: [
        lambda dt: (Seq2Seq(6, 5, 3, 4, rng=0, dtype=dt), (3, 4), _seq2seq_inputs(5, 3)),
        lambda dt: (Seq2Seq(6, 5, 3, 4, attention="additive", attn_dim=2, rng=1, dtype=dt),
                    (2, 3), _seq2seq_inputs(5, 4)),
        lambda dt: (Seq2Seq(6, 5, 3, 4, attention=None, rng=2, dtype=dt), (2, 3),
                    _seq2seq_inputs(5, 2)),
    ],
    MemoryQA: [
        lambda dt: (MemoryQA(7, 4, 3, 5, rng=0, dtype=dt), (3, 4, 3), _story_inputs(7, 2)),
    ],
}


def _is_abstract_private_base(cls: type) -> bool:
    # _Elementwise, _Pool2D: shared plumbing that implements no forward of its own.
    return cls.__name__.startswith("_") and cls.forward is Layer.forward


def all_layer_classes() -> list[type]:
    """Every Layer subclass defined in the dlteach package (private abstract bases aside)."""
    for info in pkgutil.walk_packages(dlteach.__path__, prefix="dlteach."):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # python -m dlteach runs the CLI
            importlib.import_module(info.name)
    found: list[type] = []
    stack = [Layer]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return [
        cls
        for cls in found
        if cls.__module__.split(".")[0] == "dlteach" and not _is_abstract_private_base(cls)
    ]


def test_every_layer_of_the_package_has_a_factory():
    classes = all_layer_classes()
    assert Dense in classes and Sequential in classes  # the walk does find layers
    missing = [f"{c.__module__}.{c.__qualname__}" for c in classes if c not in FACTORIES]
    assert not missing, (
        f"add these layers to FACTORIES in {__file__} so the dtype rule of "
        f"dlteach.core.Layer is tested on them (a function param_dtype -> (layer, input "
        f"shape)): {missing}"
    )


CASES = [
    pytest.param(cls, i, id=f"{cls.__name__}-{i}")
    for cls, factories in FACTORIES.items()
    for i in range(len(factories))
]
MIXED = [
    pytest.param(np.float32, np.float64, id="x32-params64"),
    pytest.param(np.float64, np.float32, id="x64-params32"),
]


def _standard_normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _build(cls: type, i: int, param_dtype: type) -> tuple[Layer, tuple[int, ...], object]:
    """(layer, input shape, input maker (rng, shape, dtype) -> x)."""
    layer, shape, *maker = FACTORIES[cls][i](param_dtype)
    assert type(layer) is cls
    return layer, shape, maker[0] if maker else _standard_normal


def _inputs(make_x, rng, shape, dtype) -> tuple:
    """The arguments of forward: (x,), or a multi-input layer's tuple."""
    made = make_x(rng, shape, dtype)
    return made if isinstance(made, tuple) else (made,)


def _grads(out) -> tuple:
    """backward's result as a tuple: (dL/dx,), or one gradient per input."""
    return out if isinstance(out, tuple) else (out,)


def _float64_inputs(args: tuple) -> tuple:
    return tuple(a.astype(np.float64) if a.dtype.kind == "f" else a for a in args)


def _float64_twin(layer: Layer) -> Layer:
    """The same layer with the same parameter values, held in float64."""
    twin = copy.deepcopy(layer)
    for p in twin.parameters():
        p.value = p.value.astype(np.float64)
        p.grad = np.zeros_like(p.value)
    return twin


def _tolerance(want: np.ndarray) -> dict[str, float]:
    # float32 rounding: a relative 1e-4 of the result's scale is ~1000 float32 ulps.
    return {"rtol": 1e-4, "atol": 1e-5 * max(1.0, float(np.abs(want).max(initial=0.0)))}


@pytest.mark.parametrize(("x_dtype", "param_dtype"), MIXED)
@pytest.mark.parametrize(("cls", "i"), CASES)
def test_layer_computes_in_its_inputs_dtype(cls, i, x_dtype, param_dtype):
    layer, shape, make_x = _build(cls, i, param_dtype)
    for p in layer.parameters():
        assert p.value.dtype == param_dtype, f"{layer!r}: the factory must honour the dtype"
    reference = _float64_twin(layer)
    rng = np.random.default_rng(0)
    args = _inputs(make_x, rng, shape, x_dtype)

    y = layer.forward(*args)
    assert y.dtype == x_dtype, f"{layer!r}: {np.dtype(x_dtype)} input gave a {y.dtype} output"
    g = rng.standard_normal(y.shape).astype(x_dtype)
    grads = _grads(layer.backward(g))
    for dx in grads:
        assert dx.dtype == x_dtype, (
            f"{layer!r}: {np.dtype(x_dtype)} input gave a {dx.dtype} input gradient"
        )
    for name, p in layer.named_parameters().items():
        assert p.grad.dtype == p.value.dtype == param_dtype, (
            f"{layer!r}: parameter {name} ({p.value.dtype}) has a {p.grad.dtype} gradient"
        )

    # The values: the same computation in float64, within float32 rounding.
    y64 = reference.forward(*_float64_inputs(args))
    grads64 = _grads(reference.backward(g.astype(np.float64)))
    np.testing.assert_allclose(y, y64, **_tolerance(y64), err_msg=f"{layer!r}: forward")
    for dx, dx64 in zip(grads, grads64, strict=True):
        np.testing.assert_allclose(dx, dx64, **_tolerance(dx64), err_msg=f"{layer!r}: backward")
    twins = reference.named_parameters()
    for name, p in layer.named_parameters().items():
        want = twins[name].grad
        np.testing.assert_allclose(
            p.grad, want, **_tolerance(want), err_msg=f"{layer!r}: gradient of {name}"
        )


@pytest.mark.parametrize(("x_dtype", "param_dtype"), MIXED)
@pytest.mark.parametrize(("cls", "i"), CASES)
def test_a_gradient_of_another_dtype_is_cast_to_the_inputs(cls, i, x_dtype, param_dtype):
    layer, shape, make_x = _build(cls, i, param_dtype)
    rng = np.random.default_rng(1)
    args = _inputs(make_x, rng, shape, x_dtype)
    y = layer.forward(*args)
    other = np.float64 if x_dtype == np.float32 else np.float32
    g = rng.standard_normal(y.shape).astype(other)
    grads = _grads(layer.backward(g))
    for dx in grads:
        assert dx.dtype == x_dtype, (
            f"{layer!r}: a {np.dtype(other)} gradient for a {np.dtype(x_dtype)} input gave a "
            f"{dx.dtype} input gradient"
        )
    for name, p in layer.named_parameters().items():
        assert p.grad.dtype == param_dtype, f"{layer!r}: {name}.grad became {p.grad.dtype}"
    # The same as the gradient cast by hand: the cast happens first.
    twin, _, _ = _build(cls, i, param_dtype)
    twin.forward(*args)
    for dx, want in zip(grads, _grads(twin.backward(g.astype(x_dtype))), strict=True):
        np.testing.assert_array_equal(dx, want, err_msg=repr(layer))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("cls", "i"), CASES)
def test_matching_dtypes_stay_as_they_are(cls, i, dtype):
    layer, shape, make_x = _build(cls, i, dtype)
    y = layer.forward(*_inputs(make_x, np.random.default_rng(2), shape, dtype))
    grads = _grads(layer.backward(np.ones_like(y)))
    assert y.dtype == dtype and all(dx.dtype == dtype for dx in grads)
    assert all(p.grad.dtype == dtype for p in layer.parameters())


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: (Dense(1000, 1000, rng=0, dtype=np.float32), (2, 1000)), id="Dense"),
        pytest.param(
            lambda: (Conv2D(256, 256, 3, rng=0, dtype=np.float32), (1, 256, 3, 3)), id="Conv2D"
        ),
    ],
)
def test_float32_fast_path_copies_no_parameter(make):
    # With float32 data and float32 parameters the cast on use must not copy W: forward
    # allocates far less than W (4 MB here), backward one W-sized array (dL/dW) only.
    layer, shape = make()
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    size = layer.W.value.nbytes
    layer.forward(x)  # warm-up
    tracemalloc.start()
    try:
        y = layer.forward(x)
        forward_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        layer.backward(np.ones_like(y))
        backward_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert forward_peak < 0.5 * size, f"{layer!r}: forward allocated {forward_peak} bytes"
    assert backward_peak < 1.5 * size, f"{layer!r}: backward allocated {backward_peak} bytes"
