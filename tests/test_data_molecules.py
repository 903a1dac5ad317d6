"""workbench.data.molecules: shipped molecule sources, PySCF labels (literature value,
finite-field dipole, rotation equivariance, SCF retries), sharded cache with resume, the
skip/raise policy, MoleculeData batching, and the QM9 extended-xyz reader."""

from __future__ import annotations

import importlib.util
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.data import molecules
from workbench.data._shards import dataset_dir
from workbench.data.molecules import (
    HARTREE_TO_EV,
    MoleculeData,
    MoleculesConfig,
    candidate_molecules,
    collate_molecules,
    label_molecule,
    load_qm9,
    make_molecules,
    read_qm9_xyz,
    smiles_to_conformer,
)

needs_chem = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("pyscf", "rdkit", "ase")),
    reason="the chem extra (pyscf, rdkit, ase) is not installed",
)

AU_TO_DEBYE = 2.541746473  # e a0 in Debye (CODATA 2018)

# Water at the geometry of Szabo & Ostlund, Modern Quantum Chemistry (1989), chapter 3:
# R(OH) = 1.809 a0, angle HOH = 104.52 degrees.
_R, _THETA = 1.809 * 0.529177210903, math.radians(104.52)
WATER_Z = np.array([8, 1, 1])
WATER_POS = np.array(
    [[0.0, 0.0, 0.0], [_R, 0.0, 0.0], [_R * math.cos(_THETA), _R * math.sin(_THETA), 0.0]]
)


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ----------------------------------------------------------------------------- labels


@needs_chem
def test_water_hf_sto3g_matches_szabo_ostlund():
    """Szabo & Ostlund (chapter 3, the STO-3G results for H2O) give E = -74.963 Hartree
    and |mu| = 0.679 a.u. for HF/STO-3G water at this geometry."""
    labels = label_molecule(WATER_Z, WATER_POS, "hf", "sto-3g", conv_tol=1e-11)
    assert labels["converged"] and labels["attempts"] == 1
    assert labels["energy_hartree"] == pytest.approx(-74.963, abs=1e-3)
    mu = labels["dipole"] / AU_TO_DEBYE
    assert np.linalg.norm(mu) == pytest.approx(0.679, rel=2e-3)
    # along the HOH bisector, pointing from O (negative end) towards the hydrogens
    bisector = WATER_POS[1:].mean(0) / np.linalg.norm(WATER_POS[1:].mean(0))
    assert mu @ bisector == pytest.approx(np.linalg.norm(mu), rel=1e-9)
    assert labels["homo_hartree"] < 0 < labels["lumo_hartree"]


@needs_chem
def test_default_dipole_equals_finite_field_derivative():
    """mu = -dE/dF for a variational method: the default B3LYP/STO-3G dipole from PySCF's
    density equals a central difference of the energy in a uniform field F (an independent
    route: only energies, with the field added to the one-electron Hamiltonian)."""
    from pyscf import dft, gto

    config = MoleculesConfig()
    labels = label_molecule(
        WATER_Z, WATER_POS, config.functional, config.basis, config.grid_level, conv_tol=1e-12
    )
    mol = gto.M(
        atom=list(zip(WATER_Z.tolist(), WATER_POS.tolist(), strict=True)),
        basis=config.basis,
        unit="Angstrom",
        verbose=0,
    )
    r_ints = mol.intor("int1e_r")
    nuclear = mol.atom_charges() @ mol.atom_coords()  # sum_A Z_A R_A in bohr

    def energy(field: np.ndarray) -> float:
        mf = dft.RKS(mol, xc=config.functional)
        mf.grids.level = config.grid_level
        mf.conv_tol = 1e-12
        hcore = mf.get_hcore() + np.einsum("x,xij->ij", field, r_ints)  # electron: +F.r
        mf.get_hcore = lambda *args: hcore
        return mf.kernel() - field @ nuclear  # nuclei: -F.sum Z R

    step = 1e-4
    finite = np.array([-(energy(step * e) - energy(-step * e)) / (2 * step) for e in np.eye(3)])
    np.testing.assert_allclose(labels["dipole"], finite * AU_TO_DEBYE, atol=2e-4)
    assert np.linalg.norm(labels["dipole"]) > 1.0


