"""Drive JupyterLab in headless Chromium: start a lab, open a notebook, run it, assert on it.

The harness fails a run on any JavaScript console error, any uncaught page error, any error
output of a cell, any widget that does not render, and any request to a non-loopback address
(so a CDN dependency can never sneak in). See ../../../shared/design/BROWSER_TESTS.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about"}
# anywidget 0.11 logs this when a widget's ES module takes over 2 s to load (its model's
# ``ready`` promise times out). The first picture still renders (our widgets send their whole
# state in the comm's first message), but anywidget then drops the kernel's later messages to
# that widget, so tests that check a kernel -> page update still fail. Recorded, not failed on
# by itself: with the vendored libraries evaluated on first use (widgets/_assets.py) the module
# loads in under 1 s, and a loaded CI machine should not turn that into a red run.
SLOW_START = "[anywidget] Failed to initialize model"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# JS: how many widget views the notebook's outputs hold, and how many of ours have rendered.
COUNT_WIDGETS = f"""() => [
    window.jupyterapp.shell.currentWidget.content.model.toJSON().cells
        .flatMap((c) => c.outputs || [])
        .filter((o) => o.data && o.data['{WIDGET_MIME}']).length,
    document.querySelectorAll('[data-wb-widget][data-wb-ready="1"]').length,
]"""


class HarnessFailure(AssertionError):
    """A notebook run in the browser showed a problem (listed in the message)."""


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    """User settings: render every cell (no windowing) and never fetch news or updates."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, content in files.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


