"""The LSTM: a recurrent layer with a cell state c that gates decide to keep or to change.

At each time step, for a batch of N sequences (x_t: (N, D), h and c: (N, H))::

    z = x_t @ Wx + h_{t-1} @ Wh + b          (N, 4H): the four gates in one product
    i = sigmoid(z[:, 0:H])                   input gate: how much new content to write
    f = sigmoid(z[:, H:2H])                  forget gate: how much of c to keep
    o = sigmoid(z[:, 2H:3H])                 output gate: how much of c to show
    g = tanh(z[:, 3H:4H])                    candidate: the new content
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Wx: (D, 4H), Wh: (H, 4H), b: (4H,) hold the four gates side by side, in the order
i, f, o, g, so one matrix product per step computes all of them. The cell state is
updated by addition, so the gradient dL/dc_{t-1} = dL/dc_t * f reaches early steps
without passing through a squashing function: while f stays near 1 it barely shrinks.
That is why the forget gate's bias starts at 1 (``forget_bias=1.0``): at first the
cell remembers.

One step, as pure functions (the lesson's exercises rebuild these)::

    h, c, cache = lstm_step_forward(x_t, h_prev, c_prev, Wx, Wh, b)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, cache)

The :class:`LSTM` layer runs the same equations over a whole sequence, faster: the
input projections of all steps are one matrix product before the loop, the weight
gradients one product each after it, every per-step array lives in a buffer kept
between calls and written with ``out=``, and the four gates of a step take a single
``exp`` call: sigmoid(z) = 1 / (1 + e^-z) and tanh(z) = 2 sigmoid(2z) - 1, with the
factors -1 and -2 folded into the weights (exact: powers of two). It never
overflows into a NaN: e^-z = inf for a very negative z gives sigmoid 1 / inf = 0,
the right limit. (NumPy's float32 ``exp`` measured about twice as fast as its
``tanh`` here, so this beats sigmoid(z) = (1 + tanh(z / 2)) / 2.)
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from dlteach.activations import _sigmoid
from dlteach.core import Parameter
from dlteach.errors import DTypeError, InvalidValueError
from dlteach.numerics import FloatRange
from dlteach.recurrent import _init, _Recurrent, _step_args
from dlteach.validation import as_rng, check_array

GATES = ("input", "forget", "output", "candidate")  # the order of the blocks of Wx, Wh, b


def lstm_step_forward(
    x: np.ndarray,
    h_prev: np.ndarray,
    c_prev: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One LSTM step (the equations of the module docstring).

    x: (N, D), h_prev: (N, H), c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,),
    gate blocks in the order i, f, o, g  ->  (h: (N, H), c: (N, H), cache), cache =
    (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c) for :func:`lstm_step_backward`.
    """
    owner = "lstm_step_forward"
    x, h_prev, Wx, Wh, b = _step_args(x, h_prev, Wx, Wh, b, owner, gates=4)
    c_prev = check_array(c_prev, owner=owner, name="c_prev", shape=h_prev.shape)
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b  # all four gates in one product
    i, f, o = _sigmoid(z[:, :H]), _sigmoid(z[:, H : 2 * H]), _sigmoid(z[:, 2 * H : 3 * H])
    g = np.tanh(z[:, 3 * H :])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, o, g, c)


