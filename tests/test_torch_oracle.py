"""PyTorch as an oracle: every dlteach layer, loss and optimizer against its PyTorch twin.

Each test loads the same weights into the PyTorch equivalent (hand-mapped here, written
independently of dlteach.torch_bridge) on hypothesis-drawn shapes, and compares the
output, dL/dinput and dL/dparameter for every parameter. The PyTorch side keeps the
parameters as leaf tensors in dlteach's own layout (W of Dense is (D_in, D_out), and
``F.linear(x, W.T)`` is applied), so its autograd gradients compare with dlteach's as is.

Tolerance, "relative": |mine - theirs| <= rtol * (|theirs| + max |theirs|) elementwise,
rtol = 1e-10 in float64 and 1e-4 in float32 (an entry near 0 is measured against the
array's scale, where the two libraries' different summation orders leave their mark).
A failure prints Mine vs Theirs, as numpy-ml's gold tests do.

Runs where PyTorch is installed (CI installs torch==2.13.0); skipped elsewhere. Every
Layer and Loss subclass of dlteach must appear in COVERED or EXEMPT (the last tests).
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlteach
from dlteach.activations import ReLU, Sigmoid, Softmax, Tanh
from dlteach.attention import AdditiveAttention, DotProductAttention
from dlteach.conv import Conv2D
from dlteach.core import Layer, Sequential
from dlteach.dense import Dense
from dlteach.embedding import Embedding
from dlteach.losses import BinaryCrossEntropy, Loss, MSELoss, SoftmaxCrossEntropy
from dlteach.lstm import LSTM
from dlteach.optim import SGD, Adam, clip_grad_norm
from dlteach.pooling import AvgPool2D, MaxPool2D
from dlteach.recurrent import RNN
from dlteach.reshape import Flatten
from dlteach.segmentation import PixelCrossEntropy
from dlteach.seq2seq import Seq2Seq
from dlteach.sequence import SequenceCrossEntropy, TimeDense
from dlteach.upsampling import ConvTranspose2D, Upsample2D

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: pip install torch==2.13.0 (CI installs it)"
)
F = torch.nn.functional

RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
DTYPES = st.sampled_from([np.float32, np.float64])
SEEDS = st.integers(0, 2**16)
FEW = settings(max_examples=12, deadline=None)


# --- comparing --------------------------------------------------------------------------------


def _numpy(a: object) -> np.ndarray:
    return a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def assert_same(what: str, mine: object, theirs: object, dtype: type) -> None:
    """mine (dlteach) equals theirs (PyTorch) within the dtype's tolerance, same shape and
    dtype; on failure, print both."""
    mine, theirs = np.asarray(mine), _numpy(theirs)
    dtype = np.dtype(dtype)
    assert mine.shape == theirs.shape, f"{what}: shape {mine.shape} vs PyTorch's {theirs.shape}"
    assert mine.dtype == dtype, f"{what}: dtype {mine.dtype}, expected {dtype}"
    assert theirs.dtype == dtype, f"{what}: PyTorch computed in {theirs.dtype}, expected {dtype}"
    rtol = RTOL[dtype]
    scale = float(np.max(np.abs(theirs), initial=0.0))
    bound = rtol * (np.abs(theirs.astype(np.float64)) + scale)
    err = np.abs(mine.astype(np.float64) - theirs)
    if not np.all(err <= bound):
        worst = np.unravel_index(int(np.argmax(err - bound)), err.shape) if err.ndim else ()
        raise AssertionError(
            f"{what} ({dtype}): dlteach and PyTorch differ beyond rtol {rtol:g}, worst at "
            f"{worst}: mine {mine[worst]!r}, theirs {theirs[worst]!r}\n"
            f"Mine:\n{mine}\nTheirs:\n{theirs}"
        )


def leaves(layer: Layer) -> dict[str, torch.Tensor]:
    """Every parameter of ``layer`` as a PyTorch leaf tensor (a copy), dlteach's layout."""
    return {name: torch.tensor(p.value.copy(), requires_grad=True)
            for name, p in layer.named_parameters().items()}


def check_layer(layer: Layer, x: np.ndarray, torch_fn, rng: np.random.Generator, *,
                input_grad: bool = True) -> None:
    """Forward and backward of ``layer`` on x against ``torch_fn(x_tensor, leaves)``:
    the output, dL/dx (unless input_grad=False: token inputs) and every parameter's
    gradient, for a random upstream gradient."""
    dtype = layer.parameters()[0].value.dtype if layer.parameters() else x.dtype
    layer.zero_grad()
    y = layer.forward(x)
    g = rng.standard_normal(y.shape).astype(y.dtype)
    dx = layer.backward(g)
    params = leaves(layer)
    xt = torch.tensor(x, requires_grad=input_grad)
    yt = torch_fn(xt, params)
    yt.backward(torch.from_numpy(g))
    assert_same(f"{layer!r} output", y, yt, dtype)
    if input_grad:
        assert_same(f"{layer!r} dL/dx", dx, xt.grad, dtype)
    for name, p in layer.named_parameters().items():
        assert_same(f"{layer!r} dL/d{name}", p.grad, params[name].grad, dtype)


