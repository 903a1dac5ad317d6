r"""Small organic molecules labelled with PySCF, from sources that ship offline; a QM9 reader.

Molecules (:func:`candidate_molecules`, ``MoleculesConfig.source``):

- ``"g2"``: ASE's G2 collection (``ase.collections.g2``, 162 species with MP2 geometries,
  Curtiss et al., J. Chem. Phys. 106, 1063 (1997)); kept are the closed-shell molecules
  (no initial magnetic moment, even electron count) of elements H, C, N, O, F with at most
  ``max_heavy_atoms`` heavy atoms: 73 of 162 for 9 (25 open-shell species and 64 with other
  elements or more heavy atoms are left out). Geometries are ASE's, unchanged.
- ``"nci"``: the SMILES of RDKit's ``Data/NCI/first_5K.smi`` (the first 4999 compounds of the
  NCI open database, shipped with every RDKit install); kept are single-fragment, net-neutral,
  radical-free molecules of H, C, N, O, F with at most ``max_heavy_atoms`` heavy atoms, first
  occurrence of each canonical SMILES: 421 of 4999 for 9 (8 lines RDKit cannot parse).
  Conformers: RDKit ``AddHs`` + ETKDGv3 (seeded by (seed, SMILES)), relaxed with MMFF94 (UFF
  where MMFF94 lacks parameters).
- ``"g2+nci"`` (default): both, 494 molecules for 9 heavy atoms; ``"smiles"``: your own
  ``MoleculesConfig.smiles`` (same conformer recipe; a SMILES that RDKit cannot parse, that is
  charged, a radical, several fragments, other elements or too large is an error naming it).

The shipped sets are shuffled by the seed, so ``n_molecules`` takes a random subset; your own
SMILES keep their order. (G2 and NCI may share a compound, with different geometries.)

Labels (:func:`label_molecule`): a restricted Kohn-Sham (or Hartree-Fock) calculation in
PySCF (Sun et al., WIREs Comput. Mol. Sci. 8, e1340 (2018), arXiv:1701.08223), giving the
total energy :math:`E`, the dipole moment

.. math::  \mu = \sum_A Z_A R_A - \int \rho(r)\, r\, dr   \quad\text{(Debye)},

(origin independent for a neutral molecule, in the frame of the input positions, so it
rotates with the molecule) and the frontier orbital energies
:math:`\varepsilon_\mathrm{HOMO}, \varepsilon_\mathrm{LUMO}` and their gap (eV). The defaults,
B3LYP (PySCF's ``"b3lyp"`` = libxc's B3LYP with VWN-RPA, Gaussian's definition as in QM9) in
the STO-3G basis on DFT grid level 1, take 4-10 s of CPU time (mean 7 s) for a molecule with
9 heavy atoms on one core (measured on 8 NCI molecules; ``functional="hf"``: 1-2 s;
``basis="def2-svp"``: about 50 s). The labels are exact functions of the geometry for HF; for
DFT the integration grid is fixed in space, so rotating a molecule changes them by the grid
error: at level 1, E by 2-4e-5 Hartree and the dipole by 3e-5 D (water) to 1.4e-4 D (19
atoms); at level 3, 4e-5 Hartree and 5e-5 D for the 19 atoms (measured). A non-converged SCF
is retried with a level shift and then with second-order (Newton) SCF; a molecule that still
fails is skipped and recorded (``MoleculeData.skipped``), never silently dropped.

Generation is sharded (``workbench.data._shards``): shard k labels molecules
``k * shard_size ...`` of the seeded order, in ``processes`` processes with a progress bar,
cached under ``<cache>/molecules/<hash of the settings>/``; an interrupted run resumes with
the finished shards as they are, and a larger ``n_molecules`` reuses the shards of a smaller.

QM9 (:func:`read_qm9_xyz`, :func:`load_qm9`) reads the standard extended-xyz files of
Ramakrishnan et al., Sci. Data 1, 140022 (2014) (doi:10.1038/sdata.2014.22, Tables 2-3);
see :func:`read_qm9_xyz` for the layout and units. QM9 lists only the dipole's norm.
"""

from __future__ import annotations

import importlib
import logging
import math
import tarfile
import time
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from workbench._types import is_int

from ._shards import dataset_dir, load_shards, run_shards

__all__ = [
    "HARTREE_TO_EV",
    "QM9_PROPERTIES",
    "SOURCES",
    "MoleculeBatch",
    "MoleculeData",
    "MoleculeSpec",
    "MoleculesConfig",
    "QM9Record",
    "candidate_molecules",
    "collate_molecules",
    "label_molecule",
    "load_qm9",
    "make_molecules",
    "read_qm9_xyz",
    "smiles_to_conformer",
]

log = logging.getLogger(__name__)

HARTREE_TO_EV = 27.211386245988  # CODATA 2018
SOURCES = ("g2", "nci", "g2+nci", "smiles")
ALLOWED_ELEMENTS = frozenset({1, 6, 7, 8, 9})  # H, C, N, O, F
_EXTRA = "pip install 'equivariant-workbench[chem]'"
_FORMAT = 1  # bump when the generator's output changes: new cache directories
_NCI_FILE = ("NCI", "first_5K.smi")
# fmt: off
_SYMBOLS = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
    "Ge", "As", "Se", "Br", "Kr",
)
# fmt: on
_NUMBERS = {s: i + 1 for i, s in enumerate(_SYMBOLS)}

UNITS: dict[str, str] = {
    "energy": "eV",
    "energy_hartree": "Hartree",
    "dipole": "Debye",
    "dipole_norm": "Debye",
    "homo": "eV",
    "lumo": "eV",
    "gap": "eV",
}


