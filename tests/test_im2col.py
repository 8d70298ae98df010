"""im2col / col2im: the layout, the adjoint identity, sizes and error messages."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.im2col import (
    _col2im,
    _col2im_wide,
    _im2col,
    _im2col_wide,
    as_pair,
    col2im,
    conv_output_size,
    im2col,
)


@st.composite
def conv_geometry(draw):
    """A small input shape with a kernel, stride and padding that fit it."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + 5))
    W = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + 5))
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (N, C, H, W), (kh, kw), (sh, sw), (ph, pw)


def test_conv_output_size_formula():
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(28, 3, 1, 0) == 26
    assert conv_output_size(7, 3, 2, 0) == 3
    assert conv_output_size(8, 3, 2, 0) == 3  # the last column does not fit a whole stride
    assert conv_output_size(3, 3) == 1
    assert conv_output_size(1, 3, 1, 1) == 1


def test_conv_output_size_too_small_names_sizes():
    with pytest.raises(
        InvalidValueError,
        match=r"conv_output_size: the input \(size 2, padding 0, so 2 after padding\) is "
        r"smaller than the kernel \(size 5\)",
    ):
        conv_output_size(2, 5, 1, 0)


@given(conv_geometry())
def test_im2col_matches_its_definition(geom):
    shape, (kh, kw), (sh, sw), (ph, pw) = geom
    x = np.random.default_rng(0).standard_normal(shape)
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw))
    N, C, H, W = shape
    Ho, Wo = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    assert cols.shape == (C * kh * kw, N * Ho * Wo)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # cols[c, i, j, n, h, w] = x_pad[n, c, h*s + i, w*s + j], checked element by element
    c6 = cols.reshape(C, kh, kw, N, Ho, Wo)
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                expected = xp[:, c, i : i + sh * Ho : sh, j : j + sw * Wo : sw][:, :Ho, :Wo]
                np.testing.assert_array_equal(c6[c, i, j], expected)


@given(conv_geometry())
def test_col2im_is_the_adjoint_of_im2col(geom):
    # <im2col(x), D> == <x, col2im(D)> for every x and D: col2im is im2col's transpose.
    shape, k, s, p = geom
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    cols = im2col(x, k, s, p)
    D = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * D)
    rhs = np.sum(x * col2im(D, shape, k, s, p))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_col2im_counts_how_many_windows_cover_each_pixel():
    # 3x3 kernel, stride 1, no padding, on a 4x4 image: corners are in 1 window, the
    # centre pixels in 4.
    ones = np.ones((9, 4))
    counts = col2im(ones, (1, 1, 4, 4), 3)
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], dtype=float)
    np.testing.assert_array_equal(counts[0, 0], expected)


def test_im2col_keeps_dtype_and_leaves_input_alone():
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 5)).astype(np.float32)
    before = x.copy()
    cols = im2col(x, 3, 1, 1)
    assert cols.dtype == np.float32
    assert cols.flags.c_contiguous
    np.testing.assert_array_equal(x, before)
    assert col2im(cols, x.shape, 3, 1, 1).dtype == np.float32


def test_im2col_rejects_wrong_ndim():
    with pytest.raises(
        ShapeError, match=r"im2col: expected input of shape \(N, C, H, W\), got \(3, 5, 5\)"
    ):
        im2col(np.zeros((3, 5, 5)), 3)


def test_im2col_rejects_input_smaller_than_kernel():
    with pytest.raises(
        InvalidValueError,
        match=r"im2col: input of size 2x2 \(padding 0x0, so 2x2 after padding\) is smaller "
        r"than the 3x3 kernel",
    ):
        im2col(np.zeros((1, 1, 2, 2)), 3)


def test_col2im_rejects_cols_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"col2im: expected cols of shape \(9, 4\), got \(9, 5\)"):
        col2im(np.zeros((9, 5)), (1, 1, 4, 4), 3)
    with pytest.raises(
        ShapeError, match=r"col2im: expected x_shape = \(N, C, H, W\), got \(4, 4\)"
    ):
        col2im(np.zeros((9, 4)), (4, 4), 3)


def test_as_pair_accepts_int_or_pair_and_names_bad_values():
    assert as_pair(3, owner="Conv2D", name="kernel_size") == (3, 3)
    assert as_pair((3, 5), owner="Conv2D", name="kernel_size") == (3, 5)
    assert as_pair(0, owner="Conv2D", name="padding", minimum=0) == (0, 0)
    with pytest.raises(InvalidValueError, match=r"Conv2D: kernel_size must be at least 1, got 0"):
        as_pair(0, owner="Conv2D", name="kernel_size")
    with pytest.raises(
        DTypeError, match=r"Conv2D: expected stride to be an int or a pair of ints, got 1.5"
    ):
        as_pair(1.5, owner="Conv2D", name="stride")
    with pytest.raises(ShapeError, match=r"Conv2D: expected kernel_size to be an int or a pair"):
        as_pair((1, 2, 3), owner="Conv2D", name="kernel_size")


@given(conv_geometry())
def test_wide_rows_layout_agrees_with_the_plain_one(geom):
    # Conv2D's fast path for stride 1 along W: the same columns, plus junk columns.
    (N, C, H, W), k, (sh, _), p = geom
    s = (sh, 1)
    Ho, Wo = conv_output_size(H, k[0], sh, p[0]), conv_output_size(W, k[1], 1, p[1])
    Wp = W + 2 * p[1]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, C, H, W))
    cols = _im2col(x, k, s, p, (Ho, Wo))
    wide = _im2col_wide(x, k, s, p, (Ho, Wo))
    assert wide.shape == (cols.shape[0], N * Ho * Wp)
    real = wide.reshape(-1, N, Ho, Wp)[..., :Wo].reshape(cols.shape)
    np.testing.assert_array_equal(real, cols)

    D = rng.standard_normal(cols.shape)
    D_wide = np.zeros((cols.shape[0], N, Ho, Wp))
    D_wide[..., :Wo] = D.reshape(-1, N, Ho, Wo)  # junk columns carry zero gradient
    np.testing.assert_allclose(
        _col2im_wide(D_wide.reshape(wide.shape), x.shape, k, s, p, (Ho, Wo)),
        _col2im(D, x.shape, k, s, p, (Ho, Wo)),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((5, 3, 0), InvalidValueError, "conv_output_size: stride must be at least 1, got 0"),
        ((5, 3, 1, -1), InvalidValueError, "conv_output_size: padding must be at least 0, got -1"),
        ((5, 0), InvalidValueError, "conv_output_size: kernel must be at least 1, got 0"),
        ((5, 3, 1.5), DTypeError, "conv_output_size: expected stride to be an integer"),
        ((5.0, 3), DTypeError, "conv_output_size: expected size to be an integer"),
        ((5, 3, 1, (1, 2)), DTypeError, "conv_output_size: expected padding to be an integer"),
    ],
)
def test_conv_output_size_rejects_arguments_that_are_not_sizes(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        conv_output_size(*args)
