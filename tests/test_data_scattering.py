"""Crystals, phonon DoS and powder patterns (workbench.data.crystals, workbench.data.scattering)."""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("ase")
pytest.importorskip("phonopy")
pytest.importorskip("pymatgen.core")

from workbench.data import scattering as scattering_module
from workbench.data.crystals import (
    EMT_ELEMENTS,
    apply_strain,
    edge_vectors,
    lattice_parameters,
    periodic_neighbors,
    primitive_cell,
    prototype,
    relax,
    shortest_lattice_vector,
)
from workbench.data.scattering import (
    CrystalData,
    CrystalsConfig,
    DiffractionConfig,
    PhononConfig,
    collate_crystals,
    diffraction_pattern,
    make_crystals,
    phonon_dos,
)

CU_KALPHA = 1.54184  # Å, the Kα1/Kα2 weighted mean pymatgen uses for "CuKa"


def _rotation(seed: int) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.random(random_state=seed).as_matrix()


@pytest.fixture(scope="module")
def copper():
    """fcc Cu primitive cell relaxed with EMT."""
    atoms = prototype("Cu", "fcc")
    assert relax(atoms, fmax=1e-5)
    return atoms.numbers.copy(), atoms.positions.copy(), np.asarray(atoms.cell[:]).copy()


@pytest.fixture(scope="module")
def alloy():
    """A relaxed low-symmetry 4-site fcc alloy, strained: Cu2AgAu."""
    atoms = prototype(["Cu", "Ag", "Cu", "Au"], "fcc", cubic=True)
    assert relax(atoms, fmax=1e-4)
    apply_strain(atoms, np.array([[0.01, 0.004, 0.0], [0.004, -0.005, 0.002], [0.0, 0.002, 0.0]]))
    assert relax(atoms, fmax=1e-4, cell=False)
    return atoms.numbers.copy(), atoms.positions.copy(), np.asarray(atoms.cell[:]).copy()


@pytest.fixture(scope="module")
def copper_dos(copper):
    return phonon_dos(*copper)


# ----------------------------------------------------------------------------- structures


def test_emt_relaxed_lattice_constants():
    """EMT's fcc lattice constants (ASE docs: Cu 3.59 Å with EMT; experiment 3.61 Å)."""
    atoms = prototype("Cu", "fcc", cubic=True)
    assert relax(atoms, fmax=1e-4)
    a, b, c, alpha, beta, gamma = lattice_parameters(atoms.cell[:])
    assert a == pytest.approx(3.59, abs=0.01) and a == pytest.approx(b) == pytest.approx(c)
    assert (alpha, beta, gamma) == pytest.approx((90, 90, 90), abs=1e-6)
    hcp = prototype("Ni", "hcp")
    assert relax(hcp, fmax=1e-4)
    a, _, c, *_ = lattice_parameters(hcp.cell[:])
    assert 1.55 < c / a < 1.7  # close to ideal sqrt(8/3) = 1.633 for a close-packed EMT metal


