"""BackmapViewer in a real browser: the vendored 3Dmol.js draws beads, generated structure and
ghost offline; the frame slider, the model/sample selectors and the bead toggle round-trip
through the kernel, and a Python-side selection reaches the page."""

from __future__ import annotations

import json
import math

from .harness import NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="BackmapViewer"]'
STATE = (
    "import json; print(json.dumps({'frame': viewer.frame, 'model': viewer.selected_model, "
    "'sample': viewer.sample, 'show_beads': viewer.show_beads, 'readout': viewer.readout, "
    "'color_by': viewer.color_by, 'colorbar': viewer.colorbar, "
    "'rmsd': float(np.sqrt(((samples[viewer.selected_model][viewer.frame, viewer.sample] "
    "- reference[viewer.frame]) ** 2).sum(-1).mean()))}))"
)
# #1e88e5 at 30 % over white or grey (the translucent beads): blue above red, green in between
BEAD = "b > r + 25 && g > r + 5 && b > g + 5"


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const canvas = w.querySelector('.wb-mol-stage canvas');
            const context = canvas && ['bitmaprenderer', 'webgl2', 'webgl']
                .map((kind) => canvas.getContext(kind)).find(Boolean);
            return {{
                canvases: w.querySelectorAll('.wb-mol-stage canvas').length,
                context: context ? context.constructor.name : null,
                width: canvas ? canvas.width : 0,
                atoms: Number(w.dataset.atoms),
                layers: JSON.parse(w.dataset.layers),
                frame: Number(w.dataset.frame),
                readout: JSON.parse(w.dataset.readout),
                text: w.querySelector('.wb-bm-readout').textContent,
                models: [...w.querySelectorAll('select[name="model"] option')].map((o) => o.value),
                samples: w.querySelectorAll('select[name="sample"] option').length,
                model: w.querySelector('select[name="model"]').value,
                sample: w.querySelector('select[name="sample"]').value,
                frameMax: w.querySelector('input[name="frame"]').max,
                beads: w.querySelector('input[name="show_beads"]').checked,
                colors: [...w.querySelectorAll('select[name="color_by"] option')]
                    .map((o) => o.value),
            }};
        }}"""
    )


def _pixels(run: NotebookRun) -> dict:
    return run.count_pixels(f"{WIDGET} .wb-mol-stage", {"bead": BEAD})


def _kernel_state(run: NotebookRun, until, timeout: float = 15) -> dict:
    """The widget's state as the kernel sees it, once ``until(state)`` holds."""
    return run.poll_json(STATE, until, timeout)


def _wait_for_readout(run: NotebookRun, readout: dict) -> None:
    """Until the page shows the readout the kernel computed."""
    run.page.wait_for_function(
        f"""(want) => {{
            const got = JSON.parse(document.querySelector('{WIDGET}').dataset.readout);
            return got.model === want.model && got.sample === want.sample
                && got.frame === want.frame && Math.abs(got.rmsd - want.rmsd) < 1e-12;
        }}""",
        arg=readout,
    )


def test_backmap_renders_offline_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "backmap_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    dom = _dom(run)
    assert dom["canvases"] == 1 and dom["width"] > 300, dom
    assert dom["context"] in {
        "ImageBitmapRenderingContext",
        "WebGL2RenderingContext",
        "WebGLRenderingContext",
    }, dom
    assert dom["layers"] == ["generated", "reference", "bead"]
    assert dom["atoms"] == 22 + 22 + 4, dom  # generated, ghost, beads
    assert dom["models"] == ["noisy", "shifted"] and dom["samples"] == 3
    assert dom["frameMax"] == "4" and dom["beads"] and dom["colors"] == ["element", "bead", "error"]
    start = json.loads(run.kernel(STATE))
    assert dom["readout"] == start["readout"]
    assert math.isclose(start["readout"]["rmsd"], start["rmsd"], rel_tol=1e-12)
    assert "RMSD to reference" in dom["text"] and "t = 0 ps" in dom["text"]
    with_beads = _pixels(run)
    assert with_beads["drawn"] > 5000 and with_beads["bead"] > 2000, with_beads

    # Browser -> Python: the frame slider.
    run.page.evaluate(
        f"""() => {{
            const slider = document.querySelector('{WIDGET} input[name="frame"]');
            slider.value = '3';
            slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
        }}"""
    )
    state = _kernel_state(run, lambda s: s["frame"] == 3)
    assert state["readout"]["frame"] == 3
    assert math.isclose(state["readout"]["rmsd"], state["rmsd"], rel_tol=1e-12)
    _wait_for_readout(run, state["readout"])

    # Browser -> Python: the sample and model selectors.
    run.page.select_option(f'{WIDGET} select[name="sample"]', value="2")
    state = _kernel_state(run, lambda s: s["sample"] == 2)
    assert state["model"] == "noisy" and state["frame"] == 3
    _wait_for_readout(run, state["readout"])
    run.page.select_option(f'{WIDGET} select[name="model"]', value="shifted")
    state = _kernel_state(run, lambda s: s["model"] == "shifted")
    assert state["sample"] == 0  # "shifted" has one sample
    assert math.isclose(state["readout"]["rmsd"], 0.4, rel_tol=1e-9)
    _wait_for_readout(run, state["readout"])
    dom = _dom(run)
    assert dom["samples"] == 1 and dom["sample"] == "0" and dom["frame"] == 3

    # Browser -> Python: hide the beads; the kernel drops their layer and the blue goes.
    run.page.click(f'{WIDGET} input[name="show_beads"]')
    _kernel_state(run, lambda s: not s["show_beads"])
    run.page.wait_for_function(f"() => document.querySelector('{WIDGET}').dataset.atoms === '44'")
    without = _pixels(run)
    assert without["bead"] < with_beads["bead"] / 4, (with_beads, without)

    # Browser -> Python: colour by bead (the mapping); the colour bar comes back.
    run.page.select_option(f'{WIDGET} select[name="color_by"]', value="bead")
    assert _kernel_state(run, lambda s: s["color_by"] == "bead")["colorbar"]["label"] == "bead"
    run.page.wait_for_function(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            return w.dataset.colorBy === 'bead' && JSON.parse(w.dataset.colorbar).label === 'bead';
        }}"""
    )

    # Python -> browser: select a model, sample and frame from the kernel.
    run.kernel("viewer.select('noisy', sample=1, frame=0); viewer.show_beads = True")
    state = _kernel_state(run, lambda s: s["model"] == "noisy" and s["sample"] == 1)
    _wait_for_readout(run, state["readout"])
    run.page.wait_for_function(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            return w.querySelector('select[name="model"]').value === 'noisy'
                && w.querySelector('select[name="sample"]').value === '1'
                && w.querySelector('input[name="frame"]').value === '0'
                && w.querySelector('input[name="show_beads"]').checked
                && w.dataset.atoms === '48';
        }}"""
    )

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000
    run.assert_clean()  # no console error, and no request left the machine: 3Dmol is inlined
    assert run.blocked_requests == []
