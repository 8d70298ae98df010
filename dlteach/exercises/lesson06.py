"""Checks for lesson 6, language and sentiment (``solutions/06_language.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
library's reference (:mod:`dlteach.vocab`, :mod:`dlteach.sentiment`,
:mod:`dlteach.embedding`) and returns a :class:`~dlteach.checking.Verdict`. The cases
catch the usual mistakes: padding at the wrong end or with 0 instead of ``pad_id``, a
length taken from the first sequence, an empty sequence; word presence instead of word
counts, the padding counted, a vocabulary sized by the largest id seen; an embedding
gradient written ``dW[ids] += g``, which keeps one of several repeated ids; the state
at the last step of the padded array instead of each sequence's last real step. A case
may carry its own hint, which names what to look at without giving the code away. Once
every value is right, a second pass compares the dtypes: int64 ids and a bool mask,
float64 counts, and float32 in, float32 out for the gradients and states.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlteach.checking import (
    DTYPE_HINT,
    Case,
    Verdict,
    check_with_case_hints,
    graded,
    seeded_case,
)
from dlteach.embedding import Embedding
from dlteach.exercises import LESSON_EXERCISES
from dlteach.sentiment import bag_of_words as _bag_of_words
from dlteach.sentiment import last_hidden_state as _last_hidden_state
from dlteach.vocab import pad_sequences

LESSON = "06_language"
# Every check: the values on every case, then, once they are all right, the dtypes.
_check = partial(check_with_case_hints, dtypes=True)
EXERCISES = LESSON_EXERCISES[LESSON]
Array = np.ndarray


# ---------------------------------------------------------------- references


def pad_with_mask(seqs: list, pad_id: int) -> tuple[Array, Array]:
    """Reference: (ids (N, T) int64, mask (N, T) bool), padded at the end with pad_id to the
    longest length T; mask True on real steps (dlteach.vocab.pad_sequences)."""
    return pad_sequences(seqs, pad_id=pad_id)


def bag_of_words(ids: Array, vocab_size: int, pad_id: int) -> Array:
    """Reference: (N, V) float64 word counts of padded ids (N, T), padding not counted."""
    return _bag_of_words(ids, vocab_size, pad_id=pad_id)


def embedding_backward(ids: Array, grad_y: Array, vocab_size: int) -> Array:
    """Reference: dL/dW (V, D) in grad_y's dtype, for y = W[ids]: ids (N, T) or (N,),
    grad_y (N, T, D) or (N, D), by dlteach's Embedding layer."""
    grad_y = np.asarray(grad_y)
    layer = Embedding(vocab_size, grad_y.shape[-1], rng=0, dtype=grad_y.dtype)
    layer.forward(ids)
    layer.backward(grad_y)
    return layer.W.grad


def last_hidden_state(h: Array, mask: Array) -> Array:
    """Reference: (N, H), row n = h[n, t_n] with t_n the last True step of mask[n]."""
    return _last_hidden_state(h, mask)


def _lengths_mask(n: int, t: int) -> str:
    """Code for a (n, t) mask padded at the end, lengths 1..t drawn from ``rng``."""
    return f"np.arange({t}) < rng.integers(1, {t + 1}, size={n})[:, None]"


# ---------------------------------------------------------------- checks


def _pad_with_mask_cases() -> list[tuple[Case, str | None]]:
    """The cases of check_pad_with_mask, each with its own hint (or None)."""
    cases = [
        (Case(([[5, 2, 7], [3, 1, 6], [4, 8, 2]], 0), label="three sequences of one length"),
         "All three sequences have 3 tokens: nothing to pad. ids is the (3, 3) array of "
         "them, and the mask is True everywhere: every step is real. Return the pair "
         "(ids, mask)."),
        (Case(([[5, 2, 7], [3], [4, 4]], 0), label="lengths 3, 1, 2: padding at the end"),
         "Each row starts with its own tokens, in order, and the padding FOLLOWS them up to "
         "T = 3, the longest length: [3] becomes [3, pad, pad]. mask[n, t] is True where "
         "ids[n, t] is a real token."),
        (Case(([[1], [2, 3, 4], [5, 6]], 0), label="the longest sequence is not the first"),
         "T is the length of the LONGEST sequence, here the second one (3 tokens), "
         "whichever comes first."),
        (Case(([[4, 1], [7, 7, 7], [2]], 9), label="pad_id = 9, not 0"),
         "The padding token is pad_id, here 9: every padded step of ids holds 9. An array "
         "started with np.zeros pads with 0, another word of the vocabulary."),
        (Case(([[3, 1], [], [2]], 0), label="an empty sequence: a row of padding"),
         "The second sequence is empty: its row is all padding and its mask all False. "
         "Build the arrays from the lengths rather than from the tokens of one sequence."),
        (Case(([[7, 8, 9, 10]], 1), label="a batch of one"), None),
        (Case(([np.array([6, 2, 3], dtype=np.int32), np.array([5], dtype=np.int32)], 0),
              label="sequences given as int32 arrays"), None),
        (seeded_case(61, "32 random sequences of 1-12 tokens",
                     seqs="[list(rng.integers(1, 50, size=k)) for k in "
                          "rng.integers(1, 13, size=32)]", pad_id="0"), None),
    ]
    return cases


