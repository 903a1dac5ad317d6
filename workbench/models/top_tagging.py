r"""Top-tagging classifiers on jet constituents: a Lorentz-invariant MACE and its baselines.

Every model reads a padded batch of jets, four-momenta ``p4`` (B, N, 4) = (E, px, py, pz) in
GeV with a boolean ``mask`` (B, N) (True for real constituents; None: all real), and returns
one logit per jet (B,) (top = 1, QCD = 0; train with ``BCEWithLogitsLoss``). All are exactly
invariant (up to round-off) to permutations of the constituents and to masked padding, whatever
its values (padding is zeroed first and is never a neighbour nor pooled).

- :class:`LorentzMACETagger`: MACE (Batatia et al., arXiv 2206.07697) for the Lorentz group
  SO(1,3)^+ as in lie-nn (arXiv 2306.00091) on the four-momenta; exactly Lorentz-invariant.
- :class:`ParticleFlowNetwork`: Deep Sets, :math:`F(\sum_i \Phi(x_i))` (Komiske, Metodiev &
  Thaler, arXiv 1810.05165).
- :class:`ParticleNet`: EdgeConv blocks on kNN graphs, the first in :math:`(\Delta\eta,
  \Delta\phi)` (Qu & Gouskos, arXiv 1902.08570).
- :func:`jet_mass` and :func:`mass_window_score`: the physicist's baseline, a window around
  the top mass.

PFN and ParticleNet read the per-particle :func:`features` (relative to the jet axis), which
are invariant under rotations about the beam and boosts along it only approximately
(:math:`\Delta\eta` is not exactly boost-invariant; :math:`\Delta y` would be) and change
under any other Lorentz transformation; the MACE is invariant under all of them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from workbench.data import kinematics
from workbench.groups import Lorentz
from workbench.models.baselines import _head, _mlp
from workbench.models.mace import MACE, MACEConfig

__all__ = [
    "FEATURE_NAMES",
    "TOP_MASS",
    "LorentzMACETagger",
    "LorentzMACETaggerConfig",
    "PFNConfig",
    "ParticleFlowNetwork",
    "ParticleNet",
    "ParticleNetConfig",
    "features",
    "jet_mass",
    "jet_momentum",
    "mass_window_score",
]

#: Top-quark mass in GeV (PDG 2024: 172.6 +- 0.3; 173 is the usual round value).
TOP_MASS = 173.0

#: Columns of :func:`features`, as the ParticleNet paper's top-tagging inputs (its Table 2).
FEATURE_NAMES = (
    "delta_eta",
    "delta_phi",
    "log_pt",
    "log_e",
    "log_pt_rel",
    "log_e_rel",
    "delta_r",
)

# --- jets ------------------------------------------------------------------------------------


def _check_jets(p4: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated jets with the padding zeroed (so garbage, even NaN, there never reaches a
    value or a gradient), and the mask (all True if None)."""
    if not isinstance(p4, torch.Tensor) or not p4.is_floating_point():
        kind = f"tensor of dtype {p4.dtype}" if isinstance(p4, torch.Tensor) else type(p4).__name__
        raise TypeError(f"p4 must be a floating torch tensor (E, px, py, pz) in GeV, got {kind}")
    if p4.ndim != 3 or p4.shape[-1] != 4:
        raise ValueError(
            f"p4 must have shape (batch, n_constituents, 4) = (E, px, py, pz), got "
            f"{tuple(p4.shape)}"
        )
    if mask is None:
        mask = torch.ones(p4.shape[:2], dtype=torch.bool, device=p4.device)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        kind = f"tensor of dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask)
        raise TypeError(f"mask must be a bool torch tensor, got {kind}")
    if mask.shape != p4.shape[:2]:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)} but p4 {tuple(p4.shape)} needs "
            f"(batch, n_constituents) = {tuple(p4.shape[:2])}"
        )
    empty = (~mask.any(dim=1)).nonzero().flatten()
    if len(empty):
        raise ValueError(f"jets {empty[:10].tolist()} of the batch have no constituent")
    bad = (~torch.isfinite(p4).all(dim=-1) & mask).nonzero()
    if len(bad):
        raise ValueError(
            f"p4 has non-finite values at valid constituents (jet, constituent) {bad[:5].tolist()}"
        )
    return torch.where(mask[..., None], p4, 0.0), mask


