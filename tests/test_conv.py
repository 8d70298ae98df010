"""Conv2D: gradients, agreement with the plain-loop reference, dtypes, errors, memory."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import ReLU
from dlteach.conv import Conv2D
from dlteach.conv_reference import conv2d_backward_naive, conv2d_forward_naive
from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import SoftmaxCrossEntropy
from dlteach.pooling import MaxPool2D
from dlteach.reshape import Flatten


@st.composite
def conv_case(draw, max_n=2, max_c=3, max_f=3):
    """A Conv2D configuration and an input shape it fits (kernel, stride, padding vary)."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + 4))
    W = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + 4))
    N, C, F = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, max_f))
    seed = draw(st.integers(0, 2**16))
    layer = Conv2D(C, F, (kh, kw), (sh, sw), (ph, pw), rng=seed)
    # A non-zero bias, so that a forgotten bias term cannot hide.
    layer.b.value[:] = np.random.default_rng(seed + 1).standard_normal(F)
    x = np.random.default_rng(seed + 2).standard_normal((N, C, H, W))
    return layer, x


@given(conv_case())
def test_gradcheck_on_random_geometries(case):
    layer, x = case
    report = gradcheck(layer, x, seed=0)
    assert report.passed(1e-7), report.summary()
    assert set(report.errors) == {"input", "W", "b"}


@given(conv_case(max_n=3, max_c=4, max_f=4))
def test_fast_layer_matches_plain_loops(case):
    layer, x = case
    y = layer.forward(x)
    y_ref = conv2d_forward_naive(x, layer.W.value, layer.b.value, layer.stride, layer.padding)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-10)

    g = np.random.default_rng(7).standard_normal(y.shape)
    dx = layer.backward(g)
    dx_ref, dW_ref, db_ref = conv2d_backward_naive(g, x, layer.W.value, layer.stride, layer.padding)
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.W.grad, dW_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.b.grad, db_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "shape, padding, wide",
    [((2, 2, 9, 9), 1, True), ((2, 2, 3, 3), 0, False), ((1, 2, 4, 12), 0, True)],
)
def test_both_column_layouts_match_plain_loops(shape, padding, wide):
    # Stride 1 along W on a wide enough input takes the "wide rows" path (see im2col.py).
    layer = Conv2D(2, 3, 3, padding=padding, rng=0)
    layer.b.value[:] = [0.1, -0.2, 0.3]
    x = np.random.default_rng(8).standard_normal(shape)
    y = layer.forward(x)
    assert layer._cache[3] is wide
    np.testing.assert_allclose(
        y, conv2d_forward_naive(x, layer.W.value, layer.b.value, 1, padding), rtol=0, atol=1e-12
    )
    g = np.random.default_rng(9).standard_normal(y.shape)
    dx_ref, dW_ref, db_ref = conv2d_backward_naive(g, x, layer.W.value, 1, padding)
    np.testing.assert_allclose(layer.backward(g), dx_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.W.grad, dW_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.b.grad, db_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("padding", [0, 1])
def test_non_contiguous_inputs(padding):
    # A reversed, strided or Fortran-ordered view gives the same result as a copy.
    base = np.random.default_rng(10).standard_normal((3, 2, 12, 10))
    layer = Conv2D(2, 3, 3, padding=padding, rng=0)
    g = np.random.default_rng(11).standard_normal((3, 3, 6 + 2 * padding - 2, 10 + 2 * padding - 2))
    for x in (base[:, :, ::-2, :], np.asfortranarray(base[:, :, :6])):
        y = layer.forward(x)
        dx = layer.backward(g)
        y_copy = layer.forward(np.ascontiguousarray(x))
        np.testing.assert_allclose(y, y_copy, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dx, layer.backward(g), rtol=0, atol=1e-12)


def test_output_size_and_a_hand_computed_value():
    layer = Conv2D(1, 1, 3, padding=1, rng=0)
    layer.W.value[:] = 1.0  # a box filter: each output sums its 3x3 neighbourhood
    layer.b.value[:] = 0.5
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    y = layer.forward(x)
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 0, 0] == 0 + 1 + 4 + 5 + 0.5  # corner: only 4 real pixels
    assert y[0, 0, 1, 1] == np.sum(x[0, 0, :3, :3]) + 0.5
    assert Conv2D(3, 8, 5, stride=2, rng=0).forward(np.zeros((2, 3, 11, 9))).shape == (2, 8, 4, 3)