@graded
def check_pad_with_mask(fn: Callable) -> Verdict:
    """pad_with_mask(seqs, pad_id) -> (ids (N, T) int64, mask (N, T) bool)."""
    cases = _pad_with_mask_cases()
    return _check(
        fn, pad_with_mask, cases, exercise="pad_with_mask",
        hint=("Pad every sequence at the END with pad_id to the longest length T; the mask "
              "is True on the real steps and False on the padding. Return (ids, mask)."),
        dtype_hint=("Every value is right, but not the dtype: ids are int64 (NumPy's default "
                    "integer; np.full((N, T), pad_id) makes them; an empty list becomes a "
                    "float array, and so does what np.pad makes of it) and the mask is bool. A "
                    "mask of 0/1 integers looks the same but indexes differently: h[mask] "
                    "with integers picks rows 0 and 1, with booleans the real steps."),
    )


def _bag_of_words_cases() -> list[tuple[Case, str | None]]:
    """The cases of check_bag_of_words, each with its own hint (or None)."""
    cases = [
        (Case((np.array([[4, 2, 5], [1, 3, 0]]), 6, 0), label="two reviews, no repeated word"),
         "Row n counts the words of sequence n: counts[n, v] is how many times token v "
         "occurs in ids[n]. The result has one row per sequence and one column per word of "
         "the vocabulary: (N, V) = (2, 6). Padding (pad_id, here 0) is not a word: its "
         "column stays 0."),
        (Case((np.array([[4, 2, 4, 4], [1, 1, 5, 0]]), 6, 0),
              label="repeated words: 4 three times, 1 twice"),
         "Token 4 occurs three times in the first row, so counts[0, 4] is 3: a COUNT, not "
         "1 for present. counts[rows, ids] += 1 with fancy indexing adds only once for an "
         "index that repeats; np.add.at (or np.bincount) adds every occurrence."),
        (Case((np.array([[2, 3, 3, 3], [6, 1, 3, 3]]), 7, 3), label="pad_id = 3, not 0"),
         "The padding here is token 3: it is not counted, so column 3 stays 0, while token "
         "0 would be an ordinary word. Leave out the steps where ids == pad_id."),
        (Case((np.array([[1, 2, 0], [0, 0, 0]]), 10, 0),
              label="a vocabulary of 10 words, ids up to 2; an empty review"),
         "The vocabulary has vocab_size = 10 words, whatever ids happen to occur: the "
         "result is (N, 10), with zeros for the words not seen. A review that is all "
         "padding has a row of zeros."),
        (Case((np.array([[3]]), 4, 0), label="a batch of one review of one word"), None),
        (seeded_case(62, "64 reviews of 20 steps, a vocabulary of 50",
                     ids="rng.integers(0, 50, size=(64, 20))", vocab_size="50", pad_id="0"),
         None),
    ]
    return cases


@graded
def check_bag_of_words(fn: Callable) -> Verdict:
    """bag_of_words(ids, vocab_size, pad_id) -> (N, V) float64 counts."""
    cases = _bag_of_words_cases()
    return _check(
        fn, bag_of_words, cases, exercise="bag_of_words",
        hint=("counts[n, v] = how many times token v occurs in row n of ids, the padding "
              "(pad_id) left out; (N, V) floats."),
        dtype_hint=("Every value is right, but not the dtype: the counts are float64, the "
                    "input of a Dense layer (which refuses integers). np.bincount gives "
                    "integers: convert them with .astype(np.float64)."),
    )


