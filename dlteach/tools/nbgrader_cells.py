"""nbgrader's cell metadata, derived from the lesson itself, so the course works in nbgrader.

A lesson marks an exercise twice: a code cell with ``### BEGIN SOLUTION`` /
``### END SOLUTION`` (what the learner writes) and, after it, a check cell calling
``ex.check_<name>(...)``. nbgrader needs the same facts as cell metadata::

    solution cell: {"solution": true,  "grade": false, "locked": false, "grade_id": "<name>"}
    check cell:    {"solution": false, "grade": true,  "locked": true,
                    "grade_id": "check_<name>", "points": 1}

:func:`with_nbgrader_metadata` computes them from the markers and the check calls (the
one source of truth); ``dlteach generate`` writes them into ``solutions/`` whenever they
differ, and ``generate --check`` reports a solution whose metadata is stale.

Under nbgrader's autograder (``NBGRADER_EXECUTION`` set), a check that does not pass
raises after showing its verdict (see :func:`dlteach.checking.graded`): the test cell
errors, so it scores 0, and the learner's feedback shows the same verdict as the lesson.
"""

from __future__ import annotations

import copy
import re

from nbformat import NotebookNode

from dlteach.tools.learner import BEGIN_RE

NBGRADER_KEY = "nbgrader"
SCHEMA_VERSION = 3
POINTS_PER_EXERCISE = 1
CHECK_CALL = re.compile(r"^\s*ex\.check_(\w+)\(", re.M)
DEFINES = re.compile(r"^def (\w+)\(", re.M)


def _is_solution(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and any(
        BEGIN_RE.match(line) for line in cell.source.splitlines(keepends=True))


def _solution(grade_id: str) -> dict:
    return {"grade": False, "grade_id": grade_id, "locked": False,
            "schema_version": SCHEMA_VERSION, "solution": True}


def _test(grade_id: str) -> dict:
    return {"grade": True, "grade_id": grade_id, "locked": True,
            "points": POINTS_PER_EXERCISE, "schema_version": SCHEMA_VERSION,
            "solution": False}


def nbgrader_metadata(nb: NotebookNode, *, name: str = "notebook") -> list[dict | None]:
    """For each cell, the nbgrader metadata it should carry (None: none).

    A solution cell takes its ``grade_id`` from the first check after it; several solution
    cells before one check get ``<name>``, ``<name>_2``, ... A check cell whose exercise
    was already checked (a second check of one exercise) gets ``check_<name>_2``. A
    solution cell with no check after it (nbgrader then leaves it to manual grading) is
    named after the function it defines, else after its cell id.
    """
    wanted: list[dict | None] = [None] * len(nb.cells)
    pending: list[int] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if _is_solution(cell):
            pending.append(index)
            continue
        found = CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if not found:
            continue
        exercise = found.group(1)
        seen[exercise] = seen.get(exercise, 0) + 1
        suffix = "" if seen[exercise] == 1 else f"_{seen[exercise]}"
        wanted[index] = _test(f"check_{exercise}{suffix}")
        for k, solution in enumerate(pending):
            wanted[solution] = _solution(f"{exercise}{suffix}" + (f"_{k + 1}" if k else ""))
        pending = []
    for index in pending:  # no check after it: graded by hand in nbgrader
        defined = DEFINES.search(nb.cells[index].source)
        wanted[index] = _solution(defined.group(1) if defined else
                                  f"cell_{nb.cells[index].get('id', index + 1)}")
    return wanted


def with_nbgrader_metadata(nb: NotebookNode, *, name: str = "notebook") -> NotebookNode:
    """A copy of ``nb`` whose cells carry exactly the nbgrader metadata of
    :func:`nbgrader_metadata` (stale nbgrader metadata on other cells is removed)."""
    out = copy.deepcopy(nb)
    for cell, wanted in zip(out.cells, nbgrader_metadata(nb, name=name), strict=True):
        if wanted is None:
            cell.metadata.pop(NBGRADER_KEY, None)
        else:
            cell.metadata[NBGRADER_KEY] = wanted
    return out


def has_nbgrader_metadata(nb: NotebookNode, *, name: str = "notebook") -> bool:
    """True when every cell already carries what :func:`nbgrader_metadata` says."""
    return all(cell.metadata.get(NBGRADER_KEY) == wanted
               for cell, wanted in zip(nb.cells, nbgrader_metadata(nb, name=name), strict=True))