def _require(module: str):
    """Import a package of the ``chem`` extra, or raise an ImportError that names the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"workbench.data.molecules needs the package {module!r} ({err}); install the chem "
            f"extra: {_EXTRA}"
        ) from err


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class MoleculesConfig:
    """What to label (defaults: all 494 shipped molecules, B3LYP/STO-3G).

    Attributes:
        source: ``"g2"``, ``"nci"``, ``"g2+nci"`` or ``"smiles"`` (see the module docstring).
        smiles: the SMILES for ``source="smiles"`` (empty otherwise).
        max_heavy_atoms: keep molecules with at most this many non-hydrogen atoms.
        n_molecules: how many of the (seeded) candidates to label; None = all.
        functional: an exchange-correlation functional PySCF knows (``"b3lyp"``, ``"pbe"``,
            ...) or ``"hf"`` for Hartree-Fock.
        basis: a basis set PySCF knows (``"sto-3g"``, ``"6-31g"``, ``"def2-svp"``, ...).
        grid_level: PySCF's DFT integration grid level, 0 (coarse) .. 9 (fine).
        conv_tol: SCF convergence threshold on the energy (Hartree).
        max_cycle: SCF iterations per attempt (three attempts: DIIS, level shift, Newton).
        seed: shuffles the shipped molecules and seeds the conformer embedding.
        shard_size: molecules per shard (the unit of caching and of parallel work).
        processes: worker processes (1 = in this process).
        on_error: ``"skip"``: a molecule that fails (SMILES, embedding, SCF) is logged and
            listed in ``MoleculeData.skipped``; ``"raise"``: a ValueError naming it.
    """

    source: str = "g2+nci"
    smiles: tuple[str, ...] = ()
    max_heavy_atoms: int = 9
    n_molecules: int | None = None
    functional: str = "b3lyp"
    basis: str = "sto-3g"
    grid_level: int = 1
    conv_tol: float = 1e-9
    max_cycle: int = 100
    seed: int = 0
    shard_size: int = 16
    processes: int = 1
    on_error: str = "skip"

    def __post_init__(self) -> None:
        if isinstance(self.smiles, list):
            object.__setattr__(self, "smiles", tuple(self.smiles))
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if not isinstance(self.smiles, tuple) or not all(isinstance(s, str) for s in self.smiles):
            raise TypeError(f"smiles must be a tuple of strings, got {self.smiles!r}")
        if self.source == "smiles" and not self.smiles:
            raise ValueError("source='smiles' needs a non-empty tuple of SMILES in `smiles`")
        if self.source != "smiles" and self.smiles:
            raise ValueError(
                f"smiles are only used with source='smiles', got source={self.source!r} and "
                f"{len(self.smiles)} SMILES"
            )
        for name, minimum in (
            ("max_heavy_atoms", 1),
            ("grid_level", 0),
            ("max_cycle", 1),
            ("seed", 0),
            ("shard_size", 1),
            ("processes", 1),
        ):
            value = getattr(self, name)
            if not is_int(value) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.grid_level > 9:
            raise ValueError(f"grid_level must be in 0..9, got {self.grid_level}")
        if self.n_molecules is not None and (not is_int(self.n_molecules) or self.n_molecules < 1):
            raise ValueError(
                f"n_molecules must be None or an integer >= 1, got {self.n_molecules!r}"
            )
        for name in ("functional", "basis"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        ok = isinstance(self.conv_tol, int | float) and not isinstance(self.conv_tol, bool)
        if not ok or not math.isfinite(self.conv_tol) or not 0 < self.conv_tol < 1:
            raise ValueError(f"conv_tol must be a number in (0, 1), got {self.conv_tol!r}")
        if self.on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {self.on_error!r}")

    @property
    def method(self) -> str:
        """``"B3LYP/STO-3G"``-style name of the level of theory."""
        return f"{self.functional.upper()}/{self.basis.upper()}"

    def settings(self) -> dict[str, Any]:
        """What the shards depend on (the cache key): not ``n_molecules``, ``processes`` or
        ``on_error``, so a larger request reuses the shards of a smaller one."""
        out = asdict(self)
        for name in ("n_molecules", "processes", "on_error"):
            out.pop(name)
        out["functional"] = self.functional.lower()
        out["basis"] = self.basis.lower()
        out["format"] = _FORMAT
        for package in ("pyscf", "rdkit", "ase"):
            out[package] = _version(package)
        return out


# ----------------------------------------------------------------------------- sources


class MoleculeSpec(NamedTuple):
    """One molecule to label: a geometry (``z``, ``pos`` in Å) or a SMILES to embed."""

    name: str
    smiles: str
    z: tuple[int, ...] | None = None
    pos: tuple[tuple[float, float, float], ...] | None = None


def _g2_molecules(max_heavy_atoms: int) -> list[MoleculeSpec]:
    collections = _require("ase.collections")
    out = []
    for name in collections.g2.names:
        atoms = collections.g2[name]
        z = atoms.numbers
        closed = not atoms.get_initial_magnetic_moments().any() and int(z.sum()) % 2 == 0
        heavy = int((z > 1).sum())
        if (
            closed
            and len(z) > 1
            and set(z.tolist()) <= ALLOWED_ELEMENTS
            and heavy <= max_heavy_atoms
        ):
            pos = tuple(tuple(float(c) for c in row) for row in atoms.positions)
            out.append(MoleculeSpec(f"g2:{name}", "", tuple(int(v) for v in z), pos))
    return out


def _nci_path() -> Path:
    rdconfig = _require("rdkit.RDConfig")
    return Path(rdconfig.RDDataDir).joinpath(*_NCI_FILE)


def _nci_molecules(max_heavy_atoms: int) -> list[MoleculeSpec]:
    chem = _require("rdkit.Chem")
    rdbase = _require("rdkit.rdBase")
    path = _nci_path()
    if not path.is_file():
        raise FileNotFoundError(f"RDKit's NCI SMILES file is missing: {path}")
    out, seen, unparsable = [], set(), 0
    with rdbase.BlockLogs():
        for line in path.read_text().splitlines():
            fields = line.split()
            if not fields:
                continue
            smiles, ident = fields[0], fields[1] if len(fields) > 1 else "?"
            mol = chem.MolFromSmiles(smiles)
            if mol is None:
                unparsable += 1
                continue
            if _unsuitable(mol, max_heavy_atoms) is not None:
                continue
            canonical = chem.MolToSmiles(mol)
            if canonical in seen:
                continue
            seen.add(canonical)
            out.append(MoleculeSpec(f"nci:{ident}", smiles))
    log.debug("NCI: %d molecules kept from %s (%d unparsable lines)", len(out), path, unparsable)
    return out


def _unsuitable(mol, max_heavy_atoms: int) -> str | None:
    """Why an RDKit molecule cannot be labelled here, or None."""
    chem = _require("rdkit.Chem")
    symbols = sorted({a.GetSymbol() for a in mol.GetAtoms()})
    if any(_NUMBERS.get(s) not in ALLOWED_ELEMENTS for s in symbols):
        return f"has elements {symbols}; only H, C, N, O, F are allowed"
    if len(chem.GetMolFrags(mol)) != 1:
        return f"has {len(chem.GetMolFrags(mol))} fragments; one connected molecule expected"
    if chem.GetFormalCharge(mol) != 0:
        return f"has net charge {chem.GetFormalCharge(mol)}; neutral molecules only"
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return "is a radical; closed-shell molecules only"
    heavy = mol.GetNumHeavyAtoms()
    if heavy > max_heavy_atoms:
        return f"has {heavy} heavy atoms; at most max_heavy_atoms={max_heavy_atoms} allowed"
    if mol.GetNumAtoms(onlyExplicit=False) < 2:
        return "is a single atom; molecules only"
    return None


def _parse_smiles(smiles: str, name: str, max_heavy_atoms: int):
    """An RDKit molecule, or a ValueError naming the entry and what is wrong."""
    chem = _require("rdkit.Chem")
    rdbase = _require("rdkit.rdBase")
    if not isinstance(smiles, str) or not smiles.strip():
        raise ValueError(f"entry {name}: expected a non-empty SMILES string, got {smiles!r}")
    with rdbase.BlockLogs():
        raw = chem.MolFromSmiles(smiles, sanitize=False)
        if raw is None:
            raise ValueError(
                f"entry {name}: RDKit cannot parse the SMILES {smiles!r} (syntax error)"
            )
        problems = [p.Message() for p in chem.DetectChemistryProblems(raw)]
        mol = chem.MolFromSmiles(smiles)
    if mol is None or problems:
        raise ValueError(
            f"entry {name}: the SMILES {smiles!r} is not a valid molecule: "
            f"{'; '.join(problems) or 'sanitization failed'}"
        )
    reason = _unsuitable(mol, max_heavy_atoms)
    if reason is not None:
        raise ValueError(f"entry {name}: the SMILES {smiles!r} {reason}")
    return mol


def candidate_molecules(
    config: MoleculesConfig = MoleculesConfig(),
) -> tuple[list[MoleculeSpec], list[tuple[str, str]]]:
    """(molecules to label, in the seeded order; [(entry, reason)] for rejected SMILES).

    Rejected entries only occur for ``source="smiles"`` with ``on_error="skip"``; with
    ``"raise"`` the first bad SMILES raises a ValueError naming it. The filters on the shipped
    sets are part of the source's definition and are not errors.
    """
    if config.source == "smiles":
        specs, skipped = [], []
        for i, smiles in enumerate(config.smiles):
            name = f"smiles[{i}]"
            try:
                _parse_smiles(smiles, f"{name} {smiles!r}", config.max_heavy_atoms)
            except ValueError as err:
                if config.on_error == "raise":
                    raise
                log.warning("skipping %s", err)
                skipped.append((name, str(err)))
                continue
            specs.append(MoleculeSpec(name, smiles))
        return specs, skipped
    specs = []
    if config.source in ("g2", "g2+nci"):
        specs += _g2_molecules(config.max_heavy_atoms)
    if config.source in ("nci", "g2+nci"):
        specs += _nci_molecules(config.max_heavy_atoms)
    order = np.random.default_rng([config.seed, 0x6D6F6C]).permutation(len(specs))
    return [specs[i] for i in order], []


# ----------------------------------------------------------------------------- conformers


def _embed_seed(seed: int, smiles: str) -> int:
    state = np.random.SeedSequence([seed, zlib.crc32(smiles.encode())]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


def smiles_to_conformer(
    smiles: str, seed: int = 0, max_heavy_atoms: int = 9, name: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(z (n,) int64, pos (n, 3) float64 in Å): one conformer of a SMILES with hydrogens.

    RDKit ``AddHs``, ETKDGv3 embedding seeded by ``(seed, SMILES)`` (retried from random
    coordinates if it fails), then MMFF94 relaxation (UFF where MMFF94 has no parameters).
    Raises ValueError naming the entry if the SMILES is invalid or cannot be embedded.
    """
    chem = _require("rdkit.Chem")
    allchem = _require("rdkit.Chem.AllChem")
    entry = name if name is not None else repr(smiles)
    mol = chem.AddHs(_parse_smiles(smiles, entry, max_heavy_atoms))
    params = allchem.ETKDGv3()
    params.randomSeed = _embed_seed(seed, smiles)
    if allchem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if allchem.EmbedMolecule(mol, params) != 0:
            raise ValueError(f"entry {entry}: ETKDG could not embed the SMILES {smiles!r} in 3D")
    if allchem.MMFFHasAllMoleculeParams(mol):
        status = allchem.MMFFOptimizeMolecule(mol, maxIters=5000)
        field_name = "MMFF94"
    else:
        status = allchem.UFFOptimizeMolecule(mol, maxIters=5000)
        field_name = "UFF"
    if status != 0:
        log.warning("%s: %s relaxation did not converge in 5000 steps", entry, field_name)
    z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
    return z, np.asarray(mol.GetConformer().GetPositions(), dtype=np.float64)


