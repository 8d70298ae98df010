"""im2col and col2im: convolution as one matrix multiplication.

A convolution slides a (C, kh, kw) filter over the input and takes a dot product at
every position. ``im2col`` copies every input patch into a column of a matrix, so that
all the dot products of all the filters become ONE matrix product::

    cols = im2col(x, (kh, kw), stride, padding)    # (C*kh*kw, N*H_out*W_out)
    y    = W.reshape(F, C*kh*kw) @ cols            # (F, N*H_out*W_out)

``col2im`` is its adjoint (its transpose as a linear map): it adds every column back
onto the input position it was copied from, which is exactly what the backward pass
needs to turn dL/dcols into dL/dx. Where windows overlap, contributions add up.

Layout. The rows of ``cols`` are ordered (c, i, j) -- channel, kernel row, kernel
column -- to match ``W.reshape(F, C*kh*kw)``; the columns are ordered (n, h, w). Seen as
an array, ``cols`` is the 6-D array (C, kh, kw, N, H_out, W_out) with

    cols[c, i, j, n, h, w] = x_padded[n, c, h*stride + i, w*stride + j].

This layout (rather than the textbook (N*H_out*W_out, C*kh*kw)) makes the GEMM's
output land with the filters first, and lets both directions be written as kh*kw
strided-slice copies (im2col) or adds (col2im) instead of loops over pixels.

Sizes:  H_out = (H + 2*padding - kh) // stride + 1   (the same for W).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.numerics import FloatRange
from dlteach.validation import check_array, check_positive_int

IntPair = int | tuple[int, int]


def as_pair(value: object, *, owner: str, name: str, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``, after checking both are integers >= minimum."""
    items = value if isinstance(value, tuple | list) else (value, value)
    if len(items) != 2:
        raise ShapeError(f"{owner}: expected {name} to be an int or a pair of ints, got {value!r}.")
    pair = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise DTypeError(
                f"{owner}: expected {name} to be an int or a pair of ints, got {value!r}."
            )
        if v < minimum:
            raise InvalidValueError(f"{owner}: {name} must be at least {minimum}, got {value!r}.")
        pair.append(int(v))
    return pair[0], pair[1]


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, *, owner: str = "conv_output_size"
) -> int:
    """Number of positions a kernel takes along one axis: (size + 2*padding - kernel)//stride + 1.

    Raises InvalidValueError when the padded input is smaller than the kernel (no position
    fits). Leftover rows or columns that do not fill a whole stride are dropped, as in
    PyTorch. size, kernel and stride must be integers >= 1, padding an integer >= 0.
    """
    size = check_positive_int(size, owner=owner, name="size")
    kernel = check_positive_int(kernel, owner=owner, name="kernel")
    stride = check_positive_int(stride, owner=owner, name="stride")
    padding = check_positive_int(padding, owner=owner, name="padding", minimum=0)
    if size + 2 * padding < kernel:
        raise InvalidValueError(
            f"{owner}: the input (size {size}, padding {padding}, so {size + 2 * padding} "
            f"after padding) is smaller than the kernel (size {kernel}). Use a smaller "
            "kernel, more padding, or a larger input."
        )
    return (size + 2 * padding - kernel) // stride + 1


def output_shape(
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    *,
    owner: str,
    has_padding: bool = True,
) -> tuple[int, int]:
    """(H_out, W_out) for an input of shape (N, C, H, W); names the owner when too small.

    has_padding: False for layers without a padding option (pooling), whose message then
    does not mention padding.
    """
    H, W = x_shape[2], x_shape[3]
    (kh, kw), (ph, pw) = kernel, padding
    if H + 2 * ph < kh or W + 2 * pw < kw:
        size = f"input of size {H}x{W}"
        if has_padding:
            size += f" (padding {ph}x{pw}, so {H + 2 * ph}x{W + 2 * pw} after padding)"
        fix = "more padding, " if has_padding else ""
        raise InvalidValueError(
            f"{owner}: {size} is smaller than the {kh}x{kw} kernel. Use a smaller kernel, "
            f"{fix}or a larger input (was it pooled too often?)."
        )
    return (H + 2 * ph - kh) // stride[0] + 1, (W + 2 * pw - kw) // stride[1] + 1


