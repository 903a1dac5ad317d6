r"""Boosted top jets vs QCD jets: Pythia 8 + FastJet generation and the reference HDF5 layout.

Generation (:func:`generate_jets`, :func:`make_jets`) follows the recipe of the Top Quark
Tagging Reference Dataset (Kasieczka, Plehn, Thompson, Russell, zenodo.org/record/2603256,
used in the comparison arXiv:1902.09914; samples from arXiv:1707.08966):

- pp collisions at :math:`\sqrt s = 14` TeV in Pythia 8 (default tune). Signal: hadronic
  :math:`t\bar t` (``Top:gg2ttbar``, ``Top:qqbar2ttbar``; ``24:onMode = off``,
  ``24:onIfAny = 1 2 3 4 5``: every W decays to quarks). Background: QCD dijets
  (``HardQCD:all``). Both with a :math:`\hat p_T` window around the jet window (see
  :class:`JetsConfig`). Multiple parton interactions are off (``PartonLevel:MPI = off``): the
  reference says "No MPI/pile-up included". ISR, FSR, hadronisation and decays are on.
- The visible stable particles (final state without neutrinos) are clustered with anti-kT,
  :math:`R = 0.8` (FastJet, E scheme: a jet is the sum of its constituents' four-momenta).
- A jet is kept when :math:`550 \le p_T \le 650` GeV and :math:`|\eta| < 2`. A top jet must
  also lie within :math:`\Delta R = \sqrt{\Delta\eta^2 + \Delta\phi^2} < 0.8` of a parton-level
  top (its last copy before the decay) and of all its decay partons (the quark from
  :math:`t \to W q` and the two quarks from :math:`W \to q \bar q'`); each top gives at most
  one jet (the nearest passing one). QCD jets: those of the two hardest jets of the event that
  pass the window.
- The constituents (E, px, py, pz) in GeV are sorted by :math:`p_T`, highest first; the
  leading 200 are kept and shorter jets are padded with exact zeros.

Difference to the reference: the reference clusters Delphes (ATLAS card) particle-flow
objects; here the constituents are the generator-level particles, with no detector
simulation (jets are sharper: the top mass peak is narrower than in the reference).

File layout (:func:`write_reference_h5`, read by :func:`load_jets` for both the public files and
ours): a pandas ``DataFrame`` stored under the HDF5 key ``"table"`` (read with
``pandas.read_hdf(path, key="table")``, as in the ParticleNet converter
github.com/hqucms/ParticleNet, tf-keras/convert_dataset.ipynb), one row per jet, 806 columns
in this order::

    E_0, PX_0, PY_0, PZ_0, E_1, ..., PZ_199,   constituents, float32 (GeV), zero-padded
    truthE, truthPX, truthPY, truthPZ,          the matched top's four-momentum (0 for QCD)
    ttv,                                        split flag ("test/train/validation"), int64
    is_signal_new                               1 = top, 0 = QCD, int64

(column names and order from the data set's description on Zenodo and its dataset card
huggingface.co/datasets/dl4phys/top_tagging, whose example row lists exactly these columns;
float32 momenta as in that row's values). The reference's files are already split into
train/val/test, so ``ttv`` is redundant there; the files written here hold one unsplit sample
and carry ``ttv = 0`` (the value of the training file's rows) unless told otherwise.

Generation is sharded (``workbench.data._shards``): shard ``2k + c`` holds ``shard_size`` jets
of class ``c`` (0 = QCD, 1 = top) from its own Pythia seed, so the data set is a deterministic
function of the seed, an interrupted run resumes, a larger request reuses the shards of a
smaller one, and shards run in parallel processes.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench._types import is_int, is_real

from ._shards import dataset_dir, load_shards, run_shards
from ._split import stratified_split, subset_index

__all__ = [
    "CLASS_NAMES",
    "JETS_SIZES",
    "JetData",
    "JetsConfig",
    "generate_jets",
    "load_jets",
    "make_jets",
    "reference_columns",
    "write_reference_h5",
]

log = logging.getLogger(__name__)

CLASS_NAMES: tuple[str, ...] = ("qcd", "top")
TRUTH_COLUMNS: tuple[str, ...] = ("truthE", "truthPX", "truthPY", "truthPZ")
_FEATURES = ("E", "PX", "PY", "PZ")
_NEUTRINOS = (12, 14, 16)
_PYTHIA_SEED_MAX = 900_000_000  # Pythia's Random:seed accepts 1..900000000 (0 = from the clock)
_EXTRA = "pip install 'equivariant-workbench[jets]'"
_FORMAT = 1  # bump when the generator's output changes: new cache directories


def _require(module: str):
    """Import a package of the ``jets`` extra, or raise an ImportError that names the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"workbench.data.jets needs the package {module!r} ({err}); install the jets extra: "
            f"{_EXTRA}"
        ) from err


