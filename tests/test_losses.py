"""Losses: values against hand computation, gradients, stability, and every bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import sigmoid
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import BinaryCrossEntropy, Loss, MSELoss, SoftmaxCrossEntropy

batches = st.integers(1, 8)
features = st.integers(1, 10)
seeds = st.integers(0, 2**31 - 1)


def no_float_trouble():
    """A context in which overflow, nan-producing operations and warnings raise."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


# --- MSE ----------------------------------------------------------------------------------


def test_mse_value_and_gradient_by_hand():
    loss = MSELoss()
    pred = np.array([[1.0, 2.0], [3.0, 0.0]])
    target = np.array([[0.0, 0.0], [3.0, 2.0]])
    # squared errors 1, 4, 0, 4 -> mean over the 4 elements = 9 / 4
    assert loss(pred, target) == pytest.approx(9 / 4)
    np.testing.assert_allclose(loss.backward(), 2 * (pred - target) / 4)


@given(batches, features, seeds)
def test_mse_gradcheck(n, d, seed):
    rng = np.random.default_rng(seed)
    report = gradcheck(MSELoss(), rng.normal(size=(n, d)), target=rng.normal(size=(n, d)))
    assert report.passed(1e-7), str(report)


def test_mse_accepts_integer_targets_and_keeps_float32():
    loss = MSELoss()
    pred = np.array([0.5, 1.5], dtype=np.float32)
    assert loss(pred, np.array([0, 2])) == pytest.approx(0.25)
    assert loss.backward().dtype == np.float32


def test_mse_shape_mismatch_hints():
    loss = MSELoss()
    with pytest.raises(ShapeError, match=r"Reshape the target with target.reshape\(-1, 1\)"):
        loss(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ShapeError, match=r"Flatten the target with target.ravel\(\)"):
        loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(
        ShapeError, match=r"MSELoss\(\): expected target of the same shape as pred \(4, 2\), got"
    ):
        loss(np.zeros((4, 2)), np.zeros((4, 3)))


# --- binary cross-entropy ------------------------------------------------------------------


def test_bce_value_by_hand():
    p = np.array([0.9, 0.2, 0.5])
    t = np.array([1, 0, 1])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.5)) / 3
    loss = BinaryCrossEntropy()
    assert loss(p, t) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (p - t) / (p * (1 - p) * 3), rtol=1e-12)