def pad_input(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Zero-pad the last two axes of x: (N, C, H, W) -> (N, C, H + 2*ph, W + 2*pw).

    A zero-filled buffer with x copied into its middle (about half the cost of np.pad).
    Returns x itself (not a copy) when there is no padding.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xp[:, :, ph : ph + H, pw : pw + W] = x
    return xp


def _window_view(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """A read-only (C, kh, kw, N, H_out, W_out) view of the padded input xp: no copy."""
    sN, sC, sH, sW = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp,
        shape=(xp.shape[1], kernel[0], kernel[1], xp.shape[0], out_hw[0], out_hw[1]),
        strides=(sC, sH, sW, sN, sH * stride[0], sW * stride[1]),
        writeable=False,
    )


def im2col(
    x: np.ndarray, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0
) -> np.ndarray:
    """Copy every (C, kh, kw) patch of x into a column.

    x: (N, C, H, W)  ->  cols: (C*kh*kw, N*H_out*W_out), rows ordered (c, i, j),
    columns ordered (n, h, w); a new C-contiguous array in x's dtype.
    """
    owner = "im2col"
    x = check_array(x, owner=owner, shape=("N", "C", "H", "W"))
    kernel = as_pair(kernel_size, owner=owner, name="kernel_size")
    strides = as_pair(stride, owner=owner, name="stride")
    pads = as_pair(padding, owner=owner, name="padding", minimum=0)
    out_hw = output_shape(x.shape, kernel, strides, pads, owner=owner)
    return _im2col(x, kernel, strides, pads, out_hw)


def _im2col(x, kernel, stride, padding, out_hw) -> np.ndarray:
    # No checks: the layers call this after validating their input once.
    N, C = x.shape[:2]
    windows = _window_view(pad_input(x, padding), kernel, stride, out_hw)
    cols = np.empty(windows.shape, dtype=x.dtype)
    cols[...] = windows  # the one large copy: k*k values per input pixel
    return cols.reshape(C * kernel[0] * kernel[1], N * out_hw[0] * out_hw[1])


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> np.ndarray:
    """Adjoint of im2col: add every column back onto the patch it came from.

    cols: (C*kh*kw, N*H_out*W_out)  ->  x: x_shape = (N, C, H, W), in cols' dtype.
    Where windows overlap (stride < kernel) their values add up; padding is cut off.
    ``col2im(im2col(x))`` is therefore x times how many windows cover each pixel.
    """
    owner = "col2im"
    if len(tuple(x_shape)) != 4:
        raise ShapeError(f"{owner}: expected x_shape = (N, C, H, W), got {tuple(x_shape)}.")
    N, C, H, W = (int(s) for s in x_shape)
    kernel = as_pair(kernel_size, owner=owner, name="kernel_size")
    strides = as_pair(stride, owner=owner, name="stride")
    pads = as_pair(padding, owner=owner, name="padding", minimum=0)
    Ho, Wo = output_shape((N, C, H, W), kernel, strides, pads, owner=owner)
    cols = check_array(
        cols, owner=owner, name="cols", shape=(C * kernel[0] * kernel[1], N * Ho * Wo)
    )
    with FloatRange(owner, "sum of overlapping columns") as fr:  # too large: +-inf
        x = _col2im(cols, (N, C, H, W), kernel, strides, pads, (Ho, Wo))
    fr.check(x, inputs=(cols,))
    return x


def _col2im(cols, x_shape, kernel, stride, padding, out_hw) -> np.ndarray:
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = kernel, stride, padding, out_hw
    # Accumulate in (C, N, Hp, Wp) order, the order the columns come in, so every
    # slice-add walks both arrays in the same direction; transpose once at the end.
    cols6 = cols.reshape(C, kh, kw, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for i in range(kh):  # kh*kw slice-adds, each over the whole batch at once
        for j in range(kw):
            dxp[:, :, i : i + sh * Ho : sh, j : j + sw * Wo : sw] += cols6[:, i, j]
    return np.ascontiguousarray(dxp[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))


# --- the "wide rows" variant the Conv2D layer uses for speed when stride_w == 1 ------------
#
# The slice copies above move rows of only W_out numbers at a time (14 for a 14x14 map),
# and NumPy pays a fixed cost per row. With stride 1 along W there is a faster layout:
# let every output row run over the full padded width Wp instead of W_out. Element
# (h, w) of window offset (i, j) then sits at flat position (h*sh + i)*Wp + w + j of the
# padded image, so for fixed (c, i, j, n) the whole (H_out, Wp) block is ONE contiguous
# run of the padded buffer, and each copy or add streams H_out*Wp numbers at once.
# The price: kw - 1 "junk" columns per row (w >= W_out, which wrap into the next row).
# The forward's junk outputs are dropped; in backward the gradient is zero there, so
# they add nothing to dW and nothing to dx. (A few buffer elements of slack at the end
# keep the last row's junk reads and writes inside the buffer.)


def _im2col_wide(x, kernel, stride, padding, out_hw) -> np.ndarray:
    """x: (N, C, H, W) -> cols: (C*kh*kw, N*H_out*Wp), Wp = W + 2*pw; stride_w must be 1."""
    N, C, H, W = x.shape
    (kh, kw), sh, (ph, pw), Ho = kernel, stride[0], padding, out_hw[0]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    P = Hp * Wp  # one padded image plane
    buf = np.zeros(N * C * P + kw - 1, dtype=x.dtype)
    buf[: N * C * P].reshape(N, C, Hp, Wp)[:, :, ph : ph + H, pw : pw + W] = x
    it = buf.itemsize
    windows = np.lib.stride_tricks.as_strided(
        buf,
        shape=(C, kh, kw, N, Ho, Wp),
        strides=(P * it, Wp * it, it, C * P * it, sh * Wp * it, it),
        writeable=False,
    )
    cols = np.empty(windows.shape, dtype=x.dtype)
    cols[...] = windows
    return cols.reshape(C * kh * kw, N * Ho * Wp)


def _col2im_wide(cols, x_shape, kernel, stride, padding, out_hw) -> np.ndarray:
    """Adjoint of _im2col_wide: cols (C*kh*kw, N*H_out*Wp) -> dx: (N, C, H, W).

    The junk columns of cols must be zero (they are when the output gradient is zero
    there), because they are added onto real positions of the next row.
    """
    N, C, H, W = x_shape
    (kh, kw), sh, (ph, pw), Ho = kernel, stride[0], padding, out_hw[0]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    P = Hp * Wp
    cols6 = cols.reshape(C, kh, kw, N, Ho, Wp)
    buf = np.zeros(C * N * P + kw - 1, dtype=cols.dtype)  # (C, N, Hp, Wp) plus slack
    it = buf.itemsize
    for i in range(kh):
        for j in range(kw):
            # Within one (i, j) the targets are all distinct, so += is safe here.
            target = np.lib.stride_tricks.as_strided(
                buf[i * Wp + j :],
                shape=(C, N, Ho, Wp),
                strides=(N * P * it, P * it, sh * Wp * it, it),
            )
            target += cols6[:, i, j]
    dxp = buf[: C * N * P].reshape(C, N, Hp, Wp)
    return np.ascontiguousarray(dxp[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3))
