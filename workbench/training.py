r"""One training loop for every model of the workbench: seeded, resumable, DDP-aware.

A model is trained by a ``step(model, batch) -> dict`` that returns a differentiable scalar
``"loss"`` and any other scalar metrics; :class:`Trainer` does the rest (optimizer, schedule,
gradient clipping, early stopping, checkpoints, progress bars, metrics per epoch)::

    def step(model, batch):
        x, y = batch
        logits = model(x)
        return {"loss": F.cross_entropy(logits, y),
                "accuracy": (logits.argmax(-1) == y).float().mean()}

    trainer = Trainer(model, step, TrainConfig(epochs=50, patience=5), checkpoint_dir="runs/a")
    history = trainer.fit(train_set, val_set)  # DataFrame: epoch, train_loss, val_loss, ...
    history = trainer.fit(train_set, val_set, resume=True)  # after a crash: same numbers

Each metric of an epoch is its mean over samples, :math:`\bar m = \sum_b n_b m_b / \sum_b n_b`
over the batches b of n_b samples (over every rank under DDP).

Reproducibility. The samples of epoch e are shuffled by a ``DistributedSampler`` (also in a
single process) whose ``torch.Generator`` is seeded with ``h(seed) + e``, h a 32-bit hash, so
a resumed run draws the same batches and runs with different seeds do not share orders. A
fresh :meth:`Trainer.fit` seeds python's ``random``, numpy and torch with ``seed + rank``; the
checkpoint written after every epoch holds those RNG states, the model, optimizer, scheduler,
history and early-stopping state, so a run resumed from it gives exactly the metrics and
weights of an uninterrupted one. Checkpoints are written atomically (a temporary file in the
same directory, then ``os.replace``) and hold only tensors and plain Python containers, so
they load with ``torch.load(path, weights_only=True)``.

Distributed data parallel. When ``torch.distributed`` is initialised (e.g. under ``torchrun``,
gloo on CPU), :meth:`Trainer.fit` wraps the model in ``DistributedDataParallel`` and splits
each epoch's shuffled samples over the ranks; metrics are combined over all ranks, and only
rank 0 writes checkpoints, logs and shows progress. Every rank must call ``fit`` and
``evaluate`` (they are collective). ``DistributedSampler`` pads the training samples to a
multiple of the world size, so a few samples count twice in the ``train_`` metrics.
"""

from __future__ import annotations

import logging
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from workbench._types import is_int, is_real

__all__ = ["Step", "TrainConfig", "Trainer", "seed_everything"]

logger = logging.getLogger(__name__)

