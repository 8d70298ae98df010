"""dlteach.torch_bridge: dlteach models to PyTorch modules and back.

The round trip dlteach -> PyTorch -> dlteach is exact (every parameter bit for bit, its
dtype kept); the exported module predicts what the dlteach model predicts (float64:
1e-10 relative, float32: 1e-4) and backpropagates the same gradients. Unsupported
layers and settings are refused with an error naming them and their position.

Tests that need PyTorch take the ``torch`` fixture, which skips them where it is not
installed; the last tests run everywhere: without torch, ``import dlteach`` and the
bridge module still import, and the functions say how to install it.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

from dlteach.activations import ReLU, Sigmoid, Softmax, Tanh
from dlteach.attention import DotProductAttention
from dlteach.conv import Conv2D
from dlteach.core import Layer, Sequential
from dlteach.dense import Dense
from dlteach.embedding import Embedding
from dlteach.errors import DTypeError, InvalidValueError, UnsupportedLayerError
from dlteach.lstm import LSTM
from dlteach.pooling import AvgPool2D, MaxPool2D
from dlteach.recurrent import RNN
from dlteach.reshape import Flatten
from dlteach.seq2seq import Seq2Seq
from dlteach.sequence import TimeDense
from dlteach.torch_bridge import from_torch, to_torch
from dlteach.upsampling import ConvTranspose2D, Upsample2D

SKIP_REASON = "PyTorch is not installed: pip install torch==2.13.0 (CI installs it)"
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=SKIP_REASON)


def _biases(model: Layer, rng: np.random.Generator) -> Layer:
    """Random biases (the constructors start them at 0 or 1, which would hide a swap)."""
    for name, p in model.named_parameters().items():
        if name.endswith("b"):
            p.value[...] = rng.standard_normal(p.shape)
    return model


def mlp(dtype):
    rng = np.random.default_rng(0)
    model = Sequential(Dense(4, 6, rng=rng, dtype=dtype), ReLU(), Dense(6, 5, rng=rng, dtype=dtype),
                       Tanh(), Dense(5, 3, rng=rng, dtype=dtype), Sigmoid())
    return _biases(model, rng), rng.standard_normal((7, 4)).astype(dtype)


def cnn(dtype):
    rng = np.random.default_rng(1)
    model = Sequential(
        Conv2D(2, 3, 3, stride=(2, 1), padding=(1, 0), rng=rng, dtype=dtype), ReLU(),
        MaxPool2D(2, stride=1),
        Conv2D(3, 4, (2, 3), bias=False, rng=rng, dtype=dtype),
        AvgPool2D((1, 2)), Flatten(), Dense(4 * 1 * 1, 3, rng=rng, dtype=dtype), Softmax(),
    )
    return _biases(model, rng), rng.standard_normal((5, 2, 6, 7)).astype(dtype)


def dense_prediction(dtype):
    """Shrink, then grow back: a nested Sequential, a transposed convolution, upsampling.

    Sigmoid last, not Softmax(axis=1): with two saturated channels, the bias gradient
    through a softmax is a sum of terms that cancel, and float32 keeps only 3 digits of
    it, in either library (Softmax's axis is checked on its own below)."""
    rng = np.random.default_rng(2)
    model = Sequential(
        Sequential(Conv2D(1, 3, 3, padding=1, rng=rng, dtype=dtype), Tanh(), MaxPool2D(2)),
        ConvTranspose2D(3, 2, 3, stride=2, padding=1, rng=rng, dtype=dtype),
        Upsample2D((1, 2)), Sigmoid(),
    )
    return _biases(model, rng), rng.standard_normal((2, 1, 6, 4)).astype(dtype)


def token_sequence(dtype):
    """Embedding -> LSTM -> TimeDense -> RNN (last step only) -> Dense."""
    rng = np.random.default_rng(3)
    model = Sequential(
        Embedding(9, 4, rng=rng, dtype=dtype), LSTM(4, 5, rng=rng, dtype=dtype),
        TimeDense(5, 3, rng=rng, dtype=dtype),
        RNN(3, 4, return_sequences=False, rng=rng, dtype=dtype), Dense(4, 2, rng=rng, dtype=dtype),
    )
    return _biases(model, rng), rng.integers(0, 9, size=(3, 6))


def feature_sequence(dtype):
    rng = np.random.default_rng(4)
    model = Sequential(LSTM(3, 4, return_sequences=False, rng=rng, dtype=dtype),
                       Dense(4, 2, rng=rng, dtype=dtype))
    return _biases(model, rng), rng.standard_normal((4, 5, 3)).astype(dtype)


MODELS = [mlp, cnn, dense_prediction, token_sequence, feature_sequence]
CASES = [pytest.param(make, dtype, id=f"{make.__name__}-{np.dtype(dtype).name}")
         for make in MODELS for dtype in (np.float32, np.float64)]


def _flat(model: Layer) -> list[Layer]:
    """The layers of model, nested Sequentials unrolled."""
    if isinstance(model, Sequential):
        return [leaf for sub in model.layers for leaf in _flat(sub)]
    return [model]


def assert_close(what: str, mine: np.ndarray, theirs: np.ndarray, dtype) -> None:
    rtol = RTOL[np.dtype(dtype)]
    scale = float(np.max(np.abs(theirs)))
    np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=rtol * scale,
                               err_msg=f"{what}: dlteach (actual) vs PyTorch (desired)")


