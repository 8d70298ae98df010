"""Checks for lesson 7, attention (``solutions/07_attention.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
library's reference (:mod:`dlteach.masking`, :mod:`dlteach.attention`, :mod:`dlteach.lstm`)
and returns a :class:`~dlteach.checking.Verdict`. The cases catch the usual mistakes: a
row whose every position is masked (nan from 0 / 0, or weight on padding), scores of
+-1000 (e^1000 overflows), masked scores of 1e12 (adding -1e9 is not enough), the
maximum taken over masked positions, a forgotten 1 / sqrt(D) scale (D != 1, D_k != D_v),
the softmax over the wrong axis (Tq != Tk), a key mask broadcast along the wrong axis
(N = Tq, where it broadcasts silently), the previous decoder state attending instead of
the new one, and [d; c] concatenated the wrong way round. Batches of one, several seeds;
once every value is right, a second pass compares the dtypes: float32 in, float32 out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlteach.attention import scaled_dot_product_attention as _attention
from dlteach.checking import Case, Verdict, check_with_case_hints, graded, seeded_case
from dlteach.checking import normal_code as _normal
from dlteach.exercises import LESSON_EXERCISES
from dlteach.lstm import lstm_step_forward
from dlteach.masking import masked_softmax as _masked_softmax

LESSON = "07_attention"
# Every check: the values on every case, then, once they are all right, the dtypes.
_check = partial(check_with_case_hints, dtypes=True)
EXERCISES = LESSON_EXERCISES[LESSON]

# Attention goes through exp, a softmax's sum and tanh: a correct float32 answer written
# another way differs from the reference by a few float32 roundings.
_FLOAT32_TOLERANCE = {"rtol": 1e-5, "atol": 1e-7}
Array = np.ndarray


# ---------------------------------------------------------------- references


def masked_softmax(scores: Array, mask: Array) -> Array:
    """Reference: softmax along the last axis over the positions where mask is True;
    masked positions get 0, and a row with no True position is all 0. scores: any shape
    (..., T); mask: bool, scores' shape or broadcastable to it (axes of size 1)."""
    s = np.asarray(scores)
    s = s if s.dtype.kind == "f" else s.astype(np.float64)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), s.shape)
    has = m.any(axis=-1, keepdims=True)
    weights = _masked_softmax(np.where(has, s, 0), m | ~has)  # empty rows: any softmax ...
    return np.where(has, weights, 0).astype(s.dtype, copy=False)  # ... then zeros


def scaled_dot_product_attention(query: Array, keys: Array, values: Array,
                                 mask: Array | None = None) -> tuple[Array, Array]:
    """Reference: (context (N, Tq, Dv), weights (N, Tq, Tk)) of softmax(q k^T / sqrt(D))
    v, with mask (N, Tk), True on real keys (or None)."""
    return _attention(query, keys, values, mask)


def attention_decoder_step(x: Array, h_prev: Array, c_prev: Array, states: Array,
                           mask: Array, Wx: Array, Wh: Array, b: Array, Wc: Array,
                           bc: Array) -> tuple[Array, Array, Array, Array]:
    """Reference: one step of the lesson's decoder (Seq2Seq's, with dot attention):
    (h, c) = LSTM step(x, h_prev, c_prev); (context, a) = attention of h over the encoder
    states; h~ = tanh([context; h] Wc + bc). Returns (h, c, h~, a): (N, H), (N, H), (N, H),
    (N, S). x: (N, E), states: (N, S, H), mask: (N, S), Wx: (E, 4H), Wh: (H, 4H),
    b: (4H,), Wc: (2H, H), bc: (H,)."""
    h, c, _ = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    context, a = _attention(h[:, None, :], states, states, mask)
    h_tilde = np.tanh(np.concatenate([context[:, 0], h], axis=1) @ Wc + bc)
    return h, c, h_tilde, a[:, 0]


# ---------------------------------------------------------------- cases and checks


def _mask(n: int, t: int, lengths: list[int]) -> str:
    """Code for an (n, t) bool mask whose row i has lengths[i] True entries first."""
    assert len(lengths) == n
    return f"np.arange({t}) < np.array({lengths})[:, None]"


_OVERFLOW = "e^1000 is inf, and inf / inf is nan"


