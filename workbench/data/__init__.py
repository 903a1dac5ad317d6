"""Data sets as padded point clouds: generated shapes (offline) and ModelNet10 (from disk)."""

from .modelnet import MODELNET10_CLASSES, load_modelnet10, read_off, sample_surface
from .shapes import CLASSES, PointClouds, ShapesConfig, make_shapes

__all__ = [
    "CLASSES",
    "MODELNET10_CLASSES",
    "PointClouds",
    "ShapesConfig",
    "load_modelnet10",
    "make_shapes",
    "read_off",
    "sample_surface",
]