# --- dense and per-step dense --------------------------------------------------------------------


@FEW
@given(n=st.integers(1, 5), d_in=st.integers(1, 6), d_out=st.integers(1, 6), dtype=DTYPES,
       seed=SEEDS)
def test_dense_matches_linear(n, d_in, d_out, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(d_in, d_out, rng=rng, dtype=dtype)
    layer.b.value[...] = rng.standard_normal(d_out)
    x = rng.standard_normal((n, d_in)).astype(dtype)
    check_layer(layer, x, lambda x, p: F.linear(x, p["W"].T, p["b"]), rng)


@FEW
@given(n=st.integers(1, 3), t=st.integers(1, 4), d_in=st.integers(1, 5), d_out=st.integers(1, 5),
       dtype=DTYPES, seed=SEEDS)
def test_time_dense_matches_linear_on_every_step(n, t, d_in, d_out, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = TimeDense(d_in, d_out, rng=rng, dtype=dtype)
    layer.b.value[...] = rng.standard_normal(d_out)
    x = rng.standard_normal((n, t, d_in)).astype(dtype)
    check_layer(layer, x, lambda x, p: F.linear(x, p["W"].T, p["b"]), rng)


# --- convolutions, pooling, upsampling, flatten --------------------------------------------------


@st.composite
def conv_case(draw, transposed: bool = False):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    if transposed:  # H_out = (H - 1) s - 2p + k >= 1
        H = max(1, 1 + -(-(2 * ph - kh + 1) // sh)) + draw(st.integers(0, 3))
        W = max(1, 1 + -(-(2 * pw - kw + 1) // sw)) + draw(st.integers(0, 3))
    else:  # H + 2p >= k
        H = max(1, kh - 2 * ph) + draw(st.integers(0, 5))
        W = max(1, kw - 2 * pw) + draw(st.integers(0, 5))
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 3)),
                kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw), hw=(H, W),
                bias=draw(st.booleans()), dtype=draw(DTYPES), seed=draw(SEEDS))


@settings(max_examples=25, deadline=None)
@given(case=conv_case())
def test_conv2d_matches_torch_with_strides_and_paddings(case):
    rng = np.random.default_rng(case["seed"])
    layer = Conv2D(case["c"], case["f"], case["kernel"], case["stride"], case["padding"],
                   bias=case["bias"], rng=rng, dtype=case["dtype"])
    if case["bias"]:
        layer.b.value[...] = rng.standard_normal(case["f"])
    x = rng.standard_normal((case["n"], case["c"], *case["hw"])).astype(case["dtype"])
    check_layer(layer, x, lambda x, p: F.conv2d(x, p["W"], p.get("b"), stride=case["stride"],
                                                padding=case["padding"]), rng)


@settings(max_examples=25, deadline=None)
@given(case=conv_case(transposed=True))
def test_conv_transpose2d_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    layer = ConvTranspose2D(case["c"], case["f"], case["kernel"], case["stride"],
                            case["padding"], bias=case["bias"], rng=rng, dtype=case["dtype"])
    if case["bias"]:
        layer.b.value[...] = rng.standard_normal(case["f"])
    x = rng.standard_normal((case["n"], case["c"], *case["hw"])).astype(case["dtype"])
    check_layer(layer, x, lambda x, p: F.conv_transpose2d(
        x, p["W"], p.get("b"), stride=case["stride"], padding=case["padding"]), rng)


@FEW
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4),
       fh=st.integers(1, 4), fw=st.integers(1, 4), dtype=DTYPES, seed=SEEDS)
def test_upsample2d_matches_nearest_interpolation(n, c, h, w, fh, fw, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    check_layer(Upsample2D((fh, fw)), x,
                lambda x, p: F.interpolate(x, scale_factor=(fh, fw), mode="nearest"), rng)


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))  # overlapping windows too
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 2)), kernel=(kh, kw),
                stride=(sh, sw), hw=(kh + draw(st.integers(0, 5)), kw + draw(st.integers(0, 5))),
                ties=draw(st.booleans()), dtype=draw(DTYPES), seed=draw(SEEDS))


