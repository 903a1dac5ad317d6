r"""Crystals with their phonon density of states and powder diffraction patterns.

Data for the scattering issue (review: Chen, Andrejevic, Drucker, ... Li, "Machine learning
on neutron and x-ray scattering and spectroscopies", arXiv 2102.03024): predict a spectrum
from a structure, or infer the structure from a measured pattern. Anchor: Chen et al.,
"Direct prediction of phonon density of states with Euclidean neural networks", Adv. Sci.
8, 2004214 (2021), arXiv 2009.05163 (1521 Materials Project DFPT structures, DoS on 51
points from 0 to 1000 cm^-1). Here everything is computed offline with ASE's EMT metals.

**Structures** (:mod:`workbench.data.crystals`): per candidate, drawn from a generator
seeded by (seed, shard, attempt): a pure metal (primitive cell) or, with probability
``alloy_fraction``, a binary substitutional alloy of two distinct elements in a small
supercell (``ALLOY_CELLS``, at most ``max_alloy_atoms`` sites; k ~ U{1..n-1} sites of the
second element, sites at random); the lattice drawn from ``lattices``. Every cell is relaxed
(atoms and cell, EMT, BFGS to ``fmax``); with probability ``strain_fraction`` it is then
strained by :math:`\varepsilon = e\,I + \varepsilon_0` with e ~ U(-max_strain, max_strain)
and, with probability ``shear_fraction``, :math:`\varepsilon_0` symmetric traceless with
entries up to ``max_shear`` (else 0: the isotropic strain keeps the space group, the shear
leaves P1 or P-1), and its atoms relaxed at the fixed strained cell. Unstrained pure metals
and small ordered alloys repeat (there are only 7 x 3 pure relaxed crystals), so by default
every crystal is strained, which makes each one distinct; crystals identical to an earlier
one (same composition, lattice, space group, energy, volume and highest frequency) are
flagged in ``duplicate`` and logged, so that they can be kept out of a validation split.

**Phonon DoS** (:func:`phonon_dos`), harmonic, from phonopy finite displacements (0.01 Å)
with EMT forces (the forces of the undisplaced supercell subtracted, force constants
symmetrised for the acoustic sum rule). Invariance by construction: the input is first
reduced to its primitive cell (spglib), the force-constant supercell is N x N x N of it
with N the smallest integer making the shortest supercell lattice vector at least
``min_supercell_length``, and the q mesh is Gamma-centred n x n x n with
n = ceil(mesh_length / V_prim^(1/3)). A uniform supercell and mesh are the same for every
basis of the lattice, so the result does not depend on the input's basis, supercell,
orientation, origin or atom order. With the mode frequencies :math:`\nu_{q s}` (THz),
mesh weights :math:`w_q` and eigenvector weights :math:`|e_{q s}(j)|^2` on atom j,

.. math:: g_X(\nu_k) \propto \sum_{q,s} w_q \sum_{j \in X} |e_{qs}(j)|^2
          \int_{\nu_k - \Delta/2}^{\nu_k + \Delta/2} \mathcal N(\nu; \nu_{qs}, \sigma^2)\,d\nu,
          \qquad g = \sum_X g_X, \quad \Delta \sum_k g(\nu_k) = 1,

on the fixed grid :math:`\nu_k = k\Delta`, k = 0..n_bins-1 (Gaussian smearing integrated
over each bin, so no weight falls between grid points): ``dos`` is the total DoS, a density
in 1/THz of unit area, ``partial_dos`` the element-resolved parts (summing to ``dos``).
A mode below ``-imaginary_tolerance`` THz (phonopy reports imaginary frequencies as
negative) makes the crystal dynamically unstable; such candidates, and those whose
spectrum does not fit the grid, are dropped, logged and listed in ``CrystalData.dropped``.

**Diffraction** (:func:`diffraction_pattern`): pymatgen's kinematic powder patterns, X-ray
(``XRDCalculator``, Cu Kα, λ = 1.54184 Å, atomic form factors and Lorentz-polarisation
factor) and neutron (``NDCalculator``, coherent scattering lengths, Lorentz factor), no
Debye-Waller factors, on the conventional standard cell (for (h k l) labels; hexagonal
labels drop Miller-Bravais i = -h-k). Peaks are broadened into a fixed 2θ grid with a
Gaussian of FWHM ``fwhm`` (degrees, integrated over each grid step) and the pattern scaled
to maximum 1; the peak list (2θ, intensity with the strongest 1, h, k, l, d) is kept.

**Data set** (:func:`make_crystals`): shards of ``shard_size`` accepted crystals are
computed in ``processes`` processes and cached through :mod:`workbench.data._shards`
(resumable; ``n_structures`` and ``processes`` are not part of the cache key, so a larger
set reuses the shards of a smaller one). :class:`CrystalData` is a torch Dataset; each item
a dict of tensors, batched by :func:`collate_crystals` (flat atoms with ``batch``, cells
(B, 3, 3), periodic edges with cell shifts when ``r_max`` is set; edge vectors by
:func:`workbench.data.crystals.edge_vectors`).

Units: Å, THz, degrees 2θ, eV.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench._types import is_int, is_real

from ._shards import dataset_dir, load_shards, run_shards
from .crystals import (
    EMT_ELEMENTS,
    LATTICES,
    apply_strain,
    check_structure,
    lattice_parameters,
    periodic_neighbors,
    primitive_cell,
    prototype,
    relax,
    shortest_lattice_vector,
    single_thread,
    standard_cell,
)

__all__ = [
    "ALLOY_CELLS",
    "CrystalData",
    "CrystalsConfig",
    "DiffractionConfig",
    "PhononConfig",
    "PhononDos",
    "PowderPattern",
    "collate_crystals",
    "diffraction_pattern",
    "make_crystals",
    "phonon_dos",
]

log = logging.getLogger(__name__)

_EXTRA = "pip install 'equivariant-workbench[scattering]'"
_FORMAT = 1  # bump when the content of a shard changes
_Z = {"Al": 13, "Ni": 28, "Cu": 29, "Pd": 46, "Ag": 47, "Pt": 78, "Au": 79}
_SYMBOL = {z: s for s, z in _Z.items()}

#: alloy cells per lattice: (repeat of ASE's bulk cell, conventional cubic cell?, sites)
ALLOY_CELLS = {
    "fcc": (((2, 1, 1), False, 2), ((1, 1, 1), True, 4), ((2, 2, 2), False, 8)),
    "bcc": (((1, 1, 1), True, 2), ((2, 1, 1), True, 4), ((2, 2, 2), False, 8)),
    "hcp": (((1, 1, 1), False, 2), ((2, 1, 1), False, 4), ((2, 2, 1), False, 8)),
    "sc": (((2, 1, 1), False, 2), ((2, 2, 1), False, 4), ((2, 2, 2), False, 8)),
}


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{module} is needed for the scattering data: {_EXTRA}") from err


def _check(name: str, key: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name}.{key}={value!r}: expected {expected}")


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class PhononConfig:
    """Phonon DoS settings (see the module docstring).

    ``min_supercell_length`` (Å): the force-constant supercell's shortest lattice vector is
    at least this. EMT pair terms reach 5.9 Å, its embedding (many-body) forces twice that;
    measured on 11 random stable crystals against 15 Å supercells, 10 Å gives the binned
    DoS to within 5e-4 /THz (L1 error < 1e-3) at 0.1-0.9 s, 6 Å is off by up to 0.07 /THz
    (L1 10 %), 15 Å costs 1.5-4 s. ``mesh_length`` (Å): q mesh
    n = ceil(mesh_length / V_prim^(1/3)) (n = 18 for fcc Cu). Grid: ``n_bins`` points from
    0 to ``max_frequency`` THz (Chen et al. used 51 points over 0-1000 cm^-1 = 0-30 THz for
    Materials Project compounds; the EMT metals stay below 13 THz, so 0-15 THz keeps the
    resolution); ``smearing``: Gaussian sigma in THz (one grid step by default);
    ``displacement``: phonopy's finite displacement in Å.
    """

    min_supercell_length: float = 10.0
    mesh_length: float = 40.0
    displacement: float = 0.01
    max_frequency: float = 15.0
    n_bins: int = 51
    smearing: float = 0.3
    imaginary_tolerance: float = 0.05
    symprec: float = 1e-5

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("min_supercell_length", "mesh_length", "displacement", "max_frequency"):
            value = getattr(self, key)
            _check(name, key, value, is_real(value) and value > 0, "a number > 0")
        for key in ("smearing", "symprec", "imaginary_tolerance"):
            value = getattr(self, key)
            _check(name, key, value, is_real(value) and value > 0, "a number > 0")
        _check(name, "n_bins", self.n_bins, is_int(self.n_bins) and self.n_bins >= 2, "an int >= 2")

    @property
    def frequencies(self) -> np.ndarray:
        """(n_bins,) the grid in THz: 0, Δ, ..., max_frequency."""
        return np.linspace(0.0, self.max_frequency, self.n_bins)


@dataclass(frozen=True)
class DiffractionConfig:
    """Powder pattern settings: 2θ grid of ``n_points`` from ``two_theta_min`` to
    ``two_theta_max`` degrees, Gaussian peaks of FWHM ``fwhm`` degrees; X-ray wavelength (a
    pymatgen name such as "CuKa" or Å) and neutron wavelength in Å."""

    two_theta_min: float = 10.0
    two_theta_max: float = 90.0
    n_points: int = 401
    fwhm: float = 0.3
    xray_wavelength: str | float = "CuKa"
    neutron_wavelength: float = 1.54184
    symprec: float = 1e-5

    def __post_init__(self) -> None:
        name = type(self).__name__
        lo, hi = self.two_theta_min, self.two_theta_max
        _check(name, "two_theta_min", lo, is_real(lo) and 0 <= lo < 180, "degrees in [0, 180)")
        _check(name, "two_theta_max", hi, is_real(hi) and lo < hi <= 180, f"degrees in ({lo}, 180]")
        _check(
            name,
            "n_points",
            self.n_points,
            is_int(self.n_points) and self.n_points >= 2,
            "an int >= 2",
        )
        for key in ("fwhm", "neutron_wavelength", "symprec"):
            value = getattr(self, key)
            _check(name, key, value, is_real(value) and value > 0, "a number > 0")
        wavelength = self.xray_wavelength
        if not isinstance(wavelength, str):
            _check(
                name,
                "xray_wavelength",
                wavelength,
                is_real(wavelength) and wavelength > 0,
                "a pymatgen anode name ('CuKa', 'MoKa', ...) or Å > 0",
            )

    @property
    def two_theta(self) -> np.ndarray:
        """(n_points,) the 2θ grid in degrees."""
        return np.linspace(self.two_theta_min, self.two_theta_max, self.n_points)


@dataclass(frozen=True)
class CrystalsConfig:
    """A crystal data set (defaults: the quick size, 200 crystals).

    ``elements`` from EMT_ELEMENTS and ``lattices`` from crystals.LATTICES (EMT's bcc and sc
    metals are mostly dynamically unstable: they are generated, then dropped and listed in
    ``CrystalData.dropped``; sc is off by default). Strains are fractions (0.02 = 2 %).
    ``fmax`` (eV/Å) and ``relax_steps`` bound each relaxation. ``processes`` <= 2 on the
    shared machine.
    """

    elements: tuple[str, ...] = EMT_ELEMENTS
    lattices: tuple[str, ...] = ("fcc", "bcc", "hcp")
    alloy_fraction: float = 0.7
    max_alloy_atoms: int = 8
    strain_fraction: float = 1.0
    max_strain: float = 0.02
    max_shear: float = 0.01
    shear_fraction: float = 0.5
    fmax: float = 1e-3
    relax_steps: int = 1000
    phonon: PhononConfig = field(default_factory=PhononConfig)
    diffraction: DiffractionConfig = field(default_factory=DiffractionConfig)
    n_structures: int = 200
    shard_size: int = 25
    seed: int = 0
    processes: int = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key, options in (("elements", EMT_ELEMENTS), ("lattices", LATTICES)):
            value = getattr(self, key)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{name}.{key}={value!r}: expected a tuple of names from {options}")
            value = tuple(value)
            object.__setattr__(self, key, value)
            bad = [v for v in value if v not in options]
            if bad or not value or len(set(value)) != len(value):
                what = (
                    "ASE's EMT calculator has no parameters for" if key == "elements" else "unknown"
                )
                raise ValueError(
                    f"{name}.{key}={value!r}: {what} {bad}; expected distinct names from {options}"
                    if bad
                    else f"{name}.{key}={value!r}: expected distinct names from {options}"
                )
        for key in ("alloy_fraction", "strain_fraction", "shear_fraction"):
            value = getattr(self, key)
            _check(name, key, value, is_real(value) and 0 <= value <= 1, "a probability in [0, 1]")
        if self.alloy_fraction > 0 and len(self.elements) < 2:
            raise ValueError(
                f"{name}: alloy_fraction={self.alloy_fraction} needs >= 2 elements, "
                f"got {self.elements}"
            )
        for key in ("max_strain", "max_shear"):
            value = getattr(self, key)
            _check(name, key, value, is_real(value) and 0 <= value < 0.2, "a strain in [0, 0.2)")
        _check(name, "fmax", self.fmax, is_real(self.fmax) and self.fmax > 0, "a force in eV/Å > 0")
        for key, minimum in (
            ("max_alloy_atoms", 2),
            ("relax_steps", 1),
            ("n_structures", 1),
            ("shard_size", 1),
            ("processes", 1),
        ):
            value = getattr(self, key)
            _check(name, key, value, is_int(value) and value >= minimum, f"an int >= {minimum}")
        _check(name, "seed", self.seed, is_int(self.seed) and 0 <= self.seed < 2**63, "an int >= 0")
        if not isinstance(self.phonon, PhononConfig):
            raise TypeError(
                f"{name}.phonon: expected a PhononConfig, got {type(self.phonon).__name__}"
            )
        if not isinstance(self.diffraction, DiffractionConfig):
            raise TypeError(
                f"{name}.diffraction: expected a DiffractionConfig, "
                f"got {type(self.diffraction).__name__}"
            )

    @property
    def n_shards(self) -> int:
        return -(-self.n_structures // self.shard_size)

    @property
    def max_attempts(self) -> int:
        """Candidates a shard may try before it gives up (dropped ones included)."""
        return 10 * self.shard_size + 10

    def settings(self) -> dict[str, Any]:
        """The cache key: every setting that changes a shard, with the package versions."""
        from importlib.metadata import PackageNotFoundError, version

        keep = {f.name for f in fields(self)} - {"n_structures", "processes"}
        out = {k: v for k, v in asdict(self).items() if k in keep}
        for package in ("ase", "phonopy", "pymatgen", "spglib"):
            try:
                out[f"version_{package}"] = version(package)
            except PackageNotFoundError:
                out[f"version_{package}"] = None
        out["format"] = _FORMAT
        return out


# ----------------------------------------------------------------------------- phonons


@dataclass(frozen=True, eq=False)
class PhononDos:
    """The phonon DoS of one crystal: ``dos`` (n_bins,) 1/THz with unit area on
    ``frequencies`` (n_bins,) THz, ``partial_dos`` (len(elements), n_bins) per element of
    ``elements`` (atomic numbers), extreme mode frequencies over the mesh (THz; negative =
    imaginary), the supercell factor N, the mesh n, and the primitive cell's atom count."""

    frequencies: np.ndarray
    dos: np.ndarray
    partial_dos: np.ndarray
    elements: tuple[int, ...]
    max_frequency: float
    min_frequency: float
    supercell: int
    mesh: int
    n_primitive: int
    imaginary_tolerance: float

    @property
    def stable(self) -> bool:
        """No mode below -imaginary_tolerance THz."""
        return self.min_frequency >= -self.imaginary_tolerance


