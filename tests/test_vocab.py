"""Words as token ids: tokenize, WordVocab, pad_sequences, teacher forcing, batches, a toy task."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.vocab import (
    SPECIALS,
    WordVocab,
    make_reversal_pairs,
    pad_sequences,
    seq2seq_batches,
    teacher_forcing_targets,
    tokenize,
)

sequences = st.lists(st.lists(st.integers(4, 20), min_size=0, max_size=6), min_size=1,
                     max_size=5)


def test_tokenize_splits_words_and_punctuation():
    assert tokenize("Don't stop, Bob!") == ["don't", "stop", ",", "bob", "!"]
    assert tokenize("  a\tb\n\nc  ") == ["a", "b", "c"]
    assert tokenize("x=3.5 (ok)") == ["x", "=", "3", ".", "5", "(", "ok", ")"]
    assert tokenize("Hello World", lower=False) == ["Hello", "World"]
    assert tokenize("") == []
    with pytest.raises(DTypeError, match=r"^tokenize: expected a str, got list"):
        tokenize(["a"])


def test_word_vocab_numbers_specials_then_words_by_frequency():
    vocab = WordVocab(["the cat sat", "The dog sat.", ["the", "end"]])
    assert vocab.tokens[:4] == SPECIALS == ("<pad>", "<unk>", "<s>", "</s>")
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    # the (3), sat (2), then the words seen once, alphabetically.
    assert vocab.tokens[4:] == ("the", "sat", ".", "cat", "dog", "end")
    assert len(vocab) == 10 and "cat" in vocab and "Cat" not in vocab
    assert vocab.counts["the"] == 3
    assert repr(vocab) == "WordVocab(10 tokens: 4 specials + 6 words)"
    ids = vocab.encode("The cat ate.", add_bos=True, add_eos=True)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [2, 4, 7, 1, 6, 3])  # "ate" is unknown
    assert vocab.decode(ids) == "the cat <unk> ."
    assert vocab.decode(ids, strip=False) == "<s> the cat <unk> . </s>"
    assert vocab.decode(np.array([4, 3, 5, 0])) == "the"  # stops at </s>
    assert vocab.to_tokens([2, 5, 0, 0]) == ["sat"]
    assert vocab.decode(5) == "sat"
    np.testing.assert_array_equal(vocab.encode(["dog", "zebra"]), [8, 1])


def test_min_count_max_size_and_specials():
    texts = ["a a a b b c", "a b d"]
    assert WordVocab(texts, min_count=2).tokens[4:] == ("a", "b")
    assert WordVocab(texts, max_size=6).tokens == (*SPECIALS, "a", "b")
    assert WordVocab("one text, one vocabulary").tokens[4:6] == ("one", ",")  # a single str
    plain = WordVocab(texts, specials=("<pad>",))
    assert plain.tokens == ("<pad>", "a", "b", "c", "d") and plain.pad_id == 0
    with pytest.raises(InvalidValueError, match=r"^WordVocab\(5 tokens: 1 specials \+ 4 words\)"
                                                r"\.encode: the word 'e' \(token 1\) is not in "
                                                r"the vocabulary, and it has no '<unk>' token"):
        plain.encode("a e")
    with pytest.raises(InvalidValueError, match=r"no '<s>' token; the specials are \('<pad>',\)"):
        plain.bos_id  # noqa: B018
    assert plain.encode("b a d").tolist() == [2, 1, 4]  # no <s>/</s> needed unless asked for
    with pytest.raises(InvalidValueError, match=r"no '</s>' token"):
        plain.encode("a", add_eos=True)
    with pytest.raises(InvalidValueError, match=r"^WordVocab: specials must be distinct"):
        WordVocab(texts, specials=("<pad>", "<pad>"))
    with pytest.raises(InvalidValueError, match=r"^WordVocab: min_count must be at least 1"):
        WordVocab(texts, min_count=0)
    with pytest.raises(DTypeError, match=r"^WordVocab: expected texts\[1\] to be a text \(str\) "
                                         r"or a list of tokens \(str\), got int"):
        WordVocab(["a", 3])
    with pytest.raises(InvalidValueError, match=r"^WordVocab\(11 tokens: 4 specials \+ 7 words\)"
                                                r"\.decode: ids must lie in 0\.\.10 \(a "
                                                r"vocabulary of 11\), got 11"):
        WordVocab(["the cat sat", "a dog ran", "fast"]).decode([11])


@given(sequences, st.sampled_from([0, -1, 7]), st.one_of(st.none(), st.integers(1, 4)))
def test_pad_sequences_pads_at_the_end_with_a_mask(seqs, pad_id, max_len):
    ids, mask = pad_sequences(seqs, pad_id=pad_id, max_len=max_len)
    T = max(len(s) for s in seqs) if max_len is None else max_len
    assert ids.shape == mask.shape == (len(seqs), T)
    assert ids.dtype == np.int64 and mask.dtype == bool
    for i, s in enumerate(seqs):
        kept = s[:T]
        np.testing.assert_array_equal(ids[i, : len(kept)], kept)
        assert (ids[i, len(kept) :] == pad_id).all()
        np.testing.assert_array_equal(mask[i], np.arange(T) < len(kept))


def test_pad_sequences_inputs_and_errors():
    ids, mask = pad_sequences([np.array([5, 6, 7]), [8]])
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(pad_sequences(np.array([[1, 2], [3, 4]]))[0], [[1, 2], [3, 4]])
    with pytest.raises(DTypeError, match=r"^pad_sequences: expected seqs\[1\] to hold integer "
                                         r"token ids, got dtype float64\.$"):
        pad_sequences([[1, 2], [1.5]])
    with pytest.raises(ShapeError, match=r"^pad_sequences: expected seqs\[0\] with 1 dimension "
                                         r"\(a sequence of token ids\), got shape \(1, 2\)"):
        pad_sequences([[[1, 2]]])
    with pytest.raises(InvalidValueError, match=r"^pad_sequences: seqs is empty: no sequences"):
        pad_sequences([])
    with pytest.raises(DTypeError, match=r"^pad_sequences: expected seqs as a list of token id "
                                         r"sequences, got str"):
        pad_sequences("abc")
    with pytest.raises(DTypeError, match=r"^pad_sequences: expected pad_id to be an integer"):
        pad_sequences([[1]], pad_id=0.0)


@given(sequences)
def test_teacher_forcing_shifts_the_target_by_one(seqs):
    dec_in, dec_out, mask = teacher_forcing_targets(seqs, bos_id=2, eos_id=3)
    T = max(len(s) for s in seqs) + 1
    assert dec_in.shape == dec_out.shape == mask.shape == (len(seqs), T)
    for i, s in enumerate(seqs):
        n = len(s)
        np.testing.assert_array_equal(dec_in[i, : n + 1], [2, *s])
        np.testing.assert_array_equal(dec_out[i, : n + 1], [*s, 3])
        assert (dec_in[i, n + 1 :] == 0).all() and (dec_out[i, n + 1 :] == 0).all()
        np.testing.assert_array_equal(mask[i], np.arange(T) <= n)
    # The decoder reads at step t + 1 what it had to predict at step t.
    np.testing.assert_array_equal(dec_in[:, 1:][mask[:, 1:]], dec_out[:, :-1][mask[:, 1:]])


def test_teacher_forcing_docstring_example():
    dec_in, dec_out, mask = teacher_forcing_targets([[7, 8], [9, 9, 9]], bos_id=2, eos_id=3)
    np.testing.assert_array_equal(dec_in[0], [2, 7, 8, 0])
    np.testing.assert_array_equal(dec_out[0], [7, 8, 3, 0])
    np.testing.assert_array_equal(mask[0], [1, 1, 1, 0])
    dec_in, dec_out, mask = teacher_forcing_targets([[7, 8, 9]], bos_id=2, eos_id=3, max_len=2)
    np.testing.assert_array_equal(dec_out, [[7, 8, 3]])


def test_seq2seq_batches_cover_every_pair_once_padded_per_batch():
    rng = np.random.default_rng(0)
    sources = [rng.integers(4, 9, size=rng.integers(1, 6)) for _ in range(11)]
    targets = [s[::-1] for s in sources]
    batches = list(seq2seq_batches(sources, targets, 4, bos_id=2, eos_id=3, seed=1))
    assert [len(b.src) for b in batches] == [4, 4, 3]
    seen = []
    for b in batches:
        assert b.src.shape[1] == b.src_mask.sum(axis=1).max()  # padded to its own longest
        assert b.dec_in.shape == b.dec_out.shape == b.dec_mask.shape
        for i in range(len(b.src)):
            src = b.src[i][b.src_mask[i]]
            np.testing.assert_array_equal(b.dec_out[i][b.dec_mask[i]], [*src[::-1], 3])
            seen.append(tuple(src))
    assert sorted(seen) == sorted(tuple(s) for s in sources)
    again = list(seq2seq_batches(sources, targets, 4, bos_id=2, eos_id=3, seed=1))
    np.testing.assert_array_equal(again[0].src, batches[0].src)
    ordered = next(seq2seq_batches(sources, targets, 11, bos_id=2, eos_id=3, shuffle=False))
    np.testing.assert_array_equal(ordered.src[0][ordered.src_mask[0]], sources[0])


def test_seq2seq_batches_errors_come_at_once():
    with pytest.raises(ShapeError, match=r"^seq2seq_batches: sources and targets must hold the "
                                         r"same number of sequences, got 2 and 1\.$"):
        seq2seq_batches([[4], [5]], [[4]], 2, bos_id=2, eos_id=3)
    with pytest.raises(InvalidValueError, match=r"^seq2seq_batches: sources\[1\] is empty"):
        seq2seq_batches([[4], []], [[4], [5]], 2, bos_id=2, eos_id=3)
    with pytest.raises(DTypeError, match=r"^seq2seq_batches: expected targets\[0\] to hold "
                                         r"integer token ids"):
        seq2seq_batches([[4]], [[4.5]], 2, bos_id=2, eos_id=3)


def test_make_reversal_pairs():
    sources, targets = make_reversal_pairs(50, min_len=2, max_len=4, seed=3)
    assert len(sources) == len(targets) == 50
    for s, t in zip(sources, targets, strict=True):
        assert t.split() == s.split()[::-1] and 2 <= len(s.split()) <= 4
        assert all(w.isdigit() and len(w) == 1 for w in s.split())
    assert make_reversal_pairs(50, min_len=2, max_len=4, seed=3) == (sources, targets)
    with pytest.raises(InvalidValueError, match=r"^make_reversal_pairs: max_len must be at least "
                                                r"3, got 2"):
        make_reversal_pairs(5, min_len=3, max_len=2)
