"""Registered recipes: data + model + baseline + metrics, each in a ``quick`` and a ``full`` size.

>>> from workbench import experiments
>>> sorted(experiments.RECIPES)
['action_angle', 'backmapping', 'molecules', 'scattering', 'shapes', 'top_tagging']
>>> result = experiments.run("shapes", size="quick", progress=False)  # doctest: +SKIP
>>> result.table  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

from . import action_angle, backmapping, molecules, scattering, shapes, top_tagging

__all__ = ["RECIPES", "Recipe", "get", "run"]


@dataclass(frozen=True)
class Recipe:
    """A named experiment: ``run(size, progress=..., workdir=...)`` returns a result with a
    ``table`` (pandas DataFrame, one row per model). ``distributed``: it may run under
    ``torchrun`` (its module sets ``DISTRIBUTED = True`` and coordinates data generation across
    the processes)."""

    name: str
    summary: str
    sizes: tuple[str, ...]
    run: Callable[..., Any]
    distributed: bool = False


def _recipe(module: ModuleType) -> Recipe:
    """A recipe module's entry: its name, the first line of its docstring, SIZES, run and
    whether it supports distributed training."""
    name = module.__name__.rsplit(".", 1)[-1]
    summary = module.__doc__.strip().splitlines()[0]
    distributed = getattr(module, "DISTRIBUTED", False)
    return Recipe(name, summary, tuple(module.SIZES), module.run, distributed)


RECIPES = MappingProxyType(
    {
        r.name: r
        for r in map(
            _recipe, (action_angle, backmapping, molecules, scattering, shapes, top_tagging)
        )
    }
)


def get(name: str) -> Recipe:
    """The recipe called ``name``; ``KeyError`` listing the recipes otherwise."""
    if name not in RECIPES:
        raise KeyError(f"no recipe {name!r}; available: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def run(name: str, size: str = "quick", **kwargs: Any) -> Any:
    """Run a recipe at a size (``quick`` trains in about a minute or two on 2 cores)."""
    recipe = get(name)
    if size not in recipe.sizes:
        raise ValueError(f"recipe {name!r} has sizes {recipe.sizes}, not {size!r}")
    return recipe.run(size, **kwargs)
