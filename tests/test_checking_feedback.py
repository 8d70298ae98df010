"""What a failing verdict shows: where results differ, how to rebuild the input, which
argument was changed in place, values without artifacts, one block in a fixed order."""

from __future__ import annotations

import numpy as np
import pytest

from dlteach.checking import (
    Case,
    check_function,
    check_value,
    format_number,
    format_value,
    not_attempted,
    rebuilt_inputs,
)

BIG = "x = np.random.default_rng(3).normal(size=(4, 16))"


def big_x() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(4, 16))


def nudged(x: np.ndarray) -> np.ndarray:
    """tanh(x) wrong at 3 entries, the first [2, 5] only in its 8th decimal."""
    y = np.tanh(x)
    y[2, 5] += 3e-8
    y[3, 1] -= 1e-3
    y[3, 9] += 1e-3
    return y


def reference_tanh(x: np.ndarray) -> np.ndarray:
    # A Python function, as every lesson's reference is: its parameter names the input
    # `x` on every NumPy (a ufunc such as np.tanh has no signature before NumPy 2).
    return np.tanh(x)


def check_tanh(fn, case, **kwargs):
    return check_function(fn, reference_tanh, [case], exercise="tanh", hint="use np.tanh",
                          rtol=1e-9, atol=0.0, **kwargs)


def field(message: str, key: str) -> str:
    """The text of ``key: ...`` with its continuation lines, whitespace collapsed."""
    lines = message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(key + ": "))
    block = [lines[start][len(key) + 2:]]
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


# ---------------------------------------------------------------- where they differ


def test_a_large_array_shows_shape_dtype_count_and_the_first_difference_with_enough_digits():
    v = check_tanh(nudged, Case((big_x(),), label="a (4, 16) batch"))
    expected, got = field(v.message, "expected"), field(v.message, "got")
    assert expected != got  # they no longer look identical
    for text in (expected, got):
        assert text.startswith("array of shape (4, 16), dtype float64, from [2, 5]: [")
    want = np.tanh(big_x())[2, 5]
    assert f"expected {want:.8f}" in v.message  # 0.77039827: 8 decimals tell them apart
    assert field(v.message, "differ") == (
        "3 of 64 entries; first at [2, 5]: expected 0.77039827, got 0.7703983")
    assert "problem: wrong values" in v.message


def test_a_scalar_wrong_only_in_a_late_digit_prints_both_values_apart():
    v = check_function(lambda z: 0.12345678, lambda z: 0.12345679, [(1.0,)],
                       exercise="late", rtol=1e-9, atol=0.0)
    assert "expected: 0.12345679" in v.message and "got: 0.12345678" in v.message


def test_a_difference_inside_a_tuple_names_the_element():
    def ref(a):
        return a.sum(), a * 2

    v = check_function(lambda a: (a.sum(), a * 2.0001), ref, [(np.arange(30.0).reshape(5, 6),)],
                       exercise="pair")
    assert "problem: element [1] of the result: wrong values" in v.message
    assert "differ: element [1]: 29 of 30 entries; first at [0, 1]: expected 2.0, got 2.0001" in (
        v.message)


def test_check_value_shows_where_large_arrays_differ():
    want = np.linspace(0.0, 1.0, 50)
    mine = want.copy()
    mine[17] = 0.5
    v = check_value(mine, want, exercise="grid")
    assert "array of shape (50,), dtype float64" in v.message
    assert "differ: 1 of 50 entries; first at [17]: expected 0.3469, got 0.5" in v.message


# ---------------------------------------------------------------- reproducing a case


def test_small_inputs_print_every_digit_so_they_can_be_pasted_back():
    x = np.random.default_rng(0).normal(size=(2, 3))
    v = check_function(lambda x, c: x + 1, lambda x, c: x + c, [(x, 0.1 + 0.2)], exercise="add")
    assert "c = 0.30000000000000004" in v.message
    lines = v.message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("x = "))
    text = "\n".join(lines[start:start + 2]).strip()[len("x = "):]
    np.testing.assert_array_equal(np.array(eval(text)), x)  # exactly the input


def test_a_big_input_shows_its_rebuild_line_after_the_input():
    v = check_tanh(nudged, Case((big_x(),), label="a (4, 16) batch", rebuild=BIG))
    assert f"rebuild: {BIG}" in v.message
    assert "x = array of shape (4, 16), dtype float64," in v.message
    namespace = {"np": np}
    exec(field(v.message, "rebuild"), namespace)  # the line a learner pastes
    np.testing.assert_array_equal(namespace["x"], big_x())


def test_a_check_states_its_seeded_generator_with_setup():
    rng = np.random.default_rng(5)
    _, x = rng.normal(size=3), rng.normal(size=(4, 16))
    case = Case((x,), rebuild="_ = rng.normal(size=3); x = rng.normal(size=(4, 16))")
    v = check_tanh(nudged, case, setup="rng = np.random.default_rng(5)")
    assert ("rebuild: rng = np.random.default_rng(5); _ = rng.normal(size=3); "
            "x = rng.normal(size=(4, 16))") in v.message
    np.testing.assert_array_equal(
        rebuilt_inputs(case, "rng = np.random.default_rng(5)")["x"], x)


