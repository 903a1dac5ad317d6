"""CGVAE and the backmapping baselines: exact equivariance (rotations, translations, and
reflections where the model is E(3)), beads recovered exactly, shapes, seeds, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.data.coarse_graining import Mapping, map_to_beads
from workbench.models.backmapping import MLPVAE, LinearBackmap, MLPVAEConfig
from workbench.models.cgvae import CGVAE, CGVAEConfig, gaussian_kl

N_ATOMS, N_BEADS = 10, 4
ASSIGNMENT = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
SMALL = CGVAEConfig(hidden=8, latent=4, n_rbf=6, encoder_layers=1, prior_layers=1)
BONDS = np.array([[i, i + 1] for i in range(N_ATOMS - 1)])


def _mapping(weights: np.ndarray | None = None) -> Mapping:
    w = np.ones(N_ATOMS) if weights is None else weights
    w = w / np.bincount(ASSIGNMENT, weights=w)[ASSIGNMENT]
    return Mapping(ASSIGNMENT, w, N_BEADS, "kmedoids", "geometry")


def _frames(n: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pos = torch.cumsum(torch.randn(n, N_ATOMS, 3, generator=g, dtype=torch.float64), dim=1)
    return pos, map_to_beads(pos, _mapping())


def _orthogonal(reflect: bool) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64))
    if (torch.det(q) < 0) != reflect:
        q[:, 0] = -q[:, 0]
    return q


def _cgvae(chiral: bool = True) -> CGVAE:
    model = CGVAE(_mapping(), CGVAEConfig(**{**SMALL.__dict__, "chiral": chiral}), BONDS)
    with torch.no_grad():
        model.template.normal_()  # both start at zero (the template is a buffer)
        model.readout.normal_()
    return model.double()


@pytest.mark.parametrize("chiral", [True, False])
def test_cgvae_reconstruct_is_rotation_and_translation_equivariant(chiral):
    model = _cgvae(chiral)
    _, beads = _frames()
    r, t = _orthogonal(reflect=False), torch.randn(3, dtype=torch.float64)
    out = model.reconstruct(beads, seed=7)
    moved = model.reconstruct(beads @ r.T + t, seed=7)
    assert torch.allclose(moved, out @ r.T + t, atol=1e-10, rtol=0)
    assert (out - model.reconstruct(beads, seed=8)).abs().max() > 1e-3  # the seed matters


def test_cgvae_reflections_only_without_cross_products():
    _, beads = _frames()
    m = _orthogonal(reflect=True)
    e3 = _cgvae(chiral=False)
    assert torch.allclose(e3.reconstruct(beads @ m.T, seed=1), e3.reconstruct(beads, seed=1) @ m.T,
                          atol=1e-10, rtol=0)  # fmt: skip
    se3 = _cgvae(chiral=True)
    gap = se3.reconstruct(beads @ m.T, seed=1) - se3.reconstruct(beads, seed=1) @ m.T
    assert gap.abs().max() > 1e-4  # the cross product is a pseudovector


def test_cgvae_encoder_prior_decoder_symmetries():
    model = _cgvae()
    pos, beads = _frames()
    r, t = _orthogonal(reflect=False), torch.randn(3, dtype=torch.float64)
    mu, sigma = model.encode(pos, beads)
    mu2, sigma2 = model.encode(pos @ r.T + t, beads @ r.T + t)
    assert torch.allclose(mu, mu2, atol=1e-10) and torch.allclose(sigma, sigma2, atol=1e-10)
    p_mu, p_sigma = model.prior(beads)
    assert torch.allclose(model.prior(beads @ r.T + t)[0], p_mu, atol=1e-10)
    auto = model.autoencode(pos, beads, seed=3)
    moved = model.autoencode(pos @ r.T + t, beads @ r.T + t, seed=3)
    assert torch.allclose(moved, auto @ r.T + t, atol=1e-10, rtol=0)
    assert mu.shape == sigma.shape == p_mu.shape == (3, N_BEADS, SMALL.latent)
    assert (sigma > 0).all() and (p_sigma > 0).all()


@pytest.mark.parametrize("weights", [None, np.arange(1.0, N_ATOMS + 1)])
def test_generated_atoms_map_back_onto_the_beads(weights):
    mapping = _mapping(weights)
    pos, _ = _frames()
    beads = map_to_beads(pos, mapping)
    cgvae = CGVAE(mapping, SMALL).double()
    vae = MLPVAE(mapping, MLPVAEConfig(hidden=(16,), latent=4)).double()
    linear = LinearBackmap(mapping).fit(pos, beads)
    for model in (cgvae, vae, linear):
        out = model.reconstruct(beads, seed=0)
        assert out.shape == (3, N_ATOMS, 3) and out.dtype == torch.float64
        assert torch.allclose(map_to_beads(out, mapping), beads, atol=1e-12)


def test_seeds_are_reproducible_and_models_independent_of_global_rng():
    model = _cgvae()
    _, beads = _frames()
    a = model.reconstruct(beads, seed=5)
    torch.manual_seed(123)
    assert torch.equal(a, model.reconstruct(beads, seed=5))
    pos, beads = _frames()
    assert torch.equal(model.autoencode(pos, beads, seed=None), model.autoencode(pos, beads, None))


def test_linear_baseline_is_e3_equivariant_and_fits_a_linear_truth():
    mapping = _mapping()
    g = torch.Generator().manual_seed(1)
    beads = torch.randn(50, N_BEADS, 3, generator=g, dtype=torch.float64)
    # atoms that are exactly a bead plus a combination of bead differences, bead-consistent
    w = torch.randn(N_ATOMS, N_BEADS, generator=g, dtype=torch.float64)
    truth = LinearBackmap(mapping)
    truth.coefficients = w * (torch.arange(N_BEADS)[None] != torch.as_tensor(ASSIGNMENT)[:, None])
    truth.fitted = True
    pos = truth.reconstruct(beads)
    fitted = LinearBackmap(mapping).fit(pos, beads)
    assert torch.allclose(fitted.reconstruct(beads), pos, atol=1e-9)
    m, t = _orthogonal(reflect=True), torch.randn(3, dtype=torch.float64)
    out = fitted.reconstruct(beads[:4])
    assert torch.allclose(fitted.reconstruct(beads[:4] @ m.T + t), out @ m.T + t, atol=1e-10)
    assert torch.equal(fitted.reconstruct(beads[:4], seed=9), out)  # deterministic
    clone = LinearBackmap(mapping)
    clone.load_state_dict(fitted.state_dict())
    assert clone.fitted and torch.equal(clone.reconstruct(beads[:4]), out)
    assert fitted.reconstruct(beads[:4].float()).dtype == torch.float32


def test_fresh_cgvae_is_exactly_the_linear_backmap_and_the_template_is_fixed():
    mapping = _mapping()
    pos, beads = _frames(20)
    model = CGVAE(mapping, SMALL).double().init_template(pos, beads)
    linear = LinearBackmap(mapping).fit(pos, beads)
    assert torch.allclose(model.template, linear.coefficients, atol=1e-12)
    expected = linear.reconstruct(beads)
    for seed in (0, 1):  # the residual's readout is zero: no dependence on z yet
        assert torch.allclose(model.reconstruct(beads, seed=seed), expected, atol=1e-12)
    assert torch.allclose(model.autoencode(pos, beads, seed=2), expected, atol=1e-12)
    # the template is a buffer, not a trained parameter, and survives a state-dict round trip
    assert "template" not in dict(model.named_parameters())
    clone = CGVAE(mapping, SMALL).double()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.template, model.template)
    model.loss(pos, beads)["loss"].backward()
    assert model.readout.grad.abs().sum() > 0  # training starts from the linear fit
    with pytest.raises(ValueError, match="pos has shape"):
        model.init_template(pos[:3], beads)


def test_hydrogen_weight_and_free_bits_in_the_loss():
    mapping = _mapping()
    pos, beads = _frames(4)
    z = np.array([6, 1, 1, 8, 1, 6, 1, 1, 7, 1])
    for hw in (0.0, 0.1, 1.0):
        cfg = CGVAEConfig(**{**SMALL.__dict__, "hydrogen_weight": hw})
        model = CGVAE(mapping, cfg, z=z).double().init_template(pos, beads)
        sq = (model.reconstruct(beads) - pos).pow(2).sum(-1)  # fresh: independent of z
        w = torch.from_numpy(np.where(z == 1, hw, 1.0))
        torch.manual_seed(0)
        got = model.loss(pos, beads)["recon"]
        assert got.item() == pytest.approx(((sq * w).sum(-1) / w.sum()).mean().item(), rel=1e-10)
    # free bits: KL below lambda nats per bead costs nothing (no gradient reaches the prior)
    cfg = CGVAEConfig(**{**SMALL.__dict__, "free_bits": 1e6, "bond_weight": 0.0})
    model = _cgvae()
    free = CGVAE(_mapping(), cfg, BONDS).double()
    free.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    out = free.loss(pos, beads)
    assert out["loss"].item() == pytest.approx(out["recon"].item() + cfg.beta * 1e6, rel=1e-12)
    out["loss"].backward()
    assert free.prior_head.net[0].weight.grad.abs().max() == 0
    with pytest.raises(ValueError, match="atomic numbers"):
        CGVAE(mapping, SMALL, z=z[:3])
    with pytest.raises(ValueError, match="free_bits"):
        CGVAEConfig(free_bits=-1.0)


def test_mlp_vae_is_translation_but_not_rotation_equivariant():
    model = MLPVAE(_mapping(), MLPVAEConfig(hidden=(32, 32), latent=4)).double()
    _, beads = _frames()
    out = model.reconstruct(beads, seed=2)
    t = torch.randn(3, dtype=torch.float64)
    assert torch.allclose(model.reconstruct(beads + t, seed=2), out + t, atol=1e-10)
    r = _orthogonal(reflect=False)
    gap = model.reconstruct(beads @ r.T, seed=2) - out @ r.T
    assert gap.abs().max() > 1e-3


def test_losses_are_finite_and_train_signal_flows():
    pos, beads = _frames(4)
    for model in (_cgvae(), MLPVAE(_mapping(), MLPVAEConfig(hidden=(16,)), BONDS).double()):
        out = model.loss(pos, beads)
        assert set(out) == {"loss", "recon", "kl", "bond"}
        assert torch.isfinite(out["loss"]) and out["bond"] > 0
        out["loss"].backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_gaussian_kl_matches_closed_form():
    mu, sigma = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.3, 2.0]])
    mu_p, sigma_p = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.5]])
    expected = sum(
        np.log(sp / s) + (s**2 + (m - mp) ** 2) / (2 * sp**2) - 0.5
        for m, s, mp, sp in zip([0.5, -1.0], [0.3, 2.0], [0.0, 1.0], [1.0, 0.5], strict=True)
    )
    assert gaussian_kl(mu, sigma, mu_p, sigma_p).item() == pytest.approx(expected, rel=1e-6)
    assert gaussian_kl(mu, sigma, mu, sigma).abs().max() < 1e-7


def test_bad_inputs_raise_with_the_expected_form():
    model = _cgvae()
    pos, beads = _frames()
    with pytest.raises(ValueError, match=r"expected \(B, 4, 3\)"):
        model.reconstruct(beads[:, :3])
    with pytest.raises(ValueError, match=r"expected \(B, 4, 3\)"):
        model.reconstruct(beads[0])
    with pytest.raises(ValueError, match="NaN"):
        model.reconstruct(torch.full_like(beads, float("nan")))
    with pytest.raises(TypeError, match=r"torch\.Tensor or numpy"):
        model.reconstruct([[0.0, 0.0, 0.0]] * 4)
    with pytest.raises(ValueError, match="seed"):
        model.reconstruct(beads, seed=-1)
    with pytest.raises(ValueError, match="expected \\(3, 10, 3\\)"):
        model.encode(pos[:2], beads)
    with pytest.raises(ValueError, match="z has shape"):
        model.decode(beads, torch.zeros(3, N_BEADS, 99, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="fit"):
        LinearBackmap(_mapping()).reconstruct(beads)
    with pytest.raises(ValueError, match="decoder_layers"):
        CGVAEConfig(decoder_layers=1)
    with pytest.raises(ValueError, match="beta"):
        CGVAEConfig(beta=-1.0)
    with pytest.raises(TypeError, match="Mapping"):
        CGVAE(ASSIGNMENT)
    with pytest.raises(ValueError, match="bonds"):
        CGVAE(_mapping(), SMALL, bonds=np.array([[0, 99]]))
