"""The exercise-check engine: run a learner's function, compare it with the reference.

A lesson's check cell calls a check such as ``ex.check_step(step)``; the check runs
the learner's function on a few :class:`Case` inputs, compares each result with the
library's reference implementation and returns a :class:`Verdict`, which Jupyter
displays as one short line::

    ✅ step: passed (6 cases)
    ❌ step: failed
       input: z = 0.0
       expected: 1
       got: 0
       hint: step(0) is 1 by convention: use z >= 0, not z > 0.
    ⏳ step: not attempted yet — replace raise NotImplementedError() with your code

The verdict also carries a machine-readable copy (mimetype :data:`VERDICT_MIMETYPE`)
that the course grader collects from executed notebooks. Every text is
deterministic (numbers rounded, no memory addresses, no timings), because stored
notebook outputs are compared by nbval.
"""

from __future__ import annotations

import copy
import html
import inspect
import re
import textwrap
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Number
from typing import Any

import numpy as np

from dlteach.errors import InvalidValueError

VERDICT_MIMETYPE = "application/vnd.dlteach.verdict+json"

PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
STATUSES = (PASSED, FAILED, NOT_ATTEMPTED)

NOT_ATTEMPTED_MESSAGE = "replace raise NotImplementedError() with your code"

_ICONS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⏳"}
_COLORS = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#9a6700"}
_INDENT = "   "
# Arrays up to this many elements are printed in full; larger ones are summarised.
_MAX_FULL_SIZE = 24
_WRAP = 88
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one exercise check.

    exercise: the exercise's name (``"weighted_sum"``).
    status: ``"passed"``, ``"failed"`` or ``"not attempted"``.
    message: for "passed" a short note (``"6 cases"``); for "failed" lines of
        ``key: value`` (``input``, ``expected``, ``got``, ``hint``); for
        "not attempted" what to do.
    """

    exercise: str
    status: str
    message: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InvalidValueError(
                f"Verdict: status must be one of {list(STATUSES)}, got {self.status!r}."
            )

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def text(self) -> str:
        """The verdict as plain text: one headline, then indented details if it failed."""
        icon = _ICONS[self.status]
        if self.status == PASSED:
            note = f" ({self.message})" if self.message else ""
            return f"{icon} {self.exercise}: passed{note}"
        if self.status == NOT_ATTEMPTED:
            note = f" — {self.message}" if self.message else ""
            return f"{icon} {self.exercise}: not attempted yet{note}"
        lines = [f"{icon} {self.exercise}: failed"]
        lines += [_INDENT + line for line in self.message.splitlines()]
        return "\n".join(lines)

    def html(self) -> str:
        """The same text as :meth:`text`, coloured by status, for notebook display."""
        color = _COLORS[self.status]
        body = html.escape(self.text())
        return (
            f'<pre style="color: {color}; white-space: pre-wrap; margin: 0.2em 0;">'
            f"{body}</pre>"
        )

    def to_dict(self) -> dict[str, str]:
        return {"exercise": self.exercise, "status": self.status, "message": self.message}

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "text/plain": self.text(),
            "text/html": self.html(),
            VERDICT_MIMETYPE: self.to_dict(),
        }
        if include is not None:
            bundle = {k: v for k, v in bundle.items() if k in set(include)}
        if exclude is not None:
            bundle = {k: v for k, v in bundle.items() if k not in set(exclude)}
        return bundle

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Case:
    """One input for a function exercise: ``fn(*args, **kwargs)``.

    label: a few words saying what the case tests (``"z exactly 0"``), shown on failure.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""


# ---------------------------------------------------------------- formatting


def format_number(x: object) -> str:
    """A number as deterministic text: ints exactly, floats rounded to 4 decimals."""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, complex | np.complexfloating):
        return f"{format_number(x.real)}{'+' if x.imag >= 0 else '-'}{format_number(abs(x.imag))}j"
    value = float(x)  # type: ignore[arg-type]
    if not np.isfinite(value) or value == 0 or 1e-4 <= abs(value) < 1e6:
        return np.format_float_positional(value, precision=4, trim="0")
    return np.format_float_scientific(value, precision=3, trim="0")


