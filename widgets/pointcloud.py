"""PointCloudView: rotate and reflect a 3D point cloud in the browser, watch classifiers react."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from workbench.checks import O3Element

from ._angles import EulerAngles
from ._assets import widget_css, widget_esm
from ._util import as_tensor as _as_tensor
from ._util import model_dtype as _model_dtype

__all__ = ["PointCloudView", "total_variation"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    """Total-variation distance ``max_A |p(A) - q(A)| = sum_i |p_i - q_i| / 2`` of two
    probability vectors (0 for equal distributions, 1 for disjoint ones).

    >>> total_variation([1.0, 0.0], [0.25, 0.75])
    0.75
    """
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))


class PointCloudView(EulerAngles, anywidget.AnyWidget):
    """A 3D point cloud that the user rotates and reflects in the browser, with the class
    probabilities of several models updating live.

    An O(3)-invariant classifier keeps its probabilities whatever the pose; a baseline that
    sees raw coordinates moves. ``spread`` records, per model, the largest total-variation
    distance between its probabilities at any pose visited so far and at the original pose.

    Args:
        pos: ``(N, 3)`` positions of one cloud (tensor or array).
        models: name -> callable ``model(pos, mask) -> logits`` with ``pos`` of shape
            ``(1, N, 3)``, ``mask`` a ``(1, N)`` bool tensor and logits of shape
            ``(1, n_classes)``. A ``torch.nn.Module`` should be in eval mode; it is called
            under ``torch.no_grad()`` in the dtype (and on the device) of its parameters,
            a plain function in float32.
        class_names: one name per class.
        mask: ``(N,)`` bool, which points are real (default: all); only these are drawn.
        label: index of the true class (highlighted), or None.
        title: heading shown above the widget.

    The pose is g = R(alpha, beta, gamma) in e3nn's Y-X-Y Euler convention (as in
    :class:`widgets.EquivarianceCheck`), composed with the inversion x -> -x (the parity of
    O(3), not a mirror) when ``reflect`` is set: every point x goes to g x, rotating about the
    origin of the coordinates given (a cloud is not centred first). All numbers are computed
    here; the front end only draws and sends the pose back.
    """

    _esm = widget_esm("pointcloud.js", ("plotly",))
    _css = widget_css("pointcloud.css")

    # the pose, set by the sliders / checkbox / "random pose" button or from Python
    reflect = traitlets.Bool(False).tag(sync=True)

    # computed here, drawn there
    title = traitlets.Unicode("").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    label = traitlets.Int(-1).tag(sync=True)
    points = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    original_points = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    extent = traitlets.Float(1.0).tag(sync=True)
    probabilities = traitlets.Dict().tag(sync=True)
    top = traitlets.Dict().tag(sync=True)
    spread = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        pos: Any,
        models: Mapping[str, Model],
        class_names: Sequence[str],
        mask: Any = None,
        label: int | None = None,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        if not isinstance(models, Mapping) or not models:
            raise ValueError("models must be a non-empty dict: name -> model(pos, mask) -> logits")
        for name, model in models.items():
            if not isinstance(name, str) or not callable(model):
                raise ValueError(
                    f"models must map names (str) to callables; got {name!r}: {model!r}"
                )
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise ValueError(f"class_names must be a sequence of str; got {class_names!r}")
        if not class_names:
            raise ValueError("class_names must not be empty")
        self._models = dict(models)
        self._pose_key: tuple | None = None
        self._reference: dict[str, list[float]] = {}
        self._initial: tuple | None = self._validate_cloud(pos, mask, label, len(class_names))
        super().__init__(
            title=title,
            class_names=list(class_names),
            model_names=list(self._models),
            **kwargs,
        )  # opens the comm: see open()

    # --- public API -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the comm with the cloud and the probabilities of the initial pose already
        computed: the front end gets the whole state in the comm's first message. (An update
        sent right after it can be lost while the front end is still loading the widget's
        module on a busy machine, leaving an empty view that no later update reaches.)"""
        if self.comm is None and self._initial is not None:
            cloud, self._initial = self._initial, None
            self._load(*cloud)
        super().open()

    @property
    def element(self) -> O3Element:
        """The O(3) element currently applied to the cloud."""
        return O3Element(self.alpha, self.beta, self.gamma, self.reflect)

    def matrix(self) -> torch.Tensor:
        """The (3, 3) float64 matrix of the current pose: ``points = pos[mask] @ matrix().T``."""
        return self.element.matrix(torch.float64)

    def randomize(self, seed: int | None = None) -> O3Element:
        """Jump to a Haar-random element of O(3) (a random rotation, reflected half the time);
        reproducible for a given ``seed``. Returns the new element."""
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
        with self.hold_trait_notifications():
            self.alpha = 2 * math.pi * u[0]
            self.beta = math.acos(1 - 2 * u[1])
            self.gamma = 2 * math.pi * u[2]
            self.reflect = u[3] < 0.5
        return self.element

    def set_cloud(self, pos: Any, mask: Any = None, label: int | None = None) -> None:
        """Show another cloud in the current pose. ``label=None`` means the new cloud's class
        is unknown (nothing highlighted). ``spread`` starts again from the new cloud."""
        pos, mask, label = self._validate_cloud(pos, mask, label, len(self.class_names))
        self._load(pos, mask, label)

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _validate_cloud(
        pos: Any, mask: Any, label: int | None, n_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        pos = _as_tensor(pos, "pos")
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] == 0:
            raise ValueError(f"pos must have shape (N, 3) with N >= 1; got {tuple(pos.shape)}")
        if pos.dtype == torch.bool or pos.is_complex():
            raise ValueError(f"pos must hold real numbers; got {pos.dtype}")
        pos = pos.to(torch.float64)
        if not torch.isfinite(pos).all():
            raise ValueError("pos contains NaN or infinite coordinates")
        if mask is None:
            mask = torch.ones(pos.shape[0], dtype=torch.bool)
        else:
            mask = _as_tensor(mask, "mask")
            if mask.shape != (pos.shape[0],):
                raise ValueError(
                    f"mask must have shape (N,) = ({pos.shape[0]},) to match pos; "
                    f"got {tuple(mask.shape)}"
                )
            if mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool array; got {mask.dtype}")
            if not mask.any():
                raise ValueError("mask selects no points")
        if label is None:
            return pos, mask, -1
        if torch.is_tensor(label) and label.numel() == 1 and not label.is_floating_point():
            label = label.item()
        if isinstance(label, bool) or not isinstance(label, numbers.Integral):
            raise ValueError(f"label must be an int class index or None; got {label!r}")
        if not 0 <= label < n_classes:
            raise ValueError(
                f"label must be a class index in [0, {n_classes}) or None; got {label}"
            )
        return pos, mask, int(label)

    def _probabilities(self, pos: torch.Tensor) -> dict[str, list[float]]:
        """Each model's class probabilities for the (N, 3) float64 cloud ``pos``."""
        n_classes = len(self.class_names)
        out = {}
        for name, model in self._models.items():
            dtype, device = _model_dtype(model)
            with torch.no_grad():
                logits = model(
                    pos.unsqueeze(0).to(device=device, dtype=dtype),
                    self._mask.unsqueeze(0).to(device),
                )
            if not torch.is_tensor(logits):
                raise ValueError(f"model {name!r} returned {type(logits).__name__}, not a tensor")
            if tuple(logits.shape) != (1, n_classes):
                raise ValueError(
                    f"model {name!r} returned logits of shape {tuple(logits.shape)}; expected "
                    f"(1, {n_classes}): one per class in class_names"
                )
            if not torch.isfinite(logits).all():
                raise ValueError(f"model {name!r} returned non-finite logits: {logits.tolist()}")
            probs = torch.softmax(logits.detach().to(torch.float64), dim=-1)[0]
            out[name] = [float(p) for p in probs]
        return out

    def _load(self, pos: torch.Tensor, mask: torch.Tensor, label: int) -> None:
        previous = getattr(self, "_pos", None), getattr(self, "_mask", None)
        self._pos, self._mask = pos, mask
        try:
            reference = self._probabilities(pos)
        except Exception:
            self._pos, self._mask = previous
            raise
        valid = pos[mask]
        self._reference = reference
        self._spread = dict.fromkeys(reference, 0.0)
        self._pose_key = None
        with self.hold_sync():
            self.label = label
            self.original_points = valid.tolist()
            self.extent = 1.05 * float(valid.norm(dim=1).max()) or 1.0
            self._update()

    @traitlets.observe("alpha", "beta", "gamma", "reflect")
    def _on_pose(self, change: dict) -> None:
        if hasattr(self, "_pos"):
            self._update()

    def _update(self) -> None:
        key = (self.alpha, self.beta, self.gamma, self.reflect)
        if key == self._pose_key:  # several traits set at once: compute once
            return
        moved = self._pos @ self.matrix().T
        probabilities = self._probabilities(moved)
        for name, p in probabilities.items():
            distance = total_variation(p, self._reference[name])
            self._spread[name] = max(self._spread[name], distance)
        self._pose_key = key
        with self.hold_sync():
            self.points = moved[self._mask].tolist()
            self.probabilities = probabilities
            self.top = {name: int(np.argmax(p)) for name, p in probabilities.items()}
            self.spread = dict(self._spread)