@pytest.mark.parametrize(("make", "dtype"), CASES)
def test_round_trip_is_exact(torch, make, dtype):
    model, _ = make(dtype)
    back = from_torch(to_torch(model))
    assert [repr(layer) for layer in _flat(back)] == [repr(layer) for layer in _flat(model)]
    assert [type(layer) for layer in _flat(back)] == [type(layer) for layer in _flat(model)]
    mine, theirs = model.named_parameters(), back.named_parameters()
    assert list(theirs) == list(mine)
    for name, p in mine.items():
        assert theirs[name].value.dtype == p.value.dtype, name
        assert np.array_equal(theirs[name].value, p.value), name
        assert theirs[name] is not p and not np.shares_memory(theirs[name].value, p.value)


@pytest.mark.parametrize(("make", "dtype"), CASES)
def test_exported_model_predicts_and_backpropagates_the_same(torch, make, dtype):
    model, x = make(dtype)
    module = to_torch(model)
    tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(dtype)]
    assert all(p.dtype == tdtype for p in module.parameters())
    y = model.forward(x)
    xt = torch.from_numpy(x.copy())
    if xt.is_floating_point():
        xt.requires_grad_(True)
    yt = module(xt)
    assert yt.dtype == tdtype
    assert_close("prediction", y, yt.detach().numpy(), dtype)

    g = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    model.zero_grad()
    dx = model.backward(g)
    yt.backward(torch.from_numpy(g))
    if xt.is_floating_point():
        assert_close("dL/dx", dx, xt.grad.numpy(), dtype)
    # PyTorch's gradients, read back in dlteach's layout: a copy of the module holding
    # them as its weights, imported (bias_hh set to 0: its gradient equals bias_ih's, and
    # the import adds the two biases).
    grads = copy.deepcopy(module)
    with torch.no_grad():
        for (name, p), q in zip(grads.named_parameters(), module.parameters(), strict=True):
            p.copy_(torch.zeros_like(p) if "bias_hh" in name else q.grad)
    for name, theirs in from_torch(grads).named_parameters().items():
        assert_close(f"dL/d{name}", model.named_parameters()[name].grad, theirs.value, dtype)


def test_a_pytorch_model_imports_with_the_same_predictions(torch):
    """Built in PyTorch: a nonzero bias_hh (the import adds it to bias_ih) and an nn.Linear
    without bias (a zero bias). Exporting again keeps every other weight bit for bit."""
    from dlteach.torch_bridge import RecurrentLayer

    torch.manual_seed(0)
    nn = torch.nn
    module = nn.Sequential(
        nn.Linear(3, 4, bias=False), nn.Tanh(),
        RecurrentLayer(nn.LSTM(4, 5, batch_first=True), return_sequences=True),
        nn.Linear(5, 2), nn.Softmax(dim=-1),
    ).double()
    model = from_torch(module, input_ndim=3)
    assert [type(layer) for layer in model] == [TimeDense, Tanh, LSTM, TimeDense, Softmax]
    assert isinstance(from_torch(module[0]), Dense)  # by default the input is (N, D)
    x = np.random.default_rng(6).standard_normal((2, 4, 3))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert_close("prediction", model.forward(x), expected, np.float64)
    again = to_torch(model).state_dict()
    assert [type(layer) for layer in from_torch(to_torch(model), input_ndim=3)] == [
        type(layer) for layer in model]
    for name, value in module.state_dict().items():
        if name.endswith("bias_ih_l0"):  # one bias now: the sum of the two
            hh = module.state_dict()[name.replace("ih", "hh")]
            assert torch.equal(again[name], value + hh)
            assert torch.equal(again[name.replace("ih", "hh")], torch.zeros_like(hh))
        elif not name.endswith("bias_hh_l0"):
            assert torch.equal(again[name], value), name
    assert torch.equal(again["0.bias"], torch.zeros(4, dtype=torch.float64))


def test_a_single_layer_exports_to_a_single_module(torch):
    layer = Conv2D(1, 2, 3, stride=2, rng=0)
    module = to_torch(layer)
    assert isinstance(module, torch.nn.Conv2d) and module.stride == (2, 2)
    back = from_torch(module)
    assert isinstance(back, Conv2D) and np.array_equal(back.W.value, layer.W.value)
    softmax = to_torch(Softmax(axis=1))
    assert isinstance(softmax, torch.nn.Softmax) and softmax.dim == 1
    assert repr(from_torch(softmax)) == "Softmax(axis=1)"