def test_without_bias_there_is_no_bias_parameter():
    layer = Conv2D(2, 3, 3, bias=False, rng=0)
    assert [name for name in layer.named_parameters()] == ["W"]
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    np.testing.assert_allclose(
        layer.forward(x), conv2d_forward_naive(x, layer.W.value, None), rtol=0, atol=1e-12
    )
    assert gradcheck(layer, x).passed(1e-7)


def test_float32_in_float32_out_and_parameter_dtypes_kept():
    x32 = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    layer = Conv2D(3, 4, 3, padding=1, rng=0)  # float64 parameters
    y = layer.forward(x32)
    assert y.dtype == np.float32
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32
    assert layer.W.grad.dtype == np.float64 and layer.b.grad.dtype == np.float64
    np.testing.assert_allclose(y, layer.forward(x32.astype(np.float64)), rtol=1e-5, atol=1e-5)

    layer32 = Conv2D(3, 4, 3, padding=1, rng=0, dtype=np.float32)
    assert layer32.W.value.dtype == np.float32
    y64 = layer32.forward(x32.astype(np.float64))  # float64 input -> float64 output
    assert y64.dtype == np.float64
    assert layer32.backward(np.ones_like(y64)).dtype == np.float64
    assert layer32.W.grad.dtype == np.float32


def test_inputs_are_never_modified():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 5))
    layer = Conv2D(2, 3, 3, stride=2, padding=1, rng=0)
    x_before = x.copy()
    y = layer.forward(x)
    g = rng.standard_normal(y.shape)
    g_before = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(g, g_before)


def test_gradients_accumulate_and_output_is_fresh():
    x = np.random.default_rng(4).standard_normal((2, 1, 5, 5))
    layer = Conv2D(1, 2, 3, rng=0)
    y1 = layer.forward(x)
    g = np.ones_like(y1)
    layer.backward(g)
    dW1, db1 = layer.W.grad.copy(), layer.b.grad.copy()
    y2 = layer.forward(x)
    assert not np.shares_memory(y1, y2)
    layer.backward(g)
    np.testing.assert_allclose(layer.W.grad, 2 * dW1, rtol=1e-12)
    np.testing.assert_allclose(layer.b.grad, 2 * db1, rtol=1e-12)


def test_same_seed_same_weights_and_he_scale():
    a, b = Conv2D(16, 32, 3, rng=5), Conv2D(16, 32, 3, rng=5)
    np.testing.assert_array_equal(a.W.value, b.W.value)
    assert not np.array_equal(a.W.value, Conv2D(16, 32, 3, rng=6).W.value)
    # He: std = sqrt(2 / fan_in), fan_in = C*kh*kw = 144
    assert abs(a.W.value.std() - np.sqrt(2 / 144)) < 0.01


def test_repr():
    assert repr(Conv2D(3, 8, 3)) == "Conv2D(3 -> 8, 3x3)"
    assert (
        repr(Conv2D(3, 8, (3, 5), stride=2, padding=1))
        == "Conv2D(3 -> 8, 3x5, stride=2, padding=1)"
    )


def test_channel_mismatch_message():
    with pytest.raises(
        ShapeError,
        match=r"^Conv2D\(3 -> 8, 3x3\): expected input of shape \(N, 3, H, W\), "
        r"got \(64, 1, 28, 28\)\.$",
    ):
        Conv2D(3, 8, 3, rng=0).forward(np.zeros((64, 1, 28, 28)))