def reference_columns(max_constituents: int = 200) -> list[str]:
    """The column names of the reference layout, in order (806 for 200 constituents)."""
    if not isinstance(max_constituents, int) or max_constituents < 1:
        raise ValueError(f"max_constituents must be a positive integer, got {max_constituents!r}")
    columns = [f"{f}_{i}" for i in range(max_constituents) for f in _FEATURES]
    return [*columns, *TRUTH_COLUMNS, "ttv", "is_signal_new"]


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class JetsConfig:
    """What to generate (defaults: the quick size, 10k top + 10k QCD jets).

    Attributes:
        n_signal, n_background: top / QCD jets wanted.
        pt_min, pt_max: jet :math:`p_T` window in GeV (inclusive).
        abs_eta_max: jets need :math:`|\\eta| <` this.
        radius: anti-kT radius R, also the top-matching distance.
        max_constituents: constituents kept per jet (leading in :math:`p_T`).
        pthat_signal, pthat_background: Pythia's ``PhaseSpace:pTHatMin/Max`` (GeV) per process.
            A window makes the generation efficient but drops the jets that reach the
            :math:`p_T` window from a lower :math:`\\hat p_T` (extra radiation). Measured on
            2000 jets per class generated with [250, 1200] GeV (80k/84k events): [500, 800]
            keeps 78 % of the top jets with the same mass and multiplicity distributions
            (median mass 174.1 GeV kept and dropped); for QCD the dropped jets are heavier
            (median 88 GeV vs 78), so its window is wider: [450, 800] keeps 79 % and moves
            the QCD median mass from 80.2 to 78.6 GeV ([500, 800]: 69 %, 77.2 GeV;
            [400, 850]: 89 %, 79.2 GeV, at half the rate).
        mpi: multiple parton interactions (off in the reference sample).
        ecm: centre-of-mass energy in GeV.
        seed: the data set is a deterministic function of the seed (and the settings).
        shard_size: jets per shard (one class per shard).
        processes: worker processes for the shards (1 = in this process).
    """

    n_signal: int = 10_000
    n_background: int = 10_000
    pt_min: float = 550.0
    pt_max: float = 650.0
    abs_eta_max: float = 2.0
    radius: float = 0.8
    max_constituents: int = 200
    pthat_signal: tuple[float, float] = (500.0, 800.0)
    pthat_background: tuple[float, float] = (450.0, 800.0)
    mpi: bool = False
    ecm: float = 14_000.0
    seed: int = 0
    shard_size: int = 500
    processes: int = 1

    def __post_init__(self) -> None:
        for name in ("pthat_signal", "pthat_background"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("n_signal", "n_background", "max_constituents", "shard_size", "processes"):
            value = getattr(self, name)
            minimum = 0 if name.startswith("n_") else 1
            if not is_int(value) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.n_signal + self.n_background == 0:
            raise ValueError("n_signal + n_background must be positive, got 0 jets")
        if not is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("pt_min", "pt_max", "abs_eta_max", "radius", "ecm"):
            value = getattr(self, name)
            if not is_real(value) or value <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if self.pt_min > self.pt_max:
            raise ValueError(f"pt_min must be <= pt_max, got [{self.pt_min}, {self.pt_max}]")
        for name in ("pthat_signal", "pthat_background"):
            window = getattr(self, name)
            ok = isinstance(window, tuple) and len(window) == 2
            if not ok or not all(is_real(v) for v in window) or not 0 <= window[0] < window[1]:
                raise ValueError(
                    f"{name} must be a (min, max) pair with 0 <= min < max (GeV), got {window!r}"
                )
        if not isinstance(self.mpi, bool):
            raise TypeError(f"mpi must be a bool, got {self.mpi!r}")

    def settings(self) -> dict[str, Any]:
        """What the shards depend on (the cache key): not the counts or the process count, so
        a larger request reuses the shards of a smaller one."""
        out = asdict(self)
        for name in ("n_signal", "n_background", "processes"):
            out.pop(name)
        out["format"] = _FORMAT
        out["pythia8mc"] = _version("pythia8mc")
        out["fastjet"] = _version("fastjet")
        return out


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


JETS_SIZES: dict[str, JetsConfig] = {
    # ~20k jets: a few minutes on two cores, cached after the first run
    "quick": JetsConfig(n_signal=10_000, n_background=10_000),
    # 200k jets: 400 shards; run with processes = number of cores (resumable if interrupted)
    "full": JetsConfig(n_signal=100_000, n_background=100_000, processes=os.cpu_count() or 1),
}


# ----------------------------------------------------------------------------- generation


def _pythia_seed(seed: int, shard: int) -> int:
    """A Pythia seed in [1, 900000000] for (seed, shard), from numpy's SeedSequence hash."""
    state = np.random.SeedSequence([seed, shard]).generate_state(2, np.uint32)
    return 1 + int((int(state[0]) << 32 | int(state[1])) % _PYTHIA_SEED_MAX)


def _pythia_commands(config: JetsConfig, label: int, seed: int) -> list[str]:
    pthat = config.pthat_signal if label == 1 else config.pthat_background
    process = (
        ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
        if label == 1
        else ["HardQCD:all = on"]
    )
    return [
        f"Beams:eCM = {config.ecm}",
        *process,
        f"PhaseSpace:pTHatMin = {pthat[0]}",
        f"PhaseSpace:pTHatMax = {pthat[1]}",
        f"PartonLevel:MPI = {'on' if config.mpi else 'off'}",
        "Next:numberCount = 0",
        "Print:quiet = on",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]


def _make_pythia(config: JetsConfig, label: int, seed: int):
    pythia8 = _require("pythia8mc")
    pythia = pythia8.Pythia("", False)  # no banner
    for command in _pythia_commands(config, label, seed):
        if not pythia.readString(command):
            raise RuntimeError(f"Pythia rejected the setting {command!r}")
    if not pythia.init():
        raise RuntimeError("Pythia failed to initialise (see its log above)")
    return pythia


def _daughters(d1: int, d2: int) -> list[int]:
    """Pythia's daughter1/daughter2 convention: none, one, a range d1..d2, or the pair."""
    if d1 <= 0:
        return []
    if d2 <= 0 or d2 == d1:
        return [d1]
    return list(range(d1, d2 + 1)) if d2 > d1 else [d1, d2]


def _last_copy(i: int, pid: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> int:
    """Follow a particle through its recoil/shower copies (a daughter with the same id)."""
    while True:
        same = [d for d in _daughters(d1[i], d2[i]) if pid[d] == pid[i]]
        if not same:
            return i
        i = same[0]


def _hadronic_tops(pid, d1, d2, p4) -> list[tuple[np.ndarray, np.ndarray]]:
    """(top four-momentum, decay-parton four-momenta (3, 4)) for every t -> W q, W -> q q'
    in one event (arrays indexed like the Pythia event record; p4 rows are E, px, py, pz)."""
    out = []
    for i in np.flatnonzero(np.abs(pid) == 6):
        if any(pid[d] == pid[i] for d in _daughters(d1[i], d2[i])):
            continue  # not the last copy
        daughters = _daughters(d1[i], d2[i])
        quarks = [d for d in daughters if 1 <= abs(pid[d]) <= 5]
        ws = [d for d in daughters if abs(pid[d]) == 24]
        if len(quarks) != 1 or len(ws) != 1:
            continue
        w = _last_copy(ws[0], pid, d1, d2)
        w_quarks = [d for d in _daughters(d1[w], d2[w]) if 1 <= abs(pid[d]) <= 5]
        if len(w_quarks) != 2:
            continue  # leptonic W (not produced with the default settings)
        out.append((p4[i], p4[[quarks[0], *w_quarks]]))
    return out


def _eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt_ = np.hypot(p4[..., 1], p4[..., 2])
    return np.arcsinh(p4[..., 3] / pt_), np.arctan2(p4[..., 2], p4[..., 1])


def _delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    dphi = (np.asarray(phi1) - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - eta2, dphi)


def _batch_jets(batch, config: JetsConfig, label: int, jet_def) -> list[list[tuple]]:
    """The selected jets of every event of a Pythia batch, per event, each as
    (constituents (n, 4) sorted by pT, truth top (4,), pT-hat)."""
    ak = _require("awkward")
    fastjet = _require("fastjet")
    prt = batch.prt
    n_events = len(prt)
    counts = ak.to_numpy(ak.num(prt)).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(counts)])

    def flat(x) -> np.ndarray:
        return ak.to_numpy(ak.flatten(x))

    pid = flat(prt.id).astype(np.int64)
    status = flat(prt.status)
    d1, d2 = flat(prt.daughter1).astype(np.int64), flat(prt.daughter2).astype(np.int64)
    p4 = np.stack([flat(prt.p.e), flat(prt.p.px), flat(prt.p.py), flat(prt.p.pz)], axis=1)
    pthat = np.sqrt(ak.to_numpy(batch.info.pT2Hat))

    # visible final state of each event, clustered all at once
    visible = np.flatnonzero((status > 0) & ~np.isin(np.abs(pid), _NEUTRINOS))
    event_of = np.repeat(np.arange(n_events), counts)
    vis_counts = np.bincount(event_of[visible], minlength=n_events)
    vis_start = np.concatenate([[0], np.cumsum(vis_counts)])
    v = p4[visible]
    particles = ak.unflatten(
        ak.zip({"px": v[:, 1], "py": v[:, 2], "pz": v[:, 3], "E": v[:, 0]}, with_name="Momentum4D"),
        vis_counts,
    )
    sequence = fastjet.ClusterSequence(particles, jet_def)
    # a little below pt_min: clustering is exact, this only drops soft jets early
    index = sequence.constituent_index(0.9 * config.pt_min)
    n_jets = ak.to_numpy(ak.num(index, axis=1)).astype(np.int64)
    n_cons = ak.to_numpy(ak.flatten(ak.num(index, axis=2))).astype(np.int64)
    local = ak.to_numpy(ak.flatten(index, axis=None)).astype(np.int64)
    jet_event = np.repeat(np.arange(n_events), n_jets)
    cons = p4[visible[vis_start[np.repeat(jet_event, n_cons)] + local]]
    cons_start = np.concatenate([[0], np.cumsum(n_cons)])
    jets = np.add.reduceat(cons, cons_start[:-1], axis=0) if len(n_cons) else np.zeros((0, 4))
    jet_pt = np.hypot(jets[:, 1], jets[:, 2])
    jet_eta, jet_phi = _eta_phi(jets)
    in_window = (
        (jet_pt >= config.pt_min)
        & (jet_pt <= config.pt_max)
        & (np.abs(jet_eta) < config.abs_eta_max)
    )
    jet_first = np.concatenate([[0], np.cumsum(n_jets)])

    def constituents(j: int) -> np.ndarray:
        c = cons[cons_start[j] : cons_start[j + 1]]
        return c[np.argsort(-np.hypot(c[:, 1], c[:, 2]), kind="stable")]

    out: list[list[tuple]] = []
    for e in range(n_events):
        ids = np.arange(jet_first[e], jet_first[e + 1])
        ids = ids[np.argsort(-jet_pt[ids], kind="stable")]  # hardest first
        chosen: list[tuple] = []
        if label == 0:
            for j in ids[:2]:
                if in_window[j]:
                    chosen.append((constituents(j), np.zeros(4), pthat[e]))
        else:
            s = slice(start[e], start[e + 1])
            taken: set[int] = set()
            for top, partons in _hadronic_tops(pid[s], d1[s], d2[s], p4[s]):
                top_eta, top_phi = _eta_phi(top)
                q_eta, q_phi = _eta_phi(partons)
                best, best_dr = -1, config.radius
                for j in ids:
                    if not in_window[j] or j in taken:
                        continue
                    dr = _delta_r(jet_eta[j], jet_phi[j], top_eta, top_phi)
                    near = _delta_r(jet_eta[j], jet_phi[j], q_eta, q_phi) < config.radius
                    if dr < best_dr and near.all():
                        best, best_dr = j, dr
                if best >= 0:
                    taken.add(best)
                    chosen.append((constituents(best), top, pthat[e]))
        out.append(chosen)
    return out


