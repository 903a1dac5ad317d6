"""ActionAngleViewer in a real browser: both plots render, time and jump round-trip."""

from __future__ import annotations

import json

from .harness import NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="ActionAngleViewer"]'
STATE = (
    "import json; print(json.dumps({'jump': view.jump, 'dof': view.dof, "
    "'time_index': view.time_index, 'errors': view.errors, 'start': start, "
    "'true': view.true, 'points': len(view.jump_indices), "
    "'shown': view.predictions['exact']['index'][1]}))"
)


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const plot = (name) => w.querySelector(`[data-plot="${{name}}"]`);
            // the last traces of each plot are the current-time markers: true, then each model
            const markers = (name) => plot(name).data.slice(-3).map((d) => [d.x[0], d.y[0]]);
            return {{
                time: Number(w.querySelector('input[name="time"]').value),
                jump: Number(w.querySelector('input[name="jump"]').value),
                dof: Number(w.querySelector('select[name="dof"]').value),
                data: {{ ...w.dataset }},
                errors: JSON.parse(w.dataset.errors),
                points: JSON.parse(w.dataset.points),
                svgs: w.querySelectorAll('.wb-aa-plot .main-svg').length,
                phaseTraces: plot('phase').querySelectorAll('.scatterlayer .trace').length,
                aaTraces: plot('action-angle').querySelectorAll('.scatterlayer .trace').length,
                phaseMarkers: markers('phase'),
                aaMarkers: markers('action-angle'),
                readouts: w.querySelectorAll('.wb-aa-model').length,
            }};
        }}"""
    )


def _kernel_state(run: NotebookRun, until, timeout: float = 15) -> dict:
    """The widget's traitlets as the kernel sees them, once ``until(state)`` holds."""
    return run.poll_json(STATE, until, timeout)


def _slide(run: NotebookRun, name: str, value: int) -> None:
    run.page.evaluate(
        f"""() => {{
            const slider = document.querySelector('{WIDGET} input[name="{name}"]');
            slider.value = '{value}';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}"""
    )


def test_action_angle_renders_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "action_angle_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    dom = _dom(run)
    assert dom["svgs"] >= 2, "plotly did not draw both plots"
    # true line + one line per model + the three current-time markers, in both plots
    assert dom["phaseTraces"] == 6 and dom["aaTraces"] == 6
    assert dom["readouts"] == 2 and dom["jump"] == 1 and dom["dof"] == 0
    state = json.loads(run.kernel(STATE))
    start = state["start"]
    assert dom["errors"] == start and dom["points"] == {"exact": 201, "euler": 201}
    assert start["exact"] < 1e-20 < 1e-3 < start["euler"]

    # Time slider: the markers move in the page, the kernel hears the index.
    _slide(run, "time", 120)
    _kernel_state(run, lambda s: s["time_index"] == 120)
    dom = _dom(run)
    assert dom["data"]["timeIndex"] == "120"
    truth = state["true"]
    assert dom["phaseMarkers"][0] == [truth["q"][120], truth["p"][120]]
    assert dom["aaMarkers"][0] == [truth["theta"][120], truth["I"][120]]
    assert dom["phaseMarkers"][1] == dom["phaseMarkers"][0]  # jump 1: exact sits on the truth

    # Play animates in the page only; pausing sends the index it stopped at.
    run.page.click(f'{WIDGET} button[name="play"]')
    run.page.wait_for_function(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            return w.dataset.playing === 'true' && Number(w.dataset.timeIndex) >= 130;
        }}"""
    )
    assert _kernel_state(run, lambda s: True)["time_index"] == 120, "a message per frame"
    run.page.click(f'{WIDGET} button[name="play"]')
    stopped = int(run.page.get_attribute(WIDGET, "data-time-index"))
    assert run.page.get_attribute(WIDGET, "data-playing") == "false" and stopped != 120
    _kernel_state(run, lambda s: s["time_index"] == stopped)

    # Jump slider: the kernel predicts again, the errors come back to the page.
    _slide(run, "jump", 8)
    # (a kernel request may run while the kernel is still handling the slider's message: wait
    # until the predictions of the new jump are published, not just the jump itself)
    state = _kernel_state(
        run,
        lambda s: s["jump"] == s["shown"] == 8 and s["errors"]["euler"] != start["euler"],
    )
    errors = state["errors"]
    assert state["points"] == 26  # 0, 8, ..., 200
    assert errors["exact"] < 1e-20, "the exact flow must stay exact at any jump"
    assert errors["euler"] > 10 * start["euler"], "bigger Euler steps must be worse"
    run.page.wait_for_function(
        f"""(e) => JSON.stringify(JSON.parse(document.querySelector('{WIDGET}')
            .dataset.errors)) === JSON.stringify(e)""",
        arg=errors,
    )
    dom = _dom(run)
    assert dom["points"] == {"exact": 26, "euler": 26}
    # the models' markers sit on their latest predicted point: index 8 * (stopped // 8)
    assert abs(dom["phaseMarkers"][1][0] - truth["q"][8 * (stopped // 8)]) < 1e-9

    # Degree-of-freedom selector.
    run.page.select_option(f'{WIDGET} select[name="dof"]', "1")
    _kernel_state(run, lambda s: s["dof"] == 1)
    q1 = float(run.kernel("print(float(x_true[5, 1]))"))
    run.page.wait_for_function(
        f"""(q) => {{
            const w = document.querySelector('{WIDGET}');
            const phase = w.querySelector('[data-plot="phase"]');
            return w.dataset.dof === '1' && phase.data[0].x[5] === q;
        }}""",
        arg=q1,
    )

    # Python -> browser: set the jump from the kernel; the slider and the errors follow.
    run.kernel("view.jump = 3")
    state = _kernel_state(run, lambda s: s["jump"] == s["shown"] == 3)
    run.page.wait_for_function(
        f"""(e) => {{
            const w = document.querySelector('{WIDGET}');
            return Number(w.querySelector('input[name="jump"]').value) === 3
                && w.dataset.errors === JSON.stringify(e);
        }}""",
        arg=state["errors"],
    )
    assert _dom(run)["svgs"] >= 2

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000

    # A narrow window: the plots stack and each one shrinks to its container.
    run.page.set_viewport_size({"width": 760, "height": 1000})
    run.page.wait_for_function(
        f"""() => {{
            const plots = [...document.querySelectorAll('{WIDGET} .wb-aa-plot')];
            return plots[1].offsetTop > plots[0].offsetTop && plots.every((p) => {{
                const svg = p.querySelector('.main-svg');
                return svg && svg.getBoundingClientRect().width <= p.clientWidth + 1;
            }});
        }}"""
    )
    run.assert_clean()
