"""Jupyter widgets of the Equivariant Workbench (anywidget; assets ship inside the package)."""

from .action_angle import ActionAngleViewer
from .equivariance import EquivarianceCheck
from .irreps import IrrepsExplorer
from .molecule import MoleculeViewer
from .pointcloud import PointCloudView

__all__ = [
    "ActionAngleViewer",
    "EquivarianceCheck",
    "IrrepsExplorer",
    "MoleculeViewer",
    "PointCloudView",
]