# ----------------------------------------------------------------------------- labels


def _scf(mol, functional: str, grid_level: int, conv_tol: float, max_cycle: int):
    scf = _require("pyscf.scf")
    if functional.lower() == "hf":
        mf = scf.RHF(mol)
    else:
        mf = _require("pyscf.dft").RKS(mol, xc=functional)
        mf.grids.level = grid_level
    mf.conv_tol = conv_tol
    mf.max_cycle = max_cycle
    mf.verbose = 0
    return mf


def label_molecule(
    z: Sequence[int],
    pos: np.ndarray,
    functional: str = "b3lyp",
    basis: str = "sto-3g",
    grid_level: int = 1,
    conv_tol: float = 1e-9,
    max_cycle: int = 100,
) -> dict[str, Any]:
    """PySCF labels of one neutral closed-shell molecule (positions in Å, any frame).

    Returns ``energy_hartree``, ``dipole`` (3,) in Debye in the frame of ``pos``,
    ``homo_hartree``, ``lumo_hartree``, ``converged`` and ``attempts`` (1 = plain DIIS,
    2 = with level shift 0.5 and damping, 3 = second-order Newton SCF). A calculation that
    fails all three returns ``converged=False`` (its numbers are not to be used).
    """
    gto = _require("pyscf.gto")
    z = np.asarray(z, dtype=np.int64)
    pos = np.asarray(pos, dtype=np.float64)
    if z.ndim != 1 or pos.shape != (len(z), 3):
        raise ValueError(f"z must be (n,) and pos (n, 3), got {z.shape} and {pos.shape}")
    if int(z.sum()) % 2:
        raise ValueError(f"odd electron count {int(z.sum())}: only closed-shell molecules")
    mol = gto.M(
        atom=[(int(a), tuple(p)) for a, p in zip(z, pos.tolist(), strict=True)],
        basis=basis,
        unit="Angstrom",
        charge=0,
        spin=0,
        symmetry=False,
        verbose=0,
    )
    mf = _scf(mol, functional, grid_level, conv_tol, max_cycle)
    mf.kernel()
    attempts = 1
    if not mf.converged:
        attempts = 2
        dm = mf.make_rdm1()
        mf = _scf(mol, functional, grid_level, conv_tol, max_cycle)
        mf.level_shift, mf.damp = 0.5, 0.5
        mf.kernel(dm0=dm)
    if not mf.converged:
        attempts = 3
        start = mf
        mf = _scf(mol, functional, grid_level, conv_tol, max_cycle).newton()
        mf.kernel(start.mo_coeff, start.mo_occ)
    occupied = mf.mo_occ > 0
    homo = float(mf.mo_energy[occupied].max())
    lumo = float(mf.mo_energy[~occupied].min()) if (~occupied).any() else math.nan
    return {
        "energy_hartree": float(mf.e_tot),
        "dipole": np.asarray(mf.dip_moment(unit="Debye", verbose=0), dtype=np.float64),
        "homo_hartree": homo,
        "lumo_hartree": lumo,
        "converged": bool(mf.converged) and math.isfinite(lumo) and lumo > homo,
        "attempts": attempts,
    }


