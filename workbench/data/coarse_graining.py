r"""Molecular dynamics of small peptides and their coarse-grained (CG) bead coordinates.

Data for the backmapping task of CGVAE (Wang, Xu, Cai, Miller, Smidt, Wang, Tang and
Gómez-Bombarelli, "Generative Coarse-Graining of Molecular Conformations", ICML 2022,
arXiv 2201.12176): recover all-atom coordinates x (n_atoms, 3) from bead coordinates

.. math:: X_I = \sum_i M_{Ii}\, x_i, \qquad M_{Ii} = w_i\,[a(i) = I], \qquad
          \sum_{i:\,a(i)=I} w_i = 1,

where a(i) is the bead of atom i. CGVAE (``scatter_mean`` in its code) uses the centre of
geometry, w_i = 1 / |bead|, over all atoms hydrogens included; ``centre="mass"`` gives the
centre of mass instead.

**Simulation** (:func:`simulate`, extra ``md``: OpenMM). Alanine dipeptide (ACE-ALA-NME, 22
atoms) or chignolin (GYDPETGTWG, 138 atoms) from the PDB files in ``structures/`` (how they
were built: ``structures/build_structures.py``; chignolin starts as a random coil, not the
folded hairpin 1UAO). Amber14 (``amber14-all.xml``), no cutoff, with OBC2 implicit solvent
(Amber igb=5; OpenMM's native ``GBSAOBCForce`` with the mbondi2 radii and screening factors of
``implicit/obc2.xml``: the same energy to 1e-6, and for alanine dipeptide on the Reference
platform about a hundred times faster than that file's ``CustomGBForce``) or in vacuum.
LangevinMiddleIntegrator at 300 K, friction 1/ps, 2 fs steps, bonds to hydrogen constrained;
energy minimisation, equilibration, then one frame every ``save_interval`` ps. The run is
cut into consecutive segments (shards, cached and resumable through
:mod:`workbench.data._shards`): shard k starts from the final positions and velocities
stored in shard k - 1, with its own integrator seed derived from (seed, k), so an
interrupted run resumed later is bit-identical to an uninterrupted one on the Reference
platform (double precision, single thread, deterministic for a given seed).

**Mappings** (:func:`cg_mapping`), N beads:

- ``"kmedoids"``: k-medoids (PAM swaps, ``n_init`` seeded k-medoids++ starts) of the heavy
  atoms under the shortest-path distance on the bond graph, each bond weighted by its mean
  length over the frames. Every atom then joins the medoid nearest along bonds (one
  multi-source Dijkstra), so each bead is a connected piece of the molecule and a hydrogen
  always joins the bead of the heavy atom it is bonded to. When N exceeds the number of heavy
  atoms (alanine dipeptide has 10 and CGVAE reports N = 3..12), the clustering runs on all
  atoms instead, hydrogens included, as CGVAE's mappings are defined on all 22 atoms; beads
  made of hydrogens alone then occur.
- ``"backbone"``: the backbone chain (ACE CH3, C; N, CA, C of each residue; NME N, C) split
  into N consecutive segments of nearly equal length; every other atom joins the segment of
  the backbone atom nearest along bonds (cf. CGVAE's ``backbonepartition``, which draws the
  split points at random).

**Data set** (:func:`make_cg_dataset`): frames, beads and a train/val/test split by
contiguous time blocks (the trajectory is cut into ``n_blocks`` blocks, assigned to splits
by a seeded permutation), so correlated neighbouring frames fall in different splits only at
block boundaries. The k-medoids bond lengths come from the training frames only.

Units: positions in Å, time in ps, energies in kJ/mol, masses in Da.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench._types import is_int, is_real

from ._shards import _shard_path, dataset_dir, load_shards, run_shards

__all__ = [
    "PLATFORMS",
    "SOLVENTS",
    "SYSTEMS",
    "CGConfig",
    "CGDataset",
    "MDConfig",
    "Mapping",
    "Trajectory",
    "cg_mapping",
    "dihedral",
    "load_structure",
    "make_cg_dataset",
    "map_to_beads",
    "phi_psi",
    "simulate",
    "structure_path",
]

log = logging.getLogger(__name__)

#: system name -> PDB file in ``structures/``
SYSTEMS = {"alanine_dipeptide": "alanine_dipeptide.pdb", "chignolin": "chignolin.pdb"}
SOLVENTS = ("obc2", "vacuum")
PLATFORMS = ("Reference", "CPU")
METHODS = ("kmedoids", "backbone")
CENTRES = ("geometry", "mass")

_STRUCTURES = Path(__file__).resolve().parent / "structures"
_FORMAT = 1  # bump when the content of a shard changes
_NM = 10.0  # Å per nm
# backbone chain atoms of each residue, in chain order
_BACKBONE = {"ACE": ("CH3", "C"), "NME": ("N", "C")}
_BACKBONE_DEFAULT = ("N", "CA", "C")


def _openmm() -> Any:
    try:
        import openmm
        import openmm.app
        import openmm.unit
    except ImportError as err:
        raise ImportError(
            "molecular dynamics needs OpenMM: pip install 'equivariant-workbench[md]'"
        ) from err
    return openmm


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class MDConfig:
    """Settings of one MD run (defaults: the quick size, 2 ns of alanine dipeptide).

    ``timestep`` is in fs; ``save_interval`` and ``equilibration`` in ps and must be whole
    numbers of steps. ``n_frames`` is not part of the cache key: a longer run reuses the
    shards of a shorter one with the same other settings. ``threads`` is the thread count of
    the CPU platform (Reference is single-threaded).
    """

    system: str = "alanine_dipeptide"
    solvent: str = "obc2"
    temperature: float = 300.0
    friction: float = 1.0
    timestep: float = 2.0
    save_interval: float = 1.0
    equilibration: float = 20.0
    n_frames: int = 2000
    frames_per_shard: int = 500
    platform: str = "Reference"
    threads: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key, options in (
            ("system", tuple(SYSTEMS)),
            ("solvent", SOLVENTS),
            ("platform", PLATFORMS),
        ):
            value = getattr(self, key)
            if value not in options:
                raise ValueError(f"{name}.{key}={value!r}: expected one of {options}")
        for key in ("temperature", "friction", "timestep", "save_interval"):
            value = getattr(self, key)
            if not is_real(value) or value <= 0:
                raise ValueError(f"{name}.{key}={value!r}: expected a number > 0")
        if not is_real(self.equilibration) or self.equilibration < 0:
            raise ValueError(f"{name}.equilibration={self.equilibration!r}: expected ps >= 0")
        for key, minimum in (("n_frames", 1), ("frames_per_shard", 1), ("threads", 1)):
            value = getattr(self, key)
            if not is_int(value) or value < minimum:
                raise ValueError(f"{name}.{key}={value!r}: expected an int >= {minimum}")
        if not is_int(self.seed) or not 0 <= self.seed < 2**63:
            raise ValueError(f"{name}.seed={self.seed!r}: expected an int >= 0")
        for key in ("save_interval", "equilibration"):
            steps = getattr(self, key) * 1000.0 / self.timestep
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                raise ValueError(
                    f"{name}.{key}={getattr(self, key)} ps is not a whole number of "
                    f"{self.timestep} fs steps"
                )

    @property
    def steps_per_frame(self) -> int:
        """Integrator steps between saved frames."""
        return round(self.save_interval * 1000.0 / self.timestep)

    @property
    def equilibration_steps(self) -> int:
        """Integrator steps of equilibration (after minimisation, before frame 0)."""
        return round(self.equilibration * 1000.0 / self.timestep)

    @property
    def n_shards(self) -> int:
        """Shards needed for ``n_frames`` frames (the last one may hold extra frames)."""
        return math.ceil(self.n_frames / self.frames_per_shard)


@dataclass(frozen=True)
class CGConfig:
    """A CG data set: an MD run, a mapping with ``n_beads`` beads, and a time-block split.

    ``fractions`` (train, val, test) are rounded to whole blocks of the ``n_blocks`` blocks
    (at least one block for each nonzero fraction).
    """

    md: MDConfig = field(default_factory=MDConfig)
    n_beads: int = 6
    method: str = "kmedoids"
    centre: str = "geometry"
    mapping_seed: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    n_blocks: int = 10
    split_seed: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not isinstance(self.md, MDConfig):
            raise TypeError(f"{name}.md: expected an MDConfig, got {type(self.md).__name__}")
        if not is_int(self.n_beads) or self.n_beads < 1:
            raise ValueError(f"{name}.n_beads={self.n_beads!r}: expected an int >= 1")
        if self.method not in METHODS:
            raise ValueError(f"{name}.method={self.method!r}: expected one of {METHODS}")
        if self.centre not in CENTRES:
            raise ValueError(f"{name}.centre={self.centre!r}: expected one of {CENTRES}")
        for key in ("mapping_seed", "split_seed"):
            if not is_int(getattr(self, key)) or getattr(self, key) < 0:
                raise ValueError(f"{name}.{key}={getattr(self, key)!r}: expected an int >= 0")
        fractions = tuple(self.fractions)
        if (
            len(fractions) != 3
            or not all(is_real(f) and f >= 0 for f in fractions)
            or fractions[0] <= 0
            or abs(sum(fractions) - 1) > 1e-9
        ):
            raise ValueError(
                f"{name}.fractions={self.fractions!r}: expected (train, val, test) >= 0 "
                "summing to 1, train > 0"
            )
        object.__setattr__(self, "fractions", tuple(float(f) for f in fractions))
        needed = sum(f > 0 for f in fractions)
        if not is_int(self.n_blocks) or self.n_blocks < needed:
            raise ValueError(
                f"{name}.n_blocks={self.n_blocks!r}: expected an int >= {needed} "
                "(one block per nonzero fraction)"
            )
        if self.md.n_frames < self.n_blocks:
            raise ValueError(
                f"{name}: md.n_frames={self.md.n_frames} is fewer than n_blocks={self.n_blocks}"
            )


# ----------------------------------------------------------------------------- containers


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Frames of one molecule: ``pos`` (n_frames, n_atoms, 3) float32 Å, ``time``
    (n_frames,) ps, ``potential_energy`` (n_frames,) kJ/mol (NaN where not computed), and
    the topology: per-atom ``atom_names``, ``residue_names``, ``residue_index``, atomic
    numbers ``z``, ``masses`` (Da), and ``bonds`` (n_bonds, 2) atom indices."""

    system: str
    pos: np.ndarray
    time: np.ndarray
    potential_energy: np.ndarray
    atom_names: tuple[str, ...]
    residue_names: tuple[str, ...]
    residue_index: np.ndarray
    z: np.ndarray
    masses: np.ndarray
    bonds: np.ndarray

    def __post_init__(self) -> None:
        n_atoms = len(self.atom_names)
        if self.pos.ndim != 3 or self.pos.shape[1:] != (n_atoms, 3):
            raise ValueError(
                f"Trajectory.pos has shape {self.pos.shape}, expected (n_frames, {n_atoms}, 3)"
            )
        for key in ("time", "potential_energy"):
            if getattr(self, key).shape != (len(self.pos),):
                raise ValueError(
                    f"Trajectory.{key} has shape {getattr(self, key).shape}, "
                    f"expected ({len(self.pos)},)"
                )
        for key in ("residue_names", "residue_index", "z", "masses"):
            if len(getattr(self, key)) != n_atoms:
                raise ValueError(
                    f"Trajectory.{key} has {len(getattr(self, key))} entries, "
                    f"expected {n_atoms} (one per atom)"
                )

    @property
    def n_frames(self) -> int:
        return int(self.pos.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.pos.shape[1])

    @property
    def heavy(self) -> np.ndarray:
        """(n_atoms,) bool: True for every atom that is not hydrogen."""
        return self.z > 1

    @property
    def heavy_pos(self) -> np.ndarray:
        """(n_frames, n_heavy, 3) positions of the heavy atoms."""
        return self.pos[:, self.heavy]

    def select(self, frames: Any) -> Trajectory:
        """The same molecule with only ``frames`` (an index array, slice or mask)."""
        pos = self.pos[frames]
        if pos.ndim != 3:
            raise ValueError(f"select({frames!r}) must keep the frame axis (use a slice/array)")
        return Trajectory(
            self.system,
            pos,
            self.time[frames],
            self.potential_energy[frames],
            self.atom_names,
            self.residue_names,
            self.residue_index,
            self.z,
            self.masses,
            self.bonds,
        )