def _binned_gaussians(centres: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float):
    """(K, n_bins): sum_m weights[m, K] times the mass of N(centres[m], sigma^2) in each bin
    [grid_k - Δ/2, grid_k + Δ/2], divided by Δ."""
    from scipy.special import ndtr

    step = grid[1] - grid[0]
    edges = np.concatenate([grid - step / 2, grid[-1:] + step / 2])
    cdf = ndtr((edges[None, :] - centres[:, None]) / sigma)  # (M, n_bins + 1)
    return weights.T @ np.diff(cdf, axis=1) / step


def _elements_of(z: np.ndarray, elements: Any) -> tuple[int, ...]:
    if elements is None:
        return tuple(sorted(set(z.tolist())))
    out = tuple(_Z[e] if isinstance(e, str) and e in _Z else e for e in elements)
    if not all(is_int(e) for e in out) or len(set(out)) != len(out):
        raise ValueError(f"elements={elements!r}: expected distinct symbols or atomic numbers")
    missing = sorted(set(z.tolist()) - set(out))
    if missing:
        raise ValueError(f"elements={elements!r} lacks atomic numbers {missing} of the structure")
    return tuple(int(e) for e in out)


def phonon_dos(
    z: Any, pos: Any, cell: Any, config: PhononConfig = PhononConfig(), elements: Any = None
) -> PhononDos:
    """Harmonic phonon DoS of a crystal from EMT forces with phonopy (module docstring).

    Args:
        z: (n,) atomic numbers of EMT metals; pos: (n, 3) Å; cell: (3, 3) row vectors, Å.
        config: the supercell, mesh and grid settings.
        elements: order of the rows of ``partial_dos`` (symbols or atomic numbers; default
            the sorted elements present). Elements absent from the crystal get zero rows.

    The atoms should be at a force-free configuration (relaxed); residual forces are
    subtracted from the displaced ones.
    """
    if not isinstance(config, PhononConfig):
        raise TypeError(f"phonon_dos: config must be a PhononConfig, got {type(config).__name__}")
    z, pos, cell = check_structure(z, pos, cell, "phonon_dos")
    order = _elements_of(z, elements)
    phonopy = _require("phonopy")
    ase = _require("ase")
    emt = _require("ase.calculators.emt")
    from phonopy.structure.atoms import PhonopyAtoms

    zp, xp, cp = primitive_cell(z, pos, cell, config.symprec)
    n_super = max(1, math.ceil(config.min_supercell_length / shortest_lattice_vector(cp) - 1e-9))
    n_mesh = max(1, math.ceil(config.mesh_length / abs(np.linalg.det(cp)) ** (1 / 3) - 1e-9))
    with single_thread():
        unit = PhonopyAtoms(numbers=zp, cell=cp, positions=xp)
        ph = phonopy.Phonopy(
            unit,
            supercell_matrix=np.eye(3, dtype=int) * n_super,
            primitive_matrix="P",
            symprec=config.symprec,
        )
        ph.generate_displacements(distance=config.displacement)
        calc = emt.EMT()

        def forces(atoms: Any) -> np.ndarray:
            sc = ase.Atoms(
                numbers=atoms.numbers, cell=atoms.cell, positions=atoms.positions, pbc=True
            )
            sc.calc = calc
            return sc.get_forces()

        residual = forces(ph.supercell)
        ph.forces = np.array([forces(s) - residual for s in ph.supercells_with_displacements])
        ph.produce_force_constants()
        ph.symmetrize_force_constants(show_drift=False)
        ph.run_mesh([n_mesh] * 3, is_gamma_center=True, with_eigenvectors=True)
        mesh = ph.mesh
        freq = np.asarray(mesh.frequencies)  # (nq, 3n)
        weights = np.asarray(mesh.weights, dtype=np.float64)  # (nq,)
        vectors = np.asarray(mesh.eigenvectors)  # (nq, 3n, 3n), column s is mode s
    nq, n_modes = freq.shape
    n_atoms = len(zp)
    on_atom = (np.abs(vectors) ** 2).reshape(nq, n_atoms, 3, n_modes).sum(axis=2)  # (nq, n, 3n)
    select = (zp[:, None] == np.array(order)[None, :]).astype(np.float64)  # (n, K)
    per_element = np.einsum("qjs,jk->qsk", on_atom, select) * weights[:, None, None]
    grid = config.frequencies
    partial = _binned_gaussians(
        freq.ravel(), per_element.reshape(-1, len(order)), grid, config.smearing
    )
    total = partial.sum(axis=0)
    norm = total.sum() * (grid[1] - grid[0])
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(
            f"phonon_dos: no spectral weight on the grid 0..{config.max_frequency} THz"
        )
    return PhononDos(
        frequencies=grid,
        dos=total / norm,
        partial_dos=partial / norm,
        elements=order,
        max_frequency=float(freq.max()),
        min_frequency=float(freq.min()),
        supercell=n_super,
        mesh=n_mesh,
        n_primitive=n_atoms,
        imaginary_tolerance=config.imaginary_tolerance,
    )


