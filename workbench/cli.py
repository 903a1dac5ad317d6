"""The ``workbench`` command: ``workbench list``, ``workbench train shapes --size quick``.

The command line is the user interface of the core: it prints its results.

Distributed training: launched by ``torchrun`` (which sets WORLD_SIZE, RANK, MASTER_ADDR and
MASTER_PORT), ``workbench train`` joins a gloo process group (CPU), every process runs the
recipe with ``DistributedDataParallel``, and only rank 0 prints the tables and writes the CSV
(checkpoints: rank 0 too, see ``workbench.training``)::

    torchrun --standalone --nproc_per_node 2 -m workbench.cli train top_tagging --size tiny

Only recipes whose module sets ``DISTRIBUTED = True`` run this way (they must coordinate their
data generation across the processes). While rank 0 generates data the other ranks wait in a
collective that times out after ``--dist-timeout`` minutes (default 180): generate a large data
set first (e.g. a plain ``workbench train`` run, or ``workbench.data.jets.make_jets``), then
train it under torchrun.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys

import pandas as pd
import torch
import torch.distributed as dist

from workbench import experiments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the registered recipes and their sizes")
    train = commands.add_parser("train", help="run a recipe and print its results table")
    train.add_argument("recipe", help=f"one of: {', '.join(sorted(experiments.RECIPES))}")
    train.add_argument("--size", default="quick", help="quick (default) or full")
    train.add_argument("--workdir", default=None, help="folder for checkpoints (resumable)")
    train.add_argument("--no-progress", action="store_true", help="hide progress bars")
    train.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the small models here are fastest on one thread)",
    )
    train.add_argument(
        "--csv",
        default=None,
        help="also write the table to this CSV file (further tables to FILE-1.csv, ...)",
    )
    train.add_argument(
        "--dist-timeout",
        type=float,
        default=180.0,
        help="under torchrun: minutes a process waits for the others (e.g. while rank 0 "
        "generates the data) before giving up (default 180)",
    )
    args = parser.parse_args(argv)

    if args.command == "list":
        for name, recipe in sorted(experiments.RECIPES.items()):
            print(f"{name:12s} sizes: {', '.join(recipe.sizes):14s} {recipe.summary}")
        return 0
    if args.threads < 1:
        print(f"workbench: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    if not args.dist_timeout > 0:
        print(
            f"workbench: --dist-timeout must be > 0 minutes, got {args.dist_timeout}",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(args.threads)
    try:
        recipe = experiments.get(args.recipe)
        rank, world = _init_distributed(recipe, datetime.timedelta(minutes=args.dist_timeout))
    except (KeyError, ValueError) as err:
        print(f"workbench: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    prefix = f"[rank {rank}/{world}] " if world > 1 else ""
    logging.basicConfig(level=logging.INFO, format=f"{prefix}%(levelname)s %(name)s: %(message)s")
    try:
        result = experiments.run(
            args.recipe, size=args.size, progress=not args.no_progress, workdir=args.workdir
        )
    except (KeyError, ValueError) as err:
        print(f"workbench: {prefix}{err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    finally:
        if world > 1:
            dist.destroy_process_group()
    if rank != 0:  # every rank holds the same results: one prints them
        return 0
    # a recipe may return more tables than its main one: ``extra_tables`` {title: DataFrame}
    tables = {"": result.table, **getattr(result, "extra_tables", {})}
    # a labelled index (model names, targets, (metric, model)) becomes columns, so that the
    # printout and the CSV keep it
    tables = {
        title: table if isinstance(table.index, pd.RangeIndex) else table.reset_index()
        for title, table in tables.items()
    }
    for title, table in tables.items():
        if title:
            print(f"\n{title}")
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            # four significant digits: errors of 1e-7 and rejections of 2195 both stay readable
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.csv:
        stem, suffix = os.path.splitext(args.csv)
        for i, table in enumerate(tables.values()):
            table.to_csv(args.csv if i == 0 else f"{stem}-{i}{suffix}", index=False)
    return 0


_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _init_distributed(recipe: experiments.Recipe, timeout: datetime.timedelta) -> tuple[int, int]:
    """(rank, world size): (0, 1) in a plain run; under torchrun (WORLD_SIZE set) the gloo
    process group is initialised from the environment. ValueError for a broken setup."""
    if "WORLD_SIZE" not in os.environ:
        return 0, 1
    missing = [name for name in _TORCHRUN_ENV if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"WORLD_SIZE is set ({os.environ['WORLD_SIZE']!r}) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: launch distributed runs with "
            f"`torchrun --nproc_per_node N -m workbench.cli train ...`, or unset WORLD_SIZE"
        )
    values = {}
    for name in ("RANK", "WORLD_SIZE"):
        text = os.environ[name]
        if not text.isdigit():
            raise ValueError(f"environment variable {name} must be an integer >= 0, got {text!r}")
        values[name] = int(text)
    rank, world = values["RANK"], values["WORLD_SIZE"]
    if not 0 <= rank < world:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE = {world}), got RANK = {rank}")
    if world == 1:
        return 0, 1
    if not recipe.distributed:
        ready = [name for name, r in sorted(experiments.RECIPES.items()) if r.distributed]
        raise ValueError(
            f"recipe {recipe.name!r} does not support distributed training (WORLD_SIZE = "
            f"{world}); run it without torchrun. Recipes that do: {', '.join(ready) or 'none'}"
        )
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed: run without torchrun")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    dist.init_process_group("gloo", timeout=timeout)  # env:// rendezvous from the variables
    return dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    sys.exit(main())
