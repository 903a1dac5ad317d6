"""Helpers shared by the widgets: inputs as arrays or tensors, and the dtype a model computes
in."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

__all__ = ["as_array", "as_tensor", "index_in", "model_dtype", "module_dtype", "wrap_angle"]


def as_array(value: Any, name: str) -> np.ndarray:
    """A numpy array from an array, a nested sequence or a (detached) torch tensor."""
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array; got {type(value).__name__}") from err


def as_tensor(value: Any, name: str) -> torch.Tensor:
    if torch.is_tensor(value):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array or tensor; got {type(value).__name__}") from err


def model_dtype(model: Any) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of a model's first floating parameter (or buffer); float32 on the
    CPU for a plain function or a module without any."""
    tensors: list[torch.Tensor] = []
    if isinstance(model, torch.nn.Module):
        tensors = [*model.parameters(), *model.buffers()]
    for t in tensors:
        if t.is_floating_point():
            return t.dtype, t.device
    return torch.float32, torch.device("cpu")


def wrap_angle(theta: Any) -> np.ndarray:
    """Angles mapped to [-pi, pi): ``theta - 2 pi round(theta / 2 pi)`` (up to the end point).

    >>> wrap_angle([0.0, 3 * math.pi / 2, -math.pi]).round(4).tolist()
    [0.0, -1.5708, -3.1416]
    """
    return np.mod(np.asarray(theta, dtype=np.float64) + math.pi, 2 * math.pi) - math.pi


def module_dtype(obj: Any) -> tuple[torch.dtype, torch.device]:
    """dtype and device of a torch module (or of the module a bound method belongs to);
    float64 on the CPU, the dtype of the data, for anything else."""
    owner = getattr(obj, "__self__", obj)
    if isinstance(owner, torch.nn.Module):
        return model_dtype(owner)
    return torch.float64, torch.device("cpu")


def index_in(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high), or a ValueError naming ``name`` and the range."""
    if torch.is_tensor(value) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int in [{low}, {high}); got {value!r}")
    if not low <= value < high:
        raise ValueError(f"{name} must be in [{low}, {high}); got {value}")
    return int(value)
