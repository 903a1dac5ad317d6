"""SchNet baseline: invariant energy, polar dipole from neutral charges, under O(3) (float64
<= 1e-10, float32 ~1e-5), translations, permutations and batching; training and bad input."""

from __future__ import annotations

import pytest
import torch

from tests.test_equiformer import molecules, random_o3, toy_targets
from workbench.checks import equivariance_report
from workbench.models.equiformer import count_parameters
from workbench.models.schnet import CONFIGS, SchNet, SchNetConfig, shifted_softplus


def model64(config=None) -> SchNet:
    torch.manual_seed(0)
    return SchNet(config).double()


def test_energy_invariant_and_dipole_polar_under_o3_with_shared_checker():
    model = model64()
    z, pos, batch = molecules()
    n, b = len(z), int(batch.max()) + 1

    def f(flat):
        out = model(z, flat.reshape(n, 3), batch)
        return out["energy"].reshape(1, b), out["dipole"].reshape(1, 3 * b)

    report = equivariance_report(
        f, f"{n}x1o", [f"{b}x0e", f"{b}x1o"], inputs=pos.reshape(1, -1), n_samples=8,
        dtype=torch.float64,
    )  # fmt: skip
    assert report["inversion"].any() and report["passed"].all()
    assert report["rel_error"].max() <= 1e-10


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "rotation+mirror"])
def test_direct_o3_translation_permutation(reflect):
    model = model64()
    z, pos, batch = molecules()
    out = model(z, pos, batch)
    features = model.node_features(z, pos, batch)
    assert out["dipole"].abs().min() > 1e-4
    for seed in range(3):
        R = random_o3(seed, reflect)
        moved = model(z, pos @ R.T - 4.0, batch)
        assert torch.allclose(moved["energy"], out["energy"], atol=1e-12, rtol=0)
        err = (moved["dipole"] - out["dipole"] @ R.T).abs().max()
        assert err <= 1e-10 * out["dipole"].abs().max()
        moved_features = model.node_features(z, pos @ R.T - 4.0, batch)
        assert torch.allclose(moved_features, features, atol=1e-12, rtol=0)  # invariant
    perm = torch.randperm(len(z), generator=torch.Generator().manual_seed(2))
    permuted = model(z[perm], pos[perm], batch[perm])
    assert torch.allclose(permuted["energy"], out["energy"], atol=1e-12, rtol=0)
    assert torch.allclose(permuted["dipole"], out["dipole"], atol=1e-12, rtol=0)


def test_dipole_is_the_dipole_of_neutral_charges():
    model = model64()
    z, pos, batch = molecules(sizes=(6,))
    out = model(z, pos, batch)
    # inversion flips the dipole; neutral charges make it independent of the origin, and
    # without neutralisation the centroid does
    assert torch.allclose(model(z, -pos, batch)["dipole"], -out["dipole"], atol=1e-12)
    assert torch.allclose(model(z, pos + 100.0, batch)["dipole"], out["dipole"], atol=1e-10)
    unneutral = SchNet(SchNetConfig(neutral_charges=False)).double()
    moved = unneutral(z, pos + 100.0, batch)["dipole"]
    assert torch.allclose(moved, unneutral(z, pos, batch)["dipole"], atol=1e-10)  # centroid


def test_batch_equals_molecules_alone():
    model = model64()
    z, pos, batch = molecules()
    out = model(z, pos, batch)
    for m in range(3):
        atoms = batch == m
        alone = model(z[atoms], pos[atoms], torch.zeros(int(atoms.sum()), dtype=torch.long))
        assert torch.allclose(alone["energy"], out["energy"][m : m + 1], atol=1e-12, rtol=0)
        assert torch.allclose(alone["dipole"], out["dipole"][m : m + 1], atol=1e-12, rtol=0)


def test_float32_invariance():
    torch.manual_seed(0)
    model = SchNet()
    z, pos, batch = molecules(dtype=torch.float32)
    out = model(z, pos, batch)
    R = random_o3(3, reflect=True).float()
    moved = model(z, pos @ R.T + 2.0, batch)
    rel_e = (moved["energy"] - out["energy"]).abs().max() / out["energy"].abs().max()
    rel_d = (moved["dipole"] - out["dipole"] @ R.T).abs().max() / out["dipole"].abs().max()
    assert rel_e <= 1e-5 and rel_d <= 1e-5, (rel_e, rel_d)


def test_training_reduces_the_loss_on_a_toy_target():
    torch.manual_seed(0)
    model = SchNet()
    z, pos, batch = molecules(sizes=(6, 5, 7, 4, 6, 5), dtype=torch.float32, seed=4, spread=1.2)
    energy, dipole = toy_targets(z, pos, batch, 6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_fn():
        out = model(z, pos, batch)
        return (out["energy"] - energy).pow(2).mean() + (out["dipole"] - dipole).pow(2).mean()

    with torch.no_grad():
        first = float(loss_fn())
    for _ in range(60):
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
    with torch.no_grad():
        assert float(loss_fn()) < 0.2 * first


def test_configs_and_shifted_softplus():
    assert CONFIGS["quick"] == SchNetConfig()
    assert count_parameters(SchNet()) < count_parameters(SchNet(CONFIGS["full"]))
    assert len(SchNet(CONFIGS["full"]).interactions) == 6
    x = torch.tensor([0.0, 3.0, -2.0], dtype=torch.float64)
    expected = torch.log(0.5 * torch.exp(x) + 0.5)
    assert torch.allclose(shifted_softplus(x), expected, atol=1e-15)


def test_bad_input_raises_clear_errors():
    model = SchNet()
    z, pos, batch = molecules(dtype=torch.float32)
    with pytest.raises(TypeError, match="z must be an integer"):
        model(z.double(), pos, batch)
    with pytest.raises(ValueError, match=r"atomic numbers must be in 1\.\.9"):
        model(torch.zeros_like(z), pos, batch)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        model(z, pos[:, :2], batch)
    with pytest.raises(TypeError, match="batch must be an integer"):
        model(z, pos, batch.float())
    with pytest.raises(TypeError, match=r"pos is torch\.float64"):
        model(z, pos.double(), batch)
    with pytest.raises(ValueError, match="r_max > 0"):
        SchNet(SchNetConfig(r_max=0.0))
