"""The grader runs a notebook in a fresh kernel and reports every exercise's verdict."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import nbformat.v4 as v4
import pytest
from notebook_helpers import VERDICT, write

import dlteach.checking
from dlteach.exercises import expected_exercises
from dlteach.tools import execute, grader
from dlteach.tools.grader import (
    FAILED,
    NOT_ATTEMPTED,
    NOT_RUN,
    PASSED,
    VERDICT_MIMETYPE,
    ExerciseResult,
    GradeReport,
    collect_verdicts,
    grade,
)

REPO = Path(__file__).resolve().parents[1]
LESSON1 = REPO / "solutions" / "01_perceptron.ipynb"
needs_lesson1 = pytest.mark.skipif(not LESSON1.is_file(), reason="lesson 1 is not written yet")


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("# A tiny lesson", id="title")]
    nb.cells += [v4.new_code_cell(src, id=f"c{i}") for i, src in enumerate(sources)]
    return nb


def test_verdict_mimetype_matches_the_check_engine():
    assert VERDICT_MIMETYPE == dlteach.checking.VERDICT_MIMETYPE


def test_collect_verdicts_keeps_the_last_one_per_exercise():
    def out(exercise, status, message=""):
        payload = {"exercise": exercise, "status": status, "message": message}
        return v4.new_output("display_data", data={"text/plain": "x", VERDICT_MIMETYPE: payload})

    nb = notebook("a", "b")
    nb.cells[1].outputs = [out("a", "failed", "input: 1"), out("b", "not attempted")]
    nb.cells[2].outputs = [out("a", "passed", "3 cases"),
                           v4.new_output("stream", name="stdout", text="hello")]
    verdicts = collect_verdicts(nb)
    assert list(verdicts) == ["a", "b"]
    assert verdicts["a"] == ExerciseResult("a", PASSED, "3 cases")
    assert verdicts["b"].status == NOT_ATTEMPTED


def test_report_table_json_and_all_passed():
    report = GradeReport("x.ipynb", [ExerciseResult("a", PASSED, "2 cases"),
                                     ExerciseResult("b", FAILED, "input: x = 1\nexpected: 2")])
    assert not report.all_passed
    table = report.table()
    assert re.search(r"a\s+✅ passed", table) and re.search(r"b\s+❌ failed", table)
    assert "expected: 2" in table and "1/2 passed, 1 failed" in table
    data = json.loads(report.to_json())
    assert data["counts"] == {"passed": 1, "failed": 1, "not attempted": 0, "not run": 0}
    assert data["exercises"][1] == {"name": "b", "status": "failed",
                                    "message": "input: x = 1\nexpected: 2"}
    assert GradeReport("x.ipynb", [ExerciseResult("a", PASSED)]).all_passed
    assert not GradeReport("x.ipynb").all_passed  # nothing graded is not a pass


def test_errors_and_timeouts_are_reported_and_later_checks_still_run(tmp_path):
    path = write(notebook(
        VERDICT,
        "verdict('first', 'passed', '1 case')",
        "while True:\n    pass",
        "1 / 0",
        "verdict('second', 'failed', 'input: x = 4.0\\nexpected: 2.0')",
    ), tmp_path / "tiny.ipynb")
    report = grade(path, timeout_per_cell=2)
    assert report.error_kind == "unknown lesson"  # a made-up notebook: graded all the same
    assert report.exercises == [ExerciseResult("first", PASSED, "1 case"),
                                ExerciseResult("second", FAILED, "input: x = 4.0\nexpected: 2.0")]
    assert [(p.cell, p.kind) for p in report.problems] == [(4, "timeout"), (5, "error")]
    assert report.problems[0].message == (
        'cell 4 ("while True:") hit the 2 s time limit and was interrupted.')
    assert report.problems[1].message == (
        'cell 5 ("1 / 0") raised ZeroDivisionError: division by zero')
    table = report.table()
    assert "cell 4" in table and "expected: 2.0" in table and not report.all_passed


def test_a_kernel_that_ignores_the_interrupt_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "RESPONSIVE_WAIT", 1)
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except KeyboardInterrupt:\n        pass")
    path = write(notebook(VERDICT, "verdict('first', 'passed')", stubborn,
                          "verdict('second', 'passed')"), tmp_path / "stuck.ipynb")
    report = grade(path, timeout_per_cell=1)
    assert [(e.name, e.status) for e in report.exercises] == [("first", PASSED)]
    assert [p.kind for p in report.problems] == ["timeout", "unresponsive"]
    assert "the cells after it were not run" in report.problems[1].message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"no such file"),
        (b"print('hello')\n", r"not a notebook \(the file is not JSON\)"),
        (b'{"cells": 3, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
         r"not a valid notebook \("),
    ],
)
def test_unreadable_notebooks_give_a_report_not_a_crash(tmp_path, content, message):
    path = tmp_path / "01_perceptron.ipynb"  # a known lesson: its exercises are "not run"
    if content is not None:
        path.write_bytes(content)
    report = grade(path)
    assert report.error_kind == "unreadable"
    assert re.search(r"01_perceptron\.ipynb: " + message, report.error)
    assert report.exercises and {e.status for e in report.exercises} == {NOT_RUN}
    assert not report.all_passed
    assert "could not grade" in report.table()


def test_a_kernel_that_cannot_start_is_reported(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(grader, "execute_notebook", broken)
    report = grade(write(notebook("x = 1"), tmp_path / "x.ipynb"))
    assert report.error_kind == "kernel"
    assert report.error == ("the kernel could not start (RuntimeError: Kernel didn't respond "
                            "in 60 seconds).")


# ---------------------------------------------------------------- lesson 1, end to end


LEARNER1 = REPO / "notebooks" / "01_perceptron.ipynb"


@needs_lesson1
def test_grading_the_lesson1_solution_reports_every_exercise_passed():
    # Through the command an instructor types, on the repository's own notebook.
    result = subprocess.run(
        [sys.executable, "-m", "dlteach", "grade", str(LESSON1), "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    names = expected_exercises(LESSON1)
    assert [e["name"] for e in report["exercises"]] == list(names)
    assert {e["status"] for e in report["exercises"]} == {PASSED}


@needs_lesson1
def test_grading_the_lesson1_learner_notebook_reports_every_exercise_not_attempted():
    report = grade(LEARNER1)
    assert [e.name for e in report.exercises] == list(expected_exercises(LESSON1))
    assert {e.status for e in report.exercises} == {NOT_ATTEMPTED}, report.table()
    assert not report.all_passed


@needs_lesson1
def test_lesson1_wrong_answer_fails_with_input_and_expected_and_missing_check_is_not_run(
    tmp_path,
):
    nb = nbformat.read(LESSON1, as_version=4)
    cell = next(c for c in nb.cells if "def weighted_sum" in c.source)
    assert "return x @ w + b" in cell.source
    cell.source = cell.source.replace("return x @ w + b", "return x @ w - b")
    nb.cells = [c for c in nb.cells if "check_nand_weights" not in c.source]
    report = grade(write(nb, tmp_path / "01_perceptron.ipynb"))
    status = {e.name: e.status for e in report.exercises}
    assert status == {"weighted_sum": FAILED, "step": PASSED, "perceptron_update": PASSED,
                      "count_mistakes": PASSED, "nand_weights": NOT_RUN}, report.table()
    assert report.exercises[-1].message == ""  # no check cell: not run, no time limit to blame
    message = report.exercises[0].message
    assert "input: x = [1.0, 2.0], w = [0.5, -1.0], b = 0.25" in message
    assert "expected: -1.25" in message and "got: -1.75" in message




# ---------------------------------------------------------------- what counts, and for which lesson


@needs_lesson1
def test_outputs_saved_in_the_file_never_count_only_what_runs_now(tmp_path):
    # The solution, saved with every check showing ✅, but its kernel dies in cell 1.
    nb = nbformat.read(LESSON1, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.source = "import os\nos._exit(0)"
    report = grade(write(nb, tmp_path / "01_perceptron.ipynb"), timeout_per_cell=30)
    assert {e.status for e in report.exercises} == {NOT_RUN}, report.table()
    assert not report.all_passed
    assert "the cells after it were not run" in report.table()


@needs_lesson1
def test_a_renamed_copy_is_graded_against_every_exercise_of_its_lesson(tmp_path):
    nb = nbformat.read(LESSON1, as_version=4)
    nb.cells = [c for c in nb.cells if "check_nand_weights" not in c.source]
    report = grade(write(nb, tmp_path / "01_perceptron-alice.ipynb"))
    assert [e.name for e in report.exercises] == list(expected_exercises(LESSON1))
    assert report.exercises[-1].status == NOT_RUN
    assert not report.all_passed and report.error is None


def test_the_lesson_comes_from_the_checks_the_notebook_imports(tmp_path):
    nb = v4.new_notebook(cells=[v4.new_code_cell("from dlteach.exercises import lesson02 as ex")])
    report = grade(write(nb, tmp_path / "01_perceptron.ipynb"))  # lesson 2, under lesson 1's name
    assert [e.name for e in report.exercises] == list(expected_exercises("02_backpropagation"))
    assert {e.status for e in report.exercises} == {NOT_RUN}
    assert "named like lesson 01_perceptron, but its checks come from lesson 02" in (
        report.table())


def test_a_notebook_of_no_known_lesson_is_never_all_passed(tmp_path):
    show = ("from dlteach.checking import Verdict\n"
            "Verdict('homework', 'passed', '1 case')")
    report = grade(write(v4.new_notebook(cells=[v4.new_code_cell(show)]),
                         tmp_path / "homework.ipynb"))
    assert [(e.name, e.status) for e in report.exercises] == [("homework", PASSED)]
    assert report.error_kind == "unknown lesson" and not report.all_passed
    assert "warning: could not tell which lesson" in report.table()
    assert report.to_dict()["all_passed"] is False
