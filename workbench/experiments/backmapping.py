"""Backmapping: CGVAE vs linear and non-equivariant VAE baselines on peptide MD, N beads.

Data: ``workbench.data.coarse_graining`` (OpenMM MD of alanine dipeptide, and of chignolin in
the full size; k-medoids CG mappings with N beads; train/val/test split by time blocks).
Models, each trained per (system, N): :class:`~workbench.models.cgvae.CGVAE` (equivariant
encoder, CG-conditioned prior, equivariant decoder; Wang et al. 2022, arXiv 2201.12176; its
decoder is the least-squares linear template fitted on the training frames, fixed, plus a
learned equivariant residual that starts at zero), the
least-squares linear backmapping (:class:`~workbench.models.backmapping.LinearBackmap`) and a
VAE of MLPs on flattened coordinates (:class:`~workbench.models.backmapping.MLPVAE`, not
rotation-equivariant, same latent size).

Model selection uses the validation split only: the trained models keep the epoch with the
lowest validation heavy-atom reconstruction error (``TrainConfig.monitor="val_heavy_msd"``),
and for CGVAE the untrained state (exactly the linear backmap) is a candidate as epoch 0, so
on validation it is never worse than the linear baseline. Test frames are used only for the
table.

Metrics on the test frames (``workbench.metrics``, "Structures (backmapping)"; no alignment,
the beads fix the frame):

- ``RMSD recon (Å)``: heavy-atom RMSD of the reconstruction of each test frame from its beads
  and its own encoding, z ~ q(z | x, X) (the paper's RMSD_recon); the linear map has no latent.
- ``RMSD sample (Å)``, ``graph edit ratio``, ``clashes``, ``diversity (Å)``: of
  ``n_samples`` structures per frame generated from the beads alone, z ~ p(z | X), on
  ``n_sample_frames`` evenly spaced test frames: heavy-atom RMSD to the true frame, heavy-atom
  bond-graph edit ratio, steric clashes per structure, mean pairwise RMSD of the samples.

Public API (stable; the BackmapViewer and notebook 06 read it)::

    result = run("quick", progress=True, workdir=None)   # -> BackmapResult
    result.table            # DataFrame, one row per (system, N, model), columns TABLE_COLUMNS
    result.extra_tables     # {"Published: CGVAE paper, alanine dipeptide (not our data)": df,
                            #  "MD reference test frames": df}
    result.histories[(system, n_beads, model)]       # Trainer history (CGVAE, VAE)
    result.models[(system, n_beads, model)]          # trained modules (``reconstruct``)
    s = result.structures[(system, n_beads)]         # BackmapStructures, for the viewer
    s.reference (F, n_atoms, 3), s.beads (F, N, 3), s.samples[model] (F, n_samples, n_atoms, 3)
    s.z, s.atom_names, s.residue_names, s.bonds (n_bonds, 2), s.assignment (n_atoms,), s.time

Model names: :data:`MODELS`. Sizes: ``tiny`` (tests, notebook quick mode: seconds), ``quick``
(alanine dipeptide, 2 ns of MD, N in 3, 4, 5, 6, 8, 10, 12 as the paper's table), ``full``
(20 ns of alanine dipeptide with the same N, and 5 ns of chignolin with N = 6, 10, 20).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from workbench.data.coarse_graining import CGConfig, CGDataset, MDConfig, make_cg_dataset
from workbench.metrics import (
    graph_edit_ratio,
    heavy_atom_rmsd,
    perceive_bonds,
    sample_diversity,
    steric_clashes,
)
from workbench.models.backmapping import MLPVAE, LinearBackmap, MLPVAEConfig
from workbench.models.cgvae import CGVAE, CGVAEConfig
from workbench.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "MODELS",
    "PUBLISHED_ALANINE_DIPEPTIDE",
    "SIZES",
    "TABLE_COLUMNS",
    "BackmapRecipe",
    "BackmapResult",
    "BackmapStructures",
    "BackmapSystem",
    "run",
]

log = logging.getLogger(__name__)

#: model names, in table order
MODELS = ("CGVAE", "linear", "VAE (MLP, not equivariant)")
TABLE_COLUMNS = (
    "system",
    "N",
    "model",
    "RMSD recon (Å)",
    "RMSD sample (Å)",
    "graph edit ratio",
    "clashes",
    "diversity (Å)",
    "train seconds",
)


@dataclass(frozen=True)
class BackmapSystem:
    """One molecule: its MD run, the bead counts N to test, the mapping method."""

    md: MDConfig
    n_beads: tuple[int, ...]
    method: str = "kmedoids"

    def __post_init__(self) -> None:
        n = tuple(self.n_beads)
        if not n or not all(isinstance(k, int) and k >= 2 for k in n):
            raise ValueError(f"BackmapSystem.n_beads={self.n_beads!r}: expected ints >= 2")
        object.__setattr__(self, "n_beads", n)


@dataclass(frozen=True)
class BackmapRecipe:
    """Everything one run needs; ``SIZES`` holds the registered sizes. ``n_samples`` prior
    samples per frame on ``n_sample_frames`` test frames; the first ``n_viewer_frames`` of
    those go to :class:`BackmapStructures`."""

    systems: tuple[BackmapSystem, ...]
    cgvae: CGVAEConfig
    vae: MLPVAEConfig
    train: TrainConfig
    n_samples: int = 8
    n_sample_frames: int = 100
    n_viewer_frames: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("n_samples", "n_sample_frames", "n_viewer_frames"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < (2 if key == "n_samples" else 1):
                raise ValueError(f"BackmapRecipe.{key}={value!r}: expected a positive int")


_ALA = MDConfig()  # 2 ns, a frame per ps (the quick MD size)
# model selection: the epoch with the lowest validation heavy-atom recon error (the metric)
_TRAIN = TrainConfig(
    epochs=40, batch_size=64, lr=3e-3, scheduler="cosine", grad_clip=10.0, monitor="val_heavy_msd"
)
SIZES = {
    "tiny": BackmapRecipe(  # for tests and the notebook's quick mode: runs, does not learn much
        systems=(
            BackmapSystem(
                MDConfig(n_frames=60, frames_per_shard=60, save_interval=0.1, equilibration=0.0),
                n_beads=(3, 6),
            ),
        ),
        cgvae=CGVAEConfig(
            hidden=8, latent=4, n_rbf=8, encoder_layers=1, prior_layers=1, decoder_layers=2
        ),
        vae=MLPVAEConfig(hidden=(32,), latent=4),
        train=TrainConfig(epochs=2, batch_size=16, lr=2e-3, monitor="val_heavy_msd"),
        n_samples=3,
        n_sample_frames=4,
        n_viewer_frames=2,
    ),
    "quick": BackmapRecipe(
        systems=(BackmapSystem(_ALA, n_beads=(3, 4, 5, 6, 8, 10, 12)),),
        cgvae=CGVAEConfig(),
        vae=MLPVAEConfig(),
        train=_TRAIN,
    ),
    "full": BackmapRecipe(
        systems=(
            BackmapSystem(replace(_ALA, n_frames=20000), n_beads=(3, 4, 5, 6, 8, 10, 12)),
            BackmapSystem(
                MDConfig(system="chignolin", n_frames=5000, equilibration=100.0),
                n_beads=(6, 10, 20),
            ),
        ),
        cgvae=CGVAEConfig(hidden=64, latent=32, r_max=25.0, encoder_layers=3, decoder_layers=5),
        vae=MLPVAEConfig(hidden=(512, 512), latent=32),
        train=replace(_TRAIN, epochs=100, lr=1e-3, patience=15),
        n_samples=16,
        n_sample_frames=500,
    ),
}

_PUBLISHED_N = (3, 4, 5, 6, 8, 10, 12)
#: Published alanine-dipeptide numbers of the CGVAE paper (Wang et al. 2022, arXiv 2201.12176,
#: Table 1; also ``assets/dipep_table.tgn`` of github.com/wwang2/CoarseGrainingVAE): their MD
#: data, mappings and splits, not ours. Rows (metric, model), columns N; NaN: not reported.
PUBLISHED_ALANINE_DIPEPTIDE = pd.DataFrame(
    [
        ("RMSD recon heavy (Å)", "linear", 0.941, 0.812, 0.483, 0.384, 0.296, 0.127, 0.148),
        ("RMSD recon heavy (Å)", "CGVAE", 0.21, 0.115, 0.145, 0.110, 0.080, 0.068, 0.063),
        ("RMSD recon all-atom (Å)", "linear", 1.125, 1.022, 0.585, 0.541, 0.439, 0.361, 0.275),
        ("RMSD recon all-atom (Å)", "CGVAE", 0.530, 0.128, 0.160, 0.119, 0.090, 0.080, 0.071),
        ("RMSD sample heavy (Å)", "CGVAE", 0.213, 0.198, 0.146, 0.108, 0.058, 0.043, 0.039),
        ("graph edit ratio heavy", "linear", 1.22, 0.99, 0.410, 0.195, 0.123, 0.010, 0.037),
        ("graph edit ratio heavy", "CGVAE", 0.002, 0.002, 0.001, 0.0, 0.0, 0.0, 0.0),
    ],
    columns=["metric", "model", *_PUBLISHED_N],
).set_index(["metric", "model"])


@dataclass
class BackmapStructures:
    """Structures of one (system, N) for the viewer, float32 Å: ``reference`` (F, n_atoms, 3)
    test frames at ``time`` (F,) ps, their ``beads`` (F, N, 3), ``samples[model]``
    (F, n_samples, n_atoms, 3) generated from the beads alone; topology ``z``, ``atom_names``,
    ``residue_names``, ``bonds`` (n_bonds, 2), and ``assignment`` (n_atoms,) bead of each atom."""

    system: str
    n_beads: int
    reference: np.ndarray
    beads: np.ndarray
    samples: dict[str, np.ndarray]
    time: np.ndarray
    z: np.ndarray
    atom_names: tuple[str, ...]
    residue_names: tuple[str, ...]
    bonds: np.ndarray
    assignment: np.ndarray


@dataclass
class BackmapResult:
    """``table``: one row per (system, N, model) with :data:`TABLE_COLUMNS`; ``histories``
    and ``models`` keyed by (system, N, model); ``structures`` keyed by (system, N)."""

    table: pd.DataFrame
    histories: dict[tuple[str, int, str], pd.DataFrame]
    models: dict[tuple[str, int, str], torch.nn.Module]
    structures: dict[tuple[str, int], BackmapStructures]
    reference: pd.DataFrame
    recipe: BackmapRecipe = field(repr=False)

    @property
    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The paper's published numbers (other data: context only) and the MD reference."""
        return {
            "Published: CGVAE paper, alanine dipeptide (their data, not ours)": (
                PUBLISHED_ALANINE_DIPEPTIDE
            ),
            "MD reference test frames (clashes and bonds of the true structures)": self.reference,
        }


