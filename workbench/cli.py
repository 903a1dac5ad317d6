"""The ``workbench`` command: ``workbench list``, ``workbench train shapes --size quick``.

The command line is the user interface of the core: it prints its results.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import pandas as pd
import torch

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
    args = parser.parse_args(argv)

    if args.command == "list":
        for name, recipe in sorted(experiments.RECIPES.items()):
            print(f"{name:12s} sizes: {', '.join(recipe.sizes):14s} {recipe.summary}")
        return 0
    if args.threads < 1:
        print(f"workbench: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = experiments.run(
            args.recipe, size=args.size, progress=not args.no_progress, workdir=args.workdir
        )
    except (KeyError, ValueError) as err:
        print(f"workbench: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    # a recipe may return more tables than its main one: ``extra_tables`` {title: DataFrame}
    tables = {"": result.table, **getattr(result, "extra_tables", {})}
    for title, table in tables.items():
        if title:
            print(f"\n{title}")
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.csv:
        stem, suffix = os.path.splitext(args.csv)
        for i, table in enumerate(tables.values()):
            table.to_csv(args.csv if i == 0 else f"{stem}-{i}{suffix}", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
