"""Seq2Seq: a plain reference, gradients through everything, padding, greedy decoding, learning."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlteach.attention import additive_attention, scaled_dot_product_attention
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.lstm import lstm_step_forward
from dlteach.optim import Adam, clip_grad_norm
from dlteach.seq2seq import Seq2Seq, seq2seq_train_step
from dlteach.sequence import SequenceCrossEntropy, sequence_accuracy
from dlteach.vocab import WordVocab, make_reversal_pairs, pad_sequences, seq2seq_batches

KINDS = ["dot", "additive", None]
PAD, BOS, EOS = 0, 1, 2  # small vocabularies in the property tests


@st.composite
def seq2seq_case(draw):
    """(model, src (N, S) padded with 0, lengths (N,), dec_in (N, T), targets, dec_mask, rng)."""
    n, s, t = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    e, h, v = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(3, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    model = Seq2Seq(v, v + 1, e, h, attention=draw(st.sampled_from(KINDS)), attn_dim=2,
                    pad_id=PAD, bos_id=BOS, eos_id=EOS, rng=seed)
    for p in model.parameters():  # non-zero biases, so that every term is exercised
        if p.name == "b":
            p.value = rng.normal(size=p.shape)
    lengths = rng.integers(1, s + 1, size=n)
    src = np.where(np.arange(s) < lengths[:, None], rng.integers(1, v, size=(n, s)), PAD)
    dec_in, target = rng.integers(0, v + 1, size=(n, t)), rng.integers(0, v + 1, size=(n, t))
    dec_mask = rng.random((n, t)) < 0.7
    dec_mask[:, 0] = True
    return model, src, lengths, dec_in, target, dec_mask, rng


def reference_logits(model, src, lengths, dec_in):
    """The model's equations one sequence and one step at a time, on UNPADDED sources."""
    P = {k: p.value for k, p in model.named_parameters().items()}
    enc = [P["encoder.Wx"], P["encoder.Wh"], P["encoder.b"]]
    dec = [P["decoder.Wx"], P["decoder.Wh"], P["decoder.b"]]
    H = model.decoder.hidden_size
    out = []
    for n, length in enumerate(lengths):
        h = c = np.zeros((1, H))
        states = []
        for token in src[n, :length]:
            h, c, _ = lstm_step_forward(P["src_embed.W"][[token]], h, c, *enc)
            states.append(h)
        E = np.concatenate(states)[None]  # (1, L, H): no padding at all
        h0, h, c = h, h, np.zeros((1, H))
        rows = []
        for token in dec_in[n]:
            h, c, _ = lstm_step_forward(P["tgt_embed.W"][[token]], h, c, *dec)
            if model.kind == "dot":
                context = scaled_dot_product_attention(h[None], E, E)[0][0]
            elif model.kind == "additive":
                context = additive_attention(h[None], E, E, P["attention.Wq"],
                                             P["attention.Wk"], P["attention.w"])[0][0]
            else:
                context = h0
            h_tilde = np.tanh(np.concatenate([context, h], axis=1) @ P["combine.W"]
                              + P["combine.b"])
            rows.append(h_tilde @ P["out.W"] + P["out.b"])
        out.append(np.concatenate(rows))
    return np.stack(out)


@given(seq2seq_case())
def test_a_padded_batch_equals_a_plain_reference_on_each_sequence_alone(case):
    model, src, lengths, dec_in, *_ = case
    logits = model.forward(src, dec_in)  # src_mask=None: src != pad_id
    np.testing.assert_allclose(logits, reference_logits(model, src, lengths, dec_in),
                               rtol=1e-10, atol=1e-12)
    mask = np.arange(src.shape[1]) < lengths[:, None]
    np.testing.assert_array_equal(model.forward(src, dec_in, mask), logits)
    if model.kind is not None:
        w = model.attention_weights
        assert w.shape == (*dec_in.shape, src.shape[1]) and not w[~mask[:, None, :].repeat(
            dec_in.shape[1], axis=1)].any()
        np.testing.assert_allclose(w.sum(axis=2), 1.0, rtol=1e-14)


