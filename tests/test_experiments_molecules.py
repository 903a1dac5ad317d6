"""The molecules recipe at its tiny size, end to end (24 small G2 molecules labelled with
Hartree-Fock in the test cache): the table, the mean predictor and the atom reference
recomputed independently, and the trained models' symmetries in float64 (energy and orbital
energies invariant, dipole a polar vector under O(3) with reflections, translations and
permutations of the atoms) to <= 1e-10."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from workbench.checks import equivariance_report
from workbench.experiments.molecules import (
    COLUMNS,
    MEAN,
    PUBLISHED_QM9,
    SCALARS,
    SIZES,
    MoleculeModel,
    TargetScales,
    predict,
    residual_energy,
    run,
)
from workbench.models.baselines import PointNet, PointNetConfig, random_rotations
from workbench.models.equiformer import Equiformer
from workbench.models.schnet import SchNet

MODELS = ("Equiformer", "SchNet")


@pytest.fixture(scope="module")
def result():
    torch.set_num_threads(1)
    return run("tiny", progress=False)


def test_tiny_run_table_has_every_model_and_target(result):
    table = result.table.set_index("model")
    assert list(table.index) == [*MODELS, MEAN]
    for column in [*COLUMNS.values(), "parameters", "train seconds"]:
        assert column in table.columns, column
    maes = table[list(COLUMNS.values())].to_numpy()
    assert np.isfinite(maes).all() and (maes > 0).all()
    assert (table.loc[list(MODELS), "parameters"] > 1000).all()
    assert table.loc[MEAN, "parameters"] == 0
    assert len(result.histories["Equiformer"]) == SIZES["tiny"].train.epochs
    n = len(result.data)
    assert n == 24 and len(result.test) >= 2
    tables = result.extra_tables
    assert any("QM9" in key and "different data set" in key for key in tables)
    assert tables["Labelled molecules"]["molecules"].item() == n
    published = PUBLISHED_QM9.set_index("model")
    assert published.loc["Equiformer", "|μ| MAE (D)"] == 0.011
    assert published.loc["Equiformer", "gap MAE (meV)"] == 30.0


def test_predictions_and_mean_predictor_recomputed(result):
    truth = result.truth
    n = len(result.test)
    for name in MODELS:
        pred = result.predictions[name]
        assert pred["dipole"].shape == (n, 3) and pred["energy"].dtype == np.float64
        row = result.table.set_index("model").loc[name]
        err = np.linalg.norm(pred["dipole"] - truth["dipole"], axis=1).mean()
        assert math.isclose(row[COLUMNS["dipole"]], err, rel_tol=1e-12)
        again = predict(result.models[name], result.test)
        assert np.array_equal(again["gap"], pred["gap"])
    # the mean predictor, from the training molecules (everything not in val or test)
    train, _, test = result.data.split(result.recipe.split, seed=result.recipe.seed)
    row = result.table.set_index("model").loc[MEAN]
    for key in SCALARS:
        expected = np.abs(train.targets[key].numpy().mean() - test.targets[key].numpy()).mean()
        assert math.isclose(row[COLUMNS[key]], expected, rel_tol=1e-9)
    mean_dipole = train.targets["dipole"].numpy().mean(axis=0)
    expected = np.linalg.norm(test.targets["dipole"].numpy() - mean_dipole, axis=1).mean()
    assert math.isclose(row[COLUMNS["dipole"]], expected, rel_tol=1e-9)


def test_energy_is_relative_to_a_least_squares_atom_reference(result):
    train, _, test = result.data.split(result.recipe.split, seed=result.recipe.seed)
    reference = result.scales.atom_reference
    assert set(reference) == set(train.z.unique().tolist())
    # normal equations: the training residuals are orthogonal to every element count
    residual = residual_energy(train, reference).numpy()
    counts = np.stack([(train.z == z).long().numpy() for z in sorted(reference)], axis=1)
    counts = np.add.reduceat(counts, train.ptr[:-1].numpy(), axis=0)
    scale = np.abs(train.targets["energy"].numpy()).max()
    assert np.abs(counts.T @ residual).max() < 1e-9 * scale
    # the test targets are the total energies minus the reference, to float64 round-off
    total = test.targets["energy"].numpy()
    z = test.z.numpy()
    ref = np.array(
        [
            sum(reference[int(a)] for a in z[s:e])
            for s, e in zip(test.ptr[:-1], test.ptr[1:], strict=True)
        ]
    )
    assert np.allclose(result.truth["energy"], total - ref, rtol=0, atol=1e-9 * scale)
    assert np.abs(result.truth["energy"]).max() < 0.1 * np.abs(total).min()
    heaviest = int(result.data.z.max())
    without = {k: v for k, v in reference.items() if k != heaviest}
    with pytest.raises(ValueError, match=rf"no atom reference energy for elements \[{heaviest}\]"):
        residual_energy(result.data, without)


def _molecules(result, k: int = 4):
    """The k most polar molecules in float64 (z, pos, batch), their positions jittered by
    0.02 Å so that no symmetry forces a zero dipole."""
    polar = result.data.targets["dipole_norm"].argsort(descending=True)[:k]
    b = next(result.data.subset(polar).batches(k, dtype=torch.float64))
    noise = torch.randn(
        b.pos.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    return b.z, b.pos + 0.02 * noise, b.batch


@pytest.mark.parametrize("name", MODELS)
def test_trained_model_is_o3_equivariant_in_float64(result, name):
    model = copy.deepcopy(result.models[name]).double().eval()
    z, pos, batch = _molecules(result)
    n, b = len(z), int(batch.max()) + 1

    def f(flat):
        out = model(z, flat.reshape(n, 3), batch)
        scalars = torch.stack([out[k] for k in ("energy", *SCALARS)], dim=1)
        return scalars.reshape(1, 4 * b), out["dipole"].reshape(1, 3 * b)

    report = equivariance_report(
        f, f"{n}x1o", [f"{4 * b}x0e", f"{b}x1o"], inputs=pos.reshape(1, -1), n_samples=6,
        dtype=torch.float64,
    )  # fmt: skip
    assert report["inversion"].any() and report["passed"].all()
    assert report["rel_error"].max() <= 1e-10
    # directly: a reflection times a rotation, a translation, and a permutation of the atoms
    out = model(z, pos, batch)
    g = torch.Generator().manual_seed(5)
    rotation = random_rotations(1, g, reflections=False, dtype=torch.float64)[0]
    R = rotation @ torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64))
    perm = torch.randperm(n, generator=g)
    moved = model(z[perm], (pos @ R.T + torch.tensor([3.0, -2.0, 7.5]))[perm], batch[perm])
    for key in ("energy", *SCALARS):
        assert (moved[key] - out[key]).abs().max() <= 1e-10 * out[key].abs().max(), key
    scale = out["dipole"].abs().max()
    assert scale > 1e-3
    assert (moved["dipole"] - out["dipole"] @ R.T).abs().max() <= 1e-10 * scale
    # the copy is independent of the trained float32 model (its feature hook is its own)
    assert next(result.models[name].parameters()).dtype == torch.float32
    assert model._captured == [] and result.models[name]._captured == []


def test_model_and_scales_reject_bad_input(result):
    scales = result.scales
    with pytest.raises(TypeError, match="Equiformer or a SchNet"):
        MoleculeModel(PointNet(PointNetConfig(n_classes=2)), scales)
    data = result.data
    partial = type(data)(data.z, data.pos, data.ptr, {"energy": data.targets["energy"]},
                         data.names, data.smiles)  # fmt: skip
    with pytest.raises(ValueError, match=r"lack the targets \['dipole', 'gap', 'homo', 'lumo'\]"):
        TargetScales.fit(partial)
    assert isinstance(result.models["Equiformer"].backbone, Equiformer)
    assert isinstance(result.models["SchNet"].backbone, SchNet)
    # the scales come from the data: the per-atom energy spread sets the backbone's scale
    assert result.models["SchNet"].backbone.config.energy_scale == scales.energy_per_atom[1]
    assert float(result.models["SchNet"].dipole_rms) == pytest.approx(scales.dipole_rms)
