"""gradcheck: passes on correct code, fails (naming the tensor) on wrong code, leaves no trace."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import ReLU, Sigmoid, Tanh
from dlteach.core import Layer, Parameter, Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import GradcheckReport, gradcheck, relative_error
from dlteach.losses import MSELoss, SoftmaxCrossEntropy


class DoubledWeightGrad(Dense):
    """A classic bug: dL/dW is twice what it should be."""

    def backward(self, grad_y):
        grad_x = super().backward(grad_y)
        self.W.grad *= 2
        return grad_x


class HalvedInputGrad(Dense):
    """Another bug: the gradient passed to the previous layer is halved."""

    def backward(self, grad_y):
        return 0.5 * super().backward(grad_y)


class ForgotReturn(Dense):
    def backward(self, grad_y):
        super().backward(grad_y)


class Scale(Layer):
    """y = a * x with a scalar parameter a, to test 0-d parameters."""

    def __init__(self):
        self.a = Parameter(np.array(1.5), "a")

    def forward(self, x):
        self._x = x
        return self.a.value * x

    def backward(self, grad_y):
        self.a.grad += np.sum(grad_y * self._x)
        return self.a.value * grad_y


def data(seed=0, n=5, d=4):
    return np.random.default_rng(seed).normal(size=(n, d))


# --- correct code passes -------------------------------------------------------------------


def test_dense_passes_and_names_every_tensor():
    report = gradcheck(Dense(4, 3, rng=0), data())
    assert list(report.errors) == ["input", "W", "b"]
    assert report.passed()
    assert report.max_error < 1e-8
    assert report.failed() == []


@given(
    n=st.integers(1, 8),
    d_in=st.integers(1, 10),
    hidden=st.integers(1, 10),
    k=st.integers(1, 10),
    seed=st.integers(0, 2**31 - 1),
)
def test_sequential_mlp_with_loss_passes(n, d_in, hidden, k, seed):
    rng = np.random.default_rng(seed)
    model = Sequential(
        Dense(d_in, hidden, rng=rng, init="xavier"), Tanh(), Dense(hidden, k, rng=rng)
    )
    x = rng.normal(size=(n, d_in))
    y = rng.integers(0, k, size=n)
    report = gradcheck(model, x, target=y, loss=SoftmaxCrossEntropy(), seed=seed)
    assert list(report.errors) == ["input", "0.W", "0.b", "2.W", "2.b"]
    assert report.passed(1e-7), str(report)


def test_relu_mlp_with_mse_passes():
    rng = np.random.default_rng(4)
    model = Sequential(Dense(3, 8, rng=1), ReLU(), Dense(8, 2, rng=2), Sigmoid())
    report = gradcheck(
        model, rng.normal(size=(6, 3)), target=rng.normal(size=(6, 2)), loss=MSELoss()
    )
    assert report.passed(1e-7), str(report)


def test_zero_dimensional_parameter():
    report = gradcheck(Scale(), data())
    assert list(report.errors) == ["input", "a"]
    assert report.analytic["a"].shape == ()
    assert report.passed(), str(report)


def test_function_returning_value_and_gradient():
    def cube(x):
        return np.sum(x**3), 3 * x**2

    def wrong_cube(x):
        return np.sum(x**3), 2 * x**2

    assert gradcheck(cube, data()).passed()
    report = gradcheck(wrong_cube, data())
    assert not report.passed()
    assert report.errors["input"] == pytest.approx(1 / 3, rel=1e-6)


# --- wrong code fails, and the report says where ---------------------------------------------


def test_doubled_weight_gradient_fails_and_is_named():
    report = gradcheck(DoubledWeightGrad(4, 3, rng=0), data())
    assert not report.passed()
    assert report.failed() == ["W"]
    assert report.errors["W"] == pytest.approx(0.5, rel=1e-6)  # |2a - a| / |2a|
    assert report.errors["input"] < 1e-8 and report.errors["b"] < 1e-8
    text = str(report)
    w_row = next(line for line in text.splitlines() if line.strip().startswith("W "))
    assert "FAIL" in w_row and "worst at [" in w_row
    assert "the gradient of W does not match" in text


def test_halved_input_gradient_fails_on_input():
    report = gradcheck(HalvedInputGrad(4, 3, rng=0), data())
    assert report.failed() == ["input"]
    assert report.errors["input"] == pytest.approx(0.5, rel=1e-6)


def test_bug_inside_sequential_is_named_with_its_index():
    model = Sequential(Dense(4, 5, rng=0), Tanh(), DoubledWeightGrad(5, 2, rng=1))
    report = gradcheck(model, data(), target=np.array([0, 1, 1, 0, 1]), loss=SoftmaxCrossEntropy())
    assert report.failed() == ["2.W"]
    assert "2.W" in str(report)


def test_worst_element_points_at_the_bug():
    class OneBadEntry(Dense):
        def backward(self, grad_y):
            grad_x = super().backward(grad_y)
            self.W.grad[1, 2] += 1.0
            return grad_x

    report = gradcheck(OneBadEntry(4, 3, rng=0), data())
    index, analytic, numerical = report.worst("W")
    assert index == (1, 2)
    assert analytic - numerical == pytest.approx(1.0, rel=1e-6)
    assert "worst at [1, 2]" in str(report)


# --- a mean loss over many examples: rounding noise vs. gradients that shrink like 1/N ---------


class TransposedWeightGrad(Dense):
    """dL/dW computed as (x.T @ grad_y).T: the right shape only for a square W."""

    def backward(self, grad_y):
        self.W.grad += (self._x.T @ grad_y).T
        self.b.grad += grad_y.sum(axis=0)
        return grad_y @ self.W.value.T


class DroppedBiasGrad(Dense):
    """dL/db never accumulated."""

    def backward(self, grad_y):
        self.W.grad += self._x.T @ grad_y
        return grad_y @ self.W.value.T


def lesson_net(first=Dense, last=Dense):
    """Lesson 2's shape of network (square layers, so that a transposed dW fits)."""
    return Sequential(first(3, 3, rng=0), Sigmoid(), last(3, 3, rng=1))