def test_bce_from_logits_agrees_with_probabilities_and_has_simple_gradient():
    z = np.array([[-3.0], [0.0], [2.5]])
    t = np.array([[0.0], [1.0], [1.0]])
    with_logits = BinaryCrossEntropy(from_logits=True)
    assert with_logits(z, t) == pytest.approx(BinaryCrossEntropy()(sigmoid(z), t), rel=1e-10)
    np.testing.assert_allclose(with_logits.backward(), (sigmoid(z) - t) / 3, rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
@given(n=batches, seed=seeds)
def test_bce_gradcheck(from_logits, n, seed):
    rng = np.random.default_rng(seed)
    if from_logits:
        pred = rng.normal(scale=3, size=(n, 1))
    else:
        pred = rng.uniform(0.05, 0.95, size=(n, 1))
    target = rng.uniform(0, 1, size=(n, 1))  # soft targets exercise the full formula
    report = gradcheck(BinaryCrossEntropy(from_logits=from_logits), pred, target=target)
    assert report.passed(1e-7), str(report)


def test_bce_stable_for_extreme_logits_and_probabilities():
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    t = np.array([0, 1, 1, 0])
    with no_float_trouble(), warnings.catch_warnings():
        warnings.simplefilter("error")
        logit_loss = BinaryCrossEntropy(from_logits=True)
        value = logit_loss(z, t)
        grad = logit_loss.backward()
        prob_loss = BinaryCrossEntropy()
        clipped = prob_loss(np.array([1.0, 0.0, 1.0, 0.0]), t)  # = sigmoid(z)
        prob_grad = prob_loss.backward()
    assert value == pytest.approx(2000 / 4)  # two confident mistakes by 1000 each
    np.testing.assert_allclose(grad, [0.25, -0.25, 0.0, 0.0])
    # p = 0 for t = 1 is clipped to eps = 1e-7: two large but finite losses -log(1e-7).
    assert clipped == pytest.approx(2 * -np.log(1e-7) / 4, rel=1e-6)
    assert np.all(np.isfinite(prob_grad))


def test_bce_errors():
    bce = BinaryCrossEntropy()
    with pytest.raises(
        InvalidValueError,
        match=r"BinaryCrossEntropy\(\): integer targets must be 0 or 1, got a label 2",
    ):
        bce(np.array([0.5, 0.5]), np.array([1, 2]))
    with pytest.raises(
        InvalidValueError, match=r"BinaryCrossEntropy\(\): targets must lie in \[0, 1\], got 1.5"
    ):
        bce(np.array([0.5, 0.5]), np.array([1.0, 1.5]))
    with pytest.raises(
        InvalidValueError,
        match=r"expected probabilities in \[0, 1\], got 1.3\. "
        r".*BinaryCrossEntropy\(from_logits=True\)",
    ):
        bce(np.array([0.5, 1.3]), np.array([1, 0]))
    with pytest.raises(
        InvalidValueError, match=r"BinaryCrossEntropy: eps must be smaller than 0.5, got 0.7"
    ):
        BinaryCrossEntropy(eps=0.7)
    with pytest.raises(
        InvalidValueError, match=r"BinaryCrossEntropy: eps must be a positive number, got 0"
    ):
        BinaryCrossEntropy(eps=0)


# --- softmax cross-entropy -----------------------------------------------------------------


def test_softmax_cross_entropy_by_hand():
    loss = SoftmaxCrossEntropy()
    # Equal logits: every class has probability 1/K, so the loss is log K.
    assert loss(np.zeros((3, 4)), np.array([0, 1, 3])) == pytest.approx(np.log(4))
    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    p0 = np.exp(2) / (np.exp(2) + 1)
    assert loss(logits, np.array([0, 1])) == pytest.approx((-np.log(p0) + np.log(2)) / 2)
    expected_grad = np.array([[p0 - 1, 1 - p0], [0.5, -0.5]]) / 2
    np.testing.assert_allclose(loss.backward(), expected_grad, rtol=1e-12)


@given(batches, features, seeds)
def test_labels_and_one_hot_rows_agree(n, k, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3, size=(n, k))
    labels = rng.integers(0, k, size=n)
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    assert a(logits, labels) == pytest.approx(b(logits, np.eye(k)[labels]), rel=1e-12)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-12, atol=1e-15)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(a.backward(), (p - np.eye(k)[labels]) / n, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("soft", [False, True])
@given(n=batches, k=features, seed=seeds)
def test_softmax_cross_entropy_gradcheck(soft, n, k, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2, size=(n, k))
    if soft:
        target = rng.dirichlet(np.ones(k), size=n)
    else:
        target = rng.integers(0, k, size=n)
    report = gradcheck(SoftmaxCrossEntropy(), logits, target=target)
    assert report.passed(1e-7), str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_stable_for_logits_of_1000(dtype):
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0]], dtype=dtype)
    loss = SoftmaxCrossEntropy()
    with no_float_trouble(), warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss(logits, np.array([1, 1, 0]))
        grad = loss.backward()
    # Row 0 is confidently wrong by 2000, row 1 right, row 2 a tie: (2000 + 0 + log 2) / 3.
    assert value == pytest.approx((2000 + np.log(2)) / 3, rel=1e-6)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, np.array([[1, -1], [0, 0], [-0.5, 0.5]]) / 3, atol=1e-7)


