"""Extreme but legal values: the math gives the right answer without a warning, or a named
dlteach error says why.

Every library call here runs with warnings turned into errors, so a RuntimeWarning that
escapes from NumPy inside dlteach fails the test. "Right" includes +-inf where the true
value is beyond the dtype's range (its floating-point rounding).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from dlteach import (
    LSTM,
    RNN,
    SGD,
    Adam,
    AdditiveAttention,
    AvgPool2D,
    CharVocab,
    Conv2D,
    ConvTranspose2D,
    Dense,
    DotProductAttention,
    Embedding,
    Flatten,
    MaxPool2D,
    MSELoss,
    Parameter,
    PixelCrossEntropy,
    ReLU,
    Seq2Seq,
    SequenceCrossEntropy,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    TimeDense,
    Upsample2D,
    accuracy,
    activation_stats,
    adam_step,
    box_iou,
    class_separation,
    clip_grad_norm,
    col2im,
    confusion_matrix,
    decode_boxes,
    encode_boxes,
    gradient_norms,
    log_softmax,
    masked_softmax,
    masked_softmax_backward,
    momentum_step,
    pca_project,
    relative_error,
    roc_auc,
    roc_curve,
    sample,
    scaled_dot_product_attention,
    scores_to_labels,
    sgd_step,
    softmax,
)
from dlteach.errors import InvalidValueError, NonFiniteError

INF = np.inf


@contextmanager
def no_warnings() -> Iterator[None]:
    """Any warning inside the block is an error (whatever pytest's own filters say)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- softmax and log_softmax -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_huge_logits_is_exact(dtype):
    with no_warnings():
        p = softmax(np.array([1e4, 0.0], dtype=dtype))
        lp = log_softmax(np.array([1e4, 0.0], dtype=dtype))
        q = softmax(np.array([[-1e4, 1e4, 3.0]], dtype=dtype))
    np.testing.assert_array_equal(p, [1.0, 0.0])
    np.testing.assert_array_equal(lp, [0.0, -1e4])
    np.testing.assert_array_equal(q, [[0.0, 1.0, 0.0]])
    assert p.dtype == lp.dtype == dtype


def test_softmax_of_logits_near_the_float64_limit():
    with no_warnings():
        p = softmax(np.array([1e300, -1e300]))
        lp = log_softmax(np.array([1e300, -1e300]))
        lp_far = log_softmax(np.array([1e308, -1e308]))  # -2e308 is beyond float64
    np.testing.assert_array_equal(p, [1.0, 0.0])
    np.testing.assert_array_equal(lp, [0.0, -2e300])
    np.testing.assert_array_equal(lp_far, [0.0, -INF])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_logits_give_the_limits(dtype):
    log2 = math.log(2)
    with no_warnings():
        p_inf = softmax(np.array([INF, 0.0], dtype=dtype))
        lp_inf = log_softmax(np.array([INF, 0.0], dtype=dtype))
        p_two = softmax(np.array([INF, 5.0, INF], dtype=dtype))
        lp_two = log_softmax(np.array([INF, 5.0, INF], dtype=dtype))
        p_neg = softmax(np.array([-INF, 0.0, 0.0], dtype=dtype))
        lp_neg = log_softmax(np.array([-INF, 0.0, 0.0], dtype=dtype))
    np.testing.assert_array_equal(p_inf, [1.0, 0.0])
    np.testing.assert_array_equal(lp_inf, [0.0, -INF])
    np.testing.assert_array_equal(p_two, [0.5, 0.0, 0.5])  # two +inf share the mass
    np.testing.assert_allclose(lp_two, [-log2, -INF, -log2], rtol=1e-6)
    np.testing.assert_array_equal(p_neg, [0.0, 0.5, 0.5])
    np.testing.assert_allclose(lp_neg, [-INF, -log2, -log2], rtol=1e-6)
    for out in (p_inf, lp_inf, p_two, lp_two, p_neg, lp_neg):
        assert out.dtype == dtype


def test_infinite_rows_leave_the_other_rows_alone():
    x = np.array([[INF, 1.0, INF], [1.0, 2.0, 3.0], [-INF, 0.0, -INF], [-INF, 2.0, 1.0]])
    with no_warnings():
        p = softmax(x)
        lp = log_softmax(x)
        p0 = softmax(x.T, axis=0)
    np.testing.assert_array_equal(p[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(p[1], softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15)
    np.testing.assert_array_equal(p[2], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(p[3], [0.0, *softmax(np.array([2.0, 1.0]))], rtol=1e-15)
    np.testing.assert_allclose(lp[1], log_softmax(np.array([1.0, 2.0, 3.0])), rtol=1e-15)
    np.testing.assert_array_equal(lp[2], [-INF, 0.0, -INF])
    np.testing.assert_array_equal(p0, p.T)


@pytest.mark.parametrize(
    ("fn", "x", "axis", "message"),
    [
        (softmax, [[0.0, 1.0], [-INF, -INF]], -1, r"^softmax: row 1 is all -inf: every e\^x is 0"),
        (log_softmax, [[np.nan, 0.0], [1.0, 2.0]], -1, r"^log_softmax: row 0 holds NaN"),
        (softmax, [[np.nan, 0.0], [np.nan, 1.0]], -1, r"^softmax: row 0 holds NaN.*\(1 more"),
        (softmax, [[0.0, -INF], [1.0, -INF]], 0, r"^softmax: column 1 is all -inf"),
        (log_softmax, [-INF, -INF, -INF], -1, r"^log_softmax: the input is all -inf"),
        (softmax, np.full((2, 3, 2), -INF), 1, r"^softmax: the slice x\[0, :, 0\] is all -inf"),
    ],
)
def test_a_slice_without_a_softmax_is_a_named_error(fn, x, axis, message):
    with no_warnings(), pytest.raises(NonFiniteError, match=message):
        fn(np.array(x), axis=axis)


def test_without_a_softmax_inside_errstate_invalid_ignore_it_is_numpys_nan():
    # fit runs the model inside np.errstate(invalid="ignore") and reports NaN outputs as
    # divergence, with the epoch and batch: there the NaN is returned, as NumPy would.
    x = np.array([[np.nan, 1.0], [-INF, -INF], [INF, 1.0], [1.0, 2.0]])
    with no_warnings(), np.errstate(invalid="ignore"):
        p = softmax(x)
        y = Softmax().forward(x)
    assert np.isnan(p[:2]).all() and np.isnan(y[:2]).all()
    np.testing.assert_array_equal(p[2], [1.0, 0.0])
    np.testing.assert_allclose(p[3], softmax(np.array([1.0, 2.0])), rtol=1e-15)


def test_the_softmax_layer_names_itself_and_handles_infinite_logits():
    layer = Softmax()
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^Softmax\(\): row 1 holds NaN"):
        layer.forward(np.array([[0.0, 1.0], [np.nan, 1.0]]))
    with no_warnings():
        y = layer.forward(np.array([[INF, 0.0, INF], [1e4, 0.0, -1e4]]))
        dx = layer.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(y, [[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    # dL/dx = y * (g - sum_k g_k y_k): row 0: s = 2, so (-0.5, 0, 0.5); row 1: 0.
    np.testing.assert_array_equal(dx, [[-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


def test_softmax_backward_with_huge_gradients_overflows_only_where_the_answer_does():
    layer = Softmax()
    y = layer.forward(np.array([[math.log(9.0), 0.0]]))  # y = (0.9, 0.1)
    g = np.array([[1.5e308, -1.5e308]])
    with no_warnings():
        dx = layer.backward(g)
    # s = 0.9 g0 + 0.1 g1 = 1.2e308; y * (g - s) = (0.27e308, -0.27e308): representable,
    # though g1 - s = -2.7e308 is not.
    s = y[0, 0] * 1.5e308 - y[0, 1] * 1.5e308
    want = [y[0, 0] * 1.5e308 - y[0, 0] * s, -y[0, 1] * 1.5e308 - y[0, 1] * s]
    np.testing.assert_allclose(dx[0], want, rtol=1e-12)
    np.testing.assert_allclose(dx[0], [2.7e307, -2.7e307], rtol=1e-9)


# --- every layer, forward and backward, on huge activations -------------------------------------

SIZES = [
    pytest.param(np.float64, 1e4, id="f64-1e4"),
    pytest.param(np.float64, 1e150, id="f64-1e150"),
    pytest.param(np.float64, 1e300, id="f64-1e300"),
    pytest.param(np.float32, 1e4, id="f32-1e4"),
    pytest.param(np.float32, 1e30, id="f32-1e30"),
]

# Layers that are linear in x (zero bias) and whose backward is linear in the gradient:
# layer(big * x) = big * layer(x), so the float64-sized answer is known from a small input.
# name -> (factory(dtype), input shape, how each parameter's gradient scales: 2 = big^2)
LINEAR = {
    "Dense": (lambda dt: Dense(3, 2, rng=0, dtype=dt), (4, 3), {"W": 2, "b": 1}),
    "Conv2D": (lambda dt: Conv2D(2, 3, 3, padding=1, rng=0, dtype=dt), (2, 2, 4, 4),
               {"W": 2, "b": 1}),
    "MaxPool2D": (lambda dt: MaxPool2D(2), (2, 2, 4, 4), {}),
    "MaxPool2D-overlap": (lambda dt: MaxPool2D(2, stride=1), (2, 2, 4, 4), {}),
    "AvgPool2D": (lambda dt: AvgPool2D(2), (2, 2, 4, 4), {}),
    "AvgPool2D-overlap": (lambda dt: AvgPool2D(3, stride=1), (2, 2, 5, 5), {}),
    "Flatten": (lambda dt: Flatten(), (2, 2, 3, 3), {}),
    "ReLU": (lambda dt: ReLU(), (3, 4), {}),
    "TimeDense": (lambda dt: TimeDense(3, 2, rng=0, dtype=dt), (2, 4, 3), {"W": 2, "b": 1}),
    "Upsample2D": (lambda dt: Upsample2D((2, 3)), (2, 2, 3, 3), {}),
    "ConvTranspose2D": (lambda dt: ConvTranspose2D(2, 3, 3, stride=2, padding=1, rng=0, dtype=dt),
                        (2, 2, 3, 3), {"W": 2, "b": 1}),
}


@pytest.mark.parametrize(("dtype", "big"), SIZES)
@pytest.mark.parametrize("name", list(LINEAR))
def test_linear_layers_scale_exactly_to_huge_values(name, dtype, big):
    make, shape, powers = LINEAR[name]
    rng = np.random.default_rng(0)
    # Positive inputs and gradients: dL/dW = x^T g then has one sign, so where it passes
    # the dtype's range the right answer is +-inf (not an undefined inf - inf).
    x = rng.uniform(0.5, 1.0, size=shape).astype(dtype)
    if name == "ReLU":
        x *= np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
    layer = make(dtype)
    reference = copy.deepcopy(layer)
    y_small = reference.forward(x)
    g = rng.uniform(0.5, 1.0, size=y_small.shape).astype(dtype)
    dx_small = reference.backward(g)

    with no_warnings():
        y = layer.forward(x * dtype(big))
        dx = layer.backward(g * dtype(big))

    with np.errstate(over="ignore"):  # the expected values may be inf themselves
        want_y = y_small * dtype(big)
        want_dx = dx_small * dtype(big)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, want_y, rtol=tol, err_msg=f"{layer!r} forward")
    np.testing.assert_allclose(dx, want_dx, rtol=tol, err_msg=f"{layer!r} backward")
    assert y.dtype == dx.dtype == dtype
    twins = reference.named_parameters()
    for pname, p in layer.named_parameters().items():
        with np.errstate(over="ignore"):
            # Cast: NumPy < 2 promotes a float32 array times a scalar too big for float32
            # to float64; the layer's answer is that value rounded to its dtype.
            want = (twins[pname].grad * dtype(big) ** powers[pname]).astype(dtype)
        np.testing.assert_allclose(p.grad, want, rtol=tol, err_msg=f"{layer!r} d{pname}")
    if name in ("Dense", "Conv2D") and big > math.sqrt(np.finfo(dtype).max):
        assert np.isposinf(layer.W.grad).all()  # x^T g is beyond the range: +inf


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_saturating_activations_on_huge_values(dtype, big):
    x = np.array([[1.0, -1.0, 2.0, -3.0]], dtype=dtype) * dtype(big)
    g = np.array([[1.0, -2.0, 3.0, 4.0]], dtype=dtype) * dtype(big)
    with no_warnings():
        sig, tanh, soft = Sigmoid(), Tanh(), Softmax()
        y_sig, y_tanh, y_soft = sig.forward(x), tanh.forward(x), soft.forward(x)
        d_sig, d_tanh, d_soft = sig.backward(g), tanh.backward(g), soft.backward(g)
    np.testing.assert_array_equal(y_sig, [[1, 0, 1, 0]])
    np.testing.assert_array_equal(y_tanh, [[1, -1, 1, -1]])
    np.testing.assert_array_equal(y_soft, [[0, 0, 1, 0]])
    # Saturated: the derivatives are exactly 0, however large the gradient.
    for d in (d_sig, d_tanh, d_soft):
        np.testing.assert_array_equal(d, np.zeros_like(g))
        assert d.dtype == dtype


def test_huge_gradients_through_moderate_activations():
    x = np.array([[0.5, -1.0, 2.0]])
    g = np.array([[1e308, -1e308, 1e308]])
    with no_warnings():
        layers = [Sigmoid(), Tanh(), ReLU()]
        for layer in layers:
            layer.forward(x)
        d_sig, d_tanh, d_relu = (layer.backward(g) for layer in layers)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(d_sig, g * s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(d_tanh, g * (1 - np.tanh(x) ** 2), rtol=1e-12)
    np.testing.assert_array_equal(d_relu, [[1e308, 0, 1e308]])


def test_average_pooling_of_values_whose_sum_overflows():
    for dtype, top in ((np.float64, 1.5e308), (np.float32, np.float32(3e38))):
        x = np.full((1, 1, 2, 4), top, dtype=dtype)
        x[..., 2:] = -top
        with no_warnings():
            y = AvgPool2D(2).forward(x)
        # Four values of 1.5e308 sum beyond float64, but their mean is 1.5e308.
        np.testing.assert_array_equal(y, np.array([[[[top, -top]]]], dtype=dtype))
        assert y.dtype == dtype


def test_overlapping_max_pool_gradients_add_up_to_inf_beyond_the_range():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # the maximum of all four 2x2 windows
    layer = MaxPool2D(2, stride=1)
    layer.forward(x)
    with no_warnings():
        dx = layer.backward(np.full((1, 1, 2, 2), 1e308))
    assert dx[0, 0, 1, 1] == INF  # 4e308: beyond float64
    assert np.count_nonzero(dx) == 1


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: (ReLU(), (2, 3)), id="ReLU"),
        pytest.param(lambda: (Sigmoid(), (2, 3)), id="Sigmoid"),
        pytest.param(lambda: (Dense(3, 3, rng=0, dtype=np.float32), (2, 3)), id="Dense"),
        pytest.param(lambda: (Flatten(), (2, 3, 1)), id="Flatten"),
        pytest.param(lambda: (AvgPool2D(1), (2, 3, 1, 1)), id="AvgPool2D"),
        pytest.param(lambda: (MaxPool2D(1), (2, 3, 1, 1)), id="MaxPool2D"),
        pytest.param(lambda: (Conv2D(3, 3, 1, rng=0, dtype=np.float32), (2, 3, 1, 1)),
                     id="Conv2D"),
        pytest.param(lambda: (TimeDense(3, 1, rng=0, dtype=np.float32), (2, 3, 3)),
                     id="TimeDense"),
        pytest.param(lambda: (Upsample2D(1), (2, 3, 1, 1)), id="Upsample2D"),
        pytest.param(lambda: (ConvTranspose2D(3, 3, 1, rng=0, dtype=np.float32), (2, 3, 1, 1)),
                     id="ConvTranspose2D"),
    ],
)
def test_a_float64_gradient_too_large_for_a_float32_layer_becomes_inf(make):
    layer, shape = make()
    x = np.full(shape, 2.0, dtype=np.float32)
    y = layer.forward(x)
    g = np.full(y.shape, 0.5)
    g[:, 0] = 1e300  # float64; in float32 it is inf
    with no_warnings():
        dx = layer.backward(g)
    assert dx.dtype == np.float32
    assert not np.isnan(dx).any() and np.isinf(dx).any()
    for p in layer.parameters():
        assert not np.isnan(p.grad).any() and np.isinf(p.grad).any()


def test_an_infinite_gradient_through_softmax_is_a_named_error():
    # The float32 cast of 1e300 is inf, and y * (g - sum_k g_k y_k) is then inf - inf.
    layer = Softmax()
    layer.forward(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^Softmax\(\): the backward "):
        layer.backward(np.array([[1e300, 0.5, 0.5]]))


def test_col2im_sums_beyond_the_range_are_inf():
    cols = np.full((4, 4), 1e308)  # 2x2 kernel, stride 1 on a 3x3 image: the centre gets 4
    with no_warnings():
        x = col2im(cols, (1, 1, 3, 3), 2)
    assert x[0, 0, 1, 1] == INF and x[0, 0, 0, 0] == 1e308


# --- recurrent layers: saturation, huge gradients, the sequence loss, sampling ----------------


def _saturating(cls, dtype):
    """A layer whose every pre-activation has the sign of its Wx column (x > 0, Wx = +-1)."""
    layer = cls(2, 3, rng=0, dtype=dtype)
    layer.Wx.value[...] = 1.0
    if cls is RNN:
        layer.Wx.value[:, 1] = -1.0  # unit 1 saturates at -1, units 0 and 2 at +1
    return layer


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_rnn_saturates_exactly_on_huge_inputs(dtype, big):
    x = np.random.default_rng(0).uniform(0.5, 1.0, size=(2, 4, 2)).astype(dtype) * dtype(big)
    g = np.ones((2, 4, 3), dtype=dtype) * dtype(big)
    layer = _saturating(RNN, dtype)
    with no_warnings():
        y = layer.forward(x)
        dx = layer.backward(g)
    np.testing.assert_array_equal(y, np.broadcast_to([1, -1, 1], (2, 4, 3)))
    # tanh is flat where it saturates: exactly 0 gradient, however large the gradient.
    np.testing.assert_array_equal(dx, 0)
    np.testing.assert_array_equal(layer.grad_h0, 0)
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, 0)
    assert y.dtype == dx.dtype == dtype


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_lstm_gates_saturate_exactly_on_huge_inputs(dtype, big):
    x = np.random.default_rng(0).uniform(0.5, 1.0, size=(2, 4, 2)).astype(dtype) * dtype(big)
    g = np.ones((2, 4, 3), dtype=dtype) * dtype(big)
    layer = _saturating(LSTM, dtype)
    with no_warnings():
        y = layer.forward(x)
        dx = layer.backward(g)
    # Every gate is exactly open (i = f = o = 1, g = 1): c_t = t + 1, h_t = tanh(t + 1).
    steps = np.arange(1, 5, dtype=dtype)
    np.testing.assert_array_equal(y, np.broadcast_to(np.tanh(steps)[None, :, None], y.shape))
    for name, gate in layer.gates.items():
        np.testing.assert_array_equal(gate, 1, err_msg=name)
    np.testing.assert_array_equal(dx, 0)
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, 0)
    # The cell state still carries the gradient back: dL/dc0 = sum_t g (1 - tanh(c_t)^2).
    want = dtype(big) * np.sum(1 - np.tanh(steps) ** 2)
    np.testing.assert_allclose(layer.grad_c0, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert y.dtype == dx.dtype == layer.grad_c0.dtype == dtype


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_nan_inputs_pass_through_recurrent_layers(cls):
    x = np.zeros((2, 3, 2))
    x[1, 1, 0] = np.nan
    with no_warnings():
        y = cls(2, 3, rng=0).forward(x)
    assert np.isnan(y[1, 1:]).all() and np.isfinite(y[0]).all() and np.isfinite(y[1, 0]).all()


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_an_infinite_gradient_through_a_recurrent_layer_is_a_named_error(cls):
    # The float32 cast of 1e300 is inf; through Wh (mixed signs) it meets inf - inf.
    if not _matmul_flags_invalid():
        pytest.xfail("this NumPy's matmul does not report inf - inf; the NaN goes unnoticed")
    layer = cls(2, 3, rng=0, dtype=np.float32)
    layer.forward(np.full((2, 4, 2), 0.5, dtype=np.float32))
    g = np.full((2, 4, 3), 0.5)
    g[:, -1] = 1e300
    with no_warnings(), pytest.raises(
        NonFiniteError, match=rf"^{cls.__name__}\(2 -> 3\): the backward cannot be computed"
    ):
        layer.backward(g)


def test_embedding_with_huge_values():
    layer = Embedding(3, 2, rng=0)
    layer.W.value[...] = 1e300
    tokens = np.array([[1, 1, 1, 2]])
    with no_warnings():
        y32 = layer.forward(tokens.astype(np.float32))  # float32 tokens: float32 output
        layer.forward(tokens)
        layer.backward(np.full((1, 4, 2), 1e308))
    assert y32.dtype == np.float32 and np.isposinf(y32).all()  # 1e300 in float32: inf
    assert np.isposinf(layer.W.grad[1]).all()  # three times 1e308: beyond float64
    np.testing.assert_array_equal(layer.W.grad[2], 1e308)
    np.testing.assert_array_equal(layer.W.grad[0], 0)


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_sequence_cross_entropy_of_huge_logits(dtype, big):
    logits = np.array([[[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]], dtype=dtype) * dtype(big)
    loss = SequenceCrossEntropy()
    with no_warnings():
        right = loss(logits, np.array([[0, 1]]))
        grad_right = loss.backward()
        wrong = loss(logits, np.array([[1, 0]]), np.array([[1, 0]]))
        grad_wrong = loss.backward()
    assert right == 0.0
    np.testing.assert_array_equal(grad_right, 0)
    assert wrong == pytest.approx(2 * big, rel=1e-6)  # log p = -2 big at the masked mean
    np.testing.assert_array_equal(grad_wrong[0, 0], [1, -1, 0])
    np.testing.assert_array_equal(grad_wrong[0, 1], 0)
    assert grad_wrong.dtype == dtype


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_pixel_cross_entropy_of_huge_logits(dtype, big):
    # Two pixels of three classes, as (N=1, K=3, H=1, W=2).
    logits = np.array([[[[1.0, 0.0]], [[-1.0, 1.0]], [[0.0, -1.0]]]], dtype=dtype) * dtype(big)
    loss = PixelCrossEntropy(ignore_index=-1, class_weights=np.array([1.0, 2.0, 3.0]))
    with no_warnings():
        right = loss(logits, np.array([[[0, 1]]]))
        grad_right = loss.backward()
        wrong = loss(logits, np.array([[[1, -1]]]))
        grad_wrong = loss.backward()
    assert right == 0.0
    np.testing.assert_array_equal(grad_right, 0)
    assert wrong == pytest.approx(2 * big, rel=1e-6)  # log p = -2 big at the kept pixel
    np.testing.assert_array_equal(grad_wrong[0, :, 0, 0], [1, -1, 0])
    np.testing.assert_array_equal(grad_wrong[0, :, 0, 1], 0)
    assert grad_wrong.dtype == dtype


def test_box_utilities_with_huge_coordinates():
    a = np.array([[-1e308, -1e308, 1e308, 1e308], [0.0, 0.0, 1e-300, 1e-300]])
    b = np.array([[0.0, 0.0, 1e308, 1e308], [1e307, 1e307, 1e307, 1e307]])
    with no_warnings():
        iou = box_iou(a, b)
        enc = encode_boxes(np.array([[1e308, 0.0, 1.5e308, 1e308]]), (1e308, 1.5e308))
        # A detector's raw guess: corners beyond float64 in pixels are +-inf.
        dec = decode_boxes(np.array([[0.0, 0.5, 1e300, 0.0], [1e300, 0.5, 1e300, 0.0]]),
                           (10.0, 1e10))
    # The quarter of the huge square; the tiny box underflows to zero area: 0.
    np.testing.assert_allclose(iou, [[0.25, 0.0], [0.0, 0.0]], rtol=1e-12)
    np.testing.assert_allclose(enc, [[2.5 / 3, 0.5, 1 / 3, 1.0]], rtol=1e-12)
    np.testing.assert_array_equal(dec, [[-INF, 5.0, INF, 5.0], [INF, 5.0, INF, 5.0]])


def test_roc_of_huge_and_tiny_scores():
    y = np.array([0, 1, 0, 1])
    s = np.array([-1e308, 1e308, 5e-324, 1e-300])
    with no_warnings():
        assert roc_auc(y, s) == 1.0
        fpr, tpr, _ = roc_curve(y, s)
    np.testing.assert_array_equal(tpr, [0, 0.5, 1, 1, 1])
    np.testing.assert_array_equal(fpr, [0, 0, 0, 0.5, 1])


@pytest.mark.parametrize("temperature", [1e-300, 1e-3, 1e300])
def test_sampling_at_extreme_temperatures_and_scores(temperature):
    vocab = CharVocab("abc")
    model = Sequential(Embedding(3, 2, rng=0), LSTM(2, 3, rng=1), TimeDense(3, 3, rng=2))
    model[2].W.value *= 1e300  # scores near 1e300: still a valid draw
    with no_warnings():
        text = sample(model, vocab, "ab", 20, temperature, seed=0)
    assert len(text) == 22 and set(text) <= set("abc")


# --- attention and sequence-to-sequence ----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_softmax_subtracts_the_maximum_of_the_real_positions(dtype):
    big = np.finfo(dtype).max / 2  # 9e307 or 1.7e38: e^(score) would overflow at once
    scores = np.array([[big, -big, big * 1.9, 0.0],  # the largest score is padding
                       [1.0, 2.0, np.inf, np.nan],  # padding may hold inf and NaN
                       [-big, -big, 5.0, -np.inf]], dtype=dtype)
    mask = np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 1, 0, 1]], dtype=bool)
    with no_warnings():
        w = masked_softmax(scores, mask)
        dw = masked_softmax_backward(np.full_like(scores, big), w)
    np.testing.assert_array_equal(w[0], [1, 0, 0, 0])
    np.testing.assert_allclose(w[1], [*softmax(np.array([1.0, 2.0], dtype=dtype)), 0, 0],
                               rtol=1e-6)
    np.testing.assert_array_equal(w[2], [0.5, 0.5, 0, 0])  # two equal real scores share
    assert w.dtype == dw.dtype == dtype and not dw[~mask].any()
    np.testing.assert_allclose(dw, 0, atol=1e-6 * big)  # a constant gradient: none at all
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^masked_softmax: row 0 is all -inf"):
        masked_softmax(np.array([[-np.inf, 1.0]], dtype=dtype), np.array([[1, 0]]))


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_dot_product_attention_saturates_exactly_on_huge_queries(dtype, big):
    # The query points along axis 0 and the keys' first components differ: with huge
    # queries one real key takes all the weight (a masked key with a larger score none),
    # and the saturated softmax passes exactly no gradient to the query and the keys.
    rng = np.random.default_rng(0)
    q = np.zeros((2, 3, 4), dtype=dtype)
    q[..., 0] = dtype(big)
    k = rng.uniform(-1, 1, size=(2, 5, 4)).astype(dtype)
    k[:, :, 0] = [0.1, 0.9, 0.5, 1.0, -1.0]  # key 3, the largest, is padding
    v, g = (rng.normal(size=s).astype(dtype) for s in ((2, 5, 2), (2, 3, 2)))
    mask = np.array([[1, 1, 1, 0, 1]] * 2)
    for layer in (DotProductAttention(), DotProductAttention(scaled=False)):
        with no_warnings():
            context = layer.forward(q, k, v, mask)
            dq, dk, dv = layer.backward(g * dtype(big))
        np.testing.assert_array_equal(layer.weights, np.broadcast_to([0, 1, 0, 0, 0], (2, 3, 5)))
        np.testing.assert_array_equal(context, np.repeat(v[:, 1:2], 3, axis=1))
        np.testing.assert_array_equal(dq, 0)
        np.testing.assert_array_equal(dk, 0)
        with np.errstate(over="ignore"):
            np.testing.assert_allclose(dv[:, 1], (g * dtype(big)).sum(axis=1), rtol=1e-5)
        assert not np.delete(dv, 1, axis=1).any()
        assert context.dtype == dq.dtype == dk.dtype == dv.dtype == dtype


@pytest.mark.parametrize(("dtype", "big"), SIZES)
def test_additive_attention_saturates_exactly_on_huge_queries(dtype, big):
    layer = AdditiveAttention(3, 3, 2, rng=0, dtype=dtype)
    layer.Wq.value[...] = 1.0  # q Wq is huge and positive: tanh(q Wq + k Wk) is exactly 1
    rng = np.random.default_rng(1)
    q = rng.uniform(0.5, 1.0, size=(2, 2, 3)).astype(dtype) * dtype(big)
    k, v = rng.normal(size=(2, 4, 3)).astype(dtype), rng.normal(size=(2, 4, 2)).astype(dtype)
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    with no_warnings():
        layer.forward(q, k, v, mask)
        dq, dk, dv = layer.backward(np.ones((2, 2, 2), dtype=dtype) * dtype(big))
    # Every real key has the same score w . 1: the weight is shared equally.
    w = layer.weights
    np.testing.assert_allclose(w[0], np.broadcast_to([1 / 3, 1 / 3, 1 / 3, 0], (2, 4)), rtol=1e-6)
    np.testing.assert_array_equal(w[1], np.broadcast_to([1, 0, 0, 0], (2, 4)))
    for zero in (dq, dk, layer.Wq.grad, layer.Wk.grad):
        np.testing.assert_array_equal(zero, 0)  # through a flat tanh
    # dL/dw = sum over (i, j) of dL/de_ij * 1, and dL/de sums to 0 over the keys: ~0.
    np.testing.assert_allclose(layer.w.grad, 0, atol=1e-5 * big)
    assert np.isfinite(dv).all() and dv.dtype == dtype


def test_an_infinite_gradient_through_attention_is_a_named_error():
    # The float32 cast of 1e300 is inf; dL/da then holds +inf and -inf (values of both
    # signs), and the softmax's sum over the keys meets inf - inf.
    layer = DotProductAttention()
    v = np.array([[[1.0], [-1.0]]], dtype=np.float32)
    layer.forward(np.ones((1, 1, 2), np.float32), np.ones((1, 2, 2), np.float32), v)
    with no_warnings(), pytest.raises(
        NonFiniteError, match=r"^DotProductAttention\(scaled=True\): the backward cannot be"
    ):
        layer.backward(np.array([[[1e300]]]))


def test_attention_of_scores_beyond_the_range_is_inf_without_a_warning():
    q = np.full((1, 1, 2), 1e200)
    k = np.array([[[1e200, 1e200], [-1e200, -1e200], [1.0, 1.0]]])
    with no_warnings():
        context, w = scaled_dot_product_attention(q, k, np.eye(3)[None], scale=1.0)
    np.testing.assert_array_equal(w, [[[1, 0, 0]]])  # scores +inf, -inf, 2e200
    np.testing.assert_array_equal(context, [[[1, 0, 0]]])


def test_seq2seq_decodes_and_trains_with_huge_scores():
    model = Seq2Seq(5, 6, 3, 4, attention="additive", rng=0)
    model.out.W.value *= 1e300  # scores near 1e300: still a valid argmax and a finite loss
    src = np.array([[1, 2, 4], [3, 0, 0]])
    with no_warnings():
        tokens, real = model.greedy_decode(src, max_len=6)
        logits = model.forward(src, np.array([[2, 1], [2, 5]]))
        model.backward(np.ones_like(logits) * 1e-300)
    assert tokens.shape[0] == 2 and real[:, 0].all() and (tokens < 6).all()
    assert all(np.isfinite(p.grad).all() for p in model.parameters())


# --- where no answer exists: a named error (or NaN, when the caller asks NumPy for it) ----------


def _matmul_flags_invalid() -> bool:
    a, b = np.array([[1e300, 1e300]]), np.array([[1e300], [-1e300]])
    with np.errstate(over="ignore", invalid="raise"):
        try:
            a @ b
        except FloatingPointError:
            return True
    return False


def test_overflow_inside_a_matrix_product_is_inf_whether_or_not_numpy_reports_it():
    # NumPy 2 reports overflow in matmul (a RuntimeWarning); some older NumPy or BLAS
    # builds do not. The layers give +inf without a warning either way.
    layer = Dense(2, 2, rng=0)
    layer.W.value[...] = 1e200
    x = np.full((3, 2), 1e200)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = x @ layer.W.value
    numpy_warns = any(issubclass(w.category, RuntimeWarning) for w in caught)
    assert np.isposinf(plain).all(), f"NumPy's own product (warned: {numpy_warns})"
    with no_warnings():
        y = layer.forward(x)
    assert np.isposinf(y).all()


@pytest.mark.parametrize("kind", ["Dense", "Conv2D"])
def test_overflowed_terms_of_opposite_signs_are_a_named_error(kind):
    if not _matmul_flags_invalid():
        pytest.xfail("this NumPy's matmul does not report inf - inf; the NaN goes unnoticed")
    if kind == "Dense":
        layer, x = Dense(1, 1, rng=0), np.array([[1e300], [1e300]])
        g = np.array([[1e300], [-1e300]])  # dL/dW = 1e600 - 1e600
        layer.W.value[...] = 1.0
    else:
        layer, x = Conv2D(1, 1, 1, bias=False, rng=0), np.array([[[[1e300]]], [[[1e300]]]])
        g = np.array([[[[1e300]]], [[[-1e300]]]])
        layer.W.value[...] = 1.0
    layer.forward(x)
    with no_warnings(), pytest.raises(
        NonFiniteError, match=rf"^{kind}\(.*\): the backward cannot be computed: it met inf - inf"
    ):
        layer.backward(g)
    # Inside np.errstate(invalid="ignore"), as in fit, it is NumPy's NaN (fit reports it).
    layer.zero_grad()
    layer.forward(x)
    with no_warnings(), np.errstate(invalid="ignore"):
        layer.backward(g)
    assert np.isnan(layer.W.grad).all()


def test_infinite_inputs_of_opposite_signs_are_a_named_error_and_nan_passes_through():
    layer = Dense(2, 1, rng=0)
    layer.W.value[...] = 1.0
    with no_warnings():
        if _matmul_flags_invalid():
            with pytest.raises(NonFiniteError, match=r"^Dense\(2 -> 1\): the forward"):
                layer.forward(np.array([[INF, -INF]]))
        y = layer.forward(np.array([[np.nan, 1.0]]))  # NaN in, NaN out: no error
        avg = AvgPool2D(2).forward(np.array([[[[np.nan, 1.0], [2.0, 3.0]]]]))
    assert np.isnan(y).all() and np.isnan(avg).all()
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^AvgPool2D\(2x2\): the forward"):
        AvgPool2D(2).forward(np.array([[[[INF, -INF], [2.0, 3.0]]]]))


# --- optimizers ---------------------------------------------------------------------------------


def test_sgd_and_momentum_steps_with_huge_gradients():
    w = np.array([0.0, 1.0, 5.0])
    g = np.array([1e300, -1e308, 1e308])
    with no_warnings():
        w1 = sgd_step(w, g, lr=0.1)
        w2 = sgd_step(w, g, lr=10.0)  # -1e309: beyond float64
        w3, v3 = momentum_step(w, g, np.full(3, -1e308), lr=10.0, momentum=0.9)
    np.testing.assert_allclose(w1, [-1e299, 1 + 1e307, 5 - 1e307], rtol=1e-15)
    np.testing.assert_array_equal(w2, [-1e301, INF, -INF])
    # v = 0.9 * -1e308 - 10 * g: -9.000001e307, then +-1e309 (beyond float64) for the others.
    np.testing.assert_allclose(v3, [-9.000001e307, INF, -INF], rtol=1e-15)
    np.testing.assert_allclose(w3, [-9.000001e307, INF, -INF], rtol=1e-15)


def test_adam_step_with_huge_gradients_moves_about_lr_in_the_right_direction():
    w, g = np.zeros(3), np.array([1e200, -1e200, 1e-3])
    with no_warnings():
        w_new, m_new, v_new = adam_step(w, g, np.zeros(3), np.zeros(3), t=1, lr=1e-3)
    # First step: m_hat / sqrt(v_hat) = g / |g|, so each weight moves by about lr.
    np.testing.assert_allclose(w_new, [-1e-3, 1e-3, -1e-3 * 1e-3 / (1e-3 + 1e-8)], rtol=1e-9)
    np.testing.assert_allclose(m_new, 0.1 * g, rtol=1e-15)
    np.testing.assert_array_equal(v_new[:2], [INF, INF])  # 1e397: beyond float64
    np.testing.assert_allclose(v_new[2], 1e-3 * 1e-6, rtol=1e-12)


def test_adam_step_later_steps_and_float32():
    w = np.array([1.0, -1.0])
    m, v = np.array([1e150, 0.0]), np.array([1e296, 1.0])
    g = np.array([1e200, -3.0])
    with no_warnings():
        w_new, _, v_new = adam_step(w, g, m, v, t=3, lr=0.01)
    # The formula, written with everything divided by s = |g| for the first weight.
    b1, b2 = 0.9, 0.999
    m_hat = (b1 * 1e150 / 1e200 + (1 - b1)) / (1 - b1**3)
    v_hat = (b2 * 1e296 / 1e400 + (1 - b2)) / (1 - b2**3)
    want0 = 1.0 - 0.01 * m_hat / math.sqrt(v_hat)
    m1 = (1 - b1) * -3.0 / (1 - b1**3)
    v1 = (b2 * 1.0 + (1 - b2) * 9.0) / (1 - b2**3)
    np.testing.assert_allclose(w_new, [want0, -1.0 - 0.01 * m1 / (math.sqrt(v1) + 1e-8)],
                               rtol=1e-9)
    assert v_new[0] == INF
    w32 = np.zeros(2, dtype=np.float32)
    g32 = np.array([1e20, -1e20], dtype=np.float32)  # 1e40 is beyond float32
    with no_warnings():
        w32_new, _, _ = adam_step(w32, g32, np.zeros_like(w32), np.zeros_like(w32), t=1)
    assert w32_new.dtype == np.float32
    np.testing.assert_allclose(w32_new, [-1e-3, 1e-3], rtol=1e-5)


def test_optimizer_classes_with_huge_gradients():
    p = Parameter(np.zeros(2))
    opt = Adam([p], lr=0.01)
    p.grad = np.array([1e200, -1e200])
    with no_warnings():
        opt.step()
    np.testing.assert_allclose(p.value, [-0.01, 0.01], rtol=1e-9)
    # v now holds inf (1e397): Adam cannot size this weight's steps any more, and says so.
    with no_warnings(), pytest.raises(
        NonFiniteError, match=r"^Adam: at step 1 a gradient of params\[0\] \(Parameter"
    ):
        opt.step()
    np.testing.assert_allclose(p.value, [-0.01, 0.01], rtol=1e-9)  # untouched
    q = Parameter(np.zeros(2))
    q.grad = np.array([1e150, -1e150])  # squares 1e300: no overflow at all
    with no_warnings():
        Adam([q], lr=0.01).step()
    np.testing.assert_allclose(q.value, [-0.01, 0.01], rtol=1e-9)
    for momentum in (0.0, 0.9):
        r = Parameter(np.zeros(2))
        r.grad = np.array([1e308, -1e300])
        with no_warnings():
            SGD([r], lr=10.0, momentum=momentum).step()
        np.testing.assert_array_equal(r.value, [-INF, 1e301])


def _norm(arrays: list[np.ndarray]) -> float:
    peak = max(float(np.abs(a).max()) for a in arrays)
    return peak * math.sqrt(sum(float(np.sum((a / peak) ** 2)) for a in arrays))


def test_clip_grad_norm_of_huge_gradients():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    a.grad, b.grad = np.array([1e200, -1e200]), np.array([1e200])
    with no_warnings():
        norm = clip_grad_norm([a, b], max_norm=1.0)
    assert norm == pytest.approx(math.sqrt(3) * 1e200, rel=1e-12)
    assert _norm([a.grad, b.grad]) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(a.grad, [1 / math.sqrt(3), -1 / math.sqrt(3)], rtol=1e-12)

    # A norm beyond float64 itself (2.1e308) is inf; the gradients are still clipped.
    c = Parameter(np.zeros(2))
    c.grad = np.array([1.5e308, 1.5e308])
    with no_warnings():
        assert clip_grad_norm([c], max_norm=2.0) == INF
    np.testing.assert_allclose(c.grad, [math.sqrt(2), math.sqrt(2)], rtol=1e-12)

    d = Parameter(np.zeros(2, dtype=np.float32))
    d.grad = np.array([3e38, -3e38], dtype=np.float32)
    with no_warnings():
        norm = clip_grad_norm([d], max_norm=1.0)
    assert norm == pytest.approx(3e38 * math.sqrt(2), rel=1e-6) and d.grad.dtype == np.float32
    np.testing.assert_allclose(d.grad, [2**-0.5, -(2**-0.5)], rtol=1e-6)

    e = Parameter(np.zeros(2))
    e.grad = np.array([INF, 1.0])
    with no_warnings():
        assert clip_grad_norm([e], max_norm=1.0) == INF
    np.testing.assert_array_equal(e.grad, [INF, 1.0])  # infinite gradients: left alone


# --- metrics, diagnostics, gradcheck -------------------------------------------------------------


def test_metrics_on_huge_scores():
    scores = np.array([[1e300, -1e300, 0.0], [-1e308, 1e308, 1e307], [0.0, -1e4, 1e4]])
    y = np.array([0, 1, 2])
    with no_warnings():
        assert accuracy(y, scores) == 1.0
        np.testing.assert_array_equal(confusion_matrix(y, scores), np.eye(3, dtype=int))
        np.testing.assert_array_equal(
            scores_to_labels(np.array([1e300, -1e300, 0.0]), threshold=0.0), [1, 0, 1]
        )
    with no_warnings(), pytest.raises(InvalidValueError, match=r"^accuracy: y_pred holds inf"):
        accuracy(y, np.array([[INF, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def test_activation_stats_of_huge_and_infinite_activations():
    X = np.array([[1.5e308, -1e308], [1.5e308, 1e308]])  # ReLU keeps 1.5, 0, 1.5, 1 (e308)
    with no_warnings():
        stats = activation_stats(Sequential(ReLU()), X)
    # Their sum, 4e308, is beyond float64; their mean is not.
    assert stats.mean[0] == pytest.approx(1e308, rel=1e-12)
    assert stats.std[0] == pytest.approx(math.sqrt(0.375) * 1e308, rel=1e-12)
    assert stats.zero_fraction[0] == 0.25
    with no_warnings():
        inf_stats = activation_stats(Sequential(ReLU()), np.array([[INF, 1.0], [2.0, 3.0]]))
        both = activation_stats(Sequential(Tanh(), Flatten()), np.array([[1.0, 2.0]]))
    assert inf_stats.mean[0] == INF and inf_stats.std[0] == INF
    assert np.isfinite(both.mean).all()


def test_gradient_norms_of_huge_gradients():
    layer = Dense(1, 1, rng=0)
    layer.W.value[...] = 1.0
    model = Sequential(layer)
    X, y = np.array([[1e100]]), np.array([[0.0]])
    with no_warnings():
        norms = gradient_norms(model, X, y, MSELoss())
    # pred = 1e100, dL/dpred = 2e100, dL/dW = x * 2e100 = 2e200; dL/db = 2e100.
    assert norms["0.W"] == pytest.approx(2e200, rel=1e-12)
    assert norms["0.b"] == pytest.approx(2e100, rel=1e-12)


def test_pca_and_class_separation_of_huge_values():
    rng = np.random.default_rng(0)
    H = rng.normal(size=(30, 4)) + np.repeat(np.eye(3, 4) * 3, 10, axis=0)
    y = np.repeat(np.arange(3), 10)
    Z, explained = pca_project(H)
    with no_warnings():
        Z_big, explained_big = pca_project(H * 1e300)
        sep_big = class_separation(H * 1e300, y)
    np.testing.assert_allclose(explained_big, explained, rtol=1e-9)
    np.testing.assert_allclose(Z_big, Z * 1e300, rtol=1e-9, atol=1e291)
    assert sep_big == pytest.approx(class_separation(H, y), rel=1e-9)
    bad = H.copy()
    bad[3, 1] = INF
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^pca_project: X holds inf at "):
        pca_project(bad)
    with no_warnings(), pytest.raises(NonFiniteError, match=r"^class_separation: H holds inf"):
        class_separation(bad, y)


def test_relative_error_of_gradients_near_the_float64_limit():
    with no_warnings():
        assert relative_error(np.array([1e308, 0.0]), np.array([-1e308, 0.0])) == 2.0
        err = relative_error(np.array([1.5e308, 1.0]), np.array([-1.4e308, 1.0]))
        small = relative_error(np.array([1e300, 2e300]), np.array([1e300, 2.2e300]))
    assert err == pytest.approx(2.9 / 1.5, rel=1e-12)
    assert small == pytest.approx(0.2 / 2.2, rel=1e-12)
