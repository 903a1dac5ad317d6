r"""Spectra from structures and structures from spectra: phonon DoS and powder patterns.

**Phonon DoS network** (:class:`PhononDosNet`), the setup of Chen et al., "Direct prediction
of phonon density of states with Euclidean neural networks", Adv. Sci. 8, 2004214 (2021),
arXiv 2009.05163: an E(3)-equivariant message-passing network on the periodic graph of a
crystal (edges to every periodic image within ``r_max``, with cell shifts), atoms embedded
from their mass-weighted one-hot species. Interaction t (NequIP/e3nn gate-network style):

.. math::
    m_i &= \frac{1}{\sqrt{\bar n}} \sum_{e:\ \mathrm{dst}(e) = i} R(|\mathbf r_e|)\,
           f_\mathrm{cut}(|\mathbf r_e|)\; (W_1 h_{\mathrm{src}(e)}) \otimes Y(\hat{\mathbf r}_e),
           \qquad \mathbf r_e = \mathbf x_\mathrm{dst} - \mathbf x_\mathrm{src} + \mathbf S_e C \\
    h_i' &= \mathrm{Gate}(W_2 m_i + W_3 h_i)

(spherical harmonics Y; R an MLP on Gaussians of the length, as Chen et al., times a smooth
polynomial cutoff; channel-wise "uvu" tensor product; e3nn Gate; the 1/sqrt(n-bar)
normalisation and unit-variance initialisations of e3nn's gate network). The readout maps
the invariants (``0e``) of every interaction to logits over the energy grid, one spectrum
per atom:

.. math:: g_i(\nu_k) = \frac{\exp \ell_{ik}}{\Delta \sum_{k'} \exp \ell_{ik'}},
          \qquad g(\nu_k) = \frac{1}{n} \sum_{i=1}^{n} g_i(\nu_k),

i.e. each atom contributes a normalised projected DoS and the crystal's DoS is their mean
(physically exact: every atom carries 3 of the 3n modes, :math:`\sum_s |e_{qs}(j)|^2 = 3`).
So the prediction is non-negative with :math:`\Delta \sum_k g(\nu_k) = 1`, and invariant to
rotations and reflections of the crystal (invariant features only), origin shifts (edge
vectors are differences), atom permutations (sums over edges, mean over atoms) and the choice
of cell: a supercell has the same atoms n times over, each with the same periodic
environment, so the mean over atoms is unchanged (tested to 1e-10 in float64).

**Inverse model** (:class:`DiffractionCNN`): a 1-D CNN from powder patterns (X-ray and
neutron as channels, (B, C, n_points) on the 2θ grid) to structure parameters (the volume
per atom, or the lattice parameters a, b, c in Å and α, β, γ in degrees of the conventional
standard cell), trained on targets standardised by :meth:`DiffractionCNN.set_target_scale`;
or, with ``output="fractions"``, to the composition: a softmax over the elements,

.. math:: \hat x_e = \frac{\exp \ell_e}{\sum_{e'} \exp \ell_{e'}}, \qquad
          L = -\sum_e x_e \log \hat x_e \;(= \mathrm{KL}(x \| \hat x) + H(x)),

non-negative fractions summing to 1, trained with the cross-entropy L against the true atom
fractions x (X-ray form factors scale with the electron count and peak positions with the
lattice spacing, so the patterns carry the chemistry).

**Baselines**: :class:`MeanSpectrum` (the mean training spectrum for every crystal) and
:class:`CompositionMLP` (element fractions -> spectrum with the same softmax output, so it
knows the chemistry but not the structure).

Interface: every model is called on a batch of
:func:`workbench.data.scattering.collate_crystals` (a dict of tensors: ``z``, ``pos``,
``cell``, ``batch``, ``edge_src``, ``edge_dst``, ``cell_shift``, ``composition``, ``xrd``,
``nd``, ...) and returns (B, n_bins) spectra (1/THz, unit area on the grid) or
(B, n_outputs) structure parameters. :func:`crystal_batch` builds such a batch from
(z, pos, cell) arrays and :meth:`PhononDosNet.predict` gives one crystal's spectrum as a
numpy array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet

from workbench.data.crystals import edge_vectors, periodic_neighbors
from workbench.groups import O3, Irreps
from workbench.nn import ChannelwiseTensorProduct, EdgeHarmonics, Gate, Linear, PolynomialCutoff
from workbench.nn._util import block_starts

__all__ = [
    "EMT_NUMBERS",
    "CompositionMLP",
    "CompositionMLPConfig",
    "DiffractionCNN",
    "DiffractionCNNConfig",
    "MeanSpectrum",
    "PhononDosNet",
    "PhononDosNetConfig",
    "crystal_batch",
]

#: atomic numbers of the EMT metals (Al, Ni, Cu, Pd, Ag, Pt, Au), the default species
EMT_NUMBERS = (13, 28, 29, 46, 47, 78, 79)


def _positive_int(name: str, key: str, value: Any) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name}.{key}={value!r}: expected an int >= 1")


def _positive(name: str, key: str, value: Any) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        raise ValueError(f"{name}.{key}={value!r}: expected a number > 0")


def _atomic_masses() -> np.ndarray:
    try:
        from ase.data import atomic_masses
    except ImportError as err:
        raise ImportError(
            "ase is needed for the atomic masses: pip install 'equivariant-workbench[scattering]'"
        ) from err
    return atomic_masses


def _grid_step(n_bins: int, max_frequency: float) -> float:
    return max_frequency / (n_bins - 1)


def _normalised(logits: torch.Tensor, step: float) -> torch.Tensor:
    """softmax over the last axis divided by the grid step: non-negative, Δ sum = 1."""
    return torch.softmax(logits, dim=-1) / step


# ----------------------------------------------------------------------------- DoS network


@dataclass(frozen=True)
class PhononDosNetConfig:
    """Hyper-parameters of :class:`PhononDosNet` (module docstring); defaults: quick size.

    ``n_bins`` points from 0 to ``max_frequency`` THz (the data's
    ``PhononConfig.frequencies``); ``species``: the atomic numbers it accepts;
    ``hidden_irreps`` per channel (O(3), e3nn notation), ``edge_irreps`` the spherical
    harmonics of the edge directions; ``r_max`` in Å; ``avg_num_neighbors`` the
    normalisation n-bar (set it to the training set's mean edges per atom).
    """

    n_bins: int = 51
    max_frequency: float = 15.0
    species: tuple[int, ...] = EMT_NUMBERS
    channels: int = 16
    hidden_irreps: str = "0e + 1o + 2e"
    edge_irreps: str = "0e + 1o + 2e"
    num_interactions: int = 2
    r_max: float = 4.5
    num_basis: int = 8
    radial_hidden: tuple[int, ...] = (32,)
    avg_num_neighbors: float = 30.0
    readout_hidden: int = 64

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("channels", "num_interactions", "num_basis", "readout_hidden"):
            _positive_int(name, key, getattr(self, key))
        if not (isinstance(self.n_bins, int) and self.n_bins >= 2):
            raise ValueError(f"{name}.n_bins={self.n_bins!r}: expected an int >= 2")
        for key in ("max_frequency", "r_max", "avg_num_neighbors"):
            _positive(name, key, getattr(self, key))
        species = tuple(self.species)
        if (
            not species
            or len(set(species)) != len(species)
            or not all(isinstance(z, int) and 1 <= z <= 118 for z in species)
        ):
            raise ValueError(f"{name}.species={self.species!r}: expected distinct atomic numbers")
        object.__setattr__(self, "species", species)


class _Interaction(torch.nn.Module):
    """h (N, irreps_h) -> Gate(W2 m + W3 h) (N, hidden), m the convolution over edges."""

    def __init__(self, cfg: PhononDosNetConfig, irreps_h: Irreps):
        super().__init__()
        g = O3()
        c = cfg.channels
        hidden = g.Irreps(cfg.hidden_irreps)
        scalars = [(c, ir) for _, ir in hidden if ir == g.trivial]
        gated = [(c, ir) for _, ir in hidden if ir != g.trivial]
        if not scalars:
            raise ValueError(f"hidden_irreps {hidden} needs 0e: the readout reads invariants")
        n_gated = sum(m for m, _ in gated)
        silu, sigmoid = torch.nn.functional.silu, torch.sigmoid
        gates = Irreps(g, ((n_gated, g.trivial),) if gated else ())
        self.gate = Gate(
            Irreps(g, tuple(scalars)), [silu], gates, [sigmoid] * len(gates),
            Irreps(g, tuple(gated)),
        )  # fmt: skip
        edge = g.Irreps(cfg.edge_irreps)
        self.linear_up = Linear(irreps_h, irreps_h)
        self.tp = ChannelwiseTensorProduct(irreps_h, edge, self.gate.irreps_in)
        self.radial = FullyConnectedNet(
            [cfg.num_basis, *cfg.radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
        )
        self.linear_message = Linear(self.tp.irreps_out, self.gate.irreps_in)
        self.linear_self = Linear(irreps_h, self.gate.irreps_in)
        self.irreps_out = self.gate.irreps_out
        self.inv_neighbors = cfg.avg_num_neighbors**-0.5

    def forward(self, h, edge_src, edge_dst, edge_y, edge_radial):
        messages = self.tp(self.linear_up(h)[edge_src], edge_y, self.radial(edge_radial))
        m = torch.zeros(h.shape[0], messages.shape[-1], dtype=messages.dtype, device=h.device)
        m = m.index_add(0, edge_dst, messages) * self.inv_neighbors
        return self.gate(self.linear_message(m) + self.linear_self(h))


class PhononDosNet(torch.nn.Module):
    """``model(batch) -> (B, n_bins)`` phonon DoS (1/THz, unit area) of each crystal.

    ``batch``: a dict from :func:`crystal_batch` or
    :func:`workbench.data.scattering.collate_crystals` with ``z`` (N,) atomic numbers,
    ``pos`` (N, 3) Å, ``cell`` (B, 3, 3) row lattice vectors, ``batch`` (N,) crystal of each
    atom, and periodic edges ``edge_src``, ``edge_dst`` (E,) and ``cell_shift`` (E, 3)
    within ``r_max`` (the data set's ``r_max`` must be >= the model's; longer edges are
    ignored). :meth:`atom_spectra` gives the per-atom spectra g_i (N, n_bins).
    """

    def __init__(self, config: PhononDosNetConfig = PhononDosNetConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        g = O3()
        self.step = _grid_step(cfg.n_bins, cfg.max_frequency)
        atomic_masses = _atomic_masses()
        lookup = torch.full((119,), -1, dtype=torch.long)
        lookup[list(cfg.species)] = torch.arange(len(cfg.species))
        self.register_buffer("species_index", lookup, persistent=False)
        masses = torch.tensor([float(atomic_masses[z]) for z in cfg.species]) / 100.0
        self.register_buffer("masses", masses.to(torch.get_default_dtype()), persistent=False)
        self.embedding = torch.nn.Linear(len(cfg.species), cfg.channels, bias=False)
        torch.nn.init.normal_(self.embedding.weight)  # unit-variance features, as e3nn
        self.harmonics = EdgeHarmonics(g, "1o", cfg.edge_irreps)
        self.cutoff = PolynomialCutoff(cfg.r_max)
        irreps_h = Irreps(g, ((cfg.channels, g.trivial),))
        self.interactions = torch.nn.ModuleList()
        self._scalars: list[torch.Tensor] = []
        for _ in range(cfg.num_interactions):
            block = _Interaction(cfg, irreps_h)
            self.interactions.append(block)
            irreps_h = block.irreps_out
            starts = block_starts(irreps_h)
            self._scalars.append(
                torch.cat(
                    [
                        torch.arange(s, s + mul)
                        for s, (mul, ir) in zip(starts, irreps_h, strict=True)
                        if ir == g.trivial
                    ]
                )
            )
        n_inv = sum(len(i) for i in self._scalars)
        self.readout = torch.nn.Sequential(
            torch.nn.Linear(n_inv, cfg.readout_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.readout_hidden, cfg.readout_hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.readout_hidden, cfg.n_bins),
        )

    def radial_basis(self, r: torch.Tensor) -> torch.Tensor:
        """(E,) lengths -> (E, num_basis): Gaussians on [0, r_max] (unit second moment, as
        Chen et al.) times the smooth polynomial cutoff, so edges fade out at r_max."""
        n = self.config.num_basis
        basis = soft_one_hot_linspace(r, 0.0, self.config.r_max, n, "gaussian", cutoff=False)
        return basis * n**0.5 * self.cutoff(r).unsqueeze(-1)

    def _species(self, z: torch.Tensor) -> torch.Tensor:
        if z.dtype not in (torch.int32, torch.int64) or z.dim() != 1:
            raise ValueError(f"z must be (N,) integer atomic numbers, got {z.dtype} {z.shape}")
        index = self.species_index[z.clamp(0, 118)]
        bad = (index < 0) | (z < 0) | (z > 118)
        if bad.any():
            raise ValueError(
                f"atomic numbers {sorted(set(z[bad].tolist()))} are not among the model's "
                f"species {self.config.species}"
            )
        return index

    def atom_spectra(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(N, n_bins) the normalised per-atom spectra g_i."""
        z, pos = batch["z"], batch["pos"]
        atoms = batch.get("batch")
        if atoms is None:
            atoms = torch.zeros(len(z), dtype=torch.long, device=pos.device)
        cell = batch["cell"]
        if cell.dim() == 2:
            cell = cell.unsqueeze(0)
        src, dst, shift = batch["edge_src"], batch["edge_dst"], batch["cell_shift"]
        vectors = edge_vectors(pos, cell.to(pos.dtype), src, dst, shift, atoms)
        r = vectors.norm(dim=-1)
        keep = r < self.config.r_max
        if not keep.all():
            src, dst, vectors, r = src[keep], dst[keep], vectors[keep], r[keep]
        y = self.harmonics(vectors)
        radial = self.radial_basis(r)
        onehot = torch.nn.functional.one_hot(self._species(z), len(self.config.species))
        h = self.embedding(onehot.to(pos.dtype) * self.masses.to(pos.dtype))
        invariants = []
        for block, index in zip(self.interactions, self._scalars, strict=True):
            h = block(h, src, dst, y, radial)
            invariants.append(h[:, index.to(h.device)])
        return _normalised(self.readout(torch.cat(invariants, dim=-1)), self.step)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        per_atom = self.atom_spectra(batch)
        atoms = batch.get("batch")
        if atoms is None:
            return per_atom.mean(0, keepdim=True)
        n = int(batch["cell"].shape[0]) if batch["cell"].dim() == 3 else 1
        total = per_atom.new_zeros(n, per_atom.shape[-1]).index_add(0, atoms, per_atom)
        counts = torch.bincount(atoms, minlength=n).clamp_min(1).to(per_atom.dtype)
        return total / counts[:, None]

    @torch.no_grad()
    def predict(self, z: Any, pos: Any, cell: Any) -> np.ndarray:
        """(n_bins,) the DoS of one crystal given as arrays (z (n,), pos (n, 3), cell (3, 3))."""
        parameter = next(self.parameters())
        batch = crystal_batch(
            [(z, pos, cell)], self.config.r_max, dtype=parameter.dtype, device=parameter.device
        )
        was_training = self.training
        self.eval()
        try:
            return self(batch)[0].cpu().numpy()
        finally:
            self.train(was_training)


def crystal_batch(
    structures: Sequence[tuple[Any, Any, Any]],
    r_max: float,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """A batch dict (the keys of ``collate_crystals``' structure part) of crystals given as
    (z (n,), pos (n, 3) Å, cell (3, 3)) arrays, with periodic edges within ``r_max`` Å."""
    zs, positions, cells, atoms, srcs, dsts, shifts = [], [], [], [], [], [], []
    start = 0
    for b, (z, pos, cell) in enumerate(structures):
        z = np.asarray(z, dtype=np.int64)
        pos = np.asarray(pos, dtype=np.float64)
        cell = np.asarray(cell, dtype=np.float64)
        if z.ndim != 1 or pos.shape != (len(z), 3) or cell.shape != (3, 3):
            raise ValueError(
                f"crystal_batch: structure {b} needs z (n,), pos (n, 3), cell (3, 3); got "
                f"{z.shape}, {pos.shape}, {cell.shape}"
            )
        src, dst, shift, _ = periodic_neighbors(pos, cell, True, r_max)
        zs.append(z)
        positions.append(pos)
        cells.append(cell)
        atoms.append(np.full(len(z), b))
        srcs.append(src + start)
        dsts.append(dst + start)
        shifts.append(shift)
        start += len(z)
    if not zs:
        raise ValueError("crystal_batch: no structures")

    def cat(parts, kind):
        return torch.as_tensor(np.concatenate(parts), dtype=kind, device=device)

    return {
        "z": cat(zs, torch.long),
        "pos": cat(positions, dtype),
        "cell": torch.as_tensor(np.stack(cells), dtype=dtype, device=device),
        "batch": cat(atoms, torch.long),
        "n_atoms": torch.tensor([len(z) for z in zs], device=device),
        "edge_src": cat(srcs, torch.long),
        "edge_dst": cat(dsts, torch.long),
        "cell_shift": cat(shifts, torch.long),
    }


# ----------------------------------------------------------------------------- baselines


class MeanSpectrum(torch.nn.Module):
    """``model(batch) -> (B, n_bins)``: the mean training spectrum for every crystal."""

    def __init__(self, mean: Any) -> None:
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.get_default_dtype())
        if mean.dim() != 1 or not torch.isfinite(mean).all() or (mean < 0).any():
            raise ValueError(f"MeanSpectrum: mean must be a finite (n_bins,) >= 0, got {mean}")
        self.register_buffer("mean", mean)

    @classmethod
    def fit(cls, spectra: Any) -> MeanSpectrum:
        """From training spectra (n, n_bins)."""
        spectra = torch.as_tensor(np.asarray(spectra), dtype=torch.get_default_dtype())
        if spectra.dim() != 2 or len(spectra) == 0:
            raise ValueError(f"MeanSpectrum.fit: expected (n, n_bins) spectra, got {spectra.shape}")
        return cls(spectra.mean(0))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        n = batch["cell"].shape[0] if batch["cell"].dim() == 3 else 1
        return self.mean.expand(n, -1)


@dataclass(frozen=True)
class CompositionMLPConfig:
    """Element fractions (n_elements,) -> spectrum (n_bins,) through an MLP with SiLU and
    the softmax output of :class:`PhononDosNet`."""

    n_elements: int = 7
    n_bins: int = 51
    max_frequency: float = 15.0
    hidden: tuple[int, ...] = (64, 64)

    def __post_init__(self) -> None:
        name = type(self).__name__
        _positive_int(name, "n_elements", self.n_elements)
        if not (isinstance(self.n_bins, int) and self.n_bins >= 2):
            raise ValueError(f"{name}.n_bins={self.n_bins!r}: expected an int >= 2")
        _positive(name, "max_frequency", self.max_frequency)
        for width in self.hidden:
            _positive_int(name, "hidden", width)


class CompositionMLP(torch.nn.Module):
    """``model(batch) -> (B, n_bins)`` from ``batch["composition"]`` (B, n_elements) alone."""

    def __init__(self, config: CompositionMLPConfig = CompositionMLPConfig()) -> None:
        super().__init__()
        self.config = config
        self.step = _grid_step(config.n_bins, config.max_frequency)
        sizes = (config.n_elements, *config.hidden, config.n_bins)
        layers: list[torch.nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(torch.nn.SiLU())
        self.mlp = torch.nn.Sequential(*layers)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        x = batch["composition"]
        if x.dim() != 2 or x.shape[-1] != self.config.n_elements:
            raise ValueError(
                f"composition must be (B, {self.config.n_elements}), got {tuple(x.shape)}"
            )
        return _normalised(self.mlp(x), self.step)


# ----------------------------------------------------------------------------- inverse model


@dataclass(frozen=True)
class DiffractionCNNConfig:
    """1-D CNN: ``inputs`` patterns (keys of the batch, each (B, n_points)) as channels ->
    conv (kernel ``kernel_size``, SiLU, max-pool ``pool``) per entry of ``conv_channels`` ->
    MLP (``hidden``) -> ``n_outputs`` (6 lattice parameters, 1 volume per atom, ...).

    ``output``: ``"values"`` (real numbers, standardised by
    :meth:`DiffractionCNN.set_target_scale`) or ``"fractions"`` (a softmax over the
    ``n_outputs`` entries, e.g. element fractions: non-negative, summing to 1)."""

    n_points: int = 401
    inputs: tuple[str, ...] = ("xrd", "nd")
    n_outputs: int = 6
    conv_channels: tuple[int, ...] = (16, 32, 64)
    kernel_size: int = 9
    pool: int = 4
    hidden: int = 128
    output: str = "values"

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.output not in ("values", "fractions"):
            raise ValueError(f"{name}.output={self.output!r}: expected 'values' or 'fractions'")
        for key in ("n_points", "n_outputs", "kernel_size", "pool", "hidden"):
            _positive_int(name, key, getattr(self, key))
        if isinstance(self.inputs, str) or not self.inputs:
            raise ValueError(f"{name}.inputs={self.inputs!r}: expected a tuple of batch keys")
        for width in self.conv_channels:
            _positive_int(name, "conv_channels", width)
        if self.n_points // self.pool ** len(self.conv_channels) < 1:
            raise ValueError(
                f"{name}: {len(self.conv_channels)} poolings by {self.pool} leave nothing of "
                f"{self.n_points} points"
            )


class DiffractionCNN(torch.nn.Module):
    """``model(batch) -> (B, n_outputs)`` structure parameters from powder patterns.

    ``output="values"``: the network predicts standardised targets; ``target_mean`` and
    ``target_std`` (buffers, set by :meth:`set_target_scale` from the training targets) map
    them back to physical units. ``output="fractions"``: ``model(batch)`` is the softmax of
    the network's output (fractions, each row summing to 1); :meth:`log_fractions` gives
    their logarithm for a cross-entropy loss. :meth:`standardised` returns the raw
    (B, n_outputs) output (standardised values, or the logits of the fractions).
    """

    def __init__(self, config: DiffractionCNNConfig = DiffractionCNNConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        layers: list[torch.nn.Module] = []
        width, length = len(cfg.inputs), cfg.n_points
        for out in cfg.conv_channels:
            layers += [
                torch.nn.Conv1d(width, out, cfg.kernel_size, padding=cfg.kernel_size // 2),
                torch.nn.SiLU(),
                torch.nn.MaxPool1d(cfg.pool),
            ]
            width, length = out, length // cfg.pool
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(width * length, cfg.hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(cfg.hidden, cfg.n_outputs),
        )
        self.register_buffer("target_mean", torch.zeros(cfg.n_outputs))
        self.register_buffer("target_std", torch.ones(cfg.n_outputs))

    def set_target_scale(self, targets: Any) -> None:
        """Standardise with the mean and std (floored at 1e-6) of training targets (n, k)."""
        if self.config.output != "values":
            raise ValueError(
                f"set_target_scale: output={self.config.output!r} predicts a softmax and takes "
                "no target scale (only output='values' does)"
            )
        t = torch.as_tensor(np.asarray(targets), dtype=self.target_mean.dtype)
        if t.dim() != 2 or t.shape[1] != self.config.n_outputs or len(t) < 2:
            raise ValueError(
                f"set_target_scale: expected (n >= 2, {self.config.n_outputs}) targets, "
                f"got {tuple(t.shape)}"
            )
        self.target_mean.copy_(t.mean(0))
        self.target_std.copy_(t.std(0).clamp_min(1e-6))

    def standardised(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = [batch[key] for key in self.config.inputs]
        for key, x in zip(self.config.inputs, parts, strict=True):
            if x.dim() != 2 or x.shape[-1] != self.config.n_points:
                raise ValueError(
                    f"batch[{key!r}] must be (B, {self.config.n_points}), got {tuple(x.shape)}"
                )
        return self.head(self.features(torch.stack(parts, dim=1)))

    def log_fractions(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, n_outputs) log-softmax of the output (``output="fractions"`` only)."""
        if self.config.output != "fractions":
            raise ValueError(
                f"log_fractions: output={self.config.output!r}; only output='fractions' "
                "predicts fractions"
            )
        return torch.log_softmax(self.standardised(batch), dim=-1)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self.config.output == "fractions":
            return torch.softmax(self.standardised(batch), dim=-1)
        return self.standardised(batch) * self.target_std + self.target_mean
