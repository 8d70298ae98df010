"""The thread policy of the kernels dlteach starts (dlteach.tools.threads).

Default 1 thread per numerical library; DLTEACH_THREADS or an explicitly set variable
overrides it, and --threads overrides both. Checked on the policy itself, on
kernel_env(), on a kernel the grader really starts, and on the environment that
`dlteach open` gives the JupyterLab server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat.v4 as v4
import pytest
from notebook_helpers import VERDICT, write

from dlteach import cli
from dlteach.errors import DLTeachError
from dlteach.tools.execute import kernel_env
from dlteach.tools.grader import grade
from dlteach.tools.threads import (
    DEFAULT_THREADS,
    ENV_VARIABLE,
    THREAD_VARIABLES,
    ThreadSettingError,
    apply_thread_policy,
    parse_threads,
    thread_env,
)

OTHER = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "524288", "PATH": "/bin"}


def all_set(value: str) -> dict[str, str]:
    return {name: value for name in THREAD_VARIABLES}


@pytest.fixture
def clean_env(monkeypatch):
    """os.environ without any thread setting (conftest.py has applied the policy to it)."""
    for name in (*THREAD_VARIABLES, ENV_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ------------------------------------------------------------------ the policy itself
def test_default_is_one_thread_for_every_library_and_nothing_else_changes():
    assert DEFAULT_THREADS == 1
    assert {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"} <= set(THREAD_VARIABLES)
    assert thread_env(dict(OTHER)) == all_set("1")
    env = apply_thread_policy(dict(OTHER))
    assert env == {**OTHER, **all_set("1")}  # OPENBLAS_CORETYPE / L2_SIZE untouched


@pytest.mark.parametrize(("value", "expected"), [("3", "3"), (" 2 ", "2"), ("", "1"),
                                                  ("  ", "1")])
def test_dlteach_threads_sets_the_count(value, expected):
    env = apply_thread_policy({**OTHER, ENV_VARIABLE: value})
    assert {name: env[name] for name in THREAD_VARIABLES} == all_set(expected)
    assert {name: env[name] for name in OTHER} == OTHER


@pytest.mark.parametrize("value", ["auto", "AUTO", " auto "])
def test_dlteach_threads_auto_sets_nothing(value):
    base = {**OTHER, ENV_VARIABLE: value}
    assert thread_env(base) == {}
    assert apply_thread_policy(base) == base


def test_an_explicit_variable_is_kept_even_against_dlteach_threads():
    base = {**OTHER, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "4,2",
            "MKL_NUM_THREADS": ""}  # an empty variable counts as unset
    env = apply_thread_policy(base)
    assert env["OPENBLAS_NUM_THREADS"] == "2" and env["OMP_NUM_THREADS"] == "4,2"
    assert env["MKL_NUM_THREADS"] == "1" and env["BLIS_NUM_THREADS"] == "1"
    env = apply_thread_policy({**base, ENV_VARIABLE: "3"})
    assert env["OPENBLAS_NUM_THREADS"] == "2" and env["MKL_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in thread_env(base)  # nothing to change for it


def test_the_command_line_overrides_everything():
    base = {**OTHER, "OPENBLAS_NUM_THREADS": "2", ENV_VARIABLE: "3"}
    env = apply_thread_policy(base, threads=4)
    assert env == {**OTHER, **all_set("4"), ENV_VARIABLE: "4"}
    env = apply_thread_policy(base, threads="auto")  # each library's own default
    assert env == {**OTHER, ENV_VARIABLE: "auto"}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "1e3", "٣", "2 threads"])
def test_an_invalid_dlteach_threads_is_a_clear_error_naming_the_variable(value):
    with pytest.raises(ThreadSettingError) as info:
        thread_env({ENV_VARIABLE: value})
    message = str(info.value)
    assert message.startswith("DLTEACH_THREADS must be a positive whole number")
    assert repr(value) in message and "'auto'" in message
    assert isinstance(info.value, DLTeachError) and isinstance(info.value, ValueError)
    with pytest.raises(ThreadSettingError, match=r"^--threads must be"):
        thread_env({}, threads=value)


def test_parse_threads():
    assert parse_threads("8") == 8 and parse_threads(2) == 2 and parse_threads("auto") is None
    for bad in (0, True, 1.0, None):
        with pytest.raises(ThreadSettingError, match=r"^X must be"):
            parse_threads(bad, "X")


# ------------------------------------------------------------------ where it is applied
def test_kernel_env_applies_the_policy(clean_env):
    env = kernel_env(dict(OTHER))
    assert {name: env[name] for name in THREAD_VARIABLES} == all_set("1")
    assert {name: env[name] for name in OTHER} == OTHER
    env = kernel_env({**OTHER, ENV_VARIABLE: "2", "OMP_NUM_THREADS": "3"})
    assert env["OPENBLAS_NUM_THREADS"] == "2" and env["OMP_NUM_THREADS"] == "3"
    clean_env.setenv(ENV_VARIABLE, "2")
    assert kernel_env()["MKL_NUM_THREADS"] == "2"  # without base: from os.environ
    clean_env.setenv(ENV_VARIABLE, "many")
    with pytest.raises(ThreadSettingError, match="DLTEACH_THREADS"):
        kernel_env()


def test_this_pytest_run_has_the_policy_applied():
    """conftest.py applied it, so nbval's kernels and the xdist workers inherit it."""
    assert thread_env(os.environ) == {}


