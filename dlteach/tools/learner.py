"""Learner notebooks: ``solutions/`` with every solution region replaced by a gap.

In a solution notebook an exercise is a code cell whose learner part stands
between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION`` (nbgrader's
convention, any indentation). The learner version replaces each region, markers
included, by::

    # YOUR CODE HERE
    raise NotImplementedError()

at the indentation of the ``### BEGIN SOLUTION`` line, clears every output and
execution count, drops the cell metadata about execution, and keeps everything
else (cell ids, markdown, other metadata, notebook metadata) unchanged.
The same input always gives the same bytes, so ``notebooks/`` can be checked
into git and tested for being up to date.

Every file ``generate`` writes carries a fingerprint of its cells (types and sources)
in ``metadata["dlteach"]["generated_sha256"]``. Before replacing a learner notebook,
``generate`` recomputes it: a file whose cells changed since it was generated (a note,
an edited demo, a filled-in exercise, even unrun) holds the learner's work and is kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dlteach.errors import DLTeachError
from dlteach.tools.catalog import (
    LESSONS,
    NOTEBOOKS_DIR,
    SOLUTIONS_DIR,
    START_PAGE,
    CourseError,
    Lesson,
)

BEGIN_RE = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\r?\n?$")
END_RE = re.compile(r"^[ \t]*### END SOLUTION[ \t]*\r?\n?$")
# Cell metadata written by executing a cell (nbclient timings, the ExecuteTime extension).
EXECUTION_METADATA = ("execution", "ExecuteTime")
# Notebook metadata where generated files record the fingerprint of their cells.
METADATA_KEY = "dlteach"
FINGERPRINT_KEY = "generated_sha256"


class SolutionMarkerError(DLTeachError, ValueError):
    """``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers are unbalanced or nested."""


def _cell_name(index: int, cell: NotebookNode) -> str:
    cell_id = cell.get("id")
    return f"cell {index + 1}" + (f" (id {cell_id!r})" if cell_id else "")


def strip_solution(source: str, *, where: str = "cell") -> str:
    """``source`` with each solution region replaced by the learner's gap.

    where: names the notebook and cell in error messages.
    """
    out: list[str] = []
    begin_line: int | None = None
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        begin = BEGIN_RE.match(line)
        if begin:
            if begin_line is not None:
                raise SolutionMarkerError(
                    f"{where}: '### BEGIN SOLUTION' on line {lineno} is nested inside the "
                    f"region opened on line {begin_line}; close it with '### END SOLUTION' first."
                )
            begin_line, indent = lineno, begin.group(1)
            continue
        if END_RE.match(line):
            if begin_line is None:
                raise SolutionMarkerError(
                    f"{where}: '### END SOLUTION' on line {lineno} has no matching "
                    "'### BEGIN SOLUTION' above it."
                )
            newline = "\n" if line.endswith("\n") else ""
            out.append(f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(){newline}")
            begin_line = None
            continue
        if begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise SolutionMarkerError(
            f"{where}: '### BEGIN SOLUTION' on line {begin_line} is never closed by "
            "'### END SOLUTION'."
        )
    return "".join(out)


def make_learner_notebook(nb: NotebookNode, *, name: str = "notebook") -> NotebookNode:
    """The learner version of a solution notebook (a new object; ``nb`` is not modified).

    name: how error messages name the notebook (e.g. ``solutions/01_perceptron.ipynb``).
    """
    learner = copy.deepcopy(nb)
    for index, cell in enumerate(learner.cells):
        where = f"{name}, {_cell_name(index, cell)}"
        if cell.cell_type != "code":
            if any(BEGIN_RE.match(line) or END_RE.match(line)
                   for line in cell.source.splitlines(keepends=True)):
                raise SolutionMarkerError(
                    f"{where}: solution markers are only allowed in code cells, "
                    f"found one in a {cell.cell_type} cell."
                )
            continue
        cell.source = strip_solution(cell.source, where=where)
        cell.outputs = []
        cell.execution_count = None
        for key in EXECUTION_METADATA:
            cell.metadata.pop(key, None)
    return learner


def cells_fingerprint(nb: NotebookNode) -> str:
    """sha256 of the notebook's cell types and sources, in order.

    Only what a learner writes counts: cell ids, cell and notebook metadata, outputs and
    execution counts are left out, so JupyterLab saving an unedited notebook (adding a
    kernelspec, language_info, cell ids or cell metadata) keeps the same fingerprint.
    """
    cells = []
    for cell in nb.cells:
        source = cell.get("source", "")
        if isinstance(source, list):  # the on-disk form, if a caller skipped nbformat.reads
            source = "".join(source)
        cells.append([cell.get("cell_type"), source])
    text = json.dumps(cells, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_fingerprint(nb: NotebookNode) -> NotebookNode:
    """Record :func:`cells_fingerprint` in ``nb.metadata["dlteach"]`` (in place); return nb."""
    nb.metadata[METADATA_KEY] = {FINGERPRINT_KEY: cells_fingerprint(nb)}
    return nb


def notebook_bytes(nb: NotebookNode) -> bytes:
    """The bytes ``nbformat.write`` puts in a file: deterministic for a given notebook."""
    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate a notebook, raising CourseError with the file's name if it is not one."""
    try:
        nb = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise CourseError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise CourseError(f"{path}: is a folder, not a notebook.") from None
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError):
        raise CourseError(f"{path}: not a notebook (the file is not JSON).") from None
    except (nbformat.ValidationError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CourseError(f"{path}: not a valid notebook ({_first_line(exc)}).") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise CourseError(f"{path}: not a valid notebook ({_first_line(exc)}).") from None
    return nb


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def make_start_page(
    available: Iterable[str], lessons: tuple[Lesson, ...] = LESSONS
) -> NotebookNode:
    """The markdown-only start page: the course, how an exercise works, the lessons in order.

    available: stems of the lessons whose notebooks exist; the others are listed as
    not yet available, without a link.
    """
    available = set(available)
    lesson_lines = []
    for i, lesson in enumerate(lessons, start=1):
        if lesson.stem in available:
            lesson_lines.append(
                f"{i}. [{lesson.title}]({lesson.filename}) — {lesson.summary}."
            )
        else:
            lesson_lines.append(
                f"{i}. {lesson.title} — {lesson.summary}. *(Not yet available.)*"
            )
    first = next((lesson for lesson in lessons if lesson.stem in available), None)
    start_with = (
        f"Start with [{first.title}]({first.filename})." if first else
        "No lesson is available yet."
    )
    welcome = (
        "# Deep learning from scratch, in NumPy\n"
        "\n"
        "Welcome to **dlteach**. In this course you build the fundamentals of deep learning "
        "yourself, as small vectorized NumPy functions: neurons and their learning rule, "
        "backpropagation, deep networks, convolutional networks, and recurrent networks with "
        "the LSTM. Each lesson explains an "
        "idea with intuition, an equation, code and a figure, then asks you to implement it "
        "and checks your answer on the spot.\n"
        "\n"
        f"{start_with}"
    )
    how = (
        "## How to work through an exercise\n"
        "\n"
        "1. Run the lesson's cells in order from the top (**Shift+Enter** runs a cell and "
        "moves to the next).\n"
        "2. An exercise is a code cell with a gap:\n"
        "\n"
        "   ```python\n"
        "   # YOUR CODE HERE\n"
        "   raise NotImplementedError()\n"
        "   ```\n"
        "\n"
        "   Replace these two lines with your code.\n"
        "3. Run the exercise cell, then the check cell below it. It shows one verdict:\n"
        "   - ✅ **passed**: on to the next section;\n"
        "   - ❌ **failed**: with the input it tried, the expected value, what your code "
        "returned, and a hint;\n"
        "   - ⏳ **not attempted yet**: the gap is still there.\n"
        "4. Changed something earlier in the notebook? Run the cells again from the top "
        "(*Kernel → Restart Kernel and Run All Cells*).\n"
        "\n"
        "To grade a whole lesson in a fresh kernel, save it, then run in a cell of any "
        "notebook here (they all start in this folder):\n"
        "\n"
        "```python\n"
        "from dlteach.tools.grader import grade\n"
        "print(grade(\"01_perceptron.ipynb\"))\n"
        "```\n"
        "\n"
        "or, in a terminal in the course folder, "
        "`python -m dlteach grade workspace/01_perceptron.ipynb`.\n"
        "\n"
        "These notebooks are your own copies, in your workspace: `dlteach open` never "
        "overwrites them. When the course brings a corrected lesson, `dlteach open` and "
        "`dlteach status` tell you which of your notebooks have a newer version."
    )
    listing = (
        "## The lessons\n"
        "\n"
        "Each lesson builds on the ones before it, so take them in order.\n"
        "\n" + "\n".join(lesson_lines)
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(welcome, id="start-here-welcome"),
        nbformat.v4.new_markdown_cell(how, id="start-here-exercises"),
        nbformat.v4.new_markdown_cell(listing, id="start-here-lessons"),
    ]
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


@dataclass
class GenerateResult:
    """What ``generate_learner_notebooks`` found (check mode) or did (write mode).

    Paths are relative to the course directory.
    stale: files missing or different from what would be generated (written unless check).
    extra: notebooks in ``notebooks/`` that no solution generates (never deleted).
    uncatalogued: solution notebooks that are not in the lesson catalog.
    kept: stale notebooks left alone because they hold a learner's work (see
        :func:`learner_work`); ``force=True`` replaces them after a backup.
    reasons: for each kept or backed-up notebook, why it counts as a learner's work.
    backups: where the learner's versions were copied before being replaced.
    solutions: solution notebooks whose nbgrader cell metadata were stale (rewritten
        unless check; see :mod:`dlteach.tools.nbgrader_cells`).
    """

    stale: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    reasons: dict[Path, str] = field(default_factory=dict)
    backups: list[Path] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    uncatalogued: list[Path] = field(default_factory=list)
    solutions: list[Path] = field(default_factory=list)
    written: bool = False

    @property
    def up_to_date(self) -> bool:
        return not self.stale and not self.extra and not self.solutions


def expected_learner_files(
    course_dir: Path, lessons: tuple[Lesson, ...] = LESSONS
) -> dict[str, bytes]:
    """Every file of ``notebooks/`` as the generator would write it: name -> bytes."""
    solutions = sorted((course_dir / SOLUTIONS_DIR).glob("*.ipynb"))
    files: dict[str, bytes] = {}
    for path in solutions:
        if path.name == START_PAGE:
            raise CourseError(
                f"{SOLUTIONS_DIR}/{START_PAGE}: this name is reserved for the generated "
                "start page; rename the solution notebook."
            )
        rel = f"{SOLUTIONS_DIR}/{path.name}"
        nb = with_nbgrader_metadata(read_notebook(path), name=rel)
        learner = stamp_fingerprint(make_learner_notebook(nb, name=rel))
        files[path.name] = notebook_bytes(learner)
    start = stamp_fingerprint(make_start_page({p.stem for p in solutions}, lessons))
    files[START_PAGE] = notebook_bytes(start)
    return files


def with_nbgrader_metadata(nb: NotebookNode, *, name: str) -> NotebookNode:
    """nb with the nbgrader cell metadata its exercises imply (see nbgrader_cells)."""
    from dlteach.tools.nbgrader_cells import with_nbgrader_metadata as stamped

    return stamped(nb, name=name)


def sync_nbgrader_metadata(course_dir: Path, *, check: bool = False) -> list[Path]:
    """Rewrite each solution notebook whose nbgrader cell metadata are stale (only the
    metadata change); with ``check``, write nothing. Returns the stale ones."""
    from dlteach.tools.nbgrader_cells import has_nbgrader_metadata

    stale = []
    for path in sorted((course_dir / SOLUTIONS_DIR).glob("*.ipynb")):
        rel = Path(SOLUTIONS_DIR) / path.name
        nb = read_notebook(path)
        if has_nbgrader_metadata(nb, name=str(rel)):
            continue
        stale.append(rel)
        if not check:
            path.write_bytes(notebook_bytes(with_nbgrader_metadata(nb, name=str(rel))))
    return stale


def learner_work(path: Path, generated: bytes) -> str | None:
    """Why the notebook at ``path`` holds someone's work, or None if replacing it loses nothing.

    Replacing is safe only when the file's cells (types and sources) are still those
    ``generate`` wrote, as its stored fingerprint proves, or already those of
    ``generated``, and no cell was run. Anything else is work: outputs or execution counts,
    cells changed since generation (run or not), a file without a fingerprint (not written
    by this ``generate``), or a file we cannot read.
    """
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        fingerprint = cells_fingerprint(nb)
    except Exception:
        return "it cannot be read as a notebook"
    if any(c.get("outputs") or c.get("execution_count") is not None for c in _code_cells(nb)):
        return "it has been run (it has outputs or execution counts)"
    if fingerprint == cells_fingerprint(nbformat.reads(generated.decode("utf-8"), as_version=4)):
        return None  # same cells as the new version: only metadata differs
    stamp = nb.metadata.get(METADATA_KEY)
    stored = stamp.get(FINGERPRINT_KEY) if isinstance(stamp, dict) else None
    if not isinstance(stored, str):
        return ("it has no dlteach fingerprint, so it may hold edits "
                "(it was not written by this version of 'dlteach generate')")
    if fingerprint != stored:
        return "its cells were edited since 'dlteach generate' wrote it (even if never run)"
    return None


def holds_learner_work(path: Path, generated: bytes) -> bool:
    """True when the notebook at ``path`` holds someone's work (see :func:`learner_work`)."""
    return learner_work(path, generated) is not None


def _code_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if c.get("cell_type") == "code"]


