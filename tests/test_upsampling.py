"""Upsample2D and ConvTranspose2D: values, gradients, a plain-loop reference, the adjoint."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.conv import Conv2D
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.upsampling import ConvTranspose2D, Upsample2D


def conv_transpose_naive(x: np.ndarray, W: np.ndarray, b: np.ndarray | None,
                         stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Plain loops: every input pixel scatters itself times the kernel onto the output."""
    N, C, H, Wd = x.shape
    _, F, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, padding
    full = np.zeros((N, F, (H - 1) * sh + kh, (Wd - 1) * sw + kw))
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(Wd):
                    full[n, :, h * sh : h * sh + kh, w * sw : w * sw + kw] += x[n, c, h, w] * W[c]
    y = full[:, :, ph : full.shape[2] - ph, pw : full.shape[3] - pw]
    return y if b is None else y + b[None, :, None, None]


@st.composite
def transpose_case(draw, max_n=2, max_c=3):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # Padding may crop at most what leaves one output row and column.
    ph = draw(st.integers(0, ((H - 1) * sh + kh - 1) // 2))
    pw = draw(st.integers(0, ((W - 1) * sw + kw - 1) // 2))
    N, C, F = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    layer = ConvTranspose2D(C, F, (kh, kw), (sh, sw), (ph, pw), rng=seed)
    layer.b.value[:] = np.random.default_rng(seed + 1).standard_normal(F)
    x = np.random.default_rng(seed + 2).standard_normal((N, C, H, W))
    return layer, x


@given(transpose_case())
def test_conv_transpose_gradcheck_on_random_geometries(case):
    layer, x = case
    report = gradcheck(layer, x, seed=0)
    assert report.passed(1e-7), report.summary()
    assert set(report.errors) == {"input", "W", "b"}


@given(transpose_case())
def test_conv_transpose_matches_plain_loops(case):
    layer, x = case
    y = layer.forward(x)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    assert y.shape[2:] == ((x.shape[2] - 1) * sh - 2 * ph + kh, (x.shape[3] - 1) * sw - 2 * pw + kw)
    want = conv_transpose_naive(x, layer.W.value, layer.b.value, layer.stride, layer.padding)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-10)


@given(
    k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), h_out=st.integers(1, 4),
    w_out=st.integers(1, 4), seed=st.integers(0, 2**16),
)
def test_conv_transpose_is_the_adjoint_of_conv(k, s, p, h_out, w_out, seed):
    # Conv2D(A -> B) maps x (N, A, H, W) to (N, B, h_out, w_out); with H = (h_out-1)s - 2p + k
    # the transposed convolution with the SAME weights maps back: <Conv x, y> = <x, ConvT y>.
    H, W = (h_out - 1) * s - 2 * p + k, (w_out - 1) * s - 2 * p + k
    if H < 1 or W < 1:
        return
    conv = Conv2D(2, 3, k, stride=s, padding=p, bias=False, rng=seed)
    convt = ConvTranspose2D(3, 2, k, stride=s, padding=p, bias=False, rng=seed + 1)
    convt.W.value[...] = conv.W.value
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, H, W))
    y = rng.standard_normal((2, 3, h_out, w_out))
    cx = conv.forward(x)
    assert cx.shape == y.shape
    ty = convt.forward(y)
    assert ty.shape == x.shape
    assert np.sum(cx * y) == pytest.approx(np.sum(x * ty), rel=1e-10, abs=1e-10)
    # ... and ConvT's backward is Conv's forward (the adjoint of the adjoint).
    np.testing.assert_allclose(convt.backward(x), cx, atol=1e-10)


def test_conv_transpose_one_pixel_stamps_the_kernel():
    layer = ConvTranspose2D(1, 1, 3, stride=2, rng=0)
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 0] = 2.0
    y = layer.forward(x)
    assert y.shape == (1, 1, 5, 5)
    want = np.zeros((5, 5))
    want[2:5, 0:3] = 2.0 * layer.W.value[0, 0]
    np.testing.assert_array_equal(y[0, 0], want)


