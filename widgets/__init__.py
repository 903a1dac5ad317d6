"""Jupyter widgets of the Equivariant Workbench (anywidget; assets ship inside the package)."""

from .action_angle import ActionAngleViewer, jump_figure
from .backmap import BackmapViewer
from .equivariance import EquivarianceCheck
from .irreps import IrrepsExplorer
from .jets import JetViewer, mass_figure, roc_figure
from .molecule import MoleculeViewer
from .pointcloud import PointCloudView
from .spectra import SpectraViewer

__all__ = [
    "ActionAngleViewer",
    "BackmapViewer",
    "EquivarianceCheck",
    "IrrepsExplorer",
    "JetViewer",
    "MoleculeViewer",
    "PointCloudView",
    "SpectraViewer",
    "jump_figure",
    "mass_figure",
    "roc_figure",
]
