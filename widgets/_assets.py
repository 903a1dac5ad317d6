"""Front-end assets shipped inside the package: widget ES modules with vendored libraries.

The lab must work offline, so no widget loads anything from a CDN. A library a widget needs
(plotly.js, taken from the installed ``plotly`` Python package) is inlined into the widget's
ES module and evaluated once per page, on first use; later widgets reuse it from
``globalThis``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

__all__ = ["widget_css", "widget_esm"]

_HERE = Path(__file__).parent


def _plotly_js() -> str:
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_text("utf-8")


def _3dmol_js() -> str:
    """3Dmol.js 2.5.5, vendored from npm (see widgets/vendor/README.md)."""
    return (_HERE / "vendor" / "3Dmol-min.js").read_text("utf-8")


# name -> (global name the widget code uses, loader of the library's UMD source).
# 3Dmol's build reads the global ``$3Dmol`` while it loads, so the module-level name differs.
_LIBRARIES = {"plotly": ("Plotly", _plotly_js), "3dmol": ("ThreeDmol", _3dmol_js)}


@functools.cache
def _library_prelude(name: str) -> str:
    """ES module code that defines ``const <Global>`` from the vendored UMD build.

    The library is evaluated on first use (when the widget draws), once per page, not when the
    module is imported: evaluating plotly.js at import took 5-7 s in headless Chromium on a
    loaded 2-core machine, longer than the 2 s anywidget gives a model to initialise
    ("[anywidget] Failed to initialize model."); deferred, the import takes under 1 s. The
    global is a stand-in forwarding property reads (``Plotly.react``) to the library. The UMD
    wrapper exports through ``module.exports`` when a ``module`` object is in scope.
    """
    try:
        global_name, load = _LIBRARIES[name]
    except KeyError:
        raise ValueError(
            f"unknown front-end library {name!r}; known: {sorted(_LIBRARIES)}"
        ) from None
    return (
        f"const {global_name} = (() => {{ let lib; const get = () => (lib ??= "
        f"((globalThis.__workbench_libs ??= {{}})[{json.dumps(name)}] ??= "
        f"(() => {{ const module = {{ exports: {{}} }}; const exports = module.exports;\n"
        f"{load()}\n;return module.exports; }})()));\n"
        f"return new Proxy({{}}, {{ get: (_, key) => get()[key] }}); }})();\n"
    )


@functools.cache
def widget_esm(filename: str, libs: Sequence[str] = ()) -> str:
    """The ES module of a widget (``widgets/<filename>``): the named libraries inlined, then
    the helpers every widget shares (``_shared.js``), then the widget's own code."""
    shared = (_HERE / "_shared.js").read_text("utf-8")
    source = (_HERE / filename).read_text("utf-8")
    return "".join(_library_prelude(lib) for lib in libs) + shared + source


def widget_css(filename: str) -> str:
    """The stylesheet of a widget (``widgets/<filename>``)."""
    return (_HERE / filename).read_text("utf-8")
