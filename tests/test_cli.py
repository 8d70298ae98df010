"""The `dlteach` command line: lessons, generate, grade, refresh, open; exit codes and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import nbformat
import nbformat.v4 as v4
import pytest
from notebook_helpers import VERDICT, write

from dlteach import cli
from dlteach.tools.catalog import LESSONS
from dlteach.tools.grader import VERDICT_MIMETYPE

REPO = Path(__file__).resolve().parents[1]


def solution(*extra: str) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# Lesson one", id="title"),
        v4.new_code_cell(VERDICT, id="setup"),
        v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                         "    ### END SOLUTION", id="exercise"),
        v4.new_code_cell("try:\n    ok = double(3) == 6\nexcept NotImplementedError:\n"
                         "    verdict('double', 'not attempted')\nelse:\n"
                         "    verdict('double', 'passed' if ok else 'failed', 'input: x = 3')",
                         id="check"),
        *(v4.new_code_cell(src, id=f"extra{i}") for i, src in enumerate(extra)),
    ]
    return nb


@pytest.fixture
def course(tmp_path: Path) -> Path:
    write(solution(), tmp_path / "solutions" / "01_perceptron.ipynb")
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_python_m_dlteach_lessons_lists_the_catalog_in_order():
    result = subprocess.run([sys.executable, "-m", "dlteach", "lessons"], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [lesson.stem for lesson in LESSONS]
    assert lines[0].startswith("01_perceptron       The perceptron — neurons, weights and bias")


def test_console_script_points_at_main():
    (script,) = entry_points(group="console_scripts", name="dlteach")
    assert script.value == "dlteach.cli:main"
    assert script.load() is cli.main


def test_lessons_marks_lessons_without_a_solution(course, capsys):
    code, out, _ = run(capsys, "--course-dir", str(course), "lessons")
    assert code == 0
    lines = out.splitlines()
    assert "(not yet available)" not in lines[0]
    assert all(line.endswith("(not yet available)") for line in lines[1:])


def test_generate_check_exit_codes(course, capsys):
    code, out, _ = run(capsys, "--course-dir", str(course), "generate", "--check")
    assert code == 1
    assert "stale: notebooks/01_perceptron.ipynb differs" in out
    assert "notebooks/ is out of date: run 'dlteach generate'." in out
    assert not (course / "notebooks").exists()
    code, out, _ = run(capsys, "--course-dir", str(course), "generate")
    assert code == 0 and "notebooks/: 2 written, 0 unchanged." in out
    code, out, _ = run(capsys, "--course-dir", str(course), "generate", "--check")
    assert code == 0 and "notebooks/ is up to date (2 files)." in out
    (course / "notebooks" / "Untitled.ipynb").write_text("{}")
    code, out, _ = run(capsys, "--course-dir", str(course), "generate", "--check")
    assert code == 1 and "extra: notebooks/Untitled.ipynb is not generated" in out


def test_course_dir_is_found_from_the_current_directory(course, capsys, monkeypatch):
    (course / "notebooks").mkdir()
    monkeypatch.chdir(course / "notebooks")
    code, _, _ = run(capsys, "generate")
    assert code == 0 and (course / "notebooks" / "01_perceptron.ipynb").is_file()


def test_errors_are_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    code, out, err = run(capsys, "--course-dir", str(tmp_path), "generate")
    assert code == 2 and out == ""
    assert err == f"dlteach generate: error: {tmp_path.resolve()} is not a course directory: " \
                  "it has no 'solutions/' folder.\n"
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "refresh")
    assert code == 2 and err.startswith("dlteach refresh: error: no course directory found")
    assert err.count("\n") == 1
    code, _, err = run(capsys, "grade", "x.ipynb", "--timeout", "0")
    assert code == 2
    assert err == "dlteach grade: error: --timeout must be a positive number of seconds, got 0.0.\n"


def test_grade_exit_codes_and_json(tmp_path, capsys):
    code, out, _ = run(capsys, "grade", str(tmp_path / "missing.ipynb"), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["error_kind"] == "unreadable" and data["error"].endswith("no such file.")
    (tmp_path / "notes.ipynb").write_text("just some notes")
    code, out, _ = run(capsys, "grade", str(tmp_path / "notes.ipynb"))
    assert code == 2 and "not a notebook (the file is not JSON)" in out
    path = write(solution(), tmp_path / "lesson.ipynb")
    code, out, _ = run(capsys, "grade", str(path))
    # Every check passed, but the notebook belongs to no known lesson, so nothing says
    # that every exercise was there: exit 1, with a warning, never "all passed".
    assert code == 1 and "1/1 passed" in out and "all passed!" not in out
    assert "warning: could not tell which lesson" in out
    code, out, _ = run(capsys, "grade", str(path), "--timeout", "nan")
    assert code == 2
    failing = solution()
    failing.cells[2].source = failing.cells[2].source.replace("2 * x", "3 * x")
    code, out, _ = run(capsys, "grade", str(write(failing, tmp_path / "wrong.ipynb")), "--json")
    assert code == 1
    assert json.loads(out)["exercises"] == [
        {"name": "double", "status": "failed", "message": "input: x = 3"}]


def test_refresh_stores_outputs_deterministically_and_regenerates(course, capsys):
    path = write(solution(
        "print(f'{0.1 + 0.2:.3f}')",
        "import matplotlib.pyplot as plt\n_ = plt.plot([0, 1], [1, 0])\nplt.show()",
    ), course / "solutions" / "01_perceptron.ipynb")
    code, out, err = run(capsys, "--course-dir", str(course), "refresh", "1")
    assert code == 0, err
    assert "running solutions/01_perceptron.ipynb" in out
    first = path.read_bytes()
    nb = nbformat.reads(first.decode(), as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == [1, 2, 3, 4, 5]
    assert all("execution" not in c.metadata for c in code_cells)
    assert code_cells[2].outputs[0]["data"][VERDICT_MIMETYPE]["status"] == "passed"
    assert code_cells[3].outputs[0]["text"] == "0.300\n"
    assert "image/png" in code_cells[4].outputs[0]["data"]
    assert "version" not in nb.metadata.get("language_info", {})
    learner = nbformat.read(course / "notebooks" / "01_perceptron.ipynb", as_version=4)
    assert "raise NotImplementedError()" in learner.cells[2].source
    assert all(c.get("outputs", []) == [] for c in learner.cells)
    assert run(capsys, "--course-dir", str(course), "refresh")[0] == 0
    assert path.read_bytes() == first, "refreshing twice must give the same bytes"


def test_refresh_failures(course, capsys):
    path = write(solution("raise ValueError('boom')"), course / "solutions" / "01_perceptron.ipynb")
    before = path.read_bytes()
    code, _, err = run(capsys, "--course-dir", str(course), "refresh")
    assert code == 1
    assert err == ('dlteach refresh: failed: solutions/01_perceptron.ipynb, cell 5 ("raise '
                   "ValueError('boom')\"): error: ValueError: boom. The notebook was not "
                   "changed.\n")
    assert path.read_bytes() == before
    code, _, err = run(capsys, "--course-dir", str(course), "refresh", "99")
    assert code == 2 and "unknown lesson '99'" in err


def test_a_failing_lesson_leaves_the_lessons_refreshed_before_it_complete(course, capsys):
    write(solution("raise ValueError('boom')"), course / "solutions" / "02_backpropagation.ipynb")
    code, _, err = run(capsys, "--course-dir", str(course), "refresh",
                       "solutions/01_perceptron.ipynb", "2")  # a path works as well as a number
    assert code == 1
    assert "02_backpropagation.ipynb, cell 5" in err
    assert "Refreshed before it, with notebooks/ regenerated: solutions/01_perceptron.ipynb" in err
    # Lesson 1 was refreshed, and its learner notebook (and the start page) are current.
    assert run(capsys, "--course-dir", str(course), "generate", "--check")[0] == 0


def test_open_starts_jupyterlab_on_the_start_page(course, capsys, monkeypatch):
    launched = []
    monkeypatch.setattr(cli, "launch", lambda command, cwd: launched.append((command, cwd)) or 0)
    monkeypatch.delenv("DLTEACH_WORKSPACE", raising=False)
    code, _, err = run(capsys, "--course-dir", str(course), "open")
    assert code == 2 and "notebooks does not exist: run 'dlteach generate' first" in err
    run(capsys, "--course-dir", str(course), "generate")
    assert run(capsys, "--course-dir", str(course), "open")[0] == 0
    ((command, cwd),) = launched
    workspace = course.resolve() / "workspace"  # the learner's own copies, not notebooks/
    expected = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace}",
                str(workspace / "00_start_here.ipynb")]
    if os.geteuid() == 0:
        expected.append("--allow-root")  # Jupyter refuses to run as root without it
    assert command == expected
    assert cwd == workspace
    monkeypatch.setattr(cli, "jupyterlab_installed", lambda: False)
    code, _, err = run(capsys, "--course-dir", str(course), "open")
    assert code == 1
    assert "JupyterLab is not installed. Install the course extra with pip install " \
           "'dlteach[course]'" in err