@needs_chem
def test_labels_rotate_with_the_molecule_hf():
    """HF labels are exact functions of the geometry: energy and orbital energies are
    invariant, the dipole rotates (and does not change under translation: neutral)."""
    z, pos = smiles_to_conformer("OCC=O", seed=0)
    rot, shift = _rotation(1), np.array([0.7, -1.3, 2.1])
    a = label_molecule(z, pos, "hf", "sto-3g", conv_tol=1e-12)
    b = label_molecule(z, pos @ rot.T + shift, "hf", "sto-3g", conv_tol=1e-12)
    for key in ("energy_hartree", "homo_hartree", "lumo_hartree"):
        assert b[key] == pytest.approx(a[key], abs=1e-9), key
    np.testing.assert_allclose(b["dipole"], rot @ a["dipole"], atol=1e-6)
    assert np.linalg.norm(a["dipole"]) > 0.5  # a real vector, not a trivial zero


@needs_chem
def test_labels_rotate_with_the_molecule_default_dft_up_to_the_grid():
    """DFT integrates on a grid fixed in space: rotating changes the labels by the grid
    error only (documented: ~1e-5 Hartree, ~1e-4 D at grid level 1)."""
    config = MoleculesConfig()
    rot = _rotation(2)
    args = (config.functional, config.basis, config.grid_level, 1e-11)
    a = label_molecule(WATER_Z, WATER_POS, *args)
    b = label_molecule(WATER_Z, WATER_POS @ rot.T, *args)
    assert abs(b["energy_hartree"] - a["energy_hartree"]) < 2e-4
    assert abs(b["homo_hartree"] - a["homo_hartree"]) < 2e-4
    np.testing.assert_allclose(b["dipole"], rot @ a["dipole"], atol=2e-3)


@needs_chem
def test_scf_retries_level_shift_then_newton_and_reports_failure():
    ref = label_molecule(WATER_Z, WATER_POS, "hf", "sto-3g", conv_tol=1e-10)
    assert ref["converged"] and ref["attempts"] == 1
    for max_cycle in (2, 4):  # too few DIIS cycles: a retry has to finish the job
        out = label_molecule(
            WATER_Z, WATER_POS, "hf", "sto-3g", conv_tol=1e-10, max_cycle=max_cycle
        )
        assert out["converged"] and out["attempts"] > 1, max_cycle
        assert out["energy_hartree"] == pytest.approx(ref["energy_hartree"], abs=1e-8)
        np.testing.assert_allclose(out["dipole"], ref["dipole"], atol=1e-5)
    out = label_molecule(WATER_Z, WATER_POS, "hf", "sto-3g", conv_tol=1e-10, max_cycle=1)
    assert not out["converged"] and out["attempts"] == 3
    with pytest.raises(ValueError, match="closed-shell"):
        label_molecule([8, 1], WATER_POS[:2])  # OH radical


@needs_chem
def test_unconverged_molecule_is_skipped_and_recorded(tmp_path):
    config = MoleculesConfig(source="smiles", smiles=("O",), functional="hf", max_cycle=1)
    with pytest.raises(ValueError, match=r"none of the 1 molecules.*smiles\[0\] 'O'.*converge"):
        make_molecules(config, progress=False, directory=tmp_path)
    with pytest.raises(ValueError, match=r"on_error='raise'.*smiles\[0\] 'O'.*did not converge"):
        make_molecules(
            MoleculesConfig(**{**config.__dict__, "on_error": "raise"}),
            progress=False,
            directory=tmp_path,
        )


# ----------------------------------------------------------------------------- sources