# ----------------------------------------------------------------------------- diffraction


@dataclass(frozen=True, eq=False)
class PowderPattern:
    """A broadened powder pattern ``intensity`` (n_points,) on ``two_theta`` (degrees),
    maximum 1, and its ``peaks`` (P, 6): 2θ, intensity (strongest 1), h, k, l, d (Å)."""

    two_theta: np.ndarray
    intensity: np.ndarray
    peaks: np.ndarray
    kind: str


def diffraction_pattern(
    z: Any, pos: Any, cell: Any, config: DiffractionConfig = DiffractionConfig(), kind: str = "xrd"
) -> PowderPattern:
    """Powder X-ray (``kind="xrd"``) or neutron (``"nd"``) pattern of a crystal (pymatgen)."""
    if kind not in ("xrd", "nd"):
        raise ValueError(f"diffraction_pattern: kind={kind!r}, expected 'xrd' or 'nd'")
    if not isinstance(config, DiffractionConfig):
        raise TypeError(
            f"diffraction_pattern: config must be a DiffractionConfig, got {type(config).__name__}"
        )
    z, pos, cell = check_structure(z, pos, cell, "diffraction_pattern")
    core = _require("pymatgen.core")
    if kind == "xrd":
        module = _require("pymatgen.analysis.diffraction.xrd")
        calculator = module.XRDCalculator(wavelength=config.xray_wavelength)
    else:
        module = _require("pymatgen.analysis.diffraction.neutron")
        calculator = module.NDCalculator(wavelength=config.neutron_wavelength)
    zs, xs, cs = standard_cell(z, pos, cell, config.symprec)
    structure = core.Structure(core.Lattice(cs), zs.tolist(), xs, coords_are_cartesian=True)
    window = (config.two_theta_min, config.two_theta_max)
    with single_thread():
        pattern = calculator.get_pattern(structure, scaled=True, two_theta_range=window)
    x = np.asarray(pattern.x, dtype=np.float64)
    y = np.asarray(pattern.y, dtype=np.float64) / 100.0
    hkl = np.array([_three_index(h[0]["hkl"]) for h in pattern.hkls], dtype=np.float64).reshape(
        -1, 3
    )
    peaks = np.column_stack([x, y, hkl, np.asarray(pattern.d_hkls, dtype=np.float64)])
    grid = config.two_theta
    sigma = config.fwhm / (2 * math.sqrt(2 * math.log(2)))
    intensity = _binned_gaussians(x, y[:, None], grid, sigma)[0] if len(x) else np.zeros(len(grid))
    top = intensity.max()
    return PowderPattern(grid, intensity / top if top > 0 else intensity, peaks, kind)


