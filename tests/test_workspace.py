"""The learner's workspace: filled by `dlteach open`, never overwritten, told of updates."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlteach import cli
from dlteach.tools.catalog import CourseError
from dlteach.tools.workspace import (
    NEWER,
    NOT_COPIED,
    UP_TO_DATE,
    resolve_workspace,
    sync_workspace,
    workspace_status,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A copy of the real course's solutions/ and notebooks/ (what a clone holds)."""
    monkeypatch.delenv("DLTEACH_WORKSPACE", raising=False)
    root = tmp_path / "course"
    shutil.copytree(REPO / "solutions", root / "solutions")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    return root


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.ipynb"))


def fill_in(path: Path) -> None:
    """What a learner does: write code in the first exercise stub, run it, save."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "raise NotImplementedError()" in c.source)
    cell.source = cell.source.replace("raise NotImplementedError()", "return 42  # mine")
    cell.execution_count = 1
    nbformat.write(nb, path)


def test_first_open_copies_every_learner_notebook(course):
    result = sync_workspace(course, resolve_workspace(course))
    workspace = course.resolve() / "workspace"
    assert result.workspace == workspace
    assert names(workspace) == names(course / "notebooks") == sorted(result.copied)
    for name in result.copied:
        assert (workspace / name).read_bytes() == (course / "notebooks" / name).read_bytes()
    assert all(s.state == UP_TO_DATE and not s.worked for s in result.states)


def test_later_opens_add_new_lessons_and_never_overwrite(course):
    workspace = resolve_workspace(course)
    sync_workspace(course, workspace)
    fill_in(workspace / "01_perceptron.ipynb")
    (workspace / "02_backpropagation.ipynb").write_text("not even a notebook")
    (workspace / "03_deep_networks.ipynb").unlink()  # the learner deleted it: comes back
    mine = {n: (workspace / n).read_bytes() for n in ("01_perceptron.ipynb",
                                                        "02_backpropagation.ipynb")}
    new_lesson = course / "notebooks" / "09_new_lesson.ipynb"
    shutil.copy(course / "notebooks" / "04_cnn.ipynb", new_lesson)
    result = sync_workspace(course, workspace)
    assert sorted(result.copied) == ["03_deep_networks.ipynb", "09_new_lesson.ipynb"]
    for name, data in mine.items():
        assert (workspace / name).read_bytes() == data
    states = {s.name: s for s in result.states}
    first = states["01_perceptron.ipynb"]
    assert first.worked and first.state == UP_TO_DATE
    assert states["02_backpropagation.ipynb"].state == "unreadable"


def test_a_corrected_lesson_is_announced_without_touching_the_learners_copy(course, capsys,
                                                                             monkeypatch):
    workspace = resolve_workspace(course)
    sync_workspace(course, workspace)
    fill_in(workspace / "01_perceptron.ipynb")
    before = (workspace / "01_perceptron.ipynb").read_bytes()
    # A `git pull` brings corrected lessons 1 and 2: notebooks/ is regenerated with new text.
    for stem in ("01_perceptron", "02_backpropagation"):
        solution = course / "solutions" / f"{stem}.ipynb"
        nb = nbformat.read(solution, as_version=4)
        nb.cells[0].source += "\n\n(corrected)"
        nbformat.write(nb, solution)
    assert cli.main(["--course-dir", str(course), "generate"]) == 0
    states = {s.name: s for s in workspace_status(course, workspace)}
    assert states["01_perceptron.ipynb"].state == NEWER and states["01_perceptron.ipynb"].worked
    assert states["02_backpropagation.ipynb"].state == NEWER
    assert not states["02_backpropagation.ipynb"].worked
    assert states["03_deep_networks.ipynb"].state == UP_TO_DATE
    assert (workspace / "01_perceptron.ipynb").read_bytes() == before
    capsys.readouterr()
    assert cli.main(["--course-dir", str(course), "status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"01_perceptron\.ipynb +newer version in the course \(your work\)", out)
    assert ("01_perceptron.ipynb: the course has a newer version; your copy (with your work) "
            "is kept. To get the new one, rename yours (e.g. 01_perceptron-mine.ipynb)") in out
    assert "02_backpropagation.ipynb: the course has a newer version; you have not changed" in out
    assert re.search(r"03_deep_networks\.ipynb +up to date\n", out)
    monkeypatch.setattr(cli, "launch", lambda command, cwd: 0)
    assert cli.main(["--course-dir", str(course), "open"]) == 0
    out = capsys.readouterr().out
    assert "01_perceptron.ipynb: the course has a newer version" in out
    assert (workspace / "01_perceptron.ipynb").read_bytes() == before


def test_status_before_the_first_open(course, capsys):
    assert cli.main(["--course-dir", str(course), "status"]) == 0
    assert "01_perceptron.ipynb" in capsys.readouterr().out
    states = workspace_status(course, resolve_workspace(course))
    assert {s.state for s in states} == {NOT_COPIED}


def test_another_workspace_can_be_chosen(course, tmp_path, monkeypatch, capsys):
    launched = []
    monkeypatch.setattr(cli, "launch", lambda command, cwd: launched.append((command, cwd)) or 0)
    mine = tmp_path / "my lessons"
    assert cli.main(["--course-dir", str(course), "open", "--workspace", str(mine)]) == 0
    assert names(mine) == names(course / "notebooks")
    assert launched[0][1] == mine.resolve()
    assert f"--ServerApp.root_dir={mine.resolve()}" in launched[0][0]
    assert "Copied into your workspace" in capsys.readouterr().out
    monkeypatch.setenv("DLTEACH_WORKSPACE", str(tmp_path / "from-env"))
    assert resolve_workspace(course) == (tmp_path / "from-env").resolve()
    assert not (course / "workspace").exists()


@pytest.mark.parametrize("inside", ["notebooks", "solutions", "notebooks/sub", "."])
def test_the_workspace_cannot_be_the_courses_own_folders(course, inside):
    with pytest.raises(CourseError, match="workspace"):
        resolve_workspace(course, course / inside)


def test_the_workspace_cannot_contain_the_courses_folders(course):
    with pytest.raises(CourseError, match="is the course folder itself"):
        resolve_workspace(course, course / "notebooks" / "..")
    with pytest.raises(CourseError, match="overlaps the course's notebooks/ folder"):
        resolve_workspace(course, course.parent)  # would hold the course's notebooks/


def test_the_default_workspace_is_ignored_by_git():
    check = subprocess.run(["git", "check-ignore", "-q", "workspace/01_perceptron.ipynb"],
                           cwd=REPO)
    assert check.returncode == 0


def test_grade_works_on_a_workspace_notebook(course, capsys):
    workspace = resolve_workspace(course)
    sync_workspace(course, workspace)
    code = cli.main(["grade", str(workspace / "01_perceptron.ipynb"), "--json"])
    report = __import__("json").loads(capsys.readouterr().out)
    assert code == 1 and report["error"] is None
    assert report["counts"]["not attempted"] == len(report["exercises"]) > 0


def test_a_filled_in_workspace_does_not_touch_the_projects_tests(tmp_path):
    """pytest collects tests/, solutions/ and notebooks/ only, and ruff skips the workspace."""
    workspace = REPO / "workspace"
    created = not workspace.exists()
    target = workspace / "zz_scratch_for_test.ipynb"
    try:
        workspace.mkdir(exist_ok=True)
        nb = nbformat.read(REPO / "notebooks" / "01_perceptron.ipynb", as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("import os, sys\nx=1;y = 2  ;  assert False"))
        nbformat.write(nb, target)
        collected = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist",
             "-o", "addopts=--nbval"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert collected.returncode == 0 and "zz_scratch_for_test" not in collected.stdout
        ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert "zz_scratch_for_test" not in ruff.stdout
    finally:
        target.unlink(missing_ok=True)
        if created:
            shutil.rmtree(workspace, ignore_errors=True)
