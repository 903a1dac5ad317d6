"""The representation-theory notebook in a real browser: IrrepsExplorer renders and round-trips."""

from __future__ import annotations

from .harness import run_widget_notebook

WIDGET = '[data-wb-widget="IrrepsExplorer"]'


def _state(run) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            return {{
                group: w.querySelector('select[name="group"]').value,
                a: w.querySelector('select[name="a"]').value,
                product: w.querySelector('.wb-ir-product').textContent,
                badge: w.querySelector('.wb-ir-badge').textContent,
                residual: Number(w.dataset.residual),
                plots: w.querySelectorAll('.wb-ir-plot .main-svg').length,
            }};
        }}"""
    )


def test_irreps_explorer_renders_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "01_representation_theory.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    state = _state(run)
    # the notebook switched the explorer to the Lorentz group with a boost before drawing
    assert state["group"] == "SO(1,3)" and state["badge"] == "PASS" and state["residual"] < 1e-10
    assert state["plots"] >= 4

    # Browser -> Python: pick SU(3) in the menu.
    run.page.select_option(f'{WIDGET} select[name="group"]', "SU(3)")
    run.page.wait_for_function(
        f"""() => document.querySelector('{WIDGET} .wb-ir-product').textContent
            .startsWith('(1,0) ⊗ (1,0)')"""
    )
    assert run.kernel("print(explorer.group_name, explorer.irrep_a)").split() == ["SU(3)", "(1,0)"]

    # Python -> browser: the octet squared, 8 x 8 = 1 + 8 + 8 + 10 + 10bar + 27.
    run.kernel("explorer.irrep_a = explorer.irrep_b = '(1,1)'")
    run.page.wait_for_function(
        f"""() => document.querySelector('{WIDGET} .wb-ir-product').textContent
            .includes('2×(1,1)')"""
    )
    state = _state(run)
    assert state["a"] == "(1,1)" and "dimension 64" in state["product"]
    assert state["badge"] == "PASS"
    run.screenshot_widgets(screenshots)
    run.assert_clean()
