"""Top tagging under torchrun: two CPU processes on gloo, DDP, jets generated once.

The end-to-end test launches ``torchrun --standalone --nproc_per_node 2`` on a small driver
that calls ``workbench.cli.main`` (the real command line, its process group and its printing)
and then saves what each rank trained, so that the ranks' weights can be compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from workbench import cli
from workbench.experiments.top_tagging import MASS_CUT

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
MODELS = ("Lorentz MACE", "PFN", "ParticleNet")

DRIVER = """
import os, sys
import torch
from workbench import cli, experiments

results = []
real_run = experiments.run


def run(*args, **kwargs):
    results.append(real_run(*args, **kwargs))
    return results[-1]


experiments.run = run  # cli.main calls experiments.run: keep what it returns
code = cli.main(sys.argv[2:])
result = results[0]
torch.save(
    {
        "models": {k: dict(m.state_dict()) for k, m in result.models.items()},
        "scores": {k: torch.from_numpy(v) for k, v in result.scores.items()},
    },
    os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.pt"),
)
sys.exit(code)
"""


@pytest.mark.timeout(240)
def test_cli_under_torchrun_trains_with_ddp_on_two_gloo_processes(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER))
    workdir, csv = tmp_path / "work", tmp_path / "table.csv"
    env = {
        **os.environ,
        "WORKBENCH_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [
        str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(driver), str(tmp_path),
        "train", "top_tagging", "--size", "tiny", "--no-progress",
        "--workdir", str(workdir), "--csv", str(csv), "--dist-timeout", "5",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=220
    )
    assert done.returncode == 0, done.stderr[-4000:]

    # only rank 0 prints the tables and writes the CSV
    assert done.stdout.count("Published, on the Top Quark Tagging Reference Dataset") == 1
    main, published = done.stdout.split("Published, on the Top Quark Tagging Reference Dataset")
    for name in (*MODELS, MASS_CUT):  # one row each in the main table
        assert sum(line.strip().startswith(name) for line in main.splitlines()) == 1, main
    for name in ("LorentzNet", "ParticleNet", "PFN"):  # the published rows keep their names
        assert sum(line.strip().startswith(name) for line in published.splitlines()) == 1
    table = pd.read_csv(csv)
    assert list(table["model"]) == [*MODELS, MASS_CUT]
    assert (tmp_path / "table-1.csv").exists()  # the published table, labelled as context

    # rank 0 generated the jets, rank 1 waited and read the file
    log = done.stderr
    assert (
        log.count("jets: wrote") == 1 and "[rank 0/2] INFO workbench.data.jets: jets: wrote" in log
    )
    assert "[rank 1/2] INFO workbench.data.jets: jets: using" in log

    # DDP really ran over two processes: the checkpoints hold both ranks' RNG states
    for name in MODELS:
        checkpoint = torch.load(
            workdir / name.replace(" ", "_") / "checkpoint.pt", weights_only=True
        )
        assert checkpoint["epoch"] == 2 and len(checkpoint["rng"]) == 2, name

    # both ranks end with the same weights (gradients all-reduced; each rank draws its own
    # ParticleNet dropout masks, so without the all-reduce its weights would differ) and the
    # same test scores; the weights are those rank 0 checkpointed
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name in MODELS:
        state0, state1 = rank0["models"][name], rank1["models"][name]
        assert state0.keys() == state1.keys()
        for key in state0:
            assert torch.equal(state0[key], state1[key]), (name, key)
    for name, scores in rank0["scores"].items():
        assert torch.equal(scores, rank1["scores"][name]), name


# --- bad setups ------------------------------------------------------------------------------


@pytest.fixture
def torchrun_env(monkeypatch):
    for name, value in {
        "WORLD_SIZE": "2",
        "RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "29999",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _train(capsys, recipe: str = "top_tagging") -> tuple[int, str]:
    code = cli.main(["train", recipe, "--size", "tiny", "--no-progress"])
    return code, capsys.readouterr().err


def test_world_size_without_the_rest_of_torchrun_is_reported(torchrun_env, capsys):
    torchrun_env.delenv("MASTER_PORT")
    torchrun_env.delenv("RANK")
    code, err = _train(capsys)
    assert code == 2
    assert "WORLD_SIZE is set ('2') but RANK, MASTER_PORT are not" in err and "torchrun" in err


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RANK", "2", "RANK must be in [0, WORLD_SIZE = 2), got RANK = 2"),
        ("WORLD_SIZE", "two", "WORLD_SIZE must be an integer >= 0, got 'two'"),
    ],
)
def test_bad_rank_or_world_size_is_reported(torchrun_env, capsys, name, value, message):
    torchrun_env.setenv(name, value)
    code, err = _train(capsys)
    assert code == 2 and message in err


def test_a_non_positive_dist_timeout_is_reported(capsys):
    code = cli.main(["train", "top_tagging", "--size", "tiny", "--dist-timeout", "0"])
    assert code == 2 and "--dist-timeout must be > 0 minutes, got 0.0" in capsys.readouterr().err


def test_recipes_without_distributed_support_are_refused(torchrun_env, capsys):
    code, err = _train(capsys, recipe="shapes")
    assert code == 2
    assert "recipe 'shapes' does not support distributed training" in err
    assert "Recipes that do: top_tagging" in err
    assert not torch.distributed.is_initialized()


# --- a failure on rank 0 reaches the other rank ----------------------------------------------


def _failing_worker(rank: int, root: str) -> None:
    from workbench.experiments import top_tagging

    def make_jets(config, progress=True):
        raise FileNotFoundError("no space left in the cache (test)")

    top_tagging.make_jets = make_jets  # this process only
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{root}/store", rank=rank, world_size=2
    )
    try:
        top_tagging._make_jets_once(top_tagging.SIZES["tiny"].jets, progress=False)
    except Exception as err:  # the test reads what each rank raised
        Path(root, f"rank{rank}.txt").write_text(f"{type(err).__name__}: {err}")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.timeout(120)
def test_a_failed_generation_on_rank_0_stops_every_rank(tmp_path):
    torch.multiprocessing.spawn(_failing_worker, args=(str(tmp_path),), nprocs=2, join=True)
    assert (tmp_path / "rank0.txt").read_text() == (
        "FileNotFoundError: no space left in the cache (test)"
    )
    assert (tmp_path / "rank1.txt").read_text() == (
        "RuntimeError: rank 0 could not make the jets, so rank 1 stops: "
        "FileNotFoundError: no space left in the cache (test)"
    )
