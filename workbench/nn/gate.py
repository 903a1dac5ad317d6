r"""Nonlinearities that stay equivariant for any group, compact or not.

A pointwise function of a feature is equivariant only on invariants, and norms of non-trivial
irreps are not invariant for non-compact groups (a boosted 4-vector changes its Euclidean
norm). So activations act on trivial irreps only, and non-trivial irreps are multiplied by
activated invariant "gates" (Weiler et al., arXiv 1807.02547, section 3.5; e3nn's ``Gate``):

.. math:: \mathrm{Gate}(s \oplus g \oplus v) = \sigma_s(s) \oplus \sigma_g(g_u)\, v_u .

Activations are rescaled to unit second moment under a standard normal, as e3nn's
``normalize2mom`` estimates it (the same samples, so the layer equals ``e3nn.nn.Gate``;
tested). Complex invariants (groups with complex representations) are activated in their real
and imaginary parts separately.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from workbench.groups import O3, Group, Irreps

__all__ = ["Gate", "ScalarActivation"]


class ScalarActivation(torch.nn.Module):
    """``act`` rescaled so that E[act(z)^2] = 1 for z ~ N(0, 1); complex inputs act on real and
    imaginary parts separately."""

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor], normalize: bool = True):
        super().__init__()
        self.act = act
        self.scale = _second_moment(act) ** -0.5 if normalize else 1.0
        if abs(self.scale - 1) < 1e-4:  # e3nn skips the rescaling when it is this close
            self.scale = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_complex():
            return torch.complex(self(x.real), self(x.imag))
        return self.act(x) * self.scale if self.scale != 1.0 else self.act(x)


def _second_moment(act: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """Monte-Carlo <act(z)^2> on the 10^6 normal samples of e3nn's ``moment`` (seed 0)."""
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(1_000_000, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        return float(act(z).pow(2).mean())


class Gate(torch.nn.Module):
    """Input ``irreps_scalars + irreps_gates + irreps_gated`` ->
    output ``irreps_scalars + irreps_gated``.

    Args:
        irreps_scalars, irreps_gates: invariants only (the group's trivial irrep, O(3) ``0e``);
            ``irreps_gates`` has one copy per copy of an irrep in ``irreps_gated``.
        act_scalars, act_gates: one activation per block of scalars / gates.
        irreps_gated: any irreps.
        group: default O(3) (e3nn notation).
    """

    def __init__(
        self,
        irreps_scalars: Any,
        act_scalars: Sequence[Callable[[torch.Tensor], torch.Tensor]],
        irreps_gates: Any,
        act_gates: Sequence[Callable[[torch.Tensor], torch.Tensor]],
        irreps_gated: Any,
        *,
        group: Group | None = None,
    ) -> None:
        super().__init__()
        group = group or (irreps_scalars.group if isinstance(irreps_scalars, Irreps) else O3())
        self.group = group
        self.irreps_scalars = group.Irreps(irreps_scalars)
        self.irreps_gates = group.Irreps(irreps_gates)
        self.irreps_gated = group.Irreps(irreps_gated)
        for name, irreps in (("scalars", self.irreps_scalars), ("gates", self.irreps_gates)):
            bad = [str(ir) for _, ir in irreps if ir != group.trivial]
            if bad:
                raise ValueError(
                    f"irreps_{name} {irreps} contains {', '.join(bad)}: activations may only act "
                    f"on invariants ({group.trivial}) to stay equivariant"
                )
        if self.irreps_gates.num_irreps != self.irreps_gated.num_irreps:
            raise ValueError(
                f"{self.irreps_gates.num_irreps} gates for {self.irreps_gated.num_irreps} gated "
                f"irreps ({self.irreps_gated}): give one gate per gated irrep"
            )
        if len(act_scalars) != len(self.irreps_scalars) or len(act_gates) != len(self.irreps_gates):
            raise ValueError("give one activation per block of irreps_scalars and irreps_gates")
        self.act_scalars = torch.nn.ModuleList(ScalarActivation(a) for a in act_scalars)
        self.act_gates = torch.nn.ModuleList(ScalarActivation(a) for a in act_gates)
        self.irreps_in = self.irreps_scalars + self.irreps_gates + self.irreps_gated
        self.irreps_out = self.irreps_scalars + self.irreps_gated
        self._gate_index = torch.repeat_interleave(
            torch.arange(self.irreps_gated.num_irreps),
            torch.tensor([ir.dim for mul, ir in self.irreps_gated for _ in range(mul)]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.irreps_in.dim:
            raise ValueError(
                f"input has {x.shape[-1]} features, irreps_in {self.irreps_in} has "
                f"{self.irreps_in.dim}"
            )
        ds, dg = self.irreps_scalars.dim, self.irreps_gates.dim
        scalars, gates, gated = x[..., :ds], x[..., ds : ds + dg], x[..., ds + dg :]
        out = [_blockwise(scalars, self.irreps_scalars, self.act_scalars)]
        if dg:
            gates = _blockwise(gates, self.irreps_gates, self.act_gates)
            out.append(gated * gates[..., self._gate_index.to(x.device)])
        return torch.cat(out, dim=-1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}"


def _blockwise(x: torch.Tensor, irreps: Irreps, acts: torch.nn.ModuleList) -> torch.Tensor:
    """Apply acts[b] to the invariants of block b."""
    out, start = [], 0
    for (mul, ir), act in zip(irreps, acts, strict=True):
        out.append(act(x[..., start : start + mul * ir.dim]))
        start += mul * ir.dim
    return torch.cat(out, dim=-1) if out else x
