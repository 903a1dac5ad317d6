"""Python side of the widgets (the browser side is in tests/browser)."""

from __future__ import annotations

import math
import re

import pytest
import torch
from e3nn import o3

from widgets import EquivarianceCheck
from widgets._assets import widget_esm
from widgets.equivariance import component_labels
from workbench.checks import SO3


def test_component_labels_match_dimensions():
    irreps = "2x0e + 1x1o + 1x2e"
    labels = component_labels(irreps)
    assert len(labels) == o3.Irreps(irreps).dim == 10
    assert labels[:3] == ["0e#0", "0e#1", "1o#0 m=-1"]


def test_check_passes_and_follows_the_chosen_transform():
    torch.manual_seed(0)
    linear = o3.Linear("2x0e + 2x1o", "1x0e + 1x1o")
    check = EquivarianceCheck(linear, "2x0e + 2x1o", "1x0e + 1x1o", n_samples=5, title="lin")
    assert check.passed and len(check.samples) == 5
    assert check.view["rel_error"] == 0.0  # identity transform
    before = check.view["gx"]
    check.alpha, check.inversion = 1.0, True
    assert check.view["gx"] != before
    assert check.passed and check.view["rel_error"] < 1e-5
    # f(gx) and g f(x) are what the browser draws; they agree for an equivariant map.
    assert torch.allclose(
        torch.tensor(check.view["f_gx"]), torch.tensor(check.view["g_fx"]), atol=1e-5
    )
    assert check.summary.startswith("equivariant")


def test_check_fails_for_a_broken_model():
    linear = o3.Linear("1x1o", "1x1o")
    check = EquivarianceCheck(lambda x: linear(x) + 1.0, "1o", "1o", n_samples=4)
    assert not check.passed and "NOT equivariant" in check.summary
    assert not any(s["passed"] for s in check.samples)


def test_angles_are_wrapped_and_clipped():
    check = EquivarianceCheck(lambda x: x, "1o", "1o", n_samples=2)
    check.alpha, check.beta = 7.0, 4.0
    assert math.isclose(check.alpha, 7.0 - 2 * math.pi) and check.beta == math.pi


def test_so3_hides_inversion():
    check = EquivarianceCheck(lambda x: x, "1o", "1o", n_samples=2, group=SO3)
    assert not check.has_inversion and check.group_name == "SO(3)"
    check.inversion = True  # a stale browser toggle is ignored, not applied
    assert not check.element.inversion


def test_widget_rejects_several_inputs_and_bad_irreps():
    with pytest.raises(ValueError, match="one input and one output"):
        EquivarianceCheck(lambda x, y: x, ["1o", "1o"], "1o")
    with pytest.raises(ValueError, match="invalid irreps"):
        EquivarianceCheck(lambda x: x, "1q", "1o")


def test_plotly_is_inlined_not_loaded_from_a_cdn():
    esm = widget_esm("equivariance.js", ("plotly",))
    assert "plotly.js v" in esm[:2000] and "export default" in esm
    assert len(esm) > 1_000_000  # the whole library ships inside the widget
    own = (widget_esm("equivariance.js", ())).lower()
    assert not re.search(r"https?://", own), "widget code must not reference remote URLs"
    with pytest.raises(ValueError, match="unknown front-end library"):
        widget_esm("equivariance.js", ("d3",))


# --- IrrepsExplorer ---------------------------------------------------------------------