def test_wrong_ndim_message():
    with pytest.raises(
        ShapeError,
        match=r"Conv2D\(1 -> 8, 3x3\): expected input of shape \(N, 1, H, W\), got \(28, 28\) "
        r"\(2 dimensions instead of 4\)",
    ):
        Conv2D(1, 8, 3, rng=0).forward(np.zeros((28, 28)))


def test_input_smaller_than_kernel_message_names_layer_kernel_padding_and_size():
    with pytest.raises(
        InvalidValueError,
        match=r"Conv2D\(8 -> 16, 5x5, padding=1\): input of size 2x2 \(padding 1x1, so 4x4 after "
        r"padding\) is smaller than the 5x5 kernel",
    ):
        Conv2D(8, 16, 5, padding=1, rng=0).forward(np.zeros((1, 8, 2, 2)))


def test_integer_input_is_rejected():
    with pytest.raises(
        DTypeError, match=r"Conv2D\(1 -> 2, 3x3\): expected input with a floating dtype"
    ):
        Conv2D(1, 2, 3, rng=0).forward(np.zeros((1, 1, 4, 4), dtype=np.int64))


def test_backward_errors():
    layer = Conv2D(1, 2, 3, rng=0)
    with pytest.raises(
        InvalidValueError, match=r"Conv2D\(1 -> 2, 3x3\): backward called before forward"
    ):
        layer.backward(np.zeros((1, 2, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(
        ShapeError,
        match=r"backward expected a gradient of shape \(1, 2, 2, 2\) .*got \(1, 2, 3, 3\)",
    ):
        layer.backward(np.zeros((1, 2, 3, 3)))


def test_constructor_errors():
    with pytest.raises(InvalidValueError, match=r"Conv2D: in_channels must be at least 1, got 0"):
        Conv2D(0, 8, 3)
    with pytest.raises(InvalidValueError, match=r"Conv2D: kernel_size must be at least 1, got 0"):
        Conv2D(1, 8, 0)
    with pytest.raises(InvalidValueError, match=r"Conv2D: padding must be at least 0, got -1"):
        Conv2D(1, 8, 3, padding=-1)
    with pytest.raises(InvalidValueError, match=r"Conv2D\(1 -> 8, 3x3\): init must be one of"):
        Conv2D(1, 8, 3, init="zeros")


def lesson_cnn(dtype=np.float32):
    return Sequential(
        Conv2D(1, 8, 3, padding=1, rng=0, dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Conv2D(8, 16, 3, padding=1, rng=1, dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(784, 10, rng=2, dtype=dtype),
    )


def test_lesson_cnn_gradcheck_end_to_end():
    # The whole stack (conv, relu, pool, flatten, dense, loss) on a tiny batch.
    model = Sequential(
        Conv2D(1, 2, 3, padding=1, rng=0),
        ReLU(),
        MaxPool2D(2),
        Conv2D(2, 3, 3, padding=1, rng=1),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(6, 3, rng=2),
    )
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 6))
    report = gradcheck(model, x, target=np.array([0, 2]), loss=SoftmaxCrossEntropy())
    assert report.passed(1e-7), report.summary()


def test_lesson_cnn_memory_peak_under_500_mb():
    model = lesson_cnn()
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    labels = np.arange(64) % 10
    loss = SoftmaxCrossEntropy()
    tracemalloc.start()  # NumPy reports its array allocations to tracemalloc
    try:
        loss.forward(model.forward(x), labels)
        model.backward(loss.backward())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model[0].W.grad.any() and model[7].W.grad.any()  # the pass really ran
    # The largest buffer is conv 2's columns: (8*3*3, 64*14*14) float32 = 3.6 MB.
    assert peak < 500e6, f"forward+backward peaked at {peak / 1e6:.0f} MB"
    assert peak > 3e6, f"tracemalloc saw only {peak / 1e6:.1f} MB: was anything traced?"