def _embedding_backward_cases() -> list[tuple[Case, str | None]]:
    """The cases of check_embedding_backward, each with its own hint (or None)."""
    cases = [
        (Case((np.array([[1, 3]]), np.array([[[0.5, -1.0], [2.0, 0.25]]]), 4),
              label="two different tokens: rows 1 and 3 get their gradients"),
         "y[n, t] = W[ids[n, t]], so the gradient of step (n, t), grad_y[n, t], goes to row "
         "ids[n, t] of dW, and rows no step looked up stay 0. dW has W's shape (V, D) = "
         "(4, 2)."),
        (Case((np.array([[2, 2, 0]]), np.array([[[1.0, 0.5], [0.25, -2.0], [3.0, 1.0]]]), 3),
              label="token 2 twice: its row gets the SUM of both gradients"),
         "Token 2 is looked up twice, so row 2 of W influences the loss twice and "
         "dW[2] = grad_y[0, 0] + grad_y[0, 1]. dW[ids] += grad_y with fancy indexing adds "
         "only one of them for a repeated index: use np.add.at(dW, ids, grad_y)."),
        (seeded_case(63, "3 reviews sharing tokens: repeats across the batch",
                     ids="rng.integers(0, 4, size=(3, 4))", grad_y=(3, 4, 2),
                     vocab_size="4"),
         "The same token appears in several reviews: every appearance adds its gradient to "
         "the token's row, across the whole batch."),
        (Case((np.array([3, 0, 3]), np.array([[0.5, 1.0, -1.5], [2.0, 0.0, 1.0],
                                             [0.25, 0.5, 0.75]]), 4),
              label="ids (N,) and grad_y (N, D): one token per example"),
         "Here ids is (N,) and grad_y (N, D): one token per example, no time axis. Handle "
         "any shape, e.g. with ids.reshape(-1) and grad_y.reshape(-1, D)."),
        (Case((np.array([[1, 2]]), np.array([[[1.0], [-2.0]]]), 8),
              label="a vocabulary of 8, ids up to 2, D = 1"),
         "dW has the shape of the whole table W, (vocab_size, D) = (8, 1), not sized by the "
         "largest id in this batch; D = 1 keeps its axis."),
        (seeded_case(64, "float32 gradients: a float32 dW", "float32",
                     ids="rng.integers(0, 5, size=(2, 3))", grad_y=(2, 3, 4),
                     vocab_size="5"), None),
        (seeded_case(65, "16 reviews of 12 steps, a vocabulary of 10, D = 8",
                     ids="rng.integers(0, 10, size=(16, 12))",
                     grad_y="rng.normal(size=(16, 12, 8))", vocab_size="10"), None),
    ]
    return cases


@graded
def check_embedding_backward(fn: Callable) -> Verdict:
    """embedding_backward(ids, grad_y, vocab_size) -> dL/dW: (V, D)."""
    cases = _embedding_backward_cases()
    return _check(
        fn, embedding_backward, cases, exercise="embedding_backward",
        hint=("dW starts at zeros of shape (vocab_size, D); every step adds its gradient "
              "grad_y[n, t] to row ids[n, t], repeated tokens adding up."),
        dtype_hint=DTYPE_HINT + " Give np.zeros the dtype of grad_y.",
    )


def _last_hidden_state_cases() -> list[tuple[Case, str | None]]:
    """The cases of check_last_hidden_state, each with its own hint (or None)."""
    h = np.arange(12, dtype=np.float64).reshape(2, 3, 2) / 4
    cases = [
        (Case((h, np.array([[True, True, False], [True, False, False]])),
              label="lengths 2 and 1, padded to T = 3"),
         "Sequence 0 has 2 real steps, so its answer is h[0, 1]; sequence 1 has 1, so "
         "h[1, 0]. The last column, h[:, -1], is a state computed on padding. The result "
         "is (N, H) = (2, 2)."),
        (Case((h, np.array([[True, True, True], [True, False, False]])),
              label="one sequence without padding (length T = 3)"),
         "The first sequence fills all T = 3 steps: its last real step is t = 2, the last "
         "index. The number of real steps is a length; the last index is one less."),
        (Case((h[:1, :1], np.array([[True]])), label="a batch of one sequence of one step"),
         None),
        (seeded_case(66, "H = 1: the result keeps its two axes (N, 1)",
                     h=(3, 4, 1), mask=_lengths_mask(3, 4)),
         "With one hidden unit the result is still (N, H) = (3, 1). Nothing removes an "
         "axis."),
        (seeded_case(67, "float32 states: a float32 result", "float32",
                     h=(3, 5, 2), mask=_lengths_mask(3, 5)), None),
        (seeded_case(68, "16 sequences of up to 10 steps, H = 8",
                     h="rng.normal(size=(16, 10, 8))", mask=_lengths_mask(16, 10)), None),
    ]
    return cases


@graded
def check_last_hidden_state(fn: Callable) -> Verdict:
    """last_hidden_state(h, mask) -> (N, H): each row's state at its last real step."""
    cases = _last_hidden_state_cases()
    return _check(
        fn, last_hidden_state, cases, exercise="last_hidden_state",
        hint=("For each sequence n, find its last real step t_n (the mask is True on the "
              "first steps, then False) and return the rows h[n, t_n]: (N, H)."),
        dtype_hint=DTYPE_HINT + " Indexing h keeps its dtype; a new array needs h's dtype.",
    )
