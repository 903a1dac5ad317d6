r"""Relativistic kinematics of four-momenta :math:`p = (E, p_x, p_y, p_z)`, metric (+,-,-,-).

Works on numpy arrays and torch tensors alike, any leading shape ``(..., 4)``:

- :func:`pt` :math:`= \sqrt{p_x^2 + p_y^2}`, :func:`phi` :math:`= \operatorname{atan2}(p_y, p_x)`,
  :func:`eta` (pseudorapidity) :math:`= \operatorname{asinh}(p_z / p_T)`,
  :func:`rapidity` :math:`= \tfrac12 \log\frac{E + p_z}{E - p_z}`,
- :func:`mass` :math:`= \sqrt{\max(p \cdot p, 0)}` of a sum of momenta (a jet's mass),
- :func:`boost` applies the pure boost of rapidity :math:`y` along a unit axis :math:`n`:
  :math:`E' = E\cosh y + (n\cdot\vec p)\sinh y`,
  :math:`\vec p\,' = \vec p + n\,[(n\cdot\vec p)(\cosh y - 1) + E\sinh y]`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["boost", "boost_matrix", "eta", "mass", "minkowski_dot", "phi", "pt", "rapidity"]

Array = np.ndarray | torch.Tensor


def _lib(p: Array):
    return torch if isinstance(p, torch.Tensor) else np


def _check(p: Array) -> None:
    if p.shape[-1] != 4:
        raise ValueError(
            f"four-momenta need a last axis of size 4 (E, px, py, pz), got {tuple(p.shape)}"
        )


def minkowski_dot(a: Array, b: Array) -> Array:
    """:math:`a \\cdot b = a_0 b_0 - \\vec a \\cdot \\vec b`."""
    _check(a)
    _check(b)
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def pt(p: Array) -> Array:
    _check(p)
    return _lib(p).hypot(p[..., 1], p[..., 2])


def phi(p: Array) -> Array:
    _check(p)
    return _lib(p).arctan2(p[..., 2], p[..., 1])


def eta(p: Array) -> Array:
    """Pseudorapidity; ``inf`` with the sign of ``pz`` for a particle along the beam."""
    _check(p)
    return _lib(p).arcsinh(p[..., 3] / pt(p))


def rapidity(p: Array) -> Array:
    _check(p)
    lib = _lib(p)
    return 0.5 * lib.log((p[..., 0] + p[..., 3]) / (p[..., 0] - p[..., 3]))


def mass(p: Array) -> Array:
    """Invariant mass :math:`\\sqrt{\\max(p\\cdot p, 0)}` (0 for slightly negative round-off)."""
    lib = _lib(p)
    m2 = minkowski_dot(p, p)
    return lib.sqrt(lib.clip(m2, 0.0, None)) if lib is np else torch.sqrt(m2.clamp_min(0.0))


def boost_matrix(rapidity_: float, axis: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """The 4x4 matrix :math:`\\Lambda` of the pure boost with this rapidity along ``axis``
    (normalised), acting on column four-vectors: :math:`p' = \\Lambda p`."""
    n = np.asarray(axis, dtype=np.float64)
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.linalg.norm(n) == 0:
        raise ValueError(f"axis must be a non-zero 3-vector, got {axis!r}")
    if not math.isfinite(rapidity_):
        raise ValueError(f"rapidity must be finite, got {rapidity_}")
    n = n / np.linalg.norm(n)
    ch, sh = math.cosh(rapidity_), math.sinh(rapidity_)
    out = np.eye(4)
    out[0, 0] = ch
    out[0, 1:] = out[1:, 0] = sh * n
    out[1:, 1:] += (ch - 1.0) * np.outer(n, n)
    return out


def boost(p: Array, rapidity_: float, axis: Sequence[float] = (0.0, 0.0, 1.0)) -> Array:
    """``p`` (..., 4) boosted by :func:`boost_matrix`; keeps the type, dtype and device."""
    _check(p)
    matrix = boost_matrix(rapidity_, axis)
    if isinstance(p, torch.Tensor):
        return p @ torch.as_tensor(matrix, dtype=p.dtype, device=p.device).T
    return p @ matrix.T.astype(p.dtype, copy=False)
