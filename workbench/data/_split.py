"""Index helpers shared by the data sets: stratified random splits and subset indices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["stratified_split", "subset_index"]


def stratified_split(
    labels: np.ndarray, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0
) -> list[np.ndarray]:
    """Disjoint index sets with the given fractions, stratified by class: each class is
    shuffled and cut at round(n_c Σ_{j≤k} f_j). Indices in each part are sorted."""
    f = np.asarray(fractions, dtype=float)
    if f.ndim != 1 or len(f) == 0 or not np.isfinite(f).all() or (f < 0).any():
        raise ValueError(f"fractions must be non-negative finite numbers, got {fractions!r}")
    if abs(f.sum() - 1) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {f.sum()})")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    parts: list[list[np.ndarray]] = [[] for _ in f]
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        cuts = np.round(np.cumsum(f)[:-1] * len(members)).astype(int)
        for k, piece in enumerate(np.split(members, cuts)):
            parts[k].append(piece)
    return [np.sort(np.concatenate([[], *p]).astype(int)) for p in parts]


def subset_index(index) -> slice | torch.Tensor:
    """``index`` (a slice, 1-D integer indices or a bool mask) as something to index tensors."""
    if isinstance(index, slice):
        return index
    index = torch.as_tensor(np.asarray(index))
    if index.ndim != 1:
        raise ValueError(f"index must be 1-D, got shape {tuple(index.shape)}")
    return index if index.dtype == torch.bool else index.long()
