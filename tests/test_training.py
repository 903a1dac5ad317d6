"""The Trainer: history, exact resume, atomic checkpoints, early stopping, errors, DDP."""

from __future__ import annotations

import logging
import os
import random

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from workbench.training import TrainConfig, Trainer, seed_everything


def _data(n: int = 40, seed: int = 1) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(n, generator=g)
    return TensorDataset(x, y)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 1))


def _mse_step(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    x, y = batch
    pred = model(x).squeeze(-1)
    return {"loss": ((pred - y) ** 2).mean(), "mae": (pred - y).abs().mean()}


def _noisy_step(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Augments with all three global RNGs, so an exact resume needs all their states."""
    x, y = batch
    if model.training:
        x = x + 0.01 * torch.randn_like(x)
        x = x * (1 + 0.01 * float(np.random.randn())) + 0.01 * random.random()  # noqa: NPY002
    return _mse_step(model, (x, y))


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(**{"epochs": 4, "batch_size": 8, "lr": 1e-2, "progress": False} | kwargs)


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_fit_records_one_row_per_epoch_and_learns(caplog, capsys):
    trainer = Trainer(_model(), _mse_step, _config(epochs=5, progress=True))
    with caplog.at_level(logging.INFO, logger="workbench.training"):
        history = trainer.fit(_data(), _data(16, seed=2))
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "train_mae",
        "val_loss",
        "val_mae",
        "lr",
        "seconds",
    ]
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert history is trainer.history
    assert trainer.best_epoch == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert len([r for r in caplog.records if r.message.startswith("epoch ")]) == 5
    assert capsys.readouterr().out == ""  # progress goes to stderr through tqdm, never print


def test_metrics_are_sample_weighted_means():
    """40 samples in batches of 16, 16, 8: evaluate gives the mean over samples, not batches."""
    data = _data()
    trainer = Trainer(_model(), _mse_step, _config(batch_size=16))
    trainer.model.eval()
    with torch.no_grad():
        x, y = data.tensors
        expected = ((trainer.model(x).squeeze(-1) - y) ** 2).mean().item()
    assert trainer.evaluate(data)["loss"] == pytest.approx(expected, rel=1e-6)
    assert trainer.predict(data).shape == (40, 1)
    assert trainer.model.training is False  # evaluate restores the mode it found


def test_shuffling_is_seeded_by_seed_and_epoch():
    def order(seed: int) -> list[list[int]]:
        seen = []

        def step(model, batch):
            seen.extend(batch[0].tolist())
            return {"loss": model(batch[1]).sum()}

        data = TensorDataset(torch.arange(12), torch.zeros(12, 3))
        Trainer(nn.Linear(3, 1), step, _config(epochs=2, batch_size=5, seed=seed)).fit(data)
        return [seen[:12], seen[12:]]

    first, second = order(seed=0)
    assert sorted(first) == sorted(second) == list(range(12)) and first != second
    assert order(seed=0) == [first, second]
    assert order(seed=1) != [first, second]


def _crash_after(epochs: int, batches_per_epoch: int):
    """A step that raises in the middle of epoch ``epochs + 1``, like a killed job."""
    calls = {"train": 0}

    def step(model, batch):
        if model.training:
            calls["train"] += 1
            if calls["train"] == epochs * batches_per_epoch + 2:
                raise KeyboardInterrupt
        return _noisy_step(model, batch)

    return step


@pytest.mark.parametrize(
    "how", ["crash mid-epoch (cosine schedule)", "stop, then resume with more epochs"]
)
def test_resume_repeats_the_uninterrupted_run_exactly(tmp_path, how):
    kwargs = {"epochs": 6, "optimizer": "adamw", "weight_decay": 1e-3, "grad_clip": 1.0}
    if how.startswith("crash"):
        kwargs["scheduler"] = "cosine"
    train, val = _data(), _data(16, seed=2)

    torch.manual_seed(0)
    full = Trainer(_model(), _noisy_step, _config(**kwargs), checkpoint_dir=tmp_path / "full")
    expected = full.fit(train, val)

    torch.manual_seed(0)
    if how.startswith("crash"):  # 40 samples / 8 = 5 batches per epoch; dies in epoch 4
        first = Trainer(_model(), _crash_after(3, 5), _config(**kwargs), tmp_path / "cut")
        with pytest.raises(KeyboardInterrupt):
            first.fit(train, val)
    else:
        first = Trainer(_model(), _noisy_step, _config(**kwargs | {"epochs": 3}), tmp_path / "cut")
        first.fit(train, val)
    torch.manual_seed(123)  # a different initialisation and global RNG: the checkpoint rules
    resumed = Trainer(_model(), _noisy_step, _config(**kwargs), checkpoint_dir=tmp_path / "cut")
    got = resumed.fit(train, val, resume=True)

    pd.testing.assert_frame_equal(
        got.drop(columns="seconds"), expected.drop(columns="seconds"), check_exact=True
    )
    assert resumed.best_epoch == full.best_epoch
    for a, b in zip(_params(resumed.model), _params(full.model), strict=True):
        assert torch.equal(a, b)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    a = Trainer(_model(), _mse_step, _config(epochs=2), checkpoint_dir=tmp_path / "a")
    b = Trainer(_model(), _mse_step, _config(epochs=2), checkpoint_dir=tmp_path / "b")
    b.model.load_state_dict(a.model.state_dict())
    pd.testing.assert_frame_equal(
        a.fit(_data()).drop(columns="seconds"),
        b.fit(_data(), resume=True).drop(columns="seconds"),
    )


def test_checkpoint_loads_with_weights_only(tmp_path):
    config = _config(epochs=2, scheduler="plateau", patience=3)
    trainer = Trainer(_model(), _noisy_step, config, checkpoint_dir=tmp_path)
    trainer.fit(_data(), _data(16, seed=2))
    state = torch.load(trainer.checkpoint_path, weights_only=True)
    assert state["epoch"] == 2
    assert state["config"]["scheduler"] == "plateau"
    assert state["history"]["epoch"] == [1, 2]
    assert set(state["history"]) == set(trainer.history.columns)
    assert set(state["rng"][0]) >= {"torch", "numpy", "python"}
    assert state["best"]["epoch"] == trainer.best_epoch
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt"]


def test_crash_between_write_and_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(_model(), _mse_step, _config(epochs=2), checkpoint_dir=tmp_path)
    trainer.fit(_data())
    before = torch.load(trainer.checkpoint_path, weights_only=True)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    trainer = Trainer(_model(), _mse_step, _config(epochs=3), checkpoint_dir=tmp_path)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(_data(), resume=True)
    monkeypatch.undo()

    after = torch.load(trainer.checkpoint_path, weights_only=True)
    assert after["epoch"] == 2
    for key, value in before["model"].items():
        assert torch.equal(after["model"][key], value)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt"]  # the temporary file is gone


def _walk_step(model: nn.Module, batch) -> dict[str, torch.Tensor]:
    """Training walks the weight w up by lr per epoch (loss -w); validation scores (w - 1)^2."""
    w = model.weight.sum()
    if model.training:
        return {"loss": -w, "n": 1}
    return {"loss": (w - 1) ** 2, "score": -((w - 1) ** 2), "n": 1}


@pytest.mark.parametrize(("monitor", "mode"), [("val_loss", "min"), ("val_score", "max")])
def test_early_stopping_restores_the_best_weights(tmp_path, monitor, mode):
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    one = TensorDataset(torch.zeros(1, 1))
    config = _config(
        epochs=20, batch_size=1, lr=0.3, optimizer="sgd", patience=2, monitor=monitor, mode=mode
    )
    trainer = Trainer(model, _walk_step, config, checkpoint_dir=tmp_path)
    # SGD with momentum 0.9 from w = 0: w = 0.3, 0.87, 1.683, ... -> best epoch 2, stop at 4
    history = trainer.fit(one, one)
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert trainer.stopped_early and trainer.best_epoch == 2
    assert model.weight.item() == pytest.approx(0.87)

    again = Trainer(model, _walk_step, config, checkpoint_dir=tmp_path)
    assert len(again.fit(one, one, resume=True)) == 4  # a stopped run stays stopped


def test_without_validation_the_monitor_falls_back_to_train():
    trainer = Trainer(_model(), _mse_step, _config(epochs=3))
    history = trainer.fit(_data())
    assert "val_loss" not in history
    assert trainer.best_epoch == int(history.loc[history["train_loss"].idxmin(), "epoch"])


def test_nan_loss_names_epoch_and_batch():
    calls = {"n": 0}

    def step(model, batch):
        out = _mse_step(model, batch)
        calls["n"] += model.training
        if calls["n"] == 2 * 5 + 4:  # epoch 3, batch 4 (5 batches per epoch)
            out["loss"] = out["loss"] * float("nan")
        return out

    trainer = Trainer(_model(), step, _config())
    with pytest.raises(FloatingPointError, match="loss became NaN at epoch 3, batch 4; lower"):
        trainer.fit(_data())


@pytest.mark.parametrize(
    ("step", "error", "match"),
    [
        (lambda m, b: {"mae": m(b[0]).mean()}, ValueError, r"scalar 'loss', got the keys \['mae'"),
        (lambda m, b: m(b[0]).mean(), TypeError, "must return a dict"),
        (lambda m, b: {"loss": m(b[0])}, ValueError, r"'loss' must be a scalar tensor, got \(8, 1"),
        (lambda m, b: {"loss": m(b[0]).mean().detach()}, ValueError, "does not require grad"),
        (lambda m, b: {"loss": m(b[0]).mean(), "x": "a"}, ValueError, "metric 'x'"),
    ],
)
def test_bad_step_output_is_explained(step, error, match):
    with pytest.raises(error, match=match):
        Trainer(_model(), step, _config()).fit(_data())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": "adm"}, r"optimizer must be one of \('adam', 'adamw', 'sgd'\), got 'adm'"),
        ({"scheduler": "step"}, "scheduler must be one of"),
        ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
        ({"lr": -1.0}, "lr must be a number > 0"),
        ({"mode": "up"}, "mode must be 'min' or 'max'"),
        ({"patience": 0}, "patience must be None or an int >= 1"),
    ],
)
def test_bad_config_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_fit_arguments_are_rejected(tmp_path):
    trainer = Trainer(_model(), _mse_step, _config(epochs=1, monitor="val_accuracy"))
    with pytest.raises(ValueError, match="monitor 'val_accuracy' is not a history column"):
        trainer.fit(_data(), _data(16))
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_dir"):
        trainer.fit(_data(), resume=True)
    with pytest.raises(ValueError, match="train dataset is empty"):
        trainer.fit(TensorDataset(torch.zeros(0, 3), torch.zeros(0)))
    Trainer(_model(), _mse_step, _config(epochs=1), checkpoint_dir=tmp_path).fit(_data())
    other = Trainer(_model(), _mse_step, _config(epochs=2, lr=0.5), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"trained with lr=0.01 \(now 0.5\)"):
        other.fit(_data(), resume=True)


# -- DDP: two CPU processes with gloo ----------------------------------------------------------


def _ddp_worker(rank: int, world: int, root: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{root}/store", rank=rank, world_size=world
    )
    try:
        seed_everything(rank)  # different initial weights: DDP must sync them from rank 0
        trainer = Trainer(_model(), _noisy_step, _config(epochs=3), checkpoint_dir=root)
        history = trainer.fit(_data(), _data(15, seed=2))
        torch.save(
            {"params": _params(trainer.model), "history": history.to_dict("list")},
            f"{root}/rank{rank}.pt",
        )
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.timeout(120)
def test_ddp_ranks_end_with_identical_parameters(tmp_path):
    torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for a, b in zip(rank0["params"], rank1["params"], strict=True):
        assert torch.equal(a, b)
    del rank0["history"]["seconds"], rank1["history"]["seconds"]
    assert rank0["history"] == rank1["history"]  # metrics combined over both ranks
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 3 and len(checkpoint["rng"]) == 2
