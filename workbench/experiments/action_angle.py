r"""Integrable dynamics: Action-Angle Network vs Euler network, Neural ODE and HNN.

Data: ``workbench.data.integrable`` (coupled harmonic oscillators by default, exact solution
from normal modes). Every model learns from the same windows x(t_0), x(t_0 + dt), ...,
x(t_0 + K dt) of the training trajectories, with the same optimiser, batches and number of
steps: the loss is the mean squared error of the predictions from x(t_0) at the K later
samples, each coordinate divided by its standard deviation over the training data. The
Action-Angle Network (Daigavane et al., arXiv 2211.15338) adds ``action_penalty`` times the
variance of its encoded actions along each window, divided by the squared action scale.

Evaluation on fresh test trajectories, from their first (observed) sample x(0) to the exact
x(j dt) for each jump j in ``jumps`` (1 to 1000 steps by default, far beyond the K of training):
mean squared error, relative drift |H(x_pred) - H(x(0))| / |H(x(0))| of the true energy, and
the wall time of one ``predict(x0, [j dt])`` call (best of ``timing_repeats``) for the whole
test batch: flat in j for the Action-Angle Network, growing for the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import TensorDataset

from workbench.data.integrable import (
    CoupledOscillatorsConfig,
    SystemConfig,
    Trajectories,
    make_trajectories,
)
from workbench.models.action_angle import ActionAngleConfig, ActionAngleNetwork
from workbench.models.dynamics import DynamicsConfig, EulerNetwork, HamiltonianNN, NeuralODE
from workbench.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "MODELS",
    "SIZES",
    "ActionAngleRecipe",
    "ActionAngleResult",
    "build_model",
    "evaluate",
    "run",
    "windows",
]

log = logging.getLogger(__name__)

MODELS = ("Action-Angle Network", "Euler network", "Neural ODE", "Hamiltonian NN")


@dataclass(frozen=True)
class ActionAngleRecipe:
    """Everything one run needs; ``SIZES`` holds the registered sizes.

    ``data`` configures the training trajectories (its seed + 1 and + 2 give the validation
    and test ones, ``n_val`` and ``n_test`` of them, the test ones ``max(jumps)`` steps long);
    ``seed`` seeds model initialisation and batches; ``segment`` is K, the window length in
    steps; windows start every ``stride`` samples. ``blocks``, ``width``, ``omega_hidden``
    size the Action-Angle Network, ``hidden`` the baselines' MLPs. Models train in float64.
    """

    data: SystemConfig
    train: TrainConfig
    n_val: int = 8
    n_test: int = 32
    segment: int = 10
    stride: int = 1
    blocks: int = 4
    width: int = 32
    omega_hidden: tuple[int, ...] = (32, 32)
    hidden: tuple[int, ...] = (64, 64)
    action_penalty: float = 1.0
    jumps: tuple[int, ...] = (1, 10, 100, 1000)
    models: tuple[str, ...] = MODELS
    timing_repeats: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("n_val", "n_test", "segment", "stride", "timing_repeats"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ActionAngleRecipe.{key} must be an int >= 1, got {value!r}")
        if self.segment > self.data.steps:
            raise ValueError(
                f"ActionAngleRecipe.segment={self.segment} exceeds the trajectories' "
                f"steps={self.data.steps}"
            )
        if not self.jumps or not all(isinstance(j, int) and j >= 1 for j in self.jumps):
            raise ValueError(f"ActionAngleRecipe.jumps must be ints >= 1, got {self.jumps!r}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ValueError(f"ActionAngleRecipe.models must be among {MODELS}, got {unknown}")
        if not self.action_penalty >= 0:
            raise ValueError(
                f"ActionAngleRecipe.action_penalty must be >= 0, got {self.action_penalty!r}"
            )


_OSCILLATORS = CoupledOscillatorsConfig(
    n=2, masses=(1.0, 1.5), springs=(1.0, 0.6, 1.4), n_trajectories=64, steps=100, dt=0.1
)
SIZES = {
    "tiny": ActionAngleRecipe(  # for tests: runs end to end in seconds, learns little
        data=replace(_OSCILLATORS, n_trajectories=8, steps=20),
        n_val=2,
        n_test=4,
        segment=5,
        stride=5,
        blocks=1,
        width=8,
        omega_hidden=(8,),
        hidden=(16,),
        train=TrainConfig(epochs=1, batch_size=16, lr=3e-3),
        jumps=(1, 5, 20),
        timing_repeats=1,
    ),
    "quick": ActionAngleRecipe(
        data=_OSCILLATORS,
        train=TrainConfig(epochs=30, batch_size=128, lr=1e-2, scheduler="cosine"),
    ),
    "full": ActionAngleRecipe(  # three oscillators, twice the data, twice the steps per epoch
        data=replace(
            _OSCILLATORS,
            n=3,
            masses=(1.0, 1.5, 0.8),
            springs=(1.0, 0.6, 1.4, 0.9),
            n_trajectories=128,
            steps=200,
        ),
        blocks=6,
        width=48,
        omega_hidden=(48, 48),
        hidden=(96, 96),
        train=TrainConfig(epochs=60, batch_size=128, lr=1e-2, scheduler="cosine"),
        timing_repeats=5,
    ),
}


@dataclass
class ActionAngleResult:
    """``table``: one row per model (test MSE, energy drift and predict seconds per jump);
    ``errors_vs_jump``: one row per (model, jump) with ``mse``, ``energy_drift``, ``seconds``;
    ``histories``: the Trainer's per-epoch metrics; ``data``: the test trajectories the tables
    are measured on; ``train``: the training trajectories."""

    table: pd.DataFrame
    errors_vs_jump: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    models: dict[str, torch.nn.Module]
    data: Trajectories
    train: Trajectories
    recipe: ActionAngleRecipe = field(repr=False)


def windows(data: Trajectories, segment: int, stride: int = 1) -> torch.Tensor:
    """All windows of ``segment + 1`` consecutive observed samples: (N, segment + 1, 2n)."""
    x = data.x.unfold(1, segment + 1, stride)  # (n_traj, n_windows, 2n, segment + 1)
    return x.permute(0, 1, 3, 2).reshape(-1, segment + 1, data.x.shape[-1]).contiguous()


def build_model(name: str, recipe: ActionAngleRecipe, n_dof: int) -> torch.nn.Module:
    """The model called ``name`` (one of ``MODELS``) with the recipe's sizes, in float64."""
    if name == MODELS[0]:
        config = ActionAngleConfig(n_dof, recipe.blocks, recipe.width, recipe.omega_hidden)
        return ActionAngleNetwork(config).double()
    config = DynamicsConfig(dim=2 * n_dof, dt=recipe.data.dt, hidden=recipe.hidden)
    classes = dict(zip(MODELS[1:], (EulerNetwork, NeuralODE, HamiltonianNN), strict=True))
    return classes[name](config).double()