@settings(max_examples=12)
@given(seq2seq_case())
def test_every_parameter_passes_gradcheck_with_padding_and_a_masked_loss(case):
    model, src, lengths, dec_in, target, dec_mask, _ = case
    mask = np.arange(src.shape[1]) < lengths[:, None]
    loss = SequenceCrossEntropy()
    names = list(model.named_parameters())
    assert names[:4] == ["src_embed.W", "encoder.Wx", "encoder.Wh", "encoder.b"]
    assert ("attention.w" in names) == (model.kind == "additive")
    for name, p in model.named_parameters().items():

        def f(value, p=p):
            saved, p.value = p.value, value
            model.zero_grad()
            try:
                value = loss(model.forward(src, dec_in, mask), target, dec_mask)
                dsrc, ddec = model.backward(loss.backward())
            finally:
                p.value = saved
            assert dsrc.shape == src.shape and ddec.shape == dec_in.shape and not dsrc.any()
            return value, p.grad.copy()

        report = gradcheck(f, p.value.copy())
        assert report.passed(1e-7), f"{model!r}, {name}: {report}"


@given(seq2seq_case(), st.floats(-1.0, 3.0))
def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_output(case, eos_bias):
    # Feeding the decoded tokens back as dec_in, the argmax at every real step is the
    # decoded token again (greedy decoding is teacher forcing on its own output), and
    # decoding a batch gives what decoding each sequence alone gives.
    model, src, lengths, *_ = case
    model.out.b.value[EOS] = eos_bias  # some sequences end early, some run to max_len
    tokens, real = model.greedy_decode(src, max_len=5)
    N, L = tokens.shape
    assert L <= 5 and real[:, 0].all() and tokens.dtype == np.int64
    ended = (tokens == EOS) & real
    for n in range(N):  # after </s>: padding, and False in the mask
        stop = int(np.argmax(ended[n])) if ended[n].any() else L - 1
        assert real[n, : stop + 1].all() and not real[n, stop + 1 :].any()
        assert (tokens[n, stop + 1 :] == PAD).all()
    assert L == 5 or ended.any(axis=1).all()
    weights = model.attention_weights if model.kind else None
    dec_in = np.concatenate([np.full((N, 1), BOS), tokens[:, :-1]], axis=1)
    logits = model.forward(src, dec_in)
    np.testing.assert_array_equal(np.argmax(logits, axis=2)[real], tokens[real])
    if model.kind is not None:
        assert weights.shape == (N, L, src.shape[1]) and not weights[~real].any()
        np.testing.assert_allclose(weights[real], model.attention_weights[real], rtol=1e-10,
                                   atol=1e-13)
    for n in range(N):
        alone, _ = model.greedy_decode(src[n : n + 1, : lengths[n]], max_len=5)
        np.testing.assert_array_equal(alone[0], tokens[n, : alone.shape[1]])


def test_without_attention_only_the_last_encoder_state_matters():
    model = Seq2Seq(6, 6, 3, 4, attention=None, rng=0)
    src = np.array([[4, 5, 4, 5, 0]])
    dec_in = np.array([[2, 4, 5]])
    logits = model.forward(src, dec_in)
    h0 = model.encoder.forward(model.src_embed.forward(src[:, :4]))[:, -1]
    d = model.decoder.forward(model.tgt_embed.forward(dec_in), h0)
    h_tilde = np.tanh(model.combine.forward(np.concatenate([np.repeat(h0[:, None], 3, 1), d], 2)))
    np.testing.assert_allclose(logits, model.out.forward(h_tilde), rtol=1e-13)
    with pytest.raises(InvalidValueError, match=r"^Seq2Seq\(6 -> 6, embed_dim=3, hidden_size=4, "
                                                r"attention=None\) has no attention weights"):
        model.attention_weights  # noqa: B018


