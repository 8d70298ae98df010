"""Lesson 6's library: generated reviews, bags of words, the last real state, the classifier."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import BinaryCrossEntropy
from dlteach.optim import Adam
from dlteach.sentiment import (
    ASPECTS,
    INTENSIFIERS,
    KINDS,
    NEGATIVE,
    ORDER_DEPENDENT,
    POSITIVE,
    LSTMClassifier,
    bag_of_words,
    last_hidden_state,
    last_hidden_state_backward,
    make_reviews,
)
from dlteach.training import fit, predict
from dlteach.vocab import WordVocab, pad_sequences, tokenize


def meaning(text: str) -> int:
    """The grammar's rule, written independently of the generator: the review means what
    its LAST adjective means, flipped when "not" stands before it (or before its
    intensifier). 1 = positive."""
    words = text.split()
    t = max(i for i, w in enumerate(words) if w in POSITIVE or w in NEGATIVE)
    value = 1 if words[t] in POSITIVE else -1
    before = words[t - 1] if words[t - 1] not in INTENSIFIERS else words[t - 2]
    return int((-value if before == "not" else value) > 0)


# ---------------------------------------------------------------- the reviews


def test_reviews_are_deterministic_and_every_label_follows_the_grammar():
    a, b, c = make_reviews(600, seed=3), make_reviews(600, seed=3), make_reviews(600, seed=4)
    assert a.texts == b.texts and (a.labels == b.labels).all() and (a.kinds == b.kinds).all()
    assert a.texts != c.texts
    assert a.labels.dtype == np.int64 and a.labels.shape == (600,)
    assert [meaning(t) for t in a.texts] == a.labels.tolist()
    assert set(a.kinds) == set(KINDS)
    for kind in KINDS:  # both labels in every kind, about half each
        share = a.labels[a.kinds == kind].mean()
        assert 0.3 < share < 0.7, (kind, share)
    vocab = set(ASPECTS + POSITIVE + NEGATIVE + INTENSIFIERS) | {"the", "was", "not", "but", ","}
    assert {w for t in a.texts for w in tokenize(t)} <= vocab


def test_each_kind_has_its_shape():
    r = make_reviews(400, seed=0)
    for text, kind in zip(r.texts, r.kinds, strict=True):
        words = text.split()
        assert words[0] == "the" and words[2] == "was"
        assert ("but" in words) == (kind == "contrast")
        assert ("," in words) == (kind == "scope")
        if kind == "plain":
            assert len(words) == 4
        if kind == "intensified":
            assert len(words) == 5 and words[3] in INTENSIFIERS
        if kind == "negated":
            assert words[3] == "not"
        if kind == "contrast":  # two clauses of opposite meaning, about different aspects
            first, second = text.split(" but ")
            assert meaning(first) != meaning(second)
            assert first.split()[1] != second.split()[1]


def test_twins_have_the_same_words_and_the_opposite_label():
    r = make_reviews(500, seed=1)
    for text, label, kind, twin in zip(*r, strict=True):
        if kind in ORDER_DEPENDENT:
            assert sorted(twin.split()) == sorted(text.split()) and twin != text
            assert meaning(twin) == 1 - label
        else:
            assert twin == ""


def test_make_reviews_refuses_a_bad_n():
    with pytest.raises(InvalidValueError):
        make_reviews(0)


# ---------------------------------------------------------------- bag of words


def loop_counts(ids, V, pad_id):
    out = np.zeros((len(ids), V))
    for n, row in enumerate(ids):
        for t in row:
            if t != pad_id:
                out[n, t] += 1
    return out


@given(n=st.integers(1, 5), t=st.integers(1, 6), v=st.integers(2, 7), pad=st.integers(0, 1),
       seed=st.integers(0, 2**16))
def test_bag_of_words_counts_every_word_but_the_padding(n, t, v, pad, seed):
    ids = np.random.default_rng(seed).integers(0, v, size=(n, t))
    got = bag_of_words(ids, v, pad_id=pad)
    assert got.dtype == np.float64 and got.shape == (n, v)
    np.testing.assert_array_equal(got, loop_counts(ids, v, pad))
    assert (got[:, pad] == 0).all()
    np.testing.assert_array_equal(bag_of_words(ids.astype(np.float32), v, pad), got)


def test_a_review_and_its_twin_have_the_same_bag_of_words():
    r = make_reviews(300, seed=2)
    vocab = WordVocab(r.texts)
    order = [i for i, k in enumerate(r.kinds) if k in ORDER_DEPENDENT]
    texts = [r.texts[i] for i in order] + [r.twins[i] for i in order]
    ids, _ = pad_sequences([vocab.encode(t) for t in texts])
    bags = bag_of_words(ids, len(vocab))
    np.testing.assert_array_equal(bags[: len(order)], bags[len(order):])


def test_bag_of_words_errors():
    with pytest.raises(InvalidValueError, match=r"0\.\.4"):
        bag_of_words(np.array([[1, 5]]), 5)
    with pytest.raises(ShapeError):
        bag_of_words(np.array([1, 2]), 5)


# ---------------------------------------------------------------- the last real state


def test_last_hidden_state_picks_the_last_real_step():
    h = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    got = last_hidden_state(h, mask)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.stack([h[0, 1], h[1, 3]]))
    np.testing.assert_array_equal(last_hidden_state(h, mask.astype(bool)), got)
    g = np.ones((2, 3), dtype=np.float32)
    back = last_hidden_state_backward(g, mask)
    assert back.dtype == np.float32 and back.shape == (2, 4, 3)
    assert back.sum() == 6 and (back[0, 1] == 1).all() and (back[1, 3] == 1).all()


def test_last_hidden_state_refuses_empty_rows_and_padding_in_the_middle():
    h = np.zeros((2, 3, 1))
    with pytest.raises(InvalidValueError, match="sequence 1 has no real step"):
        last_hidden_state(h, np.array([[1, 0, 0], [0, 0, 0]]))
    with pytest.raises(InvalidValueError, match="padding must come at the end"):
        last_hidden_state(h, np.array([[1, 0, 1], [1, 1, 1]]))
    with pytest.raises(InvalidValueError, match="1/True"):
        last_hidden_state(h, np.array([[1, 2, 0], [1, 1, 1]]))
    with pytest.raises(ShapeError):
        last_hidden_state(h, np.ones((2, 4)))


@given(n=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 3), seed=st.integers(0, 999))
def test_last_hidden_state_backward_passes_gradcheck(n, t, d, seed):
    rng = np.random.default_rng(seed)
    mask = np.arange(t) < rng.integers(1, t + 1, size=n)[:, None]
    r = rng.normal(size=(n, d))

    def f(h):
        return float(np.sum(last_hidden_state(h, mask) * r)), last_hidden_state_backward(r, mask)

    report = gradcheck(f, rng.normal(size=(n, t, d)))
    assert report.passed(1e-7), str(report)


# ---------------------------------------------------------------- the classifier


@st.composite
def padded_tokens(draw):
    n, t, v = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=n)
    ids = rng.integers(1, v, size=(n, t))
    ids[np.arange(t) >= lengths[:, None]] = 0
    return ids, lengths, v, seed


@given(padded_tokens())
def test_every_parameter_of_the_classifier_passes_gradcheck_with_padding(case):
    ids, _, v, seed = case
    model = LSTMClassifier(v, 3, 4, rng=seed)
    target = np.random.default_rng(seed).integers(0, 2, size=(len(ids), 1))
    loss = BinaryCrossEntropy(from_logits=True)
    assert list(model.named_parameters()) == ["embed.W", "lstm.Wx", "lstm.Wh", "lstm.b",
                                              "head.W", "head.b"]
    for name, p in model.named_parameters().items():

        def f(value, p=p):
            saved, p.value = p.value, value
            model.zero_grad()
            try:
                value_ = loss(model.forward(ids), target)
                assert not model.backward(loss.backward()).any()
                return value_, p.grad.copy()
            finally:
                p.value = saved

        report = gradcheck(f, p.value.copy())
        assert report.passed(1e-7), f"{name}: {report}"


@given(padded_tokens())
def test_padding_changes_nothing_and_learns_nothing(case):
    ids, lengths, v, seed = case
    model = LSTMClassifier(v, 3, 4, rng=seed)
    logits = model.forward(ids)
    for n, length in enumerate(lengths):  # each review alone, unpadded
        np.testing.assert_allclose(model.forward(ids[n : n + 1, :length]), logits[n : n + 1],
                                   rtol=1e-12, atol=1e-12)
    model.zero_grad()
    model.forward(ids)
    model.backward(np.ones_like(logits))
    assert not model.embed.W.grad[0].any()  # the padding's row gets no gradient
    probs = model.step_probabilities(ids)
    real = np.arange(ids.shape[1]) < lengths[:, None]
    assert np.isnan(probs[~real]).all() and not np.isnan(probs[real]).any()
    last = probs[np.arange(len(ids)), lengths - 1]
    np.testing.assert_allclose(last, 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-12)


def test_the_classifier_follows_the_dtype_rule_and_checks_its_input():
    model = LSTMClassifier(6, 3, 4, rng=0)
    ids = np.array([[1, 2, 0], [3, 4, 5]])
    assert model.forward(ids).dtype == np.float64
    out = model.forward(ids.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (2, 1)
    assert model.step_probabilities(ids.astype(np.float32)).dtype == np.float32
    with pytest.raises(InvalidValueError, match="sequence 1 has no real step"):
        model.forward(np.array([[1, 2], [0, 0]]))
    with pytest.raises(InvalidValueError, match="padding must come at the end"):
        model.forward(np.array([[1, 0, 2]]))
    with pytest.raises(InvalidValueError, match=r"0\.\.5"):
        model.forward(np.array([[1, 6]]))
    with pytest.raises(InvalidValueError, match="pad_id"):
        LSTMClassifier(6, 3, 4, pad_id=6)
    with pytest.raises(InvalidValueError, match="before forward"):
        LSTMClassifier(6, 3, 4).backward(np.ones((1, 1)))
    assert repr(model) == "LSTMClassifier(6 words -> 3 -> LSTM 4 -> 1)"
    assert model.eval() is model and not model.lstm.training


def test_fit_trains_the_classifier_on_reviews():
    train = make_reviews(300, seed=5)
    vocab = WordVocab(train.texts)
    ids, _ = pad_sequences([vocab.encode(t) for t in train.texts])
    model = LSTMClassifier(len(vocab), 8, 8, rng=0)
    history = fit(model, ids.astype(float), train.labels[:, None],
                  loss=BinaryCrossEntropy(from_logits=True),
                  optimizer=Adam(model.parameters(), lr=1e-2), epochs=3, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert predict(model, ids.astype(float)).shape == (300, 1)
