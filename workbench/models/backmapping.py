r"""Baselines for backmapping beads to atoms, with CGVAE's ``reconstruct`` interface.

- :class:`LinearBackmap` (the "linear" baseline of CGVAE, Wang et al. 2022, arXiv 2201.12176):
  every atom is its bead plus a fixed linear combination of the differences from its bead to
  the other beads,

  .. math:: x_i = X_{a(i)} + \sum_{J \ne a(i)} W_{iJ}\,(X_J - X_{a(i)}),

  W fitted by least squares on the training frames (one small problem per atom, the three
  coordinates of every frame as samples), then the offsets of each bead's atoms are shifted
  to have zero weighted mean so the atoms map back onto the beads. Scalar weights on
  difference vectors: E(3)-equivariant by construction, and deterministic (every seed gives
  the same structure). With 3 beads it can only place atoms in the plane of the beads.
- :class:`MLPVAE`: a conditional VAE of MLPs on flattened coordinates (not rotation
  equivariant): encoder on (x - X_{a(i)}, X - centroid), prior and decoder on the beads
  relative to their centroid (so it is translation- but not rotation-equivariant), with the
  same latent size as CGVAE (``latent`` per bead), the same loss and the same projection onto
  the beads.

Interface (as :class:`~workbench.models.cgvae.CGVAE`): ``reconstruct(cg_pos (B, n_beads, 3),
seed=0) -> (B, n_atoms, 3)``; ``MLPVAE`` also has ``encode``, ``prior``, ``decode``,
``autoencode`` and ``loss``; ``LinearBackmap.fit(pos, beads)`` fits W.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.data.coarse_graining import Mapping
from workbench.models.cgvae import (
    _check_bonds,
    _check_seed,
    _normal,
    _vae_loss,
    check_beads,
    least_squares_template,
    project_to_beads,
)
from workbench.nn.embedding import RadialMLP

__all__ = ["MLPVAE", "LinearBackmap", "MLPVAEConfig"]

log = logging.getLogger(__name__)


def _as_tensor(x: Any, shape: tuple[int, ...], name: str, where: str) -> torch.Tensor:
    t = torch.from_numpy(x) if isinstance(x, np.ndarray) else x
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a tensor or array, got {type(x).__name__}")
    if t.ndim != len(shape) or any(
        e is not None and a != e for a, e in zip(t.shape, shape, strict=True)
    ):
        want = ", ".join("B" if e is None else str(e) for e in shape)
        raise ValueError(f"{where}: {name} has shape {tuple(t.shape)}, expected ({want})")
    if not torch.isfinite(t).all():
        raise ValueError(f"{where}: {name} contains NaN or inf")
    return t


class LinearBackmap(nn.Module):
    """Least-squares linear backmapping (see the module docstring); call :meth:`fit` first."""

    def __init__(self, mapping: Mapping) -> None:
        super().__init__()
        if not isinstance(mapping, Mapping):
            raise TypeError(f"LinearBackmap: mapping must be a Mapping, got {type(mapping)}")
        self.n_atoms, self.n_beads = mapping.n_atoms, mapping.n_beads
        self.register_buffer("assignment", torch.as_tensor(mapping.assignment, dtype=torch.long))
        self.register_buffer("weights", torch.as_tensor(mapping.weights, dtype=torch.float64))
        # W[i, J]: coefficient of X_J - X_a(i) (zero for J = a(i)), float64
        self.register_buffer(
            "coefficients", torch.zeros(self.n_atoms, self.n_beads, dtype=torch.float64)
        )
        self.register_buffer("_fitted", torch.zeros((), dtype=torch.bool))

    @property
    def fitted(self) -> bool:
        """Whether W was fitted (or set); kept in the state dict."""
        return bool(self._fitted)

    @fitted.setter
    def fitted(self, value: bool) -> None:
        self._fitted.fill_(bool(value))

    def fit(self, pos: Any, beads: Any) -> LinearBackmap:
        """Fit W on frames ``pos`` (T, n_atoms, 3) with their ``beads`` (T, n_beads, 3)."""
        pos = _as_tensor(pos, (None, self.n_atoms, 3), "pos", "LinearBackmap.fit").double()
        beads = _as_tensor(beads, (len(pos), self.n_beads, 3), "beads", "LinearBackmap.fit")
        beads = beads.double()
        w = least_squares_template(pos, beads, self.assignment.cpu())
        self.coefficients = w
        self.fitted = True
        return self

    def reconstruct(self, cg_pos: Any, seed: int = 0) -> torch.Tensor:
        """All-atom positions (B, n_atoms, 3) in the dtype of ``cg_pos`` (float32 or float64);
        ``seed`` is checked but changes nothing (the map is deterministic)."""
        _check_seed(seed, "LinearBackmap.reconstruct")
        if not self.fitted:
            raise RuntimeError("LinearBackmap.reconstruct: call fit(pos, beads) first")
        single = getattr(cg_pos, "dtype", None) in (torch.float32, np.float32)
        dtype = torch.float32 if single else torch.float64
        beads = check_beads(cg_pos, self.n_beads, dtype, "LinearBackmap.reconstruct")
        diff = beads[:, None, :, :] - beads[:, self.assignment][:, :, None, :]  # (B, n, N, 3)
        rel = torch.einsum("bijx,ij->bix", diff, self.coefficients.to(dtype))
        return project_to_beads(rel, beads, self.assignment, self.weights)

    def forward(self, cg_pos: Any, seed: int = 0) -> torch.Tensor:
        return self.reconstruct(cg_pos, seed=seed)


@dataclass(frozen=True)
class MLPVAEConfig:
    """Non-equivariant VAE: MLP ``hidden`` sizes, ``latent`` per bead (as CGVAE), loss weights
    ``beta`` (KL) and ``bond_weight`` (bond lengths), as :class:`CGVAEConfig`."""

    hidden: tuple[int, ...] = (256, 256)
    latent: int = 16
    beta: float = 0.01
    bond_weight: float = 0.01

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        if not hidden or not all(isinstance(h, int) and h >= 1 for h in hidden):
            raise ValueError(f"MLPVAEConfig.hidden={self.hidden!r}: expected ints >= 1")
        object.__setattr__(self, "hidden", hidden)
        if not isinstance(self.latent, int) or self.latent < 1:
            raise ValueError(f"MLPVAEConfig.latent={self.latent!r}: expected an int >= 1")
        for key in ("beta", "bond_weight"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"MLPVAEConfig.{key}={value!r}: expected a number >= 0")


class MLPVAE(nn.Module):
    """Conditional VAE of MLPs on flattened coordinates (see the module docstring)."""

    def __init__(
        self,
        mapping: Mapping,
        config: MLPVAEConfig = MLPVAEConfig(),
        bonds: np.ndarray | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(mapping, Mapping):
            raise TypeError(f"MLPVAE: mapping must be a Mapping, got {type(mapping).__name__}")
        if not isinstance(config, MLPVAEConfig):
            raise TypeError(f"MLPVAE: config must be an MLPVAEConfig, got {type(config)}")
        self.config = config
        self.n_atoms, self.n_beads = mapping.n_atoms, mapping.n_beads
        self.register_buffer("assignment", torch.as_tensor(mapping.assignment, dtype=torch.long))
        self.register_buffer("weights", torch.as_tensor(mapping.weights, dtype=torch.float64))
        self.register_buffer("bonds", _check_bonds(bonds, self.n_atoms))
        n_cg, n_fg, n_z = 3 * self.n_beads, 3 * self.n_atoms, config.latent * self.n_beads
        hidden = list(config.hidden)
        self.encoder = RadialMLP([n_cg + n_fg, *hidden, 2 * n_z])
        self.prior_net = RadialMLP([n_cg, *hidden, 2 * n_z])
        self.decoder = RadialMLP([n_cg + n_z, *hidden, n_fg])

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder[0].weight.dtype

    def _beads(self, beads: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
        beads = check_beads(beads, self.n_beads, self.dtype, where, "beads")
        return beads, (beads - beads.mean(1, keepdim=True)).flatten(1)

    def _gaussian(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = out.view(len(out), self.n_beads, 2 * self.config.latent).chunk(2, -1)
        return mu, 1e-6 + torch.exp(0.5 * log_var.clamp(-20.0, 10.0))

    def encode(self, pos: Any, beads: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x, X): mean and standard deviation, each (B, n_beads, latent)."""
        beads, flat = self._beads(beads, "MLPVAE.encode")
        pos = _as_tensor(pos, (len(beads), self.n_atoms, 3), "pos", "MLPVAE.encode")
        rel = (pos.to(self.dtype) - beads[:, self.assignment]).flatten(1)
        return self._gaussian(self.encoder(torch.cat([flat, rel], -1)))

    def prior(self, beads: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z | X): mean and standard deviation, each (B, n_beads, latent)."""
        _, flat = self._beads(beads, "MLPVAE.prior")
        return self._gaussian(self.prior_net(flat))

    def decode(self, beads: Any, z: torch.Tensor) -> torch.Tensor:
        """All-atom positions (B, n_atoms, 3) that map back onto ``beads`` exactly."""
        beads, flat = self._beads(beads, "MLPVAE.decode")
        z = _as_tensor(z, (len(beads), self.n_beads, self.config.latent), "z", "MLPVAE.decode")
        rel = self.decoder(torch.cat([flat, z.flatten(1)], -1)).view(-1, self.n_atoms, 3)
        return project_to_beads(rel, beads, self.assignment, self.weights)

    def reconstruct(self, cg_pos: Any, seed: int = 0) -> torch.Tensor:
        """Sample z ~ p(z | X) (noise seeded by ``seed``) and decode: (B, n_atoms, 3)."""
        _check_seed(seed, "MLPVAE.reconstruct")
        mu, sigma = self.prior(cg_pos)
        return self.decode(cg_pos, mu + sigma * _normal(tuple(mu.shape), seed, mu))

    def autoencode(self, pos: Any, beads: Any, seed: int | None = 0) -> torch.Tensor:
        """Decode z ~ q(z | x, X) (``seed=None``: z = its mean)."""
        _check_seed(seed, "MLPVAE.autoencode", allow_none=True)
        mu, sigma = self.encode(pos, beads)
        z = mu if seed is None else mu + sigma * _normal(tuple(mu.shape), seed, mu)
        return self.decode(beads, z)

    def loss(self, pos: torch.Tensor, beads: torch.Tensor) -> dict[str, torch.Tensor]:
        """As :meth:`CGVAE.loss`: ``{"loss", "recon", "kl", "bond"}``."""
        mu, sigma = self.encode(pos, beads)
        mu_p, sigma_p = self.prior(beads)
        x = self.decode(beads, mu + sigma * torch.randn_like(mu))
        pos = pos.to(x.dtype)
        return _vae_loss(x, pos, mu, sigma, mu_p, sigma_p, self.bonds, self.config)

    def forward(self, cg_pos: Any, seed: int = 0) -> torch.Tensor:
        return self.reconstruct(cg_pos, seed=seed)