def _pool_input(case, rng):
    shape = (case["n"], case["c"], *case["hw"])
    if case["ties"]:  # a few distinct values: windows share their maximum (after a ReLU)
        return rng.integers(-1, 2, size=shape).clip(0).astype(case["dtype"])
    return rng.standard_normal(shape).astype(case["dtype"])


@settings(max_examples=25, deadline=None)
@given(case=pool_case())
def test_maxpool2d_matches_torch_ties_included(case):
    """Ties go to the first maximum in window order, as PyTorch's CPU kernel does."""
    rng = np.random.default_rng(case["seed"])
    check_layer(MaxPool2D(case["kernel"], case["stride"]), _pool_input(case, rng),
                lambda x, p: F.max_pool2d(x, case["kernel"], case["stride"]), rng)


@FEW
@given(case=pool_case())
def test_avgpool2d_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    check_layer(AvgPool2D(case["kernel"], case["stride"]), _pool_input(case, rng),
                lambda x, p: F.avg_pool2d(x, case["kernel"], case["stride"]), rng)


@FEW
@given(shape=st.lists(st.integers(1, 3), min_size=2, max_size=4), dtype=DTYPES, seed=SEEDS)
def test_flatten_matches_torch(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    check_layer(Flatten(), x, lambda x, p: torch.flatten(x, 1), rng)


# --- activations ------------------------------------------------------------------------------


@FEW
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), dtype=DTYPES, seed=SEEDS)
def test_elementwise_activations_match_torch(shape, dtype, seed):
    """ReLU at exactly 0 included: both libraries give it gradient 0."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x[rng.random(shape) < 0.2] = 0
    for layer, fn in ((ReLU(), torch.relu), (Sigmoid(), torch.sigmoid), (Tanh(), torch.tanh)):
        check_layer(layer, x, lambda x, p, fn=fn: fn(x), rng)


@FEW
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data(), dtype=DTYPES,
       seed=SEEDS)
def test_softmax_matches_torch_along_any_axis(shape, data, dtype, seed):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    check_layer(Softmax(axis=axis), x, lambda x, p: torch.softmax(x, dim=axis), rng)


# --- embedding and recurrent layers -----------------------------------------------------------


@FEW
@given(v=st.integers(1, 6), d=st.integers(1, 4), shape=st.sampled_from([(5,), (2, 4), (3, 1)]),
       dtype=DTYPES, seed=SEEDS)
def test_embedding_matches_torch_repeated_tokens_included(v, d, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = Embedding(v, d, rng=rng, dtype=dtype)
    tokens = rng.integers(0, v, size=shape)  # with v small, tokens repeat
    check_layer(layer, tokens, lambda t, p: F.embedding(t, p["W"]), rng, input_grad=False)


def _lstm_order(h: int) -> np.ndarray:
    """Columns of dlteach's gate blocks (i, f, o, g) in PyTorch's order (i, f, g, o)."""
    return np.concatenate([np.arange(k * h, (k + 1) * h) for k in (0, 1, 3, 2)])


@st.composite
def recurrent_case(draw):
    return dict(n=draw(st.integers(1, 3)), t=draw(st.integers(1, 5)), d=draw(st.integers(1, 4)),
                h=draw(st.integers(1, 4)), return_sequences=draw(st.booleans()),
                given_state=draw(st.booleans()), dtype=draw(DTYPES), seed=draw(SEEDS))


def _check_recurrent(cls, case):
    """dlteach's RNN / LSTM against nn.RNN / nn.LSTM (batch_first) through
    torch.func.functional_call, the weights given as expressions of dlteach-layout leaves:
    weight_ih = Wx.T, weight_hh = Wh.T, bias_ih = b, bias_hh = 0 (LSTM: gate blocks
    reordered). Compares outputs, the final state, dL/dx, dL/dh0 (and dL/dc0) and the
    parameter gradients."""
    rng = np.random.default_rng(case["seed"])
    n, t, d, h, dtype = case["n"], case["t"], case["d"], case["h"], case["dtype"]
    layer = cls(d, h, return_sequences=case["return_sequences"], rng=rng, dtype=dtype)
    layer.b.value[...] = rng.standard_normal(layer.b.shape)
    x = rng.standard_normal((n, t, d)).astype(dtype)
    is_lstm = cls is LSTM
    states = [rng.standard_normal((n, h)).astype(dtype) for _ in range(2 if is_lstm else 1)]
    if not case["given_state"]:
        states = [np.zeros((n, h), dtype=dtype) for _ in states]
        y = layer.forward(x)
    else:
        y = layer.forward(x, *states)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(g)

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    module = (torch.nn.LSTM if is_lstm else torch.nn.RNN)(d, h, batch_first=True, dtype=tdtype)
    p = leaves(layer)
    order = torch.from_numpy(_lstm_order(h)) if is_lstm else torch.arange(h)
    weights = {"weight_ih_l0": p["Wx"][:, order].T, "weight_hh_l0": p["Wh"][:, order].T,
               "bias_ih_l0": p["b"][order], "bias_hh_l0": torch.zeros(len(order), dtype=tdtype)}
    xt = torch.tensor(x, requires_grad=True)
    st0 = [torch.tensor(s[None], requires_grad=True) for s in states]
    out, final = torch.func.functional_call(module, weights, (xt, tuple(st0) if is_lstm
                                                              else st0[0]))
    yt = out if case["return_sequences"] else out[:, -1]
    yt.backward(torch.from_numpy(g))
    assert_same("output", y, yt, dtype)
    final = final if is_lstm else (final,)
    mine_final = layer.last_state if is_lstm else (layer.last_state,)
    for k, (a, b) in enumerate(zip(mine_final, final, strict=True)):
        assert_same(f"final state {k}", a, b[0], dtype)
    assert_same("dL/dx", dx, xt.grad, dtype)
    assert_same("dL/dh0", layer.grad_h0, st0[0].grad[0], dtype)
    if is_lstm:
        assert_same("dL/dc0", layer.grad_c0, st0[1].grad[0], dtype)
    for name, param in layer.named_parameters().items():
        assert_same(f"dL/d{name}", param.grad, p[name].grad, dtype)


@settings(max_examples=20, deadline=None)
@given(case=recurrent_case())
def test_rnn_matches_torch(case):
    _check_recurrent(RNN, case)


@settings(max_examples=20, deadline=None)
@given(case=recurrent_case())
def test_lstm_matches_torch_with_gate_blocks_reordered(case):
    _check_recurrent(LSTM, case)


# --- attention --------------------------------------------------------------------------------


@st.composite
def attention_case(draw):
    n, tq, tk = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(SEEDS))
    kind = draw(st.sampled_from(["none", "keys", "full"]))
    mask = None
    if kind != "none":
        shape = (n, tk) if kind == "keys" else (n, tq, tk)
        mask = rng.random(shape) < 0.6
        keep = rng.integers(0, tk, size=shape[:-1])  # every row keeps one real key
        np.put_along_axis(mask, keep[..., None], True, axis=-1)
    return dict(n=n, tq=tq, tk=tk, d=draw(st.integers(1, 4)), dv=draw(st.integers(1, 3)),
                mask=mask, dtype=draw(DTYPES), rng=rng)


def _torch_mask(mask: np.ndarray | None) -> torch.Tensor | None:
    if mask is None:
        return None
    return torch.from_numpy(mask[:, None, :] if mask.ndim == 2 else mask)


def _check_attention(layer, q, k, v, mask, torch_fn, rng, dtype):
    params = leaves(layer)
    c = layer.forward(q, k, v, mask)
    g = rng.standard_normal(c.shape).astype(dtype)
    dq, dk, dv = layer.backward(g)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ct = torch_fn(qt, kt, vt, _torch_mask(mask), params)
    ct.backward(torch.from_numpy(g))
    assert_same("context", c, ct, dtype)
    for name, mine, theirs in (("dq", dq, qt), ("dk", dk, kt), ("dv", dv, vt)):
        assert_same(name, mine, theirs.grad, dtype)
    for name, p in layer.named_parameters().items():
        assert_same(f"dL/d{name}", p.grad, params[name].grad, dtype)


@settings(max_examples=20, deadline=None)
@given(case=attention_case(), scaled=st.booleans())
def test_dot_product_attention_matches_scaled_dot_product_attention(case, scaled):
    """Against F.scaled_dot_product_attention with a boolean attn_mask (True = a real key);
    scaled=False is its scale=1.0."""
    rng, dtype = case["rng"], case["dtype"]
    n, tq, tk, d, dv = (case[k] for k in ("n", "tq", "tk", "d", "dv"))
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((n, tq, d), (n, tk, d), (n, tk, dv)))
    scale = 1 / np.sqrt(d) if scaled else 1.0
    _check_attention(DotProductAttention(scaled=scaled), q, k, v, case["mask"],
                     lambda q, k, v, m, p: F.scaled_dot_product_attention(
                         q, k, v, attn_mask=m, scale=scale), rng, dtype)


@settings(max_examples=20, deadline=None)
@given(case=attention_case(), dq=st.integers(1, 4), a=st.integers(1, 4))
def test_additive_attention_matches_the_formula_in_torch_ops(case, dq, a):
    """PyTorch has no additive-attention module: the oracle is Bahdanau's formula written
    with torch ops, e = tanh(q Wq + k Wk) w, masked with -inf, softmax, times v; autograd
    gives its gradients."""
    rng, dtype = case["rng"], case["dtype"]
    n, tq, tk, dk, dv = (case[k] for k in ("n", "tq", "tk", "d", "dv"))
    layer = AdditiveAttention(dq, dk, a, rng=rng, dtype=dtype)
    q, k, v = (rng.standard_normal(s).astype(dtype)
               for s in ((n, tq, dq), (n, tk, dk), (n, tk, dv)))

    def additive(q, k, v, m, p):
        e = torch.tanh((q @ p["Wq"])[:, :, None, :] + (k @ p["Wk"])[:, None, :, :]) @ p["w"]
        if m is not None:
            e = e.masked_fill(~m, -torch.inf)
        return torch.softmax(e, dim=-1) @ v

    _check_attention(layer, q, k, v, case["mask"], additive, rng, dtype)


# --- a whole encoder-decoder ---------------------------------------------------------------------


def _torch_lstm(p: dict, prefix: str, x, state):
    """nn.LSTM (batch_first) on x from state (h0, c0) of shape (1, N, H) each, its weights
    given by the dlteach-layout leaves p[prefix + "Wx"], ... (gate blocks reordered)."""
    h = p[prefix + "Wh"].shape[0]
    module = torch.nn.LSTM(p[prefix + "Wx"].shape[0], h, batch_first=True,
                           dtype=p[prefix + "Wx"].dtype)
    order = torch.from_numpy(_lstm_order(h))
    weights = {"weight_ih_l0": p[prefix + "Wx"][:, order].T,
               "weight_hh_l0": p[prefix + "Wh"][:, order].T,
               "bias_ih_l0": p[prefix + "b"][order], "bias_hh_l0": torch.zeros_like(
                   p[prefix + "b"])}
    return torch.func.functional_call(module, weights, (x, state))[0]


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), s_len=st.integers(1, 5), t_len=st.integers(1, 4),
       e=st.integers(1, 3), h=st.integers(1, 4), kind=st.sampled_from(["dot", "additive", None]),
       dtype=DTYPES, seed=SEEDS)
def test_seq2seq_matches_the_same_network_in_torch(n, s_len, t_len, e, h, kind, dtype, seed):
    """The whole encoder-decoder of dlteach.seq2seq's docstring, written with PyTorch
    modules and ops: both LSTMs, the bridge from each source's last real state, the
    attention (F.scaled_dot_product_attention, the additive formula, or none), the
    combine and output layers; logits and every parameter's gradient."""
    rng = np.random.default_rng(seed)
    v_src, v = 6, 5
    model = Seq2Seq(v_src, v, e, h, attention=kind, rng=rng, dtype=dtype)
    for name, p in model.named_parameters().items():
        if name.endswith(".b"):
            p.value[...] = rng.standard_normal(p.shape)
    lengths = rng.integers(1, s_len + 1, size=n)
    mask = np.arange(s_len) < lengths[:, None]
    src = np.where(mask, rng.integers(1, v_src, size=(n, s_len)), 0)
    dec_in = rng.integers(0, v, size=(n, t_len))
    logits = model.forward(src, dec_in, mask)
    g = rng.standard_normal(logits.shape).astype(logits.dtype)
    model.backward(g)

    p = leaves(model)
    states = _torch_lstm(p, "encoder.", F.embedding(torch.from_numpy(src), p["src_embed.W"]),
                         None)
    h0 = states[torch.arange(n), torch.from_numpy(lengths - 1)]
    d = _torch_lstm(p, "decoder.", F.embedding(torch.from_numpy(dec_in), p["tgt_embed.W"]),
                    (h0[None], torch.zeros_like(h0)[None]))
    m = torch.from_numpy(mask)[:, None, :]
    if kind == "dot":
        context = F.scaled_dot_product_attention(d, states, states, attn_mask=m,
                                                 scale=1 / np.sqrt(h))
    elif kind == "additive":
        scores = torch.tanh((d @ p["attention.Wq"])[:, :, None, :]
                            + (states @ p["attention.Wk"])[:, None, :, :]) @ p["attention.w"]
        context = torch.softmax(scores.masked_fill(~m, -torch.inf), dim=-1) @ states
    else:
        context = h0[:, None, :].expand_as(d)
    h_tilde = torch.tanh(torch.cat([context, d], dim=2) @ p["combine.W"] + p["combine.b"])
    theirs = h_tilde @ p["out.W"] + p["out.b"]
    theirs.backward(torch.from_numpy(g))
    assert_same("logits", logits, theirs, dtype)
    for name, param in model.named_parameters().items():
        assert_same(f"dL/d{name}", param.grad, p[name].grad, dtype)