@dataclass(frozen=True, eq=False)
class Mapping:
    """A CG mapping: ``assignment`` (n_atoms,) bead of every atom, ``weights`` (n_atoms,)
    normalised within each bead, so bead I is X_I = sum_{a(i)=I} w_i x_i."""

    assignment: np.ndarray
    weights: np.ndarray
    n_beads: int
    method: str
    centre: str

    def __post_init__(self) -> None:
        a = np.asarray(self.assignment)
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise ValueError(f"Mapping.assignment must be a 1-d int array, got {a.dtype} {a.shape}")
        counts = np.bincount(a, minlength=self.n_beads)
        if a.min() < 0 or len(counts) != self.n_beads or (counts == 0).any():
            raise ValueError(
                f"Mapping.assignment must use every bead 0..{self.n_beads - 1}, "
                f"got atoms per bead {counts.tolist()}"
            )
        sums = np.bincount(a, weights=self.weights, minlength=self.n_beads)
        if self.weights.shape != a.shape or not np.allclose(sums, 1.0, atol=1e-12):
            raise ValueError(f"Mapping.weights must sum to 1 within each bead, got {sums}")

    @property
    def n_atoms(self) -> int:
        return len(self.assignment)

    @property
    def matrix(self) -> np.ndarray:
        """The (n_beads, n_atoms) float64 linear map M, beads = M @ positions."""
        m = np.zeros((self.n_beads, self.n_atoms))
        m[self.assignment, np.arange(self.n_atoms)] = self.weights
        return m

    def members(self, bead: int) -> np.ndarray:
        """Atom indices of one bead."""
        return np.flatnonzero(self.assignment == bead)


