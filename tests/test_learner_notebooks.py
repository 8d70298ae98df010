"""Learner notebooks: generated from solutions/, solution regions replaced, rest unchanged."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import nbformat.v4 as v4
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.tools.catalog import (
    LESSONS,
    START_PAGE,
    CourseError,
    Lesson,
    check_course_dir,
    find_course_dir,
    find_lesson,
)
from dlteach.tools.learner import (
    SolutionMarkerError,
    expected_learner_files,
    generate_learner_notebooks,
    holds_learner_work,
    make_learner_notebook,
    make_start_page,
    notebook_bytes,
    strip_solution,
)

REPO = Path(__file__).resolve().parents[1]
GAP = "# YOUR CODE HERE\n"


def solution_notebook() -> nbformat.NotebookNode:
    """A small solution notebook with outputs, metadata and two exercises."""
    nb = v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "language_info": {"name": "python"}, "custom": {"keep": [1, 2]}}
    code = v4.new_code_cell(
        "def f(x):\n"
        "    \"\"\"Twice x.\"\"\"\n"
        "    ### BEGIN SOLUTION\n"
        "    y = 2 * x\n"
        "    return y\n"
        "    ### END SOLUTION\n",
        id="exercise-f",
        execution_count=3,
        metadata={"tags": ["exercise"], "execution": {"iopub.status.busy": "2026-01-01"},
                  "ExecuteTime": {"end_time": "x"}, "scrolled": True},
        outputs=[v4.new_output("stream", name="stdout", text="hi\n")],
    )
    nested = v4.new_code_cell(
        "class A:\n"
        "    def g(self):\n"
        "        ### BEGIN SOLUTION\n"
        "        return 1\n"
        "        ### END SOLUTION\n"
        "\n"
        "### BEGIN SOLUTION\n"
        "answer = 42\n"
        "### END SOLUTION",
        id="exercise-g",
        execution_count=4,
    )
    check = v4.new_code_cell(
        "check(f)", id="check-f", execution_count=5,
        outputs=[v4.new_output("execute_result", data={"text/plain": "ok"}, execution_count=5)],
    )
    nb.cells = [v4.new_markdown_cell("# Title\n\nSome *text*.", id="intro"), code, nested, check]
    return nb


def test_regions_become_gaps_at_the_begin_lines_indentation():
    learner = make_learner_notebook(solution_notebook(), name="sol.ipynb")
    assert learner.cells[1].source == (
        "def f(x):\n"
        "    \"\"\"Twice x.\"\"\"\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
    )
    assert learner.cells[2].source == (
        "class A:\n"
        "    def g(self):\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n"
        "\n"
        "# YOUR CODE HERE\n"
        "raise NotImplementedError()"  # the END line had no newline: neither has the gap
    )


def test_outputs_counts_and_execution_metadata_cleared_rest_identical():
    sol = solution_notebook()
    before = copy.deepcopy(sol)
    learner = make_learner_notebook(sol, name="sol.ipynb")
    assert sol == before, "the solution notebook must not be modified"
    assert learner.metadata == sol.metadata
    assert [c.get("id") for c in learner.cells] == [c.get("id") for c in sol.cells]
    assert learner.cells[0] == sol.cells[0]  # markdown unchanged
    for cell in learner.cells[1:]:
        assert cell.outputs == []
        assert cell.execution_count is None
        assert "execution" not in cell.metadata and "ExecuteTime" not in cell.metadata
    assert learner.cells[1].metadata == {"tags": ["exercise"], "scrolled": True}
    assert learner.cells[3].source == "check(f)"
    # Everything else is kept exactly: build the expected notebook by hand.
    expected = copy.deepcopy(sol)
    for cell, learner_cell in zip(expected.cells[1:], learner.cells[1:], strict=True):
        cell.source = learner_cell.source
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
    assert notebook_bytes(learner) == notebook_bytes(expected)
    assert "return y" not in notebook_bytes(learner).decode()


@given(st.lists(st.text(alphabet="abc =()#:\t 1", max_size=30), max_size=8))
def test_source_without_markers_is_unchanged(lines):
    source = "\n".join(line for line in lines if "###" not in line)
    assert strip_solution(source) == source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n### END SOLUTION\n",
         r"sol\.ipynb, cell 2 \(id 'bad'\): '### END SOLUTION' on line 2 has no matching"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n",
         r"sol\.ipynb, cell 2 \(id 'bad'\): '### BEGIN SOLUTION' on line 2 is never closed"),
        ("### BEGIN SOLUTION\na = 1\n  ### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n",
         r"sol\.ipynb, cell 2 \(id 'bad'\): '### BEGIN SOLUTION' on line 3 is nested inside "
         r"the region opened on line 1"),
    ],
)
def test_unbalanced_or_nested_markers_name_notebook_and_cell(source, message):
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("intro", id="md"), v4.new_code_cell(source, id="bad")]
    with pytest.raises(SolutionMarkerError, match=message):
        make_learner_notebook(nb, name="sol.ipynb")


def test_markers_outside_code_cells_are_refused():
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("### BEGIN SOLUTION\nsecret\n### END SOLUTION", id="m")]
    with pytest.raises(SolutionMarkerError,
                       match=r"sol\.ipynb, cell 1 \(id 'm'\): solution markers are only allowed "
                             r"in code cells, found one in a markdown cell"):
        make_learner_notebook(nb, name="sol.ipynb")


def test_start_page_lists_lessons_in_order_linking_only_available_ones():
    page = make_start_page({"01_perceptron"})
    assert {cell.cell_type for cell in page.cells} == {"markdown"}
    text = "\n".join(cell.source for cell in page.cells)
    assert "[The perceptron](01_perceptron.ipynb) — neurons, weights and bias" in text
    assert "raise NotImplementedError()" in text
    positions = [text.index(lesson.title) for lesson in LESSONS]
    assert positions == sorted(positions)
    for lesson in LESSONS[1:]:
        assert f"({lesson.filename})" not in text
        assert f"{lesson.title} — {lesson.summary}. *(Not yet available.)*" in text
    assert notebook_bytes(make_start_page({"01_perceptron"})) == notebook_bytes(page)
    nbformat.validate(page)


def test_catalog_is_ordered_and_lessons_are_found_by_stem_or_number():
    numbers = [lesson.number for lesson in LESSONS]
    assert numbers == [f"{i:02d}" for i in range(1, len(LESSONS) + 1)]
    assert LESSONS[0] == Lesson(
        "01_perceptron", "The perceptron",
        "neurons, weights and bias, Rosenblatt's learning rule, and why XOR needs hidden layers")
    assert find_lesson("01_perceptron") is LESSONS[0]
    assert find_lesson("1") is LESSONS[0] and find_lesson("02") is LESSONS[1]
    # A notebook's path, as tab completion types it, names its lesson too.
    assert find_lesson("solutions/01_perceptron.ipynb") is LESSONS[0]
    assert find_lesson("notebooks/02_backpropagation.ipynb") is LESSONS[1]
    with pytest.raises(CourseError, match=r"unknown lesson '99'; the lessons are: 01_perceptron"):
        find_lesson("99")


def make_course(tmp_path: Path, stems=("01_perceptron",)) -> Path:
    (tmp_path / "solutions").mkdir()
    for stem in stems:
        nbformat.write(solution_notebook(), tmp_path / "solutions" / f"{stem}.ipynb")
    return tmp_path


def test_generate_writes_deterministically_and_check_finds_stale_missing_extra(tmp_path):
    course = make_course(tmp_path)
    first = generate_learner_notebooks(course, check=True)
    assert not first.up_to_date and not (course / "notebooks").exists()
    assert sorted(map(str, first.stale)) == ["notebooks/00_start_here.ipynb",
                                            "notebooks/01_perceptron.ipynb"]
    written = generate_learner_notebooks(course)
    assert written.written and len(written.stale) == 2
    snapshot = {p.name: p.read_bytes() for p in (course / "notebooks").iterdir()}
    again = generate_learner_notebooks(course)
    assert again.stale == [] and len(again.unchanged) == 2
    assert {p.name: p.read_bytes() for p in (course / "notebooks").iterdir()} == snapshot
    learner = nbformat.reads(snapshot["01_perceptron.ipynb"].decode(), as_version=4)
    assert GAP in learner.cells[1].source
    # A stale file, a missing one and an extra one are all flagged; nothing is written.
    (course / "notebooks" / "01_perceptron.ipynb").write_text("{}")
    (course / "notebooks" / START_PAGE).unlink()
    (course / "notebooks" / "Untitled.ipynb").write_text("{}")
    check = generate_learner_notebooks(course, check=True)
    assert sorted(map(str, check.stale)) == ["notebooks/00_start_here.ipynb",
                                            "notebooks/01_perceptron.ipynb"]
    assert list(map(str, check.extra)) == ["notebooks/Untitled.ipynb"]
    assert (course / "notebooks" / "01_perceptron.ipynb").read_text() == "{}"


def test_generate_never_loses_a_learners_work(tmp_path):
    course = make_course(tmp_path)
    generate_learner_notebooks(course)
    target = course / "notebooks" / "01_perceptron.ipynb"
    # The learner fills in the exercise and runs it; then the solution changes upstream.
    learner = nbformat.read(target, as_version=4)
    learner.cells[1].source = learner.cells[1].source.replace(GAP, "    return 42")
    learner.cells[1].execution_count = 1
    nbformat.write(learner, target)
    work = target.read_bytes()
    solution = nbformat.read(course / "solutions" / "01_perceptron.ipynb", as_version=4)
    solution.cells.append(v4.new_markdown_cell("A new paragraph."))
    nbformat.write(solution, course / "solutions" / "01_perceptron.ipynb")

    # Prose that mentions the stub does not make an untouched notebook look worked on.
    note = v4.new_markdown_cell("Replace `raise NotImplementedError()` with your code.")
    solution.cells.insert(0, note)
    nbformat.write(solution, course / "solutions" / "01_perceptron.ipynb")
    untouched = course / "notebooks" / "00_start_here.ipynb"
    assert not holds_learner_work(untouched, untouched.read_bytes())

    kept = generate_learner_notebooks(course)
    assert list(map(str, kept.kept)) == ["notebooks/01_perceptron.ipynb"]
    assert target.read_bytes() == work  # untouched
    forced = generate_learner_notebooks(course, force=True)
    (backup,) = forced.backups
    assert (course / backup).read_bytes() == work  # the learner's version, saved first
    assert GAP in nbformat.read(target, as_version=4).cells[2].source
    assert forced.extra == []  # the backup is not reported as a stray notebook


def test_uncatalogued_solutions_are_generated_and_reported(tmp_path):
    course = make_course(tmp_path, stems=("01_perceptron", "99_extra"))
    result = generate_learner_notebooks(course)
    assert list(map(str, result.uncatalogued)) == ["solutions/99_extra.ipynb"]
    assert (course / "notebooks" / "99_extra.ipynb").is_file()


def test_unreadable_solution_is_named(tmp_path):
    course = make_course(tmp_path)
    (course / "solutions" / "02_backpropagation.ipynb").write_text("not json")
    with pytest.raises(CourseError, match=r"02_backpropagation\.ipynb: not a notebook \(the file "
                                          r"is not JSON\)"):
        generate_learner_notebooks(course, check=True)


def test_course_dir_is_found_from_below_or_refused(tmp_path, monkeypatch):
    course = make_course(tmp_path)
    deep = course / "notebooks" / "sub"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_course_dir() == course.resolve()
    assert check_course_dir(course) == course.resolve()
    with pytest.raises(CourseError, match=r"is not a course directory: it has no 'solutions/'"):
        check_course_dir(deep)
    with pytest.raises(CourseError, match=r"no course directory found: neither .* holds a "
                                          r"'solutions/' folder"):
        find_course_dir(Path(tmp_path.anchor))


def test_repository_notebooks_are_up_to_date():
    """notebooks/ must be exactly what `dlteach generate` writes now: run it if this fails."""
    expected = expected_learner_files(REPO)
    folder = REPO / "notebooks"
    actual = {p.name: p.read_bytes() for p in folder.glob("*.ipynb")}
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    stale = sorted(n for n in expected if n in actual and actual[n] != expected[n])
    assert (missing, extra, stale) == ([], [], []), (
        f"notebooks/ is out of date (missing {missing}, extra {extra}, stale {stale}): "
        "run `python -m dlteach generate`."
    )
