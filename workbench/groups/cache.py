"""Disk cache for tensors that are expensive to build (Clebsch-Gordan, symmetric powers).

Entries live in the user cache dir (``platformdirs``; override with ``WORKBENCH_CACHE_DIR``),
one file per content hash of (kind, key, code version). Writes are atomic (temporary file +
``os.replace``); loads use ``torch.load(weights_only=True)``; an entry that cannot be read or
is not a tensor is logged, recomputed and overwritten, never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import platformdirs
import torch

__all__ = ["CODE_VERSION", "cache_dir", "cached_tensor"]

log = logging.getLogger(__name__)

#: bump when a convention (basis, phase, normalisation) of a cached tensor changes
CODE_VERSION = "groups-1"


def cache_dir() -> Path:
    """The cache directory: ``$WORKBENCH_CACHE_DIR`` or the platform's user cache dir."""
    override = os.environ.get("WORKBENCH_CACHE_DIR")
    return (
        Path(override) if override else Path(platformdirs.user_cache_dir("equivariant-workbench"))
    )


def cached_tensor(kind: str, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``compute()``, stored on disk under (kind, key) and read back on later calls."""
    digest = hashlib.sha256(f"{CODE_VERSION}\n{kind}\n{key}".encode()).hexdigest()[:32]
    path = cache_dir() / kind / f"{digest}.pt"
    if path.exists():
        try:
            value = torch.load(path, weights_only=True)
            if isinstance(value, torch.Tensor):
                return value
            log.warning("cache entry %s is not a tensor; recomputing", path)
        except Exception as err:  # a corrupt or truncated file: recompute, never trust
            log.warning("cache entry %s is unreadable (%s); recomputing", path, err)
    value = compute()
    _atomic_save(value, path)
    return value


def _atomic_save(value: torch.Tensor, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(value.contiguous(), f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:  # a read-only cache dir must not break the computation
        log.warning("could not write cache entry %s: %s", path, err)