def _window_step(times: torch.Tensor, scale: torch.Tensor, action_penalty: float):
    """step(model, (windows,)): scaled MSE of predict(window[:, 0], times) vs window[:, 1:],
    plus for the AAN ``action_penalty`` times the variance of its actions along each window."""

    def step(model, batch):
        (seg,) = batch
        pred = model.predict(seg[:, 0], times)
        mse = (((pred - seg[:, 1:]) / scale) ** 2).mean()
        if not isinstance(model, ActionAngleNetwork):
            return {"loss": mse, "mse": mse}
        actions, _ = model.to_action_angle(seg)
        spread = actions.var(dim=1).mean() / model.action_scale**2
        return {"loss": mse + action_penalty * spread, "mse": mse, "action_var": spread}

    return step


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, test: Trajectories, jumps: tuple[int, ...], repeats: int = 3
) -> pd.DataFrame:
    """One row per jump j: ``mse`` of predict(x(0), j dt) vs the exact x(j dt), relative true
    energy drift ``energy_drift``, and ``seconds`` of that predict call (best of repeats)."""
    if max(jumps) > len(test.t) - 1:
        raise ValueError(f"jumps up to {max(jumps)} need test trajectories of that many steps")
    model.eval()
    x0 = test.x[:, 0]
    energy0 = test.energy(test.x_clean[:, 0])
    pred = model.predict(x0, test.t[list(jumps)])  # (B, len(jumps), 2n), one call
    rows = []
    for i, jump in enumerate(jumps):
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict(x0, test.t[jump : jump + 1])
            seconds.append(time.perf_counter() - start)
        drift = (test.energy(pred[:, i]) - energy0).abs() / energy0.abs().clamp_min(1e-300)
        rows.append(
            {
                "jump": jump,
                "time": float(test.t[jump]),
                "mse": ((pred[:, i] - test.x_clean[:, jump]) ** 2).mean().item(),
                "energy_drift": drift.mean().item(),
                "seconds": min(seconds),
            }
        )
    return pd.DataFrame(rows)


