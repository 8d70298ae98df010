"""Dense: y = x @ W + b, its gradients, gradient accumulation, and its error messages."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck


@given(
    n=st.integers(1, 8),
    d_in=st.integers(1, 10),
    d_out=st.integers(1, 10),
    seed=st.integers(0, 2**31 - 1),
)
def test_dense_passes_gradcheck(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(d_in, d_out, rng=rng)
    layer.b.value = rng.normal(size=d_out)  # a nonzero bias, so it matters in forward too
    report = gradcheck(layer, rng.normal(size=(n, d_in)), seed=seed)
    assert list(report.errors) == ["input", "W", "b"]
    assert report.passed(1e-7), str(report)


def test_forward_and_backward_values():
    layer = Dense(2, 3, rng=0)
    layer.W.value = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    layer.b.value = np.array([0.5, 0.0, -0.5])
    x = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(layer.forward(x), [[3.5, 1.0, -1.5], [4.5, 2.0, -0.5]])
    g = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    np.testing.assert_allclose(layer.backward(g), [[1.0, 2.0], [-1.0, 1.0]])  # g @ W.T
    np.testing.assert_allclose(layer.W.grad, x.T @ g)
    np.testing.assert_allclose(layer.b.grad, [1.0, 1.0, 1.0])


def test_gradients_accumulate_until_zero_grad():
    rng = np.random.default_rng(0)
    layer = Dense(4, 3, rng=0)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer.forward(x)
    layer.backward(g)
    w_once, b_once = layer.W.grad.copy(), layer.b.grad.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.W.grad, 2 * w_once)
    np.testing.assert_allclose(layer.b.grad, 2 * b_once)
    layer.zero_grad()
    assert not layer.W.grad.any() and not layer.b.grad.any()


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    layer = Dense(4, 3, rng=0)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    x0, g0 = x.copy(), g.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


def test_same_seed_same_weights_and_dtype():
    a, b = Dense(5, 4, rng=7), Dense(5, 4, rng=7)
    np.testing.assert_array_equal(a.W.value, b.W.value)
    assert not np.array_equal(a.W.value, Dense(5, 4, rng=8).W.value)
    layer = Dense(5, 4, rng=0, dtype=np.float32)
    assert layer.W.value.dtype == np.float32 and layer.b.value.dtype == np.float32
    assert layer.forward(np.ones((2, 5), dtype=np.float32)).dtype == np.float32


def test_parameters_are_found_and_named():
    layer = Dense(3, 2, rng=0)
    assert list(layer.named_parameters()) == ["W", "b"]
    assert layer.num_parameters() == 3 * 2 + 2
    model = Sequential(Dense(3, 4, rng=0), Dense(4, 2, rng=1))
    assert list(model.named_parameters()) == ["0.W", "0.b", "1.W", "1.b"]


def test_input_shape_errors():
    layer = Dense(64, 10, rng=0)
    with pytest.raises(
        ShapeError,
        match=r"^Dense\(64 -> 10\): expected input of shape \(N, 64\), got \(32, 65\)\.$",
    ):
        layer.forward(np.zeros((32, 65)))
    with pytest.raises(
        ShapeError,
        match=r"Dense\(64 -> 10\): expected input of shape \(N, 64\), got \(64,\) "
        r"\(1 dimension instead of 2\)",
    ):
        layer.forward(np.zeros(64))
    with pytest.raises(
        DTypeError, match=r"Dense\(64 -> 10\): expected input with a floating dtype"
    ):
        layer.forward(np.zeros((2, 64), dtype=int))
    with pytest.raises(InvalidValueError, match=r"Dense\(64 -> 10\): input is empty"):
        layer.forward(np.zeros((0, 64)))


def test_backward_errors():
    layer = Dense(4, 3, rng=0)
    with pytest.raises(InvalidValueError, match=r"Dense\(4 -> 3\): backward called before forward"):
        layer.backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 4)))
    with pytest.raises(
        ShapeError,
        match=r"Dense\(4 -> 3\): backward expected a gradient of shape \(2, 3\) .*got \(2, 4\)",
    ):
        layer.backward(np.ones((2, 4)))


def test_constructor_errors():
    with pytest.raises(InvalidValueError, match=r"Dense: d_in must be at least 1, got 0"):
        Dense(0, 3)
    with pytest.raises(DTypeError, match=r"Dense: expected d_out to be an integer, got float"):
        Dense(3, 2.5)
    with pytest.raises(InvalidValueError, match=r"Dense\(3 -> 2\): init must be one of .*'bogus'"):
        Dense(3, 2, init="bogus")