def labelled(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("n", [20, 100, 300])
def test_a_correct_network_passes_with_a_mean_loss_over_many_examples(n):
    # Each gradient shrinks like 1/N, the rounding noise of a central difference does not:
    # without the floor the input gradient's relative error was 1e-7 to 1e-6 here.
    x, y = labelled(n)
    report = gradcheck(lesson_net(), x, target=y, loss=SoftmaxCrossEntropy())
    assert report.passed(), str(report)
    assert report.max_error < 1e-7 / 2, str(report)


def test_a_dense_layer_passes_on_a_thousand_examples():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1000, 5)), rng.integers(0, 3, size=1000)
    report = gradcheck(Dense(5, 3, rng=0), x, target=y, loss=SoftmaxCrossEntropy())
    assert report.passed(), str(report)


@pytest.mark.parametrize(
    "model, guilty",
    [
        (lesson_net(first=HalvedInputGrad), ["input"]),
        (lesson_net(last=HalvedInputGrad), ["input", "0.W", "0.b"]),
        (lesson_net(first=DoubledWeightGrad), ["0.W"]),
        (lesson_net(first=TransposedWeightGrad), ["0.W"]),
        (lesson_net(last=TransposedWeightGrad), ["2.W"]),
        (lesson_net(first=DroppedBiasGrad), ["0.b"]),
        (lesson_net(last=DroppedBiasGrad), ["2.b"]),
    ],
)
def test_real_bugs_still_fail_clearly_on_300_examples(model, guilty):
    x, y = labelled(300)
    report = gradcheck(model, x, target=y, loss=SoftmaxCrossEntropy())
    assert report.failed() == guilty, str(report)
    assert min(report.errors[name] for name in guilty) > 1e-3, str(report)  # 10^4 x the tol


def test_the_floor_is_the_rounding_noise_over_the_tolerance_and_the_report_says_when_used():
    x, y = labelled(300)
    report = gradcheck(lesson_net(), x, target=y, loss=SoftmaxCrossEntropy())
    loss = SoftmaxCrossEntropy()(lesson_net().forward(x), y)
    assert report.abs_loss == pytest.approx(loss, rel=1e-3)
    u = np.finfo(np.float64).eps
    assert report.floor == pytest.approx(4 * u * report.abs_loss / (1e-6 * 1e-7))
    assert report.below_floor() == ["input", "0.W"]
    a, n = report.analytic["input"], report.numerical["input"]
    assert report.errors["input"] == pytest.approx(np.abs(a - n).max() / report.floor)
    assert relative_error(a, n) > 1e-7  # measured against itself, the noise would fail it
    text = str(report)
    assert "note: input, 0.W: gradients below the rounding floor" in text
    assert "errors are relative to the floor" in text
    # A few examples: every gradient is far above the floor, and no note.
    x4, y4 = labelled(4)
    small = gradcheck(lesson_net(), x4, target=y4, loss=SoftmaxCrossEntropy())
    assert small.below_floor() == [] and "rounding floor" not in str(small)


