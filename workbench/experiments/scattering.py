r"""Scattering spectra: an E(3)-equivariant phonon-DoS network vs composition-only baselines.

Data: ``workbench.data.scattering`` (EMT metals and binary alloys, relaxed and strained, with
their phonon DoS from phonopy on 51 points from 0 to 15 THz and powder X-ray and neutron
patterns from pymatgen). Crystals flagged ``duplicate`` are removed, the rest split at random
(``split``, seeded) into train, validation and test sets.

Spectrum models, all trained with the mean squared error of the DoS (1/THz, unit area) on
the training set, the epoch with the lowest validation loss kept:

- ``e3nn-style network``: :class:`workbench.models.spectra.PhononDosNet` on the periodic
  graph (Chen et al., arXiv 2009.05163); its n-bar is set to the mean number of edges per
  atom of the training crystals.
- ``composition MLP``: :class:`~workbench.models.spectra.CompositionMLP`, element fractions
  to spectrum (knows the chemistry, not the structure or the strain).
- ``mean spectrum``: the mean training DoS for every crystal.

Metrics on the held-out test crystals (``workbench.metrics``): MSE of the DoS (1/THz)^2, MSE
after scaling every true and predicted spectrum to maximum 1 (the scale of the published
number), and the 1-Wasserstein distance between the spectra (THz), with standard errors
over the test crystals, and the fraction of test crystals on which the network's W1 is lower
than each baseline's. Inverse models: one :class:`~workbench.models.spectra.DiffractionCNN`
per target of ``INVERSE_TARGETS``, from the X-ray and neutron patterns to the volume per atom
and to the lattice parameters (a, b, c, alpha, beta, gamma of the conventional standard
cell, as spglib chooses it: for the triclinic and monoclinic strained alloys this choice of
cell, and with it the target, is a convention the pattern does not fix), test MAE against
predicting the training mean. Composition: a DiffractionCNN with ``output="fractions"``
(softmax over the data's elements, cross-entropy against the atom fractions, the epoch with
the lowest validation cross-entropy kept) on the X-ray pattern alone, with kernel 15: chosen
by the validation cross-entropy of the quick data among 13 settings (inputs X-ray, neutron
or both; kernel, width, learning rate, epochs, weight decay, batch size). Its rows:
``"<element> fraction"`` (MAE of that element's atom fraction), ``COMPOSITION_ROWS[0]``
(the MAE over all elements and crystals) and ``COMPOSITION_ROWS[1]`` (the fraction of test
crystals whose predicted largest fraction is not one of the true majority elements; for this
row the two MAE columns hold that error rate, the training mean predicting the element
largest in the mean training composition).

Result (:class:`ScatteringResult`): ``table`` (spectrum models), ``inverse_table``,
``extra_tables`` (the inverse table and the published anchor, Chen et al.: val MSE ~0.023 on
~1500 Materials Project DFPT structures, a different data set), ``test``
(:class:`~workbench.data.scattering.CrystalData` of the test crystals: ``structure(i)``,
``dos``, ``xrd``, ``nd``, ``peaks(i, kind)``, ``frequencies``, ``two_theta``, ...),
``predictions`` {model name: (n_test, n_bins)}, ``lattice_predictions`` (n_test, 6),
``volume_predictions`` (n_test,) Å^3, ``composition_predictions`` (n_test, n_elements) atom
fractions over ``elements``,
``crystal(i)`` (one test crystal as plain arrays for a viewer), ``models``, ``histories``,
``data_seconds`` (generating or loading the data) and ``train_seconds``.
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
import torch.nn.functional as F

from workbench.data.scattering import (
    CrystalData,
    CrystalsConfig,
    PhononConfig,
    collate_crystals,
    make_crystals,
)
from workbench.metrics import parameter_mae, spectrum_mse, wasserstein_1d
from workbench.models.spectra import (
    CompositionMLP,
    CompositionMLPConfig,
    DiffractionCNN,
    DiffractionCNNConfig,
    MeanSpectrum,
    PhononDosNet,
    PhononDosNetConfig,
)
from workbench.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "COMPOSITION_ROWS",
    "INVERSE_TARGETS",
    "LATTICE_PARAMETERS",
    "MODELS",
    "PUBLISHED_PHONON_DOS",
    "SIZES",
    "ScatteringRecipe",
    "ScatteringResult",
    "majority_wrong",
    "run",
]

log = logging.getLogger(__name__)

#: row names of ``ScatteringResult.table``, in order
MODELS = ("e3nn-style network", "composition MLP", "mean spectrum")
#: the inverse model's lattice-parameter targets (Å, Å, Å, degrees, degrees, degrees)
LATTICE_PARAMETERS = ("a", "b", "c", "alpha", "beta", "gamma")
#: the inverse models (one DiffractionCNN each): CrystalData key -> rows of inverse_table
INVERSE_TARGETS = {
    "volume_per_atom": ("volume per atom (Å^3)",),
    "lattice_parameters": tuple(
        f"{p} ({'Å' if k < 3 else 'deg'})" for k, p in enumerate(LATTICE_PARAMETERS)
    ),
}

#: rows of inverse_table after the "<element> fraction" rows of the composition model
COMPOSITION_ROWS = ("composition (mean over elements)", "majority element wrong (fraction)")

_OTHER_DATA = "Materials Project DFPT phonons (Petretto et al. 2018) — not our EMT crystals"
#: Published phonon-DoS numbers on another data set (context, not a comparison): spectra on
#: 51 points over 0-1000 cm^-1, each scaled to maximum 1 (e3nn's "MaxNorm" setting in Kong et
#: al.'s table 1); W1 converted from cm^-1 to THz. Our "test MSE (max-normalised)" column is
#: on that scale; the spectra themselves differ (EMT metals up to 15 THz vs DFPT compounds).
PUBLISHED_PHONON_DOS = pd.DataFrame(
    [
        (
            "e3nn (Chen et al. 2021)",
            "validation",
            0.023,
            np.nan,
            "~1500 structures",
            "arXiv 2009.05163",
        ),
        (
            "e3nn (rerun in Kong et al. 2022)",
            "test",
            0.034,
            39 * 0.0299792458,
            "same source, their split",
            "Kong et al., Nat. Commun. 2022, doi 10.1038/s41467-022-28543-x",
        ),
    ],
    columns=["model", "split", "MSE (max-normalised)", "W1 (THz)", "structures", "reference"],
).set_index("model")
PUBLISHED_PHONON_DOS["data set"] = _OTHER_DATA


@dataclass(frozen=True)
class ScatteringRecipe:
    """Everything one run needs; ``SIZES`` holds the registered sizes.

    ``data``: the crystals; ``dos_net`` (its ``avg_num_neighbors`` is replaced by the
    training set's mean edges per atom, its grid by the data's), ``composition_mlp``,
    ``inverse``, ``composition`` (None: ``inverse``; its ``n_outputs`` and ``output`` are
    set by :func:`run`): the models; ``train``, ``baseline_train``, ``inverse_train``,
    ``composition_train`` (None: ``inverse_train``): their training settings; ``split``:
    train, validation, test fractions.
    """

    data: CrystalsConfig
    dos_net: PhononDosNetConfig
    composition_mlp: CompositionMLPConfig
    inverse: DiffractionCNNConfig
    train: TrainConfig
    baseline_train: TrainConfig
    inverse_train: TrainConfig
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    composition: DiffractionCNNConfig | None = None
    composition_train: TrainConfig | None = None


_QUICK_DATA = CrystalsConfig(n_structures=400, processes=2)
_QUICK_NET = PhononDosNetConfig(channels=16, r_max=4.5)
_QUICK_TRAIN = TrainConfig(epochs=40, batch_size=16, lr=3e-3, scheduler="cosine")
_BASELINE_TRAIN = TrainConfig(epochs=200, batch_size=32, lr=3e-3, scheduler="cosine")
_INVERSE_TRAIN = TrainConfig(epochs=60, batch_size=32, lr=1e-3, scheduler="cosine")
#: chosen on the validation set (module docstring): the X-ray pattern alone, kernel 15
_COMPOSITION = DiffractionCNNConfig(inputs=("xrd",), kernel_size=15)
_COMPOSITION_TRAIN = _INVERSE_TRAIN

SIZES = {
    # for tests and the notebook's quick mode: 8 small fcc crystals in seconds; learns little
    "tiny": ScatteringRecipe(
        data=CrystalsConfig(
            elements=("Al", "Cu", "Ag"),
            lattices=("fcc",),
            max_alloy_atoms=2,
            phonon=PhononConfig(min_supercell_length=6.0, mesh_length=20.0),
            n_structures=8,
            shard_size=8,
        ),
        dos_net=PhononDosNetConfig(channels=4, num_interactions=1, r_max=4.0, readout_hidden=16),
        composition_mlp=CompositionMLPConfig(n_elements=3, hidden=(16,)),
        inverse=DiffractionCNNConfig(conv_channels=(4, 8), hidden=16),
        composition=DiffractionCNNConfig(inputs=("xrd",), conv_channels=(4, 8), hidden=16),
        train=TrainConfig(epochs=2, batch_size=8, lr=3e-3),
        baseline_train=TrainConfig(epochs=2, batch_size=8, lr=3e-3),
        inverse_train=TrainConfig(epochs=2, batch_size=8, lr=1e-3),
        split=(0.5, 0.25, 0.25),
    ),
    # 400 crystals: data ~5 min with 2 processes (1500 took 18 min), training ~10 min on 2 cores
    "quick": ScatteringRecipe(
        data=_QUICK_DATA,
        dos_net=_QUICK_NET,
        composition_mlp=CompositionMLPConfig(),
        inverse=DiffractionCNNConfig(),
        train=_QUICK_TRAIN,
        baseline_train=_BASELINE_TRAIN,
        inverse_train=_INVERSE_TRAIN,
        composition=_COMPOSITION,
        composition_train=_COMPOSITION_TRAIN,
    ),
    # the anchor's size: ~1500 crystals (data ~18 min with 2 processes), a wider network
    "full": ScatteringRecipe(
        data=replace(_QUICK_DATA, n_structures=1500),
        dos_net=replace(_QUICK_NET, channels=32, r_max=5.0),
        composition_mlp=CompositionMLPConfig(),
        inverse=DiffractionCNNConfig(),
        train=replace(_QUICK_TRAIN, epochs=100, patience=30),
        baseline_train=_BASELINE_TRAIN,
        inverse_train=replace(_INVERSE_TRAIN, epochs=100),
        composition=_COMPOSITION,
        composition_train=replace(_COMPOSITION_TRAIN, epochs=100),
    ),
}


@dataclass
class ScatteringResult:
    """What :func:`run` returns (module docstring). Test crystal i is ``test.structure(i)``
    with true DoS ``test.dos[i]`` and predictions ``predictions[name][i]`` on
    ``frequencies``; :meth:`crystal` collects all of it."""

    table: pd.DataFrame
    inverse_table: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    models: dict[str, torch.nn.Module]
    test: CrystalData
    predictions: dict[str, np.ndarray]
    lattice_predictions: np.ndarray
    volume_predictions: np.ndarray
    composition_predictions: np.ndarray
    data_seconds: float
    train_seconds: dict[str, float]
    recipe: ScatteringRecipe = field(repr=False)

    @property
    def frequencies(self) -> np.ndarray:
        """(n_bins,) the DoS grid in THz."""
        return self.test.frequencies

    @property
    def two_theta(self) -> np.ndarray:
        """(n_points,) the diffraction grid in degrees 2θ."""
        return self.test.two_theta

    @property
    def elements(self) -> tuple[str, ...]:
        """The element symbols of the composition columns."""
        return tuple(self.test.elements)

    @property
    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """The inverse-model table and the published anchor, for the CLI."""
        return {
            "Inverse models: structure from powder patterns (test MAE)": (self.inverse_table),
            "Published phonon-DoS numbers (a different data set)": PUBLISHED_PHONON_DOS,
        }

    def crystal(self, i: int) -> dict[str, Any]:
        """Test crystal i as plain values: ``formula``, ``z`` (n,), ``pos`` (n, 3) Å, ``cell``
        (3, 3), ``lattice``, ``spacegroup``, ``frequencies`` (n_bins,) THz, ``dos`` (true),
        ``predicted`` {model: (n_bins,)}, ``wasserstein`` {model: THz}, ``two_theta``,
        ``xrd``, ``nd`` (n_points,), ``xrd_peaks`` and ``nd_peaks`` (DataFrames: two_theta,
        intensity, h, k, l, d), ``lattice_parameters`` and ``predicted_lattice_parameters``
        (6,), ``volume_per_atom`` and ``predicted_volume_per_atom`` (Å^3), ``elements``,
        ``composition`` and ``predicted_composition`` (n_elements,) atom fractions."""
        if not -len(self.test) <= i < len(self.test):
            raise IndexError(f"test crystal {i} out of range for {len(self.test)}")
        i = int(i) % len(self.test)
        z, pos, cell = self.test.structure(i)
        dos = self.test.dos[i]
        predicted = {name: p[i] for name, p in self.predictions.items()}
        return {
            "index": i,
            "formula": _formula(z),
            "z": z,
            "pos": pos,
            "cell": cell,
            "lattice": str(self.test.lattice[i]),
            "spacegroup": int(self.test.spacegroup[i]),
            "frequencies": self.frequencies,
            "dos": dos,
            "predicted": predicted,
            "wasserstein": {
                name: float(wasserstein_1d(p, dos, self.frequencies)[0])
                for name, p in predicted.items()
            },
            "two_theta": self.two_theta,
            "xrd": self.test.xrd[i],
            "nd": self.test.nd[i],
            "xrd_peaks": self.test.peaks(i, "xrd"),
            "nd_peaks": self.test.peaks(i, "nd"),
            "lattice_parameters": self.test.lattice_parameters[i],
            "predicted_lattice_parameters": self.lattice_predictions[i],
            "volume_per_atom": float(self.test.volume_per_atom[i]),
            "predicted_volume_per_atom": float(self.volume_predictions[i]),
            "elements": self.elements,
            "composition": np.asarray(self.test.composition[i], dtype=np.float64),
            "predicted_composition": self.composition_predictions[i],
        }


def _formula(z: np.ndarray) -> str:
    from ase.data import chemical_symbols

    numbers, counts = np.unique(z, return_counts=True)
    parts = sorted((chemical_symbols[n], c) for n, c in zip(numbers, counts, strict=True))
    return "".join(f"{s}{c if c > 1 else ''}" for s, c in parts)


# ----------------------------------------------------------------------------- training


_NET_KEYS = ("z", "pos", "cell", "dos", "edge_src", "edge_dst", "cell_shift")


def _items(data: CrystalData, keys: tuple[str, ...]) -> list[dict[str, torch.Tensor]]:
    """The data set's items (neighbour lists computed once), restricted to ``keys``."""
    return [{k: v for k, v in data[i].items() if k in keys} for i in range(len(data))]


