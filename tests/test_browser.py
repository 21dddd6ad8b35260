"""`make lab` in a real browser: JupyterLab started by `make lab` (the project's kernel, from .venv)
on a loopback port with a token, headless Chromium (Debian's package, driven by Playwright from
PyPI; no browser is downloaded) opens notebook 02, runs all its cells, and then uses the chat panel
as a person would: types a question, switches thinking on (the sliders must move to thinking mode's
values, which only the kernel can do), sends, and reads the reply from the page. The server is
stopped through its API and the test checks that no process of it is left.

Guards against a kernel, a widget front end or a notebook that works under nbval but not in the
browser a workshop's attendees use. Skips where Playwright or Chromium is missing;
`make test-browser` installs both. A screenshot of the panel goes to $LAB_SCREENSHOT (default:
the test's temporary folder); the README's docs/img/lab-chat-panel.png is one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02_chat_templates.ipynb"
KERNEL_NAME = "Python 3 (qwen3lab)"  # the display name `make setup` gives the .venv kernel
QUESTION = "用一句话介绍你自己。"
SERVER_START_S, RUN_ALL_S, REPLY_S = 90, 420, 120


def chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


pytestmark = pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: `make test-browser` installs "
                                "Debian's package (or set CHROMIUM_PATH)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """`make lab` in its own process group, configured through a private JUPYTER_CONFIG_DIR."""

    def __init__(self, tmp: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "lab.log"
        config, settings, folder = tmp / "jupyter-config", tmp / "lab-settings", tmp / "notebooks"
        for path in (config, settings / "@jupyterlab" / "notebook-extension", folder):
            path.mkdir(parents=True)
        # a copy: JupyterLab must not write outputs or checkpoints into the sources
        shutil.copy(ROOT / "notebooks" / NOTEBOOK, folder / NOTEBOOK)
        (config / "jupyter_lab_config.json").write_text(json.dumps({
            "ServerApp": {"ip": "127.0.0.1", "port": self.port, "port_retries": 0, "open_browser": False},
            "IdentityProvider": {"token": self.token},
            "LabApp": {"expose_app_in_browser": True},  # window.jupyterapp: run all, read the cells' state
        }))
        # every cell stays in the page (no virtual scrolling), so that the panel can be found; each
        # cell's execution times go into its metadata (the slowest are printed)
        (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none", "recordTiming": True}))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
               "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"), "QWEN3LAB_HOME": str(tmp / "artifacts"),
               "QWEN3LAB_CONFIG": "", "PROFILE": "tiny", "PYTHONUNBUFFERED": "1"}
        env.pop("QWEN3_PANELS", None)  # the panel must find the front end by itself
        env.pop("JPY_SESSION_NAME", None)
        # -o: a stale .venv stamp must not make `make lab` reinstall the environment inside the test
        cmd = ["make", "--no-print-directory", "-o", ".venv/.installed", "lab", f"LAB_DIR={folder}"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pgid = self.proc.pid

    def log_tail(self, lines: int = 40) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {self.proc.returncode} before serving:\n{self.log_tail()}")
            try:
                if self.api("/api/status")[0] == 200:
                    return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer on {self.base} within {SERVER_START_S} s:\n{self.log_tail()}")

    def left_running(self) -> list[str]:
        import psutil

        alive = []
        for proc in psutil.process_iter(["pid", "status", "cmdline"]):
            try:
                if os.getpgid(proc.pid) == self.pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(f"{proc.pid}: {' '.join(proc.info['cmdline'] or [])[:120]}")
            except (ProcessLookupError, psutil.Error):
                pass
        return alive

    def stop(self) -> list[str]:
        """Shut the server down through its API (it stops its kernels), then make sure of it."""
        try:
            self.api("/api/shutdown", method="POST")
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.left_running():
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(3)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        self.log.close()
        return self.left_running()


# the notebook's state as JupyterLab holds it: code cells not run yet, errors, the kernel's status
CELLS_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const errors = [], seconds = [];
  let pending = 0;
  cells.forEach((cell, i) => {
    if (cell.model.executionCount === null && cell.model.sharedModel.getSource().trim()) pending += 1;
    const t = cell.model.getMetadata('execution') || {};
    if (t['iopub.execute_input'] && t['shell.execute_reply'])
      seconds.push([(Date.parse(t['shell.execute_reply']) - Date.parse(t['iopub.execute_input'])) / 1000, i + 1]);
    for (let j = 0; j < cell.model.outputs.length; j++) {
      const out = cell.model.outputs.get(j).toJSON();
      if (out.output_type === 'error') errors.push(`code cell ${i + 1}: ${out.ename}: ${out.evalue}`);
    }
  });
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  seconds.sort((a, b) => b[0] - a[0]);
  return {pending, errors, cells: cells.length, status: kernel ? kernel.status : 'no kernel',
          slowest: seconds.slice(0, 3)};
}"""

KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  return !!(ctx && ctx.isReady && ctx.session && ctx.session.kernel && ctx.session.kernel.status === 'idle'
            && panel.content && panel.content.widgets.length > 0);
}"""


def run_all(page, timeout_s: int) -> dict:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline, state = time.monotonic() + timeout_s, {}
    time.sleep(2)
    while time.monotonic() < deadline:
        state = page.evaluate(CELLS_STATE)
        if state["errors"]:
            pytest.fail(f"{NOTEBOOK} failed in JupyterLab: {state['errors']}")
        if state["pending"] == 0 and state["status"] == "idle":
            return state
        time.sleep(1)
    pytest.fail(f"{NOTEBOOK} did not finish within {timeout_s} s in JupyterLab: {state}")


def test_make_lab_runs_02_and_its_chat_panel_answers_in_chromium(tmp_path, capsys):
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright: `make test-browser` installs it")
    started = time.perf_counter()
    times: dict[str, float] = {}
    shot = Path(os.environ.get("LAB_SCREENSHOT") or tmp_path / "lab-chat-panel.png").resolve()
    lab = Lab(tmp_path)
    try:
        lab.wait_ready()
        times["server up"] = time.perf_counter() - started
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium(),
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(f"{lab.base}/lab/tree/{NOTEBOOK}?token={lab.token}")
                try:
                    page.wait_for_function(KERNEL_READY, timeout=SERVER_START_S * 1000)
                except sync_api.Error:
                    dialog = page.locator(".jp-Dialog").all_inner_texts()
                    pytest.fail(f"{NOTEBOOK} opened, but its kernel was not idle within {SERVER_START_S} s "
                                f"(dialog: {dialog or 'none'}); the server's log:\n{lab.log_tail()}")
                kernel = page.locator(".jp-NotebookPanel-toolbar .jp-KernelName").first.inner_text()
                assert kernel.strip() == KERNEL_NAME, f"the notebook opened with kernel {kernel!r}, not the .venv's"
                mark = time.perf_counter()
                state = run_all(page, RUN_ALL_S)
                slowest = state["slowest"]
                times["run all cells"] = time.perf_counter() - mark
                mark = time.perf_counter()
                check_chat_panel(page, sync_api.expect, state, shot)
                times["panel reply"] = time.perf_counter() - mark
            finally:
                browser.close()
    finally:
        left = lab.stop()
    assert not left, f"processes of `make lab` still running after the test: {left}"
    times["total"] = time.perf_counter() - started
    with capsys.disabled():
        print("\nbrowser test wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
        print("slowest cells of the run: " + ", ".join(f"code cell {i} {s:.1f} s" for s, i in slowest))
        print(f"screenshot of the chat panel: {shot}")


def check_chat_panel(page, expect, state: dict, shot: Path) -> None:
    panel = page.locator(".qwen3lab-chat-panel")
    expect(panel).to_have_count(1)
    panel.scroll_into_view_if_needed()
    status, temperature = panel.locator(".qwen3lab-status"), panel.locator(".qwen3lab-temperature .widget-readout")
    expect(status).to_contain_text("#1")  # the notebook's own panel.send() ran once
    expect(temperature).to_have_text("0.70")  # thinking off: Qwen's 0.7
    panel.locator(".qwen3lab-prompt textarea").fill(QUESTION)
    panel.locator(".qwen3lab-thinking-switch input[type=checkbox]").check()
    # only the kernel moves the sliders: this is a round trip through the widget comm
    expect(temperature).to_have_text("0.60")
    expect(panel.locator(".qwen3lab-top_p .widget-readout")).to_have_text("0.95")
    panel.locator("button.qwen3lab-send").click()
    try:
        expect(status).to_contain_text("#2", timeout=REPLY_S * 1000)
    except AssertionError:
        pytest.fail(f"no reply in the panel within {REPLY_S} s; its status says {status.inner_text()!r}")
    assert "enable_thinking=True" in status.inner_text() and QUESTION in status.inner_text(), status.inner_text()
    reply = panel.locator(".qwen3lab-reply")
    thinking, answer = (reply.locator(f".qwen3lab-{part} pre").inner_text() for part in ("thinking", "answer"))
    assert reply.locator(".qwen3lab-thinking").inner_text().startswith("思考（thinking）")
    assert reply.locator(".qwen3lab-answer").inner_text().startswith("回答（answer）")
    assert (thinking + answer).replace("（无 none）", "").strip(), f"an empty reply: {thinking!r} {answer!r}"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-Cell", has=panel).screenshot(path=str(shot))
    assert state["cells"] > 0 and shot.stat().st_size > 0