@dataclass(frozen=True, eq=False)
class CGDataset(torch.utils.data.Dataset):
    """Frames with their beads: ``pos`` (n, n_atoms, 3) and ``beads`` (n, n_beads, 3), float32
    Å; ``splits`` maps "train"/"val"/"test" to frame indices (time blocks, see the module).
    Item i is ``{"pos": (n_atoms, 3), "beads": (n_beads, 3)}`` float32 tensors."""

    pos: np.ndarray
    beads: np.ndarray
    time: np.ndarray
    mapping: Mapping
    trajectory: Trajectory
    splits: dict[str, np.ndarray]
    config: CGConfig

    def __len__(self) -> int:
        return len(self.pos)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "pos": torch.from_numpy(self.pos[index]),
            "beads": torch.from_numpy(self.beads[index]),
        }

    @property
    def z(self) -> np.ndarray:
        return self.trajectory.z

    @property
    def heavy(self) -> np.ndarray:
        """(n_atoms,) bool mask of the heavy atoms."""
        return self.trajectory.heavy

    @property
    def heavy_pos(self) -> np.ndarray:
        """(n, n_heavy, 3) heavy-atom positions."""
        return self.pos[:, self.heavy]

    @property
    def bonds(self) -> np.ndarray:
        return self.trajectory.bonds

    def subset(self, split: str) -> CGDataset:
        """The frames of one split ("train", "val" or "test"), in time order."""
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}: expected one of {tuple(self.splits)}")
        idx = self.splits[split]
        return CGDataset(
            self.pos[idx],
            self.beads[idx],
            self.time[idx],
            self.mapping,
            self.trajectory.select(idx),
            {split: np.arange(len(idx))},
            self.config,
        )


