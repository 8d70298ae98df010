"""Flatten: (N, ...) -> (N, prod) and back."""

import numpy as np
import pytest

from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.reshape import Flatten


def test_forward_flattens_in_nchw_order_and_backward_restores_shape():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    layer = Flatten()
    y = layer.forward(x)
    assert y.shape == (2, 60) and y.dtype == np.float32
    assert y[1, 2 * 20 + 3 * 5 + 4] == x[1, 2, 3, 4]  # feature c*H*W + h*W + w
    g = np.random.default_rng(0).standard_normal((2, 60)).astype(np.float32)
    dx = layer.backward(g)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_array_equal(dx[1, 2, 3, 4], g[1, 2 * 20 + 3 * 5 + 4])


def test_already_flat_input_and_any_rank():
    assert Flatten().forward(np.zeros((7, 3))).shape == (7, 3)
    assert Flatten().forward(np.zeros((2, 2, 2, 2, 2))).shape == (2, 16)


def test_gradcheck_with_a_dense_layer_after_it():
    model = Sequential(Flatten(), Dense(12, 2, rng=0))
    report = gradcheck(model, np.random.default_rng(1).standard_normal((3, 3, 2, 2)))
    assert report.passed(1e-7), report.summary()


def test_input_not_modified():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    before = x.copy()
    layer = Flatten()
    layer.forward(x)
    layer.backward(np.ones((2, 12)))
    np.testing.assert_array_equal(x, before)


def test_errors():
    with pytest.raises(
        ShapeError,
        match=r"Flatten\(\): expected input of shape \(N, \.\.\.\) with at least 2 dimensions, "
        r"got \(5,\)",
    ):
        Flatten().forward(np.zeros(5))
    layer = Flatten()
    with pytest.raises(InvalidValueError, match=r"Flatten\(\): backward called before forward"):
        layer.backward(np.zeros((2, 4)))
    layer.forward(np.zeros((2, 2, 2)))
    with pytest.raises(
        ShapeError, match=r"Flatten\(\): backward expected a gradient of shape \(2, 4\)"
    ):
        layer.backward(np.zeros((2, 5)))
