"""MaxPool2D and AvgPool2D: agreement with plain loops, gradients, ties, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.conv_reference import (
    avgpool2d_backward_naive,
    avgpool2d_forward_naive,
    maxpool2d_backward_naive,
    maxpool2d_forward_naive,
)
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.pooling import AvgPool2D, MaxPool2D

REFERENCE = {
    MaxPool2D: (maxpool2d_forward_naive, maxpool2d_backward_naive),
    AvgPool2D: (avgpool2d_forward_naive, avgpool2d_backward_naive),
}


@st.composite
def pool_case(draw, ties=False):
    """A pooling configuration (overlapping windows included) and an input that fits it."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    H, W = draw(st.integers(kh, kh + 5)), draw(st.integers(kw, kw + 5))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if ties:  # few distinct values: many windows hold their maximum twice or more
        x = rng.integers(0, 3, size=(N, C, H, W)).astype(np.float64)
    else:
        x = rng.standard_normal((N, C, H, W))
    return (kh, kw), stride, x


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@given(case=pool_case())
def test_fast_layer_matches_plain_loops(cls, case):
    k, stride, x = case
    forward_ref, backward_ref = REFERENCE[cls]
    layer = cls(k, stride)
    y = layer.forward(x)
    np.testing.assert_allclose(y, forward_ref(x, k, stride), rtol=0, atol=1e-10)
    g = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(g), backward_ref(g, x, k, stride), rtol=0, atol=1e-10)


@given(case=pool_case(ties=True))
def test_max_pool_ties_follow_the_reference_rule(case):
    k, stride, x = case
    layer = MaxPool2D(k, stride)
    y = layer.forward(x)
    g = np.random.default_rng(2).standard_normal(y.shape)
    dx = layer.backward(g)
    np.testing.assert_allclose(dx, maxpool2d_backward_naive(g, x, k, stride), rtol=0, atol=1e-10)
    # Each window passes on exactly its own gradient, once: the totals agree.
    assert np.isclose(dx.sum(), g.sum())


def test_max_pool_tie_goes_to_the_first_maximum_in_window_order():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 2] = 5.0  # second window: one clear maximum at row 1, column 0 of the window
    layer = MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.array([[[[1.0, 2.0]]]]))
    expected = np.zeros((1, 1, 2, 4))
    expected[0, 0, 0, 0] = 1.0  # all-zero window: the first element, top-left, gets it
    expected[0, 0, 1, 2] = 2.0
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("k, stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_gradcheck(cls, k, stride):
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 6))
    report = gradcheck(cls(k, stride), x, seed=0)
    assert report.passed(1e-7), report.summary()


def test_known_values():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(MaxPool2D(2).forward(x)[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AvgPool2D(2).forward(x)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # overlapping 3x3 windows with stride 1
    np.testing.assert_array_equal(MaxPool2D(3, 1).forward(x)[0, 0], [[10, 11], [14, 15]])


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_dtype_preserved_and_input_not_modified(cls):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 6)).astype(np.float32)
    before = x.copy()
    layer = cls(2)
    y = layer.forward(x)
    assert y.dtype == np.float32 and y.shape == (2, 3, 3, 3)
    g = np.ones_like(y)
    dx = layer.backward(g)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(g, np.ones_like(y))
    assert not np.shares_memory(y, x)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_non_contiguous_input(cls):
    base = np.random.default_rng(5).standard_normal((2, 3, 8, 12))
    x = base[:, ::-1, :, ::2]  # reversed channels, every other column
    layer = cls(2)
    y = layer.forward(x)
    g = np.random.default_rng(6).standard_normal(y.shape)
    dx = layer.backward(g)
    forward_ref, backward_ref = REFERENCE[cls]
    np.testing.assert_allclose(y, forward_ref(x, 2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, backward_ref(g, x, 2), rtol=0, atol=1e-12)


def test_stride_defaults_to_kernel_and_repr():
    assert MaxPool2D(3).stride == (3, 3)
    assert repr(MaxPool2D()) == "MaxPool2D(2x2)"
    assert repr(AvgPool2D(3, 1)) == "AvgPool2D(3x3, stride=1)"
    assert MaxPool2D(2).parameters() == []


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_errors(cls):
    name = cls.__name__
    with pytest.raises(
        ShapeError,
        match=rf"{name}\(2x2\): expected input of shape \(N, C, H, W\), got \(8, 28, 28\) "
        r"\(3 dimensions instead of 4\)",
    ):
        cls(2).forward(np.zeros((8, 28, 28)))
    with pytest.raises(
        InvalidValueError,
        match=rf"^{name}\(3x3\): input of size 2x5 is smaller than the 3x3 kernel\. Use a "
        r"smaller kernel, or a larger input \(was it pooled too often\?\)\.$",
    ):
        cls(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(InvalidValueError, match=rf"{name}: kernel_size must be at least 1, got 0"):
        cls(0)
    layer = cls(2)
    with pytest.raises(InvalidValueError, match=rf"{name}\(2x2\): backward called before forward"):
        layer.backward(np.zeros((1, 1, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(1, 1, 2, 2\)"):
        layer.backward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("k, stride", [(2, None), (3, 2), (2, 1)])
def test_max_pool_nan_window_sends_its_gradient_to_the_last_element(k, stride):
    x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)[..., ::-1, :].copy()
    x[0, 0, 0, 0] = np.nan  # first element of the first window: the maximum would be later
    layer = MaxPool2D(k, stride)
    y = layer.forward(x)
    g = np.random.default_rng(7).standard_normal(y.shape)
    dx = layer.backward(g)
    # The documented rule, window by window (np.argmax would pick the NaN itself).
    s = k if stride is None else stride
    expected = np.zeros_like(x)
    for h in range(y.shape[2]):
        for w in range(y.shape[3]):
            window = x[0, 0, h * s : h * s + k, w * s : w * s + k]
            flat = k * k - 1 if np.isnan(window).any() else int(np.argmax(window))
            expected[0, 0, h * s + flat // k, w * s + flat % k] += g[0, 0, h, w]
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, -1, -1])
    np.testing.assert_allclose(dx, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 7)])  # tiled exactly / edges left over
def test_max_pool_tiled_and_cropped_inputs_with_ties(dtype, shape):
    x = np.random.default_rng(8).integers(0, 2, size=shape).astype(dtype)  # many ties
    layer = MaxPool2D(2)
    y = layer.forward(x)
    g = np.random.default_rng(9).standard_normal(y.shape).astype(dtype)
    dx = layer.backward(g)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, maxpool2d_backward_naive(g, x, 2))
    if shape[2] % 2:  # the last row belongs to no window: its gradient is zero, not garbage
        assert not dx[:, :, -1].any()


def test_max_pool_window_of_more_than_256_elements():
    # The argmax index of a 17x17 window (289 elements) needs more than 8 bits.
    x = np.random.default_rng(10).standard_normal((1, 2, 17, 18))
    layer = MaxPool2D(17, 1)
    y = layer.forward(x)
    g = np.ones_like(y)
    np.testing.assert_allclose(
        layer.backward(g), maxpool2d_backward_naive(g, x, 17, 1), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(y, maxpool2d_forward_naive(x, 17, 1))
