"""Action-Angle Network and the dynamics baselines: symplecticity, exact inverses, the
fast-forward composition law, cost independent of the jump, and small learning checks."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.data.integrable import CoupledOscillatorsConfig, make_trajectories
from workbench.models.action_angle import (
    ActionAngleConfig,
    ActionAngleNetwork,
    GradientShear,
    LinearShear,
    SymplecticNormalization,
    SymplecticScale,
)
from workbench.models.dynamics import (
    DynamicsConfig,
    EulerNetwork,
    HamiltonianNN,
    NeuralODE,
    rk4,
)


def _omega(n: int) -> torch.Tensor:
    eye = torch.eye(n, dtype=torch.float64)
    zero = torch.zeros(n, n, dtype=torch.float64)
    return torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)


def _random_network(n: int, seed: int = 0) -> ActionAngleNetwork:
    """An AAN in float64 with every layer far from the identity."""
    torch.manual_seed(seed)
    model = ActionAngleNetwork(ActionAngleConfig(n_dof=n, blocks=2, width=6)).double()
    for layer in model.layers:
        if isinstance(layer, GradientShear):
            torch.nn.init.normal_(layer.a, std=0.7)
        elif isinstance(layer, LinearShear):
            torch.nn.init.normal_(layer.a, std=0.4)
        elif isinstance(layer, SymplecticScale):
            torch.nn.init.normal_(layer.s, std=0.3)
    scale = torch.tensor([1.0, 2.0, 3.0, 0.5, 0.2, 1.5][: 2 * n], dtype=torch.float64)
    model.set_normalization(torch.randn(200, 2 * n, dtype=torch.float64) * scale + 0.3)
    return model


def _symplectic_error(fn, x: torch.Tensor) -> float:
    jac = torch.func.jacrev(fn)(x)
    n = x.shape[-1] // 2
    jac = jac.detach()
    return float((jac.T @ _omega(n) @ jac - _omega(n)).abs().max() / jac.abs().max() ** 2)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_encoder_and_action_angle_map_are_symplectic(n):
    model = _random_network(n)
    for x in torch.randn(3, 2 * n, dtype=torch.float64):
        assert _symplectic_error(model.encode, x) < 1e-13

        def to_theta_i(v):
            actions, angles = model.to_action_angle(v)
            return torch.cat([angles, actions])  # (theta, I): theta plays the position

        assert _symplectic_error(to_theta_i, x) < 1e-13
    # a map that is not symplectic fails the same check
    assert _symplectic_error(lambda v: 2 * v, torch.randn(2 * n, dtype=torch.float64)) > 0.1


@pytest.mark.parametrize(
    "layer",
    [
        lambda: SymplecticNormalization(2),
        lambda: SymplecticScale(2),
        lambda: LinearShear(2, upper=True, init_std=0.5),
        lambda: LinearShear(2, upper=False, init_std=0.5),
        lambda: GradientShear(2, upper=True, width=5),
        lambda: GradientShear(2, upper=False, width=5),
    ],
)
def test_layers_are_symplectic_and_invertible(layer):
    layer = layer().double()
    for param in layer.parameters():
        torch.nn.init.normal_(param, std=0.5)
    if isinstance(layer, SymplecticNormalization):
        layer.fit(torch.randn(50, 4, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.2, 2.0]))
    x = torch.randn(7, 4, dtype=torch.float64)
    torch.testing.assert_close(layer.inverse(layer(x)), x, rtol=0, atol=1e-13)
    assert not torch.allclose(layer(x), x)
    assert _symplectic_error(layer, x[0]) < 1e-13


def test_exact_inverses_and_shapes():
    model = _random_network(3)
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(model.decode(model.encode(x)), x, rtol=0, atol=1e-11)
    actions, angles = model.to_action_angle(x)
    assert actions.shape == angles.shape == (4, 5, 3) and (actions >= 0).all()
    assert (angles.abs() <= math.pi).all()
    torch.testing.assert_close(model.from_action_angle(actions, angles), x, rtol=0, atol=1e-11)
    torch.testing.assert_close(
        model.from_action_angle(actions, angles + 2 * math.pi), x, rtol=0, atol=1e-11
    )
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        model.encode(torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        model.predict(x, torch.ones(2, dtype=torch.float64))


def test_predict_composes_and_conserves_actions():
    model = _random_network(2)
    x0 = torch.randn(5, 4, dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 1.7, 250.0], dtype=torch.float64)
    out = model.predict(x0, t)
    assert out.shape == (5, 4, 4)
    torch.testing.assert_close(out[:, 0], x0, rtol=0, atol=1e-11)
    for s in t[1:]:
        once = model.predict(x0, torch.stack([2 * s]))[:, 0]
        half = model.predict(x0, torch.stack([s]))[:, 0]
        twice = model.predict(half, torch.stack([s]))[:, 0]
        torch.testing.assert_close(twice, once, rtol=0, atol=1e-9)
    actions0, _ = model.to_action_angle(x0)
    actions_t, _ = model.to_action_angle(out)
    torch.testing.assert_close(
        actions_t, actions0[:, None].expand_as(actions_t), rtol=1e-10, atol=0
    )


def test_identity_network_is_the_harmonic_oscillator():
    """With identity layers and omega = w, the AAN is H = w (q^2 + p^2) / 2 exactly."""
    model = ActionAngleNetwork(ActionAngleConfig(n_dof=1, blocks=1, width=4)).double()
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, LinearShear | GradientShear):
                layer.a.zero_()
        last = model.omega_net[-1]
        last.weight.zero_()
        last.bias.fill_(1.3)
    x0 = torch.tensor([[0.7, -0.2], [0.0, 1.0]], dtype=torch.float64)
    t = torch.linspace(0, 20, 7, dtype=torch.float64)
    q0, p0 = x0[:, :1], x0[:, 1:]
    cos, sin = torch.cos(1.3 * t), torch.sin(1.3 * t)
    exact = torch.stack([q0 * cos + p0 * sin, p0 * cos - q0 * sin], -1)
    torch.testing.assert_close(model.predict(x0, t), exact, rtol=0, atol=1e-12)


def _count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_cost_of_a_jump():
    """The AAN evaluates its networks once whatever the jump; the baselines once per step."""
    aan = _random_network(2)
    x0 = torch.randn(3, 4, dtype=torch.float64)
    layer_calls, omega_calls = _count_calls(aan.layers[-1]), _count_calls(aan.omega_net)
    counts = []
    for jump in (1, 1000):
        layer_calls[0] = omega_calls[0] = 0
        aan.predict(x0, torch.tensor([0.1 * jump], dtype=torch.float64))
        counts.append((layer_calls[0], omega_calls[0]))
    assert counts[0] == counts[1] == (1, 1)  # one layer call in encode (inverse is separate)
    config = DynamicsConfig(dim=4, dt=0.1, hidden=(8,))
    for cls, per_step in ((EulerNetwork, 1), (NeuralODE, 4), (HamiltonianNN, 4)):
        model = cls(config).double()
        calls = _count_calls(model.net)
        with torch.no_grad():
            model.predict(x0, torch.tensor([10 * 0.1], dtype=torch.float64))
        assert calls[0] == 10 * per_step


def test_rk4_order_and_times():
    def field(x):
        return torch.stack([x[:, 1], -x[:, 0]], -1)

    x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    t = torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64)  # unsorted on purpose
    exact = torch.stack([torch.cos(t), -torch.sin(t)], -1)[None]
    errors = [(rk4(field, x0, t, h) - exact).abs().max().item() for h in (0.1, 0.05)]
    assert errors[0] < 1e-5 and 12 < errors[0] / errors[1] < 20  # fourth order


def test_baselines_interface():
    config = DynamicsConfig(dim=4, dt=0.1, hidden=(8, 8), substeps=2)
    x0 = torch.randn(3, 4, dtype=torch.float64)
    t = torch.arange(1, 6, dtype=torch.float64) * 0.1
    for cls in (EulerNetwork, NeuralODE, HamiltonianNN):
        model = cls(config).double()
        model.set_normalization(torch.randn(50, 4, dtype=torch.float64) * 2)
        out = model.predict(x0, t)
        assert out.shape == (3, 5, 4)
        two = model.predict(model.predict(x0, t[1:2])[:, 0], t[1:2])[:, 0]
        torch.testing.assert_close(two, out[:, 3], rtol=0, atol=1e-12)
        out.pow(2).sum().backward()
        assert model.net[0].weight.grad.abs().sum() > 0  # training reaches the parameters
        with torch.no_grad():
            assert not model.predict(x0, t).requires_grad
    with pytest.raises(ValueError, match="multiples of dt"):
        EulerNetwork(config).predict(x0, torch.tensor([0.15]))
    # float32 times far out (1000 dt) carry rounding error but are still whole steps
    far = torch.arange(1, 1001, dtype=torch.float32) * 0.1
    assert EulerNetwork(config).predict(x0.float(), far).shape == (3, 1000, 4)
    with pytest.raises(ValueError, match="x0 must be"):
        NeuralODE(config).predict(torch.zeros(3, 5), t)
    with pytest.raises(ValueError, match="dim"):
        DynamicsConfig(dim=3, dt=0.1)


def test_hnn_conserves_its_own_hamiltonian():
    model = HamiltonianNN(DynamicsConfig(dim=4, dt=0.01, hidden=(16,))).double()
    x0 = torch.randn(4, 4, dtype=torch.float64)
    with torch.no_grad():
        out = model.predict(x0, torch.tensor([1.0, 2.0], dtype=torch.float64))
        energy = model.hamiltonian(torch.cat([x0[:, None], out], 1))
    assert (energy - energy[:, :1]).abs().max() < 1e-8
    assert (out[:, -1] - x0).abs().max() > 1e-3  # it moved


def test_aan_learns_a_harmonic_oscillator_frequency():
    """A few hundred steps on 1-dof oscillators of frequency sqrt(k/m) find omega."""
    config = CoupledOscillatorsConfig(
        n=1, masses=(2.0,), springs=(1.0, 3.0), n_trajectories=16, steps=30, dt=0.1
    )
    data = make_trajectories(config)
    model = ActionAngleNetwork(ActionAngleConfig(n_dof=1, blocks=1, width=8)).double()
    model.set_normalization(data.x)
    times = data.t[1:11]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = data.x.unfold(1, 11, 1).permute(0, 1, 3, 2).reshape(-1, 11, 2)
    for _ in range(300):
        loss = ((model.predict(x[:, 0], times) - x[:, 1:]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    actions, _ = model.to_action_angle(data.x[:, 0])
    omega = model.frequencies(actions).detach()
    error = omega.sub(2.0**0.5).abs()  # true omega = sqrt((1 + 3) / 2)
    assert error.median() < 0.01 and error.max() < 0.05, error.flatten()
