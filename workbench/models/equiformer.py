r"""Equiformer: an equivariant graph-attention Transformer for molecules (O(3)).

Liao & Smidt, "Equiformer: Equivariant Graph Attention Transformer for 3D Atomistic Graphs",
arXiv 2206.11990 (ICLR 2023). For a batch of molecules (atomic numbers z, positions x):

.. math::
    h^{(0)}_i &= E(z_i) + \frac{1}{\sqrt{\bar d}} \sum_{j \in \mathcal N(i)}
        L\big(\mathrm{DTP}_{w(e_{ij})}(c, Y_{ij})\big)
        &\text{atom + edge-degree embedding} \\
    h^{(t+1)} &= \mathrm{Block}_t(h^{(t)})
        &\text{equivariant graph attention + FFN, see workbench.nn.attention} \\
    E &= s \sum_i \varepsilon_i + n\,\varepsilon_0, \qquad
    \mu = \sum_i \big(q_i (x_i - \bar x) + m_i\big)
        &\text{readout of LN}(h^{(T)})

where :math:`\mathcal N(i)` are the atoms within ``r_max``
(:func:`workbench.nn.graph.radius_graph`), :math:`Y_{ij}` the spherical harmonics of
:math:`x_j - x_i`, :math:`e_{ij}` a learnable Gaussian basis of :math:`|x_j - x_i|`, and
:math:`\varepsilon_i, q_i` an MLP of the invariant features of atom i.

Dipole head (not in the paper, which predicts |mu| of QM9 as a scalar): the dipole vector is
the sum of point-charge dipoles of invariant per-atom charges :math:`q_i` about the centroid
:math:`\bar x` (made to sum to zero per molecule when ``neutral_charges``, then the origin is
irrelevant) and of per-atom dipoles :math:`m_i`, a linear map of the atom's ``1o`` features.
Both terms rotate and reflect as a polar vector: :math:`\mu(Rx + t) = R \mu(x)` for every
:math:`R \in O(3)` (det -1 included), so the node irreps must contain ``1o``.

Configurations (``CONFIGS``): ``quick`` (the defaults: 2 blocks of ``16x0e+8x1o`` features
with l <= 2 harmonics, 2 heads, cutoff 5 Å, 8 Gaussians; about 0.1 s for a forward and
backward pass over 32 QM9-sized molecules on one CPU thread, where ``16x0e+8x1o+4x2e``
features take about twice as long), ``full`` (the paper's QM9 model,
``graph_attention_transformer_nonlinear_l2`` of the authors' code: 6 blocks, 4 heads, l_max 2,
cutoff 5 Å, 128 Gaussians, alpha dropout 0.2) and ``full_e3`` (the paper's E(3) variant with
both parities). The paper's main QM9 model labels l = 1 as ``1e`` in both the harmonics and
the features, ignoring parity (SE(3)); with e3nn's parities the vector harmonic is ``1o``, so
``full`` uses ``128x0e+64x1o+32x2e`` (the same channels with their natural parity), which is
equivariant under reflections too.
Deviations: the last block keeps the node irreps and an MLP (width ``head_hidden``) reads
the energy and charges from the invariants, where the paper's last block outputs 512x0e;
the radial MLPs have no LayerNorm; drop path and output dropout are not implemented (the
QM9 settings set them to 0). Like the paper's, the model is not smooth at the cutoff (the
attention softmax renormalises over the neighbours within r_max).

``model(z (N,) long, pos (N, 3), batch (N,) long) -> {"energy": (B,), "dipole": (B, 3)}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from workbench.groups import O3, Irreps
from workbench.nn._util import block_starts
from workbench.nn.attention import DepthwiseLinear, EquiformerBlock, EquivariantLayerNorm
from workbench.nn.embedding import RadialMLP
from workbench.nn.graph import (
    GaussianBasis,
    charge_dipole,
    check_molecules,
    molecule_sum,
    radius_graph,
)
from workbench.nn.harmonics import EdgeHarmonics
from workbench.nn.linear import Linear

__all__ = ["CONFIGS", "Equiformer", "EquiformerConfig", "count_parameters"]

# Mean number of neighbours within 5 Å in QM9 (the authors' code, graph_attention_transformer.py).
QM9_AVG_DEGREE = 15.57930850982666


@dataclass(frozen=True)
class EquiformerConfig:
    """Equiformer hyper-parameters (O(3) irreps in e3nn notation); defaults: ``quick``.

    Attributes:
        irreps_node: irreps of the node features (must contain ``0e`` and ``1o``).
        irreps_sh: spherical harmonics of the edge directions (l_max = 2).
        irreps_head: irreps of the value of one attention head; its ``0e`` count is the
            number of invariants each head's MLP attention reads.
        num_heads: number of attention heads.
        irreps_mlp_mid: hidden irreps of the feed-forward networks.
        num_blocks: number of Transformer blocks.
        r_max: cutoff radius of the neighbour lists (Å).
        num_basis: number of Gaussians of the edge-length embedding.
        radial_hidden: hidden widths of the radial MLPs.
        avg_degree: the mean number of neighbours used to normalise the edge-degree embedding.
        alpha_drop: dropout on the attention weights during training.
        head_hidden: width of the per-atom MLP reading energy and charge from the invariants.
        max_z: largest atomic number (QM9: H, C, N, O, F, so 9).
        max_neighbors: cap on neighbours per atom (the nearest), None for all.
        neutral_charges: make the per-atom charges of each molecule sum to zero.
        energy_scale, energy_shift: E = energy_scale * sum_i eps_i + energy_shift * n_atoms
            (set from the training targets' spread and mean per atom).
    """

    irreps_node: str = "16x0e + 8x1o"
    irreps_sh: str = "0e + 1o + 2e"
    irreps_head: str = "8x0e + 4x1o"
    num_heads: int = 2
    irreps_mlp_mid: str = "32x0e + 16x1o"
    num_blocks: int = 2
    r_max: float = 5.0
    num_basis: int = 8
    radial_hidden: tuple[int, ...] = (32,)
    avg_degree: float = QM9_AVG_DEGREE
    alpha_drop: float = 0.0
    head_hidden: int = 32
    max_z: int = 9
    max_neighbors: int | None = None
    neutral_charges: bool = True
    energy_scale: float = 1.0
    energy_shift: float = 0.0


CONFIGS: dict[str, EquiformerConfig] = {
    "quick": EquiformerConfig(),
    "full": EquiformerConfig(
        irreps_node="128x0e + 64x1o + 32x2e",
        irreps_head="32x0e + 16x1o + 8x2e",
        num_heads=4,
        irreps_mlp_mid="384x0e + 192x1o + 96x2e",
        num_blocks=6,
        num_basis=128,
        radial_hidden=(64, 64),
        alpha_drop=0.2,
        head_hidden=512,
    ),
    "full_e3": EquiformerConfig(
        irreps_node="128x0e + 32x0o + 32x1e + 32x1o + 16x2e + 16x2o",
        irreps_head="32x0e + 8x0o + 8x1e + 8x1o + 4x2e + 4x2o",
        num_heads=4,
        irreps_mlp_mid="384x0e + 96x0o + 96x1e + 96x1o + 48x2e + 48x2o",
        num_blocks=6,
        num_basis=128,
        radial_hidden=(64, 64),
        alpha_drop=0.2,
        head_hidden=512,
    ),
}


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameter entries of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class _EdgeDegreeEmbedding(torch.nn.Module):
    """Equiformer's edge-degree embedding: (1/sqrt(d)) sum_j L(DTP_{w(e_ij)}(c, Y_ij)), with c
    a learned invariant per channel (the paper's linear layer applied to the constant 1)."""

    def __init__(self, irreps_node: Irreps, irreps_sh: Irreps, cfg: EquiformerConfig) -> None:
        super().__init__()
        g = irreps_node.group
        n_scalars = irreps_node.count(g.trivial)
        self.constant = torch.nn.Parameter(torch.ones(n_scalars))
        irreps_c = Irreps(g, ((n_scalars, g.trivial),))
        self.embed = DepthwiseLinear(
            irreps_c, irreps_sh, irreps_node, irreps_node, shared_weights=False, bias=False
        )
        self.radial = RadialMLP((cfg.num_basis, *cfg.radial_hidden, self.embed.weight_numel))
        self.scale = 1.0 / math.sqrt(cfg.avg_degree)

    def forward(self, n_nodes: int, edge_dst, edge_sh, edge_radial) -> torch.Tensor:
        c = self.constant.to(edge_sh.dtype).expand(edge_sh.shape[0], -1)
        f = self.embed(c, edge_sh, self.radial(edge_radial))
        return f.new_zeros(n_nodes, f.shape[-1]).index_add(0, edge_dst, f) * self.scale


class Equiformer(torch.nn.Module):
    """``model(z, pos, batch) -> {"energy": (B,), "dipole": (B, 3)}``; see the module docstring.

    ``node_features(z, pos, batch)`` returns the normalised node features (N, irreps_node.dim)
    that the heads read.
    """

    def __init__(self, config: EquiformerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or EquiformerConfig()
        g = O3()
        node, sh = g.Irreps(cfg.irreps_node), g.Irreps(cfg.irreps_sh)
        if node.count("0e") == 0 or node.count("1o") == 0:
            raise ValueError(
                f"irreps_node {node} needs 0e (energy, charges, attention) and 1o (the per-atom "
                "dipoles) irreps"
            )
        if cfg.num_blocks < 1 or cfg.r_max <= 0 or cfg.max_z < 1 or cfg.head_hidden < 1:
            raise ValueError(
                f"need num_blocks >= 1, r_max > 0, max_z >= 1, head_hidden >= 1; got "
                f"{cfg.num_blocks}, {cfg.r_max}, {cfg.max_z}, {cfg.head_hidden}"
            )
        self.irreps_node = node
        self.harmonics = EdgeHarmonics(g, "1o", sh)
        self.basis = GaussianBasis(cfg.r_max, cfg.num_basis, trainable=True)
        scalar_index = [
            i
            for start, (mul, ir) in zip(block_starts(node), node, strict=True)
            for i in range(start, start + mul)
            if ir == g.trivial
        ]
        self.register_buffer("scalar_index", torch.tensor(scalar_index), persistent=False)
        self.atom_embedding = torch.nn.Embedding(cfg.max_z + 1, len(scalar_index))
        self.edge_embedding = _EdgeDegreeEmbedding(node, sh, cfg)
        block_args = (node, sh, cfg.irreps_head, cfg.num_heads, cfg.irreps_mlp_mid)
        self.blocks = torch.nn.ModuleList(
            EquiformerBlock(*block_args, cfg.num_basis, cfg.radial_hidden, cfg.alpha_drop)
            for _ in range(cfg.num_blocks)
        )
        self.norm = EquivariantLayerNorm(node)
        self.head = torch.nn.Sequential(
            torch.nn.Linear(len(scalar_index), cfg.head_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.head_hidden, 2),  # (energy, charge) per atom
        )
        self.atom_dipole = Linear(node, "1x1o")

    def node_features(self, z, pos, batch) -> torch.Tensor:
        """(N, irreps_node.dim) features after the last block and the final layer norm."""
        z, pos, batch, _ = check_molecules(z, pos, batch, self.config.max_z, "Equiformer")
        self._check_dtype(pos)
        return self._features(z, pos, batch)

    def forward(self, z, pos, batch) -> dict[str, torch.Tensor]:
        z, pos, batch, n_graphs = check_molecules(z, pos, batch, self.config.max_z, "Equiformer")
        self._check_dtype(pos)
        h = self._features(z, pos, batch)
        energy_charge = self.head(h[:, self.scalar_index])
        cfg = self.config
        atom_energy = cfg.energy_scale * energy_charge[:, 0] + cfg.energy_shift
        dipole = charge_dipole(energy_charge[:, 1], pos, batch, n_graphs, cfg.neutral_charges)
        dipole = dipole + molecule_sum(self.atom_dipole(h), batch, n_graphs)
        return {"energy": molecule_sum(atom_energy, batch, n_graphs), "dipole": dipole}

    def _features(self, z, pos, batch) -> torch.Tensor:
        src, dst = radius_graph(pos, batch, self.config.r_max, self.config.max_neighbors)
        vec = pos.index_select(0, src) - pos.index_select(0, dst)
        edge_sh = self.harmonics(vec)
        edge_radial = self.basis(vec.norm(dim=-1))
        n = pos.shape[0]
        h = pos.new_zeros(n, self.irreps_node.dim)
        h[:, self.scalar_index] = self.atom_embedding(z)
        h = h + self.edge_embedding(n, dst, edge_sh, edge_radial)
        for block in self.blocks:
            h = block(h, src, dst, edge_sh, edge_radial)
        return self.norm(h)

    def _check_dtype(self, pos: torch.Tensor) -> None:
        dtype = self.atom_embedding.weight.dtype
        if pos.dtype != dtype:
            raise TypeError(
                f"Equiformer: pos is {pos.dtype} but the model's parameters are {dtype}; "
                f"convert one of them (pos.to({dtype}) or model.to({pos.dtype}))"
            )

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.irreps_node}, {c.num_blocks} blocks, {c.num_heads} heads, r_max {c.r_max}"
