"""Lesson 5's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, failed_at, flat

import dlteach as dl
from dlteach import optim
from dlteach.checking import Case, rebuilt_inputs
from dlteach.exercises import lesson05 as ex

# ---------------------------------------------------------------- learner-style solutions


def sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def rnn_step(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh + b)


def rnn_step_backward(grad_h, x, h_prev, h, Wx, Wh):
    dz = grad_h * (1 - h**2)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, h_prev.T @ dz, dz.sum(axis=0)


def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), sigmoid(z[:, 2 * H:3 * H])
    g = np.tanh(z[:, 3 * H:])
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def lstm_cell_grad(grad_h, grad_c, o, c, f):
    return f * (grad_c + grad_h * o * (1 - np.tanh(c) ** 2))


def clip_grad_norm(grads, max_norm):
    peak = max(float(np.max(np.abs(g))) for g in grads)  # in units of the largest entry
    norm = peak * math.sqrt(sum(float(np.sum((g / peak) ** 2)) for g in grads)) if peak else 0.0
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads], norm


def softmax_with_temperature(scores, temperature):
    z = (scores - scores.max(axis=-1, keepdims=True)) / temperature
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


REFERENCES = {
    "rnn_step": rnn_step,
    "rnn_step_backward": rnn_step_backward,
    "lstm_step": lstm_step,
    "lstm_cell_grad": lstm_cell_grad,
    "clip_grad_norm": clip_grad_norm,
    "softmax_with_temperature": softmax_with_temperature,
}


# ---------------------------------------------------------------- the library agrees


def _rnn_layer(Wx, Wh, b, cls):
    layer = cls(Wx.shape[0], Wh.shape[0], rng=0)
    layer.Wx.value, layer.Wh.value, layer.b.value = Wx.copy(), Wh.copy(), b.copy()
    return layer


def test_the_rnn_references_are_one_step_of_the_rnn_layer():
    rng = np.random.default_rng(0)
    x, h0, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    Wx, Wh, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)
    layer = _rnn_layer(Wx, Wh, b, dl.RNN)
    h = layer.forward(x[:, None, :], h0)[:, 0]
    np.testing.assert_allclose(ex.rnn_step(x, h0, Wx, Wh, b), h, atol=1e-12)
    np.testing.assert_allclose(rnn_step(x, h0, Wx, Wh, b), h, atol=1e-12)
    dx = layer.backward(g[:, None, :])[:, 0]
    want = (dx, layer.grad_h0, layer.Wx.grad, layer.Wh.grad, layer.b.grad)
    for got in (ex.rnn_step_backward(g, x, h0, h, Wx, Wh), rnn_step_backward(g, x, h0, h, Wx, Wh)):
        for a, w in zip(got, want, strict=True):
            np.testing.assert_allclose(a, w, atol=1e-12)


def test_the_lstm_references_are_one_step_of_the_lstm_layer():
    rng = np.random.default_rng(1)
    x, h0, c0 = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    Wx, Wh, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), rng.normal(size=8)
    layer = _rnn_layer(Wx, Wh, b, dl.LSTM)
    h = layer.forward(x[:, None, :], h0, c0)[:, 0]
    c = layer.last_state[1]
    for got in (ex.lstm_step(x, h0, c0, Wx, Wh, b), lstm_step(x, h0, c0, Wx, Wh, b)):
        np.testing.assert_allclose(got[0], h, atol=1e-12)
        np.testing.assert_allclose(got[1], c, atol=1e-12)
    # One step, the only one: dL/dc_0 is the cell gradient with no grad_c from later on.
    grad_h = rng.normal(size=(5, 2))
    layer.backward(grad_h[:, None, :])
    o, f = layer.gates["output"][:, 0], layer.gates["forget"][:, 0]
    zeros = np.zeros((5, 2))
    np.testing.assert_allclose(ex.lstm_cell_grad(grad_h, zeros, o, c, f), layer.grad_c0,
                               atol=1e-12)
    grad_c = rng.normal(size=(5, 2))
    np.testing.assert_allclose(ex.lstm_cell_grad(grad_h, grad_c, o, c, f),
                               lstm_cell_grad(grad_h, grad_c, o, c, f), atol=1e-12)


def test_the_clip_and_temperature_references_follow_their_definitions():
    grads = [np.array([3.0, 4.0]), np.array([[0.0, 12.0]])]
    clipped, norm = ex.clip_grad_norm(grads, 6.5)
    assert norm == 13.0
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in clipped]), [1.5, 2, 0, 6])
    p = dl.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    assert optim.clip_grad_norm([p], 1.0) == 5.0 and np.allclose(p.grad, [0.6, 0.8])
    # p^(1/T), normalised, as the text module defines the temperature.
    scores = np.array([[1.0, 2.5, -0.5], [0.3, 0.2, 0.1]])
    probs = dl.softmax(scores)
    for T in (0.5, 1.0, 3.0):
        sharpened = probs ** (1 / T)
        want = sharpened / sharpened.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(ex.softmax_with_temperature(scores, T), want, atol=1e-12)


def test_the_references_do_not_modify_their_inputs_and_keep_float32():
    arrays = [np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)]
    x, h = arrays
    ex.rnn_step(x, h, np.ones((3, 2), np.float32), np.ones((2, 2), np.float32),
                np.ones(2, np.float32))
    ex.lstm_cell_grad(h, h, h, h, h)
    clipped, _ = ex.clip_grad_norm(arrays, 0.5)
    assert all(a.dtype == np.float32 and (a == 1).all() for a in arrays)
    assert all(c.dtype == np.float32 for c in clipped)
    assert ex.softmax_with_temperature(x, 1e-3).dtype == np.float32


# ---------------------------------------------------------------- rnn_step


def test_rnn_step_mistakes_fail_on_the_first_example_with_its_hint():
    wrong = {
        "Wh transposed": lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh.T + b),
        "weights swapped": lambda x, h, Wx, Wh, b: np.tanh(x @ Wh + h @ Wx + b),
        "sigmoid": lambda x, h, Wx, Wh, b: sigmoid(x @ Wx + h @ Wh + b),
        "no bias": lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh),
        "column vectors": lambda x, h, Wx, Wh, b: np.tanh(Wx.T @ x.T + Wh.T @ h.T + b).T,
    }
    for name, fn in wrong.items():
        v = ex.check_rnn_step(fn)
        failed_at(v, "case 1 of 6: one example, D = 3 inputs, H = 2 hidden units",
                  "Each weight matrix multiplies from the right")
        assert "input: x = [[0.5, -1.0, 2.0]] h_prev = [[0.25, -0.5]]" in flat(v.message), name
    v = ex.check_rnn_step(wrong["weights swapped"])
    assert "your function raised ValueError: matmul" in v.message
    v = ex.check_rnn_step(wrong["Wh transposed"])
    assert "problem: wrong values" in v.message and "differ: " in v.message


def test_rnn_step_dropping_an_axis_or_summing_the_batch_fails():
    v = ex.check_rnn_step(lambda x, h, Wx, Wh, b: np.squeeze(rnn_step(x, h, Wx, Wh, b)))
    assert_failed_showing(v, "case 1 of 6", "expected an array of shape (1, 2), got shape (2,)")

    def squeeze_units(x, h, Wx, Wh, b):
        out = rnn_step(x, h, Wx, Wh, b)
        return out[:, 0] if out.shape[1] == 1 else out

    failed_at(ex.check_rnn_step(squeeze_units), "case 3 of 6: H = 1 hidden unit",
              "h is still (N, H) = (2, 1)")
    v = ex.check_rnn_step(lambda x, h, Wx, Wh, b: rnn_step(x, h, Wx, Wh, b).sum(0, keepdims=True))
    assert_failed_showing(v, "case 2 of 6: a batch of 4, D = 3, H = 5",
                          "expected an array of shape (4, 5), got shape (1, 5)")


def test_rnn_step_with_tanh_written_with_exponentials_fails_on_large_pre_activations():
    def exp_tanh(x, h, Wx, Wh, b):
        z = x @ Wx + h @ Wh + b
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))

    with np.errstate(over="ignore", invalid="ignore"):
        v = ex.check_rnn_step(exp_tanh)
    failed_at(v, "case 4 of 6: pre-activations of +-1000", "e^1000 is inf, and inf / inf is nan")
    assert "nan" in v.message.split("got:")[1]


def test_rnn_step_correct_variants_pass():
    def loop(x, h_prev, Wx, Wh, b):  # one example at a time
        return np.stack([np.tanh(x[n] @ Wx + h_prev[n] @ Wh + b) for n in range(len(x))])

    def stable_exp(x, h_prev, Wx, Wh, b):  # tanh from e^-2|z|, which never overflows
        z = x @ Wx + h_prev @ Wh + b
        e = np.exp(-2 * np.abs(z))
        return np.sign(z) * (1 - e) / (1 + e)

    def columns(x, h_prev, Wx, Wh, b):  # column vectors, transposed back
        return np.tanh(Wx.T @ x.T + Wh.T @ h_prev.T + b[:, None]).T

    for fn in (loop, stable_exp, columns, rnn_step, ex.rnn_step):
        assert ex.check_rnn_step(fn).status == "passed", fn.__name__


def test_rnn_step_losing_float32_fails_on_the_dtype_once_the_values_are_right():
    def float64_buffer(x, h_prev, Wx, Wh, b):
        h = np.zeros((x.shape[0], Wh.shape[0]))  # float64, whatever the inputs
        h[:] = np.tanh(x @ Wx + h_prev @ Wh + b)
        return h

    v = ex.check_rnn_step(float64_buffer)
    assert_failed_showing(v, "case 5 of 6: float32 inputs: h is float32 too",
                          "problem: expected float32 array, got float64 array",
                          "expected: float32 array", "got: float64 array")
    assert "Every value is right, but not the dtype" in flat(v.message)


# ---------------------------------------------------------------- rnn_step_backward


def _rnn_backward_with(**parts):
    """rnn_step_backward with some of its steps replaced (a typical mistake each)."""
    dz_of = parts.get("dz", lambda g, h: g * (1 - h**2))

    def backward(grad_h, x, h_prev, h, Wx, Wh):
        dz = dz_of(grad_h, h)
        out = {"dx": dz @ Wx.T, "dh_prev": dz @ Wh.T, "dWx": x.T @ dz, "dWh": h_prev.T @ dz,
               "db": dz.sum(axis=0)}
        for name, fn in parts.items():
            if name != "dz":
                out[name] = fn(dz, x, h_prev, h, Wx, Wh)
        return tuple(out.values())

    return backward


def test_rnn_step_backward_mistakes_fail_on_their_own_case():
    first = "case 1 of 7: one example, D = 3, H = 2"
    tanh_hint = "grad_h times tanh's slope at this step, which you can write with h"
    expectations = [
        (dict(dz=lambda g, h: g), first, tanh_hint),  # forgets (1 - h^2)
        (dict(dz=lambda g, h: g * (1 - np.tanh(h) ** 2)), first, tanh_hint),
        (dict(dx=lambda dz, x, hp, h, Wx, Wh: dz @ Wx), first, "your function raised ValueError"),
        (dict(db=lambda dz, x, hp, h, Wx, Wh: dz), first,
         "element [4] of the result: expected an array of shape (2,), got shape (1, 2)"),
        (dict(dWx=lambda dz, x, hp, h, Wx, Wh: dz.T @ x), first,
         "element [2] of the result: expected an array of shape (3, 2), got shape (2, 3)"),
        (dict(dh_prev=lambda dz, x, hp, h, Wx, Wh: dz @ Wh),
         "case 2 of 7: Wh is not symmetric", "comes back through Wh the other way round"),
        (dict(db=lambda dz, x, hp, h, Wx, Wh: dz.mean(axis=0)),
         "case 3 of 7: a batch of 4: the weight and bias gradients add up over the batch",
         "a sum over the examples, not a mean"),
        (dict(dWx=lambda dz, x, hp, h, Wx, Wh: x.T @ dz / len(x)),
         "case 3 of 7", "a sum over the examples, not a mean"),
    ]
    for parts, label, fragment in expectations:
        failed_at(ex.check_rnn_step_backward(_rnn_backward_with(**parts)), label, fragment)
    v = ex.check_rnn_step_backward(_rnn_backward_with(dz=lambda g, h: g))
    assert "problem: element [0] of the result: wrong values" in v.message
    assert "differ: element [0]: 3 of 3 entries; first at [0, 0]:" in v.message


def test_rnn_step_backward_correct_variants_pass():
    def loop(grad_h, x, h_prev, h, Wx, Wh):  # one example at a time, accumulating
        dx, dh_prev = np.zeros_like(x), np.zeros_like(h_prev)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(h[0])
        for n in range(len(x)):
            dz = grad_h[n] * (1 - h[n]) * (1 + h[n])
            dx[n], dh_prev[n] = Wx @ dz, Wh @ dz
            dWx += np.outer(x[n], dz)
            dWh += np.outer(h_prev[n], dz)
            db += dz
        return dx, dh_prev, dWx, dWh, db

    for fn in (loop, rnn_step_backward, ex.rnn_step_backward):
        assert ex.check_rnn_step_backward(fn).status == "passed"


def test_rnn_step_backward_in_float64_fails_on_the_float32_case():
    def upcast(*args):
        return tuple(r.astype(np.float64) for r in rnn_step_backward(*args))

    assert_failed_showing(ex.check_rnn_step_backward(upcast),
                          "case 6 of 7: float32 inputs: float32 gradients",
                          "element [0] of the result: expected float32 array, got float64 array")


# ---------------------------------------------------------------- lstm_step


def _lstm_with(order="ifog", gate=sigmoid, cand=np.tanh, cell=None, out=None):
    """lstm_step with the blocks read in ``order`` and the given activations and updates."""
    cell = cell or (lambda i, f, g, c_prev: f * c_prev + i * g)
    out = out or (lambda o, c: o * np.tanh(c))

    def step(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        z = x @ Wx + h_prev @ Wh + b
        blocks = {name: z[:, k * H:(k + 1) * H] for k, name in enumerate(order)}
        i, f, o = gate(blocks["i"]), gate(blocks["f"]), gate(blocks["o"])
        c = cell(i, f, cand(blocks["g"]), c_prev)
        return out(o, c), c

    return step


def test_lstm_step_gate_order_and_activation_mistakes_fail_on_the_bias_case():
    wrong = [_lstm_with(order="ifgo"), _lstm_with(order="fiog"), _lstm_with(order="gifo"),
             _lstm_with(cand=sigmoid), _lstm_with(gate=np.tanh),
             _lstm_with(cell=lambda i, f, g, c_prev: i * c_prev + f * g),
             _lstm_with(cell=lambda i, f, g, c_prev: c_prev + i * g)]
    for fn in wrong:
        failed_at(ex.check_lstm_step(fn),
                  "case 1 of 7: x = 0 and h_prev = 0: each gate comes from its block of b",
                  "in the order i, f, o, g (the candidate g is the LAST block")


def test_lstm_step_reading_the_blocks_interleaved_fails_on_the_bias_case():
    def interleaved(x, h_prev, c_prev, Wx, Wh, b):  # reshape (N, H, 4): gates interleaved
        z = (x @ Wx + h_prev @ Wh + b).reshape(len(x), h_prev.shape[1], 4)
        i, f, o, g = sigmoid(z[..., 0]), sigmoid(z[..., 1]), sigmoid(z[..., 2]), np.tanh(z[..., 3])
        c = f * c_prev + i * g
        return o * np.tanh(c), c

    failed_at(ex.check_lstm_step(interleaved), "case 1 of 7", "H = 2 entries each")

    def blocks_of_two(x, h_prev, c_prev, Wx, Wh, b):  # H = 2 written in: right only then
        z = x @ Wx + h_prev @ Wh + b
        i, f, o, g = sigmoid(z[:, 0:2]), sigmoid(z[:, 2:4]), sigmoid(z[:, 4:6]), np.tanh(z[:, 6:8])
        c = f * c_prev[:, :2] + i * g
        return o * np.tanh(c), c

    failed_at(ex.check_lstm_step(blocks_of_two), "case 4 of 7: a batch of 4, D = 3, H = 4",
              "columns 0-3 for i, 4-7 for f")


def test_lstm_step_cell_and_output_mistakes_fail_on_their_own_cases():
    failed_at(ex.check_lstm_step(_lstm_with(out=lambda o, c: o * c)),
              "case 2 of 7: c_prev = 0, a batch of 2: h shows the new cell state",
              "h is c squashed by tanh")
    failed_at(ex.check_lstm_step(_lstm_with(out=lambda o, c: np.tanh(o * c))), "case 2 of 7")
    failed_at(ex.check_lstm_step(_lstm_with(cell=lambda i, f, g, cp: f * np.tanh(cp) + i * g)),
              "case 3 of 7: forget gate open, input gate shut", "scales c_prev as it is")


def test_lstm_step_with_exponential_activations_fails_on_saturated_gates():
    def exp_sigmoid(z):
        return np.exp(z) / (1 + np.exp(z))

    def exp_tanh(z):
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))

    for fn in (_lstm_with(gate=exp_sigmoid), _lstm_with(cand=exp_tanh)):
        with np.errstate(over="ignore", invalid="ignore"):
            v = ex.check_lstm_step(fn)
        failed_at(v, "case 5 of 7: pre-activations of +-1000", "a sigmoid whose exponent is never "
                  "positive")


def test_lstm_step_correct_variants_pass():
    def naive_sigmoid(z):  # overflows to e^2000 = inf, but 1 / inf = 0 is the right value
        return 1 / (1 + np.exp(-z))

    def loop(x, h_prev, c_prev, Wx, Wh, b):  # one example at a time
        steps = [lstm_step(x[n:n + 1], h_prev[n:n + 1], c_prev[n:n + 1], Wx, Wh, b)
                 for n in range(len(x))]
        return np.concatenate([h for h, _ in steps]), np.concatenate([c for _, c in steps])

    tanh_sigmoid = _lstm_with(gate=lambda z: (1 + np.tanh(z / 2)) / 2)
    # float32 written another way: within the check's float32 tolerance (rtol 1e-5)
    sigmoid_tanh = _lstm_with(cand=lambda z: 2 * sigmoid(2 * z) - 1)
    with np.errstate(over="ignore"):
        for fn in (loop, tanh_sigmoid, sigmoid_tanh, _lstm_with(gate=naive_sigmoid), lstm_step,
                   ex.lstm_step):
            assert ex.check_lstm_step(fn).status == "passed"


def test_lstm_step_float32_in_float64_out_fails_on_the_dtype():
    v = ex.check_lstm_step(lambda *a: tuple(r.astype(np.float64) for r in lstm_step(*a)))
    assert_failed_showing(v, "case 6 of 7: float32 inputs: float32 h and c",
                          "element [0] of the result: expected float32 array, got float64 array")


# ---------------------------------------------------------------- lstm_cell_grad


def test_lstm_cell_grad_forgetting_one_path_fails_on_the_case_without_the_other():
    v = ex.check_lstm_cell_grad(lambda gh, gc, o, c, f: f * gc)  # no path through h_t
    failed_at(v, "case 1 of 7: grad_c = 0: the gradient comes only through h_t",
              "grad_c is 0 here, so all of dc_prev comes from grad_h")
    assert "got: [[0.0, 0.0, 0.0]]" in v.message
    v = ex.check_lstm_cell_grad(lambda gh, gc, o, c, f: f * gh * o * (1 - np.tanh(c) ** 2))
    failed_at(v, "case 2 of 7: grad_h = 0: the gradient comes only from step t+1",
              "grad_h is 0 here, so the only gradient is grad_c")
    v = ex.check_lstm_cell_grad(lambda gh, gc, o, c, f: gc + f * gh * o * (1 - np.tanh(c) ** 2))
    failed_at(v, "case 2 of 7", "it is scaled by the forget gate")  # f forgotten on grad_c


def test_lstm_cell_grad_slope_mistakes_fail_on_the_h_path_case():
    for wrong in (lambda gh, gc, o, c, f: f * (gc + gh * o * (1 - c**2)),
                  lambda gh, gc, o, c, f: f * (gc + gh * (1 - np.tanh(c) ** 2)),
                  lambda gh, gc, o, c, f: gc + gh * o * (1 - np.tanh(c) ** 2),
                  lambda gh, gc, o, c, f: f * (gc + gh * o * (1 - np.tanh(c)) ** 2)):
        failed_at(ex.check_lstm_cell_grad(wrong), "case 1 of 7",
                  "written with tanh(c_t), not c_t")


def test_lstm_cell_grad_with_tanh_from_exponentials_fails_on_a_saturated_cell():
    def exp_tanh(c):
        return (np.exp(c) - np.exp(-c)) / (np.exp(c) + np.exp(-c))

    with np.errstate(over="ignore", invalid="ignore"):
        v = ex.check_lstm_cell_grad(lambda gh, gc, o, c, f: f * (gc + gh * o * (1 - exp_tanh(c)
                                                                                ** 2)))
    failed_at(v, "case 4 of 7: |c| = 1000", "tanh(c) is +-1 and its slope 0")


def test_lstm_cell_grad_in_place_and_float64_fail():
    def in_place(grad_h, grad_c, o, c, f):
        grad_c += grad_h * o * (1 - np.tanh(c) ** 2)
        grad_c *= f
        return grad_c

    assert_failed_showing(ex.check_lstm_cell_grad(in_place), "case 1 of 7",
                          "modified its input grad_c in place")
    v = ex.check_lstm_cell_grad(lambda *a: lstm_cell_grad(*a).astype(np.float64))
    assert_failed_showing(v, "case 6 of 7: float32 inputs", "expected float32 array, got float64")


def test_lstm_cell_grad_correct_variants_pass():
    variants = [
        lambda gh, gc, o, c, f: f * gc + f * gh * o * (1 - np.tanh(c)) * (1 + np.tanh(c)),
        lambda gh, gc, o, c, f: f * (gc + gh * o / np.cosh(c) ** 2),  # cosh(1000) = inf: 0
        lstm_cell_grad, ex.lstm_cell_grad,
    ]
    with np.errstate(over="ignore"):
        for fn in variants:
            assert ex.check_lstm_cell_grad(fn).status == "passed"


# ---------------------------------------------------------------- clip_grad_norm


def _clip_with(norm_of, *, in_place=False):
    def clip(grads, max_norm):
        norm = norm_of(grads)
        if norm <= max_norm:
            return [g.copy() for g in grads], norm
        if in_place:
            for g in grads:
                g *= max_norm / norm
            return grads, norm
        return [g * (max_norm / norm) for g in grads], norm

    return clip


def naive_norm(grads):
    return float(np.sqrt(sum(np.sum(g**2) for g in grads)))


def float64_norm(grads):
    return float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))


def test_clip_grad_norm_per_array_or_summed_norms_fail_on_the_two_array_case():
    def per_array(grads, max_norm):
        out = []
        for g in grads:
            n = float(np.sqrt(np.sum(g**2)))
            out.append(g * (max_norm / n) if n > max_norm else g.copy())
        return out, float64_norm(grads)

    def summed_norms(grads, max_norm):
        return _clip_with(lambda gs: sum(float(np.sqrt(np.sum(g**2))) for g in gs))(grads,
                                                                                    max_norm)

    for wrong in (per_array, summed_norms):
        v = ex.check_clip_grad_norm(wrong)
        failed_at(v, "case 3 of 8: two arrays of norms 5 and 12: one global norm, 13",
                  "The norm is ONE number for all the arrays together")
    assert "element [0][0] of the result: wrong values" in (
        ex.check_clip_grad_norm(per_array).message)


def test_clip_grad_norm_basic_mistakes_fail_with_their_hint():
    def norm_after(grads, max_norm):
        clipped, norm = clip_grad_norm(grads, max_norm)
        return clipped, min(norm, max_norm)

    def always_scaled(grads, max_norm):
        norm = float64_norm(grads)
        return [g * (max_norm / norm) for g in grads], norm

    v = ex.check_clip_grad_norm(norm_after)
    failed_at(v, "case 1 of 8: one array of norm 5, max_norm 1",
              "the norm returned is the one measured before clipping (5)")
    assert "problem: element [1] of the result: expected 5.0, got 1.0" in v.message
    failed_at(ex.check_clip_grad_norm(always_scaled), "case 2 of 8: norm 0.5, below max_norm 1",
              "Clipping only ever shrinks")

    def unguarded(grads, max_norm):
        norm = float64_norm(grads)
        return [g * min(1.0, max_norm / norm) for g in grads], norm

    v = ex.check_clip_grad_norm(unguarded)
    failed_at(v, "case 5 of 8: zero gradients", "compute it only when the norm is above max_norm")
    assert "your function raised ZeroDivisionError" in v.message


@pytest.mark.parametrize("in_place", ["arrays", "list"])
def test_clip_grad_norm_that_changes_its_inputs_fails(in_place):
    def replaces_items(grads, max_norm):
        clipped, norm = clip_grad_norm(grads, max_norm)
        grads[:] = clipped
        return grads, norm

    fn = _clip_with(float64_norm, in_place=True) if in_place == "arrays" else replaces_items
    v = ex.check_clip_grad_norm(fn)
    assert_failed_showing(v, "case 1 of 8", "your function modified its input grads in place")
    assert "Return new arrays: grads belongs to the caller" in flat(v.message)


def test_clip_grad_norm_huge_gradients_need_a_careful_norm():
    with np.errstate(over="ignore"):
        v = ex.check_clip_grad_norm(_clip_with(naive_norm))  # squares in float32 overflow
    failed_at(v, "case 7 of 8: float32 gradients of 1e20", "beyond float32's range")
    assert "got: ([[0.0, 0.0], [0.0]], inf)" in v.message
    with np.errstate(over="ignore"):
        v = ex.check_clip_grad_norm(_clip_with(float64_norm))  # fine up to 1e154
    failed_at(v, "case 8 of 8: gradients of 1e200", "in units of the largest |entry|")


def test_clip_grad_norm_correct_variants_pass():
    def hypot(grads, max_norm):  # math.hypot scales internally: no overflow
        norm = math.hypot(*(float(v) for g in grads for v in g.ravel()))
        scale = max_norm / norm if norm > max_norm else 1.0
        return [(g * scale).astype(g.dtype) for g in grads], norm

    def eps_like_pytorch(grads, max_norm):  # PyTorch's max_norm / (norm + 1e-6), clamped
        norm = clip_grad_norm(grads, max_norm)[1]
        return [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads], norm

    for fn in (hypot, eps_like_pytorch, clip_grad_norm, ex.clip_grad_norm):
        assert ex.check_clip_grad_norm(fn).status == "passed"


def test_clip_grad_norm_returning_float64_copies_of_float32_fails_on_the_dtype():
    def upcast(grads, max_norm):
        clipped, norm = clip_grad_norm(grads, max_norm)
        return [c.astype(np.float64) for c in clipped], norm

    v = ex.check_clip_grad_norm(upcast)
    failed_at(v, "case 6 of 8: float32 gradients: clipped copies stay float32",
              "a float32 array times a NumPy float64 number")
    assert "expected: ([float32 array, float32 array], a number)" in v.message


# ---------------------------------------------------------------- softmax_with_temperature


def _softmax_with(shift, axis=-1):
    def probs(scores, temperature):
        e = np.exp((scores - shift(scores)) / temperature)
        return e / e.sum(axis=axis, keepdims=True)

    return probs


def test_softmax_with_temperature_naive_formulas_fail_on_tiny_temperatures():
    naive = _softmax_with(lambda s: 0)
    by_min = _softmax_with(lambda s: s.min(axis=-1, keepdims=True))
    by_global_max = _softmax_with(lambda s: s.max())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for wrong in (naive, by_min):
            failed_at(ex.check_softmax_with_temperature(wrong),
                      "case 4 of 11: temperature 1e-3, scores near 10: e^10000 overflows",
                      "subtract the largest score first")
        failed_at(ex.check_softmax_with_temperature(by_global_max),
                  "case 6 of 11: rows far apart at temperature 0.01",
                  "Subtract each row's own maximum")

    def powered(scores, temperature):  # p^(1/T), renormalised: rounds to 0 in float32
        p = softmax_with_temperature(scores, 1.0) ** (1 / temperature)
        return p / p.sum(axis=-1, keepdims=True)

    with np.errstate(invalid="ignore", under="ignore"):
        failed_at(ex.check_softmax_with_temperature(powered),
                  "case 10 of 11: float32 scores at temperature 1e-3",
                  "a probability raised to the power 1/T = 1000 rounds to 0")


def test_softmax_with_temperature_other_mistakes_fail_on_their_own_case():
    stable = softmax_with_temperature
    expectations = [
        (lambda s, T: stable(s * T, 1.0), "case 2 of 11: temperature 0.5 sharpens",
         "divided by the temperature"),
        (lambda s, T: stable(s, 1.0), "case 2 of 11", "divided by the temperature"),
        (_softmax_with(lambda s: s.max(axis=-1, keepdims=True), axis=0),
         "case 3 of 11: a batch of 3 rows (N, V)", "each row adds up to 1 on its own"),
        (lambda s, T: np.eye(s.shape[-1])[s.argmax(-1)] if T < 0.01 else stable(s, T),
         "case 5 of 11: two tied top scores", "A shortcut that puts all of it on one argmax"),
    ]
    for wrong, label, fragment in expectations:
        failed_at(ex.check_softmax_with_temperature(wrong), label, fragment)

    def int_buffer(scores, temperature):
        out = np.zeros_like(scores)
        out[...] = stable(scores.astype(np.float64), temperature)
        return out

    failed_at(ex.check_softmax_with_temperature(int_buffer),
              "case 8 of 11: integer scores and temperature", "keeps the integer type")

    def divides_in_place(scores, temperature):
        scores = scores - scores.max(axis=-1, keepdims=True)
        scores /= temperature
        return np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)

    v = ex.check_softmax_with_temperature(divides_in_place)
    failed_at(v, "case 8 of 11", "an integer array refuses an in-place division")
    assert "your function raised UFuncTypeError" in v.message


def test_softmax_with_temperature_changing_scores_or_float32_fails():
    def in_place(scores, temperature):
        scores -= scores.max(axis=-1, keepdims=True)
        return softmax_with_temperature(scores, temperature)

    assert_failed_showing(ex.check_softmax_with_temperature(in_place), "case 1 of 11",
                          "modified its input scores in place")
    v = ex.check_softmax_with_temperature(
        lambda s, T: softmax_with_temperature(np.asarray(s, dtype=np.float64), T))
    assert_failed_showing(v, "case 9 of 11: float32 scores: float32 probabilities",
                          "problem: expected float32 array, got float64 array")


def test_softmax_with_temperature_correct_variants_pass():
    def shift_after_dividing(scores, temperature):
        z = scores / temperature
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def log_softmax_first(scores, temperature):  # as dlteach.text samples
        z = scores - scores.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return dl.softmax(logp / temperature)

    def row_by_row(scores, temperature):
        if scores.ndim == 1:
            return softmax_with_temperature(scores, temperature)
        return np.stack([softmax_with_temperature(row, temperature) for row in scores])

    for fn in (shift_after_dividing, log_softmax_first, row_by_row, softmax_with_temperature,
               ex.softmax_with_temperature):
        assert ex.check_softmax_with_temperature(fn).status == "passed"


# ---------------------------------------------------------------- the tests every lesson shares


class TestLesson05Exercises(
    LessonExerciseTests, lesson="05_rnn_lstm", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=2,
):
    """Lesson 5's checks and notebook; REFERENCES are learner-style solutions."""

    def test_the_checks_own_reference_passes(self, name):
        assert self.check(name, getattr(ex, name)).status == "passed"


