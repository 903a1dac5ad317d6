"""Top tagging: a Lorentz-group MACE vs PFN, ParticleNet and the jet-mass cut on generated jets.

Data: ``workbench.data.jets`` (Pythia8 tt-bar vs QCD dijets at 14 TeV, anti-kT R = 0.8, jet
pT in [550, 650] GeV, |eta| < 2, cached after the first generation), the leading
``n_constituents`` constituents of each jet. Models: :class:`LorentzMACETagger` (MACE for
SO(1,3)+, exactly invariant under Lorentz transformations of the constituents), the Particle
Flow Network (Komiske et al., arXiv 1810.05165), ParticleNet (Qu & Gouskos, arXiv 1902.08570)
and the mass window around the top mass. Metrics as the field reports them: accuracy, AUC and
background rejection 1/eps_B at signal efficiencies 0.3 and 0.5, with bootstrap errors
(``workbench.metrics``). ``TopTaggingResult.published`` holds the published numbers of the
Top Quark Tagging Reference Dataset (lie-nn's MACE AUC 0.987, LorentzNet, ParticleNet, PFN):
context from a different data set, not a like-for-like comparison.

The invariance column is the largest change of a model's score (sigmoid of its logit) when
the test jets are boosted along a random axis with rapidity up to 1 and rotated.

Distributed: under ``torch.distributed`` (``torchrun --nproc_per_node 2 -m workbench.cli train
top_tagging``, gloo on CPU) rank 0 generates the jets into the cache while the other ranks
wait, then every rank reads them; the :class:`~workbench.training.Trainer` trains each model
with ``DistributedDataParallel`` (every rank ends with the same weights), and every rank
evaluates the full test set, so every rank returns the same table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F

from workbench.data.jets import JetData, JetsConfig, make_jets
from workbench.data.kinematics import boost_matrix
from workbench.metrics import PUBLISHED_TOP_TAGGING, best_threshold, classification_table
from workbench.models.baselines import random_rotations
from workbench.models.top_tagging import (
    LorentzMACETagger,
    LorentzMACETaggerConfig,
    ParticleFlowNetwork,
    ParticleNet,
    ParticleNetConfig,
    PFNConfig,
    mass_window_score,
)
from workbench.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "DISTRIBUTED",
    "SIZES",
    "TopTaggingRecipe",
    "TopTaggingResult",
    "lorentz_transforms",
    "run",
]

log = logging.getLogger(__name__)

#: ``run`` works under ``torch.distributed`` (read by ``workbench.cli`` before torchrun runs).
DISTRIBUTED = True

MASS_CUT = "jet mass window"


@dataclass(frozen=True)
class TopTaggingRecipe:
    """Everything one run needs; ``SIZES`` holds the registered sizes."""

    jets: JetsConfig
    n_constituents: int
    mace: LorentzMACETaggerConfig
    pfn: PFNConfig
    particlenet: ParticleNetConfig
    train: TrainConfig
    seed: int = 0


SIZES = {
    "tiny": TopTaggingRecipe(  # tests and the notebook's quick mode: runs, learns little
        jets=JetsConfig(n_signal=40, n_background=40, shard_size=20),
        n_constituents=16,
        mace=LorentzMACETaggerConfig(channels=4, avg_num_neighbors=16.0),
        pfn=PFNConfig(phi=(16, 16), f=(16,)),
        particlenet=ParticleNetConfig(k=4, blocks=((16, 16),), fc=16),
        train=TrainConfig(epochs=2, batch_size=16, lr=1e-3),
    ),
    "quick": TopTaggingRecipe(
        jets=JetsConfig(n_signal=10_000, n_background=10_000, processes=2),
        n_constituents=30,
        mace=LorentzMACETaggerConfig(avg_num_neighbors=30.0),
        pfn=PFNConfig(),
        particlenet=ParticleNetConfig(),
        train=TrainConfig(epochs=5, batch_size=128, lr=1e-3, scheduler="cosine"),
    ),
    "full": TopTaggingRecipe(  # generate sharded first: see workbench.data.jets
        jets=JetsConfig(n_signal=100_000, n_background=100_000, processes=2),
        n_constituents=80,
        mace=LorentzMACETaggerConfig(channels=32, readout_hidden=64, avg_num_neighbors=60.0),
        pfn=PFNConfig(phi=(100, 100, 256), f=(100, 100, 100)),
        particlenet=ParticleNetConfig(
            blocks=((64, 64, 64), (128, 128, 128), (256, 256, 256)), fc=256
        ),
        train=TrainConfig(
            epochs=30,
            batch_size=128,
            lr=1e-3,
            scheduler="cosine",
            patience=5,
            monitor="val_loss",
        ),
    ),
}


@dataclass
class TopTaggingResult:
    """``table``: one row per model (metrics with bootstrap errors, parameters, seconds,
    invariance); ``published``: the reference data set's published numbers (context only);
    ``scores``: test-set scores per model (for ROC curves), with ``test.label``."""

    table: pd.DataFrame
    published: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    models: dict[str, torch.nn.Module]
    scores: dict[str, np.ndarray]
    test: JetData
    recipe: TopTaggingRecipe = field(repr=False)

    @property
    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The published numbers, for the CLI."""
        return {"Published, on the Top Quark Tagging Reference Dataset (context)": self.published}


