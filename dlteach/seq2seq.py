"""Sequence to sequence: an encoder reads the source, a decoder writes the target.

For a batch of N source sequences (S steps, padded) and decoder inputs (T steps)::

    encoder:    E = LSTM(Embedding(src))                   every encoder state (N, S, H)
    bridge:     h_0 = E at each source's last real step    the decoder starts from it (c_0 = 0)
    decoder:    D = LSTM(Embedding(dec_in), h_0)           every decoder state (N, T, H)
    context:    c_t = attention(query d_t, keys E, values E, source mask)     (N, T, H)
                (attention=None: c_t = h_0 at every step, the classic encoder-decoder
                whose whole source must squeeze through one vector)
    output:     h~_t = tanh([c_t; d_t] Wc + bc),  logits_t = h~_t Wo + bo         (N, T, V)

Luong-style, chosen on purpose: the context is combined with the decoder state AFTER
the LSTM step, before the output layer, and is not fed into the next step's input (as
Bahdanau's decoder does). So under teacher forcing (the decoder reads the true previous
token, ``dec_in`` = <s> y_1 ... y_L) the decoder LSTM runs over the whole target at once,
the attention of all T steps is one batched product, and backward is: output layers,
attention (its key and value gradients go to the encoder states), the decoder's BPTT,
its dL/dh_0 into the encoder's state at each last real step, the encoder's BPTT. Greedy
decoding steps the same layers one token at a time, feeding back its own argmax.

Padding: sources are padded at the END (as :func:`dlteach.vocab.pad_sequences` does), so
a forward LSTM's states at the real steps never see the padding: a padded batch gives
the same outputs as each sequence alone. The source mask keeps the padded states out
of the attention and picks each sequence's last real state.

Training, with the loss masked to the real target steps (``fit`` cannot train this model:
it passes one input array and no mask, and Seq2Seq needs the source, the decoder input
and the masks; the loop is short)::

    for b in seq2seq_batches(sources, targets, 64, bos_id=v.bos_id, eos_id=v.eos_id, seed=rng):
        optimizer.zero_grad()
        logits = model.forward(b.src, b.dec_in, b.src_mask)
        value = loss(logits, b.dec_out, b.dec_mask)         # SequenceCrossEntropy()
        model.backward(loss.backward())
        optimizer.step()                                     # Adam(model.parameters())
"""

from __future__ import annotations

import numpy as np

from dlteach.attention import AdditiveAttention, DotProductAttention
from dlteach.core import Layer, Parameter
from dlteach.embedding import Embedding, check_tokens
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.lstm import LSTM
from dlteach.numerics import FloatRange, grad_as
from dlteach.optim import Optimizer, clip_grad_norm
from dlteach.sequence import SequenceCrossEntropy, TimeDense
from dlteach.validation import as_array, as_rng, check_array, check_positive_int
from dlteach.vocab import Seq2SeqBatch

ATTENTION_KINDS = ("dot", "additive", None)