# --- losses -----------------------------------------------------------------------------------


def _check_loss(loss: Loss, pred: np.ndarray, target: np.ndarray, torch_fn, *extra) -> None:
    """loss(pred, target) and dL/dpred against torch_fn(pred_tensor) and its autograd."""
    dtype = pred.dtype
    value = loss(pred, target, *extra)
    grad = loss.backward()
    pt = torch.tensor(pred, requires_grad=True)
    lt = torch_fn(pt)
    lt.backward()
    # The loss value is a Python float (float64) computed from `dtype` arrays.
    assert_same(f"{loss!r} value", np.array(value, dtype=dtype), lt, dtype)
    assert_same(f"{loss!r} dL/dpred", grad, pt.grad, dtype)


@FEW
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), dtype=DTYPES, seed=SEEDS)
def test_mse_matches_mse_loss(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    pred, target = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    _check_loss(MSELoss(), pred, target, lambda p: F.mse_loss(p, torch.from_numpy(target)))


@FEW
@given(n=st.integers(1, 6), cols=st.sampled_from([(), (1,), (3,)]), soft=st.booleans(),
       weighted=st.booleans(), dtype=DTYPES, seed=SEEDS)
def test_binary_cross_entropy_matches_torch(n, cols, soft, weighted, dtype, seed):
    """Probabilities against F.binary_cross_entropy (inside [eps, 1 - eps], where
    dlteach's clip does nothing), logits against binary_cross_entropy_with_logits. With
    class weights (w0, w1), dlteach's weighted mean sum w_i l_i / sum w_i is PyTorch's
    weight=w_i with reduction="sum", divided by sum w_i."""
    rng = np.random.default_rng(seed)
    shape = (n, *cols)
    target = rng.random(shape) if soft else rng.integers(0, 2, size=shape)
    target = target.astype(dtype)
    cw = rng.uniform(0.2, 3.0, size=2) if weighted else None
    w = None if cw is None else torch.from_numpy((cw[0] + (cw[1] - cw[0]) * target).astype(dtype))
    t = torch.from_numpy(target)

    def reduce(fn):
        def apply(p):
            if w is None:
                return fn(p, t)
            return fn(p, t, weight=w, reduction="sum") / w.sum()
        return apply

    probs = rng.uniform(0.01, 0.99, size=shape).astype(dtype)
    _check_loss(BinaryCrossEntropy(class_weights=cw), probs, target,
                reduce(F.binary_cross_entropy))
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    _check_loss(BinaryCrossEntropy(from_logits=True, class_weights=cw), logits, target,
                reduce(F.binary_cross_entropy_with_logits))


@FEW
@given(n=st.integers(1, 6), k=st.integers(2, 5), rows=st.booleans(), weighted=st.booleans(),
       dtype=DTYPES, seed=SEEDS)
def test_softmax_cross_entropy_matches_cross_entropy(n, k, rows, weighted, dtype, seed):
    """Labels: F.cross_entropy(weight=w) is the same weighted mean sum w[y] l / sum w[y].
    Probability rows t with class weights: dlteach divides by sum_nk w_k t_nk (its
    docstring), PyTorch's "mean" by N, so the oracle is reduction="sum" divided by that."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, k)) * 3).astype(dtype)
    cw = rng.uniform(0.2, 3.0, size=k) if weighted else None
    wt = None if cw is None else torch.from_numpy(cw.astype(dtype))
    if rows:
        target = rng.dirichlet(np.ones(k), size=n).astype(dtype)
        t = torch.from_numpy(target)
        denom = float(n) if cw is None else (t * wt).sum()
        fn = lambda z: F.cross_entropy(z, t, weight=wt, reduction="sum") / denom  # noqa: E731
    else:
        target = rng.integers(0, k, size=n)
        fn = lambda z: F.cross_entropy(z, torch.from_numpy(target), weight=wt)  # noqa: E731
    _check_loss(SoftmaxCrossEntropy(class_weights=cw), logits, target, fn)


@FEW
@given(n=st.integers(1, 2), k=st.integers(2, 4), h=st.integers(1, 4), w=st.integers(1, 4),
       ignore=st.booleans(), weighted=st.booleans(), dtype=DTYPES, seed=SEEDS)
def test_pixel_cross_entropy_matches_cross_entropy(n, k, h, w, ignore, weighted, dtype, seed):
    """F.cross_entropy on (N, K, H, W) logits with weight= and ignore_index=."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, k, h, w)) * 3).astype(dtype)
    target = rng.integers(0, k, size=(n, h, w))
    if ignore:
        target[rng.random(target.shape) < 0.3] = 255
        target.flat[0] = 0  # at least one pixel counts
    cw = rng.uniform(0.2, 3.0, size=k) if weighted else None
    wt = None if cw is None else torch.from_numpy(cw.astype(dtype))
    loss = PixelCrossEntropy(ignore_index=255 if ignore else None, class_weights=cw)
    _check_loss(loss, logits, target, lambda z: F.cross_entropy(
        z, torch.from_numpy(target), weight=wt, ignore_index=255 if ignore else -100))


@FEW
@given(n=st.integers(1, 3), t=st.integers(1, 4), k=st.integers(2, 5), masked=st.booleans(),
       ignore=st.booleans(), dtype=DTYPES, seed=SEEDS)
def test_sequence_cross_entropy_matches_cross_entropy(n, t, k, masked, ignore, dtype, seed):
    """F.cross_entropy on the logits as (N, K, T), masked steps and ignore_index=-1 labels
    both turned into PyTorch's ignore_index."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, t, k)) * 3).astype(dtype)
    target = rng.integers(0, k, size=(n, t))
    mask = rng.random((n, t)) < 0.7 if masked else np.ones((n, t), bool)
    if ignore:
        target[rng.random((n, t)) < 0.3] = -1
    mask[0, 0], target[0, 0] = True, 0  # at least one step counts
    theirs = np.where(mask & (target != -1), target, -100)
    loss = SequenceCrossEntropy(ignore_index=-1 if ignore else None)
    _check_loss(loss, logits, target,
                lambda z: F.cross_entropy(z.permute(0, 2, 1), torch.from_numpy(theirs)),
                mask if masked else None)


# --- optimizers -------------------------------------------------------------------------------


def _optimizer_case(rng, dtype):
    """Two parameters (a matrix and a vector) of a dlteach layer, their torch twins, and
    three rounds of gradients."""
    layer = Dense(3, 2, rng=rng, dtype=dtype)
    layer.b.value[...] = rng.standard_normal(2)
    twins = [torch.tensor(p.value.copy(), requires_grad=True) for p in layer.parameters()]
    grads = [[rng.standard_normal(p.shape).astype(dtype) for p in layer.parameters()]
             for _ in range(3)]
    return layer.parameters(), twins, grads


def _run_steps(params, twins, grads, ours, theirs):
    for step_grads in grads:
        for p, tw, g in zip(params, twins, step_grads, strict=True):
            p.grad = g.copy()
            tw.grad = torch.from_numpy(g.copy())
        ours.step()
        theirs.step()
        for p, tw in zip(params, twins, strict=True):
            assert_same(f"{ours!r} {p.name}", p.value, tw, p.value.dtype)


@FEW
@given(lr=st.floats(1e-3, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9]), dtype=DTYPES,
       seed=SEEDS)
def test_sgd_matches_torch_sgd(lr, momentum, dtype, seed):
    """Three steps. dlteach's momentum keeps v = momentum v - lr g and steps w + v (CS231n);
    torch.optim.SGD keeps b = momentum b + g and steps w - lr b: v = -lr b at every step
    while lr is constant, so the weights agree (up to rounding)."""
    params, twins, grads = _optimizer_case(np.random.default_rng(seed), dtype)
    _run_steps(params, twins, grads, SGD(params, lr=lr, momentum=momentum),
               torch.optim.SGD(twins, lr=lr, momentum=momentum))


@FEW
@given(lr=st.floats(1e-4, 0.1), beta1=st.sampled_from([0.0, 0.9]),
       beta2=st.sampled_from([0.9, 0.999]), eps=st.sampled_from([1e-8, 1e-3]), dtype=DTYPES,
       seed=SEEDS)
def test_adam_matches_torch_adam(lr, beta1, beta2, eps, dtype, seed):
    """Three steps; torch.optim.Adam's step m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)
    is dlteach's m_hat / (sqrt(v_hat) + eps) written differently."""
    params, twins, grads = _optimizer_case(np.random.default_rng(seed), dtype)
    _run_steps(params, twins, grads, Adam(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps),
               torch.optim.Adam(twins, lr=lr, betas=(beta1, beta2), eps=eps))


@FEW
@given(max_norm=st.floats(0.1, 10.0), dtype=DTYPES, seed=SEEDS)
def test_clip_grad_norm_matches_torch(max_norm, dtype, seed):
    """The global norm equals torch.nn.utils.clip_grad_norm_'s. The clipped gradients are
    compared twice: with the formula g * min(1, max_norm / norm) in torch ops (1e-10), and
    with clip_grad_norm_ itself, which divides by norm + 1e-6 (PyTorch's convention; a
    relative difference of at most 1e-6 / norm, norm >= 0.5 here)."""
    rng = np.random.default_rng(seed)
    params, twins, _ = _optimizer_case(rng, dtype)
    for p, tw in zip(params, twins, strict=True):
        p.grad = (rng.standard_normal(p.shape) * rng.uniform(0.2, 3)).astype(dtype)
        tw.grad = torch.from_numpy(p.grad.copy())
    norm = clip_grad_norm(params, max_norm)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t.grad)
                                                  for t in twins]))
    expected = [t.grad * torch.clamp(max_norm / total, max=1.0) for t in twins]
    theirs = torch.nn.utils.clip_grad_norm_(twins, max_norm)
    assert_same("norm", np.array(norm, dtype=dtype), theirs, dtype)
    for p, e, tw in zip(params, expected, twins, strict=True):
        assert_same(f"clipped {p.name}", p.grad, e, dtype)
        np.testing.assert_allclose(p.grad, tw.grad.numpy(), rtol=max(RTOL[p.grad.dtype], 4e-6))


