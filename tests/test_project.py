"""Project-wide rules: the science core stays headless, and the install is stamped."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (REPO / ".venv").resolve() or not shutil.which("make"),
    reason="runs inside the .venv that 'make test' installs",
)
def test_second_make_skips_the_install():
    """The install stamp is keyed on pyproject.toml + constraints.txt: nothing left to do."""
    result = subprocess.run(["make", "--question", "install"], cwd=REPO, capture_output=True)
    assert result.returncode == 0, "make would reinstall although nothing changed"