def test_it_learns_to_reverse_digit_sequences():
    # A hand-written loop with Adam: in ~2 s it reverses unseen sequences, and the attention
    # of output step t falls on source step L - 1 - t, the one it copies, or on the next one
    # (whose encoder state holds it too): the anti-diagonal.
    sources, targets = make_reversal_pairs(2200, min_len=3, max_len=6, seed=0)
    vocab = WordVocab(sources + targets)
    src_ids = [vocab.encode(s) for s in sources]
    tgt_ids = [vocab.encode(t) for t in targets]
    model = Seq2Seq(len(vocab), len(vocab), 16, 32, attention="additive", attn_dim=16,
                    bos_id=vocab.bos_id, eos_id=vocab.eos_id, rng=0)
    optimizer, loss = Adam(model.parameters(), lr=0.01), SequenceCrossEntropy()
    rng, steps = np.random.default_rng(0), 0
    while steps < 180:
        for b in seq2seq_batches(src_ids[:2000], tgt_ids[:2000], 50, bos_id=vocab.bos_id,
                                 eos_id=vocab.eos_id, seed=rng):
            seq2seq_train_step(model, b, optimizer, loss, max_norm=5.0)
            steps += 1
    test = next(seq2seq_batches(src_ids[2000:], tgt_ids[2000:], 200, bos_id=vocab.bos_id,
                                eos_id=vocab.eos_id, shuffle=False))
    logits = model.forward(test.src, test.dec_in, test.src_mask)
    assert sequence_accuracy(logits, test.dec_out, test.dec_mask) > 0.97
    tokens, real = model.greedy_decode(test.src, test.src_mask, max_len=10)
    exact = [np.array_equal(tokens[i][real[i]], test.dec_out[i][test.dec_mask[i]])
             for i in range(len(tokens))]
    assert np.mean(exact) > 0.9
    assert vocab.decode(tokens[0]) == targets[2000]
    lengths = test.src_mask.sum(axis=1)
    w = model.attention_weights
    offsets = np.array([np.argmax(w[i, t]) - (lengths[i] - 1 - t) for i in range(len(w))
                        for t in range(lengths[i])])
    assert np.mean((offsets == 0) | (offsets == 1)) > 0.9 and np.mean(offsets == 0) > 0.5


