"""Grade a notebook: run it in a fresh kernel and read the verdicts its checks display.

Every check cell displays a ``Verdict`` whose mimebundle carries
``application/vnd.dlteach.verdict+json`` = ``{"exercise", "status", "message"}``.
The grader clears the outputs the file was saved with (only what runs now counts),
runs the whole notebook (errors allowed, so later checks still report), keeps the
last verdict per exercise, and reports each expected exercise as passed, failed
(with its message), not attempted, or not run (its check never showed a verdict:
the notebook stopped first, or the check cell was deleted).

A cell that hits the time limit is interrupted and the run goes on, but the later
cells that need what it would have defined are not run (see
:func:`dlteach.tools.execute.execute_notebook`): the report says which, an exercise
whose check was among them is "not run" with the reason, and a NameError that the
timeout caused is not reported as the learner's error.

Which exercises are expected comes from the lesson the notebook belongs to: the
lesson module its ``from dlteach.exercises import lessonNN`` cell imports, else its
file name. A notebook of no known lesson is graded on the verdicts it shows, but
never reported as all passed.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from dlteach.checking import VERDICT_MIMETYPE
from dlteach.exercises import LESSON_EXERCISES
from dlteach.tools.catalog import CourseError, find_lesson
from dlteach.tools.execute import CellEvent, cell_summary, execute_notebook
from dlteach.tools.learner import read_notebook

PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"
STATUSES = (PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN)
_ICONS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⏳", NOT_RUN: "⛔"}


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise's grade. status: passed / failed / not attempted / not run."""

    name: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class Problem:
    """A cell that raised, timed out or stopped the kernel. cell: 1-based position.

    kind: "error", "timeout", "dead kernel", "unresponsive", "note" (cell 0), or
    "not run" (the cell needs what a cell that hit the time limit would have defined;
    the table leaves these out: the timeout's line lists them).
    """

    cell: int
    kind: str
    message: str


