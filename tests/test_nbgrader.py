"""The course works in nbgrader as it is: cell metadata from the lessons, autograded checks."""

from __future__ import annotations

import copy
import inspect
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import nbformat.v4 as v4
import numpy as np
import pytest

from dlteach import exercises
from dlteach.checking import ExerciseNotPassed, graded
from dlteach.exercises import LESSON_EXERCISES, lesson01
from dlteach.tools.catalog import LESSONS
from dlteach.tools.learner import make_learner_notebook
from dlteach.tools.nbgrader_cells import (
    has_nbgrader_metadata,
    nbgrader_metadata,
    with_nbgrader_metadata,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"


def _nb(*sources: str) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell(s[3:]) if s.startswith("md:") else v4.new_code_cell(s)
                for s in sources]
    return nb


SOLUTION = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"


# ---------------------------------------------------------------- metadata from the lesson


def test_each_solution_cell_and_its_check_become_a_solution_and_a_test_cell():
    nb = _nb("md:# title", "import numpy as np", SOLUTION, "ex.check_f(f)",
             "def g(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
             "print('between')", "ex.check_g(g)")
    wanted = nbgrader_metadata(nb)
    assert wanted[0] is None and wanted[1] is None and wanted[5] is None
    assert wanted[2] == {"grade": False, "grade_id": "f", "locked": False,
                         "schema_version": 3, "solution": True}
    assert wanted[3] == {"grade": True, "grade_id": "check_f", "locked": True, "points": 1,
                         "schema_version": 3, "solution": False}
    assert wanted[4]["grade_id"] == "g" and wanted[6]["grade_id"] == "check_g"


def test_grade_ids_stay_unique_for_split_solutions_repeated_checks_and_unchecked_cells():
    nb = _nb(SOLUTION, SOLUTION.replace("f(", "helper("), "ex.check_f(f)",
             "ex.check_f(f)", SOLUTION.replace("f(", "extra("))
    ids = [m["grade_id"] for m in nbgrader_metadata(nb)]
    assert ids == ["f", "f_2", "check_f", "check_f_2", "extra"]
    assert len(set(ids)) == len(ids)


def test_stamping_replaces_stale_metadata_and_leaves_the_input_alone():
    nb = _nb("print(1)", SOLUTION, "ex.check_f(f)")
    nb.cells[0].metadata["nbgrader"] = {"grade": True, "grade_id": "old", "points": 3}
    nb.cells[1].metadata["tags"] = ["keep-me"]
    assert not has_nbgrader_metadata(nb)
    stamped = with_nbgrader_metadata(nb)
    assert has_nbgrader_metadata(stamped)
    assert "nbgrader" not in stamped.cells[0].metadata
    assert stamped.cells[1].metadata["tags"] == ["keep-me"]
    assert nb.cells[0].metadata["nbgrader"]["grade_id"] == "old"  # the input is unchanged


@pytest.mark.parametrize("lesson", [lesson.stem for lesson in LESSONS])
def test_every_solution_carries_its_exercises_as_nbgrader_cells(lesson):
    nb = nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4)
    assert has_nbgrader_metadata(nb), "run 'python -m dlteach generate'"
    tests = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade")]
    assert tests == [f"check_{name}" for name in LESSON_EXERCISES[lesson]]


# ---------------------------------------------------------------- checks under the autograder


def _wrong_step(z):
    return np.where(np.asarray(z) > 0, 1, 0)


def test_a_check_raises_under_nbgrader_only_when_the_exercise_did_not_pass(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert lesson01.check_step(_wrong_step).status == "failed"  # a lesson: a verdict
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ExerciseNotPassed, match="step: failed"):
        lesson01.check_step(_wrong_step)
    with pytest.raises(ExerciseNotPassed, match="weighted_sum: not attempted"):
        lesson01.check_weighted_sum(lambda x, w, b: (_ for _ in ()).throw(NotImplementedError))
    assert lesson01.check_step(lesson01.step).status == "passed"


def test_every_check_of_every_lesson_is_graded():
    for lesson, names in LESSON_EXERCISES.items():
        module = __import__(f"dlteach.exercises.lesson{lesson[:2]}", fromlist=["_"])
        for name in names:
            check = getattr(module, f"check_{name}")
            assert getattr(check, "graded", False), f"{module.__name__}.check_{name}: @graded"
            assert inspect.signature(check) == inspect.signature(check.__wrapped__)
    assert exercises.__name__ == "dlteach.exercises"
    assert graded(lambda: None).graded


# ---------------------------------------------------------------- nbgrader itself


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # nbgrader starts the kernel its notebooks name ("python3"): this interpreter's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("NBGRADER_EXECUTION", None)
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _code_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _answered(release: nbformat.NotebookNode, solution: nbformat.NotebookNode,
              wrong: str = "") -> nbformat.NotebookNode:
    """The released notebook with every solution cell answered as in ``solution``; the
    cell of exercise ``wrong`` answers None instead."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id]
            if grade_id == wrong:
                head = cell.source.split("### BEGIN SOLUTION")[0]
                cell.source = head + "return None"
    return nb


def test_nbgrader_generates_the_same_stubs_and_autogrades_a_correct_and_a_wrong_copy(tmp_path):
    pytest.importorskip("nbgrader")
    lesson = "01_perceptron"
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    solution = nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4)
    nbformat.write(solution, course / "source" / "ps1" / f"{lesson}.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'dlteach'\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.ExecutePreprocessor.timeout = 120\n")
    _nbgrader(course, "generate_assignment", "ps1")
    release = nbformat.read(course / "release" / "ps1" / f"{lesson}.ipynb", as_version=4)
    # the learner notebook dlteach generates has the same code, stub for stub
    assert _code_sources(release) == _code_sources(make_learner_notebook(solution))

    for student, wrong in (("alice", ""), ("bob", "step")):
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        nbformat.write(_answered(release, solution, wrong), folder / f"{lesson}.ipynb")
    _nbgrader(course, "autograde", "ps1")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        n = len(LESSON_EXERCISES[lesson])
        alice = gradebook.find_submission("ps1", "alice")
        bob = gradebook.find_submission("ps1", "bob")
        assert (alice.score, alice.max_score) == (n, n)
        assert (bob.score, bob.max_score) == (n - 1, n)
        lost = [g.name for g in gradebook.find_submission_notebook(lesson, "ps1", "bob").grades
                if g.max_score and g.score < g.max_score]
        assert lost == ["check_step"]
    _nbgrader(course, "export")
    grades = (course / "grades.csv").read_text()
    assert any(line.startswith("ps1,") and ",alice," in line and f",{n}.0," in line
               for line in grades.splitlines()), grades
    graded_copy = nbformat.read(course / "autograded" / "bob" / "ps1" / f"{lesson}.ipynb",
                                as_version=4)
    cell = next(c for c in graded_copy.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "check_step")
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    assert "❌ step: failed" in shown  # the learner's feedback shows the lesson's verdict
