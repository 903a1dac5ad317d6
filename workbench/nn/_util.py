"""Small helpers shared by the layers: block views of irreps-shaped tensors, dtype rules."""

from __future__ import annotations

import torch

from workbench.groups import Irreps


def split_blocks(x: torch.Tensor, irreps: Irreps) -> list[torch.Tensor]:
    """Per block of ``irreps``: (..., mul, dim) views of x (..., irreps.dim)."""
    blocks, start = [], 0
    for mul, ir in irreps:
        blocks.append(x[..., start : start + mul * ir.dim].reshape(*x.shape[:-1], mul, ir.dim))
        start += mul * ir.dim
    return blocks


def compute_dtype(*dtypes: torch.dtype, complex_: bool = False) -> torch.dtype:
    """The dtype to compute in: the inputs' promoted dtype, made complex if ``complex_`` (real
    inputs times complex Clebsch-Gordan tensors of a complex representation stay complex)."""
    out = dtypes[0]
    for d in dtypes[1:]:
        out = torch.promote_types(out, d)
    if complex_ and not out.is_complex:
        out = torch.complex128 if out == torch.float64 else torch.complex64
    return out


def to_channels(x: torch.Tensor, irreps: Irreps) -> torch.Tensor:
    """(Z, irreps.dim) with irreps = channels x (ir_1 + ir_2 + ...) in e3nn's layout
    (multiplicity-major per block) -> (Z, channels, sum d_i), one row per channel."""
    return torch.cat(split_blocks(x, irreps), dim=-1)


def from_channels(x: torch.Tensor, irreps: Irreps) -> torch.Tensor:
    """Inverse of ``to_channels``: (Z, channels, sum d_i) -> (Z, irreps.dim)."""
    out, start = [], 0
    for _, ir in irreps:
        out.append(x[..., start : start + ir.dim].reshape(x.shape[0], -1))
        start += ir.dim
    return torch.cat(out, dim=-1)


def block_starts(irreps: Irreps) -> list[int]:
    """Offset of each block of ``irreps`` in an irreps-shaped vector."""
    starts, start = [], 0
    for mul, ir in irreps:
        starts.append(start)
        start += mul * ir.dim
    return starts