@graded
def check_masked_softmax(fn: Callable) -> Verdict:
    """masked_softmax(scores, mask) -> weights of scores' shape, 0 where masked."""
    cases = [
        (Case((np.array([[1.0, 2.0, 3.0, 0.5]]), np.array([[True, True, False, False]])),
              label="one row of 4 scores, the last 2 masked"),
         "Only the real positions share the weight: here the first two, so their weights "
         "add up to 1 and the masked ones are exactly 0 (not small: exactly 0). The "
         "masked scores must not enter the sum in the denominator."),
        (Case((np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]]),
               np.array([[True, True, True], [False, False, False]])),
              label="the second row is masked everywhere: all 0"),
         "The second row has no real position: nothing to attend to, so its weights are "
         "all 0, as the exercise asks. Replacing masked scores with -inf gives e^(-inf - "
         "(-inf)) = nan there; adding -1e9 gives that row a softmax of its scores. Find "
         "the rows with no real position and give them zeros."),
        (Case((np.array([[1000.0, -1000.0, 999.0], [-1000.0, -999.0, 500.0]]),
               np.array([[True, True, True], [True, True, False]])),
              label="scores of +-1000: e^1000 overflows"),
         f"The scores reach +-1000: {_OVERFLOW}, and e^-1000 rounds to 0, so 0 / 0 is nan. "
         "Subtract each row's largest REAL score before e^: no weight changes, and every "
         "exponent is <= 0."),
        (Case((np.array([[0.5, 1.0, 1e12], [2.0, 1e12, -1e12]]),
               np.array([[True, True, False], [True, False, False]])),
              label="masked scores of 1e12 and -1e12"),
         "The masked positions hold 1e12 here (padding may hold anything). Adding -1e9 to "
         "them leaves about 1e12: they would take all the weight. And a maximum taken "
         "over ALL positions (1e12) makes every real e^ underflow to 0: 0 / 0. Set the "
         "masked scores aside entirely (np.where), and take the maximum over the real ones."),
        (seeded_case(1, "scores (N, Tq, Tk) = (2, 3, 4), a key mask (2, 1, 4)",
                     scores=(2, 3, 4), mask="np.arange(4) < np.array([2, 4])[:, None, None]"),
         "The mask has an axis of size 1: the same key mask for every query of a sequence "
         "(broadcast over Tq). Each of the 2 x 3 rows is a softmax over its last axis."),
        (seeded_case(2, "float32 scores: float32 weights", "float32", scores=(3, 5),
                     mask=_mask(3, 5, [5, 1, 3])), None),
        (seeded_case(3, "8 rows of 12, random lengths", scores=_normal(8, 12, scale=3.0),
                     mask="np.arange(12) < rng.integers(1, 13, size=(8, 1))"), None),
    ]
    return _check(
        fn, masked_softmax, cases, exercise="masked_softmax",
        hint=("A softmax along the last axis over the real positions only (mask True): "
              "masked positions get exactly 0, each row's real weights add up to 1, and a "
              "row with no real position is all 0."),
        **_FLOAT32_TOLERANCE,
    )


@graded
def check_scaled_dot_product_attention(fn: Callable) -> Verdict:
    """scaled_dot_product_attention(query, keys, values, mask=None) -> (context, weights)."""
    cases = [
        (Case((np.array([[[1.0, 0.5]]]), np.array([[[1.0, 0.0], [0.0, 1.0]]]),
               np.array([[[1.0, 2.0], [4.0, -1.0]]])),
              label="one query, 2 keys, D = Dv = 2, no mask"),
         "One query (N, Tq, D) = (1, 1, 2) against 2 keys: the scores are q . k_j divided "
         "by sqrt(D) = sqrt(2), the weights their softmax over the keys, and the context "
         "the weighted mean of the values. Return (context, weights), in that order."),
        (seeded_case(11, "D = 4, Dv = 3, Tk = 3: the scale is 1 / sqrt(D), the keys' size",
                     query=(1, 1, 4), keys=(1, 3, 4), values=(1, 3, 3)),
         "Divide the scores by sqrt(D), D = 4 the size of the query and key vectors "
         "(query.shape[-1]), not by sqrt(Dv) = sqrt(3), the values' size, nor by the "
         "square root of the number of keys."),
        (seeded_case(12, "Tq = 2 queries, Tk = 5 keys: each query has its own softmax",
                     query=(1, 2, 3), keys=(1, 5, 3), values=(1, 5, 2)),
         "The scores are (N, Tq, Tk) = (1, 2, 5): each of the 2 queries spreads its weight "
         "over the 5 keys, so each query's scores are divided by their OWN sum over the "
         "keys, a sum that keeps its axis so that it lines up with the scores (1, 2, 1)."),
        (seeded_case(13, "a key mask (N, Tk) = (2, 4), with N = Tq = 2",
                     query=(2, 2, 3), keys=(2, 4, 3), values=(2, 4, 2),
                     mask=_mask(2, 4, [2, 3])),
         "mask is (N, Tk): one row per sequence, the same for all its queries. The scores "
         "are (N, Tq, Tk), so the mask needs an axis for Tq: mask[:, None, :]. Here N = Tq "
         "= 2, so a mask used as it is broadcasts without an error, but along the wrong "
         "axis (sequence n's mask on query n of every sequence)."),
        (Case((np.array([[[40.0, -40.0]], [[20.0, 10.0]]]),
               np.array([[[40.0, -10.0], [-40.0, 5.0]], [[50.0, 50.0], [-50.0, 25.0]]]),
               np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [2.0, -1.0]]]),
               np.array([[True, True], [True, False]])),
              label="scores beyond +-1000"),
         "The scores reach 2000 / sqrt(2) = 1414 here: e^1414 is inf, and inf / inf is "
         "nan. A stable softmax (the one of masked_softmax, or dl.masked_softmax) subtracts "
         "each row's largest score."),
        (seeded_case(14, "float32 inputs: a float32 context and float32 weights", "float32",
                     query=(2, 3, 2), keys=(2, 3, 2), values=(2, 3, 4),
                     mask=_mask(2, 3, [3, 1])), None),
        (seeded_case(15, "16 sequences, Tq = 6, Tk = 9, D = 8, Dv = 5, random lengths",
                     query=_normal(16, 6, 8), keys=_normal(16, 9, 8), values=_normal(16, 9, 5),
                     mask="np.arange(9) < rng.integers(1, 10, size=(16, 1))"), None),
    ]
    return _check(
        fn, scaled_dot_product_attention, cases, exercise="scaled_dot_product_attention",
        hint=("Scores q k^T / sqrt(D) of shape (N, Tq, Tk), a softmax over the keys (the "
              "last axis) that gives masked keys 0, then the weighted mean of the values: "
              "return (context (N, Tq, Dv), weights (N, Tq, Tk))."),
        **_FLOAT32_TOLERANCE,
    )


