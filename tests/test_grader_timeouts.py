"""After a cell hits the time limit, the cells that need what it defines are "not run",
not the learner's errors; everything else runs and is graded as usual."""

from __future__ import annotations

import json

import nbformat
import nbformat.v4 as v4
import pytest
from notebook_helpers import VERDICT, write

from dlteach import perceptron
from dlteach.exercises import lesson01
from dlteach.tools import execute, grader
from dlteach.tools.execute import CellEvent, _TimeoutFallout, cell_names
from dlteach.tools.grader import NOT_RUN, PASSED, ExerciseResult, GradeReport, Problem, grade

LIMIT = 3  # seconds per cell: the two cells that loop forever cost that much each

# 1-based cell numbers, as the report counts them (cell 1 is the title).
CELLS = [
    "import numpy as np\nfrom dlteach.exercises import lesson01 as ex",  # 2
    # 3: hits the time limit. The import and def before the loop stand; x and history do not.
    "from math import sqrt\n\ndef halve(v):\n    return v / 2\n\nx = 0\nwhile True:\n"
    "    x += 1\nhistory = x",
    "y = x + 1",  # 4: needs x -> not run
    "print(y)",  # 5: needs y, which cell 4 did not define -> not run
    "def step(z):\n    return np.where(np.asarray(z) >= 0, 1, 0)",  # 6
    "ex.check_step(step)",  # 7: passes
    # 8: its parameters x and y are not the missing notebook names
    "def perceptron_update(w, b, x, y, lr):\n    error = y - np.where(x @ w + b >= 0, 1, 0)\n"
    "    return w + lr * error * x, b + lr * error",
    "ex.check_perceptron_update(perceptron_update)",  # 9: passes
    "def weighted_sum(x, w, b):\n    return x @ w + b + 0 * y",  # 10: its body needs y
    "ex.check_weighted_sum(weighted_sum)",  # 11: needs weighted_sum -> not run
    "print(halve(sqrt(16)))",  # 12: runs
    "print(eval('history'))",  # 13: NameError for a missing name -> not run, not an error
    "print(undefined_name)",  # 14: the learner's own NameError
    "for x in range(2):\n    last = x",  # 15: binds x afresh
    "print('x is', x)",  # 16: so this runs
    "def count_mistakes(w, b, X, y):\n    while True:\n        pass",  # 17
    "ex.check_count_mistakes(count_mistakes)",  # 18: the check itself hits the time limit
    "ex.check_nand_weights(lambda: (np.array([-1.0, -1.0]), 1.5 + 0 * history))",  # 19
]


