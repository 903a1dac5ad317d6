"""Euler angles shared by the widgets that transform their input (e3nn's Y-X-Y convention)."""

from __future__ import annotations

import math

import traitlets


class EulerAngles(traitlets.HasTraits):
    """Synced ``alpha``, ``gamma`` in [0, 2 pi) (wrapped) and ``beta`` in [0, pi] (clipped)."""

    alpha = traitlets.Float(0.0).tag(sync=True)
    beta = traitlets.Float(0.0).tag(sync=True)
    gamma = traitlets.Float(0.0).tag(sync=True)

    @traitlets.validate("alpha", "gamma")
    def _wrap_angle(self, proposal: dict) -> float:
        return float(proposal["value"]) % (2 * math.pi)

    @traitlets.validate("beta")
    def _clip_beta(self, proposal: dict) -> float:
        return min(max(float(proposal["value"]), 0.0), math.pi)
