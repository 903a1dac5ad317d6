"""Equivariant layers generic over any group of ``workbench.groups``."""

from .linear import Linear

__all__ = ["Linear"]