def lesson_notebook() -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("# Perceptron, a learner's copy", id="title")]
    nb.cells += [v4.new_code_cell(src, id=f"c{i}") for i, src in enumerate(CELLS)]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(the report, the notebook as it ran): one kernel run shared by the tests below."""
    ran = {}
    real = grader.execute_notebook

    def keep(nb, *args, **kwargs):
        ran["nb"] = nb
        return real(nb, *args, **kwargs)

    path = write(lesson_notebook(), tmp_path_factory.mktemp("nb") / "01_perceptron.ipynb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grader, "execute_notebook", keep)
        report = grade(path, timeout_per_cell=LIMIT)
    return report, ran["nb"]


def stdout(nb: nbformat.NotebookNode, cell: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[cell - 1].outputs
                   if o.output_type == "stream")


def test_cells_that_need_what_a_timed_out_cell_defines_are_not_run(graded):
    report, nb = graded
    assert [(p.cell, p.kind) for p in report.problems] == [
        (3, "timeout"), (4, "not run"), (5, "not run"), (10, "not run"), (11, "not run"),
        (13, "not run"), (14, "error"), (18, "timeout"), (19, "not run")], report.to_json()
    for cell in (4, 5, 10, 11):
        assert nb.cells[cell - 1].outputs == [] and nb.cells[cell - 1].execution_count is None
    problems = {p.cell: p.message for p in report.problems}
    assert problems[4] == ('cell 4 ("y = x + 1") was not run: it needs x, from cell 3, '
                           "which hit the time limit.")
    assert problems[5] == ('cell 5 ("print(y)") was not run: it needs y, from cell 4, which '
                           "was not run either (cell 3 hit the time limit).")
    assert problems[10].startswith('cell 10 ("def weighted_sum(x, w, b):") was not run: it '
                                   "needs y, from cell 4")
    assert problems[13] == (
        "cell 13 (\"print(eval('history'))\") stopped at NameError: name 'history' is not "
        "defined. history comes from cell 3, which hit the time limit: counted as not run, "
        "not as an error in this cell.")


def test_cells_that_do_not_depend_on_it_run_and_are_graded(graded):
    report, nb = graded
    status = {e.name: e.status for e in report.exercises}
    assert status["step"] == PASSED and status["perceptron_update"] == PASSED, report.table()
    # What the timed-out cell had finished defining before the loop still counts,
    assert stdout(nb, 12) == "2.0\n"
    # and a cell that binds a missing name afresh makes it available again.
    assert stdout(nb, 16) == "x is 1\n"


def test_the_report_says_plainly_that_a_cell_hit_the_time_limit(graded):
    report, _ = graded
    timeout = (
        'cell 3 ("from math import sqrt") hit the 3 s time limit and was interrupted: the '
        "cells that need what it defines were not run (cells 4, 5, 10, 11, 13, 19).")
    assert report.problems[0].message == timeout
    assert report.problems[-2].message == (
        'cell 18 ("ex.check_count_mistakes(count_mistakes)") hit the 3 s time limit and was '
        "interrupted.")
    weighted_sum = (
        "not run because cell 3 hit the time limit: its check (cell 11) needs weighted_sum, "
        "from cell 10, which was not run either.")
    count_mistakes = "its check (cell 18) hit the 3 s time limit and was interrupted."
    nand_weights = ("not run because cell 3 hit the time limit: its check (cell 19) needs "
                    "history, which cell 3 would have defined.")
    assert report.exercises == [
        ExerciseResult("weighted_sum", NOT_RUN, weighted_sum),
        # The counts come from the checks themselves, which grow as cases are added.
        ExerciseResult("step", PASSED, lesson01.check_step(perceptron.step).message),
        ExerciseResult("perceptron_update", PASSED,
                       lesson01.check_perceptron_update(perceptron.perceptron_update).message),
        ExerciseResult("count_mistakes", NOT_RUN, count_mistakes),
        ExerciseResult("nand_weights", NOT_RUN, nand_weights),
    ]
    assert not report.all_passed

    table = report.table()
    flat = " ".join(table.split())
    assert all(text in flat for text in (timeout, weighted_sum, count_mistakes, nand_weights))
    assert all(len(line) <= 100 for line in table.splitlines()), table
    # The cells not run are listed once, on the timeout's line, not one line each.
    assert "was not run: it needs" not in table and "stopped at NameError" not in table
    assert "2/5 passed, 3 not run" in table and "all passed" not in table

    data = json.loads(report.to_json())
    assert data["all_passed"] is False
    assert data["exercises"][0] == {"name": "weighted_sum", "status": "not run",
                                    "message": weighted_sum}
    assert data["problems"][0] == {"cell": 3, "kind": "timeout", "message": timeout}
    not_run = {p["cell"] for p in data["problems"] if p["kind"] == "not run"}
    assert not_run == {4, 5, 10, 11, 13, 19}


def test_a_learners_own_name_error_is_still_their_error(graded):
    report, _ = graded
    (problem,) = [p for p in report.problems if p.cell == 14]
    assert problem == Problem(14, "error", 'cell 14 ("print(undefined_name)") raised NameError: '
                                           "name 'undefined_name' is not defined")
    assert "cell 14" in report.table()


def test_a_timeout_is_never_all_passed():
    exercises = [ExerciseResult("a", PASSED)]
    assert GradeReport("x.ipynb", exercises).all_passed
    assert GradeReport("x.ipynb", exercises, [Problem(2, "error", "...")]).all_passed
    assert not GradeReport("x.ipynb", exercises, [Problem(2, "timeout", "...")]).all_passed


def test_without_a_timeout_the_notebook_is_graded_as_before(tmp_path, monkeypatch):
    def no_analysis(source):
        raise AssertionError("the cells are analysed only after a timeout")

    monkeypatch.setattr(execute, "cell_names", no_analysis)
    path = write(v4.new_notebook(cells=[v4.new_code_cell(src) for src in (
        VERDICT, "x = 1 / 0", "print(x)", "verdict('double', 'passed', '1 case')")]),
        tmp_path / "homework.ipynb")
    data = grade(path, timeout_per_cell=LIMIT).to_dict()
    assert data["exercises"] == [{"name": "double", "status": "passed", "message": "1 case"}]
    assert data["problems"] == [
        {"cell": 2, "kind": "error",
         "message": 'cell 2 ("x = 1 / 0") raised ZeroDivisionError: division by zero'},
        {"cell": 3, "kind": "error",
         "message": "cell 3 (\"print(x)\") raised NameError: name 'x' is not defined"},
    ]


# ---------------------------------------------------------------- which names a cell uses


def names(source: str) -> tuple[tuple[str, ...], set[str]]:
    found = cell_names(source)
    assert found is not None and found.complete
    return found.reads, set(found.binds)


@pytest.mark.parametrize(("source", "reads", "binds"), [
    ("y = x + 1", ("x",), {"y"}),
    ("x = x + 1", ("x",), {"x"}),
    ("x += 1", ("x",), {"x"}),
    ("x = 5\nprint(x)", ("print",), {"x"}),  # bound before it is read
    ("for epoch in range(3):\n    last = epoch", ("range",), {"epoch", "last"}),
    ("with open(path) as f:\n    text = f.read()", ("open", "path"), {"f", "text"}),
    ("import numpy as np\nimport os.path\nfrom math import sqrt as root", (),
     {"np", "os", "root"}),
    ("def step(x):\n    return x >= 0", (), {"step"}),  # a parameter is not a read
    ("def f(w):\n    return w + y", ("y",), {"f"}),  # a function body's global is
    ("def f():\n    return g()\ndef g():\n    return 1", (), {"f", "g"}),
    ("def f():\n    a = 1\n    def g():\n        return a + b\n    return g", ("b",), {"f"}),
    ("def f():\n    global G\n    G = z", ("z",), {"f", "G"}),
    ("f = lambda q: q + r", ("r",), {"f"}),
    ("class A(Base):\n    n = 3\n    m = n + k\n    def g(self):\n        return h(self.n)",
     ("Base", "k", "h"), {"A"}),
    ("total = sum(v * k for v in values)", ("sum", "values", "k"), {"total"}),
    ("[z := i for i in data]\nprint(z)", ("data", "print"), {"z"}),
    ("try:\n    pass\nexcept E as err:\n    print(err)", ("E", "print"), {"err"}),
    ("match p:\n    case [a, *rest]:\n        pass\n    case {'k': v, **kw}:\n        pass",
     ("p",), {"a", "rest", "v", "kw"}),
    ("%config InlineBackend.figure_formats = ['png']\nfiles = !ls\nprint(files)",
     ("get_ipython", "print"), {"files"}),
    ("%%time\nhistory = fit(model)", ("fit", "model"), {"history"}),
    ("%%capture --no-stderr out\nhistory = fit(model)", ("fit", "model"), {"history", "out"}),
])
def test_cell_names(source, reads, binds):
    assert names(source) == (reads, binds)


@pytest.mark.parametrize("source", ["a = (", "def f(:\n    pass", "%%bash\nls"])
def test_cell_names_of_a_cell_it_cannot_read_is_none(source):
    assert cell_names(source) is None


@pytest.mark.parametrize("source", ["from os.path import *", "%run setup.py"])
def test_cell_names_knows_when_a_cell_may_bind_names_it_does_not_show(source):
    assert cell_names(source).complete is False


def test_an_interrupted_cell_keeps_the_imports_and_functions_it_had_finished():
    found = cell_names("import numpy as np\ndef f():\n    pass\nmodel = np.zeros(2)\n"
                       "for epoch in range(9):\n    model += 1\ndef g():\n    pass\nimport os")
    assert found.unfinished(5) == {"model", "epoch", "g", "os"}  # stopped in the loop
    assert found.unfinished(1) == found.binds == {"np", "f", "model", "epoch", "g", "os"}
    assert found.unfinished(None) == found.binds  # no traceback line: everything


# ---------------------------------------------------------------- the bookkeeping, without a kernel


def fallout(*sources: str) -> _TimeoutFallout:
    return _TimeoutFallout(v4.new_notebook(cells=[v4.new_code_cell(s) for s in sources]))


def timeout(index: int) -> CellEvent:
    return CellEvent(index, "timeout", "CellTimeoutError", "the cell ran longer than 3 s")


def name_error(index: int, name: str) -> CellEvent:
    return CellEvent(index, "error", "NameError", f"name '{name}' is not defined")


def test_names_go_missing_and_come_back():
    f = fallout("a = 1\nwhile True:\n    pass", "b = a", "c = b", "a = 2", "d = a")
    assert f.skip(0) is None and f.ran(0, [timeout(0)]) == [timeout(0)]
    assert f.skip(1) == CellEvent(1, "not run", "", "", cause=0, needs="a", provider=0)
    assert f.skip(2) == CellEvent(2, "not run", "", "", cause=0, needs="b", provider=1)
    assert f.skip(3) is None and f.ran(3, []) == []  # a is bound afresh
    assert f.skip(4) is None


def test_a_name_error_is_not_run_only_for_a_missing_name():
    f = fallout("a, q = 1, 2\nwhile True:\n    pass", "eval('a')", "oops",
                "q = 3\nraise ValueError('no')", "q = 4")
    f.ran(0, [timeout(0)])
    assert f.ran(1, [name_error(1, "a")]) == [
        CellEvent(1, "not run", "NameError", "name 'a' is not defined", cause=0, needs="a",
                  provider=0)]
    assert f.ran(2, [name_error(2, "oops")]) == [name_error(2, "oops")]
    # A cell that raised does not bind its names afresh; one that ran to its end does.
    f.ran(3, [CellEvent(3, "error", "ValueError", "no")])
    assert f.missing["q"] == (0, 0)
    f.ran(4, [])
    assert "q" not in f.missing


def test_after_a_timed_out_cell_of_unknown_names_a_name_error_may_be_its_doing():
    f = fallout("from os.path import *\nwhile True:\n    pass", "print(jion('a', 'b'))")
    f.ran(0, [timeout(0)])
    (event,) = f.ran(1, [name_error(1, "jion")])
    assert event.kind == "error" and event.cause == 0
    nb = f.nb
    assert grader._problem(nb, event, [timeout(0), event], 3) == (
        "cell 2 (\"print(jion('a', 'b'))\") raised NameError: name 'jion' is not defined "
        "(perhaps because cell 1 hit the time limit before defining it)")


def test_cell_lists_are_short():
    assert grader._cell_list([8]) == "cell 8"
    assert grader._cell_list([8, 9, 12]) == "cells 8, 9, 12"
    assert grader._cell_list([4, 5, 6, 7, 12, 14, 15]) == "cells 4-7, 12, 14, 15"