# --- nothing slips by -------------------------------------------------------------------------

# Every Layer and Loss subclass of dlteach -> the oracle tests in this file that check it.
COVERED = {
    Dense: ["test_dense_matches_linear"],
    TimeDense: ["test_time_dense_matches_linear_on_every_step"],
    Conv2D: ["test_conv2d_matches_torch_with_strides_and_paddings"],
    ConvTranspose2D: ["test_conv_transpose2d_matches_torch"],
    Upsample2D: ["test_upsample2d_matches_nearest_interpolation"],
    MaxPool2D: ["test_maxpool2d_matches_torch_ties_included"],
    AvgPool2D: ["test_avgpool2d_matches_torch"],
    Flatten: ["test_flatten_matches_torch"],
    ReLU: ["test_elementwise_activations_match_torch"],
    Sigmoid: ["test_elementwise_activations_match_torch"],
    Tanh: ["test_elementwise_activations_match_torch"],
    Softmax: ["test_softmax_matches_torch_along_any_axis"],
    Embedding: ["test_embedding_matches_torch_repeated_tokens_included"],
    RNN: ["test_rnn_matches_torch"],
    LSTM: ["test_lstm_matches_torch_with_gate_blocks_reordered"],
    DotProductAttention: ["test_dot_product_attention_matches_scaled_dot_product_attention"],
    AdditiveAttention: ["test_additive_attention_matches_the_formula_in_torch_ops"],
    MSELoss: ["test_mse_matches_mse_loss"],
    BinaryCrossEntropy: ["test_binary_cross_entropy_matches_torch"],
    SoftmaxCrossEntropy: ["test_softmax_cross_entropy_matches_cross_entropy"],
    PixelCrossEntropy: ["test_pixel_cross_entropy_matches_cross_entropy"],
    SequenceCrossEntropy: ["test_sequence_cross_entropy_matches_cross_entropy"],
    Seq2Seq: ["test_seq2seq_matches_the_same_network_in_torch"],
}

