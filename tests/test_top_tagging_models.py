"""Top-tagging models: the Lorentz MACE is exactly Lorentz-invariant (float64 <= 1e-10 at
rapidity <= 1 and <= 1e-9 at rapidity up to 2, float32 measured), all models are invariant to
permutations and padding, PFN/ParticleNet are not boost-invariant, and every model learns to
separate toy top-like from QCD-like jets.

The jets here are synthetic toys made in this file (3-prong decays t -> b W -> b q q of a
173 GeV particle vs one-prong sprays, massless constituents); the real jets come from
workbench.data.jets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.checks import equivariance_report
from workbench.data.kinematics import boost_matrix, minkowski_dot
from workbench.groups import Lorentz
from workbench.groups.base import GroupElement
from workbench.metrics import auc
from workbench.models.baselines import random_rotations
from workbench.models.top_tagging import (
    FEATURE_NAMES,
    LorentzMACETagger,
    LorentzMACETaggerConfig,
    ParticleFlowNetwork,
    ParticleNet,
    ParticleNetConfig,
    PFNConfig,
    features,
    jet_mass,
    jet_momentum,
    mass_window_score,
)
from workbench.nn import InvariantForm

BCE = torch.nn.functional.binary_cross_entropy_with_logits

# --- toy jets ------------------------------------------------------------------------------------


def _massless(pt, eta, phi):
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


def _two_body(mass, m1, m2, rng):
    """Isotropic decay at rest: the two four-momenta."""
    p = math.sqrt((mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2)) / (2 * mass)
    cos, azimuth = rng.uniform(-1, 1), rng.uniform(0, 2 * math.pi)
    sin = math.sqrt(1 - cos**2)
    v = p * np.array([sin * math.cos(azimuth), sin * math.sin(azimuth), cos])
    return np.r_[math.hypot(p, m1), v], np.r_[math.hypot(p, m2), -v]


def _from_rest_frame(p, q):
    """p given in the rest frame of the time-like q, in the lab."""
    beta = q[1:] / q[0]
    gamma = q[0] / math.sqrt(q[0] ** 2 - q[1:] @ q[1:])
    bp, b2 = beta @ p[1:], beta @ beta
    return np.r_[gamma * (p[0] + bp), p[1:] + ((gamma - 1) * bp / b2 + gamma * p[0]) * beta]


def _spray(parton, n, spread, rng):
    """n massless constituents sharing the parton's pT around its direction."""
    pt = math.hypot(parton[1], parton[2])
    eta, phi = math.asinh(parton[3] / pt), math.atan2(parton[2], parton[1])
    z = pt * (0.05 / n + 0.95 * rng.dirichlet(np.full(n, 0.7)))
    return _massless(z, eta + rng.normal(0, spread, n), phi + rng.normal(0, spread, n))


def toy_jets(n_jets: int, n_max: int = 20, seed: int = 0, dtype=torch.float64):
    """p4 (B, n_max, 4) GeV, pT-sorted and zero-padded, mask, labels (odd jets top-like)."""
    rng = np.random.default_rng(seed)
    p4, mask = np.zeros((n_jets, n_max, 4)), np.zeros((n_jets, n_max), bool)
    labels = np.arange(n_jets) % 2
    for b in range(n_jets):
        pt, eta, phi = rng.normal(600, 30), rng.uniform(-1.5, 1.5), rng.uniform(-math.pi, math.pi)
        n = int(rng.integers(max(n_max // 2, 3), n_max + 1))
        if labels[b]:
            top = _massless(pt, eta, phi)
            top[0] = math.sqrt(173.0**2 + top[1:] @ top[1:])
            quark_b, w = _two_body(173.0, 4.8, 80.4, rng)
            quarks = [_from_rest_frame(q, w) for q in _two_body(80.4, 0.0, 0.0, rng)]
            partons = [_from_rest_frame(q, top) for q in (quark_b, *quarks)]
            sizes = rng.multinomial(n - 3, [1 / 3] * 3) + 1
            c = np.concatenate(
                [_spray(q, k, 0.02, rng) for q, k in zip(partons, sizes, strict=True)]
            )
        else:
            c = _spray(_massless(pt, eta, phi), n, rng.uniform(0.02, 0.2), rng)
        p4[b, :n] = c[np.argsort(-np.hypot(c[:, 1], c[:, 2]))]
        mask[b, :n] = True
    return torch.from_numpy(p4).to(dtype), torch.from_numpy(mask), torch.from_numpy(labels)


def lorentz_transforms(n: int, max_rapidity: float = 1.0, seed: int = 0) -> torch.Tensor:
    """(n, 4, 4) proper orthochronous Lorentz matrices on (E, px, py, pz): a Haar rotation then
    a boost of rapidity uniform in [0, max_rapidity] along a random axis."""
    gen = torch.Generator().manual_seed(seed)
    rotations = random_rotations(n, gen, reflections=False, dtype=torch.float64)
    out = []
    for rotation in rotations:
        rapidity = max_rapidity * float(torch.rand(1, generator=gen, dtype=torch.float64))
        axis = torch.randn(3, generator=gen, dtype=torch.float64).numpy()
        L = torch.eye(4, dtype=torch.float64)
        L[1:, 1:] = rotation
        out.append(torch.from_numpy(boost_matrix(rapidity, axis)) @ L)
    return torch.stack(out)


def _apply(L: torch.Tensor, p4: torch.Tensor) -> torch.Tensor:
    return p4 @ L.to(p4.dtype).T


def _rotation_z(angle: float) -> torch.Tensor:
    L = torch.eye(4, dtype=torch.float64)
    c, s = math.cos(angle), math.sin(angle)
    L[1:3, 1:3] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return L


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


METRIC = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


# --- the group's four-vector is (E, px, py, pz) ------------------------------------------------


def test_lorentz_vector_irrep_acts_on_e_px_py_pz_as_kinematics_does():
    g = Lorentz()
    zero = (0.0,) * 3
    for rapidity, axis in [(0.7, (0.0, 0.0, 1.0)), (1.3, (1.0, -2.0, 0.5))]:
        n = np.asarray(axis) / np.linalg.norm(axis)
        element = GroupElement(g, (zero + zero, zero + tuple(rapidity * n)))
        D = g.rep("(1,1)", element)
        assert D.imag.abs().max() < 1e-15
        expected = torch.from_numpy(boost_matrix(rapidity, axis))
        assert torch.allclose(D.real, expected, atol=1e-13, rtol=0)
    rotation = g.rep("(1,1)", GroupElement(g, ((0.0, 0.0, 0.9, 0.0, 0.0, 0.0), (0.0,) * 6))).real
    assert torch.allclose(rotation, _rotation_z(0.9), atol=1e-13) or torch.allclose(
        rotation, _rotation_z(-0.9), atol=1e-13
    )
    for element in g.sample(5, seed=3, max_rapidity=1.0):  # what equivariance_report samples
        D = g.rep("(1,1)", element).real
        assert torch.allclose(D.T @ METRIC @ D, METRIC, atol=1e-12)
        assert D[0, 0] >= 1 and abs(float(torch.linalg.det(D)) - 1) < 1e-12
    p = torch.randn(6, 4, dtype=torch.float64)
    q = InvariantForm(g, "(1,1)").double()(p)
    assert torch.allclose(q, minkowski_dot(p, p), atol=1e-13)  # +E^2 - |p|^2


# --- Lorentz MACE: invariance --------------------------------------------------------------------


def _mace(**kwargs) -> LorentzMACETagger:
    return LorentzMACETagger(LorentzMACETaggerConfig(**kwargs)).eval()


@pytest.mark.parametrize("normalization", ["fixed", "jet_mass"])
def test_lorentz_mace_is_exactly_lorentz_invariant_in_float64(normalization):
    p4, mask, _ = toy_jets(6, 12, seed=1)
    model = _mace(normalization=normalization).double()
    with torch.no_grad():
        logits, (inv, _) = model(p4, mask), model.invariants(p4, mask)
        # the invariants differ from jet to jet: the comparisons below could fail
        assert float(inv.std(dim=0).max() / inv.abs().max()) > 1e-2
        for L in lorentz_transforms(6, max_rapidity=1.0, seed=2):
            moved = _apply(L, p4)
            assert _rel(model(moved, mask), logits) <= 1e-10
            assert _rel(model.invariants(moved, mask)[0], inv) <= 1e-10
    # the project's checker, with the group's own boosts and rotations (rapidity <= 1)
    B, N, _ = p4.shape
    report = equivariance_report(
        lambda flat: model(flat.reshape(B, N, 4), mask).reshape(1, B),
        f"{B * N}x(1,1)",
        f"{B}x(0,0)",
        group=Lorentz(),
        inputs=p4.reshape(1, -1),
        dtype=torch.float64,
        n_samples=3,
    )
    assert report["passed"].all(), report


@pytest.mark.parametrize("normalization", ["fixed", "jet_mass"])
def test_lorentz_mace_float64_invariance_at_rapidity_up_to_2(normalization):
    """The acceptance bound of the top-tagging issue: float64 relative error <= 1e-9 under
    boosts of rapidity up to 2 (E grows by up to cosh 2 + sinh 2 = e^2 ~ 7.4), on 600 GeV
    jets with the model's own settings (momenta / 100 GeV). Boosts of exactly y = +-2 along
    x, y, z and the jet axis, then random rotations times boosts of y in [1, 2]. Measured:
    logits <= 4e-16 ("fixed") / 8e-13 ("jet_mass") of the largest logit, <= 4e-13 / 5e-12 of
    the logits' spread between jets; pooled invariants <= 6e-15 / 1.5e-13."""
    p4, mask, _ = toy_jets(8, 20, seed=5)
    model = _mace(normalization=normalization, channels=4).double()
    jet_axis = jet_momentum(p4, mask)[0, 1:].numpy()
    transforms = [
        torch.from_numpy(boost_matrix(y, axis))
        for y in (2.0, -2.0)
        for axis in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), jet_axis)
    ]
    gen = torch.Generator().manual_seed(7)
    for rotation in random_rotations(4, gen, reflections=False, dtype=torch.float64):
        y = 1.0 + float(torch.rand(1, generator=gen, dtype=torch.float64))
        axis = torch.randn(3, generator=gen, dtype=torch.float64).numpy()
        R = torch.eye(4, dtype=torch.float64)
        R[1:, 1:] = rotation
        transforms.append(torch.from_numpy(boost_matrix(y, axis)) @ R)
    with torch.no_grad():
        logits, (inv, _) = model(p4, mask), model.invariants(p4, mask)
        # the invariants differ from jet to jet: the comparisons below could fail
        assert float(inv.std(dim=0).max() / inv.abs().max()) > 1e-2
        errors, inv_errors, spread_errors = [], [], []
        for L in transforms:
            moved = _apply(L, p4)
            errors.append(_rel(model(moved, mask), logits))
            inv_errors.append(_rel(model.invariants(moved, mask)[0], inv))
            # relative to how much the logits vary between jets (an untrained head's bias
            # dominates the logits themselves)
            spread_errors.append(float((model(moved, mask) - logits).abs().max() / logits.std()))
    # the boost along the jet axis multiplies the first jet's energy by ~ e^2 (its E ~ |P|)
    assert float(_apply(transforms[3], p4)[0, :, 0].sum() / p4[0, :, 0].sum()) > 6.0
    assert max(errors) <= 1e-9, errors
    assert max(inv_errors) <= 1e-9, inv_errors
    assert max(spread_errors) <= 1e-9, spread_errors

    """The control for the normalisation choice: divide by E_J (not invariant) before the
    model and the invariants change by orders of magnitude more than the tolerance (1e-10;
    measured ~2e-5 at initialisation, relative to the largest invariant)."""
    p4, mask, _ = toy_jets(6, 12, seed=1)
    model = _mace().double()

    def by_energy(x):
        return model.invariants(100.0 * x / jet_momentum(x, mask)[:, None, :1], mask)[0]

    with torch.no_grad():
        ref = by_energy(p4)
        error = max(_rel(by_energy(_apply(L, p4)), ref) for L in lorentz_transforms(3, seed=4))
    assert error > 1e-7


def test_lorentz_mace_float32_invariance_on_600_gev_jets():
    """Measured: logits and pooled invariants change by <= ~1e-6 of their largest value under
    boosts of rapidity <= 1 (float32, 600 GeV jets scaled by 100 GeV, sums and mass in
    float64); per channel <= ~1e-5 with "fixed" and ~5e-5 with "jet_mass" (QCD jets have
    E_J / m_J ~ 20, so the polynomial invariants cancel more). Tolerances: 1e-5 relative to
    the largest value, as the project's float32 checks; 1e-4 per significant channel."""
    p4, mask, _ = toy_jets(16, 30, seed=7, dtype=torch.float32)
    transforms = lorentz_transforms(5, max_rapidity=1.0, seed=11)
    for normalization in ("fixed", "jet_mass"):
        torch.manual_seed(1)
        model = _mace(normalization=normalization)
        with torch.no_grad():
            logits, (inv, _) = model(p4, mask), model.invariants(p4, mask)
            scale = inv.abs().max(dim=0).values
            significant = scale > 1e-6 * scale.max()  # imaginary parts are ~1e-17 round-off
            per_channel = 0.0
            for L in transforms:
                moved = _apply(L, p4)
                assert _rel(model(moved, mask), logits) <= 1e-5
                change = model.invariants(moved, mask)[0] - inv
                assert float(change.abs().max() / scale.max()) <= 1e-5
                per_channel = max(
                    per_channel, float((change.abs().max(0).values / scale)[significant].max())
                )
        assert per_channel <= 1e-4, (normalization, per_channel)


def test_lorentz_mace_with_beams_keeps_only_rotations_about_and_boosts_along_z():
    p4, mask, _ = toy_jets(6, 12, seed=5)
    model = _mace(include_beams=True).double()
    along_z = torch.from_numpy(boost_matrix(0.9, (0, 0, 1))) @ _rotation_z(1.1)
    swap_beams = torch.diag(torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64))  # R_x(pi)
    with torch.no_grad():
        inv = model.invariants(p4, mask)[0]
        for L in (along_z, swap_beams):
            assert _rel(model.invariants(_apply(L, p4), mask)[0], inv) <= 1e-10
        for L in lorentz_transforms(3, seed=6):
            assert _rel(model.invariants(_apply(L, p4), mask)[0], inv) > 1e-6
        # with the default (no beams) the same transformations leave it unchanged
        plain = _mace().double()
        inv = plain.invariants(p4, mask)[0]
        for L in lorentz_transforms(3, seed=6):
            assert _rel(plain.invariants(_apply(L, p4), mask)[0], inv) <= 1e-10


