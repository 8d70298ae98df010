"""Lesson 10's exercise checks: the references match PyTorch, typical mistakes fail usefully.

The checks need no PyTorch. The tests marked by ``importorskip("torch")`` compare the
references with real PyTorch modules (and with dlteach.torch_bridge.to_torch) where it
is installed; the others use NumPy only, PyTorch's LSTM equations written out included.
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, failed_at, flat

import dlteach as dl
from dlteach.checking import Case, rebuilt_inputs
from dlteach.exercises import lesson10 as ex

# ---------------------------------------------------------------- learner-style solutions


def linear_weights(W, b):
    return W.T, b


def lstm_weights(Wx, Wh, b):
    H = Wh.shape[0]
    order = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
    return Wx[:, order].T, Wh[:, order].T, b[order], np.zeros_like(b)


def channels_last(x, inverse=False):
    return np.transpose(x, (0, 3, 1, 2) if inverse else (0, 2, 3, 1))


REFERENCES = {
    "linear_weights": linear_weights,
    "lstm_weights": lstm_weights,
    "channels_last": channels_last,
}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def torch_lstm_in_numpy(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """nn.LSTM's documented equations (gates i, f, g, o, two biases), batch first, h0 = c0 = 0."""
    N, T, _ = x.shape
    H = weight_hh.shape[1]
    h, c, out = np.zeros((N, H)), np.zeros((N, H)), []
    for t in range(T):
        z = x[:, t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H])
        g, o = np.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


# ---------------------------------------------------------------- the references are right


def test_the_linear_reference_computes_what_dense_computes():
    layer = dl.Dense(5, 3, rng=0)
    x = np.random.default_rng(1).normal(size=(4, 5))
    weight, bias = ex.linear_weights(layer.W.value, layer.b.value)
    assert weight.shape == (3, 5) and bias.shape == (3,)
    np.testing.assert_allclose(x @ weight.T + bias, layer.forward(x), rtol=1e-12)


def test_the_lstm_reference_runs_pytorchs_equations_to_dlteachs_outputs():
    rng = np.random.default_rng(2)
    layer = dl.LSTM(3, 4, rng=0)
    layer.b.value[...] = rng.normal(size=16)  # every gate its own bias
    x = rng.normal(size=(2, 5, 3))
    params = ex.lstm_weights(layer.Wx.value, layer.Wh.value, layer.b.value)
    assert [p.shape for p in params] == [(16, 3), (16, 4), (16,), (16,)]
    np.testing.assert_allclose(torch_lstm_in_numpy(x, *params), layer.forward(x), atol=1e-12)
    # The wrong gate order (dlteach's, unchanged) gives another function.
    unchanged = (layer.Wx.value.T, layer.Wh.value.T, layer.b.value, np.zeros(16))
    assert not np.allclose(torch_lstm_in_numpy(x, *unchanged), layer.forward(x), atol=1e-3)


def test_the_channels_last_reference_moves_axes_and_inverts():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    out = ex.channels_last(x)
    assert out.shape == (2, 4, 5, 3) and out[1, 2, 3, 0] == x[1, 0, 2, 3]
    np.testing.assert_array_equal(ex.channels_last(out, inverse=True), x)


def test_the_references_keep_dtypes_and_leave_their_inputs_alone():
    W, b = np.ones((3, 2), np.float32), np.ones(2, np.float32)
    assert all(a.dtype == np.float32 for a in ex.linear_weights(W, b))
    Wx, Wh, b4 = np.ones((3, 8), np.float32), np.ones((2, 8), np.float32), np.ones(8, np.float32)
    results = ex.lstm_weights(Wx, Wh, b4)
    assert all(a.dtype == np.float32 for a in results)
    results[2][...] = 5  # copies: writing into a result leaves the input alone
    assert (b4 == 1).all()
    img = np.zeros((1, 3, 2, 2), np.uint8)
    assert ex.channels_last(img).dtype == np.uint8


# ---------------------------------------------------------------- against PyTorch itself