def _three_index(hkl: tuple) -> tuple[int, int, int]:
    """(h, k, l) from pymatgen's 3-index or hexagonal 4-index (h, k, i, l) labels."""
    return (hkl[0], hkl[1], hkl[3]) if len(hkl) == 4 else tuple(hkl)


# ----------------------------------------------------------------------------- generation


def _draw_candidate(config: CrystalsConfig, rng: np.random.Generator) -> dict[str, Any]:
    """The recipe of one candidate: element per site, lattice, cell, strain."""
    lattice = str(rng.choice(config.lattices))
    alloy = rng.random() < config.alloy_fraction
    if alloy:
        cells = [c for c in ALLOY_CELLS[lattice] if c[2] <= config.max_alloy_atoms]
        repeat, cubic, n = cells[rng.integers(len(cells))]
        a, b = rng.choice(config.elements, size=2, replace=False)
        symbols = np.full(n, a, dtype=object)
        symbols[rng.permutation(n)[: rng.integers(1, n)]] = b
        symbols = [str(s) for s in symbols]
    else:
        repeat, cubic = (1, 1, 1), False
        symbols = [str(rng.choice(config.elements))]
    strain = np.zeros((3, 3))
    if rng.random() < config.strain_fraction:
        strain = rng.uniform(-config.max_strain, config.max_strain) * np.eye(3)
        if rng.random() < config.shear_fraction:
            shear = rng.uniform(-config.max_shear, config.max_shear, size=(3, 3))
            shear = (shear + shear.T) / 2
            strain += shear - np.trace(shear) / 3 * np.eye(3)
    return {
        "lattice": lattice,
        "alloy": alloy,
        "symbols": symbols,
        "repeat": repeat,
        "cubic": cubic,
        "strain": strain,
    }


