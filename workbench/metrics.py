r"""Binary classification metrics as the jet-tagging literature reports them (numpy only).

Scores are any real numbers ordered so that larger means "more signal-like" (logits,
probabilities, or e.g. :math:`-|m - m_t|` for a mass window); labels are 1 for signal (top
jets) and 0 for background (QCD jets).

- :func:`roc_curve`: background efficiency :math:`\epsilon_B` (false-positive rate) and signal
  efficiency :math:`\epsilon_S` (true-positive rate) of the cut ``score >= threshold`` for
  every distinct threshold, as ``sklearn.metrics.roc_curve``.
- :func:`auc`: area under it, :math:`P(s_\mathrm{sig} > s_\mathrm{bkg}) +
  \tfrac12 P(s_\mathrm{sig} = s_\mathrm{bkg})` (Mann-Whitney).
- :func:`background_rejection`: :math:`1/\epsilon_B` at a fixed :math:`\epsilon_S` (0.3 and 0.5
  in the top-tagging comparison, Kasieczka et al. 2019, arXiv 1902.09914), :math:`\epsilon_B`
  linearly interpolated on the ROC curve; ``inf`` when no background passes.
- :func:`bootstrap`: the metric and its standard deviation over stratified resamples.
- :func:`classification_table`: accuracy, AUC and rejections with bootstrap errors, one row
  per model; :data:`PUBLISHED_TOP_TAGGING`: published numbers of another data set, as context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PUBLISHED_TOP_TAGGING",
    "accuracy",
    "auc",
    "background_rejection",
    "best_threshold",
    "bootstrap",
    "classification_table",
    "roc_curve",
]

log = logging.getLogger(__name__)


def _as_array(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}: {err}") from None


def _check(scores: Any, labels: Any, both_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-d float scores and 0/1 int labels of equal length."""
    s, y = _as_array(scores, "scores"), _as_array(labels, "labels")
    if s.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"scores and labels must be 1-d, got shapes {s.shape} and {y.shape}; flatten "
            f"(B, 1) logits with .ravel()"
        )
    if len(s) != len(y):
        raise ValueError(f"scores has {len(s)} entries but labels {len(y)}: they must match")
    if len(s) == 0:
        raise ValueError("scores and labels are empty")
    if not (np.issubdtype(s.dtype, np.number) or s.dtype == bool) or np.iscomplexobj(s):
        raise TypeError(f"scores must be real numbers, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        bad = np.flatnonzero(~np.isfinite(s))
        raise ValueError(
            f"scores contain {len(bad)} non-finite values (NaN or inf), first at index "
            f"{bad[0]}: {s[bad[0]]}"
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise TypeError(f"labels must be 0/1 numbers or bools, got dtype {y.dtype}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(
            f"labels must be 0 (background) or 1 (signal), got {np.unique(y[bad])[:5].tolist()}"
        )
    y = y.astype(np.int64)
    if both_classes and (y.min() == y.max()):
        raise ValueError(
            f"labels hold only class {int(y[0])}: the ROC curve needs signal and background"
        )
    return s, y


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""ROC curve of the cuts ``score >= threshold``.

    Returns ``fpr`` (:math:`\epsilon_B`), ``tpr`` (:math:`\epsilon_S`) and the thresholds,
    one entry per distinct score in decreasing order, preceded by ``(0, 0, +inf)``; ties
    between scores are one step (as ``sklearn.metrics.roc_curve`` with
    ``drop_intermediate=False``).
    """
    s, y = _check(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, np.r_[np.inf, s[last]]


def auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve (trapezoids; ties count one half)."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def accuracy(scores: Any, labels: Any, threshold: float = 0.5) -> float:
    """Fraction of events with ``(score > threshold) == label``: 0.5 for probabilities, 0 for
    logits, a cut chosen on training data (:func:`best_threshold`) for other scores."""
    s, y = _check(scores, labels, both_classes=False)
    return float(np.mean((s > threshold) == (y == 1)))


def best_threshold(scores: Any, labels: Any) -> float:
    """The threshold of ``score > threshold`` with the highest accuracy on these events (use
    training data, then :func:`accuracy` on test data with it): the midpoint between
    neighbouring distinct scores."""
    fpr, tpr, thresholds = roc_curve(scores, labels)
    _, y = _check(scores, labels)
    n_sig, n_bkg = y.sum(), len(y) - y.sum()
    correct = tpr * n_sig + (1 - fpr) * n_bkg  # cut score >= thresholds[i]
    i = int(np.argmax(correct))
    if i == 0:  # reject everything: any threshold above the largest score
        return float(thresholds[1] + 1.0)
    below = thresholds[i + 1] if i + 1 < len(thresholds) else thresholds[i] - 1.0
    return float((thresholds[i] + below) / 2)


def background_rejection(scores: Any, labels: Any, signal_efficiency: float = 0.3) -> float:
    r""":math:`1/\epsilon_B` at :math:`\epsilon_S` = ``signal_efficiency``.

    :math:`\epsilon_B` is interpolated linearly between the two ROC points around
    :math:`\epsilon_S` (the first point reaching it if one lands on it exactly), as the
    top-tagging comparisons do with ``np.interp``. Returns ``inf`` when
    :math:`\epsilon_B = 0` there (no background event passes: too few background events to
    measure the rejection, not an infinitely good tagger).
    """
    if not 0.0 < signal_efficiency <= 1.0:
        raise ValueError(f"signal_efficiency must be in (0, 1], got {signal_efficiency}")
    fpr, tpr, _ = roc_curve(scores, labels)
    i = int(np.searchsorted(tpr, signal_efficiency, side="left"))  # first tpr >= eff
    if tpr[i] == signal_efficiency:
        eps_b = fpr[i]
    else:
        t0, t1, f0, f1 = tpr[i - 1], tpr[i], fpr[i - 1], fpr[i]
        eps_b = f0 + (signal_efficiency - t0) * (f1 - f0) / (t1 - t0)
    return float(np.inf) if eps_b <= 0 else float(1.0 / eps_b)


def bootstrap(
    metric_fn: Callable[[np.ndarray, np.ndarray], float],
    scores: Any,
    labels: Any,
    n: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """``(metric_fn(scores, labels), std)``: the metric and its bootstrap standard deviation.

    The ``n`` resamples draw signal and background events with replacement separately
    (stratified: each keeps the class counts, so no resample lacks a class). If a resample
    gives an infinite metric (a rejection with no background left), the std is ``inf``.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2 resamples, got {n!r}")
    s, y = _check(scores, labels, both_classes=False)
    value = float(metric_fn(s, y))
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in (0, 1)]
    samples = np.empty(n)
    for b in range(n):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups if len(g)])
        samples[b] = metric_fn(s[index], y[index])
    infinite = ~np.isfinite(samples)
    if infinite.any():
        log.warning(
            "%d of %d bootstrap resamples gave a non-finite metric (e.g. no background event "
            "left at this signal efficiency): std reported as inf",
            int(infinite.sum()),
            n,
        )
        return value, float("inf")
    return value, float(np.std(samples, ddof=1))


