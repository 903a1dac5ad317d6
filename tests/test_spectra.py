"""Spectrum models (workbench.models.spectra) and the spectra metrics (workbench.metrics)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("ase")

from workbench.metrics import parameter_mae, spectrum_mse, wasserstein_1d
from workbench.models.spectra import (
    CompositionMLP,
    CompositionMLPConfig,
    DiffractionCNN,
    DiffractionCNNConfig,
    MeanSpectrum,
    PhononDosNet,
    PhononDosNetConfig,
    crystal_batch,
)

STEP = 15.0 / 50  # grid step of the default 51 points from 0 to 15 THz
CONFIG = PhononDosNetConfig(channels=6, num_interactions=2, r_max=4.5, readout_hidden=24)


def _net(seed: int = 0) -> PhononDosNet:
    torch.manual_seed(seed)
    return PhononDosNet(CONFIG).double()


def _rotation(seed: int, reflect: bool = False) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    R = Rotation.random(random_state=seed).as_matrix()
    return R @ np.diag([1.0, 1.0, -1.0]) if reflect else R


@pytest.fixture(scope="module")
def alloy():
    """A distorted 4-atom fcc alloy cell (Cu2AgAu, sheared cell, displaced atoms): no
    symmetry left that could hide a broken invariance."""
    rng = np.random.default_rng(0)
    a = 3.8
    cell = (
        a
        * np.eye(3)
        @ (np.eye(3) + np.array([[0.02, 0.01, 0], [0.01, -0.01, 0.015], [0, 0.015, 0]]))
    )
    frac = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    pos = frac @ cell + rng.normal(scale=0.12, size=(4, 3))
    return np.array([29, 47, 29, 79]), pos, cell


def _supercell(z, pos, cell, matrix):
    """The crystal in the supercell with lattice vectors ``matrix @ cell`` (integer matrix)."""
    matrix = np.asarray(matrix)
    n = round(abs(np.linalg.det(matrix)))
    new_cell = matrix @ cell
    inverse = np.linalg.inv(new_cell)
    zs, xs = [], []
    reach = int(np.abs(matrix).sum())
    for shift in itertools.product(range(-reach, reach + 1), repeat=3):
        x = pos + np.array(shift) @ cell
        frac = x @ inverse
        inside = np.all((frac >= -1e-9) & (frac < 1 - 1e-9), axis=1)
        zs.append(z[inside])
        xs.append(x[inside])
    zs, xs = np.concatenate(zs), np.concatenate(xs)
    assert len(zs) == n * len(z)
    return zs, xs, new_cell


# ----------------------------------------------------------------------------- invariance


def test_dos_net_invariances(alloy):
    z, pos, cell = alloy
    net = _net()
    g = net.predict(z, pos, cell)
    assert g.shape == (51,)
    R, S = _rotation(1), _rotation(2, reflect=True)
    images = np.array([[1, 0, 0], [0, -2, 1], [0, 0, 0], [3, 1, -1]]) @ cell
    other_basis = np.array([[1, 0, 0], [1, 1, 0], [0, -1, 1]]) @ cell
    skew = [[1, 1, 0], [0, 1, 0], [0, 1, 2]]
    cases = {
        "rotation": net.predict(z, pos @ R.T, cell @ R.T),
        "rotation + reflection": net.predict(z, pos @ S.T, cell @ S.T),
        "origin shift": net.predict(z, pos + np.array([0.7, -3.1, 12.4]), cell),
        "atoms in other cells": net.predict(z, pos + images, cell),
        "permutation": net.predict(z[[2, 0, 3, 1]], pos[[2, 0, 3, 1]], cell),
        "2x1x1 supercell": net.predict(*_supercell(z, pos, cell, np.diag([2, 1, 1]))),
        "2x2x2 supercell": net.predict(*_supercell(z, pos, cell, np.diag([2, 2, 2]))),
        "non-diagonal supercell": net.predict(*_supercell(z, pos, cell, skew)),
        "other basis of the cell": net.predict(z, pos, other_basis),
    }
    for name, other in cases.items():
        assert np.abs(other - g).max() <= 1e-10, name
    # not vacuous: the prediction depends on the structure, and on edge directions, not only
    # on the distances (rotating each edge vector on its own changes it)
    moved = pos.copy()
    moved[0] += [0.15, 0.0, 0.0]
    assert np.abs(net.predict(z, moved, cell) - g).max() > 1e-6
    batch = crystal_batch([(z, pos, cell)], CONFIG.r_max)
    from scipy.spatial.transform import Rotation

    spun = torch.as_tensor(Rotation.random(len(batch["edge_src"]), random_state=3).as_matrix())
    vectors = batch["pos"][batch["edge_dst"]] - batch["pos"][batch["edge_src"]]
    vectors = vectors + batch["cell_shift"].double() @ batch["cell"][0]
    with torch.no_grad():
        base = _edge_invariants(net, batch, vectors)
        other = _edge_invariants(net, batch, torch.einsum("eij,ej->ei", spun, vectors))
    assert (base - other).abs().max() > 1e-8


def _edge_invariants(net, batch, vectors):
    """The readout input of ``net`` for given edge vectors (to probe direction dependence)."""
    r = vectors.norm(dim=-1)
    y = net.harmonics(vectors)
    radial = net.radial_basis(r)
    onehot = torch.nn.functional.one_hot(net._species(batch["z"]), len(net.config.species))
    h = net.embedding(onehot.double() * net.masses.double())
    out = []
    for block, index in zip(net.interactions, net._scalars, strict=True):
        h = block(h, batch["edge_src"], batch["edge_dst"], y, radial)
        out.append(h[:, index])
    return torch.cat(out, -1)


def test_primitive_and_conventional_fcc_cells_agree():
    from ase.build import bulk

    net = _net(1)
    primitive = bulk("Cu", "fcc", a=3.6)
    cubic = bulk("Cu", "fcc", a=3.6, cubic=True)
    g1 = net.predict(primitive.numbers, primitive.positions, primitive.cell[:])
    g4 = net.predict(cubic.numbers, cubic.positions, cubic.cell[:])
    assert np.abs(g1 - g4).max() <= 1e-10


def test_dos_net_non_negative_normalised_and_batched(alloy):
    z, pos, cell = alloy
    net = _net(2)
    structures = [
        alloy,
        (z[:2], pos[:2], cell),
        (np.array([13]), np.zeros((1, 3)), 2.9 * np.eye(3)),
    ]
    batch = crystal_batch(structures, CONFIG.r_max)
    out = net(batch)
    assert out.shape == (3, 51) and out.dtype == torch.float64
    assert (out >= 0).all()
    assert torch.allclose(out.sum(1) * STEP, torch.ones(3, dtype=torch.float64), atol=1e-12)
    for i, s in enumerate(structures):  # a batch gives each crystal's own prediction
        assert np.abs(out[i].detach().numpy() - net.predict(*s)).max() < 1e-12
    per_atom = net.atom_spectra(batch)
    assert per_atom.shape == (7, 51) and (per_atom >= 0).all()
    assert torch.allclose(out[1], per_atom[4:6].mean(0))
    # float32 and collate_crystals-style batches (cell (B, 3, 3)) work too
    assert net.float()(crystal_batch(structures, CONFIG.r_max, dtype=torch.float32)).dtype == (
        torch.float32
    )


def test_dos_net_errors(alloy):
    z, pos, cell = alloy
    net = _net()
    with pytest.raises(ValueError, match=r"atomic numbers \[26\]"):
        net.predict(np.array([26, 47, 29, 79]), pos, cell)
    with pytest.raises(ValueError, match="pos"):
        crystal_batch([(z, pos[:3], cell)], 4.0)
    with pytest.raises(ValueError, match="channels"):
        PhononDosNetConfig(channels=0)
    with pytest.raises(ValueError, match="species"):
        PhononDosNetConfig(species=(29, 29))
    with pytest.raises(ValueError, match="r_max"):
        PhononDosNetConfig(r_max=-1.0)


def test_dos_net_learns_structure_beyond_composition():
    """Two fcc Cu cells, compressed and expanded, have the same composition: the network
    fits two different target spectra, the composition MLP cannot (its input is identical)."""
    from ase.build import bulk

    torch.manual_seed(0)
    cells = (bulk("Cu", "fcc", a=3.5), bulk("Cu", "fcc", a=3.8))
    batch = crystal_batch(
        [(a.numbers, a.positions, a.cell[:]) for a in cells], 4.5, dtype=torch.float32
    )
    grid = torch.linspace(0, 15, 51)
    target = torch.stack([torch.exp(-((grid - c) ** 2) / 2) for c in (8.0, 5.0)])
    target = target / (target.sum(1, keepdim=True) * STEP)
    batch["composition"] = torch.tensor([[0, 0, 1.0, 0, 0, 0, 0]] * 2)
    small = PhononDosNetConfig(channels=4, num_interactions=1, r_max=4.5, readout_hidden=16)
    losses = {}
    for name, model in (
        ("net", PhononDosNet(small)),
        ("mlp", CompositionMLP(CompositionMLPConfig(hidden=(16,)))),
    ):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(80):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(batch), target)
            loss.backward()
            opt.step()
        losses[name] = loss.item()
    floor = torch.nn.functional.mse_loss(target.mean(0).expand(2, -1), target).item()
    assert losses["mlp"] > 0.9 * floor  # the best a composition-only model can do
    assert losses["net"] < 0.1 * floor


# ----------------------------------------------------------------------------- baselines


def test_baselines_shapes_and_outputs():
    rng = np.random.default_rng(0)
    spectra = rng.random((5, 51))
    spectra /= spectra.sum(1, keepdims=True) * STEP
    mean = MeanSpectrum.fit(spectra)
    batch = {"cell": torch.zeros(3, 3, 3), "composition": torch.rand(3, 7)}
    out = mean(batch)
    assert out.shape == (3, 51)
    assert torch.allclose(out, torch.as_tensor(spectra.mean(0), dtype=out.dtype).expand(3, -1))
    assert sum(p.numel() for p in mean.parameters()) == 0
    mlp = CompositionMLP(CompositionMLPConfig(hidden=(16,)))
    out = mlp(batch)
    assert out.shape == (3, 51) and (out >= 0).all()
    assert torch.allclose(out.sum(1) * STEP, torch.ones(3), atol=1e-5)
    with pytest.raises(ValueError, match=r"composition must be \(B, 7\)"):
        mlp({"composition": torch.rand(3, 4)})
    with pytest.raises(ValueError, match="n_bins"):
        MeanSpectrum.fit(np.zeros(51))


def test_diffraction_cnn_shapes_and_target_scale():
    torch.manual_seed(0)
    cnn = DiffractionCNN(DiffractionCNNConfig(conv_channels=(4, 8), hidden=16))
    batch = {"xrd": torch.rand(5, 401), "nd": torch.rand(5, 401)}
    targets = np.array([[3.6, 3.6, 3.6, 90, 90, 90], [2.5, 2.5, 4.1, 90, 90, 120]] * 3)
    cnn.set_target_scale(targets)
    assert torch.allclose(cnn.target_mean, torch.tensor(targets.mean(0), dtype=torch.float32))
    out = cnn(batch)
    assert out.shape == (5, 6)
    assert torch.allclose(out, cnn.standardised(batch) * cnn.target_std + cnn.target_mean)
    with pytest.raises(ValueError, match=r"batch\['nd'\] must be \(B, 401\)"):
        cnn({"xrd": torch.rand(5, 401), "nd": torch.rand(5, 400)})
    with pytest.raises(ValueError, match="targets"):
        cnn.set_target_scale(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="poolings"):
        DiffractionCNNConfig(n_points=10, conv_channels=(4, 4), pool=4)


def test_diffraction_cnn_fractions_output():
    """output="fractions": a softmax per crystal, its log from log_fractions, no target scale;
    a few steps of Adam on the cross-entropy fit a target composition."""
    torch.manual_seed(0)
    config = DiffractionCNNConfig(n_outputs=3, conv_channels=(4, 8), hidden=16)
    cnn = DiffractionCNN(replace(config, output="fractions"))
    x = torch.rand(6, 401)
    batch = {"xrd": x, "nd": x.flip(-1)}
    out = cnn(batch)
    assert out.shape == (6, 3) and (out >= 0).all()
    assert torch.allclose(out.sum(1), torch.ones(6), atol=1e-6)
    assert torch.allclose(cnn.log_fractions(batch).exp(), out, atol=1e-6)
    # changing the target buffers does not change the fractions
    cnn.target_mean.fill_(5.0)
    assert torch.equal(cnn(batch), out)
    with pytest.raises(ValueError, match="takes no target scale"):
        cnn.set_target_scale(np.ones((4, 3)))
    with pytest.raises(ValueError, match="only output='fractions'"):
        DiffractionCNN(config).log_fractions(batch)
    with pytest.raises(ValueError, match="output='softmax'"):
        DiffractionCNNConfig(output="softmax")
    target = torch.tensor([[0.6, 0.3, 0.1]] * 3 + [[0.0, 0.5, 0.5]] * 3)
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-2)
    loss0 = -(target * cnn.log_fractions(batch)).sum(-1).mean().item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = -(target * cnn.log_fractions(batch)).sum(-1).mean()
        loss.backward()
        optimizer.step()
    assert loss.item() < loss0
    assert torch.allclose(cnn(batch), target, atol=0.05)


# ----------------------------------------------------------------------------- metrics


def test_wasserstein_closed_form_matches_scipy():
    from scipy.stats import wasserstein_distance

    # hand case: masses (1/4, 0, 1/2, 1/4) and (0, 3/4, 0, 1/4) on an uneven grid; the CDFs
    # differ by 1/4 on [0, 1) and 1/2 on [1, 2.5): W1 = 1/4 + 3/4 = 1
    x = np.array([0.0, 1.0, 2.5, 4.0])
    p, q = np.array([1.0, 0, 2, 1]), np.array([0.0, 3, 0, 1])
    assert wasserstein_1d(p, q, x) == pytest.approx([1.0], abs=1e-15)
    assert wasserstein_distance(x, x, p, q) == pytest.approx(1.0, abs=1e-15)
    # two deltas: the distance between them; symmetric; zero on equal spectra
    delta = np.eye(4)
    assert wasserstein_1d(delta[0], delta[3], x)[0] == pytest.approx(4.0)
    assert wasserstein_1d(p, p, x)[0] == 0
    rng = np.random.default_rng(1)
    grid = np.sort(rng.uniform(0, 15, 51))
    a, b = rng.random((6, 51)), rng.random((6, 51)) * (rng.random((6, 51)) > 0.5)
    ours = wasserstein_1d(a, b, grid)
    assert np.allclose(ours, wasserstein_1d(b, a, grid))
    reference = [wasserstein_distance(grid, grid, a[i], b[i]) for i in range(6)]
    assert np.allclose(ours, reference, rtol=1e-12, atol=1e-14)
    # the normalisation: scaling a spectrum changes nothing
    assert np.allclose(wasserstein_1d(3 * a, b, grid), ours)


def test_spectrum_metrics_and_errors():
    p, t = np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 3.0]])
    assert spectrum_mse(p, t) == pytest.approx(4 / 3)
    assert spectrum_mse(torch.tensor(p), t) == pytest.approx(4 / 3)
    pred = np.array([[3.6, 90.0], [2.5, 120.0]])
    true = np.array([[3.5, 90.0], [2.9, 110.0]])
    assert parameter_mae(pred, true) == pytest.approx([0.25, 5.0])
    with pytest.raises(ValueError, match="same shape"):
        spectrum_mse(p, t[:, :2])
    with pytest.raises(ValueError, match="negative"):
        wasserstein_1d(-p, t, [0, 1, 2])
    with pytest.raises(ValueError, match="zero total weight"):
        wasserstein_1d(p, 0 * t, [0, 1, 2])
    with pytest.raises(ValueError, match="increasing"):
        wasserstein_1d(p, t, [0, 2, 1])
    with pytest.raises(ValueError, match="NaN"):
        spectrum_mse(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
