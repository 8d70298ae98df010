"""Attention: each query looks over a whole sequence and takes a weighted mean of it.

For a batch of N sequences, query i (a decoder state) and the Tk keys k_j and values
v_j of a sequence (the encoder states)::

    e_ij = score(q_i, k_j)             how well key j matches query i      (N, Tq, Tk)
    a_ij = softmax_j(e_ij)             the attention weights, sum_j a_ij = 1
    c_i  = sum_j a_ij v_j              the context: a weighted mean of the values (N, Tq, Dv)

Two scores:

- dot product (Luong):  e_ij = q_i . k_j * s, with s = 1 / sqrt(D) when scaled (D the
  key size: without it the scores grow with D and the softmax saturates);
- additive (Bahdanau):  e_ij = w . tanh(q_i Wq + k_j Wk), a small learned network.

Backward, with g = dL/dc:  dL/dv_j = sum_i a_ij g_i,  dL/da_ij = g_i . v_j, through the
softmax dL/de_ij = a_ij (dL/da_ij - sum_j' a_ij' dL/da_ij'), then through the score.

Padding: a mask marks the real keys, True/1 (as :func:`dlteach.vocab.pad_sequences`
makes it), either per key (N, Tk) or per query and key (N, Tq, Tk). A masked key gets
exactly zero weight and no gradient (the softmax is :func:`dlteach.masking.masked_softmax`).
Keys and values at masked positions must still be finite numbers, as padding's are
(0 * NaN is NaN). A query whose keys are ALL masked has nothing to attend to and raises
InvalidValueError (an empty source sequence).

Pure functions, for exercises: :func:`scaled_dot_product_attention`,
:func:`additive_attention` and their backwards. Layers: :class:`DotProductAttention`,
:class:`AdditiveAttention`. Unlike other layers they take several inputs,
``forward(query, keys, values, mask=None)``, and ``backward(grad_context)`` returns a
tuple ``(dL/dquery, dL/dkeys, dL/dvalues)`` (the mask takes none). So they cannot sit
inside a Sequential, which passes one array forward and one gradient back: a model calls
them itself and adds the key and value gradients where those came from (see
:class:`dlteach.seq2seq.Seq2Seq`). ``layer.weights`` (N, Tq, Tk) keeps the last
forward's weights, for heat maps. The dtype rule: a layer computes in the QUERY's dtype
(keys and values are cast to it); each returned gradient has its own input's dtype.
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.init import xavier_uniform
from dlteach.masking import _check_mask, _masked, _softmax_backward
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_array, as_rng, check_array, check_positive, check_positive_int

# --- the pieces both scores share ----------------------------------------------------------


def _inputs(owner: str, query: object, keys: object, values: object, mask: object,
            d_query: int | str = "D", d_key: int | str | None = None) -> tuple:
    """(q, k, v in q's dtype, mask (N, 1 or Tq, Tk) bool or None) after checking shapes."""
    q = check_array(query, owner=owner, name="query", shape=("N", "Tq", d_query))
    N, Tq, D = q.shape
    k = check_array(keys, owner=owner, name="keys", shape=(N, "Tk", D if d_key is None
                                                            else d_key))
    Tk = k.shape[1]
    v = check_array(values, owner=owner, name="values", shape=(N, Tk, "Dv"))
    m = None
    if mask is not None:
        arr = as_array(mask, owner=owner, name="mask")
        if arr.shape == (N, Tk):
            arr = arr[:, None, :]
        elif arr.shape != (N, Tq, Tk):
            raise ShapeError(
                f"{owner}: expected mask of shape (N, Tk) = {(N, Tk)} (the keys) or "
                f"(N, Tq, Tk) = {(N, Tq, Tk)}, got {tuple(arr.shape)}."
            )
        m = _check_mask(arr, (N, Tq, Tk), 2, owner)
    return q, grad_as(k, q.dtype), grad_as(v, q.dtype), m


def _attend(scores: np.ndarray, mask: np.ndarray | None, v: np.ndarray, owner: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """(context (N, Tq, Dv), weights (N, Tq, Tk)) from scores (N, Tq, Tk)."""
    w = _masked(scores, mask, 2, owner)
    return w @ v, w


def _attend_backward(g: np.ndarray, v: np.ndarray, w: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(dL/dscores (N, Tq, Tk), dL/dvalues (N, Tk, Dv)) from g = dL/dcontext (N, Tq, Dv)."""
    dv = w.transpose(0, 2, 1) @ g
    return _softmax_backward(g @ v.transpose(0, 2, 1), w, 2), dv


def _dot_backward(g: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, w: np.ndarray,
                  s: np.floating) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dq, dk, dv) of c = softmax(q k^T s) v, from g = dL/dc and the weights w."""
    ds, dv = _attend_backward(g, v, w)
    ds = ds * s
    return ds @ k, ds.transpose(0, 2, 1) @ q, dv


def _additive_scores(q: np.ndarray, k: np.ndarray, Wq: np.ndarray, Wk: np.ndarray,
                     w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, Tq, Tk), features F = tanh(q Wq + k Wk): (N, Tq, Tk, A))."""
    F = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])  # every (i, j) pair
    return F @ w, F


def _additive_backward(ds: np.ndarray, q: np.ndarray, k: np.ndarray, Wq: np.ndarray,
                       Wk: np.ndarray, w: np.ndarray, F: np.ndarray) -> tuple:
    """(dq, dk, dWq, dWk, dw) from ds = dL/dscores (N, Tq, Tk)."""
    A = w.shape[0]
    dw = ds.reshape(-1) @ F.reshape(-1, A)
    dpre = (ds[..., None] * w) * (1 - F * F)  # through tanh: (N, Tq, Tk, A)
    dqp, dkp = dpre.sum(axis=2), dpre.sum(axis=1)  # q_i meets every key, k_j every query
    dWq = q.reshape(-1, q.shape[2]).T @ dqp.reshape(-1, A)
    dWk = k.reshape(-1, k.shape[2]).T @ dkp.reshape(-1, A)
    return dqp @ Wq.T, dkp @ Wk.T, dWq, dWk, dw


def _backward_args(owner: str, grad: object, weights: object, q: np.ndarray, k: np.ndarray,
                   v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dL/dcontext (N, Tq, Dv), weights (N, Tq, Tk)), checked, in q's dtype."""
    N, Tq = q.shape[:2]
    g = check_array(grad, owner=owner, name="grad_context", shape=(N, Tq, v.shape[2]))
    w = check_array(weights, owner=owner, name="weights", shape=(N, Tq, k.shape[1]))
    return grad_as(g, q.dtype), grad_as(w, q.dtype)


# --- pure functions --------------------------------------------------------------------------


def _scale(scale: float | None, d: int, owner: str) -> float:
    return 1 / np.sqrt(d) if scale is None else check_positive(scale, owner=owner, name="scale")


def scaled_dot_product_attention(
    query: np.ndarray, keys: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None,
    *, scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dot-product attention: e = q k^T * scale, a = masked softmax(e), c = a v.

    query: (N, Tq, D), keys: (N, Tk, D), values: (N, Tk, Dv), mask: (N, Tk) or
    (N, Tq, Tk), True = a real key, or None  ->  (context: (N, Tq, Dv), weights:
    (N, Tq, Tk)). scale: 1 / sqrt(D) by default (pass 1.0 for the unscaled product).
    """
    owner = "scaled_dot_product_attention"
    q, k, v, m = _inputs(owner, query, keys, values, mask)
    with FloatRange(owner, "forward") as fr:
        scores = (q * q.dtype.type(_scale(scale, q.shape[2], owner))) @ k.transpose(0, 2, 1)
        context, w = _attend(scores, m, v, owner)
    fr.check(context, inputs=(q, k, v))
    return context, w


def scaled_dot_product_attention_backward(
    grad_context: np.ndarray, query: np.ndarray, keys: np.ndarray, values: np.ndarray,
    weights: np.ndarray, *, scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`scaled_dot_product_attention`, given dL/dcontext (N, Tq, Dv),
    its inputs and the weights it returned  ->  (dquery (N, Tq, D), dkeys (N, Tk, D),
    dvalues (N, Tk, Dv)):  de = a * (g v^T - sum_j a g v^T),  dq = de k * scale,
    dk = de^T q * scale,  dv = a^T g."""
    owner = "scaled_dot_product_attention_backward"
    q, k, v, _ = _inputs(owner, query, keys, values, None)
    g, w = _backward_args(owner, grad_context, weights, q, k, v)
    s = q.dtype.type(_scale(scale, q.shape[2], owner))
    with FloatRange(owner, "backward") as fr:
        dq, dk, dv = _dot_backward(g, q, k, v, w, s)
    fr.check(dq, dk, dv, inputs=(g, q, k, v, w))
    return dq, dk, dv


def _additive_args(owner, query, keys, values, Wq, Wk, w, mask) -> tuple:
    Wq = check_array(Wq, owner=owner, name="Wq", shape=("Dq", "A"))
    A = Wq.shape[1]
    Wk = check_array(Wk, owner=owner, name="Wk", shape=("Dk", A))
    w = check_array(w, owner=owner, name="w", shape=(A,))
    q, k, v, m = _inputs(owner, query, keys, values, mask, Wq.shape[0], Wk.shape[0])
    return q, k, v, m, *(grad_as(p, q.dtype) for p in (Wq, Wk, w))


def additive_attention(
    query: np.ndarray, keys: np.ndarray, values: np.ndarray, Wq: np.ndarray, Wk: np.ndarray,
    w: np.ndarray, mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Additive (Bahdanau) attention: e_ij = w . tanh(q_i Wq + k_j Wk), a = softmax, c = a v.

    query: (N, Tq, Dq), keys: (N, Tk, Dk), values: (N, Tk, Dv), Wq: (Dq, A), Wk: (Dk, A),
    w: (A,), mask as for :func:`scaled_dot_product_attention`  ->  (context: (N, Tq, Dv),
    weights: (N, Tq, Tk)).
    """
    owner = "additive_attention"
    q, k, v, m, Wq_, Wk_, w_ = _additive_args(owner, query, keys, values, Wq, Wk, w, mask)
    with FloatRange(owner, "forward") as fr:
        scores, _ = _additive_scores(q, k, Wq_, Wk_, w_)
        context, weights = _attend(scores, m, v, owner)
    fr.check(context, inputs=(q, k, v, Wq_, Wk_, w_))
    return context, weights


def additive_attention_backward(
    grad_context: np.ndarray, query: np.ndarray, keys: np.ndarray, values: np.ndarray,
    Wq: np.ndarray, Wk: np.ndarray, w: np.ndarray, weights: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Gradients of :func:`additive_attention` given dL/dcontext (N, Tq, Dv), its inputs and
    the weights it returned -> (dquery, dkeys, dvalues, dWq, dWk, dw), each of its input's
    shape. The features tanh(q Wq + k Wk) are recomputed (the layer caches them)."""
    owner = "additive_attention_backward"
    q, k, v, _, Wq_, Wk_, w_ = _additive_args(owner, query, keys, values, Wq, Wk, w, None)
    g, wts = _backward_args(owner, grad_context, weights, q, k, v)
    with FloatRange(owner, "backward") as fr:
        _, F = _additive_scores(q, k, Wq_, Wk_, w_)
        ds, dv = _attend_backward(g, v, wts)
        grads = _additive_backward(ds, q, k, Wq_, Wk_, w_, F)
    fr.check(dv, *grads, inputs=(g, q, k, v, wts))
    return (*grads[:2], dv, *grads[2:])


# --- layers --------------------------------------------------------------------------------------


class _Attention(Layer):
    """What both attention layers share: the three inputs, the mask, the weights, backward."""

    _cache: tuple | None = None

    def _read(self, query, keys, values, mask, **dims) -> tuple:
        if keys is None or values is None:
            raise DTypeError(
                f"{self!r}: forward takes three inputs, forward(query, keys, values, "
                "mask=None); got no keys or no values. An attention layer cannot sit inside "
                "a Sequential, which passes a single array from layer to layer: call it "
                "directly, as dlteach.seq2seq.Seq2Seq does."
            )
        q, k, v, m = _inputs(repr(self), query, keys, values, mask, **dims)
        dtypes = tuple(np.asarray(a).dtype for a in (q, keys, values))
        return q, k, v, m, dtypes

    @property
    def weights(self) -> np.ndarray:
        """The attention weights of the last forward: (N, Tq, Tk), a copy (0 where masked)."""
        if self._cache is None:
            raise InvalidValueError(f"{self!r}: no attention weights yet. Run forward first.")
        return self._cache[3].copy()

    def _start_backward(self, grad_context: np.ndarray) -> tuple:
        if self._cache is None:
            raise self._missing_cache()
        q, k, v, w = self._cache[:4]
        self._check_grad_shape(grad_context, (q.shape[0], q.shape[1], v.shape[2]))
        return grad_as(grad_context, q.dtype), q, k, v, w

    def _finish(self, dq, dk, dv) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dtypes = self._cache[-1]
        return tuple(grad_as(d, dt) for d, dt in zip((dq, dk, dv), dtypes, strict=True))


class DotProductAttention(_Attention):
    """Dot-product attention (Luong): e_ij = q_i . k_j / sqrt(D), a = softmax_j, c = a v.

    forward(query (N, Tq, D), keys (N, Tk, D), values (N, Tk, Dv), mask (N, Tk) or
    (N, Tq, Tk) or None) -> context (N, Tq, Dv);  backward(dL/dcontext (N, Tq, Dv)) ->
    (dquery, dkeys, dvalues), a tuple (see the module docstring: not for Sequential).
    scaled=False drops the 1 / sqrt(D). No parameters. ``weights``: (N, Tq, Tk).
    """

    def __init__(self, scaled: bool = True) -> None:
        self.scaled = bool(scaled)
        self._cache = None

    def forward(self, query: np.ndarray, keys: np.ndarray | None = None,
                values: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """query: (N, Tq, D), keys: (N, Tk, D), values: (N, Tk, Dv) -> context (N, Tq, Dv)."""
        q, k, v, m, dtypes = self._read(query, keys, values, mask)
        s = q.dtype.type(1 / np.sqrt(q.shape[2]) if self.scaled else 1)
        with FloatRange(self, "forward") as fr:
            context, w = _attend((q * s) @ k.transpose(0, 2, 1), m, v, repr(self))
        fr.check(context, inputs=(q, k, v))
        self._cache = (q, k, v, w, s, dtypes)  # backward needs the inputs and the weights
        return context

    def backward(self, grad_context: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """dL/dcontext: (N, Tq, Dv) -> (dL/dquery, dL/dkeys, dL/dvalues)."""
        g, q, k, v, w = self._start_backward(grad_context)
        s = self._cache[4]
        with FloatRange(self, "backward") as fr:
            dq, dk, dv = _dot_backward(g, q, k, v, w, s)
        fr.check(dq, dk, dv, inputs=(g, q, k, v))
        return self._finish(dq, dk, dv)

    def __repr__(self) -> str:
        return f"DotProductAttention(scaled={self.scaled})"


class AdditiveAttention(_Attention):
    """Additive attention (Bahdanau): e_ij = w . tanh(q_i Wq + k_j Wk), a = softmax_j, c = a v.

    forward(query (N, Tq, d_query), keys (N, Tk, d_key), values (N, Tk, Dv), mask (N, Tk)
    or (N, Tq, Tk) or None) -> context (N, Tq, Dv);  backward(dL/dcontext) -> (dquery,
    dkeys, dvalues), a tuple (not for Sequential), accumulating dL/dWq, dL/dWk, dL/dw.
    Wq: (d_query, A), Wk: (d_key, A), w: (A,) with A = d_attn, Xavier-initialized from
    ``rng``. dtype: of the parameters. ``weights``: (N, Tq, Tk).
    Memory: the features tanh(q_i Wq + k_j Wk) of every pair, N * Tq * Tk * A numbers.
    """

    def __init__(self, d_query: int, d_key: int, d_attn: int, *,
                 rng: int | np.random.Generator | None = None, dtype: type = np.float64) -> None:
        owner = "AdditiveAttention"
        self.d_query = check_positive_int(d_query, owner=owner, name="d_query")
        self.d_key = check_positive_int(d_key, owner=owner, name="d_key")
        self.d_attn = check_positive_int(d_attn, owner=owner, name="d_attn")
        gen = as_rng(rng, owner=owner, name="rng")
        self.Wq = Parameter(xavier_uniform((self.d_query, self.d_attn), gen, dtype), "Wq")
        self.Wk = Parameter(xavier_uniform((self.d_key, self.d_attn), gen, dtype), "Wk")
        self.w = Parameter(xavier_uniform((self.d_attn, 1), gen, dtype)[:, 0], "w")
        self._cache = None

    def forward(self, query: np.ndarray, keys: np.ndarray | None = None,
                values: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """query: (N, Tq, d_query), keys: (N, Tk, d_key), values: (N, Tk, Dv) -> (N, Tq, Dv)."""
        q, k, v, m, dtypes = self._read(query, keys, values, mask, d_query=self.d_query,
                                        d_key=self.d_key)
        Wq, Wk, w = (p.value.astype(q.dtype, copy=False) for p in self.parameters())
        with FloatRange(self, "forward") as fr:
            scores, F = _additive_scores(q, k, Wq, Wk, w)
            context, a = _attend(scores, m, v, repr(self))
        fr.check(context, inputs=(q, k, v, Wq, Wk, w))
        self._cache = (q, k, v, a, F, dtypes)  # the features F: backward goes through tanh
        return context

    def backward(self, grad_context: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """dL/dcontext: (N, Tq, Dv) -> (dL/dquery, dL/dkeys, dL/dvalues); accumulates
        dL/dWq, dL/dWk and dL/dw."""
        g, q, k, v, a = self._start_backward(grad_context)
        F = self._cache[4]
        Wq, Wk, w = (p.value.astype(q.dtype, copy=False) for p in self.parameters())
        with FloatRange(self, "backward") as fr:
            ds, dv = _attend_backward(g, v, a)
            dq, dk, dWq, dWk, dw = _additive_backward(ds, q, k, Wq, Wk, w, F)
            self.Wq.grad += dWq  # in the parameters' own dtype
            self.Wk.grad += dWk
            self.w.grad += dw
        fr.check(dq, dk, dv, dWq, dWk, dw, inputs=(g, q, k, v))
        return self._finish(dq, dk, dv)

    def __repr__(self) -> str:
        return f"AdditiveAttention({self.d_query}, {self.d_key} -> {self.d_attn})"
