"""A made-up class's submissions of one lesson, for the class grader's tests and benchmark.

    make_class(folder, "01_perceptron", n=30)

writes ``n`` notebooks into ``folder``, a repeating mix of ``kinds`` (default :data:`KINDS`):
correct copies (the solution), wrong ones (one exercise's solution replaced by ``return
None``, a different exercise each time), empty ones (the learner notebook, nothing done),
hanging ones (a cell that loops forever), crashing ones (a cell that kills its kernel) and
broken files (cut-off JSON). Returns ``{file name: (kind, wrong exercise or "")}``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from dlteach.exercises import LESSON_EXERCISES
from dlteach.tools.learner import make_learner_notebook

COURSE = Path(__file__).resolve().parents[1]
KINDS = ("correct", "wrong", "correct", "empty", "wrong", "correct", "hanging", "wrong",
         "correct", "broken", "correct", "wrong", "crash", "correct", "empty")
_REGION = re.compile(r"(### BEGIN SOLUTION\n)(.*?)(\n\s*### END SOLUTION)", re.S)


def _solution_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]


def _wrong(nb: nbformat.NotebookNode, which: int) -> nbformat.NotebookNode:
    """The solution with its ``which``-th solution region answering None."""
    nb = copy.deepcopy(nb)
    cell = nb.cells[_solution_cells(nb)[which]]

    def none(match: re.Match) -> str:
        indent = re.match(r"\s*", match.group(2)).group(0)
        return f"{match.group(1)}{indent}return None{match.group(3)}"

    cell.source = _REGION.sub(none, cell.source, count=1)
    return nb


def _with_cell(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The notebook with a code cell inserted just before its first exercise."""
    nb = copy.deepcopy(nb)
    at = _solution_cells(nb)[0]
    nb.cells.insert(at, nbformat.v4.new_code_cell(source, id="inserted"))
    return nb


def make_class(folder: str | Path, lesson: str, n: int = 30,
               kinds: tuple[str, ...] = KINDS) -> dict[str, tuple[str, str]]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    solution = nbformat.read(COURSE / "solutions" / f"{lesson}.ipynb", as_version=4)
    for cell in solution.cells:  # a learner's file holds their own outputs, not ours
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    exercises = LESSON_EXERCISES[lesson]
    made: dict[str, tuple[str, str]] = {}
    n_wrong = 0
    for i in range(n):
        kind = kinds[i % len(kinds)]
        name = f"student{i + 1:02d}_{lesson}.ipynb"
        wrong = ""
        if kind == "correct":
            nb = solution
        elif kind == "wrong":
            which = n_wrong % len(exercises)
            nb, wrong = _wrong(solution, which), exercises[which]
            n_wrong += 1
        elif kind == "empty":
            nb = make_learner_notebook(solution)
        elif kind == "hanging":
            nb = _with_cell(solution, "while True:\n    pass")
        elif kind == "crash":
            nb = _with_cell(solution, "import os\nos._exit(1)")
        else:
            (folder / name).write_text(nbformat.writes(solution)[:500], encoding="utf-8")
            made[name] = (kind, wrong)
            continue
        nbformat.write(nb, folder / name)
        made[name] = (kind, wrong)
    return made