def _dos_step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {"loss": F.mse_loss(model(batch), batch["dos"]), "n": len(batch["dos"])}


def _target(data: CrystalData, key: str) -> np.ndarray:
    """(n, k) float64 targets of the inverse model: ``key`` of INVERSE_TARGETS."""
    value = np.asarray(data.arrays[key], dtype=np.float64)
    return value[:, None] if value.ndim == 1 else value


def _inverse_step(key: str):
    def step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        module = model.module if hasattr(model, "module") else model  # DDP wrapper
        target = batch[key].reshape(len(batch[key]), -1)
        target = (target - module.target_mean) / module.target_std
        standardised = (model(batch) - module.target_mean) / module.target_std
        return {"loss": F.mse_loss(standardised, target), "n": len(target)}

    return step


def _composition_step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Cross-entropy of the predicted fractions against the true ones, and their MAE."""
    target = batch["composition"]
    fractions = model(batch)  # through the DDP wrapper, if any, so gradients are averaged
    log_fractions = fractions.clamp_min(torch.finfo(fractions.dtype).tiny).log()
    return {
        "loss": -(target * log_fractions).sum(-1).mean(),
        "mae": (fractions - target).abs().mean(),
        "n": len(target),
    }


def majority_wrong(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(n,) True where the largest predicted fraction is not one of the largest true ones."""
    picked = np.take_along_axis(target, predicted.argmax(1)[:, None], axis=1)[:, 0]
    return picked < target.max(1) - 1e-9


def _composition_rows(
    predicted: np.ndarray, train: np.ndarray, test: np.ndarray, elements, seconds: float
) -> list[dict]:
    mean = np.broadcast_to(train.mean(0), test.shape)
    cnn_mae, mean_mae = parameter_mae(predicted, test), parameter_mae(mean, test)
    cnn = [*cnn_mae, cnn_mae.mean(), majority_wrong(predicted, test).mean()]
    base = [*mean_mae, mean_mae.mean(), majority_wrong(mean, test).mean()]
    names = [f"{e} fraction" for e in elements] + list(COMPOSITION_ROWS)
    return [
        {
            "target": name,
            "diffraction CNN MAE": float(c),
            "training mean MAE": float(m),
            "CNN / mean": c / m if m > 0 else np.nan,
            "train seconds": round(seconds, 1),
        }
        for name, c, m in zip(names, cnn, base, strict=True)
    ]


def _fit(model, step, cfg, train, val, workdir, name) -> tuple[pd.DataFrame, float]:
    checkpoint_dir = Path(workdir) / name.replace(" ", "_") if workdir else None
    trainer = Trainer(model, step, cfg, checkpoint_dir=checkpoint_dir, collate_fn=collate_crystals)
    start = time.perf_counter()
    history = trainer.fit(train, val)
    return history, time.perf_counter() - start