def _candidate(config: CrystalsConfig, rng: np.random.Generator) -> tuple[dict[str, Any], str]:
    """Build, relax and label one candidate; returns (record, reason) with reason "" when it
    is accepted, else why it is dropped (the record then holds what is known)."""
    recipe = _draw_candidate(config, rng)
    atoms = prototype(recipe["symbols"], recipe["lattice"], recipe["repeat"], recipe["cubic"])
    record: dict[str, Any] = {
        **recipe,
        "formula": atoms.get_chemical_formula(),
        "min_frequency": np.nan,
        "max_frequency": np.nan,
    }
    start = time.process_time()
    if not relax(atoms, config.fmax, config.relax_steps, cell=True):
        return record, "relax_not_converged"
    if recipe["strain"].any():
        apply_strain(atoms, recipe["strain"])
        if not relax(atoms, config.fmax, config.relax_steps, cell=False):
            return record, "relax_not_converged"
    energy = atoms.get_potential_energy() / len(atoms)
    pressure = -np.trace(atoms.get_stress(voigt=False)) / 3 * 160.21766208  # eV/Å^3 -> GPa
    record["seconds_relax"] = time.process_time() - start
    z, pos, cell = atoms.numbers.astype(np.int64), atoms.positions.copy(), np.asarray(atoms.cell[:])
    start = time.process_time()
    dos = phonon_dos(z, pos, cell, config.phonon, elements=[_Z[e] for e in config.elements])
    record.update(min_frequency=dos.min_frequency, max_frequency=dos.max_frequency)
    if not dos.stable:
        return record, "imaginary_modes"
    if dos.max_frequency + 3 * config.phonon.smearing > config.phonon.max_frequency:
        return record, "beyond_frequency_grid"
    record["seconds_dos"] = time.process_time() - start
    start = time.process_time()
    xrd = diffraction_pattern(z, pos, cell, config.diffraction, "xrd")
    nd = diffraction_pattern(z, pos, cell, config.diffraction, "nd")
    record["seconds_diffraction"] = time.process_time() - start
    if not (len(xrd.peaks) and len(nd.peaks)):
        return record, "no_diffraction_peaks"
    _, _, cs = standard_cell(z, pos, cell, config.diffraction.symprec)
    spglib = _require("spglib")
    symmetry = spglib.get_symmetry_dataset((cell, pos @ np.linalg.inv(cell), z), symprec=1e-5)
    composition = np.array([np.mean(z == _Z[e]) for e in config.elements])
    record.update(
        z=z,
        pos=pos,
        cell=cell,
        dos=dos.dos,
        partial_dos=dos.partial_dos,
        xrd=xrd,
        nd=nd,
        composition=composition,
        lattice_parameters=lattice_parameters(cs),
        volume_per_atom=abs(np.linalg.det(cell)) / len(z),
        energy=energy,
        pressure=pressure,
        spacegroup=int(symmetry.number) if symmetry is not None else 1,
        supercell=dos.supercell,
        mesh=dos.mesh,
        n_primitive=dos.n_primitive,
    )
    return record, ""