def test_prototype_alloy_and_strain():
    atoms = prototype(["Cu", "Au", "Au", "Au"], "fcc", cubic=True)
    assert atoms.get_chemical_formula() == "Au3Cu" and len(atoms) == 4
    volume = atoms.get_volume() / 4
    fcc = {"Cu": 3.61, "Au": 4.08}  # ase.data.reference_states
    assert volume == pytest.approx((fcc["Cu"] ** 3 + 3 * fcc["Au"] ** 3) / 16, rel=1e-2)
    before = atoms.cell[:].copy()
    strain = np.diag([0.01, -0.02, 0.0])
    apply_strain(atoms, strain)
    assert np.allclose(atoms.cell[:], before @ (np.eye(3) + strain))
    with pytest.raises(ValueError, match="symmetric"):
        apply_strain(atoms, np.array([[0, 0.1, 0], [0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="EMT"):
        prototype("Fe", "bcc")
    with pytest.raises(ValueError, match="lattice"):
        prototype("Cu", "diamond")
    with pytest.raises(ValueError, match="symbols for the 2 sites"):
        prototype(["Cu", "Au", "Au"], "hcp")


def test_primitive_cell_and_shortest_vector():
    big = prototype("Cu", "fcc", cubic=True).repeat((2, 1, 3))
    zp, _, cp = primitive_cell(big.numbers, big.positions, big.cell[:])
    assert len(zp) == 1
    a = big.cell.lengths()[0] / 2
    assert abs(np.linalg.det(cp)) == pytest.approx(a**3 / 4)
    assert shortest_lattice_vector(cp) == pytest.approx(a / math.sqrt(2))
    # the shortest vector is a lattice invariant: any unimodular change of basis keeps it
    basis = np.array([[1, 2, 0], [0, 1, 0], [3, -1, 1]])
    assert shortest_lattice_vector(basis @ cp) == pytest.approx(a / math.sqrt(2))


# ----------------------------------------------------------------------------- phonon DoS


def test_copper_dos_normalised_stable_and_sane(copper_dos):
    d = copper_dos
    step = d.frequencies[1] - d.frequencies[0]
    assert d.dos.shape == (51,) and d.frequencies[0] == 0 and d.frequencies[-1] == 15
    assert (d.dos >= 0).all() and d.dos.sum() * step == pytest.approx(1, abs=1e-12)
    assert d.stable and d.min_frequency > -1e-3
    # EMT Cu: 8.14 THz at X (ASE's own finite-difference phonons agree, test below);
    # experiment (inelastic neutrons, Svensson et al. 1967) ~7.3 THz: EMT is ~12 % stiffer
    assert 7.0 < d.max_frequency < 9.0
    # no weight above the highest mode (+ 4 sigma of smearing)
    assert d.dos[d.frequencies > d.max_frequency + 4 * 0.3].max() < 1e-6
    assert d.partial_dos.shape == (1, 51) and np.allclose(d.partial_dos[0], d.dos)
    assert d.supercell == 4 and d.n_primitive == 1  # 4 x 2.54 Å >= 10 Å


def test_copper_max_frequency_matches_ase_phonons(copper, copper_dos, tmp_path):
    """An independent finite-difference phonon code (ase.phonons) on the same EMT crystal."""
    from ase import Atoms
    from ase.calculators.emt import EMT
    from ase.phonons import Phonons
    from ase.units import _e, _hplanck

    z, pos, cell = copper
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
    ph = Phonons(atoms, EMT(), supercell=(4, 4, 4), delta=0.01, name=str(tmp_path / "ph"))
    ph.run()
    ph.read(acoustic=True)
    grid = np.stack(np.meshgrid(*[np.arange(12) / 12] * 3, indexing="ij"), -1).reshape(-1, 3)
    top = ph.band_structure(grid).max() * _e / _hplanck / 1e12  # eV -> THz
    assert copper_dos.max_frequency == pytest.approx(top, rel=2e-3)


def test_aluminium_dos():
    atoms = prototype("Al", "fcc")
    assert relax(atoms, fmax=1e-5)
    d = phonon_dos(atoms.numbers, atoms.positions, atoms.cell[:], elements=("Cu", "Al"))
    assert d.stable and (d.dos >= 0).all()
    assert d.dos.sum() * (d.frequencies[1] - d.frequencies[0]) == pytest.approx(1, abs=1e-12)
    # EMT Al 8.5 THz; experiment ~9.7 THz (EMT's Al is softer)
    assert 7.5 < d.max_frequency < 10.5
    assert np.allclose(d.partial_dos[0], 0) and np.allclose(d.partial_dos[1], d.dos)


def test_dos_invariant_to_rotation_translation_permutation_supercell(copper, copper_dos, alloy):
    for (z, pos, cell), reference in ((copper, copper_dos), (alloy, phonon_dos(*alloy))):
        rotation = _rotation(7)
        moved = phonon_dos(z, pos @ rotation.T + np.array([0.3, -1.7, 2.2]), cell @ rotation.T)
        assert np.abs(moved.dos - reference.dos).max() < 1e-6
        assert np.abs(moved.partial_dos - reference.partial_dos).max() < 1e-6
        # a 2 x 1 x 2 supercell, atoms permuted, rotated: the same crystal
        images = np.array(list(itertools.product(range(2), range(1), range(2))))
        big_pos = (pos[None, :, :] + (images @ cell)[:, None, :]).reshape(-1, 3)
        big_z = np.tile(z, len(images))
        perm = np.random.default_rng(0).permutation(len(big_z))
        big_cell = np.diag([2, 1, 2]) @ cell
        bigger = phonon_dos(big_z[perm], big_pos[perm] @ rotation.T, big_cell @ rotation.T)
        assert (bigger.supercell, bigger.mesh) == (reference.supercell, reference.mesh)
        assert np.abs(bigger.dos - reference.dos).max() < 1e-6
        assert np.abs(bigger.partial_dos - reference.partial_dos).max() < 1e-6
        # ... and a different, skewed basis of the same lattice
        skew = np.array([[1, 1, 0], [0, 1, 0], [0, -1, 1]]) @ cell
        skewed = phonon_dos(z, pos, skew)
        assert np.abs(skewed.dos - reference.dos).max() < 1e-6


def test_alloy_partial_dos(alloy):
    z, pos, cell = alloy
    d = phonon_dos(z, pos, cell, elements=("Ag", "Cu", "Au", "Ni"))
    step = d.frequencies[1] - d.frequencies[0]
    assert d.stable and d.elements == (47, 29, 79, 28)
    assert np.allclose(d.partial_dos.sum(0), d.dos, atol=1e-12)
    # each element carries its share of the 3n modes (up to the smearing tail cut at 0 THz)
    shares = d.partial_dos.sum(1) * step
    assert shares == pytest.approx([0.25, 0.5, 0.25, 0.0], abs=1e-4)
    # the heavy Au atoms dominate the low frequencies, light Cu the high ones
    low, high = d.frequencies < 2.0, d.frequencies > 4.5
    assert d.partial_dos[2, low].sum() > d.partial_dos[1, low].sum() / 2
    assert d.partial_dos[1, high].sum() > 5 * d.partial_dos[2, high].sum()


def test_unstable_bcc_copper_is_flagged():
    atoms = prototype("Cu", "bcc")
    assert relax(atoms, fmax=1e-4)
    d = phonon_dos(atoms.numbers, atoms.positions, atoms.cell[:])
    assert not d.stable and d.min_frequency < -0.5  # EMT bcc Cu has imaginary modes


def test_phonon_errors(copper):
    z, pos, cell = copper
    with pytest.raises(ValueError, match="no EMT parameters"):
        phonon_dos(np.array([26]), pos, cell)
    bad = pos.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        phonon_dos(z, bad, cell)
    with pytest.raises(ValueError, match="singular"):
        phonon_dos(z, pos, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="lacks atomic numbers"):
        phonon_dos(z, pos, cell, elements=("Ag",))
    with pytest.raises(TypeError, match="PhononConfig"):
        phonon_dos(z, pos, cell, config={"n_bins": 51})
    with pytest.raises(ValueError, match="n_bins"):
        PhononConfig(n_bins=1)
    with pytest.raises(ValueError, match="smearing"):
        PhononConfig(smearing=float("nan"))


def test_missing_extra_names_it(copper, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "phonopy", None)  # "import phonopy" now fails
    with pytest.raises(ImportError, match=r"equivariant-workbench\[scattering\]"):
        phonon_dos(*copper)


# ----------------------------------------------------------------------------- diffraction


def test_copper_xrd_peaks():
    """fcc Cu (a = 3.615 Å): with Cu Kα1 (1.5406 Å) 111 at 43.30°, 200 at 50.43°, 220 at
    74.13° 2θ (the textbook lines); with the Kα mean 1.54184 Å (pymatgen "CuKa") 0.05° higher."""
    atoms = prototype("Cu", "fcc")
    atoms.set_cell(
        atoms.cell[:] * 3.615 / (math.sqrt(2) * atoms.cell.lengths()[0]), scale_atoms=True
    )
    xrd = diffraction_pattern(atoms.numbers, atoms.positions, atoms.cell[:])
    peaks = xrd.peaks
    assert peaks[:, 0] == pytest.approx([43.35, 50.49, 74.20], abs=0.01)
    assert peaks[:, 2:5].tolist() == [[1, 1, 1], [2, 0, 0], [2, 2, 0]]  # conventional cell
    d = 3.615 / np.linalg.norm(peaks[:, 2:5], axis=1)
    assert peaks[:, 5] == pytest.approx(d)
    assert 2 * d * np.sin(np.radians(peaks[:, 0] / 2)) == pytest.approx(CU_KALPHA)  # Bragg
    assert peaks[0, 1] == 1 and (peaks[1:, 1] < 1).all()  # 111 strongest
    grid = xrd.two_theta
    assert xrd.intensity.max() == pytest.approx(1)
    assert abs(grid[np.argmax(xrd.intensity)] - 43.30) <= grid[1] - grid[0]
    alpha1 = diffraction_pattern(
        atoms.numbers, atoms.positions, atoms.cell[:], DiffractionConfig(xray_wavelength=1.5406)
    )
    assert alpha1.peaks[:3, 0] == pytest.approx([43.30, 50.43, 74.13], abs=0.03)
    assert alpha1.peaks[3, 2:5].tolist() == [3, 1, 1]  # 311 at 89.9°, inside 90° with Kα1
    nd = diffraction_pattern(atoms.numbers, atoms.positions, atoms.cell[:], kind="nd")
    assert nd.peaks[:, 0] == pytest.approx(peaks[:, 0])
    # no X-ray form factor fall-off for neutrons: the 220 line is relatively stronger
    assert nd.peaks[2, 1] > 1.5 * peaks[2, 1]


def test_diffraction_invariant_and_errors(alloy):
    z, pos, cell = alloy
    reference = diffraction_pattern(z, pos, cell)
    rotation = _rotation(3)
    moved = diffraction_pattern(z[::-1], (pos @ rotation.T + 1.1)[::-1], cell @ rotation.T)
    assert np.abs(moved.intensity - reference.intensity).max() < 1e-6
    bigger = diffraction_pattern(
        np.tile(z, 2), np.concatenate([pos, pos + cell[1]]), np.diag([1, 2, 1]) @ cell
    )
    assert np.abs(bigger.intensity - reference.intensity).max() < 1e-6
    with pytest.raises(ValueError, match="kind"):
        diffraction_pattern(z, pos, cell, kind="saxs")
    with pytest.raises(ValueError, match="two_theta_max"):
        DiffractionConfig(two_theta_min=50, two_theta_max=40)
    with pytest.raises(ValueError, match="fwhm"):
        DiffractionConfig(fwhm=0)


# ----------------------------------------------------------------------------- neighbours


def _brute_force(pos, cell, pbc, r_max):
    """Every (i, j, shift) with |pos_j - pos_i + shift @ cell| < r_max, by enumeration."""
    # |S_i| = |(r - pos_j + pos_i) . b_i| <= (r_max + max |pos_j - pos_i|) |b_i|
    span = r_max + 2 * np.linalg.norm(pos, axis=1).max()
    reach = np.ceil(span * np.linalg.norm(np.linalg.inv(cell), axis=0)).astype(int)
    ranges = [range(-k, k + 1) if p else range(1) for k, p in zip(reach, pbc, strict=True)]
    shifts = np.array(list(itertools.product(*ranges)))
    r = pos[None, None, :, :] - pos[None, :, None, :] + (shifts @ cell)[:, None, None, :]
    s, i, j = np.nonzero(np.linalg.norm(r, axis=-1) < r_max)  # r[s, i, j]: from i to j's image
    keep = (i != j) | shifts[s].any(axis=1)
    return set(zip(i[keep].tolist(), j[keep].tolist(), *shifts[s[keep]].T.tolist(), strict=True))


def test_periodic_neighbors_match_ase_and_brute_force():
    from ase.neighborlist import primitive_neighbor_list

    rng = np.random.default_rng(1)
    total = 0
    for trial in range(40):
        cell = np.diag(rng.uniform(2.5, 5, 3)) + rng.normal(0, 0.6, (3, 3))
        pos = rng.normal(0, 3, (rng.integers(1, 5), 3))  # not wrapped into the cell
        pbc = rng.random(3) < 0.75
        r_max = rng.uniform(1.5, 5.5)
        src, dst, shift, vectors = periodic_neighbors(pos, cell, pbc, r_max)
        assert np.allclose(vectors, pos[dst] - pos[src] + shift @ cell)
        assert (np.linalg.norm(vectors, axis=1) < r_max).all()
        ours = set(zip(src.tolist(), dst.tolist(), *shift.T.tolist(), strict=True))
        assert len(ours) == len(src)
        i, j, s = primitive_neighbor_list("ijS", pbc, cell, pos, r_max)
        assert ours == set(zip(i.tolist(), j.tolist(), *s.T.tolist(), strict=True)), trial
        assert ours == _brute_force(pos, cell, pbc, r_max)
        total += len(src)
    assert total > 200


def test_periodic_neighbors_fcc_shells_torch_and_errors(copper):
    _, pos, cell = copper
    a = math.sqrt(2) * np.linalg.norm(cell[0])
    src, *_ = periodic_neighbors(pos, cell, True, 1.1 * a / math.sqrt(2))
    assert len(src) == 12  # fcc nearest neighbours
    src, *_ = periodic_neighbors(pos, cell, True, 1.1 * a)
    assert len(src) == 12 + 6  # and the second shell at a
    x = torch.tensor(pos + 0.1, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(cell, dtype=torch.float64, requires_grad=True)
    _, _, sh, v = periodic_neighbors(x, c, True, 1.1 * a)
    assert isinstance(v, torch.Tensor) and v.shape == (18, 3) and sh.dtype == torch.int64
    v.norm(dim=1).sum().backward()
    assert c.grad is not None and torch.isfinite(c.grad).all() and c.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="full rank"):
        periodic_neighbors(pos, np.diag([1.0, 1.0, 0.0]), True, 3.0)
    with pytest.raises(ValueError, match="r_max"):
        periodic_neighbors(pos, cell, True, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        periodic_neighbors(pos * np.nan, cell, True, 3.0)


# ----------------------------------------------------------------------------- data set


def test_crystals_config_errors():
    with pytest.raises(ValueError, match="EMT calculator has no parameters for \\['Fe'\\]"):
        CrystalsConfig(elements=("Cu", "Fe"))
    with pytest.raises(ValueError, match="unknown \\['diamond'\\]"):
        CrystalsConfig(lattices=("fcc", "diamond"))
    with pytest.raises(TypeError, match="tuple of names"):
        CrystalsConfig(elements="Cu")
    with pytest.raises(ValueError, match="alloy_fraction"):
        CrystalsConfig(alloy_fraction=1.5)
    with pytest.raises(ValueError, match="needs >= 2 elements"):
        CrystalsConfig(elements=("Cu",), alloy_fraction=0.5)
    with pytest.raises(ValueError, match="n_structures"):
        CrystalsConfig(n_structures=0)
    with pytest.raises(ValueError, match="max_strain"):
        CrystalsConfig(max_strain=float("nan"))
    with pytest.raises(TypeError, match="PhononConfig"):
        CrystalsConfig(phonon=DiffractionConfig())
    assert set(EMT_ELEMENTS) == {"Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"}


# seed 2 draws: shard 0 sc Cu (dropped), fcc Cu; shard 1 fcc Ag, strained
TINY = CrystalsConfig(
    elements=("Cu", "Ag"),
    lattices=("fcc", "sc"),
    alloy_fraction=0.0,
    strain_fraction=0.5,
    phonon=PhononConfig(min_supercell_length=7.0, mesh_length=20.0),
    n_structures=2,
    shard_size=1,
    seed=2,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    directory = tmp_path_factory.mktemp("crystals")
    return directory, make_crystals(TINY, progress=False, directory=directory)


def test_make_crystals_drops_and_labels(tiny):
    _, data = tiny
    assert isinstance(data, CrystalData) and len(data) == 2
    # EMT's sc Cu is dynamically unstable: drawn, dropped, listed with its reason
    assert data.dropped[["shard", "attempt", "formula", "lattice", "reason"]].values.tolist() == [
        [0, 0, "Cu", "sc", "imaginary_modes"]
    ]
    assert data.dropped["min_frequency"][0] < -1.0
    assert data.lattice.tolist() == ["fcc", "fcc"] and data.z.tolist() == [29, 47]
    assert not data.strain[0].any() and data.strain[1].any()  # shard 1 is strained
    assert data.composition.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    step = data.frequencies[1] - data.frequencies[0]
    assert np.allclose(data.dos.sum(1) * step, 1) and (data.dos >= 0).all()
    assert np.allclose(data.partial_dos.sum(1), data.dos)
    assert (data.xrd.max(1) == 1).all() and (data.nd.max(1) == 1).all()
    # conventional fcc cells: a = b = c, right angles; EMT Cu 3.59 Å
    assert data.lattice_parameters[0] == pytest.approx([3.59, 3.59, 3.59, 90, 90, 90], abs=0.01)
    assert data.spacegroup[0] == 225 and data.max_frequency[1] < data.max_frequency[0]
    assert not data.duplicate.any()
    # an exact repeat (as unstrained pure metals give) is flagged
    keys = ("n_atoms", "composition", "lattice", "spacegroup", "energy", "volume_per_atom")
    repeated = {k: np.concatenate([data.arrays[k], data.arrays[k][:1]]) for k in keys}
    repeated["max_frequency"] = np.concatenate([data.max_frequency, data.max_frequency[:1]])
    assert scattering_module._duplicates(repeated).tolist() == [False, False, True]


def test_make_crystals_resume_and_reuse(tiny, monkeypatch):
    directory, data = tiny
    shards = sorted(directory.rglob("shard-*.npz"))
    assert [p.name for p in shards] == ["shard-00000.npz", "shard-00001.npz"]
    # resume: a lost shard is recomputed, the other is not touched, the data are the same
    stamp = os.stat(shards[0]).st_mtime_ns
    shards[1].unlink()
    again = make_crystals(TINY, progress=False, directory=directory)
    assert os.stat(shards[0]).st_mtime_ns == stamp and shards[1].exists()
    for key in ("z", "pos", "cell", "dos", "xrd", "nd", "partial_dos", "xrd_peaks"):
        assert np.allclose(again.arrays[key], data.arrays[key], atol=1e-9), key
    # a smaller set with the same settings reads the cached shard: nothing is computed
    monkeypatch.setattr(scattering_module, "_candidate", _fail)
    one = make_crystals(replace(TINY, n_structures=1), progress=False, directory=directory)
    assert len(one) == 1 and np.array_equal(one.dos[0], data.dos[0]) and len(one.dropped) == 1
    # another setting is another directory: the generator runs (and here fails loudly)
    with pytest.raises(AssertionError, match="recomputed"):
        make_crystals(replace(TINY, seed=3), progress=False, directory=directory)


def _fail(*args, **kwargs):
    raise AssertionError("a cached shard was recomputed")


def test_crystal_dataset_items_and_collate(tiny):
    _, data = tiny
    z, _, cell = data.structure(1)
    assert len(z) == data.n_atoms[1] and cell.shape == (3, 3)
    peaks = data.peaks(0, "xrd")
    assert list(peaks.columns) == ["two_theta", "intensity", "h", "k", "l", "d"]
    assert peaks["intensity"].max() == 1 and len(peaks) == data.xrd_peak_count[0]
    assert peaks[["h", "k", "l"]].values.tolist()[:2] == [[1, 1, 1], [2, 0, 0]]
    graph = replace(data, r_max=4.0)
    items = [graph[i] for i in range(len(graph))]
    assert items[0]["dos"].shape == (51,) and items[0]["pos"].dtype == torch.float32
    assert len(items[0]["edge_src"]) == 18  # fcc Cu: 12 + 6 neighbours within 4 Å
    batch = collate_crystals(items)
    n = int(data.n_atoms.sum())
    assert batch["z"].tolist() == data.z.tolist() and batch["batch"].shape == (n,)
    assert batch["cell"].shape == (2, 3, 3) and batch["dos"].shape == (2, 51)
    assert (batch["edge_src"] >= 0).all() and (batch["edge_dst"] < n).all()
    assert (batch["batch"][batch["edge_src"]] == batch["batch"][batch["edge_dst"]]).all()
    vectors = edge_vectors(
        batch["pos"].double(),
        batch["cell"].double(),
        batch["edge_src"],
        batch["edge_dst"],
        batch["cell_shift"],
        batch["batch"],
    )
    assert (vectors.norm(dim=1) < 4.0).all()
    assert len(vectors) == len(items[0]["edge_src"]) + len(items[1]["edge_src"])
    first, second = data.split((0.5, 0.5), seed=0)
    assert sorted(first.z.tolist() + second.z.tolist()) == [29, 47]
    sub = data.subset([1, 0])
    assert np.array_equal(sub.dos, data.dos[[1, 0]])
    assert np.array_equal(sub.structure(0)[1], data.structure(1)[1])
    assert sub.peaks(1, "nd").equals(data.peaks(0, "nd"))
    with pytest.raises(IndexError):
        data[2]
    with pytest.raises(ValueError, match="fractions"):
        data.split((0.5, 0.6))


@pytest.mark.slow
def test_quick_like_set_statistics(tmp_path):
    """25 crystals of the default mix (fcc, bcc, hcp; 70 % alloys; half strained)."""
    data = make_crystals(CrystalsConfig(n_structures=25), progress=False, directory=tmp_path)
    step = data.frequencies[1] - data.frequencies[0]
    assert np.allclose(data.dos.sum(1) * step, 1) and (data.dos >= 0).all()
    assert (data.min_frequency > -0.05).all() and (data.max_frequency < 15 - 0.9).all()
    assert np.allclose(data.partial_dos.sum(1), data.dos)
    assert data.alloy.sum() > 10 and (data.xrd.max(1) == 1).all() and (data.nd.max(1) == 1).all()
    # every crystal strained (distinct), about half sheared to P1/P-1, the rest keep symmetry
    assert (data.strain != 0).any(axis=(1, 2)).all() and not data.duplicate.any()
    assert 5 < (data.spacegroup <= 2).sum() < 20
