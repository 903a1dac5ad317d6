"""Generated data sets on disk: one directory per settings, filled shard by shard, resumable.

A generator (Pythia events, PySCF labels, MD frames) is split into independent shards. Each
shard is a pure function of its index and the settings (seeded by both), writes one ``.npz``
file atomically (temporary file + ``os.replace``), and is skipped when its file already
exists, so an interrupted run resumes without recomputing or losing finished shards::

    directory = dataset_dir("jets", settings)          # <cache>/jets/<hash of settings>/
    paths = run_shards(make_shard, range(40), directory, processes=2, desc="jets")
    arrays = load_shards(paths)                        # concatenated along axis 0

``make_shard(index) -> dict[str, np.ndarray]`` must be a picklable top-level function (or a
``functools.partial`` of one): shards run in worker processes started with ``spawn``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..groups.cache import cache_dir

__all__ = ["dataset_dir", "load_shards", "run_shards", "save_npz_atomic"]

log = logging.getLogger(__name__)

Shard = Mapping[str, np.ndarray]


def dataset_dir(kind: str, settings: Mapping[str, Any], root: str | Path | None = None) -> Path:
    """``<root or cache dir>/<kind>/<hash>``: the directory of the data set with these settings.

    The settings (JSON-serialisable) are written next to the shards as ``settings.json``, so
    a directory always says how its data were made; any change of a setting is a new
    directory.
    """
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{kind}\n{text}".encode()).hexdigest()[:16]
    directory = Path(root if root is not None else cache_dir()) / kind / digest
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "settings.json"
    if not manifest.exists():
        _write_atomic(manifest, lambda f: f.write(text.encode()))
    return directory


def save_npz_atomic(path: str | Path, arrays: Shard) -> None:
    """``np.savez`` to a temporary file in the same directory, then rename: a reader never
    sees a half-written file."""
    _write_atomic(
        Path(path), lambda f: np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
    )


def _write_atomic(path: Path, write: Callable[[Any], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _shard_path(directory: Path, index: int) -> Path:
    return directory / f"shard-{index:05d}.npz"


def _run_one(job: tuple[Callable[[int], Shard], int, Path]) -> int:
    make_shard, index, path = job
    arrays = make_shard(index)
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"shard {index}: the generator returned {type(arrays).__name__}, not a dict"
        )
    save_npz_atomic(path, arrays)
    return index


def run_shards(
    make_shard: Callable[[int], Shard],
    indices: Iterable[int],
    directory: str | Path,
    processes: int = 1,
    progress: bool = True,
    desc: str = "shards",
) -> list[Path]:
    """Compute the missing shards of ``directory`` and return every shard's path, in order.

    Shards whose file exists are not recomputed. With ``processes > 1`` the missing shards
    run in a ``spawn`` process pool; a shard that raises stops the run with its error (the
    shards finished before it stay on disk).
    """
    directory = Path(directory)
    indices = list(indices)
    if len(set(indices)) != len(indices):
        raise ValueError(f"shard indices must be distinct, got {indices}")
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    paths = [_shard_path(directory, i) for i in indices]
    jobs = [(make_shard, i, p) for i, p in zip(indices, paths, strict=True) if not p.exists()]
    if len(jobs) < len(indices):
        log.info(
            "%s: %d of %d shards already on disk", desc, len(indices) - len(jobs), len(indices)
        )
    bar = tqdm(
        total=len(indices), initial=len(indices) - len(jobs), desc=desc, disable=not progress
    )
    try:
        if processes == 1 or len(jobs) <= 1:
            for job in jobs:
                _run_one(job)
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(min(processes, len(jobs))) as pool:
                for _ in pool.imap_unordered(_run_one, jobs):
                    bar.update()
    finally:
        bar.close()
    return paths


def load_shards(paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """The arrays of all shards, concatenated along the first axis (same keys in every shard)."""
    if not paths:
        raise ValueError("no shards to load")
    parts: dict[str, list[np.ndarray]] = {}
    keys: set[str] | None = None
    for path in paths:
        try:
            with np.load(path, allow_pickle=False) as data:
                if keys is None:
                    keys = set(data.files)
                elif set(data.files) != keys:
                    raise ValueError(
                        f"shard {path} has arrays {sorted(data.files)}, expected {sorted(keys)}"
                    )
                for key in data.files:
                    parts.setdefault(key, []).append(data[key])
        except (OSError, EOFError, ValueError) as err:
            if isinstance(err, ValueError) and str(err).startswith("shard "):
                raise
            raise ValueError(
                f"shard {path} is unreadable ({err}); delete it and run again to regenerate it"
            ) from err
    return {key: np.concatenate(value, axis=0) for key, value in parts.items()}