Step = Callable[[torch.nn.Module, Any], Mapping[str, Any]]
"""``step(model, batch)`` -> ``{"loss": scalar tensor, <metric>: scalar, ["n": batch size]}``."""

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = (None, "cosine", "plateau")
CHECKPOINT_NAME = "checkpoint.pt"
# settings that may differ when a run is resumed: they do not change the epochs already done
_RESUMABLE_CHANGES = frozenset({"epochs", "patience", "progress", "restore_best"})


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, with defaults for a quick run.

    - ``optimizer``: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9), with ``lr`` and
      ``weight_decay``; ``grad_clip`` clips the global gradient norm.
    - ``scheduler``: ``None`` (constant lr), ``"cosine"`` (cosine annealing to 0 over
      ``epochs``) or ``"plateau"`` (halve lr after 2 epochs without improvement of
      ``monitor``); stepped once per epoch.
    - ``monitor`` / ``mode``: the history column to minimise or maximise (``"val_loss"``,
      ``"val_accuracy"`` with ``mode="max"``, ...). Without a validation set a ``val_`` monitor
      falls back to the ``train_`` metric of the same name.
    - ``patience``: stop after that many epochs without improvement (``None``: never);
      ``restore_best``: load the best weights (by ``monitor``) when training ends.
    - ``seed``: seeds shuffling and the global RNGs (see the module docstring).
    - ``progress``: tqdm bars (rank 0 only); ``eval_batch_size`` defaults to ``batch_size``.
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    scheduler: str | None = None
    grad_clip: float | None = None
    patience: int | None = None
    monitor: str = "val_loss"
    mode: str = "min"
    restore_best: bool = True
    seed: int = 0
    progress: bool = True
    eval_batch_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            _require(is_int(getattr(self, name), 1), name, getattr(self, name), "an int >= 1")
        for name in ("patience", "eval_batch_size"):
            value = getattr(self, name)
            _require(value is None or is_int(value, 1), name, value, "None or an int >= 1")
        _require(is_real(self.lr) and self.lr > 0, "lr", self.lr, "a number > 0")
        _require(
            is_real(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            self.weight_decay,
            "a number >= 0",
        )
        _require(
            self.grad_clip is None or (is_real(self.grad_clip) and self.grad_clip > 0),
            "grad_clip",
            self.grad_clip,
            "None or a number > 0",
        )
        _require(self.optimizer in OPTIMIZERS, "optimizer", self.optimizer, f"one of {OPTIMIZERS}")
        _require(self.scheduler in SCHEDULERS, "scheduler", self.scheduler, f"one of {SCHEDULERS}")
        _require(self.mode in ("min", "max"), "mode", self.mode, "'min' or 'max'")
        _require(
            isinstance(self.monitor, str) and self.monitor != "",
            "monitor",
            self.monitor,
            "a history column such as 'val_loss'",
        )
        _require(
            is_int(self.seed, 0) and self.seed < 2**31, "seed", self.seed, "an int in [0, 2**31)"
        )


class Trainer:
    """Trains ``model`` with ``step`` on map-style datasets whose items are tuples of tensors.

    ``step(model, batch)`` gets the collated batch (by default a tuple of stacked tensors,
    moved to ``device``) and returns a dict with a differentiable scalar ``"loss"``, other
    scalar metrics (tensors or numbers), and optionally ``"n"``, the number of samples in the
    batch (default: ``batch[0].shape[0]``). It is called in train mode for training and in
    eval mode under ``torch.no_grad()`` for evaluation (check ``model.training`` to augment
    only while training). Under DDP it receives the ``DistributedDataParallel`` wrapper while
    training: call the model, not its submodules.

    After :meth:`fit`: ``history`` (one row per epoch), ``best_epoch`` and ``best_value`` (by
    ``config.monitor``, ``None`` before any epoch), ``stopped_early``. Checkpoints go to
    ``checkpoint_dir / "checkpoint.pt"`` after every epoch when ``checkpoint_dir`` is given.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        step: Step,
        config: TrainConfig | None = None,
        checkpoint_dir: str | Path | None = None,
        collate_fn: Callable[[list], Any] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(step):
            raise TypeError(f"step must be callable as step(model, batch), got {step!r}")
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("model has no trainable parameters")
        if device is None:
            device = next(model.parameters()).device
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.step = step
        self.config = config
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.collate_fn = collate_fn
        self.history = pd.DataFrame()
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self.stopped_early = False
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self._rows: list[dict[str, float]] = []
        self._best_state: dict[str, torch.Tensor] | None = None
        self._bad_epochs = 0
        self._monitor = config.monitor
        self._rank, self._world = 0, 1

    @property
    def checkpoint_path(self) -> Path | None:
        """``checkpoint_dir / "checkpoint.pt"``, or ``None`` without a checkpoint_dir."""
        return None if self.checkpoint_dir is None else self.checkpoint_dir / CHECKPOINT_NAME

    def fit(self, train: Dataset, val: Dataset | None = None, resume: bool = False) -> pd.DataFrame:
        """Train for ``config.epochs`` epochs (or until early stopping); returns ``history``.

        ``history`` has one row per epoch: ``epoch`` (from 1), ``train_<metric>`` and
        ``val_<metric>`` for every metric ``step`` returns, ``lr`` (during the epoch) and
        ``seconds``. With ``resume=True`` training continues from the checkpoint in
        ``checkpoint_dir`` if there is one (else starts afresh); the config may differ from
        the checkpoint's only in ``epochs``, ``patience``, ``progress`` and ``restore_best``.
        """
        cfg = self.config
        _check_dataset("train", train)
        if val is not None:
            _check_dataset("val", val)
        if resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir to resume from")
        self._rank, self._world = _rank_and_world()
        self._monitor = cfg.monitor
        if val is None and cfg.monitor.startswith("val_"):
            self._monitor = "train_" + cfg.monitor.removeprefix("val_")
        self.optimizer = _make_optimizer(self.model, cfg)
        self.scheduler = _make_scheduler(self.optimizer, cfg)
        self._rows, self._best_state, self._bad_epochs = [], None, 0
        self.best_epoch, self.best_value, self.stopped_early = None, None, False
        start = 0
        if resume and self.checkpoint_path.exists():
            start = self._load_checkpoint()
            logger.info("resuming from %s after epoch %d", self.checkpoint_path, start)
        else:
            seed_everything(cfg.seed + self._rank)

        ddp = None
        if self._world > 1:
            ids = [self.device] if self.device.type == "cuda" else None
            ddp = DistributedDataParallel(self.model, device_ids=ids)
        sampler = DistributedSampler(
            train, num_replicas=self._world, rank=self._rank, shuffle=True, seed=_hash(cfg.seed)
        )
        loader = DataLoader(
            train, batch_size=cfg.batch_size, sampler=sampler, collate_fn=self.collate_fn
        )
        show = cfg.progress and self._rank == 0
        bar = tqdm(
            range(start + 1, cfg.epochs + 1) if not self.stopped_early else range(0),
            initial=start,
            total=cfg.epochs,
            desc="training",
            unit="epoch",
            disable=not show,
        )
        for epoch in bar:
            started = time.perf_counter()
            sampler.set_epoch(epoch)
            lr = self.optimizer.param_groups[0]["lr"]
            batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not show)
            row: dict[str, float] = {"epoch": epoch}
            row |= _prefixed("train", self._train_epoch(ddp or self.model, batches, epoch))
            if val is not None:
                row |= _prefixed("val", self.evaluate(val))
            row |= {"lr": lr, "seconds": time.perf_counter() - started}
            self._end_epoch(row)
            bar.set_postfix(
                {k: f"{row[k]:.4g}" for k in dict.fromkeys(["train_loss", self._monitor])}
            )
            if self.stopped_early:
                break
        bar.close()

        if cfg.restore_best and self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        self.history = pd.DataFrame(self._rows)
        return self.history

    def evaluate(self, data: Dataset) -> dict[str, float]:
        """Means over ``data`` of the metrics ``step`` returns, in eval mode without gradients.

        Under DDP each rank evaluates every world_size-th sample and the means are combined, so
        every rank must call it and gets the same numbers.
        """
        _check_dataset("data", data)
        rank, world = _rank_and_world()
        loader = DataLoader(
            data,
            batch_size=self.config.eval_batch_size or self.config.batch_size,
            sampler=range(rank, len(data), world),
            collate_fn=self.collate_fn,
        )
        was_training = self.model.training
        self.model.eval()
        mean = _Mean()
        try:
            with torch.no_grad():
                for batch in loader:
                    batch = _to_device(batch, self.device)
                    _, metrics, n = _parse_output(self.step(self.model, batch), batch)
                    mean.add(metrics, n)
        finally:
            self.model.train(was_training)
        return mean.result(world)

    def predict(
        self, data: Dataset, fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``fn(model, batch)`` (default ``model(batch[0])``) over ``data`` in order, concatenated
        along dim 0; eval mode, no gradients, every sample on every rank."""
        _check_dataset("data", data)
        fn = fn or _default_predict
        loader = DataLoader(
            data,
            batch_size=self.config.eval_batch_size or self.config.batch_size,
            collate_fn=self.collate_fn,
        )
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                outputs = [fn(self.model, _to_device(batch, self.device)) for batch in loader]
        finally:
            self.model.train(was_training)
        return torch.cat(outputs)

    # -- one epoch ---------------------------------------------------------------------------

    def _train_epoch(self, model: torch.nn.Module, batches: Any, epoch: int) -> dict[str, float]:
        model.train()
        mean = _Mean()
        for index, batch in enumerate(batches, start=1):
            batch = _to_device(batch, self.device)
            loss, metrics, n = _parse_output(self.step(model, batch), batch)
            if not loss.requires_grad:
                raise ValueError(
                    "the 'loss' returned by step does not require grad; compute it from the "
                    "output of model(...) without .item(), .detach() or torch.no_grad()"
                )
            self._check_finite(metrics["loss"], epoch, index)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            mean.add(metrics, n)
        return mean.result(self._world)

    def _check_finite(self, loss: float, epoch: int, index: int) -> None:
        """Raise on a NaN/inf loss; under DDP on every rank at once, so that none hangs."""
        bad = not math.isfinite(loss)
        if self._world > 1:
            flag = torch.tensor([float(bad)], device=self.device)
            dist.all_reduce(flag)
            if flag.item() > 0 and not bad:
                raise FloatingPointError(
                    f"loss became NaN or inf on another rank at epoch {epoch}, batch {index}; "
                    "lower the learning rate or check the data"
                )
        if bad:
            value = "NaN" if math.isnan(loss) else str(loss)
            raise FloatingPointError(
                f"loss became {value} at epoch {epoch}, batch {index}; "
                "lower the learning rate or check the data"
            )

    def _end_epoch(self, row: dict[str, float]) -> None:
        """Schedule, early-stopping bookkeeping, history, checkpoint and log line of an epoch."""
        cfg, epoch = self.config, int(row["epoch"])
        if self._monitor not in row:
            raise ValueError(
                f"monitor {cfg.monitor!r} is not a history column; set TrainConfig.monitor to "
                f"one of {[k for k in row if k not in ('epoch', 'seconds')]}"
            )
        value = row[self._monitor]
        if cfg.scheduler == "cosine":
            self.scheduler.step()
        elif cfg.scheduler == "plateau":
            self.scheduler.step(value)
        best = self.best_value
        if math.isfinite(value) and (
            best is None or (value < best if cfg.mode == "min" else value > best)
        ):
            self.best_epoch, self.best_value, self._bad_epochs = epoch, value, 0
            if cfg.restore_best:
                self._best_state = {
                    k: v.detach().clone() for k, v in self.model.state_dict().items()
                }
        else:
            self._bad_epochs += 1
        self.stopped_early = cfg.patience is not None and self._bad_epochs >= cfg.patience
        self._rows.append(row)
        self._save_checkpoint(epoch)
        if self._rank == 0:
            metrics = " ".join(
                f"{k}={v:.4g}" for k, v in row.items() if k not in ("epoch", "seconds")
            )
            logger.info("epoch %d/%d: %s (%.1f s)", epoch, cfg.epochs, metrics, row["seconds"])
            if self.stopped_early:
                logger.info(
                    "early stopping: %s has not improved for %d epochs (best %.4g at epoch %s)",
                    self._monitor,
                    self._bad_epochs,
                    self.best_value if self.best_value is not None else math.nan,
                    self.best_epoch,
                )

    # -- checkpoints ------------------------------------------------------------------------

    def _save_checkpoint(self, epoch: int) -> None:
        if self.checkpoint_path is None:
            return
        mine = _rng_state()
        rng = [mine]
        if self._world > 1:  # every rank's RNG state, for an exact resume on the same world size
            rng = [None] * self._world
            dist.all_gather_object(rng, mine)
        if self._rank == 0:
            columns = list(self._rows[0])
            state = {
                "format": 1,
                "epoch": epoch,
                "config": asdict(self.config),
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "history": {c: [row[c] for row in self._rows] for c in columns},
                "best": {
                    "epoch": self.best_epoch,
                    "value": self.best_value,
                    "bad_epochs": self._bad_epochs,
                    "stopped_early": self.stopped_early,
                    "state": self._best_state,
                },
                "rng": rng,
            }
            _atomic_save(state, self.checkpoint_path)
        if self._world > 1:
            dist.barrier()

    def _load_checkpoint(self) -> int:
        """Restore everything from the checkpoint; returns the number of epochs it completed."""
        path, cfg = self.checkpoint_path, self.config
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state["config"]
        changed = [
            f"{k}={saved.get(k)!r} (now {v!r})"
            for k, v in asdict(cfg).items()
            if k not in _RESUMABLE_CHANGES and saved.get(k) != v
        ]
        if cfg.scheduler == "cosine" and saved.get("epochs") != cfg.epochs:
            changed.append(f"epochs={saved.get('epochs')!r} (now {cfg.epochs!r}, with cosine)")
        if changed:
            raise ValueError(
                f"cannot resume from {path}: it was trained with {', '.join(changed)}; use the "
                "same TrainConfig or another checkpoint_dir"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        self._rows = [
            dict(zip(history, row, strict=True)) for row in zip(*history.values(), strict=True)
        ]
        best = state["best"]
        self.best_epoch, self.best_value = best["epoch"], best["value"]
        self._bad_epochs, self.stopped_early = best["bad_epochs"], best["stopped_early"]
        self._best_state = best["state"]
        if len(state["rng"]) == self._world:
            _set_rng_state(state["rng"][self._rank])
        else:
            logger.warning(
                "the checkpoint was written by %d processes, not %d: the RNGs are reseeded and "
                "the run will not repeat an uninterrupted one bit for bit",
                len(state["rng"]),
                self._world,
            )
            seed_everything(cfg.seed + self._rank + state["epoch"])
        return int(state["epoch"])


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global RNG and torch (CPU and CUDA) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global RNG that user code draws from)
    torch.manual_seed(seed)


# -- helpers -----------------------------------------------------------------------------------


class _Mean:
    """Sample-weighted means of the scalars of every batch (and rank)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, metrics: dict[str, float], n: int) -> None:
        if self.sums and metrics.keys() != self.sums.keys():
            raise ValueError(
                f"step returned the metrics {list(metrics)} after {list(self.sums)}; return "
                "the same keys for every batch"
            )
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * n
        self.n += n

    def result(self, world: int) -> dict[str, float]:
        parts = [(self.sums, self.n)]
        if world > 1:
            parts = [None] * world
            dist.all_gather_object(parts, (self.sums, self.n))
        n = sum(count for _, count in parts)
        keys = next((list(sums) for sums, _ in parts if sums), [])
        return {k: sum(sums.get(k, 0.0) for sums, _ in parts) / n if n else math.nan for k in keys}


def _parse_output(out: Any, batch: Any) -> tuple[torch.Tensor, dict[str, float], int]:
    """(loss tensor, metrics as floats with "loss" first, batch size) of what step returned."""
    if not isinstance(out, Mapping):
        raise TypeError(
            f"step must return a dict with a scalar 'loss' and other scalar metrics, got "
            f"{type(out).__name__}"
        )
    if "loss" not in out:
        raise ValueError(f"step must return a dict with a scalar 'loss', got the keys {list(out)}")
    loss = out["loss"]
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"'loss' must be a scalar tensor, got {shape}")
    metrics = {"loss": loss.item()}
    for key, value in out.items():
        if key in ("loss", "n"):
            continue
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            metrics[key] = value.item()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[key] = float(value)
        else:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"metric {key!r} returned by step must be a scalar, got {shape}")
    n = out.get("n")
    if n is None:
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(first, torch.Tensor) or first.ndim == 0:
            raise ValueError(
                "cannot infer the batch size from batch[0]; return it as 'n' in step's dict"
            )
        n = first.shape[0]
    return loss, metrics, int(n)


def _make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> Any:
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=cfg.mode, factor=0.5, patience=2
        )
    return None


def _rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain containers (``weights_only``-loadable)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state(  # noqa: NPY002
        ("MT19937", keys, numpy["pos"], numpy["has_gauss"], numpy["gauss"])
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, then ``os.replace``: a crash at any
    point leaves either the old or the new checkpoint, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _hash(seed: int) -> int:
    """A 32-bit hash of ``seed``: shuffling seeds ``_hash(seed) + epoch`` do not collide."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _check_dataset(name: str, data: Any) -> None:
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(
            f"{name} must be a map-style torch Dataset (with __len__ and __getitem__), got "
            f"{type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError(f"{name} dataset is empty")


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def _to_device(batch: Any, device: torch.device) -> Any:
    """Tensors (and objects with a ``.to``) in nested tuples, lists and dicts moved to device."""
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(b, device) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch.to(device) if hasattr(batch, "to") else batch


def _default_predict(model: torch.nn.Module, batch: Any) -> torch.Tensor:
    return model(batch[0] if isinstance(batch, (tuple, list)) else batch)


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ValueError(f"TrainConfig.{name} must be {expected}, got {value!r}")
