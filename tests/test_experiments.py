"""Recipes and the command line: the registry, the shapes recipe end to end (tiny size), and
the invariance of the trained O(3) MACE under the random O(3) transforms of the test set."""

from __future__ import annotations

import types

import pandas as pd
import pytest
import torch

from workbench import cli, experiments


def test_registry_lists_recipes_and_rejects_unknown_names():
    assert "shapes" in experiments.RECIPES
    assert {"quick", "full"} <= set(experiments.get("shapes").sizes)
    with pytest.raises(KeyError, match=r"available: .*shapes"):
        experiments.get("nope")
    with pytest.raises(ValueError, match="has sizes"):
        experiments.run("shapes", size="huge")


def test_shapes_recipe_tiny_end_to_end(tmp_path):
    result = experiments.run("shapes", size="tiny", progress=False, workdir=tmp_path)
    table = result.table.set_index("model")
    assert list(table.index) == [
        "MACE O(3)",
        "PointNet + O(3) augmentation",
        "PointNet without augmentation",
    ]
    for name in table.index:
        assert len(result.histories[name]) == 2
        assert (tmp_path / name.replace(" ", "_") / "checkpoint.pt").exists()
    # the O(3) model gives the same logits on the transformed test set (float32 round-off)
    mace = result.models["MACE O(3)"].eval()
    test, moved = result.test, result.test_transformed
    with torch.no_grad():
        a, b = mace(test.pos, test.mask), mace(moved.pos, moved.mask)
    assert (a - b).abs().max() <= 1e-5 * a.abs().max()
    # the baseline is not invariant: the same comparison moves its logits
    pointnet = result.models["PointNet + O(3) augmentation"].eval()
    with torch.no_grad():
        c, d = pointnet(test.pos, test.mask), pointnet(moved.pos, moved.mask)
    assert (c - d).abs().max() > 1e-3
    # helix pair: O(3) gives a mirrored cloud the same output, so with the labels swapped
    # every correct answer becomes wrong: the two accuracies add up to exactly one
    chiral = result.chiral.table.set_index("model")
    assert list(chiral.index) == ["MACE O(3)", "MACE SO(3)"]
    o3 = chiral.loc["MACE O(3)"]
    assert o3["helix acc (canonical)"] + o3["helix acc (mirrored)"] == pytest.approx(1.0, abs=1e-9)
    assert set(result.chiral.test.class_names) == {"helix_right", "helix_left"}
    assert "Helix pair" in next(iter(result.extra_tables))


def test_cli_lists_and_reports_errors(capsys):
    assert cli.main(["list"]) == 0
    assert "shapes" in capsys.readouterr().out
    assert cli.main(["train", "nope"]) == 2
    assert "no recipe 'nope'" in capsys.readouterr().err


def test_cli_prints_and_writes_every_table(tmp_path, capsys, monkeypatch):
    result = types.SimpleNamespace(
        table=pd.DataFrame({"model": ["a"], "acc": [0.5], "mse": [3.5455e-7]}),
        extra_tables={
            "Second table": pd.DataFrame({"model": ["b"], "acc": [0.25]}),
            "Indexed": pd.DataFrame({"acc": [0.75]}, index=pd.Index(["c"], name="model")),
        },
    )
    monkeypatch.setattr(experiments, "run", lambda *args, **kwargs: result)
    csv = tmp_path / "out.csv"
    assert cli.main(["train", "shapes", "--no-progress", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "0.5" in out and "Second table" in out and "0.25" in out
    assert "3.546e-07" in out  # small errors keep their significant digits
    assert pd.read_csv(csv)["acc"].tolist() == [0.5]
    assert pd.read_csv(tmp_path / "out-1.csv")["acc"].tolist() == [0.25]
    # a labelled index is printed and written, not dropped
    assert pd.read_csv(tmp_path / "out-2.csv").to_dict("list") == {"model": ["c"], "acc": [0.75]}
    assert out.split("Indexed")[1].split()[:4] == ["model", "acc", "c", "0.75"]
