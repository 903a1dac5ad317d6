// Front end of widgets.JetViewer: draws the jet's constituents, the jet-mass histograms and the
// taggers' scores that Python computed; sends the jet index, boost axis, rapidity and
// coordinates back. No physics here.
// `Plotly` (vendored plotly.js) and the helpers `el`, `resizePlotsWithContainers` (_shared.js)
// are defined before this module by widgets/_assets.py.

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037"];
const CLASS_COLORS = { QCD: "#1e88e5", top: "#e53935" };
const AXIS_OPTIONS = [
  ["z", "z (beam)"],
  ["x", "x"],
  ["y", "y"],
  ["jet", "jet axis"],
];
const COORDINATE_OPTIONS = [
  ["absolute", "absolute (η, φ)"],
  ["relative", "relative to the jet (Δy, Δφ)"],
];
const MAX_DIAMETER = 20; // px, of a constituent with the jet's largest pT at rest
const CONTROL_TRAITS = ["index", "axis", "rapidity", "coordinates", "max_rapidity", "n_jets", "label_counts"];
const VIEW_TRAITS = [
  "constituents", "original", "frame", "pt_scale", "jet", "mass", "reference_mass", "mass_hist",
  "scores", "reference_scores", "spread", "score_curve", "label", "label_names", "n_constituents",
  "axis_vector", "model_names", "title",
];

/** Score differences: round-off (invariant taggers) in exponent form, the rest fixed. */
function formatSpread(value) {
  return value !== 0 && value < 1e-3 ? value.toExponential(1) : value.toFixed(3);
}

function baseLayout(title, extra = {}) {
  return plotLayout(title, {
    margin: { l: 50, r: 12, t: 36, b: 44 },
    height: 440,
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.16, yanchor: "top" },
    ...extra,
  });
}

function constituentFigure(model) {
  const now = model.get("constituents");
  const rest = model.get("original");
  const frame = model.get("frame");
  const jet = model.get("jet");
  const relative = model.get("coordinates") === "relative";
  const y = model.get("rapidity");
  // marker area ∝ pT, on a scale fixed by the jet at rest: growing markers mean growing pT
  const sizeref = (2 * model.get("pt_scale")) / MAX_DIAMETER ** 2;
  const [xName, yName] = relative ? ["Δy (rapidity)", "Δφ"] : ["η", "φ"];
  const traces = [
    {
      type: "scatter", mode: "markers", name: "at rest (y = 0)", x: rest.eta, y: rest.phi,
      marker: {
        size: rest.pt, sizemode: "area", sizeref, sizemin: 2,
        color: "rgba(144, 164, 174, 0.35)", line: { width: 0 },
      },
      hoverinfo: "skip",
    },
    {
      type: "scatter", mode: "markers", name: `boosted (y = ${y.toFixed(2)})`,
      x: now.eta, y: now.phi,
      customdata: now.pt.map((pt, i) => [pt, now.e[i], i]),
      // colour = index of the constituent, so that one can follow each one through the boost
      marker: {
        size: now.pt, sizemode: "area", sizeref, sizemin: 2,
        color: now.pt.map((_, i) => i), colorscale: "Viridis", opacity: 0.8,
        line: { width: 0.5, color: "white" },
      },
      hovertemplate:
        `#%{customdata[2]}<br>pT = %{customdata[0]:.2f} GeV<br>E = %{customdata[1]:.2f} GeV` +
        `<br>${xName} = %{x:.3f}, ${yName} = %{y:.3f}<extra></extra>`,
    },
  ];
  if (!relative && jet.eta !== null) {
    traces.push({
      type: "scatter", mode: "markers", name: "jet axis", x: [jet.eta], y: [jet.phi],
      marker: { symbol: "x-thin", size: 14, line: { width: 2, color: "#212121" } },
      hovertemplate: "jet axis<br>η = %{x:.3f}, φ = %{y:.3f}<extra></extra>",
    });
  }
  const outside = frame.outside ? ` (${frame.outside} outside the frame)` : "";
  const axis = (name, range) => ({
    title: { text: name }, range, autorange: false, zeroline: relative, showspikes: false,
    constrain: "range", constraintoward: "center",
  });
  // equal scales (ΔR circles stay circles): plotly widens one range to fill the plot
  const layout = baseLayout(`constituents, marker area ∝ pT${outside}`, {
    xaxis: axis(xName, frame.eta),
    yaxis: { ...axis(yName, frame.phi), scaleanchor: "x", scaleratio: 1 },
  });
  return [traces, layout];
}

