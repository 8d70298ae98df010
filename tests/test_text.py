"""Text utilities: the character vocabulary, windows, streams, sampling and the corpus."""

import hashlib
import warnings

import numpy as np
import pytest

from dlteach import text as text_module
from dlteach.core import Sequential
from dlteach.embedding import Embedding
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.lstm import LSTM
from dlteach.sequence import TimeDense, tbptt_windows
from dlteach.text import (
    STDLIB_MODULES,
    CharVocab,
    sample,
    stdlib_missing,
    stdlib_text,
    text_streams,
    text_windows,
)


def test_vocab_numbers_characters_in_sorted_order_and_round_trips():
    vocab = CharVocab("hello world")
    assert vocab.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert len(vocab) == 8 and "h" in vocab and "z" not in vocab
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [3, 2, 4, 4, 5])
    assert vocab.decode(ids) == "hello"
    assert vocab.decode([0, 7]) == " w" and vocab.decode(5) == "o"
    assert vocab.encode("").shape == (0,)
    assert repr(vocab) == "CharVocab(8 characters)"
    unicode = CharVocab("héllo ✓")
    assert unicode.decode(unicode.encode("✓ hé")) == "✓ hé"


def test_unknown_characters_are_refused_or_mapped():
    vocab = CharVocab("abc")
    with pytest.raises(InvalidValueError, match=r"^CharVocab\(3 characters\)\.encode: the "
                                                r"character 'z' at position 2 is not in the "
                                                r"vocabulary \(2 different unknown characters\)"):
        vocab.encode("abzYz")
    mapped = CharVocab("abc", unknown="?")
    assert len(mapped) == 4 and mapped.unknown == "?"
    assert mapped.decode(mapped.encode("abzYz")) == "ab???"
    with pytest.raises(InvalidValueError, match=r"unknown must be a single character"):
        CharVocab("abc", unknown="??")
    with pytest.raises(InvalidValueError, match=r"the text is empty"):
        CharVocab("")
    with pytest.raises(DTypeError, match=r"expected the text as a str, got list"):
        CharVocab(["a"])


def test_decode_refuses_ids_outside_the_vocabulary():
    vocab = CharVocab("abc")
    with pytest.raises(InvalidValueError, match=r"^CharVocab\(3 characters\)\.decode: ids must "
                                                r"lie in 0\.\.2 \(a vocabulary of 3\), got 3 "
                                                r"at row 1\.$"):
        vocab.decode([0, 3])
    with pytest.raises(DTypeError, match=r"ids must be whole numbers"):
        vocab.decode([0.5])
    with pytest.raises(ShapeError, match=r"expected ids of shape \(N,\)"):
        vocab.decode([[0, 1]])


def test_text_windows_are_shifted_by_one():
    ids = np.arange(20)
    X, Y = text_windows(ids, 5)
    assert X.shape == Y.shape == (3, 5)  # (20 - 1 - 5) // 5 + 1
    np.testing.assert_array_equal(X[1], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(Y, X + 1)
    X2, Y2 = text_windows(ids, 5, step=2)
    assert X2.shape == Y2.shape == (8, 5)
    np.testing.assert_array_equal(X2[:, 0], np.arange(0, 16, 2))
    X[0, 0] = 99  # copies: ids untouched
    assert ids[0] == 0
    assert text_windows(ids, 19)[0].shape == (1, 19)
    with pytest.raises(InvalidValueError, match=r"^text_windows: a window of length 20 needs at "
                                                r"least 21 tokens .* got 20\.$"):
        text_windows(ids, 20)
    with pytest.raises(DTypeError, match=r"expected ids with an integer dtype"):
        text_windows(np.arange(20.0), 5)


def test_text_streams_continue_row_by_row():
    ids = np.arange(23)
    X, Y = text_streams(ids, 4)  # (23 - 1) // 4 = 5 steps per stream
    assert X.shape == Y.shape == (4, 5)
    np.testing.assert_array_equal(X.ravel(), np.arange(20))
    np.testing.assert_array_equal(Y, X + 1)
    # Windows of the streams: row k of a window continues row k of the previous one.
    (x0, _), (x1, _) = tbptt_windows(X, 3, Y)[:2]
    np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)
    with pytest.raises(InvalidValueError, match=r"^text_streams: 3 tokens cannot fill 4 streams"):
        text_streams(np.arange(3), 4)


def test_stdlib_text_is_english_offline_and_the_same_every_time():
    text = stdlib_text()
    assert len(text) == 200_000
    assert text == stdlib_text()
    assert text.isascii() and set(text) <= {chr(c) for c in range(32, 127)} | {"\n"}
    assert 60 <= len(set(text)) <= 96
    words = text.split()
    assert sum(w.lower() in {"the", "a", "of", "to", "and", "is"} for w in words) > 0.08 * len(
        words)
    assert stdlib_text(1000) == text[:1000]
    assert "textwrap" in STDLIB_MODULES
    with pytest.raises(InvalidValueError, match=r"^stdlib_text: this Python installation's "
                                                r"docstrings hold .* Ask for at most"):
        stdlib_text(10**9)


