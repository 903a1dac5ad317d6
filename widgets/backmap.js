// Front end of widgets.BackmapViewer: the MoleculeViewer front end (molecule.js, whose
// `render` is defined before this file by widgets/backmap.py) plus the backmapping controls:
// which model and which sample is shown, whether the reference ghost and the beads are drawn,
// the colouring (element, bead, error), a key and a readout of the RMSD that Python computed.
// No math on the data here.

function backmapControls({ model, container, controls, legend, set }) {
  container.dataset.wbWidget = "BackmapViewer";
  container.classList.add("wb-bm");
  const modelSelect = el("select", { name: "model", title: "which model generated the structure" });
  modelSelect.addEventListener("change", () => set({ selected_model: modelSelect.value }));
  const sampleSelect = el("select", { name: "sample", title: "which sample of that model" });
  sampleSelect.addEventListener("change", () => set({ sample: Number(sampleSelect.value) }));
  const toggles = {};
  const toggle = (name, text, tip) => {
    const input = el("input", { type: "checkbox", name });
    input.addEventListener("change", () => set({ [name]: input.checked }));
    toggles[name] = input;
    return el("label", { title: tip }, [input, el("span", { text })]);
  };
  const colorSelect = el("select", { name: "color_by", title: "how the generated atoms are coloured" });
  colorSelect.addEventListener("change", () => set({ color_by: colorSelect.value }));
  const row = el("div", { class: "wb-bm-controls" }, [
    el("label", {}, [el("span", { text: "model" }), modelSelect]),
    el("label", {}, [el("span", { text: "sample" }), sampleSelect]),
    toggle("show_reference", "reference", "the true all-atom structure, drawn as a grey ghost"),
    toggle("show_beads", "beads", "the coarse-grained beads the structure was generated from"),
    el("label", { title: "element; bead: the CG mapping; error: distance to the reference" }, [
      el("span", { text: "colour by" }), colorSelect,
    ]),
  ]);
  controls.after(row);
  const readout = el("div", { class: "wb-bm-readout" });
  const key = el("div", { class: "wb-bm-key" });
  legend.prepend(readout, key);
  const KEY = {
    generated: "generated",
    reference: "reference (ghost)",
    bead: "CG beads",
  };

  const options = (select, items) => {
    const values = items.map(([value]) => value);
    const current = [...select.options].map((o) => o.value);
    if (current.length !== values.length || current.some((v, i) => v !== values[i])) {
      select.replaceChildren(...items.map(([value, text]) => el("option", { value, text })));
    }
  };

  return {
    traits: [
      "model_names", "selected_model", "sample", "sample_counts", "show_reference", "show_beads",
      "color_by", "color_modes", "readout",
    ],
    sync() {
      const name = model.get("selected_model");
      options(modelSelect, model.get("model_names").map((m) => [m, m]));
      modelSelect.value = name;
      const count = model.get("sample_counts")[name] ?? 1;
      options(sampleSelect, Array.from({ length: count }, (_, i) => [String(i), `#${i + 1}`]));
      sampleSelect.value = String(model.get("sample"));
      sampleSelect.disabled = count <= 1;
      for (const [name, input] of Object.entries(toggles)) input.checked = model.get(name);
      options(colorSelect, model.get("color_modes").map((m) => [m, m]));
      colorSelect.value = model.get("color_by");
    },
    draw() {
      const r = model.get("readout");
      if (r.rmsd === undefined) return;
      const parts = [`${r.model}, sample #${r.sample + 1}, frame ${r.frame + 1}`];
      if (r.label) parts.push(r.label);
      parts.push(`RMSD to reference ${r.rmsd.toFixed(3)} Å`);
      if (r.heavy_rmsd !== null) parts.push(`heavy atoms ${r.heavy_rmsd.toFixed(3)} Å`);
      readout.textContent = parts.join(" · ");
      const layers = model.get("layers");
      key.replaceChildren(...layers.map((l) => el("span", { class: "wb-bm-key-item" }, [
        el("span", {
          class: "wb-bm-key-swatch",
          style: `background:${l.color ?? "linear-gradient(to right, #909090, #3050f8, #ff0d0d)"};`
            + `opacity:${Math.max(l.opacity, 0.5)}`,
        }),
        el("span", { text: KEY[l.name] ?? l.name }),
      ])));
      container.dataset.model = r.model;
      container.dataset.sample = String(r.sample);
      container.dataset.readout = JSON.stringify(r);
      container.dataset.layers = JSON.stringify(layers.map((l) => l.name));
      container.dataset.colorBy = model.get("color_by");
    },
  };
}

export default {
  render: (context) => render(context, backmapControls),
};