_BACKUP_NAME = re.compile(r"\.backup-[0-9T-]+(-\d+)?\.ipynb$")


def _backup_path(target: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = target.with_name(f"{target.stem}.backup-{stamp}.ipynb")
    n = 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}.backup-{stamp}-{n}.ipynb")
    return candidate


def generate_learner_notebooks(
    course_dir: str | Path,
    *,
    check: bool = False,
    force: bool = False,
    lessons: tuple[Lesson, ...] = LESSONS,
) -> GenerateResult:
    """Regenerate ``notebooks/`` from ``solutions/`` (or, with ``check``, only compare).

    Files already identical are not rewritten. Extra notebooks are reported, not deleted:
    they may hold a learner's own work. A stale notebook is replaced only if its cells are
    still exactly what ``generate`` wrote (see :func:`learner_work`); any other is kept as
    it is, unless ``force``: then it is first copied to ``<name>.backup-<time>.ipynb``
    beside it, so nothing a learner saved is lost.
    """
    course_dir = Path(course_dir)
    result = GenerateResult()
    result.solutions = sync_nbgrader_metadata(course_dir, check=check)
    expected = expected_learner_files(course_dir, lessons)
    out_dir = course_dir / NOTEBOOKS_DIR
    catalogued = {lesson.filename for lesson in lessons} | {START_PAGE}
    result.uncatalogued = [Path(SOLUTIONS_DIR) / n for n in expected if n not in catalogued]
    for name, data in expected.items():
        target = out_dir / name
        rel = Path(NOTEBOOKS_DIR) / name
        if target.is_file() and target.read_bytes() == data:
            result.unchanged.append(rel)
            continue
        result.stale.append(rel)
        if check:
            continue
        reason = learner_work(target, data) if target.is_file() else None
        if reason is not None:
            result.reasons[rel] = reason
            if not force:
                result.kept.append(rel)
                continue
            backup = _backup_path(target)
            shutil.copy2(target, backup)
            result.backups.append(Path(NOTEBOOKS_DIR) / backup.name)
        out_dir.mkdir(exist_ok=True)
        target.write_bytes(data)
    if out_dir.is_dir():
        # Backups made by --force are the learner's own copies, never "extra".
        result.extra = [Path(NOTEBOOKS_DIR) / p.name for p in sorted(out_dir.glob("*.ipynb"))
                        if p.name not in expected and not _BACKUP_NAME.search(p.name)]
    result.written = not check
    return result
