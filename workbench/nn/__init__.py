"""Equivariant layers generic over any group of ``workbench.groups``."""

from .attention import (
    DepthwiseLinear,
    EquiformerBlock,
    EquivariantLayerNorm,
    FeedForward,
    GraphAttention,
    IrrepsLinear,
    segment_softmax,
)
from .embedding import BesselBasis, InvariantForm, PolynomialCutoff, RadialMLP
from .gate import Gate, ScalarActivation
from .graph import CosineCutoff, GaussianBasis, charge_dipole, molecule_sum, radius_graph
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
    "CosineCutoff",
    "DepthwiseLinear",
    "EdgeHarmonics",
    "EquiformerBlock",
    "EquivariantLayerNorm",
    "FeedForward",
    "FullyConnectedTensorProduct",
    "Gate",
    "GaussianBasis",
    "GraphAttention",
    "Instruction",
    "InvariantForm",
    "IrrepsLinear",
    "Linear",
    "PolynomialCutoff",
    "RadialMLP",
    "ScalarActivation",
    "SymmetricContraction",
    "TensorProduct",
    "charge_dipole",
    "molecule_sum",
    "radius_graph",
    "segment_softmax",
]
