"""Fixtures for the browser tests: one JupyterLab and one headless Chromium per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .harness import chromium, lab_server

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab serving a scratch copy of notebooks/ plus the test fixtures.

    A copy, so that the lab's autosave can never write outputs into the committed notebooks.
    """
    root = tmp_path_factory.mktemp("lab-root")
    for notebook in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, root)
    for notebook in FIXTURES.glob("*.ipynb"):
        shutil.copy(notebook, root)
    with lab_server(root, tmp_path_factory.mktemp("lab-dirs")) as server:
        yield server


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    executable = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
    with chromium(executable, tmp_path_factory.mktemp("chromium")) as context:
        yield context


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