def test_the_references_agree_with_pytorch_modules_and_to_torch():
    torch = pytest.importorskip("torch")
    from dlteach.torch_bridge import to_torch

    dense = dl.Dense(6, 4, rng=0)
    linear = to_torch(dense)
    weight, bias = ex.linear_weights(dense.W.value, dense.b.value)
    np.testing.assert_array_equal(linear.weight.detach().numpy(), weight)
    np.testing.assert_array_equal(linear.bias.detach().numpy(), bias)

    lstm = dl.LSTM(3, 5, rng=0)
    lstm.b.value[...] = np.random.default_rng(3).normal(size=20)
    exported = to_torch(lstm).rnn
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    for name, mine in zip(names, ex.lstm_weights(lstm.Wx.value, lstm.Wh.value, lstm.b.value),
                          strict=True):
        np.testing.assert_array_equal(getattr(exported, name).detach().numpy(), mine)
    # An nn.LSTM built by hand from the reference computes dlteach's outputs.
    rnn = torch.nn.LSTM(3, 5, batch_first=True, dtype=torch.float64)
    rnn.load_state_dict({name: torch.from_numpy(np.ascontiguousarray(p)) for name, p in zip(
        names, ex.lstm_weights(lstm.Wx.value, lstm.Wh.value, lstm.b.value), strict=True)})
    x = np.random.default_rng(4).normal(size=(2, 6, 3))
    with torch.no_grad():
        out, _ = rnn(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), lstm.forward(x), atol=1e-12)

    images = np.random.default_rng(5).normal(size=(2, 3, 4, 5))
    t = torch.from_numpy(images)
    np.testing.assert_array_equal(t.permute(0, 2, 3, 1).numpy(), ex.channels_last(images))
    stored = t.contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(stored.permute(0, 2, 3, 1).numpy(), ex.channels_last(images))
    assert stored.permute(0, 2, 3, 1).is_contiguous()


# ---------------------------------------------------------------- linear_weights


def test_linear_weights_without_transpose_or_with_a_reshape_fails_on_the_first_case():
    hint = "nn.Linear stores its weight as (D_out, D_in) = (2, 3)"
    v = ex.check_linear_weights(lambda W, b: (W, b))
    failed_at(v, "case 1 of 5: D_in = 3 inputs, D_out = 2 outputs", hint)
    assert "expected an array of shape (2, 3), got shape (3, 2)" in v.message
    v = ex.check_linear_weights(lambda W, b: (W.reshape(W.shape[1], W.shape[0]), b))
    failed_at(v, "case 1 of 5", hint)
    assert "problem: element [0] of the result: wrong values" in v.message
    failed_at(ex.check_linear_weights(lambda W, b: (W.T, b[:, None])), "case 1 of 5", hint)


def test_linear_weights_transposing_only_when_the_shape_says_so_fails_on_the_square_case():
    def by_shape(W, b):  # "PyTorch wants len(b) rows": a square W is left untransposed
        return (W if W.shape[0] == len(b) else W.T), b

    failed_at(ex.check_linear_weights(by_shape),
              "case 2 of 5: D_in = D_out = 2: a square W that is not symmetric",
              "only the values tell them apart")


def test_linear_weights_squeezing_fails_on_the_single_output():
    failed_at(ex.check_linear_weights(lambda W, b: (np.squeeze(W.T), b)),
              "case 3 of 5: D_out = 1: a single output", "the weight is still a matrix")


def test_linear_weights_in_float64_fails_on_the_float32_case():
    v = ex.check_linear_weights(lambda W, b: (np.array(W.T, dtype=float), b))
    assert_failed_showing(v, "case 4 of 5: float32 weights: float32 results",
                          "element [0] of the result: expected float32 array, got float64 array")
    assert "Every value is right, but not the dtype" in flat(v.message)


def test_linear_weights_wrong_for_big_layers_fails_with_a_rebuild_line():
    def wrong_for_big(W, b):
        return (W.T if W.shape[0] < 100 else W.T + 1e-3), b

    v = ex.check_linear_weights(wrong_for_big)
    assert "case 5 of 5: the lesson-4 CNN's last layer: D_in = 512, D_out = 10" in v.message
    line = next(ln for ln in v.message.splitlines() if ln.startswith("rebuild: "))
    made = rebuilt_inputs(Case(rebuild=line[len("rebuild: "):]))
    np.testing.assert_array_equal(made["W"], np.random.default_rng(2).normal(scale=0.05,
                                                                              size=(512, 10)))


