"""The README lists every lesson of the catalog, in order, with its one-line summary."""

from pathlib import Path

from dlteach.tools.catalog import LESSONS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_lists_the_lessons_in_catalog_order_with_their_summaries():
    rows = [line for line in README.splitlines()
            if line.startswith("| ") and any(f"`{lesson.stem}`" in line for lesson in LESSONS)]
    assert len(rows) == len(LESSONS), rows
    for row, lesson in zip(rows, LESSONS, strict=True):
        assert f"`{lesson.stem}`" in row
        assert f"{lesson.title}: {lesson.summary}" in row, (row, lesson)


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    open_cmd = 'python -m pip install -e ".[course]" && python -m dlteach open'
    test_cmd = 'python -m pip install -e ".[test]" && python -m pytest'
    assert open_cmd in README and test_cmd in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci
