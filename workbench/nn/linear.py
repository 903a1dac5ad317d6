r"""Equivariant linear layer: mixes the copies of each irrep, for any group.

.. math:: y^{(j)}_{w} = \sum_{i:\,\rho_i = \rho_j} \frac{1}{\sqrt{\textstyle\sum_{i' \to j}
          \mathrm{mul}_{i'}}} \sum_u W^{(ij)}_{uw}\, x^{(i)}_{u}

for every pair (input block i, output block j) carrying the same irrep (Schur: nothing else is
equivariant). Same instructions, weight layout and "element" normalisation as
``e3nn.o3.Linear`` (arXiv 2207.09453), so with e3nn's weight vector the outputs agree (tested).
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.groups import O3, Group, Irreps

from ._util import split_blocks

__all__ = ["Linear"]


class Linear(torch.nn.Module):
    """y = W x on irreps: ``Linear("16x0e + 8x1o", "4x0e + 2x1o")`` (O(3), e3nn notation) or
    ``Linear("4x(1,1)", "2x(1,1)", group=Lorentz())``.

    Input (..., irreps_in.dim) -> output (..., irreps_out.dim); real weights, so complex
    representations take complex inputs. Output irreps that no input irrep feeds are zero.
    """

    def __init__(self, irreps_in: Any, irreps_out: Any, *, group: Group | None = None) -> None:
        super().__init__()
        group = group or (irreps_in.group if isinstance(irreps_in, Irreps) else O3())
        self.irreps_in: Irreps = group.Irreps(irreps_in)
        self.irreps_out: Irreps = group.Irreps(irreps_out)
        self.instructions = [
            (i, j)
            for i, (_, a) in enumerate(self.irreps_in)
            for j, (_, b) in enumerate(self.irreps_out)
            if a == b
        ]
        fan_in = {
            j: sum(self.irreps_in[i][0] for i, jj in self.instructions if jj == j)
            for _, j in self.instructions
        }
        self.path_weights = [fan_in[j] ** -0.5 if fan_in[j] else 1.0 for _, j in self.instructions]
        self.shapes = [(self.irreps_in[i][0], self.irreps_out[j][0]) for i, j in self.instructions]
        numel = sum(u * w for u, w in self.shapes)
        self.weight = torch.nn.Parameter(torch.randn(numel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.irreps_in.dim:
            raise ValueError(
                f"input has {x.shape[-1]} features but irreps_in {self.irreps_in} has dimension "
                f"{self.irreps_in.dim}"
            )
        batch = x.shape[:-1]
        blocks_in = split_blocks(x, self.irreps_in)
        out = [x.new_zeros(*batch, mul, ir.dim) for mul, ir in self.irreps_out]
        offset = 0
        for (i, j), (u, w), alpha in zip(
            self.instructions, self.shapes, self.path_weights, strict=True
        ):
            W = self.weight[offset : offset + u * w].reshape(u, w).to(x.dtype)
            offset += u * w
            out[j] = out[j] + alpha * torch.einsum("uw,...ui->...wi", W, blocks_in[i])
        return torch.cat([o.reshape(*batch, -1) for o in out], dim=-1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}, {self.weight.numel()} weights"
