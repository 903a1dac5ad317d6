"""Jupyter widgets of the Equivariant Workbench (anywidget; assets ship inside the package)."""

from .equivariance import EquivarianceCheck
from .irreps import IrrepsExplorer
from .molecule import MoleculeViewer
from .pointcloud import PointCloudView

__all__ = ["EquivarianceCheck", "IrrepsExplorer", "MoleculeViewer", "PointCloudView"]