@dataclass(frozen=True)
class _Labeller:
    """The shard function's settings (picklable for the spawn pool)."""

    functional: str
    basis: str
    grid_level: int
    conv_tol: float
    max_cycle: int
    seed: int
    max_heavy_atoms: int
    chunks: tuple[tuple[MoleculeSpec, ...], ...]


def _label_shard(job: _Labeller, index: int) -> dict[str, np.ndarray]:
    """Shard ``index``: every molecule of ``job.chunks[index]``, failures recorded, not raised."""
    lib = _require("pyscf.lib")
    rows: list[dict[str, Any]] = []
    with lib.with_omp_threads(1):
        for spec in job.chunks[index]:
            rows.append(_label_one(job, spec))
    counts = np.array([len(r["z"]) for r in rows], dtype=np.int64)
    return {
        "n_atoms": counts,
        "z": np.concatenate([r["z"] for r in rows]).astype(np.int64),
        "pos": np.concatenate([r["pos"] for r in rows]).reshape(-1, 3).astype(np.float64),
        "name": np.array([r["name"] for r in rows], dtype=str),
        "smiles": np.array([r["smiles"] for r in rows], dtype=str),
        "error": np.array([r["error"] for r in rows], dtype=str),
        "energy_hartree": np.array([r["energy_hartree"] for r in rows], dtype=np.float64),
        "dipole": np.array([r["dipole"] for r in rows], dtype=np.float64).reshape(-1, 3),
        "homo_hartree": np.array([r["homo_hartree"] for r in rows], dtype=np.float64),
        "lumo_hartree": np.array([r["lumo_hartree"] for r in rows], dtype=np.float64),
        "attempts": np.array([r["attempts"] for r in rows], dtype=np.int64),
        "cpu_seconds": np.array([r["cpu_seconds"] for r in rows], dtype=np.float64),
    }


def _label_one(job: _Labeller, spec: MoleculeSpec) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": spec.name,
        "smiles": spec.smiles,
        "error": "",
        "z": np.zeros(0, dtype=np.int64),
        "pos": np.zeros((0, 3)),
        "energy_hartree": math.nan,
        "dipole": np.full(3, math.nan),
        "homo_hartree": math.nan,
        "lumo_hartree": math.nan,
        "attempts": 0,
        "cpu_seconds": 0.0,
    }
    entry = f"{spec.name} {spec.smiles!r}" if spec.smiles else spec.name
    try:
        if spec.z is not None:
            z, pos = np.array(spec.z, dtype=np.int64), np.array(spec.pos, dtype=np.float64)
        else:
            z, pos = smiles_to_conformer(spec.smiles, job.seed, job.max_heavy_atoms, entry)
    except ValueError as err:
        row["error"] = str(err)
        return row
    row["z"], row["pos"] = z, pos
    start = time.process_time()
    try:
        labels = label_molecule(
            z, pos, job.functional, job.basis, job.grid_level, job.conv_tol, job.max_cycle
        )
    except ValueError as err:
        row["error"] = f"entry {entry}: {err}"
        return row
    row["cpu_seconds"] = time.process_time() - start
    row["attempts"] = labels["attempts"]
    if not labels["converged"]:
        row["error"] = (
            f"entry {entry}: the SCF did not converge (DIIS, level shift and Newton, "
            f"max_cycle={job.max_cycle} each)"
        )
        return row
    for key in ("energy_hartree", "dipole", "homo_hartree", "lumo_hartree"):
        row[key] = labels[key]
    return row