# --- all models: permutations, padding, what the baselines break ---------------------------------


MODELS = {
    "lorentz_mace": lambda: _mace(),
    "lorentz_mace_beams": lambda: _mace(include_beams=True, normalization="jet_mass"),
    "pfn": lambda: ParticleFlowNetwork(PFNConfig(phi=(16, 16), f=(16,))).eval(),
    "particlenet": lambda: ParticleNet(
        ParticleNetConfig(k=4, blocks=((16, 16), (16,)), fc=16)
    ).eval(),
}


@pytest.mark.parametrize("name", MODELS)
def test_models_are_invariant_to_permutations_and_padding(name):
    p4, mask, _ = toy_jets(5, 10, seed=2)
    model = MODELS[name]().double()
    with torch.no_grad():
        out = model(p4, mask)
        assert out.shape == (5,) and torch.isfinite(out).all()
        perm = torch.randperm(10)
        assert torch.allclose(model(p4[:, perm], mask[:, perm]), out, atol=1e-12, rtol=1e-10)
        junk = torch.full((5, 3, 4), float("nan"), dtype=p4.dtype)
        junk[1] = 1e4
        padded = torch.cat([p4, junk], dim=1)
        padded_mask = torch.cat([mask, torch.zeros(5, 3, dtype=torch.bool)], dim=1)
        assert torch.allclose(model(padded, padded_mask), out, atol=1e-12, rtol=1e-10)
        # each jet alone gives the same logit as in the batch
        assert torch.allclose(model(p4[2:3], mask[2:3]), out[2:3], atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["pfn", "particlenet"])
