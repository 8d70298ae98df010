"""The exercise-check engine: verdicts, their display, and what a failure reports."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from dlteach.checking import (
    FAILED,
    NOT_ATTEMPTED_MESSAGE,
    PASSED,
    VERDICT_MIMETYPE,
    Case,
    Verdict,
    check_function,
    check_value,
    compare,
    failed_verdict,
    format_number,
    format_value,
    rebuilt_inputs,
    seeded_case,
)
from dlteach.errors import InvalidValueError


def reference_scale(x, factor):
    """x: (N,) -> x * factor, a new array."""
    return x * factor


CASES = [
    Case((np.array([1.0, 2.0, 3.0]), 2.0), label="three values"),
    Case((np.array([0.5]), -1.0), label="one value"),
    Case((np.array([-1.0, 4.0]),), {"factor": 0.25}, label="factor by keyword"),
]


def run(fn, cases=CASES, **kwargs):
    return check_function(fn, reference_scale, cases, exercise="scale", hint="multiply", **kwargs)


# ---------------------------------------------------------------- the Verdict


def test_verdict_is_frozen_and_validates_its_status():
    v = Verdict("scale", "passed", "3 cases")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = "failed"  # type: ignore[misc]
    with pytest.raises(InvalidValueError, match=r"Verdict: status must be one of .* got 'ok'"):
        Verdict("scale", "ok", "")


def test_mimebundle_has_the_three_keys_and_a_json_payload():
    v = Verdict("scale", "failed", "problem: wrong value\nhint: multiply")
    bundle = v._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", VERDICT_MIMETYPE}
    assert VERDICT_MIMETYPE == "application/vnd.dlteach.verdict+json"
    assert bundle[VERDICT_MIMETYPE] == {
        "exercise": "scale",
        "status": "failed",
        "message": "problem: wrong value\nhint: multiply",
    }
    json.dumps(bundle)  # everything in it is serialisable
    assert bundle["text/plain"] == "❌ scale: failed\n   problem: wrong value\n   hint: multiply"
    assert "problem: wrong value" in bundle["text/html"]
    assert bundle["text/html"].startswith("<pre")


def test_mimebundle_honours_include_and_exclude():
    v = Verdict("scale", "passed", "3 cases")
    assert set(v._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(v._repr_mimebundle_(exclude=["text/html"])) == {"text/plain", VERDICT_MIMETYPE}


def test_html_escapes_the_message():
    v = Verdict("scale", "failed", "got: <object>")
    assert "&lt;object&gt;" in v.html()


@pytest.mark.parametrize(
    ("verdict", "text"),
    [
        (Verdict("weighted_sum", "passed", "6 cases"), "✅ weighted_sum: passed (6 cases)"),
        (
            Verdict("weighted_sum", "not attempted", NOT_ATTEMPTED_MESSAGE),
            "⏳ weighted_sum: not attempted yet — replace raise NotImplementedError() with your "
            "code",
        ),
        (Verdict("weighted_sum", "failed", "input: x = 1\nexpected: 2\ngot: 3"),
         "❌ weighted_sum: failed\n   input: x = 1\n   expected: 2\n   got: 3"),
    ],
)
def test_plain_text_follows_the_protocol(verdict, text):
    assert verdict.text() == text == str(verdict)
    assert verdict.passed == (verdict.status == "passed")


# ---------------------------------------------------------------- check_function


def test_a_correct_function_passes_every_case():
    v = run(lambda x, factor: x * factor)
    assert v.status == "passed"
    assert v.message == "3 cases"
    assert v.text() == "✅ scale: passed (3 cases)"


def test_a_wrong_value_reports_case_input_expected_got_and_hint():
    v = run(lambda x, factor: x + factor)
    assert v.status == "failed"
    lines = v.message.splitlines()
    assert lines[0] == "case 1 of 3: three values"
    assert lines == [
        "case 1 of 3: three values",
        "problem: wrong values",
        "input: x = [1.0, 2.0, 3.0], factor = 2.0",
        "expected: [2.0, 4.0, 6.0]",
        "got: [3.0, 4.0, 5.0]",
        "differ: 2 of 3 entries; first at [0]: expected 2.0, got 3.0",
        "hint: multiply",
    ]


def test_the_first_failing_case_is_reported():
    v = run(lambda x, factor: x * 2.0)  # right only when factor is 2
    assert v.message.startswith("case 2 of 3: one value")
    assert "input: x = [0.5], factor = -1.0" in v.message


def test_a_wrong_shape_is_reported_before_values():
    v = run(lambda x, factor: (x * factor)[:, None])
    assert "problem: expected an array of shape (3,), got shape (3, 1)" in v.message
    assert v.status == "failed"


def test_another_exception_fails_with_its_type_and_message_but_no_traceback():
    def broken(x, factor):
        return x * factor["oops"]

    v = run(broken)
    assert v.status == "failed"
    assert "problem: your function raised TypeError:" in v.message
    assert "Traceback" not in v.message and 'File "' not in v.message
    assert "expected: [2.0, 4.0, 6.0]" in v.message
    assert "got:" not in v.message


def test_not_implemented_error_means_not_attempted():
    def stub(x, factor):
        # YOUR CODE HERE
        raise NotImplementedError()

    v = run(stub)
    assert v.status == "not attempted"
    assert v.text() == (
        "⏳ scale: not attempted yet — replace raise NotImplementedError() with your code"
    )


def test_a_function_that_modifies_its_input_fails_even_with_the_right_result():
    def in_place(x, factor):
        x *= factor
        return x

    v = run(in_place)
    assert v.status == "failed"
    assert "problem: your function modified its input x in place" in v.message
    # the check's own cases are untouched, so the next run still sees the original inputs
    np.testing.assert_array_equal(CASES[0].args[0], [1.0, 2.0, 3.0])


def test_returning_none_gets_a_hint_about_return():
    v = run(lambda x, factor: None)
    assert "did you forget the return statement?" in v.message


def test_passing_something_that_is_not_a_function():
    v = run(np.array([2.0, 4.0, 6.0]))
    assert v.status == "failed"
    assert "expected a function, got an array of shape (3,)" in v.message
    assert "check_scale(scale)" in v.message


def test_tolerances_are_used():
    assert run(lambda x, factor: x * factor + 1e-9).status == "passed"
    assert run(lambda x, factor: x * factor + 1e-3).status == "failed"
    assert run(lambda x, factor: x * factor + 1e-3, atol=1e-2).status == "passed"


def test_tuples_are_compared_element_by_element():
    def ref(a, b):
        return a + b, a - b

    ok = check_function(lambda a, b: (a + b, a - b), ref, [(1.0, 2.0)], exercise="pair")
    assert ok.status == "passed" and ok.message == "1 case"
    bad = check_function(lambda a, b: (a + b, b - a), ref, [(1.0, 2.0)], exercise="pair")
    assert "problem: element [1] of the result: expected -1.0, got 1.0" in bad.message
    short = check_function(lambda a, b: a + b, ref, [(1.0, 2.0)], exercise="pair")
    assert "expected a tuple of 2 values, got a float (3.0)" in short.message


def test_scalar_results_report_wrong_value_and_accept_zero_d_arrays():
    v = check_function(lambda z: z + 1, lambda z: z * 2, [Case((3.0,), label="three")],
                       exercise="double")
    assert v.message.splitlines()[:2] == ["case 1 of 1: three", "problem: wrong value"]
    assert "expected: 6.0" in v.message and "got: 4.0" in v.message
    ok = check_function(lambda z: np.array(z * 2), lambda z: z * 2, [(3.0,)], exercise="double")
    assert ok.status == "passed"


def test_large_arrays_are_summarised():
    big = np.arange(1000.0)
    v = check_function(lambda x: x + 1, lambda x: x, [(big,)], exercise="identity")
    assert "x = array of shape (1000,), dtype float64, first values [0.0, 1.0, 2.0, 3.0, ...]" in (
        v.message
    )
    assert "differ: 1000 of 1000 entries; first at [0]: expected 0.0, got 1.0" in v.message
    assert len(v.text()) < 800


def test_messages_hold_no_memory_addresses():
    class Thing:
        pass

    v = check_function(lambda x: Thing(), lambda x: x, [(1.0,)], exercise="thing")
    assert v.status == "failed"
    assert not re.search(r"0x[0-9a-fA-F]{4,}", v.text())
    assert not re.search(r"0x[0-9a-fA-F]{4,}", json.dumps(v._repr_mimebundle_()))


def test_at_least_one_case_is_required():
    with pytest.raises(InvalidValueError, match=r"check_function\(scale\): needs at least one"):
        check_function(lambda x: x, lambda x: x, [], exercise="scale")


# ---------------------------------------------------------------- check_value and helpers


def test_check_value():
    assert check_value(0.1 + 0.2, 0.3, exercise="sum").status == "passed"
    v = check_value(np.array([1, 2]), np.array([1, 3]), exercise="v", hint="look again")
    assert v.status == "failed"
    assert v.message.splitlines() == [
        "problem: wrong values",
        "expected: [1, 3]",
        "got: [1, 2]",
        "differ: 1 of 2 entries; first at [1]: expected 3, got 2",
        "hint: look again",
    ]
    assert check_value(..., 1.0, exercise="v").status == "not attempted"


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (3, "3"),
        (np.int64(-2), "-2"),
        (True, "True"),
        (0.1 + 0.2, "0.3"),
        (2.0, "2.0"),
        (np.float64(1 / 3), "0.3333"),
        (1.5e-7, "1.5e-07"),
        (2.5e9, "2.5e+09"),
        (float("nan"), "nan"),
        (-float("inf"), "-inf"),
    ],
)
def test_numbers_are_formatted_deterministically(x, text):
    assert format_number(x) == text


def test_format_value_of_arrays_and_containers():
    assert format_value(np.array([[1.0, 2.5], [3.0, 4.0]])) == "[[1.0, 2.5],\n [3.0, 4.0]]"
    assert format_value(np.array([1, 0, 1])) == "[1, 0, 1]"
    assert format_value((np.array([0.12345]), 1.0)) == "([0.1235], 1.0)"
    assert format_value(np.float64(0.5)) == "0.5"
    assert format_value(None) == "None"


def test_compare_returns_none_when_equal_and_a_reason_otherwise():
    assert compare(np.array([1.0, 2.0]), [1.0, 2.0]) is None
    assert compare(1, True) is None
    assert compare(np.array([1.0]), 1.0) == "expected an array of shape (1,), got a single number"
    assert compare(2.0, np.ones(3)) == "expected a single number, got an array of shape (3,)"
    assert compare(2.0, "2") == "expected a number, got a str ('2')"
    assert compare("abc", "abd") == "expected 'abc', got 'abd'"
    assert compare(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.5])) == (
        "2 of 3 entries differ; the first at [1]: expected 2.0, got 2.5")


def test_integers_requires_an_int_where_the_reference_returns_one():
    def half(n):
        return n // 2

    cases = [Case((7,)), Case((8,))]
    assert check_function(lambda n: n / 2, half, cases, exercise="half").status == "failed"
    # 4.0 equals 4, so only integers=True notices the float.
    assert check_function(lambda n: float(n // 2), half, cases, exercise="half").status == (
        "passed")
    v = check_function(lambda n: float(n // 2), half, cases, exercise="half", integers=True)
    assert v.status == "failed"
    assert "problem: expected an int, got a float (3.0)" in v.message
    for ok in (half, lambda n: np.int64(n // 2)):
        assert check_function(ok, half, cases, exercise="half", integers=True).status == "passed"
    # Booleans are not ints here, and floats the reference returns are not affected.
    assert check_function(lambda n: bool(n // 2), lambda n: int(bool(n // 2)), [Case((3,))],
                          exercise="flag", integers=True).status == "failed"
    assert check_function(lambda n: n / 2, lambda n: n / 2, cases, exercise="ratio",
                          integers=True).status == "passed"


def test_failed_verdict_lays_out_lines_like_check_function():
    v = failed_verdict(
        "nand",
        ("", "your (w, b) = ([1.0, 1.0], -1.5)"),
        ("problem", "step(w · x + b) is wrong for 4 of the 4 inputs " * 3),
        ("got", "[[1, 2],\n [3, 4]]"),
        ("hint", "write z for each input"),
    )
    assert v.status == "failed" and v.exercise == "nand"
    lines = v.message.splitlines()
    assert lines[0] == "your (w, b) = ([1.0, 1.0], -1.5)"
    assert lines[1].startswith("problem: step(w · x + b)")
    assert lines[2].startswith("         ")  # wrapped prose, aligned under its text
    assert "got: [[1, 2],\n      [3, 4]]" in v.message  # a value keeps its layout
    assert lines[-1] == "hint: write z for each input"
    assert all(len(line) <= 90 for line in lines)


# ---------------------------------------------------------------- the dtype pass


def _scaled(x, s):
    return x * np.asarray(s, dtype=x.dtype)


def test_the_dtype_pass_fails_a_float64_result_for_float32_inputs_once_values_are_right():
    cases = [Case((np.array([1.0, 2.0]), 2.0), label="float64"),
             Case((np.array([1.0, 2.0], dtype=np.float32), 2.0), label="float32 in")]
    upcast = lambda x, s: x * np.float64(s) if x.dtype == np.float64 else x.astype(float) * s  # noqa: E731
    assert check_function(upcast, _scaled, cases, exercise="scale").status == PASSED
    v = check_function(upcast, _scaled, cases, exercise="scale", dtypes=True)
    assert v.status == FAILED
    assert "case 2 of 2: float32 in" in v.message
    assert "expected float32 array, got float64 array" in v.message
    assert "float32 in, float32 out" in v.message  # DTYPE_HINT
    v = check_function(upcast, _scaled, cases, exercise="scale", dtypes=True,
                       dtype_hint="cast the result")
    assert "hint: cast the result" in v.message and "float32 in" not in v.message.split("hint")[1]
    assert check_function(_scaled, _scaled, cases, exercise="scale", dtypes=True).status == PASSED


def test_the_dtype_pass_waits_for_the_values_and_compares_numbers_by_value_only():
    cases = [Case((np.array([1.0, 2.0], dtype=np.float32), 2.0))]
    wrong = check_function(lambda x, s: x.astype(float) * s + 1, _scaled, cases,
                           exercise="scale", dtypes=True)
    assert "wrong values" in wrong.message and "float64 array" not in wrong.message
    norm = lambda x, s: float(np.sqrt((x * s) @ (x * s)))  # noqa: E731
    as_f32 = lambda x, s: np.float32(np.sqrt((x * s) @ (x * s)))  # noqa: E731
    assert check_function(as_f32, norm, cases, exercise="norm", dtypes=True).status == PASSED


def test_a_seeded_case_holds_what_its_rebuild_line_draws():
    case = seeded_case(7, "two draws", "float32", x=(3, 2), w=((4,), 0, 3),
                       z="rng.normal(size=2)")
    assert case.label == "two draws"
    x, w, z = case.args
    assert x.dtype == np.float32 and x.shape == (3, 2) and np.all(np.abs(x) <= 1)
    assert np.all((x * 4) == np.round(x * 4))  # quarters
    assert w.dtype == np.float32 and set(np.unique(w * 4)) <= {0.0, 1.0, 2.0}
    assert z.dtype == np.float64
    rebuilt = rebuilt_inputs(case)
    for name, value in zip("xwz", case.args, strict=True):
        np.testing.assert_array_equal(rebuilt[name], value)
        assert rebuilt[name].dtype == value.dtype


def test_a_dtype_problem_shows_the_dtype_hint_even_on_a_case_with_its_own_hint():
    cases = [Case((np.array([1.0, 2.0], dtype=np.float32), 2.0), hint="about the values")]
    v = check_function(lambda x, s: x.astype(float) * s, _scaled, cases, exercise="scale",
                       dtypes=True, dtype_hint="the dtype hint")
    assert "hint: the dtype hint" in v.message and "about the values" not in v.message


def test_normal_code_draws_from_the_cases_generator():
    from dlteach.checking import normal_code

    assert normal_code(4, 3) == "rng.normal(size=(4, 3))"
    case = seeded_case(2, "normal", x=normal_code(4, 3, scale=0.5))
    np.testing.assert_array_equal(case.args[0],
                                  np.random.default_rng(2).normal(scale=0.5, size=(4, 3)))
