r"""Baselines for learning dynamics from trajectories: Euler network, Neural ODE, HNN.

All three learn the flow of x = (q, p) in R^D (D = 2n, positions first) and share the interface
``predict(x0 (B, D), t (T,)) -> (B, T, D)`` of :class:`~workbench.models.action_angle.
ActionAngleNetwork`; unlike it, their cost grows with the largest time asked for:

- :class:`EulerNetwork`: a learned discrete map x_{k+1} = x_k + dt f(x_k), applied t / dt
  times (times must be multiples of dt); the "Euler update network" of Daigavane et al.,
  arXiv 2211.15338.
- :class:`NeuralODE`: dx/dt = f(x), integrated by the classical fixed-step Runge-Kutta 4
  scheme with ``substeps`` steps per dt (Chen et al. 2018, arXiv 1806.07366).
- :class:`HamiltonianNN`: a learned scalar H(x) with dx/dt = Omega grad H, i.e.
  dq/dt = dH/dp, dp/dt = -dH/dq, also integrated by RK4 (Greydanus et al. 2019,
  arXiv 1906.01563).

f and H are MLPs (tanh) that read standardised inputs (x - mu) / sigma; f's output is scaled
by sigma and H's by a typical sigma_q sigma_p, so the networks work with numbers of order one.
``set_normalization(x)`` fits mu and sigma to data (..., D); call it before training.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from workbench._types import is_int

__all__ = ["DynamicsConfig", "EulerNetwork", "HamiltonianNN", "NeuralODE", "mlp", "rk4"]


@dataclass(frozen=True)
class DynamicsConfig:
    """A baseline's sizes: phase-space dimension ``dim`` (even), time step ``dt`` (the data's
    sampling step), MLP hidden widths ``hidden``, and integrator ``substeps`` per dt (Neural
    ODE and HNN)."""

    dim: int
    dt: float
    hidden: tuple[int, ...] = (64, 64)
    substeps: int = 1

    def __post_init__(self) -> None:
        if not is_int(self.dim, 2) or self.dim % 2:
            raise ValueError(f"DynamicsConfig.dim must be an even int >= 2, got {self.dim!r}")
        if not isinstance(self.dt, int | float) or isinstance(self.dt, bool) or not self.dt > 0:
            raise ValueError(f"DynamicsConfig.dt must be a number > 0, got {self.dt!r}")
        if not math.isfinite(self.dt):
            raise ValueError(f"DynamicsConfig.dt must be finite, got {self.dt!r}")
        if not isinstance(self.hidden, tuple) or not all(is_int(h, 1) for h in self.hidden):
            raise ValueError(
                f"DynamicsConfig.hidden must be a tuple of ints >= 1, got {self.hidden!r}"
            )
        if not is_int(self.substeps, 1):
            raise ValueError(f"DynamicsConfig.substeps must be an int >= 1, got {self.substeps!r}")


def mlp(widths: tuple[int, ...]) -> nn.Sequential:
    """Linear layers of the given widths with tanh between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def rk4(field, x0: torch.Tensor, t: torch.Tensor, h: float) -> torch.Tensor:
    """Integrate dx/dt = field(x) from x0 (B, D) at time 0 to the times t (T,) >= 0 with
    classical Runge-Kutta 4 steps of size at most h -> (B, T, D). Between consecutive sorted
    output times the interval is cut into ceil(interval / h) equal steps."""
    if len(t) == 0:
        return x0.new_zeros(x0.shape[0], 0, x0.shape[1])
    order = torch.argsort(t)
    states, x, now = [], x0, 0.0
    for target in t[order].tolist():
        n = math.ceil((target - now) / h - 1e-9)
        step = (target - now) / n if n > 0 else 0.0
        for _ in range(n):
            k1 = field(x)
            k2 = field(x + 0.5 * step * k1)
            k3 = field(x + 0.5 * step * k2)
            k4 = field(x + step * k3)
            x = x + step / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(x)
        now = target
    return torch.stack(states, 1)[:, torch.argsort(order)]


