""".ci/run builds its own environment and never deletes or reuses the learner's .venv."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A stand-in for python3 that logs its arguments, and makes `-m venv DIR` create a venv
# whose python is this same stand-in; pip and pytest are only logged.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$CI_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    printf 'export PATH="%s/bin:$PATH"\\ndeactivate() { :; }\\n' "$(cd "$3" && pwd)" \\
        > "$3/bin/activate"
fi
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_uses_its_own_ignored_folder_and_leaves_dot_venv_alone(tmp_path):
    work = tmp_path / "repo"
    (work / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", work / ".ci" / "run")
    learner_venv = work / ".venv"
    (learner_venv / "bin").mkdir(parents=True)
    (learner_venv / "bin" / "marker").write_text("the learner's own environment")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "log.txt"
    env = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}", CI_LOG=str(log),
               DLTEACH_CI_LOWER_PYTHON=str(fake))
    subprocess.run(["bash", str(work / ".ci" / "run")], cwd=work, env=env, check=True,
                   timeout=60, capture_output=True)
    calls = log.read_text().splitlines()
    venv_calls = [c for c in calls if " -m venv " in c]
    # Two environments: the newest releases, then the lowest versions pyproject admits.
    folders = [c.split(" -m venv ")[1].strip().rstrip("/") for c in venv_calls]
    assert folders == [".ci/venv", ".ci/venv-lower"]
    assert (learner_venv / "bin" / "marker").read_text() == "the learner's own environment"
    assert any("-m pytest" in c for c in calls) and any("pip install -e" in c for c in calls)
    assert any("pip install -c .ci/lower-bounds.txt -e" in c for c in calls)
    # PyTorch in the first environment only, by the one spec that installs a local CPU build
    torch = [i for i, c in enumerate(calls) if "torch" in c]
    assert [calls[i] for i in torch] == ["python -m pip install torch==2.13.0"]
    assert torch[0] < calls.index(next(c for c in calls if " -m venv .ci/venv-lower" in c))
    assert any("--nbval-lax" in c and c.endswith("solutions") for c in calls)
    # The folders are ignored by git in the real repository, so they never get committed.
    for folder in folders:
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{folder}/bin/python"],
                                 cwd=REPO)
        assert ignored.returncode == 0, f"{folder} is not ignored by git"