def test_softmax_cross_entropy_errors():
    sce = SoftmaxCrossEntropy()
    logits = np.zeros((3, 4))
    with pytest.raises(
        InvalidValueError,
        match=r"SoftmaxCrossEntropy\(\): labels must lie in 0\.\.3 for 4 classes, "
        r"got a label 4 at row 1\.",
    ):
        sce(logits, np.array([0, 4, 1]))
    with pytest.raises(InvalidValueError, match=r"for 4 classes, got a label -1 at row 1\."):
        sce(logits, np.array([0, -1, 1]))
    with pytest.raises(
        DTypeError, match=r"target holds class labels as floats .*target\.astype\(int\)"
    ):
        sce(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(
        ShapeError,
        match=r"SoftmaxCrossEntropy\(\): logits and target must hold the same number of examples, "
        r"got 3 and 2\.",
    ):
        sce(logits, np.array([0, 1]))
    with pytest.raises(
        ShapeError,
        match=r"expected target as labels of shape \(3,\) or probability rows of shape "
        r"\(3, 4\), got \(3, 5\)",
    ):
        sce(logits, np.zeros((3, 5)))
    with pytest.raises(
        ShapeError, match=r"SoftmaxCrossEntropy\(\): expected logits of shape \(N, K\), got \(3,\)"
    ):
        sce(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(
        InvalidValueError, match=r"each target row must sum to 1 .*row 1 sums to 0\.5"
    ):
        sce(logits, np.array([[1, 0, 0, 0], [0.5, 0, 0, 0], [0, 0, 0, 1.0]]))
    with pytest.raises(
        InvalidValueError, match=r"target rows must hold probabilities >= 0, got -0\.5"
    ):
        sce(logits, np.array([[1.5, -0.5, 0, 0], [1.0, 0, 0, 0], [0, 0, 0, 1.0]]))


# --- shared behaviour -----------------------------------------------------------------------

ALL_LOSSES = [
    (MSELoss, np.array([[0.2], [0.7]]), np.array([[0.0], [1.0]])),
    (BinaryCrossEntropy, np.array([[0.2], [0.7]]), np.array([[0], [1]])),
    (SoftmaxCrossEntropy, np.array([[0.2, 0.1], [0.7, -1.0]]), np.array([0, 1])),
]


@pytest.mark.parametrize("loss_cls, pred, target", ALL_LOSSES)
def test_call_is_forward_and_backward_is_repeatable(loss_cls, pred, target):
    loss = loss_cls()
    value = loss(pred, target)
    assert isinstance(value, float)
    assert value == loss_cls().forward(pred, target)
    g1 = loss.backward()
    assert g1.shape == pred.shape
    expected = g1.copy()
    g1 += 100.0  # the caller owns the returned array: changing it changes nothing inside
    np.testing.assert_array_equal(loss.backward(), expected)


@pytest.mark.parametrize("loss_cls, pred, target", ALL_LOSSES)
def test_losses_do_not_modify_their_inputs(loss_cls, pred, target):
    pred0, target0 = pred.copy(), target.copy()
    loss = loss_cls()
    loss(pred, target)
    loss.backward()
    np.testing.assert_array_equal(pred, pred0)
    np.testing.assert_array_equal(target, target0)


@pytest.mark.parametrize("loss_cls, pred, target", ALL_LOSSES)
def test_common_bad_inputs(loss_cls, pred, target):
    loss = loss_cls()
    name = loss_cls.__name__
    with pytest.raises(InvalidValueError, match=rf"{name}\(\): backward called before forward"):
        loss.backward()
    with pytest.raises(
        DTypeError, match=rf"{name}\(\): expected (pred|logits) with a floating dtype"
    ):
        loss(pred.astype(int), target)
    with pytest.raises(ShapeError, match=r"must hold the same number of examples, got 2 and 1"):
        loss(pred, target[:1])
    with pytest.raises(InvalidValueError, match=rf"{name}\(\): (pred|logits) is empty"):
        loss(pred[:0], target[:0])


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError, match="Loss does not implement forward"):
        Loss()(np.zeros(2), np.zeros(2))
    with pytest.raises(NotImplementedError, match="Loss does not implement backward"):
        Loss().backward()


def test_reprs():
    assert repr(MSELoss()) == "MSELoss()"
    assert repr(BinaryCrossEntropy()) == "BinaryCrossEntropy()"
    assert repr(BinaryCrossEntropy(from_logits=True)) == "BinaryCrossEntropy(from_logits=True)"
    assert repr(SoftmaxCrossEntropy()) == "SoftmaxCrossEntropy()"


# --- against PyTorch, when it is installed --------------------------------------------------


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(5)
    logits, labels = rng.normal(scale=3, size=(7, 4)), rng.integers(0, 4, size=7)
    t_logits = torch.tensor(logits, requires_grad=True)
    functional.cross_entropy(t_logits, torch.tensor(labels)).backward()
    sce = SoftmaxCrossEntropy()
    value = sce(logits, labels)
    expected = functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(sce.backward(), t_logits.grad.numpy(), rtol=1e-10, atol=1e-15)

    z, t = rng.normal(scale=3, size=(7, 1)), rng.uniform(size=(7, 1))
    t_z = torch.tensor(z, requires_grad=True)
    functional.binary_cross_entropy_with_logits(t_z, torch.tensor(t)).backward()
    bce = BinaryCrossEntropy(from_logits=True)
    expected = functional.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(t))
    assert bce(z, t) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(bce.backward(), t_z.grad.numpy(), rtol=1e-10, atol=1e-15)

    pred, target = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    t_pred = torch.tensor(pred, requires_grad=True)
    functional.mse_loss(t_pred, torch.tensor(target)).backward()
    mse = MSELoss()
    assert mse(pred, target) == pytest.approx(
        functional.mse_loss(torch.tensor(pred), torch.tensor(target)).item(), rel=1e-12
    )
    np.testing.assert_allclose(mse.backward(), t_pred.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("loss", [MSELoss(), BinaryCrossEntropy()])
def test_a_single_number_instead_of_a_batch_is_named(loss):
    with pytest.raises(ShapeError, match=r"expected pred with a batch axis.*got a single number"):
        loss(np.float64(0.5), 1.0)
    with pytest.raises(ShapeError, match=r"expected target with a batch axis"):
        loss(np.array([0.5]), np.float64(1.0))


# --- class weights (imbalanced data) --------------------------------------------------------


def test_weighted_softmax_cross_entropy_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])  # p = (1/2, 1/2), (3/4, 1/4)
    y = np.array([0, 1])
    loss = SoftmaxCrossEntropy(class_weights=np.array([1.0, 3.0]))
    assert repr(loss) == "SoftmaxCrossEntropy(class_weights=(2,))"
    # sum w_y * loss / sum w_y: (1 * log 2 + 3 * log 4) / 4.
    assert loss(logits, y) == pytest.approx((np.log(2) + 3 * np.log(4)) / 4, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), [[-1 / 8, 1 / 8], [9 / 16, -9 / 16]], rtol=1e-12)
    # One-hot rows give the same as labels.
    assert loss(logits, np.eye(2)[y]) == pytest.approx((np.log(2) + 3 * np.log(4)) / 4)


