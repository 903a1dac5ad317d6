r"""MACE on any group: message passing, symmetric contraction, invariant readout.

One interaction t of MACE (Batatia et al., arXiv 2206.07697, eqs. 8-13), with the group and
its irreps as configuration as lie-nn does (arXiv 2306.00091, section 4):

.. math::
    A_{i,k} &= \frac{1}{\bar n} \sum_{j \in \mathcal N(i)} R_{k}(q_{ij})\,
               Y(x_j - x_i) \otimes (W_1 h_j)_k            &\text{(eq. 8-9)}\\
    B_{i,k} &= \sum_{\nu \le \nu_{\max}} W^{(\nu)}_{k}\, U^{(\nu)} \cdot A_{i,k}^{\otimes\nu}
                                                            &\text{(eq. 10-11)}\\
    h^{(t+1)}_i &= W_2 B_i + W_3 h^{(t)}_i                   &\text{(eq. 12)}

where Y are the harmonics of the edge vector (spherical harmonics for O(3); symmetric powers
of the vector irrep for any group), q_ij is the invariant quadratic form of the edge vector
(|r|^2 for compact groups, the Minkowski square for the Lorentz group) embedded by a radial
basis, R an MLP, and the readout is an MLP on the invariants of every layer, pooled over the
points of a cloud. Invariant to the group (by construction), translations (edge vectors are
differences), permutations and masked padding (masked points have no edges and are not pooled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.groups import O3, Group, Irreps
from workbench.nn import (
    BesselBasis,
    ChannelwiseTensorProduct,
    EdgeHarmonics,
    InvariantForm,
    Linear,
    PolynomialCutoff,
    RadialMLP,
    SymmetricContraction,
)
from workbench.nn._util import block_starts, from_channels, to_channels

__all__ = ["MACE", "MACEConfig"]


@dataclass(frozen=True)
class MACEConfig:
    """MACE hyper-parameters; the group and irreps are strings in the group's notation.

    Attributes:
        n_classes: number of logits.
        group: any ``workbench.groups`` group (O(3) for point clouds, SO(3) to tell mirror
            images apart, SU(2) with spinor "points", the Lorentz group for 4-momenta).
        vector: the irrep of the points and edge vectors (O(3): ``"1o"``).
        edge_irreps: harmonics of the edge vectors, also the per-channel irreps of A.
        hidden_irreps: per-channel irreps of the node features h between interactions.
        channels: number of channels k.
        correlation: nu_max (body order minus one).
        num_interactions: number of interactions t.
        r_max: cutoff radius of the graph for compact groups; ``None`` connects all points
            (required for non-compact groups, where q has no sign).
        num_basis: size of the radial basis of q.
        radial_hidden: hidden widths of the radial MLP.
        avg_num_neighbors: the normalisation n-bar of eq. 8.
        readout_hidden: width of the readout MLP.
        n_species: number of point species (weights of B depend on it).
    """

    n_classes: int
    group: Group = field(default_factory=O3)
    vector: str = "1o"
    edge_irreps: str = "0e + 1o + 2e"
    hidden_irreps: str = "0e + 1o"
    channels: int = 16
    correlation: int = 3
    num_interactions: int = 2
    r_max: float | None = 0.5
    num_basis: int = 8
    radial_hidden: tuple[int, ...] = (32,)
    avg_num_neighbors: float = 8.0
    readout_hidden: int = 32
    n_species: int = 1


class _Interaction(torch.nn.Module):
    """Eqs. 8-12 for one t: h (Z, hidden) -> h' (Z, hidden_out)."""

    def __init__(self, cfg: MACEConfig, irreps_h: Irreps, irreps_out: Irreps, n_edge_in: int):
        super().__init__()
        g, k = cfg.group, cfg.channels
        self.irreps_edge = g.Irreps(cfg.edge_irreps)
        self.linear_up = Linear(irreps_h, irreps_h)
        self.tp = ChannelwiseTensorProduct(irreps_h, self.irreps_edge, self.irreps_edge)
        self.radial = RadialMLP((n_edge_in, *cfg.radial_hidden, self.tp.weight_numel))
        self.irreps_a = Irreps(g, tuple((k, ir) for _, ir in self.irreps_edge))
        self.linear_a = Linear(self.tp.irreps_out, self.irreps_a)
        self.contraction = SymmetricContraction(
            self.irreps_edge,
            Irreps(g, tuple((1, ir) for _, ir in irreps_out)),
            cfg.correlation,
            k,
            n_species=cfg.n_species,
        )
        self.irreps_out = Irreps(g, tuple((k, ir) for _, ir in irreps_out))
        self.linear_b = Linear(self.irreps_out, self.irreps_out)
        self.skip = Linear(irreps_h, self.irreps_out)
        self.inv_neighbors = 1.0 / cfg.avg_num_neighbors

    def forward(self, h, species, edge_src, edge_dst, edge_y, edge_radial):
        h_up = self.linear_up(h)
        messages = self.tp(h_up[edge_src], edge_y, self.radial(edge_radial))
        A = torch.zeros(h.shape[0], messages.shape[-1], dtype=messages.dtype, device=h.device)
        A = A.index_add(0, edge_dst, messages) * self.inv_neighbors
        A = to_channels(self.linear_a(A), self.irreps_a)
        B = from_channels(self.contraction(A, species), self.irreps_out)
        return self.linear_b(B) + self.skip(h)