@needs_chem
def test_shipped_sources_counts_and_filters():
    g2, skipped = candidate_molecules(MoleculesConfig(source="g2"))
    nci, _ = candidate_molecules(MoleculesConfig(source="nci"))
    both, _ = candidate_molecules(MoleculesConfig())
    assert (len(g2), len(nci), len(both)) == (73, 421, 494)
    assert skipped == []
    for spec in g2:
        z = np.array(spec.z)
        assert set(z.tolist()) <= {1, 6, 7, 8, 9} and (z > 1).sum() <= 9 and z.sum() % 2 == 0
        assert np.array(spec.pos).shape == (len(z), 3)
    assert {"g2:H2O", "g2:CH4", "g2:C6H6"} <= {s.name for s in g2}
    assert "g2:OH" not in {s.name for s in g2}  # radical: open shell, left out
    from rdkit import Chem

    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s.smiles)) for s in nci]
    assert len(set(canonical)) == len(canonical)
    heavy = [Chem.MolFromSmiles(s.smiles).GetNumHeavyAtoms() for s in nci]
    assert max(heavy) == 9 and min(heavy) >= 1
    assert sorted(s.name for s in both) == sorted(s.name for s in g2 + nci)
    small, _ = candidate_molecules(MoleculesConfig(source="g2", max_heavy_atoms=2))
    assert 0 < len(small) < len(g2)
    assert all(sum(z > 1 for z in s.z) <= 2 for s in small)
    other, _ = candidate_molecules(MoleculesConfig(source="g2", seed=1))
    assert [s.name for s in other] != [s.name for s in g2]  # the seed shuffles ...
    assert sorted(s.name for s in other) == sorted(s.name for s in g2)  # ... the same set


@needs_chem
def test_conformer_has_hydrogens_sensible_bonds_and_is_seeded():
    z, pos = smiles_to_conformer("CCO", seed=3)
    assert sorted(z.tolist()) == [1] * 6 + [6, 6, 8]
    assert pos.dtype == np.float64 and pos.shape == (9, 3)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    carbons = np.flatnonzero(z == 6)
    assert d[carbons[0], carbons[1]] == pytest.approx(1.51, abs=0.05)  # MMFF94 C-C
    np.testing.assert_array_equal(smiles_to_conformer("CCO", seed=3)[1], pos)
    assert not np.allclose(smiles_to_conformer("CCO", seed=4)[1], pos)


@needs_chem
@pytest.mark.parametrize(
    ("smiles", "message"),
    [
        ("C1CC", "cannot parse"),
        ("C(C)(C)(C)(C)C", "valence"),
        ("[NH4+]", "net charge"),
        ("CCCl", "elements"),
        ("CCCCCCCCCC", "10 heavy atoms"),
        ("C.O", "2 fragments"),
        ("[CH3]", "radical"),
    ],
)
def test_bad_smiles_raise_or_skip_naming_the_entry(smiles, message):
    good = ("O", smiles, "C")
    with pytest.raises(ValueError, match=rf"smiles\[1\] '{_re(smiles)}'.*{message}"):
        candidate_molecules(MoleculesConfig(source="smiles", smiles=good, on_error="raise"))
    specs, skipped = candidate_molecules(MoleculesConfig(source="smiles", smiles=good))
    assert [s.smiles for s in specs] == ["O", "C"]
    assert len(skipped) == 1 and skipped[0][0] == "smiles[1]" and message in skipped[0][1]
    with pytest.raises(ValueError, match=message):
        smiles_to_conformer(smiles)


def _re(text: str) -> str:
    import re

    return re.escape(text)


