"""The exercise-check engine: run a learner's function, compare it with the reference.

A lesson's check cell calls a check such as ``ex.check_step(step)``; the check runs
the learner's function on a few :class:`Case` inputs, compares each result with the
library's reference implementation and returns a :class:`Verdict`, which Jupyter
displays as one short line::

    ✅ step: passed (6 cases)
    ❌ step: failed
       case 4 of 5: an array
       problem: wrong values
       input: z = [-2.0, -0.001, 0.0, 0.001, 3.0]
       expected: [0, 0, 1, 1, 1]
       got: [0, 0, 0, 1, 1]
       differ: 1 of 5 entries; first at [2]: expected 1, got 0
       hint: step(0) is 1 by convention: use z >= 0, not z > 0.
    ⏳ step: not attempted yet — replace raise NotImplementedError() with your code

A failure is one block, in this order: the case, the problem, the input, the expected
and obtained values, where they differ (arrays: how many entries, the first differing
index and both values there, with as many digits as it takes to tell them apart) and
the hint. Inputs are printed exactly (every digit), so a learner can paste them; an
input too big to print (more than 24 entries) is summarised, and the case's
``rebuild`` line (see :class:`Case`) gives the one line of code that recreates it.

The verdict also carries a machine-readable copy (mimetype :data:`VERDICT_MIMETYPE`)
that the course grader collects from executed notebooks. Every text is
deterministic (numbers rounded, no memory addresses, no timings), because stored
notebook outputs are compared by nbval.
"""

from __future__ import annotations

import copy
import functools
import html
import inspect
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from numbers import Number
from typing import Any

import numpy as np

from dlteach.errors import InvalidValueError
from dlteach.feedback import (
    _INDENT,
    _block,
    _describe_input,
    _difference,
    _equal,
    _is_scalar,
    _kind,
    _modified,
    _problem,
    _results,
    _scrub,
    _too_big,
    _type_problem,
    compare,
    format_number,
    format_value,
)

__all__ = [
    "DTYPE_HINT",
    "FAILED",
    "NOT_ATTEMPTED",
    "PASSED",
    "STATUSES",
    "VERDICT_MIMETYPE",
    "Case",
    "ExerciseNotPassed",
    "Verdict",
    "check_function",
    "check_value",
    "check_with_case_hints",
    "compare",
    "failed_verdict",
    "format_number",
    "format_value",
    "graded",
    "not_attempted",
    "rebuilt_inputs",
    "seeded_case",
]

VERDICT_MIMETYPE = "application/vnd.dlteach.verdict+json"

PASSED = "passed"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
STATUSES = (PASSED, FAILED, NOT_ATTEMPTED)

NOT_ATTEMPTED_MESSAGE = "replace raise NotImplementedError() with your code"