class MACE(torch.nn.Module):
    """``model(pos (B, N, d), mask (B, N) bool, species=None) -> logits (B, n_classes)``.

    ``pos`` holds points in the irrep ``config.vector`` (3D coordinates for O(3)/SO(3));
    ``node_features`` returns the equivariant features of every interaction.
    """

    def __init__(self, config: MACEConfig) -> None:
        super().__init__()
        self.config = cfg = config
        g = cfg.group
        if cfg.n_classes < 1 or cfg.channels < 1 or cfg.num_interactions < 1:
            raise ValueError("n_classes, channels and num_interactions must be >= 1")
        self.vector = g.irrep(cfg.vector)
        edge_irreps, hidden = g.Irreps(cfg.edge_irreps), g.Irreps(cfg.hidden_irreps)
        if g.trivial not in [ir for _, ir in hidden]:
            raise ValueError(
                f"hidden_irreps {hidden} has no invariant ({g.trivial}): the readout would have "
                "nothing to read; add one"
            )
        if cfg.r_max is None and g.compact:
            pass
        elif cfg.r_max is not None and not g.compact:
            raise ValueError(f"{g} is not compact: the cutoff r_max must be None")
        self.form = InvariantForm(g, self.vector)
        self.harmonics = EdgeHarmonics(g, self.vector, edge_irreps, normalize=g.compact)
        if cfg.r_max is not None:
            self.basis = BesselBasis(cfg.r_max, cfg.num_basis)
            self.cutoff = PolynomialCutoff(cfg.r_max)
        self.embedding = torch.nn.Embedding(cfg.n_species, cfg.channels)
        irreps_h = Irreps(g, ((cfg.channels, g.trivial),))
        self.interactions = torch.nn.ModuleList()
        for _ in range(cfg.num_interactions):
            block = _Interaction(cfg, irreps_h, hidden, cfg.num_basis)
            self.interactions.append(block)
            irreps_h = block.irreps_out
        self._scalar_index = [
            torch.cat(
                [
                    torch.arange(start, start + mul)
                    for start, (mul, ir) in zip(
                        block_starts(b.irreps_out), b.irreps_out, strict=True
                    )
                    if ir == g.trivial
                ]
            )
            for b in self.interactions
        ]
        n_inv = sum(len(i) for i in self._scalar_index) * (1 if g.real else 2)
        self.readout = torch.nn.Sequential(
            torch.nn.Linear(n_inv, cfg.readout_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.readout_hidden, cfg.readout_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.readout_hidden, cfg.n_classes),
        )

    # --- graph --------------------------------------------------------------------------------

    def _graph(self, pos: torch.Tensor, mask: torch.Tensor):
        """Valid points as nodes; edges j -> i within a cloud (i != j, q < r_max^2)."""
        B, N, _ = pos.shape
        cloud, point = mask.nonzero(as_tuple=True)
        x = pos[cloud, point]
        index = torch.full((B, N), -1, dtype=torch.long, device=pos.device)
        index[cloud, point] = torch.arange(len(cloud), device=pos.device)
        pair = mask[:, :, None] & mask[:, None, :]
        pair &= ~torch.eye(N, dtype=torch.bool, device=pos.device)
        if self.config.r_max is not None:
            with torch.no_grad():
                d2 = self.form(pos[:, None, :, :] - pos[:, :, None, :])
            pair &= d2 < self.config.r_max**2
        b, i, j = pair.nonzero(as_tuple=True)
        return x, cloud, index[b, j], index[b, i]

    def _edge_features(self, x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor):
        vec = x[src] - x[dst]
        q = self.form(vec)
        y = self.harmonics(vec)
        if self.config.r_max is not None:
            r = q.clamp_min(0).sqrt()
            radial = self.basis(r) * self.cutoff(r).unsqueeze(-1)
        else:  # a bounded embedding of q, whose sign is meaningful (time-like / space-like)
            s = torch.sign(q) * torch.log1p(q.abs())
            centres = torch.linspace(-4, 4, self.config.num_basis, device=x.device, dtype=s.dtype)
            radial = torch.exp(-((s.unsqueeze(-1) - centres) ** 2))
        return y, radial.to(self.embedding.weight.dtype)

    # --- forward ------------------------------------------------------------------------------

    def node_features(
        self, pos: torch.Tensor, mask: torch.Tensor, species: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Features h^(t) (Z, irreps) of the valid points after each interaction, and the cloud
        index (Z,) of each valid point."""
        pos, mask, species = self._check(pos, mask, species)
        x, cloud, src, dst = self._graph(pos, mask)
        y, radial = self._edge_features(x, src, dst)
        s = species[mask]
        h = self.embedding(s)
        features = []
        for block in self.interactions:
            h = block(h, s, src, dst, y, radial)
            features.append(h)
        return features, cloud

    def forward(
        self, pos: torch.Tensor, mask: torch.Tensor | None = None, species=None
    ) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(pos.shape[:2], dtype=torch.bool, device=pos.device)
        features, cloud = self.node_features(pos, mask, species)
        inv = torch.cat(
            [h[:, idx] for h, idx in zip(features, self._scalar_index, strict=True)], -1
        )
        if inv.is_complex():
            inv = torch.cat([inv.real, inv.imag], dim=-1)
        B = pos.shape[0]
        pooled = torch.zeros(B, inv.shape[-1], dtype=inv.dtype, device=inv.device)
        pooled = pooled.index_add(0, cloud, inv)
        counts = torch.bincount(cloud, minlength=B).clamp_min(1).to(inv.dtype)
        return self.readout(pooled / counts[:, None])

    def _check(self, pos: torch.Tensor, mask: torch.Tensor, species: Any):
        d = self.vector.dim
        if pos.dim() != 3 or pos.shape[-1] != d:
            raise ValueError(
                f"pos must be (B, N, {d}) points in {self.vector}, got {tuple(pos.shape)}"
            )
        if mask.shape != pos.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool of shape {tuple(pos.shape[:2])}, got "
                             f"{mask.dtype} {tuple(mask.shape)}")  # fmt: skip
        if not mask.any(dim=1).all():
            empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
            raise ValueError(f"clouds {empty[:10]} have no valid points")
        if torch.isnan(pos[mask]).any():
            raise ValueError("pos contains NaN at valid (unmasked) points")
        if species is None:
            species = torch.zeros(pos.shape[:2], dtype=torch.long, device=pos.device)
        return pos, mask, species

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.group}, vector {c.vector}, correlation {c.correlation}"