def test_linear_weights_correct_variants_pass():
    def loop(W, b):  # row j of weight: the weights into output j
        weight = np.empty((W.shape[1], W.shape[0]), dtype=W.dtype)
        for j in range(W.shape[1]):
            weight[j] = W[:, j]
        return weight, b.copy()

    for fn in (loop, linear_weights, ex.linear_weights,
               lambda W, b: (np.ascontiguousarray(np.transpose(W)), np.array(b)),
               lambda W, b: (np.swapaxes(W, 0, 1), b)):
        assert ex.check_linear_weights(fn).status == "passed"


# ---------------------------------------------------------------- lstm_weights


def _lstm_with(order="ifgo", bias=None, transpose=True, H_from="Wh", squeeze=False):
    """lstm_weights taking dlteach's blocks (named i, f, o, g) in ``order``, and a mistake."""
    def weights(Wx, Wh, b):
        H = Wh.shape[0] if H_from == "Wh" else Wx.shape[0]
        blocks = dict(zip("ifog", range(4), strict=True))
        idx = np.concatenate([np.arange(H) + blocks[g] * H for g in order])
        ih, hh = Wx[:, idx], Wh[:, idx]
        if transpose:
            ih, hh = ih.T, hh.T
        else:
            ih, hh = ih.reshape(ih.shape[1], -1), hh.reshape(hh.shape[1], -1)
        b_ih, b_hh = (b[idx], np.zeros_like(b)) if bias is None else bias(b[idx])
        out = (ih, hh, b_ih, b_hh)
        return tuple(np.squeeze(a) for a in out) if squeeze else out

    return weights


def test_lstm_weights_gate_order_and_bias_mistakes_fail_on_the_bias_case():
    first = "case 1 of 6: Wx = 0 and Wh = 0, D = 2, H = 2: the biases alone"
    for fn in (_lstm_with(order="ifog"), _lstm_with(order="fiog"), _lstm_with(order="gofi"),
               _lstm_with(order="ifgo", bias=lambda b: (b / 2, b / 2)),
               _lstm_with(order="ifgo", bias=lambda b: (np.zeros_like(b), b))):
        failed_at(ex.check_lstm_weights(fn), first, "the last two swap",
                  "the check wants the convention")

    def interleaved(Wx, Wh, b):  # gates read as interleaved (unit by unit), not as blocks
        H = Wh.shape[0]
        idx = np.arange(4 * H).reshape(H, 4)[:, [0, 1, 3, 2]].ravel()
        return Wx[:, idx].T, Wh[:, idx].T, b[idx], np.zeros_like(b)

    failed_at(ex.check_lstm_weights(interleaved), first)


def test_lstm_weights_mistakes_in_the_weights_fail_on_the_weights_case():
    second = "case 2 of 6: D = 2, H = 2: every column of Wx and Wh its own value"

    def biases_only(Wx, Wh, b):  # reorders b, forgets the weights' columns
        _, _, b_ih, b_hh = lstm_weights(Wx, Wh, b)
        return Wx.T, Wh.T, b_ih, b_hh

    for fn in (biases_only, _lstm_with(transpose=False)):
        failed_at(ex.check_lstm_weights(fn), second, "then transpose")

    def swapped(Wx, Wh, b):  # D = H here: the two matrices have the same shape
        ih, hh, b_ih, b_hh = lstm_weights(Wx, Wh, b)
        return hh, ih, b_ih, b_hh

    failed_at(ex.check_lstm_weights(swapped), second)


def test_lstm_weights_squeezing_fails_on_the_single_unit_case():
    failed_at(ex.check_lstm_weights(_lstm_with(squeeze=True)),
              "case 3 of 6: D = 1, H = 1: each gate block is a single column",
              "weights are still matrices")


def test_lstm_weights_taking_h_from_wx_fails_where_d_differs_from_h():
    v = ex.check_lstm_weights(_lstm_with(H_from="Wx"))
    failed_at(v, "case 4 of 6: D = 1, H = 3: a block is H = 3 columns, not D",
              "not the number of rows of Wx")


