"""Equivariant Workbench: symmetry-aware machine learning for the physical sciences.

The science core. It never imports UI libraries and runs headless; the Jupyter widgets live
in the separate ``widgets`` package.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("equivariant-workbench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