def run(
    size: str | ActionAngleRecipe = "quick",
    *,
    progress: bool = True,
    workdir: str | Path | None = None,
) -> ActionAngleResult:
    """Train and evaluate every model of the recipe; checkpoints go to ``workdir`` if given."""
    if isinstance(size, str) and size not in SIZES:
        raise ValueError(
            f"size must be one of {tuple(SIZES)} or an ActionAngleRecipe, got {size!r}"
        )
    recipe = SIZES[size] if isinstance(size, str) else size
    if not isinstance(recipe, ActionAngleRecipe):
        raise TypeError(f"size must be a str or an ActionAngleRecipe, got {type(size).__name__}")
    seed_everything(recipe.seed)
    cfg = recipe.data
    train_data = make_trajectories(cfg, progress=progress)
    val_data = make_trajectories(replace(cfg, n_trajectories=recipe.n_val, seed=cfg.seed + 1))
    test_data = make_trajectories(
        replace(cfg, n_trajectories=recipe.n_test, steps=max(recipe.jumps), seed=cfg.seed + 2)
    )
    train_set = TensorDataset(windows(train_data, recipe.segment, recipe.stride))
    val_set = TensorDataset(windows(val_data, recipe.segment, recipe.segment))
    times = train_data.t[1 : recipe.segment + 1]
    scale = train_data.x.reshape(-1, train_data.x.shape[-1]).std(0)
    step = _window_step(times, scale, recipe.action_penalty)
    train_cfg = replace(recipe.train, progress=progress, seed=recipe.seed)

    rows, curves, histories, models = [], [], {}, {}
    for name in recipe.models:
        seed_everything(recipe.seed)
        model = build_model(name, recipe, cfg.n_dof)
        model.set_normalization(train_data.x)
        checkpoint_dir = Path(workdir) / name.replace(" ", "_") if workdir else None
        trainer = Trainer(model, step, train_cfg, checkpoint_dir=checkpoint_dir)
        start = time.perf_counter()
        histories[name] = trainer.fit(train_set, val_set)
        seconds = time.perf_counter() - start
        curve = evaluate(model, test_data, recipe.jumps, recipe.timing_repeats)
        curves.append(curve.assign(model=name))
        row = {
            "model": name,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train seconds": round(seconds, 1),
        }
        row |= {f"mse @{j}": v for j, v in zip(curve.jump, curve.mse, strict=True)}
        row |= {
            f"energy drift @{j}": v for j, v in zip(curve.jump, curve.energy_drift, strict=True)
        }
        row |= {f"predict s @{j}": v for j, v in zip(curve.jump, curve.seconds, strict=True)}
        rows.append(row)
        models[name] = model
        log.info("%s: %s", name, row)
    errors = pd.concat(curves, ignore_index=True)
    errors = errors[["model", "jump", "time", "mse", "energy_drift", "seconds"]]
    return ActionAngleResult(
        pd.DataFrame(rows), errors, histories, models, test_data, train_data, recipe
    )