def _make_step(heavy: np.ndarray, seed: int):
    """The training step: ``model.loss``; in eval mode also ``heavy_msd``, the heavy-atom mean
    squared error (Å^2) of ``autoencode(pos, beads, seed)``, the reported recon metric
    (squared), so model selection monitors what the table reports."""
    mask = torch.as_tensor(heavy, dtype=torch.bool)

    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        out = model.loss(batch["pos"], batch["beads"])
        if not model.training:
            x = model.autoencode(batch["pos"], batch["beads"], seed=seed)
            sq = (x - batch["pos"].to(x.dtype))[:, mask.to(x.device)].pow(2).sum(-1)
            out["heavy_msd"] = sq.mean().detach()
        out["n"] = batch["pos"].shape[0]
        return out

    return step


def _fit(model, recipe, train, val, workdir, name, from_start) -> tuple[pd.DataFrame, float]:
    """Train with the recipe's TrainConfig (best epoch by its ``monitor`` on ``val``). With
    ``from_start`` (CGVAE, which starts at the linear fit) the untrained state is a candidate
    too, as epoch 0: if no epoch beats it on validation the model is left untrained."""
    cfg = replace(recipe.train, seed=recipe.seed)
    checkpoint_dir = Path(workdir) / name if workdir else None
    trainer = Trainer(model, _make_step(train.z > 1, recipe.seed), cfg, checkpoint_dir)
    start = time.perf_counter()
    initial = None
    if from_start and val is not None and cfg.monitor.startswith("val_"):
        row = {"epoch": 0, **{f"val_{k}": v for k, v in trainer.evaluate(val).items()}}
        initial = (row, {k: v.detach().clone() for k, v in model.state_dict().items()})
    history = trainer.fit(train, val, resume=checkpoint_dir is not None)
    if initial is not None:
        row, state = initial
        best, value = trainer.best_value, row.get(cfg.monitor)
        if value is not None and (
            best is None or (value <= best if cfg.mode == "min" else value >= best)
        ):
            log.info("%s: no epoch beat the untrained model on %s; keeping it", name, cfg.monitor)
            model.load_state_dict(state)
        history = pd.concat([pd.DataFrame([row]), history], ignore_index=True)
    return history, time.perf_counter() - start


