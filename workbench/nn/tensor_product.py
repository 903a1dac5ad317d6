r"""Weighted Clebsch-Gordan tensor product of two irreps multisets, for any group.

For an instruction (i1, i2, o, p) coupling block i1 of x (irrep a, multiplicity u), block i2 of
y (irrep b, multiplicity v) into block o of z (irrep c) through the p-th CG path C^p_{ijk}:

.. math::
    \text{uvw:}\; z^{(o)}_{wk} \mathrel{+}= \alpha \sum_{uv} W_{uvw} \sum_{ij} C^p_{ijk}
    x^{(i_1)}_{ui} y^{(i_2)}_{vj} \qquad
    \text{uvu:}\; z^{(o)}_{(uv)k} \mathrel{+}= \alpha W_{uv} \sum_{ij} C^p_{ijk}
    x^{(i_1)}_{ui} y^{(i_2)}_{vj} \qquad
    \text{uuu:}\; z^{(o)}_{uk} \mathrel{+}= \alpha W_u \sum_{ij} C^p_{ijk} x_{ui} y_{uj}

with e3nn's "component" irrep normalisation and "element" path normalisation,
:math:`\alpha = \sqrt{d_c / \sum_{\text{ins}\to o} n_{\text{ins}}}` (n = uv, v, 1 for uvw, uvu,
uuu) times the instruction's path weight (Geiger & Smidt, arXiv 2207.09453, section 4). The
CG tensors come from ``workbench.groups`` (for O(3) they equal e3nn's ``wigner_3j``), and the
weights are laid out as e3nn's, so with the same weights the outputs agree (tested). Groups
whose tensor products contain an irrep more than once (SU(3): 8 x 8 -> 2 x 8) get one
instruction per CG path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import prod, sqrt
from typing import Any

import torch

from workbench.groups import O3, Group, Irrep, Irreps

from ._util import block_starts, compute_dtype, split_blocks

__all__ = [
    "ChannelwiseTensorProduct",
    "FullyConnectedTensorProduct",
    "Instruction",
    "TensorProduct",
]

_MODES = ("uvw", "uvu", "uuu")


@dataclass(frozen=True)
class Instruction:
    """Couple block ``i_in1`` of the first input with block ``i_in2`` of the second into block
    ``i_out``, through CG path ``path`` (0 unless the product holds the irrep several times)."""

    i_in1: int
    i_in2: int
    i_out: int
    mode: str = "uvw"
    has_weight: bool = True
    path_weight: float = 1.0
    path: int = 0


class TensorProduct(torch.nn.Module):
    """z = x (x) y through explicit instructions, as ``e3nn.o3.TensorProduct``.

    Args:
        irreps_in1, irreps_in2, irreps_out: irreps of x, y and z (strings in the group's
            notation, or ``Irreps``).
        instructions: ``Instruction`` s, or e3nn-style tuples
            ``(i_in1, i_in2, i_out, mode, has_weight[, path_weight])``.
        group: the group (default: that of ``irreps_in1`` if it is ``Irreps``, else O(3)).
        shared_weights: one weight vector for the whole batch; if False, ``forward`` takes a
            weight per sample, shape (..., weight_numel) (MACE's radial weights).
        internal_weights: keep the shared weights as a parameter (default: shared_weights).

    ``forward(x (..., irreps_in1.dim), y (..., irreps_in2.dim), weight=None)`` returns
    (..., irreps_out.dim). Real weights; complex representations take complex inputs.
    """

    def __init__(
        self,
        irreps_in1: Any,
        irreps_in2: Any,
        irreps_out: Any,
        instructions: Iterable[Instruction | Sequence[Any]],
        *,
        group: Group | None = None,
        shared_weights: bool = True,
        internal_weights: bool | None = None,
    ) -> None:
        super().__init__()
        group = group or (irreps_in1.group if isinstance(irreps_in1, Irreps) else O3())
        self.group = group
        self.irreps_in1 = group.Irreps(irreps_in1)
        self.irreps_in2 = group.Irreps(irreps_in2)
        self.irreps_out = group.Irreps(irreps_out)
        self.instructions = [_as_instruction(ins) for ins in instructions]
        self.shared_weights = shared_weights
        self.internal_weights = shared_weights if internal_weights is None else internal_weights
        if self.internal_weights and not shared_weights:
            raise ValueError("internal_weights=True needs shared_weights=True")

        self.path_shapes = [self._check(ins) for ins in self.instructions]
        self.weight_numel = sum(
            prod(shape)
            for shape, ins in zip(self.path_shapes, self.instructions, strict=True)
            if ins.has_weight
        )
        self.alphas = self._normalisation()
        # one CG buffer per distinct (a, b, c); instructions refer to it by name
        triples = list(dict.fromkeys(self._irreps_of(ins) for ins in self.instructions))
        for k, (a, b, c) in enumerate(triples):
            self.register_buffer(f"cg{k}", group.cg(a, b, c), persistent=False)
        self._cg_keys = [f"cg{triples.index(self._irreps_of(ins))}" for ins in self.instructions]
        self._fused = self._build_fused()
        if self.internal_weights and self.weight_numel:
            self.weight = torch.nn.Parameter(torch.randn(self.weight_numel))
        else:
            self.register_buffer("weight", torch.empty(0), persistent=False)

    def _irreps_of(self, ins: Instruction) -> tuple[Irrep, Irrep, Irrep]:
        return (
            self.irreps_in1[ins.i_in1][1],
            self.irreps_in2[ins.i_in2][1],
            self.irreps_out[ins.i_out][1],
        )

    def _check(self, ins: Instruction) -> tuple[int, ...]:
        n1, n2, n3 = len(self.irreps_in1), len(self.irreps_in2), len(self.irreps_out)
        if not (0 <= ins.i_in1 < n1 and 0 <= ins.i_in2 < n2 and 0 <= ins.i_out < n3):
            raise ValueError(f"{ins}: block index out of range ({n1}, {n2}, {n3} blocks)")
        if ins.mode not in _MODES:
            raise ValueError(f"{ins}: mode must be one of {_MODES}")
        (u, a), (v, b), (w, c) = (self.irreps_in1[ins.i_in1], self.irreps_in2[ins.i_in2],
                                  self.irreps_out[ins.i_out])  # fmt: skip
        n_paths = self.group.decompose(a, b).count(c)
        if ins.path >= n_paths:
            raise ValueError(
                f"{ins}: {a} x {b} -> {c} has {n_paths} Clebsch-Gordan path(s) in {self.group}; "
                f"the product is {self.group.decompose(a, b)}"
            )
        if ins.mode == "uvw":
            return (u, v, w)
        if ins.mode == "uvu":
            if w != u * v and w != u:
                raise ValueError(f"{ins}: mode uvu needs mul_out = mul1 or mul1 * mul2")
            return (u, v)
        if not u == v == w:
            raise ValueError(f"{ins}: mode uuu needs equal multiplicities, got {u}, {v}, {w}")
        return (u,)

    def _build_fused(self) -> bool:
        """When y has multiplicity 1 everywhere (edge harmonics) and every instruction is a
        weighted uvw or uvu with mul_out = mul1 x mul2: one matrix per block of x,
        F_i1[j, i, K] = alpha C^p_{i j k} stacked over its instructions (K runs over their
        outputs), so that x (x) y is one matmul with y and one batched matmul with x."""
        if not self.instructions or any(
            mul != 1 for mul, _ in self.irreps_in2
        ) or any(
            not ins.has_weight
            or ins.mode not in ("uvw", "uvu")
            or (ins.mode == "uvu" and self.irreps_out[ins.i_out][0] != prod(shape))
            for ins, shape in zip(self.instructions, self.path_shapes, strict=True)
        ):  # fmt: skip
            return False
        starts2 = block_starts(self.irreps_in2)
        self._fused_plan = []  # per block of x: (buffer name, [(instruction #, k0, k1)])
        for i1, (_, a) in enumerate(self.irreps_in1):
            members = [k for k, ins in enumerate(self.instructions) if ins.i_in1 == i1]
            if not members:
                continue
            size = sum(self.irreps_out[self.instructions[k].i_out][1].dim for k in members)
            F = torch.zeros(a.dim, self.irreps_in2.dim, size, dtype=self.group.dtype)
            plan, k0 = [], 0
            for k in members:
                ins = self.instructions[k]
                b, c = self.irreps_in2[ins.i_in2][1], self.irreps_out[ins.i_out][1]
                C = getattr(self, self._cg_keys[k])[ins.path]
                j0 = starts2[ins.i_in2]
                F[:, j0 : j0 + b.dim, k0 : k0 + c.dim] = self.alphas[k] * C
                plan.append((k, k0, k0 + c.dim))
                k0 += c.dim
            # stored (d2, K, da): y @ F is then (Z, K, da) without a copy
            self.register_buffer(f"fused{i1}", F.permute(1, 2, 0).contiguous(), persistent=False)
            self._fused_plan.append((i1, f"fused{i1}", plan))
        self._weight_offsets = list(_starts_of([prod(s) for s in self.path_shapes]))
        return True

    def _forward_fused(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor):
        """Blocks laid out (Z, dc, u) so each output block is one (Z dc, sum u) x (sum u, w)
        matmul; ``torch.split`` keeps the backward pass to one concatenation per block."""
        n, dtype = x.shape[0], x.dtype
        xs = split_blocks(x, self.irreps_in1)
        parts: list[list[tuple[torch.Tensor, int]]] = [[] for _ in self.irreps_out]
        for i1, name, plan in self._fused_plan:
            F = getattr(self, name).to(dtype)  # (d2, K, da)
            yF = (y @ F.reshape(F.shape[0], -1)).reshape(n, F.shape[1], F.shape[2])
            xyF = torch.bmm(yF, xs[i1].transpose(1, 2))  # (Z, K, u)
            pieces = torch.split(xyF, [k1 - k0 for _, k0, k1 in plan], dim=1)
            for (k, _, _), piece in zip(plan, pieces, strict=True):
                parts[self.instructions[k].i_out].append((piece, k))
        blocks = []
        for o, (mul, ir) in enumerate(self.irreps_out):
            if not parts[o]:
                blocks.append(x.new_zeros(n, mul * ir.dim))
                continue
            if self.instructions[parts[o][0][1]].mode == "uvu":
                z = sum(self._uvu_weight(t, k, weight) for t, k in parts[o])  # (Z, dc, u)
            else:  # uvw: one matmul over all instructions into this block
                t = torch.cat([t for t, _ in parts[o]], dim=2)  # (Z, dc, sum u)
                W = torch.cat([self._uvw_weight(k, weight) for _, k in parts[o]], dim=-2)
                z = t @ W  # (Z, dc, w)
            blocks.append(z.transpose(1, 2).reshape(n, mul * ir.dim))
        return torch.cat(blocks, dim=-1)

    def _uvw_weight(self, k: int, weight: torch.Tensor) -> torch.Tensor:
        u, v, w = self.path_shapes[k]
        start = self._weight_offsets[k]
        return weight[..., start : start + u * v * w].reshape(*weight.shape[:-1], u * v, w)

    def _uvu_weight(self, t: torch.Tensor, k: int, weight: torch.Tensor) -> torch.Tensor:
        u, _ = self.path_shapes[k]
        start = self._weight_offsets[k]
        return t * weight[..., start : start + u].unsqueeze(-2)

    def _normalisation(self) -> list[float]:
        def n_elements(ins: Instruction) -> int:
            u, v = self.irreps_in1[ins.i_in1][0], self.irreps_in2[ins.i_in2][0]
            return {"uvw": u * v, "uvu": v, "uuu": 1}[ins.mode]

        alphas = []
        for ins in self.instructions:
            fan_in = sum(n_elements(i) for i in self.instructions if i.i_out == ins.i_out)
            d_out = self.irreps_out[ins.i_out][1].dim
            alphas.append(sqrt(d_out / fan_in * ins.path_weight) if fan_in else 0.0)
        return alphas

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        for name, t, irreps in (("x", x, self.irreps_in1), ("y", y, self.irreps_in2)):
            if t.shape[-1] != irreps.dim:
                raise ValueError(
                    f"input {name} has {t.shape[-1]} features but its irreps {irreps} have "
                    f"dimension {irreps.dim}"
                )
        weight = self._weights(weight, x, y)
        batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        dtype = compute_dtype(x.dtype, y.dtype, complex_=self.group.dtype.is_complex)
        x = x.to(dtype).expand(*batch, -1).reshape(-1, x.shape[-1])
        y = y.to(dtype).expand(*batch, -1).reshape(-1, y.shape[-1])
        weight = weight.to(dtype)
        if not self.shared_weights:
            weight = weight.expand(*batch, -1).reshape(-1, weight.shape[-1])
        if self._fused:
            return self._forward_fused(x, y, weight).reshape(*batch, self.irreps_out.dim)
        xs, ys = split_blocks(x, self.irreps_in1), split_blocks(y, self.irreps_in2)
        out: list[torch.Tensor | None] = [None] * len(self.irreps_out)
        offset = 0
        for ins, shape, alpha, key in zip(
            self.instructions, self.path_shapes, self.alphas, self._cg_keys, strict=True
        ):
            C = getattr(self, key)[ins.path].to(dtype)
            if ins.has_weight:
                n = prod(shape)
                W = weight[..., offset : offset + n].reshape(*weight.shape[:-1], *shape)
                offset += n
            else:
                W = None
            z = alpha * _contract(ins.mode, xs[ins.i_in1], ys[ins.i_in2], C, W)
            if ins.mode == "uvu" and self.irreps_out[ins.i_out][0] != prod(shape):
                z = z.sum(dim=2)  # e3nn's uvu: mul_out = mul1, summed over v
            z = z.reshape(z.shape[0], -1, z.shape[-1])
            out[ins.i_out] = z if out[ins.i_out] is None else out[ins.i_out] + z
        n = x.shape[0]
        blocks = [
            (o if o is not None else x.new_zeros(n, mul, ir.dim)).reshape(n, mul * ir.dim)
            for o, (mul, ir) in zip(out, self.irreps_out, strict=True)
        ]
        return torch.cat(blocks, dim=-1).reshape(*batch, self.irreps_out.dim)

    def _weights(self, weight: torch.Tensor | None, x: torch.Tensor, y: torch.Tensor):
        if weight is None:
            if not self.internal_weights and self.weight_numel:
                raise ValueError("this tensor product has external weights: pass weight=...")
            return self.weight
        if self.internal_weights:
            raise ValueError("this tensor product has internal weights; do not pass weight")
        if weight.shape[-1] != self.weight_numel:
            raise ValueError(
                f"weight has {weight.shape[-1]} entries per sample, expected {self.weight_numel}"
            )
        if self.shared_weights and weight.dim() != 1:
            raise ValueError(f"shared weights are a vector, got shape {tuple(weight.shape)}")
        return weight

    def extra_repr(self) -> str:
        return (
            f"{self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, "
            f"{len(self.instructions)} paths, {self.weight_numel} weights"
        )


def _contract(mode: str, x: torch.Tensor, y: torch.Tensor, C: torch.Tensor, W) -> torch.Tensor:
    """One instruction: x (Z, u, i), y (Z, v, j), C (i, j, k), W per-sample (Z, ...) or shared.

    y is contracted with C first: y is usually the small operand (edge harmonics, mul 1)."""
    if mode == "uuu":
        z = torch.einsum("zui,zuik->zuk", x, torch.einsum("zuj,ijk->zuik", y, C))
        return z if W is None else z * (W if W.dim() == 2 else W[None]).unsqueeze(-1)
    yC = torch.einsum("zvj,ijk->zvik", y, C)
    xyC = torch.einsum("zui,zvik->zuvk", x, yC)
    if mode == "uvu":
        return xyC if W is None else xyC * (W if W.dim() == 3 else W[None]).unsqueeze(-1)
    if W is None:
        return xyC.sum(dim=(1, 2)).unsqueeze(1)
    if W.dim() == 3:  # shared
        return torch.einsum("zuvk,uvw->zwk", xyC, W)
    return torch.einsum("zuvk,zuvw->zwk", xyC, W)


def _as_instruction(ins: Instruction | Sequence[Any]) -> Instruction:
    if isinstance(ins, Instruction):
        return ins
    ins = tuple(ins)
    if len(ins) not in (5, 6, 7):
        raise ValueError(
            f"instruction {ins!r}: expected (i_in1, i_in2, i_out, mode, has_weight"
            "[, path_weight[, path]])"
        )
    return Instruction(*ins)


def _paths(group: Group, a: Irrep, b: Irrep, c: Irrep) -> int:
    return group.decompose(a, b).count(c)


class FullyConnectedTensorProduct(TensorProduct):
    """Every allowed (block1, block2, block_out, CG path) with its own "uvw" weights, as
    ``e3nn.o3.FullyConnectedTensorProduct``."""

    def __init__(
        self, irreps_in1: Any, irreps_in2: Any, irreps_out: Any, *, group: Group | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        group = group or (irreps_in1.group if isinstance(irreps_in1, Irreps) else O3())
        i1, i2, io = group.Irreps(irreps_in1), group.Irreps(irreps_in2), group.Irreps(irreps_out)
        instructions = [
            Instruction(a, b, c, "uvw", True, 1.0, p)
            for a, (_, ir1) in enumerate(i1)
            for b, (_, ir2) in enumerate(i2)
            for c, (_, ir3) in enumerate(io)
            for p in range(_paths(group, ir1, ir2, ir3))
        ]
        super().__init__(i1, i2, io, instructions, group=group, **kwargs)


class ChannelwiseTensorProduct(TensorProduct):
    """MACE's interaction product (arXiv 2206.07697, eq. 8): each channel u of x times each
    block of y, "uvu" mode, into every irrep of ``filter_irreps`` the product contains.

    The output irreps are built from the instructions and sorted (not simplified), as MACE's
    ``tp_out_irreps_with_instructions``; a ``Linear`` usually follows. Weights are per sample
    by default (from a radial MLP): ``forward(x, y, weight)`` with weight (..., weight_numel).
    """

    def __init__(
        self, irreps_in1: Any, irreps_in2: Any, filter_irreps: Any, *,
        group: Group | None = None, shared_weights: bool = False, **kwargs: Any,
    ) -> None:  # fmt: skip
        group = group or (irreps_in1.group if isinstance(irreps_in1, Irreps) else O3())
        i1, i2 = group.Irreps(irreps_in1), group.Irreps(irreps_in2)
        allowed = {ir for _, ir in group.Irreps(filter_irreps)}
        blocks, raw = [], []
        for a, (u, ir1) in enumerate(i1):
            for b, (v, ir2) in enumerate(i2):
                for ir3 in dict.fromkeys(ir for _, ir in group.decompose(ir1, ir2)):
                    if ir3 not in allowed:
                        continue
                    for p in range(_paths(group, ir1, ir2, ir3)):
                        raw.append((a, b, len(blocks), p))
                        blocks.append((u * v, ir3))
        if not blocks:
            raise ValueError(
                f"{i1} x {i2} contains none of {group.Irreps(filter_irreps)} in {group}"
            )
        order = sorted(range(len(blocks)), key=lambda k: (blocks[k][1].dim, blocks[k][1].label))
        position = {old: new for new, old in enumerate(order)}
        irreps_out = Irreps(group, tuple((blocks[k][0], blocks[k][1]) for k in order))
        instructions = [Instruction(a, b, position[o], "uvu", True, 1.0, p) for a, b, o, p in raw]
        super().__init__(
            i1, i2, irreps_out, instructions, group=group, shared_weights=shared_weights,
            **kwargs,
        )  # fmt: skip


def _starts_of(sizes: list[int]):
    start = 0
    for size in sizes:
        yield start
        start += size
