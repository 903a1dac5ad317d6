// Front end of widgets.SpectraViewer: draws what Python computed for the picked structure (the
// atoms in the unit cell with 3Dmol.js, the spectra and the powder pattern with plotly) and
// sends the picked structure and the style back. No math on the data here.
// `ThreeDmol` and `Plotly` (vendored) and the helpers `el`, `resizePlotsWithContainers`
// (_shared.js) are defined before this module by widgets/_assets.py.

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const COLORS = ["#ef6c00", "#1565c0", "#6a1b9a", "#c62828", "#00838f", "#5d4037"];
const PATTERN_COLORS = ["#1565c0", "#2e7d32", "#6a1b9a", "#c62828"];
const TRUE_COLOR = "#424242";
const STYLES = { ball_and_stick: "ball and stick", stick: "stick", sphere: "sphere" };
const STYLE_SPECS = {
  ball_and_stick: { stick: { radius: 0.1 }, sphere: { scale: 0.35 } },
  stick: { stick: { radius: 0.18 } },
  sphere: { sphere: { scale: 1.0 } },
};
const CELL = { radius: 0.04, color: "#616161" };
const AXES = ["a", "b", "c"];

const xyz = ([x, y, z]) => ({ x, y, z });
const fmt = (v) => (v === null || v === undefined ? "–"
  : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(4));

/** The 3Dmol atoms: positions and the sticks (listed on both atoms). */
function crystalAtoms(atoms) {
  const neighbours = atoms.symbols.map(() => []);
  for (const [i, j] of atoms.bonds) {
    neighbours[i].push(j);
    neighbours[j].push(i);
  }
  return atoms.symbols.map((elem, i) => ({
    elem, ...xyz(atoms.pos[i]), index: i, serial: i,
    bonds: neighbours[i], bondOrder: neighbours[i].map(() => 1),
    properties: { source: atoms.source[i] },
  }));
}

function baseLayout(title, extra = {}) {
  return plotLayout(title, {
    margin: { l: 55, r: 10, t: 34, b: 88 },
    height: 340,
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.3, yanchor: "top" },
    ...extra,
  });
}

function spectrumFigure(model, view) {
  const energy = model.get("energy");
  const reference = model.get("reference");
  const names = model.get("spectrum_names");
  let k = 0;
  const traces = names.map((name) => {
    const isReference = name === reference;
    const color = isReference ? TRUE_COLOR : COLORS[k++ % COLORS.length];
    return {
      type: "scatter", mode: "lines", name, x: energy, y: view.spectra[name],
      line: { color, width: isReference ? 2.5 : 1.8, dash: isReference ? "solid" : "dash" },
      fill: isReference ? "tozeroy" : "none", fillcolor: "rgba(66,66,66,0.08)",
      hovertemplate: `${name}: %{y:.4f} at %{x:.3f}<extra></extra>`,
    };
  });
  const layout = baseLayout(`spectrum of ${view.name}`, {
    xaxis: { title: { text: model.get("energy_label") }, zeroline: false },
    yaxis: { title: { text: model.get("spectrum_label") }, rangemode: "tozero" },
  });
  return [traces, layout];
}

function patternFigure(model, view) {
  const twoTheta = model.get("two_theta");
  const names = model.get("pattern_names");
  const traces = names.map((name, k) => ({
    type: "scatter", mode: "lines", name, x: twoTheta, y: view.patterns[name],
    line: { color: PATTERN_COLORS[k % PATTERN_COLORS.length], width: 1.5 },
    hovertemplate: `${name}: %{y:.3f} at 2θ = %{x:.2f}°<extra></extra>`,
  }));
  names.forEach((name, k) => {
    const peaks = view.peaks[name] ?? [];
    if (!peaks.length) return;
    traces.push({
      type: "scatter", mode: "markers", name: `${name} peaks`, showlegend: false,
      x: peaks.map((p) => p.two_theta), y: peaks.map((p) => p.intensity),
      marker: { symbol: "line-ns-open", size: 8, color: PATTERN_COLORS[k % PATTERN_COLORS.length] },
      text: peaks.map((p) => p.label),
      hovertemplate: `${name} %{text}: 2θ = %{x:.2f}°, I = %{y:.3f}<extra></extra>`,
    });
  });
  const layout = baseLayout(`powder diffraction of ${view.name}`, {
    xaxis: { title: { text: "2θ (degrees)" }, zeroline: false },
    yaxis: { title: { text: "intensity (max 1)" }, rangemode: "tozero" },
    annotations: view.peak_labels.map((p) => ({
      x: p.x, y: p.y, text: p.text, showarrow: true, arrowhead: 0, arrowwidth: 1,
      arrowcolor: "#9e9e9e", ax: 0, ay: -16, font: { size: 10 },
    })),
  });
  return [traces, layout];
}

