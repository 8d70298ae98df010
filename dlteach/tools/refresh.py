"""Refresh: re-run solution notebooks in place, store their outputs, regenerate ``notebooks/``.

Updating a lesson is one command (``dlteach refresh 01``). The stored outputs are
what strict nbval compares against, so a refresh keeps only what is reproducible:
no timing metadata, and the notebook metadata of the source (not the kernel's
exact Python version, which would change with every machine). Consecutive outputs of one
stream are stored as one, with carriage returns applied, as JupyterLab shows them: a
training cell's progress bar (one write per epoch) is one line, not hundreds of outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from dlteach.tools.catalog import LESSONS, SOLUTIONS_DIR, CourseError, find_lesson
from dlteach.tools.execute import cell_summary, execute_notebook
from dlteach.tools.learner import (
    EXECUTION_METADATA,
    GenerateResult,
    generate_learner_notebooks,
    notebook_bytes,
    read_notebook,
    with_nbgrader_metadata,
)

# What a terminal or JupyterLab does with "\r" (back to the line's start) and a backspace.
_OVERWRITTEN_BY_CR = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)
_ERASED_BY_BACKSPACE = re.compile("[^\n]\x08")  # a character, then a backspace


def coalesce_streams(outputs: list) -> list:
    """Merge each run of consecutive stream outputs of one name (stdout, stderr) into one,
    applying carriage returns and backspaces; other outputs stay where they are."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and last is not None
                and last.get("output_type") == "stream" and last.get("name") == output.get("name")):
            last["text"] += output["text"]
        else:
            merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            text = output["text"]
            while True:
                shorter = _ERASED_BY_BACKSPACE.sub("", text)
                if shorter == text:
                    break
                text = shorter
            output["text"] = _OVERWRITTEN_BY_CR.sub("", text)
    return merged


class RefreshError(CourseError):
    """A solution notebook raised or timed out while being refreshed."""


DEFAULT_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python",
                      "name": "python3"}


def solution_paths(course_dir: Path, lessons: Iterable[str] | None = None) -> list[Path]:
    """The solution notebooks to refresh: all of ``solutions/``, or the named lessons."""
    folder = course_dir / SOLUTIONS_DIR
    if not lessons:
        return sorted(folder.glob("*.ipynb"))
    paths = []
    for name in lessons:
        candidate = folder / (name if name.endswith(".ipynb") else f"{name}.ipynb")
        if not candidate.is_file():
            candidate = folder / find_lesson(name, LESSONS).filename
        if not candidate.is_file():
            raise CourseError(f"{SOLUTIONS_DIR}/{candidate.name}: no such solution notebook.")
        if candidate not in paths:
            paths.append(candidate)
    return paths


def refresh_notebook(path: Path, *, timeout_per_cell: float = 600) -> None:
    """Execute one solution notebook in place (cwd = its folder), keeping only stable data.

    Raises RefreshError naming the cell if a cell raises or times out; the file is then
    left untouched.
    """
    nb = read_notebook(path)
    metadata = dict(nb.metadata)
    events = execute_notebook(nb, path.parent, timeout_per_cell=timeout_per_cell,
                              stop_on_error=True)
    if events:
        event = events[0]
        cell = nb.cells[event.index]
        raise RefreshError(
            f"{SOLUTIONS_DIR}/{path.name}, cell {event.index + 1} (\"{cell_summary(cell)}\"): "
            f"{event.kind}: {event.ename}: {event.evalue}. The notebook was not changed."
        )
    for cell in nb.cells:
        for key in EXECUTION_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    metadata.setdefault("kernelspec", DEFAULT_KERNELSPEC)
    language_info = dict(metadata.get("language_info") or {"name": "python"})
    language_info.pop("version", None)  # differs between machines, compared by nobody
    metadata["language_info"] = language_info
    nb.metadata = nbformat.from_dict(metadata)
    nb = with_nbgrader_metadata(nb, name=f"{SOLUTIONS_DIR}/{path.name}")
    data = notebook_bytes(nb)
    if path.read_bytes() != data:
        path.write_bytes(data)


def refresh(
    course_dir: str | Path,
    lessons: Iterable[str] | None = None,
    *,
    timeout_per_cell: float = 600,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Re-run the named solution notebooks (default: all), then regenerate ``notebooks/``."""
    course_dir = Path(course_dir)
    done: list[str] = []
    for path in solution_paths(course_dir, lessons):
        if progress:
            progress(f"running {SOLUTIONS_DIR}/{path.name}")
        try:
            refresh_notebook(path, timeout_per_cell=timeout_per_cell)
        except RefreshError as exc:
            if not done:
                raise
            # The lessons refreshed before the failure keep their new outputs: bring
            # their learner notebooks up to date too, so nothing is left half-done.
            generate_learner_notebooks(course_dir)
            raise RefreshError(
                f"{exc} Refreshed before it, with notebooks/ regenerated: {', '.join(done)}."
            ) from None
        done.append(f"{SOLUTIONS_DIR}/{path.name}")
    return generate_learner_notebooks(course_dir)
