"""Masked softmax; dot-product and additive attention, as pure functions and as layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import softmax
from dlteach.attention import (
    AdditiveAttention,
    DotProductAttention,
    additive_attention,
    additive_attention_backward,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from dlteach.core import Layer, Sequential
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.masking import masked_softmax, masked_softmax_backward
from dlteach.reshape import Flatten


def _mask(rng, shape):
    """A random 0/1 mask keeping at least one position of every row (last axis)."""
    m = rng.random(shape) < 0.6
    keep = rng.integers(0, shape[-1], size=shape[:-1])
    np.put_along_axis(m, keep[..., None], True, axis=-1)
    return m


@st.composite
def attention_case(draw):
    """(q, k, v, mask or None, the mask as (N, Tq, Tk) or None, rng)."""
    n, tq, tk = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d, dv = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    q, k, v = (rng.normal(size=s) for s in ((n, tq, d), (n, tk, d), (n, tk, dv)))
    kind = draw(st.sampled_from(["none", "keys", "full"]))
    mask = full = None
    if kind == "keys":
        mask = _mask(rng, (n, tk))
        full = np.broadcast_to(mask[:, None, :], (n, tq, tk))
    elif kind == "full":
        mask = full = _mask(rng, (n, tq, tk))
    return q, k, v, mask, full, rng


def loop_reference(q, k, v, full, score):
    """Attention one query at a time, softmax over the real keys only: no vectorization."""
    n, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    context, weights = np.zeros((n, tq, v.shape[2])), np.zeros((n, tq, tk))
    for i in range(n):
        for t in range(tq):
            real = np.ones(tk, bool) if full is None else full[i, t]
            e = np.array([score(q[i, t], k[i, j]) for j in range(tk) if real[j]])
            a = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
            weights[i, t, real] = a
            context[i, t] = a @ v[i, real]
    return context, weights


# --- the masked softmax --------------------------------------------------------------------------


def test_masked_positions_get_exactly_zero_weight():
    scores = np.array([[3.0, 1.0, 2.0, 1e308], [0.5, -np.inf, np.nan, 2.0]])
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 1]])
    w = masked_softmax(scores, mask)
    assert w[0, 3] == 0.0 and w[1, 2] == 0.0  # a huge and a NaN score, both masked
    np.testing.assert_allclose(w[0, :3], softmax(scores[0, :3]), rtol=1e-15)
    p = softmax(np.array([0.5, -np.inf, 2.0]))  # a -inf score that is real gets 0 too
    np.testing.assert_allclose(w[1], [p[0], 0, 0, p[2]], rtol=1e-15)
    np.testing.assert_allclose(w.sum(axis=1), [1.0, 1.0], rtol=1e-15)
    np.testing.assert_array_equal(masked_softmax(scores[:, :2]), softmax(scores[:, :2]))
    cols = masked_softmax(scores.T, mask.T.astype(bool), axis=0)  # along another axis
    np.testing.assert_array_equal(cols, w.T)


@given(attention_case())
def test_masked_softmax_passes_gradcheck(case):
    q, k, _, _, full, rng = case
    scores = q @ k.transpose(0, 2, 1) * 2
    r = rng.normal(size=scores.shape)

    def f(s):
        w = masked_softmax(s, full)
        return float(np.sum(w * r)), masked_softmax_backward(r, w)

    report = gradcheck(f, scores)
    assert report.passed(1e-7), str(report)
    w = masked_softmax(scores, full)
    if full is not None:
        assert not w[~full].any() and not masked_softmax_backward(r, w)[~full].any()


def test_masked_softmax_errors_name_the_function_and_the_shapes():
    scores = np.zeros((2, 3, 4))
    with pytest.raises(InvalidValueError, match=r"^masked_softmax: every position of "
                                                r"scores\[1, 2, :\] is masked"):
        mask = np.ones((2, 3, 4), bool)
        mask[1, 2] = False
        masked_softmax(scores, mask)
    with pytest.raises(ShapeError, match=r"^masked_softmax: expected a mask of the scores' "
                                         r"shape \(2, 3, 4\) .*, got \(2, 4\)\. For scores "
                                         r"\(N, Tq, Tk\), a mask of the keys \(N, Tk\) is "
                                         r"written mask\[:, None, :\]"):
        masked_softmax(scores, np.ones((2, 4)))
    np.testing.assert_array_equal(masked_softmax(scores, np.ones((2, 1, 4))), 0.25)
    with pytest.raises(InvalidValueError, match=r"^masked_softmax: mask must hold 1/True .* got 2"):
        masked_softmax(scores, np.full((2, 3, 4), 2))
    with pytest.raises(ShapeError, match=r"^masked_softmax: axis 3 is out of range"):
        masked_softmax(scores, axis=3)
    with pytest.raises(ShapeError, match=r"^masked_softmax_backward: expected grad_weights of "
                                         r"shape \(2, 3, 4\), got \(2, 3\)"):
        masked_softmax_backward(np.zeros((2, 3)), scores)


# --- the pure functions ------------------------------------------------------------------------


@given(attention_case(), st.sampled_from([None, 1.0, 0.3]))
def test_dot_product_attention_equals_a_loop_and_passes_gradcheck(case, scale):
    q, k, v, mask, full, rng = case
    s = 1 / np.sqrt(q.shape[2]) if scale is None else scale
    context, weights = scaled_dot_product_attention(q, k, v, mask, scale=scale)
    want_c, want_w = loop_reference(q, k, v, full, lambda a, b: a @ b * s)
    np.testing.assert_allclose(context, want_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights, want_w, rtol=1e-12, atol=1e-14)
    r = rng.normal(size=context.shape)
    args = {"query": q, "keys": k, "values": v}
    for i, name in enumerate(args):

        def f(x, name=name, i=i):
            a = dict(args, **{name: x})
            c, w = scaled_dot_product_attention(**a, mask=mask, scale=scale)
            grads = scaled_dot_product_attention_backward(r, **a, weights=w, scale=scale)
            return float(np.sum(c * r)), grads[i]

        report = gradcheck(f, args[name])
        assert report.passed(1e-7), f"{name}: {report}"


@given(attention_case(), st.integers(1, 3))
def test_additive_attention_equals_a_loop_and_passes_gradcheck(case, a_dim):
    q, k, v, mask, full, rng = case
    Wq, Wk = rng.normal(size=(q.shape[2], a_dim)), rng.normal(size=(k.shape[2], a_dim))
    w = rng.normal(size=a_dim)
    context, weights = additive_attention(q, k, v, Wq, Wk, w, mask)
    want_c, want_w = loop_reference(q, k, v, full, lambda a, b: w @ np.tanh(a @ Wq + b @ Wk))
    np.testing.assert_allclose(context, want_c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights, want_w, rtol=1e-12, atol=1e-14)
    r = rng.normal(size=context.shape)
    args = {"query": q, "keys": k, "values": v, "Wq": Wq, "Wk": Wk, "w": w}
    for i, name in enumerate(args):

        def f(x, name=name, i=i):
            a = dict(args, **{name: x})
            c, wts = additive_attention(**a, mask=mask)
            return float(np.sum(c * r)), additive_attention_backward(r, **a, weights=wts)[i]

        report = gradcheck(f, args[name])
        assert report.passed(1e-7), f"{name}: {report}"


def test_masked_keys_and_values_change_nothing():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    c, w = scaled_dot_product_attention(q, k, v, mask)
    k2, v2 = k.copy(), v.copy()
    k2[0, 3:], v2[0, 3:] = 1e6, -1e6  # the padding of sequence 0 holds something else
    c2, w2 = scaled_dot_product_attention(q, k2, v2, mask)
    np.testing.assert_array_equal(c, c2)
    np.testing.assert_array_equal(w, w2)
    assert not w[0, :, 3:].any()
    _, dk, dv = scaled_dot_product_attention_backward(np.ones_like(c), q, k, v, w)
    assert not dk[0, 3:].any() and not dv[0, 3:].any()  # and no gradient there


def test_the_scale_divides_the_scores_by_sqrt_d():
    q, k = np.full((1, 1, 4), 1.0), np.array([[[1.0] * 4, [0.0] * 4]])
    _, w = scaled_dot_product_attention(q, k, np.zeros((1, 2, 1)))
    np.testing.assert_allclose(w[0, 0], softmax(np.array([2.0, 0.0])), rtol=1e-15)  # 4 / 2
    _, w = scaled_dot_product_attention(q, k, np.zeros((1, 2, 1)), scale=1.0)
    np.testing.assert_allclose(w[0, 0], softmax(np.array([4.0, 0.0])), rtol=1e-15)


def test_pure_function_errors_name_the_function_and_the_shapes():
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    f = scaled_dot_product_attention
    with pytest.raises(ShapeError, match=r"^scaled_dot_product_attention: expected keys of shape "
                                         r"\(2, Tk, 4\), got \(2, 5, 3\)"):
        f(q, np.zeros((2, 5, 3)), v)
    with pytest.raises(ShapeError, match=r"expected keys of shape \(2, Tk, 4\), got \(3, 5, 4\)"):
        f(q, np.zeros((3, 5, 4)), v)
    with pytest.raises(ShapeError, match=r"^scaled_dot_product_attention: expected values of shape "
                                         r"\(2, 5, Dv\), got \(2, 4, 6\)"):
        f(q, k, np.zeros((2, 4, 6)))
    with pytest.raises(ShapeError, match=r"^scaled_dot_product_attention: expected mask of shape "
                                         r"\(N, Tk\) = \(2, 5\) \(the keys\) or \(N, Tq, Tk\) = "
                                         r"\(2, 3, 5\), got \(2, 4\)\.$"):
        f(q, k, v, np.ones((2, 4)))
    mask = np.ones((2, 5))
    mask[1] = 0
    with pytest.raises(InvalidValueError, match=r"every position of scores\[1, 0, :\] is masked"):
        f(q, k, v, mask)
    with pytest.raises(ShapeError, match=r"^scaled_dot_product_attention_backward: expected "
                                         r"weights of shape \(2, 3, 5\), got \(2, 5, 3\)"):
        scaled_dot_product_attention_backward(np.zeros((2, 3, 6)), q, k, v, np.zeros((2, 5, 3)))
    with pytest.raises(ShapeError, match=r"^additive_attention: expected Wk of shape \(Dk, 7\), "
                                         r"got \(4, 6\)"):
        additive_attention(q, k, v, np.zeros((4, 7)), np.zeros((4, 6)), np.zeros(7))
    with pytest.raises(ShapeError, match=r"^additive_attention: expected query of shape "
                                         r"\(N, Tq, 3\), got \(2, 3, 4\)"):
        additive_attention(q, k, v, np.zeros((3, 7)), np.zeros((4, 7)), np.zeros(7))


# --- the layers -------------------------------------------------------------------------------


class QueryInput(Layer):
    """One attention input at a time as THE input, so gradcheck checks it and the params."""

    def __init__(self, inner, q, k, v, mask, which):
        self.inner, self.args, self.mask, self.which = inner, [q, k, v], mask, which

    def forward(self, x):
        args = list(self.args)
        args[self.which] = x
        return self.inner.forward(*args, self.mask)

    def backward(self, grad):
        return self.inner.backward(grad)[self.which]

    def named_parameters(self, prefix=""):
        return self.inner.named_parameters(prefix)


def _layers(q, k, rng):
    return [DotProductAttention(), DotProductAttention(scaled=False),
            AdditiveAttention(q.shape[2], k.shape[2], int(rng.integers(1, 4)), rng=rng)]


@given(attention_case())
def test_attention_layers_pass_gradcheck_for_every_input(case):
    q, k, v, mask, _, rng = case
    for layer in _layers(q, k, rng):
        params = list(layer.named_parameters())
        for which, x in enumerate((q, k, v)):
            report = gradcheck(QueryInput(layer, q, k, v, mask, which), x, seed=which)
            assert list(report.errors) == ["input", *params]
            assert report.passed(1e-7), f"{layer!r}, input {which}: {report}"


@given(attention_case())
def test_layers_equal_the_pure_functions(case):
    q, k, v, mask, _, rng = case
    dot, plain, add = _layers(q, k, rng)
    g = rng.normal(size=(*q.shape[:2], v.shape[2]))
    for layer, scale in ((dot, None), (plain, 1.0)):
        c = layer.forward(q, k, v, mask)
        want, w = scaled_dot_product_attention(q, k, v, mask, scale=scale)
        np.testing.assert_array_equal(c, want)
        np.testing.assert_array_equal(layer.weights, w)
        for got, exp in zip(layer.backward(g), scaled_dot_product_attention_backward(
                g, q, k, v, w, scale=scale), strict=True):
            np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-15)
    params = [p.value for p in add.parameters()]
    c = add.forward(q, k, v, mask)
    want, w = additive_attention(q, k, v, *params, mask)
    np.testing.assert_array_equal(c, want)
    grads = add.backward(g)
    expected = additive_attention_backward(g, q, k, v, *params, w)
    for got, exp in zip([*grads, *(p.grad for p in add.parameters())], expected, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-13, atol=1e-15)


def test_the_weights_are_kept_for_plotting_and_gradients_accumulate():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    layer = AdditiveAttention(4, 4, 3, rng=0)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    layer.forward(q, k, v, mask)
    w = layer.weights
    assert w.shape == (2, 3, 5) and not w[0, :, 2:].any()
    np.testing.assert_allclose(w.sum(axis=2), 1.0, rtol=1e-15)
    w[...] = 7  # a copy
    assert not (layer.weights == 7).any()
    g = rng.normal(size=(2, 3, 2))
    copies = [a.copy() for a in (q, k, v, g)]
    layer.backward(g)
    first = layer.Wq.grad.copy()
    layer.backward(g)
    np.testing.assert_allclose(layer.Wq.grad, 2 * first, rtol=1e-15)
    for a, b in zip((q, k, v, g), copies, strict=True):
        np.testing.assert_array_equal(a, b)  # inputs and the incoming gradient untouched
    a, b = AdditiveAttention(4, 4, 3, rng=5), AdditiveAttention(4, 4, 3, rng=5)
    assert [p.name for p in a.parameters()] == ["Wq", "Wk", "w"]
    for p, r in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, r.value)


def test_the_layers_compute_in_the_querys_dtype():
    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 3, 4)).astype(np.float32)
    k, v = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    for layer in (DotProductAttention(), AdditiveAttention(4, 4, 3, rng=0)):
        c = layer.forward(q, k, v)
        assert c.dtype == np.float32
        dq, dk, dv = layer.backward(np.ones((2, 3, 2)))  # a float64 gradient is cast
        assert dq.dtype == np.float32 and dk.dtype == dv.dtype == np.float64
        assert all(p.grad.dtype == np.float64 for p in layer.parameters())


def test_layer_errors_name_the_layer_and_both_shapes():
    layer = DotProductAttention()
    q, k, v = np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 5, 6))
    with pytest.raises(InvalidValueError, match=r"^DotProductAttention\(scaled=True\): no "
                                                r"attention weights yet"):
        layer.weights  # noqa: B018
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        layer.backward(np.zeros((2, 3, 6)))
    with pytest.raises(DTypeError, match=r"^DotProductAttention\(scaled=True\): forward takes "
                                         r"three inputs.*cannot sit inside a Sequential"):
        layer.forward(q)
    with pytest.raises(DTypeError, match=r"^layer 1 of the Sequential: DotProductAttention"):
        Sequential(Flatten(), DotProductAttention()).forward(q)
    with pytest.raises(ShapeError, match=r"^AdditiveAttention\(4, 5 -> 2\): expected keys of "
                                         r"shape \(2, Tk, 5\), got \(2, 5, 4\)"):
        AdditiveAttention(4, 5, 2, rng=0).forward(q, k, v)
    with pytest.raises(ShapeError, match=r"^AdditiveAttention\(3, 4 -> 2\): expected query of "
                                         r"shape \(N, Tq, 3\), got \(2, 3, 4\)"):
        AdditiveAttention(3, 4, 2, rng=0).forward(q, k, v)
    with pytest.raises(ShapeError, match=r"^DotProductAttention\(scaled=False\): expected mask of "
                                         r"shape \(N, Tk\) = \(2, 5\)"):
        DotProductAttention(scaled=False).forward(q, k, v, np.ones((5, 2)))
    mask = np.ones((2, 3, 5))
    mask[0, 1] = 0
    with pytest.raises(InvalidValueError, match=r"^DotProductAttention\(scaled=True\): every "
                                                r"position of scores\[0, 1, :\] is masked"):
        layer.forward(q, k, v, mask)
    layer.forward(q, k, v)
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(2, 3, 6\)"):
        layer.backward(np.zeros((2, 3, 4)))
    with pytest.raises(InvalidValueError, match=r"^AdditiveAttention: d_attn must be at least 1"):
        AdditiveAttention(4, 4, 0)