def _step_case(seed: int, label: str, n: int, s: int, e: int, h: int, lengths: list[int],
               dtype: str = "", same_halves: bool = False) -> Case:
    """A seeded decoder step: x (n, e), h_prev, c_prev (n, h), states (n, s, h), mask,
    the decoder LSTM's Wx, Wh, b, and the combining layer's Wc, bc (same_halves: Wc's
    top and bottom halves equal, so that the order of [context; h] does not matter)."""
    cast = f".astype(np.{dtype})" if dtype else ""
    wc = (f"np.tile({_normal(h, h, scale=0.5)}, (2, 1))" if same_halves
          else _normal(2 * h, h, scale=0.5))
    return seeded_case(
        seed, label, dtype,
        x=(n, e), h_prev=(n, h), c_prev=(n, h),
        states=f"np.tanh({_normal(n, s, h)}){cast}",
        mask=_mask(n, s, lengths),
        Wx=f"{_normal(e, 4 * h, scale=0.5)}{cast}", Wh=f"{_normal(h, 4 * h, scale=0.5)}{cast}",
        b=f"{_normal(4 * h, scale=0.5)}{cast}", Wc=f"{wc}{cast}",
        bc=f"{_normal(h, scale=0.1)}{cast}",
    )


@graded
def check_attention_decoder_step(fn: Callable) -> Verdict:
    """attention_decoder_step(x, h_prev, c_prev, states, mask, Wx, Wh, b, Wc, bc)
    -> (h, c, h_tilde, weights)."""
    cases = [
        (_step_case(21, "one sequence, S = 2 source steps, E = H = 2", 1, 2, 2, 2, [2],
                    same_halves=True),
         "One step: the LSTM step first (as in lesson 5: dl.lstm_step_forward gives h and "
         "c), then the NEW state h attends over the encoder states (the query is h, not "
         "h_prev: the decoder first reads its input, then looks at the source), then "
         "h~ = tanh([context; h] Wc + bc)."),
        (_step_case(22, "a batch of 3, padded sources, E = H = 3", 3, 4, 3, 3, [4, 2, 1],
                    same_halves=True),
         "Each sequence attends only over its real source steps (mask True): padded steps "
         "get weight 0. The weights are (N, S), one row per sequence."),
        (_step_case(23, "E = 3, H = 4: scores h . s_j / sqrt(H)", 2, 5, 3, 4, [5, 3],
                    same_halves=True),
         "The attention is the scaled dot product of the lesson: scores h . s_j / sqrt(H), "
         "with H = 4 the size of the states (the query and keys), not E = 3, the size of "
         "the input x."),
        (_step_case(24, "Wc's two halves differ: [context; h], in that order", 2, 3, 2, 2,
                    [3, 3]),
         "Wc is (2H, H): its first H rows multiply the context, its last H rows the "
         "decoder state h. Concatenate [context, h] along the feature axis (axis 1), in "
         "that order."),
        (_step_case(25, "float32 inputs: float32 outputs", 2, 3, 2, 3, [2, 3], dtype="float32"),
         None),
        (_step_case(26, "32 sequences, S = 12, E = 8, H = 16", 32, 12, 8, 16,
                    [12, 5, 9, 1, 12, 7, 3, 10] * 4), None),
    ]
    return _check(
        fn, attention_decoder_step, cases, exercise="attention_decoder_step",
        hint=("The LSTM step gives (h, c); h (the new state) is the query of a scaled "
              "dot-product attention over the encoder states, masked; the context and h, "
              "concatenated in that order, go through Wc, bc and tanh. Return (h, c, h~, "
              "weights (N, S))."),
        **_FLOAT32_TOLERANCE,
    )