@needs_chem
def test_embedding_failure_is_recorded_or_raised(tmp_path, monkeypatch):
    real = molecules.smiles_to_conformer

    def failing(smiles, seed, max_heavy_atoms, name):
        if smiles == "N":
            raise ValueError(f"entry {name}: ETKDG could not embed the SMILES {smiles!r} in 3D")
        return real(smiles, seed, max_heavy_atoms, name)

    monkeypatch.setattr(molecules, "smiles_to_conformer", failing)
    config = MoleculesConfig(source="smiles", smiles=("O", "N"), functional="hf")
    data = make_molecules(config, progress=False, directory=tmp_path)
    assert data.smiles == ("O",)
    assert data.skipped == (
        ("smiles[1]", "entry smiles[1] 'N': ETKDG could not embed the SMILES 'N' in 3D"),
    )
    with pytest.raises(ValueError, match=r"smiles\[1\] 'N': ETKDG could not embed"):
        make_molecules(
            MoleculesConfig(**{**config.__dict__, "on_error": "raise"}),
            progress=False,
            directory=tmp_path,
        )


# ----------------------------------------------------------------------------- cache


def test_config_validation():
    for kwargs, message in [
        ({"source": "pubchem"}, "source must be one of"),
        ({"source": "smiles"}, "non-empty tuple"),
        ({"smiles": ("C",)}, "only used with source='smiles'"),
        ({"max_heavy_atoms": 0}, "max_heavy_atoms"),
        ({"n_molecules": 0}, "n_molecules"),
        ({"grid_level": 10}, "grid_level"),
        ({"conv_tol": 0.0}, "conv_tol"),
        ({"on_error": "ignore"}, "on_error"),
        ({"functional": " "}, "functional"),
    ]:
        with pytest.raises(ValueError, match=message):
            MoleculesConfig(**kwargs)
    assert MoleculesConfig(source="smiles", smiles=["C"]).smiles == ("C",)


def test_cache_key_changes_with_every_setting_but_not_with_size_or_processes(tmp_path):
    base = MoleculesConfig()
    key = dataset_dir("molecules", base.settings(), root=tmp_path)
    same = [
        MoleculesConfig(n_molecules=10),
        MoleculesConfig(processes=2),
        MoleculesConfig(on_error="raise"),
        MoleculesConfig(functional="B3LYP", basis="STO-3G"),  # PySCF ignores case
    ]
    for config in same:
        assert dataset_dir("molecules", config.settings(), root=tmp_path) == key, config
    different = [
        MoleculesConfig(functional="pbe"),
        MoleculesConfig(functional="hf"),
        MoleculesConfig(basis="6-31g"),
        MoleculesConfig(grid_level=3),
        MoleculesConfig(conv_tol=1e-10),
        MoleculesConfig(max_cycle=50),
        MoleculesConfig(seed=1),
        MoleculesConfig(shard_size=8),
        MoleculesConfig(max_heavy_atoms=8),
        MoleculesConfig(source="g2"),
        MoleculesConfig(source="smiles", smiles=("C",)),
        MoleculesConfig(source="smiles", smiles=("O",)),
    ]
    keys = {dataset_dir("molecules", c.settings(), root=tmp_path) for c in different}
    assert len(keys) == len(different) and key not in keys
    assert {"pyscf", "rdkit", "ase", "format"} <= set(base.settings())


@needs_chem
def test_unknown_functional_or_basis_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="functional 'b3lpy'"):
        make_molecules(MoleculesConfig(source="g2", functional="b3lpy"), directory=tmp_path)
    with pytest.raises(ValueError, match="basis 'sto-4g'"):
        make_molecules(MoleculesConfig(source="g2", basis="sto-4g"), directory=tmp_path)
    assert not list(tmp_path.rglob("shard-*.npz"))


