"""`generate` replaces a learner notebook only if its cells are still what it generated.

Each scenario is a learner's file on disk, then a change to the solution upstream, then
`generate`: work saved without running must survive as well as work that was run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import nbformat.v4 as v4
import pytest
from nbformat import NotebookNode

from dlteach import cli
from dlteach.tools.learner import (
    FINGERPRINT_KEY,
    METADATA_KEY,
    cells_fingerprint,
    expected_learner_files,
    generate_learner_notebooks,
    learner_work,
)

LESSON = "01_perceptron.ipynb"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def solution(*, worked_second: bool = False, title: str = "The perceptron") -> NotebookNode:
    """Two exercises and a demo cell; ``worked_second`` turns exercise 2 into a worked example."""
    second = "def g(x):\n    return x + 1" if worked_second else (
        "def g(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION")
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell(f"# {title}\n\nLearning rates and updates.", id="intro"),
        v4.new_code_cell("lr = 0.1\nprint(lr)", id="demo"),
        v4.new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", id="ex1"),
        v4.new_code_cell(second, id="ex2"),
    ]
    return nb


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution(), tmp_path / "solutions" / LESSON)
    generate_learner_notebooks(tmp_path)
    return tmp_path


def learner_path(course: Path) -> Path:
    return course / "notebooks" / LESSON


def change_solution(course: Path, **kwargs) -> None:
    nbformat.write(solution(**kwargs), course / "solutions" / LESSON)


def generate(capsys, course: Path, *flags: str) -> str:
    assert cli.main(["--course-dir", str(course), "generate", *flags]) == 0
    return capsys.readouterr().out


def assert_kept(out: str, reason: str) -> None:
    assert f"kept notebooks/{LESSON} unchanged, not overwritten: {reason}" in out
    assert ("To update it, run 'dlteach generate --force': it first saves your version as "
            "notebooks/01_perceptron.backup-<time>.ipynb, then writes the new one.") in out
    assert f"wrote notebooks/{LESSON}" not in out
    assert "1 kept" in out


def test_fresh_notebooks_carry_the_fingerprint_of_their_cells(course):
    for path in (course / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata[METADATA_KEY] == {FINGERPRINT_KEY: cells_fingerprint(nb)}
        assert learner_work(path, path.read_bytes()) is None


def test_generate_twice_changes_nothing(course, capsys):
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
              for p in (course / "notebooks").iterdir()}
    out = generate(capsys, course)
    assert out.splitlines() == ["notebooks/: 0 written, 2 unchanged."]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in (course / "notebooks").iterdir()} == before
    assert cli.main(["--course-dir", str(course), "generate", "--check"]) == 0


def test_unrun_markdown_note_and_demo_edit_are_kept(course, capsys):
    path = learner_path(course)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, v4.new_markdown_cell("My note: the bias moves the line."))
    nb.cells[2].source = "lr = 0.001  # MY EXPERIMENT\nprint(lr)"
    nbformat.write(nb, path)  # saved, never run: no outputs, no execution counts
    work = path.read_bytes()
    change_solution(course, title="The Perceptron")  # a one-word change upstream

    out = generate(capsys, course)
    assert_kept(out, "its cells were edited since 'dlteach generate' wrote it (even if "
                     "never run)")
    assert path.read_bytes() == work
    assert not list((course / "notebooks").glob("*.backup-*"))


def test_unrun_filled_exercise_is_kept_when_the_stub_count_stays_the_same(course, capsys):
    path = learner_path(course)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[2].source == STUB
    nb.cells[2].source = "answer = 42"  # exercise 1 filled in, exercise 2 still a stub
    nbformat.write(nb, path)
    work = path.read_bytes()
    change_solution(course, worked_second=True)  # the new version has one stub as well
    new = nbformat.reads(expected_learner_files(course)[LESSON].decode(), as_version=4)
    assert sum(c.source.count("raise NotImplementedError()") for c in new.cells) == 1

    out = generate(capsys, course)
    assert_kept(out, "its cells were edited since")
    assert path.read_bytes() == work


def test_notebook_saved_by_jupyterlab_without_edits_is_replaced(course, capsys):
    path = learner_path(course)
    nb = nbformat.read(path, as_version=4)
    # What opening and saving in JupyterLab may add: kernel and language metadata, cell
    # metadata, a newer minor format; sources and cell types stay as they were.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.12.3",
                                    "mimetype": "text/x-python", "file_extension": ".py"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for cell in nb.cells:
        cell.metadata.update({"trusted": True, "editable": True, "tags": []})
    nbformat.write(nb, path)
    assert learner_work(path, path.read_bytes()) is None
    change_solution(course, title="The Perceptron")

    out = generate(capsys, course)
    assert f"wrote notebooks/{LESSON}" in out and "kept" not in out
    assert path.read_bytes() == expected_learner_files(course)[LESSON]
    assert not list((course / "notebooks").glob("*.backup-*"))


def test_untouched_notebook_is_replaced_when_an_exercise_is_added(course, capsys):
    # Fewer stubs than the new version is no longer mistaken for a filled-in exercise.
    nbformat.write(solution(worked_second=True), course / "solutions" / LESSON)
    generate(capsys, course)
    change_solution(course)  # exercise 2 becomes an exercise again: one more stub
    out = generate(capsys, course)
    assert f"wrote notebooks/{LESSON}" in out and "kept" not in out


@pytest.mark.parametrize("edit, reason", [
    (lambda nb: nb.metadata.pop(METADATA_KEY), "it has no dlteach fingerprint"),
    (lambda nb: setattr(nb.cells[1], "execution_count", 3), "it has been run"),
])
def test_missing_fingerprint_or_a_run_cell_counts_as_work(course, capsys, edit, reason):
    path = learner_path(course)
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)
    work = path.read_bytes()
    change_solution(course, title="The Perceptron")
    assert_kept(generate(capsys, course), reason)
    assert path.read_bytes() == work


def test_unreadable_notebook_is_kept(course, capsys):
    path = learner_path(course)
    path.write_text('{"cells": [', encoding="utf-8")  # a save cut short
    assert_kept(generate(capsys, course), "it cannot be read as a notebook")
    assert path.read_text(encoding="utf-8") == '{"cells": ['


def test_force_backs_up_the_complete_file_before_replacing_it(course, capsys):
    path = learner_path(course)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, v4.new_markdown_cell("My note."))
    nb.cells[3].source = "answer = 42"
    nbformat.write(nb, path)
    work = path.read_bytes()
    change_solution(course, title="The Perceptron")

    out = generate(capsys, course, "--force")
    (backup,) = (course / "notebooks").glob("01_perceptron.backup-*.ipynb")
    assert backup.read_bytes() == work  # every byte of the learner's version
    assert (f"backed up your version of notebooks/{LESSON} as notebooks/{backup.name}: "
            "its cells were edited since") in out
    assert path.read_bytes() == expected_learner_files(course)[LESSON]
    assert "extra:" not in out  # the backup is not reported as a stray notebook
    # The replacement is a fresh generated file: the next run leaves everything alone,
    # and the backup (the learner's own copy) is not "extra" for --check either.
    out = generate(capsys, course)
    assert out.splitlines()[-1] == "notebooks/: 0 written, 2 unchanged."
    assert "extra:" not in out
    assert generate_learner_notebooks(course, check=True).up_to_date