def format_value(x: object) -> str:
    """A compact, deterministic description of a value for a failure message.

    Small arrays print in full at 4 decimals; large ones as shape, dtype and first values.
    """
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return format_number(x.item()) if x.dtype.kind in "biufc" else _scrub(repr(x.item()))
        if x.dtype.kind not in "biufc":
            return f"array of shape {x.shape}, dtype {x.dtype}"
        if x.size <= _MAX_FULL_SIZE:
            return _array_text(x)
        first = ", ".join(format_number(v) for v in x.ravel()[:4])
        return f"array of shape {x.shape}, dtype {x.dtype}, first values [{first}, ...]"
    if isinstance(x, Number | np.number | np.bool_):
        return format_number(x)
    if isinstance(x, tuple | list):
        inner = ", ".join(format_value(v) for v in x)
        if isinstance(x, tuple):
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        return f"[{inner}]"
    if x is None:
        return "None"
    if isinstance(x, types.ModuleType):
        return f"module {x.__name__}"
    if callable(x):
        return f"a function {getattr(x, '__name__', type(x).__name__)}"
    text = _scrub(repr(x))
    return text if len(text) <= 120 else text[:117] + "..."


def _array_text(x: np.ndarray) -> str:
    if x.dtype.kind == "b" or x.dtype.kind in "iu":
        return np.array2string(x, separator=", ")
    return np.array2string(
        x,
        separator=", ",
        precision=4,
        floatmode="maxprec",
        suppress_small=False,
        max_line_width=88,
        formatter={"float_kind": format_number},
    )


def _scrub(text: str) -> str:
    """Remove memory addresses (``<object at 0x7f...>``): they change on every run."""
    return _ADDRESS.sub("", text)


def _labelled(name: str, value: object) -> str:
    """``name = value``, with continuation lines of a multi-line value aligned."""
    text = format_value(value)
    pad = " " * (len(name) + 3)
    return f"{name} = " + text.replace("\n", "\n" + pad)


def _describe_input(names: Sequence[str], values: Sequence[object]) -> list[str]:
    parts = [_labelled(n, v) for n, v in zip(names, values, strict=True)]
    if not parts:
        return ["input: (no arguments)"]
    one_line = ", ".join(parts)
    if "\n" not in one_line and len(one_line) <= 80:
        return [f"input: {one_line}"]
    lines = ["input:"]
    for part in parts:
        lines += [_INDENT + line for line in part.splitlines()]
    return lines


def _block(key: str, value: str) -> list[str]:
    """``key: value`` where value may span several lines (continuations indented).

    Prose (problem, hint) is wrapped at about 88 characters; values keep their layout.
    """
    pad = " " * (len(key) + 2)
    if key in ("problem", "hint"):
        wrapped = textwrap.wrap(value, width=_WRAP - len(pad), break_on_hyphens=False)
        return [f"{key}: " + "\n".join(wrapped).replace("\n", "\n" + pad)]
    first, *rest = value.splitlines() or [""]
    return [f"{key}: {first}"] + [pad + line for line in rest]


# ---------------------------------------------------------------- comparing


def _is_scalar(x: object) -> bool:
    return isinstance(x, Number | np.number | np.bool_) or (
        isinstance(x, np.ndarray) and x.ndim == 0
    )


def _is_int(x: object) -> bool:
    return isinstance(x, Integral | np.integer) and not isinstance(x, bool | np.bool_)


def _is_bool(x: object) -> bool:
    """A boolean, or an array of booleans."""
    return isinstance(x, bool | np.bool_) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def _type_problem(expected: object, got: object, *, integers: bool, booleans: bool) -> str | None:
    """What is wrong with the type of a result whose values are right, or None."""
    if not booleans and _is_bool(got) and not _is_bool(expected):
        return "expected 0/1 integers, got booleans (True/False)"
    if integers and _is_int(expected) and not _is_int(got):
        return f"expected an int, got {_kind(got)}"
    return None


