"""RNN: the step functions, the layer over a sequence, BPTT gradients, state, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from recurrent_helpers import WithState

from dlteach.core import Sequential
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.recurrent import RNN, orthogonal, rnn_step_backward, rnn_step_forward
from dlteach.sequence import tbptt_windows


@st.composite
def rnn_case(draw):
    n, t = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    d, h = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    layer = RNN(d, h, return_sequences=draw(st.booleans()), rng=seed)
    layer.b.value = rng.normal(size=h)  # a nonzero bias, so a forgotten one shows
    return layer, rng.normal(size=(n, t, d)), rng.normal(size=(n, h)), draw(st.booleans())


@given(rnn_case())
def test_rnn_passes_gradcheck(case):
    layer, x, h0, with_h0 = case
    checked = WithState(layer, h0) if with_h0 else layer
    report = gradcheck(checked, x, seed=0)
    assert list(report.errors) == ["input", "Wx", "Wh", "b"]
    assert report.passed(1e-7), str(report)


@given(rnn_case())
def test_gradient_with_respect_to_h0_passes_gradcheck(case):
    layer, x, h0, _ = case
    r = np.random.default_rng(1).normal(size=layer.forward(x).shape)

    def loss_of_h0(h):
        layer.zero_grad()
        value = float(np.sum(layer.forward(x, h) * r))
        layer.backward(r)
        return value, layer.grad_h0

    report = gradcheck(loss_of_h0, h0)
    assert report.passed(1e-7), str(report)


@given(n=st.integers(1, 3), d=st.integers(1, 3), h=st.integers(1, 3), seed=st.integers(0, 999))
def test_step_functions_pass_gradcheck(n, d, h, seed):
    rng = np.random.default_rng(seed)
    x, h_prev = rng.normal(size=(n, d)), rng.normal(size=(n, h))
    Wx, Wh, b = rng.normal(size=(d, h)), rng.normal(size=(h, h)), rng.normal(size=h)
    r = rng.normal(size=(n, h))
    args = {"x": x, "h_prev": h_prev, "Wx": Wx, "Wh": Wh, "b": b}
    for k, name in enumerate(args):

        def f(value, name=name, k=k):
            a = dict(args, **{name: value})
            out, cache = rnn_step_forward(*a.values())
            return float(np.sum(out * r)), rnn_step_backward(r, cache)[k]

        report = gradcheck(f, args[name])
        assert report.passed(1e-7), f"{name}: {report}"


def test_the_layer_equals_the_step_function_in_a_loop():
    rng = np.random.default_rng(0)
    layer = RNN(3, 4, rng=0)
    layer.b.value = rng.normal(size=4)
    x, h0, g = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4))
    y = layer.forward(x, h0)
    dx = layer.backward(g)
    h, caches, hs = h0, [], []
    for t in range(5):
        h, cache = rnn_step_forward(x[:, t], h, layer.Wx.value, layer.Wh.value, layer.b.value)
        caches.append(cache)
        hs.append(h)
    np.testing.assert_allclose(y, np.stack(hs, axis=1), rtol=0, atol=1e-14)
    dh, dWx, dWh, db, dxs = np.zeros((2, 4)), 0, 0, 0, []
    for t in reversed(range(5)):
        dx_t, dh, dWx_t, dWh_t, db_t = rnn_step_backward(dh + g[:, t], caches[t])
        dxs.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    np.testing.assert_allclose(dx, np.stack(dxs[::-1], axis=1), rtol=0, atol=1e-13)
    np.testing.assert_allclose(layer.Wx.grad, dWx, rtol=0, atol=1e-13)
    np.testing.assert_allclose(layer.Wh.grad, dWh, rtol=0, atol=1e-13)
    np.testing.assert_allclose(layer.b.grad, db, rtol=0, atol=1e-13)
    np.testing.assert_allclose(layer.grad_h0, dh, rtol=0, atol=1e-13)


def test_return_sequences_false_gives_the_last_state():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 2))
    full, last = RNN(2, 5, rng=3), RNN(2, 5, return_sequences=False, rng=3)
    y_full, y_last = full.forward(x), last.forward(x)
    assert y_full.shape == (3, 6, 5) and y_last.shape == (3, 5)
    np.testing.assert_array_equal(y_last, y_full[:, -1])
    np.testing.assert_array_equal(last.last_state, y_last)
    # The gradient at the last step only: the same as a full gradient that is 0 elsewhere.
    g = rng.normal(size=(3, 5))
    g_full = np.zeros_like(y_full)
    g_full[:, -1] = g
    np.testing.assert_allclose(last.backward(g), full.backward(g_full), rtol=0, atol=1e-14)
    np.testing.assert_allclose(last.Wh.grad, full.Wh.grad, rtol=0, atol=1e-14)


def test_stateful_windows_equal_one_long_pass():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 11, 3))
    long = RNN(3, 4, rng=5)
    y_long = long.forward(x)
    stateful = RNN(3, 4, stateful=True, rng=5)
    parts = [stateful.forward(xw) for xw, _ in tbptt_windows(x, 4)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), y_long, rtol=0, atol=1e-14)
    np.testing.assert_allclose(stateful.last_state, long.last_state, rtol=0, atol=1e-14)
    # Passing last_state by hand does the same without stateful=True.
    manual, h, parts = RNN(3, 4, rng=5), None, []
    for xw, _ in tbptt_windows(x, 4):
        parts.append(manual.forward(xw, h))
        h = manual.last_state
    np.testing.assert_allclose(np.concatenate(parts, axis=1), y_long, rtol=0, atol=1e-14)
    # reset_state starts again from zeros.
    stateful.reset_state()
    np.testing.assert_allclose(stateful.forward(x[:, :4]), y_long[:, :4], rtol=0, atol=1e-14)


def test_stateful_backward_stops_at_the_window_start():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 3))
    layer = RNN(3, 4, stateful=True, rng=1)
    layer.forward(x[:, :3])
    carried = layer.last_state
    g = rng.normal(size=(2, 3, 4))
    layer.forward(x[:, 3:])
    dx = layer.backward(g)
    # The same as a fresh layer given the carried state as a constant h0.
    fresh = RNN(3, 4, rng=1)
    fresh.forward(x[:, 3:], carried)
    np.testing.assert_array_equal(dx, fresh.backward(g))
    np.testing.assert_array_equal(layer.Wh.grad, fresh.Wh.grad)
    np.testing.assert_array_equal(layer.grad_h0, fresh.grad_h0)


def test_shape_errors_name_the_layer_and_both_shapes():
    layer = RNN(3, 4, rng=0)
    with pytest.raises(ShapeError, match=r"^RNN\(3 -> 4\): expected input of shape \(N, T, 3\) "
                                         r"\(batch, time steps, features\), got \(2, 5, 2\)\.$"):
        layer.forward(np.zeros((2, 5, 2)))
    with pytest.raises(ShapeError, match=r"^RNN\(3 -> 4\): expected input of shape \(N, T, 3\).*"
                                         r"got \(2, 3\)\. A batch of single steps\? .*\(2, 1, 3\)"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"got \(2, 5\)\. Token ids\? Put an Embedding"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ShapeError, match=r"got \(1, 2, 5, 3\)\.$"):
        layer.forward(np.zeros((1, 2, 5, 3)))
    with pytest.raises(ShapeError, match=r"^RNN\(3 -> 4\): expected h0 of shape \(N, 4\) = "
                                         r"\(2, 4\) for a batch of 2, got \(2, 5\)\.$"):
        layer.forward(np.zeros((2, 5, 3)), np.zeros((2, 5)))
    with pytest.raises(ShapeError, match=r"expected h0 .* got \(3, 4\)"):
        layer.forward(np.zeros((2, 5, 3)), np.zeros((3, 4)))
    with pytest.raises(DTypeError, match=r"^RNN\(3 -> 4\): expected input with a floating"):
        layer.forward(np.zeros((2, 5, 3), dtype=int))
    with pytest.raises(InvalidValueError, match=r"^RNN\(3 -> 4\): input is empty"):
        layer.forward(np.zeros((2, 0, 3)))


def test_state_and_backward_errors():
    layer = RNN(3, 4, stateful=True, rng=0)
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        layer.backward(np.zeros((2, 5, 4)))
    with pytest.raises(InvalidValueError, match=r"^RNN\(3 -> 4, stateful=True\): no state yet"):
        layer.last_state  # noqa: B018
    with pytest.raises(InvalidValueError, match=r"no gradient of the initial state yet"):
        layer.grad_h0  # noqa: B018
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(2, 5, 4\)"):
        layer.backward(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"stateful, .* batch size 2; got a batch of 3\. Call "
                                         r"reset_state\(\)"):
        layer.forward(np.zeros((3, 5, 3)))
    layer.reset_state()
    assert layer.forward(np.zeros((3, 5, 3))).shape == (3, 5, 4)


def test_constructor_errors_and_repr():
    with pytest.raises(InvalidValueError, match=r"^RNN: hidden_size must be at least 1, got 0"):
        RNN(3, 0)
    with pytest.raises(InvalidValueError, match=r"^RNN: recurrent_init must be one of"):
        RNN(3, 2, recurrent_init="zeros")
    assert repr(RNN(3, 2, return_sequences=False, stateful=True)) == (
        "RNN(3 -> 2, return_sequences=False, stateful=True)"
    )


def test_same_seed_same_weights_and_orthogonal_recurrent_weights():
    a, b = RNN(3, 6, rng=7), RNN(3, 6, rng=7)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)
    assert not np.array_equal(a.Wx.value, RNN(3, 6, rng=8).Wx.value)
    np.testing.assert_allclose(a.Wh.value @ a.Wh.value.T, np.eye(6), atol=1e-12)
    q = orthogonal((3, 5), np.random.default_rng(0), np.float64)
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


def test_inputs_are_not_modified_and_gradients_accumulate():
    rng = np.random.default_rng(4)
    layer = RNN(3, 4, rng=0)
    x, h0, g = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4))
    copies = x.copy(), h0.copy(), g.copy()
    layer.forward(x, h0)
    layer.backward(g)
    for a, b in zip((x, h0, g), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    once = layer.Wh.grad.copy()
    layer.forward(x, h0)
    layer.backward(g)
    np.testing.assert_allclose(layer.Wh.grad, 2 * once)


def test_inside_a_sequential_and_float32():
    from dlteach.dense import Dense

    model = Sequential(RNN(2, 3, return_sequences=False, rng=0, dtype=np.float32),
                       Dense(3, 2, rng=1, dtype=np.float32))
    x = np.random.default_rng(0).normal(size=(4, 7, 2)).astype(np.float32)
    y = model.forward(x)
    assert y.shape == (4, 2) and y.dtype == np.float32
    assert model.backward(np.ones_like(y)).dtype == np.float32
    assert list(model.named_parameters()) == ["0.Wx", "0.Wh", "0.b", "1.W", "1.b"]
