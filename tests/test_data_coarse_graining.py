"""Coarse-graining data: structures, OpenMM runs (determinism, resume, physical bonds), CG
mappings (coverage, contiguity, weights, equivariance), the time-block data set, errors."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

openmm = pytest.importorskip("openmm")
app = pytest.importorskip("openmm.app")

from workbench.checks import equivariance_report  # noqa: E402
from workbench.data import coarse_graining as cg  # noqa: E402
from workbench.data.coarse_graining import (  # noqa: E402
    CGConfig,
    MDConfig,
    Trajectory,
    cg_mapping,
    dihedral,
    load_structure,
    make_cg_dataset,
    map_to_beads,
    phi_psi,
    simulate,
    structure_path,
)

# 10 fs between frames and no equilibration: a few hundred steps per test run
TINY = MDConfig(n_frames=6, frames_per_shard=2, save_interval=0.01, equilibration=0.0)
SEQUENCES = {
    "alanine_dipeptide": ["ACE", "ALA", "NME"],
    "chignolin": ["GLY", "TYR", "ASP", "PRO", "GLU", "THR", "GLY", "THR", "TRP", "GLY"],
}


def _contiguous(traj: Trajectory, mapping) -> bool:
    """Every bead is one connected piece of the bond graph."""
    n = traj.n_atoms
    i, j = traj.bonds.T
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    for bead in range(mapping.n_beads):
        atoms = mapping.members(bead)
        n_parts, _ = connected_components(graph[atoms][:, atoms], directed=False)
        if n_parts != 1:
            return False
    return True


def _bond_lengths(traj: Trajectory) -> np.ndarray:
    return np.linalg.norm(traj.pos[:, traj.bonds[:, 0]] - traj.pos[:, traj.bonds[:, 1]], axis=-1)


# ----------------------------------------------------------------------------- structures


@pytest.mark.parametrize("system", ["alanine_dipeptide", "chignolin"])
def test_structure_is_templated_by_amber14(system):
    pdb = app.PDBFile(str(structure_path(system)))
    residues = [r.name for r in pdb.topology.residues()]
    assert residues == SEQUENCES[system]
    # raises if any residue has no template; GB parameters need every atom typed too
    forcefield = app.ForceField("amber14-all.xml", "implicit/obc2.xml")
    system_ = forcefield.createSystem(pdb.topology, nonbondedMethod=app.NoCutoff)
    assert system_.getNumParticles() == {"alanine_dipeptide": 22, "chignolin": 138}[system]
    traj = load_structure(system)
    assert traj.pos.shape == (1, system_.getNumParticles(), 3)
    assert traj.heavy.sum() == {"alanine_dipeptide": 10, "chignolin": 77}[system]
    lengths = _bond_lengths(traj)[0]
    assert 0.9 < lengths.min() and lengths.max() < 1.6, (lengths.min(), lengths.max())
    # every hydrogen has exactly one bond, to a heavy atom
    h = np.flatnonzero(traj.z == 1)
    partners = [traj.bonds[(traj.bonds == k).any(1)] for k in h]
    assert all(len(p) == 1 for p in partners)


@pytest.mark.parametrize("system", ["alanine_dipeptide", "chignolin"])
def test_native_obc2_equals_openmm_obc2_file(system):
    """The fast GBSAOBCForce system reproduces amber14-all.xml + implicit/obc2.xml."""
    pdb = app.PDBFile(str(structure_path(system)))
    reference = app.ForceField("amber14-all.xml", "implicit/obc2.xml").createSystem(
        pdb.topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
    )
    ours = cg._system(MDConfig(system=system))
    results = []
    for sys_ in (reference, ours):
        context = openmm.Context(
            sys_, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
        )
        context.setPositions(pdb.positions)
        state = context.getState(getEnergy=True, getForces=True)
        results.append(
            (state.getPotentialEnergy()._value, state.getForces(asNumpy=True)._value.copy())
        )
    (e_ref, f_ref), (e_ours, f_ours) = results
    assert abs(e_ours - e_ref) < 1e-5 * abs(e_ref)
    assert np.abs(f_ours - f_ref).max() < 1e-5 * np.abs(f_ref).max()
    vacuum = cg._system(MDConfig(system=system, solvent="vacuum"))
    assert vacuum.getNumForces() == ours.getNumForces() - 1


def test_minimisation_lowers_energy():
    config = MDConfig()
    context, _ = cg._context(config, 0)
    pos = load_structure(config.system).pos[0].astype(np.float64) / 10
    pos += np.random.default_rng(0).normal(scale=0.005, size=pos.shape)  # 0.05 Å noise
    context.setPositions(pos)
    before = context.getState(getEnergy=True).getPotentialEnergy()._value
    openmm.LocalEnergyMinimizer.minimize(context, 1.0, 0)
    after = context.getState(getEnergy=True).getPotentialEnergy()._value
    assert after < before - 10.0, (before, after)


# ----------------------------------------------------------------------------- MD


def test_run_is_deterministic_per_seed_and_differs_across_seeds(tmp_path):
    a = simulate(TINY, progress=False, root=tmp_path / "a")
    b = simulate(TINY, progress=False, root=tmp_path / "b")
    c = simulate(replace(TINY, seed=1), progress=False, root=tmp_path / "c")
    assert a.pos.shape == (6, 22, 3) and a.pos.dtype == np.float32
    np.testing.assert_array_equal(a.pos, b.pos)
    np.testing.assert_array_equal(a.potential_energy, b.potential_energy)
    assert np.abs(a.pos - c.pos).max() > 1e-3
    np.testing.assert_allclose(a.time, 0.01 * np.arange(1, 7))
    assert np.isfinite(a.potential_energy).all()


def test_interrupted_run_resumes_to_the_same_trajectory(tmp_path, monkeypatch):
    whole = simulate(TINY, progress=False, root=tmp_path / "whole")
    original = cg._md_shard

    def crash_at_shard_2(config, directory, index):
        if index == 2:
            raise KeyboardInterrupt("interrupted")
        return original(config, directory, index)

    monkeypatch.setattr(cg, "_md_shard", crash_at_shard_2)
    with pytest.raises(KeyboardInterrupt):
        simulate(TINY, progress=False, root=tmp_path / "resumed")
    shards = sorted((tmp_path / "resumed").rglob("shard-*.npz"))
    assert [p.name for p in shards] == ["shard-00000.npz", "shard-00001.npz"]

    calls = []

    def counting(config, directory, index):
        calls.append(index)
        return original(config, directory, index)

    monkeypatch.setattr(cg, "_md_shard", counting)
    resumed = simulate(TINY, progress=False, root=tmp_path / "resumed")
    assert calls == [2]  # only the missing shard ran
    np.testing.assert_array_equal(resumed.pos, whole.pos)
    # a cached run loads without simulating; a longer run reuses the shards on disk
    calls.clear()
    simulate(TINY, progress=False, root=tmp_path / "resumed")
    longer = simulate(replace(TINY, n_frames=7), progress=False, root=tmp_path / "resumed")
    assert calls == [3]
    np.testing.assert_array_equal(longer.pos[:6], whole.pos)


@pytest.mark.parametrize(
    ("system", "solvent"),
    [("alanine_dipeptide", "obc2"), ("alanine_dipeptide", "vacuum"), ("chignolin", "obc2")],
)
def test_bonds_stay_physical(system, solvent, tmp_path):
    config = MDConfig(
        system=system,
        solvent=solvent,
        n_frames=10,
        frames_per_shard=10,
        save_interval=0.1,
        equilibration=0.0,
    )  # 500 steps
    traj = simulate(config, progress=False, root=tmp_path)
    lengths = _bond_lengths(traj)
    assert 0.9 < lengths.min() and lengths.max() < 1.65, (lengths.min(), lengths.max())
    # bonds to hydrogen are constrained: their lengths do not change over the run
    to_h = (traj.z[traj.bonds] == 1).any(1)
    spread = lengths[:, to_h].max(0) - lengths[:, to_h].min(0)
    assert spread.max() < 1e-3
    assert (lengths[:, ~to_h].std(0) > 1e-3).all()  # the others vibrate
    # the molecule stays one piece and drifts slowly
    assert np.abs(traj.pos - traj.pos.mean(1, keepdims=True)).max() < 30


def test_dihedral_sign_convention():
    theta = np.radians([-170.0, -60.0, 0.0, 45.0, 120.0, 180.0])
    quads = np.arange(4 * len(theta)).reshape(-1, 4)
    pos = np.concatenate(
        [
            np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1.3], [np.cos(t), np.sin(t), 1.3]])
            for t in theta
        ]
    )
    np.testing.assert_allclose(
        np.radians(dihedral(pos, quads)), np.angle(np.exp(1j * theta)), atol=1e-12
    )


def test_phi_psi_of_alanine_dipeptide():
    traj = load_structure("alanine_dipeptide")
    phi, psi, residues = phi_psi(traj)
    assert residues.tolist() == [1] and phi.shape == psi.shape == (1, 1)
    assert -180 < phi[0, 0] < 0  # L-alanine
    chig_phi, _, chig_res = phi_psi(load_structure("chignolin"))
    assert chig_res.tolist() == list(range(1, 9)) and chig_phi.shape == (1, 8)


@pytest.mark.slow
def test_alanine_dipeptide_dihedrals_move(tmp_path):
    """1 ns (500k steps; 25 s on an idle core, 2 min on a loaded one): psi leaves its
    starting basin and explores > 90 degrees; phi stays mostly negative (L-alanine)."""
    traj = simulate(MDConfig(n_frames=1000), progress=False, root=tmp_path)
    phi, psi, _ = phi_psi(traj)
    assert np.isfinite(phi).all() and (phi < 0).mean() > 0.5
    assert np.ptp(psi) > 90 and psi.std() > 15
    assert np.ptp(phi) > 40


# ----------------------------------------------------------------------------- mappings


@pytest.fixture(scope="module")
def ala2() -> Trajectory:
    return simulate(
        MDConfig(n_frames=20, frames_per_shard=20, equilibration=1.0, save_interval=0.1),
        progress=False,
    )


@pytest.mark.parametrize("n_beads", range(3, 13))
def test_kmedoids_mapping_of_alanine_dipeptide(ala2, n_beads):
    m = cg_mapping(ala2, n_beads)
    assert m.assignment.shape == (22,) and m.n_beads == n_beads
    assert set(m.assignment.tolist()) == set(range(n_beads))  # every atom, every bead
    assert _contiguous(ala2, m)
    # beads are numbered in order of their first atom
    firsts = [m.members(b)[0] for b in range(n_beads)]
    assert firsts == sorted(firsts)
    h_bonds = ala2.bonds[(ala2.z[ala2.bonds] == 1).any(1)]
    if n_beads <= 10:  # heavy-atom clustering: every bead has a heavy atom, H with its atom
        assert all(ala2.heavy[m.members(b)].any() for b in range(n_beads))
        assert (m.assignment[h_bonds[:, 0]] == m.assignment[h_bonds[:, 1]]).all()
    else:  # all-atom clustering (CGVAE maps all 22 atoms): some hydrogen has a bead of its own
        assert not (m.assignment[h_bonds[:, 0]] == m.assignment[h_bonds[:, 1]]).all()
    # deterministic per seed
    np.testing.assert_array_equal(cg_mapping(ala2, n_beads).assignment, m.assignment)


def test_kmedoids_beads_are_compact_and_nested_with_resolution(ala2):
    """The optimum cost (sum of along-bond distances to the medoid) falls as N grows."""
    from scipy.sparse.csgraph import shortest_path

    heavy = np.flatnonzero(ala2.heavy)
    dist = shortest_path(cg._bond_graph(ala2, heavy), directed=False)
    costs = []
    for k in range(1, 11):
        med = cg._kmedoids(dist, k, np.random.default_rng(0), 10)
        costs.append(dist[:, med].min(1).sum())
        # exhaustive check on this small graph: PAM with restarts finds the optimum
        if k in (2, 3):
            combos = itertools.combinations(range(10), k)
            best = min(dist[:, list(c)].min(1).sum() for c in combos)
            assert costs[-1] == pytest.approx(best)
    assert all(a > b for a, b in itertools.pairwise(costs)) and costs[-1] == 0


@pytest.mark.parametrize("n_beads", [3, 6, 12])
@pytest.mark.parametrize("method", ["kmedoids", "backbone"])
def test_chignolin_mappings_are_contiguous(n_beads, method):
    traj = load_structure("chignolin")
    m = cg_mapping(traj, n_beads, method=method)
    assert set(m.assignment.tolist()) == set(range(n_beads))
    assert _contiguous(traj, m)
    h_bonds = traj.bonds[(traj.z[traj.bonds] == 1).any(1)]
    assert (m.assignment[h_bonds[:, 0]] == m.assignment[h_bonds[:, 1]]).all()


def test_backbone_mapping_of_alanine_dipeptide(ala2):
    backbone = ["CH3", "C", "N", "CA", "C", "N", "C"]
    assert [ala2.atom_names[i] for i in cg._backbone_atoms(ala2)] == backbone
    for n_beads in range(1, 8):
        m = cg_mapping(ala2, n_beads, method="backbone")
        assert set(m.assignment.tolist()) == set(range(n_beads))
        assert _contiguous(ala2, m)
    m7 = cg_mapping(ala2, 7, method="backbone")
    cb = ala2.atom_names.index("CB")
    ca = ala2.atom_names.index("CA")
    assert m7.assignment[cb] == m7.assignment[ca]  # the side chain joins its CA


@pytest.mark.parametrize("centre", ["geometry", "mass"])
def test_beads_are_weighted_means_of_their_atoms(ala2, centre):
    m = cg_mapping(ala2, 5, centre=centre)
    pos = ala2.pos.astype(np.float64)
    beads = map_to_beads(pos, m)
    assert beads.shape == (ala2.n_frames, 5, 3) and beads.dtype == np.float64
    for b in range(5):
        atoms = m.members(b)
        w = ala2.masses[atoms] if centre == "mass" else np.ones(len(atoms))
        expected = (pos[:, atoms] * w[:, None]).sum(1) / w.sum()
        np.testing.assert_allclose(beads[:, b], expected, atol=1e-12)
    # torch path agrees, float32 stays float32
    as_torch = map_to_beads(torch.from_numpy(pos), m)
    np.testing.assert_allclose(as_torch.numpy(), beads, atol=1e-12)
    assert map_to_beads(ala2.pos, m).dtype == np.float32
    np.testing.assert_allclose(m.matrix.sum(1), 1.0, atol=1e-12)


def test_mapping_is_equivariant(ala2):
    """beads(Q x + t) = Q beads(x) + t for Q in O(3) (reflections included) and any t."""
    m = cg_mapping(ala2, 6)

    def beads(x):  # (batch, 66) -> (batch, 18)
        return map_to_beads(x.reshape(len(x), 22, 3), m).reshape(len(x), -1)

    x = torch.from_numpy(ala2.pos[:4].astype(np.float64)).reshape(4, -1)
    report = equivariance_report(beads, "22x1o", "6x1o", inputs=x, dtype=torch.float64)
    assert report["passed"].all() and report["rel_error"].max() < 1e-12
    shift = torch.tensor([3.0, -7.0, 1.5], dtype=torch.float64)
    pos = torch.from_numpy(ala2.pos.astype(np.float64))
    torch.testing.assert_close(
        map_to_beads(pos + shift, m), map_to_beads(pos, m) + shift, atol=1e-12, rtol=0
    )


# ----------------------------------------------------------------------------- data set


def test_cg_dataset_splits_by_time_blocks(tmp_path):
    md = MDConfig(n_frames=40, frames_per_shard=20, save_interval=0.02, equilibration=0.0)
    data = make_cg_dataset(CGConfig(md=md, n_beads=4, n_blocks=5), progress=False, root=tmp_path)
    assert len(data) == 40 and data.beads.shape == (40, 4, 3)
    np.testing.assert_allclose(data.beads, map_to_beads(data.pos, data.mapping), atol=1e-6)
    parts = [data.splits[k] for k in ("train", "val", "test")]
    assert [len(p) for p in parts] == [24, 8, 8]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(40))  # disjoint, complete
    for p in parts:  # whole blocks of 8 consecutive frames
        for block in p.reshape(-1, 8):
            assert block[0] % 8 == 0 and np.array_equal(block, np.arange(block[0], block[0] + 8))
    test = data.subset("test")
    assert len(test) == 8 and np.array_equal(test.pos, data.pos[data.splits["test"]])
    item = data[0]
    assert item["pos"].shape == (22, 3) and item["beads"].shape == (4, 3)
    assert item["pos"].dtype == torch.float32
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=5)))
    assert batch["beads"].shape == (5, 4, 3)
    assert data.heavy_pos.shape == (40, 10, 3)


# ----------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors(ala2):
    with pytest.raises(ValueError, match="system='water'"):
        MDConfig(system="water")
    with pytest.raises(ValueError, match="solvent"):
        MDConfig(solvent="tip3p")
    with pytest.raises(ValueError, match="whole number"):
        MDConfig(save_interval=0.003)
    with pytest.raises(ValueError, match="unknown system"):
        structure_path("ubiquitin")
    with pytest.raises(ValueError, match=r"n_beads=23 .* 1\.\.22"):
        cg_mapping(ala2, 23)
    with pytest.raises(ValueError, match="n_beads=0"):
        cg_mapping(ala2, 0)
    with pytest.raises(ValueError, match=r"n_beads=8 .* 1\.\.7 .*backbone"):
        cg_mapping(ala2, 8, method="backbone")
    with pytest.raises(ValueError, match="method"):
        cg_mapping(ala2, 3, method="random")
    bad = ala2.pos.copy()
    bad[3, 5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cg_mapping(replace(ala2, pos=bad), 3)
    m = cg_mapping(ala2, 3)
    with pytest.raises(ValueError, match="NaN"):
        map_to_beads(bad, m)
    with pytest.raises(ValueError, match="NaN"):
        map_to_beads(torch.from_numpy(bad), m)
    with pytest.raises(ValueError, match=r"\(\.\.\., 22, 3\)"):
        map_to_beads(ala2.pos[:, :10], m)
    with pytest.raises(ValueError, match="fractions"):
        CGConfig(fractions=(0.5, 0.2, 0.2))
    with pytest.raises(TypeError, match="MDConfig"):
        simulate("alanine_dipeptide")
