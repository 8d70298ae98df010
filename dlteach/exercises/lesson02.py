"""Checks for lesson 2, backpropagation (``solutions/02_backpropagation.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, including
the edge cases that catch the usual mistakes (a batch of one example, one output unit,
non-square weights that expose a missing transpose, logits large enough to overflow
``exp``, a confident mistake whose probability rounds to 0, rows far apart that each
need their own maximum), against the library's reference, and returns a
:class:`~dlteach.checking.Verdict`. Hints point to the lesson's sections, which hold the
equations, and say what the failing case shows rather than giving the code.

The references are the library's own code: :func:`dlteach.activations.sigmoid_grad`,
:class:`dlteach.dense.Dense`, :class:`dlteach.losses.SoftmaxCrossEntropy` and
:func:`dlteach.optim.sgd_step`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.activations import sigmoid_grad
from dlteach.checking import Case, Verdict, check_with_case_hints, graded
from dlteach.dense import Dense
from dlteach.exercises import LESSON_EXERCISES
from dlteach.losses import SoftmaxCrossEntropy
from dlteach.optim import sgd_step

LESSON = "02_backpropagation"
EXERCISES = LESSON_EXERCISES[LESSON]


# ---------------------------------------------------------------- references


def _rounded(
    rng: np.random.Generator, scale: float = 1.0, size: int | tuple[int, ...] = ()
) -> np.ndarray:
    """Normal random numbers rounded to 2 decimals, so failure messages stay short."""
    return np.round(rng.normal(scale=scale, size=size), 2)


def _dense(W: np.ndarray, b: np.ndarray) -> Dense:
    """A Dense layer holding copies of W: (D_in, D_out) and b: (D_out,)."""
    layer = Dense(W.shape[0], W.shape[1], rng=0)
    layer.W.value = np.array(W, dtype=np.float64)
    layer.b.value = np.array(b, dtype=np.float64)
    return layer


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    """Reference: sigma'(z) = sigma(z) (1 - sigma(z)), elementwise; z: any shape."""
    return sigmoid_grad(z)


def _batch(
    rng: np.random.Generator, n: int, d_in: int, d_out: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (x, W, grad_y) of shapes (n, d_in), (d_in, d_out), (n, d_out)."""
    return (_rounded(rng, size=(n, d_in)), _rounded(rng, size=(d_in, d_out)),
            _rounded(rng, size=(n, d_out)))


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Reference: y = x @ W + b, computed by dlteach's Dense layer.

    x: (N, D_in), W: (D_in, D_out), b: (D_out,)  ->  y: (N, D_out).
    """
    return _dense(W, b).forward(x)


def dense_backward(
    x: np.ndarray, W: np.ndarray, grad_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: (dL/dx, dL/dW, dL/db) of y = x @ W + b, computed by dlteach's Dense layer.

    x: (N, D_in), W: (D_in, D_out), grad_y: (N, D_out) = dL/dy
    ->  dx: (N, D_in), dW: (D_in, D_out), db: (D_out,).
    """
    layer = _dense(W, np.zeros(W.shape[1]))
    layer.forward(x)
    dx = layer.backward(grad_y)
    return dx, layer.W.grad, layer.b.grad


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Reference: (loss, dL/dlogits) of the mean softmax cross-entropy.

    logits: (N, K), y: (N,) integer labels in 0..K-1  ->  (a float, an array (N, K)).
    """
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, y)
    return value, loss.backward()


# ---------------------------------------------------------------- checks


@graded
def check_sigmoid_grad(fn: Callable) -> Verdict:
    """sigmoid_grad(z) -> sigma'(z) = sigma(z) (1 - sigma(z)), elementwise, any shape."""
    rng = np.random.default_rng(3)
    cases = [
        (Case((np.array([0.0]),), label="z = 0, where the slope is largest"),
         "The slope at z = 0 is 0.25 (section 1). 0.5 is sigma(0) itself, not its slope; 0 "
         "comes from applying the formula to z instead of to sigma(z)."),
        (Case((np.array([2.0, -2.0]),), label="the curve is symmetric: same slope at +-z"),
         None),
        (Case((np.array([-4.0, -1.0, 0.5, 3.0]),), label="a few values"), None),
        (Case((_rounded(rng, scale=2.0, size=(3, 4)),), label="a 2-D array (a batch of Z1)"),
         None),
        (Case((np.array([-30.0, 30.0]),), label="large |z|: the slope vanishes"), None),
        (Case((np.array([-1000.0, 1000.0]),),
              label="|z| = 1000: e^-z overflows, yet the slope is just 0 (not nan)"),
         "At z = -1000, e^-z is inf, and a formula that divides by (1 + e^-z)^2 computes "
         "inf / inf = nan. Write the slope in terms of sigma(z) (section 1's second form): "
         "dl.sigmoid stays between 0 and 1 for any z."),
        (Case((np.array([0, 1, -3]),), label="integer z: the slope is still a fraction"),
         "The slope is a fraction even when z holds integers. A result that starts from an "
         "array made like z (zeros_like, empty_like, a copy of z) keeps z's integer type and "
         "cuts the fractions off."),
    ]
    return check_with_case_hints(
        fn,
        sigmoid_derivative,
        cases,
        exercise="sigmoid_grad",
        hint=(
            "Section 1 writes sigma'(z) in terms of sigma(z) itself: compute the sigmoid of z "
            "first, then its slope from it, elementwise. The slope is 0.25 at z = 0 and "
            "fades to 0 on both tails."
        ),
    )


@graded
def check_dense_forward(fn: Callable) -> Verdict:
    """dense_forward(x, W, b) -> x @ W + b for a batch x: (N, D_in)."""
    rng = np.random.default_rng(4)
    cases = [
        (Case((np.array([[1.0, 2.0]]), np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]),
               np.array([0.1, 0.2, 0.3])), label="one example, 2 inputs -> 3 outputs"), None),
        (Case((_rounded(rng, size=(4, 3)), _rounded(rng, size=(3, 2)), np.zeros(2)),
              label="a batch of 4, zero bias"), None),
        (Case((_rounded(rng, size=(5, 2)), _rounded(rng, size=(2, 4)), _rounded(rng, size=4)),
              label="a batch of 5, 2 inputs -> 4 outputs"), None),
        (Case((_rounded(rng, size=(3, 4)), _rounded(rng, size=(4, 1)), np.array([-0.7])),
              label="one output unit"), None),
    ]
    return check_with_case_hints(
        fn,
        dense_forward,
        cases,
        exercise="dense_forward",
        hint=(
            "Each row of x is one example, and W has shape (D_in, D_out): the product must "
            "turn (N, D_in) into (N, D_out), which fixes the order of its factors. b, of "
            "shape (D_out,), is added to every row (section 3: broadcasting, no loop)."
        ),
    )


