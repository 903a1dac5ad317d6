"""Numerical equivariance and invariance checks that return tidy pandas reports."""

from .actions import (
    O3,
    SO3,
    GroupAction,
    LieGroupAction,
    O3Action,
    O3Element,
    as_action,
    parse_irreps,
)
from .equivariance import EquivarianceTest, default_tolerance, equivariance_report, summarize

__all__ = [
    "O3",
    "SO3",
    "EquivarianceTest",
    "GroupAction",
    "LieGroupAction",
    "O3Action",
    "O3Element",
    "as_action",
    "default_tolerance",
    "equivariance_report",
    "parse_irreps",
    "summarize",
]
