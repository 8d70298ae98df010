"""LSTM: fused gates against a per-gate reference, BPTT gradients, state, gates, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from recurrent_helpers import WithState

from dlteach.activations import sigmoid
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.lstm import GATES, LSTM, lstm_step_backward, lstm_step_forward
from dlteach.recurrent import RNN
from dlteach.sequence import tbptt_windows


def per_gate_reference(x, h0, c0, Wx, Wh, b):
    """The LSTM written gate by gate, with separate matrices: no fused product, no tricks."""
    H = h0.shape[1]
    blocks = [slice(k * H, (k + 1) * H) for k in range(4)]
    (Wxi, Wxf, Wxo, Wxg) = (Wx[:, s] for s in blocks)
    (Whi, Whf, Who, Whg) = (Wh[:, s] for s in blocks)
    (bi, bf, bo, bg) = (b[s] for s in blocks)
    h, c, hs, gates = h0, c0, [], {name: [] for name in GATES}
    for t in range(x.shape[1]):
        xt = x[:, t]
        i = sigmoid(xt @ Wxi + h @ Whi + bi)
        f = sigmoid(xt @ Wxf + h @ Whf + bf)
        o = sigmoid(xt @ Wxo + h @ Who + bo)
        g = np.tanh(xt @ Wxg + h @ Whg + bg)
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
        for name, value in zip(GATES, (i, f, o, g), strict=True):
            gates[name].append(value)
    return np.stack(hs, axis=1), c, {k: np.stack(v, axis=1) for k, v in gates.items()}


@st.composite
def lstm_case(draw):
    n, t = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    d, h = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    layer = LSTM(d, h, return_sequences=draw(st.booleans()), rng=seed)
    layer.b.value = rng.normal(size=4 * h)
    states = rng.normal(size=(n, h)), rng.normal(size=(n, h))
    return layer, rng.normal(size=(n, t, d)), states, draw(st.booleans())


@given(lstm_case())
def test_lstm_passes_gradcheck(case):
    layer, x, states, with_state = case
    checked = WithState(layer, *states) if with_state else layer
    report = gradcheck(checked, x, seed=0)
    assert list(report.errors) == ["input", "Wx", "Wh", "b"]
    assert report.passed(1e-7), str(report)


@given(lstm_case())
def test_gradients_with_respect_to_h0_and_c0_pass_gradcheck(case):
    layer, x, (h0, c0), _ = case
    r = np.random.default_rng(1).normal(size=layer.forward(x).shape)

    def loss_of(which):
        def f(s):
            layer.zero_grad()
            state = (s, c0) if which == "h0" else (h0, s)
            value = float(np.sum(layer.forward(x, *state) * r))
            layer.backward(r)
            return value, layer.grad_h0 if which == "h0" else layer.grad_c0
        return f

    for which, s in (("h0", h0), ("c0", c0)):
        report = gradcheck(loss_of(which), s)
        assert report.passed(1e-7), f"{which}: {report}"


@given(n=st.integers(1, 3), d=st.integers(1, 3), h=st.integers(1, 3), seed=st.integers(0, 999))
def test_step_functions_pass_gradcheck(n, d, h, seed):
    rng = np.random.default_rng(seed)
    args = {"x": rng.normal(size=(n, d)), "h_prev": rng.normal(size=(n, h)),
            "c_prev": rng.normal(size=(n, h)), "Wx": rng.normal(size=(d, 4 * h)),
            "Wh": rng.normal(size=(h, 4 * h)), "b": rng.normal(size=4 * h)}
    r_h, r_c = rng.normal(size=(n, h)), rng.normal(size=(n, h))
    # L = sum(h * r_h) + sum(c * r_c): both outputs of the step matter.
    order = {"x": 0, "h_prev": 1, "c_prev": 2, "Wx": 3, "Wh": 4, "b": 5}
    for name, k in order.items():

        def f(value, name=name, k=k):
            a = dict(args, **{name: value})
            h_new, c_new, cache = lstm_step_forward(*a.values())
            value = float(np.sum(h_new * r_h) + np.sum(c_new * r_c))
            return value, lstm_step_backward(r_h, r_c, cache)[k]

        report = gradcheck(f, args[name])
        assert report.passed(1e-7), f"{name}: {report}"


@given(n=st.integers(1, 4), t=st.integers(1, 6), d=st.integers(1, 5), h=st.integers(1, 5),
       seed=st.integers(0, 999))
def test_fused_gates_equal_a_per_gate_reference(n, t, d, h, seed):
    rng = np.random.default_rng(seed)
    layer = LSTM(d, h, rng=seed)
    layer.b.value = rng.normal(size=4 * h)
    x, h0, c0 = rng.normal(size=(n, t, d)), rng.normal(size=(n, h)), rng.normal(size=(n, h))
    y = layer.forward(x, h0, c0)
    want, c_last, gates = per_gate_reference(x, h0, c0, layer.Wx.value, layer.Wh.value,
                                             layer.b.value)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.last_state[0], want[:, -1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.last_state[1], c_last, rtol=1e-12, atol=1e-14)
    got = layer.gates
    assert list(got) == ["input", "forget", "output", "candidate"]
    for name in GATES:
        assert got[name].shape == (n, t, h)
        np.testing.assert_allclose(got[name], gates[name], rtol=1e-12, atol=1e-14)
    # The step function is the same computation.
    h_s, _, _ = lstm_step_forward(x[:, 0], h0, c0, layer.Wx.value, layer.Wh.value,
                                    layer.b.value)
    np.testing.assert_allclose(h_s, want[:, 0], rtol=1e-12, atol=1e-14)


def test_the_layer_backward_equals_the_step_functions_in_a_loop():
    rng = np.random.default_rng(0)
    layer = LSTM(3, 4, rng=0)
    x, g = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 4))
    h0, c0 = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    layer.forward(x, h0, c0)
    dx = layer.backward(g)
    W = layer.Wx.value, layer.Wh.value, layer.b.value
    h, c, caches = h0, c0, []
    for t in range(5):
        h, c, cache = lstm_step_forward(x[:, t], h, c, *W)
        caches.append(cache)
    dh, dc, dWx, dWh, db, dxs = np.zeros((2, 4)), np.zeros((2, 4)), 0, 0, 0, []
    for t in reversed(range(5)):
        dx_t, dh, dc, dWx_t, dWh_t, db_t = lstm_step_backward(dh + g[:, t], dc, caches[t])
        dxs.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    np.testing.assert_allclose(dx, np.stack(dxs[::-1], axis=1), rtol=1e-12, atol=1e-13)
    for got, want in ((layer.Wx.grad, dWx), (layer.Wh.grad, dWh), (layer.b.grad, db),
                      (layer.grad_h0, dh), (layer.grad_c0, dc)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_forget_bias_and_initialization():
    layer = LSTM(3, 4, rng=0)
    np.testing.assert_array_equal(layer.b.value[4:8], 1.0)  # the forget gate's block
    np.testing.assert_array_equal(np.delete(layer.b.value, range(4, 8)), 0.0)
    assert LSTM(3, 4, forget_bias=0.0, rng=0).b.value.any() == 0
    assert layer.Wx.value.shape == (3, 16) and layer.Wh.value.shape == (4, 16)
    for k in range(4):  # one orthogonal block per gate
        block = layer.Wh.value[:, 4 * k : 4 * k + 4]
        np.testing.assert_allclose(block @ block.T, np.eye(4), atol=1e-12)
    with pytest.raises(DTypeError, match=r"^LSTM: expected forget_bias to be a number, got str"):
        LSTM(3, 4, forget_bias="1")
    a, b = LSTM(3, 4, rng=5), LSTM(3, 4, rng=5)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_stateful_windows_equal_one_long_pass():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 13, 2))
    long = LSTM(2, 5, rng=5)
    y_long = long.forward(x)
    stateful = LSTM(2, 5, stateful=True, rng=5)
    parts = [stateful.forward(xw) for xw, _ in tbptt_windows(x, 5)]
    assert [p.shape[1] for p in parts] == [5, 5, 3]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), y_long, rtol=0, atol=1e-14)
    for got, want in zip(stateful.last_state, long.last_state, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    manual, state, parts = LSTM(2, 5, rng=5), (None, None), []
    for xw, _ in tbptt_windows(x, 5):
        parts.append(manual.forward(xw, *state))
        state = manual.last_state
    np.testing.assert_allclose(np.concatenate(parts, axis=1), y_long, rtol=0, atol=1e-14)


def test_truncated_bptt_training_steps_run_and_stop_at_each_window():
    # One window's backward with the carried state = a fresh layer given that state.
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=(2, 8, 3)), rng.normal(size=(2, 4, 4))
    layer = LSTM(3, 4, stateful=True, rng=1)
    layer.forward(x[:, :4])
    h, c = layer.last_state
    layer.forward(x[:, 4:])
    dx = layer.backward(g)
    fresh = LSTM(3, 4, rng=1)
    fresh.forward(x[:, 4:], h, c)
    np.testing.assert_array_equal(dx, fresh.backward(g))
    np.testing.assert_array_equal(layer.Wx.grad, fresh.Wx.grad)
    np.testing.assert_array_equal(layer.grad_c0, fresh.grad_c0)


def test_float32_is_close_to_float64():
    rng = np.random.default_rng(4)
    x, g = rng.normal(size=(4, 9, 3)), rng.normal(size=(4, 9, 6))
    l64, l32 = LSTM(3, 6, rng=2), LSTM(3, 6, rng=2, dtype=np.float32)
    y64, y32 = l64.forward(x), l32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32 and l32.Wx.value.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-6)
    dx64, dx32 = l64.backward(g), l32.backward(g.astype(np.float32))
    assert dx32.dtype == np.float32 and l32.Wh.grad.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(l32.Wh.grad, l64.Wh.grad, rtol=1e-4, atol=1e-5)


def test_errors_name_the_layer_and_both_shapes():
    layer = LSTM(3, 4, rng=0)
    with pytest.raises(ShapeError, match=r"^LSTM\(3 -> 4\): expected input of shape \(N, T, 3\) "
                                         r"\(batch, time steps, features\), got \(2, 5, 7\)\.$"):
        layer.forward(np.zeros((2, 5, 7)))
    with pytest.raises(ShapeError, match=r"^LSTM\(3 -> 4\): expected input of shape .* got \(5,\)"):
        layer.forward(np.zeros(5))
    with pytest.raises(ShapeError, match=r"^LSTM\(3 -> 4\): expected c0 of shape \(N, 4\) = "
                                         r"\(2, 4\) for a batch of 2, got \(2, 3\)\.$"):
        layer.forward(np.zeros((2, 5, 3)), np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"^LSTM\(3 -> 4\): expected h0 of shape .* got \(4,\)"):
        layer.forward(np.zeros((2, 5, 3)), np.zeros(4))
    with pytest.raises(InvalidValueError, match=r"^LSTM\(3 -> 4\): no gates yet"):
        layer.gates  # noqa: B018
    with pytest.raises(InvalidValueError, match=r"no gradient of the initial state yet"):
        layer.grad_c0  # noqa: B018
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(2, 5, 4\)"):
        layer.backward(np.zeros((2, 4)))
    last = LSTM(3, 4, return_sequences=False, rng=0)
    last.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(2, 4\)"):
        last.backward(np.zeros((2, 5, 4)))


def test_inputs_are_not_modified_and_seeds_repeat():
    rng = np.random.default_rng(5)
    layer = LSTM(3, 4, rng=0)
    x, g = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 4))
    h0, c0 = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    copies = [a.copy() for a in (x, g, h0, c0)]
    y1 = layer.forward(x, h0, c0)
    layer.backward(g)
    for a, b in zip((x, g, h0, c0), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(LSTM(3, 4, rng=0).forward(x, h0, c0), y1)
    gates = layer.gates
    gates["input"][...] = 7  # a copy: the layer's own activations are untouched
    assert not (layer.gates["input"] == 7).any()


def test_the_cell_state_carries_gradient_further_than_an_rnn():
    # With the forget gate open (bias 1), dL/dx at the first step is far larger in an LSTM
    # than in a vanilla RNN of the same size over 40 steps.
    from dlteach.recurrent import RNN
    from dlteach.sequence import gradient_through_time

    x = np.random.default_rng(6).normal(size=(8, 40, 4))
    rnn_norms = gradient_through_time(RNN(4, 16, rng=0), x)
    lstm_norms = gradient_through_time(LSTM(4, 16, forget_bias=3.0, rng=0), x)
    assert rnn_norms.shape == lstm_norms.shape == (40,)
    assert rnn_norms[0] / rnn_norms[-1] < lstm_norms[0] / lstm_norms[-1]


@pytest.mark.parametrize("make", [lambda: LSTM(3, 4, rng=0), lambda: RNN(3, 4, rng=0)])
@pytest.mark.parametrize("steps", [1, 5])
def test_an_output_is_never_overwritten_by_the_next_call(make, steps):
    # The layers keep work buffers between calls; what they return must be the caller's.
    layer = make()
    x1, x2 = np.random.default_rng(1).normal(size=(2, 2, steps, 3))
    y1 = layer.forward(x1)
    kept = y1.copy()
    layer.forward(x2)
    np.testing.assert_array_equal(y1, kept)
    g = np.ones_like(kept)
    dx1 = layer.backward(g)
    kept_dx = dx1.copy()
    layer.forward(x1)
    layer.backward(2 * g)
    np.testing.assert_array_equal(dx1, kept_dx)