def test_conv_transpose_undoes_the_shape_of_a_strided_conv():
    x = np.zeros((1, 1, 8, 8))
    down = Conv2D(1, 4, 3, stride=2, padding=1, rng=0).forward(x)
    up = ConvTranspose2D(4, 1, 4, stride=2, padding=1, rng=0).forward(down)
    assert down.shape == (1, 4, 4, 4) and up.shape == (1, 1, 8, 8)


def test_conv_transpose_errors_and_repr():
    layer = ConvTranspose2D(2, 3, 3, stride=2, padding=1, rng=0)
    assert repr(layer) == "ConvTranspose2D(2 -> 3, 3x3, stride=2, padding=1)"
    assert repr(ConvTranspose2D(1, 1, (1, 2), rng=0)) == "ConvTranspose2D(1 -> 1, 1x2)"
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        layer.backward(np.zeros((1, 3, 3, 3)))
    with pytest.raises(ShapeError, match=r"^ConvTranspose2D\(2 -> 3.*expected input of shape "
                                         r"\(N, 2, H, W\), got \(1, 3, 4, 4\)"):
        layer.forward(np.zeros((1, 3, 4, 4)))
    y = layer.forward(np.zeros((1, 2, 4, 4)))
    assert y.shape == (1, 3, 7, 7)
    with pytest.raises(ShapeError, match=r"expected a gradient of shape \(1, 3, 7, 7\)"):
        layer.backward(np.zeros((1, 3, 8, 8)))
    with pytest.raises(InvalidValueError, match=r"gives an output of size 0x0"):
        ConvTranspose2D(1, 1, 2, padding=1, rng=0).forward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(InvalidValueError, match=r"init must be one of"):
        ConvTranspose2D(1, 1, 2, init="zeros")


def test_conv_transpose_leaves_the_incoming_gradient_alone():
    layer = ConvTranspose2D(2, 2, 3, stride=2, rng=0)
    y = layer.forward(np.ones((2, 2, 3, 3)))
    g = np.random.default_rng(0).standard_normal(y.shape)
    before = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, before)


def test_upsample_copies_blocks_and_sums_them_back():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    layer = Upsample2D(2)
    y = layer.forward(x)
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((2, 2))))
    g = np.arange(24.0).reshape(1, 1, 4, 6)
    before = g.copy()
    dx = layer.backward(g)
    want = g[0, 0].reshape(2, 2, 3, 2).sum(axis=(1, 3))
    np.testing.assert_array_equal(dx[0, 0], want)
    np.testing.assert_array_equal(g, before)
    assert Upsample2D((1, 3)).forward(x).shape == (1, 1, 2, 9)


@given(
    fh=st.integers(1, 3), fw=st.integers(1, 3), n=st.integers(1, 2), c=st.integers(1, 3),
    h=st.integers(1, 4), w=st.integers(1, 4), seed=st.integers(0, 2**16),
)
def test_upsample_gradcheck(fh, fw, n, c, h, w, seed):
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    report = gradcheck(Upsample2D((fh, fw)), x, seed=seed)
    assert report.passed(1e-7), report.summary()


def test_upsample_errors_and_repr():
    assert repr(Upsample2D(2)) == "Upsample2D(2)"
    assert repr(Upsample2D((1, 2))) == "Upsample2D((1, 2))"
    with pytest.raises(InvalidValueError, match=r"^Upsample2D: factor must be at least 1"):
        Upsample2D(0)
    layer = Upsample2D(2)
    with pytest.raises(ShapeError, match=r"^Upsample2D\(2\): expected input of shape"):
        layer.forward(np.zeros((2, 3)))
    layer.forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ShapeError, match=r"expected a gradient of shape \(1, 1, 4, 4\)"):
        layer.backward(np.zeros((1, 1, 2, 2)))
