"""The ``dlteach`` command: list lessons, generate learner notebooks, grade, refresh, open.

Run ``dlteach --help`` (or ``python -m dlteach --help``). Exit codes: 0 success,
1 a check failed (stale notebooks, an exercise not passed, a solution that raised),
2 a usage error or something unreadable (no course directory, not a notebook).

``grade``, ``refresh`` and ``open`` start kernels with the thread policy of
:mod:`dlteach.tools.threads` (one BLAS/OpenMP thread unless ``--threads``,
``DLTEACH_THREADS`` or an explicit ``OPENBLAS_NUM_THREADS`` etc. says otherwise).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dlteach.errors import DLTeachError
from dlteach.tools.catalog import (
    LESSONS,
    NOTEBOOKS_DIR,
    SOLUTIONS_DIR,
    START_PAGE,
    CourseError,
    check_course_dir,
    find_course_dir,
)
from dlteach.tools.threads import (
    AUTO,
    DEFAULT_THREADS,
    ENV_VARIABLE,
    ThreadSettingError,
    parse_threads,
    thread_env,
)

if TYPE_CHECKING:
    from dlteach.tools.learner import GenerateResult


def _course_dir(args: argparse.Namespace) -> Path:
    return check_course_dir(args.course_dir) if args.course_dir else find_course_dir()


def cmd_lessons(args: argparse.Namespace) -> int:
    try:
        solutions: Path | None = _course_dir(args) / SOLUTIONS_DIR
    except CourseError:
        solutions = None  # outside a course checkout: list the catalog only
    width = max(len(lesson.stem) for lesson in LESSONS)
    for lesson in LESSONS:
        missing = solutions is not None and not (solutions / lesson.filename).is_file()
        note = "  (not yet available)" if missing else ""
        print(f"{lesson.stem.ljust(width)}  {lesson.title} — {lesson.summary}{note}")
    return 0


def _print_generate(result: GenerateResult) -> None:
    for path in result.uncatalogued:
        print(f"note: {path} is not in the lesson catalog (dlteach/tools/catalog.py).")
    for path in result.extra:
        print(f"extra: {path} is not generated from {SOLUTIONS_DIR}/ "
              "(delete it if it is not your own work)")


def _print_written(result: GenerateResult) -> None:
    replaced = [p for p in result.reasons if p not in result.kept]
    for path, backup in zip(replaced, result.backups, strict=True):
        print(f"backed up your version of {path} as {backup}: {result.reasons[path]}")
    written = [p for p in result.stale if p not in result.kept]
    for path in written:
        print(f"wrote {path}")
    for path in result.kept:
        print(f"kept {path} unchanged, not overwritten: {result.reasons[path]}.\n"
              f"  To update it, run 'dlteach generate --force': it first saves your version "
              f"as {path.parent / path.stem}.backup-<time>.ipynb, then writes the new one.")
    kept = f", {len(result.kept)} kept" if result.kept else ""
    print(f"{NOTEBOOKS_DIR}/: {len(written)} written, {len(result.unchanged)} unchanged{kept}.")


def cmd_generate(args: argparse.Namespace) -> int:
    from dlteach.tools.learner import generate_learner_notebooks

    course = _course_dir(args)
    result = generate_learner_notebooks(course, check=args.check, force=args.force)
    _print_generate(result)
    for path in result.solutions:
        print(f"{'stale' if args.check else 'wrote'}: {path} nbgrader cell metadata")
    if args.check:
        for path in result.stale:
            print(f"stale: {path} differs from what 'dlteach generate' would write")
        if result.up_to_date:
            print(f"{NOTEBOOKS_DIR}/ is up to date ({len(result.unchanged)} files).")
            return 0
        print(f"{NOTEBOOKS_DIR}/ is out of date: run 'dlteach generate'.")
        return 1
    _print_written(result)
    return 0


def _positive_seconds(value: float, option: str) -> None:
    if not math.isfinite(value) or value <= 0:
        raise CourseError(f"{option} must be a positive number of seconds, got {value}.")


def cmd_grade(args: argparse.Namespace) -> int:
    from dlteach.tools.grader import grade

    _positive_seconds(args.timeout, "--timeout")
    if len(args.notebook) > 1 or Path(args.notebook[0]).is_dir():
        return _grade_class(args)
    report = grade(args.notebook[0], timeout_per_cell=args.timeout)
    print(report.to_json() if args.json else report.table())
    if report.error_kind == "unreadable":
        return 2
    return 0 if report.all_passed else 1


def _grade_class(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dlteach.tools.gradebook import (
        default_workers,
        find_submissions,
        grade_class,
        summary_figure,
        summary_table,
        write_gradebook,
    )

    _positive_seconds(args.time_limit, "--time-limit")
    paths = find_submissions(args.notebook)
    workers = args.workers or default_workers(threads=args.threads)
    print(f"Grading {len(paths)} submission{'s' if len(paths) != 1 else ''} with {workers} "
          f"worker{'s' if workers != 1 else ''}.", file=sys.stderr, flush=True)
    with tqdm(total=len(paths), desc="graded", unit="notebook", file=sys.stderr,
              disable=None) as bar:
        book = grade_class(paths, workers=workers, timeout_per_cell=args.timeout,
                           time_limit=args.time_limit, on_done=lambda row: bar.update())
    written = write_gradebook(book, args.out)
    if args.json:
        print(book.to_json())
    else:
        print(summary_table(book))
    print("gradebook: " + ", ".join(str(p) for p in written), file=sys.stderr)
    if args.figure:
        print(f"figure: {summary_figure(book, args.figure)}", file=sys.stderr)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    script = _course_dir(args) / "benchmarks" / "run.py"
    if not script.is_file():
        raise CourseError(f"{script} does not exist: the benchmarks come with the course "
                          "folder (a clone of the repository), not with the package alone.")
    return subprocess.call([sys.executable, str(script), *args.bench_args])


def cmd_refresh(args: argparse.Namespace) -> int:
    from dlteach.tools.refresh import RefreshError, refresh

    course = _course_dir(args)
    try:
        result = refresh(course, args.lessons, timeout_per_cell=args.timeout,
                         progress=lambda text: print(text, flush=True))
    except RefreshError as exc:  # a solution that fails is a failed check, not a usage error
        print(f"dlteach refresh: failed: {exc}", file=sys.stderr)
        return 1
    _print_generate(result)
    _print_written(result)
    return 0


def jupyterlab_installed() -> bool:
    return importlib.util.find_spec("jupyterlab") is not None


def launch(command: list[str], cwd: Path) -> int:
    """Run ``command`` in the foreground (JupyterLab runs until Ctrl+C)."""
    try:
        return subprocess.call(command, cwd=cwd)
    except KeyboardInterrupt:
        return 0


def _print_newer(states) -> None:
    from dlteach.tools.workspace import update_advice

    for state in states:
        print(update_advice(state))


def cmd_open(args: argparse.Namespace) -> int:
    from dlteach.tools.workspace import resolve_workspace, sync_workspace

    if not jupyterlab_installed():
        print("dlteach: JupyterLab is not installed. Install the course extra with "
              "pip install 'dlteach[course]' and run 'dlteach open' again.", file=sys.stderr)
        return 1
    course = _course_dir(args)
    workspace = resolve_workspace(course, args.workspace)
    result = sync_workspace(course, workspace)
    if result.copied:
        print(f"Copied into your workspace {workspace}: {', '.join(result.copied)}. "
              "Your work there is never overwritten.")
    _print_newer(result.newer)
    start = workspace / START_PAGE
    if not start.is_file():
        raise CourseError(f"{start} does not exist: run 'dlteach generate' first.")
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace}",
               str(start)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI often run as root; Jupyter refuses
    command += getattr(args, "jupyterlab_args", [])  # what followed "--" on the command line
    return launch(command, cwd=workspace)


def cmd_status(args: argparse.Namespace) -> int:
    from dlteach.tools.workspace import NEWER, NOT_COPIED, resolve_workspace, workspace_status

    course = _course_dir(args)
    workspace = resolve_workspace(course, args.workspace)
    states = workspace_status(course, workspace)
    print(f"Your workspace: {workspace}")
    width = max(len(s.name) for s in states) if states else 0
    for s in states:
        mark = " (your work)" if s.worked and s.state != NOT_COPIED else ""
        print(f"  {s.name.ljust(width)}  {s.state}{mark}")
    newer = [s for s in states if s.state == NEWER]
    if newer:
        print()
        _print_newer(newer)
    return 0


@contextmanager
def thread_environment(threads: int | str | None) -> Iterator[None]:
    """While inside, ``os.environ`` carries the thread policy (dlteach.tools.threads).

    Kernels started meanwhile (by grade and refresh, or by the JupyterLab server that
    ``open`` runs) inherit it. ``threads`` is the ``--threads`` option (None: not given).
    Raises ThreadSettingError, before anything starts, for an invalid ``DLTEACH_THREADS``.
    """
    changes = thread_env(os.environ, threads)
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _set_environ(changes)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: dict[str, str | None]) -> None:
    """Set each variable to its value; None removes it."""
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _threads_argument(text: str) -> int | str:
    try:
        count = parse_threads(text, "--threads")
    except ThreadSettingError:
        raise argparse.ArgumentTypeError(
            f"must be a positive whole number of threads or '{AUTO}', got {text!r}") from None
    return AUTO if count is None else count


THREADS_HELP = (
    "threads per numerical library (BLAS, OpenMP) in the kernels it starts: a number, or "
    f"'{AUTO}' for each library's own default (OpenBLAS: one per core). Without it: "
    f"{ENV_VARIABLE} if set, else {DEFAULT_THREADS}; a thread variable set in the "
    "environment (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS, ...) is kept. "
    "--threads overrides them all"
)

THREADS_EPILOG = f"""\
threads: the kernels that grade, refresh and open start use {DEFAULT_THREADS} BLAS/OpenMP thread
by default. On a shared, busy machine idle BLAS threads spin and take the CPU from
the work: with one thread a notebook slows down far less. Override it with
--threads N (or 'auto': each library's default), with {ENV_VARIABLE}=N (or 'auto'),
or by setting OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, ... yourself (kept unless
--threads is given). OPENBLAS_CORETYPE and other settings are never changed.
"""


def _add_threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=_threads_argument, default=None, metavar="N",
                   help=THREADS_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlteach",
        description="dlteach: learn the fundamentals of deep learning by building them in NumPy.",
        epilog=THREADS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--course-dir", metavar="DIR",
        help="the course folder (holding solutions/); default: found from the current "
             "directory upward",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("lessons", help="list the lessons in order, one line each")
    p.set_defaults(func=cmd_lessons)

    p = sub.add_parser("generate", help="regenerate the learner notebooks from solutions/ "
                                        "(replaces changed files in notebooks/)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and list the stale files if notebooks/ is "
                        "out of date")
    p.add_argument("--force", action="store_true",
                   help="also replace notebooks that hold a learner's work, after copying "
                        "each to <name>.backup-<time>.ipynb")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("grade", help="run a notebook in a fresh kernel and grade its "
                                     "exercises; given a folder or several notebooks, grade "
                                     "a whole class in parallel into a gradebook")
    p.add_argument("notebook", metavar="NOTEBOOK", nargs="+",
                   help="a .ipynb file, or folders and files of a class's submissions")
    p.add_argument("--json", action="store_true",
                   help="print the report (or the class's gradebook) as JSON")
    p.add_argument("--timeout", type=float, default=60, metavar="S",
                   help="time limit per cell in seconds (default 60)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="class: submissions graded at once (default: the cores divided by "
                        "the BLAS threads per kernel)")
    p.add_argument("--time-limit", type=float, default=600, metavar="S",
                   help="class: time limit for one whole submission in seconds (default 600)")
    p.add_argument("--out", default="gradebook", metavar="STEM",
                   help="class: write STEM.csv and STEM.json (default gradebook; an existing "
                        "file is kept as a .backup-<time> copy)")
    p.add_argument("--figure", metavar="PNG",
                   help="class: also save the per-exercise summary as a figure")
    _add_threads_option(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("bench", help="run every benchmark (layers against PyTorch, grading on "
                                     "a busy machine, a class in parallel) and print one table",
                       add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER,
                   help="options of benchmarks/run.py (--help lists them)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("refresh", help="re-run solution notebooks in place, then regenerate "
                                       "notebooks/")
    p.add_argument("lessons", nargs="*", metavar="LESSON",
                   help="lesson stems or numbers (default: all), e.g. 01_perceptron or 1")
    p.add_argument("--timeout", type=float, default=600, metavar="S",
                   help="time limit per cell in seconds (default 600)")
    _add_threads_option(p)
    p.set_defaults(func=cmd_refresh)

    workspace_help = ("your own folder for the lessons (default: $DLTEACH_WORKSPACE, else "
                      "workspace/ in the course folder, ignored by git)")
    p = sub.add_parser("open", help="copy new lessons into your workspace (never overwriting "
                                    "your notebooks), then start JupyterLab there on the start "
                                    "page (its kernels get the thread policy, see --threads); "
                                    "options after '--' go to JupyterLab",
                       usage="dlteach open [-h] [--workspace DIR] [--threads N] "
                             "[-- JUPYTERLAB_OPTION ...]",
                       epilog="Everything after '--' is passed to JupyterLab unchanged, e.g. "
                              "dlteach open -- --no-browser --port 8899")
    p.add_argument("--workspace", metavar="DIR", help=workspace_help)
    _add_threads_option(p)
    p.set_defaults(func=cmd_open)

    p = sub.add_parser("status", help="which of your workspace's notebooks have a newer "
                                      "version in the course (nothing is changed)")
    p.add_argument("--workspace", metavar="DIR", help=workspace_help)
    p.set_defaults(func=cmd_status)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; for ``open``, everything after the first ``--`` is kept, unparsed,
    as ``jupyterlab_args`` (JupyterLab's own options); for ``bench``, everything after
    it, as ``bench_args``. Other commands parse it as usual."""
    if "bench" in argv:  # everything after it belongs to benchmarks/run.py, --help too
        at = argv.index("bench")
        args = parser.parse_args(argv[:at + 1])
        if args.command == "bench":
            args.bench_args = argv[at + 1:]
            return args
    cut = argv.index("--") if "--" in argv else -1
    if cut >= 0 and "open" in argv[:cut]:
        args = parser.parse_args(argv[:cut])
        if args.command == "open":
            args.jupyterlab_args = argv[cut + 1:]
            return args
    args = parser.parse_args(argv)
    if args.command == "open":
        args.jupyterlab_args = []
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors print one line, no traceback)."""
    args = _parse(build_parser(), list(sys.argv[1:] if argv is None else argv))
    try:
        if not hasattr(args, "threads"):
            return args.func(args)
        with thread_environment(args.threads):
            return args.func(args)
    except (DLTeachError, OSError) as exc:
        print(f"dlteach {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlteach {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
