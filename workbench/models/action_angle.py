r"""Action-Angle Networks: learn a symplectic map to action-angle coordinates and fast-forward.

Daigavane, Kosmala, Cranmer, Smidt, Ho, "Learning Integrable Dynamics with Action-Angle
Networks", arXiv 2211.15338. For an integrable system with n degrees of freedom there are
canonical coordinates (theta, I) in which H = H(I), so the actions I are conserved and the
angles turn at constant rates, theta(t) = theta(0) + omega(I) t with omega = dH/dI. The network

1. maps x = (q, p) in R^{2n} to latent points z = (Q, P) = phi(x) by a learned map phi built
   from exactly invertible symplectic layers (Jacobian J with J^T Omega J = Omega, where
   Omega = [[0, 1], [-1, 0]]): a fixed data normalisation (a translation and the symplectic
   scaling q_i / c_i, p_i c_i), a learned scaling, and blocks of linear shears
   (q += S p, p += S q with S symmetric) and gradient shears (SympNets' gradient modules,
   q += K^T (a * tanh(K p + b)), which is the gradient of a potential in p, and the same with
   q and p swapped; Jin et al. 2020, arXiv 2001.03750);
2. reads each pair (Q_i, P_i) in polar coordinates, I_i = (Q_i^2 + P_i^2) / 2 and
   theta_i = atan2(Q_i, P_i), so Q = sqrt(2I) sin theta, P = sqrt(2I) cos theta and
   dQ ^ dP = dtheta ^ dI: (theta, I) is again canonical, with theta as the coordinate;
3. evolves theta(t) = theta(0) + omega(I) t with omega(I) a small MLP, and maps back with the
   exact inverse of steps 2 and 1.

Prediction to any time t costs one encoding and one decoding, independent of |t|; actions are
conserved along predicted trajectories by construction, and predicting 2t equals predicting t
twice (up to round-off). Training (see ``workbench.experiments.action_angle``) minimises the
prediction error plus a penalty on the variance of the encoded actions along true trajectories.

Shapes: x (..., 2n) with positions first; I, theta (..., n); ``predict(x0 (B, 2n), t (T,))``
-> (B, T, 2n).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from workbench.models.dynamics import mlp

__all__ = [
    "ActionAngleConfig",
    "ActionAngleNetwork",
    "GradientShear",
    "LinearShear",
    "SymplecticNormalization",
    "SymplecticScale",
]


@dataclass(frozen=True)
class ActionAngleConfig:
    """Sizes of an Action-Angle Network for ``n_dof`` degrees of freedom.

    ``blocks`` symplectic blocks, each [linear shear q, linear shear p, gradient shear q,
    gradient shear p] with ``width`` hidden units in the gradient shears; ``omega_hidden`` are
    the hidden widths of the frequency MLP omega(I).
    """

    n_dof: int
    blocks: int = 4
    width: int = 32
    omega_hidden: tuple[int, ...] = (32, 32)

    def __post_init__(self) -> None:
        for key in ("n_dof", "blocks", "width"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ActionAngleConfig.{key} must be an int >= 1, got {value!r}")
        hidden = self.omega_hidden
        if not isinstance(hidden, tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden
        ):
            raise ValueError(
                f"ActionAngleConfig.omega_hidden must be a tuple of ints >= 1, got {hidden!r}"
            )


# ----------------------------------------------------------------------------- layers


class _Symplectic(nn.Module):
    """A symplectic map of R^{2n} acting on the last dim, with an exact ``inverse``."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != 2 * self.n:
            raise ValueError(f"expected points (..., {2 * self.n}), got {tuple(x.shape)}")
        return x[..., : self.n], x[..., self.n :]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class SymplecticNormalization(_Symplectic):
    """Fixed data normalisation q' = (q - mu_q) / c, p' = (p - mu_p) c (buffers, not trained).

    Translations and the scaling (q, p) -> (q / c, p c) are symplectic. ``fit(x)`` picks mu as
    the data mean and c_i = sqrt(std(q_i) / std(p_i)), so q'_i and p'_i share the spread
    sqrt(std(q_i) std(p_i)).
    """

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.register_buffer("shift", torch.zeros(2 * n))
        self.register_buffer("log_c", torch.zeros(n))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, 2 * self.n).to(self.shift)
        std = x.std(0).clamp_min(1e-12)
        self.shift.copy_(x.mean(0))
        self.log_c.copy_(0.5 * (std[: self.n].log() - std[self.n :].log()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = self._split(x - self.shift)
        return torch.cat([q * torch.exp(-self.log_c), p * torch.exp(self.log_c)], -1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        q, p = self._split(y)
        return torch.cat([q * torch.exp(self.log_c), p * torch.exp(-self.log_c)], -1) + self.shift


class SymplecticScale(_Symplectic):
    """Learned symplectic scaling q' = q e^s, p' = p e^{-s} (s (n,), starts at 0)."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.s = nn.Parameter(torch.zeros(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = self._split(x)
        return torch.cat([q * torch.exp(self.s), p * torch.exp(-self.s)], -1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        q, p = self._split(y)
        return torch.cat([q * torch.exp(-self.s), p * torch.exp(self.s)], -1)


class _Shear(_Symplectic):
    """q' = q + f(p) (``upper``) or p' = p + f(q), f = ``_shift`` with a symmetric Jacobian
    (a gradient), which makes the shear symplectic; subtracting f inverts it exactly."""

    def __init__(self, n: int, upper: bool) -> None:
        super().__init__(n)
        self.upper = upper

    def _shift(self, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
        q, p = self._split(x)
        if self.upper:
            return torch.cat([q + sign * self._shift(p), p], -1)
        return torch.cat([q, p + sign * self._shift(q)], -1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.forward(y, sign=-1.0)


class LinearShear(_Shear):
    """q' = q + S p (``upper``) or p' = p + S q, with S = A + A^T symmetric (A starts small)."""

    def __init__(self, n: int, upper: bool, init_std: float = 0.01) -> None:
        super().__init__(n, upper)
        self.a = nn.Parameter(init_std * torch.randn(n, n))

    def _shift(self, v: torch.Tensor) -> torch.Tensor:
        return v @ (self.a + self.a.T)


class GradientShear(_Shear):
    """q' = q + K^T (a * tanh(K p + b)) (``upper``) or the same with q and p swapped.

    The shift is the gradient of V(p) = sum_k a_k log cosh(K_k . p + b_k) (SympNets' gradient
    module), so its Jacobian K^T diag(a tanh') K is symmetric. ``a`` starts at zero: the layer
    starts as the identity.
    """

    def __init__(self, n: int, upper: bool, width: int, init_std: float = 0.5) -> None:
        super().__init__(n, upper)
        self.k = nn.Parameter(init_std * torch.randn(width, n))
        self.b = nn.Parameter(init_std * torch.randn(width))
        self.a = nn.Parameter(torch.zeros(width))

    def _shift(self, v: torch.Tensor) -> torch.Tensor:
        return (self.a * torch.tanh(v @ self.k.T + self.b)) @ self.k


# ----------------------------------------------------------------------------- network


class ActionAngleNetwork(nn.Module):
    """Action-Angle Network (arXiv 2211.15338): symplectic encoder, linear angle evolution.

    - ``encode(x)`` (..., 2n) -> z (..., 2n): the symplectic map phi; ``decode`` its inverse.
    - ``to_action_angle(x)`` -> (I, theta), each (..., n); ``from_action_angle(I, theta)``
      -> x (..., 2n), its exact inverse (theta is read modulo 2 pi).
    - ``polar(z)`` -> (I, theta) and ``cartesian(I, theta)`` -> z: the latent polar map.
    - ``frequencies(I)`` -> omega (..., n), the learned dtheta/dt.
    - ``predict(x0 (B, 2n), t (T,))`` -> (B, T, 2n): encode once, turn the angles by omega t,
      decode; the cost does not depend on the size of t (negative t runs backwards).
    - ``set_normalization(x)`` fits the fixed symplectic normalisation (first layer) and the
      action scale the frequency MLP reads, from data x (..., 2n). Call it before training.
    """

    def __init__(self, config: ActionAngleConfig) -> None:
        super().__init__()
        if not isinstance(config, ActionAngleConfig):
            raise TypeError(f"config must be an ActionAngleConfig, got {type(config).__name__}")
        self.config = config
        n = config.n_dof
        layers: list[_Symplectic] = [SymplecticNormalization(n), SymplecticScale(n)]
        for _ in range(config.blocks):
            layers += [
                LinearShear(n, upper=True),
                LinearShear(n, upper=False),
                GradientShear(n, upper=True, width=config.width),
                GradientShear(n, upper=False, width=config.width),
            ]
        self.layers = nn.ModuleList(layers)
        self.omega_net = mlp((n, *config.omega_hidden, n))
        self.register_buffer("action_scale", torch.ones(()))

    @property
    def n_dof(self) -> int:
        return self.config.n_dof

    @torch.no_grad()
    def set_normalization(self, x: torch.Tensor) -> None:
        """Fit the input normalisation and the action scale to data x (..., 2n)."""
        x = torch.as_tensor(x).to(self.action_scale)
        self.layers[0].fit(x)
        z = self.layers[0](x.reshape(-1, 2 * self.n_dof))
        self.action_scale.copy_((0.5 * z.pow(2).sum(-1) / self.n_dof).mean().clamp_min(1e-12))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The symplectic map phi: x (..., 2n) -> z = (Q, P) (..., 2n)."""
        self._check(x)
        for layer in self.layers:
            x = layer(x)
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """phi^{-1}: z (..., 2n) -> x (..., 2n), exactly (up to round-off)."""
        self._check(z)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def to_action_angle(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (..., 2n) -> actions I (..., n) >= 0 and angles theta (..., n) in (-pi, pi]."""
        return self.polar(self.encode(x))

    def from_action_angle(self, actions: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """(I (..., n), theta (..., n)) -> x (..., 2n), the exact inverse of
        :meth:`to_action_angle` (theta modulo 2 pi)."""
        return self.decode(self.cartesian(actions, angles))

    def polar(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent z = (Q, P) (..., 2n) -> I = (Q^2 + P^2) / 2, theta = atan2(Q, P)."""
        big_q, big_p = z[..., : self.n_dof], z[..., self.n_dof :]
        return 0.5 * (big_q**2 + big_p**2), torch.atan2(big_q, big_p)

    def cartesian(self, actions: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """(I, theta) (..., n) -> latent z = (sqrt(2I) sin theta, sqrt(2I) cos theta)."""
        if actions.shape[-1] != self.n_dof or angles.shape[-1] != self.n_dof:
            raise ValueError(
                f"actions and angles must be (..., {self.n_dof}), got {tuple(actions.shape)} "
                f"and {tuple(angles.shape)}"
            )
        radius = torch.sqrt(2 * actions.clamp_min(0))
        return torch.cat([radius * torch.sin(angles), radius * torch.cos(angles)], -1)

    def frequencies(self, actions: torch.Tensor) -> torch.Tensor:
        """omega(I) (..., n): the angles' rates dtheta/dt."""
        return self.omega_net(actions / self.action_scale)

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at times t (T,) after x0 (B, 2n) -> (B, T, 2n), in one encode/decode."""
        self._check(x0)
        if x0.ndim != 2:
            raise ValueError(f"x0 must be (B, {2 * self.n_dof}), got {tuple(x0.shape)}")
        t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
        if t.ndim != 1:
            raise ValueError(f"t must be a 1-d tensor of times (T,), got shape {tuple(t.shape)}")
        actions, angles = self.to_action_angle(x0)
        omega = self.frequencies(actions)
        angles_t = angles[:, None, :] + omega[:, None, :] * t[None, :, None]
        return self.from_action_angle(actions[:, None, :].expand_as(angles_t), angles_t)

    def forward(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`predict`."""
        return self.predict(x0, t)

    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] != 2 * self.n_dof:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected phase-space points (..., {2 * self.n_dof}), got {shape}")