def _check_method(functional: str, basis: str) -> None:
    """ValueError now, rather than in a worker, for a functional or basis PySCF lacks."""
    gto = _require("pyscf.gto")
    if functional.lower() != "hf":
        try:
            _require("pyscf.dft.libxc").parse_xc(functional)
        except (KeyError, ValueError) as err:
            raise ValueError(
                f"functional {functional!r} is not known to PySCF/libxc ({err}); use e.g. "
                "'b3lyp', 'pbe', 'pbe0' or 'hf'"
            ) from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            gto.basis.load(basis, "H")
        except Exception as err:  # PySCF raises several types for an unknown basis
            raise ValueError(
                f"basis {basis!r} is not known to PySCF ({type(err).__name__}: {err}); use "
                "e.g. 'sto-3g', '6-31g', 'def2-svp'"
            ) from err


# ----------------------------------------------------------------------------- data set


class MoleculeBatch(NamedTuple):
    """A batch in the flat layout of the models: ``z`` (N,) long, ``pos`` (N, 3), ``batch``
    (N,) long molecule index 0..B-1, ``targets`` {name: (B,) or (B, 3)}."""

    z: torch.Tensor
    pos: torch.Tensor
    batch: torch.Tensor
    targets: dict[str, torch.Tensor]


def collate_molecules(
    items: Sequence[tuple[torch.Tensor, torch.Tensor, Mapping[str, torch.Tensor]]],
    dtype: torch.dtype | None = None,
) -> MoleculeBatch:
    """Items ``(z_i, pos_i, targets_i)`` of a :class:`MoleculeData` -> one
    :class:`MoleculeBatch` (atoms concatenated, ``batch`` numbering the molecules).

    ``dtype`` converts ``pos`` and the targets (e.g. ``functools.partial(collate_molecules,
    dtype=torch.float32)`` as a ``collate_fn``). With ``workbench.training.Trainer`` return
    ``"n": batch.targets[key].shape[0]`` from the step (``batch[0]`` counts atoms).
    """
    if not items:
        raise ValueError("collate_molecules needs at least one molecule")
    z = torch.cat([item[0] for item in items])
    pos = torch.cat([item[1] for item in items])
    counts = torch.tensor([len(item[0]) for item in items])
    batch = torch.repeat_interleave(torch.arange(len(items)), counts)
    targets = {k: torch.stack([item[2][k] for item in items]) for k in items[0][2]}
    if dtype is not None:
        pos = pos.to(dtype)
        targets = {k: v.to(dtype) for k, v in targets.items()}
    return MoleculeBatch(z, pos, batch, targets)


