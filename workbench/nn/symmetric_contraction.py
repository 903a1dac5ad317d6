r"""MACE's symmetric contraction: equivariant polynomials of degree <= nu in each channel.

For every output irrep c and correlation order nu, MACE (Batatia et al., arXiv 2206.07697,
eqs. 10-11) forms

.. math:: B^{(c)}_{z,k,m} = \sum_{\nu=1}^{\nu_{\max}} \sum_{p} W^{(\nu, c)}_{s(z), p, k}
          \sum_{i_1 \dots i_\nu} U^{(\nu, c)}_{p, i_1 \dots i_\nu, m}
          A_{z,k,i_1} \cdots A_{z,k,i_\nu}

per node z and channel k, with learnable weights depending on the node's species s(z). The
U are the equivariant symmetric maps Sym^nu(irreps_in) -> c of
``Group.symmetric_power_basis``, which is what makes this work for any group (lie-nn,
arXiv 2306.00091, section 3.3). Evaluated from the top order down, contracting one index of
A at a time (a Horner scheme, as MACE does), so no d^nu tensor is formed per node and channel
except at the top order.
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.groups import O3, Group, Irreps

from ._util import compute_dtype

__all__ = ["SymmetricContraction"]


class SymmetricContraction(torch.nn.Module):
    """A (Z, channels, irreps_in.dim) -> B (Z, channels, irreps_out.dim), per channel.

    Args:
        irreps_in: irreps of one channel of A (O(3) e.g. ``"0e + 1o + 2e"``).
        irreps_out: irreps of one channel of B; each must be reachable from Sym^nu(irreps_in)
            for some nu <= correlation, else ``ValueError`` at construction.
        correlation: the body order minus one, nu_max.
        channels: number of channels k (each has its own weights).
        n_species: number of node species s (weights depend on the species).
        group: default O(3).
    """

    def __init__(
        self,
        irreps_in: Any,
        irreps_out: Any,
        correlation: int,
        channels: int,
        *,
        n_species: int = 1,
        group: Group | None = None,
    ) -> None:
        super().__init__()
        group = group or (irreps_in.group if isinstance(irreps_in, Irreps) else O3())
        self.group = group
        self.irreps_in = group.Irreps(irreps_in)
        self.irreps_out = group.Irreps(irreps_out)
        if not isinstance(correlation, int) or correlation < 1:
            raise ValueError(f"correlation must be an int >= 1, got {correlation!r}")
        self.correlation, self.channels, self.n_species = correlation, channels, n_species
        self.weights = torch.nn.ParameterList()
        self._keys: list[tuple[int, int, str]] = []  # (output block, nu, buffer name)
        for j, (mul, ir) in enumerate(self.irreps_out):
            if mul != 1:
                raise ValueError(
                    f"irreps_out {self.irreps_out}: give each irrep once per channel "
                    f"(use channels for multiplicity)"
                )
            found = False
            for nu in range(1, correlation + 1):
                U = group.symmetric_power_basis(self.irreps_in, nu, ir)
                if U.shape[0] == 0:
                    continue
                found = True
                name = f"U_{j}_{nu}"
                self.register_buffer(name, U, persistent=False)
                self._keys.append((j, nu, name))
                n_paths = U.shape[0]
                self.weights.append(
                    torch.nn.Parameter(torch.randn(n_species, n_paths, channels) / n_paths)
                )
            if not found:
                raise ValueError(
                    f"{ir} is not in Sym^nu({self.irreps_in}) for any nu <= {correlation} in "
                    f"{group}: the symmetric contraction cannot produce it"
                )

    def forward(self, x: torch.Tensor, species: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1:] != (self.channels, self.irreps_in.dim):
            raise ValueError(
                f"expected A of shape (Z, {self.channels}, {self.irreps_in.dim}), "
                f"got {tuple(x.shape)}"
            )
        if species is None:
            if self.n_species != 1:
                raise ValueError(f"{self.n_species} species: pass species (Z,) long")
            species = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        z = torch.arange(x.shape[0], device=x.device)
        outputs = []
        for j in range(len(self.irreps_out)):
            terms = {
                nu: (getattr(self, name), W)
                for (jj, nu, name), W in zip(self._keys, self.weights, strict=True)
                if jj == j
            }
            out = None  # (Z, k, d^(nu-1)..., m) after contracting one more index of A
            for nu in range(max(terms), 0, -1):
                if nu in terms:
                    U, W = terms[nu]
                    # c[s, k, i_1..i_nu, m] = sum_p W[s, p, k] U[p, i_1..i_nu, m]
                    dtype = compute_dtype(x.dtype, complex_=U.is_complex())
                    c = torch.einsum("p...,spk->sk...", U.to(dtype), W.to(dtype))
                    if out is None:  # top order: contract per species, then pick s(z)
                        out = torch.einsum("sk...im,zki->zsk...m", c, x.to(dtype))[z, species]
                        continue
                    out = out + c[species]
                out = torch.einsum("zk...im,zki->zk...m", out, x.to(out.dtype))
            outputs.append(out)
        return torch.cat(outputs, dim=-1)

    def extra_repr(self) -> str:
        return (
            f"{self.irreps_in} -> {self.irreps_out}, correlation={self.correlation}, "
            f"channels={self.channels}, n_species={self.n_species}"
        )
