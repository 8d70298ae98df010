"""Optimizers: how a gradient becomes a step.

Each rule is written twice. First as a pure function of arrays, returning new
arrays and changing nothing, so it can be read, plotted and tested on its own
(the exercises compare your versions with these)::

    sgd_step(w, grad, lr)                          w - lr * grad
    momentum_step(w, grad, velocity, lr, momentum)  v = momentum * v - lr * grad;  w + v
    adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)

Then as a class (``SGD``, ``Adam``) that keeps the per-parameter state (velocity,
moments, step count) and applies the pure function to every parameter of a
model. The class writes the new values into ``p.value`` in place (the optimizer
owns the model's parameters) and never touches ``p.grad``, except in
``zero_grad``::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad(); model.backward(loss.backward()); opt.step()

Huge gradients never make NumPy warn. A new weight beyond the dtype's range is +-inf,
the rounding of the true value. Adam squares its gradients, which passes float64's range
from |grad| ~ 1.3e154 (float32's from ~1.8e19): its step is then computed from scaled
quantities, so it is still about lr in the right direction, as the formula says; the
running mean v itself becomes inf, so the next ``Adam.step`` raises NonFiniteError
(that weight's step size can no longer be measured). ``clip_grad_norm`` measures the
global norm without squaring huge numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.errors import DTypeError, InvalidValueError, NonFiniteError, ShapeError
from dlteach.numerics import FloatRange
from dlteach.validation import check_array, check_positive, check_positive_int

# --- checks -------------------------------------------------------------------------------


def _check_fraction(value: object, *, owner: str, name: str) -> float:
    """A number in [0, 1): momentum and Adam's betas (1 would never forget anything)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DTypeError(f"{owner}: expected {name} to be a number, got {type(value).__name__}.")
    if not 0 <= value < 1:
        raise InvalidValueError(f"{owner}: {name} must lie in [0, 1), got {value}.")
    return float(value)


def _check_like(w: np.ndarray, other: object, *, owner: str, name: str) -> np.ndarray:
    arr = check_array(other, owner=owner, name=name, allow_empty=True)
    if arr.shape != w.shape:
        raise ShapeError(
            f"{owner}: expected {name} of the same shape as w {tuple(w.shape)}, "
            f"got {tuple(arr.shape)}."
        )
    return arr


def _check_w(w: object, owner: str) -> np.ndarray:
    return check_array(w, owner=owner, name="w", allow_empty=True)


def _check_params(params: object, owner: str) -> list[Parameter]:
    """params as a list of distinct Parameter objects, or a message saying what to pass."""
    hint = "Pass model.parameters()."
    if isinstance(params, Layer):
        raise DTypeError(
            f"{owner}: expected a list of Parameter objects, got the layer {params!r}. {hint}"
        )
    if isinstance(params, Parameter | np.ndarray) or not isinstance(params, Iterable):
        raise DTypeError(
            f"{owner}: expected a list of Parameter objects, got {type(params).__name__}. {hint}"
        )
    out = list(params)
    if not out:
        raise InvalidValueError(
            f"{owner}: the parameter list is empty, so there is nothing to train. {hint}"
        )
    seen: set[int] = set()
    for i, p in enumerate(out):
        if not isinstance(p, Parameter):
            raise DTypeError(
                f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter. {hint}"
            )
        if id(p) in seen:
            raise InvalidValueError(
                f"{owner}: params[{i}] ({p!r}) appears twice in the list; it would be "
                f"updated twice per step."
            )
        seen.add(id(p))
    return out


# --- pure update rules --------------------------------------------------------------------


