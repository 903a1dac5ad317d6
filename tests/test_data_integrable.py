"""Integrable-system trajectories: closed forms against numerical integration, conservation
laws, actions against quadrature, validation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import integrate

from workbench.data.integrable import (
    CoupledOscillatorsConfig,
    KeplerConfig,
    PendulumConfig,
    TodaConfig,
    Trajectories,
    make_trajectories,
    solve_kepler,
)

SYSTEMS = {
    "oscillators": CoupledOscillatorsConfig(
        n=3,
        masses=(1.0, 2.0, 1.5),
        springs=(1.0, 0.5, 1.5, 0.7),
        n_trajectories=3,
        steps=150,
    ),
    "kepler": KeplerConfig(n_trajectories=3, steps=150, eccentricity=(0.4, 0.8), retrograde=True),
    "toda": TodaConfig(n=4, n_trajectories=3, steps=150),
    "pendulum": PendulumConfig(n_trajectories=3, steps=150, amplitude=(2.5, 3.0)),
}


def _hamiltonian_rhs(config):
    """dx/dt = (dH/dp, -dH/dq) of each system, written out independently of the module."""
    n = config.n_dof

    def rhs(_, y):
        q, p = y[:n], y[n:]
        if isinstance(config, CoupledOscillatorsConfig):
            return np.concatenate([p / np.asarray(config.masses), -config.stiffness() @ q])
        if isinstance(config, KeplerConfig):
            return np.concatenate([p, -config.gm * q / np.linalg.norm(q) ** 3])
        if isinstance(config, TodaConfig):
            right = np.exp(q - np.roll(q, -1))  # bond to the right neighbour
            return np.concatenate([p, np.roll(right, 1) - right])
        return np.array([p[0], -(config.w0**2) * math.sin(q[0])])

    return rhs


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_trajectories_match_numerical_integration(name):
    config = SYSTEMS[name]
    data = make_trajectories(config)
    n = config.n_dof
    assert data.x.shape == (3, config.steps + 1, 2 * n)
    assert data.x.dtype == data.t.dtype == torch.float64
    assert torch.equal(data.x, data.x_clean)  # noise = 0
    assert torch.allclose(data.t, torch.arange(config.steps + 1).double() * config.dt, atol=1e-12)
    for i in range(len(data)):
        solution = integrate.solve_ivp(
            _hamiltonian_rhs(config),
            (0.0, float(data.t[-1])),
            data.x_clean[i, 0].numpy(),
            t_eval=data.t.numpy(),
            method="DOP853",
            rtol=1e-12,
            atol=1e-12,
        )
        np.testing.assert_allclose(solution.y.T, data.x_clean[i].numpy(), atol=2e-8)


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_energy_is_conserved(name):
    data = make_trajectories(SYSTEMS[name])
    energy = data.energy(data.x_clean)
    assert energy.shape == (3, SYSTEMS[name].steps + 1)
    drift = (energy - energy[:, :1]).abs().max() / energy[:, 0].abs().min()
    assert drift < 1e-11


def test_oscillator_actions_and_modes():
    config = SYSTEMS["oscillators"]
    data = make_trajectories(config)
    w, modes = config.normal_modes()
    k, m = config.stiffness(), np.diag(config.masses)
    np.testing.assert_allclose(k @ modes, m @ modes * w**2, atol=1e-12)
    np.testing.assert_allclose(modes.T @ m @ modes, np.eye(3), atol=1e-12)
    # H = sum_j w_j I_j, and the frequencies are the normal-mode ones
    energy = data.energy(data.x_clean[:, 0])
    torch.testing.assert_close(energy, (data.frequencies * data.actions).sum(-1))
    torch.testing.assert_close(data.frequencies[0], torch.from_numpy(w))
    # each modal action (1/2pi) loop integral of p da is I_j = (a_dot^2 / w + w a^2) / 2
    q, p = data.q.numpy(), data.p.numpy()
    a, a_dot = q @ m @ modes, p @ modes
    modal = 0.5 * (a_dot**2 / w + w * a**2)
    np.testing.assert_allclose(modal, np.broadcast_to(data.actions[:, None], modal.shape), 1e-10)


def test_kepler_actions():
    config = SYSTEMS["kepler"]
    data = make_trajectories(replace(config, n_trajectories=8))
    q, p = data.q, data.p
    angular = q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]
    j_r, j_phi = data.actions[:, 0], data.actions[:, 1]
    torch.testing.assert_close(angular, j_phi[:, None].expand_as(angular))
    assert (j_phi < 0).any() and (j_phi > 0).any()  # retrograde orbits present
    # Delaunay: H = -GM^2 / (2 (J_r + |J_phi|)^2)
    energy = data.energy(data.x_clean[:, 0])
    torch.testing.assert_close(energy, -(config.gm**2) / (2 * (j_r + j_phi.abs()) ** 2))
    # radial action by quadrature: J_r = (1/pi) int_{r-}^{r+} sqrt(2E + 2GM/r - G^2/r^2) dr
    for i in range(3):
        e, g = float(energy[i]), float(j_phi[i])
        roots = np.roots([2 * e, 2 * config.gm, -(g**2)])
        r_min, r_max = sorted(roots.real)
        value, _ = integrate.quad(
            lambda r, e=e, g=g: math.sqrt(max(2 * e + 2 * config.gm / r - g**2 / r**2, 0.0)),
            r_min,
            r_max,
            limit=200,
        )
        assert value / math.pi == pytest.approx(float(j_r[i]), abs=1e-7)


def test_solve_kepler():
    mean = np.linspace(-20, 20, 101)
    for e in (0.0, 0.5, 0.95):
        big_e = solve_kepler(mean, e)
        np.testing.assert_allclose(big_e - e * np.sin(big_e), mean, atol=1e-12)


def test_pendulum_actions_and_frequencies():
    config = replace(SYSTEMS["pendulum"], amplitude=(0.3, 3.0), n_trajectories=6)
    data = make_trajectories(config)
    energy = data.energy(data.x_clean[:, 0])
    for i in range(len(data)):
        e = float(energy[i])
        q_max = math.acos(1 - e / config.w0**2)
        value, _ = integrate.quad(
            lambda q, e=e: math.sqrt(max(2 * (e - config.w0**2 * (1 - math.cos(q))), 0.0)),
            0,
            q_max,
            limit=200,
            epsabs=1e-14,
            epsrel=1e-13,
        )
        assert 2 * value / math.pi == pytest.approx(float(data.actions[i, 0]), rel=1e-8)
    # omega = dH/dI: central differences over nearby amplitudes
    for amp in (0.5, 2.0, 3.0):
        trio = [
            make_trajectories(replace(config, amplitude=(a, a), n_trajectories=1, steps=1))
            for a in (amp - 1e-5, amp, amp + 1e-5)
        ]
        energies = [float(d.energy(d.x_clean[0, 0])) for d in trio]
        actions = [float(d.actions[0, 0]) for d in trio]
        slope = (energies[2] - energies[0]) / (actions[2] - actions[0])
        assert slope == pytest.approx(float(trio[1].frequencies[0, 0]), rel=1e-7)
    # small amplitudes: harmonic, I = E / w0
    small = make_trajectories(replace(config, amplitude=(1e-3, 1e-3), n_trajectories=1))
    assert float(small.frequencies[0, 0]) == pytest.approx(config.w0, rel=1e-6)


def test_toda_momentum_and_drift_check():
    data = make_trajectories(SYSTEMS["toda"])
    assert data.actions is None and data.frequencies is None
    total = data.p.sum(-1)
    assert total.abs().max() < 1e-12 and data.q.mean(-1).abs().max() < 1e-12
    coarse = TodaConfig(n=3, n_trajectories=2, steps=20, dt=1.0, substeps=1, p_spread=2.0)
    with pytest.raises(RuntimeError, match="substeps"):
        make_trajectories(coarse)


def test_noise_seed_and_subset():
    config = CoupledOscillatorsConfig(n_trajectories=6, steps=50, noise=0.1, seed=3)
    data = make_trajectories(config)
    residual = data.x - data.x_clean
    assert 0.08 < float(residual.std()) < 0.12
    fewer = make_trajectories(replace(config, n_trajectories=2, steps=10))
    torch.testing.assert_close(fewer.x, data.x[:2, :11])
    other = make_trajectories(replace(config, seed=4))
    assert not torch.allclose(other.x_clean, data.x_clean)
    part = data.subset(slice(1, 3))
    assert isinstance(part, Trajectories) and len(part) == 2
    torch.testing.assert_close(part.actions, data.actions[1:3])
    assert data.n_dof == 2 and data.dt == pytest.approx(0.1)
    assert data.q.shape == data.p.shape == (6, 51, 2)
    assert data.system == "coupled_oscillators"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: CoupledOscillatorsConfig(n=0), "n must be"),
        (lambda: CoupledOscillatorsConfig(n=2, masses=(1.0,)), "masses"),
        (lambda: CoupledOscillatorsConfig(n=2, masses=(1.0, -1.0)), "masses"),
        (lambda: CoupledOscillatorsConfig(n=2, springs=(0.0, 1.0, 0.0)), "free"),
        (lambda: CoupledOscillatorsConfig(amplitude=(2.0, 1.0)), "amplitude"),
        (lambda: CoupledOscillatorsConfig(dt=0.0), "dt"),
        (lambda: CoupledOscillatorsConfig(noise=-0.1), "noise"),
        (lambda: CoupledOscillatorsConfig(steps=1.5), "steps"),
        (lambda: KeplerConfig(eccentricity=(0.5, 1.0)), "eccentricity"),
        (lambda: KeplerConfig(semi_major=(0.0, 1.0)), "semi_major"),
        (lambda: TodaConfig(n=1), "n must be"),
        (lambda: TodaConfig(substeps=0), "substeps"),
        (lambda: PendulumConfig(amplitude=(0.5, 3.2)), "amplitude"),
        (lambda: PendulumConfig(w0=0), "w0"),
    ],
)
def test_bad_configs(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_inputs():
    with pytest.raises(TypeError, match="config must be one of"):
        make_trajectories({"n": 2})
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        CoupledOscillatorsConfig().energy(torch.zeros(3, 5))