function massFigure(model) {
  const hist = model.get("mass_hist");
  const names = model.get("label_names");
  const label = names[model.get("label")];
  const mass = model.get("mass");
  const edges = hist.edges;
  const right = mass > 0.6 * edges[edges.length - 1]; // label on the side with room
  const centers = edges.slice(0, -1).map((e, i) => 0.5 * (e + edges[i + 1]));
  const widths = edges.slice(0, -1).map((e, i) => edges[i + 1] - e);
  const traces = names.map((name) => {
    const counts = hist.counts[name] ?? [];
    const total = counts.reduce((a, b) => a + b, 0);
    return {
      type: "bar", name: `${name} (${total} jets)`, x: centers, y: counts, width: widths,
      marker: { color: CLASS_COLORS[name] ?? "#757575", opacity: 0.55 },
      hovertemplate: `${name}: %{y} jets at %{x:.1f} GeV<extra></extra>`,
    };
  });
  const layout = baseLayout("jet mass (Lorentz invariant)", {
    barmode: "overlay",
    bargap: 0,
    xaxis: { title: { text: "m<sub>jet</sub> [GeV]" }, range: [edges[0], edges[edges.length - 1]] },
    yaxis: { title: { text: "jets" }, rangemode: "tozero" },
    shapes: [{
      type: "line", xref: "x", yref: "paper", x0: mass, x1: mass, y0: 0, y1: 1,
      line: { color: "#212121", width: 2, dash: "dash" },
    }],
    annotations: [{
      x: mass, xref: "x", y: 1, yref: "paper", yanchor: "top", xanchor: right ? "right" : "left",
      xshift: right ? -4 : 4, showarrow: false, bgcolor: "rgba(255,255,255,0.8)",
      text: `this jet (${label})<br>m = ${mass.toFixed(2)} GeV`, font: { size: 11 },
    }],
  });
  return [traces, layout];
}

function scoreFigure(model) {
  const names = model.get("model_names");
  const curve = model.get("score_curve");
  const scores = model.get("scores");
  const y = model.get("rapidity");
  const ymax = model.get("max_rapidity");
  const traces = names.flatMap((name, k) => [
    {
      type: "scatter", mode: "lines", name, x: curve.rapidity, y: curve.scores?.[name] ?? [],
      line: { color: COLORS[k % COLORS.length], width: 2 },
      hovertemplate: `${name}: %{y:.4f} at y = %{x:.2f}<extra></extra>`,
    },
    {
      type: "scatter", mode: "markers", showlegend: false, x: [y], y: [scores[name] ?? null],
      marker: { color: COLORS[k % COLORS.length], size: 11, line: { width: 1.5, color: "white" } },
      hovertemplate: `${name}: %{y:.6f} at y = %{x:.2f}<extra></extra>`,
    },
  ]);
  const axisName = { x: "x", y: "y", z: "z", jet: "the jet axis" }[model.get("axis")];
  const layout = baseLayout(`tagger score vs boost along ${axisName}`, {
    xaxis: { title: { text: "rapidity y" }, range: [-ymax, ymax], zeroline: false },
    yaxis: { title: { text: "score = sigmoid(logit)" }, range: [0, 1], fixedrange: true },
    shapes: [{
      type: "line", xref: "x", yref: "paper", x0: y, x1: y, y0: 0, y1: 1,
      line: { color: "#9e9e9e", width: 1, dash: "dot" },
    }],
  });
  if (!names.length) {
    layout.annotations = [{
      text: "no taggers given", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
    }];
  }
  return [traces, layout];
}

function options(select, pairs) {
  select.replaceChildren(...pairs.map(([value, text]) => el("option", { value, text })));
}