def classification_table(
    results: Mapping[str, Sequence[Any]],
    signal_efficiencies: Sequence[float] = (0.3, 0.5),
    threshold: float = 0.5,
    n_bootstrap: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model: accuracy, AUC, rejections 1/eps_B with bootstrap errors.

    Args:
        results: ``name -> (scores, labels)`` or ``name -> (scores, labels, threshold)``, the
            test-set scores of each model; the per-model threshold (e.g. the mass cut's, from
            :func:`best_threshold` on training data) overrides ``threshold`` for accuracy.
        signal_efficiencies: where to quote the rejections (columns ``rej@0.3``, ...).
        threshold: accuracy threshold (0.5 for probabilities; pass 0 for logits).
        n_bootstrap, seed: stratified bootstrap resamples (:func:`bootstrap`).

    Returns:
        DataFrame indexed by model with columns ``accuracy``, ``accuracy ±``, ``auc``,
        ``auc ±``, ``rej@0.3``, ``rej@0.3 ±``, ... and ``n_signal``, ``n_background``.
    """
    if not results:
        raise ValueError("results is empty: give name -> (scores, labels)")
    rows = {}
    for name, entry in results.items():
        if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
            raise ValueError(
                f"results[{name!r}] must be (scores, labels) or (scores, labels, threshold), "
                f"got {type(entry).__name__}"
                + (f" of length {len(entry)}" if isinstance(entry, (tuple, list)) else "")
            )
        scores, labels = entry[0], entry[1]
        cut = float(entry[2]) if len(entry) == 3 else threshold
        try:
            s, y = _check(scores, labels)
        except (ValueError, TypeError) as err:
            raise type(err)(f"results[{name!r}]: {err}") from None
        metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
            "accuracy": lambda s, y, cut=cut: accuracy(s, y, cut),
            "auc": auc,
        }
        for eff in signal_efficiencies:
            metrics[f"rej@{eff:g}"] = lambda s, y, eff=eff: background_rejection(s, y, eff)
        row: dict[str, float] = {}
        for column, fn in metrics.items():
            row[column], row[f"{column} ±"] = bootstrap(fn, s, y, n_bootstrap, seed)
        row["n_signal"], row["n_background"] = int(y.sum()), int(len(y) - y.sum())
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    return table


_REFERENCE_DATA = (
    "Top Quark Tagging Reference Dataset (Kasieczka et al. 2019) — not our generated jets"
)

#: Published results on the Top Quark Tagging Reference Dataset (Kasieczka, Plehn et al.,
#: arXiv 1902.09914; 1.2M/400k/400k train/val/test jets, pT 550-650 GeV, Delphes): context
#: for our numbers, which come from a different (our own generated) data set. PFN and
#: ParticleNet numbers as quoted in the LorentzNet paper (Gong et al., arXiv 2201.08187).
#: NaN: not quoted here.
PUBLISHED_TOP_TAGGING = pd.DataFrame(
    [
        ("MACE (lie-nn)", np.nan, 0.987, np.nan, "Batatia et al. 2023, arXiv 2306.00091"),
        ("LorentzNet", 0.942, 0.9868, 2195.0, "Gong et al. 2022, arXiv 2201.08187"),
        ("ParticleNet", 0.940, 0.9858, 1615.0, "Qu & Gouskos 2020, arXiv 1902.08570"),
        ("PFN", 0.932, 0.9819, 888.0, "Komiske et al. 2019, arXiv 1810.05165"),
    ],
    columns=["model", "accuracy", "auc", "rej@0.3", "reference"],
).set_index("model")
PUBLISHED_TOP_TAGGING["data set"] = _REFERENCE_DATA


# ============================================================================= Spectra
# Metrics for spectra on a fixed grid (phonon DoS, powder patterns) and for the parameters an
# inverse model infers from them (workbench.experiments.scattering).


def _spectra(x: Any, name: str) -> np.ndarray:
    """(n, K) float64 spectra from (K,) or (n, K) input; finite."""
    a = _as_array(x, name).astype(np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{name} must be (K,) or (n, K) spectra, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def spectrum_mse(predicted: Any, target: Any) -> float:
    r"""Mean squared error over all spectra and grid points,
    :math:`\frac{1}{nK}\sum_{i,k} (\hat g_{ik} - g_{ik})^2` (in the spectra's units squared)."""
    p, t = _spectra(predicted, "predicted"), _spectra(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"predicted {p.shape} and target {t.shape} must have the same shape")
    return float(np.mean((p - t) ** 2))


def wasserstein_1d(p: Any, q: Any, grid: Any) -> np.ndarray:
    r"""(n,) 1-Wasserstein (earth mover's) distance between spectra p and q on ``grid``.

    Each spectrum is a set of point masses :math:`p_k / \sum_j p_j` at the grid points
    :math:`x_k` (non-negative, normalised here), and in one dimension the optimal transport
    cost is the area between the cumulative distributions,

    .. math:: W_1(p, q) = \sum_{k=0}^{K-2} |P_k - Q_k|\,(x_{k+1} - x_k),
              \qquad P_k = \sum_{j \le k} p_j,

    which equals ``scipy.stats.wasserstein_distance(grid, grid, p, q)``; in the grid's units
    (THz for a phonon DoS). ``p``, ``q``: (K,) or (n, K); ``grid``: (K,) increasing.
    """
    a, b = _spectra(p, "p"), _spectra(q, "q")
    x = _as_array(grid, "grid").astype(np.float64)
    if a.shape != b.shape or x.shape != (a.shape[1],):
        raise ValueError(
            f"p {a.shape} and q {b.shape} must match and grid {x.shape} be ({a.shape[1]},)"
        )
    if not (np.isfinite(x).all() and (np.diff(x) > 0).all()):
        raise ValueError("grid must be finite and strictly increasing")
    for name, s in (("p", a), ("q", b)):
        if (s < 0).any():
            raise ValueError(f"{name} has negative entries (min {s.min():.3g}): not a spectrum")
        empty = np.flatnonzero(s.sum(1) <= 0)
        if len(empty):
            raise ValueError(f"{name} has zero total weight in rows {empty[:10].tolist()}")
    cdf_a = np.cumsum(a / a.sum(1, keepdims=True), axis=1)
    cdf_b = np.cumsum(b / b.sum(1, keepdims=True), axis=1)
    return np.abs(cdf_a - cdf_b)[:, :-1] @ np.diff(x)


def parameter_mae(predicted: Any, target: Any) -> np.ndarray:
    """(k,) mean absolute error of each of k parameters over n samples ((n, k) inputs)."""
    p, t = _spectra(predicted, "predicted"), _spectra(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"predicted {p.shape} and target {t.shape} must have the same shape")
    return np.mean(np.abs(p - t), axis=0)


__all__ += ["parameter_mae", "spectrum_mse", "wasserstein_1d"]


# =====================================================================================
# Structures (backmapping)
# =====================================================================================
# Metrics of all-atom structures generated from coarse-grained beads, as CGVAE reports them
# (Wang et al. 2022, arXiv 2201.12176). Positions (..., n_atoms, 3) in Å, z (n_atoms,) atomic
# numbers; leading axes are frames (and samples). No alignment anywhere: the beads fix the
# frame of a backmapped structure, so RMSDs compare coordinates as they are (CGVAE's
# "unaligned" convention).
#
# - heavy_atom_rmsd: sqrt of the mean over frames and heavy atoms of |x_pred - x_ref|^2
#   (pooled over frames, as CGVAE's code; per_frame=True gives one RMSD per structure).
# - perceive_bonds / graph_edit_ratio: atoms i, j are bonded when
#   |x_i - x_j| < scale (r_i + r_j), covalent radii r (CSD values: H 0.23, C/N/O 0.68,
#   S 1.02 Å) and scale 1.3 as in CGVAE's evaluation; the graph-edit ratio of a structure is
#   the number of atom pairs whose bonded state differs from the reference graph divided by the
#   number of reference bonds (heavy atoms only by default, CGVAE's lambda (heavy)). CGVAE's code
#   divides the net change in the bond count instead; counting every changed pair never gives
#   less.
# - steric_clashes: pairs of atoms at least ``min_separation`` bonds apart in the topology
#   (so bonded and angle partners never count) closer than scale (R_i + R_j), Bondi van der
#   Waals radii R (H 1.20, C 1.70, N 1.55, O 1.52, S 1.80 Å), scale 0.6 by default: an
#   N-H...O=C hydrogen bond (H...O about 1.9-2.0 Å) is no clash, 1.63 Å is.
# - sample_diversity: mean RMSD over all pairs of samples generated for the same beads.

#: covalent radii (Å) for bond perception (CSD values, as in CGVAE's evaluation code)
COVALENT_RADII = {1: 0.23, 6: 0.68, 7: 0.68, 8: 0.68, 15: 1.05, 16: 1.02}
#: Bondi van der Waals radii (Å) for steric clashes
VDW_RADII = {1: 1.20, 6: 1.70, 7: 1.55, 8: 1.52, 15: 1.80, 16: 1.80}


def _structures(x: Any, name: str, n_atoms: int | None = None) -> np.ndarray:
    """(..., n_atoms, 3) float64 positions, finite."""
    a = _as_array(x, name)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim < 2 or a.shape[-1] != 3 or (n_atoms is not None and a.shape[-2] != n_atoms):
        want = "n_atoms" if n_atoms is None else n_atoms
        raise ValueError(f"{name} has shape {a.shape}, expected (..., {want}, 3) positions")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _atomic_numbers(z: Any, n_atoms: int, table: Mapping[int, float] | None = None) -> np.ndarray:
    zz = _as_array(z, "z")
    if zz.shape != (n_atoms,) or not np.issubdtype(zz.dtype, np.integer):
        raise ValueError(
            f"z must be ({n_atoms},) integer atomic numbers, got {zz.dtype} {zz.shape}"
        )
    if table is not None:
        missing = sorted(set(zz.tolist()) - set(table))
        if missing:
            raise ValueError(f"no radius for atomic numbers {missing}: known {sorted(table)}")
    return zz.astype(np.int64)


def heavy_atom_rmsd(pred: Any, ref: Any, z: Any, per_frame: bool = False) -> float | np.ndarray:
    """Heavy-atom RMSD (Å) without alignment: pooled over all structures, or one per
    structure with ``per_frame`` (shape: the leading axes). ``pred`` and ``ref`` broadcast."""
    p = _structures(pred, "pred")
    r = _structures(ref, "ref", p.shape[-2])
    heavy = _atomic_numbers(z, p.shape[-2]) > 1
    if not heavy.any():
        raise ValueError("z has no heavy atom (all hydrogens)")
    try:
        sq = ((p - r)[..., heavy, :] ** 2).sum(-1)
    except ValueError as err:
        raise ValueError(f"pred {p.shape} and ref {r.shape} do not broadcast: {err}") from None
    return np.sqrt(sq.mean(-1)) if per_frame else float(np.sqrt(sq.mean()))


def perceive_bonds(pos: Any, z: Any, scale: float = 1.3) -> np.ndarray:
    """(..., n, n) bool: |x_i - x_j| < scale (r_i + r_j), covalent radii r; diagonal False."""
    p = _structures(pos, "pos")
    zz = _atomic_numbers(z, p.shape[-2], COVALENT_RADII)
    radius = np.array([COVALENT_RADII[int(k)] for k in zz])
    dist = np.linalg.norm(p[..., :, None, :] - p[..., None, :, :], axis=-1)
    bonded = dist < scale * (radius[:, None] + radius[None, :])
    bonded[..., np.arange(len(zz)), np.arange(len(zz))] = False
    return bonded


def graph_edit_ratio(
    pred: Any,
    ref: Any,
    z: Any,
    scale: float = 1.3,
    heavy_only: bool = True,
    per_frame: bool = False,
) -> float | np.ndarray:
    """Changed bonds / reference bonds, bonds perceived by distance in both structures (see
    the section notes); mean over structures, or per structure with ``per_frame``."""
    p = _structures(pred, "pred")
    r = _structures(ref, "ref", p.shape[-2])
    zz = _atomic_numbers(z, p.shape[-2], COVALENT_RADII)
    keep = zz > 1 if heavy_only else np.ones(len(zz), dtype=bool)
    a = perceive_bonds(p[..., keep, :], zz[keep], scale)
    b = perceive_bonds(r[..., keep, :], zz[keep], scale)
    n_ref = b.sum((-1, -2)) / 2
    if np.any(n_ref == 0):
        raise ValueError("a reference structure has no bond at this scale")
    ratio = (a != b).sum((-1, -2)) / 2 / n_ref
    return ratio if per_frame else float(np.mean(ratio))


def _bond_separation(bonds: np.ndarray, n_atoms: int) -> np.ndarray:
    """(n, n) number of bonds on the shortest path between atoms (inf if not connected)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import shortest_path

    i, j = bonds[:, 0], bonds[:, 1]
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n_atoms, n_atoms))
    return shortest_path(graph, directed=False, unweighted=True)


def steric_clashes(
    pos: Any,
    z: Any,
    bonds: Any,
    scale: float = 0.6,
    min_separation: int = 3,
    per_frame: bool = False,
) -> float | np.ndarray:
    """Mean number (or per structure) of atom pairs at least ``min_separation`` bonds apart
    in the topology ``bonds`` (n_bonds, 2) closer than scale (R_i + R_j), van der Waals R."""
    p = _structures(pos, "pos")
    n = p.shape[-2]
    zz = _atomic_numbers(z, n, VDW_RADII)
    b = _as_array(bonds, "bonds")
    if b.ndim != 2 or b.shape[1] != 2 or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bonds must be (n_bonds, 2) atom indices, got {b.dtype} {b.shape}")
    if b.size and (b.min() < 0 or b.max() >= n):
        raise ValueError(f"bonds index atoms outside 0..{n - 1}")
    far = np.triu(_bond_separation(b.astype(np.int64), n) >= min_separation, k=1)
    radius = np.array([VDW_RADII[int(k)] for k in zz])
    dist = np.linalg.norm(p[..., :, None, :] - p[..., None, :, :], axis=-1)
    count = ((dist < scale * (radius[:, None] + radius[None, :])) & far).sum((-1, -2))
    return count if per_frame else float(np.mean(count))


def sample_diversity(samples: Any, z: Any | None = None) -> float:
    """Mean RMSD (Å, no alignment) over all pairs of ``samples`` (n_samples, ..., n_atoms, 3)
    generated for the same beads (axis 0: samples; other leading axes averaged), heavy atoms
    only when ``z`` is given."""
    s = _structures(samples, "samples")
    if s.ndim < 3 or s.shape[0] < 2:
        raise ValueError(f"samples has shape {s.shape}, expected (n_samples >= 2, ..., n_atoms, 3)")
    if z is not None:
        heavy = _atomic_numbers(z, s.shape[-2]) > 1
        s = s[..., heavy, :]
    i, j = np.triu_indices(s.shape[0], k=1)
    rmsd = np.sqrt(((s[i] - s[j]) ** 2).sum(-1).mean(-1))
    return float(rmsd.mean())


__all__ += [
    "COVALENT_RADII",
    "VDW_RADII",
    "graph_edit_ratio",
    "heavy_atom_rmsd",
    "perceive_bonds",
    "sample_diversity",
    "steric_clashes",
]