@dataclass
class GradeReport:
    """The grade of one notebook.

    error: set when the notebook could not be graded at all (unreadable file,
    kernel that would not start); error_kind is then "unreadable" or "kernel".
    """

    notebook: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None

    @property
    def all_passed(self) -> bool:
        """True when the notebook ran to its end, no cell hit the time limit, and every
        exercise (at least one) passed."""
        stopped = any(p.kind not in ("error", "note") for p in self.problems)
        return (self.error is None and not stopped and bool(self.exercises)
                and all(e.status == PASSED for e in self.exercises))

    def counts(self) -> dict[str, int]:
        return {s: sum(e.status == s for e in self.exercises) for s in STATUSES}

    def to_dict(self) -> dict:
        """A JSON-ready summary (``json.dumps(report.to_dict())``)."""
        return {
            "notebook": self.notebook,
            "all_passed": self.all_passed,
            "error": self.error,
            "error_kind": self.error_kind,
            "counts": self.counts(),
            "exercises": [{"name": e.name, "status": e.status, "message": e.message}
                          for e in self.exercises],
            "problems": [{"cell": p.cell, "kind": p.kind, "message": p.message}
                         for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def table(self) -> str:
        """A readable report: one row per exercise, failure details indented below."""
        lines = [f"Grade of {self.notebook}"]
        if self.error:
            label = "warning" if self.error_kind == "unknown lesson" else "could not grade"
            lines.append(f"  {label}: {self.error}")
        if self.exercises:
            width = max(len("exercise"), *(len(e.name) for e in self.exercises))
            lines.append(f"  {'exercise'.ljust(width)}  status")
            for e in self.exercises:
                lines.append(f"  {e.name.ljust(width)}  {_ICONS[e.status]} {e.status}")
                indent = f"  {' ' * width}     "
                if e.status == FAILED and e.message:
                    lines.extend(f"{indent}{ln}" for ln in e.message.splitlines())
                elif e.status == NOT_RUN and e.message:
                    lines.extend(_wrap(e.message, indent, indent))
        elif not self.error:
            lines.append("  no exercises found: no check cell showed a verdict.")
        problems = [p for p in self.problems if p.kind != "not run"]
        if problems:
            lines.append("  problems:")
            for p in problems:
                if p.kind == "timeout":
                    lines.extend(_wrap(p.message, "    ", "      "))
                else:
                    lines.append(f"    {p.message}")
        if self.error and not self.exercises:
            return "\n".join(lines)
        c = self.counts()
        total = len(self.exercises)
        summary = f"  {c[PASSED]}/{total} passed"
        summary += "".join(f", {c[s]} {s}" for s in STATUSES[1:] if c[s])
        lines.append(summary + (" — all passed!" if self.all_passed else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _wrap(text: str, first: str, rest: str, width: int = 100) -> list[str]:
    return textwrap.wrap(text, width=max(60, width), initial_indent=first,
                         subsequent_indent=rest, break_long_words=False,
                         break_on_hyphens=False)


_LESSON_IMPORT = re.compile(r"from\s+dlteach\.exercises\s+import\s+(lesson\d+)\b")


def lesson_of(nb: NotebookNode, path: Path) -> tuple[str | None, str | None]:
    """(the lesson the notebook belongs to, or None;  a note when its name says otherwise).

    The lesson module the notebook imports its checks from decides, so a renamed copy
    (``01_perceptron-alice.ipynb``) is still graded against every exercise of its lesson.
    Without such an import the file name decides.
    """
    modules = {m.group(1) for cell in nb.cells if cell.get("cell_type") == "code"
               for m in _LESSON_IMPORT.finditer(str(cell.get("source", "")))}
    lessons = set()
    for module in modules:  # lesson02 -> the catalog's lesson "02", 02_backpropagation
        try:
            lessons.add(find_lesson(module.removeprefix("lesson")).stem)
        except CourseError:
            continue
    stem = path.stem
    if len(lessons) == 1:
        lesson = lessons.pop()
        note = None
        if stem in LESSON_EXERCISES and stem != lesson:
            note = (f"the file is named like lesson {stem}, but its checks come from lesson "
                    f"{lesson}: graded as {lesson}.")
        return lesson, note
    if not lessons and stem in LESSON_EXERCISES:
        return stem, None
    return None, None


def collect_verdicts(nb: NotebookNode) -> dict[str, ExerciseResult]:
    """The last verdict shown for each exercise, in order of first appearance."""
    verdicts: dict[str, ExerciseResult] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if isinstance(output, dict) else {}
            payload = data.get(VERDICT_MIMETYPE)
            if isinstance(payload, str):  # some writers store JSON mimetypes as text
                try:
                    payload = json.loads(payload)
                except json.JSONDecodeError:
                    continue
            if not isinstance(payload, dict) or "exercise" not in payload:
                continue
            status = payload.get("status")
            status = status if status in (PASSED, FAILED, NOT_ATTEMPTED) else FAILED
            name = str(payload["exercise"])
            verdicts[name] = ExerciseResult(name, status, str(payload.get("message", "")))
    return verdicts


def grade(path: str | Path, timeout_per_cell: float = 60) -> GradeReport:
    """Run the notebook at ``path`` in a fresh kernel (cwd = its folder) and grade it.

    Never raises for a bad notebook: a missing file, a file that is not a notebook,
    a cell that raises or loops forever all end up in the report.
    """
    path = Path(path)
    report = GradeReport(notebook=str(path))
    expected = LESSON_EXERCISES.get(path.stem)
    try:
        nb = read_notebook(path)
    except CourseError as exc:
        report.error, report.error_kind = str(exc), "unreadable"
        report.exercises = [ExerciseResult(name, NOT_RUN) for name in expected or ()]
        return report
    lesson, note = lesson_of(nb, path)
    expected = LESSON_EXERCISES[lesson] if lesson is not None else None
    if lesson is None:
        report.error = ("could not tell which lesson this notebook belongs to (no "
                        "'from dlteach.exercises import lessonNN' cell, and its name is not a "
                        "lesson's), so there is no list of exercises to check it against: "
                        "graded on the verdicts it shows, never 'all passed'.")
        report.error_kind = "unknown lesson"
    if note:
        report.problems.append(Problem(0, "note", note))
    for cell in nb.cells:  # only what runs now counts, not what the file was saved with
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    try:
        events = execute_notebook(nb, path.resolve().parent, timeout_per_cell=timeout_per_cell,
                                  stop_on_error=False)
    except Exception as exc:  # kernel start failures come in many types
        report.error = f"the kernel could not start ({type(exc).__name__}: {exc})."
        report.error_kind = "kernel"
        report.exercises = [ExerciseResult(name, NOT_RUN) for name in expected or ()]
        return report
    limit = max(1, round(timeout_per_cell))
    report.problems += [Problem(event.index + 1, event.kind, _problem(nb, event, events, limit))
                        for event in events]
    verdicts = collect_verdicts(nb)
    names = list(expected) if expected is not None else []
    names += [name for name in verdicts if name not in names]
    report.exercises = [verdicts.get(name) or ExerciseResult(name, NOT_RUN,
                                                             _why_not_run(nb, name, events, limit))
                        for name in names]
    return report


def _where(nb: NotebookNode, index: int) -> str:
    return f'cell {index + 1} ("{cell_summary(nb.cells[index])}")'


def _cell_list(numbers: list[int]) -> str:
    """[8, 9, 10, 12] -> "cells 8-10, 12"; [8] -> "cell 8"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
    return ("cells " if len(numbers) > 1 else "cell ") + ", ".join(parts)


def _because(event: CellEvent) -> str:
    """Where the missing name of a "not run" event comes from, and why it is missing."""
    if event.provider == event.cause:
        return f"cell {event.cause + 1}, which hit the time limit"
    return (f"cell {event.provider + 1}, which was not run either "
            f"(cell {event.cause + 1} hit the time limit)")


def _problem(nb: NotebookNode, event: CellEvent, events: list[CellEvent], limit: int) -> str:
    """The report's line for one event of the run."""
    where = _where(nb, event.index)
    if event.kind == "timeout":
        message = f"{where} hit the {limit} s time limit and was interrupted"
        dependents = [e.index + 1 for e in events
                      if e.kind == "not run" and e.cause == event.index]
        if dependents:
            message += (": the cells that need what it defines were not run "
                        f"({_cell_list(dependents)})")
        return message + "."
    if event.kind == "not run" and not event.ename:
        return f"{where} was not run: it needs {event.needs}, from {_because(event)}."
    if event.kind == "not run":
        return (f"{where} stopped at {event.ename}: {event.evalue}. {event.needs} comes from "
                f"{_because(event)}: counted as not run, not as an error in this cell.")
    if event.kind == "error":
        message = f"{where} raised {event.ename}: {event.evalue}"
        if event.cause is not None:
            message += (f" (perhaps because cell {event.cause + 1} hit the time limit before "
                        "defining it)")
        return message
    return (f"{where} stopped the notebook ({event.kind}: {event.evalue}); "
            "the cells after it were not run.")


def _why_not_run(nb: NotebookNode, exercise: str, events: list[CellEvent], limit: int) -> str:
    """Why an exercise showed no verdict, when a time limit is the reason; else ""."""
    check = re.compile(rf"\bcheck_{re.escape(exercise)}\b")
    by_cell = {e.index: e for e in events if e.kind in ("timeout", "not run")}
    for index, cell in enumerate(nb.cells):
        event = by_cell.get(index)
        if event is None or not check.search(str(cell.get("source", ""))):
            continue
        if event.kind == "timeout":
            return f"its check (cell {index + 1}) hit the {limit} s time limit and was interrupted."
        origin = (f", which cell {event.cause + 1} would have defined"
                  if event.provider == event.cause
                  else f", from cell {event.provider + 1}, which was not run either")
        return (f"not run because cell {event.cause + 1} hit the time limit: its check "
                f"(cell {index + 1}) needs {event.needs}{origin}.")
    return ""