def _make_shard(config: JetsConfig, index: int, batch_events: int = 32) -> dict[str, np.ndarray]:
    """Shard ``index = 2k + c``: exactly ``shard_size`` jets of class c (0 QCD, 1 top) from
    the events of one Pythia run seeded by (seed, index), in event order."""
    fastjet = _require("fastjet")
    _require("fastjet._swig").ClusterSequence.set_fastjet_banner_stream(None)  # no banner
    label = index % 2
    pythia = _make_pythia(config, label, _pythia_seed(config.seed, index))
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, config.radius)
    n, m = config.shard_size, config.max_constituents
    p4 = np.zeros((n, m, 4), dtype=np.float32)
    truth = np.zeros((n, 4), dtype=np.float32)
    pthat = np.zeros(n, dtype=np.float32)
    have = events = 0
    max_events = 1000 * n + 10_000
    while have < n:
        if events >= max_events:
            raise RuntimeError(
                f"shard {index}: only {have} of {n} jets after {events} events; the pT-hat window "
                f"{config.pthat_signal if label else config.pthat_background} does not feed the "
                f"jet window [{config.pt_min}, {config.pt_max}] GeV"
            )
        batch = pythia.nextBatch(batch_events)
        for chosen in _batch_jets(batch, config, label, jet_def):
            events += 1
            for cons, top, hat in chosen:
                if have == n:
                    break
                k = min(len(cons), m)
                p4[have, :k] = cons[:k]
                truth[have] = top
                pthat[have] = hat
                have += 1
            if have == n:
                break
    return {
        "p4": p4,
        "truth": truth,
        "label": np.full(n, label, dtype=np.int64),
        "pthat": pthat,
        "n_events": np.array([events], dtype=np.int64),
    }


