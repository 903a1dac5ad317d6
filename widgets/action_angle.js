// Front end of widgets.ActionAngleViewer: draws the trajectories and action-angle coordinates
// that Python computed, animates the time marker, sends the time index, the degree of freedom
// and the jump back. No math on the data here.
// `Plotly` (vendored plotly.js) and the helpers `el`, `resizePlotsWithContainers` (_shared.js)
// are defined before this module by widgets/_assets.py.

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const COLORS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037"];
const TRUE_COLOR = "#424242";
const FRAME_MS = 50;
const FRAMES_PER_LOOP = 200; // one pass through the trajectory takes about 10 s

/** Mean squared errors: tiny ones (exact models, round-off) in exponent form. */
function formatError(value) {
  if (value === 0) return "0";
  return value < 1e-3 || value >= 1e4 ? value.toExponential(2) : value.toFixed(4);
}

function baseLayout(title, extra = {}) {
  return plotLayout(title, {
    margin: { l: 50, r: 10, t: 36, b: 40 },
    height: 380,
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.18, yanchor: "top" },
    ...extra,
  });
}

/** Angles are wrapped to [-pi, pi): break a line where it wraps instead of crossing the plot. */
function breakAtWraps(theta, values) {
  const x = [];
  const y = [];
  for (let i = 0; i < theta.length; i++) {
    if (i > 0 && Math.abs(theta[i] - theta[i - 1]) > Math.PI) {
      x.push(null);
      y.push(null);
    }
    x.push(theta[i]);
    y.push(values[i]);
  }
  return [x, y];
}

/** Where the markers sit at time index i: the true state at i, each model's latest predicted
 *  point at or before i. */
function markerPoints(model, i, xKey, yKey) {
  const names = model.get("model_names");
  const predictions = model.get("predictions");
  const jump = Math.max(1, predictions[names[0]]?.index?.[1] ?? 1);
  const truth = model.get("true");
  const points = [[truth[xKey][i] ?? null, truth[yKey][i] ?? null]];
  for (const name of names) {
    const pred = predictions[name];
    const j = Math.min(Math.floor(i / jump), (pred?.[xKey]?.length ?? 1) - 1);
    points.push([pred?.[xKey]?.[j] ?? null, pred?.[yKey]?.[j] ?? null]);
  }
  return points;
}

function markerTraces(points) {
  return points.map(([x, y], k) => ({
    type: "scatter", mode: "markers", showlegend: false, hoverinfo: "skip",
    x: [x], y: [y],
    marker: {
      size: k === 0 ? 13 : 11,
      color: k === 0 ? TRUE_COLOR : COLORS[(k - 1) % COLORS.length],
      symbol: k === 0 ? "circle-open" : "circle",
      line: { width: k === 0 ? 3 : 1, color: k === 0 ? TRUE_COLOR : "white" },
    },
  }));
}

function phaseFigure(model, i) {
  const names = model.get("model_names");
  const predictions = model.get("predictions");
  const truth = model.get("true");
  const dof = model.get("dof");
  const traces = [
    {
      type: "scatter", mode: "lines", name: "true", x: truth.q, y: truth.p,
      line: { color: TRUE_COLOR, width: 2 }, hoverinfo: "skip",
    },
    ...names.map((name, k) => ({
      type: "scatter", mode: "lines+markers", name,
      x: predictions[name]?.q ?? [], y: predictions[name]?.p ?? [],
      line: { color: COLORS[k % COLORS.length], width: 1, dash: "dot" },
      marker: { color: COLORS[k % COLORS.length], size: 5 },
      hovertemplate: `${name}: q=%{x:.3f}, p=%{y:.3f}<extra></extra>`,
    })),
    ...markerTraces(markerPoints(model, i, "q", "p")),
  ];
  const layout = baseLayout(`phase space of degree of freedom ${dof}`, {
    xaxis: { title: { text: `q<sub>${dof}</sub>` }, zeroline: false },
    yaxis: { title: { text: `p<sub>${dof}</sub>` }, zeroline: false },
  });
  return [traces, layout];
}

