r"""Invariant embeddings of pairs: the invariant quadratic form of a vector irrep, MACE's radial
basis and cutoff, and the radial MLP that turns them into tensor-product weights.

* ``InvariantForm``: q(x) = x^dagger x for a compact group (its irreps are unitary in
  ``workbench.groups``' bases), else the symmetric bilinear form x^T G x read off the
  Clebsch-Gordan tensor V x V -> trivial (for the Lorentz group, the Minkowski product).
* ``BesselBasis``: :math:`\sqrt{2/r_c}\,\sin(n\pi r/r_c)/r`, n = 1..N (DimeNet,
  arXiv 2003.03123, eq. 7; MACE arXiv 2206.07697, eq. 7).
* ``PolynomialCutoff``: the smooth envelope of DimeNet eq. 8 with p = 6 (MACE's default).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from workbench.groups import Group

__all__ = ["BesselBasis", "InvariantForm", "PolynomialCutoff", "RadialMLP"]


class InvariantForm(torch.nn.Module):
    """q(x) for x (..., d) in the irrep ``vector`` of ``group``; returns real (...,)."""

    def __init__(self, group: Group, vector: Any) -> None:
        super().__init__()
        self.group, self.vector = group, group.irrep(vector)
        self.hermitian = group.compact
        if self.hermitian:
            self.register_buffer("G", torch.eye(self.vector.dim, dtype=group.dtype))
            return
        C = group.cg(self.vector, self.vector, group.trivial)
        if C.shape[0] == 0:
            raise ValueError(
                f"{self.vector} of the non-compact group {group} has no invariant bilinear form: "
                f"choose a vector irrep whose square contains {group.trivial}"
            )
        G = C[0, :, :, 0]
        G = G + G.transpose(0, 1)
        if G.abs().max() < 1e-9:
            raise ValueError(f"the invariant form on {self.vector} of {group} is antisymmetric")
        big = G.reshape(-1)[G.abs().argmax()]
        G = G / big * big.abs()  # remove the global phase
        G = G / G.abs().max()
        if G.is_complex() and G.imag.abs().max() < 1e-12:
            G = G.real
        self.register_buffer("G", G.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.vector.dim:
            raise ValueError(f"expected (..., {self.vector.dim}) vectors, got {tuple(x.shape)}")
        if self.hermitian:
            return (x.conj() * x).real.sum(-1) if x.is_complex() else (x * x).sum(-1)
        if self.G.is_complex() or not x.is_complex():
            G = self.G.to(x.dtype)
        else:  # a real form on complex points: in the points' precision (complex64 stays)
            G = self.G.to(x.real.dtype).to(x.dtype)
        q = torch.einsum("...i,ij,...j->...", x, G, x)
        return q.real if q.is_complex() else q

    def extra_repr(self) -> str:
        kind = "hermitian" if self.hermitian else "bilinear"
        return f"{self.group} {self.vector}, {kind}"


class BesselBasis(torch.nn.Module):
    """(...,) distances -> (..., num_basis) radial Bessel functions on [0, r_max]."""

    def __init__(self, r_max: float, num_basis: int = 8, trainable: bool = False) -> None:
        super().__init__()
        if r_max <= 0 or num_basis < 1:
            raise ValueError(f"need r_max > 0 and num_basis >= 1, got {r_max}, {num_basis}")
        self.r_max = float(r_max)
        frequencies = (
            math.pi / r_max * torch.arange(1, num_basis + 1, dtype=torch.get_default_dtype())
        )
        if trainable:
            self.frequencies = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)
        self.prefactor = math.sqrt(2.0 / r_max)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies.to(r.dtype) * r) / r.clamp_min(1e-9)


class PolynomialCutoff(torch.nn.Module):
    r"""f(r) = 1 - (p+1)(p+2)/2 u^p + p(p+2) u^{p+1} - p(p+1)/2 u^{p+2}, u = r / r_max, and 0
    beyond r_max: smooth to second order at the cutoff."""

    def __init__(self, r_max: float, p: int = 6) -> None:
        super().__init__()
        self.r_max, self.p = float(r_max), p

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p, u = self.p, r / self.r_max
        f = (
            1.0
            - (p + 1) * (p + 2) / 2 * u**p
            + p * (p + 2) * u ** (p + 1)
            - p * (p + 1) / 2 * u ** (p + 2)
        )
        return f * (u < 1.0)


class RadialMLP(torch.nn.Sequential):
    """MLP on invariants with SiLU between layers: sizes (in, hidden..., out)."""

    def __init__(self, sizes: Sequence[int]) -> None:
        layers: list[torch.nn.Module] = []
        for k, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(a, b, bias=k < len(sizes) - 2))
            if k < len(sizes) - 2:
                layers.append(torch.nn.SiLU())
        super().__init__(*layers)