def _make_shard(config: CrystalsConfig, index: int) -> dict[str, np.ndarray]:
    """Shard ``index``: the first ``shard_size`` accepted candidates of the attempts
    0, 1, ... seeded by (seed, index, attempt), with the dropped ones listed."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    attempt = 0
    with single_thread():
        while len(kept) < config.shard_size:
            if attempt >= config.max_attempts:
                reasons = {
                    r: sum(d["reason"] == r for d in dropped)
                    for r in {d["reason"] for d in dropped}
                }
                raise RuntimeError(
                    f"scattering shard {index}: only {len(kept)} of {config.shard_size} candidates "
                    f"accepted in {attempt} attempts (dropped: {reasons}); lattices="
                    f"{config.lattices} and elements={config.elements} give too few dynamically "
                    "stable crystals"
                )
            record, reason = _candidate(
                config, np.random.default_rng([config.seed, index, attempt])
            )
            record.update(shard=index, attempt=attempt, reason=reason)
            if reason:
                log.info(
                    "scattering: dropped %s %s (shard %d, attempt %d): %s, min frequency %.3f THz",
                    record["lattice"],
                    record["formula"],
                    index,
                    attempt,
                    reason,
                    record["min_frequency"],
                )
                dropped.append(record)
            else:
                kept.append(record)
            attempt += 1
    return _shard_arrays(kept, dropped)


def _peaks(records: list[dict[str, Any]], kind: str) -> tuple[np.ndarray, np.ndarray]:
    peaks = [r[kind].peaks for r in records]
    return np.concatenate(peaks).reshape(-1, 6), np.array([len(p) for p in peaks], dtype=np.int64)


def _shard_arrays(
    kept: list[dict[str, Any]], dropped: list[dict[str, Any]]
) -> dict[str, np.ndarray]:
    xrd_peaks, xrd_count = _peaks(kept, "xrd")
    nd_peaks, nd_count = _peaks(kept, "nd")
    out = {
        "z": np.concatenate([r["z"] for r in kept]),
        "pos": np.concatenate([r["pos"] for r in kept]),
        "n_atoms": np.array([len(r["z"]) for r in kept], dtype=np.int64),
        "cell": np.stack([r["cell"] for r in kept]),
        "dos": np.stack([r["dos"] for r in kept]),
        "partial_dos": np.stack([r["partial_dos"] for r in kept]),
        "xrd": np.stack([r["xrd"].intensity for r in kept]),
        "nd": np.stack([r["nd"].intensity for r in kept]),
        "xrd_peaks": xrd_peaks,
        "xrd_peak_count": xrd_count,
        "nd_peaks": nd_peaks,
        "nd_peak_count": nd_count,
        "lattice": np.array([r["lattice"] for r in kept]),
        "alloy": np.array([r["alloy"] for r in kept]),
        "strain": np.stack([r["strain"] for r in kept]),
        "shard": np.array([r["shard"] for r in kept], dtype=np.int64),
        "attempt": np.array([r["attempt"] for r in kept], dtype=np.int64),
        "drop_shard": np.array([r["shard"] for r in dropped], dtype=np.int64),
        "drop_attempt": np.array([r["attempt"] for r in dropped], dtype=np.int64),
        "drop_formula": np.array([r["formula"] for r in dropped], dtype=str),
        "drop_lattice": np.array([r["lattice"] for r in dropped], dtype=str),
        "drop_reason": np.array([r["reason"] for r in dropped], dtype=str),
        "drop_min_frequency": np.array([r["min_frequency"] for r in dropped], dtype=np.float64),
        "drop_max_frequency": np.array([r["max_frequency"] for r in dropped], dtype=np.float64),
    }
    for key in ("composition", "lattice_parameters"):
        out[key] = np.stack([r[key] for r in kept])
    for key in (
        "max_frequency",
        "min_frequency",
        "volume_per_atom",
        "energy",
        "pressure",
        "seconds_relax",
        "seconds_dos",
        "seconds_diffraction",
    ):
        out[key] = np.array([r[key] for r in kept], dtype=np.float64)
    for key in ("spacegroup", "supercell", "mesh", "n_primitive"):
        out[key] = np.array([r[key] for r in kept], dtype=np.int64)
    return out


# ----------------------------------------------------------------------------- data set


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


#: per-crystal arrays of CrystalData (first axis = crystal)
_PER_CRYSTAL = (
    "n_atoms",
    "cell",
    "dos",
    "partial_dos",
    "xrd",
    "nd",
    "composition",
    "lattice_parameters",
    "max_frequency",
    "min_frequency",
    "volume_per_atom",
    "energy",
    "pressure",
    "spacegroup",
    "lattice",
    "alloy",
    "strain",
    "supercell",
    "mesh",
    "n_primitive",
    "xrd_peak_count",
    "nd_peak_count",
    "seconds_relax",
    "seconds_dos",
    "seconds_diffraction",
    "duplicate",  # last: computed when loading, not stored in the shards
)


@dataclass(frozen=True, eq=False)
class CrystalData(torch.utils.data.Dataset):
    """Crystals with phonon DoS and powder patterns (module docstring).

    Ragged per-atom arrays: ``z`` (N,) and ``pos`` (N, 3) Å, crystal i owning the atoms
    ``offsets[i]:offsets[i + 1]`` (``n_atoms`` (n,)). Per crystal: ``cell`` (n, 3, 3),
    ``dos`` (n, n_bins) on ``frequencies`` (n_bins,) THz, ``partial_dos``
    (n, len(elements), n_bins), ``xrd`` and ``nd`` (n, n_points) on ``two_theta``,
    ``composition`` (n, len(elements)) atom fractions, ``lattice_parameters`` (n, 6) of
    the conventional standard cell (Å, degrees), ``max_frequency`` (n,) THz, ``lattice``
    (prototype name), ``alloy``, ``strain`` (n, 3, 3), ``energy`` (eV/atom), ``pressure``
    (GPa), ``spacegroup``, ``duplicate`` (repeats an earlier crystal), and more in
    ``arrays``. ``dropped``: the rejected candidates.

    Item i is a dict of tensors: z (n_i,) long, pos (n_i, 3), cell (3, 3), dos, partial_dos,
    xrd, nd, composition, lattice_parameters, max_frequency (); with ``r_max`` set also the
    periodic edges edge_src, edge_dst (E,) long and cell_shift (E, 3) long
    (:func:`workbench.data.crystals.periodic_neighbors`). Floats in ``dtype``.
    """

    arrays: dict[str, np.ndarray]
    frequencies: np.ndarray
    two_theta: np.ndarray
    elements: tuple[str, ...]
    dropped: Any  # pandas.DataFrame
    config: CrystalsConfig
    r_max: float | None = None
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        a = self.arrays
        n = len(a["n_atoms"])
        if a["z"].shape != (int(a["n_atoms"].sum()),) or a["pos"].shape != (len(a["z"]), 3):
            raise ValueError(
                f"CrystalData: z {a['z'].shape} and pos {a['pos'].shape} must hold "
                f"sum(n_atoms) = {int(a['n_atoms'].sum())} atoms"
            )
        for key in _PER_CRYSTAL:
            if len(a[key]) != n:
                raise ValueError(f"CrystalData.{key} has {len(a[key])} rows, expected {n} crystals")
        if self.r_max is not None and not (is_real(self.r_max) and self.r_max > 0):
            raise ValueError(f"CrystalData.r_max={self.r_max!r}: expected None or Å > 0")
        for key in ("dos", "partial_dos", "xrd", "nd", "pos", "cell"):
            if not np.isfinite(a[key]).all():
                raise ValueError(f"CrystalData.{key} has NaN or inf entries")

    def __getattr__(self, name: str) -> Any:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __len__(self) -> int:
        return len(self.arrays["n_atoms"])

    @property
    def offsets(self) -> np.ndarray:
        """(n + 1,) start of each crystal's atoms in ``z`` and ``pos``."""
        return _offsets(self.arrays["n_atoms"])

    def __repr__(self) -> str:
        counts = dict(zip(*np.unique(self.arrays["lattice"], return_counts=True), strict=True))
        return (
            f"CrystalData({len(self)} crystals, {len(self.arrays['z'])} atoms, lattices "
            f"{ {str(k): int(v) for k, v in counts.items()} }, {int(self.arrays['alloy'].sum())} "
            f"alloys, dos {self.arrays['dos'].shape[1]} bins to {self.frequencies[-1]:g} THz, "
            f"{len(self.dropped)} candidates dropped)"
        )

    def structure(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z (n_i,), pos (n_i, 3), cell (3, 3)) of crystal i."""
        start, stop = self.offsets[i], self.offsets[i + 1]
        return self.arrays["z"][start:stop], self.arrays["pos"][start:stop], self.arrays["cell"][i]

    def peaks(self, i: int, kind: str = "xrd"):
        """pandas DataFrame of crystal i's peaks: two_theta, intensity, h, k, l, d."""
        import pandas as pd

        if kind not in ("xrd", "nd"):
            raise ValueError(f"peaks: kind={kind!r}, expected 'xrd' or 'nd'")
        offsets = _offsets(self.arrays[f"{kind}_peak_count"])
        rows = self.arrays[f"{kind}_peaks"][offsets[i] : offsets[i + 1]]
        frame = pd.DataFrame(rows, columns=["two_theta", "intensity", "h", "k", "l", "d"])
        return frame.astype({"h": int, "k": int, "l": int})

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"crystal {i} out of range for {len(self)} crystals")
        i = int(i) % len(self)
        z, pos, cell = self.structure(i)
        a = self.arrays
        item = {
            "z": torch.from_numpy(z.astype(np.int64)),
            "pos": torch.as_tensor(pos, dtype=self.dtype),
            "cell": torch.as_tensor(cell, dtype=self.dtype),
        }
        for key in (
            "dos",
            "partial_dos",
            "xrd",
            "nd",
            "composition",
            "lattice_parameters",
            "max_frequency",
        ):
            item[key] = torch.as_tensor(a[key][i], dtype=self.dtype)
        if self.r_max is not None:
            src, dst, shift, _ = periodic_neighbors(pos, cell, True, float(self.r_max))
            item["edge_src"] = torch.from_numpy(src)
            item["edge_dst"] = torch.from_numpy(dst)
            item["cell_shift"] = torch.from_numpy(shift)
        return item

    def subset(self, index: Any) -> CrystalData:
        """The crystals ``index`` (int array, slice or bool mask), in that order."""
        index = np.arange(len(self))[index]
        a = self.arrays
        offsets = self.offsets
        atoms = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in index] or [[]])
        atoms = atoms.astype(np.int64)
        arrays = {k: a[k][index] for k in _PER_CRYSTAL}
        arrays["z"], arrays["pos"] = a["z"][atoms], a["pos"][atoms]
        for kind in ("xrd", "nd"):
            peak_offsets = _offsets(a[f"{kind}_peak_count"])
            rows = [np.arange(peak_offsets[i], peak_offsets[i + 1]) for i in index]
            arrays[f"{kind}_peaks"] = a[f"{kind}_peaks"][
                np.concatenate(rows or [[]]).astype(np.int64)
            ]
        for key in ("shard", "attempt"):
            arrays[key] = a[key][index]
        return replace(self, arrays=arrays)

    def split(self, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[CrystalData, ...]:
        """Random split into parts of the given fractions (seeded)."""
        fractions = np.asarray(fractions, dtype=np.float64)
        if fractions.ndim != 1 or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-9:
            raise ValueError(f"split: fractions={fractions.tolist()} must be >= 0 and sum to 1")
        order = np.random.default_rng(seed).permutation(len(self))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(self)).astype(int)
        return tuple(self.subset(part) for part in np.split(order, cuts))