function render({ model, el: root }) {
  const set = (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const next = (label, step = 1) => model.send({ type: "next", label, step });

  const container = el("div", { class: "wb-jet", "data-wb-widget": "JetViewer" });
  const title = el("div", { class: "wb-jet-title" });

  // jet selection
  const index = el("input", { type: "number", name: "index", min: "0", step: "1" });
  index.addEventListener("change", () => set({ index: Number(index.value) }));
  const ofTotal = el("span", { class: "wb-jet-value" });
  const badge = el("span", { class: "wb-jet-badge" });
  const button = (name, text, handler, tip = "") => {
    const b = el("button", { type: "button", name, text, title: tip });
    b.addEventListener("click", handler);
    return b;
  };
  const previous = button("previous", "◀", () => next(null, -1), "previous jet");
  const following = button("next", "▶", () => next(null, 1), "next jet");
  const nextTop = button("next-top", "next top", () => next(1), "next top jet");
  const nextQcd = button("next-qcd", "next QCD", () => next(0), "next QCD jet");

  // boost
  const axis = el("select", { name: "axis" });
  options(axis, AXIS_OPTIONS);
  axis.addEventListener("change", () => set({ axis: axis.value }));
  const rapidity = el("input", { type: "range", name: "rapidity", step: "0.01" });
  rapidity.addEventListener("input", () => set({ rapidity: Number(rapidity.value) }));
  const rapidityValue = el("span", { class: "wb-jet-value" });
  const rest = button("rest", "y = 0", () => set({ rapidity: 0 }), "back to the jet as given");
  const coordinates = el("select", { name: "coordinates" });
  options(coordinates, COORDINATE_OPTIONS);
  coordinates.addEventListener("change", () => set({ coordinates: coordinates.value }));

  const controls = el("div", { class: "wb-jet-controls" }, [
    el("label", {}, [el("span", { text: "jet" }), previous, index, following, ofTotal]),
    badge, nextTop, nextQcd,
    el("label", { title: "boost direction" }, [el("span", { text: "boost along" }), axis]),
    el("label", { title: "rapidity of the boost" }, [el("span", { text: "y" }), rapidity, rapidityValue]),
    rest,
    el("label", {}, [el("span", { text: "η–φ" }), coordinates]),
  ]);

  const jetLine = el("div", { class: "wb-jet-kinematics" });
  const readout = el("div", { class: "wb-jet-readout" });
  const plots = {
    constituents: el("div", { class: "wb-jet-plot", "data-plot": "constituents" }),
    mass: el("div", { class: "wb-jet-plot", "data-plot": "mass" }),
    scores: el("div", { class: "wb-jet-plot", "data-plot": "scores" }),
  };
  const grid = el("div", { class: "wb-jet-plots" }, Object.values(plots));
  container.append(title, controls, jetLine, readout, grid);
  root.appendChild(container);

  function syncControls() {
    const n = model.get("n_jets");
    const ymax = model.get("max_rapidity");
    const counts = model.get("label_counts");
    index.max = String(n - 1);
    index.value = String(model.get("index"));
    ofTotal.textContent = `of ${n}`;
    nextQcd.disabled = !counts[0];
    nextTop.disabled = !counts[1];
    axis.value = model.get("axis");
    coordinates.value = model.get("coordinates");
    rapidity.min = String(-ymax);
    rapidity.max = String(ymax);
    rapidity.value = String(model.get("rapidity"));
    rapidityValue.textContent = model.get("rapidity").toFixed(2);
    container.dataset.index = String(model.get("index"));
    container.dataset.axis = model.get("axis");
    container.dataset.rapidity = String(model.get("rapidity"));
    container.dataset.coordinates = model.get("coordinates");
  }

  function syncReadout() {
    const names = model.get("model_names");
    const scores = model.get("scores");
    const reference = model.get("reference_scores");
    const spread = model.get("spread");
    const label = model.get("label_names")[model.get("label")];
    const jet = model.get("jet");
    const n = model.get("axis_vector").map((v) => v.toFixed(2)).join(", ");
    title.textContent = model.get("title") || "a jet under Lorentz boosts";
    badge.textContent = label;
    badge.style.background = CLASS_COLORS[label] ?? "#757575";
    const eta = jet.eta === null ? "±∞" : jet.eta.toFixed(3);
    jetLine.textContent =
      `${model.get("n_constituents")} constituents · m = ${model.get("mass").toFixed(3)} GeV ` +
      `(at rest ${model.get("reference_mass").toFixed(3)}) · pT = ${jet.pt.toFixed(1)} GeV · ` +
      `E = ${jet.e.toFixed(1)} GeV · η = ${eta} · φ = ${jet.phi.toFixed(3)} · n = (${n})`;
    readout.replaceChildren(...names.map((m, k) => el("div", { class: "wb-jet-model", "data-model": m }, [
      el("span", { class: "wb-jet-swatch", style: `background:${COLORS[k % COLORS.length]}` }),
      el("span", { class: "wb-jet-name", text: m }),
      el("span", { text: `score ${(scores[m] ?? 0).toFixed(4)} (at rest ${(reference[m] ?? 0).toFixed(4)})` }),
      el("span", {
        class: "wb-jet-spread", "data-spread": String(spread[m] ?? 0),
        title: "largest |score(y) − score(0)| over the boosts visited for this jet",
        text: `spread ${formatSpread(spread[m] ?? 0)}`,
      }),
    ])));
    container.dataset.label = String(model.get("label"));
    container.dataset.mass = String(model.get("mass"));
    container.dataset.referenceMass = String(model.get("reference_mass"));
    container.dataset.scores = JSON.stringify(scores);
    container.dataset.referenceScores = JSON.stringify(reference);
    container.dataset.spread = JSON.stringify(spread);
  }

  async function draw() {
    syncReadout();
    const figures = {
      constituents: constituentFigure(model),
      mass: massFigure(model),
      scores: scoreFigure(model),
    };
    await Promise.all(Object.entries(figures).map(
      ([name, [data, layout]]) => Plotly.react(plots[name], data, layout, CONFIG),
    ));
    container.dataset.wbReady = "1";
  }

  const schedule = drawScheduler(draw, "JetViewer");

  const resize = resizePlotsWithContainers(Object.values(plots));

  syncControls();
  schedule();
  const onControls = () => syncControls();
  const onView = () => schedule();
  for (const name of CONTROL_TRAITS) model.on(`change:${name}`, onControls);
  for (const name of VIEW_TRAITS) model.on(`change:${name}`, onView);
  return () => {
    resize.disconnect();
    for (const name of CONTROL_TRAITS) model.off(`change:${name}`, onControls);
    for (const name of VIEW_TRAITS) model.off(`change:${name}`, onView);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
  };
}

export default { render };
