"""Every failing case can be reproduced from its message: an input too big to print has a
``rebuild`` line, and running that line gives exactly the case's inputs."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest

from dlteach import checking
from dlteach.checking import rebuilt_inputs
from dlteach.exercises import (
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
)
from dlteach.feedback import _equal, _too_big

LESSONS = (lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08,
           lesson09, lesson10)


def _cases_of(module, monkeypatch) -> list[tuple[str, checking.Case, str, object]]:
    """(check name, case, setup, reference) for every case every check of ``module`` runs."""
    seen = []
    real = checking.check_function

    def spy(student_fn, reference_fn, cases, *, setup="", **kw):
        cases = [c if isinstance(c, checking.Case) else checking.Case(tuple(c)) for c in cases]
        seen.extend((case, setup, reference_fn) for case in cases)
        return real(student_fn, reference_fn, cases, setup=setup, **kw)

    monkeypatch.setattr(checking, "check_function", spy)
    if hasattr(module, "check_function"):
        monkeypatch.setattr(module, "check_function", spy)
    found = []
    for name, check in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("check_") or check.__module__ != module.__name__:
            continue
        seen.clear()
        check(lambda *a, **k: None)  # a wrong answer: every case is built, one is run
        found += [(name, *item) for item in seen]
    return found


@pytest.mark.parametrize("module", LESSONS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_big_inputs_come_with_a_rebuild_line_that_recreates_them(module, monkeypatch):
    cases = _cases_of(module, monkeypatch)
    assert cases, f"no cases found in {module.__name__}"
    for check, case, setup, reference in cases:
        named = checking._named(reference, copy.deepcopy(case.args), copy.deepcopy(case.kwargs))
        if any(_too_big(v) for v in named.values()):
            line = checking._rebuild_line(case, setup, named)
            assert line, (f"{check}: case {case.label!r} has an input too big to print and "
                          "neither a rebuild line nor a short literal (see Case)")
            rebuilt = rebuilt_inputs(checking.Case(rebuild=line))
            for name, value in named.items():
                if _too_big(value):
                    assert _equal(value, rebuilt[name]) and rebuilt[name].dtype == value.dtype
        if case.rebuild:
            rebuilt = rebuilt_inputs(case, setup)
            for name, value in named.items():
                assert name in rebuilt, f"{check}: {case.label!r}: the rebuild lacks {name}"
                assert _equal(value, rebuilt[name]), f"{check}: {case.label!r}: {name} differs"
                if isinstance(value, np.ndarray):
                    assert rebuilt[name].dtype == value.dtype


def test_the_rebuild_line_is_shown_when_the_input_is_summarised():
    verdict = lesson03.check_accuracy(lambda y_true, y_pred: 1.0)
    assert verdict.status == "failed"
    verdict = lesson03.check_accuracy(
        lambda y_true, y_pred: float(np.mean(np.argmax(y_pred, 1) == y_true))
        if len(y_true) != 50 else 0.0)
    assert "rebuild: rng = np.random.default_rng(3); y_pred = rng.normal(size=(50, 10))" \
        in verdict.message