@needs_chem
def test_interrupted_run_resumes_without_recomputing(tmp_path, monkeypatch):
    smiles = ("O", "C", "N", "FC(F)F", "C#N")
    config = MoleculesConfig(source="smiles", smiles=smiles, functional="hf", shard_size=2)
    real = molecules.label_molecule
    calls: list[int] = []

    def counting(*args, interrupt_at=None, **kwargs):
        calls.append(1)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt  # as if the user stopped the run here
        return real(*args, **kwargs)

    monkeypatch.setattr(
        molecules, "label_molecule", lambda *a, **k: counting(*a, interrupt_at=3, **k)
    )
    with pytest.raises(KeyboardInterrupt):
        make_molecules(config, progress=False, directory=tmp_path)
    root = dataset_dir("molecules", config.settings(), root=tmp_path)
    done = sorted(p.name for p in root.glob("shard-*.npz"))
    assert done == ["shard-00000.npz"] and not list(root.glob("*.tmp"))
    first_mtime = (root / "shard-00000.npz").stat().st_mtime_ns

    calls.clear()
    monkeypatch.setattr(molecules, "label_molecule", counting)
    data = make_molecules(config, progress=False, directory=tmp_path)
    assert len(calls) == 3  # molecules 2, 3, 4: shard 0 was not recomputed
    assert (root / "shard-00000.npz").stat().st_mtime_ns == first_mtime
    assert data.smiles == smiles and data.skipped == ()

    calls.clear()
    again = make_molecules(config, progress=False, directory=tmp_path)
    fewer = make_molecules(
        MoleculesConfig(**{**config.__dict__, "n_molecules": 2}), progress=False, directory=tmp_path
    )
    assert calls == []  # everything from disk, for the same and for a smaller request
    assert fewer.smiles == smiles[:2]
    torch.testing.assert_close(fewer.targets["dipole"], data.targets["dipole"][:2])

    fresh = make_molecules(config, progress=False, directory=tmp_path / "fresh")
    for result in (again, fresh):  # resumed == uninterrupted, bit for bit
        assert torch.equal(result.z, data.z) and torch.equal(result.pos, data.pos)
        for key in data.targets:
            assert torch.equal(result.targets[key], data.targets[key]), key


@needs_chem
def test_make_molecules_targets_and_units(tmp_path):
    config = MoleculesConfig(source="smiles", smiles=("O", "C"), functional="hf")
    data = make_molecules(config, progress=False, directory=tmp_path)
    assert data.names == ("smiles[0]", "smiles[1]") and data.smiles == ("O", "C")
    assert data.z.tolist() == [8, 1, 1, 6, 1, 1, 1, 1] and data.pos.dtype == torch.float64
    assert data.ptr.tolist() == [0, 3, 8]
    t = data.targets
    assert t["dipole"].shape == (2, 3) and t["energy"].shape == (2,)
    torch.testing.assert_close(t["energy"], t["energy_hartree"] * HARTREE_TO_EV)
    torch.testing.assert_close(t["gap"], t["lumo"] - t["homo"])
    torch.testing.assert_close(t["dipole_norm"], t["dipole"].norm(dim=1))
    assert t["dipole_norm"][1] < 1e-4 < 1.0 < t["dipole_norm"][0]  # methane has none
    # the stored labels are PySCF's for the stored geometry
    z0, pos0, _ = data[0]
    direct = label_molecule(z0.numpy(), pos0.numpy(), "hf", "sto-3g")
    assert t["energy_hartree"][0].item() == pytest.approx(direct["energy_hartree"], abs=1e-8)
    np.testing.assert_allclose(t["dipole"][0].numpy(), direct["dipole"], atol=1e-6)
    assert data.units["dipole"] == "Debye" and data.units["homo"] == "eV"


# ----------------------------------------------------------------------------- MoleculeData


def _toy_data() -> MoleculeData:
    counts = [3, 1, 2, 4]
    z = torch.tensor([8, 1, 1, 6, 7, 1, 6, 1, 1, 1])
    pos = torch.arange(30, dtype=torch.float64).reshape(10, 3)
    targets = {"energy": torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)}
    targets["dipole"] = torch.arange(12, dtype=torch.float64).reshape(4, 3)
    ptr = torch.tensor(np.concatenate([[0], np.cumsum(counts)]))
    names = ("a", "b", "c", "d")
    return MoleculeData(z, pos, ptr, targets, names, ("", "", "", ""), {"energy": "eV"})