def lorentz_transforms(n: int, generator: torch.Generator, max_rapidity: float = 1.0):
    """``n`` random proper orthochronous Lorentz matrices (n, 4, 4) float64: a Haar rotation
    times a boost of rapidity U(0, max_rapidity) along a uniform random axis."""
    rotations = random_rotations(n, generator, reflections=False, dtype=torch.float64)
    out = torch.zeros(n, 4, 4, dtype=torch.float64)
    out[:, 0, 0] = 1.0
    out[:, 1:, 1:] = rotations
    axes = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    rapidities = torch.rand(n, generator=generator, dtype=torch.float64) * max_rapidity
    boosts = torch.stack(
        [
            torch.as_tensor(boost_matrix(float(y), a.tolist()))
            for y, a in zip(rapidities, axes, strict=True)
        ]
    )
    return boosts @ out


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _make_jets_once(config: JetsConfig, progress: bool) -> JetData:
    """``make_jets(config)``; under ``torch.distributed`` rank 0 generates (or finds) the jets
    in the cache first while the others wait, then the others read them. A failure on rank 0
    is raised on every rank (the others with a RuntimeError quoting it), not left hanging."""
    rank, world = _rank_and_world()
    if world == 1:
        return make_jets(config, progress=progress)
    data, error = None, None
    if rank == 0:
        try:
            data = make_jets(config, progress=progress)
        except Exception as err:
            error = err
    message = [None if error is None else f"{type(error).__name__}: {error}"]
    dist.broadcast_object_list(message, src=0)  # the barrier: rank 0 is done, or failed
    if error is not None:
        raise error
    if message[0] is not None:
        raise RuntimeError(f"rank 0 could not make the jets, so rank {rank} stops: {message[0]}")
    if rank == 0:
        return data
    log.info("rank %d: reading the jets rank 0 made", rank)
    return make_jets(config, progress=False)


def _leading(data: JetData, n: int) -> JetData:
    """The ``n`` leading constituents (the files are sorted by pT)."""
    return replace(data, p4=data.p4[:, :n].contiguous(), mask=data.mask[:, :n].contiguous())


def _step(model, batch):
    p4, mask, label = batch
    logits = model(p4, mask)
    target = label.to(logits.dtype)
    return {
        "loss": F.binary_cross_entropy_with_logits(logits, target),
        "accuracy": ((logits > 0) == label.bool()).float().mean(),
    }


def _scores(model, data: JetData, batch_size: int = 256, p4: torch.Tensor | None = None):
    """Sigmoid scores (n,) float64 of ``model`` on ``data`` (or on ``p4`` with its masks)."""
    p4 = data.p4 if p4 is None else p4
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            part = slice(start, start + batch_size)
            x = p4[part].to(next(model.parameters()).dtype)
            out.append(torch.sigmoid(model(x, data.mask[part]).double()))
    return torch.cat(out).numpy()


def run(
    size: str | TopTaggingRecipe = "quick",
    *,
    progress: bool = True,
    workdir: str | Path | None = None,
) -> TopTaggingResult:
    """Generate (or load from the cache) the jets, train every model, evaluate on the test
    jets; checkpoints go to ``workdir`` if given (written by rank 0 under DDP). Under
    ``torch.distributed`` every rank must call it (see the module docstring)."""
    recipe = SIZES[size] if isinstance(size, str) else size
    seed_everything(recipe.seed)
    rank, _ = _rank_and_world()
    data = _leading(_make_jets_once(recipe.jets, progress and rank == 0), recipe.n_constituents)
    train, val, test = data.split((0.7, 0.15, 0.15), seed=recipe.seed)
    train_cfg = replace(recipe.train, progress=progress, seed=recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed + 1)
    # every test jet under its own random Lorentz transformation (float64, then cast)
    lam = lorentz_transforms(len(test), generator)
    moved = torch.einsum("bij,bnj->bni", lam, test.p4.double()).float()
    moved = torch.where(test.mask[..., None], moved, 0.0)

    builders = {
        "Lorentz MACE": lambda: LorentzMACETagger(recipe.mace),
        "PFN": lambda: ParticleFlowNetwork(recipe.pfn),
        "ParticleNet": lambda: ParticleNet(recipe.particlenet),
    }
    results, rows, histories, models, scores = {}, {}, {}, {}, {}
    for name, build in builders.items():
        seed_everything(recipe.seed)
        model = build()
        checkpoint_dir = Path(workdir) / name.replace(" ", "_") if workdir else None
        trainer = Trainer(model, _step, train_cfg, checkpoint_dir=checkpoint_dir)
        start = time.perf_counter()
        histories[name] = trainer.fit(train, val)
        seconds = time.perf_counter() - start
        scores[name] = _scores(model, test)
        shift = np.abs(_scores(model, test, p4=moved) - scores[name]).max()
        results[name] = (scores[name], test.label.numpy())
        rows[name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "train seconds": round(seconds, 1),
            "max |Δscore| under Lorentz": float(shift),
        }
        models[name] = model
        log.info("%s: trained in %.1f s", name, seconds)
    # the physicist's baseline: a window around the top mass, its width fitted on training jets
    cut = best_threshold(mass_window_score(train.p4, train.mask).numpy(), train.label.numpy())
    scores[MASS_CUT] = mass_window_score(test.p4, test.mask).double().numpy()
    results[MASS_CUT] = (scores[MASS_CUT], test.label.numpy(), cut)
    shift = np.abs(mass_window_score(moved, test.mask).double().numpy() - scores[MASS_CUT]).max()
    rows[MASS_CUT] = {"parameters": 0, "train seconds": 0.0, "max |Δscore| under Lorentz": shift}

    table = classification_table(results, seed=recipe.seed)
    table = table.join(pd.DataFrame.from_dict(rows, orient="index")).reset_index()
    return TopTaggingResult(table, PUBLISHED_TOP_TAGGING, histories, models, scores, test, recipe)
