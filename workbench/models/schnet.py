r"""SchNet: the invariant, distance-based baseline for molecules.

Schütt et al., "SchNet: A continuous-filter convolutional neural network for modeling quantum
interactions", arXiv 1706.08566 (NeurIPS 2017); the cosine cutoff and neighbour lists of the
follow-up, arXiv 1712.06113. Atoms are embedded by atomic number, :math:`x^{(0)}_i = a_{z_i}`,
and each of T interaction blocks adds

.. math::
    x_i &\leftarrow x_i + \mathrm{Dense}\big(\mathrm{ssp}(\mathrm{Dense}(
        \textstyle\sum_{j \in \mathcal N(i)} W_1 x_j \odot w(r_{ij}) ))\big), \\
    w(r) &= f_\mathrm{cut}(r)\, \mathrm{Dense}(\mathrm{ssp}(\mathrm{Dense}(e(r))))
        &\text{continuous filter}

with :math:`e_k(r) = \exp(-\gamma (r - \mu_k)^2)` Gaussians on [0, r_max],
:math:`f_\mathrm{cut}` the cosine cutoff and ssp(x) = ln(e^x / 2 + 1/2) the shifted softplus.
An atom-wise MLP reads a per-atom energy :math:`\varepsilon_i` and charge :math:`q_i`:

.. math:: E = s \sum_i \varepsilon_i + n\,\varepsilon_0, \qquad
          \mu = \sum_i q_i (x_i - \bar x),\ \ \textstyle\sum_i q_i = 0 .

The features see only distances, so they are invariant under O(3), translations and
permutations; the only way such a network can output a vector that rotates with the molecule
is through the positions themselves, here as the dipole of invariant point charges (as
schnetpack's dipole head). That dipole is a polar vector: :math:`\mu(Rx + t) = R\mu(x)` for
R in O(3).

Configurations (``CONFIGS``): ``quick`` (the defaults) and ``full`` (128 features and filters,
6 interactions, 50 Gaussians: PyTorch Geometric's SchNet defaults for QM9; cutoff 5 Å as the
Equiformer runs instead of PyG's 10 Å).

``model(z (N,) long, pos (N, 3), batch (N,) long) -> {"energy": (B,), "dipole": (B, 3)}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from workbench.nn.graph import (
    CosineCutoff,
    GaussianBasis,
    charge_dipole,
    check_molecules,
    molecule_sum,
    radius_graph,
)

__all__ = ["CONFIGS", "SchNet", "SchNetConfig", "shifted_softplus"]


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    """ssp(x) = ln(e^x / 2 + 1/2) = softplus(x) - ln 2 (SchNet's activation; ssp(0) = 0)."""
    return F.softplus(x) - math.log(2.0)


@dataclass(frozen=True)
class SchNetConfig:
    """SchNet hyper-parameters; defaults: ``quick``.

    Attributes:
        n_features: atom-wise feature width.
        n_filters: width of the continuous filters.
        n_interactions: number of interaction blocks T.
        n_gaussians: number of Gaussians of the distance expansion.
        r_max: cutoff radius of the neighbour lists and the cosine cutoff (Å).
        max_z: largest atomic number (QM9: 9).
        max_neighbors: cap on neighbours per atom (the nearest), None for all.
        neutral_charges: make the per-atom charges of each molecule sum to zero.
        energy_scale, energy_shift: E = energy_scale * sum_i eps_i + energy_shift * n_atoms.
    """

    n_features: int = 32
    n_filters: int = 32
    n_interactions: int = 3
    n_gaussians: int = 16
    r_max: float = 5.0
    max_z: int = 9
    max_neighbors: int | None = None
    neutral_charges: bool = True
    energy_scale: float = 1.0
    energy_shift: float = 0.0


CONFIGS: dict[str, SchNetConfig] = {
    "quick": SchNetConfig(),
    "full": SchNetConfig(n_features=128, n_filters=128, n_interactions=6, n_gaussians=50),
}


class _Interaction(torch.nn.Module):
    """One interaction block: the residual update of x (N, n_features)."""

    def __init__(self, cfg: SchNetConfig) -> None:
        super().__init__()
        self.filter_1 = torch.nn.Linear(cfg.n_gaussians, cfg.n_filters)
        self.filter_2 = torch.nn.Linear(cfg.n_filters, cfg.n_filters)
        self.in_to_filter = torch.nn.Linear(cfg.n_features, cfg.n_filters, bias=False)
        self.out_1 = torch.nn.Linear(cfg.n_filters, cfg.n_features)
        self.out_2 = torch.nn.Linear(cfg.n_features, cfg.n_features)

    def forward(self, x, edge_src, edge_dst, edge_basis, edge_cutoff) -> torch.Tensor:
        w = self.filter_2(shifted_softplus(self.filter_1(edge_basis))) * edge_cutoff[:, None]
        messages = self.in_to_filter(x).index_select(0, edge_src) * w
        y = messages.new_zeros(x.shape[0], messages.shape[-1]).index_add(0, edge_dst, messages)
        return x + self.out_2(shifted_softplus(self.out_1(y)))


class SchNet(torch.nn.Module):
    """``model(z, pos, batch) -> {"energy": (B,), "dipole": (B, 3)}``; see the module docstring.

    ``node_features(z, pos, batch)`` returns the invariant atom features (N, n_features).
    """

    def __init__(self, config: SchNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SchNetConfig()
        if min(cfg.n_features, cfg.n_filters, cfg.n_interactions, cfg.max_z) < 1:
            raise ValueError(f"SchNet: sizes must be >= 1, got {cfg}")
        if cfg.r_max <= 0 or cfg.n_gaussians < 2:
            raise ValueError(
                f"SchNet: need r_max > 0 and n_gaussians >= 2, got {cfg.r_max}, {cfg.n_gaussians}"
            )
        self.embedding = torch.nn.Embedding(cfg.max_z + 1, cfg.n_features)
        self.basis = GaussianBasis(cfg.r_max, cfg.n_gaussians)
        self.cutoff = CosineCutoff(cfg.r_max)
        self.interactions = torch.nn.ModuleList(
            _Interaction(cfg) for _ in range(cfg.n_interactions)
        )
        self.head_1 = torch.nn.Linear(cfg.n_features, max(cfg.n_features // 2, 1))
        self.head_2 = torch.nn.Linear(max(cfg.n_features // 2, 1), 2)  # (energy, charge) per atom

    def node_features(self, z, pos, batch) -> torch.Tensor:
        """(N, n_features) invariant features after the last interaction."""
        z, pos, batch, _ = check_molecules(z, pos, batch, self.config.max_z, "SchNet")
        self._check_dtype(pos)
        return self._features(z, pos, batch)

    def forward(self, z, pos, batch) -> dict[str, torch.Tensor]:
        z, pos, batch, n_graphs = check_molecules(z, pos, batch, self.config.max_z, "SchNet")
        self._check_dtype(pos)
        h = self._features(z, pos, batch)
        energy_charge = self.head_2(shifted_softplus(self.head_1(h)))
        cfg = self.config
        atom_energy = cfg.energy_scale * energy_charge[:, 0] + cfg.energy_shift
        dipole = charge_dipole(energy_charge[:, 1], pos, batch, n_graphs, cfg.neutral_charges)
        return {"energy": molecule_sum(atom_energy, batch, n_graphs), "dipole": dipole}

    def _features(self, z, pos, batch) -> torch.Tensor:
        src, dst = radius_graph(pos, batch, self.config.r_max, self.config.max_neighbors)
        r = (pos.index_select(0, src) - pos.index_select(0, dst)).norm(dim=-1)
        basis, cutoff = self.basis(r), self.cutoff(r)
        h = self.embedding(z)
        for block in self.interactions:
            h = block(h, src, dst, basis, cutoff)
        return h

    def _check_dtype(self, pos: torch.Tensor) -> None:
        dtype = self.embedding.weight.dtype
        if pos.dtype != dtype:
            raise TypeError(
                f"SchNet: pos is {pos.dtype} but the model's parameters are {dtype}; convert "
                f"one of them (pos.to({dtype}) or model.to({pos.dtype}))"
            )

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.n_features} features, {c.n_interactions} interactions, r_max {c.r_max}"
