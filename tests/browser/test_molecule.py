"""MoleculeViewer in a real browser: the vendored 3Dmol.js draws offline, the pose round-trips
through the kernel (the predicted dipole follows), and a Python update reaches the page."""

from __future__ import annotations

import json
import math

from .harness import NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="MoleculeViewer"]'
STATE = (
    "import json; print(json.dumps({'pose': [viewer.alpha, viewer.beta, viewer.gamma], "
    "'pos': viewer.pos.tolist(), 'dipoles': {k: v.tolist() for k, v in viewer.dipoles.items()}, "
    "'seen': calls[-1].tolist(), 'calls': len(calls), 'start': start, "
    "'start_angle': start_angle, 'angle': viewer.frames[0]['comparison']['angle_deg']}))"
)
# Colour classes of the 3D view's pixels (r, g, b in 0-255)
COLOURS = {
    "green": "g > r + 30 && g > b + 30",  # the true arrow (#2e7d32)
    "orange": "r > 150 && r > g + 50 && g > b + 40",  # predicted (#ef6c00)
    "blue": "b > r + 40 && b > g + 10",  # negative charge (oxygen)
}


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const canvas = w.querySelector('.wb-mol-stage canvas');
            // 3Dmol renders with WebGL 2 offscreen and shows the frames through a bitmap
            // renderer (or draws on the canvas directly where OffscreenCanvas is missing)
            const context = canvas && ['bitmaprenderer', 'webgl2', 'webgl']
                .map((kind) => canvas.getContext(kind)).find(Boolean);
            return {{
                canvases: w.querySelectorAll('.wb-mol-stage canvas').length,
                context: context ? context.constructor.name : null,
                width: canvas ? canvas.width : 0,
                pose: JSON.parse(w.dataset.pose),
                arrows: JSON.parse(w.dataset.arrows),
                comparison: JSON.parse(w.dataset.comparison),
                colorbar: JSON.parse(w.dataset.colorbar),
                atoms: Number(w.dataset.atoms),
                bonds: Number(w.dataset.bonds),
                legend: w.querySelectorAll('.wb-mol-arrow').length,
                gradient: w.querySelectorAll('.wb-mol-gradient').length,
                frameHidden: w.querySelector('.wb-mol-frame').hidden,
            }};
        }}"""
    )


def _pixels(run: NotebookRun) -> dict:
    return run.count_pixels(f"{WIDGET} .wb-mol-stage", COLOURS)


def _kernel_state(run: NotebookRun, until, timeout: float = 15) -> dict:
    """The widget's state as the kernel sees it, once ``until(state)`` holds."""
    return run.poll_json(STATE, until, timeout)


def _flat(a) -> list[float]:
    return [y for x in a for y in _flat(x)] if isinstance(a, list) else [a]


def _close(a: list, b: list, tol: float = 1e-9) -> bool:
    """Equal (nested) lists of numbers, to ``tol``."""
    return all(abs(x - y) <= tol for x, y in zip(_flat(a), _flat(b), strict=True))


def _wait_for_arrow(run: NotebookRun, name: str, vector: list[float]) -> None:
    run.page.wait_for_function(
        f"""([name, v]) => {{
            const got = JSON.parse(document.querySelector('{WIDGET}').dataset.arrows)[name];
            return got && got.every((x, i) => Math.abs(x - v[i]) < 1e-9);
        }}""",
        arg=[name, vector],
    )


def test_molecule_renders_offline_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "molecule_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    dom = _dom(run)
    assert dom["canvases"] == 1 and dom["width"] > 300, dom
    assert dom["context"] in {
        "ImageBitmapRenderingContext",
        "WebGL2RenderingContext",
        "WebGLRenderingContext",
    }, dom
    assert dom["atoms"] == 9 and dom["bonds"] == 8 and dom["frameHidden"]
    assert dom["legend"] == 2 and dom["gradient"] == 1
    assert dom["colorbar"]["label"] == "Gasteiger charge"
    assert math.isclose(dom["colorbar"]["vmin"], -0.3967) and dom["colorbar"]["vmax"] == 0.3967
    state = json.loads(run.kernel(STATE))
    assert state["calls"] == 1
    assert _close(dom["arrows"]["true"], state["start"]["true"])
    assert _close(dom["arrows"]["predicted"], state["start"]["predicted"])
    # 3Dmol really drew: atoms (blue oxygen by its charge) and both arrows, in their colours
    pixels = _pixels(run)
    assert pixels["drawn"] > 5000 and pixels["blue"] > 50, pixels
    assert pixels["green"] > 50 and pixels["orange"] > 50, pixels

    # Browser -> Python: move two sliders; the kernel rotates, re-predicts, sends it back.
    run.page.evaluate(
        f"""() => {{
            for (const [name, value] of [['alpha', '1.3'], ['beta', '0.8']]) {{
                const slider = document.querySelector('{WIDGET} input[name="' + name + '"]');
                slider.value = value;
                slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
            }}
        }}"""
    )
    state = _kernel_state(run, lambda s: _close(s["pose"], [1.3, 0.8, 0.0]))
    assert state["calls"] >= 2
    assert _close(state["seen"], state["pos"]), "predict did not see the rotated positions"
    assert not _close(state["dipoles"]["predicted"], state["start"]["predicted"], 1e-3)
    # the stand-in model is equivariant: its angle to the (rotated) true dipole is kept
    assert abs(state["angle"] - state["start_angle"]) < 1e-9
    _wait_for_arrow(run, "predicted", state["dipoles"]["predicted"])
    _wait_for_arrow(run, "true", state["dipoles"]["true"])
    moved = _pixels(run)
    assert moved["orange"] > 50 and moved["green"] > 50, moved

    # Python -> browser: a new true dipole and new per-atom values, pushed live.
    run.kernel(
        "viewer.update(dipoles={'true': [0.0, 0.0, 2.0]}, atom_values=CHARGES * 2); "
        "viewer.alpha = 0.5"
    )
    state = _kernel_state(run, lambda s: _close(s["pose"], [0.5, 0.8, 0.0]))
    _wait_for_arrow(run, "true", state["dipoles"]["true"])
    _wait_for_arrow(run, "predicted", state["dipoles"]["predicted"])
    run.page.wait_for_function(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            return Math.abs(JSON.parse(w.dataset.colorbar).vmax - 0.7934) < 1e-12
                && Number(w.querySelector('input[name="alpha"]').value) === 0.5;
        }}"""
    )
    assert math.isclose(math.hypot(*state["dipoles"]["true"]), 2.0)

    # The style select goes to Python and back; the "random rotation" button too.
    run.page.select_option(f'{WIDGET} select[name="style"]', "stick")
    run.page.wait_for_function(
        f"() => document.querySelector('{WIDGET}').dataset.style === 'stick'"
    )
    assert run.kernel("print(viewer.atom_style)").strip() == "stick"
    run.page.click(f'{WIDGET} button[name="random"]')
    _kernel_state(run, lambda s: not _close(s["pose"], [0.5, 0.8, 0.0]))

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000
    run.assert_clean()  # no console error, and no request left the machine: 3Dmol is inlined
    assert run.blocked_requests == []
