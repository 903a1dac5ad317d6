"""Equivariant layers generic over any group of ``workbench.groups``."""

from .embedding import BesselBasis, InvariantForm, PolynomialCutoff, RadialMLP
from .gate import Gate, ScalarActivation
from .harmonics import EdgeHarmonics
from .linear import Linear
from .symmetric_contraction import SymmetricContraction
from .tensor_product import (
    ChannelwiseTensorProduct,
    FullyConnectedTensorProduct,
    Instruction,
    TensorProduct,
)

__all__ = [
    "BesselBasis",
    "ChannelwiseTensorProduct",
    "EdgeHarmonics",
    "FullyConnectedTensorProduct",
    "Gate",
    "Instruction",
    "InvariantForm",
    "Linear",
    "PolynomialCutoff",
    "RadialMLP",
    "ScalarActivation",
    "SymmetricContraction",
    "TensorProduct",
]