PROBE = VERDICT + """
import os, json
import numpy as np
from threadpoolctl import threadpool_info
np.ones((2, 2)) @ np.ones((2, 2))
blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
verdict("threads", "passed", json.dumps({"blas": blas, "env": env}))
"""


@pytest.fixture
def probe_notebook(tmp_path: Path) -> Path:
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(PROBE, id="probe")]
    return write(nb, tmp_path / "threads.ipynb")


def kernel_threads(report) -> dict:
    (result,) = report.exercises
    assert result.status == "passed", report.table()
    return json.loads(result.message)


@pytest.mark.parametrize(("settings", "blas", "omp"), [
    ({}, 1, "1"),
    ({ENV_VARIABLE: "2"}, 2, "2"),
    ({"OPENBLAS_NUM_THREADS": "2"}, 2, "1"),
    ({ENV_VARIABLE: "2", "OPENBLAS_NUM_THREADS": "1"}, 1, "2"),
])
def test_a_kernel_started_by_the_grader_really_uses_that_many_blas_threads(
        probe_notebook, clean_env, settings, blas, omp):
    for name, value in settings.items():
        clean_env.setenv(name, value)
    seen = kernel_threads(grade(probe_notebook, timeout_per_cell=60))
    assert seen["blas"] == [blas]
    assert seen["env"] == {"OMP_NUM_THREADS": omp,
                           "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                           "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}


def test_dlteach_grade_threads_option_overrides_the_environment(probe_notebook, clean_env,
                                                               capsys):
    clean_env.setenv("OPENBLAS_NUM_THREADS", "1")
    clean_env.setenv(ENV_VARIABLE, "1")
    code = cli.main(["grade", str(probe_notebook), "--json", "--threads", "2"])
    out = capsys.readouterr().out
    assert code == 1  # a notebook of no known lesson is never "all passed"
    (exercise,) = json.loads(out)["exercises"]
    assert json.loads(exercise["message"])["blas"] == [2]
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"  # restored after the command


def test_an_invalid_setting_stops_grade_before_any_kernel_starts(probe_notebook, clean_env,
                                                                 capsys, monkeypatch):
    started = []
    monkeypatch.setattr("dlteach.tools.grader.execute_notebook",
                        lambda *a, **k: started.append(1) or [])
    clean_env.setenv(ENV_VARIABLE, "0")
    assert cli.main(["grade", str(probe_notebook)]) == 2
    err = capsys.readouterr().err
    assert err == ("dlteach grade: error: DLTEACH_THREADS must be a positive whole number of "
                   "threads or 'auto', got '0'.\n")
    with pytest.raises(SystemExit) as info:
        cli.main(["grade", str(probe_notebook), "--threads", "zero"])
    assert info.value.code == 2
    assert "argument --threads: must be a positive whole number" in capsys.readouterr().err
    assert started == []


