"""Grading a class: submissions found, graded in parallel, one gradebook, a summary."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

from dlteach import cli
from dlteach.tools import gradebook
from dlteach.tools.catalog import CourseError
from dlteach.tools.gradebook import (
    Gradebook,
    SubmissionGrade,
    class_summary,
    default_workers,
    find_submissions,
    grade_one,
    summary_figure,
    summary_table,
    write_gradebook,
)

ROOT = Path(__file__).resolve().parents[1]


def _load_class_maker():
    spec = importlib.util.spec_from_file_location(
        "class_submissions", ROOT / "benchmarks" / "class_submissions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- finding submissions


def test_a_folder_gives_its_notebooks_recursively_without_checkpoints_or_hidden_folders(tmp_path):
    for name in ("b.ipynb", "a.ipynb", "group/c.ipynb", ".ipynb_checkpoints/a-checkpoint.ipynb",
                 ".hidden/d.ipynb", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = find_submissions([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.ipynb", "b.ipynb", "group/c.ipynb"]
    # a file named explicitly is graded whatever its name; duplicates count once
    explicit = find_submissions([tmp_path / "notes.txt", tmp_path, tmp_path / "a.ipynb"])
    assert [p.name for p in explicit] == ["notes.txt", "a.ipynb", "b.ipynb", "c.ipynb"]


def test_missing_paths_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(CourseError, match=r"no such file or folder: .*absent"):
        find_submissions([tmp_path / "absent"])
    with pytest.raises(CourseError, match=r"no notebooks \(\*\.ipynb\) to grade"):
        find_submissions([tmp_path])


@pytest.mark.parametrize(("env", "threads", "cores", "workers"), [
    ({}, None, 2, 2),  # the default policy: 1 BLAS thread per kernel
    ({}, None, 8, 8),
    ({"DLTEACH_THREADS": "2"}, None, 8, 4),
    ({"DLTEACH_THREADS": "auto"}, None, 8, 1),  # each kernel takes every core
    ({}, "4", 2, 1),  # never below one worker
    ({"DLTEACH_THREADS": "4"}, "2", 8, 4),  # --threads wins over the environment
    ({}, "auto", 4, 1),
])
def test_default_workers_share_the_cores_among_the_kernels_threads(env, threads, cores, workers):
    assert default_workers(env, threads=threads, cores=cores) == workers


# ---------------------------------------------------------------- the gradebook


def _book() -> Gradebook:
    wrong = "case 2 of 5: float32 inputs\nproblem: wrong values"
    rows = [
        SubmissionGrade("ann.ipynb", {"a": "passed", "b": "passed"}),
        SubmissionGrade("bob.ipynb", {"a": "failed", "b": "not attempted"}, {"a": wrong}),
        SubmissionGrade("cy.ipynb", {"a": "failed", "b": "passed"},
                        {"a": "case 4 of 5: big\nproblem: wrong shape"}),
        SubmissionGrade("dee.ipynb", {"a": "failed", "b": "failed"},
                        {"a": wrong, "b": "problem: expected a function, got None."}),
        SubmissionGrade("eve.ipynb", {"a": "not run", "b": "not run"},
                        error="not a notebook (the file is not JSON)."),
    ]
    return Gradebook(rows, ["a", "b"])


def test_the_summary_counts_each_status_and_the_most_common_failing_case():
    summary = {row["exercise"]: row for row in class_summary(_book())}
    a, b = summary["a"], summary["b"]
    assert (a["passed"], a["failed"], a["not attempted"], a["not run"]) == (1, 3, 0, 1)
    assert (a["most_common_failure"], a["failing_on_it"]) == ("case 2 of 5: float32 inputs", 2)
    assert (b["passed"], b["failed"], b["not attempted"], b["not run"]) == (2, 1, 1, 1)
    assert b["most_common_failure"] == "problem: expected a function, got None."
    table = summary_table(_book())
    assert "5 submissions" in table
    assert "case 2 of 5: float32 inputs (2)" in table
    assert "eve.ipynb: not a notebook" in table


def test_csv_and_json_have_one_row_per_submission_and_one_column_per_exercise(tmp_path):
    book = _book()
    rows = list(csv.DictReader(io.StringIO(book.to_csv())))
    assert [r["submission"] for r in rows] == [r.submission for r in book.rows]
    assert rows[1]["a"] == "failed" and rows[1]["b"] == "not attempted"
    assert rows[0]["passed"] == "2" and rows[0]["of"] == "2"
    assert rows[4]["problem"].startswith("not a notebook")
    data = json.loads(book.to_json())
    assert data["exercises"] == ["a", "b"]
    assert data["submissions"][3]["statuses"] == {"a": "failed", "b": "failed"}
    assert data["summary"][0]["failed"] == 3


def test_writing_a_gradebook_keeps_the_previous_one(tmp_path):
    stem = tmp_path / "grades"
    first = write_gradebook(_book(), stem)
    assert [p.name for p in first] == ["grades.csv", "grades.json"]
    (tmp_path / "grades.csv").write_text("my own edits\n")
    write_gradebook(_book(), stem)
    write_gradebook(_book(), stem)
    backups = sorted(p.name for p in tmp_path.glob("grades.csv.backup-*"))
    assert len(backups) == 2
    kept = [p.read_text() for p in tmp_path.glob("grades.csv.backup-*")]
    assert "my own edits\n" in kept
    assert (tmp_path / "grades.csv").read_text().startswith("submission,passed,of,a,b")


def test_the_summary_figure_is_a_png(tmp_path):
    path = summary_figure(_book(), tmp_path / "class.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- one submission's process


def test_a_submission_over_its_time_limit_is_killed_with_what_it_started(tmp_path, monkeypatch):
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setattr(gradebook, "_grade_command", lambda path, t: [sys.executable, "-c", script])
    start = time.monotonic()
    row = grade_one(tmp_path / "x.ipynb", timeout_per_cell=1, time_limit=2, display_name="x")
    assert time.monotonic() - start < 20
    assert "time limit of 2 s" in row.error and row.statuses == {}
    child = int(pid_file.read_text())
    for _ in range(50):  # the kill is asynchronous
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the grading process's own child (a kernel) outlived the time limit")


def test_a_grader_that_crashes_is_one_row_with_its_last_error_line(tmp_path, monkeypatch):
    script = ("import sys; print('Traceback ...', file=sys.stderr); "
              "print('boom: out of memory', file=sys.stderr); sys.exit(3)")
    monkeypatch.setattr(gradebook, "_grade_command", lambda path, t: [sys.executable, "-c", script])
    row = grade_one(tmp_path / "x.ipynb", timeout_per_cell=1, time_limit=20, display_name="x")
    assert row.error == "the grader failed (exit code 3): boom: out of memory"


# ---------------------------------------------------------------- a real class, end to end


def test_a_class_is_graded_in_parallel_and_bad_copies_stop_nothing(tmp_path, capsys):
    made = _load_class_maker().make_class(
        tmp_path / "class", "01_perceptron", n=7,
        kinds=("correct", "wrong", "empty", "hanging", "broken", "crash", "wrong"))
    code = cli.main(["grade", str(tmp_path / "class"), "--workers", "2", "--timeout", "4",
                     "--time-limit", "120", "--out", str(tmp_path / "book"),
                     "--figure", str(tmp_path / "class.png")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Grading 7 submissions with 2 workers." in out.err
    rows = {r["submission"]: r for r in csv.DictReader(open(tmp_path / "book.csv"))}
    exercises = ["weighted_sum", "step", "perceptron_update", "count_mistakes", "nand_weights"]
    assert list(rows) == sorted(made)
    for name, (kind, wrong) in made.items():
        statuses = [rows[name][e] for e in exercises]
        if kind in ("correct", "hanging"):  # the hanging cell is interrupted, the rest runs
            assert statuses == ["passed"] * 5, (name, kind)
        elif kind == "wrong":
            assert statuses == ["failed" if e == wrong else "passed" for e in exercises]
        elif kind == "empty":
            assert statuses == ["not attempted"] * 5
        else:  # broken file, dead kernel
            assert statuses == ["not run"] * 5, (name, kind)
            assert rows[name]["problem"], name
    assert "hit the 4 s time limit" in rows[next(n for n, k in made.items()
                                                 if k[0] == "hanging")]["problem"]
    assert "weighted_sum" in out.out and "most common failing case" in out.out
    assert (tmp_path / "class.png").read_bytes()[:4] == b"\x89PNG"
    book = json.loads((tmp_path / "book.json").read_text())
    assert book["summary"][0]["failed"] == 1
