"""Recurrent networks: one set of weights applied at every time step, with a memory h.

The vanilla (Elman) RNN, for a batch of N sequences, at each time step t::

    h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)      x_t: (N, D), h_t: (N, H)

As a single step, a pure function of arrays (the lesson's exercises rebuild these)::

    h, cache = rnn_step_forward(x_t, h_prev, Wx, Wh, b)
    dx, dh_prev, dWx, dWh, db = rnn_step_backward(dh, cache)

As a layer over a whole batch-first sequence x: (N, T, D), with :class:`RNN`. Its
backward is backpropagation through time (BPTT): the loop runs over the steps in
reverse, and dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) @ Wh.T carries the gradient from
each step to the one before. Only that loop has to be sequential: the input
projection x_t @ Wx of all T steps is one matrix product before the loop, and the
weight gradients are one matrix product each after it (their per-step terms add up).

Sequence layers share :class:`_Recurrent`'s plumbing: the initial state (h0, zeros
by default), ``last_state`` after forward, ``grad_h0`` after backward, and
``stateful=True`` for truncated BPTT (each forward starts from the previous one's
final state, detached: backward stops at the window's start).
"""

from __future__ import annotations

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.init import INITIALIZERS
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import as_rng, check_array, check_positive_int, format_shape

# --- initialization --------------------------------------------------------------------------


def orthogonal(shape: tuple[int, int], rng: np.random.Generator, dtype: type) -> np.ndarray:
    """A random (rows, cols) matrix with orthonormal rows or columns (QR of a Gaussian).

    For recurrent weights Wh: multiplying by an orthogonal matrix keeps a vector's
    length, so at the start the hidden state neither shrinks nor blows up through Wh.
    """
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a unique, uniformly distributed Q
    return (q if rows >= cols else q.T).astype(dtype)


def _init(kind: str, shape: tuple[int, int], gen: np.random.Generator, dtype: type,
          owner: str, name: str) -> np.ndarray:
    if kind == "orthogonal":
        blocks = shape[1] // shape[0] if shape[1] % shape[0] == 0 else 0
        if blocks > 1:  # LSTM Wh (H, 4H): one orthogonal block per gate
            return np.concatenate(
                [orthogonal((shape[0], shape[0]), gen, dtype) for _ in range(blocks)], axis=1
            )
        return orthogonal(shape, gen, dtype)
    if kind not in INITIALIZERS:
        known = sorted([*INITIALIZERS, "orthogonal"])
        raise InvalidValueError(f"{owner}: {name} must be one of {known}, got {kind!r}.")
    return INITIALIZERS[kind](shape, gen, dtype)


# --- one step, as pure functions ------------------------------------------------------------


def _step_args(x, h_prev, Wx, Wh, b, owner, gates=1):
    x = check_array(x, owner=owner, name="x", shape=("N", "D"))
    h_prev = check_array(h_prev, owner=owner, name="h_prev", shape=(x.shape[0], "H"))
    H = h_prev.shape[1]
    Wx = check_array(Wx, owner=owner, name="Wx", shape=(x.shape[1], gates * H))
    Wh = check_array(Wh, owner=owner, name="Wh", shape=(H, gates * H))
    b = check_array(b, owner=owner, name="b", shape=(gates * H,))
    return x, h_prev, Wx, Wh, b


def rnn_step_forward(
    x: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple]:
    """One step of a vanilla RNN: h = tanh(x @ Wx + h_prev @ Wh + b).

    x: (N, D), h_prev: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)
    -> (h: (N, H), cache), cache = (x, h_prev, Wx, Wh, h) for :func:`rnn_step_backward`.
    """
    x, h_prev, Wx, Wh, b = _step_args(x, h_prev, Wx, Wh, b, "rnn_step_forward")
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)