# ------------------------------------------------------------------ dlteach open
@pytest.fixture
def course(tmp_path: Path, capsys) -> Path:
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell("# One", id="t"), v4.new_code_cell("1 + 1", id="c")]
    write(nb, tmp_path / "solutions" / "01_perceptron.ipynb")
    assert cli.main(["--course-dir", str(tmp_path), "generate"]) == 0
    capsys.readouterr()
    return tmp_path


def open_env(course: Path, monkeypatch, *options: str) -> dict[str, str]:
    """The environment the JupyterLab server would be started with."""
    launched: list[dict[str, str]] = []
    monkeypatch.setattr(cli, "jupyterlab_installed", lambda: True)
    monkeypatch.setattr(cli, "launch", lambda command, cwd: launched.append(dict(os.environ)) or 0)
    assert cli.main(["--course-dir", str(course), "open", *options]) == 0
    (env,) = launched
    return env


def test_open_gives_the_server_and_so_its_kernels_the_policy(course, clean_env):
    before = dict(os.environ)
    env = open_env(course, clean_env)
    assert {name: env[name] for name in THREAD_VARIABLES} == all_set("1")
    assert os.environ == before  # this process's environment is restored afterwards
    clean_env.setenv(ENV_VARIABLE, "2")
    clean_env.setenv("OMP_NUM_THREADS", "3")
    env = open_env(course, clean_env)
    assert env["OPENBLAS_NUM_THREADS"] == "2" and env["OMP_NUM_THREADS"] == "3"
    env = open_env(course, clean_env, "--threads", "4")
    assert {name: env[name] for name in THREAD_VARIABLES} == all_set("4")
    env = open_env(course, clean_env, "--threads", "auto")
    assert not set(THREAD_VARIABLES) & set(env) and env[ENV_VARIABLE] == "auto"


def test_open_refuses_an_invalid_setting_before_starting_the_server(course, clean_env, capsys):
    launched = []
    clean_env.setattr(cli, "jupyterlab_installed", lambda: True)
    clean_env.setattr(cli, "launch", lambda command, cwd: launched.append(command) or 0)
    clean_env.setenv(ENV_VARIABLE, "lots")
    assert cli.main(["--course-dir", str(course), "open"]) == 2
    assert "error: DLTEACH_THREADS must be a positive whole number" in capsys.readouterr().err
    assert launched == []


def test_the_server_started_by_launch_inherits_the_environment(tmp_path, clean_env):
    """launch() adds no environment of its own: the child sees what open set."""
    clean_env.setenv(ENV_VARIABLE, "3")
    out = tmp_path / "env.json"
    code = (f"import json, os; json.dump({{k: os.environ.get(k) for k in "
            f"{list(THREAD_VARIABLES)!r}}}, open({str(out)!r}, 'w'))")
    real_launch = cli.launch
    clean_env.setattr(cli, "launch", lambda command, cwd: real_launch(
        [sys.executable, "-c", code], cwd))
    clean_env.setattr(cli, "jupyterlab_installed", lambda: True)
    course = tmp_path / "course"
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell("1", id="c")]
    write(nb, course / "solutions" / "01_perceptron.ipynb")
    assert cli.main(["--course-dir", str(course), "generate"]) == 0
    assert cli.main(["--course-dir", str(course), "open"]) == 0
    assert json.loads(out.read_text()) == all_set("3")


def test_threads_policy_is_in_the_help(capsys):
    result = subprocess.run([sys.executable, "-m", "dlteach", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert "1 BLAS/OpenMP thread" in result.stdout and "DLTEACH_THREADS" in result.stdout
    for command in ("grade", "refresh", "open"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "--threads N threads per numerical library" in out
        assert "DLTEACH_THREADS if set, else 1" in out