# ----------------------------------------------------------------------------- structures


def structure_path(system: str) -> Path:
    """The PDB file of ``system`` (a key of :data:`SYSTEMS`)."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}: expected one of {tuple(SYSTEMS)}")
    path = _STRUCTURES / SYSTEMS[system]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the package was installed without its structures/*.pdb data"
        )
    return path


@functools.cache
def _pdb(system: str) -> Any:
    app = _openmm().app
    return app.PDBFile(str(structure_path(system)))


def load_structure(system: str) -> Trajectory:
    """The starting structure of ``system`` as a one-frame :class:`Trajectory` (energy NaN)."""
    nm = _openmm().unit.nanometer
    pos = np.asarray(_pdb(system).getPositions(asNumpy=True).value_in_unit(nm)) * _NM
    return _trajectory(system, pos[None].astype(np.float32), np.zeros(1), np.full(1, np.nan))


def _trajectory(system: str, pos: np.ndarray, time: np.ndarray, energy: np.ndarray) -> Trajectory:
    dalton = _openmm().unit.dalton
    top = _pdb(system).topology
    atoms = list(top.atoms())
    bonds = np.array(sorted((min(a.index, b.index), max(a.index, b.index)) for a, b in top.bonds()))
    return Trajectory(
        system=system,
        pos=pos,
        time=np.asarray(time, dtype=np.float64),
        potential_energy=np.asarray(energy, dtype=np.float64),
        atom_names=tuple(a.name for a in atoms),
        residue_names=tuple(a.residue.name for a in atoms),
        residue_index=np.array([a.residue.index for a in atoms], dtype=np.int64),
        z=np.array([a.element.atomic_number for a in atoms], dtype=np.int64),
        masses=np.array([a.element.mass.value_in_unit(dalton) for a in atoms], dtype=np.float64),
        bonds=bonds.astype(np.int64).reshape(-1, 2),
    )


# ----------------------------------------------------------------------------- simulation


def _system(config: MDConfig) -> Any:
    """The OpenMM System: amber14, no cutoff, HBonds constraints, optional native OBC2."""
    openmm = _openmm()
    return openmm.XmlSerializer.deserialize(_system_xml(config.system, config.solvent))


@functools.cache
def _system_xml(system: str, solvent: str) -> str:
    """The System of (system, solvent), serialised (built once per process: parsing the
    force field takes a second, and a string cannot be modified by a caller)."""
    openmm = _openmm()
    app = openmm.app
    from openmm.app.internal.customgbforces import GBSAOBC2Force

    topology = _pdb(system).topology
    omm_system = app.ForceField("amber14-all.xml").createSystem(
        topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
    )
    if solvent == "obc2":
        (nonbonded,) = [f for f in omm_system.getForces() if isinstance(f, openmm.NonbondedForce)]
        gb = openmm.GBSAOBCForce()
        gb.setNonbondedMethod(openmm.GBSAOBCForce.NoCutoff)
        gb.setSoluteDielectric(1.0)
        gb.setSolventDielectric(78.5)
        for i, (radius, scale) in enumerate(GBSAOBC2Force.getStandardParameters(topology)):
            gb.addParticle(nonbonded.getParticleParameters(i)[0], float(radius), float(scale))
        omm_system.addForce(gb)
    return openmm.XmlSerializer.serialize(omm_system)


def _context(config: MDConfig, shard: int) -> tuple[Any, Any]:
    """A fresh Context and its LangevinMiddleIntegrator, seeded by (seed, shard)."""
    openmm = _openmm()
    integrator = openmm.LangevinMiddleIntegrator(
        config.temperature, config.friction, config.timestep / 1000.0
    )
    integrator.setRandomNumberSeed(_openmm_seed(config.seed, shard, "integrator"))
    platform = openmm.Platform.getPlatformByName(config.platform)
    properties = {"Threads": str(config.threads)} if config.platform == "CPU" else {}
    context = openmm.Context(_system(config), integrator, platform, properties)
    return context, integrator


def _openmm_seed(seed: int, shard: int, purpose: str) -> int:
    """A seed in [1, 2^31 - 1] (OpenMM reads 0 as 'pick one at random')."""
    digest = hashlib.sha256(f"{seed}/{shard}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 1) + 1


def _md_shard(config: MDConfig, directory: str, index: int) -> dict[str, np.ndarray]:
    """Frames index * frames_per_shard ... of the run, continuing from shard index - 1."""
    openmm = _openmm()
    nm, kj = openmm.unit.nanometer, openmm.unit.kilojoule_per_mole
    context, integrator = _context(config, index)
    if index == 0:
        context.setPositions(_pdb(config.system).positions)
        openmm.LocalEnergyMinimizer.minimize(context, 1.0, 0)
        context.setVelocitiesToTemperature(
            config.temperature, _openmm_seed(config.seed, 0, "velocities")
        )
        log.info("%s: equilibrating %d steps", config.system, config.equilibration_steps)
        integrator.step(config.equilibration_steps)
    else:
        previous = _shard_path(Path(directory), index - 1)
        with np.load(previous, allow_pickle=False) as data:
            context.setPositions(data["final_positions"][0])
            context.setVelocities(data["final_velocities"][0])
    n, n_atoms = config.frames_per_shard, context.getSystem().getNumParticles()
    pos = np.empty((n, n_atoms, 3), dtype=np.float32)
    energy = np.empty(n)
    for k in range(n):
        integrator.step(config.steps_per_frame)
        state = context.getState(getPositions=True, getEnergy=True)
        pos[k] = state.getPositions(asNumpy=True).value_in_unit(nm) * _NM
        energy[k] = state.getPotentialEnergy().value_in_unit(kj)
        if not (np.isfinite(pos[k]).all() and np.isfinite(energy[k])):
            raise RuntimeError(
                f"{config.system}: the simulation blew up (non-finite positions or energy) "
                f"at frame {index * n + k}; try a smaller timestep"
            )
    state = context.getState(getPositions=True, getVelocities=True)
    first = index * n
    return {
        "pos": pos,
        "time": (first + np.arange(1, n + 1)) * config.save_interval,
        "potential_energy": energy,
        "final_positions": np.asarray(state.getPositions(asNumpy=True).value_in_unit(nm))[None],
        "final_velocities": np.asarray(
            state.getVelocities(asNumpy=True).value_in_unit(nm / openmm.unit.picosecond)
        )[None],
    }


def _settings(config: MDConfig) -> dict[str, Any]:
    openmm = _openmm()
    settings = asdict(config)
    del settings["n_frames"]
    settings["structure_sha256"] = hashlib.sha256(
        structure_path(config.system).read_bytes()
    ).hexdigest()
    settings["openmm"] = openmm.__version__
    settings["format"] = _FORMAT
    return settings


def simulate(
    config: MDConfig = MDConfig(), progress: bool = True, root: str | Path | None = None
) -> Trajectory:
    """Run (or load from the cache) the MD of ``config``: ``config.n_frames`` frames.

    Shards already on disk are loaded, the missing ones run in order (each continues from
    the previous one), so an interrupted call resumes where it stopped. Frame k is at
    t = (k + 1) * save_interval ps after equilibration. ``root`` overrides the cache dir.
    """
    if not isinstance(config, MDConfig):
        raise TypeError(f"simulate: expected an MDConfig, got {type(config).__name__}")
    directory = dataset_dir("md", _settings(config), root)
    make = functools.partial(_md_shard, config, str(directory))
    paths = run_shards(
        make,
        range(config.n_shards),
        directory,
        processes=1,
        progress=progress,
        desc=f"MD {config.system}",
    )
    data = load_shards(paths)
    n = config.n_frames
    return _trajectory(
        config.system, data["pos"][:n], data["time"][:n], data["potential_energy"][:n]
    )


# ----------------------------------------------------------------------------- geometry


def dihedral(pos: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Dihedral angles in degrees, (-180, 180], of atoms quads (m, 4) in pos (..., n, 3).

    IUPAC sign: positive when, looking from x_1 towards x_2, the near bond x_1 -> x_0 turns
    clockwise to eclipse the far bond x_2 -> x_3: atan2(|b1| b0.(b1 x b2), (b0 x b1).(b1 x b2))
    with b0 = x_1 - x_0, b1 = x_2 - x_1, b2 = x_3 - x_2.
    """
    quads = np.asarray(quads).reshape(-1, 4)
    p = np.asarray(pos, dtype=np.float64)
    x0, x1, x2, x3 = (p[..., quads[:, j], :] for j in range(4))
    b0, b1, b2 = x1 - x0, x2 - x1, x3 - x2
    y = np.linalg.norm(b1, axis=-1) * (b0 * np.cross(b1, b2)).sum(-1)
    x = (np.cross(b0, b1) * np.cross(b1, b2)).sum(-1)
    return np.degrees(np.arctan2(y, x))