def test_the_objective_names_the_output_not_y():
    x, y = labelled(4)
    text = str(gradcheck(lesson_net(), x, target=y, loss=SoftmaxCrossEntropy()))
    assert "  L = SoftmaxCrossEntropy()(output, target), eps = 1e-06" in text.splitlines()
    assert "L = sum(output * R), R fixed random" in str(gradcheck(Dense(3, 2, rng=0), x))


# --- nothing the caller owns is modified -----------------------------------------------------


def test_layer_state_and_caller_arrays_are_restored():
    layer = Dense(4, 3, rng=0)
    earlier_x = data(seed=1)
    layer.forward(earlier_x)
    layer.backward(np.ones((5, 3)))  # the caller has accumulated gradients already
    w_obj, w_grad_obj, b_obj = layer.W.value, layer.W.grad, layer.b.value
    w0, w_grad0, b_grad0 = w_obj.copy(), w_grad_obj.copy(), layer.b.grad.copy()
    x = data(seed=2, n=3)
    x0 = x.copy()

    gradcheck(layer, x, target=np.array([0, 2, 1]), loss=SoftmaxCrossEntropy())

    np.testing.assert_array_equal(x, x0)
    assert layer.W.value is w_obj and layer.W.grad is w_grad_obj and layer.b.value is b_obj
    np.testing.assert_array_equal(layer.W.value, w0)
    np.testing.assert_array_equal(layer.W.grad, w_grad0)
    np.testing.assert_array_equal(layer.b.grad, b_grad0)
    assert layer._x is earlier_x  # the forward cache is the caller's, not gradcheck's


def test_loss_state_is_restored():
    loss = SoftmaxCrossEntropy()
    with pytest.raises(InvalidValueError, match="backward called before forward"):
        loss.backward()
    gradcheck(loss, data(), target=np.array([0, 1, 2, 3, 0]))
    with pytest.raises(InvalidValueError, match="backward called before forward"):
        loss.backward()  # still no forward of the caller's


def test_state_is_restored_even_when_backward_raises():
    layer = ForgotReturn(4, 3, rng=0)
    w = layer.W.value
    with pytest.raises(
        DTypeError, match=r"returned None for the input\. Did you forget `return`\?"
    ):
        gradcheck(layer, data())
    assert layer.W.value is w and layer._x is None
    assert not layer.W.grad.any()


def test_float32_is_checked_in_float64_copies_and_left_float32():
    layer = Dense(4, 3, rng=0, dtype=np.float32)
    w = layer.W.value
    x = data().astype(np.float32)
    report = gradcheck(layer, x)
    assert report.passed(1e-7), str(report)
    assert layer.W.value is w and w.dtype == np.float32
    assert layer.W.grad.dtype == np.float32
    assert "x was float32 and parameters were float32; the check ran on float64 copies" in str(
        report
    )


def test_same_seed_same_report_other_seed_other_direction():
    layer, x = Dense(4, 3, rng=0), data()
    a, b, c = gradcheck(layer, x, seed=1), gradcheck(layer, x, seed=1), gradcheck(layer, x, seed=2)
    assert a.errors == b.errors
    assert not np.array_equal(a.analytic["W"], c.analytic["W"])


# --- the report ---------------------------------------------------------------------------


def test_report_text_and_repr_have_no_addresses():
    report = gradcheck(Sequential(Dense(4, 3, rng=0), ReLU()), data())
    text, rep = str(report), repr(report)
    assert "0x" not in text and "0x" not in rep
    assert text.splitlines()[0] == "gradcheck of Sequential( (0): Dense(4 -> 3), (1): ReLU() )"
    assert "tensor" in text and "rel. error" in text and "0.W" in text
    assert text.splitlines()[-1] == "passed (tol 1e-07): every relative error below the tolerance"
    assert rep.startswith("GradcheckReport(Sequential(") and "passed=True" in rep


def test_printed_report_holds_no_rounding_noise():
    # Another CPU's BLAS kernel rounds differently: a passing error of 6.3e-10 here is
    # 9.9e-10 there. The printed table must read the same on both; exact=True shows digits.
    report = gradcheck(Sequential(Dense(4, 3, rng=0), Tanh(), Dense(3, 2, rng=1)), data())
    text = str(report)
    report.errors = {name: e * 1.57 for name, e in report.errors.items()}
    assert str(report) == text
    assert all(row.endswith("< 1e-07  ok") for row in text.splitlines()[3:-1])
    exact = report.summary(exact=True)
    assert exact != text and f"{max(report.errors.values()):.1e}" in exact
    assert exact.splitlines()[-1].startswith("passed (tol 1e-07): max relative error ")


