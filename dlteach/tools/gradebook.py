"""Grade a whole class: many submissions in parallel, one gradebook.

``dlteach grade FOLDER`` (or several notebooks) grades every submission with
:func:`dlteach.tools.grader.grade`, each in its own process (``python -m dlteach grade
--json``) with its own kernel, ``workers`` at a time. A process that outlives the
submission's time limit is killed with its kernel; a submission that hangs, crashes
its kernel or is not a notebook at all gets its row in the gradebook and never stops
the others.

The gradebook has one row per submission and one column per exercise (passed / failed /
not attempted / not run), written as CSV and JSON; :func:`class_summary` counts, per
exercise, how many passed and which failing case came up most often.

Workers: by default as many as the machine's cores divided by the BLAS threads each
kernel may use (the thread policy of :mod:`dlteach.tools.threads`: 1 unless told
otherwise), so that the kernels share the cores without oversubscribing them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dlteach.tools.catalog import CourseError
from dlteach.tools.grader import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, STATUSES
from dlteach.tools.threads import AUTO, requested_threads

SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__"}
_CASE = re.compile(r"^(case \d+ of \d+(?::.*)?)$", re.M)


def find_submissions(paths: Iterable[str | Path]) -> list[Path]:
    """The notebooks to grade: each file named, and every ``*.ipynb`` inside each folder
    named (recursively, checkpoints and hidden folders left out), sorted, each once."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.ipynb")
                if p.is_file() and not any(part in SKIPPED_DIRS or part.startswith(".")
                                           for part in p.relative_to(path).parts[:-1])
            )
        elif path.exists():
            found.append(path)
        else:
            raise CourseError(f"no such file or folder: {path}")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        named = ", ".join(str(p) for p in paths)
        raise CourseError(f"no notebooks (*.ipynb) to grade in {named}.")
    return unique