class Seq2Seq(Layer):
    """An encoder-decoder LSTM with attention (the equations: the module docstring).

    src_vocab_size, tgt_vocab_size: V_src, V;  embed_dim: E;  hidden_size: H (encoder and
    decoder alike).  attention: ``"dot"`` (scaled dot product, :class:`DotProductAttention`),
    ``"additive"`` (:class:`AdditiveAttention` with ``attn_dim`` units, H by default) or
    None (the context is the last encoder state).  pad_id, bos_id, eos_id: the padding,
    start and end tokens (WordVocab's default specials give 0, 2 and 3).  rng: seeds
    every sub-layer;  dtype: of the parameters.

    forward(src (N, S), dec_in (N, T), src_mask (N, S) or None) -> logits (N, T, V), with
    teacher forcing. src_mask None means ``src != pad_id``.  backward(dL/dlogits) ->
    (zeros like src, zeros like dec_in): tokens have no gradient (as in Embedding); the
    parameters' gradients are accumulated.  greedy_decode(src, src_mask) -> (tokens,
    mask).  attention_weights: (N, T, S) of the last forward or decoding.

    The dtype rule: tokens are integers, so the model computes in its parameters' dtype;
    tokens given as floats holding whole numbers set the dtype instead (as in Embedding).
    It is not a Sequential-compatible layer: forward takes several inputs.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        *,
        attention: str | None = "dot",
        attn_dim: int | None = None,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
        rng: int | np.random.Generator | None = None,
        dtype: type = np.float64,
    ) -> None:
        owner = "Seq2Seq"
        V_src = check_positive_int(src_vocab_size, owner=owner, name="src_vocab_size")
        V = check_positive_int(tgt_vocab_size, owner=owner, name="tgt_vocab_size")
        E = check_positive_int(embed_dim, owner=owner, name="embed_dim")
        H = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        if attention not in ATTENTION_KINDS:
            raise InvalidValueError(
                f"{owner}: attention must be one of {ATTENTION_KINDS}, got {attention!r}."
            )
        for name, value, size in (("pad_id", pad_id, min(V_src, V)), ("bos_id", bos_id, V),
                                  ("eos_id", eos_id, V)):
            check_positive_int(value, owner=owner, name=name, minimum=0)
            if value >= size:
                raise InvalidValueError(
                    f"{owner}: {name} {value} is not a token of a vocabulary of {size}."
                )
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.kind = attention
        gen = as_rng(rng, owner=owner, name="rng")
        self.src_embed = Embedding(V_src, E, rng=gen, dtype=dtype)
        self.encoder = LSTM(E, H, rng=gen, dtype=dtype)
        self.tgt_embed = Embedding(V, E, rng=gen, dtype=dtype)
        self.decoder = LSTM(E, H, rng=gen, dtype=dtype)
        self.attention: Layer | None = None
        if attention == "dot":
            self.attention = DotProductAttention(scaled=True)
        elif attention == "additive":
            A = H if attn_dim is None else check_positive_int(attn_dim, owner=owner,
                                                              name="attn_dim")
            self.attention = AdditiveAttention(H, H, A, rng=gen, dtype=dtype)
        self.combine = TimeDense(2 * H, H, rng=gen, dtype=dtype)  # [c_t; d_t] -> h~_t
        self.out = TimeDense(H, V, rng=gen, dtype=dtype)
        self._cache: tuple | None = None
        self._weights: np.ndarray | None = None

    # --- the parts ---------------------------------------------------------------------------

    def _parts(self) -> list[tuple[str, Layer]]:
        names = ["src_embed", "encoder", "tgt_embed", "decoder", "attention", "combine", "out"]
        return [(n, getattr(self, n)) for n in names if getattr(self, n) is not None]

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        """Every parameter by its path: "encoder.Wx", "attention.w", "out.b", ..."""
        out: dict[str, Parameter] = {}
        for name, layer in self._parts():
            out.update(layer.named_parameters(prefix=f"{prefix}{name}."))
        return out

    def train(self, mode: bool = True) -> Seq2Seq:
        self.training = mode
        for _, layer in self._parts():
            layer.train(mode)
        return self

    @property
    def attention_weights(self) -> np.ndarray:
        """(N, T, S): how much each output step looked at each source step, in the last
        forward (T = dec_in's length, padded target steps included: dec_mask marks the
        real rows) or greedy_decode (rows after a sequence's end are 0). A copy, for heat
        maps; 0 at padded source steps."""
        if self.attention is None:
            raise InvalidValueError(
                f"{self!r} has no attention weights: without attention, the context is "
                "always the last encoder state."
            )
        if self._weights is None:
            raise InvalidValueError(f"{self!r}: no attention weights yet. Run forward first.")
        return self._weights.copy()

    # --- checks ------------------------------------------------------------------------------

    def _source(self, src: object, src_mask: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src tokens (N, S), mask (N, S) bool, index of each row's last real step (N,))."""
        owner = repr(self)
        src = check_tokens(src, self.src_embed.vocab_size, owner=owner, name="src", ndims=(2,))
        N, S = src.shape
        if src_mask is None:
            mask, how = src != self.pad_id, f" (src_mask=None: the mask is src != {self.pad_id})"
        else:
            arr = as_array(src_mask, owner=owner, name="src_mask")
            if arr.dtype != np.bool_:
                arr = check_array(arr, owner=owner, name="src_mask", kind="number")
                if ((arr != 0) & (arr != 1)).any():
                    raise InvalidValueError(
                        f"{owner}: src_mask must hold 1/True (a real step) or 0/False "
                        f"(padding), got {arr[(arr != 0) & (arr != 1)].flat[0]}."
                    )
            if arr.shape != (N, S):
                raise ShapeError(
                    f"{owner}: expected src_mask of shape (N, S) = {(N, S)} like src, got "
                    f"{tuple(arr.shape)}."
                )
            mask, how = arr.astype(bool, copy=False), ""
        lengths = mask.sum(axis=1)
        if (lengths == 0).any():
            n = int(np.argmax(lengths == 0))
            raise InvalidValueError(
                f"{owner}: source sequence {n} has no real step{how}: the encoder has nothing "
                "to read and attention nothing to attend to."
            )
        bad = (mask != (np.arange(S) < lengths[:, None])).any(axis=1)
        if bad.any():
            n = int(np.argmax(bad))
            pad = int(np.argmin(mask[n]))  # the first padded step, with a real one after it
            t = pad + int(np.argmax(mask[n, pad:]))
            raise InvalidValueError(
                f"{owner}: the source mask must mark the first steps of each sequence "
                f"(padding at the end, as pad_sequences makes it), but sequence {n} has a "
                f"real step at step {t} after padding at step {pad}{how}."
            )
        return src, mask, lengths - 1

    # --- forward and backward ----------------------------------------------------------------

    def _encode(self, src: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(encoder states (N, S, H), each sequence's last real state h_0 (N, H))."""
        states = self.encoder.forward(self.src_embed.forward(src))
        # A copy for S = 1: an LSTM returns a 1-step output as a view of a buffer it reuses.
        states = states.copy() if states.shape[1] == 1 else states
        return states, states[np.arange(len(src)), last]

    def _context(self, d: np.ndarray, states: np.ndarray, mask: np.ndarray,
                 h0: np.ndarray) -> np.ndarray:
        """c_t for every decoder state d: (N, T, H), in the same dtype."""
        if self.attention is None:
            return np.broadcast_to(h0[:, None, :], d.shape)
        return self.attention.forward(d, states, states, mask)

    def _output(self, context: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits (N, T, V), h~ (N, T, H)) from the context and the decoder states."""
        h_tilde = np.tanh(self.combine.forward(np.concatenate([context, d], axis=2)))
        return self.out.forward(h_tilde), h_tilde

    def forward(self, src: np.ndarray, dec_in: np.ndarray | None = None,
                src_mask: np.ndarray | None = None) -> np.ndarray:
        """src: (N, S), dec_in: (N, T) token ids, src_mask: (N, S) -> logits (N, T, V)."""
        owner = repr(self)
        if dec_in is None:
            raise DTypeError(
                f"{owner}: forward takes the source AND the decoder's input, forward(src, "
                "dec_in, src_mask); got only src. fit and Sequential pass a single array, "
                "so they cannot run this model: write the training loop (see "
                "dlteach.seq2seq's docstring)."
            )
        src, mask, last = self._source(src, src_mask)
        tgt = check_tokens(dec_in, self.tgt_embed.vocab_size, owner=owner, name="dec_in",
                           ndims=(2,))
        if len(tgt) != len(src):
            raise ShapeError(
                f"{owner}: expected dec_in of shape (N, T) with N = {len(src)} like src, "
                f"got {tuple(tgt.shape)}."
            )
        states, h0 = self._encode(src, last)
        e = grad_as(self.tgt_embed.forward(tgt), states.dtype)
        d = self.decoder.forward(e, h0)
        context = self._context(d, states, mask, h0)
        logits, h_tilde = self._output(context, d)
        self._cache = (src.shape, tgt.shape, last, h_tilde)  # and what the sub-layers keep
        self._weights = None if self.attention is None else self.attention.weights
        return logits

    def backward(self, grad_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dL/dlogits: (N, T, V) -> (zeros (N, S), zeros (N, T)); accumulates every
        parameter's gradient, through the attention and both LSTMs."""
        if self._cache is None:
            raise self._missing_cache()
        (N, S), (_, T), last, h_tilde = self._cache
        H = self.decoder.hidden_size
        self._check_grad_shape(grad_logits, (N, T, self.out.d_out))
        with FloatRange(self, "backward") as fr:
            dz = self.out.backward(grad_logits) * (1 - h_tilde * h_tilde)  # through tanh
        fr.check(dz, inputs=(grad_logits, h_tilde))
        dcat = self.combine.backward(dz)  # (N, T, 2H) = [dL/dc; dL/dd]
        dcontext, dd = dcat[..., :H], dcat[..., H:]
        if self.attention is None:
            dstates = np.zeros((N, S, H), dtype=dcat.dtype)
            dh0 = dcontext.sum(axis=1)  # h_0 was the context at every step
        else:
            dq, dk, dv = self.attention.backward(dcontext)
            dd, dstates, dh0 = dd + dq, dk + dv, 0  # keys and values are both the states
        dtgt = self.tgt_embed.backward(self.decoder.backward(dd))
        dh0 = dh0 + self.decoder.grad_h0  # the decoder started from h_0
        dstates[np.arange(N), last] += dh0  # ... the encoder's state at each last real step
        dsrc = self.src_embed.backward(self.encoder.backward(dstates))
        return dsrc, dtgt

    # --- decoding ----------------------------------------------------------------------------

    def greedy_decode(self, src: np.ndarray, src_mask: np.ndarray | None = None,
                      max_len: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Translate: at every step feed back the most likely token, for all N at once.

        src: (N, S), src_mask: (N, S) or None (src != pad_id)  ->  (tokens (N, L) int64,
        mask (N, L) bool). Decoding starts from <s>; sequence n stops after it outputs
        </s> (kept in tokens) or after max_len tokens; tokens after its end are pad_id
        and False in mask. L <= max_len: the loop stops when every sequence has ended.
        Teacher-forcing the result (dec_in = <s> followed by tokens) gives back these
        tokens as the argmax at every real step. Runs in evaluation mode; afterwards
        ``attention_weights`` is (N, L, S) and backward needs a new forward.
        """
        max_len = check_positive_int(max_len, owner=f"{self!r}.greedy_decode", name="max_len")
        src, mask, last = self._source(src, src_mask)
        N, S = src.shape
        was_training = self.training
        self.eval()
        tokens = np.full((N, max_len), self.pad_id, dtype=np.int64)
        real = np.zeros((N, max_len), dtype=bool)
        try:
            states, h = self._encode(src, last)
            h0, c = h, np.zeros_like(h)
            weights = np.zeros((N, max_len, S), dtype=states.dtype)
            done = np.zeros(N, dtype=bool)
            prev = np.full((N, 1), self.bos_id, dtype=np.int64)
            steps = max_len
            for t in range(max_len):
                e = grad_as(self.tgt_embed.forward(prev), states.dtype)
                d = self.decoder.forward(e, h, c).copy()  # a copy: see _encode
                h, c = self.decoder.last_state
                logits, _ = self._output(self._context(d, states, mask, h0), d)
                nxt = np.where(done, self.pad_id, np.argmax(logits[:, 0], axis=1))
                tokens[:, t], real[:, t] = nxt, ~done
                if self.attention is not None:
                    weights[:, t] = np.where(done[:, None], 0, self.attention.weights[:, 0])
                done |= nxt == self.eos_id
                prev = nxt[:, None]
                if done.all():
                    steps = t + 1
                    break
        finally:
            self.train(was_training)
            self._cache = None  # the sub-layers' caches hold the last step, not a forward
        self._weights = None if self.attention is None else weights[:, :steps]
        return tokens[:, :steps], real[:, :steps]

    def __repr__(self) -> str:
        kind = "None" if self.kind is None else repr(self.kind)
        return (f"Seq2Seq({self.src_embed.vocab_size} -> {self.tgt_embed.vocab_size}, "
                f"embed_dim={self.src_embed.dim}, hidden_size={self.decoder.hidden_size}, "
                f"attention={kind})")


def seq2seq_train_step(model: Seq2Seq, batch: Seq2SeqBatch, optimizer: Optimizer,
                       loss: SequenceCrossEntropy, max_norm: float | None = 1.0) -> float:
    """One teacher-forced training step on a batch of :func:`dlteach.seq2seq_batches`:
    the decoder reads ``batch.dec_in`` (the target shifted right), the loss counts the
    real steps of ``batch.dec_out`` only, then backward, gradient clipping to ``max_norm``
    (None: none) and one optimizer step. Returns the batch's loss. ``dl.fit`` cannot
    train a Seq2Seq (it takes three inputs), so lesson 7 and its training script loop
    over this step."""
    optimizer.zero_grad()
    value = loss(model.forward(batch.src, batch.dec_in, batch.src_mask), batch.dec_out,
                 batch.dec_mask)
    model.backward(loss.backward())
    if max_norm is not None:
        clip_grad_norm(model.parameters(), max_norm)
    optimizer.step()
    return value