def _atom_index(traj: Trajectory) -> dict[tuple[int, str], int]:
    """(residue index, atom name) -> atom index."""
    pairs = zip(traj.residue_index.tolist(), traj.atom_names, strict=True)
    return {pair: i for i, pair in enumerate(pairs)}


def phi_psi(traj: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backbone dihedrals phi (C'-N-CA-C) and psi (N-CA-C-N') in degrees of every residue
    that has both: returns (phi, psi) each (n_frames, n_res) and the residue indices."""
    index = _atom_index(traj)
    phi, psi, residues = [], [], []
    for r in np.unique(traj.residue_index):
        need = [(r - 1, "C"), (r, "N"), (r, "CA"), (r, "C"), (r + 1, "N")]
        if all(key in index for key in need):
            atoms = [index[key] for key in need]
            phi.append(atoms[:4])
            psi.append(atoms[1:])
            residues.append(int(r))
    if not residues:
        raise ValueError(f"{traj.system}: no residue has both phi and psi")
    return dihedral(traj.pos, np.array(phi)), dihedral(traj.pos, np.array(psi)), np.array(residues)


# ----------------------------------------------------------------------------- mappings


def _bond_graph(traj: Trajectory, atoms: np.ndarray) -> Any:
    """Sparse symmetric graph on ``atoms`` (indices), edges weighted by mean bond length."""
    from scipy.sparse import coo_matrix

    keep = np.isin(traj.bonds, atoms).all(1)
    bonds = traj.bonds[keep]
    length = np.linalg.norm(
        traj.pos[:, bonds[:, 0]].astype(np.float64) - traj.pos[:, bonds[:, 1]], axis=-1
    ).mean(0)
    local = np.full(traj.n_atoms, -1)
    local[atoms] = np.arange(len(atoms))
    i, j = local[bonds[:, 0]], local[bonds[:, 1]]
    n = len(atoms)
    return coo_matrix(
        (np.concatenate([length, length]), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(n, n),
    ).tocsr()


def _nearest_source(traj: Trajectory, sources: np.ndarray) -> np.ndarray:
    """For every atom, the position in ``sources`` of the source nearest along bonds (a
    shortest-path forest, so the atoms of each source form a connected subgraph)."""
    from scipy.sparse.csgraph import dijkstra

    graph = _bond_graph(traj, np.arange(traj.n_atoms))
    dist, _, nearest = dijkstra(
        graph, directed=False, indices=sources, min_only=True, return_predecessors=True
    )
    if not np.isfinite(dist).all():
        raise ValueError(f"{traj.system}: the bond graph is not connected")
    lookup = np.full(traj.n_atoms, -1)
    lookup[sources] = np.arange(len(sources))
    return lookup[nearest]


def _kmedoids(dist: np.ndarray, k: int, rng: np.random.Generator, n_init: int) -> np.ndarray:
    """Medoid indices minimising sum_v min_m dist[v, m]: PAM best-swap descent from
    ``n_init`` k-medoids++ starts; the best (cost, sorted medoids) wins."""
    n = len(dist)
    if k == n:
        return np.arange(n)
    best: tuple[float, tuple[int, ...]] | None = None
    for _ in range(n_init):
        medoids = [int(rng.integers(n))]
        while len(medoids) < k:
            d2 = dist[:, medoids].min(1) ** 2
            p = d2 / d2.sum() if d2.sum() > 0 else None
            medoids.append(int(rng.choice(n, p=p)))
        medoids = np.array(medoids)
        cost = dist[:, medoids].min(1).sum()
        while True:
            best_swap = (cost, -1, -1)
            others = np.setdiff1d(np.arange(n), medoids)
            for i in range(k):
                rest = np.delete(medoids, i)
                base = dist[:, rest].min(1) if len(rest) else np.full(n, np.inf)
                costs = np.minimum(base[:, None], dist[:, others]).sum(0)
                j = int(np.argmin(costs))
                if costs[j] < best_swap[0] - 1e-9:
                    best_swap = (float(costs[j]), i, int(others[j]))
            if best_swap[1] < 0:
                break
            cost, i, h = best_swap
            medoids[i] = h
        key = (round(float(cost), 9), tuple(sorted(int(m) for m in medoids)))
        if best is None or key < best:
            best = key
    assert best is not None
    return np.array(best[1])


def _backbone_atoms(traj: Trajectory) -> np.ndarray:
    atoms = []
    index = _atom_index(traj)
    residue_names = dict(zip(traj.residue_index.tolist(), traj.residue_names, strict=True))
    for r in sorted(residue_names):
        names = _BACKBONE.get(residue_names[r], _BACKBONE_DEFAULT)
        atoms.extend(index[(r, n)] for n in names if (r, n) in index)
    return np.array(atoms, dtype=np.int64)


def cg_mapping(
    traj: Trajectory,
    n_beads: int,
    method: str = "kmedoids",
    seed: int = 0,
    centre: str = "geometry",
    n_init: int = 10,
) -> Mapping:
    """A mapping of every atom of ``traj`` to one of ``n_beads`` connected beads.

    ``method`` "kmedoids" (1 <= n_beads <= n_atoms; on heavy atoms when n_beads <= n_heavy,
    else on all atoms) or "backbone" (1 <= n_beads <= backbone atoms); see the module
    docstring. ``centre`` "geometry" (CGVAE) or "mass" sets the bead weights. The k-medoids
    bond lengths are averaged over the frames of ``traj``. Beads are numbered by their
    lowest atom index.
    """
    if not isinstance(traj, Trajectory):
        raise TypeError(f"cg_mapping: expected a Trajectory, got {type(traj).__name__}")
    if method not in METHODS:
        raise ValueError(f"cg_mapping: method={method!r}, expected one of {METHODS}")
    if centre not in CENTRES:
        raise ValueError(f"cg_mapping: centre={centre!r}, expected one of {CENTRES}")
    if not np.isfinite(traj.pos).all():
        raise ValueError(f"cg_mapping: {traj.system} positions contain NaN or inf")
    if method == "kmedoids":
        upper, what = traj.n_atoms, "atoms"
    else:
        backbone = _backbone_atoms(traj)
        upper, what = len(backbone), "backbone atoms"
    if not is_int(n_beads) or not 1 <= n_beads <= upper:
        raise ValueError(
            f"cg_mapping: n_beads={n_beads!r} out of range for {traj.system} with method "
            f"{method!r}: expected an int in 1..{upper} (it has {upper} {what})"
        )
    if method == "kmedoids":
        from scipy.sparse.csgraph import shortest_path

        heavy = np.flatnonzero(traj.heavy)
        units = heavy if n_beads <= len(heavy) else np.arange(traj.n_atoms)
        dist = shortest_path(_bond_graph(traj, units), directed=False)
        if not np.isfinite(dist).all():
            raise ValueError(f"cg_mapping: the bond graph of {traj.system} is not connected")
        medoids = units[_kmedoids(dist, n_beads, np.random.default_rng(seed), n_init)]
        label = _nearest_source(traj, medoids)
    else:
        segment = np.empty(len(backbone), dtype=np.int64)
        for s, part in enumerate(np.array_split(np.arange(len(backbone)), n_beads)):
            segment[part] = s
        label = segment[_nearest_source(traj, backbone)]
    # renumber beads by their first atom
    _, first = np.unique(label, return_index=True)
    order = np.argsort(np.argsort(first))
    assignment = order[np.unique(label, return_inverse=True)[1]].astype(np.int64)
    w = traj.masses if centre == "mass" else np.ones(traj.n_atoms)
    weights = w / np.bincount(assignment, weights=w)[assignment]
    return Mapping(assignment, weights, int(n_beads), method, centre)


def map_to_beads(pos: np.ndarray | torch.Tensor, mapping: Mapping) -> np.ndarray | torch.Tensor:
    """Bead positions X = M x: (..., n_atoms, 3) -> (..., n_beads, 3), same type and dtype
    (numpy array or torch tensor; computed in float64 for numpy)."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"map_to_beads: expected a Mapping, got {type(mapping).__name__}")
    shape = tuple(pos.shape)
    if len(shape) < 2 or shape[-2:] != (mapping.n_atoms, 3):
        raise ValueError(
            f"map_to_beads: positions of shape {shape}, expected (..., {mapping.n_atoms}, 3)"
        )
    if isinstance(pos, torch.Tensor):
        if not torch.isfinite(pos).all():
            raise ValueError("map_to_beads: positions contain NaN or inf")
        m = torch.as_tensor(mapping.matrix, dtype=pos.dtype, device=pos.device)
        return torch.einsum("ba,...ac->...bc", m, pos)
    pos = np.asarray(pos)
    if not np.isfinite(pos).all():
        raise ValueError("map_to_beads: positions contain NaN or inf")
    out = np.einsum("ba,...ac->...bc", mapping.matrix, pos.astype(np.float64))
    return out.astype(pos.dtype) if pos.dtype.kind == "f" else out


# ----------------------------------------------------------------------------- data set


def _block_splits(n_frames: int, config: CGConfig) -> dict[str, np.ndarray]:
    blocks = np.array_split(np.arange(n_frames), config.n_blocks)
    _, f_val, f_test = config.fractions
    n_val = max(1, round(f_val * config.n_blocks)) if f_val > 0 else 0
    n_test = max(1, round(f_test * config.n_blocks)) if f_test > 0 else 0
    if config.n_blocks - n_val - n_test < 1:
        raise ValueError(
            f"CGConfig: fractions={config.fractions} leave no training block of {config.n_blocks}"
        )
    order = np.random.default_rng(config.split_seed).permutation(config.n_blocks)
    chosen = {
        "test": order[:n_test],
        "val": order[n_test : n_test + n_val],
        "train": order[n_test + n_val :],
    }
    return {
        name: np.concatenate([blocks[b] for b in sorted(ids)] or [np.zeros(0, np.int64)])
        for name, ids in (
            ("train", chosen["train"]),
            ("val", chosen["val"]),
            ("test", chosen["test"]),
        )
    }


def make_cg_dataset(
    config: CGConfig = CGConfig(), progress: bool = True, root: str | Path | None = None
) -> CGDataset:
    """Simulate (or load) ``config.md``, split it by time blocks, fit the mapping on the
    training frames, and map every frame to its beads."""
    if not isinstance(config, CGConfig):
        raise TypeError(f"make_cg_dataset: expected a CGConfig, got {type(config).__name__}")
    traj = simulate(config.md, progress=progress, root=root)
    splits = _block_splits(traj.n_frames, config)
    mapping = cg_mapping(
        traj.select(splits["train"]),
        config.n_beads,
        config.method,
        config.mapping_seed,
        config.centre,
    )
    beads = map_to_beads(traj.pos, mapping)
    return CGDataset(traj.pos, beads, traj.time, mapping, traj, splits, config)