def collate_crystals(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch items of :class:`CrystalData`: atoms concatenated with ``batch`` (N,) and
    ``n_atoms`` (B,), per-crystal tensors stacked (cell (B, 3, 3), dos (B, n_bins), ...),
    edge indices shifted to the batch's atom numbering."""
    if not items:
        raise ValueError("collate_crystals: no items")
    counts = torch.tensor([len(item["z"]) for item in items])
    starts = torch.cumsum(counts, 0) - counts
    out = {
        "z": torch.cat([item["z"] for item in items]),
        "pos": torch.cat([item["pos"] for item in items]),
        "batch": torch.repeat_interleave(torch.arange(len(items)), counts),
        "n_atoms": counts,
    }
    for key in items[0]:
        if key in ("z", "pos", "edge_src", "edge_dst", "cell_shift"):
            continue
        out[key] = torch.stack([item[key] for item in items])
    if "edge_src" in items[0]:
        out["edge_src"] = torch.cat(
            [it["edge_src"] + s for it, s in zip(items, starts, strict=True)]
        )
        out["edge_dst"] = torch.cat(
            [it["edge_dst"] + s for it, s in zip(items, starts, strict=True)]
        )
        out["cell_shift"] = torch.cat([it["cell_shift"] for it in items])
    return out


def _dropped_frame(arrays: dict[str, np.ndarray], last: tuple[int, int]):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "shard": arrays["drop_shard"],
            "attempt": arrays["drop_attempt"],
            "formula": arrays["drop_formula"],
            "lattice": arrays["drop_lattice"],
            "reason": arrays["drop_reason"],
            "min_frequency": arrays["drop_min_frequency"],
            "max_frequency": arrays["drop_max_frequency"],
        }
    )
    before = (frame["shard"] < last[0]) | (
        (frame["shard"] == last[0]) & (frame["attempt"] < last[1])
    )
    return frame[before].reset_index(drop=True)