@dataclass(frozen=True, eq=False)
class MoleculeData:
    """Molecules with per-molecule targets; a map-style torch ``Dataset``.

    Attributes:
        z: (N,) long atomic numbers of all molecules, concatenated.
        pos: (N, 3) float64 positions in Å.
        ptr: (n + 1,) long offsets: molecule i is atoms ``ptr[i]:ptr[i + 1]``.
        targets: {name: (n,) or (n, 3) float64}; units in ``units``.
        names, smiles: (n,) identifiers ("" where a molecule has no SMILES).
        units: {target name: unit}.
        skipped: (entry, reason) for every molecule that was asked for but not labelled.
        source: where the molecules came from (the method, or the QM9 files).

    ``data[i]`` is ``(z_i (n_i,), pos_i (n_i, 3), {name: value_i})``;
    :func:`collate_molecules` turns a list of those into a :class:`MoleculeBatch`.
    """

    z: torch.Tensor
    pos: torch.Tensor
    ptr: torch.Tensor
    targets: Mapping[str, torch.Tensor]
    names: tuple[str, ...]
    smiles: tuple[str, ...]
    units: Mapping[str, str] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        z, pos, ptr = self.z, self.pos, self.ptr
        if not isinstance(z, torch.Tensor) or z.ndim != 1 or z.dtype != torch.long:
            raise ValueError(f"z must be a (N,) long tensor, got {_describe(z)}")
        if not isinstance(pos, torch.Tensor) or tuple(pos.shape) != (len(z), 3):
            raise ValueError(f"pos must be a ({len(z)}, 3) tensor, got {_describe(pos)}")
        if not isinstance(ptr, torch.Tensor) or ptr.ndim != 1 or ptr.dtype != torch.long:
            raise ValueError(f"ptr must be a (n + 1,) long tensor, got {_describe(ptr)}")
        if len(ptr) < 1 or int(ptr[0]) != 0 or int(ptr[-1]) != len(z) or (ptr.diff() < 1).any():
            raise ValueError(
                f"ptr must rise strictly from 0 to N={len(z)} (every molecule has atoms), got "
                f"{ptr.tolist()[:10]}..."
            )
        n = len(ptr) - 1
        object.__setattr__(self, "targets", dict(self.targets))
        object.__setattr__(self, "units", dict(self.units))
        for key, value in self.targets.items():
            if not isinstance(value, torch.Tensor) or value.shape[:1] != (n,):
                raise ValueError(f"target {key!r} must have {n} rows, got {_describe(value)}")
        for name in ("names", "smiles"):
            value = tuple(getattr(self, name))
            if len(value) != n:
                raise ValueError(f"{name} must have {n} entries, got {len(value)}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "skipped", tuple(tuple(s) for s in self.skipped))

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        if not isinstance(i, int | np.integer) or isinstance(i, bool):
            raise TypeError(f"index with an integer (use .subset for several), got {i!r}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"molecule {i} out of range for {len(self)} molecules")
        i = int(i) % len(self)
        a, b = int(self.ptr[i]), int(self.ptr[i + 1])
        return self.z[a:b], self.pos[a:b], {k: v[i] for k, v in self.targets.items()}

    def __repr__(self) -> str:
        return (
            f"MoleculeData(n={len(self)}, atoms={len(self.z)}, targets={sorted(self.targets)}, "
            f"skipped={len(self.skipped)}, source={self.source!r})"
        )

    @property
    def n_atoms(self) -> torch.Tensor:
        """(n,) atoms per molecule."""
        return self.ptr.diff()

    @property
    def batch(self) -> torch.Tensor:
        """(N,) molecule index of every atom."""
        return torch.repeat_interleave(torch.arange(len(self)), self.n_atoms)

    def subset(self, index) -> MoleculeData:
        """The molecules at ``index`` (1-D integer indices, a bool mask of length n, or a
        slice), in that order."""
        idx = torch.arange(len(self))[index] if isinstance(index, slice) else None
        if idx is None:
            idx = torch.as_tensor(np.asarray(index))
            if idx.ndim != 1:
                raise ValueError(f"index must be 1-D, got shape {tuple(idx.shape)}")
            if idx.dtype == torch.bool:
                if len(idx) != len(self):
                    raise ValueError(f"a bool mask must have length {len(self)}, got {len(idx)}")
                idx = idx.nonzero().flatten()
            idx = idx.long()
        if len(idx) == 0:
            raise ValueError("subset must keep at least one molecule")
        counts = self.n_atoms[idx]
        starts = self.ptr[idx]
        atoms = torch.repeat_interleave(starts - torch.cumsum(counts, 0) + counts, counts)
        atoms = atoms + torch.arange(int(counts.sum()))
        ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
        return MoleculeData(
            self.z[atoms],
            self.pos[atoms],
            ptr,
            {k: v[idx] for k, v in self.targets.items()},
            tuple(self.names[i] for i in idx.tolist()),
            tuple(self.smiles[i] for i in idx.tolist()),
            self.units,
            self.skipped,
            self.source,
        )

    def split(
        self, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
    ) -> tuple[MoleculeData, ...]:
        """Disjoint random parts with the given fractions (each keeps at least one molecule)."""
        f = np.asarray(fractions, dtype=float)
        if f.ndim != 1 or len(f) == 0 or not np.isfinite(f).all() or (f <= 0).any():
            raise ValueError(f"fractions must be positive finite numbers, got {fractions!r}")
        if abs(f.sum() - 1) > 1e-6:
            raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {f.sum()})")
        if len(f) > len(self):
            raise ValueError(f"cannot split {len(self)} molecules into {len(f)} parts")
        order = np.random.default_rng(seed).permutation(len(self))
        cuts = np.round(np.cumsum(f)[:-1] * len(self)).astype(int)
        cuts = np.clip(cuts, np.arange(1, len(f)), len(self) - np.arange(len(f) - 1, 0, -1))
        return tuple(self.subset(np.sort(part)) for part in np.split(order, cuts))

    def batches(
        self,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        dtype: torch.dtype | None = None,
    ) -> Iterator[MoleculeBatch]:
        """Batches (:class:`MoleculeBatch`) of ``batch_size`` molecules, the last one smaller
        if ``batch_size`` does not divide n; ``shuffle`` draws the order from ``seed``."""
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        order = np.random.default_rng(seed).permutation(len(self)) if shuffle else range(len(self))
        order = list(order)
        for start in range(0, len(order), batch_size):
            yield collate_molecules(
                [self[int(i)] for i in order[start : start + batch_size]], dtype
            )

    def atom_reference(self, key: str = "energy") -> dict[int, float]:
        """Per-element values :math:`e_Z` minimising :math:`\\sum_i (y_i - \\sum_Z n_{iZ}
        e_Z)^2` (least squares over the element counts), e.g. to subtract from total
        energies before training; ``{Z: e_Z}`` in the unit of the target."""
        if key not in self.targets or self.targets[key].ndim != 1:
            raise ValueError(
                f"key must name a scalar target of {sorted(self.targets)}, got {key!r}"
            )
        elements = torch.unique(self.z)
        counts = torch.zeros(len(self), len(elements), dtype=torch.float64)
        column = torch.searchsorted(elements, self.z)
        counts.index_put_((self.batch, column), torch.ones(len(self.z), dtype=torch.float64), True)
        solution = torch.linalg.lstsq(counts, self.targets[key].double()[:, None]).solution
        return {int(e): float(v) for e, v in zip(elements, solution[:, 0], strict=True)}


def _describe(x) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    return (
        f"{type(x).__name__} of shape {tuple(shape)}, dtype {dtype}"
        if shape is not None
        else repr(x)
    )


def _molecule_data(
    arrays: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    skipped: Sequence[tuple[str, str]],
    units: Mapping[str, str],
    source: str,
) -> MoleculeData:
    counts = np.asarray(arrays["n_atoms"], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    return MoleculeData(
        torch.as_tensor(np.asarray(arrays["z"], dtype=np.int64)),
        torch.as_tensor(np.asarray(arrays["pos"], dtype=np.float64)),
        torch.as_tensor(ptr),
        {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in targets.items()},
        tuple(str(s) for s in arrays["name"]),
        tuple(str(s) for s in arrays["smiles"]),
        units,
        tuple(skipped),
        source,
    )


def make_molecules(
    config: MoleculesConfig = MoleculesConfig(),
    progress: bool = True,
    directory: str | Path | None = None,
) -> MoleculeData:
    """Label the molecules of ``config`` (computing only the shards not yet on disk) and
    return them as :class:`MoleculeData`.

    Shards go to ``dataset_dir("molecules", config.settings(), root=directory)`` (the user
    cache by default). Molecules that fail (SMILES, embedding, SCF) are logged and listed in
    ``skipped`` (``on_error="skip"``) or raise a ValueError naming them (``"raise"``; the
    finished shards stay on disk). Targets: ``energy`` (eV), ``energy_hartree``, ``dipole``
    (n, 3) and ``dipole_norm`` (Debye), ``homo``, ``lumo``, ``gap`` (eV).
    """
    if not isinstance(config, MoleculesConfig):
        raise TypeError(f"config must be a MoleculesConfig, got {type(config).__name__}")
    for module in ("pyscf", "rdkit", "ase"):
        _require(module)
    _check_method(config.functional, config.basis)
    specs, skipped = candidate_molecules(config)
    n_wanted = len(specs) if config.n_molecules is None else min(config.n_molecules, len(specs))
    if config.n_molecules is not None and config.n_molecules > len(specs):
        log.warning(
            "molecules: %d asked for, the source %r has %d",
            config.n_molecules,
            config.source,
            len(specs),
        )
    if n_wanted == 0:
        raise ValueError(f"no molecule to label from source {config.source!r}: {skipped}")
    size = config.shard_size
    chunks = tuple(tuple(specs[i : i + size]) for i in range(0, len(specs), size))
    job = _Labeller(
        config.functional,
        config.basis,
        config.grid_level,
        config.conv_tol,
        config.max_cycle,
        config.seed,
        config.max_heavy_atoms,
        chunks,
    )
    root = dataset_dir("molecules", config.settings(), root=directory)
    paths = run_shards(
        partial(_label_shard, job),
        range(-(-n_wanted // size)),
        root,
        config.processes,
        progress,
        desc=f"molecules {config.method}",
    )
    arrays = load_shards(paths)
    n_atoms = arrays["n_atoms"][:n_wanted]
    cut = int(n_atoms.sum())
    mol = {k: v[:n_wanted] for k, v in arrays.items() if k not in ("z", "pos")}
    ok = mol["error"] == ""
    failed = [(str(n), str(e)) for n, e in zip(mol["name"][~ok], mol["error"][~ok], strict=True)]
    if config.on_error == "raise" and failed:
        raise ValueError(
            f"{len(failed)} molecule(s) could not be labelled (on_error='raise'): "
            + "; ".join(reason for _, reason in failed)
        )
    for _, reason in failed:
        log.warning("molecules: skipped %s", reason)
    skipped += failed
    if not ok.any():
        raise ValueError(f"none of the {n_wanted} molecules could be labelled: {skipped}")
    keep_atoms = np.repeat(ok, n_atoms)
    kept = {k: v[ok] for k, v in mol.items()}
    kept["z"] = arrays["z"][:cut][keep_atoms]
    kept["pos"] = arrays["pos"][:cut][keep_atoms]
    seconds = kept["cpu_seconds"]
    log.info(
        "molecules: %d labelled with %s (%.2f s CPU per molecule, max %.2f s), %d skipped",
        len(seconds),
        config.method,
        seconds.mean(),
        seconds.max(),
        len(skipped),
    )
    homo, lumo = kept["homo_hartree"] * HARTREE_TO_EV, kept["lumo_hartree"] * HARTREE_TO_EV
    targets = {
        "energy": kept["energy_hartree"] * HARTREE_TO_EV,
        "energy_hartree": kept["energy_hartree"],
        "dipole": kept["dipole"],
        "dipole_norm": np.linalg.norm(kept["dipole"], axis=1),
        "homo": homo,
        "lumo": lumo,
        "gap": lumo - homo,
    }
    return _molecule_data(kept, targets, skipped, UNITS, f"{config.source} {config.method}")


# ----------------------------------------------------------------------------- QM9

#: The 15 numbers of line 2 of a QM9 file, in order, with their units (paper, Table 3).
QM9_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("A", "GHz"),
    ("B", "GHz"),
    ("C", "GHz"),
    ("mu", "Debye"),
    ("alpha", "Bohr^3"),
    ("homo", "Hartree"),
    ("lumo", "Hartree"),
    ("gap", "Hartree"),
    ("r2", "Bohr^2"),
    ("zpve", "Hartree"),
    ("U0", "Hartree"),
    ("U", "Hartree"),
    ("H", "Hartree"),
    ("G", "Hartree"),
    ("Cv", "cal/(mol K)"),
)


class QM9Record(NamedTuple):
    """One QM9 molecule as in its file (units: Å, e, cm^-1 and those of ``QM9_PROPERTIES``)."""

    index: int
    z: np.ndarray
    pos: np.ndarray
    charges: np.ndarray
    properties: dict[str, float]
    frequencies: np.ndarray
    smiles: tuple[str, ...]
    inchi: tuple[str, ...]


def _qm9_float(text: str, where: str) -> float:
    """A number of a QM9 file; ``*^`` is Mathematica's exponent (``1.2*^-6`` = 1.2e-6)."""
    try:
        value = float(text.replace("*^", "e"))
    except ValueError:
        raise ValueError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {text!r}")
    return value


def read_qm9_xyz(path: str | Path, text: str | None = None) -> QM9Record:
    """One QM9 file ``dsgdb9nsd_NNNNNN.xyz`` (Ramakrishnan et al. 2014, Table 2)::

        line 1          n_atoms
        line 2          gdb <index> A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv
        lines 3..n+2    element  x  y  z  Mulliken charge     (Å, e)
        line n+3        harmonic frequencies (3n-6, or 3n-5 for linear molecules; cm^-1)
        line n+4        SMILES from GDB-17, SMILES of the relaxed B3LYP geometry
        line n+5        InChI of the Corina geometry, InChI of the B3LYP geometry

    Fields are separated by tabs or spaces; numbers may use ``*^`` for the exponent
    (``2.1*^-6``). Units of line 2 in ``QM9_PROPERTIES``: homo, lumo, gap in Hartree, mu in
    Debye (the norm only: the files hold no dipole vector). ``text`` parses a string instead
    of reading ``path`` (which then only names the source in errors). Malformed content is a
    ValueError naming the file and line.
    """
    if text is None:
        text = Path(path).read_text()
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()

    def line(k: int, what: str) -> list[str]:
        if k > len(lines):
            raise ValueError(
                f"{path}: the file ends at line {len(lines)}; line {k} ({what}) missing"
            )
        return lines[k - 1].split()

    first = line(1, "number of atoms")
    if len(first) != 1 or not first[0].isdigit() or int(first[0]) < 1:
        raise ValueError(f"{path}, line 1: expected the number of atoms, got {lines[0]!r}")
    n = int(first[0])
    head = line(2, "gdb index and 15 properties")
    if len(head) != 2 + len(QM9_PROPERTIES) or head[0] != "gdb" or not head[1].isdigit():
        raise ValueError(
            f"{path}, line 2: expected 'gdb <index>' and {len(QM9_PROPERTIES)} numbers "
            f"({' '.join(k for k, _ in QM9_PROPERTIES)}), got {len(head)} fields: {lines[1]!r}"
        )
    properties = {
        key: _qm9_float(value, f"{path}, line 2, {key}")
        for (key, _), value in zip(QM9_PROPERTIES, head[2:], strict=True)
    }
    z = np.zeros(n, dtype=np.int64)
    pos = np.zeros((n, 3))
    charges = np.zeros(n)
    for i in range(n):
        k = 3 + i
        fields = line(k, f"atom {i + 1} of {n}")
        if len(fields) != 5:
            raise ValueError(
                f"{path}, line {k}: expected 'element x y z charge' (atom {i + 1} of {n}), got "
                f"{lines[k - 1]!r}"
            )
        if fields[0] not in _NUMBERS:
            raise ValueError(f"{path}, line {k}: unknown element {fields[0]!r}")
        z[i] = _NUMBERS[fields[0]]
        pos[i] = [_qm9_float(v, f"{path}, line {k}, coordinate") for v in fields[1:4]]
        charges[i] = _qm9_float(fields[4], f"{path}, line {k}, charge")
    frequencies = np.array(
        [_qm9_float(v, f"{path}, line {n + 3}, frequency") for v in line(n + 3, "frequencies")]
    )
    smiles = tuple(line(n + 4, "SMILES"))
    inchi = tuple(line(n + 5, "InChI"))
    if not smiles or not inchi or not all(s.startswith("InChI=") for s in inchi):
        raise ValueError(
            f"{path}, lines {n + 4}-{n + 5}: expected the SMILES and the InChI strings, got "
            f"{lines[n + 3]!r} and {lines[n + 4]!r}"
        )
    if len(lines) > n + 5:
        raise ValueError(
            f"{path}, line {n + 6}: unexpected content after the InChI line: {lines[n + 5]!r}"
        )
    return QM9Record(int(head[1]), z, pos, charges, properties, frequencies, smiles, inchi)


def _qm9_sources(source) -> Iterator[tuple[str, str]]:
    """(name, text) of every QM9 file in a directory, a tar archive or a list of files."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            files = sorted(path.glob("*.xyz"))
            if not files:
                raise FileNotFoundError(f"no *.xyz files in {path}")
            for file in files:
                yield str(file), file.read_text()
            return
        if path.is_file() and tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                for member in archive:
                    if member.isfile() and member.name.endswith(".xyz"):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            yield f"{path}:{member.name}", handle.read().decode()
            return
        if path.is_file():
            yield str(path), path.read_text()
            return
        raise FileNotFoundError(f"no QM9 directory, archive or file at {path}")
    for file in source:
        yield str(file), Path(file).read_text()


def load_qm9(
    source: str | Path | Iterable[str | Path],
    limit: int | None = None,
    exclude: Iterable[int] = (),
    progress: bool = True,
) -> MoleculeData:
    """QM9 as :class:`MoleculeData`, from a directory of ``*.xyz`` files, the
    ``dsgdb9nsd.xyz.tar.bz2`` archive, or a list of files.

    Targets: ``energy`` = U0 in eV (and ``energy_hartree``; U0 includes the zero-point
    energy, ``energy - zpve`` is the electronic energy), ``dipole_norm`` in Debye (QM9 has
    no dipole vector, so there is no ``dipole`` target), ``homo``, ``lumo``, ``gap``,
    ``zpve``, ``U``, ``H``, ``G`` in eV, and ``A``, ``B``, ``C`` (GHz), ``alpha`` (Bohr^3),
    ``r2`` (Bohr^2), ``Cv`` (cal/(mol K)) as in the files. ``exclude``: gdb indices to leave
    out (e.g. the 3054 "uncharacterized" molecules of the data set's list); ``limit``: read
    at most this many molecules.
    """
    if limit is not None and (not is_int(limit) or limit < 1):
        raise ValueError(f"limit must be None or a positive integer, got {limit!r}")
    excluded = {int(i) for i in exclude}
    records: list[QM9Record] = []
    bar = tqdm(desc="QM9", disable=not progress, total=limit)
    try:
        for name, text in _qm9_sources(source):
            record = read_qm9_xyz(name, text)
            if record.index not in excluded:
                records.append(record)
                bar.update()
            if limit is not None and len(records) >= limit:
                break
    finally:
        bar.close()
    if not records:
        raise ValueError(f"no QM9 molecules read from {source}")
    ev = {"homo", "lumo", "gap", "zpve", "U", "H", "G"}
    targets = {
        "energy": np.array([r.properties["U0"] for r in records]) * HARTREE_TO_EV,
        "energy_hartree": np.array([r.properties["U0"] for r in records]),
        "dipole_norm": np.array([r.properties["mu"] for r in records]),
    }
    units = {"energy": "eV", "energy_hartree": "Hartree", "dipole_norm": "Debye"}
    for key, unit in QM9_PROPERTIES:
        if key in ("U0", "mu"):
            continue
        values = np.array([r.properties[key] for r in records])
        targets[key] = values * HARTREE_TO_EV if key in ev else values
        units[key] = "eV" if key in ev else unit
    arrays = {
        "n_atoms": np.array([len(r.z) for r in records]),
        "z": np.concatenate([r.z for r in records]),
        "pos": np.concatenate([r.pos for r in records]),
        "name": [f"gdb_{r.index}" for r in records],
        "smiles": [r.smiles[-1] for r in records],
    }
    return _molecule_data(arrays, targets, (), units, f"QM9 ({source})")