def test_irreps_explorer_computes_everything_in_python(monkeypatch):
    from widgets import IrrepsExplorer
    from widgets import irreps as irreps_module

    w = IrrepsExplorer("SU(3)", "(1,1)", "(1,1)")
    assert [d["label"] for d in w.decomposition] == ["(0,0)", "(1,1)", "(0,3)", "(3,0)", "(2,2)"]
    assert sum(d["mul"] * d["dim"] for d in w.decomposition) == 64
    assert w.residual < 1e-10 and w.cg_view["paths"] == 1 and w.cg_view["shape"] == [8, 8, 27]
    w.irrep_c = "(1,1)"
    assert w.cg_view["paths"] == 2
    # the octet's non-zero weights sit on a regular hexagon in the Killing-form geometry
    xy = torch.tensor(w.weights["a"]["xy"])
    radii = xy.norm(dim=1)
    assert torch.allclose(radii[radii > 1e-9], radii[radii > 1e-9][0].expand(6))
    w.group_name = "SO(1,3)"
    assert w.irrep_a == "(1,1)" and not w.compact
    seen = []
    monkeypatch.setattr(
        irreps_module, "intertwiner_residual", lambda *args: seen.append(args[-1]) or 0.5
    )
    w.rapidity = 2.5  # every control recomputes the check with the element it describes
    w.angle = 1.25
    assert [g.factors[1][5] for g in seen] == [2.5, 2.5] and seen[-1].factors[0][2] == 1.25
    assert w.residual == 0.5
    monkeypatch.undo()
    w.rapidity = 3.0
    assert w.residual < 1e-10
    w.irrep_a = "(1,0)"  # a spinor is not an SO(1,3) irrep: shown as an error, not raised
    assert "l + k" in w.error


def test_irreps_explorer_rejects_unknown_groups():
    from widgets import IrrepsExplorer

    with pytest.raises(ValueError, match="unknown group"):
        IrrepsExplorer("E8")


# --- the first message to the front end -------------------------------------------------


def _opened_state(monkeypatch, make):
    """The widget ``make()`` builds and the state its comm opened with."""
    import ipywidgets.widgets.widget as widget_module

    opened = []
    real = widget_module.comm.create_comm

    def create_comm(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create_comm)
    widget = make()
    (state,) = [s for s in opened if s.get("_model_name") == "AnyModel"]  # not its Layout
    # nothing changed after the comm opened: the first message is the widget's whole state
    assert state == {k: v for k, v in widget.get_state().items() if k in state}
    return widget, state


def test_equivariance_check_opens_with_the_whole_state(monkeypatch):
    """The front end's first message already holds the view of the current transform:
    nothing it needs comes in a later update (which a busy browser still loading the module
    could miss)."""
    linear = o3.Linear("1x0e + 1x1o", "1x1o")
    _, state = _opened_state(
        monkeypatch, lambda: EquivarianceCheck(linear, "1x0e + 1x1o", "1x1o", n_samples=3)
    )
    assert set(state["view"]) >= {"x", "gx", "fx", "f_gx", "g_fx", "rel_error", "passed"}
    assert len(state["view"]["gx"]) == 4 and state["view"]["rel_error"] == 0.0
    assert len(state["samples"]) == 3 and state["passed"]
    assert state["summary"].startswith("equivariant")
    # a transform given to the constructor is in the first view too
    _, state = _opened_state(
        monkeypatch, lambda: EquivarianceCheck(linear, "1x0e + 1x1o", "1x1o", beta=1.0)
    )
    assert state["beta"] == 1.0 and state["view"]["gx"] != state["view"]["x"]


def test_irreps_explorer_opens_with_the_whole_state(monkeypatch):
    """The front end's first message already holds the chosen group, irreps and their views;
    traits given to the constructor (e.g. the angle) are used, not an error."""
    from widgets import IrrepsExplorer

    _, state = _opened_state(monkeypatch, lambda: IrrepsExplorer("SU(2)", "1", "1/2"))
    assert state["group_name"] == "SU(2)" and (state["irrep_a"], state["irrep_b"]) == ("1", "1/2")
    assert [d["label"] for d in state["decomposition"]] == ["1/2", "3/2"]
    assert state["choices"] and state["cg_view"]["re"] and state["generator_view"]["re"]
    assert set(state["weights"]) == {"a", "b", "c"}
    assert state["residual"] < 1e-10 and state["error"] == ""
    explorer, state = _opened_state(monkeypatch, lambda: IrrepsExplorer("SO(1,3)", angle=1.25))
    assert state["angle"] == 1.25 and state["irrep_a"] == "(1,1)" and not state["compact"]
    assert state["residual"] < 1e-10 and state["cg_view"]["re"]
    explorer.angle = 2.0  # the controls still recompute after the constructor
    assert explorer.angle == 2.0 and explorer.residual < 1e-10