def _generate(model, fn: str, *args: torch.Tensor, seed: int, batch: int = 256) -> np.ndarray:
    """``getattr(model, fn)(*args, seed=seed)`` in batches, under no_grad, as numpy."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(args[0]), batch):
            part = [a[start : start + batch] for a in args]
            out.append(getattr(model, fn)(*part, seed=seed).float().numpy())
    return np.concatenate(out)


def _evaluate(model, name, test: CGDataset, frames: np.ndarray, recipe) -> tuple[dict, np.ndarray]:
    """The metric row of one model and its samples (F, n_samples, n_atoms, 3)."""
    pos, beads = torch.from_numpy(test.pos), torch.from_numpy(test.beads)
    if name == "linear":
        recon = _generate(model, "reconstruct", beads, seed=0)
    else:
        recon = _generate(model, "autoencode", pos, beads, seed=recipe.seed)
    samples = np.stack(
        [
            _generate(model, "reconstruct", beads[frames], seed=recipe.seed * 1000 + k)
            for k in range(recipe.n_samples)
        ]
    )  # (n_samples, F, n_atoms, 3)
    ref, z = test.pos[frames], test.z
    row = {
        "RMSD recon (Å)": heavy_atom_rmsd(recon, test.pos, z),
        "RMSD sample (Å)": heavy_atom_rmsd(samples, ref[None], z),
        "graph edit ratio": graph_edit_ratio(samples, ref[None], z),
        "clashes": steric_clashes(samples, z, test.bonds),
        "diversity (Å)": sample_diversity(samples, z),
    }
    return row, samples.transpose(1, 0, 2, 3)


def run(
    size: str | BackmapRecipe = "quick",
    *,
    progress: bool = True,
    workdir: str | Path | None = None,
) -> BackmapResult:
    """Simulate (or load), train and evaluate every model at every N of the recipe;
    checkpoints go to ``workdir`` if given (a rerun resumes from them)."""
    if isinstance(size, str) and size not in SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {tuple(SIZES)}")
    if not isinstance(size, (str, BackmapRecipe)):
        raise TypeError(f"size must be a name or a BackmapRecipe, got {type(size).__name__}")
    recipe = SIZES[size] if isinstance(size, str) else size
    recipe = replace(recipe, train=replace(recipe.train, progress=progress))
    rows, reference_rows = [], []
    histories, models, structures = {}, {}, {}
    jobs = [(system, n) for system in recipe.systems for n in system.n_beads]
    for spec, n_beads in tqdm(jobs, desc="backmapping", disable=not progress):
        name = spec.md.system
        data = make_cg_dataset(
            CGConfig(md=spec.md, n_beads=n_beads, method=spec.method), progress=progress
        )
        train, val, test = (data.subset(s) for s in ("train", "val", "test"))
        frames = np.unique(np.linspace(0, len(test) - 1, recipe.n_sample_frames).round())
        frames = frames.astype(np.int64)
        if n_beads == spec.n_beads[0]:
            reference_rows.append(_reference_row(name, test, frames))
        samples = {}
        for model_name in MODELS:
            seed_everything(recipe.seed)
            start = time.perf_counter()
            if model_name == "linear":
                model = LinearBackmap(data.mapping).fit(train.pos, train.beads)
                seconds = time.perf_counter() - start
            else:
                if model_name == "CGVAE":
                    model = CGVAE(data.mapping, recipe.cgvae, bonds=data.bonds, z=train.z)
                    model.init_template(train.pos, train.beads)  # training frames only
                else:
                    model = MLPVAE(data.mapping, recipe.vae, bonds=data.bonds)
                tag = f"{name}/N{n_beads}/{model_name.split(' ')[0]}"
                histories[(name, n_beads, model_name)], seconds = _fit(
                    model, recipe, train, val, workdir, tag, from_start=model_name == "CGVAE"
                )
            row, samples[model_name] = _evaluate(model, model_name, test, frames, recipe)
            rows.append(
                {"system": name, "N": n_beads, "model": model_name, **row,
                 "train seconds": round(seconds, 1)}
            )  # fmt: skip
            models[(name, n_beads, model_name)] = model
            log.info("%s N=%d %s: %s", name, n_beads, model_name, rows[-1])
        keep = slice(0, recipe.n_viewer_frames)
        structures[(name, n_beads)] = BackmapStructures(
            system=name,
            n_beads=n_beads,
            reference=test.pos[frames][keep],
            beads=test.beads[frames][keep],
            samples={k: v[keep] for k, v in samples.items()},
            time=test.time[frames][keep],
            z=test.z,
            atom_names=test.trajectory.atom_names,
            residue_names=test.trajectory.residue_names,
            bonds=test.bonds,
            assignment=data.mapping.assignment,
        )
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return BackmapResult(table, histories, models, structures, pd.DataFrame(reference_rows), recipe)


def _reference_row(system: str, test: CGDataset, frames: np.ndarray) -> dict[str, Any]:
    """The metrics of the true test structures: clashes per frame, and the graph edit ratio
    of the perceived bond graph against the topology (0 when perception is right)."""
    ref = test.pos[frames]
    n = test.trajectory.n_atoms
    topology = np.zeros((n, n), dtype=bool)
    topology[test.bonds[:, 0], test.bonds[:, 1]] = True
    perceived = perceive_bonds(ref, test.z)
    changed = (np.triu(perceived, 1) != topology).sum((-1, -2)) / len(test.bonds)
    return {
        "system": system,
        "test frames": len(test),
        "evaluated frames": len(frames),
        "clashes": steric_clashes(ref, test.z, test.bonds),
        "bonds perceived != topology (ratio)": float(changed.mean()),
    }
