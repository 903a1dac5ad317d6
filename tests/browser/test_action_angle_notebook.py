"""Notebook 04 in a real browser: the jump figures render, and the ActionAngleViewer of the
trained models predicts again when its jump slider moves in the page."""

from __future__ import annotations

from .harness import NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="ActionAngleViewer"]'
AAN = "Action-Angle Network"
MODELS = [AAN, "Euler network", "Neural ODE", "Hamiltonian NN"]
# What the kernel holds: the viewer's traitlets, plus the AAN's error at the viewer's current
# jump recomputed here from the model and the fresh trajectory (not from the widget).
STATE = """
import json
_k = view.jump
_x = fresh.x_clean[0]
with torch.no_grad():
    _pred = aan.predict(_x[:1], fresh.t[::_k] - fresh.t[0])[0]
print(json.dumps({
    'jump': view.jump,
    'shown': view.predictions[AAN]['index'][1],
    'points': {name: len(p['q']) for name, p in view.predictions.items()},
    'errors': view.errors,
    'recomputed': float(((_pred[1:] - _x[::_k][1:]) ** 2).mean()),
    'aan_I': view.predictions[AAN]['I'],
    'euler_I': view.predictions['Euler network']['I'],
}))
"""


def _kernel_state(run: NotebookRun, until, timeout: float = 30) -> dict:
    """The viewer as the kernel sees it, once ``until(state)`` holds (polled, not slept)."""
    return run.poll_json(STATE, until, timeout)


def _figures(run: NotebookRun) -> list[dict]:
    """Every plotly figure the notebook's outputs drew (not the widget's own plots)."""
    return run.page.evaluate(
        f"""() => [...document.querySelectorAll('.js-plotly-plot')]
            .filter((p) => !p.closest('{WIDGET}'))
            .map((p) => ({{
                title: p._fullLayout?.title?.text ?? '',
                traces: p.data.length,
                names: p.data.map((d) => d.name),
                xlog: p._fullLayout?.xaxis?.type === 'log',
                ylog: p._fullLayout?.yaxis?.type === 'log',
                svgs: p.querySelectorAll('.main-svg').length,
            }}))"""
    )


def test_action_angle_notebook_viewer_round_trip(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "04_action_angle.ipynb")

    # The jump figures (plotly mimetype outputs) are drawn, on log-log axes, with all models.
    figures = {f["title"]: f for f in _figures(run)}
    jumps = figures["Coupled oscillators: test error and prediction time vs jump"]
    assert jumps["traces"] == 2 * len(MODELS) and jumps["names"][:4] == MODELS
    assert jumps["xlog"] and jumps["ylog"] and jumps["svgs"] >= 1
    toda = figures["Toda lattice vs jump"]
    assert toda["traces"] == 3 * len(MODELS) and toda["xlog"] and toda["ylog"]
    assert "Learned vs true actions on the test trajectories" in figures

    # The viewer renders both plots: truth, 4 models and their 5 time markers in each.
    assert run.page.locator(WIDGET).count() == 1
    assert run.page.locator(f"{WIDGET} .wb-aa-plot .main-svg").count() >= 2
    traces = run.page.evaluate(
        f"""() => [...document.querySelectorAll('{WIDGET} [data-plot]')]
            .map((p) => p.data.length)"""
    )
    assert traces == [10, 10]
    start = _kernel_state(run, lambda s: s["jump"] == s["shown"] == 10)
    assert start["points"] == dict.fromkeys(MODELS, 41)  # 0, 10, ..., 400

    # Move the jump slider in the page: the kernel must receive it and predict again.
    run.page.evaluate(
        f"""() => {{
            const slider = document.querySelector('{WIDGET} input[name="jump"]');
            slider.value = '25';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}"""
    )
    # wait for the new jump's predictions, not just the jump (the kernel may answer this
    # request while it is still handling the slider's message)
    state = _kernel_state(
        run,
        lambda s: s["jump"] == s["shown"] == 25 and s["errors"][AAN] != start["errors"][AAN],
    )
    assert state["points"] == dict.fromkeys(MODELS, 17)  # 0, 25, ..., 400
    # the viewer's AAN error is the model's own prediction error at the new jump
    assert abs(state["errors"][AAN] - state["recomputed"]) <= 1e-9 * state["recomputed"]
    # actions are conserved by construction along the AAN's prediction, not along Euler's
    aan_spread = max(state["aan_I"]) - min(state["aan_I"])
    assert aan_spread < 1e-9 * max(state["aan_I"])
    assert max(state["euler_I"]) - min(state["euler_I"]) > 1e3 * max(aan_spread, 1e-15)

    # The new errors come back to the page's read-outs.
    run.page.wait_for_function(
        f"""(e) => {{
            const w = document.querySelector('{WIDGET}');
            return Number(w.querySelector('input[name="jump"]').value) === 25
                && JSON.stringify(JSON.parse(w.dataset.errors)) === JSON.stringify(e);
        }}""",
        arg=state["errors"],
    )
    assert run.page.evaluate(
        f"() => JSON.parse(document.querySelector('{WIDGET}').dataset.points)"
    ) == dict.fromkeys(MODELS, 17)
    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000
    run.assert_clean()
    run.page.close()  # five plotly figures and a widget: free the browser for the next tests