def _duplicates(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) True where a crystal equals an earlier one: same composition, lattice, space
    group, and energy, volume per atom and highest frequency to 1e-6."""
    seen: set[tuple] = set()
    out = np.zeros(len(arrays["n_atoms"]), dtype=bool)
    for i in range(len(out)):
        key = (
            tuple(np.round(arrays["composition"][i], 6)),
            str(arrays["lattice"][i]),
            int(arrays["spacegroup"][i]),
            *(
                round(float(arrays[k][i]), 6)
                for k in ("energy", "volume_per_atom", "max_frequency")
            ),
        )
        out[i] = key in seen
        seen.add(key)
    return out


def make_crystals(
    config: CrystalsConfig = CrystalsConfig(),
    progress: bool = True,
    directory: str | Path | None = None,
) -> CrystalData:
    """Generate (or load from the cache) the crystals of ``config``.

    Shards go to ``dataset_dir("scattering", config.settings(), root=directory)``; missing
    ones are computed in ``config.processes`` processes, finished ones reused. The first
    ``n_structures`` accepted crystals are returned, with the candidates dropped before the
    last of them in ``.dropped`` (also logged).
    """
    if not isinstance(config, CrystalsConfig):
        raise TypeError(
            f"make_crystals: config must be a CrystalsConfig, got {type(config).__name__}"
        )
    for module in ("ase", "phonopy", "pymatgen.core", "spglib"):
        _require(module)
    root = dataset_dir("scattering", config.settings(), root=directory)
    make = functools.partial(_make_shard, replace(config, n_structures=1, processes=1))
    paths = run_shards(
        make, range(config.n_shards), root, config.processes, progress, desc="crystals"
    )
    arrays = load_shards(paths)
    n = config.n_structures
    per_crystal = {k: arrays[k][:n] for k in (*_PER_CRYSTAL[:-1], "shard", "attempt")}
    per_crystal["duplicate"] = _duplicates(per_crystal)
    if per_crystal["duplicate"].any():
        log.warning(
            "scattering: %d of %d crystals repeat an earlier one exactly (unstrained small "
            "cells); CrystalData.duplicate marks them",
            int(per_crystal["duplicate"].sum()),
            n,
        )
    n_atoms = int(per_crystal["n_atoms"].sum())
    per_crystal["z"], per_crystal["pos"] = arrays["z"][:n_atoms], arrays["pos"][:n_atoms]
    for kind in ("xrd", "nd"):
        per_crystal[f"{kind}_peaks"] = arrays[f"{kind}_peaks"][
            : int(per_crystal[f"{kind}_peak_count"].sum())
        ]
    last = (int(per_crystal["shard"][-1]), int(per_crystal["attempt"][-1]))
    dropped = _dropped_frame(arrays, last)
    if len(dropped):
        log.warning(
            "scattering: %d of %d candidates dropped: %s",
            len(dropped),
            n + len(dropped),
            dropped["reason"].value_counts().to_dict(),
        )
    return CrystalData(
        arrays=per_crystal,
        frequencies=config.phonon.frequencies,
        two_theta=config.diffraction.two_theta,
        elements=config.elements,
        dropped=dropped,
        config=config,
    )
