"""Data sets, generated offline from real physics or read from the public files.

One module per domain; each generates (sharded, cached in the user cache dir, resumable) or
loads its data and validates files, naming the file and the problem on bad input:

- :mod:`~workbench.data.shapes`, :mod:`~workbench.data.modelnet`: point clouds.
- :mod:`~workbench.data.jets` (extra ``jets``): Pythia8 + FastJet top and QCD jets in the
  layout of the Top Quark Tagging Reference Dataset; :mod:`~workbench.data.kinematics`.
- :mod:`~workbench.data.molecules` (extra ``chem``): small molecules labelled with PySCF; QM9.
- :mod:`~workbench.data.integrable`: trajectories of integrable systems with exact solutions.
- :mod:`~workbench.data.coarse_graining` (extra ``md``): OpenMM trajectories and CG mappings.
- :mod:`~workbench.data.crystals`, :mod:`~workbench.data.scattering` (extra ``scattering``):
  crystals, phonon densities of states and powder diffraction patterns.

The heavy packages of the extras are imported only by the functions that need them.
"""

from .coarse_graining import CGConfig, MDConfig, cg_mapping, make_cg_dataset, simulate
from .integrable import (
    CoupledOscillatorsConfig,
    KeplerConfig,
    PendulumConfig,
    TodaConfig,
    make_trajectories,
)
from .jets import JetData, JetsConfig, load_jets, make_jets
from .modelnet import MODELNET10_CLASSES, load_modelnet10, read_off, sample_surface
from .molecules import MoleculeData, MoleculesConfig, load_qm9, make_molecules
from .scattering import CrystalData, CrystalsConfig, make_crystals
from .shapes import CLASSES, PointClouds, ShapesConfig, make_shapes

__all__ = [
    "CLASSES",
    "MODELNET10_CLASSES",
    "CGConfig",
    "CoupledOscillatorsConfig",
    "CrystalData",
    "CrystalsConfig",
    "JetData",
    "JetsConfig",
    "KeplerConfig",
    "MDConfig",
    "MoleculeData",
    "MoleculesConfig",
    "PendulumConfig",
    "PointClouds",
    "ShapesConfig",
    "TodaConfig",
    "cg_mapping",
    "load_jets",
    "load_modelnet10",
    "load_qm9",
    "make_cg_dataset",
    "make_crystals",
    "make_jets",
    "make_molecules",
    "make_shapes",
    "make_trajectories",
    "read_off",
    "sample_surface",
    "simulate",
]