# ---------------------------------------------------------------- reproducing a case
# (tests/test_case_rebuilds.py checks every big case's rebuild line, lesson05 included)


def test_a_failing_big_case_shows_its_rebuild_line():
    def wrong_for_big_batches(x, h_prev, Wx, Wh, b):
        h = rnn_step(x, h_prev, Wx, Wh, b)
        return h if len(x) < 64 else h + 1e-3

    v = ex.check_rnn_step(wrong_for_big_batches)
    assert "case 6 of 6: 64 sequences, D = 10, H = 16" in v.message
    line = next(ln for ln in v.message.splitlines() if ln.startswith("rebuild: "))
    assert line.startswith("rebuild: rng = np.random.default_rng(4); x = rng.normal(size=(64, 10))")
    made = rebuilt_inputs(Case(rebuild=line[len("rebuild: "):]))
    np.testing.assert_array_equal(made["x"], np.random.default_rng(4).normal(size=(64, 10)))


def test_no_hint_of_lesson_5_hands_over_a_line_of_solution_code():
    hints = [h for h in vars(ex).values() if isinstance(h, str)]
    wrong = [lambda *a, **k: np.zeros((1, 2)), lambda *a, **k: ([np.zeros(2)], 0.0)]
    for name in ex.EXERCISES:
        for fn in wrong:
            hints.append(getattr(ex, f"check_{name}")(fn).message)
    for text in hints:
        for code in ("np.tanh(", "Wh.T", "Wx.T", ".T @", "sum(axis", "(1 - h", "1 - h**2",
                     "1 - np.tanh", "f * (grad_c", "np.exp(", "keepdims", "np.sqrt(",
                     "/ temperature", "max(axis", "z[:,"):
            assert code not in text, (code, text)
