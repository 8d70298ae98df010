"""Activation functions and layers: values, stability, dtypes, gradients, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import (
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    log_softmax,
    relu,
    sigmoid,
    sigmoid_grad,
    softmax,
    tanh,
)
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck

batches = st.integers(1, 8)
features = st.integers(1, 10)
seeds = st.integers(0, 2**31 - 1)


# --- pure functions ---------------------------------------------------------------------


def test_sigmoid_known_values():
    assert sigmoid(0.0) == 0.5
    assert sigmoid(0) == 0.5  # an int scalar works too
    np.testing.assert_allclose(sigmoid(np.array([-2.0, 2.0])), 1 / (1 + np.exp([2.0, -2.0])))


@given(seeds)
def test_sigmoid_matches_textbook_formula_and_symmetry(seed):
    x = np.random.default_rng(seed).normal(scale=5, size=20)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(sigmoid(-x), 1 - sigmoid(x), atol=1e-15)


def test_sigmoid_stable_for_huge_inputs():
    x = np.array([-1000.0, -710.0, 0.0, 710.0, 1000.0])
    with np.errstate(all="raise", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
        g = sigmoid_grad(x)
    np.testing.assert_allclose(y, [0.0, 0.0, 0.5, 1.0, 1.0], rtol=0, atol=1e-300)
    assert np.all(np.isfinite(g)) and g[2] == 0.25 and g[0] == 0.0


def test_sigmoid_grad_matches_central_difference():
    x = np.linspace(-6, 6, 25)
    h = 1e-6
    numerical = (sigmoid(x + h) - sigmoid(x - h)) / (2 * h)
    np.testing.assert_allclose(sigmoid_grad(x), numerical, rtol=1e-7, atol=1e-12)


def test_float32_stays_float32():
    x = np.array([-1.0, 0.5, 3.0], dtype=np.float32)
    for f in (sigmoid, sigmoid_grad, tanh, relu, softmax, log_softmax):
        assert f(x).dtype == np.float32, f.__name__
    for layer in (Sigmoid(), Tanh(), ReLU(), Softmax()):
        y = layer.forward(x[None, :])
        assert y.dtype == np.float32, layer
        assert layer.backward(np.ones_like(y)).dtype == np.float32, layer


def test_integer_input_to_pure_functions_becomes_float64():
    out = relu(np.array([-2, 0, 3]))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, 0.0, 3.0])


def test_tanh_and_relu_values():
    x = np.array([-2.0, -0.0, 0.0, 1.5])
    np.testing.assert_allclose(tanh(x), np.tanh(x))
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 0.0, 1.5])
    assert np.isnan(relu(np.array([np.nan])))[0]  # NaN is not silently hidden


@given(batches, features, seeds)
def test_softmax_rows_are_distributions_and_shift_invariant(n, k, seed):
    x = np.random.default_rng(seed).normal(scale=3, size=(n, k))
    p = softmax(x)
    assert p.shape == (n, k)
    assert np.all(p > 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(x + 123.0), p, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(log_softmax(x), np.log(p), rtol=1e-10, atol=1e-12)


def test_softmax_along_axis_0():
    x = np.array([[1.0, 2.0], [3.0, 2.0]])
    p = softmax(x, axis=0)
    np.testing.assert_allclose(p.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(p[:, 1], [0.5, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_stable_for_logits_of_1000(dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    with np.errstate(all="raise", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(x)
        lp = log_softmax(x)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(lp[0], [0.0, -2000.0, -1000.0])
    np.testing.assert_allclose(lp[1], [-np.log(3)] * 3, rtol=1e-6)


def test_pure_function_errors():
    with pytest.raises(ShapeError, match=r"softmax: axis 2 is out of range for an input with 2 "):
        softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ShapeError, match=r"log_softmax: axis -3 is out of range"):
        log_softmax(np.ones((2, 3)), axis=-3)
    with pytest.raises(InvalidValueError, match=r"softmax: input is empty \(shape \(0, 3\)\)"):
        softmax(np.ones((0, 3)))
    with pytest.raises(DTypeError, match=r"sigmoid: expected input to be a NumPy array, got str"):
        sigmoid("1.0")
    with pytest.raises(DTypeError, match=r"relu: expected input to hold numbers, got dtype bool"):
        relu(np.array([True, False]))


# --- layers -----------------------------------------------------------------------------


LAYERS = [Sigmoid, Tanh, ReLU, Softmax]


@pytest.mark.parametrize("layer_cls", LAYERS)
@given(n=batches, d=features, seed=seeds)
def test_layer_passes_gradcheck(layer_cls, n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2, size=(n, d))
    if layer_cls is ReLU:  # keep away from the kink at 0, where the derivative jumps
        x = np.sign(x) * (np.abs(x) + 1e-3) + (x == 0) * 1e-2
    report = gradcheck(layer_cls(), x, seed=seed)
    assert list(report.errors) == ["input"]
    assert report.passed(1e-7), str(report)


def test_softmax_layer_gradcheck_along_axis_0():
    x = np.random.default_rng(3).normal(size=(4, 3))
    assert gradcheck(Softmax(axis=0), x).passed(1e-7)


def test_softmax_backward_equals_full_jacobian_product():
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    layer = Softmax()
    y = layer.forward(x)
    # The Jacobian of each row: J[n, i, j] = y_i (delta_ij - y_j); dL/dx_j = sum_i g_i J_ij.
    jac = np.einsum("ni,ij->nij", y, np.eye(4)) - np.einsum("ni,nj->nij", y, y)
    np.testing.assert_allclose(layer.backward(g), np.einsum("ni,nij->nj", g, jac), atol=1e-15)


@pytest.mark.parametrize(
    "layer, f, df",
    [
        (Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
        (Tanh(), np.tanh, lambda x: 1 / np.cosh(x) ** 2),
        (ReLU(), lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    ],
)
def test_elementwise_layers_forward_and_backward_values(layer, f, df):
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    g = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(layer.forward(x), f(x), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), g * df(x), rtol=1e-12, atol=1e-15)


def test_relu_gradient_at_zero_is_zero():
    layer = ReLU()
    layer.forward(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(layer.backward(np.array([5.0, 5.0])), [0.0, 5.0])


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_layers_do_not_modify_their_inputs(layer_cls):
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    x0, g0 = x.copy(), g.copy()
    layer = layer_cls()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_backward_before_forward_is_an_error(layer_cls):
    layer = layer_cls()
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_backward_with_wrong_gradient_shape(layer_cls):
    layer = layer_cls()
    layer.forward(np.ones((2, 3)))
    name = layer_cls.__name__
    with pytest.raises(
        ShapeError,
        match=rf"{name}\(\): backward expected a gradient of shape \(2, 3\) .*got \(3, 2\)",
    ):
        layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize("layer_cls", LAYERS)
def test_layers_reject_integer_input(layer_cls):
    with pytest.raises(DTypeError, match=rf"{layer_cls.__name__}\(\): expected input with a float"):
        layer_cls().forward(np.array([[1, 2]]))


def test_softmax_layer_errors_and_repr():
    assert repr(Softmax()) == "Softmax()"
    assert repr(Softmax(axis=0)) == "Softmax(axis=0)"
    with pytest.raises(ShapeError, match=r"Softmax\(axis=1\): axis 1 is out of range"):
        Softmax(axis=1).forward(np.ones(3))
    with pytest.raises(InvalidValueError, match=r"Softmax\(\): input is empty"):
        Softmax().forward(np.ones((0, 3)))


def test_activation_layers_have_no_parameters():
    for layer_cls in LAYERS:
        assert layer_cls().parameters() == []
