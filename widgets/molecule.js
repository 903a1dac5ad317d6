// Front end of widgets.MoleculeViewer: draws what Python computed (each layer's atoms at the
// frame shown, the dipole arrows, the colour bar) with 3Dmol.js, and sends the pose (Euler
// angles), the style and the frame back. No math on the data here.
// `ThreeDmol` (vendored 3Dmol.js) and the helper `el` (_shared.js) are defined before this
// module by widgets/_assets.py.

const ANGLES = [
  { name: "alpha", label: "α", max: 2 * Math.PI },
  { name: "beta", label: "β", max: Math.PI },
  { name: "gamma", label: "γ", max: 2 * Math.PI },
];
const STYLES = { ball_and_stick: "ball and stick", stick: "stick", sphere: "sphere" };
// 3Dmol styles; a layer's opacity (a ghost) and single colour are added on top.
const STYLE_SPECS = {
  ball_and_stick: { stick: { radius: 0.12 }, sphere: { scale: 0.25 } },
  stick: { stick: { radius: 0.2 } },
  sphere: { sphere: { scale: 1.0 } },
};
const ARROW = { radius: 0.1, radiusRatio: 2.0, mid: 0.8 };
const DATA_TRAITS = ["layers", "frames", "frame", "colorbar", "dipole_unit", "title"];

const xyz = ([x, y, z]) => ({ x, y, z });
const fmt = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(3));

function layerStyle(layer) {
  // a layer with a radius (CG beads): one sphere of that radius per atom, no bonds
  if (layer.radius) {
    const sphere = { radius: layer.radius, opacity: layer.opacity };
    if (layer.color) sphere.color = layer.color;
    return { sphere };
  }
  const style = {};
  for (const [kind, spec] of Object.entries(STYLE_SPECS[layer.style] ?? STYLE_SPECS.ball_and_stick)) {
    style[kind] = { ...spec, opacity: layer.opacity };
    if (layer.color) style[kind].color = layer.color;
  }
  return style;
}

/** The 3Dmol atoms of one layer in one frame: positions, bonds (listed on both atoms), and a
 *  colour per atom when Python coloured them by value (else 3Dmol colours by element). */
function layerAtoms(layer, data) {
  const neighbours = layer.symbols.map(() => []);
  for (const [i, j] of layer.bonds) {
    neighbours[i].push(j);
    neighbours[j].push(i);
  }
  return layer.symbols.map((elem, i) => {
    const atom = {
      elem, ...xyz(data.pos[i]), index: i, serial: i,
      bonds: neighbours[i], bondOrder: neighbours[i].map(() => 1),
      properties: {
        value: data.values ? data.values[i] : null,
        label: layer.radius ? `${layer.name} ${i}` : `${elem}${i}`,
      },
    };
    if (data.colors) atom.color = parseInt(data.colors[i].slice(1), 16);
    return atom;
  });
}

/** Draws the viewer into `root`. `extend` (optional, for widgets built on this one, e.g.
 *  backmap.js) is called once with { model, container, controls, legend, set } after the
 *  standard controls exist; it may add controls and return { traits, sync(), draw(data),
 *  dispose() }: `traits` also trigger a redraw, `sync` runs with the controls' sync, `draw`
 *  after each drawing (before the widget is marked ready), `dispose` on cleanup. */