def lstm_step_backward(
    grad_h: np.ndarray, grad_c: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of one LSTM step, given dL/dh: (N, H) and dL/dc: (N, H) from later on.

    -> (dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H),
    db: (4H,)). grad_c is the gradient reaching c_t from step t + 1 (zeros at the last
    step); h_t = o * tanh(c_t) adds dL/dh * o * (1 - tanh(c_t)^2) to it.
    """
    x, h_prev, c_prev, Wx, Wh, i, f, o, g, c = cache
    owner = "lstm_step_backward"
    grad_h = check_array(grad_h, owner=owner, name="grad_h", shape=c.shape)
    grad_c = check_array(grad_c, owner=owner, name="grad_c", shape=c.shape)
    tc = np.tanh(c)
    dc = grad_c + grad_h * o * (1 - tc * tc)
    di, df, do, dg = dc * g, dc * c_prev, grad_h * tc, dc * i
    # Through the activations: sigmoid' = s (1 - s), tanh' = 1 - tanh^2.
    dz = np.concatenate(
        [di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)], axis=1
    )
    return dz @ Wx.T, dz @ Wh.T, dc * f, x.T @ dz, h_prev.T @ dz, dz.sum(axis=0)


_CHUNK = 8  # steps whose local derivatives are computed together (they stay in cache)


def _local_derivatives(acts: np.ndarray, c_prev: np.ndarray, tanh_c: np.ndarray,
                       dz: np.ndarray, m: np.ndarray) -> None:
    """What backward multiplies by dL/dc_t and dL/dh_t, for a chunk of steps at once.

    acts: (S, N, 4H) the gates i, f, o, g;  c_prev: (S, N, H) c_{t-1};  tanh_c: (S, N, H)
    tanh(c_t). Writes dz: (S, N, 4H) and m: (S, N, H) such that
        dz_i = dc * [g i (1-i)],  dz_f = dc * [c_{t-1} f (1-f)],
        dz_o = dh * [tanh(c_t) o (1-o)],  dz_g = dc * [i (1 - g^2)],
        dc  += dh * m,  m = o (1 - tanh(c_t)^2).
    Vectorized over the S steps; S is small (_CHUNK) so that the loop finds them in cache.
    """
    H = m.shape[-1]
    i, o, g = acts[..., :H], acts[..., 2 * H : 3 * H], acts[..., 3 * H :]
    sig = dz[..., : 3 * H]
    np.subtract(1, acts[..., : 3 * H], out=sig)
    sig *= acts[..., : 3 * H]  # s (1 - s) for i, f, o
    dz_g = dz[..., 3 * H :]
    np.multiply(g, g, out=dz_g)
    np.subtract(1, dz_g, out=dz_g)  # 1 - g^2
    dz[..., :H] *= g
    dz[..., H : 2 * H] *= c_prev
    dz[..., 2 * H : 3 * H] *= tanh_c
    dz_g *= i
    np.square(tanh_c, out=m)
    np.subtract(1, m, out=m)
    m *= o


class LSTM(_Recurrent):
    """Long short-term memory over a batch-first sequence (equations: module docstring).

    x: (N, T, D)  ->  every hidden state (N, T, H), or only the last one (N, H) with
    ``return_sequences=False``.  Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate blocks in the
    order i, f, o, g (see ``GATES``).

    forward(x, h0=None, c0=None): the initial state, (N, H) each, zeros by default
    (or, when ``stateful=True``, the previous forward's final state). After forward:
    ``last_state`` = (h_T, c_T) and ``gates``, the gate activations of every step;
    after backward: ``grad_h0`` and ``grad_c0``.

    forget_bias: the forget gate's initial bias (1.0: remember at first).
    init: of Wx (``"xavier"``, the default, or ``"he"``);  recurrent_init: of Wh
    (``"orthogonal"``, one orthogonal block per gate, or ``"xavier"``);  rng: seed or
    Generator.  dtype: of the parameters; the layer computes in its input's dtype (the
    rule of :class:`dlteach.core.Layer`): build it with ``dtype=np.float32`` for
    float32 data, the fast path.
    """

    _state_names = ("h0", "c0")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        return_sequences: bool = True,
        stateful: bool = False,
        forget_bias: float = 1.0,
        init: str = "xavier",
        recurrent_init: str = "orthogonal",
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        self._setup(input_size, hidden_size, return_sequences, stateful)
        D, H = self.input_size, self.hidden_size
        gen = as_rng(rng, owner="LSTM", name="rng")
        self.Wx = Parameter(_init(init, (D, 4 * H), gen, dtype, "LSTM", "init"), "Wx")
        self.Wh = Parameter(
            _init(recurrent_init, (H, 4 * H), gen, dtype, "LSTM", "recurrent_init"), "Wh"
        )
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, Real):
            raise DTypeError(
                f"LSTM: expected forget_bias to be a number, got {type(forget_bias).__name__}."
            )
        b = np.zeros(4 * H, dtype=dtype)
        b[H : 2 * H] = float(forget_bias)
        self.b = Parameter(b, "b")

    def forward(
        self, x: np.ndarray, h0: np.ndarray | None = None, c0: np.ndarray | None = None
    ) -> np.ndarray:
        """x: (N, T, D), h0, c0: (N, H) or None -> (N, T, H), or (N, H)."""
        x = self._check_sequence(x)
        N, T, D = x.shape
        H, dt = self.hidden_size, x.dtype
        h_init, c_init = self._initial_state((h0, c0), N, dt)
        with FloatRange(self, "forward") as fr:
            # sigmoid(z) = 1 / (1 + e^-z) and tanh(z) = 2 sigmoid(2z) - 1: one exp call for
            # the four gates. The factors -1 (i, f, o) and -2 (g) are folded into the
            # weights (exact: powers of two). e^-z = inf for z < -88 (float32) gives 0.
            k = np.full(4 * H, -1.0, dtype=dt)
            k[3 * H :] = -2
            Wx = self.Wx.value.astype(dt, copy=False) * k
            Wh = self.Wh.value.astype(dt, copy=False) * k
            b = self.b.value.astype(dt, copy=False) * k
            # Every per-step array lives in a buffer kept between calls (see _buffer).
            xt = self._buffer("x", (T, N, D), dt)
            np.copyto(xt, x.transpose(1, 0, 2))  # time-major: each step's rows contiguous
            x2 = xt.reshape(T * N, D)
            acts = self._buffer("acts", (T, N, 4 * H), dt)  # pre-activations, then gates
            np.matmul(x2, Wx, out=acts.reshape(T * N, 4 * H))  # all input projections
            acts += b
            hs = self._buffer("h", (T + 1, N, H), dt)  # hs[0] = h0, hs[t + 1] = h_t
            cs = self._buffer("c", (T + 1, N, H), dt)  # cs[0] = c0, cs[t + 1] = c_t
            tcs = self._buffer("tanh_c", (T, N, H), dt)  # tanh(c_t)
            hs[0], cs[0] = h_init, c_init
            rec, ig = self._buffer("rec", (N, 4 * H), dt), self._buffer("ig", (N, H), dt)
            for t in range(T):
                a = acts[t]
                a += np.matmul(hs[t], Wh, out=rec)  # the one fused product of the step
                np.exp(a, out=a)
                a += 1
                np.reciprocal(a, out=a)  # i, f, o = sigmoid(z); sigmoid(2z) for g
                i, f, o, g = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
                g *= 2
                g -= 1  # g = tanh(z)
                c = cs[t + 1]
                np.multiply(f, cs[t], out=c)
                c += np.multiply(i, g, out=ig)  # c_t = f * c_{t-1} + i * g
                np.tanh(c, out=tcs[t])
                np.multiply(o, tcs[t], out=hs[t + 1])  # h_t = o * tanh(c_t)
        fr.check(hs, cs, inputs=(x, h_init, c_init, Wx, Wh, b))
        self._cache = (x2, acts, hs, cs, tcs, (N, T, D))
        self._finish_forward((hs[T], cs[T]))
        return self._output(hs[1:])

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out: (N, T, H) (or (N, H)) -> dL/dx: (N, T, D); accumulates dL/dWx, dWh, db.

        Also keeps dL/dh0 in ``grad_h0`` and dL/dc0 in ``grad_c0``.
        """
        if self._cache is None:
            raise self._missing_cache()
        x2, acts, hs, cs, tcs, (N, T, D) = self._cache
        H, dt = self.hidden_size, hs.dtype
        with FloatRange(self, "backward") as fr:
            g_seq, dh = self._grad_sequence(grad_out, N, T, dt)
            Wx = self.Wx.value.astype(dt, copy=False)
            Wh = self.Wh.value.astype(dt, copy=False)
            dz = self._buffer("dz", acts.shape, dt)  # becomes dL/dz of every step, in place
            m = self._buffer("m", tcs.shape, dt)
            f = acts[..., H : 2 * H]
            dc, tmp = np.zeros((N, H), dtype=dt), self._buffer("tmp", (N, H), dt)
            for t in reversed(range(T)):
                if t == T - 1 or t % _CHUNK == _CHUNK - 1:  # entering a chunk of steps
                    steps = slice(t - t % _CHUNK, t + 1)
                    _local_derivatives(acts[steps], cs[steps], tcs[steps], dz[steps], m[steps])
                if g_seq is not None:
                    dh += g_seq[t]  # from the output at step t, and from step t + 1
                dc += np.multiply(dh, m[t], out=tmp)  # through h_t = o * tanh(c_t)
                d = dz[t]
                d[:, 2 * H : 3 * H] *= dh  # output gate
                d.reshape(N, 4, H)[:, :2] *= dc[:, None, :]  # input and forget gates
                d[:, 3 * H :] *= dc  # candidate
                dc *= f[t]  # dL/dc_{t-1}
                np.matmul(d, Wh.T, out=dh)  # dL/dh_{t-1}: the fused product, backwards
            dz2 = dz.reshape(T * N, 4 * H)
            dWx = x2.T @ dz2  # each weight gradient: one product over all steps
            dWh = hs[:-1].reshape(T * N, H).T @ dz2
            db = dz2.sum(axis=0)
            dx = np.matmul(dz2, Wx.T, out=self._buffer("dx", (T * N, D), dt)).reshape(T, N, D)
            self.Wx.grad += dWx
            self.Wh.grad += dWh
            self.b.grad += db
        fr.check(dWx, dWh, dx, dh, dc, inputs=(grad_out, hs, cs, Wx, Wh))
        self._grad_state = (dh, dc)
        return dx.transpose(1, 0, 2).copy(order="C")  # dx lives in a reused buffer

    @property
    def grad_c0(self) -> np.ndarray:
        """dL/dc0: (N, H), from the last backward."""
        return self._grad_of(1)

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """The gate activations of the last forward: {"input", "forget", "output",
        "candidate"} -> (N, T, H) each (copies, batch-first), for heat maps."""
        if self._cache is None:
            raise InvalidValueError(f"{self!r}: no gates yet. Run forward on a batch first.")
        acts, H = self._cache[1], self.hidden_size
        return {
            name: acts[..., k * H : (k + 1) * H].transpose(1, 0, 2).copy(order="C")
            for k, name in enumerate(GATES)
        }