def rnn_step_backward(
    grad_h: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one RNN step, given dL/dh: (N, H) and the forward's cache.

    -> (dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)), with
    dz = dL/dh * (1 - h^2) the gradient of the pre-activation z (tanh' = 1 - tanh^2).
    """
    x, h_prev, Wx, Wh, h = cache
    grad_h = check_array(grad_h, owner="rnn_step_backward", name="grad_h", shape=h.shape)
    dz = grad_h * (1 - h * h)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, h_prev.T @ dz, dz.sum(axis=0)


# --- the shared plumbing of sequence layers -----------------------------------------------


class _Recurrent(Layer):
    """What RNN and LSTM share: input and state checks, the state after forward, stateful.

    Subclasses define ``_state_names`` (("h0",) or ("h0", "c0")), ``forward`` and
    ``backward``.
    """

    _state_names: tuple[str, ...] = ("h0",)

    def _setup(self, input_size: int, hidden_size: int, return_sequences: bool,
               stateful: bool) -> None:
        owner = type(self).__name__
        self.input_size = check_positive_int(input_size, owner=owner, name="input_size")
        self.hidden_size = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        self.return_sequences = bool(return_sequences)
        self.stateful = bool(stateful)
        self._final: tuple[np.ndarray, ...] | None = None  # the last forward's final state
        self._carry: tuple[np.ndarray, ...] | None = None  # stateful: the next initial state
        self._cache: tuple | None = None
        self._grad_state: tuple[np.ndarray, ...] | None = None

    def _check_sequence(self, x: object) -> np.ndarray:
        """x: (N, T, D) with D = input_size, as a float array."""
        D = self.input_size
        x = check_array(x, owner=repr(self), ndim=None, allow_empty=True)
        if x.ndim != 3 or x.shape[2] != D:
            hint = ""
            if x.ndim == 2 and x.shape[1] == D:
                hint = (" A batch of single steps? Add the time axis: x[:, None, :] has shape "
                        f"({x.shape[0]}, 1, {D}).")
            elif x.ndim == 2:
                hint = " Token ids? Put an Embedding layer first."
            raise ShapeError(
                f"{self!r}: expected input of shape (N, T, {D}) (batch, time steps, features), "
                f"got {tuple(x.shape)}.{hint}"
            )
        if x.size == 0:
            raise InvalidValueError(f"{self!r}: input is empty (shape {tuple(x.shape)}).")
        return x

    def _initial_state(self, given: tuple[object, ...], n: int, dtype: np.dtype
                       ) -> tuple[np.ndarray, ...]:
        """The initial state (h0[, c0]) in the compute dtype: given, carried, or zeros."""
        H = self.hidden_size
        states = []
        for k, (name, s) in enumerate(zip(self._state_names, given, strict=True)):
            if s is None and self.stateful and self._carry is not None:
                s = self._carry[k]
                if s.shape[0] != n:
                    raise ShapeError(
                        f"{self!r}: stateful, so this forward starts from the last one's "
                        f"final state, of batch size {s.shape[0]}; got a batch of {n}. "
                        "Call reset_state() before sequences of another batch size."
                    )
            if s is None:
                states.append(np.zeros((n, H), dtype=dtype))
                continue
            s = check_array(s, owner=repr(self), name=name, ndim=None)
            if s.shape != (n, H):
                raise ShapeError(
                    f"{self!r}: expected {name} of shape {format_shape(('N', H))} = "
                    f"{(n, H)} for a batch of {n}, got {tuple(s.shape)}."
                )
            states.append(grad_as(s, dtype))
        return tuple(states)

    def _finish_forward(self, final: tuple[np.ndarray, ...]) -> None:
        self._final = tuple(s.copy() for s in final)
        if self.stateful:
            self._carry = self._final  # detached: backward never goes past this window
        self._grad_state = None

    @property
    def last_state(self) -> np.ndarray | tuple[np.ndarray, ...]:
        """The final state of the last forward: h_T (N, H), or (h_T, c_T) for an LSTM.

        A copy: pass it as the next forward's initial state to continue the sequences
        (truncated BPTT); backward stops there, the state is detached.
        """
        if self._final is None:
            raise InvalidValueError(f"{self!r}: no state yet. Run forward on a batch first.")
        copies = tuple(s.copy() for s in self._final)
        return copies[0] if len(copies) == 1 else copies

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros (stateful layers)."""
        self._carry = None

    def _grad_of(self, k: int) -> np.ndarray:
        if self._grad_state is None:
            raise InvalidValueError(
                f"{self!r}: no gradient of the initial state yet. Run forward, then backward."
            )
        return self._grad_state[k]

    @property
    def grad_h0(self) -> np.ndarray:
        """dL/dh0: (N, H), from the last backward (zeros-initial state included)."""
        return self._grad_of(0)

    def _output(self, hs: np.ndarray) -> np.ndarray:
        """hs: (T, N, H) time-major -> (N, T, H) batch-first, or the last step (N, H)."""
        if self.return_sequences:  # always a copy: hs lives in a buffer the next call reuses
            return hs.transpose(1, 0, 2).copy(order="C")
        return hs[-1].copy()

    def _grad_sequence(self, grad_out: np.ndarray, n: int, t: int, dtype: np.dtype
                       ) -> tuple[np.ndarray | None, np.ndarray]:
        """(dL/dh_t for every step, time-major (T, N, H), or None;  dL/dh_T (N, H)).

        With return_sequences=False only the last step has a gradient from above.
        The incoming array is only read, never changed.
        """
        H = self.hidden_size
        if self.return_sequences:
            self._check_grad_shape(grad_out, (n, t, H))
            g = grad_as(grad_out, dtype).transpose(1, 0, 2)  # a view: (T, N, H)
            return g, np.zeros((n, H), dtype=dtype)
        self._check_grad_shape(grad_out, (n, H))
        return None, np.array(grad_as(grad_out, dtype), copy=True)

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A work array kept from call to call, reallocated only when its shape or dtype change.

        The per-step arrays of a sequence are megabytes; the first write into a fresh one
        costs a page fault per 4 KB (measured in a stand-alone loop: the benchmark LSTM's
        input projection took 3.0 ms into a new array, 1.7 ms into a reused one). The
        buffers are plain attributes (``_buf_<name>``), so gradcheck's snapshot restores
        them. Never return one: outputs and gradients are new arrays the caller may keep.
        """
        attr = "_buf_" + name
        buf = getattr(self, attr, None)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype=dtype)
            setattr(self, attr, buf)
        return buf

    def _describe(self) -> str:
        extra = "" if self.return_sequences else ", return_sequences=False"
        extra += ", stateful=True" if self.stateful else ""
        return f"{type(self).__name__}({self.input_size} -> {self.hidden_size}{extra})"

    def __repr__(self) -> str:
        return self._describe()


class RNN(_Recurrent):
    """Vanilla RNN over a batch-first sequence: h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b).

    x: (N, T, D)  ->  every hidden state (N, T, H), or only the last one (N, H) with
    ``return_sequences=False``.  Wx: (D, H), Wh: (H, H), b: (H,).

    forward(x, h0=None): h0: (N, H) the initial state, zeros by default (or, when
    ``stateful=True``, the previous forward's final state). After forward,
    ``last_state`` is h_T; after backward, ``grad_h0`` is dL/dh0.

    init: of Wx (``"xavier"``, the default, or ``"he"``);  recurrent_init: of Wh
    (``"orthogonal"``, the default, or ``"xavier"``);  rng: seed or Generator.
    dtype: of the parameters; the layer computes in its input's dtype (the rule of
    :class:`dlteach.core.Layer`).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        return_sequences: bool = True,
        stateful: bool = False,
        init: str = "xavier",
        recurrent_init: str = "orthogonal",
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        self._setup(input_size, hidden_size, return_sequences, stateful)
        D, H = self.input_size, self.hidden_size
        gen = as_rng(rng, owner="RNN", name="rng")
        self.Wx = Parameter(_init(init, (D, H), gen, dtype, "RNN", "init"), "Wx")
        self.Wh = Parameter(_init(recurrent_init, (H, H), gen, dtype, "RNN", "recurrent_init"),
                            "Wh")
        self.b = Parameter(np.zeros(H, dtype=dtype), "b")

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        """x: (N, T, D), h0: (N, H) or None -> (N, T, H), or (N, H) without return_sequences."""
        x = self._check_sequence(x)
        N, T, D = x.shape
        H, dt = self.hidden_size, x.dtype
        (h_init,) = self._initial_state((h0,), N, dt)
        with FloatRange(self, "forward") as fr:
            Wx = self.Wx.value.astype(dt, copy=False)
            Wh = self.Wh.value.astype(dt, copy=False)
            b = self.b.value.astype(dt, copy=False)
            # Time-major copy of x, so that each step's rows are contiguous.
            xt = self._buffer("x", (T, N, D), dt)
            np.copyto(xt, x.transpose(1, 0, 2))
            x2 = xt.reshape(T * N, D)
            hs = self._buffer("h", (T + 1, N, H), dt)  # hs[0] = h0, hs[t + 1] = h_t
            hs[0] = h_init
            np.matmul(x2, Wx, out=hs[1:].reshape(T * N, H))  # all input projections at once
            hs[1:] += b
            tmp = self._buffer("tmp", (N, H), dt)
            for t in range(T):
                h = hs[t + 1]
                h += np.matmul(hs[t], Wh, out=tmp)  # + h_{t-1} @ Wh
                np.tanh(h, out=h)
        fr.check(hs, inputs=(x, h_init, Wx, Wh, b))
        self._cache = (x2, hs, (N, T, D))
        self._finish_forward((hs[T],))
        return self._output(hs[1:])

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out: (N, T, H) (or (N, H)) -> dL/dx: (N, T, D); accumulates dL/dWx, dWh, db.

        Also keeps dL/dh0 in ``grad_h0``.
        """
        if self._cache is None:
            raise self._missing_cache()
        x2, hs, (N, T, D) = self._cache
        dt = hs.dtype
        with FloatRange(self, "backward") as fr:
            g_seq, dh = self._grad_sequence(grad_out, N, T, dt)
            Wx = self.Wx.value.astype(dt, copy=False)
            Wh = self.Wh.value.astype(dt, copy=False)
            # dz = 1 - h^2 for every step at once; the loop multiplies it in place.
            dz = np.square(hs[1:], out=self._buffer("dz", (T, N, self.hidden_size), dt))
            np.subtract(1, dz, out=dz)
            for t in reversed(range(T)):
                if g_seq is not None:
                    dh += g_seq[t]  # from the output at step t, and from step t + 1
                dz[t] *= dh
                np.matmul(dz[t], Wh.T, out=dh)  # dL/dh_{t-1}
            dz2 = dz.reshape(T * N, self.hidden_size)
            dWx = x2.T @ dz2  # the per-step terms of each weight gradient, summed by GEMM
            dWh = hs[:-1].reshape(T * N, self.hidden_size).T @ dz2
            db = dz2.sum(axis=0)
            dx = np.matmul(dz2, Wx.T, out=self._buffer("dx", (T * N, D), dt)).reshape(T, N, D)
            self.Wx.grad += dWx
            self.Wh.grad += dWh
            self.b.grad += db
        fr.check(dWx, dWh, dx, dh, inputs=(grad_out, hs, Wx, Wh))
        self._grad_state = (dh,)
        return dx.transpose(1, 0, 2).copy(order="C")  # dx lives in a reused buffer