_ICONS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⏳"}
_COLORS = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#9a6700"}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one exercise check.

    exercise: the exercise's name (``"weighted_sum"``).
    status: ``"passed"``, ``"failed"`` or ``"not attempted"``.
    message: for "passed" a short note (``"6 cases"``); for "failed" lines of
        ``key: value`` (``problem``, ``input``, ``rebuild``, ``expected``, ``got``,
        ``differ``, ``hint``); for
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
    hint: what this case probes and which property a failing answer breaks, shown
        instead of the check's general hint when this case fails on its values.
    rebuild: one line of Python (``np`` is NumPy) that recreates the case's arguments,
        each under the reference's parameter name, for inputs too big to print::

            Case((X,), label="64 examples",
                 rebuild="x = np.random.default_rng(3).normal(size=(64, 16))")

        A failing verdict shows it (after the check's ``setup``, see :func:`check_function`)
        as ``rebuild: ...`` when an input is summarised, and only if running it gives
        exactly the inputs (same values, shape and dtype); :func:`rebuilt_inputs` runs it,
        so a lesson's tests can assert that it does.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    rebuild: str = ""
    hint: str = ""  # this case's own hint, shown instead of the check's when it fails


def rebuilt_inputs(case: Case, setup: str = "") -> dict[str, object]:
    """The names that ``setup`` then ``case.rebuild`` define, run with ``np`` = NumPy."""
    namespace: dict[str, object] = {"np": np}
    exec(f"{setup}\n{case.rebuild}", namespace)  # library-written code, see Case
    del namespace["np"]
    namespace.pop("__builtins__", None)
    return namespace


def seeded_case(seed: int, label: str, dtype: str = "", **draws: object) -> Case:
    """A case drawn from ``np.random.default_rng(seed)`` by one line of code, which is also
    its rebuild line. Each keyword is an argument, in order: a shape (random multiples of
    0.25 in [-1, 1]), ``(shape, low, high)`` (multiples of 0.25 in [low/4, (high-1)/4]) or
    code using ``rng``. Quarters are exact in binary: short to print, exact float32 sums
    and products. ``dtype`` ("float32") casts the drawn shapes, not the code arguments::

        seeded_case(1, "a batch of 4", x=(4, 3), W="rng.normal(size=(3, 5))")
    """
    cast = f".astype(np.{dtype})" if dtype else ""
    code = [f"rng = np.random.default_rng({seed})"]
    for name, draw in draws.items():
        if not isinstance(draw, str):
            shape, low, high = draw if isinstance(draw[0], tuple) else (draw, -4, 5)
            draw = f"rng.integers({low}, {high}, size={shape}){cast} / 4"
        code.append(f"{name} = {draw}")
    line = "; ".join(code)
    made = rebuilt_inputs(Case(rebuild=line))
    return Case(tuple(made[name] for name in draws), label=label, rebuild=line)


def normal_code(*shape: int, scale: float = 1.0) -> str:
    """Code drawing normal random numbers of this shape from ``rng``, for a
    :func:`seeded_case` argument: ``normal_code(4, 3, scale=0.5)``."""
    return f"rng.normal({'' if scale == 1 else f'scale={scale}, '}size={shape})"


# ---------------------------------------------------------------- formatting


def _rebuild_line(case: Case, setup: str, named: dict[str, object]) -> str:
    """The case's rebuild code if an input is too big to print and the code recreates
    every such input exactly; else ""."""
    big = [name for name, value in named.items() if _too_big(value)]
    if not big:
        return ""
    if not case.rebuild:  # no code given: spell the big arrays out, if that stays short
        case, setup = replace(case, rebuild=_literal_rebuild(named, big)), ""
        if not case.rebuild:
            return ""
    try:
        rebuilt = rebuilt_inputs(case, setup)
    except Exception:  # a wrong rebuild text must not hide the learner's verdict
        return ""
    if not all(name in rebuilt and _equal(rebuilt[name], named[name]) for name in big):
        return ""
    return f"{setup}; {case.rebuild}" if setup else case.rebuild


# A spelled-out array longer than this is no help: the case needs a rebuild expression.
_MAX_LITERAL = 2000


def _literal_rebuild(named: dict[str, object], big: list[str]) -> str:
    """``x = np.array([...], dtype=np.float64); ...`` for the big array inputs, exactly
    (Python's float repr round-trips), or "" when one is not an array or too long."""
    parts = []
    for name in big:
        value = named[name]
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            return ""
        whole = value.dtype.kind == "f" and np.isfinite(value).all() and (
            np.all(value == np.round(value)))
        items = value.astype(np.int64).tolist() if whole else value.tolist()
        parts.append(f"{name} = np.array({items!r}, dtype=np.{value.dtype})")
    text = "; ".join(parts)
    return text if len(text) <= _MAX_LITERAL else ""


# ---------------------------------------------------------------- comparing


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
    found: dict | None = None,
    rebuild: str = "",
) -> Verdict:
    """One block: case, problem, input (and rebuild), expected, got, differ, hint."""
    label = f": {case.label}" if case.label else ""
    lines = [f"case {index + 1} of {n_cases}{label}"]
    lines += _block("problem", problem)
    lines += _describe_input(names, values, rebuild)
    lines += _results(expected, got, found, show_got=show_got)
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


DTYPE_HINT = (
    "Every value is right, but not the dtype: a result keeps the dtype of the inputs "
    "(float32 in, float32 out), as every dlteach layer does. An array you create "
    "(np.zeros, np.ones, np.array, np.full) is float64 unless you give it the inputs' "
    "dtype."
)


class _Kind(str):
    """What the dtype pass compares ("float32 array", "a number"), printed without quotes."""

    __repr__ = str.__str__


def _kinds(result: object) -> object:
    """``result`` with each array replaced by its dtype; numbers (a norm) are not compared."""
    if isinstance(result, np.ndarray) and result.ndim > 0:
        return _Kind(f"{result.dtype} array")
    if isinstance(result, tuple | list):
        if result and all(isinstance(v, Number | np.number) for v in result):
            return _Kind(f"{np.asarray(result).dtype} array")  # a list standing for an array
        kinds = [_kinds(v) for v in result]
        return kinds if isinstance(result, list) else tuple(kinds)
    return _Kind("a number")


