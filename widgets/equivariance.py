"""EquivarianceCheck: transform a model's input in the browser and watch its output follow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import torch
import traitlets

from workbench.checks import O3, EquivarianceTest, O3Action, O3Element, summarize

from ._angles import EulerAngles
from ._assets import widget_css, widget_esm

__all__ = ["EquivarianceCheck", "component_labels"]


def component_labels(irreps: Any) -> list[str]:
    """One label per component of an O(3) irreps, e.g. ``"1o#0 m=-1"``.

    >>> component_labels("1x0e + 1x1o")
    ['0e#0', '1o#0 m=-1', '1o#0 m=0', '1o#0 m=1']
    """
    labels = []
    for mul, ir in O3.parse(irreps):
        for u in range(mul):
            if ir.l == 0:
                labels.append(f"{ir}#{u}")
            else:
                labels.extend(f"{ir}#{u} m={m}" for m in range(-ir.l, ir.l + 1))
    return labels


class EquivarianceCheck(EulerAngles, anywidget.AnyWidget):
    """A model's input and output before and after an O(3) transform chosen in the browser.

    Shows x and g x, f(x), f(g x) and g f(x) (equivariance means the last two coincide), the
    relative error of random samples from :func:`workbench.checks.equivariance_report` with
    the current transform added, and a pass/fail badge. All numbers are computed here in
    Python; the front end only draws and sends the angles back.

    Args:
        fn: the model; one input of irreps ``irreps_in`` and one output of ``irreps_out``.
        irreps_in, irreps_out: e3nn irreps strings (or ``e3nn.o3.Irreps``).
        n_samples: number of random group elements in the error plot.
        title: heading shown above the widget.
        group: ``workbench.checks.O3`` (default) or ``SO3`` (hides the inversion toggle).
        dtype, seed, tolerance: as in :func:`workbench.checks.equivariance_report`.

    The transform is R(alpha, beta, gamma) in e3nn's Y-X-Y Euler convention, times the
    inversion if ``inversion`` is set.
    """

    _esm = widget_esm("equivariance.js", ("plotly",))
    _css = widget_css("equivariance.css")

    inversion = traitlets.Bool(False).tag(sync=True)

    title = traitlets.Unicode("").tag(sync=True)
    group_name = traitlets.Unicode("O(3)").tag(sync=True)
    has_inversion = traitlets.Bool(True).tag(sync=True)
    irreps_in = traitlets.Unicode("").tag(sync=True)
    irreps_out = traitlets.Unicode("").tag(sync=True)
    labels_in = traitlets.List(traitlets.Unicode()).tag(sync=True)
    labels_out = traitlets.List(traitlets.Unicode()).tag(sync=True)
    view = traitlets.Dict().tag(sync=True)
    samples = traitlets.List(traitlets.Dict()).tag(sync=True)
    tolerance = traitlets.Float(0.0).tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    passed = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        fn: Callable[..., Any],
        irreps_in: Any,
        irreps_out: Any,
        *,
        n_samples: int = 16,
        title: str = "",
        group: O3Action = O3,
        dtype: torch.dtype | None = None,
        seed: int = 0,
        tolerance: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._test = EquivarianceTest(
            fn, irreps_in, irreps_out, group=group, batch_size=1, dtype=dtype, seed=seed
        )
        if len(self._test.reps_in) != 1 or len(self._test.reps_out) != 1:
            raise ValueError("EquivarianceCheck shows functions of one input and one output")
        self.report = self._test.report(n_samples, tolerance)
        super().__init__(
            title=title,
            group_name=group.name,
            has_inversion=group.inversion,
            irreps_in=str(self._test.reps_in[0]),
            irreps_out=str(self._test.reps_out[0]),
            labels_in=component_labels(self._test.reps_in[0]),
            labels_out=component_labels(self._test.reps_out[0]),
            samples=[
                {"sample": int(r.sample), "rel_error": float(r.rel_error), "passed": bool(r.passed)}
                for r in self.report.itertuples()
            ],
            tolerance=float(self.report["tolerance"].iloc[0]),
            **kwargs,
        )  # opens the comm: see open()

    def open(self) -> None:
        """Open the comm with the view of the current transform already computed: the front
        end gets the whole state in the comm's first message. (An update sent right after it
        can be lost while the front end is still loading the widget's module on a busy
        machine, leaving an empty view that no later update reaches.)"""
        if self.comm is None:
            self._update()
        super().open()

    @property
    def element(self) -> O3Element:
        """The group element currently chosen in the widget."""
        return O3Element(self.alpha, self.beta, self.gamma, self.inversion and self.has_inversion)

    @traitlets.observe("alpha", "beta", "gamma", "inversion")
    def _on_transform(self, change: dict) -> None:
        self._update()

    def _update(self) -> None:
        g = self.element
        lhs, rhs = self._test.sides(g)
        row = self._test.row(g, self.tolerance, sides=(lhs, rhs))
        [gx] = self._test.transform_inputs(g)

        def values(t: torch.Tensor) -> list[float]:
            return [float(v) for v in t.reshape(-1)]

        self.view = {
            "x": values(self._test.inputs[0]),
            "gx": values(gx),
            "fx": values(self._test.outputs[0]),
            "f_gx": values(lhs[0]),
            "g_fx": values(rhs[0]),
            "abs_error": row["abs_error"],
            "rel_error": row["rel_error"],
            "passed": row["passed"],
        }
        self.passed = bool(self.report["passed"].all()) and row["passed"]
        verdict = "equivariant" if self.passed else "NOT equivariant"
        self.summary = f"{verdict}. Random samples: {summarize(self.report)}"