def jet_momentum(p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The jet four-momentum, the sum of its valid constituents: (B, N, 4) -> (B, 4)."""
    p4, _ = _check_jets(p4, mask)
    return p4.sum(dim=1)


def jet_mass(p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Jet mass :math:`\sqrt{\max((\sum_i p_i)^2, 0)}` in GeV: (B, N, 4) -> (B,).

    Summed and squared in float64 (the square cancels :math:`E^2 - |\vec p|^2` of a 600 GeV
    jet to a few GeV), returned in the dtype of ``p4``."""
    p4, mask = _check_jets(p4, mask)
    return kinematics.mass(p4.double().sum(dim=1)).to(p4.dtype)


def mass_window_score(
    p4: torch.Tensor, mask: torch.Tensor | None = None, target: float = TOP_MASS
) -> torch.Tensor:
    r"""The mass-cut tagger as a score: :math:`-|m_J - m_t|` (B,).

    The cut ``score > -w`` is the window :math:`|m_J - m_t| < w`; scanning w traces the
    tagger's ROC curve, and :func:`workbench.metrics.best_threshold` on training jets picks
    the window for the accuracy. The window is centred on ``target`` (the top mass) by
    physics, not fitted; a one-sided cut :math:`m_J > m_0` (score :math:`m_J`) is weaker
    because the QCD mass tail is wide and falls slowly, while top jets peak at 173 GeV.
    """
    return -(jet_mass(p4, mask) - target).abs()


def features(p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Per-particle inputs of PFN and ParticleNet, relative to the jet axis: (B, N, 7).

    Columns (:data:`FEATURE_NAMES`), as the top-tagging inputs of ParticleNet
    (arXiv 1902.08570, Table 2), with J the jet (sum of the valid constituents):

    .. math:: \Delta\eta = \eta_i - \eta_J,\ \Delta\phi = \phi_i - \phi_J \in (-\pi, \pi],\
              \log p_{T,i},\ \log E_i,\ \log\frac{p_{T,i}}{p_{T,J}},\
              \log\frac{E_i}{E_J},\ \Delta R = \sqrt{\Delta\eta^2 + \Delta\phi^2}

    (GeV inside the logs). Padded rows are 0 (no log(0): the logs only see valid
    constituents). Valid constituents need :math:`p_T > 0` and :math:`E > 0`, else
    ValueError.
    """
    return _features(p4, mask)[0]


def _features(p4: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`features` and the validated mask."""
    p4, mask = _check_jets(p4, mask)
    jet = p4.sum(dim=1, keepdim=True)
    pt, energy = kinematics.pt(p4), p4[..., 0]
    bad = mask & ~((pt > 0) & (energy > 0))
    if bad.any():
        raise ValueError(
            f"constituents (jet, index) {bad.nonzero()[:5].tolist()} have pT <= 0 or E <= 0: "
            f"features need real particles off the beam axis"
        )
    one = torch.ones_like(pt)
    pt, energy = torch.where(mask, pt, one), torch.where(mask, energy, one)
    eta = torch.asinh(p4[..., 3] / pt)
    d_eta = eta - kinematics.eta(jet)
    d_phi = torch.remainder(kinematics.phi(p4) - kinematics.phi(jet) + math.pi, 2 * math.pi)
    d_phi = d_phi - math.pi
    out = torch.stack(
        [
            d_eta,
            d_phi,
            pt.log(),
            energy.log(),
            (pt / kinematics.pt(jet)).log(),
            (energy / jet[..., 0]).log(),
            torch.hypot(d_eta, d_phi),
        ],
        dim=-1,
    )
    return torch.where(mask[..., None], out, 0.0), mask


def _check_widths(name: str, widths: object) -> None:
    if not isinstance(widths, tuple) or not widths:
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {widths!r}")
    if not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {widths!r}")


# --- Lorentz MACE -----------------------------------------------------------------------------

_NORMALIZATIONS = ("fixed", "jet_mass")


@dataclass(frozen=True)
class LorentzMACETaggerConfig:
    """Sizes of :class:`LorentzMACETagger` (defaults: the quick size, 3.2k parameters).

    Attributes:
        channels, correlation, num_interactions, edge_irreps, hidden_irreps, num_basis,
            radial_hidden, readout_hidden: those of :class:`workbench.models.mace.MACEConfig`
            (irreps of SO(1,3) in lie-nn notation: ``"(1,1)"`` is the four-vector).
        avg_num_neighbors: the normalisation of the message sum, about the number of
            constituents (every node is connected to all others).
        normalization: ``"fixed"`` divides every four-momentum by ``scale`` GeV;
            ``"jet_mass"`` by the jet mass (then P^2 = 1 and the jet mass, log(m_J / scale),
            is given to the head instead). Both are Lorentz-invariant operations; dividing by
            the jet energy would not be (see the class docstring).
        scale: GeV; the unit of the momenta (``"fixed"``) and of the mass fed to the head.
        min_mass: GeV; with ``"jet_mass"``, jets lighter than this (one massless
            constituent: m_J = 0) are divided by it instead.
        include_beams: add the two beam directions as extra points: then the model is only
            invariant under rotations about the beam (z) axis and boosts along it.
    """

    channels: int = 8
    correlation: int = 2
    num_interactions: int = 2
    edge_irreps: str = "(0,0) + (1,1)"
    hidden_irreps: str = "(0,0) + (1,1)"
    num_basis: int = 8
    radial_hidden: tuple[int, ...] = (16,)
    readout_hidden: int = 16
    avg_num_neighbors: float = 32.0
    normalization: str = "fixed"
    scale: float = 100.0
    min_mass: float = 1.0
    include_beams: bool = False

    def __post_init__(self) -> None:
        if self.normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {_NORMALIZATIONS}, got {self.normalization!r}"
            )
        for name in ("scale", "min_mass", "avg_num_neighbors"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        _check_widths("radial_hidden", self.radial_hidden)


# species of the points: constituents, the origin, the jet, the beams
_CONSTITUENT, _ORIGIN, _JET, _BEAM = range(4)


class LorentzMACETagger(nn.Module):
    r"""MACE for SO(1,3)^+ on jet constituents: ``model(p4, mask) -> logits (B,)``.

    The points of the MACE are the constituents' four-momenta in the (1/2,1/2) irrep,
    ``"(1,1)"`` in lie-nn's doubled-spin labels, which :mod:`workbench.groups.lorentz` gives
    in the Minkowski basis (E, px, py, pz) with the boost generators of
    :func:`workbench.data.kinematics.boost_matrix`: the input needs no change of basis, and
    a Lorentz matrix :math:`\Lambda` acting on p4 is the group acting on the points. Two more
    points are appended to each jet, both transforming the same way:

    - the origin 0 (an edge to it carries :math:`p_i` itself: MACE sees only differences of
      points, :math:`p_j - p_i`, and would otherwise be blind to a common shift of all
      momenta),
    - the jet momentum :math:`P = \sum_i p_i` (the edge origin-P has
      :math:`q = P^2 = m_J^2`, the mass, straight into the radial basis).

    MACE connects all pairs (non-compact group: no cutoff) and embeds the invariant
    :math:`q_{ij} = (x_i - x_j)^2` by Gaussians of :math:`\mathrm{sign}(q) \log(1 + |q|)`
    with centres in [-4, 4]; the momenta are divided by ``scale`` = 100 GeV first so that the
    jet-level invariants fall there (m_J^2 of a top jet ~ 3). The division is by a constant,
    and the alternative ``normalization="jet_mass"`` divides by :math:`m_J`, a Lorentz
    invariant, so both keep the model exactly invariant: :math:`f(\Lambda p) = f(p)`.
    Dividing by the jet energy :math:`E_J` (or :math:`p_{T,J}`) would not, as those change
    under boosts. Sums, the mass and the beams are computed in float64, then cast.

    ``include_beams``: LorentzNet and PELICAN add the beams as extra particles to break the
    symmetry to what the detector respects. With fixed beams :math:`n_\pm = (1, 0, 0, \pm 1)`
    only rotations about z would remain, because a boost along z rescales :math:`n_\pm` by
    :math:`e^{\pm y}`. Here the beams are :math:`b_\pm = n_\pm / (n_\pm \cdot P)`
    (:math:`b_\pm \cdot P = 1`), which transform like :math:`n_\pm` under rotations about and
    boosts along z, so the model stays invariant under both (and under the rotation by pi
    about x, which swaps the beams, one species), but not under other rotations or boosts.

    Numerics (measured in tests/test_top_tagging_models.py on 600 GeV toy jets, boosts of
    rapidity <= 1): float64 invariance ~1e-15 ("fixed") and ~1e-13 ("jet_mass"); float32
    ~3e-7 relative to the largest pooled invariant, per invariant channel ~1e-5 ("fixed")
    and ~5e-5 ("jet_mass": light QCD jets have E_J / m_J ~ 20, so the polynomial invariants
    of the scaled momenta cancel more). Hence "fixed" is the default.

    Input: p4 (B, N, 4) GeV, mask (B, N) bool (None: all valid). Output: logits (B,).
    The MACE runs in the complex dtype matching the parameters (SO(1,3) irreps beyond the
    four-vector are complex in lie-nn's basis; for real four-momenta the imaginary parts of
    the invariants are round-off); change precision with ``.double()`` / ``.float()``, not
    ``.to(dtype)``, which would drop the imaginary parts of complex buffers. Cost O(N^2)
    per jet: keep the leading-pT constituents in the data (a truncation the model cannot
    do itself, since the pT order is not Lorentz-invariant).
    """

    def __init__(self, config: LorentzMACETaggerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or LorentzMACETaggerConfig()
        with_mass = cfg.normalization == "jet_mass"
        self.mace = MACE(
            MACEConfig(
                n_classes=cfg.readout_hidden if with_mass else 1,
                group=Lorentz(),
                vector="(1,1)",
                edge_irreps=cfg.edge_irreps,
                hidden_irreps=cfg.hidden_irreps,
                channels=cfg.channels,
                correlation=cfg.correlation,
                num_interactions=cfg.num_interactions,
                r_max=None,
                num_basis=cfg.num_basis,
                radial_hidden=cfg.radial_hidden,
                avg_num_neighbors=cfg.avg_num_neighbors,
                readout_hidden=cfg.readout_hidden,
                n_species=4 if cfg.include_beams else 3,
            )
        )
        # the Minkowski metric is built in float64 (entries exactly +-1); keep it in the
        # lowest precision so that it promotes to the dtype of the points, complex64 included
        self.mace.form.float()
        self.head = (
            nn.Sequential(
                nn.SiLU(),
                nn.Linear(cfg.readout_hidden + 1, cfg.readout_hidden),
                nn.SiLU(),
                nn.Linear(cfg.readout_hidden, 1),
            )
            if with_mass
            else None
        )

    def points(
        self, p4: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The MACE input: points (B, N + k, 4) float64 (scaled constituents, then the origin,
        the jet and the beams), mask (B, N + k), species (B, N + k), and the jet mass (B,)
        in units of ``scale``."""
        cfg = self.config
        p, mask = _check_jets(p4, mask)
        p = p.double()
        B = p.shape[0]
        jet = p.sum(dim=1)
        mass = kinematics.mass(jet) / cfg.scale
        if cfg.normalization == "jet_mass":
            divisor = mass.clamp_min(cfg.min_mass / cfg.scale) * cfg.scale
        else:
            divisor = torch.full_like(mass, cfg.scale)
        p, jet = p / divisor[:, None, None], jet / divisor[:, None]
        extra = [torch.zeros_like(jet), jet]
        species = [_ORIGIN, _JET]
        if cfg.include_beams:
            for sign in (1.0, -1.0):
                n = p.new_tensor([1.0, 0.0, 0.0, sign])
                light_cone = kinematics.minkowski_dot(n, jet)  # E -+ pz > 0 for a real jet
                if (light_cone <= 0).any():
                    bad = (light_cone <= 0).nonzero().flatten()[:5].tolist()
                    raise ValueError(f"jets {bad} move along the beam (E = |pz|): no beams")
                extra.append(n / light_cone[:, None])
                species.append(_BEAM)
        points = torch.cat([p, torch.stack(extra, dim=1)], dim=1)
        full_mask = torch.cat([mask, mask.new_ones(B, len(extra))], dim=1)
        kinds = torch.full(full_mask.shape, _CONSTITUENT, dtype=torch.long, device=p.device)
        kinds[:, p.shape[1] :] = torch.tensor(species, device=p.device)
        return points, full_mask, kinds, mass

    def invariants(
        self, p4: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The Lorentz invariants the readout sees: the (0,0) channels of every interaction
        (real and imaginary parts), averaged over the points of each jet, (B, n_inv); and the
        jet mass in units of ``scale`` (B,)."""
        points, full_mask, species, mass = self.points(p4, mask)
        real = self.mace.embedding.weight.dtype
        complex_ = torch.complex128 if real == torch.float64 else torch.complex64
        features, cloud = self.mace.node_features(points.to(complex_), full_mask, species)
        inv = torch.cat(
            [h[:, idx] for h, idx in zip(features, self.mace._scalar_index, strict=True)], -1
        )
        inv = torch.cat([inv.real, inv.imag], dim=-1)
        pooled = inv.new_zeros(len(points), inv.shape[-1]).index_add(0, cloud, inv)
        return pooled / full_mask.sum(dim=1, keepdim=True).to(inv.dtype), mass.to(real)

    def forward(self, p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        inv, mass = self.invariants(p4, mask)
        out = self.mace.readout(inv)  # as MACE.forward: the readout MLP of the pooled invariants
        if self.head is not None:
            log_mass = torch.log(mass.clamp_min(self.config.min_mass / self.config.scale))
            out = self.head(torch.cat([out, log_mass[:, None]], dim=-1))
        return out[:, 0]


# --- Particle Flow Network ------------------------------------------------------------------


@dataclass(frozen=True)
class PFNConfig:
    """PFN sizes: per-particle Phi widths ``phi`` (the last is the latent dimension), F widths
    ``f``. The paper's top-tagging PFN: phi (100, 100, 256), f (100, 100, 100)."""

    phi: tuple[int, ...] = (64, 64, 128)
    f: tuple[int, ...] = (64, 64)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _check_widths("phi", self.phi)
        _check_widths("f", self.f)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ParticleFlowNetwork(nn.Module):
    r"""Particle Flow Network (Komiske, Metodiev & Thaler 2019, arXiv 1810.05165).

    .. math:: \mathrm{logit} = F\Big(\sum_{i\ \mathrm{valid}} \Phi(x_i)\Big)

    with :math:`x_i` the :func:`features` of particle i, Φ and F ReLU MLPs (the paper's
    top-tagging PFN reads :math:`(z_i, \Delta y_i, \Delta\phi_i)`; here the 7 ParticleNet
    features, for a like-for-like comparison). ``model(p4, mask) -> logits (B,)``.
    """

    def __init__(self, config: PFNConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PFNConfig()
        widths = (len(FEATURE_NAMES), *cfg.phi)
        self.phi = nn.Sequential(
            *itertools.chain.from_iterable(
                (nn.Linear(a, b), nn.ReLU()) for a, b in itertools.pairwise(widths)
            )
        )
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise((cfg.phi[-1], *cfg.f)):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(cfg.dropout)]
        self.f = nn.Sequential(*layers, nn.Linear(cfg.f[-1], 1))

    def forward(self, p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, mask = _features(p4, mask)
        latent = torch.where(mask[..., None], self.phi(x), 0.0).sum(dim=1)
        return self.f(latent)[:, 0]


# --- ParticleNet ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticleNetConfig:
    """ParticleNet sizes: ``k`` neighbours, one tuple of EdgeConv MLP widths per block, the
    width of the fully connected layer. The paper's ParticleNet: k 16, blocks ((64,)*3,
    (128,)*3, (256,)*3), fc 256, dropout 0.1; ParticleNet-Lite: k 7, ((32,)*3, (64,)*3),
    fc 128. Default: the Lite widths with the paper's k = 16."""

    k: int = 16
    blocks: tuple[tuple[int, ...], ...] = ((32, 32, 32), (64, 64, 64))
    fc: int = 128
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive int, got {self.k!r}")
        if not isinstance(self.blocks, tuple) or not self.blocks:
            raise ValueError(
                f"blocks must be a non-empty tuple of width tuples, got {self.blocks!r}"
            )
        for block in self.blocks:
            _check_widths("each block", block)
        if not isinstance(self.fc, int) or self.fc < 1:
            raise ValueError(f"fc must be a positive int, got {self.fc!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class _EdgeConvBlock(nn.Module):
    r"""ParticleNet's EdgeConv block: for the k nearest neighbours j of i in ``coords``,

    .. math:: x_i' = \mathrm{ReLU}\Big(S x_i + \frac{1}{k}\sum_{j} h(x_i, x_j - x_i)\Big)

    with h three Linear + norm + ReLU layers and S a Linear + norm shortcut."""

    def __init__(self, c_in: int, widths: tuple[int, ...], k: int) -> None:
        super().__init__()
        self.k = k
        self.edge_mlp = _mlp((2 * c_in, *widths), nn.ReLU)
        self.shortcut = nn.Sequential(nn.Linear(c_in, widths[-1]), nn.LayerNorm(widths[-1]))

    def forward(self, coords: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, n, _ = x.shape
        k = min(self.k, n - 1)
        if k < 1:  # one-particle jets: no neighbours
            return torch.where(mask[..., None], torch.relu(self.shortcut(x)), 0.0)
        with torch.no_grad():  # the graph is a choice of indices: no gradient through it
            dist = torch.cdist(coords, coords)
            dist = dist.masked_fill(~mask[:, None, :], float("inf"))
            dist = dist.masked_fill(torch.eye(n, dtype=torch.bool, device=x.device), float("inf"))
            dist, idx = dist.topk(k, dim=-1, largest=False)  # (B, N, k), self excluded
        ok = torch.isfinite(dist)[..., None]  # False only where fewer than k + 1 are valid
        x_j = x[torch.arange(batch, device=x.device)[:, None, None], idx]
        x_i = x[:, :, None, :].expand_as(x_j)
        h = self.edge_mlp(torch.cat([x_i, x_j - x_i], dim=-1))
        h = torch.where(ok, h, 0.0).sum(dim=2) / ok.sum(dim=2).clamp_min(1).to(h.dtype)
        return torch.where(mask[..., None], torch.relu(h + self.shortcut(x)), 0.0)


class ParticleNet(nn.Module):
    r"""ParticleNet (Qu & Gouskos 2020, arXiv 1902.08570): EdgeConv on dynamic kNN graphs.

    The first block builds the kNN graph (k = 16, self excluded) in :math:`(\Delta\eta,
    \Delta\phi)`, the next ones in the previous block's output features; each EdgeConv has
    three layers, mean aggregation and a shortcut (:class:`_EdgeConvBlock`). The last
    block's features are averaged over the valid particles, then FC + ReLU + dropout and a
    Linear give the logit. Inputs: the 7 :func:`features`. Per-particle ``LayerNorm``
    replaces the paper's BatchNorm (batch statistics would mix padding and other jets into
    each output; as :class:`workbench.models.baselines.DGCNN`). ``model(p4, mask) -> (B,)``.
    """

    def __init__(self, config: ParticleNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ParticleNetConfig()
        self.blocks = nn.ModuleList()
        c_in = len(FEATURE_NAMES)
        for widths in cfg.blocks:
            self.blocks.append(_EdgeConvBlock(c_in, widths, cfg.k))
            c_in = widths[-1]
        self.head = _head(c_in, (cfg.fc,), 1, cfg.dropout)

    def forward(self, p4: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, mask = _features(p4, mask)
        coords = x[..., :2]  # (delta eta, delta phi)
        for block in self.blocks:
            x = block(coords, x, mask)
            coords = x
        count = mask.sum(dim=1, keepdim=True).to(x.dtype)
        return self.head(x.sum(dim=1) / count)[:, 0]
