"""What a learner sees: `dlteach open`, then lesson 1 run in JupyterLab in a real browser.

Starts ``dlteach open`` on a fresh workspace (JupyterLab on 127.0.0.1, a random free
port and token, a hermetic Jupyter environment, as tests/test_jupyterlab.py does),
fills in one exercise in the workspace copy of lesson 1 as a learner would, then
drives headless Chromium with Playwright: opens the start page, follows its link to
lesson 1, runs all cells from the Run menu and checks the rendered page — one verdict
after each check cell (the filled exercise passed, the others not attempted yet),
a figure (an ``img``) for every cell that shows one, and no error output: the lesson
goes on with the library's reference implementation after each exercise.
A short training run appended to the copy (a learner's own experiment) must show its
progress bar on one line.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it when missing),
driven through Playwright's ``executable_path`` (Playwright's own browser download is
not used). Without a Chromium binary or the ``playwright`` package the test skips.
Screenshots go to ``$DLTEACH_ARTIFACTS/browser`` if that variable is set, else to
pytest's tmp_path; the folder is printed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from notebook_helpers import wait_for_server

from dlteach.tools.execute import kernel_env

REPO = Path(__file__).resolve().parents[1]
LESSON1 = "01_perceptron.ipynb"
START_PAGE = "00_start_here.ipynb"
FILLED = "weighted_sum"  # the exercise the test fills in; its verdict must be "passed"
FILLED_SOURCE = '''def weighted_sum(x, w, b):
    """z = w · x + b."""
    return np.asarray(x) @ w + b
'''

STARTUP_WAIT = 90  # seconds for the server to answer; generous for a loaded CI machine
UI_WAIT = 45_000  # ms for a page element (JupyterLab's first load takes about 7 s)
RUN_WAIT = 60  # seconds for "Run All Cells" on lesson 1
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def chromium_binary() -> str | None:
    """Debian's chromium (or $DLTEACH_CHROMIUM), else None."""
    for candidate in (os.environ.get("DLTEACH_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


CHROMIUM = chromium_binary()
pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="the browser test runs on Linux (Debian's "
                                                  "chromium), as CI does"),
    pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                       reason="JupyterLab (the 'course' or 'test' extra) is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="playwright is not importable (pip install -e '.[test]')"),
    pytest.mark.skipif(CHROMIUM is None,
                       reason="no chromium binary on PATH (apt-get install -y chromium; "
                              ".ci/run installs it)"),
    pytest.mark.skipif(not (REPO / "notebooks" / LESSON1).is_file(),
                       reason="lesson 1 is not written yet"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int, token: str, process: subprocess.Popen, log: Path,
                 workspace: Path) -> None:
        self.url, self.token, self.process = f"http://127.0.0.1:{port}", token, process
        self.log, self.workspace = log, workspace

    def request(self, method: str, path: str) -> tuple[int, bytes]:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def hermetic_jupyter_env(home: Path) -> dict[str, str]:
    env = kernel_env()
    # No user config, kernelspecs, settings, workspaces or runtime files leak in or out.
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")]:
        env[var] = str(home / sub)
    env.pop("DLTEACH_WORKSPACE", None)
    settings = home / "settings"
    # Every cell stays in the page (no windowing), so the test sees every output; no
    # news pop-up (it would fetch from the internet).
    for extension, values in [("notebook-extension/tracker", {"windowingMode": "none"}),
                              ("apputils-extension/notification", {"fetchNews": "false"})]:
        path = settings / "@jupyterlab" / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


def stop(process: subprocess.Popen) -> None:
    """Stop ``dlteach open`` and the JupyterLab it runs (their own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # JupyterLab shuts its kernels down
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything of the group still there
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=10)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    home, workspace = tmp_path / "jupyter", tmp_path / "workspace"
    home.mkdir()
    env = hermetic_jupyter_env(home)
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "dlteach", "--course-dir", str(REPO), "open",
               "--workspace", str(workspace), "--",
               "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--LabApp.news_url=None"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=tmp_path, start_new_session=True)
    lab = Server(port, token, process, log, workspace)
    try:
        wait_for_server(process, lab.request, lab.log_tail, STARTUP_WAIT, "dlteach open")
        yield lab
    finally:
        try:  # shut the kernels down through the server first; stop() would too
            status, body = lab.request("GET", "/api/kernels")
            for kernel in json.loads(body) if status == 200 else []:
                lab.request("DELETE", f"/api/kernels/{kernel['id']}")
        except (OSError, ValueError):
            pass
        stop(process)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    base = os.environ.get("DLTEACH_ARTIFACTS")
    folder = Path(base).resolve() / "browser" if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test screenshots: {folder}")
    return folder


TRAINING_SOURCE = """import dlteach
import numpy
net = dlteach.mlp([2, 4, 1], rng=0)
_ = dlteach.fit(net, numpy.zeros((16, 2)), numpy.zeros((16, 1)), loss=dlteach.MSELoss(),
                optimizer=dlteach.SGD(net.parameters(), lr=0.1), epochs=30, batch_size=4,
                metrics=())"""


def fill_in_exercise(notebook: Path) -> None:
    """Do one exercise in the learner's copy, as a learner would before opening it."""
    nb = nbformat.read(notebook, as_version=4)
    (cell,) = [c for c in nb.cells
               if c.cell_type == "code" and c.source.startswith(f"def {FILLED}(")]
    assert "raise NotImplementedError()" in cell.source  # the copy came fresh from the course
    cell.source = FILLED_SOURCE
    # A learner's own experiment at the end: a short training run with its progress bar.
    nb.cells.append(nbformat.v4.new_code_cell(TRAINING_SOURCE))
    nbformat.write(nb, notebook)


def test_a_learner_runs_lesson1_in_jupyterlab(server, artifacts):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    lesson = server.workspace / LESSON1
    assert (server.workspace / START_PAGE).is_file() and lesson.is_file(), \
        f"dlteach open did not fill the workspace:\n{server.log_tail()}"
    fill_in_exercise(lesson)
    code_cells = [c for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code"]
    checks = {i: re.match(r"ex\.check_(\w+)\(", c.source).group(1)
              for i, c in enumerate(code_cells) if c.source.startswith("ex.check_")}
    figures = [i for i, c in enumerate(code_cells) if "plt.show()" in c.source]
    assert FILLED in checks.values() and len(checks) >= 2 and figures

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_WAIT)
            shot = lambda name: page.screenshot(path=artifacts / f"{name}.png")  # noqa: E731
            try:
                run_lesson(page, server, shot, expect)
                shot("03_lesson1_after_run_all")
                check_what_the_learner_sees(page, code_cells, checks, figures, artifacts)
            except BaseException:
                shot("failure")
                print(f"server log:\n{server.log_tail()}")
                raise
        finally:
            browser.close()
    print(f"browser test took {time.monotonic() - started:.1f} s; screenshots in {artifacts}")


def notebook_panel(page, heading: str):
    return page.locator(".jp-NotebookPanel").filter(
        has=page.locator(".jp-RenderedMarkdown h1", has_text=heading))


def run_lesson(page, server: Server, shot, expect) -> None:
    page.goto(f"{server.url}/lab/tree/{START_PAGE}?token={server.token}")
    start = notebook_panel(page, "Deep learning from scratch")
    link = start.locator(".jp-RenderedMarkdown a", has_text="The perceptron").first
    expect(link).to_be_visible(timeout=UI_WAIT)
    shot("01_start_page")
    link.click()
    lesson = notebook_panel(page, "Lesson 1")
    expect(lesson).to_be_visible(timeout=UI_WAIT)
    expect(page.locator(".lm-TabBar-tab.lm-mod-current", has_text=LESSON1).first) \
        .to_be_visible(timeout=UI_WAIT)
    # The kernel is up before running: the toolbar shows it idle.
    expect(lesson.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")) \
        .to_have_count(1, timeout=UI_WAIT)
    shot("02_lesson1_opened")
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu:visible .lm-Menu-itemLabel",
                 has_text=re.compile(r"^Run All Cells$")).click()
    prompts = lesson.locator(".jp-CodeCell .jp-InputArea-prompt")
    deadline = time.monotonic() + RUN_WAIT
    while True:  # every code cell numbered, none still queued or running ([*])
        texts = [t.strip() for t in prompts.all_inner_texts()]
        if texts and all(re.fullmatch(r"\[\d+\]:", t) for t in texts):
            break
        if time.monotonic() > deadline:
            pending = [i for i, t in enumerate(texts) if not re.fullmatch(r"\[\d+\]:", t)]
            pytest.fail(f"Run All Cells did not finish within {RUN_WAIT} s; "
                        f"code cells not done: {pending} (prompts {texts})")
        time.sleep(0.5)


def check_what_the_learner_sees(page, code_cells, checks, figures, artifacts: Path) -> None:
    lesson = notebook_panel(page, "Lesson 1")
    cells = lesson.locator(".jp-CodeCell")
    assert cells.count() == len(code_cells), "every code cell is in the page"

    # No error output anywhere: no traceback, nothing on stderr. An exercise left
    # undone only gets a "not attempted yet" verdict; the lesson goes on with the
    # library's reference implementation.
    errors = lesson.locator(".jp-OutputArea-output[data-mime-type="
                            "'application/vnd.jupyter.stderr']")
    assert errors.count() == 0, f"error output: {errors.all_inner_texts()}"

    # One verdict after each check cell, as the learner reads it.
    for index, exercise in checks.items():
        outputs = cells.nth(index).locator(".jp-OutputArea-output")
        text = " ".join(outputs.all_inner_texts()).strip()
        expected = (f"✅ {exercise}: passed" if exercise == FILLED
                    else f"⏳ {exercise}: not attempted yet")
        assert text.startswith(expected), f"check cell {index}: {text!r}"
        assert outputs.count() == 1, f"check cell {index} shows one verdict: {text!r}"
    passed_cell = cells.nth(next(i for i, e in checks.items() if e == FILLED))
    passed_cell.scroll_into_view_if_needed()
    passed_cell.screenshot(path=artifacts / "04_passed_verdict.png")

    # A figure, loaded and drawn, for every cell that shows one.
    for index in figures:
        images = cells.nth(index).locator(".jp-OutputArea-output img")
        assert images.count() >= 1, f"code cell {index} shows no figure"
        images.first.scroll_into_view_if_needed()
        deadline = time.monotonic() + 15  # decoding an image may lag its element a little
        while not images.first.evaluate("img => img.complete ? img.naturalWidth : 0"):
            assert time.monotonic() < deadline, f"the figure of code cell {index} did not load"
            time.sleep(0.2)
    figure_cell = cells.nth(figures[0])
    figure_cell.scroll_into_view_if_needed()
    figure_cell.screenshot(path=artifacts / "05_first_figure.png")
    assert lesson.locator(".jp-OutputArea-output img").count() >= len(figures)

    # The training run's progress bar stays on one line (tqdm redrawing it in place, not
    # one line per epoch), and ends at 30/30.
    bars = [t for t in lesson.locator(".jp-OutputArea-output").all_inner_texts()
            if re.search(r"\d+%\|", t)]
    assert bars, "no progress bar rendered for the training cell"
    for bar in bars:
        assert len([line for line in bar.splitlines() if "%|" in line]) == 1, bar
    assert any("30/30" in bar for bar in bars), bars