function render({ model, el: root }) {
  const set = (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const container = el("div", { class: "wb-spec", "data-wb-widget": "SpectraViewer" });
  const title = el("div", { class: "wb-spec-title" });
  const picker = el("select", { name: "structure" });
  const previous = el("button", { type: "button", name: "previous", text: "◀", title: "previous structure" });
  const next = el("button", { type: "button", name: "next", text: "▶", title: "next structure" });
  const style = el("select", { name: "style" }, Object.entries(STYLES).map(
    ([value, text]) => el("option", { value, text }),
  ));
  const controls = el("div", { class: "wb-spec-controls" }, [
    el("label", { title: "the kernel sends this structure's data" }, [
      el("span", { text: "structure" }), previous, picker, next,
    ]),
    el("label", {}, [el("span", { text: "atoms" }), style]),
  ]);
  const stage = el("div", { class: "wb-spec-stage" });
  const hover = el("div", { class: "wb-spec-hover" });
  const about = el("div", { class: "wb-spec-about" });
  const plots = {
    spectrum: el("div", { class: "wb-spec-plot", "data-plot": "spectrum" }),
    pattern: el("div", { class: "wb-spec-plot", "data-plot": "pattern" }),
  };
  const readout = el("div", { class: "wb-spec-readout" });
  const left = el("div", { class: "wb-spec-left" }, [el("div", { class: "wb-spec-view" }, [stage, hover]), about]);
  const right = el("div", { class: "wb-spec-right" }, [plots.spectrum, readout, plots.pattern]);
  container.append(title, controls, el("div", { class: "wb-spec-body" }, [left, right]));
  root.appendChild(container);

  const viewer = ThreeDmol.createViewer(stage, { backgroundColor: "white", antialias: true });
  let zoomedFor = null; // the structure the camera was fitted to

  const pick = (i) => {
    const n = model.get("names").length;
    set({ structure: ((i % n) + n) % n });
  };
  picker.addEventListener("change", () => pick(Number(picker.value)));
  previous.addEventListener("click", () => pick(model.get("structure") - 1));
  next.addEventListener("click", () => pick(model.get("structure") + 1));
  style.addEventListener("change", () => set({ atom_style: style.value }));

  function syncControls() {
    const names = model.get("names");
    if (picker.options.length !== names.length
      || names.some((name, i) => picker.options[i].textContent !== name)) {
      picker.replaceChildren(...names.map((name, i) => el("option", { value: String(i), text: name })));
    }
    picker.value = String(model.get("structure"));
    style.value = model.get("atom_style");
    title.textContent = model.get("title") || "crystal structures and their spectra";
  }

  function drawCrystal(view) {
    viewer.removeAllModels();
    viewer.removeAllShapes();
    viewer.removeAllLabels();
    const m = viewer.addModel();
    m.addAtoms(crystalAtoms(view.atoms));
    const spec = STYLE_SPECS[model.get("atom_style")] ?? STYLE_SPECS.ball_and_stick;
    m.setStyle({}, spec);
    for (const [start, end] of view.cell.edges) {
      viewer.addCylinder({ start: xyz(start), end: xyz(end), radius: CELL.radius, color: CELL.color, fromCap: 1, toCap: 1 });
    }
    view.cell.vectors.forEach((v, k) => {
      viewer.addLabel(AXES[k], {
        position: xyz(v.map((x) => x * 1.08)), fontSize: 13, fontColor: "#424242",
        backgroundOpacity: 0, inFront: true,
      });
    });
    viewer.setHoverable({}, true, (atom) => {
      hover.textContent = `${atom.elem}, atom ${atom.properties.source} of the cell`;
    }, () => { hover.textContent = ""; });
    if (zoomedFor !== view.index) {
      viewer.zoomTo();
      zoomedFor = view.index;
    }
    viewer.render();
    return m.selectedAtoms({}).length;
  }

  function syncText(view) {
    const [a, b, c] = view.cell.lengths;
    const rows = [
      el("div", { class: "wb-spec-row" }, [
        el("span", { class: "wb-spec-name", text: view.formula }),
        el("span", {
          class: "wb-spec-number",
          text: `${view.n_atoms} atom${view.n_atoms === 1 ? "" : "s"} in the cell, |a|, |b|, |c| = `
            + `${a.toFixed(3)}, ${b.toFixed(3)}, ${c.toFixed(3)} Å, V = ${view.cell.volume.toFixed(2)} Å³`,
        }),
      ]),
      ...view.info.map(([key, value]) => el("div", { class: "wb-spec-row", "data-info": key }, [
        el("span", { class: "wb-spec-name", text: key }),
        el("span", { class: "wb-spec-number", text: value }),
      ])),
    ];
    about.replaceChildren(...rows);
    const reference = model.get("reference");
    let k = 0;
    readout.replaceChildren(...model.get("spectrum_names").filter((n) => n !== reference).map((name) => {
      const m = view.metrics[name];
      return el("div", { class: "wb-spec-model", "data-model": name }, [
        el("span", { class: "wb-spec-swatch", style: `background:${COLORS[k++ % COLORS.length]}` }),
        el("span", { class: "wb-spec-name", text: name }),
        el("span", {
          class: "wb-spec-number",
          title: `against "${reference}" for this structure; Wasserstein-1 in the grid's unit`,
          text: `MSE ${fmt(m.mse)}, W₁ ${fmt(m.wasserstein)}`,
        }),
      ]);
    }));
  }

  async function draw() {
    const view = model.get("view");
    if (!view || view.index === undefined) return;
    syncControls();
    const atoms = drawCrystal(view);
    syncText(view);
    const hasPattern = model.get("pattern_names").length > 0;
    plots.pattern.hidden = !hasPattern;
    const [sData, sLayout] = spectrumFigure(model, view);
    const jobs = [Plotly.react(plots.spectrum, sData, sLayout, CONFIG)];
    if (hasPattern) {
      const [pData, pLayout] = patternFigure(model, view);
      jobs.push(Plotly.react(plots.pattern, pData, pLayout, CONFIG));
    }
    await Promise.all(jobs);
    Object.assign(container.dataset, {
      structure: String(view.index),
      name: view.name,
      atoms: String(atoms),
      bonds: String(view.atoms.bonds.length),
      cellEdges: String(view.cell.edges.length),
      style: model.get("atom_style"),
      spectra: JSON.stringify(view.spectra),
      metrics: JSON.stringify(view.metrics),
      peakLabels: JSON.stringify(view.peak_labels.map((p) => p.text)),
      wbReady: "1",
    });
  }

  const schedule = drawScheduler(draw, "SpectraViewer");

  const resizeStage = new ResizeObserver(() => {
    viewer.resize();
    viewer.render();
  });
  resizeStage.observe(stage);
  const resizePlots = resizePlotsWithContainers(Object.values(plots));

  syncControls();
  schedule();
  const onControls = () => syncControls();
  const controlTraits = ["names", "structure", "title"];
  const viewTraits = ["view", "atom_style", "spectrum_names", "pattern_names", "energy", "two_theta",
    "energy_label", "spectrum_label", "reference"];
  for (const name of controlTraits) model.on(`change:${name}`, onControls);
  for (const name of viewTraits) model.on(`change:${name}`, schedule);
  return () => {
    resizeStage.disconnect();
    resizePlots.disconnect();
    for (const name of controlTraits) model.off(`change:${name}`, onControls);
    for (const name of viewTraits) model.off(`change:${name}`, schedule);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
    viewer.clear();
    // give the WebGL context back now: a page allows only a few at a time
    viewer.getCanvas()?.getContext("webgl2")?.getExtension("WEBGL_lose_context")?.loseContext();
  };
}

export default { render };
