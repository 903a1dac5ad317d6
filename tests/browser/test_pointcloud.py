"""PointCloudView in a real browser: the cloud and the bars render, the pose round-trips."""

from __future__ import annotations

import json
import time

from .harness import HarnessFailure, NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="PointCloudView"]'
STATE = (
    "import json; print(json.dumps({'alpha': view.alpha, 'beta': view.beta, "
    "'reflect': view.reflect, 'probabilities': view.probabilities, 'spread': view.spread, "
    "'start': start}))"
)


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const input = (name) => w.querySelector(`input[name="${{name}}"]`);
            return {{
                alpha: Number(input('alpha').value),
                reflect: input('reflect').checked,
                probabilities: JSON.parse(w.dataset.probabilities),
                top: JSON.parse(w.dataset.top),
                label: Number(w.dataset.label),
                svgs: w.querySelectorAll('.wb-pc-plot .main-svg').length,
                canvases: w.querySelectorAll('[data-plot="cloud"] canvas').length,
                bars: w.querySelectorAll('[data-plot="probabilities"] .bars .point').length,
                readouts: w.querySelectorAll('.wb-pc-model').length,
            }};
        }}"""
    )


def _kernel_state(run: NotebookRun, until, timeout: float = 15) -> dict:
    """The widget's traitlets as the kernel sees them, once ``until(state)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(run.kernel(STATE))
        if until(state):
            return state
        if time.monotonic() > deadline:
            raise HarnessFailure(f"kernel state never matched: {state}")
        run.page.wait_for_timeout(200)


def _tv(p: list[float], q: list[float]) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))


def test_pointcloud_renders_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "pointcloud_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    dom = _dom(run)
    assert dom["svgs"] >= 2, "plotly did not draw both plots"
    assert dom["canvases"] >= 1, "no WebGL canvas for the 3D scatter"
    assert dom["bars"] == 2 * 4, "one bar per model and class"
    assert dom["readouts"] == 2 and dom["label"] == 1
    assert set(dom["top"]) == {"invariant", "baseline"}
    start = json.loads(run.kernel(STATE))["start"]
    assert dom["probabilities"] == start

    # Browser -> Python: move the alpha slider and tick reflect.
    run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const slider = w.querySelector('input[name="alpha"]');
            slider.value = '2.5';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
            w.querySelector('input[name="reflect"]').click();
        }}"""
    )
    state = _kernel_state(run, lambda s: s["reflect"] and abs(s["alpha"] - 2.5) < 1e-9)
    invariant, baseline = state["probabilities"]["invariant"], state["probabilities"]["baseline"]
    assert _tv(invariant, start["invariant"]) < 1e-6, "the invariant model moved"
    assert _tv(baseline, start["baseline"]) > 1e-3, "the baseline did not move"
    assert state["spread"]["baseline"] >= _tv(baseline, start["baseline"]) - 1e-12
    assert state["spread"]["invariant"] < 1e-6
    # ...and what Python computed came back to the page.
    run.page.wait_for_function(
        f"""(p) => JSON.stringify(JSON.parse(document.querySelector('{WIDGET}')
            .dataset.probabilities).baseline) === JSON.stringify(p)""",
        arg=baseline,
    )

    # Python -> browser: set the pose from the kernel; the controls follow.
    run.kernel("view.alpha = 1.0; view.reflect = False")
    run.page.wait_for_function(
        f"""() => Number(document.querySelector('{WIDGET} input[name="alpha"]').value) === 1
            && !document.querySelector('{WIDGET} input[name="reflect"]').checked"""
    )

    # The "random pose" button draws a pose in the page and sends it to Python.
    run.page.click(f'{WIDGET} button[name="random"]')
    _kernel_state(run, lambda s: abs(s["alpha"] - 1.0) > 1e-9 or abs(s["beta"]) > 1e-9)
    assert _dom(run)["svgs"] >= 2

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000

    # A narrow window: the plots stack and each one shrinks to its container.
    run.page.set_viewport_size({"width": 760, "height": 1000})
    run.page.wait_for_function(
        f"""() => {{
            const plots = [...document.querySelectorAll('{WIDGET} .wb-pc-plot')];
            return plots[1].offsetTop > plots[0].offsetTop && plots.every((p) => {{
                const svg = p.querySelector('.main-svg');
                return svg && svg.getBoundingClientRect().width <= p.clientWidth + 1;
            }});
        }}"""
    )
    run.assert_clean()
