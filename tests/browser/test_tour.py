"""The tour notebook in a real browser: widgets render and talk to the kernel both ways."""

from __future__ import annotations

import json

from .harness import run_widget_notebook

WIDGET = '[data-wb-widget="EquivarianceCheck"]'


def _widget_values(run, index: int) -> dict:
    return run.page.evaluate(
        f"""(i) => {{
            const w = document.querySelectorAll('{WIDGET}')[i];
            const value = (name) => w.querySelector(`input[name="${{name}}"]`);
            return {{
                badge: w.querySelector('.wb-eq-badge').textContent,
                alpha: Number(value('alpha').value),
                beta: Number(value('beta').value),
                inversion: value('inversion').checked,
                relError: Number(w.dataset.relError),
                plots: w.querySelectorAll('.wb-eq-plot .main-svg').length,
            }};
        }}""",
        index,
    )


def test_tour_widgets_render_and_round_trip(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "00_tour.ipynb")
    assert run.page.locator(WIDGET).count() == 2

    good, broken = _widget_values(run, 0), _widget_values(run, 1)
    assert good["badge"] == "PASS" and broken["badge"] == "FAIL"
    assert good["plots"] >= 3 and broken["plots"] >= 3, "plotly did not draw the three plots"
    # The notebook set check's angles from Python before the widget was drawn.
    assert abs(good["alpha"] - 1.0) < 1e-9 and abs(good["beta"] - 0.5) < 1e-9

    # Browser -> Python: move the alpha slider and tick the inversion of the first widget.
    run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const slider = w.querySelector('input[name="alpha"]');
            slider.value = '2.5';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
            w.querySelector('input[name="inversion"]').click();
        }}"""
    )
    run.page.wait_for_timeout(500)
    state = json.loads(
        run.kernel(
            "import json; print(json.dumps({'alpha': check.alpha, 'inversion': check.inversion,"
            " 'rel_error': check.view['rel_error'], 'passed': check.passed}))"
        )
    )
    assert abs(state["alpha"] - 2.5) < 1e-9
    assert state["inversion"] is True
    assert state["passed"] and state["rel_error"] < 1e-5

    # Python -> browser: set an angle from the kernel; the slider and the view follow.
    before = _widget_values(run, 0)["relError"]
    run.kernel("check.beta = 1.25")
    run.page.wait_for_function(
        f"""() => Number(document.querySelector('{WIDGET} input[name="beta"]').value) === 1.25"""
    )
    run.page.wait_for_function(
        f"""(before) => Number(document.querySelector('{WIDGET}').dataset.relError) !== before""",
        arg=before,
    )
    # ...and the broken model's badge stays red whatever the transform.
    run.kernel("broken_check.gamma = 0.7")
    assert _widget_values(run, 1)["badge"] == "FAIL"

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 2 and all(p.stat().st_size > 10_000 for p in shots)
    run.assert_clean()
