r"""Trajectories of integrable Hamiltonian systems with ground truth, generated (no download).

Every system has n degrees of freedom and phase-space points x = (q, p) in R^{2n} (positions
first, then momenta), Hamiltonian H(q, p), and is sampled at t_k = k dt, k = 0..steps:

- :class:`CoupledOscillatorsConfig`: n masses on a line between two walls, joined by n + 1
  springs, H = p^T M^{-1} p / 2 + q^T K q / 2. Exact solution from the normal modes,
  K v_j = w_j^2 M v_j with V^T M V = 1: modal coordinates a = V^T M q oscillate as
  a_j(t) = A_j cos(w_j t + phi_j); the actions are I_j = w_j A_j^2 / 2.
- :class:`KeplerConfig`: a planet in the plane, H = |p|^2 / 2 - GM / |q|. Exact solution from
  Kepler's equation E - e sin E = n (t - t_p) (Newton's method); actions
  (J_r, J_phi) = (L - |G|, G) with L = sqrt(GM a) and G = L sqrt(1 - e^2) the angular momentum.
- :class:`TodaConfig`: the periodic Toda lattice, H = sum_i p_i^2 / 2 + sum_i exp(q_i - q_{i+1})
  - n (q_{n+1} = q_1), integrated by Yoshida's 6th-order symplectic composition of leapfrog
  steps; the relative energy drift is checked against ``max_energy_drift``. Its actions have no
  closed form (``actions`` is None).
- :class:`PendulumConfig`: H = p^2 / 2 + w0^2 (1 - cos q) in libration, exact via Jacobi
  elliptic functions: q = 2 arcsin(k sn(w0 t + u0 | k^2)), p = 2 k w0 cn(w0 t + u0 | k^2), with
  k = sin(q_max / 2); action I = (8 w0 / pi) (E(k^2) - (1 - k^2) K(k^2)), frequency
  pi w0 / (2 K(k^2)).

Observation noise (Gaussian, standard deviation ``noise`` in the units of x) is added to ``x``;
``x_clean`` keeps the exact values. See Daigavane et al., "Learning Integrable Dynamics with
Action-Angle Networks", arXiv 2211.15338, for the learning problem these data serve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import linalg, special
from tqdm.auto import tqdm

from workbench._types import is_int, is_real

__all__ = [
    "CoupledOscillatorsConfig",
    "KeplerConfig",
    "PendulumConfig",
    "SystemConfig",
    "TodaConfig",
    "Trajectories",
    "make_trajectories",
    "solve_kepler",
]

# Yoshida (1990), solution A: weights of a 6th-order composition of 2nd-order leapfrog steps
_YOSHIDA6_W = (-1.17767998417887, 0.235573213359357, 0.784513610477560)
_YOSHIDA6 = (*_YOSHIDA6_W[::-1], 1 - 2 * sum(_YOSHIDA6_W), *_YOSHIDA6_W)


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class _Common:
    """Fields every system shares: how many trajectories, how long, how finely, how noisy."""

    n_trajectories: int = 64
    steps: int = 200
    dt: float = 0.1
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("n_trajectories", "steps"):
            _require(is_int(getattr(self, key), 1), name, key, getattr(self, key), "an int >= 1")
        _require(is_real(self.dt) and self.dt > 0, name, "dt", self.dt, "a number > 0")
        _require(
            is_real(self.noise) and self.noise >= 0, name, "noise", self.noise, "a number >= 0"
        )
        _require(is_int(self.seed, 0) and self.seed < 2**63, name, "seed", self.seed, "an int >= 0")

    @property
    def n_dof(self) -> int:
        """Degrees of freedom n (phase space has dimension 2n)."""
        raise NotImplementedError

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """The Hamiltonian H of phase-space points x (..., 2n) -> (...)."""
        raise NotImplementedError


@dataclass(frozen=True)
class CoupledOscillatorsConfig(_Common):
    """n masses between two walls, joined by n + 1 springs (wall-m_1, m_1-m_2, ..., m_n-wall).

    ``masses`` (n,) and ``springs`` (n + 1,) default to all ones; a spring constant may be 0
    (a missing spring) as long as no mode is free (K positive definite). Modal amplitudes
    A_j (in mass-weighted modal coordinates) are uniform in ``amplitude``, phases uniform.
    """

    n: int = 2
    masses: tuple[float, ...] | None = None
    springs: tuple[float, ...] | None = None
    amplitude: tuple[float, float] = (0.5, 1.5)

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _require(is_int(self.n, 1), name, "n", self.n, "an int >= 1")
        masses = (1.0,) * self.n if self.masses is None else self.masses
        springs = (1.0,) * (self.n + 1) if self.springs is None else self.springs
        _require(
            _real_tuple(masses, self.n) and min(masses) > 0,
            name,
            "masses",
            self.masses,
            f"None or {self.n} numbers > 0 (one per mass)",
        )
        _require(
            _real_tuple(springs, self.n + 1) and min(springs) >= 0,
            name,
            "springs",
            self.springs,
            f"None or {self.n + 1} numbers >= 0 (wall-m1, m1-m2, ..., m{self.n}-wall)",
        )
        object.__setattr__(self, "masses", tuple(float(m) for m in masses))
        object.__setattr__(self, "springs", tuple(float(k) for k in springs))
        _check_range(name, "amplitude", self.amplitude, lower=0.0)
        if np.linalg.eigvalsh(self.stiffness()).min() <= 1e-12:
            raise ValueError(
                f"{name}.springs={self.springs} leave a free (zero-frequency) mode; give at "
                "least one wall spring a constant > 0"
            )

    @property
    def n_dof(self) -> int:
        return self.n

    def stiffness(self) -> np.ndarray:
        """The (n, n) stiffness matrix K of the spring chain."""
        k = np.asarray(self.springs)
        stiff = np.diag(k[:-1] + k[1:])
        off = -k[1:-1]
        return stiff + np.diag(off, 1) + np.diag(off, -1)

    def normal_modes(self) -> tuple[np.ndarray, np.ndarray]:
        """Frequencies w (n,) ascending and modes V (n, n) with K V = M V diag(w^2), V^T M V = 1."""
        w2, modes = linalg.eigh(self.stiffness(), np.diag(self.masses))
        return np.sqrt(w2), modes

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_phase_points(x, self.n)
        q, p = x[..., : self.n], x[..., self.n :]
        m = torch.as_tensor(self.masses, dtype=x.dtype, device=x.device)
        k = torch.as_tensor(self.stiffness(), dtype=x.dtype, device=x.device)
        return 0.5 * (p**2 / m).sum(-1) + 0.5 * torch.einsum("...i,ij,...j->...", q, k, q)


@dataclass(frozen=True)
class KeplerConfig(_Common):
    """Planar Kepler orbits around a fixed centre of strength ``gm`` (unit planet mass).

    Semi-major axes a and eccentricities e are uniform in their ranges (0 <= e < 1), the
    perihelion direction and the initial mean anomaly uniform; with ``retrograde`` half of the
    orbits run clockwise.
    """

    gm: float = 1.0
    semi_major: tuple[float, float] = (0.8, 1.2)
    eccentricity: tuple[float, float] = (0.0, 0.5)
    retrograde: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _require(is_real(self.gm) and self.gm > 0, name, "gm", self.gm, "a number > 0")
        _check_range(name, "semi_major", self.semi_major, lower=0.0, strict=True)
        _check_range(name, "eccentricity", self.eccentricity, lower=0.0, upper=1.0)
        _require(isinstance(self.retrograde, bool), name, "retrograde", self.retrograde, "a bool")

    @property
    def n_dof(self) -> int:
        return 2

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_phase_points(x, 2)
        return 0.5 * (x[..., 2:] ** 2).sum(-1) - self.gm / x[..., :2].norm(dim=-1)


@dataclass(frozen=True)
class TodaConfig(_Common):
    """The periodic Toda lattice of n particles, integrated with ``substeps`` 6th-order
    symplectic steps per sample step.

    Initial q_i ~ N(0, q_spread^2), p_i ~ N(0, p_spread^2), then shifted to zero mean, so the
    centre of mass stays at rest at the origin. Generation fails (RuntimeError) if the relative
    energy drift max_t |H(t) - H(0)| / H(0) of any trajectory exceeds ``max_energy_drift``.
    """

    n: int = 3
    q_spread: float = 0.5
    p_spread: float = 0.5
    substeps: int = 10
    max_energy_drift: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _require(is_int(self.n, 2), name, "n", self.n, "an int >= 2")
        _require(is_int(self.substeps, 1), name, "substeps", self.substeps, "an int >= 1")
        for key in ("q_spread", "p_spread", "max_energy_drift"):
            value = getattr(self, key)
            _require(is_real(value) and value > 0, name, key, value, "a number > 0")

    @property
    def n_dof(self) -> int:
        return self.n

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_phase_points(x, self.n)
        q, p = x[..., : self.n], x[..., self.n :]
        return 0.5 * (p**2).sum(-1) + torch.exp(q - q.roll(-1, -1)).sum(-1) - self.n


@dataclass(frozen=True)
class PendulumConfig(_Common):
    """A pendulum in libration, H = p^2 / 2 + w0^2 (1 - cos q) (unit m l^2, w0^2 = g / l);
    amplitudes q_max uniform in ``amplitude`` (radians, below pi), phases uniform."""

    w0: float = 1.0
    amplitude: tuple[float, float] = (0.2, 2.5)

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        _require(is_real(self.w0) and self.w0 > 0, name, "w0", self.w0, "a number > 0")
        _check_range(name, "amplitude", self.amplitude, lower=0.0, upper=math.pi, strict=True)

    @property
    def n_dof(self) -> int:
        return 1

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        x = _as_phase_points(x, 1)
        return 0.5 * x[..., 1] ** 2 + self.w0**2 * (1 - torch.cos(x[..., 0]))


SystemConfig = CoupledOscillatorsConfig | KeplerConfig | TodaConfig | PendulumConfig
"""Any of the system configs :func:`make_trajectories` accepts."""


# ----------------------------------------------------------------------------- trajectories


@dataclass(frozen=True, eq=False)
class Trajectories:
    """Sampled trajectories of one system, with the ground truth where it is known.

    Attributes:
        t: (T,) float64 sample times k dt, k = 0..steps.
        x: (n_traj, T, 2n) float64 observed phase-space points (q_1..q_n, p_1..p_n), noisy
            when the config's ``noise`` > 0.
        x_clean: (n_traj, T, 2n) float64 exact points, without noise.
        actions: (n_traj, n) float64 true actions, or None where no closed form exists (Toda).
        frequencies: (n_traj, n) float64 true angle frequencies dtheta/dt = dH/dI, or None.
        config: the system config that generated them.

    ``energy(x)`` is the true Hamiltonian of any points x (..., 2n). ``len(data)`` is the number
    of trajectories; ``data.subset(index)`` selects some.
    """

    t: torch.Tensor
    x: torch.Tensor
    x_clean: torch.Tensor
    actions: torch.Tensor | None
    frequencies: torch.Tensor | None
    config: Any

    def __post_init__(self) -> None:
        n = self.config.n_dof
        if self.x.ndim != 3 or self.x.shape[1:] != (len(self.t), 2 * n):
            raise ValueError(
                f"x must have shape (n_traj, {len(self.t)}, {2 * n}), got {tuple(self.x.shape)}"
            )
        if self.x_clean.shape != self.x.shape:
            raise ValueError(f"x_clean must have shape {tuple(self.x.shape)}")
        for key in ("actions", "frequencies"):
            value = getattr(self, key)
            if value is not None and value.shape != (len(self.x), n):
                raise ValueError(f"{key} must be None or ({len(self.x)}, {n}), got {value.shape}")

    @property
    def system(self) -> str:
        """Name of the system: "coupled_oscillators", "kepler", "toda" or "pendulum"."""
        return _SYSTEM_NAMES[type(self.config)]

    @property
    def n_dof(self) -> int:
        """Degrees of freedom n; x has 2n coordinates."""
        return self.config.n_dof

    @property
    def dt(self) -> float:
        """The sampling step."""
        return float(self.config.dt)

    @property
    def q(self) -> torch.Tensor:
        """Observed positions (n_traj, T, n)."""
        return self.x[..., : self.n_dof]

    @property
    def p(self) -> torch.Tensor:
        """Observed momenta (n_traj, T, n)."""
        return self.x[..., self.n_dof :]

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """True Hamiltonian H(x) of points x (..., 2n) -> (...)."""
        return self.config.energy(x)

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: Any) -> Trajectories:
        """The trajectories ``index`` selects (a slice, an index tensor or a bool mask)."""
        pick = lambda v: None if v is None else v[index]  # noqa: E731
        x = self.x[index]
        if x.ndim != 3:
            raise ValueError(f"index must select a set of trajectories, got {index!r}")
        return Trajectories(
            self.t, x, self.x_clean[index], pick(self.actions), pick(self.frequencies), self.config
        )


def make_trajectories(config: SystemConfig, progress: bool = False) -> Trajectories:
    """Generate ``config.n_trajectories`` trajectories of ``config.steps + 1`` samples.

    Trajectory i draws its initial condition from ``numpy.random.default_rng([seed, i])``
    (independent of n_trajectories and steps); its noise from ``default_rng([seed, i, 1])``.
    """
    if type(config) not in _GENERATORS:
        names = ", ".join(c.__name__ for c in _GENERATORS)
        raise TypeError(f"config must be one of {names}, got {type(config).__name__}")
    t = np.arange(config.steps + 1) * config.dt
    rngs = [np.random.default_rng([config.seed, i]) for i in range(config.n_trajectories)]
    x, actions, frequencies = _GENERATORS[type(config)](config, t, rngs, progress)
    noisy = x.copy()
    if config.noise > 0:
        for i in range(len(x)):
            noise_rng = np.random.default_rng([config.seed, i, 1])
            noisy[i] += config.noise * noise_rng.standard_normal(x[i].shape)
    as_tensor = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return Trajectories(
        torch.from_numpy(t),
        as_tensor(noisy),
        as_tensor(x),
        as_tensor(actions),
        as_tensor(frequencies),
        config,
    )


# ----------------------------------------------------------------------------- generators


def _oscillators(cfg: CoupledOscillatorsConfig, t: np.ndarray, rngs, progress: bool):
    w, modes = cfg.normal_modes()
    m = np.asarray(cfg.masses)
    amp = np.stack([rng.uniform(*cfg.amplitude, cfg.n) for rng in rngs])  # (B, n)
    phase = np.stack([rng.uniform(0, 2 * np.pi, cfg.n) for rng in rngs])
    arg = w * t[:, None] + phase[:, None, :]  # (B, T, n)
    a = amp[:, None, :] * np.cos(arg)
    a_dot = -amp[:, None, :] * w * np.sin(arg)
    q = a @ modes.T  # q = V a
    p = (a_dot @ modes.T) * m  # p = M q_dot
    actions = 0.5 * w * amp**2
    return np.concatenate([q, p], -1), actions, np.broadcast_to(w, amp.shape).copy()


def solve_kepler(mean_anomaly: np.ndarray, e: np.ndarray, tol: float = 1e-14) -> np.ndarray:
    """Eccentric anomaly E with E - e sin E = M (Newton's method from E = M + e sin M)."""
    ecc = np.broadcast_to(e, np.shape(mean_anomaly))
    big = np.mod(mean_anomaly + np.pi, 2 * np.pi) - np.pi  # M in [-pi, pi)
    offset = mean_anomaly - big
    ecc_anomaly = big + ecc * np.sin(big)
    for _ in range(50):
        delta = (ecc_anomaly - ecc * np.sin(ecc_anomaly) - big) / (1 - ecc * np.cos(ecc_anomaly))
        ecc_anomaly = ecc_anomaly - delta
        if np.max(np.abs(delta), initial=0.0) < tol:
            break
    return ecc_anomaly + offset


def _kepler(cfg: KeplerConfig, t: np.ndarray, rngs, progress: bool):
    xs, actions, freqs = [], [], []
    for rng in rngs:
        a = rng.uniform(*cfg.semi_major)
        e = rng.uniform(*cfg.eccentricity)
        omega = rng.uniform(0, 2 * np.pi)
        m0 = rng.uniform(0, 2 * np.pi)
        sense = -1.0 if cfg.retrograde and rng.uniform() < 0.5 else 1.0
        n = math.sqrt(cfg.gm / a**3)
        big_e = solve_kepler(m0 + n * t, e)
        root = math.sqrt(1 - e * e)
        denom = 1 - e * np.cos(big_e)
        pos = np.stack([a * (np.cos(big_e) - e), sense * a * root * np.sin(big_e)], -1)
        vel = np.stack([-a * n * np.sin(big_e), sense * a * n * root * np.cos(big_e)], -1)
        vel = vel / denom[:, None]
        rot = np.array([[math.cos(omega), -math.sin(omega)], [math.sin(omega), math.cos(omega)]])
        xs.append(np.concatenate([pos @ rot.T, vel @ rot.T], -1))
        big_l = math.sqrt(cfg.gm * a)
        g = sense * big_l * root
        actions.append([big_l - abs(g), g])
        freqs.append([n, sense * n])
    return np.stack(xs), np.array(actions), np.array(freqs)


def _toda_force(q: np.ndarray) -> np.ndarray:
    """-dV/dq for V = sum_i exp(q_i - q_{i+1}) on a ring."""
    bond = np.exp(q - np.roll(q, -1, -1))  # bond i joins i and i+1
    return np.roll(bond, 1, -1) - bond


def _toda(cfg: TodaConfig, t: np.ndarray, rngs, progress: bool):
    q = np.stack([rng.normal(0, cfg.q_spread, cfg.n) for rng in rngs])
    p = np.stack([rng.normal(0, cfg.p_spread, cfg.n) for rng in rngs])
    q -= q.mean(-1, keepdims=True)
    p -= p.mean(-1, keepdims=True)
    h = cfg.dt / cfg.substeps
    out = np.empty((len(q), len(t), 2 * cfg.n))
    out[:, 0] = np.concatenate([q, p], -1)
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up fails the check below
        for k in tqdm(range(1, len(t)), desc="toda", disable=not progress):
            for _ in range(cfg.substeps):
                for w in _YOSHIDA6:  # leapfrog (kick-drift-kick) of step w h
                    p = p + 0.5 * w * h * _toda_force(q)
                    q = q + w * h * p
                    p = p + 0.5 * w * h * _toda_force(q)
            out[:, k] = np.concatenate([q, p], -1)
        energy = cfg.energy(torch.from_numpy(out)).numpy()
        drift = np.abs(energy - energy[:, :1]).max(1) / np.maximum(np.abs(energy[:, 0]), 1e-300)
    drift = np.where(np.isfinite(drift), drift, np.inf)
    if drift.max() > cfg.max_energy_drift:
        raise RuntimeError(
            f"Toda integration drifted: relative energy error {drift.max():.3g} > "
            f"max_energy_drift={cfg.max_energy_drift:g} (trajectory {int(drift.argmax())}); "
            "raise TodaConfig.substeps or lower dt"
        )
    return out, None, None


def _pendulum(cfg: PendulumConfig, t: np.ndarray, rngs, progress: bool):
    q_max = np.array([rng.uniform(*cfg.amplitude) for rng in rngs])
    k = np.sin(q_max / 2)
    m = k**2
    quarter = special.ellipk(m)  # K(m): a quarter period in u = w0 t
    u0 = np.array([rng.uniform(0, 4) for rng in rngs]) * quarter
    u = cfg.w0 * t[None, :] + u0[:, None]
    sn, cn, _, _ = special.ellipj(u, m[:, None])
    q = 2 * np.arcsin(k[:, None] * sn)
    p = 2 * k[:, None] * cfg.w0 * cn
    actions = 8 * cfg.w0 / np.pi * (special.ellipe(m) - (1 - m) * quarter)
    freqs = np.pi * cfg.w0 / (2 * quarter)
    return np.stack([q, p], -1), actions[:, None], freqs[:, None]


_GENERATORS = {
    CoupledOscillatorsConfig: _oscillators,
    KeplerConfig: _kepler,
    TodaConfig: _toda,
    PendulumConfig: _pendulum,
}
_SYSTEM_NAMES = {
    CoupledOscillatorsConfig: "coupled_oscillators",
    KeplerConfig: "kepler",
    TodaConfig: "toda",
    PendulumConfig: "pendulum",
}


# ----------------------------------------------------------------------------- helpers


def _as_phase_points(x: Any, n: int) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim < 1 or x.shape[-1] != 2 * n:
        raise ValueError(
            f"x must have shape (..., {2 * n}) = (q_1..q_{n}, p_1..p_{n}), got {tuple(x.shape)}"
        )
    return x if x.is_floating_point() else x.double()


def _real_tuple(value: Any, length: int) -> bool:
    return (
        isinstance(value, tuple | list) and len(value) == length and all(is_real(v) for v in value)
    )


def _check_range(
    name: str,
    key: str,
    value: Any,
    lower: float,
    upper: float | None = None,
    strict: bool = False,
) -> None:
    bounds = f"{'(' if strict else '['}{lower}, {upper if upper is not None else 'inf'})"
    ok = (
        _real_tuple(value, 2)
        and value[0] <= value[1]
        and (value[0] > lower if strict else value[0] >= lower)
        and (upper is None or value[1] < upper)
    )
    _require(ok, name, key, value, f"a (low, high) pair with low <= high inside {bounds}")


def _require(ok: bool, name: str, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name}.{key} must be {expected}, got {value!r}")
