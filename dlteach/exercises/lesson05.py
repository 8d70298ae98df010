"""Checks for lesson 5, recurrent networks and the LSTM (``solutions/05_rnn_lstm.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
library's reference (:mod:`dlteach.recurrent`, :mod:`dlteach.lstm`, :mod:`dlteach.optim`,
:mod:`dlteach.activations`) and returns a :class:`~dlteach.checking.Verdict`. The cases
catch the usual mistakes: batches of one and of several with D != H (swapped weights, a
wrong transpose, a bias gradient not summed), LSTM gates told apart by their biases, a
cell gradient along only one of its two paths, clipping array by array, and values
extreme enough that a textbook formula gives nan where the reference stays finite
(pre-activations of 1000, gradients of 1e200, a temperature of 1e-3). A case may carry
its own hint, which names what to look at without giving the code away. Once every
value is right, a second pass compares the dtypes: float32 in, float32 out, the rule of
every dlteach layer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlteach.activations import softmax
from dlteach.checking import (
    DTYPE_HINT,
    Case,
    Verdict,
    check_with_case_hints,
    graded,
    seeded_case,
)
from dlteach.checking import normal_code as _normal
from dlteach.core import Parameter
from dlteach.exercises import LESSON_EXERCISES
from dlteach.lstm import lstm_step_backward as _lstm_step_backward
from dlteach.lstm import lstm_step_forward as _lstm_step_forward
from dlteach.optim import clip_grad_norm as _clip_grad_norm
from dlteach.recurrent import rnn_step_backward as _rnn_step_backward
from dlteach.recurrent import rnn_step_forward as _rnn_step_forward

LESSON = "05_rnn_lstm"
# Every check: the values on every case, then, once they are all right, the dtypes.
_check = partial(check_with_case_hints, dtypes=True)
EXERCISES = LESSON_EXERCISES[LESSON]

# A correct float32 LSTM step using another form of tanh or of the sigmoid was measured
# at 0.84 of the default rtol (1e-6): checks whose float32 cases go through tanh allow 1e-5.
_FLOAT32_TOLERANCE = {"rtol": 1e-5}
Array = np.ndarray


# ---------------------------------------------------------------- references


def rnn_step(x: Array, h_prev: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """Reference: h = tanh(x @ Wx + h_prev @ Wh + b): (N, H), x: (N, D), h_prev: (N, H),
    Wx: (D, H), Wh: (H, H), b: (H,)."""
    return _rnn_step_forward(x, h_prev, Wx, Wh, b)[0]


def rnn_step_backward(grad_h: Array, x: Array, h_prev: Array, h: Array, Wx: Array,
                      Wh: Array) -> tuple[Array, ...]:
    """Reference: (dx, dh_prev, dWx, dWh, db) of one RNN step whose output was h."""
    return _rnn_step_backward(grad_h, (x, h_prev, Wx, Wh, h))


def lstm_step(x: Array, h_prev: Array, c_prev: Array, Wx: Array, Wh: Array,
              b: Array) -> tuple[Array, Array]:
    """Reference: (h, c) of one LSTM step; Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate blocks
    in the order i, f, o, g."""
    h, c, _ = _lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return h, c


def lstm_cell_grad(grad_h: Array, grad_c: Array, o: Array, c: Array, f: Array) -> Array:
    """Reference: dL/dc_{t-1} = f * (grad_c + grad_h * o * (1 - tanh(c)^2)), all (N, H),
    by lstm_step_backward on a cache holding o, c and f (its other entries, zeros here,
    do not reach dc_prev)."""
    n, h = np.shape(c)
    zeros, x, Wx, Wh = np.zeros((n, h)), np.zeros((n, 1)), np.zeros((1, 4 * h)), np.zeros(
        (h, 4 * h))
    cache = (x, zeros, zeros, Wx, Wh, zeros, f, o, zeros, c)
    return _lstm_step_backward(grad_h, grad_c, cache)[2]


def clip_grad_norm(grads: list[Array], max_norm: float) -> tuple[list[Array], float]:
    """Reference: (clipped copies of grads, their global L2 norm before clipping), by
    dlteach.optim.clip_grad_norm on Parameters holding copies of the gradients."""
    params = [Parameter(g) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = np.array(g, copy=True)
    norm = _clip_grad_norm(params, max_norm)
    return [p.grad for p in params], norm


def softmax_with_temperature(scores: Array, temperature: float) -> Array:
    """Reference: softmax(scores / temperature) along the last axis; scores (V,) or (N, V)."""
    return softmax(np.asarray(scores) / temperature, axis=-1)


# ---------------------------------------------------------------- cases and dtypes


_OVERFLOW = "e^1000 is inf, and inf / inf is nan"


# ---------------------------------------------------------------- checks


@graded
def check_rnn_step(fn: Callable) -> Verdict:
    """rnn_step(x, h_prev, Wx, Wh, b) -> h = tanh(x @ Wx + h_prev @ Wh + b): (N, H)."""
    cases = [
        (Case((np.array([[0.5, -1.0, 2.0]]), np.array([[0.25, -0.5]]),
               np.array([[0.5, -0.25], [0.75, 0.5], [-0.5, 0.25]]),
               np.array([[0.5, -0.25], [1.0, 0.75]]), np.array([0.25, -0.5])),
              label="one example, D = 3 inputs, H = 2 hidden units"),
         "One example: h has shape (1, H) = (1, 2). Each weight matrix multiplies from the "
         "right, as it is given: Wx is (D, H) and goes with x, Wh is (H, H) and goes with "
         "h_prev (Wh is not symmetric: a transpose changes the values); b is added, then "
         "tanh squashes the sum."),
        (seeded_case(1, "a batch of 4, D = 3, H = 5", x=(4, 3), h_prev=(4, 5), Wx=(3, 5),
                 Wh=(5, 5), b=(5,)), None),
        (seeded_case(2, "H = 1 hidden unit: h keeps its two axes (N, 1)", x=(2, 5), h_prev=(2, 1),
                 Wx=(5, 1), Wh=(1, 1), b=(1,)),
         "With one hidden unit h is still (N, H) = (2, 1): one row per example. Nothing in "
         "the step removes an axis."),
        (Case((np.array([[1000.0, -1000.0], [-800.0, 0.5]]),
               np.array([[0.5, -0.5, 0.0], [0.0, 0.25, -0.75]]),
               np.array([[1.0, -1.0, 0.0], [0.0, 0.5, 1.0]]), np.eye(3) / 2, np.zeros(3)),
              label="pre-activations of +-1000: tanh saturates at +-1, no nan"),
         "The pre-activations reach +-1500 here, where tanh is +-1. Writing tanh with "
         f"exponentials overflows: {_OVERFLOW}. NumPy's tanh stays in [-1, 1] for any "
         "input."),
        (seeded_case(3, "float32 inputs: h is float32 too", "float32", x=(3, 2), h_prev=(3, 4),
                 Wx=(2, 4), Wh=(4, 4), b=(4,)), None),
        (seeded_case(4, "64 sequences, D = 10, H = 16, random values", x=_normal(64, 10),
                 h_prev=f"np.tanh({_normal(64, 16)})", Wx=_normal(10, 16, scale=0.3),
                 Wh=_normal(16, 16, scale=0.25), b=_normal(16, scale=0.1)), None),
    ]
    return _check(
        fn, rnn_step, cases, exercise="rnn_step",
        hint=("One step of the lesson's RNN: the new input through Wx, the previous hidden "
              "state through Wh, plus b, squashed by tanh, for every example (row) at "
              "once. h has the shape of h_prev."),
        **_FLOAT32_TOLERANCE,
    )


@graded
def check_rnn_step_backward(fn: Callable) -> Verdict:
    """rnn_step_backward(grad_h, x, h_prev, h, Wx, Wh) -> (dx, dh_prev, dWx, dWh, db)."""
    one = (np.array([[0.5, -1.0, 2.0]]), np.array([[0.25, -0.5]]), np.array([[0.5, -0.75]]),
           np.array([[0.5, -0.25], [0.75, 0.5], [-0.5, 0.25]]))
    cases = [
        (Case((np.array([[1.0, -0.5]]), *one, np.array([[0.5, -0.25], [-0.25, 1.0]])),
              label="one example, D = 3, H = 2"),
         "Go back through tanh first: the gradient of the pre-activation is grad_h times "
         "tanh's slope at this step, which you can write with h, the step's output, alone. "
         "Every other gradient comes from that one, as for a Dense layer; each has the "
         "shape of what it is the gradient of (dWx like Wx, db like b: (H,))."),
        (Case((np.array([[2.0, 1.0]]), *one, np.array([[0.5, -0.25], [1.0, 0.75]])),
              label="Wh is not symmetric: dh_prev tells Wh from its transpose"),
         "Wh is not symmetric here, so a transpose changes the values. h_prev went forward "
         "through Wh, so its gradient comes back through Wh the other way round, as a Dense "
         "layer's input gradient does through its W."),
        (seeded_case(5, "a batch of 4: the weight and bias gradients add up over the batch",
                 grad_h=(4, 2), x=(4, 3), h_prev=(4, 2), h=((4, 2), -3, 4), Wx=(3, 2),
                 Wh=(2, 2)),
         "Wx, Wh and b are shared by the 4 examples, so their gradients add up over the "
         "batch: a sum over the examples, not a mean (any 1/N is already inside grad_h)."),
        (seeded_case(9, "saturated units (h = +-1 exactly) pass no gradient", grad_h=(2, 3),
                 x=(2, 2), h_prev=(2, 3), h="np.array([[1.0, -1.0, 0.5], [-1.0, 0.0, 1.0]])",
                 Wx=(2, 3), Wh=(3, 3)), None),
        (seeded_case(6, "grad_h = 0: every gradient is 0", grad_h="np.zeros((2, 2))", x=(2, 3),
                 h_prev=(2, 2), h=((2, 2), -3, 4), Wx=(3, 2), Wh=(2, 2)), None),
        (seeded_case(7, "float32 inputs: float32 gradients", "float32", grad_h=(3, 2), x=(3, 4),
                 h_prev=(3, 2), h=((3, 2), -3, 4), Wx=(4, 2), Wh=(2, 2)), None),
        (seeded_case(8, "32 sequences, D = 10, H = 16, random values", grad_h=_normal(32, 16),
                 x=_normal(32, 10), h_prev=f"np.tanh({_normal(32, 16)})",
                 h=f"np.tanh({_normal(32, 16)})", Wx=_normal(10, 16, scale=0.3),
                 Wh=_normal(16, 16, scale=0.25)), None),
    ]
    return _check(
        fn, rnn_step_backward, cases, exercise="rnn_step_backward",
        hint=("Back through tanh first (its slope, written with h), then through the two "
              "products of the step as through a Dense layer: dx (N, D), dh_prev (N, H), "
              "dWx (D, H), dWh (H, H) and db (H,), in that order; the weight and bias "
              "gradients add up over the examples."),
    )


@graded
def check_lstm_step(fn: Callable) -> Verdict:
    """lstm_step(x, h_prev, c_prev, Wx, Wh, b) -> (h, c), gate blocks i, f, o, g."""
    cases = [
        (Case((np.zeros((1, 3)), np.zeros((1, 2)), np.array([[0.0005, -0.001]]),
               np.zeros((3, 8)), np.zeros((2, 8)),
               np.array([1.0, -2.0, 3.0, 0.5, -1.0, 2.0, 0.0004, -0.0002])),
              label="x = 0 and h_prev = 0: each gate comes from its block of b"),
         "x and h_prev are 0, so each gate's pre-activation is its block of b: H = 2 "
         "entries each, in the order i, f, o, g (the candidate g is the LAST block, after "
         "the output gate). i, f and o go through the sigmoid, g through tanh; f scales "
         "c_prev and i scales g."),
        (seeded_case(11, "c_prev = 0, a batch of 2: h shows the new cell state", x=(2, 3),
                 h_prev=(2, 2), c_prev="np.zeros((2, 2))", Wx=(3, 8), Wh=(2, 8), b=(8,)),
         "The new cell state c is far from 0 here: h is c squashed by tanh, then scaled by "
         "the output gate, so h stays between -1 and 1."),
        (seeded_case(12, "forget gate open, input gate shut: c stays close to c_prev", x=(2, 2),
                 h_prev=(2, 2), c_prev=((2, 2), -12, 13), Wx=(2, 8), Wh=(2, 8),
                 b="np.repeat([-6.0, 6.0, 0.0, 0.0], 2)"),
         "Here f is close to 1 and i close to 0, so c must stay close to c_prev (up to "
         "+-3): the forget gate scales c_prev as it is, and the input gate scales the "
         "candidate g."),
        (seeded_case(13, "a batch of 4, D = 3, H = 4: four blocks of H = 4 columns", x=(4, 3),
                 h_prev=(4, 4), c_prev=(4, 4), Wx=(3, 16), Wh=(4, 16), b=(16,)),
         "Each block is H = 4 consecutive columns of the (N, 4H) pre-activation: columns "
         "0-3 for i, 4-7 for f, 8-11 for o, 12-15 for g. Check how you cut it."),
        (Case((np.array([[1000.0, -1000.0], [-1000.0, 500.0]]), np.zeros((2, 2)),
               np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([[1.0, -1.0] * 4, [0.5, 1.0] * 4]),
               np.zeros((2, 8)), np.zeros(8)),
              label="pre-activations of +-1000: the gates saturate, no nan"),
         "The pre-activations reach +-2000: the gates are exactly 0 or 1 and g is +-1. A "
         f"sigmoid or tanh written with e^z overflows: {_OVERFLOW}. Use NumPy's tanh, and a "
         "sigmoid whose exponent is never positive (like dl.sigmoid)."),
        (seeded_case(14, "float32 inputs: float32 h and c", "float32", x=(2, 3), h_prev=(2, 2),
                 c_prev=(2, 2), Wx=(3, 8), Wh=(2, 8), b=(8,)), None),
        (seeded_case(15, "16 sequences, D = 8, H = 12, random values", x=_normal(16, 8),
                 h_prev=f"np.tanh({_normal(16, 12)})", c_prev=_normal(16, 12),
                 Wx=_normal(8, 48, scale=0.3), Wh=_normal(12, 48, scale=0.3), b=_normal(48)),
         None),
    ]
    return _check(
        fn, lstm_step, cases, exercise="lstm_step",
        hint=("One matrix product per weight gives all four gates' pre-activations, (N, 4H), "
              "in blocks of H columns: i, f, o, g. Sigmoid for the three gates, tanh for g; "
              "then the new cell state from c_prev and g, and h from the new cell state, "
              "as the lesson's equations say."),
        **_FLOAT32_TOLERANCE,
    )


@graded
def check_lstm_cell_grad(fn: Callable) -> Verdict:
    """lstm_cell_grad(grad_h, grad_c, o, c, f) -> dL/dc_{t-1}: (N, H)."""
    o, c, f = (np.array([v]) for v in ([0.5, 0.25, 0.75], [0.5, -1.0, 2.0], [0.75, 0.5, 0.25]))
    gate = ((4, 5), 1, 4)  # o and f: 0.25, 0.5 or 0.75
    cases = [
        (Case((np.array([[1.0, -2.0, 0.5]]), np.zeros((1, 3)), o, c, f),
              label="grad_c = 0: the gradient comes only through h_t"),
         "grad_c is 0 here, so all of dc_prev comes from grad_h, along c_{t-1} -> c_t -> "
         "h_t, scaled by the local slope of each link: from h_t back to c_t the output gate "
         "times tanh's slope at c_t (written with tanh(c_t), not c_t), then from c_t back to "
         "c_{t-1} the forget gate."),
        (Case((np.zeros((1, 3)), np.array([[1.0, -0.5, 2.0]]), o, c, f),
              label="grad_h = 0: the gradient comes only from step t+1"),
         "grad_h is 0 here, so the only gradient is grad_c, the one reaching c_t from step "
         "t+1: it adds to what comes through h_t, and from c_t back to c_{t-1} it is scaled "
         "by the forget gate."),
        (seeded_case(21, "both paths, a batch of 4, H = 5", grad_h=(4, 5), grad_c=(4, 5), o=gate,
                 c=((4, 5), -8, 9), f=gate), None),
        (Case((np.array([[2.0, -1.0], [0.5, 3.0]]), np.array([[1.0, 0.5], [-2.0, 0.0]]),
               np.array([[0.5, 0.75], [0.25, 1.0]]),
               np.array([[1000.0, -1000.0], [-1000.0, 0.25]]),
               np.array([[0.5, 0.25], [1.0, 0.75]])),
              label="|c| = 1000: tanh saturates and the path through h_t closes, no nan"),
         "At |c| = 1000, tanh(c) is +-1 and its slope 0: only grad_c flows back. Writing "
         f"tanh with exponentials overflows: {_OVERFLOW}. NumPy's tanh stays finite."),
        (seeded_case(24, "forget gate shut (f = 0): nothing reaches c_{t-1}", grad_h=(2, 2),
                 grad_c=(2, 2), o=((2, 2), 1, 4), c=((2, 2), -8, 9), f="np.zeros((2, 2))"), None),
        (seeded_case(22, "float32 inputs: a float32 gradient", "float32", grad_h=(3, 4),
                 grad_c=(3, 4), o=((3, 4), 1, 4), c=(3, 4), f=((3, 4), 1, 4)), None),
        (seeded_case(23, "8 sequences, H = 32, random values", grad_h=_normal(8, 32),
                 grad_c=_normal(8, 32), o=f"1 / (1 + np.exp({_normal(8, 32)}))",
                 c=_normal(8, 32, scale=2.0), f=f"1 / (1 + np.exp({_normal(8, 32)}))"), None),
    ]
    return _check(
        fn, lstm_cell_grad, cases, exercise="lstm_cell_grad",
        hint=("dc_prev gathers two paths into c_t, then goes back through the forget gate: "
              "grad_c, arriving from step t+1, and grad_h, arriving through h_t = o * "
              "tanh(c_t). Both must be there."),
        **_FLOAT32_TOLERANCE,
    )


@graded
def check_clip_grad_norm(fn: Callable) -> Verdict:
    """clip_grad_norm(grads, max_norm) -> (clipped, norm), inputs unchanged."""
    rng = np.random.default_rng(31)
    model = [rng.integers(-8, 9, size=s) / 4 for s in [(3, 8), (2, 8), (8,), (2, 3)]]
    f32 = [(rng.integers(-8, 9, size=s) / 4).astype(np.float32) for s in [(2, 4), (4,)]]
    cases = [
        (Case(([np.array([3.0, 4.0])], 1.0), label="one array of norm 5, max_norm 1"),
         "The norm of [3, 4] is 5, above max_norm = 1, so the array is scaled down to norm "
         "1, keeping its direction; the norm returned is the one measured before clipping "
         "(5). Return new arrays: grads belongs to the caller, who may still log it."),
        (Case(([np.array([0.3, -0.4])], 1.0), label="norm 0.5, below max_norm 1: unchanged"),
         "Clipping only ever shrinks: a gradient whose norm is at most max_norm is "
         "returned with its values unchanged, not stretched to max_norm."),
        (Case(([np.array([3.0, 4.0]), np.array([[0.0, 12.0], [0.0, 0.0]])], 6.5),
              label="two arrays of norms 5 and 12: one global norm, 13"),
         "The norm is ONE number for all the arrays together (every entry of every array "
         "counts once), here 13, and every array is scaled by the same factor: that keeps "
         "the direction of the whole gradient. Clipping each array by its own norm, or "
         "adding up their norms, does not."),
        (Case((model, 2), label="an LSTM's four gradient arrays, max_norm = 2 (an int)"), None),
        (Case(([np.zeros(3), np.zeros((2, 2))], 1.0),
              label="zero gradients: the norm is 0, nothing to scale"),
         "Every gradient is 0, so the norm is 0, below max_norm: return the arrays "
         "unchanged. A scaling factor max_norm / norm divides by 0 here (nan, or "
         "ZeroDivisionError): compute it only when the norm is above max_norm."),
        (Case((f32, 1.5), label="float32 gradients: clipped copies stay float32"), None),
        (Case(([np.array([3e20, -4e20], dtype=np.float32), np.array([1e20], dtype=np.float32)],
               1.0), label="float32 gradients of 1e20: their squares overflow float32"),
         "The squares of 1e20 are 1e40, beyond float32's range (about 3.4e38): a sum of "
         "squares computed in float32 is inf, and every clipped value becomes 0. The norm "
         "is one Python float: measure it in float64."),
        (Case(([np.array([3e200, -4e200]), np.array([[1e199, 0.0]])], 1.0),
              label="gradients of 1e200: even float64 squares overflow"),
         "The squares of 1e200 are beyond even float64's range (about 1.8e308), so a sum of "
         "squares is inf. Measure the norm in units of the largest |entry| (divide by it, "
         "take the norm, multiply back): no square then exceeds 1."),
    ]
    return _check(
        fn, clip_grad_norm, cases, exercise="clip_grad_norm",
        hint=("The norm is the L2 norm of all the gradients together, measured before "
              "clipping. Above max_norm, every array is scaled by the same factor so that "
              "this norm becomes max_norm; otherwise the values stay as they are. Return "
              "new arrays and leave grads unchanged."),
        dtype_hint=(DTYPE_HINT[:-1] + ", and so is a float32 array times a NumPy float64 number "
                    "(a norm computed in float64): scale by a Python float, or cast the "
                    "result to the gradient's dtype."),
    )


@graded
def check_softmax_with_temperature(fn: Callable) -> Verdict:
    """softmax_with_temperature(scores, temperature) -> probabilities along the last axis."""
    cases = [
        (Case((np.array([1.0, 2.0, 3.0]), 1.0), label="temperature 1: the plain softmax"),
         "At temperature 1 the result is the softmax of the scores: one probability per "
         "score, positive, adding up to 1, in an array of the shape of scores."),
        (Case((np.array([1.0, 2.0, 3.0]), 0.5),
              label="temperature 0.5 sharpens: the largest score gains"),
         "The scores are divided by the temperature before the softmax: a temperature below "
         "1 widens the gaps between scores, so the most likely entry gains probability."),
        (seeded_case(41, "a batch of 3 rows (N, V): each row is a distribution",
                 scores=((3, 4), -8, 9), temperature="0.75"),
         "scores (N, V) holds N distributions, one per row: each row adds up to 1 on its "
         "own (along the last axis), with its own largest score."),
        (Case((np.array([9.5, 10.0, 3.25, -2.0]), 1e-3),
              label="temperature 1e-3, scores near 10: e^10000 overflows"),
         "At temperature 1e-3, scores near 10 become 10000, and e^10000 is inf: inf / inf "
         "is nan. As for the softmax of lesson 2, subtract the largest score first: that "
         "changes no probability and keeps every exponent <= 0."),
        (Case((np.array([10.0, 3.0, 10.0]), 1e-3),
              label="two tied top scores at temperature 1e-3: they share"),
         "Two scores tie for the top: however small the temperature, they keep equal "
         "probabilities, 0.5 each. A shortcut that puts all of it on one argmax gives 1 "
         "and 0; the formula, computed stably, does not."),
        (Case((np.array([[10.0, 9.75, 9.0], [-10.0, -9.5, -9.75]]), 0.01),
              label="rows far apart at temperature 0.01: each row needs its own maximum"),
         "Shifting the whole batch by one number (the largest of all) leaves the second "
         "row's exponents near -2000: e^-2000 rounds to 0, and 0 / 0 is nan. Subtract each "
         "row's own maximum."),
        (Case((np.array([1.0, 5.0, -3.0, 2.0]), 1e4), label="temperature 1e4: almost uniform"),
         "A large temperature shrinks the gaps between scores towards 0, so the "
         "probabilities tend to uniform, 1/V each."),
        (Case((np.array([2, 0, 1]), 2), label="integer scores and temperature"),
         "The probabilities are fractions even when scores holds integers. An array made "
         "like scores (zeros_like, empty_like, a copy of it) keeps the integer type, and "
         "an integer array refuses an in-place division: compute new arrays."),
        (Case((np.array([[0.5, -1.25, 2.0, 0.75], [1.0, 1.5, -0.5, 0.0]], dtype=np.float32),
               0.5), label="float32 scores: float32 probabilities"), None),
        (Case((np.array([[9.5, 10.0, 3.25, -2.0], [-8.0, -8.25, -9.0, -7.75]],
                        dtype=np.float32), 1e-3),
              label="float32 scores at temperature 1e-3: float32 overflows from e^89"),
         "In float32, e^z overflows from z = 89, and a probability raised to the power "
         "1/T = 1000 rounds to 0 (0 / 0 is nan). Subtract each row's largest score, then "
         "divide by T: every exponent is then <= 0."),
        (seeded_case(42, "a character model's scores: 4 rows of 96 characters",
                 scores=_normal(4, 96, scale=3.0), temperature="0.8"), None),
    ]
    return _check(
        fn, softmax_with_temperature, cases, exercise="softmax_with_temperature",
        hint=("Divide the scores by the temperature, then take the softmax along the last "
              "axis, computed stably as in lesson 2: each row of probabilities adds up to 1."),
    )
