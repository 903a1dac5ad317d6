"""The action-angle recipe end to end at the tiny size, and its validation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data.integrable import (
    CoupledOscillatorsConfig,
    KeplerConfig,
    PendulumConfig,
    TodaConfig,
    make_trajectories,
)
from workbench.experiments.action_angle import (
    MODELS,
    SIZES,
    ActionAngleRecipe,
    evaluate,
    run,
    windows,
)
from workbench.models.action_angle import ActionAngleNetwork
from workbench.training import TrainConfig


def test_tiny_run_end_to_end(tmp_path):
    recipe = SIZES["tiny"]
    result = run("tiny", progress=False, workdir=tmp_path)
    table, curves = result.table, result.errors_vs_jump
    assert list(table.model) == list(MODELS)
    for jump in recipe.jumps:
        for prefix in ("mse", "energy drift", "predict s"):
            column = table[f"{prefix} @{jump}"]
            assert np.isfinite(column).all() and (column >= 0).all()
    assert (table.parameters > 0).all()
    assert list(curves.columns) == ["model", "jump", "time", "mse", "energy_drift", "seconds"]
    assert len(curves) == len(MODELS) * len(recipe.jumps)
    assert set(curves.jump) == set(recipe.jumps)
    # errors grow with the jump for an untrained-ish model: at least not all equal
    assert curves.groupby("model").mse.nunique().min() == len(recipe.jumps)
    assert isinstance(result.models[MODELS[0]], ActionAngleNetwork)
    assert len(result.data) == recipe.n_test and len(result.data.t) == max(recipe.jumps) + 1
    assert len(result.train) == recipe.data.n_trajectories
    for name, history in result.histories.items():
        assert isinstance(history, pd.DataFrame) and len(history) == recipe.train.epochs
        assert (tmp_path / name.replace(" ", "_") / "checkpoint.pt").is_file()
    assert "val_action_var" in result.histories[MODELS[0]]
    # the table's numbers are the models' own predictions
    model, data, jump = result.models["Neural ODE"], result.data, recipe.jumps[-1]
    with torch.no_grad():
        pred = model.predict(data.x[:, 0], data.t[[jump]])[:, 0]
    mse = ((pred - data.x_clean[:, jump]) ** 2).mean().item()
    assert table.set_index("model").loc["Neural ODE", f"mse @{jump}"] == pytest.approx(mse, 1e-9)


@pytest.mark.parametrize(
    "system",
    [
        KeplerConfig(n_trajectories=4, steps=12),
        PendulumConfig(n_trajectories=4, steps=12),
        TodaConfig(n_trajectories=4, steps=12),
    ],
)
def test_other_systems_run(system):
    recipe = replace(SIZES["tiny"], data=system, models=MODELS[:2], jumps=(1, 12))
    result = run(recipe, progress=False)
    assert np.isfinite(result.table.filter(like="mse")).all(axis=None)
    assert result.data.system == result.train.system != "coupled_oscillators"


def test_windows():
    data = make_trajectories(CoupledOscillatorsConfig(n_trajectories=2, steps=6))
    out = windows(data, segment=3, stride=2)
    assert out.shape == (2 * 2, 4, 4)  # starts 0 and 2 of each trajectory
    torch.testing.assert_close(out[1], data.x[0, 2:6])
    torch.testing.assert_close(out[2], data.x[1, 0:4])


def test_evaluate_checks_the_horizon():
    data = make_trajectories(CoupledOscillatorsConfig(n_trajectories=2, steps=5))
    model = ActionAngleNetwork.__new__(ActionAngleNetwork)  # never called
    with pytest.raises(ValueError, match="jumps up to 10"):
        evaluate(model, data, (1, 10))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(jumps=()), "jumps"),
        (dict(jumps=(0, 5)), "jumps"),
        (dict(models=("Transformer",)), "models"),
        (dict(segment=0), "segment"),
        (dict(segment=500), "exceeds"),
        (dict(action_penalty=-1.0), "action_penalty"),
    ],
)
def test_bad_recipes(change, match):
    with pytest.raises(ValueError, match=match):
        replace(SIZES["tiny"], **change)


def test_bad_size():
    with pytest.raises(ValueError, match="size must be one of"):
        run("huge", progress=False)
    recipe = ActionAngleRecipe(
        data=CoupledOscillatorsConfig(n_trajectories=2, steps=10),
        train=TrainConfig(epochs=1),
    )
    assert recipe.models == MODELS


@pytest.mark.slow
def test_quick_recipe_beats_the_baselines_on_long_jumps():
    """The issue's target: on coupled oscillators the AAN predicts 1000 steps ahead better
    than the Neural ODE and the Euler network trained on the same windows for as many steps,
    and its predict time does not grow with the jump while the Neural ODE's does."""
    result = run("quick", progress=False)
    table = result.table.set_index("model")
    aan = table.loc["Action-Angle Network"]
    for baseline in ("Neural ODE", "Euler network"):
        assert aan["mse @1000"] < table.loc[baseline, "mse @1000"]
    assert aan["predict s @1000"] < 5 * aan["predict s @1"]
    assert table.loc["Neural ODE", "predict s @1000"] > 20 * table.loc["Neural ODE", "predict s @1"]