def compare(expected: object, got: object, *, rtol: float = 1e-6, atol: float = 1e-8) -> str | None:
    """None when ``got`` matches ``expected``, else one sentence saying how it differs.

    Arrays are compared by shape first, then by value (``np.allclose``); tuples and
    lists element by element; numbers with the same tolerances; anything else with ``==``.
    """
    if got is None and expected is not None:
        return "your function returned None: did you forget the return statement?"
    if isinstance(expected, tuple | list):
        if not isinstance(got, tuple | list):
            return (
                f"expected a tuple of {len(expected)} values, got {_kind(got)}"
            )
        if len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {len(got)} values"
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            reason = compare(e, g, rtol=rtol, atol=atol)
            if reason is not None:
                return f"element [{i}] of the result: {reason}"
        return None
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        return _compare_arrays(expected, got, rtol=rtol, atol=atol)
    if _is_scalar(expected):
        if isinstance(got, np.ndarray) and got.ndim > 0:
            return f"expected a single number, got an array of shape {got.shape}"
        if not _is_scalar(got):
            return f"expected a number, got {_kind(got)}"
        e, g = np.asarray(expected), np.asarray(got)
        if g.dtype.kind not in "biufc":
            return f"expected a number, got {_kind(got)}"
        if not np.isclose(_num(g), _num(e), rtol=rtol, atol=atol, equal_nan=True):
            return f"expected {format_number(e.item())}, got {format_number(g.item())}"
        return None
    if got != expected:
        return f"expected {format_value(expected)}, got {format_value(got)}"
    return None


def _num(a: np.ndarray) -> np.ndarray:
    """Booleans and integers as float64, so that isclose can subtract them."""
    return a.astype(np.float64) if a.dtype.kind in "biu" else a


