"""Notebook 02 in a real browser: the trained models in PointCloudView; MACE's probabilities
stay put when the shape is rotated and reflected from the page, PointNet's move."""

from __future__ import annotations

import json

from .harness import run_widget_notebook

WIDGET = '[data-wb-widget="PointCloudView"]'


def test_mace_notebook_pointcloud_round_trip(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "02_mace_any_group.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    assert run.page.locator(f"{WIDGET} .wb-pc-plot .main-svg").count() >= 2
    start = json.loads(
        run.kernel("import json; print(json.dumps(view.probabilities))")
    )  # after the notebook's randomize(seed=3)

    run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const slider = w.querySelector('input[name="beta"]');
            slider.value = '1.25';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
            w.querySelector('input[name="reflect"]').click();
        }}"""
    )
    run.page.wait_for_timeout(500)
    state = json.loads(
        run.kernel(
            "import json; print(json.dumps({'beta': view.beta, 'p': view.probabilities,"
            " 'spread': view.spread}))"
        )
    )
    assert abs(state["beta"] - 1.25) < 1e-9
    mace_change = max(
        abs(a - b) for a, b in zip(state["p"]["MACE O(3)"], start["MACE O(3)"], strict=True)
    )
    assert mace_change < 1e-5, "the O(3)-invariant MACE moved"
    assert state["spread"]["MACE O(3)"] < 1e-5
    assert state["spread"]["PointNet"] > 1e-4, "the baseline never moved"
    run.screenshot_widgets(screenshots)
    run.assert_clean()