def _dtypes_of(fn: Callable) -> Callable:
    """fn, returning the kinds of its results (functools.wraps keeps the parameter names)."""
    return functools.wraps(fn)(lambda *args, **kwargs: _kinds(fn(*args, **kwargs)))


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
    setup: str = "",
    dtypes: bool = False,
    dtype_hint: str = DTYPE_HINT,
) -> Verdict:
    """Run ``student_fn`` and ``reference_fn`` on every case and compare the results.

    integers: where the reference returns an int, require one (2.0 is then wrong: a size
    or a count used as an index or a shape must be a whole number).
    booleans: False to refuse True/False where the reference returns numbers (they
    compare equal to 1/0, so only their type gives them away).
    Such type problems are reported once every value is right: the values tell more.
    dtypes: once every value is right, run the cases again comparing the dtypes of the
    results (each array's dtype; plain numbers are not compared), shown with
    ``dtype_hint``: float32 in, float32 out, the rule of every dlteach layer.

    Each function gets its own deep copy of the inputs, so the learner cannot spoil a
    later case; a learner function that modifies an input fails (the caller owns it).
    The first failing case is reported with its input, the expected and obtained
    values and the ``hint``. A stub raising NotImplementedError is "not attempted";
    any other exception is a failure naming its type and message (no traceback).
    A bare tuple in ``cases`` is taken as the positional arguments of one case.

    setup: one line of Python that every case's ``rebuild`` starts from, for cases drawn
    from one seeded Generator (``"rng = np.random.default_rng(3)"``); the verdict shows
    ``setup; rebuild`` when an input is too big to print (see :class:`Case`). A lesson
    module that builds a big input from a seeded Generator states it this way:

    - one generator per case: ``Case((X,), rebuild="x = np.random.default_rng(3)
      .normal(size=(64, 16))")``, or
    - one generator shared by the cases of a check: ``setup="rng = np.random.default_rng(3)"``
      and each case's rebuild repeating the draws that come before its own (so a case
      can be rebuilt alone): ``"_ = rng.normal(size=(4, 3)); x = rng.normal(size=(50, 3))"``.

    A rebuild that does not recreate the inputs exactly is left out of the verdict (the
    input is then only summarised); test it with :func:`rebuilt_inputs`.
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
        common = dict(case=case, index=i, n_cases=n, names=names, values=values,
                      hint=case.hint or hint, rebuild=_rebuild_line(case, setup, named))
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
        changed = [name for name, before in named.items() if not _equal(before, after[name])]
        if changed:
            return _failed(exercise, problem=_modified(changed), expected=expected, got=got,
                           **common)  # type: ignore[arg-type]
        found = _difference(expected, got, rtol=rtol, atol=atol)
        if found is not None:
            if _is_scalar(expected) and _is_scalar(got):
                problem = "wrong value"  # the expected and got lines say the rest
            else:
                problem = _problem(found)
            return _failed(exercise, problem=problem, expected=expected, got=got, found=found,
                           **common)  # type: ignore[arg-type]
        problem = _type_problem(expected, got, integers=integers, booleans=booleans)
        if problem and wrong_type is None:
            # A type problem (2.0 for a count) is the check's, not one case's: general hint.
            wrong_type = dict(problem=problem, expected=expected, got=got, **common)
            wrong_type["hint"] = hint
    if wrong_type is not None:  # reported once every value is right: values tell more
        return _failed(exercise, **wrong_type)  # type: ignore[arg-type]
    if dtypes:
        # A case's own hint is about its values: a dtype problem gets the dtype hint.
        plain = [replace(case, hint="") for case in case_list]
        verdict = check_function(_dtypes_of(student_fn), _dtypes_of(reference_fn), plain,
                                 exercise=exercise, hint=dtype_hint, setup=setup)
        if verdict.status != PASSED:
            return verdict
    return Verdict(exercise, PASSED, f"{n} case{'s' if n != 1 else ''}")


def check_with_case_hints(
    student_fn: object,
    reference_fn: Callable,
    cases: Iterable[tuple[Case, str | None]],
    *,
    exercise: str,
    hint: str,
    **options: Any,
) -> Verdict:
    """:func:`check_function` on ``(case, hint)`` pairs: a case's hint (None: the general
    ``hint``) is shown when that case fails. ``options`` go to check_function."""
    with_hints = [replace(case, hint=case_hint) if case_hint else case
                  for case, case_hint in cases]
    return check_function(student_fn, reference_fn, with_hints, exercise=exercise, hint=hint,
                          **options)


AUTOGRADE_VARIABLE = "NBGRADER_EXECUTION"  # set by nbgrader's autograde and validate


class ExerciseNotPassed(AssertionError):
    """Raised by a check under nbgrader's autograder when the exercise did not pass."""


def graded(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Decorate every exercise check of a lesson module with this.

    In a lesson, the check returns its :class:`Verdict` (Jupyter shows it). Under
    nbgrader's autograder (:data:`AUTOGRADE_VARIABLE` set) a verdict that is not
    "passed" is shown, then raises :class:`ExerciseNotPassed`: the check cell is an
    nbgrader test cell, and an error there is what nbgrader scores 0.
    """

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> Verdict:
        verdict = check(*args, **kwargs)
        if verdict.status != PASSED and os.environ.get(AUTOGRADE_VARIABLE):
            try:
                from IPython.display import display
            except ImportError:  # pragma: no cover - nbgrader runs IPython kernels
                pass
            else:
                display(verdict)
            raise ExerciseNotPassed(f"{verdict.exercise}: {verdict.status} (see above).")
        return verdict

    run.graded = True  # type: ignore[attr-defined]
    return run


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
    found = _difference(expected, student_value, rtol=rtol, atol=atol)
    if found is None:
        return Verdict(exercise, PASSED, "correct value")
    lines = _block("problem", _problem(found))
    lines += _results(expected, student_value, found)
    if hint:
        lines += _block("hint", hint)
    return Verdict(exercise, FAILED, "\n".join(lines))