def test_lstm_weights_float64_zeros_fail_on_the_float32_case():
    v = ex.check_lstm_weights(_lstm_with(bias=lambda b: (b, np.zeros(len(b)))))
    assert_failed_showing(v, "case 5 of 6: float32 weights: float32 results, bias_hh included",
                          "element [3] of the result: expected float32 array, got float64 array")
    assert "bias_hh too, whose zeros must be made with b's dtype" in flat(v.message)


def test_lstm_weights_wrong_for_big_layers_fails_with_a_rebuild_line():
    def wrong_for_big(Wx, Wh, b):
        out = lstm_weights(Wx, Wh, b)
        return out if Wh.shape[0] < 16 else (out[0] * 2, *out[1:])

    v = ex.check_lstm_weights(wrong_for_big)
    assert "case 6 of 6: D = 8 inputs, H = 16 units, random values" in v.message
    assert "rebuild: rng = np.random.default_rng(14); Wx = rng.normal(size=(8, 64))" in v.message


def test_lstm_weights_correct_variants_pass():
    def by_blocks(Wx, Wh, b):  # split into the four blocks, put them back in PyTorch's order
        def reorder(a):
            i, f, o, g = np.split(a, 4, axis=-1)
            return np.concatenate([i, f, g, o], axis=-1)

        return reorder(Wx).T.copy(), reorder(Wh).T.copy(), reorder(b), b * 0

    def by_reshape(Wx, Wh, b):  # blocks as an axis of length 4
        H = Wh.shape[0]

        def reorder(a):
            return a.reshape(*a.shape[:-1], 4, H)[..., [0, 1, 3, 2], :].reshape(a.shape)

        return reorder(Wx).T, reorder(Wh).T, reorder(b), np.zeros(b.shape, dtype=b.dtype)

    for fn in (by_blocks, by_reshape, lstm_weights, ex.lstm_weights):
        assert ex.check_lstm_weights(fn).status == "passed", fn.__name__


# ---------------------------------------------------------------- channels_last


def _forward(x):
    return np.transpose(x, (0, 2, 3, 1))


def _flattened(x, hw_swapped):
    """(N, A, H, W) -> (N, H, W, A) by flattening the image; hw_swapped: reshaped as (W, H)."""
    N, A, H, W = x.shape
    flat_img = x.reshape(N, A, H * W).transpose(0, 2, 1)
    return flat_img.reshape(N, W, H, A) if hw_swapped else flat_img.reshape(N, H, W, A)


def test_channels_last_with_a_reshape_or_a_swap_fails_on_the_square_case():
    first = "case 1 of 7: square 3x3 images, N = 2, C = 2: (2, 2, 3, 3) -> (2, 3, 3, 2)"
    for fn in (lambda x, inverse=False: x.reshape(x.shape[0], x.shape[2], x.shape[3], x.shape[1]),
               lambda x, inverse=False: np.swapaxes(x, 1, 3),
               lambda x, inverse=False: np.transpose(x, (0, 3, 2, 1))):
        failed_at(ex.check_channels_last(fn), first, "height stays before width")
    v = ex.check_channels_last(lambda x, inverse=False: np.transpose(x, (0, 3, 1, 2)))
    failed_at(v, first)
    assert "expected an array of shape (2, 3, 3, 2), got shape (2, 3, 2, 3)" in v.message


def test_channels_last_with_height_and_width_confused_fails_on_the_rectangular_case():
    v = ex.check_channels_last(lambda x, inverse=False: _flattened(x, hw_swapped=True))
    failed_at(v, "case 2 of 7: N = 2, C = 3, H = 4, W = 5: (2, 3, 4, 5) -> (2, 4, 5, 3)",
              "height (4) before width (5)")
    assert "expected an array of shape (2, 4, 5, 3), got shape (2, 5, 4, 3)" in v.message


def test_channels_last_squeezing_fails_on_the_single_digit():
    failed_at(ex.check_channels_last(lambda x, inverse=False: np.squeeze(_forward(x))),
              "case 3 of 7: one grayscale 8x8 digit", "Do not drop the axes of length 1")