def test_baselines_are_not_boost_invariant_but_respect_rotations_about_the_beam(name):
    p4, mask, _ = toy_jets(6, 12, seed=3)
    model = MODELS[name]().double()
    with torch.no_grad():
        out = model(p4, mask)
        assert _rel(model(_apply(_rotation_z(2.0), p4), mask), out) <= 1e-10
        for L in lorentz_transforms(3, seed=8):
            assert _rel(model(_apply(L, p4), mask), out) > 1e-3


# --- features and the mass cut -------------------------------------------------------------------


def test_features_by_hand_and_padding_without_nan():
    # two massless constituents at phi = pi -+ 0.1 (straddling the -pi/pi seam), eta 0 and 0.2
    pt = torch.tensor([300.0, 100.0], dtype=torch.float64)
    eta = torch.tensor([0.0, 0.2], dtype=torch.float64)
    phi = torch.tensor([math.pi - 0.1, -math.pi + 0.1], dtype=torch.float64)
    jet = torch.from_numpy(_massless(pt.numpy(), eta.numpy(), phi.numpy()))
    p4 = torch.zeros(1, 4, 4, dtype=torch.float64)
    p4[0, :2] = jet
    mask = torch.tensor([[True, True, False, False]])
    p4.requires_grad_(True)
    x = features(p4, mask)
    assert x.shape == (1, 4, len(FEATURE_NAMES)) and torch.isfinite(x).all()
    assert (x[0, 2:] == 0).all()
    x.sum().backward()
    assert torch.isfinite(p4.grad).all()
    x = x.detach()[0, :2]
    total = jet.sum(0)
    jet_pt = torch.hypot(total[1], total[2])
    jet_eta = torch.asinh(total[3] / jet_pt)
    jet_phi = torch.atan2(total[2], total[1])
    assert torch.allclose(x[:, 0], eta - jet_eta, atol=1e-12)
    d_phi = torch.remainder(phi - jet_phi + math.pi, 2 * math.pi) - math.pi
    assert x[:, 1].abs().max() < 0.2 and torch.allclose(x[:, 1], d_phi, atol=1e-12)
    assert torch.allclose(x[:, 2], pt.log(), atol=1e-12)
    assert torch.allclose(x[:, 4], (pt / jet_pt).log(), atol=1e-12)
    assert torch.allclose(x[:, 5], (jet[:, 0] / total[0]).log(), atol=1e-12)
    assert torch.allclose(x[:, 6], torch.hypot(x[:, 0], x[:, 1]), atol=1e-12)


