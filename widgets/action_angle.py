"""ActionAngleViewer: true and predicted trajectories in phase space and in action-angle form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import torch
import traitlets

from ._assets import widget_css, widget_esm
from ._util import as_tensor as _as_tensor
from ._util import index_in as _index
from ._util import module_dtype as _dtype_of
from ._util import wrap_angle

__all__ = ["ActionAngleViewer", "jump_figure", "wrap_angle"]

ActionAngleMap = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _to_list(a: np.ndarray) -> list[float]:
    return [float(v) for v in a]


class ActionAngleViewer(anywidget.AnyWidget):
    """One true trajectory and the predictions of several models, side by side in phase space
    (q_i, p_i) and in learned action-angle coordinates (theta_i, I_i) of one degree of freedom.

    An integrable system has coordinates in which the actions are constant and the angles turn
    at constant rates, theta(t) = theta(0) + omega(I) t; an Action-Angle Network learns them
    and predicts any time jump in one step (Daigavane et al., arXiv:2211.15338). A time slider
    and a play button (animated in the browser, no kernel round trip per frame) move a marker
    along the trajectories; the jump slider asks the kernel for new predictions.

    Jump ``k`` (in steps of the time grid): each model predicts, from ``x_true[0]`` and in one
    ``predict`` call, the states at the elapsed times ``t[j k] - t[0]``, j = 0 .. (T-1) // k
    (``k dt j`` on an even grid). The true trajectory is known on the grid only, so the
    predicted points stop at the last grid time (no extrapolation beyond ``t[-1]``). ``errors``
    holds each model's mean squared error against ``x_true[j k]`` over j >= 1 (the start is an
    input, not a prediction) and all D coordinates.

    Args:
        t: ``(T,)`` strictly increasing times of the true trajectory, T >= 2.
        x_true: ``(T, D)`` the true states at those times, ``D = 2 n_dof``,
            ``x = (q_1 .. q_n, p_1 .. p_n)``.
        models: name -> object with ``predict(x0, t)``: ``x0`` of shape ``(1, D)``, ``t`` the
            ``(J,)`` elapsed times after ``x0``, returning ``(1, J, D)`` states. A
            ``torch.nn.Module`` gets its parameters' dtype and device, anything else float64,
            always under ``torch.no_grad()``.
        action_angle: optional map ``x (N, D) -> (I (N, n_dof), theta (N, n_dof))``, e.g. a
            trained network's ``to_action_angle``; applied to the true and the predicted states.
            Without it the right-hand plot stays empty.
        dof: the degree of freedom shown, in [0, n_dof).
        jump: the jump size k in grid steps, in [1, T - 1].
        title: heading shown above the widget.

    All numbers are computed here; the front end only draws and sends the time index, the
    degree of freedom and the jump back.
    """

    _esm = widget_esm("action_angle.js", ("plotly",))
    _css = widget_css("action_angle.css")

    # set by the controls or from Python
    dof = traitlets.Int(0).tag(sync=True)
    jump = traitlets.Int(1).tag(sync=True)
    time_index = traitlets.Int(0).tag(sync=True)

    # computed here, drawn there
    title = traitlets.Unicode("").tag(sync=True)
    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_dof = traitlets.Int(1).tag(sync=True)
    max_jump = traitlets.Int(1).tag(sync=True)
    times = traitlets.List(traitlets.Float()).tag(sync=True)
    jump_time = traitlets.Float(0.0).tag(sync=True)
    has_action_angle = traitlets.Bool(False).tag(sync=True)
    true = traitlets.Dict().tag(sync=True)
    predictions = traitlets.Dict().tag(sync=True)
    errors = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        t: Any,
        x_true: Any,
        models: Mapping[str, Any],
        action_angle: ActionAngleMap | None = None,
        dof: int = 0,
        jump: int = 1,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        if not isinstance(models, Mapping) or not models:
            raise ValueError("models must be a non-empty dict: name -> object with .predict(x0, t)")
        for name, model in models.items():
            if not isinstance(name, str) or not callable(getattr(model, "predict", None)):
                raise ValueError(
                    f"models must map names (str) to objects with a .predict(x0, t) method; "
                    f"got {name!r}: {model!r}"
                )
        if action_angle is not None and not callable(action_angle):
            raise ValueError(
                f"action_angle must be a callable x (N, D) -> (I, theta) or None; "
                f"got {action_angle!r}"
            )
        self._t, self._x = self._validate_trajectory(t, x_true)
        n_steps, dim = self._x.shape
        self._models = dict(models)
        self._action_angle = action_angle
        self._computed: int | None = None  # the jump whose predictions are published
        dof = _index(dof, "dof", 0, dim // 2)
        jump = _index(jump, "jump", 1, n_steps)
        self._aa_true = self._to_action_angle(self._x, "the true trajectory")
        # The first predictions go into the state the widget opens with, so that the front
        # end never sees a widget without data (no race with a later update message).
        pred, aa = self._run_models(jump)
        super().__init__(
            title=title,
            model_names=list(self._models),
            n_dof=dim // 2,
            max_jump=n_steps - 1,
            times=_to_list(self._t),
            has_action_angle=action_angle is not None,
            dof=dof,
            jump=jump,
            **self._prediction_state(jump, dof, pred, aa),
            **kwargs,
        )
        self._pred, self._aa_pred, self._computed = pred, aa, jump

    # --- public API -------------------------------------------------------------------------

    @property
    def jump_indices(self) -> np.ndarray:
        """Grid indices ``0, k, 2k, ...`` (< T) of the predicted points at the current jump."""
        return np.arange(0, len(self._t), self.jump)

    @property
    def predicted(self) -> dict[str, np.ndarray]:
        """name -> ``(J, D)`` float64 states each model predicted at ``t[jump_indices]``."""
        return {name: x.copy() for name, x in self._pred.items()}

    # --- validation ---------------------------------------------------------------------------

    @staticmethod
    def _validate_trajectory(t: Any, x_true: Any) -> tuple[np.ndarray, np.ndarray]:
        t = _as_tensor(t, "t")
        x = _as_tensor(x_true, "x_true")
        for name, a in (("t", t), ("x_true", x)):
            if a.dtype == torch.bool or a.is_complex():
                raise ValueError(f"{name} must hold real numbers; got {a.dtype}")
        if t.ndim != 1 or t.shape[0] < 2:
            raise ValueError(f"t must have shape (T,) with T >= 2; got {tuple(t.shape)}")
        if x.ndim != 2 or x.shape[0] != t.shape[0] or x.shape[1] == 0 or x.shape[1] % 2:
            raise ValueError(
                f"x_true must have shape (T, D) = ({t.shape[0]}, 2 n_dof) to match t, with "
                f"x = (q, p); got {tuple(x.shape)}"
            )
        t, x = t.to(torch.float64).numpy(), x.to(torch.float64).numpy()
        if not np.isfinite(t).all():
            raise ValueError("t contains NaN or infinite times")
        if not np.isfinite(x).all():
            bad = sorted({int(i) for i in np.nonzero(~np.isfinite(x))[0]})
            raise ValueError(f"x_true contains NaN or infinite values at time indices {bad[:10]}")
        if not (np.diff(t) > 0).all():
            raise ValueError(f"t must be strictly increasing; got {t[:6].tolist()}...")
        return t, x

    @traitlets.validate("dof")
    def _check_dof(self, proposal: dict) -> int:
        return _index(proposal["value"], "dof", 0, self.n_dof)

    @traitlets.validate("jump")
    def _check_jump(self, proposal: dict) -> int:
        return _index(proposal["value"], "jump", 1, len(self._t))

    @traitlets.validate("time_index")
    def _clip_time(self, proposal: dict) -> int:
        return min(max(int(proposal["value"]), 0), len(self._t) - 1)

    # --- computation --------------------------------------------------------------------------

    def _to_action_angle(self, x: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(I, theta), each (N, n_dof) float64 with theta in [-pi, pi), of the (N, D) states."""
        if self._action_angle is None:
            return None
        dtype, device = _dtype_of(self._action_angle)
        with torch.no_grad():
            out = self._action_angle(torch.as_tensor(x).to(device=device, dtype=dtype))
        shape = (x.shape[0], x.shape[1] // 2)
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise ValueError(
                f"action_angle must return a pair (I, theta); got {type(out).__name__} for {what}"
            )
        actions, angles = (_as_tensor(a, "action_angle output").to(torch.float64) for a in out)
        if tuple(actions.shape) != shape or tuple(angles.shape) != shape:
            raise ValueError(
                f"action_angle returned I {tuple(actions.shape)} and theta "
                f"{tuple(angles.shape)} for {what}; expected both (N, n_dof) = {shape}"
            )
        if not (torch.isfinite(actions).all() and torch.isfinite(angles).all()):
            raise ValueError(f"action_angle returned NaN or infinite values for {what}")
        return actions.numpy(), wrap_angle(angles.numpy())

    def _run_model(self, name: str, model: Any, jump: int) -> np.ndarray:
        """Model ``name``'s (J, D) float64 states at ``t[0], t[jump], ...``, predicted from
        ``x_true[0]``."""
        index = np.arange(0, len(self._t), jump)
        dtype, device = _dtype_of(model)
        elapsed = self._t[index] - self._t[0]
        with torch.no_grad():
            out = model.predict(
                torch.as_tensor(self._x[:1]).to(device=device, dtype=dtype),
                torch.as_tensor(elapsed).to(device=device, dtype=dtype),
            )
        if not (torch.is_tensor(out) or isinstance(out, np.ndarray)):
            raise ValueError(f"model {name!r} returned {type(out).__name__}, not a tensor")
        out = _as_tensor(out, f"model {name!r} output").to(torch.float64)
        expected = (1, len(index), self._x.shape[1])
        if tuple(out.shape) != expected:
            raise ValueError(
                f"model {name!r} returned states of shape {tuple(out.shape)} for {len(index)} "
                f"times; expected (1, J, D) = {expected}"
            )
        if not torch.isfinite(out).all():
            raise ValueError(f"model {name!r} predicted NaN or infinite states at jump {jump}")
        return out[0].numpy()

    def _run_models(self, jump: int) -> tuple[dict, dict]:
        """Every model's (J, D) predictions at ``jump`` and their (I, theta) (or None)."""
        pred = {name: self._run_model(name, m, jump) for name, m in self._models.items()}
        aa = {name: self._to_action_angle(x, f"model {name!r}") for name, x in pred.items()}
        return pred, aa

    def _prediction_state(self, jump: int, dof: int, pred: dict, aa: dict) -> dict[str, Any]:
        """The synced traits that depend on the predictions: errors, jump_time, the series."""
        truth = self._x[np.arange(0, len(self._t), jump)]
        return {
            "errors": {name: float(np.mean((x[1:] - truth[1:]) ** 2)) for name, x in pred.items()},
            "jump_time": float(self._t[jump] - self._t[0]),
            **self._series_state(jump, dof, pred, aa),
        }

    def _predict(self, jump: int) -> None:
        """Every model's predictions and errors at ``jump``, then publish them."""
        pred, aa = self._run_models(jump)
        state = self._prediction_state(jump, self.dof, pred, aa)
        self._pred, self._aa_pred, self._computed = pred, aa, jump
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)

    def _series(self, x: np.ndarray, aa: tuple[np.ndarray, np.ndarray] | None, dof: int) -> dict:
        """What the plots need of (N, D) states: q, p, I, theta of degree of freedom ``dof``."""
        n = x.shape[1] // 2
        actions, angles = aa if aa is not None else (np.zeros((0, n)), np.zeros((0, n)))
        return {
            "q": _to_list(x[:, dof]),
            "p": _to_list(x[:, n + dof]),
            "I": _to_list(actions[:, dof]),
            "theta": _to_list(angles[:, dof]),
        }

    def _series_state(self, jump: int, dof: int, pred: dict, aa: dict) -> dict[str, Any]:
        """The ``true`` and ``predictions`` traits for the given jump and degree of freedom."""
        index = [int(i) for i in np.arange(0, len(self._t), jump)]
        return {
            "true": self._series(self._x, self._aa_true, dof),
            "predictions": {
                name: {"index": index, **self._series(x, aa[name], dof)} for name, x in pred.items()
            },
        }

    def _publish(self) -> None:
        state = self._series_state(self._computed, self.dof, self._pred, self._aa_pred)
        with self.hold_sync():
            self.true, self.predictions = state["true"], state["predictions"]

    @traitlets.observe("jump")
    def _on_jump(self, change: dict) -> None:
        if self._computed is None or change["new"] == self._computed:
            return
        try:
            self._predict(change["new"])
        except Exception:
            self.jump = change["old"]  # keep the jump and the predictions shown consistent
            raise

    @traitlets.observe("dof")
    def _on_dof(self, change: dict) -> None:
        if self._computed is not None:
            self._publish()