function actionAngleFigure(model, i) {
  const dof = model.get("dof");
  const layout = baseLayout(`learned action-angle coordinates of degree of freedom ${dof}`, {
    xaxis: {
      title: { text: `θ<sub>${dof}</sub>` }, range: [-Math.PI, Math.PI], autorange: false,
      tickmode: "array", tickvals: [-Math.PI, -Math.PI / 2, 0, Math.PI / 2, Math.PI],
      ticktext: ["−π", "−π/2", "0", "π/2", "π"], zeroline: false,
    },
    yaxis: { title: { text: `I<sub>${dof}</sub>` }, zeroline: false },
  });
  if (!model.get("has_action_angle")) {
    layout.annotations = [{
      text: "no action-angle map given", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
    }];
    return [[], layout];
  }
  const names = model.get("model_names");
  const predictions = model.get("predictions");
  const truth = model.get("true");
  const [tx, ty] = breakAtWraps(truth.theta, truth.I);
  const traces = [
    {
      type: "scatter", mode: "lines", name: "true", x: tx, y: ty,
      line: { color: TRUE_COLOR, width: 2 }, hoverinfo: "skip",
    },
    ...names.map((name, k) => {
      const [x, y] = breakAtWraps(predictions[name]?.theta ?? [], predictions[name]?.I ?? []);
      return {
        type: "scatter", mode: "lines+markers", name, x, y,
        line: { color: COLORS[k % COLORS.length], width: 1, dash: "dot" },
        marker: { color: COLORS[k % COLORS.length], size: 5 },
        hovertemplate: `${name}: θ=%{x:.3f}, I=%{y:.4f}<extra></extra>`,
      };
    }),
    ...markerTraces(markerPoints(model, i, "theta", "I")),
  ];
  return [traces, layout];
}