class _Dynamics(nn.Module):
    """Shared normalisation buffers, input checks and ``forward = predict``."""

    def __init__(self, config: DynamicsConfig, out: int) -> None:
        super().__init__()
        if not isinstance(config, DynamicsConfig):
            raise TypeError(f"config must be a DynamicsConfig, got {type(config).__name__}")
        self.config = config
        self.net = mlp((config.dim, *config.hidden, out))
        self.register_buffer("mean", torch.zeros(config.dim))
        self.register_buffer("std", torch.ones(config.dim))

    @property
    def n_dof(self) -> int:
        return self.config.dim // 2

    @torch.no_grad()
    def set_normalization(self, x: torch.Tensor) -> None:
        """Fit mu and sigma (per coordinate) to data x (..., D)."""
        x = torch.as_tensor(x).reshape(-1, self.config.dim).to(self.mean)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-12))

    def _times(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dim = self.config.dim
        if not isinstance(x0, torch.Tensor) or x0.ndim != 2 or x0.shape[1] != dim:
            shape = tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__
            raise ValueError(f"x0 must be (B, {dim}), got {shape}")
        t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
        if t.ndim != 1 or (t < 0).any() or not torch.isfinite(t).all():
            raise ValueError(f"t must be a 1-d tensor of finite times >= 0, got {t}")
        return t

    def forward(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Same as ``predict``."""
        return self.predict(x0, t)


class EulerNetwork(_Dynamics):
    """x_{k+1} = x_k + dt sigma f((x_k - mu) / sigma): one application per sampling step."""

    def __init__(self, config: DynamicsConfig) -> None:
        super().__init__(config, config.dim)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One step of dt: (B, D) -> (B, D)."""
        return x + self.config.dt * self.std * self.net((x - self.mean) / self.std)

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at times t (T,), each a multiple of dt, after x0 (B, D) -> (B, T, D)."""
        t = self._times(x0, t)
        steps = t.double() / self.config.dt  # float32 times carry ~1e-7 relative error
        k = torch.round(steps)
        if (torch.abs(steps - k) > 1e-5 * k.clamp_min(1.0)).any():
            raise ValueError(
                f"EulerNetwork predicts at multiples of dt={self.config.dt} only, got t={t}"
            )
        k = k.long()
        states, x = [x0], x0
        for _ in range(int(k.max()) if len(k) else 0):
            x = self.step(x)
            states.append(x)
        return torch.stack(states, 1)[:, k]


class NeuralODE(_Dynamics):
    """dx/dt = sigma f((x - mu) / sigma), integrated by RK4 with ``substeps`` steps per dt."""

    def __init__(self, config: DynamicsConfig) -> None:
        super().__init__(config, config.dim)

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """dx/dt at x (..., D)."""
        return self.std * self.net((x - self.mean) / self.std)

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at times t (T,) after x0 (B, D) -> (B, T, D)."""
        t = self._times(x0, t)
        return rk4(self.vector_field, x0, t, self.config.dt / self.config.substeps)


class HamiltonianNN(_Dynamics):
    """H(x) = s MLP((x - mu) / sigma), dx/dt = (dH/dp, -dH/dq), integrated by RK4.

    s = mean_i sigma_{q_i} sigma_{p_i} (set by ``set_normalization``). The gradient is taken
    with autograd, with a graph (for training) only when gradients are enabled.
    """

    def __init__(self, config: DynamicsConfig) -> None:
        super().__init__(config, 1)
        self.register_buffer("energy_scale", torch.ones(()))

    @torch.no_grad()
    def set_normalization(self, x: torch.Tensor) -> None:
        super().set_normalization(x)
        n = self.n_dof
        self.energy_scale.copy_((self.std[:n] * self.std[n:]).mean())

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """The learned H at x (..., D) -> (...)."""
        return self.energy_scale * self.net((x - self.mean) / self.std)[..., 0]

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """Omega grad H at x (..., D)."""
        graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.hamiltonian(x).sum(), x, create_graph=graph)
        n = self.n_dof
        field = torch.cat([grad[..., n:], -grad[..., :n]], -1)
        return field if graph else field.detach()

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at times t (T,) after x0 (B, D) -> (B, T, D)."""
        t = self._times(x0, t)
        return rk4(self.vector_field, x0, t, self.config.dt / self.config.substeps)
