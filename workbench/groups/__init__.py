"""Representation theory of reductive Lie groups: groups, irreps, Clebsch-Gordan tensors,
tensor-product and symmetric-power decompositions (after lie-nn, arXiv 2306.00091)."""

from .base import Group, GroupElement, Irrep, Irreps
from .lorentz import SL2C, Lorentz
from .so3 import O3, SO3, SU2
from .son import SO, O
from .sp import Sp
from .su import SU

__all__ = [
    "O3",
    "SL2C",
    "SO",
    "SO3",
    "SU",
    "SU2",
    "Group",
    "GroupElement",
    "Irrep",
    "Irreps",
    "Lorentz",
    "O",
    "Sp",
]