def _shard_indices(config: JetsConfig) -> tuple[list[int], list[int]]:
    """(background shard indices 2k, signal shard indices 2k + 1)."""
    per = config.shard_size
    background = [2 * k for k in range(-(-config.n_background // per))]
    signal = [2 * k + 1 for k in range(-(-config.n_signal // per))]
    return background, signal


def generate_jets(
    config: JetsConfig = JetsConfig(), directory: str | Path | None = None, progress: bool = True
) -> Path:
    """Generate (or find) the jets of ``config`` and return the path of their HDF5 file.

    Shards go to ``dataset_dir("jets", config.settings(), root=directory)`` (the user cache
    by default) and are computed only when missing, in ``config.processes`` processes. The
    file ``jets-<n_signal>s-<n_background>b.h5`` next to them holds the first ``n_signal``
    top and ``n_background`` QCD jets in the reference layout, rows shuffled by the seed.
    """
    if not isinstance(config, JetsConfig):
        raise TypeError(f"config must be a JetsConfig, got {type(config).__name__}")
    for module in ("pythia8mc", "fastjet", "awkward", "tables"):
        _require(module)
    root = dataset_dir("jets", config.settings(), root=directory)
    path = root / f"jets-{config.n_signal}s-{config.n_background}b.h5"
    if path.exists():
        log.info("jets: using %s", path)
        return path
    background, signal = _shard_indices(config)
    make = functools.partial(_make_shard, replace(config, n_signal=0, n_background=1))
    paths = run_shards(
        make, sorted(background + signal), root, config.processes, progress, desc="jets"
    )
    by_index = dict(zip(sorted(background + signal), paths, strict=True))
    parts, events = [], {}
    for label, indices, wanted in (
        (1, signal, config.n_signal),
        (0, background, config.n_background),
    ):
        if not indices:
            continue
        arrays = load_shards([by_index[i] for i in indices])
        parts.append({k: arrays[k][:wanted] for k in ("p4", "truth", "label")})
        events[CLASS_NAMES[label]] = int(arrays["n_events"].sum())
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in ("p4", "truth", "label")}
    order = np.random.default_rng([config.seed, config.n_signal, config.n_background]).permutation(
        len(arrays["label"])
    )
    write_reference_h5({k: v[order] for k, v in arrays.items()}, path)
    log.info("jets: wrote %s (%d jets; events generated per class: %s)", path, len(order), events)
    return path


# ----------------------------------------------------------------------------- file format


def write_reference_h5(arrays: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Write jets in the reference layout (pandas ``DataFrame`` under key ``"table"``).

    ``arrays``: ``p4`` (n, N, 4) constituents (E, px, py, pz), zero-padded; ``label`` (n,)
    0/1; optional ``truth`` (n, 4) (zeros if absent) and ``ttv`` (n,) (zeros if absent).
    Columns E_0..PZ_{N-1} and truth are float32, ``ttv`` and ``is_signal_new`` int64. The file
    is written to a temporary name and renamed, so a reader never sees half a file.
    """
    _require("tables")
    import pandas as pd

    path = Path(path)
    p4 = np.asarray(arrays["p4"])
    if p4.ndim != 3 or p4.shape[-1] != 4 or p4.shape[1] < 1:
        raise ValueError(f"p4 must have shape (n, N, 4) with N >= 1, got {p4.shape}")
    n = len(p4)
    label = np.asarray(arrays["label"])
    truth = np.asarray(arrays.get("truth", np.zeros((n, 4))))
    ttv = np.asarray(arrays.get("ttv", np.zeros(n)))
    for name, value, shape in (
        ("label", label, (n,)),
        ("truth", truth, (n, 4)),
        ("ttv", ttv, (n,)),
    ):
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
    if not np.isin(label, (0, 1)).all():
        raise ValueError(f"label must be 0 (QCD) or 1 (top), got values {np.unique(label)}")
    if not (np.isfinite(p4).all() and np.isfinite(truth).all()):
        raise ValueError("p4 and truth must be finite (no NaN or inf)")
    columns = reference_columns(p4.shape[1])
    values = np.concatenate([p4.reshape(n, -1), truth], axis=1).astype(np.float32)
    frame = pd.concat(
        [
            pd.DataFrame(values, columns=columns[:-2]),
            pd.DataFrame({"ttv": ttv.astype(np.int64), "is_signal_new": label.astype(np.int64)}),
        ],
        axis=1,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        frame.to_hdf(tmp, key="table", mode="w")  # fixed format, uncompressed, as the reference
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True, eq=False)
class JetData:
    """Jets as padded sets of constituent four-momenta; works as a torch ``Dataset``.

    Attributes:
        p4: (n, N, 4) float32 constituents (E, px, py, pz) in GeV, sorted by pT; padding zero.
        mask: (n, N) bool, True for real constituents (E > 0).
        label: (n,) long, 0 = QCD, 1 = top (``CLASS_NAMES``).
        truth: (n, 4) float32 four-momentum of the matched top (zeros for QCD), or None.
        ttv: (n,) long split flag of the file (``ttv`` column), or None.
        source: the files the jets were read from.

    ``jets[i]`` is ``(p4 (N, 4), mask (N,), label ())``.
    """

    p4: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor
    truth: torch.Tensor | None = None
    ttv: torch.Tensor | None = None
    source: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        p4, mask, label = self.p4, self.mask, self.label
        if not isinstance(p4, torch.Tensor) or p4.ndim != 3 or p4.shape[-1] != 4:
            raise ValueError(f"p4 must be a (n, N, 4) tensor, got {_describe(p4)}")
        if not isinstance(mask, torch.Tensor) or mask.shape != p4.shape[:2]:
            raise ValueError(f"mask must have shape {tuple(p4.shape[:2])}, got {_describe(mask)}")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
        if not isinstance(label, torch.Tensor) or label.shape != p4.shape[:1]:
            raise ValueError(f"label must have shape ({len(p4)},), got {_describe(label)}")
        if label.dtype != torch.long:
            raise TypeError(f"label must be a long tensor, got dtype {label.dtype}")
        for name, shape in (("truth", (len(p4), 4)), ("ttv", (len(p4),))):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, torch.Tensor) or tuple(value.shape) != shape
            ):
                raise ValueError(
                    f"{name} must be None or have shape {shape}, got {_describe(value)}"
                )
        object.__setattr__(self, "source", tuple(str(s) for s in self.source))

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not isinstance(i, int | np.integer) or isinstance(i, bool):
            raise TypeError(f"index with an integer (use .subset for several), got {i!r}")
        return self.p4[i], self.mask[i], self.label[i]

    def __repr__(self) -> str:
        n_top = int(self.label.sum())
        return (
            f"JetData(n={len(self)}, top={n_top}, qcd={len(self) - n_top}, "
            f"max_constituents={self.p4.shape[1]})"
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

    def subset(self, index) -> JetData:
        """The jets at ``index`` (1-D integer indices, a bool mask of length n, or a slice)."""
        index = subset_index(index)
        return JetData(
            self.p4[index],
            self.mask[index],
            self.label[index],
            None if self.truth is None else self.truth[index],
            None if self.ttv is None else self.ttv[index],
            self.source,
        )

    def split(
        self, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0
    ) -> tuple[JetData, ...]:
        """Disjoint random parts with the given fractions, stratified by class."""
        parts = stratified_split(self.label.numpy(), fractions, seed)
        return tuple(self.subset(part) for part in parts)


def _describe(x) -> str:
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__} of shape {tuple(shape)}" if shape is not None else repr(x)


def _read_table(path: Path, stop: int | None):
    """The DataFrame under key "table" of a pandas HDF5 file, or a ValueError naming the file."""
    tables = _require("tables")
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"no jets file at {path}")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = store.keys()
            if "/table" not in keys:
                raise ValueError(
                    f"{path}: no key 'table' (the reference layout stores a DataFrame under "
                    f"'table'); keys in the file: {keys}"
                )
            frame = store.select("table", stop=stop)
    except (OSError, tables.HDF5ExtError, tables.NoSuchNodeError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: not a readable pandas HDF5 file ({err})") from err
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{path}: 'table' holds a {type(frame).__name__}, expected a DataFrame")
    return frame


def _numeric(path: Path, frame, columns: list[str], dtype) -> np.ndarray:
    try:
        values = frame[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        bad = [c for c in columns if frame[c].dtype.kind not in "biuf"]
        raise ValueError(f"{path}: non-numeric column(s) {bad[:5]} ({err})") from err
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        what = "NaN" if np.isnan(values[row, col]) else "infinite"
        raise ValueError(
            f"{path}: row {row} (index {frame.index[row]!r}), column {columns[col]!r} is {what}; "
            f"{int((~finite).sum())} bad value(s) in all"
        )
    return values.astype(dtype)


def _read_jets(path: Path, max_constituents: int, stop: int | None) -> dict[str, np.ndarray]:
    frame = _read_table(path, stop)
    wanted = reference_columns(max_constituents)
    momenta = wanted[: 4 * max_constituents]
    missing = [c for c in [*momenta, "is_signal_new"] if c not in frame.columns]
    if missing:
        n_file = 0
        while all(f"{f}_{n_file}" in frame.columns for f in _FEATURES):
            n_file += 1
        raise ValueError(
            f"{path}: missing column(s) {missing[:8]}{' ...' if len(missing) > 8 else ''} "
            f"({len(missing)} in all; the file has {frame.shape[1]} columns and complete "
            f"constituent columns E/PX/PY/PZ_i for i < {n_file}; expected the reference layout "
            f"with {max_constituents} constituents and 'is_signal_new')"
        )
    n = len(frame)
    p4 = _numeric(path, frame, momenta, np.float32).reshape(n, max_constituents, 4)
    label = _numeric(path, frame, ["is_signal_new"], np.float64)[:, 0]
    if not np.isin(label, (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(label, (0, 1)))[0])
        raise ValueError(f"{path}: is_signal_new must be 0 or 1, row {row} has {label[row]!r}")
    mask = p4[..., 0] > 0
    stray = ~mask & (p4 != 0).any(-1)
    if stray.any():
        row, i = np.argwhere(stray)[0]
        raise ValueError(
            f"{path}: row {row}, constituent {i} has E <= 0 but a non-zero momentum "
            f"{p4[row, i].tolist()}; padding must be exactly zero"
        )
    out = {"p4": p4, "mask": mask, "label": label.astype(np.int64)}
    if all(c in frame.columns for c in TRUTH_COLUMNS):
        out["truth"] = _numeric(path, frame, list(TRUTH_COLUMNS), np.float32)
    if "ttv" in frame.columns:
        out["ttv"] = _numeric(path, frame, ["ttv"], np.float64)[:, 0].astype(np.int64)
    return out


def load_jets(
    paths: str | Path | Sequence[str | Path], max_constituents: int = 200, n: int | None = None
) -> JetData:
    """Read jets in the reference layout: the public files (train.h5, val.h5, test.h5) or ours.

    Several files are concatenated in order; ``n`` keeps the first n jets in all. The leading
    ``max_constituents`` constituents of each jet are read (at most what the file holds).

    Raises:
        FileNotFoundError for a missing file; ValueError naming the file and the problem for an
        unreadable file, a missing key or column, a non-numeric column, a NaN or infinite value
        (with its row and column), a label other than 0/1, or non-zero padding.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no jets files given")
    if not is_int(max_constituents) or max_constituents < 1:
        raise ValueError(f"max_constituents must be a positive integer, got {max_constituents!r}")
    if n is not None and (not is_int(n) or n < 1):
        raise ValueError(f"n must be None or a positive integer, got {n!r}")
    parts = []
    for path in paths:
        remaining = None if n is None else n - sum(len(p["label"]) for p in parts)
        if remaining is not None and remaining <= 0:
            break
        parts.append(_read_jets(path, max_constituents, remaining))
    used = [str(p) for p in paths[: len(parts)]]

    def join(key: str) -> torch.Tensor | None:
        if not all(key in p for p in parts):
            return None
        return torch.from_numpy(np.concatenate([p[key] for p in parts]))

    return JetData(join("p4"), join("mask"), join("label"), join("truth"), join("ttv"), used)


def make_jets(config: JetsConfig = JetsConfig(), progress: bool = True) -> JetData:
    """The jets of ``config``: generated into the cache on the first call, then read back."""
    path = generate_jets(config, progress=progress)
    return load_jets(path, max_constituents=config.max_constituents)