def test_stdlib_text_is_the_same_text_on_every_supported_python():
    # The index lists docstrings CPython 3.10-3.13 hold word for word; this digest of the
    # default corpus was measured on each of 3.10.13, 3.11.7, 3.12.1 and 3.13.0. CI runs
    # it on 3.10 and 3.11: lesson 5's stored outputs depend on this text.
    assert stdlib_missing() == []
    digest = hashlib.sha256(stdlib_text().encode()).hexdigest()
    assert digest.startswith("eee72e65e51c"), "lesson 5's corpus changed on this Python"


def test_a_reworded_docstring_is_left_out_not_an_error(monkeypatch):
    real = text_module._corpus_index()[:2]
    monkeypatch.setattr(text_module, "_corpus_index",
                        lambda: [real[0], ("textwrap", "0" * 16), real[1]])
    text_module._stdlib_docstrings.cache_clear()
    try:
        docs = text_module._module_docstrings("textwrap")
        assert text_module._stdlib_docstrings() == docs[real[0][1]] + "\n\n" + docs[real[1][1]]
        assert stdlib_missing() == ["textwrap:" + "0" * 16]
    finally:
        text_module._stdlib_docstrings.cache_clear()


def _model(v, seed=0):
    return Sequential(Embedding(v, 8, rng=seed), LSTM(8, 16, rng=seed + 1),
                      TimeDense(16, v, rng=seed + 2))


@pytest.mark.parametrize("temperature", [1e-3, 0.5, 1.0, 100.0])
def test_sampling_is_deterministic_and_valid_at_any_temperature(temperature):
    vocab = CharVocab("abcdefgh ")
    model = _model(len(vocab))
    model.layers[2].W.value *= 50  # confident scores: temperature must not overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = sample(model, vocab, "abc", 40, temperature, seed=3)
        b = sample(model, vocab, "abc", 40, temperature, seed=3)
    assert a == b and len(a) == 43 and a.startswith("abc") and set(a) <= set(vocab.chars)


def test_tiny_temperature_takes_the_most_likely_character_and_sampling_uses_the_state():
    vocab = CharVocab("abcdefgh ")
    model = _model(len(vocab))
    model.layers[2].W.value *= 100  # scores far apart compared with the temperature
    text = sample(model, vocab, "ab", 12, 1e-3, seed=0)
    assert text == sample(model, vocab, "ab", 12, 1e-3, seed=99)  # no randomness left
    # Greedy decoding by hand, re-reading the whole text each time (no state carried).
    ids = list(vocab.encode("ab"))
    for _ in range(12):
        scores = model.forward(np.array([ids]))
        ids.append(int(np.argmax(scores[0, -1])))
    assert text == vocab.decode(np.array(ids))
    # A large temperature spreads the choices over the whole vocabulary.
    wide = sample(model, vocab, "a", 400, 100.0, seed=1)
    assert len(set(wide)) == len(vocab)


def test_sampling_puts_the_model_back_as_it_was():
    vocab = CharVocab("abcd")
    model = _model(len(vocab))
    lstm = model.layers[1]
    model.forward(np.array([[0, 1, 2]]))
    cached = lstm._cache
    sample(model, vocab, "ab", 5, seed=0)
    assert model.training and not lstm.stateful and lstm._carry is None
    assert lstm._cache is not cached  # like predict: the caches are replaced
    lstm.stateful = True
    lstm.forward(np.zeros((1, 2, 8)))
    carry = lstm._carry
    model.eval()
    sample(model, vocab, "ab", 5, seed=0)
    assert not model.training and lstm.stateful and lstm._carry is carry


def test_sample_errors():
    vocab = CharVocab("abcd")
    model = _model(len(vocab))
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidValueError, match=r"^sample: temperature must be a positive "
                                                    r"number, got"):
            sample(model, vocab, "ab", 5, bad)
    with pytest.raises(DTypeError, match=r"expected temperature to be a number, got str"):
        sample(model, vocab, "ab", 5, "hot")
    with pytest.raises(InvalidValueError, match=r"start must be a non-empty str"):
        sample(model, vocab, "", 5)
    with pytest.raises(InvalidValueError, match=r"the character 'z' at position 1"):
        sample(model, vocab, "az", 5)
    with pytest.raises(ShapeError, match=r"expected the model to output scores of shape "
                                         r"\(1, T, 4\) or \(1, 4\) for a vocabulary of 4"):
        sample(_model(5), vocab, "ab", 5)
    with pytest.raises(DTypeError, match=r"expected vocab to be a CharVocab"):
        sample(model, "abcd", "ab", 5)
    assert sample(model, vocab, "ab", 0) == "ab"


def test_a_small_language_model_learns_the_corpus():
    # A hundred Adam steps on stdlib text, gradients clipped: the loss falls well below
    # log(V), the loss of a uniform guess.
    from dlteach.optim import Adam, clip_grad_norm
    from dlteach.sequence import SequenceCrossEntropy

    text = stdlib_text(6000)
    vocab = CharVocab(text)
    X, Y = text_windows(vocab.encode(text), 24)
    model = _model(len(vocab))
    loss, opt = SequenceCrossEntropy(), Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(120):
        idx = rng.integers(0, len(X), 16)
        opt.zero_grad()
        value = loss(model.forward(X[idx]), Y[idx])
        model.backward(loss.backward())
        clip_grad_norm(model.parameters(), max_norm=5.0)
        opt.step()
    assert value < 0.75 * np.log(len(vocab)), value
