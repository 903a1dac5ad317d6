"""Project-wide rules: the science core stays headless, and the install is stamped."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UI_MODULES = ("ipywidgets", "anywidget", "plotly", "py3Dmol", "traitlets", "IPython")


def test_workbench_never_imports_ui_libraries():
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "workbench").rglob("*.py")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print([m for m in {UI_MODULES!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "[]", f"workbench imported UI libraries: {out}"


def test_widget_assets_ship_as_package_data():
    import widgets

    root = Path(widgets.__file__).parent
    for name in ("equivariance.js", "equivariance.css"):
        assert (root / name).is_file()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"*.js", "*.css"' in pyproject


IN_MAKE_VENV = pytest.mark.skipif(
    Path(sys.prefix).resolve() != (REPO / ".venv").resolve() or not shutil.which("make"),
    reason="runs inside the .venv that 'make test' installs",
)


@IN_MAKE_VENV
def test_second_make_skips_the_install():
    """The install stamp is keyed on pyproject.toml + constraints.txt: nothing left to do."""
    result = subprocess.run(["make", "--question", "install"], cwd=REPO, capture_output=True)
    assert result.returncode == 0, "make would reinstall although nothing changed"


@IN_MAKE_VENV
def test_make_lab_serves_the_tour_with_a_token():
    """`make lab` prints a tokenised loopback URL and serves notebooks/ (the tour) there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"PORT={port}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if match := re.search(rf"http://127\.0\.0\.1:{port}/lab\S*token=([0-9a-f]+)", line):
                url, token = match.group(0), match.group(1)
                break
            assert time.monotonic() < deadline, "make lab printed no URL"
        assert url and "00_tour.ipynb" in url
        api = f"http://127.0.0.1:{port}/api/contents/00_tour.ipynb?content=0&token={token}"
        while True:
            try:
                with urllib.request.urlopen(api, timeout=2) as response:
                    assert json.load(response)["type"] == "notebook"
                break
            except OSError:
                assert time.monotonic() < deadline, "make lab did not serve the tour"
                time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(api.replace(token, "wrong"), timeout=5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
