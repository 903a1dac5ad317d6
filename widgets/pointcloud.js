// Front end of widgets.PointCloudView: draws the cloud and the class probabilities that Python
// computed, sends the pose (Euler angles, reflection) back. No math on the data here.
// `Plotly` (vendored plotly.js) and the helpers `el`, `resizePlotsWithContainers` (_shared.js)
// are defined before this module by widgets/_assets.py.

const ANGLES = [
  { name: "alpha", label: "α", max: 2 * Math.PI },
  { name: "beta", label: "β", max: Math.PI },
  { name: "gamma", label: "γ", max: 2 * Math.PI },
];
const POSE = ["alpha", "beta", "gamma", "reflect"];
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037"];
const TRUE_CLASS = "rgba(46, 125, 50, 0.15)";

/** Plotly reads a little HTML in tick labels: show class names verbatim. */
function escape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Total-variation distances: round-off (invariant models) in exponent form, the rest fixed. */
function formatSpread(value) {
  return value !== 0 && value < 1e-3 ? value.toExponential(1) : value.toFixed(3);
}

function baseLayout(title, extra = {}) {
  return plotLayout(title, {
    margin: { l: 10, r: 10, t: 36, b: 10 },
    ...extra,
  });
}

function cloudFigure(model) {
  const points = model.get("points");
  const original = model.get("original_points");
  const r = model.get("extent");
  const column = (pts, i) => pts.map((p) => p[i]);
  const axis = (name) => ({
    title: { text: name }, range: [-r, r], autorange: false, zeroline: true, showspikes: false,
  });
  const traces = [
    {
      type: "scatter3d", mode: "markers", name: "original pose",
      x: column(original, 0), y: column(original, 1), z: column(original, 2),
      marker: { size: 2, color: "#b0bec5", opacity: 0.5 }, hoverinfo: "skip",
    },
    {
      type: "scatter3d", mode: "markers", name: "g·x",
      x: column(points, 0), y: column(points, 1), z: column(points, 2),
      // colour = index of the point, so that one can follow each point as the cloud turns
      marker: { size: 3, color: points.map((_, i) => i), colorscale: "Viridis", opacity: 0.9 },
    },
  ];
  const layout = baseLayout("the cloud: original pose (grey) and g·x", {
    height: 380,
    showlegend: false,
    scene: {
      xaxis: axis("x"), yaxis: axis("y"), zaxis: axis("z"),
      aspectmode: "cube",
      camera: { eye: { x: 1.5, y: 1.5, z: 1.1 } },
      uirevision: "keep",
    },
  });
  return [traces, layout];
}

function probabilityFigure(model) {
  const names = model.get("model_names");
  const classes = model.get("class_names");
  const probs = model.get("probabilities");
  const label = model.get("label");
  const ticks = classes.map((c, i) => (i === label ? `<b>${escape(c)} ★</b>` : escape(c)));
  const rows = classes.map((_, i) => i);
  const traces = names.map((name, k) => ({
    type: "bar", orientation: "h", name,
    x: probs[name] ?? [], y: rows,
    marker: { color: COLORS[k % COLORS.length] },
    hovertemplate: `${name}: %{x:.3f}<extra></extra>`,
  }));
  const shapes = label >= 0 ? [{
    type: "rect", xref: "paper", yref: "y", x0: 0, x1: 1, y0: label - 0.5, y1: label + 0.5,
    fillcolor: TRUE_CLASS, line: { width: 0 }, layer: "below",
  }] : [];
  const height = Math.min(900, Math.max(380, 90 + classes.length * (8 + 10 * names.length)));
  const layout = baseLayout("class probabilities", {
    height,
    barmode: "group",
    margin: { l: 90, r: 10, t: 36, b: 40 },
    xaxis: { range: [0, 1], fixedrange: true },
    yaxis: {
      tickmode: "array", tickvals: rows, ticktext: ticks, autorange: "reversed", fixedrange: true,
    },
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.08, yanchor: "top" },
    shapes,
  });
  return [traces, layout];
}