@contextlib.contextmanager
def lab_server(root: Path, workdir: Path, timeout: float = 120) -> Iterator[LabServer]:
    """JupyterLab on a free loopback port, with config/data/runtime/settings dirs in workdir."""
    port, token = _free_port(), secrets.token_hex(16)
    dirs = {
        name: workdir / name
        for name in ("config", "data", "runtime", "ipython", "settings", "workspaces")
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    _write_settings(dirs["settings"])
    env = os.environ | {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "WORKBENCH_QUICK": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--ServerApp.root_dir={root}",
    ]
    log = workdir / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_status(url, token, process, log, timeout)
            yield LabServer(url=url, token=token, root=root, log=log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_status(url: str, token: str, process, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def chromium(executable: str, workdir: Path) -> Iterator[BrowserContext]:
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not Path(executable).exists():
        raise RuntimeError(
            f"Chromium not found at {executable}: run 'make test' (it installs Debian's chromium) "
            f"or set WORKBENCH_CHROMIUM"
        )
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(workdir / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1500, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class NotebookRun:
    """A notebook open in a browser page, with everything suspicious that happened in it."""

    page: Page
    name: str
    console_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    slow_starts: list[str] = field(default_factory=list)

    def console_error(self, text: str) -> None:
        (self.slow_starts if SLOW_START in text else self.console_errors).append(text)

    def problems(self) -> list[str]:
        return (
            [f"JS console error: {e}" for e in self.console_errors]
            + [f"request to a non-loopback address (blocked): {u}" for u in self.blocked_requests]
            + [f"cell error: {e}" for e in self.cell_errors]
        )

    def assert_clean(self) -> None:
        problems = self.problems()
        if problems:
            raise HarnessFailure(f"{self.name}:\n  " + "\n  ".join(problems))

    def run_all(self, timeout: float = 300) -> None:
        """Run every cell and wait until the kernel is idle with every code cell executed."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const kernel = panel.sessionContext.session?.kernel;
                const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
                return kernel && kernel.status === 'idle' &&
                    cells.every((c) => c.model.executionCount !== null);
            }""",
            timeout=timeout * 1000,
            polling=500,
        )
        self.cell_errors += self.page.evaluate(
            """() => window.jupyterapp.shell.currentWidget.content.model.toJSON().cells
                .flatMap((c) => c.outputs || [])
                .filter((o) => o.output_type === 'error')
                .map((o) => `${o.ename}: ${o.evalue}`)"""
        )

    def wait_for_widgets(self, timeout: float = 60, grace: float = 5) -> int:
        """Wait until every widget output has rendered (our widgets mark data-wb-ready).

        Gives up ``grace`` seconds after the first problem (console error, blocked request)
        instead of waiting for the full timeout: a broken widget fails fast.
        """
        deadline = time.monotonic() + timeout
        first_problem = None
        while True:
            views, ready = self.page.evaluate(COUNT_WIDGETS)
            if views > 0 and ready == views:
                return views
            now = time.monotonic()
            if self.problems() and first_problem is None:
                first_problem = now
            if now > deadline or (first_problem is not None and now > first_problem + grace):
                raise HarnessFailure(
                    f"{self.name}: widgets did not render (widget outputs: {views}, rendered: "
                    f"{ready}); problems: {self.problems()}"
                )
            self.page.wait_for_timeout(250)

    def kernel(self, code: str, timeout: float = 60) -> str:
        """Execute code in the notebook's kernel (a real round trip); return its stdout."""
        result = self.page.evaluate(
            """async (code) => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const future = kernel.requestExecute({ code, store_history: false });
                let out = '';
                let error = null;
                future.onIOPub = (msg) => {
                    if (msg.header.msg_type === 'stream') out += msg.content.text;
                    if (msg.header.msg_type === 'error') {
                        error = `${msg.content.ename}: ${msg.content.evalue}`;
                    }
                };
                await future.done;
                return { out, error };
            }""",
            code,
        )
        if result["error"]:
            raise HarnessFailure(f"{self.name}: kernel error running {code!r}: {result['error']}")
        return result["out"]

    def poll_json(self, code: str, until=lambda state: True, timeout: float = 15) -> Any:
        """Run ``code`` (which prints JSON) in the kernel until ``until(state)`` holds; the
        state. Polled, not slept: the kernel may see a page change a little later."""
        deadline = time.monotonic() + timeout
        while True:
            state = json.loads(self.kernel(code))
            if until(state):
                return state
            if time.monotonic() > deadline:
                raise HarnessFailure(f"{self.name}: kernel state never matched: {state}")
            self.page.wait_for_timeout(200)

    def count_pixels(self, selector: str, classes: Mapping[str, str] | None = None) -> dict:
        """Pixels of a screenshot of ``selector``: ``drawn`` (not near-white) and one count per
        class, a JS condition on the pixel's ``r``, ``g``, ``b`` (0-255), counted in the page."""
        png = self.page.locator(selector).screenshot()
        tests = "".join(
            f"if ({condition}) n[{json.dumps(name)}] += 1;\n"
            for name, condition in (classes or {}).items()
        )
        return self.page.evaluate(
            f"""async (url) => {{
                const image = new Image();
                image.src = url;
                await image.decode();
                const canvas = document.createElement('canvas');
                canvas.width = image.width;
                canvas.height = image.height;
                const ctx = canvas.getContext('2d');
                ctx.drawImage(image, 0, 0);
                const px = ctx.getImageData(0, 0, image.width, image.height).data;
                const n = {json.dumps({"drawn": 0, **dict.fromkeys(classes or {}, 0)})};
                for (let i = 0; i < px.length; i += 4) {{
                    const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
                    if (r < 235 || g < 235 || b < 235) n.drawn += 1;
                    {tests}
                }}
                return n;
            }}""",
            "data:image/png;base64," + base64.b64encode(png).decode(),
        )

    def screenshot_widgets(self, directory: Path) -> list[Path]:
        """One PNG per widget in the notebook."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        widgets = self.page.locator("[data-wb-widget]")
        stem = Path(self.name).stem
        for i in range(widgets.count()):
            path = directory / f"{stem}-{i}-{widgets.nth(i).get_attribute('data-wb-widget')}.png"
            widgets.nth(i).scroll_into_view_if_needed()
            widgets.nth(i).screenshot(path=str(path))
            paths.append(path)
        return paths


def open_notebook(context: BrowserContext, lab: LabServer, name: str) -> NotebookRun:
    """Open ``name`` (relative to the lab root) with request blocking and error capture."""
    page = context.new_page()
    run = NotebookRun(page=page, name=name)

    def route(r: Route) -> None:
        parsed = urlparse(r.request.url)
        if parsed.scheme in LOCAL_SCHEMES or parsed.hostname in LOOPBACK:
            r.continue_()
        else:
            run.blocked_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and run.console_error(m.text))
    page.on("pageerror", lambda e: run.console_error(f"uncaught: {e}"))
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp?.shell?.currentWidget;
            return panel?.sessionContext?.session?.kernel?.status === 'idle';
        }""",
        timeout=120_000,
        polling=500,
    )
    return run


def run_widget_notebook(
    context: BrowserContext, lab: LabServer, name: str, screenshots: Path | None = None
) -> NotebookRun:
    """Open, run all, wait for every widget to render, screenshot, and fail on any problem."""
    run = open_notebook(context, lab, name)
    run.run_all()
    if run.cell_errors:
        run.assert_clean()
    run.wait_for_widgets()
    if screenshots is not None:
        run.screenshot_widgets(screenshots)
    run.assert_clean()
    return run
