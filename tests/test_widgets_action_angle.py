"""ActionAngleViewer, Python side: predictions at each jump, errors, bad input (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from widgets._assets import widget_esm
from widgets.action_angle import ActionAngleViewer, jump_figure, wrap_angle

OMEGA = np.array([1.0, 2.5])  # two independent oscillators, H = sum (p^2 + w^2 q^2) / 2


def exact(x0: np.ndarray, t: np.ndarray, omega: np.ndarray = OMEGA) -> np.ndarray:
    """Exact flow of the oscillators: (T,) times after x0 (D,) -> (T, D)."""
    n = len(omega)
    q0, p0 = x0[:n], x0[n:]
    c, s = np.cos(np.outer(t, omega)), np.sin(np.outer(t, omega))
    return np.concatenate([q0 * c + p0 / omega * s, -q0 * omega * s + p0 * c], axis=1)


def action_angle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The oscillators' action-angle map: I = (p^2 + w^2 q^2) / 2w, theta = atan2(w q, p)."""
    w = torch.as_tensor(OMEGA, dtype=x.dtype)
    q, p = x[..., : len(OMEGA)], x[..., len(OMEGA) :]
    return (p**2 + (w * q) ** 2) / (2 * w), torch.atan2(w * q, p)


class Exact:
    """A perfect model: the exact flow, in float64 tensors."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.dtype, tuple, np.ndarray]] = []

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x0.dtype, tuple(x0.shape), t.numpy().copy()))
        return torch.as_tensor(exact(x0[0].numpy(), t.numpy()))[None]


class Euler:
    """A poor model: explicit Euler steps of the size between the requested times."""

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> np.ndarray:
        n, h = len(OMEGA), float(t[1] - t[0])
        x, out = x0[0].numpy(), []
        for _ in range(len(t)):
            out.append(x)
            x = x + h * np.concatenate([x[n:], -(OMEGA**2) * x[:n]])
        return np.stack(out)[None]  # an array is accepted as well as a tensor


@pytest.fixture
def trajectory() -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 10.0, 201)  # dt = 0.05
    return t, exact(np.array([1.0, 0.3, 0.0, -0.8]), t)


@pytest.fixture
def view(trajectory) -> ActionAngleViewer:
    t, x = trajectory
    return ActionAngleViewer(t, x, {"exact": Exact(), "euler": Euler()}, action_angle, title="osc")


def test_exact_model_is_exact_at_every_jump_and_euler_gets_worse(trajectory, view):
    t, x = trajectory
    assert view.model_names == ["exact", "euler"] and view.title == "osc"
    assert view.n_dof == 2 and view.max_jump == 200 and view.jump == 1 and view.dof == 0
    assert view.has_action_angle and view.times == t.tolist()
    euler_errors = []
    for k in [1, 3, 10, 70, 200]:
        view.jump = k
        index = np.arange(0, 201, k)
        assert np.array_equal(view.jump_indices, index) and math.isclose(view.jump_time, k * 0.05)
        assert np.allclose(view.predicted["exact"], x[index], atol=1e-12, rtol=0)
        assert view.errors["exact"] < 1e-24
        assert view.predictions["exact"]["index"] == index.tolist()
        # the error is the MSE over the predicted points after the start, all coordinates
        mse = np.mean((view.predicted["euler"][1:] - x[index][1:]) ** 2)
        assert view.errors["euler"] == pytest.approx(mse, rel=1e-12)
        euler_errors.append(view.errors["euler"])
    # bigger explicit steps spiral out faster (over the same time span: k = 1, 3, 10), fewer
    # steps pump less energy in (k = 70: 3 steps, k = 200: a single one)
    assert euler_errors[:3] == sorted(euler_errors[:3]) and euler_errors[0] > 0.1
    # one Euler step of 200 dt = 10 from x0 (a check independent of the widget's bookkeeping)
    x0 = x[0]
    step = x0 + 10.0 * np.concatenate([x0[2:], -(OMEGA**2) * x0[:2]])
    assert np.allclose(view.predicted["euler"], [x0, step], atol=1e-12)
    assert view.errors["euler"] == pytest.approx(np.mean((step - x[200]) ** 2))


def test_models_get_the_elapsed_times_once_per_jump(trajectory):
    t, x = trajectory
    t = t + 3.0  # the trajectory need not start at 0: times are elapsed since x_true[0]
    model = Exact()
    view = ActionAngleViewer(t, x, {"exact": model}, jump=40)
    assert len(model.calls) == 1
    dtype, shape, times = model.calls[0]
    assert dtype == torch.float64 and shape == (1, 4)
    assert np.allclose(times, 40 * 0.05 * np.arange(6), atol=1e-12, rtol=0)
    view.dof = 1  # another degree of freedom only re-slices...
    view.time_index = 17  # ...and the time index is drawn in the browser
    assert len(model.calls) == 1
    view.jump = 7
    assert len(model.calls) == 2 and len(model.calls[1][2]) == 29  # 0, 7, ..., 196
    view.jump = 7
    assert len(model.calls) == 2


def test_series_follow_the_chosen_degree_of_freedom(trajectory, view):
    _, x = trajectory
    view.jump = 20
    index = view.jump_indices
    i_true, theta_true = (a.numpy() for a in action_angle(torch.as_tensor(x)))
    for dof in (0, 1):
        view.dof = dof
        assert view.true["q"] == x[:, dof].tolist() and view.true["p"] == x[:, 2 + dof].tolist()
        assert np.allclose(view.true["I"], i_true[:, dof]) and np.ptp(view.true["I"]) < 1e-12
        assert np.allclose(view.true["theta"], wrap_angle(theta_true[:, dof]))
        exact_series = view.predictions["exact"]
        assert np.allclose(exact_series["q"], x[index, dof], atol=1e-12)
        assert np.allclose(exact_series["I"], i_true[index, dof], atol=1e-12)
        # the angle advances by omega * (jump time) per predicted point
        steps = wrap_angle(np.diff(exact_series["theta"]))
        assert np.allclose(steps, wrap_angle(OMEGA[dof] * view.jump_time), atol=1e-9)
    # Euler's explicit steps pump energy in: its action grows along the prediction
    assert np.all(np.diff(view.predictions["euler"]["I"]) > 0)


def test_without_an_action_angle_map(trajectory):
    t, x = trajectory
    view = ActionAngleViewer(t, x, {"exact": Exact()})
    assert not view.has_action_angle
    assert view.true["I"] == [] and view.predictions["exact"]["theta"] == []
    assert len(view.true["q"]) == 201


def test_time_index_is_clipped_to_the_grid(view):
    view.time_index = 500
    assert view.time_index == 200
    view.time_index = -3
    assert view.time_index == 0


class Linear32(torch.nn.Module):
    """A float32 module: the exact flow of one oscillator (omega = 1) as a rotation matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen: list[torch.dtype] = []

    def predict(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.seen.append(x0.dtype)
        assert not torch.is_grad_enabled()
        c, s = torch.cos(t), torch.sin(t)
        q, p = x0[:, :1], x0[:, 1:]
        return self.scale * torch.stack([q * c + p * s, -q * s + p * c], -1)

    def to_action_angle(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen.append(x.dtype)
        q, p = x[..., :1], x[..., 1:]
        return (q**2 + p**2) / 2, torch.atan2(q, p)


def test_modules_run_in_their_own_dtype():
    t = np.linspace(0, 2 * math.pi, 64)
    x = np.stack([np.sin(t), np.cos(t)], axis=1)
    net = Linear32()
    view = ActionAngleViewer(t, x, {"net": net}, action_angle=net.to_action_angle, jump=9)
    assert net.seen and set(net.seen) == {torch.float32}
    assert 1e-15 < view.errors["net"] < 1e-12  # float32 round-off, nothing worse
    assert np.allclose(view.true["I"], 0.5) and np.allclose(view.true["theta"], wrap_angle(t))


def test_a_failing_jump_keeps_the_previous_one(trajectory):
    t, x = trajectory

    class Blows:
        def predict(self, x0, t):
            out = torch.as_tensor(exact(x0[0].numpy(), t.numpy()))[None]
            return out / 0 if len(t) < 10 else out

    view = ActionAngleViewer(t, x, {"blows": Blows()}, jump=5)
    before = view.predictions
    with pytest.raises(ValueError, match=r"'blows' predicted NaN or infinite states at jump 50"):
        view.jump = 50
    assert view.jump == 5 and view.predictions == before and len(view.jump_indices) == 41


def _args(**kwargs):
    t = np.linspace(0, 1, 11)
    args = {"t": t, "x_true": exact(np.array([1.0, 0.0, 0.0, 1.0]), t), "models": {"m": Exact()}}
    args.update(kwargs)
    return args


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t": np.zeros((11, 1))}, r"t must have shape \(T,\) with T >= 2; got \(11, 1\)"),
        ({"t": np.zeros(1), "x_true": np.zeros((1, 2))}, r"T >= 2"),
        ({"x_true": np.zeros((10, 4))}, r"\(T, D\) = \(11, 2 n_dof\).*got \(10, 4\)"),
        ({"x_true": np.zeros((11, 3))}, r"got \(11, 3\)"),
        ({"x_true": np.zeros(11)}, r"got \(11,\)"),
        ({"x_true": np.full((11, 4), np.nan)}, r"x_true contains NaN.*\[0, 1, 2"),
        ({"t": np.r_[np.linspace(0, 1, 10), np.inf]}, "t contains NaN"),
        ({"t": np.r_[0.0, np.linspace(0, 1, 10)]}, "strictly increasing"),
        ({"t": "abc"}, "t must be an array or tensor; got str"),
        ({"t": np.ones(11, dtype=bool)}, "t must hold real numbers"),
        ({"dof": 2}, r"dof must be in \[0, 2\); got 2"),
        ({"dof": -1}, r"dof must be in \[0, 2\)"),
        ({"dof": 0.5}, "dof must be an int"),
        ({"jump": 0}, r"jump must be in \[1, 11\); got 0"),
        ({"jump": 11}, r"jump must be in \[1, 11\); got 11"),
        ({"models": {}}, "non-empty dict"),
        ({"models": {"m": lambda x0, t: x0}}, r"\.predict\(x0, t\) method"),
        ({"action_angle": 3}, "action_angle must be a callable"),
        ({"models": {"m": type("P", (), {"predict": lambda s, x0, t: x0})()}}, r"\(1, 11, 4\)"),
        ({"models": {"m": type("P", (), {"predict": lambda s, x0, t: [0.0]})()}}, "not a tensor"),
        ({"action_angle": lambda x: x}, r"pair \(I, theta\)"),
        ({"action_angle": lambda x: (x, x)}, r"expected both \(N, n_dof\) = \(11, 2\)"),
        ({"action_angle": lambda x: (x[:, :2] / 0, x[:, 2:])}, "NaN or infinite values"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ActionAngleViewer(**_args(**kwargs))


def test_bad_values_set_later_are_refused(view):
    for name, value, match in [
        ("dof", 2, r"dof must be in \[0, 2\)"),
        ("jump", 201, r"jump must be in \[1, 201\)"),
        ("jump", 0, r"\[1, 201\); got 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            setattr(view, name, value)
    assert view.dof == 0 and view.jump == 1


def test_wrap_angle():
    assert np.allclose(
        wrap_angle([0.0, math.pi, 3 * math.pi / 2, -7.0]),
        [0, -math.pi, -math.pi / 2, -7.0 + 2 * math.pi],
    )


def test_esm_inlines_plotly_and_no_remote_urls():
    esm = widget_esm("action_angle.js", ("plotly",))
    assert "plotly.js v" in esm[:2000] and "export default" in esm
    own = widget_esm("action_angle.js", ())
    assert "http://" not in own.lower() and "https://" not in own.lower()
    assert '"data-wb-widget": "ActionAngleViewer"' in own


# ----------------------------------------------------------------------------- jump_figure


def _curves() -> pd.DataFrame:
    """A table like ``evaluate``'s: two models, three jumps, rows not sorted by jump."""
    rows = []
    for model, slope in (("flat", 0.0), ("steep", 1.0)):
        for jump in (100, 1, 10):
            rows.append(
                {
                    "model": model,
                    "jump": jump,
                    "time": 0.1 * jump,
                    "mse": 1e-4 * jump ** (2 * slope) + 1e-6,
                    "energy_drift": 1e-3 * jump**slope,
                    "seconds": 2e-3 if slope == 0 else 1e-4 * jump,
                }
            )
    return pd.DataFrame(rows)


def test_jump_figure_draws_the_tables_numbers_on_log_axes():
    table = _curves()
    fig = jump_figure(table, title="curves")
    assert fig.layout.title.text == "curves"
    assert [(tr.name, tr.xaxis) for tr in fig.data] == [
        ("flat", "x"),
        ("steep", "x"),
        ("flat", "x2"),
        ("steep", "x2"),
    ]
    for trace, metric in zip(fig.data, ["mse", "mse", "seconds", "seconds"], strict=True):
        rows = table[table.model == trace.name].sort_values("jump")
        assert list(trace.x) == [1.0, 10.0, 100.0]
        assert list(trace.y) == rows[metric].tolist()
    # one legend entry per model, the same colour in both panels
    assert [tr.showlegend for tr in fig.data] == [True, True, False, False]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    for axis in ("xaxis", "xaxis2", "yaxis", "yaxis2"):
        assert fig.layout[axis].type == "log"
    assert "error" in fig.layout.yaxis.title.text and "time" in fig.layout.yaxis2.title.text


class _Result:
    """Anything with an ``errors_vs_jump`` table, like an ActionAngleResult."""

    errors_vs_jump = _curves()


def test_jump_figure_takes_a_result_and_other_metrics():
    fig = jump_figure(_Result(), metrics=("energy_drift",))
    assert len(fig.data) == 2 and fig.data[1].name == "steep"
    assert list(fig.data[1].y) == pytest.approx([1e-3, 1e-2, 1e-1])
    assert "energy drift" in fig.layout.yaxis.title.text


@pytest.mark.parametrize(
    ("arg", "kwargs", "error", "match"),
    [
        ([1, 2], {}, TypeError, "ActionAngleResult or a DataFrame.*got list"),
        (_curves().drop(columns="seconds"), {}, ValueError, r"lacks the columns \['seconds'\]"),
        (_curves(), {"metrics": "mse"}, ValueError, "non-empty sequence"),
        (_curves(), {"metrics": ()}, ValueError, "non-empty sequence"),
        (_curves().iloc[:0], {}, ValueError, "no rows"),
        (_curves().assign(mse=0.0), {}, ValueError, r"'mse' must hold finite numbers > 0"),
        (_curves().assign(seconds=np.nan), {}, ValueError, "'seconds' must hold finite"),
    ],
)
def test_jump_figure_refuses_bad_tables(arg, kwargs, error, match):
    with pytest.raises(error, match=match):
        jump_figure(arg, **kwargs)


def test_jump_figure_of_a_real_recipe_run():
    """The tiny recipe's own table: every model's mse and seconds are drawn as measured."""
    from workbench.experiments.action_angle import MODELS, SIZES, run

    recipe = SIZES["tiny"]
    result = run(recipe, progress=False)
    fig = jump_figure(result)
    assert [tr.name for tr in fig.data] == [*MODELS, *MODELS]
    wide = result.table.set_index("model")
    for trace in fig.data:
        column = "mse" if trace.xaxis == "x" else "predict s"
        assert list(trace.x) == list(recipe.jumps)
        assert list(trace.y) == [wide.loc[trace.name, f"{column} @{j}"] for j in recipe.jumps]


def test_the_widget_opens_with_its_first_predictions(trajectory, monkeypatch):
    """The comm opens with the data in its state: a front end that renders before any update
    message still has something to draw."""
    import ipywidgets

    opened = {}
    original = ipywidgets.Widget.open

    def spy(self):
        if isinstance(self, ActionAngleViewer):
            opened.update(self.get_state(["true", "predictions", "errors", "jump_time"]))
        original(self)

    monkeypatch.setattr(ipywidgets.Widget, "open", spy)
    t, x = trajectory
    view = ActionAngleViewer(t, x, {"exact": Exact(), "euler": Euler()}, action_angle, jump=4)
    assert opened["true"]["q"] == x[:, 0].tolist() and len(opened["true"]["I"]) == 201
    assert opened["predictions"]["euler"]["index"] == list(range(0, 201, 4))
    assert opened["errors"] == view.errors and opened["errors"]["euler"] > 0
    assert opened["jump_time"] == pytest.approx(0.2)
