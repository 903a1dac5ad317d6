r"""Harmonics of a vector for any group: the irreps of Sym^k(V) evaluated on x^{(x)k}.

For SO(3) and V = 1o the degree-l part of Sym^l(V) is the harmonic polynomial space, so
:math:`Y^{(l)}(x) = s_l\, U^{(l)} \cdot x^{\otimes l}` are the spherical harmonics (equal to
e3nn's up to a sign per l; tested). For any other group and vector irrep V this gives the
equivariant polynomial features of an edge that lie-nn's MACE uses (arXiv 2306.00091,
section 4): each requested irrep c is taken from the smallest k with c in Sym^k(V), through
``Group.symmetric_power_basis``. Scales s_c give "component" normalisation, |Y^{(c)}|^2 = d_c
on unit vectors of a compact group.
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.groups import Group, Irreps

from ._util import compute_dtype
from .embedding import InvariantForm

__all__ = ["EdgeHarmonics"]

_MAX_DEGREE = 8


class EdgeHarmonics(torch.nn.Module):
    """x (..., d_V) -> (..., irreps_out.dim): the harmonics of x.

    Args:
        group, vector: the group and the irrep V of the input vectors (O(3): ``"1o"``).
        irreps_out: the harmonics to compute, each irrep once (e.g. ``"0e + 1o + 2e + 3o"``).
        normalize: divide x by sqrt(q(x)) first (compact groups only), as e3nn's
            ``normalize=True``.
    """

    def __init__(self, group: Group, vector: Any, irreps_out: Any, normalize: bool = True):
        super().__init__()
        self.group, self.vector = group, group.irrep(vector)
        self.irreps_out = group.Irreps(irreps_out)
        if normalize and not group.compact:
            raise ValueError(
                f"{group} is not compact: vectors cannot be normalised invariantly; "
                "use normalize=False and scale the inputs"
            )
        self.normalize = normalize
        self.form = InvariantForm(group, self.vector) if normalize else None
        V = Irreps(group, ((1, self.vector),))
        probe = torch.randn(self.vector.dim, generator=torch.Generator().manual_seed(0))
        probe = (probe / probe.norm()).to(group.dtype)
        self.degrees = []
        for j, (mul, ir) in enumerate(self.irreps_out):
            if mul != 1:
                raise ValueError(f"irreps_out {self.irreps_out}: list each irrep once")
            for k in range(_MAX_DEGREE + 1):
                if k == 0:
                    U = torch.ones(1, 1, dtype=group.dtype) if ir == group.trivial else None
                else:
                    U = group.symmetric_power_basis(V, k, ir)
                    U = U[0].reshape(-1, ir.dim) if U.shape[0] else None
                if U is not None:
                    break
            else:
                raise ValueError(
                    f"{ir} is not in Sym^k({self.vector}) for k <= {_MAX_DEGREE} in {group}"
                )
            U = U * ir.dim**0.5 / _power(probe, k).matmul(U).norm()
            if U.is_complex() and U.imag.abs().max() < 1e-12:
                U = U.real
            self.register_buffer(f"U{j}", U.contiguous(), persistent=False)
            self.degrees.append(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.vector.dim:
            raise ValueError(f"expected (..., {self.vector.dim}) vectors, got {tuple(x.shape)}")
        if self.form is not None:
            x = x / self.form(x).clamp_min(1e-24).sqrt().unsqueeze(-1).to(x.dtype)
        powers: dict[int, torch.Tensor] = {}
        out = []
        for j, k in enumerate(self.degrees):
            if k not in powers:
                powers[k] = _power(x, k)
            U = getattr(self, f"U{j}")
            dtype = compute_dtype(x.dtype, complex_=U.is_complex())
            out.append(powers[k].to(dtype) @ U.to(dtype))
        return torch.cat(out, dim=-1)

    def extra_repr(self) -> str:
        return f"{self.group} {self.vector} -> {self.irreps_out}, normalize={self.normalize}"


def _power(x: torch.Tensor, k: int) -> torch.Tensor:
    """(..., d) -> (..., d^k): the flattened k-fold outer product x (x) ... (x) x."""
    out = torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)
    for _ in range(k):
        out = (out.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)
    return out