def test_jet_mass_and_mass_window():
    # two massless particles with energies E1, E2 at opening angle theta:
    # m^2 = 2 E1 E2 (1 - cos theta)
    e1, e2, theta = 400.0, 150.0, 0.6
    p4 = torch.tensor(
        [[[e1, e1, 0, 0], [e2, e2 * math.cos(theta), e2 * math.sin(theta), 0], [0, 0, 0, 0]]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[True, True, False]])
    expected = math.sqrt(2 * e1 * e2 * (1 - math.cos(theta)))
    assert abs(float(jet_mass(p4, mask)[0]) - expected) < 1e-9
    assert jet_mass(p4.float(), mask).dtype == torch.float32
    assert abs(float(mass_window_score(p4, mask)[0]) + abs(expected - 173.0)) < 1e-9
    jets, jet_mask, labels = toy_jets(40, 12, seed=9)
    mass = jet_mass(jets, jet_mask)
    boosted = jet_mass(_apply(lorentz_transforms(1, seed=1)[0], jets), jet_mask)
    assert torch.allclose(boosted, mass, rtol=1e-10)
    top = mass[labels == 1]  # the sprays smear the 173 GeV of the decay a little
    assert abs(float(top.median()) - 173.0) < 5.0 and ((top - 173.0).abs() < 25.0).all()