def sgd_step(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    """Plain gradient descent: w_new = w - lr * grad.

    w, grad: the same shape (any)  ->  w_new: that shape, w's dtype. Nothing is modified.
    """
    w = _check_w(w, "sgd_step")
    grad = _check_like(w, grad, owner="sgd_step", name="grad")
    lr = check_positive(lr, owner="sgd_step", name="lr")
    with FloatRange("sgd_step", "step") as fr:  # beyond the dtype's range: +-inf
        w_new = (w - lr * grad).astype(w.dtype, copy=False)
    fr.check(w_new, inputs=(w, grad))
    return w_new


def momentum_step(
    w: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient descent with momentum (the "heavy ball"):

        v_new = momentum * v - lr * grad
        w_new = w + v_new

    The velocity already includes the learning rate and points downhill (this is the
    convention of CS231n; PyTorch keeps v = momentum * v + grad and steps w - lr * v,
    which is the same when lr is constant). Start with velocity = zeros_like(w);
    momentum = 0 gives plain SGD.

    w, grad, velocity: the same shape  ->  (w_new, v_new), same shape, w's dtype.
    """
    w = _check_w(w, "momentum_step")
    grad = _check_like(w, grad, owner="momentum_step", name="grad")
    velocity = _check_like(w, velocity, owner="momentum_step", name="velocity")
    lr = check_positive(lr, owner="momentum_step", name="lr")
    momentum = _check_fraction(momentum, owner="momentum_step", name="momentum")
    with FloatRange("momentum_step", "step") as fr:  # beyond the dtype's range: +-inf
        v_new = (momentum * velocity - lr * grad).astype(w.dtype, copy=False)
        w_new = w + v_new
    fr.check(w_new, v_new, inputs=(w, grad, velocity))
    return w_new, v_new


def adam_step(
    w: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam step (Kingma & Ba, 2015), for step number t = 1, 2, 3, ...:

        m_new = beta1 * m + (1 - beta1) * grad          running mean of gradients
        v_new = beta2 * v + (1 - beta2) * grad^2        running mean of squared gradients
        m_hat = m_new / (1 - beta1^t)                   bias correction: m and v start at 0
        v_hat = v_new / (1 - beta2^t)
        w_new = w - lr * m_hat / (sqrt(v_hat) + eps)

    Each weight gets its own step size; the first step moves every weight by about
    lr (m_hat / sqrt(v_hat) = grad / |grad|). Start with m = v = zeros_like(w), t = 1.

    w, grad, m, v: the same shape  ->  (w_new, m_new, v_new), same shape, w's dtype.

    Huge gradients: when grad^2 passes the dtype's range (|grad| above about 1.3e154 in
    float64, 1.8e19 in float32), m_hat / sqrt(v_hat) is computed from m, v and grad
    divided by max(|grad|, sqrt(v)), so the step is still what the formula says; v_new
    is inf there, the rounding of a number that large. Fed back, a v of inf gives that
    weight a step of 0 (sqrt(inf) = inf); the :class:`Adam` class raises instead.
    """
    w_new, m_new, v_new, _ = _adam(w, grad, m, v, t, lr, beta1, beta2, eps)
    return w_new, m_new, v_new


def _adam(
    w: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
    lr: float, beta1: float, beta2: float, eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """adam_step, also saying whether v_new holds inf because grad^2 overflowed."""
    owner = "adam_step"
    w = _check_w(w, owner)
    grad = _check_like(w, grad, owner=owner, name="grad")
    m = _check_like(w, m, owner=owner, name="m")
    v = _check_like(w, v, owner=owner, name="v")
    t = check_positive_int(t, owner=owner, name="t (the step number, starting at 1)")
    lr = check_positive(lr, owner=owner, name="lr")
    beta1 = _check_fraction(beta1, owner=owner, name="beta1")
    beta2 = _check_fraction(beta2, owner=owner, name="beta2")
    eps = check_positive(eps, owner=owner, name="eps")
    overflowed = False
    with FloatRange(owner, "step") as fr:
        m_new = (beta1 * m + (1 - beta1) * grad).astype(w.dtype, copy=False)
        v_new = (beta2 * v + (1 - beta2) * grad * grad).astype(w.dtype, copy=False)
        m_hat = m_new / (1 - beta1**t)
        v_hat = v_new / (1 - beta2**t)
        w_new = (w - lr * m_hat / (np.sqrt(v_hat) + eps)).astype(w.dtype, copy=False)
        if fr.overflow:  # grad^2 passed the dtype's range: the same step, from scaled
            fr.invalid = False  # quantities (an inf / inf above is not the answer)
            overflowed = bool(np.isinf(v_new).any())
            ratio = _adam_ratio_scaled(grad, m_new, v, t, beta1, beta2, eps)
            w_new = (w - lr * ratio).astype(w.dtype, copy=False)
    fr.check(w_new, m_new, v_new, inputs=(w, grad, m, v))
    return w_new, m_new, v_new, overflowed


def _adam_ratio_scaled(
    grad: np.ndarray, m_new: np.ndarray, v: np.ndarray, t: int,
    beta1: float, beta2: float, eps: float,
) -> np.ndarray:
    """m_hat / (sqrt(v_hat) + eps), every quantity divided by s = max(|grad|, sqrt(v)).

    Then (grad / s)^2 <= 1 and v / s^2 <= 1, so nothing overflows however large grad is.
    """
    s = np.maximum(np.abs(grad), np.sqrt(v)).astype(m_new.dtype, copy=False)
    s[s == 0] = 1  # a weight with no gradient yet: any unit works
    g_s = grad / s
    v_s = beta2 * (v / s) / s + (1 - beta2) * g_s * g_s  # v_new / s^2
    m_hat_s = (m_new / s) / (1 - beta1**t)
    return m_hat_s / (np.sqrt(v_s / (1 - beta2**t)) + eps / s)


# --- optimizers ---------------------------------------------------------------------------


class Optimizer:
    """Base class: holds ``params`` (a list of Parameter) and updates them in ``step``."""

    def __init__(self, params: Iterable[Parameter]) -> None:
        self.params = _check_params(params, type(self).__name__)

    @property
    def lr(self) -> float:
        """The learning rate; assigning a new one (a schedule) is checked too."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_positive(value, owner=type(self).__name__, name="lr")

    def step(self) -> None:
        """Update every parameter's value from its current gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step")

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (backward accumulates into it)."""
        for p in self.params:
            p.zero_grad()


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (see :func:`momentum_step`).

    momentum=0: w <- w - lr * grad.  momentum in (0, 1): a velocity per parameter,
    v <- momentum * v - lr * grad, w <- w + v.
    """

    def __init__(
        self, params: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0
    ) -> None:
        super().__init__(params)
        self.lr = lr
        self.momentum = _check_fraction(momentum, owner="SGD", name="momentum")
        self.velocities = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if self.momentum == 0:
                p.value[...] = sgd_step(p.value, p.grad, self.lr)
            else:
                w, self.velocities[i] = momentum_step(
                    p.value, p.grad, self.velocities[i], self.lr, self.momentum
                )
                p.value[...] = w

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g})"


class Adam(Optimizer):
    """Adam: momentum plus a per-weight step size (see :func:`adam_step`).

    Keeps, per parameter, the running means m (of gradients) and v (of squared
    gradients), and the step count t shared by all parameters.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params)
        self.lr = lr
        self.beta1 = _check_fraction(beta1, owner="Adam", name="beta1")
        self.beta2 = _check_fraction(beta2, owner="Adam", name="beta2")
        self.eps = check_positive(eps, owner="Adam", name="eps")
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]
        self.t = 0
        self._overflowed: dict[int, int] = {}  # parameter index -> step whose v overflowed

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if i in self._overflowed:
                raise self._overflow_error(i, p)
        self.t += 1
        for i, p in enumerate(self.params):
            w, self.m[i], self.v[i], overflowed = _adam(
                p.value, p.grad, self.m[i], self.v[i], self.t,
                self.lr, self.beta1, self.beta2, self.eps,
            )  # fmt: skip
            p.value[...] = w
            if overflowed:  # this step was right; the next could not be (see adam_step)
                self._overflowed[i] = self.t

    def _overflow_error(self, i: int, p: Parameter) -> NonFiniteError:
        limit = "1.3e154 in float64" if p.value.dtype.itemsize >= 8 else "1.8e19 in float32"
        return NonFiniteError(
            f"Adam: at step {self._overflowed[i]} a gradient of params[{i}] ({p!r}) was so "
            f"large that its square passed the dtype's range (|grad| above about {limit}): the "
            "running mean of squared gradients v became inf, so Adam can no longer size "
            "that weight's steps. Clip the gradients (clip_grad_norm, or fit(..., "
            "clip_norm=1.0)) or lower the learning rate, and start a new Adam."
        )

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, beta1={self.beta1:g}, beta2={self.beta2:g}, eps={self.eps:g})"


def _norm_parts(arrays: Iterable[np.ndarray]) -> tuple[float, float]:
    """(peak, root): the L2 norm of all the arrays together is peak * root, found without
    squaring anything beyond float64's range.

    Usually peak = 1 and root = sqrt(sum of squares), summed in float64 (a float32 sum
    of squares overflows far sooner). When the squares pass float64's range (entries
    above ~1e154), everything is measured in units of the largest |entry|, peak, so no
    square exceeds 1. NaN or inf entries give a root of nan or inf.
    """
    arrays = list(arrays)
    with np.errstate(over="ignore"):
        squares = sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays)
    if math.isfinite(squares):
        return 1.0, math.sqrt(squares)
    peak = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    if not math.isfinite(peak):  # the entries themselves are not finite
        return 1.0, math.sqrt(squares)
    return peak, math.sqrt(sum(float(np.sum(np.square(a / peak, dtype=np.float64)))
                               for a in arrays))


def global_grad_norm(params: Iterable[Parameter]) -> float:
    """The global L2 norm of the parameters' gradients, sqrt(sum over p of sum(grad^2)),
    found without squaring huge numbers (inf only beyond float64's range; nan or inf when
    a gradient holds them). What :func:`clip_grad_norm` measures, without clipping."""
    peak, root = _norm_parts(p.grad for p in _check_params(params, "global_grad_norm"))
    return peak * root


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    The global norm is sqrt(sum over every parameter of sum(grad^2)). When it exceeds
    ``max_norm`` every ``p.grad`` is multiplied in place by max_norm / norm: the
    direction is kept, only the length shrinks. That in-place change is this
    function's job. Returns the norm measured *before* clipping, worth logging: it
    shows exploding gradients. Gradients holding NaN or inf are left unchanged (the norm
    is then nan or inf). Finite gradients are clipped however large: the norm is found
    without squaring huge numbers, and is inf only when it passes float64's range itself.
    """
    params = _check_params(params, "clip_grad_norm")
    max_norm = check_positive(max_norm, owner="clip_grad_norm", name="max_norm")
    peak, root = _norm_parts(p.grad for p in params)
    total = peak * root  # a Python float: inf, without a warning, beyond float64's range
    if math.isfinite(root) and total > max_norm:
        scale = (max_norm / peak) / root  # = max_norm / total, even when total is inf
        for p in params:
            p.grad *= scale
    return total
