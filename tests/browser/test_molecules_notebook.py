"""Notebook 05 in a real browser: both molecule viewers draw with the bundled 3Dmol.js, and
turning the molecule from the page's sliders makes the kernel re-run the trained Equiformer,
whose predicted dipole turns with the molecule: pred(R x) = R pred(x)."""

from __future__ import annotations

import json
import math
import time

from .harness import HarnessFailure, NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="MoleculeViewer"]'
TITLE = "Equiformer on"
# the viewer with the model, found by its title
FIND = f"""Array.from(document.querySelectorAll('{WIDGET}')).find(
    (w) => w.querySelector('.wb-mol-title').textContent.startsWith('{TITLE}'))"""
STATE = (
    "import json, numpy as np; R = viewer.matrix(); d = viewer.dipoles; "
    "print(json.dumps({'pose': [viewer.alpha, viewer.beta, viewer.gamma], "
    "'predicted': d['predicted'].tolist(), 'true': d['true'].tolist(), "
    "'rotated_start': (R @ START['predicted']).tolist(), "
    "'rotated_true': (R @ START['true']).tolist(), 'start': START['predicted'].tolist()}))"
)


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = {FIND};
            const canvas = w.querySelector('.wb-mol-stage canvas');
            const context = canvas && ['bitmaprenderer', 'webgl2', 'webgl']
                .map((kind) => canvas.getContext(kind)).find(Boolean);
            return {{
                canvases: w.querySelectorAll('.wb-mol-stage canvas').length,
                context: context ? context.constructor.name : null,
                width: canvas ? canvas.width : 0,
                atoms: Number(w.dataset.atoms),
                arrows: JSON.parse(w.dataset.arrows),
            }};
        }}"""
    )


def _kernel_state(run: NotebookRun, pose: list[float], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(run.kernel(STATE))
        if all(abs(a - b) < 1e-12 for a, b in zip(state["pose"], pose, strict=True)):
            return state
        if time.monotonic() > deadline:
            raise HarnessFailure(f"the kernel never saw the pose {pose}: {state}")
        run.page.wait_for_timeout(200)


def test_molecules_notebook_dipole_follows_rotation(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "05_molecules_equiformer.ipynb")
    assert run.page.locator(WIDGET).count() == 2  # the labelled molecule and the model's
    dom = _dom(run)
    assert dom["canvases"] == 1 and dom["width"] > 300, dom
    assert dom["context"] in {
        "ImageBitmapRenderingContext",
        "WebGL2RenderingContext",
        "WebGLRenderingContext",
    }, dom
    n_atoms = int(run.kernel("print(len(viewer.z))"))
    assert dom["atoms"] == n_atoms and set(dom["arrows"]) == {"true", "predicted"}

    # the notebook leaves the viewer at the identity pose: remember the dipoles there
    run.kernel("START = {k: v.copy() for k, v in viewer.dipoles.items()}")
    state = _kernel_state(run, [0.0, 0.0, 0.0])
    assert math.hypot(*state["predicted"]) > 1e-3  # a non-trivial prediction

    # Browser -> Python: two sliders; the kernel rotates the molecule and re-predicts
    run.page.evaluate(
        f"""() => {{
            const w = {FIND};
            for (const [name, value] of [['alpha', '1.1'], ['beta', '0.7']]) {{
                const slider = w.querySelector('input[name="' + name + '"]');
                slider.value = value;
                slider.dispatchEvent(new Event('input', {{ bubbles: true }}));
            }}
        }}"""
    )
    state = _kernel_state(run, [1.1, 0.7, 0.0])
    moved = max(abs(a - b) for a, b in zip(state["predicted"], state["start"], strict=True))
    assert moved > 1e-3, "the prediction did not change with the pose"
    # equivariance of the trained model (float64 copy): pred(R x) = R pred(x)
    for got, want in ((state["predicted"], state["rotated_start"]),
                      (state["true"], state["rotated_true"])):  # fmt: skip
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-9, (got, want)

    # Python -> browser: the new arrows reach the page
    run.page.wait_for_function(
        f"""(v) => {{
            const got = JSON.parse(({FIND}).dataset.arrows).predicted;
            return got && got.every((x, i) => Math.abs(x - v[i]) < 1e-9);
        }}""",
        arg=state["predicted"],
    )
    shot = screenshots / "05_molecules_equiformer-viewer.png"
    run.page.locator(WIDGET).filter(has_text=TITLE).screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    run.assert_clean()  # no console error, no request off the machine
    assert run.blocked_requests == []