def available_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers(environ: dict[str, str] | None = None, threads: int | str | None = None,
                    cores: int | None = None) -> int:
    """Cores // BLAS threads per kernel (at least 1). ``threads`` is a ``--threads`` value;
    'auto' lets each kernel use every core, so then one worker."""
    cores = available_cores() if cores is None else cores
    if threads is not None:
        per_kernel = cores if str(threads).strip().lower() == AUTO else int(threads)
    else:
        count = requested_threads(os.environ if environ is None else environ)
        per_kernel = cores if count is None else count
    return max(1, cores // max(1, per_kernel))


@dataclass
class SubmissionGrade:
    """One row of the gradebook. report: the grader's JSON report (None if there was none)."""

    submission: str
    statuses: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    report: dict | None = None

    @property
    def passed(self) -> int:
        return sum(s == PASSED for s in self.statuses.values())


@dataclass
class Gradebook:
    """Every submission's grade; ``exercises`` are the columns, in lesson order."""

    rows: list[SubmissionGrade]
    exercises: list[str]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["submission", "passed", "of", *self.exercises, "problem"])
        for row in self.rows:
            writer.writerow([row.submission, row.passed, len(self.exercises),
                             *(row.statuses.get(e, "") for e in self.exercises), row.error])
        return out.getvalue()

    def to_dict(self) -> dict:
        return {
            "exercises": self.exercises,
            "submissions": [
                {"submission": r.submission, "passed": r.passed, "statuses": r.statuses,
                 "problem": r.error, "seconds": round(r.seconds, 1), "report": r.report}
                for r in self.rows
            ],
            "summary": class_summary(self),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _first_case(message: str) -> str:
    """The failing case a check's message names ("case 3 of 6: float32 inputs"), else its
    first line."""
    found = _CASE.search(message)
    if found:
        return found.group(1)
    return message.strip().splitlines()[0] if message.strip() else "(no message)"


def class_summary(book: Gradebook) -> list[dict]:
    """Per exercise: how many submissions reached each status, and the most common
    failing case with how many failed on it."""
    summary = []
    for name in book.exercises:
        statuses = [r.statuses.get(name, NOT_RUN) for r in book.rows]
        counts = {s: statuses.count(s) for s in STATUSES}
        cases = Counter(_first_case(r.messages.get(name, "")) for r in book.rows
                        if r.statuses.get(name) == FAILED)
        common = cases.most_common(1)
        summary.append({"exercise": name, "submissions": len(book.rows), **counts,
                        "most_common_failure": common[0][0] if common else "",
                        "failing_on_it": common[0][1] if common else 0})
    return summary


def summary_table(book: Gradebook) -> str:
    """The class summary as a text table, one row per exercise."""
    rows = class_summary(book)
    n = len(book.rows)
    width = max([len("exercise"), *(len(r["exercise"]) for r in rows)])
    lines = [f"{n} submission{'s' if n != 1 else ''}",
             f"{'exercise'.ljust(width)}  passed  failed  not attempted  not run  "
             "most common failing case"]
    for r in rows:
        common = (f"{r['most_common_failure']} ({r['failing_on_it']})"
                  if r["failing_on_it"] else "")
        lines.append(f"{r['exercise'].ljust(width)}  {r[PASSED]:>6}  {r[FAILED]:>6}  "
                     f"{r[NOT_ATTEMPTED]:>13}  {r[NOT_RUN]:>7}  {common}")
    problems = [row for row in book.rows if row.error]
    if problems:
        lines.append("problems:")
        lines += [f"  {row.submission}: {row.error}" for row in problems]
    return "\n".join(lines)


def summary_figure(book: Gradebook, path: str | Path) -> Path:
    """Save a horizontal bar chart (one bar per exercise, split by status) as PNG."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    rows = class_summary(book)
    colors = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_ATTEMPTED: "#d4a72c",
              NOT_RUN: "#8c959f"}
    fig = Figure(figsize=(7, 0.5 * len(rows) + 1.4))
    ax = fig.add_subplot()
    names = [r["exercise"] for r in rows][::-1]
    left = [0] * len(rows)
    for status in STATUSES:
        counts = [r[status] for r in rows][::-1]
        ax.barh(names, counts, left=left, color=colors[status], label=status)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("submissions")
    ax.set_xlim(0, max(1, len(book.rows)))
    ax.set_title(f"Exercises of {len(book.rows)} submissions")
    ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.25 if rows else -0.1),
              frameon=False, fontsize="small")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=150)
    return path


def _grade_command(path: Path, timeout_per_cell: float) -> list[str]:
    return [sys.executable, "-m", "dlteach", "grade", str(path), "--json",
            "--timeout", str(timeout_per_cell)]


def _kill_group(process: subprocess.Popen) -> None:
    """Stop the grading process and the kernel it started (same process group)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def grade_one(path: Path, *, timeout_per_cell: float, time_limit: float,
              display_name: str) -> SubmissionGrade:
    """Grade one submission in its own process; never raises for a bad submission."""
    start = time.monotonic()
    row = SubmissionGrade(display_name)
    process = subprocess.Popen(_grade_command(path, timeout_per_cell), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=time_limit)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        row.error = (f"stopped after its time limit of {time_limit:g} s for the whole "
                     "notebook (see --time-limit)")
        row.seconds = time.monotonic() - start
        return row
    finally:
        if process.poll() is None:
            _kill_group(process)
    row.seconds = time.monotonic() - start
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        last = (err.strip().splitlines() or ["no output"])[-1]
        row.error = f"the grader failed (exit code {process.returncode}): {last}"
        return row
    row.report = report
    for exercise in report.get("exercises", []):
        row.statuses[exercise["name"]] = exercise["status"]
        row.messages[exercise["name"]] = exercise.get("message", "")
    if report.get("error"):
        row.error = report["error"]
    else:
        stops = [p["message"] for p in report.get("problems", [])
                 if p["kind"] in ("timeout", "dead kernel", "unresponsive")]
        row.error = "; ".join(stops)
    return row


def _display_names(paths: Sequence[Path]) -> list[str]:
    """Each path relative to the folder they share (short, unique names for the rows)."""
    if len(paths) == 1:
        return [paths[0].name]
    common = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [str(p.relative_to(common)) for p in paths]


def grade_class(paths: Sequence[Path], *, workers: int, timeout_per_cell: float = 60,
                time_limit: float = 600,
                on_done: Callable[[SubmissionGrade], None] | None = None) -> Gradebook:
    """Grade every submission, ``workers`` at a time; rows in the order of ``paths``.

    time_limit: seconds for one whole submission (its process and kernel are killed
    after it); timeout_per_cell: the grader's limit per cell (the run goes on after it).
    """
    if workers < 1:
        raise CourseError(f"--workers must be at least 1, got {workers}.")
    names = _display_names(paths)

    def run(item: tuple[Path, str]) -> SubmissionGrade:
        row = grade_one(item[0], timeout_per_cell=timeout_per_cell, time_limit=time_limit,
                        display_name=item[1])
        if on_done is not None:
            on_done(row)
        return row

    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(run, zip(paths, names, strict=True)))
    exercises: list[str] = []
    for row in rows:
        exercises += [name for name in row.statuses if name not in exercises]
    for row in rows:  # a submission that was never graded: every exercise not run
        for name in exercises:
            row.statuses.setdefault(name, NOT_RUN)
    return Gradebook(rows, exercises)


def write_gradebook(book: Gradebook, stem: str | Path) -> list[Path]:
    """Write ``<stem>.csv`` and ``<stem>.json``. An existing file is first renamed to
    ``<name>.backup-<time>`` (a previous gradebook is never lost)."""
    stem = Path(stem)
    written = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix, text in ((".csv", book.to_csv()), (".json", book.to_json())):
        path = stem.with_name(stem.name + suffix)
        if path.exists():
            backup = path.with_name(f"{path.name}.backup-{stamp}")
            n = 1
            while backup.exists():
                n += 1
                backup = path.with_name(f"{path.name}.backup-{stamp}-{n}")
            path.rename(backup)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
