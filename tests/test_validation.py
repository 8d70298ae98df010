"""Input checks: every message names who complained, what it expected and what it got."""

import numpy as np
import pytest

import dlteach as dl
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.validation import (
    as_rng,
    check_array,
    check_labels,
    check_positive,
    check_positive_int,
    check_same_length,
    format_shape,
)


def test_format_shape():
    assert format_shape(("N", 64)) == "(N, 64)"
    assert format_shape((5,)) == "(5,)"
    assert format_shape((None, 3)) == "(*, 3)"


def test_check_array_accepts_and_does_not_copy():
    x = np.ones((2, 3))
    assert check_array(x, owner="f", shape=("N", 3)) is x
    assert check_array([[1, 2]], owner="f", shape=(1, 2)).dtype == np.float64


def test_check_array_errors():
    with pytest.raises(DTypeError, match="f: expected input to be a NumPy array, got str"):
        check_array("abc", owner="f")
    with pytest.raises(DTypeError, match=r"f: expected x with a floating dtype.*got dtype int64"):
        check_array(np.ones(3, dtype=np.int64), owner="f", name="x")
    with pytest.raises(DTypeError, match=r"integer dtype.*got dtype float64\. Convert it"):
        check_array(np.ones(3), owner="f", kind="int")
    with pytest.raises(ShapeError, match=r"both N must be equal"):
        check_array(np.ones((2, 3)), owner="f", shape=("N", "N"))
    with pytest.raises(ShapeError, match=r"expected input with 2 dimensions, got shape \(3,\)"):
        check_array(np.ones(3), owner="f", ndim=2)
    with pytest.raises(InvalidValueError, match=r"f: input is empty \(shape \(0, 2\)\)"):
        check_array(np.ones((0, 2)), owner="f")


def test_labels_lengths_and_numbers():
    check_labels(np.array([0, 2]), 3, owner="f")
    with pytest.raises(
        InvalidValueError, match=r"labels must lie in 0\.\.2 for 3 classes, got a label 3"
    ):
        check_labels(np.array([0, 3]), 3, owner="f")
    with pytest.raises(InvalidValueError, match="got a label -1"):
        check_labels(np.array([-1, 0]), 3, owner="f")
    with pytest.raises(
        ShapeError, match="X and y must hold the same number of examples, got 3 and 2"
    ):
        check_same_length(np.ones(3), np.ones(2), owner="f", names=("X", "y"))
    assert check_positive(0.5, owner="f", name="lr") == 0.5
    with pytest.raises(InvalidValueError, match=r"f: lr must be a positive number, got -0\.1"):
        check_positive(-0.1, owner="f", name="lr")
    with pytest.raises(InvalidValueError, match="got nan"):
        check_positive(float("nan"), owner="f", name="lr")
    with pytest.raises(DTypeError, match="expected lr to be a number, got str"):
        check_positive("0.1", owner="f", name="lr")
    with pytest.raises(DTypeError, match="expected epochs to be an integer, got float"):
        check_positive_int(2.0, owner="f", name="epochs")


def test_as_rng_is_deterministic():
    assert as_rng(3).random() == as_rng(3).random()
    g = np.random.default_rng(0)
    assert as_rng(g) is g
    with pytest.raises(DTypeError, match="seed must be an int seed"):
        as_rng("3")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: dl.Dense(2, 2, rng="0"), r"^Dense: rng must be .*got str '0'"),
        (lambda: dl.Dense(2, 2, rng=1.0), r"^Dense: rng must be .* Write rng=1\."),
        (lambda: dl.Conv2D(1, 2, 3, rng=True), r"^Conv2D: rng must be"),
        (lambda: dl.mlp([2, 2], rng=0.5), r"^mlp: rng must be"),
        (lambda: dl.he_normal((2, 2), rng="x"), r"^he_normal: rng must be"),
        (lambda: dl.make_moons(seed=[1]), r"^make_moons: seed must be"),
        (lambda: dl.Dense(2, 2, rng=-1), r"^Dense: rng must be .*got -1\."),
    ],
)
def test_a_refused_rng_names_its_owner_and_the_argument_as_written(make, message):
    with pytest.raises((DTypeError, InvalidValueError), match=message):
        make()


def test_legacy_random_state_is_refused_with_what_to_pass_instead():
    with pytest.raises(DTypeError, match=r"Dense: rng .*RandomState.*np\.random\.default_rng"):
        dl.Dense(2, 2, rng=np.random.RandomState(0))
    model = dl.Dense(2, 1, rng=0)
    with pytest.raises(DTypeError, match=r"fit: seed .*RandomState"):
        dl.fit(model, np.zeros((4, 2)), np.zeros((4, 1)), loss=dl.MSELoss(),
               optimizer=dl.SGD(model.parameters(), lr=0.1), epochs=1,
               seed=np.random.RandomState(0), progress=False)


def test_seed_sequences_and_bit_generators_are_accepted():
    a = as_rng(np.random.SeedSequence(5)).random()
    b = as_rng(np.random.PCG64(5)).random()
    assert a == b == np.random.default_rng(5).random()


def test_check_has_methods_names_the_role_and_an_example():
    from dlteach.validation import check_has_methods

    class Loss:
        def forward(self):
            pass

        def backward(self):
            pass

    kw = {"owner": "f", "role": "a loss", "example": "MSELoss()"}
    check_has_methods(Loss(), ("forward", "backward"), **kw)
    with pytest.raises(DTypeError, match=r"f: expected a loss object, got the class Loss\. "
                       r"Create one first, e\.g\. MSELoss\(\)\."):
        check_has_methods(Loss, ("forward", "backward"), **kw)
    with pytest.raises(DTypeError, match=r"f: expected a loss with forward\(\) and backward\(\) "
                       r"\(e\.g\. MSELoss\(\)\), got str\."):
        check_has_methods("mse", ("forward", "backward"), **kw)