# Classes without an oracle test of their own, by qualified name, and why.
SESSION_5 = "added in session 5; oracle test to come"
EXEMPT = {
    "dlteach.core.Sequential": "a chain of other layers; tests/test_torch_bridge.py compares "
                               "whole exported Sequentials with PyTorch, outputs and gradients",
    "dlteach.sentiment.LSTMClassifier": SESSION_5,
    "dlteach.stories.MemoryQA": SESSION_5,
    "dlteach.detection.Detector": SESSION_5,
    "dlteach.detection.DetectionLoss": SESSION_5,
}


def _subclasses(base: type) -> list[type]:
    """Every subclass of base defined in dlteach (private bases without forward aside)."""
    for info in pkgutil.walk_packages(dlteach.__path__, prefix="dlteach."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            importlib.import_module(info.name)
    found, stack = [], [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return [c for c in found if c.__module__.startswith("dlteach.")
            and not (c.__name__.startswith("_") and c.forward is base.forward)]


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_layer_and_loss_is_checked_against_pytorch_or_exempt_with_a_reason():
    classes = _subclasses(Layer) + _subclasses(Loss)
    assert Dense in classes and MSELoss in classes and Sequential in classes  # the walk works
    missing = [_name(c) for c in classes if c not in COVERED and _name(c) not in EXEMPT]
    assert not missing, (
        f"add an oracle test against PyTorch for these to {__file__}, and list them in "
        f"COVERED (or in EXEMPT with a reason): {missing}"
    )
    both = [_name(c) for c in COVERED if _name(c) in EXEMPT]
    assert not both, f"covered and exempt at once: {both}"
    stale = sorted(set(EXEMPT) - {_name(c) for c in classes})
    assert not stale, f"EXEMPT names classes that no longer exist: {stale}"


def test_covered_names_real_tests_of_this_file():
    for cls, tests in COVERED.items():
        for name in tests:
            assert callable(globals().get(name)), f"{cls.__name__}: no test named {name}"