def test_modes_parameters_and_accumulated_gradients():
    model = Seq2Seq(5, 7, 2, 3, attention="additive", attn_dim=4, rng=0)
    assert model.num_parameters() == sum(p.size for p in model.parameters())
    assert len(model.parameters()) == 15
    model.eval()
    assert not model.training and not model.decoder.training and not model.attention.training
    src, dec_in = np.array([[1, 4, 3]]), np.array([[2, 6]])
    model.greedy_decode(src)
    assert not model.training  # decoding restores the mode it found
    model.train()
    assert model.out.training
    logits = model.forward(src, dec_in)
    g = np.random.default_rng(0).normal(size=logits.shape)
    g_copy = g.copy()
    model.backward(g)
    first = {k: p.grad.copy() for k, p in model.named_parameters().items()}
    model.backward(g)
    for k, p in model.named_parameters().items():
        np.testing.assert_allclose(p.grad, 2 * first[k], rtol=1e-14, atol=1e-15, err_msg=k)
    np.testing.assert_array_equal(g, g_copy)
    a, b = Seq2Seq(5, 7, 2, 3, rng=3), Seq2Seq(5, 7, 2, 3, rng=3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_errors_name_the_model_and_both_shapes():
    model = Seq2Seq(6, 5, 2, 3, rng=0)
    name = r"Seq2Seq\(6 -> 5, embed_dim=2, hidden_size=3, attention='dot'\)"
    src, dec_in = np.array([[1, 4, 0], [5, 0, 0]]), np.array([[2, 4], [2, 1]])
    with pytest.raises(DTypeError, match=rf"^{name}: forward takes the source AND the decoder's "
                                         r"input.*fit and Sequential pass a single array"):
        model.forward(src)
    with pytest.raises(ShapeError, match=rf"^{name}: expected dec_in of shape \(N, T\) with "
                                         r"N = 2 like src, got \(3, 2\)\.$"):
        model.forward(src, np.zeros((3, 2), dtype=int))
    with pytest.raises(ShapeError, match=rf"^{name}: expected src_mask of shape \(N, S\) = "
                                         r"\(2, 3\) like src, got \(2, 2\)\.$"):
        model.forward(src, dec_in, np.ones((2, 2)))
    with pytest.raises(InvalidValueError, match=rf"^{name}: source sequence 1 has no real step "
                                                r"\(src_mask=None: the mask is src != 0\)"):
        model.forward(np.array([[1, 2], [0, 0]]), dec_in)
    with pytest.raises(InvalidValueError, match=r"must mark the first steps of each sequence "
                                                r".* sequence 0 has a real step at step 2"):
        model.forward(src, dec_in, np.array([[1, 0, 1], [1, 0, 0]]))
    with pytest.raises(InvalidValueError, match=rf"^{name}: dec_in must lie in 0\.\.4 "
                                                r"\(a vocabulary of 5\), got 5"):
        model.forward(src, dec_in + 3)
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        model.backward(np.zeros((2, 2, 5)))
    model.forward(src, dec_in)
    with pytest.raises(ShapeError, match=r"backward expected a gradient of shape \(2, 2, 5\)"):
        model.backward(np.zeros((2, 2, 6)))
    model.greedy_decode(src)
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        model.backward(np.zeros((2, 2, 5)))  # decoding replaced what forward kept
    with pytest.raises(InvalidValueError, match=r"^Seq2Seq: attention must be one of \('dot', "
                                                r"'additive', None\), got 'luong'"):
        Seq2Seq(6, 5, 2, 3, attention="luong")
    with pytest.raises(InvalidValueError, match=r"^Seq2Seq: eos_id 5 is not a token of a "
                                                r"vocabulary of 5"):
        Seq2Seq(6, 5, 2, 3, eos_id=5)
    with pytest.raises(InvalidValueError, match=r"no attention weights yet"):
        Seq2Seq(6, 5, 2, 3).attention_weights  # noqa: B018


def test_padding_and_vocabulary_feed_the_model():
    vocab = WordVocab(["the cat sat", "the dog ran"])
    ids, mask = pad_sequences([vocab.encode("the cat"), vocab.encode("a dog sat")])
    model = Seq2Seq(len(vocab), len(vocab), 3, 4, rng=0)
    logits = model.forward(ids, np.full((2, 1), vocab.bos_id), mask)
    assert logits.shape == (2, 1, len(vocab))
    np.testing.assert_array_equal(model.attention_weights[0, 0, 2], 0)  # a padded step


@pytest.mark.parametrize("max_norm", [1.0, None])
def test_a_train_step_is_forward_masked_loss_backward_clip_and_one_step(max_norm):
    sources, targets = make_reversal_pairs(8, min_len=2, max_len=4, seed=1)
    vocab = WordVocab(sources + targets)
    ids = ([vocab.encode(t) for t in sources], [vocab.encode(t) for t in targets])
    batch = next(seq2seq_batches(*ids, 8, bos_id=vocab.bos_id, eos_id=vocab.eos_id,
                                 shuffle=False))
    models = [Seq2Seq(len(vocab), len(vocab), 3, 4, attention="dot", rng=2) for _ in range(2)]
    opts = [Adam(m.parameters(), lr=0.1) for m in models]
    losses = [SequenceCrossEntropy() for _ in range(2)]
    got = seq2seq_train_step(models[0], batch, opts[0], losses[0], max_norm=max_norm)
    m, opt, loss = models[1], opts[1], losses[1]
    opt.zero_grad()
    want = loss(m.forward(batch.src, batch.dec_in, batch.src_mask), batch.dec_out,
                batch.dec_mask)
    m.backward(loss.backward())
    norm = clip_grad_norm(m.parameters(), max_norm) if max_norm is not None else None
    opt.step()
    assert got == want and (norm is None or norm > 0)
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