function render({ model, el: root }) {
  const set = (values) => {
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const container = el("div", { class: "wb-aa", "data-wb-widget": "ActionAngleViewer" });
  const title = el("div", { class: "wb-aa-title" });

  const play = el("button", { type: "button", name: "play", text: "▶ play" });
  const time = el("input", { type: "range", name: "time", min: "0", step: "1" });
  const timeValue = el("span", { class: "wb-aa-value" });
  const dof = el("select", { name: "dof" });
  const jump = el("input", { type: "range", name: "jump", min: "1", step: "1" });
  const jumpValue = el("span", { class: "wb-aa-value wb-aa-jump" });
  const controls = el("div", { class: "wb-aa-controls" }, [
    play,
    el("label", {}, [el("span", { text: "time" }), time, timeValue]),
    el("label", {}, [el("span", { text: "degree of freedom" }), dof]),
    el("label", { title: "predict every k-th grid time in one call per model" }, [
      el("span", { text: "jump k" }), jump, jumpValue,
    ]),
  ]);
  const readout = el("div", { class: "wb-aa-readout" });
  const plots = {
    phase: el("div", { class: "wb-aa-plot", "data-plot": "phase" }),
    actionAngle: el("div", { class: "wb-aa-plot", "data-plot": "action-angle" }),
  };
  const grid = el("div", { class: "wb-aa-plots" }, Object.values(plots));
  container.append(title, controls, readout, grid);
  root.appendChild(container);

  // the time index shown; follows model "time_index" except while playing
  let current = model.get("time_index");
  let timer = null;

  function showTime(i) {
    const times = model.get("times");
    current = i;
    time.value = String(i);
    timeValue.textContent = `t = ${(times[i] ?? 0).toFixed(2)}`;
    container.dataset.timeIndex = String(i);
  }

  function syncControls() {
    const n = model.get("n_dof");
    if (dof.options.length !== n) {
      dof.replaceChildren(...Array.from({ length: n }, (_, i) => el("option", { value: String(i), text: String(i) })));
    }
    dof.value = String(model.get("dof"));
    time.max = String(model.get("times").length - 1);
    jump.max = String(model.get("max_jump"));
    jump.value = String(model.get("jump"));
    jumpValue.textContent = `${model.get("jump")} (Δt = ${model.get("jump_time").toFixed(3)})`;
    container.dataset.jump = String(model.get("jump"));
    container.dataset.dof = String(model.get("dof"));
    if (timer === null) showTime(model.get("time_index"));
  }

  function syncReadout() {
    const names = model.get("model_names");
    const errors = model.get("errors");
    const predictions = model.get("predictions");
    title.textContent = model.get("title") || "action-angle coordinates: true vs predicted";
    const k = model.get("jump");
    readout.replaceChildren(...names.map((m, i) => el("div", { class: "wb-aa-model", "data-model": m }, [
      el("span", { class: "wb-aa-swatch", style: `background:${COLORS[i % COLORS.length]}` }),
      el("span", { class: "wb-aa-name", text: m }),
      el("span", {
        class: "wb-aa-error", "data-mse": String(errors[m] ?? 0),
        title: "mean squared error against the true trajectory at the predicted times",
        text: `MSE at jump ${k}: ${formatError(errors[m] ?? 0)}`,
      }),
    ])));
    container.dataset.errors = JSON.stringify(errors);
    container.dataset.points = JSON.stringify(
      Object.fromEntries(names.map((m) => [m, predictions[m]?.index?.length ?? 0])),
    );
  }

  async function draw() {
    // no data yet (Python always opens the widget with its first predictions; this only
    // guards against a model created empty): the change event that brings them draws
    if (!model.get("true")?.q) return;
    syncReadout();
    const [phaseData, phaseLayout] = phaseFigure(model, current);
    const [aaData, aaLayout] = actionAngleFigure(model, current);
    await Promise.all([
      Plotly.react(plots.phase, phaseData, phaseLayout, CONFIG),
      Plotly.react(plots.actionAngle, aaData, aaLayout, CONFIG),
    ]);
    container.dataset.wbReady = "1";
  }

  const schedule = drawScheduler(draw, "ActionAngleViewer");

  /** Move only the markers (the last traces of each plot): cheap enough for every frame. */
  function moveMarkers(i) {
    showTime(i);
    if (schedule.pending()) return; // the coming redraw places them
    const n = model.get("model_names").length + 1;
    for (const [plot, keys] of [[plots.phase, ["q", "p"]], [plots.actionAngle, ["theta", "I"]]]) {
      const count = plot.data?.length ?? 0;
      if (count < n) continue;
      const points = markerPoints(model, i, ...keys);
      const indices = points.map((_, k) => count - n + k);
      Plotly.restyle(plot, { x: points.map((p) => [p[0]]), y: points.map((p) => [p[1]]) }, indices);
    }
  }

  function stop() {
    if (timer === null) return;
    clearInterval(timer);
    timer = null;
    play.textContent = "▶ play";
    container.dataset.playing = "false";
    set({ time_index: current }); // one message when the animation stops, none per frame
  }

  function start() {
    const n = model.get("times").length;
    const step = Math.max(1, Math.round(n / FRAMES_PER_LOOP));
    play.textContent = "❚❚ pause";
    container.dataset.playing = "true";
    timer = setInterval(() => moveMarkers((current + step) % n), FRAME_MS);
  }

  play.addEventListener("click", () => (timer === null ? start() : stop()));
  time.addEventListener("input", () => {
    stop();
    moveMarkers(Number(time.value));
    set({ time_index: Number(time.value) });
  });
  dof.addEventListener("change", () => set({ dof: Number(dof.value) }));
  jump.addEventListener("input", () => set({ jump: Number(jump.value) }));

  const resize = resizePlotsWithContainers(Object.values(plots));

  container.dataset.playing = "false";
  syncControls();
  schedule();
  const onControls = () => syncControls();
  const onTime = () => {
    if (timer === null) moveMarkers(model.get("time_index"));
  };
  const onView = () => {
    syncControls();
    schedule();
  };
  const controlTraits = ["dof", "jump", "jump_time", "max_jump", "n_dof"];
  const viewTraits = ["true", "predictions", "errors", "model_names", "has_action_angle", "times", "title"];
  for (const name of controlTraits) model.on(`change:${name}`, onControls);
  model.on("change:time_index", onTime);
  for (const name of viewTraits) model.on(`change:${name}`, onView);
  return () => {
    if (timer !== null) clearInterval(timer);
    resize.disconnect();
    for (const name of controlTraits) model.off(`change:${name}`, onControls);
    model.off("change:time_index", onTime);
    for (const name of viewTraits) model.off(`change:${name}`, onView);
    for (const plot of Object.values(plots)) Plotly.purge(plot);
  };
}

export default { render };