def test_molecule_data_items_collate_subset_split():
    data = _toy_data()
    z1, pos1, t1 = data[2]
    assert z1.tolist() == [7, 1] and torch.equal(pos1, data.pos[4:6]) and t1["energy"] == 3.0
    batch = collate_molecules([data[0], data[2]])
    assert batch.z.tolist() == [8, 1, 1, 7, 1] and batch.batch.tolist() == [0, 0, 0, 1, 1]
    assert batch.targets["dipole"].shape == (2, 3) and batch.pos.dtype == torch.float64
    z, pos, index, targets = collate_molecules([data[1]], dtype=torch.float32)
    assert pos.dtype == torch.float32 and targets["energy"].dtype == torch.float32
    assert index.dtype == torch.long and z.dtype == torch.long

    sub = data.subset([3, 1])
    assert sub.names == ("d", "b") and sub.ptr.tolist() == [0, 4, 5]
    assert torch.equal(sub.pos, torch.cat([data.pos[6:10], data.pos[3:4]]))
    assert data.subset(slice(1, 3)).names == ("b", "c")
    assert data.subset(torch.tensor([True, False, False, True])).names == ("a", "d")
    parts = data.split((0.5, 0.25, 0.25), seed=0)
    assert sorted(n for p in parts for n in p.names) == list(data.names)
    assert [len(p) for p in parts] == [2, 1, 1]

    loader = torch.utils.data.DataLoader(data, batch_size=3, collate_fn=collate_molecules)
    sizes = [int(b.batch.max()) + 1 for b in loader]
    assert sizes == [3, 1]
    assert [len(b.targets["energy"]) for b in data.batches(3, shuffle=True)] == [3, 1]
    assert torch.equal(data.batch, torch.tensor([0, 0, 0, 1, 2, 2, 3, 3, 3, 3]))


def test_molecule_data_atom_reference_recovers_per_element_values():
    data = _toy_data()
    truth = {1: -0.5, 6: -37.8, 7: -54.5, 8: -75.0}
    energy = torch.zeros(len(data), dtype=torch.float64).index_add_(
        0, data.batch, torch.tensor([truth[int(a)] for a in data.z], dtype=torch.float64)
    )
    data = MoleculeData(data.z, data.pos, data.ptr, {"energy": energy}, data.names, data.smiles)
    fit = data.atom_reference("energy")
    assert fit.keys() == truth.keys()
    for element, value in truth.items():
        assert fit[element] == pytest.approx(value, abs=1e-9)


def test_molecule_data_validates_its_arrays():
    data = _toy_data()
    with pytest.raises(ValueError, match="ptr must rise"):
        MoleculeData(data.z, data.pos, torch.tensor([0, 3, 3, 10]), {}, ("a",) * 3, ("",) * 3)
    with pytest.raises(ValueError, match="target 'energy' must have 4 rows"):
        MoleculeData(
            data.z, data.pos, data.ptr, {"energy": torch.zeros(3)}, data.names, data.smiles
        )
    with pytest.raises(ValueError, match="z must be"):
        MoleculeData(data.z.float(), data.pos, data.ptr, {}, data.names, data.smiles)
    with pytest.raises(IndexError):
        data[4]
    with pytest.raises(ValueError, match="at least one molecule"):
        collate_molecules([])


# ----------------------------------------------------------------------------- QM9

# dsgdb9nsd_000001.xyz (methane), verbatim from the QM9 archive (Ramakrishnan et al., Sci.
# Data 1, 140022 (2014)); tabs as in the file, a trailing tab after the 15 properties.
METHANE = (
    "5\n"
    "gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t"
    "0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t\n"
    "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\n"
    "H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n"
    "H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922\n"
    "H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923\n"
    "H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923\n"
    "1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t"
    "3151.7078\n"
    "C\tC\t\n"
    "InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4\n"
)

