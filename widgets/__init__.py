"""Jupyter widgets of the Equivariant Workbench (anywidget; assets ship inside the package)."""

from .equivariance import EquivarianceCheck

__all__ = ["EquivarianceCheck"]
