"""The tests every lesson's exercise checks share, as a base class to subclass per lesson.

A lesson's test file names what differs, as class keywords, and inherits the tests::

    class TestLesson01Exercises(
        LessonExerciseTests, lesson="01_perceptron", exercises=lesson01,
        references={"step": perceptron.step, ...}, exec_globals={"np": np},
    ):
        '''Lesson 1's checks and notebook, by the tests every lesson shares.'''

Tests that take ``name`` run once per exercise the lesson registers (see
``pytest_generate_tests``). The lesson notebook is ``solutions/<lesson>.ipynb``; its
learner version comes from the library's own generator, ``make_learner_notebook``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import nbformat
import pytest

from dlteach.checking import VERDICT_MIMETYPE
from dlteach.exercises import LESSON_EXERCISES, expected_exercises
from dlteach.tools.learner import make_learner_notebook

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"

BEGIN_SOLUTION = re.compile(r"^\s*### BEGIN SOLUTION\s*$", re.M)
CHECK_CELL = re.compile(r"ex\.check_(\w+)\((\w+)\)")


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def flat(message: str) -> str:
    """The message with its line wrapping undone, to match wrapped hints."""
    return " ".join(message.split())


def failed_at(verdict, label: str, *hint_fragments: str) -> None:
    """The verdict failed on the case labelled ``label``, its hint showing the fragments."""
    assert verdict.status == "failed", verdict.text()
    assert label in verdict.message, verdict.message
    for fragment in hint_fragments:
        assert fragment in flat(verdict.message), (fragment, verdict.message)


def quiet(check, fn):
    """check(fn) with NumPy's overflow and invalid-value warnings silenced (wrong answers
    that overflow are the point of some cases)."""
    import numpy as np

    with np.errstate(all="ignore"):
        return check(fn)


def assert_failed_showing(verdict, *fragments: str) -> None:
    """The verdict failed, and its message shows each fragment word for word."""
    assert verdict.status == "failed", verdict.text()
    for fragment in fragments:
        assert fragment in verdict.message, f"{fragment!r} is not in:\n{verdict.message}"


class LessonExerciseTests:
    """Generic tests of one lesson's exercise checks and its solution notebook."""

    lesson: ClassVar[str]  # the notebook's stem, e.g. "01_perceptron"
    exercises: ClassVar[ModuleType]  # the lesson's dlteach.exercises module
    # exercise name -> a correct solution, written as a learner would (or the library's)
    references: ClassVar[dict[str, Callable[..., Any]]]
    # names the notebook's exercise cells use without defining them (np, dl, ...)
    exec_globals: ClassVar[dict[str, Any]]
    # True: each exercise cell must run on its own, needing nothing from the cells
    # before it; False: the cells run in order in one namespace, as in the notebook
    cells_stand_alone: ClassVar[bool]
    # the fewest test cases any of the lesson's checks may run
    min_cases: ClassVar[int]

    def __init_subclass__(
        cls,
        *,
        lesson: str,
        exercises: ModuleType,
        references: dict[str, Callable[..., Any]],
        exec_globals: dict[str, Any],
        cells_stand_alone: bool = False,
        min_cases: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.lesson, cls.exercises, cls.references = lesson, exercises, references
        cls.exec_globals, cls.cells_stand_alone, cls.min_cases = (
            exec_globals, cells_stand_alone, min_cases)

    @property
    def names(self) -> tuple[str, ...]:
        return LESSON_EXERCISES[self.lesson]

    @property
    def notebook(self) -> Path:
        return SOLUTIONS / f"{self.lesson}.ipynb"

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "name" in metafunc.fixturenames:
            metafunc.parametrize("name", self.names)

    def check(self, name: str, fn: object):
        return getattr(self.exercises, f"check_{name}")(fn)

    # ------------------------------------------------------------ the registry

    def test_every_registered_exercise_has_a_check(self):
        assert self.exercises.LESSON == self.lesson
        assert self.exercises.EXERCISES == self.names
        assert set(self.names) == set(self.references)
        for name in self.names:
            assert callable(getattr(self.exercises, f"check_{name}"))

    def test_expected_exercises_looks_up_the_notebook_stem(self):
        lesson = self.lesson
        assert expected_exercises(f"solutions/{lesson}.ipynb") == self.names
        assert expected_exercises(f"notebooks/{lesson}.ipynb") == self.names
        assert expected_exercises(Path(f"/elsewhere/notebooks/{lesson}.ipynb")) == self.names
        assert expected_exercises("notebooks/99_unknown.ipynb") is None

    # ------------------------------------------------------------ each check

    def test_the_reference_passes(self, name):
        verdict = self.check(name, self.references[name])
        assert verdict.status == "passed", verdict.text()
        assert verdict.exercise == name
        match = re.fullmatch(rf"✅ {name}: passed \((\d+) (cases?)\)", verdict.text())
        assert match, verdict.text()
        count, noun = int(match.group(1)), match.group(2)
        assert count >= self.min_cases
        assert noun == ("case" if count == 1 else "cases")

    def test_a_stub_is_not_attempted(self, name):
        verdict = self.check(name, stub)
        assert verdict.status == "not attempted"
        assert verdict.text().startswith(f"⏳ {name}: not attempted yet")

    def test_a_value_instead_of_a_function_fails_with_advice(self, name):
        verdict = self.check(name, 42)
        assert verdict.status == "failed"
        assert f"check_{name}({name})" in verdict.message

    # ------------------------------------------------------------ the lesson notebook

    def _notebook_exercises(self) -> list[tuple[str, str, str]]:
        """(name, solution source, learner source) of each exercise cell, in order.

        An exercise cell holds a ``### BEGIN SOLUTION`` line; the code cell after it
        must be exactly ``ex.check_<name>(<name>)``.
        """
        solved = nbformat.read(self.notebook, as_version=4)
        learner = make_learner_notebook(solved, name=f"solutions/{self.notebook.name}")
        assert len(learner.cells) == len(solved.cells)
        code = [(s.source, g.source) for s, g in zip(solved.cells, learner.cells, strict=True)
                if s.cell_type == "code"]
        found = []
        for i, (src, learner_src) in enumerate(code):
            if BEGIN_SOLUTION.search(src):
                after = code[i + 1][0] if i + 1 < len(code) else None
                match = CHECK_CELL.fullmatch(after.strip()) if after is not None else None
                assert match, f"the cell after an exercise must be its check, got {after!r}"
                assert match.group(1) == match.group(2)
                found.append((match.group(1), src, learner_src))
        return found

    def test_the_notebook_has_the_registered_exercises_in_order_each_followed_by_its_check(
        self,
    ):
        assert [name for name, _, _ in self._notebook_exercises()] == list(self.names)

    def test_the_notebook_solutions_pass_and_the_learner_cells_are_not_attempted(self):
        solved = dict(self.exec_globals)
        stripped = dict(self.exec_globals)
        for name, src, learner_src in self._notebook_exercises():
            assert learner_src != src
            assert "### BEGIN SOLUTION" not in learner_src
            if self.cells_stand_alone:
                solved = dict(self.exec_globals)
                stripped = dict(self.exec_globals)
            exec(src, solved)
            exec(learner_src, stripped)
            verdict = self.check(name, solved[name])
            assert verdict.status == "passed", verdict.text()
            assert self.check(name, stripped[name]).status == "not attempted"

    def test_the_stored_notebook_outputs_record_every_exercise_as_passed(self):
        nb = nbformat.read(self.notebook, as_version=4)
        verdicts = {}
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                found = out.get("data", {}).get(VERDICT_MIMETYPE)
                if found:
                    verdicts[found["exercise"]] = found["status"]
        assert verdicts == dict.fromkeys(self.names, "passed")