def test_linear_becomes_dense_or_time_dense_by_the_shape_it_reads(torch):
    nn = torch.nn
    tokens = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 2))
    assert isinstance(from_torch(tokens)[1], TimeDense)  # tokens (N, T) -> (N, T, 3)
    assert isinstance(from_torch(tokens, input_ndim=1)[1], Dense)  # tokens (N,) -> (N, 3)
    images = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    assert isinstance(from_torch(images)[2], Dense)
    with pytest.raises(InvalidValueError, match=r"^from_torch: layer 1 of the Sequential, "
                                                r"Linear\(.*\), is applied to an input with "
                                                r"4 dimensions .* Put nn\.Flatten\(\) before it"):
        from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2)))
    with pytest.raises(InvalidValueError, match=r"^from_torch: input_ndim must be 1, 2, 3 or 4"):
        from_torch(tokens, input_ndim=5)


def test_training_mode_is_kept(torch):
    model, _ = mlp(np.float64)
    assert to_torch(model).training
    assert not to_torch(model.eval()).training
    assert not from_torch(to_torch(model)).layers[0].training


# --- what is refused --------------------------------------------------------------------------


def test_an_unsupported_layer_is_named_with_its_position(torch):
    model = Sequential(Dense(2, 3, rng=0), Sequential(ReLU(), DotProductAttention()))
    with pytest.raises(UnsupportedLayerError, match=r"^to_torch: layer 1\.1 of the Sequential is "
                                         r"DotProductAttention\(scaled=True\) "
                                         r"\(DotProductAttention\), which has no PyTorch "
                                         r"counterpart here\. Supported layers: Sequential, "
                                         r"Dense, TimeDense, Conv2D"):
        to_torch(model)
    with pytest.raises(UnsupportedLayerError, match=r"^to_torch: the model is Seq2Seq\("):
        to_torch(Seq2Seq(5, 5, 3, 4, rng=0))


def test_a_stateful_recurrent_layer_is_refused(torch):
    model = Sequential(LSTM(2, 3, stateful=True, rng=0))
    with pytest.raises(InvalidValueError, match=r"^to_torch: layer 0 of the Sequential: "
                                                r"LSTM\(2 -> 3, stateful=True\) carries its "
                                                r"state"):
        to_torch(model)


def test_unsupported_pytorch_modules_and_settings_are_named(torch):
    from dlteach.torch_bridge import RecurrentLayer

    nn = torch.nn
    with pytest.raises(UnsupportedLayerError,
                       match=r"^from_torch: layer 1 of the Sequential is Dropout "
                                         r"\(.*\), which has no dlteach counterpart\. "
                                         r"Supported modules: nn\.Sequential, nn\.Linear"):
        from_torch(nn.Sequential(nn.Linear(2, 2), nn.Dropout()))
    with pytest.raises(UnsupportedLayerError,
                       match=r"^from_torch: layer 0 of the Sequential is LSTM .*wrap "
                                         r"it, dlteach\.torch_bridge\.RecurrentLayer"):
        from_torch(nn.Sequential(nn.LSTM(2, 3, batch_first=True)))
    with pytest.raises(InvalidValueError, match=r"^from_torch: the model, Conv2d\(.*\), uses "
                                                r"dilation=\(2, 2\)"):
        from_torch(nn.Conv2d(1, 1, 3, dilation=2))
    with pytest.raises(InvalidValueError, match=r"bidirectional=True"):
        from_torch(RecurrentLayer(nn.LSTM(2, 3, batch_first=True, bidirectional=True)))
    with pytest.raises(InvalidValueError, match=r"^from_torch: the model, MaxPool2d\(.*\), uses "
                                                r"padding=1"):
        from_torch(nn.MaxPool2d(3, padding=1))
    with pytest.raises(InvalidValueError, match=r"scale_factor=1\.5 \(not whole numbers\)"):
        from_torch(nn.Upsample(scale_factor=1.5))
    with pytest.raises(InvalidValueError, match=r"padding_idx=0"):
        from_torch(nn.Embedding(4, 2, padding_idx=0))
    with pytest.raises(DTypeError, match=r"^from_torch: the model has a parameter weight of "
                                         r"dtype float16"):
        from_torch(nn.Linear(2, 2).half())
    with pytest.raises(DTypeError, match=r"^from_torch: expected a torch\.nn\.Module"):
        from_torch(Dense(2, 2))


def test_a_layer_class_instead_of_a_model_is_refused(torch):
    with pytest.raises(DTypeError, match=r"^to_torch: expected a model .* got the class Dense"):
        to_torch(Dense)


# --- without PyTorch --------------------------------------------------------------------------


def test_importing_dlteach_and_the_bridge_never_imports_torch():
    code = ("import sys, dlteach, dlteach.torch_bridge; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_torch_the_functions_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match=r"^to_torch: PyTorch is not installed\. Install it "
                                          r"with pip install torch==2\.13\.0"):
        to_torch(Dense(2, 2, rng=0))
    with pytest.raises(ImportError, match=r"^from_torch: PyTorch is not installed"):
        from_torch(object())
