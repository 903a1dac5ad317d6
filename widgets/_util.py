"""Helpers shared by the widgets: inputs as tensors, and the dtype a model computes in."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["as_tensor", "model_dtype"]


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
