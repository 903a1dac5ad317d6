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