def test_failing_rows_print_their_error_and_the_worst_entry():
    report = gradcheck(Sequential(Dense(4, 3, rng=0), Tanh(), Dense(3, 2, rng=1)), data())
    report.analytic["0.b"] = report.analytic["0.b"] / 4  # the batch-mean bug, N = 4
    report.errors["0.b"] = 0.75
    row = next(r for r in str(report).splitlines() if r.lstrip().startswith("0.b"))
    _index, a, n = report.worst("0.b")
    assert "7.5e-01  FAIL  worst at [" in row
    assert f"analytic {a:.4g}, numerical {n:.4g}" in row
    assert str(report).splitlines()[-1].startswith("FAILED (tol 1e-07): the gradient of 0.b ")


def test_pretty_repr_is_the_table():
    pretty = pytest.importorskip("IPython.lib.pretty")
    report = gradcheck(Dense(2, 2, rng=0), data(d=2))
    assert pretty.pretty(report) == str(report)


def test_relative_error_definition():
    a = np.array([1.0, 1e-12])
    n = np.array([1.0, 3e-12])  # a tiny element that disagrees is rounding noise, not a bug
    assert relative_error(a, n) == pytest.approx(2e-12)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    # The floor only matters for a tensor smaller than it.
    assert relative_error(np.array([1e-4]), np.array([1e-4 + 1e-10]), floor=1e-3) == (
        pytest.approx(1e-7))
    assert relative_error(a, n, floor=1e-3) == pytest.approx(2e-12)
    assert relative_error(np.zeros(3), np.zeros(3), floor=1.0) == 0.0
    assert relative_error(np.array([2.0, 0.0]), np.array([1.0, 0.0])) == 0.5
    assert np.isnan(relative_error(np.array([np.nan]), np.array([1.0])))
    with pytest.raises(ShapeError, match=r"relative_error: .*same shape, got \(2,\) and \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_nan_gradient_fails():
    report = GradcheckReport(
        checked="f(x)",
        objective="f(x)",
        eps=1e-6,
        analytic={"input": np.array([np.nan, 1.0])},
        numerical={"input": np.array([1.0, 1.0])},
    )
    assert np.isnan(report.max_error)
    assert not report.passed()
    assert "worst at [0]: analytic nan" in str(report)


def test_report_errors():
    report = gradcheck(Dense(2, 2, rng=0), data(d=2))
    with pytest.raises(InvalidValueError, match=r"GradcheckReport.passed: tol must be a positive"):
        report.passed(0)
    with pytest.raises(InvalidValueError, match=r"no tensor named 'V'; the tensors are \['input'"):
        report.worst("V")


# --- bad input ----------------------------------------------------------------------------


def test_bad_arguments():
    layer, x = Dense(4, 3, rng=0), data()
    with pytest.raises(InvalidValueError, match=r"gradcheck: eps must be a positive number, got 0"):
        gradcheck(layer, x, eps=0)
    with pytest.raises(DTypeError, match=r"gradcheck: expected x with a floating dtype"):
        gradcheck(layer, np.ones((2, 4), dtype=int))
    with pytest.raises(InvalidValueError, match=r"loss=SoftmaxCrossEntropy\(\) needs target="):
        gradcheck(layer, x, loss=SoftmaxCrossEntropy())
    with pytest.raises(InvalidValueError, match=r"target= is only used with a loss"):
        gradcheck(layer, x, target=np.zeros(5, dtype=int))
    with pytest.raises(DTypeError, match=r"expected loss to be a Loss .*got function"):
        gradcheck(layer, x, target=np.zeros(5, dtype=int), loss=lambda p, t: 0.0)
    with pytest.raises(InvalidValueError, match=r"checking MSELoss\(\) needs target="):
        gradcheck(MSELoss(), x)
    with pytest.raises(InvalidValueError, match=r"MSELoss\(\) is already a loss"):
        gradcheck(MSELoss(), x, target=x, loss=MSELoss())
    with pytest.raises(DTypeError, match=r"expected a Layer, a Loss or a function .*got int"):
        gradcheck(3, x)
    with pytest.raises(DTypeError, match=r"expected f\(x\) to return a pair \(loss, gradient\)"):

        def f(x):
            return float(np.sum(x))

        gradcheck(f, x)
    with pytest.raises(
        ShapeError, match=r"g\(x\) gave a gradient for x of shape \(3,\), expected \(5, 4\)"
    ):

        def g(x):
            return float(np.sum(x)), np.ones(3)

        gradcheck(g, x)


def test_forward_that_forgets_to_return():
    class NoReturn(Dense):
        def forward(self, x):
            super().forward(x)

    with pytest.raises(
        DTypeError, match=r"Dense\(4 -> 3\)\.forward returned NoneType, expected an array\. Did"
    ):
        gradcheck(NoReturn(4, 3, rng=0), data())