function render({ model, el: root }) {
  const set = (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const container = el("div", { class: "wb-pc", "data-wb-widget": "PointCloudView" });
  const title = el("div", { class: "wb-pc-title" });
  const controls = el("div", { class: "wb-pc-controls" });
  const sliders = {};
  for (const angle of ANGLES) {
    const input = el("input", {
      type: "range", name: angle.name, min: "0", max: String(angle.max), step: "0.01",
    });
    const value = el("span", { class: "wb-pc-value" });
    input.addEventListener("input", () => set({ [angle.name]: Number(input.value) }));
    sliders[angle.name] = { input, value };
    controls.appendChild(el("label", {}, [el("span", { text: angle.label }), input, value]));
  }
  const reflect = el("input", { type: "checkbox", name: "reflect" });
  reflect.addEventListener("change", () => set({ reflect: reflect.checked }));
  controls.appendChild(el("label", { title: "compose with the inversion x → −x" }, [
    reflect, el("span", { text: "reflect (x → −x)" }),
  ]));
  const random = el("button", { type: "button", name: "random", text: "random pose" });
  random.addEventListener("click", () => {
    // Haar-random rotation: alpha, gamma uniform, cos(beta) uniform; reflected half the time
    set({
      alpha: Math.random() * 2 * Math.PI,
      beta: Math.acos(1 - 2 * Math.random()),
      gamma: Math.random() * 2 * Math.PI,
      reflect: Math.random() < 0.5,
    });
  });
  const reset = el("button", { type: "button", name: "reset", text: "reset" });
  reset.addEventListener("click", () => set({ alpha: 0, beta: 0, gamma: 0, reflect: false }));
  controls.append(random, reset);

  const readout = el("div", { class: "wb-pc-readout" });
  const plots = {
    cloud: el("div", { class: "wb-pc-plot", "data-plot": "cloud" }),
    probabilities: el("div", { class: "wb-pc-plot", "data-plot": "probabilities" }),
  };
  const grid = el("div", { class: "wb-pc-plots" }, Object.values(plots));
  container.append(title, controls, readout, grid);
  root.appendChild(container);

  function syncControls() {
    for (const angle of ANGLES) {
      const v = model.get(angle.name);
      sliders[angle.name].input.value = String(v);
      sliders[angle.name].value.textContent = v.toFixed(2);
    }
    reflect.checked = model.get("reflect");
    container.dataset.reflect = String(model.get("reflect"));
  }

  function syncReadout() {
    const names = model.get("model_names");
    const classes = model.get("class_names");
    const probs = model.get("probabilities");
    const top = model.get("top");
    const spread = model.get("spread");
    const label = model.get("label");
    const name = model.get("title");
    title.textContent = name || "point cloud under O(3)";
    const topNames = {};
    readout.replaceChildren(...names.map((m, k) => {
      const cls = top[m];
      topNames[m] = classes[cls] ?? "";
      const verdict = label < 0 ? "" : cls === label ? " ✓" : " ✗";
      const p = probs[m]?.[cls] ?? 0;
      return el("div", { class: "wb-pc-model", "data-model": m }, [
        el("span", { class: "wb-pc-swatch", style: `background:${COLORS[k % COLORS.length]}` }),
        el("span", { class: "wb-pc-name", text: m }),
        el("span", { text: `top: ${topNames[m]} (${p.toFixed(3)})${verdict}` }),
        el("span", {
          class: "wb-pc-spread", "data-spread": String(spread[m] ?? 0),
          title: "largest total-variation distance to the probabilities in the original pose",
          text: `spread ${formatSpread(spread[m] ?? 0)}`,
        }),
      ]);
    }));
    container.dataset.probabilities = JSON.stringify(probs);
    container.dataset.top = JSON.stringify(topNames);
    container.dataset.spread = JSON.stringify(spread);
    container.dataset.label = String(label);
  }

  async function draw() {
    syncReadout();
    const [cloudData, cloudLayout] = cloudFigure(model);
    const [probData, probLayout] = probabilityFigure(model);
    await Promise.all([
      Plotly.react(plots.cloud, cloudData, cloudLayout, CONFIG),
      Plotly.react(plots.probabilities, probData, probLayout, CONFIG),
    ]);
    container.dataset.wbReady = "1";
  }

  const schedule = drawScheduler(draw, "PointCloudView");

  const resize = resizePlotsWithContainers(Object.values(plots));

  syncControls();
  schedule();
  const onPose = () => syncControls();
  const onView = () => schedule();
  for (const name of POSE) model.on(`change:${name}`, onPose);
  const viewTraits = [
    "points", "original_points", "extent", "probabilities", "top", "spread", "label",
    "class_names", "model_names", "title",
  ];
  for (const name of viewTraits) model.on(`change:${name}`, onView);
  return () => {
    resize.disconnect();
    for (const name of POSE) model.off(`change:${name}`, onPose);
    for (const name of viewTraits) model.off(`change:${name}`, onView);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
  };
}

export default { render };