def _kind(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"a {type(x).__name__} ({format_value(x)})"


def _compare_arrays(expected: np.ndarray, got: object, *, rtol: float, atol: float) -> str | None:
    if _is_scalar(got) and expected.size == 1:
        return f"expected an array of shape {expected.shape}, got a single number"
    if not isinstance(got, np.ndarray | list | tuple) and not _is_scalar(got):
        return f"expected an array of shape {expected.shape}, got {_kind(got)}"
    try:
        g = np.asarray(got)
    except ValueError:  # ragged lists
        return f"expected an array of shape {expected.shape}, got a ragged list"
    if g.shape != expected.shape:
        return f"expected an array of shape {expected.shape}, got shape {g.shape}"
    if g.dtype.kind not in "biufc":
        return f"expected an array of numbers, got dtype {g.dtype}"
    close = np.isclose(_num(g), _num(expected), rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    where = "[" + ", ".join(map(str, index)) + "]"
    n_bad = int((~close).sum())
    return (
        f"{n_bad} of {close.size} values differ; the first at index {where}: "
        f"expected {format_number(expected[index])}, got {format_number(g[index])}"
    )


def _equal(a: object, b: object) -> bool:
    """Exact equality used to detect a mutated input (NaN equals NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.shape != b_arr.shape or a_arr.dtype != b_arr.dtype:
            return False
        if a_arr.dtype.kind in "fc":
            return bool(np.array_equal(a_arr, b_arr, equal_nan=True))
        return bool(np.array_equal(a_arr, b_arr))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # an object whose == does not return a bool
        return a is b


# ---------------------------------------------------------------- checks


def _named(fn: Callable, args: tuple, kwargs: dict) -> dict[str, object]:
    """A call's arguments keyed by ``fn``'s parameter names (``argument 1`` if unknown)."""
    try:
        return dict(inspect.signature(fn).bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        named: dict[str, object] = {f"argument {i + 1}": a for i, a in enumerate(args)}
        named.update(kwargs)
        return named


def _failed(
    exercise: str,
    *,
    case: Case,
    index: int,
    n_cases: int,
    names: list[str],
    values: list[object],
    hint: str,
    problem: str,
    expected: object,
    got: object = None,
    show_got: bool = True,
) -> Verdict:
    label = f": {case.label}" if case.label else ""
    lines = [f"case {index + 1} of {n_cases}{label}"]
    lines += _block("problem", problem)
    lines += _describe_input(names, values)
    lines += _block("expected", format_value(expected))
    if show_got:
        lines += _block("got", format_value(got))
    if hint:
        lines += _block("hint", hint)
    return Verdict(exercise, FAILED, "\n".join(lines))


def failed_verdict(exercise: str, *lines: tuple[str, str]) -> Verdict:
    """A failed verdict from ``(key, text)`` lines, laid out as :func:`check_function` does.

    For checks that cannot be a plain comparison of results. The key "" gives a line of
    its own ("case 1 of 5: ...", "your (w, b) = ..."); "problem" and "hint" are prose,
    wrapped, and other keys keep the layout of their (possibly multi-line) text.
    """
    out: list[str] = []
    for key, text in lines:
        out += [text] if not key else _block(key, text)
    return Verdict(exercise, FAILED, "\n".join(out))


def not_attempted(exercise: str) -> Verdict:
    """The verdict for an exercise whose stub still raises NotImplementedError."""
    return Verdict(exercise, NOT_ATTEMPTED, NOT_ATTEMPTED_MESSAGE)


def check_function(
    student_fn: object,
    reference_fn: Callable,
    cases: Iterable[Case | tuple],
    *,
    exercise: str,
    hint: str = "",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    integers: bool = False,
    booleans: bool = True,
) -> Verdict:
    """Run ``student_fn`` and ``reference_fn`` on every case and compare the results.

    integers: where the reference returns an int, require one (2.0 is then wrong: a size
    or a count used as an index or a shape must be a whole number).
    booleans: False to refuse True/False where the reference returns numbers (they
    compare equal to 1/0, so only their type gives them away).
    Such type problems are reported once every value is right: the values tell more.

    Each function gets its own deep copy of the inputs, so the learner cannot spoil a
    later case; a learner function that modifies an input fails (the caller owns it).
    The first failing case is reported with its input, the expected and obtained
    values and the ``hint``. A stub raising NotImplementedError is "not attempted";
    any other exception is a failure naming its type and message (no traceback).
    A bare tuple in ``cases`` is taken as the positional arguments of one case.
    """
    case_list = [c if isinstance(c, Case) else Case(tuple(c)) for c in cases]
    if not case_list:
        raise InvalidValueError(f"check_function({exercise}): needs at least one case, got none.")
    if not callable(student_fn):
        return Verdict(
            exercise,
            FAILED,
            "\n".join(
                _block(
                    "problem",
                    f"expected a function, got {_kind(student_fn)}. Pass the function "
                    f"itself, without calling it: check_{exercise}({exercise}).",
                )
            ),
        )
    n = len(case_list)
    wrong_type: dict | None = None
    for i, case in enumerate(case_list):
        named = _named(reference_fn, case.args, case.kwargs)
        names, values = list(named), list(named.values())
        expected = reference_fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        common = dict(case=case, index=i, n_cases=n, names=names, values=values, hint=hint)
        try:
            got = student_fn(*args, **kwargs)
        except NotImplementedError:
            return not_attempted(exercise)
        except Exception as exc:  # the learner's bug, reported without a traceback
            message = _scrub(str(exc)).strip()
            raised = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            return _failed(
                exercise,
                problem=f"your function raised {raised}",
                expected=expected,
                show_got=False,
                **common,  # type: ignore[arg-type]
            )
        after = _named(reference_fn, args, kwargs)
        for name, before in named.items():
            if not _equal(before, after[name]):
                return _failed(
                    exercise,
                    problem=(
                        f"your function modified its input {name} in place; the caller "
                        f"owns it. Compute a new value (w = w + ...) instead of "
                        f"changing it (w += ...)"
                    ),
                    expected=expected,
                    got=got,
                    **common,  # type: ignore[arg-type]
                )
        reason = compare(expected, got, rtol=rtol, atol=atol)
        if reason is not None:
            if _is_scalar(expected) and _is_scalar(got):
                reason = "wrong value"  # the expected and got lines say the rest
            return _failed(exercise, problem=reason, expected=expected, got=got, **common)  # type: ignore[arg-type]
        problem = _type_problem(expected, got, integers=integers, booleans=booleans)
        if problem and wrong_type is None:
            wrong_type = dict(problem=problem, expected=expected, got=got, **common)
    if wrong_type is not None:  # reported once every value is right: values tell more
        return _failed(exercise, **wrong_type)  # type: ignore[arg-type]
    return Verdict(exercise, PASSED, f"{n} case{'s' if n != 1 else ''}")


def check_value(
    student_value: object,
    expected: object,
    *,
    exercise: str,
    hint: str = "",
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> Verdict:
    """Compare a value the learner computed with the expected one.

    ``...`` (Ellipsis, the usual placeholder) counts as not attempted.
    """
    if student_value is Ellipsis:
        return not_attempted(exercise)
    reason = compare(expected, student_value, rtol=rtol, atol=atol)
    if reason is None:
        return Verdict(exercise, PASSED, "correct value")
    lines = _block("problem", reason)
    lines += _block("expected", format_value(expected))
    lines += _block("got", format_value(student_value))
    if hint:
        lines += _block("hint", hint)
    return Verdict(exercise, FAILED, "\n".join(lines))
