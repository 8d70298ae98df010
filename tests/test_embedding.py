"""Embedding: lookups, gradient accumulation over repeated tokens, dtypes and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.core import Sequential
from dlteach.embedding import Embedding, check_tokens
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.lstm import LSTM


def test_forward_looks_up_rows():
    layer = Embedding(5, 3, rng=0)
    tokens = np.array([[4, 0, 4], [1, 2, 3]])
    y = layer.forward(tokens)
    assert y.shape == (2, 3, 3) and y.dtype == np.float64
    np.testing.assert_array_equal(y[0, 0], layer.W.value[4])
    np.testing.assert_array_equal(y[1], layer.W.value[[1, 2, 3]])
    assert layer.forward(np.array([2, 0])).shape == (2, 3)  # one token per example


def test_repeated_tokens_accumulate_their_gradients():
    layer = Embedding(4, 2, rng=0)
    tokens = np.array([[1, 1, 2], [1, 0, 2]])
    g = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    layer.forward(tokens)
    dx = layer.backward(g)
    want = np.zeros((4, 2))
    for n in range(2):
        for t in range(3):
            want[tokens[n, t]] += g[n, t]
    np.testing.assert_array_equal(layer.W.grad, want)
    np.testing.assert_array_equal(layer.W.grad[1], g[0, 0] + g[0, 1] + g[1, 0])  # 3 uses
    np.testing.assert_array_equal(layer.W.grad[3], 0)  # never used
    assert dx.shape == tokens.shape and not dx.any()  # tokens have no gradient
    layer.forward(tokens)
    layer.backward(g)
    np.testing.assert_array_equal(layer.W.grad, 2 * want)  # and across calls


@given(n=st.integers(1, 4), t=st.integers(1, 5), v=st.integers(1, 6), d=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_the_table_gradient_passes_gradcheck(n, t, v, d, seed):
    rng = np.random.default_rng(seed)
    layer = Embedding(v, d, rng=seed)
    tokens = rng.integers(0, v, size=(n, t))  # repeats are likely with a small vocabulary
    r = rng.normal(size=(n, t, d))

    def loss_of_table(W):
        layer.W.value, layer.W.grad = W, np.zeros_like(W)
        value = float(np.sum(layer.forward(tokens) * r))
        layer.backward(r)
        return value, layer.W.grad

    report = gradcheck(loss_of_table, layer.W.value.copy())
    assert report.passed(1e-7), str(report)


@given(seed=st.integers(0, 2**16))
def test_embedding_then_lstm_gradients_of_the_table(seed):
    rng = np.random.default_rng(seed)
    emb, lstm = Embedding(5, 3, rng=seed), LSTM(3, 2, rng=seed + 1)
    model = Sequential(emb, lstm)
    tokens = rng.integers(0, 5, size=(2, 4))
    r = rng.normal(size=(2, 4, 2))

    def loss_of_table(W):
        emb.W.value = W
        model.zero_grad()
        value = float(np.sum(model.forward(tokens) * r))
        model.backward(r)
        return value, emb.W.grad

    report = gradcheck(loss_of_table, emb.W.value.copy())
    assert report.passed(1e-7), str(report)


def test_dtypes_integer_tokens_take_the_tables_float_tokens_their_own():
    layer = Embedding(5, 3, rng=0, dtype=np.float32)
    assert layer.forward(np.array([[1, 2]])).dtype == np.float32
    y = layer.forward(np.array([[1.0, 2.0]]))  # as fit passes X: floats, whole numbers
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y[0, 0], layer.W.value[1].astype(np.float64))
    dx = layer.backward(np.ones((1, 2, 3)))
    assert dx.dtype == np.float64 and layer.W.grad.dtype == np.float32
    np.testing.assert_array_equal(layer.W.grad[[1, 2]], 1)


def test_token_errors_name_the_layer_the_vocabulary_and_the_place():
    layer = Embedding(10, 4, rng=0)
    with pytest.raises(InvalidValueError, match=r"^Embedding\(10 -> 4\): tokens must lie in 0\.\.9 "
                                                r"\(a vocabulary of 10\), got 12 at row 1, "
                                                r"column 2\.$"):
        layer.forward(np.array([[0, 1, 2], [3, 4, 12]]))
    with pytest.raises(InvalidValueError, match=r"got -1 at row 0, column 0 \(2 tokens are out"):
        layer.forward(np.array([[-1, 1, 10]]))
    with pytest.raises(DTypeError, match=r"^Embedding\(10 -> 4\): tokens must be whole numbers "
                                         r"\(token ids\), got 2\.5 at row 0, column 1\."):
        layer.forward(np.array([[1.0, 2.5]]))
    with pytest.raises(DTypeError, match=r"got nan at row 1"):
        layer.forward(np.array([1.0, np.nan]))
    with pytest.raises(ShapeError, match=r"^Embedding\(10 -> 4\): expected tokens of shape "
                                         r"\(N,\) or \(N, T\) \(token ids\), got \(2, 3, 4\)\.$"):
        layer.forward(np.zeros((2, 3, 4), dtype=int))
    with pytest.raises(DTypeError, match=r"expected tokens to hold numbers, got dtype bool"):
        layer.forward(np.array([True, False]))
    with pytest.raises(InvalidValueError, match=r"tokens is empty"):
        layer.forward(np.zeros((2, 0), dtype=int))


def test_backward_errors_and_constructor_errors():
    layer = Embedding(10, 4, rng=0)
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        layer.backward(np.zeros((1, 4)))
    layer.forward(np.array([[1, 2]]))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(1, 2, 4\)"):
        layer.backward(np.zeros((1, 4)))
    with pytest.raises(InvalidValueError, match=r"^Embedding: vocab_size must be at least 1"):
        Embedding(0, 3)
    with pytest.raises(DTypeError, match=r"^Embedding: expected dim to be an integer"):
        Embedding(3, 2.0)


def test_same_seed_same_table_and_inputs_untouched():
    np.testing.assert_array_equal(Embedding(6, 3, rng=1).W.value, Embedding(6, 3, rng=1).W.value)
    assert not np.array_equal(Embedding(6, 3, rng=1).W.value, Embedding(6, 3, rng=2).W.value)
    layer = Embedding(6, 3, rng=0)
    tokens, g = np.array([[1, 5]]), np.ones((1, 2, 3))
    y = layer.forward(tokens)
    y[...] = 0  # the output is a copy: the table is untouched
    assert layer.W.value.any()
    layer.backward(g)
    np.testing.assert_array_equal(tokens, [[1, 5]])
    np.testing.assert_array_equal(g, 1)


def test_check_tokens_is_reusable():
    np.testing.assert_array_equal(check_tokens([3, 1], 4, owner="me"), [3, 1])
    with pytest.raises(ShapeError, match=r"^me: expected ids of shape \(N,\) \(token ids\)"):
        check_tokens([[1]], 4, owner="me", name="ids", ndims=(1,))
