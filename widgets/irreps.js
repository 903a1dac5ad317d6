// Front end of widgets.IrrepsExplorer: menus and sliders in, plots out; no math here.
// `Plotly` (vendored plotly.js) and the helpers `el`, `resizePlotsWithContainers` (_shared.js)
// are defined before this module by widgets/_assets.py.

const CONFIG = { displaylogo: false, responsive: true };
const COLORS = { a: "#1565c0", b: "#ef6c00", c: "#2e7d32" };

function layout(title, extra = {}) {
  return {
    title: { text: title, font: { size: 13 } },
    height: 280,
    margin: { l: 45, r: 10, t: 36, b: 40 },
    font: { size: 11 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    ...extra,
  };
}

function heatmap(view, title) {
  const traces = [{ type: "heatmap", z: view.re, colorscale: "RdBu", zmid: 0, showscale: false, name: "Re" }];
  if (view.im) {
    traces.push({ type: "heatmap", z: view.im, colorscale: "RdBu", zmid: 0, showscale: false, name: "Im", xaxis: "x2", yaxis: "y2" });
  }
  const extra = { yaxis: { autorange: "reversed" } };
  if (view.im) {
    Object.assign(extra, {
      grid: { rows: 1, columns: 2, pattern: "independent" },
      yaxis2: { autorange: "reversed" },
      annotations: [
        { text: "Re", xref: "x domain", yref: "y domain", x: 0.5, y: 1.08, showarrow: false },
        { text: "Im", xref: "x2 domain", yref: "y2 domain", x: 0.5, y: 1.08, showarrow: false },
      ],
    });
  }
  return [traces, layout(title, extra)];
}

function select(name, onChange) {
  const node = el("select", { name });
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function slider(name, min, max, step, onInput) {
  const node = el("input", { type: "range", name, min: String(min), max: String(max), step: String(step) });
  node.addEventListener("input", () => onInput(Number(node.value)));
  return node;
}

function render({ model, el: root }) {
  const set = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const container = el("div", { class: "wb-ir", "data-wb-widget": "IrrepsExplorer" });
  const groupSel = select("group", (v) => set("group_name", v));
  const aSel = select("a", (v) => set("irrep_a", v));
  const bSel = select("b", (v) => set("irrep_b", v));
  const cSel = select("c", (v) => set("irrep_c", v));
  const pathIn = slider("path", 0, 0, 1, (v) => set("path", v));
  const sliceIn = slider("slice", 0, 0, 1, (v) => set("slice_index", v));
  const genIn = slider("generator", 0, 0, 1, (v) => set("generator", v));
  const angleIn = slider("angle", 0, 2 * Math.PI, 0.01, (v) => set("angle", v));
  const rapidityIn = slider("rapidity", 0, 4, 0.01, (v) => set("rapidity", v));
  const rapidityLabel = el("label", {}, [el("span", { text: "rapidity" }), rapidityIn]);
  const badge = el("span", { class: "wb-ir-badge" });
  const residual = el("span", { class: "wb-ir-residual" });
  const error = el("div", { class: "wb-ir-error" });
  const product = el("div", { class: "wb-ir-product" });
  const controls = el("div", { class: "wb-ir-controls" }, [
    el("label", {}, [el("span", { text: "group" }), groupSel]),
    el("label", {}, [el("span", { text: "a" }), aSel]),
    el("span", { text: "⊗" }),
    el("label", {}, [el("span", { text: "b" }), bSel]),
    el("span", { text: "→" }),
    el("label", {}, [el("span", { text: "c" }), cSel]),
  ]);
  const sliders = el("div", { class: "wb-ir-controls" }, [
    el("label", {}, [el("span", { text: "path" }), pathIn]),
    el("label", {}, [el("span", { text: "slice m_c" }), sliceIn]),
    el("label", {}, [el("span", { text: "generator" }), genIn]),
    el("label", {}, [el("span", { text: "angle" }), angleIn]),
    rapidityLabel,
  ]);
  const check = el("div", { class: "wb-ir-check" }, [
    el("span", { text: "C (D_a ⊗ D_b) = D_c C:" }), residual, badge,
  ]);
  const plots = {
    product: el("div", { class: "wb-ir-plot", "data-plot": "product" }),
    weights: el("div", { class: "wb-ir-plot", "data-plot": "weights" }),
    cg: el("div", { class: "wb-ir-plot", "data-plot": "cg" }),
    generator: el("div", { class: "wb-ir-plot", "data-plot": "generator" }),
  };
  container.append(controls, product, sliders, check, error,
    el("div", { class: "wb-ir-plots" }, Object.values(plots)));
  root.appendChild(container);

  function options(node, values, current) {
    node.replaceChildren(...values.map((v) => el("option", { value: v, text: v })));
    node.value = current;
  }

  function syncControls() {
    options(groupSel, model.get("group_names"), model.get("group_name"));
    const choices = model.get("choices");
    options(aSel, choices, model.get("irrep_a"));
    options(bSel, choices, model.get("irrep_b"));
    options(cSel, model.get("decomposition").map((d) => d.label), model.get("irrep_c"));
    const cg = model.get("cg_view");
    pathIn.max = String(Math.max((cg.paths || 1) - 1, 0));
    pathIn.value = String(model.get("path"));
    sliceIn.max = String(Math.max(((cg.shape || [1, 1, 1])[2]) - 1, 0));
    sliceIn.value = String(model.get("slice_index"));
    genIn.max = "15";
    genIn.value = String(model.get("generator"));
    angleIn.value = String(model.get("angle"));
    rapidityIn.value = String(model.get("rapidity"));
    rapidityLabel.style.display = model.get("compact") ? "none" : "";
  }

  function syncText() {
    const r = model.get("residual");
    residual.textContent = r.toExponential(1);
    const ok = r < 1e-10;
    badge.textContent = ok ? "PASS" : "FAIL";
    badge.className = `wb-ir-badge ${ok ? "wb-ir-pass" : "wb-ir-fail"}`;
    container.dataset.residual = String(r);
    const dec = model.get("decomposition");
    const total = dec.reduce((s, d) => s + d.mul * d.dim, 0);
    product.textContent = `${model.get("irrep_a")} ⊗ ${model.get("irrep_b")} = ` +
      dec.map((d) => `${d.mul > 1 ? `${d.mul}×` : ""}${d.label}`).join(" ⊕ ") +
      `   (dimension ${total})`;
    error.textContent = model.get("error");
  }

  async function draw() {
    const dec = model.get("decomposition");
    const w = model.get("weights");
    const cg = model.get("cg_view");
    const gen = model.get("generator_view");
    // no data yet (Python always opens the widget with its first views; this only guards
    // against a model created empty): the change event that brings them draws
    if (!cg?.re || !gen?.re) return;
    const weightTraces = ["a", "b", "c"].filter((k) => w[k]).map((k) => ({
      type: "scatter", mode: "markers", name: `${k}: ${w[k].label}`,
      x: w[k].xy.map((p) => p[0]), y: w[k].xy.map((p) => p[1]),
      marker: { color: COLORS[k], size: k === "a" ? 14 : k === "b" ? 10 : 6, opacity: 0.8 },
    }));
    const [cgTraces, cgLayout] = heatmap(cg, `CG path ${model.get("path")} of ${cg.paths}, slice m_c = ${model.get("slice_index")}`);
    const [genTraces, genLayout] = heatmap(gen, `generator ${model.get("generator")} on a`);
    await Promise.all([
      Plotly.react(plots.product, [{
        type: "bar", x: dec.map((d) => d.label), y: dec.map((d) => d.mul * d.dim),
        text: dec.map((d) => `${d.mul}×${d.dim}`), textposition: "auto", marker: { color: COLORS.c },
      }], layout("a ⊗ b: dimension of each irrep × multiplicity", { xaxis: { type: "category" } }), CONFIG),
      Plotly.react(plots.weights, weightTraces, layout("weight diagrams", {
        xaxis: { zeroline: true }, yaxis: { scaleanchor: "x", zeroline: true },
        legend: { orientation: "h", y: -0.2 },
      }), CONFIG),
      Plotly.react(plots.cg, cgTraces, cgLayout, CONFIG),
      Plotly.react(plots.generator, genTraces, genLayout, CONFIG),
    ]);
    container.dataset.wbReady = "1";
  }

  const resize = resizePlotsWithContainers(Object.values(plots));

  const refresh = () => {
    syncControls();
    syncText();
    draw();
  };
  refresh();
  model.on("change", refresh);
  return () => {
    resize.disconnect();
    model.off("change", refresh);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
  };
}

export default { render };