def test_bad_input_is_reported():
    p4, mask, _ = toy_jets(3, 6, seed=0)
    model = _mace()
    with pytest.raises(ValueError, match="shape"):
        model(p4[..., :3], mask)
    with pytest.raises(TypeError, match="bool"):
        model(p4, mask.int())
    with pytest.raises(ValueError, match="no constituent"):
        model(p4, torch.zeros_like(mask))
    bad = p4.clone()
    bad[0, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        features(bad, mask)
    on_beam = p4.clone()
    on_beam[0, 0] = torch.tensor([10.0, 0.0, 0.0, 10.0])
    with pytest.raises(ValueError, match="pT <= 0"):
        features(on_beam, mask)
    with pytest.raises(TypeError, match="floating"):
        jet_mass(p4.long(), mask)
    with pytest.raises(ValueError, match="normalization"):
        LorentzMACETaggerConfig(normalization="jet_energy")
    with pytest.raises(ValueError, match="scale"):
        LorentzMACETaggerConfig(scale=0.0)
    with pytest.raises(ValueError, match="phi"):
        PFNConfig(phi=())
    with pytest.raises(ValueError, match="k must"):
        ParticleNetConfig(k=0)


# --- training ------------------------------------------------------------------------------------


def _train(model, p4, mask, labels, epochs, lr, batch=32):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(p4)).split(batch):
            loss = BCE(model(p4[index], mask[index]), labels[index].float())
            assert torch.isfinite(loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


@pytest.mark.parametrize(
    ("name", "epochs", "lr"),
    [("lorentz_mace", 5, 1e-2), ("pfn", 10, 3e-3), ("particlenet", 5, 3e-3)],
)
def test_short_float32_training_separates_toy_top_from_qcd_jets(name, epochs, lr):
    p4, mask, labels = toy_jets(512, 12, seed=0, dtype=torch.float32)
    model = {
        "lorentz_mace": lambda: LorentzMACETagger(LorentzMACETaggerConfig(avg_num_neighbors=8.0)),
        "pfn": ParticleFlowNetwork,
        "particlenet": ParticleNet,
    }[name]()
    _train(model, p4[:384], mask[:384], labels[:384], epochs, lr)
    with torch.no_grad():
        scores = model(p4[384:], mask[384:])
    assert torch.isfinite(scores).all()
    assert auc(scores.numpy(), labels[384:].numpy()) > 0.8


def test_jet_mass_normalisation_trains_too():
    p4, mask, labels = toy_jets(256, 10, seed=4, dtype=torch.float32)
    model = LorentzMACETagger(LorentzMACETaggerConfig(normalization="jet_mass"))
    _train(model, p4[:192], mask[:192], labels[:192], 4, 1e-2)
    with torch.no_grad():
        scores = model(p4[192:], mask[192:])
    assert auc(scores.numpy(), labels[192:].numpy()) > 0.8