function render({ model, el: root }, extend = null) {
  const set = (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const container = el("div", { class: "wb-mol", "data-wb-widget": "MoleculeViewer" });
  const title = el("div", { class: "wb-mol-title" });
  const controls = el("div", { class: "wb-mol-controls" });
  const sliders = {};
  for (const angle of ANGLES) {
    const input = el("input", {
      type: "range", name: angle.name, min: "0", max: String(angle.max), step: "0.01",
    });
    const value = el("span", { class: "wb-mol-value" });
    input.addEventListener("input", () => set({ [angle.name]: Number(input.value) }));
    sliders[angle.name] = { input, value };
    controls.appendChild(el("label", { title: "rotate the molecule (Python recomputes)" }, [
      el("span", { text: angle.label }), input, value,
    ]));
  }
  const random = el("button", { type: "button", name: "random", text: "random rotation" });
  random.addEventListener("click", () => {
    // Haar-random rotation: alpha, gamma uniform, cos(beta) uniform
    set({
      alpha: Math.random() * 2 * Math.PI,
      beta: Math.acos(1 - 2 * Math.random()),
      gamma: Math.random() * 2 * Math.PI,
    });
  });
  const reset = el("button", { type: "button", name: "reset", text: "reset" });
  reset.addEventListener("click", () => set({ alpha: 0, beta: 0, gamma: 0 }));
  const style = el("select", { name: "style" }, Object.entries(STYLES).map(
    ([value, text]) => el("option", { value, text }),
  ));
  style.addEventListener("change", () => set({ atom_style: style.value }));
  const frame = el("input", { type: "range", name: "frame", min: "0", max: "0", step: "1" });
  const frameValue = el("span", { class: "wb-mol-value" });
  frame.addEventListener("input", () => set({ frame: Number(frame.value) }));
  const frameLabel = el("label", { class: "wb-mol-frame" }, [
    el("span", { text: "frame" }), frame, frameValue,
  ]);
  controls.append(random, reset, style, frameLabel);

  const stage = el("div", { class: "wb-mol-stage" });
  const hover = el("div", { class: "wb-mol-hover" });
  const arrows = el("div", { class: "wb-mol-arrows" });
  const colorbar = el("div", { class: "wb-mol-colorbar" });
  const legend = el("div", { class: "wb-mol-legend" }, [arrows, colorbar]);
  container.append(title, controls, el("div", { class: "wb-mol-view" }, [stage, hover]), legend);
  root.appendChild(container);
  const extension = extend ? extend({ model, container, controls, legend, set }) ?? {} : {};

  const viewer = ThreeDmol.createViewer(stage, { backgroundColor: "white", antialias: true });
  let zoomedFor = null; // the structure_id the camera was fitted to

  function syncControls() {
    for (const angle of ANGLES) {
      const v = model.get(angle.name);
      sliders[angle.name].input.value = String(v);
      sliders[angle.name].value.textContent = v.toFixed(2);
    }
    style.value = model.get("atom_style");
    const n = model.get("frames").length;
    frame.max = String(Math.max(n - 1, 0));
    frame.value = String(model.get("frame"));
    frameValue.textContent = `${model.get("frame") + 1}/${n}`;
    frameLabel.hidden = n <= 1;
    container.dataset.pose = JSON.stringify(ANGLES.map((a) => model.get(a.name)));
    extension.sync?.();
  }

  function syncLegend(data) {
    const unit = model.get("dipole_unit");
    title.textContent = model.get("title") || "molecule";
    const rows = data.arrows.map((a) => el("div", { class: "wb-mol-arrow", "data-arrow": a.name }, [
      el("span", { class: "wb-mol-swatch", style: `background:${a.color}` }),
      el("span", { class: "wb-mol-name", text: a.name }),
      el("span", {
        class: "wb-mol-number",
        text: `|d| = ${fmt(a.norm)}${unit ? ` ${unit}` : ""}  (${a.vector.map(fmt).join(", ")})`,
      }),
    ]));
    const cmp = data.comparison;
    if (cmp && cmp.error !== undefined) {
      const angle = cmp.angle_deg === null ? "–" : `${cmp.angle_deg.toFixed(2)}°`;
      rows.push(el("div", {
        class: "wb-mol-comparison",
        title: "an equivariant model keeps these whatever the rotation",
        text: `angle(true, predicted) = ${angle}, |predicted − true| = ${fmt(cmp.error)}`,
      }));
    }
    arrows.replaceChildren(...rows);
    const bar = model.get("colorbar");
    if (bar.stops) {
      colorbar.replaceChildren(
        el("span", { class: "wb-mol-name", text: bar.label || "value" }),
        el("span", { class: "wb-mol-number", text: fmt(bar.vmin) }),
        el("span", {
          class: "wb-mol-gradient", style: `background:linear-gradient(to right, ${bar.stops.join(", ")})`,
        }),
        el("span", { class: "wb-mol-number", text: fmt(bar.vmax) }),
      );
    } else {
      colorbar.replaceChildren();
    }
    const vectors = Object.fromEntries(data.arrows.map((a) => [a.name, a.vector]));
    container.dataset.arrows = JSON.stringify(vectors);
    container.dataset.comparison = JSON.stringify(cmp ?? {});
    container.dataset.colorbar = JSON.stringify(
      bar.stops ? { label: bar.label, vmin: bar.vmin, vmax: bar.vmax } : {},
    );
  }

  function draw() {
    const layers = model.get("layers");
    const frames = model.get("frames");
    const data = frames[model.get("frame")] ?? frames[0];
    if (!data) return;
    viewer.removeAllModels();
    viewer.removeAllShapes();
    let atoms = 0;
    layers.forEach((layer, k) => {
      const m = viewer.addModel();
      m.addAtoms(layerAtoms(layer, data.layers[k]));
      m.setStyle({}, layerStyle(layer));
      atoms += m.selectedAtoms({}).length;
    });
    viewer.setHoverable({}, true, (atom) => {
      const value = atom.properties.value;
      hover.textContent = atom.properties.label + (value === null ? "" : `: ${fmt(value)}`);
    }, () => { hover.textContent = ""; });
    for (const a of data.arrows) {
      if (a.norm > 0) viewer.addArrow({ ...ARROW, start: xyz(a.start), end: xyz(a.end), color: a.color });
    }
    const id = model.get("structure_id");
    if (zoomedFor !== id) {
      viewer.zoomTo(); // fits the atoms and the arrows, with a wide margin
      viewer.zoom(1.4);
      zoomedFor = id;
    }
    viewer.render();
    syncLegend(data);
    container.dataset.atoms = String(atoms);
    container.dataset.bonds = String(layers.reduce((n, l) => n + l.bonds.length, 0));
    container.dataset.frame = String(model.get("frame"));
    container.dataset.style = model.get("atom_style");
    container.dataset.structureId = String(id);
    extension.draw?.(data);
    container.dataset.wbReady = "1";
  }

  // A message from Python changes several traits at once: draw once, after all of them.
  let queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      try {
        syncControls();
        draw();
      } catch (error) {
        console.error("MoleculeViewer: drawing failed", error);
      }
    });
  }

  const resize = new ResizeObserver(() => {
    viewer.resize();
    viewer.render();
  });
  resize.observe(stage);

  syncControls();
  schedule();
  const onPose = () => syncControls();
  for (const a of ANGLES) model.on(`change:${a.name}`, onPose);
  const traits = [...DATA_TRAITS, "atom_style", "structure_id", ...(extension.traits ?? [])];
  for (const name of traits) model.on(`change:${name}`, schedule);
  return () => {
    resize.disconnect();
    for (const a of ANGLES) model.off(`change:${a.name}`, onPose);
    for (const name of traits) model.off(`change:${name}`, schedule);
    extension.dispose?.();
    viewer.clear();
    // give the WebGL context back now: a page allows only a few at a time
    viewer.getCanvas()?.getContext("webgl2")?.getExtension("WEBGL_lose_context")?.loseContext();
  };
}

export default { render };
