"""Checks for lesson 2, backpropagation (``solutions/02_backpropagation.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, including
the edge cases that catch the usual mistakes (a batch of one example, one output unit,
non-square weights that expose a missing transpose, logits large enough to overflow
``exp``, a confident mistake whose probability rounds to 0), against the library's
reference, and returns a :class:`~dlteach.checking.Verdict`.

The references are the library's own code: :func:`dlteach.activations.sigmoid_grad`,
:class:`dlteach.dense.Dense`, :class:`dlteach.losses.SoftmaxCrossEntropy` and
:func:`dlteach.optim.sgd_step`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.activations import sigmoid_grad
from dlteach.checking import Case, Verdict, check_function
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


def check_sigmoid_grad(fn: Callable) -> Verdict:
    """sigmoid_grad(z) -> sigma'(z) = sigma(z) (1 - sigma(z)), elementwise, any shape."""
    rng = np.random.default_rng(3)
    cases = [
        Case((np.array([0.0]),), label="z = 0, where the slope is largest"),
        Case((np.array([2.0, -2.0]),), label="the curve is symmetric: same slope at +-z"),
        Case((np.array([-4.0, -1.0, 0.5, 3.0]),), label="a few values"),
        Case((_rounded(rng, scale=2.0, size=(3, 4)),), label="a 2-D array (a batch of Z1)"),
        Case((np.array([-30.0, 30.0]),), label="large |z|: the slope vanishes"),
    ]
    return check_function(
        fn,
        sigmoid_derivative,
        cases,
        exercise="sigmoid_grad",
        hint=(
            "sigma'(z) = sigma(z) * (1 - sigma(z)): compute s = dl.sigmoid(z) once, then "
            "return s * (1 - s). It is 0.25 at z = 0. Returning sigma(z) itself, or "
            "z * (1 - z), is the usual slip."
        ),
    )


def check_dense_forward(fn: Callable) -> Verdict:
    """dense_forward(x, W, b) -> x @ W + b for a batch x: (N, D_in)."""
    rng = np.random.default_rng(4)
    cases = [
        Case((np.array([[1.0, 2.0]]), np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]),
              np.array([0.1, 0.2, 0.3])), label="one example, 2 inputs -> 3 outputs"),
        Case((_rounded(rng, size=(4, 3)), _rounded(rng, size=(3, 2)), np.zeros(2)),
             label="a batch of 4, zero bias"),
        Case((_rounded(rng, size=(5, 2)), _rounded(rng, size=(2, 4)), _rounded(rng, size=4)),
             label="a batch of 5, 2 inputs -> 4 outputs"),
        Case((_rounded(rng, size=(3, 4)), _rounded(rng, size=(4, 1)), np.array([-0.7])),
             label="one output unit"),
    ]
    return check_function(
        fn,
        dense_forward,
        cases,
        exercise="dense_forward",
        hint=(
            "Each row of x is one example; y = x @ W + b, with W of shape (D_in, D_out). "
            "NumPy adds b (shape (D_out,)) to every row by broadcasting, so no loop is needed."
        ),
    )


def check_softmax_cross_entropy(fn: Callable) -> Verdict:
    """softmax_cross_entropy(logits, y) -> (mean loss, dL/dlogits)."""
    rng = np.random.default_rng(5)
    cases = [
        Case((np.zeros((2, 3)), np.array([0, 2])),
             label="all logits equal: the loss is log K"),
        Case((np.array([[2.0, -1.0], [0.5, 1.5]]), np.array([0, 1])),
             label="two classes, both predictions right"),
        Case((np.array([[3.0, 0.0, -1.0]]), np.array([2])),
             label="a single example, predicted wrong"),
        Case((_rounded(rng, size=(5, 4)), np.array([3, 0, 1, 1, 2])), label="a batch of 5"),
        Case((np.array([[1000.0, 0.0], [-1000.0, 990.0]]), np.array([0, 1])),
             label="large logits (exp(1000) overflows: subtract each row's maximum first)"),
        Case((np.array([[1000.0, 0.0]]), np.array([1])),
             label="large logits, predicted WRONG (P = e^-1000 rounds to 0; the loss is 1000)"),
    ]
    return check_function(
        fn,
        softmax_cross_entropy,
        cases,
        exercise="softmax_cross_entropy",
        hint=(
            "Subtract each row's max, z = logits - logits.max(axis=1, keepdims=True), then "
            "take the log-softmax, log_P = z - np.log(np.exp(z).sum(axis=1, keepdims=True)), "
            "instead of np.log(softmax(logits)), which gives log(0) = -inf for a confident "
            "mistake. The loss is the mean over the N examples of -log_P[i, y_i], e.g. "
            "-np.mean(log_P[np.arange(N), y]). The gradient is (P - Y) / N with P = "
            "np.exp(log_P) and Y the one-hot labels: do not forget the 1/N, the loss is a mean."
        ),
    )


def check_dense_backward(fn: Callable) -> Verdict:
    """dense_backward(x, W, grad_y) -> (dx, dW, db) for y = x @ W + b."""
    rng = np.random.default_rng(6)
    cases = [
        Case((np.array([[1.0, 2.0]]), np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]),
              np.array([[1.0, 0.0, -1.0]])), label="one example, 2 inputs -> 3 outputs"),
        Case(_batch(rng, 4, 3, 2), label="a batch of 4: db sums over the batch"),
        Case(_batch(rng, 5, 2, 4), label="a batch of 5, 2 inputs -> 4 outputs"),
        Case(_batch(rng, 3, 4, 1), label="one output unit"),
    ]
    return check_function(
        fn,
        dense_backward,
        cases,
        exercise="dense_backward",
        hint=(
            "Each gradient has the shape of what it is the gradient of: dx = grad_y @ W.T is "
            "(N, D_in), dW = x.T @ grad_y is (D_in, D_out), db = grad_y.sum(axis=0) is "
            "(D_out,). W and b are shared by all N examples, so their gradients add up (sum, "
            "not mean: the 1/N is already inside grad_y)."
        ),
    )


def check_gd_step(fn: Callable) -> Verdict:
    """gd_step(w, grad, lr) -> w - lr * grad, without modifying w."""
    rng = np.random.default_rng(7)
    cases = [
        Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), 0.1), label="two weights"),
        Case((np.array([0.3]), np.array([-2.0]), 0.5),
             label="a negative gradient: the weight must grow"),
        Case((_rounded(rng, size=(3, 2)), _rounded(rng, size=(3, 2)), 0.01),
             label="a weight matrix (3, 2)"),
        Case((_rounded(rng, size=4), np.zeros(4), 1.0), label="zero gradient: nothing moves"),
    ]
    return check_function(
        fn,
        sgd_step,
        cases,
        exercise="gd_step",
        hint=(
            "Step against the gradient: return w - lr * grad (minus: the gradient points "
            "uphill). Build a new array; w -= lr * grad would change the caller's w."
        ),
    )