@graded
def check_softmax_cross_entropy(fn: Callable) -> Verdict:
    """softmax_cross_entropy(logits, y) -> (mean loss, dL/dlogits)."""
    rng = np.random.default_rng(5)
    cases = [
        (Case((np.zeros((2, 3)), np.array([0, 2])),
              label="all logits equal: the loss is log K"), None),
        (Case((np.array([[2.0, -1.0], [0.5, 1.5]]), np.array([0, 1])),
              label="two classes, both predictions right"), None),
        (Case((np.array([[3.0, 0.0, -1.0]]), np.array([2])),
              label="a single example, predicted wrong"), None),
        (Case((_rounded(rng, size=(5, 4)), np.array([3, 0, 1, 1, 2])), label="a batch of 5"),
         None),
        (Case((np.array([[1000.0, 0.0], [-1000.0, 990.0]]), np.array([0, 1])),
              label="large logits (exp(1000) overflows: subtract each row's maximum first)"),
         "np.exp(1000) is inf, and inf / inf is nan. Subtract each row's maximum before "
         "taking exponentials (section 4): P does not change, and no exponent is above 0."),
        (Case((np.array([[1000.0, 0.0]]), np.array([1])),
              label="large logits, predicted WRONG (P = e^-1000 rounds to 0; the loss is 1000)"),
         "P of the right class is e^-1000, which rounds to 0, so np.log(P) gives -inf for a "
         "confident mistake. Take the log of the formula, the log-softmax of section 4, not "
         "the log of P."),
        (Case((np.array([[1000.0, 999.0], [-1000.0, -1001.0]]), np.array([1, 0])),
              label="one row near +1000, one near -1000: each row needs its own maximum"),
         "Shifting the whole batch by one number (the largest logit of all) leaves the row "
         "near -1000 with exponents below -1900, which round to 0, so its log is -inf. "
         "Subtract each row's own maximum m_i (section 4)."),
    ]
    return check_with_case_hints(
        fn,
        softmax_cross_entropy,
        cases,
        exercise="softmax_cross_entropy",
        hint=(
            "Follow section 4: the loss is the mean over the N examples of -log P of each "
            "example's right class, computed from the log-softmax; the gradient is P minus "
            "the one-hot labels, divided by N: do not forget the 1/N, the loss is a mean."
        ),
    )


@graded
def check_dense_backward(fn: Callable) -> Verdict:
    """dense_backward(x, W, grad_y) -> (dx, dW, db) for y = x @ W + b."""
    rng = np.random.default_rng(6)
    cases = [
        (Case((np.array([[1.0, 2.0]]), np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]),
               np.array([[1.0, 0.0, -1.0]])), label="one example, 2 inputs -> 3 outputs"), None),
        (Case(_batch(rng, 4, 3, 2), label="a batch of 4: db sums over the batch"),
         "W and b are shared by all N examples, so their gradients add up over the batch: "
         "sum, not mean (the 1/N is already inside grad_y)."),
        (Case(_batch(rng, 5, 2, 4), label="a batch of 5, 2 inputs -> 4 outputs"), None),
        (Case(_batch(rng, 3, 4, 1), label="one output unit"), None),
    ]
    return check_with_case_hints(
        fn,
        dense_backward,
        cases,
        exercise="dense_backward",
        hint=(
            "A gradient has the shape of what it is the gradient of (section 5): dx is "
            "(N, D_in), dW is (D_in, D_out), db is (D_out,), and only one product of x, W "
            "and grad_y (transposed or not) has each shape. W and b are shared by all N "
            "examples, so their gradients add up (sum, not mean: the 1/N is already inside "
            "grad_y)."
        ),
    )


@graded
def check_gd_step(fn: Callable) -> Verdict:
    """gd_step(w, grad, lr) -> w - lr * grad, without modifying w."""
    rng = np.random.default_rng(7)
    cases = [
        (Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), 0.1), label="two weights"), None),
        (Case((np.array([0.3]), np.array([-2.0]), 0.5),
              label="a negative gradient: the weight must grow"), None),
        (Case((_rounded(rng, size=(3, 2)), _rounded(rng, size=(3, 2)), 0.01),
              label="a weight matrix (3, 2)"), None),
        (Case((_rounded(rng, size=4), np.zeros(4), 1.0), label="zero gradient: nothing moves"),
         None),
    ]
    return check_with_case_hints(
        fn,
        sgd_step,
        cases,
        exercise="gd_step",
        hint=(
            "Step against the gradient, by lr times it (section 7): the gradient points "
            "uphill. Build a new array rather than changing w in place: the caller owns it."
        ),
    )
