// Front end of widgets.EquivarianceCheck: draws what Python computed, sends angles back.
// `Plotly` (vendored plotly.js) and the helpers `el`, `resizePlotsWithContainers` (_shared.js)
// are defined before this module by widgets/_assets.py.

const ANGLES = [
  { name: "alpha", label: "α", max: 2 * Math.PI },
  { name: "beta", label: "β", max: Math.PI },
  { name: "gamma", label: "γ", max: 2 * Math.PI },
];
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const FLOOR = 1e-18; // relative errors of exactly 0 are drawn here on the log axis

function layout(title, extra = {}) {
  return {
    title: { text: title, font: { size: 13 } },
    height: 260,
    margin: { l: 50, r: 10, t: 36, b: 60 },
    barmode: "group",
    legend: { orientation: "h", y: -0.35, font: { size: 11 } },
    font: { size: 11 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    ...extra,
  };
}

function bars(name, labels, values, color) {
  return { type: "bar", name, x: labels, y: values, marker: { color } };
}

function render({ model, el: root }) {
  const container = el("div", { class: "wb-eq", "data-wb-widget": "EquivarianceCheck" });
  const title = el("div", { class: "wb-eq-title" });
  const badge = el("span", { class: "wb-eq-badge", "data-testid": "badge" });
  const summary = el("div", { class: "wb-eq-summary" });
  const controls = el("div", { class: "wb-eq-controls" });
  const sliders = {};
  for (const angle of ANGLES) {
    const input = el("input", {
      type: "range", name: angle.name, min: "0", max: String(angle.max), step: "0.01",
    });
    const value = el("span", { class: "wb-eq-value" });
    input.addEventListener("input", () => {
      model.set(angle.name, Number(input.value));
      model.save_changes();
    });
    sliders[angle.name] = { input, value };
    controls.appendChild(el("label", {}, [el("span", { text: angle.label }), input, value]));
  }
  const inversion = el("input", { type: "checkbox", name: "inversion" });
  inversion.addEventListener("change", () => {
    model.set("inversion", inversion.checked);
    model.save_changes();
  });
  const inversionLabel = el("label", {}, [inversion, el("span", { text: "inversion x → −x" })]);
  controls.appendChild(inversionLabel);
  const random = el("button", { type: "button", name: "random", text: "random g" });
  random.addEventListener("click", () => {
    for (const angle of ANGLES) model.set(angle.name, Math.random() * angle.max);
    if (model.get("has_inversion")) model.set("inversion", Math.random() < 0.5);
    model.save_changes();
  });
  controls.appendChild(random);

  const plots = {
    input: el("div", { class: "wb-eq-plot", "data-plot": "input" }),
    output: el("div", { class: "wb-eq-plot", "data-plot": "output" }),
    errors: el("div", { class: "wb-eq-plot", "data-plot": "errors" }),
  };
  const header = el("div", { class: "wb-eq-header" }, [title, badge]);
  const grid = el("div", { class: "wb-eq-plots" }, Object.values(plots));
  container.append(header, summary, controls, grid);
  root.appendChild(container);

  function syncControls() {
    for (const angle of ANGLES) {
      const v = model.get(angle.name);
      sliders[angle.name].input.value = String(v);
      sliders[angle.name].value.textContent = v.toFixed(2);
    }
    inversion.checked = model.get("inversion");
    inversionLabel.style.display = model.get("has_inversion") ? "" : "none";
  }

  function syncBadge() {
    const passed = model.get("passed");
    badge.textContent = passed ? "PASS" : "FAIL";
    badge.className = `wb-eq-badge ${passed ? "wb-eq-pass" : "wb-eq-fail"}`;
    container.dataset.passed = String(passed);
    summary.textContent = model.get("summary");
    const name = model.get("title");
    title.textContent = `${name ? `${name}: ` : ""}${model.get("irreps_in")} → ${model.get("irreps_out")} under ${model.get("group_name")}`;
  }

  async function draw() {
    const view = model.get("view");
    // no data yet (Python always opens the widget with its first view; this only guards
    // against a model created empty): the change event that brings them draws
    if (!view?.x) return;
    const labelsIn = model.get("labels_in");
    const labelsOut = model.get("labels_out");
    container.dataset.relError = String(view.rel_error);
    const samples = model.get("samples");
    const tol = model.get("tolerance");
    const xs = samples.map((s) => `#${s.sample}`).concat(["yours"]);
    const ys = samples.map((s) => Math.max(s.rel_error, FLOOR)).concat([Math.max(view.rel_error, FLOOR)]);
    const colors = samples.map((s) => (s.passed ? "#2e7d32" : "#c62828"))
      .concat([view.passed ? "#2e7d32" : "#c62828"]);
    const symbols = samples.map(() => "circle").concat(["star"]);
    await Promise.all([
      Plotly.react(plots.input, [
        bars("x", labelsIn, view.x, "#90a4ae"),
        bars("g·x", labelsIn, view.gx, "#1565c0"),
      ], layout("input: before and after g"), CONFIG),
      Plotly.react(plots.output, [
        bars("f(x)", labelsOut, view.fx, "#90a4ae"),
        bars("f(g·x)", labelsOut, view.f_gx, "#1565c0"),
        bars("g·f(x)", labelsOut, view.g_fx, "#ef6c00"),
      ], layout("output: f(g·x) must equal g·f(x)"), CONFIG),
      Plotly.react(plots.errors, [{
        type: "scatter", mode: "markers", x: xs, y: ys, name: "relative error",
        marker: { color: colors, symbol: symbols, size: 9 },
      }], layout("relative error per group element", {
        xaxis: { type: "category", title: { text: "sample" } },
        yaxis: { type: "log", exponentformat: "power" },
        shapes: [{
          type: "line", xref: "paper", x0: 0, x1: 1, y0: tol, y1: tol,
          line: { dash: "dash", color: "#616161" },
        }],
        annotations: [{
          xref: "paper", x: 1, y: Math.log10(tol), yanchor: "bottom", xanchor: "right",
          text: "tolerance", showarrow: false,
        }],
        showlegend: false,
      }), CONFIG),
    ]);
    container.dataset.wbReady = "1";
  }

  const resize = resizePlotsWithContainers(Object.values(plots));

  syncControls();
  syncBadge();
  draw();
  const onAngles = () => syncControls();
  const onBadge = () => syncBadge();
  const onView = () => draw();
  const angleTraits = ["alpha", "beta", "gamma", "inversion", "has_inversion"];
  const badgeTraits = ["passed", "summary", "title"];
  for (const name of angleTraits) model.on(`change:${name}`, onAngles);
  for (const name of badgeTraits) model.on(`change:${name}`, onBadge);
  const viewTraits = ["view", "samples", "tolerance", "labels_in", "labels_out"];
  for (const name of viewTraits) model.on(`change:${name}`, onView);
  return () => {
    resize.disconnect();
    for (const name of angleTraits) model.off(`change:${name}`, onAngles);
    for (const name of badgeTraits) model.off(`change:${name}`, onBadge);
    for (const name of viewTraits) model.off(`change:${name}`, onView);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
  };
}

export default { render };