# A well-formed synthetic entry in the same layout (numbers made up, not QM9's water),
# with Mathematica's '*^' exponents as they occur in the archive.
SYNTHETIC = (
    "3\n"
    "gdb 3\t800.0\t400.0\t266.7\t2.1*^0\t6.3\t-0.29\t0.06\t0.35\t19.0\t0.021\t-76.4\t-76.40"
    "\t-76.39\t-76.41\t6.0\n"
    "O\t-3.4*^-5\t 0.39\t 0.0\t-0.48\n"
    "H\t 0.77\t-0.19\t 1.2*^-6\t 0.24\n"
    "H\t-0.77\t-0.19\t 0.0\t 0.24\n"
    "1690.0\t3660.0\t3770.0\n"
    "O\tO\n"
    "InChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2\n"
)


def test_read_qm9_methane_verbatim(tmp_path):
    path = tmp_path / "dsgdb9nsd_000001.xyz"
    path.write_text(METHANE)
    record = read_qm9_xyz(path)
    assert record.index == 1 and record.z.tolist() == [6, 1, 1, 1, 1]
    np.testing.assert_array_equal(record.pos[0], [-0.0126981359, 1.0858041578, 0.0080009958])
    assert record.charges[0] == -0.535689 and record.charges.sum() == pytest.approx(0, abs=1e-5)
    p = record.properties
    assert (p["A"], p["mu"], p["homo"], p["lumo"], p["gap"]) == (
        157.7118,
        0.0,
        -0.3877,
        0.1171,
        0.5048,
    )
    assert (p["U0"], p["zpve"], p["Cv"]) == (-40.47893, 0.044749, 6.469)
    assert len(record.frequencies) == 3 * 5 - 6 and record.frequencies[-1] == 3151.7078
    assert record.smiles == ("C", "C") and record.inchi == ("InChI=1S/CH4/h1H4",) * 2


def test_read_qm9_star_caret_exponents():
    record = read_qm9_xyz("synthetic.xyz", SYNTHETIC)
    assert record.properties["mu"] == 2.1
    assert record.pos[0, 0] == pytest.approx(-3.4e-5, rel=1e-15)
    assert record.pos[1, 2] == pytest.approx(1.2e-6, rel=1e-15)
    assert record.z.tolist() == [8, 1, 1] and record.frequencies.tolist() == [
        1690.0,
        3660.0,
        3770.0,
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("5\n", "five\n", 1), r"line 1: expected the number of atoms"),
        (lambda t: t.replace("\t6.469\t", "\t", 1), r"line 2: expected 'gdb <index>' and 15"),
        (lambda t: t.replace("gdb 1", "qm9 1", 1), r"line 2: expected 'gdb <index>'"),
        (lambda t: t.replace("-0.3877", "-0.38.77", 1), r"line 2, homo: expected a number"),
        (lambda t: t.replace(" 1.4637511618", " 1.46*^x", 1), r"line 5, coordinate: .*'1.46\*\^x'"),
        (
            lambda t: t.replace("H\t 0.002150416", "Xx\t 0.002150416", 1),
            r"line 4: unknown element 'Xx'",
        ),
        (lambda t: t.replace("\t 0.133921\n", "\n", 1), r"line 4: expected 'element x y z charge'"),
        (lambda t: t.replace("\t-0.535689", "\tnan", 1), r"line 3, charge: expected a finite"),
        (lambda t: t.replace("1562.6731", "1562,6731", 1), r"line 8, frequency"),
        (lambda t: t.rsplit("InChI", 2)[0], r"line 10 \(InChI\) missing"),
        (
            lambda t: t.replace("InChI=1S/CH4/h1H4\t", "1S/CH4\t", 1),
            r"lines 9-10: expected the SMILES",
        ),
        (lambda t: t + "extra\n", r"line 11: unexpected content"),
        (
            lambda t: "\n".join(t.splitlines()[:4]),
            r"ends at line 4; line 5 \(atom 3 of 5\) missing",
        ),
    ],
)
def test_read_qm9_malformed_names_file_and_line(tmp_path, edit, message):
    path = tmp_path / "dsgdb9nsd_000001.xyz"
    path.write_text(edit(METHANE))
    with pytest.raises(ValueError, match=rf"dsgdb9nsd_000001\.xyz.*{message}"):
        read_qm9_xyz(path)