def test_equal_class_weights_give_the_plain_mean():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((6, 3)), rng.integers(0, 3, size=6)
    plain, same = SoftmaxCrossEntropy(), SoftmaxCrossEntropy(class_weights=np.full(3, 2.5))
    assert same(z, y) == pytest.approx(plain(z, y), rel=1e-12)
    np.testing.assert_allclose(same.backward(), plain.backward(), rtol=1e-12)
    p, t = rng.uniform(0.05, 0.95, size=(5, 1)), rng.integers(0, 2, size=(5, 1))
    for from_logits in (False, True):
        bce = BinaryCrossEntropy(from_logits=from_logits)
        wbce = BinaryCrossEntropy(from_logits=from_logits, class_weights=np.array([0.5, 0.5]))
        assert wbce(p, t) == pytest.approx(bce(p, t), rel=1e-12)
        np.testing.assert_allclose(wbce.backward(), bce.backward(), rtol=1e-12)


def test_weighted_binary_cross_entropy_by_hand():
    loss = BinaryCrossEntropy(class_weights=np.array([1.0, 4.0]))
    assert repr(loss) == "BinaryCrossEntropy(class_weights=[1.0, 4.0])"
    p, t = np.array([0.5, 0.8]), np.array([0, 1])
    want = (1 * np.log(2) + 4 * -np.log(0.8)) / 5
    assert loss(p, t) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), [1 / 5 * 0.5 / 0.25, 4 / 5 * -0.2 / 0.16])


@given(batches, st.integers(2, 5), seeds, st.booleans())
def test_weighted_softmax_cross_entropy_gradcheck(n, k, seed, rows):
    rng = np.random.default_rng(seed)
    loss = SoftmaxCrossEntropy(class_weights=rng.uniform(0.2, 5.0, size=k))
    y = rng.integers(0, k, size=n)
    target = rng.dirichlet(np.ones(k), size=n) if rows else y
    report = gradcheck(loss, rng.normal(size=(n, k)) * 3, target=target)
    assert report.passed(1e-7), report.summary()


@given(batches, seeds, st.booleans())
def test_weighted_binary_cross_entropy_gradcheck(n, seed, from_logits):
    rng = np.random.default_rng(seed)
    loss = BinaryCrossEntropy(from_logits=from_logits, class_weights=rng.uniform(0.2, 5.0, 2))
    pred = rng.normal(size=(n, 1)) * 2 if from_logits else rng.uniform(0.05, 0.95, (n, 1))
    report = gradcheck(loss, pred, target=rng.uniform(0, 1, size=(n, 1)))
    assert report.passed(1e-7), report.summary()


def test_weighted_losses_keep_float32():
    z = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    loss = SoftmaxCrossEntropy(class_weights=np.array([1.0, 2.0, 3.0]))
    loss(z, np.array([0, 1, 2, 0]))
    assert loss.backward().dtype == np.float32
    bce = BinaryCrossEntropy(from_logits=True, class_weights=np.array([1.0, 9.0]))
    bce(z[:, :1], np.array([[0], [1], [1], [0]]))
    assert bce.backward().dtype == np.float32


def test_class_weight_errors():
    with pytest.raises(InvalidValueError, match=r"^SoftmaxCrossEntropy: class_weights must be "
                                                r"positive, got -1.0 for class 1"):
        SoftmaxCrossEntropy(class_weights=np.array([1.0, -1.0]))
    with pytest.raises(ShapeError, match=r"^BinaryCrossEntropy: expected class_weights of shape "
                                         r"\(2,\), one weight per class, got \(3,\)"):
        BinaryCrossEntropy(class_weights=np.ones(3))
    loss = SoftmaxCrossEntropy(class_weights=np.ones(3))
    with pytest.raises(ShapeError, match=r"class_weights has 3 entries but the logits have 2"):
        loss(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ShapeError, match=r"^fit: SoftmaxCrossEntropy\(class_weights=\(3,\)\): "
                                         r"class_weights has 3 entries"):
        loss.check_targets(np.array([0, 1]), (4, 2), owner="fit")
    assert loss.check_targets(np.array([0, 2]), (4, 3), owner="fit").shape == (2,)
