"""JetViewer in a real browser: the three panels render, the boost round-trips to the kernel."""

from __future__ import annotations

import json

from .harness import HarnessFailure, NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="JetViewer"]'
STATE = (
    "import json; print(json.dumps({'index': viewer.index, 'label': viewer.label, "
    "'axis': viewer.axis, 'rapidity': viewer.rapidity, 'scores': viewer.scores, "
    "'reference': viewer.reference_scores, 'spread': viewer.spread, 'mass': viewer.mass, "
    "'reference_mass': viewer.reference_mass, 'start': start, 'labels': labels.tolist()}))"
)


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const plot = (name) => w.querySelector(`[data-plot="${{name}}"]`);
            const trace = (name, prefix) => plot(name).data.find((d) => d.name.startsWith(prefix));
            return {{
                data: {{ ...w.dataset }},
                scores: JSON.parse(w.dataset.scores),
                spread: JSON.parse(w.dataset.spread),
                rapidity: Number(w.querySelector('input[name="rapidity"]').value),
                axis: w.querySelector('select[name="axis"]').value,
                index: Number(w.querySelector('input[name="index"]').value),
                svgs: w.querySelectorAll('.wb-jet-plot .main-svg').length,
                constituents: plot('constituents').querySelectorAll('.scatterlayer .point').length,
                boostedEta: trace('constituents', 'boosted').x,
                restEta: trace('constituents', 'at rest').x,
                bars: plot('mass').querySelectorAll('.bars .point').length,
                massLine: plot('mass').layout.shapes[0].x0,
                curves: plot('scores').querySelectorAll('.scatterlayer .trace').length,
                readouts: w.querySelectorAll('.wb-jet-model').length,
                badge: w.querySelector('.wb-jet-badge').textContent,
            }};
        }}"""
    )


def _kernel_state_after(
    run: NotebookRun, changed: str, what: str, arg=None, timeout: float = 15
) -> dict:
    """Wait until the page shows numbers that only the kernel computes (the JS expression
    ``changed`` of the widget ``w`` and ``arg`` turns true), then read the widget's traitlets
    in the kernel.

    Waiting on the page rather than polling the kernel: ipykernel may run an execute request
    while a widget message is still being handled, and see half-updated traits.
    """
    try:
        run.page.wait_for_function(
            f"(arg) => {{ const w = document.querySelector('{WIDGET}'); return {changed}; }}",
            arg=arg,
            timeout=timeout * 1000,
        )
    except Exception as err:
        raise HarnessFailure(f"the page never showed {what}: {run.kernel(STATE)}") from err
    return json.loads(run.kernel(STATE))


def _wait_for_dom_scores(run: NotebookRun, scores: dict) -> None:
    """What Python computed came back to the page."""
    run.page.wait_for_function(
        f"""(s) => JSON.stringify(JSON.parse(document.querySelector('{WIDGET}').dataset.scores))
            === JSON.stringify(s)""",
        arg=scores,
    )


# the page shows scores other than ``arg`` (a dict name -> score)
SCORES_CHANGED = "Object.entries(JSON.parse(w.dataset.scores)).some(([k, v]) => v !== arg[k])"


def test_jets_render_and_round_trip(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "jets_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    state = json.loads(run.kernel(STATE))
    start = state["start"]
    dom = _dom(run)
    assert dom["svgs"] >= 3, "plotly did not draw all three panels"
    n = int(run.kernel("print(viewer.n_constituents)"))
    assert dom["constituents"] >= 2 * n, "constituents at rest and boosted, one marker each"
    assert dom["bars"] > 0 and dom["curves"] == 4  # a curve and a marker per tagger
    assert dom["readouts"] == 2 and dom["badge"] == "top" and dom["data"]["label"] == "1"
    assert dom["scores"] == start and dom["index"] == 1 and dom["axis"] == "z"
    assert float(dom["data"]["mass"]) == state["mass"] == dom["massLine"]
    assert 140 < state["mass"] < 220  # a top jet

    # Browser -> Python: drag the rapidity slider; the kernel boosts the jet along z.
    run.page.evaluate(
        f"""() => {{
            const slider = document.querySelector('{WIDGET} input[name="rapidity"]');
            slider.value = '1.5';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}"""
    )
    state = _kernel_state_after(run, SCORES_CHANGED, "new scores after the boost", start)
    assert state["rapidity"] == 1.5  # the kernel saw the slider
    assert abs(state["scores"]["invariant"] - start["invariant"]) < 1e-9, "invariant moved"
    assert abs(state["scores"]["baseline"] - start["baseline"]) > 1e-2, "baseline did not move"
    assert abs(state["mass"] - state["reference_mass"]) < 1e-9 * state["mass"]
    dom = _dom(run)
    assert dom["scores"] == state["scores"]  # ...and sent back what it computed
    assert dom["spread"]["baseline"] > 1e-2 and dom["spread"]["invariant"] < 1e-9
    assert float(dom["data"]["rapidity"]) == 1.5
    assert abs(float(dom["data"]["mass"]) - float(dom["data"]["referenceMass"])) < 1e-6
    # along z, massless constituents shift in eta by exactly the rapidity
    shifts = [b - a for a, b in zip(dom["restEta"], dom["boostedEta"], strict=True)]
    assert all(abs(s - 1.5) < 1e-4 for s in shifts), shifts

    # The axis selector: boost along the jet axis instead.
    before = state["scores"]
    run.page.select_option(f'{WIDGET} select[name="axis"]', "jet")
    state = _kernel_state_after(run, SCORES_CHANGED, "new scores on the jet axis", before)
    assert state["axis"] == "jet"
    assert abs(state["scores"]["invariant"] - start["invariant"]) < 1e-9
    assert abs(state["scores"]["baseline"] - start["baseline"]) > 1e-2
    assert _dom(run)["scores"] == state["scores"]

    # "next QCD" asks the kernel for the next QCD jet; the page follows.
    run.page.click(f'{WIDGET} button[name="next-qcd"]')
    changed = "w.dataset.label === '0' && w.querySelector('.wb-jet-badge').textContent === 'QCD'"
    state = _kernel_state_after(run, changed, "a QCD jet")
    assert state["index"] == 2 and state["labels"][2] == 0 and state["label"] == 0
    assert state["mass"] < 120 and _dom(run)["index"] == 2

    # Python -> browser: set the boost from the kernel; the slider follows.
    run.kernel("viewer.index = 1; viewer.axis = 'z'; viewer.rapidity = -1.0")
    run.page.wait_for_function(
        f"""() => Number(document.querySelector('{WIDGET} input[name="rapidity"]').value) === -1
            && document.querySelector('{WIDGET} select[name="axis"]').value === 'z'"""
    )
    state = json.loads(run.kernel(STATE))
    _wait_for_dom_scores(run, state["scores"])
    assert abs(state["scores"]["invariant"] - start["invariant"]) < 1e-9

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000

    # A narrow window: the panels stack and each one shrinks to its container.
    run.page.set_viewport_size({"width": 760, "height": 1000})
    run.page.wait_for_function(
        f"""() => {{
            const plots = [...document.querySelectorAll('{WIDGET} .wb-jet-plot')];
            return plots[1].offsetTop > plots[0].offsetTop && plots.every((p) => {{
                const svg = p.querySelector('.main-svg');
                return svg && svg.getBoundingClientRect().width <= p.clientWidth + 1;
            }});
        }}"""
    )
    run.assert_clean()