def test_channels_last_inverse_mistakes_fail_on_the_inverse_cases():
    fourth = "case 4 of 7: inverse=True, square images: (2, 3, 3, 2) -> (2, 2, 3, 3)"
    for wrong_inverse in (lambda x: _forward(x), lambda x: np.swapaxes(x, 1, 3), lambda x: x):
        fn = lambda x, inverse=False, w=wrong_inverse: w(x) if inverse else _forward(x)  # noqa: E731
        failed_at(ex.check_channels_last(fn), fourth, "comes back to position 1")

    def inverse_hw_swapped(x, inverse=False):  # (N, H, W, C) read as (N, W, H, C) on the way back
        if not inverse:
            return _forward(x)
        N, H, W, C = x.shape
        return x.reshape(N, H * W, C).transpose(0, 2, 1).reshape(N, C, W, H)

    v = ex.check_channels_last(inverse_hw_swapped)
    failed_at(v, "case 5 of 7: inverse=True: (2, 4, 5, 3) -> (2, 3, 4, 5)",
              "height (4) before width (5)")


def test_channels_last_losing_the_dtype_fails_on_the_dtype_cases():
    def float_buffer(x, inverse=False):  # np.empty without a dtype: float64 whatever x is
        want = np.transpose(x, (0, 3, 1, 2) if inverse else (0, 2, 3, 1))
        out = np.empty(want.shape)
        out[...] = want
        return out

    v = ex.check_channels_last(float_buffer)
    assert_failed_showing(v, "case 6 of 7: uint8 pixels stay uint8",
                          "expected uint8 array, got float64 array")
    assert "images of uint8 pixels stay uint8" in flat(v.message)

    def loop_back(x, inverse=False):  # the way back channel by channel, into float64 zeros
        if not inverse:
            return _forward(x)
        out = np.zeros((x.shape[0], x.shape[3], x.shape[1], x.shape[2]))
        for c in range(x.shape[3]):
            out[:, c] = x[..., c]
        return out

    assert_failed_showing(ex.check_channels_last(loop_back),
                          "case 7 of 7: float32 images stay float32, inverse=True",
                          "expected float32 array, got float64 array")


def test_channels_last_correct_variants_pass():
    def moveaxis(x, inverse=False):
        return np.moveaxis(x, -1, 1) if inverse else np.moveaxis(x, 1, -1)

    def einsum(x, inverse=False):
        return np.einsum("nhwc->nchw" if inverse else "nchw->nhwc", x)

    def loop(x, inverse=False):  # channel by channel, into an array of x's dtype
        if inverse:
            out = np.empty((x.shape[0], x.shape[3], *x.shape[1:3]), dtype=x.dtype)
            for c in range(x.shape[3]):
                out[:, c] = x[..., c]
        else:
            out = np.empty((x.shape[0], *x.shape[2:], x.shape[1]), dtype=x.dtype)
            for c in range(x.shape[1]):
                out[..., c] = x[:, c]
        return out

    for fn in (moveaxis, einsum, loop, lambda x, inverse=False: _flattened(x, False)
               if not inverse else channels_last(x, True), channels_last, ex.channels_last):
        assert ex.check_channels_last(fn).status == "passed"


# ---------------------------------------------------------------- hints


def test_no_hint_of_lesson_10_hands_over_a_line_of_solution_code():
    hints = [h for h in vars(ex).values() if isinstance(h, str)]
    for name in ex.EXERCISES:
        for fn in (lambda *a, **k: np.zeros((1, 2)), lambda *a, **k: (np.zeros(2),) * 4):
            hints.append(getattr(ex, f"check_{name}")(fn).message)
    for text in hints:
        for code in ("W.T", "Wx.T", "Wh.T", "np.transpose", "moveaxis", "(0, 2, 3, 1)",
                     "(0, 3, 1, 2)", "zeros_like", "np.r_", "[:, order]", "np.concatenate"):
            assert code not in text, (code, text)


class TestLesson10Exercises(
    LessonExerciseTests, lesson="10_to_pytorch", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=5,
):
    """Lesson 10's checks and notebook; REFERENCES are learner-style solutions."""

    def test_the_checks_own_reference_passes(self, name):
        assert self.check(name, getattr(ex, name)).status == "passed"
