"""Optimizers: the update rules against hand computation, convergence, state, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.core import Parameter
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.optim import (
    SGD,
    Adam,
    Optimizer,
    adam_step,
    clip_grad_norm,
    global_grad_norm,
    momentum_step,
    sgd_step,
)

# --- pure update rules ----------------------------------------------------------------------


def test_sgd_step_by_hand_and_inputs_untouched():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    w0, g0 = w.copy(), g.copy()
    np.testing.assert_allclose(sgd_step(w, g, lr=0.1), [0.95, -2.4])
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(g, g0)


def test_sgd_step_keeps_float32():
    w = np.ones(3, dtype=np.float32)
    assert sgd_step(w, np.ones(3), 0.1).dtype == np.float32


def test_momentum_step_two_steps_by_hand():
    w, v = np.array([1.0, 2.0]), np.zeros(2)
    # step 1: v = 0.9 * 0 - 0.1 * [1, -2] = [-0.1, 0.2];  w = [0.9, 2.2]
    w, v = momentum_step(w, np.array([1.0, -2.0]), v, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(v, [-0.1, 0.2])
    np.testing.assert_allclose(w, [0.9, 2.2])
    # step 2: v = 0.9 * [-0.1, 0.2] - 0.1 * [0.5, 0.5] = [-0.14, 0.13];  w = [0.76, 2.33]
    w, v = momentum_step(w, np.array([0.5, 0.5]), v, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(v, [-0.14, 0.13])
    np.testing.assert_allclose(w, [0.76, 2.33])


def test_momentum_zero_is_plain_sgd():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    w_new, _ = momentum_step(w, g, np.full(2, 7.0), lr=0.1, momentum=0.0)
    np.testing.assert_allclose(w_new, sgd_step(w, g, 0.1))


def test_adam_step_two_steps_by_hand():
    w = np.array([1.0, -2.0])
    m, v = np.zeros(2), np.zeros(2)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    # step 1, g = [0.5, -1]: m = 0.1 g = [0.05, -0.1], v = 0.001 g^2 = [0.00025, 0.001],
    # m_hat = m / 0.1 = [0.5, -1], v_hat = v / 0.001 = [0.25, 1]
    w, m, v = adam_step(w, np.array([0.5, -1.0]), m, v, 1, lr, b1, b2, eps)
    np.testing.assert_allclose(m, [0.05, -0.1])
    np.testing.assert_allclose(v, [0.00025, 0.001])
    w1 = np.array([1.0 - 0.1 * 0.5 / (0.5 + eps), -2.0 + 0.1 * 1.0 / (1.0 + eps)])
    np.testing.assert_allclose(w, w1, rtol=1e-15)
    # step 2, g = [-1, 0]: m = 0.9 m + 0.1 g = [-0.055, -0.09],
    # v = 0.999 v + 0.001 g^2 = [0.00124975, 0.000999], corrections 1 - 0.9^2 = 0.19,
    # 1 - 0.999^2 = 0.001999
    w, m, v = adam_step(w, np.array([-1.0, 0.0]), m, v, 2, lr, b1, b2, eps)
    np.testing.assert_allclose(m, [-0.055, -0.09])
    np.testing.assert_allclose(v, [0.00124975, 0.000999])
    m_hat = np.array([-0.055, -0.09]) / 0.19
    v_hat = np.array([0.00124975, 0.000999]) / 0.001999
    np.testing.assert_allclose(w, w1 - 0.1 * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-12)


@given(st.integers(0, 2**31 - 1), st.floats(1e-4, 1.0))
def test_adam_first_step_moves_each_weight_by_about_lr(seed, lr):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=10) * 10.0 ** rng.uniform(-3, 3, size=10)  # scales 1e-3 .. 1e3
    w = rng.normal(size=10)
    w_new, _, _ = adam_step(w, g, np.zeros(10), np.zeros(10), t=1, lr=lr)
    # m_hat/sqrt(v_hat) = g/|g| on step 1, so each weight moves by lr (eps shaves off a hair).
    np.testing.assert_allclose(np.abs(w_new - w), lr * np.abs(g) / (np.abs(g) + 1e-8), rtol=1e-9)
    assert np.all(np.abs(w_new - w) <= lr)
    np.testing.assert_array_equal(np.sign(w_new - w), -np.sign(g))


def test_pure_function_errors():
    w = np.zeros((2, 3))
    with pytest.raises(
        ShapeError, match=r"sgd_step: expected grad of the same shape as w \(2, 3\), got \(3, 2\)"
    ):
        sgd_step(w, np.zeros((3, 2)), 0.1)
    with pytest.raises(
        InvalidValueError, match=r"sgd_step: lr must be a positive number, got -0.1"
    ):
        sgd_step(w, w, -0.1)
    with pytest.raises(DTypeError, match=r"sgd_step: expected lr to be a number, got str"):
        sgd_step(w, w, "0.1")
    with pytest.raises(ShapeError, match=r"momentum_step: expected velocity of the same shape"):
        momentum_step(w, w, np.zeros(3), 0.1, 0.9)
    with pytest.raises(
        InvalidValueError, match=r"momentum_step: momentum must lie in \[0, 1\), got 1"
    ):
        momentum_step(w, w, w, 0.1, 1)
    with pytest.raises(
        InvalidValueError, match=r"adam_step: t \(the step number, starting at 1\) "
    ):
        adam_step(w, w, w, w, 0)
    with pytest.raises(InvalidValueError, match=r"adam_step: beta2 must lie in \[0, 1\), got 1.0"):
        adam_step(w, w, w, w, 1, beta2=1.0)
    with pytest.raises(InvalidValueError, match=r"adam_step: eps must be a positive number, got 0"):
        adam_step(w, w, w, w, 1, eps=0)
    with pytest.raises(ShapeError, match=r"adam_step: expected m of the same shape"):
        adam_step(w, w, np.zeros(6), w, 1)


# --- the classes ------------------------------------------------------------------------------

A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -1.0])


def minimize_quadratic(make_opt, steps):
    """Minimize f(w) = 1/2 w^T A w - b^T w (gradient A w - b) from w = 0."""
    p = Parameter(np.zeros(2), "w")
    opt = make_opt([p])
    for _ in range(steps):
        opt.zero_grad()
        p.grad += A @ p.value - B
        opt.step()
    return p.value


@pytest.mark.parametrize(
    "make_opt, steps, atol",
    [
        (lambda ps: SGD(ps, lr=0.1), 300, 1e-8),
        (lambda ps: SGD(ps, lr=0.05, momentum=0.9), 600, 1e-8),
        (lambda ps: Adam(ps, lr=0.05), 1000, 1e-3),
    ],
)
def test_optimizers_converge_on_a_quadratic(make_opt, steps, atol):
    w = minimize_quadratic(make_opt, steps)
    np.testing.assert_allclose(w, np.linalg.solve(A, B), atol=atol)


def test_sgd_class_applies_the_pure_functions():
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(2, 3)), rng.normal(size=(3, 2, 3))
    for momentum in (0.0, 0.8):
        p = Parameter(w0.copy())
        opt = SGD([p], lr=0.3, momentum=momentum)
        w, v = w0.copy(), np.zeros_like(w0)
        for g in grads:
            p.grad = g.copy()
            opt.step()
            w, v = momentum_step(w, g, v, 0.3, momentum)
        np.testing.assert_allclose(p.value, w, rtol=1e-15)


def test_adam_class_applies_the_pure_function():
    rng = np.random.default_rng(1)
    w0, grads = rng.normal(size=4), rng.normal(size=(3, 4))
    p = Parameter(w0.copy())
    opt = Adam([p], lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)
    w, m, v = w0.copy(), np.zeros(4), np.zeros(4)
    for t, g in enumerate(grads, start=1):
        p.grad = g.copy()
        opt.step()
        w, m, v = adam_step(w, g, m, v, t, 0.01, 0.8, 0.99, 1e-6)
    assert opt.t == 3
    np.testing.assert_allclose(p.value, w, rtol=1e-15)


@pytest.mark.parametrize("make_opt", [lambda ps: SGD(ps, momentum=0.5), lambda ps: Adam(ps)])
def test_step_updates_values_in_place_and_leaves_grads_alone(make_opt):
    layer = Dense(3, 2, rng=0, dtype=np.float32)
    layer.W.grad += 1.0
    layer.b.grad += 2.0
    values = [p.value for p in layer.parameters()]
    before = [v.copy() for v in values]
    grads = [p.grad for p in layer.parameters()]
    grads_before = [g.copy() for g in grads]
    opt = make_opt(layer.parameters())
    opt.step()
    for p, v, v0, g, g0 in zip(
        layer.parameters(), values, before, grads, grads_before, strict=True
    ):
        assert p.value is v and p.value.dtype == np.float32  # same array, changed in place
        assert not np.array_equal(p.value, v0)
        assert p.grad is g
        np.testing.assert_array_equal(p.grad, g0)
    opt.zero_grad()
    assert all(not p.grad.any() for p in layer.parameters())


def test_learning_rate_can_be_changed_and_is_checked():
    opt = SGD([Parameter(np.zeros(2))], lr=0.1)
    opt.lr = 0.01
    assert opt.lr == 0.01
    with pytest.raises(InvalidValueError, match=r"SGD: lr must be a positive number, got 0"):
        opt.lr = 0


def test_reprs():
    ps = [Parameter(np.zeros(2))]
    assert repr(SGD(ps, lr=0.1, momentum=0.9)) == "SGD(lr=0.1, momentum=0.9)"
    assert repr(Adam(ps)) == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)"


def test_optimizer_errors():
    ps = [Parameter(np.zeros(2))]
    with pytest.raises(InvalidValueError, match=r"SGD: lr must be a positive number, got -1"):
        SGD(ps, lr=-1)
    with pytest.raises(InvalidValueError, match=r"Adam: lr must be a positive number, got 0"):
        Adam(ps, lr=0)
    with pytest.raises(InvalidValueError, match=r"SGD: momentum must lie in \[0, 1\), got 1.0"):
        SGD(ps, momentum=1.0)
    with pytest.raises(InvalidValueError, match=r"SGD: momentum must lie in \[0, 1\), got -0.1"):
        SGD(ps, momentum=-0.1)
    with pytest.raises(InvalidValueError, match=r"Adam: beta1 must lie in \[0, 1\), got 1.5"):
        Adam(ps, beta1=1.5)
    with pytest.raises(InvalidValueError, match=r"Adam: beta2 must lie in \[0, 1\), got -0.5"):
        Adam(ps, beta2=-0.5)
    with pytest.raises(InvalidValueError, match=r"Adam: eps must be a positive number, got 0"):
        Adam(ps, eps=0)
    with pytest.raises(InvalidValueError, match=r"SGD: the parameter list is empty"):
        SGD([])
    with pytest.raises(DTypeError, match=r"Adam: params\[1\] is a ndarray, not a Parameter\. "):
        Adam([ps[0], np.zeros(2)])
    with pytest.raises(
        DTypeError, match=r"SGD: expected a list of Parameter objects, got the layer "
    ):
        SGD(Dense(2, 2, rng=0))
    with pytest.raises(DTypeError, match=r"SGD: expected a list of Parameter objects, got ndarray"):
        SGD(np.zeros(3))
    with pytest.raises(InvalidValueError, match=r"SGD: params\[1\] .* appears twice in the list"):
        SGD([ps[0], ps[0]])
    with pytest.raises(NotImplementedError, match="Optimizer does not implement step"):
        Optimizer(ps).step()


# --- gradient clipping ------------------------------------------------------------------------


def test_clip_grad_norm_clips_to_max_norm_and_returns_prior_norm():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((1, 1)))
    a.grad = np.array([3.0, 0.0])
    b.grad = np.array([[4.0]])
    a_grad = a.grad
    assert clip_grad_norm([a, b], max_norm=1.0) == pytest.approx(5.0)
    assert a.grad is a_grad  # scaled in place
    np.testing.assert_allclose(a.grad, [0.6, 0.0])  # direction kept: (3, 4) / 5
    np.testing.assert_allclose(b.grad, [[0.8]])
    total = np.sqrt(np.sum(a.grad**2) + np.sum(b.grad**2))
    assert total == pytest.approx(1.0)


def test_clip_grad_norm_leaves_small_gradients_alone():
    p = Parameter(np.zeros(2))
    p.grad = np.array([0.3, 0.4])
    assert clip_grad_norm([p], max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad, [0.3, 0.4])


def test_clip_grad_norm_float32_without_overflow():
    p = Parameter(np.zeros(2, dtype=np.float32))
    p.grad = np.array([3e30, 4e30], dtype=np.float32)  # squares overflow float32
    assert clip_grad_norm([p], max_norm=5.0) == pytest.approx(5e30, rel=1e-6)
    np.testing.assert_allclose(p.grad, [3.0, 4.0], rtol=1e-6)
    assert p.grad.dtype == np.float32


def test_clip_grad_norm_errors():
    with pytest.raises(InvalidValueError, match=r"clip_grad_norm: max_norm must be a positive"):
        clip_grad_norm([Parameter(np.zeros(2))], max_norm=0)
    with pytest.raises(InvalidValueError, match=r"clip_grad_norm: the parameter list is empty"):
        clip_grad_norm([], max_norm=1.0)


# --- against PyTorch, when it is installed --------------------------------------------------


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    w0, grads = rng.normal(size=(3, 2)), rng.normal(size=(6, 3, 2))
    p = Parameter(w0.copy())
    tw = torch.tensor(w0.copy(), requires_grad=True)
    if kind == "adam":
        mine, theirs = Adam([p], lr=0.05), torch.optim.Adam([tw], lr=0.05)
    else:
        momentum = 0.9 if kind == "momentum" else 0.0
        mine = SGD([p], lr=0.05, momentum=momentum)
        theirs = torch.optim.SGD([tw], lr=0.05, momentum=momentum)
    for g in grads:
        p.grad = g.copy()
        tw.grad = torch.tensor(g)
        mine.step()
        theirs.step()
    # PyTorch's momentum keeps v = m v + g and steps lr * v: the same path for a fixed lr.
    np.testing.assert_allclose(p.value, tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_global_grad_norm_is_what_clipping_measures_and_changes_nothing():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((2, 2)))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([[0.0, 4.0], [0.0, 12.0]])
    assert global_grad_norm([a, b]) == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_array_equal(b.grad, [[0.0, 4.0], [0.0, 12.0]])  # untouched
    assert clip_grad_norm([a, b], 1.0) == 13.0
    assert global_grad_norm([a, b]) == pytest.approx(1.0, rel=1e-12)  # now clipped to 1
    b.grad = np.full((2, 2), 1e200)  # squaring would overflow
    assert global_grad_norm([b]) == pytest.approx(2e200, rel=1e-15)
