"""SpectraViewer in a real browser: the vendored 3Dmol.js draws the crystal in its cell and
plotly draws the spectra and the labelled powder pattern offline; the structure picker
round-trips through the kernel, and a structure set from Python reaches the page."""

from __future__ import annotations

import json

from .harness import NotebookRun, run_widget_notebook

WIDGET = '[data-wb-widget="SpectraViewer"]'
STATE = (
    "import json; print(json.dumps({'structure': viewer.structure, 'name': viewer.view['name'], "
    "'spectra': {k: v.tolist() for k, v in viewer.spectra.items()}, "
    "'labels': [p['text'] for p in viewer.view['peak_labels']], "
    "'atoms': len(viewer.drawn_atoms()[0])}))"
)


def _dom(run: NotebookRun) -> dict:
    return run.page.evaluate(
        f"""() => {{
            const w = document.querySelector('{WIDGET}');
            const canvas = w.querySelector('.wb-spec-stage canvas');
            const context = canvas && ['bitmaprenderer', 'webgl2', 'webgl']
                .map((kind) => canvas.getContext(kind)).find(Boolean);
            const plot = (name) => w.querySelector(`[data-plot="${{name}}"]`);
            const annotations = [...plot('pattern').querySelectorAll('.annotation-text')];
            return {{
                structure: Number(w.dataset.structure),
                name: w.dataset.name,
                picker: w.querySelector('select[name="structure"]').value,
                options: [...w.querySelectorAll('select[name="structure"] option')]
                    .map((o) => o.textContent),
                canvases: w.querySelectorAll('.wb-spec-stage canvas').length,
                context: context ? context.constructor.name : null,
                width: canvas ? canvas.width : 0,
                atoms: Number(w.dataset.atoms),
                edges: Number(w.dataset.cellEdges),
                svgs: w.querySelectorAll('.wb-spec-plot .main-svg').length,
                spectrumTraces: plot('spectrum').data.map((t) => [t.name, t.y]),
                patternTraces: plot('pattern').data.filter((t) => t.mode === 'lines')
                    .map((t) => t.name),
                lines: plot('spectrum').querySelectorAll('.scatterlayer .trace').length,
                annotations: annotations.map((a) => a.textContent),
                models: [...w.querySelectorAll('.wb-spec-model')].map((m) => m.dataset.model),
                info: [...w.querySelectorAll('[data-info]')].map((r) => r.textContent),
            }};
        }}"""
    )


def _drawn_pixels(run: NotebookRun) -> int:
    return run.count_pixels(f"{WIDGET} .wb-spec-stage")["drawn"]


def _kernel_state(run: NotebookRun, until, timeout: float = 15) -> dict:
    """The viewer as the kernel sees it, once ``until(state)`` holds."""
    return run.poll_json(STATE, until, timeout)


def _wait_for_structure(run: NotebookRun, index: int) -> None:
    run.page.wait_for_function(
        f"() => document.querySelector('{WIDGET}').dataset.structure === '{index}'"
    )


def _close(a: list[float], b: list[float], tol: float = 1e-12) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_spectra_viewer_renders_offline_and_round_trips(lab, browser, screenshots):
    run = run_widget_notebook(browser, lab, "spectra_widget.ipynb")
    assert run.page.locator(WIDGET).count() == 1
    dom = _dom(run)
    assert dom["options"] == ["Cu #0", "AuCu3 #1", "Ni2 #2"] and dom["picker"] == "0"
    # 3Dmol: one WebGL canvas; fcc Cu's one atom at the 8 corners of its primitive cell
    assert dom["canvases"] == 1 and dom["width"] > 200, dom
    assert dom["context"] in {
        "ImageBitmapRenderingContext",
        "WebGL2RenderingContext",
        "WebGLRenderingContext",
    }, dom
    assert dom["structure"] == 0 and dom["atoms"] == 8 and dom["edges"] == 12
    assert _drawn_pixels(run) > 3000, "3Dmol drew nothing"
    # plotly: both panels; the spectra are the kernel's numbers; hkl labels on the pattern
    assert dom["svgs"] >= 2, dom
    state = json.loads(run.kernel(STATE))
    assert [name for name, _ in dom["spectrumTraces"]] == ["true", "smoothed", "shifted"]
    for name, y in dom["spectrumTraces"]:
        assert _close(y, state["spectra"][name]), name
    assert dom["lines"] == 3 and dom["models"] == ["smoothed", "shifted"]
    assert dom["patternTraces"] == ["X-ray", "neutron"]
    assert dom["annotations"] == state["labels"] and dom["annotations"][0] == "(111)"
    assert "(200)" in dom["annotations"] and dom["info"][0].startswith("a, b, c (Å)")

    # Browser -> Python: pick Cu3Au in the drop-down; the kernel sends its data back.
    run.page.select_option(f'{WIDGET} select[name="structure"]', "1")
    state = _kernel_state(run, lambda s: s["structure"] == 1)
    assert state["name"] == "AuCu3 #1" and state["atoms"] == 14
    _wait_for_structure(run, 1)
    dom = _dom(run)
    assert dom["name"] == "AuCu3 #1" and dom["atoms"] == 14
    for name, y in dom["spectrumTraces"]:
        assert _close(y, state["spectra"][name]), name
    assert dom["annotations"] == state["labels"] and "(100)" in dom["annotations"]  # L1_2 order

    # the arrow buttons too: next goes to hcp Ni
    run.page.click(f'{WIDGET} button[name="next"]')
    state = _kernel_state(run, lambda s: s["structure"] == 2)
    _wait_for_structure(run, 2)
    assert _dom(run)["annotations"] == state["labels"]

    # Python -> browser: the kernel picks structure 0 again; the page follows
    run.kernel("viewer.structure = 0")
    _wait_for_structure(run, 0)
    dom = _dom(run)
    assert dom["picker"] == "0" and dom["atoms"] == 8 and dom["annotations"][0] == "(111)"

    shots = run.screenshot_widgets(screenshots)
    assert len(shots) == 1 and shots[0].stat().st_size > 10_000

    # the style select goes to Python and back
    run.page.select_option(f'{WIDGET} select[name="style"]', "sphere")
    run.page.wait_for_function(
        f"() => document.querySelector('{WIDGET}').dataset.style === 'sphere'"
    )
    assert run.kernel("print(viewer.atom_style)").strip() == "sphere"

    run.assert_clean()  # no console error, and no request left the machine
    assert run.blocked_requests == []