@torch.no_grad()
def _predict(model: torch.nn.Module, items: list[dict], batch_size: int = 64) -> np.ndarray:
    model.eval()
    out = [
        model(collate_crystals(items[s : s + batch_size])).double().numpy()
        for s in range(0, len(items), batch_size)
    ]
    return np.concatenate(out)


def _spectrum_row(name: str, pred: np.ndarray, true: np.ndarray, grid: np.ndarray) -> dict:
    per_crystal = np.mean((pred - true) ** 2, axis=1)
    w1 = wasserstein_1d(pred, true, grid)
    scaled = spectrum_mse(pred / pred.max(1, keepdims=True), true / true.max(1, keepdims=True))
    n = len(true)
    return {
        "model": name,
        "test MSE (1/THz^2)": spectrum_mse(pred, true),
        "MSE s.e.": float(per_crystal.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
        "test MSE (max-normalised)": scaled,
        "test W1 (THz)": float(w1.mean()),
        "W1 s.e.": float(w1.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
    }


def run(
    size: str | ScatteringRecipe = "quick",
    *,
    progress: bool = True,
    workdir: str | Path | None = None,
) -> ScatteringResult:
    """Generate (or load) the crystals, train every model, evaluate on the test crystals."""
    recipe = SIZES[size] if isinstance(size, str) else size
    if not isinstance(recipe, ScatteringRecipe):
        raise TypeError(
            f"run: size must be one of {tuple(SIZES)} or a ScatteringRecipe, got {size!r}"
        )
    seed_everything(recipe.seed)
    start = time.perf_counter()
    data = make_crystals(recipe.data, progress=progress)
    data_seconds = time.perf_counter() - start
    log.info("scattering data: %s in %.1f s", data, data_seconds)
    if data.duplicate.any():
        data = data.subset(~data.duplicate)
    data = replace(data, r_max=recipe.dos_net.r_max)
    train, val, test = data.split(recipe.split, seed=recipe.seed)
    if min(len(train), len(val), len(test)) < 2:
        raise ValueError(
            f"run: split {recipe.split} of {len(data)} crystals leaves {len(train)}, {len(val)}, "
            f"{len(test)}; each part needs >= 2 (more n_structures)"
        )
    grid = data.frequencies
    parts = {"train": train, "val": val, "test": test}
    net_items = {name: _items(part, _NET_KEYS) for name, part in parts.items()}
    keys = ("z", "pos", "cell", "dos", "composition", "xrd", "nd", "lattice_parameters")
    plain_items = {name: _items(replace(part, r_max=None), keys) for name, part in parts.items()}
    for name, part in parts.items():
        for item, volume in zip(plain_items[name], part.volume_per_atom, strict=True):
            item["volume_per_atom"] = torch.tensor([volume], dtype=part.dtype)

    edges_per_atom = float(
        np.mean([len(it["edge_src"]) / len(it["z"]) for it in net_items["train"]])
    )
    n_bins, top = len(grid), float(grid[-1])
    net_cfg = replace(
        recipe.dos_net,
        n_bins=n_bins,
        max_frequency=top,
        avg_num_neighbors=max(edges_per_atom, 1.0),
    )
    mlp_cfg = replace(
        recipe.composition_mlp, n_elements=len(data.elements), n_bins=n_bins, max_frequency=top
    )
    inverse_cfg = replace(recipe.inverse, n_points=len(data.two_theta))

    histories, models, seconds, predictions = {}, {}, {}, {}
    true = test.dos.astype(np.float64)
    for name in MODELS[:2]:
        seed_everything(recipe.seed)
        if name == MODELS[0]:
            model, cfg, items = PhononDosNet(net_cfg), recipe.train, net_items
        else:
            model, cfg, items = CompositionMLP(mlp_cfg), recipe.baseline_train, plain_items
        cfg = replace(cfg, progress=progress, seed=recipe.seed)
        histories[name], seconds[name] = _fit(
            model, _dos_step, cfg, items["train"], items["val"], workdir, name
        )
        models[name] = model
        predictions[name] = _predict(model, items["test"])
    models[MODELS[2]] = MeanSpectrum.fit(train.dos)
    predictions[MODELS[2]] = _predict(models[MODELS[2]], plain_items["test"])
    seconds[MODELS[2]] = 0.0

    rows = []
    w1 = {name: wasserstein_1d(p, true, grid) for name, p in predictions.items()}
    for name in MODELS:
        row = _spectrum_row(name, predictions[name], true, grid)
        row["parameters"] = sum(p.numel() for p in models[name].parameters())
        row["train seconds"] = round(seconds[name], 1)
        for other in MODELS[1:]:
            if other != name and name == MODELS[0]:
                row[f"W1 below {other} (fraction of test)"] = float(np.mean(w1[name] < w1[other]))
        rows.append(row)
        log.info("%s: %s", name, row)
    table = pd.DataFrame(rows).set_index("model")

    inverse_predictions, inverse_rows = {}, []
    for key, columns in INVERSE_TARGETS.items():
        seed_everything(recipe.seed)
        name = f"diffraction CNN ({key})"
        inverse = DiffractionCNN(replace(inverse_cfg, n_outputs=len(columns)))
        inverse.set_target_scale(_target(train, key))
        cfg = replace(recipe.inverse_train, progress=progress, seed=recipe.seed)
        histories[name], seconds[name] = _fit(
            inverse, _inverse_step(key), cfg, plain_items["train"], plain_items["val"], workdir,
            name,
        )  # fmt: skip
        models[name] = inverse
        inverse_predictions[key] = _predict(inverse, plain_items["test"])
        target = _target(test, key)
        cnn = parameter_mae(inverse_predictions[key], target)
        mean = parameter_mae(np.broadcast_to(_target(train, key).mean(0), target.shape), target)
        for k, column in enumerate(columns):
            inverse_rows.append(
                {
                    "target": column,
                    "diffraction CNN MAE": cnn[k],
                    "training mean MAE": mean[k],
                    "CNN / mean": cnn[k] / mean[k] if mean[k] > 0 else np.nan,
                    "train seconds": round(seconds[name], 1),
                }
            )
    seed_everything(recipe.seed)
    name = "diffraction CNN (composition)"
    n_elements = len(data.elements)
    composer_cfg = replace(
        recipe.composition or recipe.inverse,
        n_points=len(data.two_theta),
        n_outputs=n_elements,
        output="fractions",
    )
    composer = DiffractionCNN(composer_cfg)
    cfg = recipe.composition_train or recipe.inverse_train
    cfg = replace(cfg, progress=progress, seed=recipe.seed)
    histories[name], seconds[name] = _fit(
        composer, _composition_step, cfg, plain_items["train"], plain_items["val"], workdir, name
    )
    models[name] = composer
    composition_predictions = _predict(composer, plain_items["test"])
    inverse_rows += _composition_rows(
        composition_predictions,
        np.asarray(train.composition, dtype=np.float64),
        np.asarray(test.composition, dtype=np.float64),
        data.elements,
        seconds[name],
    )
    inverse_table = pd.DataFrame(inverse_rows).set_index("target")
    log.info("inverse model:\n%s", inverse_table)
    return ScatteringResult(
        table=table,
        inverse_table=inverse_table,
        histories=histories,
        models=models,
        test=test,
        predictions=predictions,
        lattice_predictions=inverse_predictions["lattice_parameters"],
        volume_predictions=inverse_predictions["volume_per_atom"][:, 0],
        composition_predictions=composition_predictions,
        data_seconds=data_seconds,
        train_seconds=seconds,
        recipe=recipe,
    )
