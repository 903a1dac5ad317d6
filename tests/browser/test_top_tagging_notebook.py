"""Notebook 03 in a real browser (quick mode): both JetViewers and the plotly figures render;
dragging the trained taggers' boost slider moves PFN's and ParticleNet's scores while the
Lorentz MACE's stays put, and the kernel's numbers come back to the page."""

from __future__ import annotations

import json

from .harness import HarnessFailure, run_widget_notebook

WIDGET = '[data-wb-widget="JetViewer"]'
TAGGED = f"document.querySelectorAll('{WIDGET}')[1]"  # the viewer with the trained taggers
STATE = (
    "import json; print(json.dumps({'rapidity': tagged.rapidity, 'axis': tagged.axis, "
    "'scores': tagged.scores, 'reference': tagged.reference_scores, 'spread': tagged.spread}))"
)


def test_top_tagging_notebook_boost_round_trip(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "03_top_tagging.ipynb")
    assert run.page.locator(WIDGET).count() == 2
    # the mass and ROC figures (plotly mimetype, drawn by the lab extension, no CDN)
    figures = run.page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".filter((p) => !p.closest('[data-wb-widget]')).length"
    )
    assert figures == 2
    first = run.page.evaluate(
        f"() => document.querySelectorAll('{WIDGET}')[0].querySelectorAll('.wb-jet-model').length"
    )
    assert first == 0  # the first viewer only looks at the jets
    start = json.loads(run.kernel(STATE))
    assert start["rapidity"] == 1.5 and start["axis"] == "jet"  # set by the notebook
    assert set(start["scores"]) == {"Lorentz MACE", "PFN", "ParticleNet"}

    # Browser -> Python: drag the slider; the kernel boosts the jet along its axis.
    run.page.evaluate(
        f"""() => {{
            const slider = {TAGGED}.querySelector('input[name="rapidity"]');
            slider.value = '-1';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}"""
    )
    changed = (
        f"(arg) => Object.entries(JSON.parse({TAGGED}.dataset.scores))"
        ".some(([k, v]) => v !== arg[k])"
    )
    try:
        run.page.wait_for_function(changed, arg=start["scores"], timeout=30_000)
    except Exception as err:
        raise HarnessFailure(f"the page never showed new scores: {run.kernel(STATE)}") from err
    state = json.loads(run.kernel(STATE))
    assert state["rapidity"] == -1.0  # the kernel saw the slider
    reference = state["reference"]
    assert abs(state["scores"]["Lorentz MACE"] - reference["Lorentz MACE"]) < 1e-5
    assert abs(state["scores"]["PFN"] - state["reference"]["PFN"]) > 1e-4, "PFN did not move"
    assert state["spread"]["Lorentz MACE"] < 1e-5
    # Python -> browser: what the kernel computed is shown
    same = (
        f"(arg) => Object.entries(JSON.parse({TAGGED}.dataset.scores))"
        ".every(([k, v]) => v === arg[k])"
    )
    try:
        run.page.wait_for_function(same, arg=state["scores"], timeout=30_000)
    except Exception as err:
        shown = run.page.evaluate(f"() => JSON.stringify({TAGGED}.dataset)")
        raise HarnessFailure(
            f"the page shows {shown}, the kernel has {state}; problems: {run.problems()}"
        ) from err
    run.screenshot_widgets(screenshots)
    run.assert_clean()