def test_load_qm9_directory_archive_and_targets(tmp_path):
    folder = tmp_path / "qm9"
    folder.mkdir()
    (folder / "dsgdb9nsd_000001.xyz").write_text(METHANE)
    (folder / "dsgdb9nsd_000003.xyz").write_text(SYNTHETIC)
    data = load_qm9(folder, progress=False)
    assert data.names == ("gdb_1", "gdb_3") and data.smiles == ("C", "O")
    assert data.ptr.tolist() == [0, 5, 8] and data.z.tolist() == [6, 1, 1, 1, 1, 8, 1, 1]
    t = data.targets
    assert "dipole" not in t  # QM9 holds |mu| only
    torch.testing.assert_close(t["dipole_norm"], torch.tensor([0.0, 2.1], dtype=torch.float64))
    assert t["energy_hartree"][0].item() == -40.47893
    assert t["energy"][0].item() == pytest.approx(-40.47893 * HARTREE_TO_EV)
    assert t["homo"][0].item() == pytest.approx(-0.3877 * HARTREE_TO_EV)
    assert t["gap"][0].item() == pytest.approx(0.5048 * HARTREE_TO_EV)
    assert t["alpha"][0].item() == 13.21 and data.units["alpha"] == "Bohr^3"
    assert data.units["homo"] == "eV" and data.units["dipole_norm"] == "Debye"

    archive = tmp_path / "dsgdb9nsd.xyz.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for file in sorted(folder.iterdir()):
            tar.add(file, arcname=file.name)
    from_tar = load_qm9(archive, progress=False)
    assert from_tar.names == data.names and torch.equal(from_tar.pos, data.pos)
    assert load_qm9(folder, exclude=[1], progress=False).names == ("gdb_3",)
    assert load_qm9([folder / "dsgdb9nsd_000003.xyz"], progress=False).names == ("gdb_3",)
    assert len(load_qm9(folder, limit=1, progress=False)) == 1

    (folder / "dsgdb9nsd_000004.xyz").write_text(METHANE.replace("gdb 1", "gdb x"))
    with pytest.raises(ValueError, match=r"dsgdb9nsd_000004\.xyz, line 2"):
        load_qm9(folder, progress=False)
    with pytest.raises(FileNotFoundError):
        load_qm9(tmp_path / "missing", progress=False)


def test_qm9_batch_feeds_the_model_interface(tmp_path):
    (tmp_path / "a.xyz").write_text(METHANE)
    (tmp_path / "b.xyz").write_text(SYNTHETIC)
    batch = next(load_qm9(tmp_path, progress=False).batches(2, dtype=torch.float32))
    z, pos, index, targets = batch
    assert z.dtype == torch.long and pos.shape == (8, 3) and pos.dtype == torch.float32
    assert index.tolist() == [0] * 5 + [1] * 3 and targets["energy"].shape == (2,)


def test_module_does_not_import_chem_packages_at_import_time():
    """pyscf, rdkit and ase are imported inside the functions that need them."""
    import ast

    tree = ast.parse(Path(molecules.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.split(".")[0] in ("pyscf", "rdkit", "ase")]


@needs_chem
@pytest.mark.slow
def test_two_worker_processes_give_the_same_shards(tmp_path):
    """Shards computed in spawned workers equal those computed in this process."""
    config = MoleculesConfig(source="smiles", smiles=("O", "C", "N"), functional="hf", shard_size=1)
    one = make_molecules(config, progress=False, directory=tmp_path / "one")
    two = make_molecules(
        MoleculesConfig(**{**config.__dict__, "processes": 2}),
        progress=False,
        directory=tmp_path / "two",
    )
    assert torch.equal(one.pos, two.pos)
    for key in one.targets:
        torch.testing.assert_close(one.targets[key], two.targets[key], rtol=0, atol=1e-9)