# ----------------------------------------------------------------------------- jump figure

JUMP_METRICS = {
    "mse": "mean squared error",
    "energy_drift": "relative energy drift |H(x̂) − H(x₀)| / |H(x₀)|",
    "seconds": "predict time (s)",
}
_PALETTE = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037")


def jump_figure(
    result_or_table: Any,
    metrics: Sequence[str] = ("mse", "seconds"),
    title: str = "",
) -> Any:
    """Log-log curves of each model's metrics against the jump size, side by side (plotly).

    Args:
        result_or_table: an ``ActionAngleResult`` (its ``errors_vs_jump`` is drawn) or a
            DataFrame with one row per (model, jump): columns ``model``, ``jump`` and the
            ``metrics``, as ``workbench.experiments.action_angle.evaluate`` writes them.
        metrics: the columns to draw, one panel each, among ``mse``, ``energy_drift`` and
            ``seconds`` (any other numeric column works too, labelled by its name).
        title: the figure's title.

    Returns a ``plotly.graph_objects.Figure`` with one trace per (metric, model), in the
    table's model order, the same colour for a model in every panel; both axes logarithmic.
    Values <= 0 cannot be drawn on a log axis and raise ValueError instead of vanishing.
    """
    from plotly.subplots import make_subplots

    table = getattr(result_or_table, "errors_vs_jump", result_or_table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            "result_or_table must be an ActionAngleResult or a DataFrame with columns "
            f"model, jump and the metrics; got {type(result_or_table).__name__}"
        )
    if isinstance(metrics, str) or not metrics:
        raise ValueError(f"metrics must be a non-empty sequence of column names; got {metrics!r}")
    missing = [c for c in ("model", "jump", *metrics) if c not in table.columns]
    if missing:
        raise ValueError(
            f"the table lacks the columns {missing}; it has {list(table.columns)} "
            "(expected one row per (model, jump) with columns model, jump and the metrics)"
        )
    if table.empty:
        raise ValueError("the table has no rows: nothing to draw")
    for metric in ("jump", *metrics):
        values = pd.to_numeric(table[metric], errors="coerce")
        bad = table.loc[~(values > 0) | ~np.isfinite(values), ["model", "jump", metric]]
        if len(bad):
            raise ValueError(
                f"column {metric!r} must hold finite numbers > 0 for log axes; bad rows:\n"
                f"{bad.head().to_string(index=False)}"
            )

    fig = make_subplots(rows=1, cols=len(metrics), horizontal_spacing=0.1)
    models = list(dict.fromkeys(table["model"]))
    for col, metric in enumerate(metrics, start=1):
        for k, name in enumerate(models):
            rows = table[table["model"] == name].sort_values("jump")
            fig.add_scatter(
                x=rows["jump"].to_numpy(dtype=float),
                y=rows[metric].to_numpy(dtype=float),
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                mode="lines+markers",
                line={"color": _PALETTE[k % len(_PALETTE)]},
                hovertemplate=f"{name}<br>jump %{{x}}<br>{metric} %{{y:.3g}}<extra></extra>",
                row=1,
                col=col,
            )
        fig.update_xaxes(type="log", title_text="jump (steps of dt)", row=1, col=col)
        fig.update_yaxes(type="log", title_text=JUMP_METRICS.get(metric, metric), row=1, col=col)
    fig.update_layout(
        title=title or None,
        height=400,
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 50},
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.22},
    )
    return fig