@pytest.mark.parametrize("rebuild", ["x = np.random.default_rng(4).normal(size=(4, 16))",
                                     "x = np.random.default_rng(3).normal(size=(4, 16))."
                                     "astype(np.float32)",
                                     "y = np.random.default_rng(3).normal(size=(4, 16))",
                                     "x = oops("])
def test_a_rebuild_that_does_not_give_the_exact_input_is_left_out(rebuild):
    v = check_tanh(nudged, Case((big_x(),), rebuild=rebuild))
    assert v.status == "failed"
    assert "rebuild:" not in v.message


def test_no_rebuild_line_when_every_input_is_printed_in_full():
    v = check_function(lambda x: x + 1, lambda x: x, [Case((np.zeros(3),), rebuild="x = "
                                                           "np.zeros(3)")], exercise="same")
    assert "rebuild:" not in v.message
    assert "input: x = [0.0, 0.0, 0.0]" in v.message


# ---------------------------------------------------------------- in place


def test_an_in_place_change_names_the_argument_that_changed():
    def ref(w, velocity):
        return w + velocity

    def changes_velocity(w, velocity):
        velocity += w
        return velocity

    v = check_function(changes_velocity, ref, [(np.ones(2), np.zeros(2))], exercise="roll")
    problem = field(v.message, "problem")
    assert "modified its input velocity in place" in problem
    assert "(velocity = velocity + ...)" in problem and "(velocity += ..." in problem
    assert "w = w" not in problem and "w +=" not in problem


def test_every_changed_argument_is_named():
    def both(w, velocity):
        w += 1
        velocity += 1
        return w

    v = check_function(both, lambda w, velocity: w + 1, [(np.ones(2), np.zeros(2))],
                       exercise="roll")
    assert "modified its inputs w and velocity in place; the caller owns them" in field(
        v.message, "problem")


# ---------------------------------------------------------------- no artifacts


def test_negative_zero_prints_as_zero():
    assert format_number(-0.0) == "0.0"
    assert format_value(np.array([-0.0, 1.0])) == "[0.0, 1.0]"
    v = check_function(lambda x: -x, lambda x: x, [(np.array([0.0, 2.0]),)], exercise="neg")
    assert "-0.0" not in v.message
    assert "got: [0.0, -2.0]" in v.message


def test_multi_line_arrays_stay_aligned_inside_tuples_and_blocks():
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert format_value((m, 1.0)) == "([[1.0, 2.0],\n  [3.0, 4.0]], 1.0)"
    v = check_function(lambda a: (a, 2.0), lambda a: (a, 1.0), [(m,)], exercise="pair")
    lines = v.message.splitlines()
    for key in ("expected", "got"):
        i = next(i for i, line in enumerate(lines) if line.startswith(key + ": "))
        first, second = lines[i], lines[i + 1]
        assert first.index("[[") + 1 == second.index("[")  # rows one under the other


# ---------------------------------------------------------------- one block


def test_a_failure_is_one_block_in_a_fixed_order():
    v = check_tanh(nudged, Case((big_x(),), label="a (4, 16) batch", rebuild=BIG))
    keys = [line.split(":")[0] for line in v.message.splitlines() if not line.startswith(" ")]
    assert keys == ["case 1 of 1", "problem", "input", "rebuild", "expected", "got", "differ",
                    "hint"]
    assert v.text().startswith("❌ tanh: failed\n   case 1 of 1: a (4, 16) batch\n")


def test_passed_and_not_attempted_texts_are_unchanged():
    ok = check_function(np.tanh, np.tanh, [Case((big_x(),), rebuild=BIG)], exercise="tanh")
    assert ok.text() == "✅ tanh: passed (1 case)"
    assert check_value(0.5, 0.5, exercise="half").text() == "✅ half: passed (correct value)"

    def stub(x):
        raise NotImplementedError()

    todo = check_function(stub, np.tanh, [(np.zeros(2),)], exercise="tanh")
    text = "⏳ tanh: not attempted yet — replace raise NotImplementedError() with your code"
    assert todo.text() == text == not_attempted("tanh").text()
    assert check_value(..., 1.0, exercise="tanh").text() == text


def test_a_small_float32_input_says_its_dtype_in_a_comment_that_pastes_cleanly():
    x = np.array([[0.5, -1.25]], dtype=np.float32)
    v = check_function(lambda x: x * 2, lambda x: x * 3, [(x,)], exercise="triple")
    line = next(ln for ln in v.message.splitlines() if ln.startswith("input: "))
    assert line.endswith("  # dtype float32"), line
    namespace = {"np": np}
    exec("value = " + line[len("input: x = "):], namespace)  # the comment is ignored
    np.testing.assert_array_equal(namespace["value"], x)
    plain = check_function(lambda x: x * 2, lambda x: x * 3, [(x.astype(np.float64),)],
                           exercise="triple")
    assert "# dtype" not in plain.message
