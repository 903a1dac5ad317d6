"""Rebuild the starting structures shipped next to this file (run once; needs rdkit + openmm).

    python workbench/data/structures/build_structures.py

How each PDB is made (no coordinates are downloaded; chignolin is *not* the NMR structure
1UAO, only its sequence):

1. Heavy atoms with PDB names from RDKit: alanine dipeptide (ACE-ALA-NME) from the SMILES
   ``CC(=O)N[C@@H](C)C(=O)NC`` with the names assigned below; chignolin from
   ``Chem.MolFromSequence("GYDPETGTWG")`` (L amino acids, names from RDKit). Hydrogens are added,
   one 3D conformer is embedded with ETKDGv3 (``randomSeed=SEED``) and relaxed with MMFF94,
   then the hydrogens are removed again. For chignolin this is a random-coil conformer, not
   the folded beta hairpin: a few ns of implicit-solvent MD will not fold it (folding takes
   microseconds).
2. OpenMM ``Modeller.addHydrogens`` with amber14 adds the hydrogens with amber names and
   protonation at pH 7 (chignolin: charged termini, Asp and Glu deprotonated; net charge -2).
3. Energy minimisation with amber14-all + implicit/obc2 (no cutoff, HBonds constraints),
   then ``PDBFile.writeFile``.

The chirality of every stereocentre is checked (CIP labels of L amino acids) before writing.
A rebuild gives the same heavy-atom conformer but not the same bytes: ``addHydrogens`` places
hydrogens with a random component (methyl H1/H2/H3 may swap), so the minimised coordinates
differ by ~0.05 Å. The shipped files are the reference; the MD cache key includes their
SHA-256, so a rebuilt file starts new trajectories.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openmm
import openmm.app as app
import openmm.unit as unit
from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

SEED = 20220126
HERE = Path(__file__).resolve().parent

# heavy atoms of ACE-ALA-NME in SMILES order: (name, residue, residue number)
_ALA2_SMILES = "CC(=O)N[C@@H](C)C(=O)NC"
_ALA2_NAMES = [
    ("CH3", "ACE", 1),
    ("C", "ACE", 1),
    ("O", "ACE", 1),
    ("N", "ALA", 2),
    ("CA", "ALA", 2),
    ("CB", "ALA", 2),
    ("C", "ALA", 2),
    ("O", "ALA", 2),
    ("N", "NME", 3),
    ("C", "NME", 3),
]
# expected CIP labels of the stereocentres (L amino acids): (residue name, atom name) -> label
_CIP = {
    ("ALA", "CA"): "S",
    ("TYR", "CA"): "S",
    ("ASP", "CA"): "S",
    ("PRO", "CA"): "S",
    ("GLU", "CA"): "S",
    ("THR", "CA"): "S",
    ("THR", "CB"): "R",
    ("TRP", "CA"): "S",
}


def _alanine_dipeptide() -> Chem.Mol:
    mol = Chem.MolFromSmiles(_ALA2_SMILES)
    for atom, (name, resname, resnum) in zip(mol.GetAtoms(), _ALA2_NAMES, strict=True):
        info = Chem.AtomPDBResidueInfo()
        info.SetName(f" {name:<3}" if len(name) < 4 else name)
        info.SetResidueName(resname)
        info.SetResidueNumber(resnum)
        info.SetChainId("A")
        info.SetIsHeteroAtom(False)
        atom.SetMonomerInfo(info)
    return mol


def _chignolin() -> Chem.Mol:
    return Chem.MolFromSequence("GYDPETGTWG")


def _check_chirality(mol: Chem.Mol) -> None:
    Chem.AssignStereochemistryFrom3D(mol)
    for atom in mol.GetAtoms():
        info = atom.GetPDBResidueInfo()
        key = (info.GetResidueName(), info.GetName().strip())
        if key in _CIP:
            label = atom.GetProp("_CIPCode") if atom.HasProp("_CIPCode") else "?"
            if label != _CIP[key]:
                raise RuntimeError(f"{key}: CIP {label}, expected {_CIP[key]}")


def _heavy_pdb(mol: Chem.Mol) -> str:
    withh = Chem.AddHs(mol, addCoords=False, addResidueInfo=True)
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    if AllChem.EmbedMolecule(withh, params) != 0:
        raise RuntimeError("ETKDG embedding failed")
    AllChem.MMFFOptimizeMolecule(withh, maxIters=2000)
    heavy = Chem.RemoveHs(withh)
    _check_chirality(heavy)
    return Chem.MolToPDBBlock(heavy, flavor=2)  # flavor 2: no CONECT records


def build(name: str, mol: Chem.Mol) -> Path:
    tmp = HERE / f"{name}.heavy.tmp.pdb"
    tmp.write_text(_heavy_pdb(mol))
    try:
        pdb = app.PDBFile(str(tmp))
    finally:
        tmp.unlink()
    forcefield = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.addHydrogens(forcefield, pH=7.0)
    system = forcefield.createSystem(
        modeller.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
    )
    integrator = openmm.VerletIntegrator(0.001)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(modeller.positions)
    openmm.LocalEnergyMinimizer.minimize(context, 1.0, 0)
    state = context.getState(getPositions=True, getEnergy=True)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    path = HERE / f"{name}.pdb"
    with path.open("w") as f:
        f.write(
            f"REMARK   1 {name}: built by workbench/data/structures/build_structures.py\n"
            f"REMARK   1 RDKit {rdBase.rdkitVersion} ETKDGv3 seed {SEED} + MMFF94 (heavy atoms),\n"
            f"REMARK   1 OpenMM {openmm.__version__} Modeller.addHydrogens pH 7 (amber14),\n"
            f"REMARK   1 minimised with amber14-all + obc2: E = {energy:.1f} kJ/mol\n"
        )
        app.PDBFile.writeFile(modeller.topology, state.getPositions(), f, keepIds=True)
    return path


def main() -> None:
    for name, mol in (("alanine_dipeptide", _alanine_dipeptide()), ("chignolin", _chignolin())):
        path = build(name, mol)
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
