// Helpers shared by every widget's ES module (prepended by widgets/_assets.py).

/** A DOM element with attributes ("text" sets textContent) and children. */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

/** Plotly sizes a plot when it is drawn, which may be before the page has laid it out:
 *  resize each plot with its container. Returns the observer (disconnect it on cleanup). */
function resizePlotsWithContainers(plots) {
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      if (entry.target.querySelector(".main-svg")) Plotly.Plots.resize(entry.target);
    }
  });
  for (const plot of plots) observer.observe(plot);
  return observer;
}

/** Coalesced drawing: a message from Python changes several traits at once, so draw once after
 *  all of them, and never two draws at the same time. Returns `schedule()`; `schedule.pending()`
 *  is true while a draw is queued or running. Errors are logged with the widget's `name`. */
function drawScheduler(draw, name) {
  let queued = false;
  let busy = false;
  let drawing = Promise.resolve();
  const schedule = () => {
    if (queued) return;
    queued = true;
    drawing = drawing.then(async () => {
      queued = false;
      busy = true;
      try {
        await draw();
      } catch (error) {
        console.error(`${name}: drawing failed`, error);
      } finally {
        busy = false;
      }
    });
  };
  schedule.pending = () => queued || busy;
  return schedule;
}

/** The plotly layout every widget's plots share (transparent, small fonts, the user's zoom kept
 *  when the data change); `extra` adds margins, height, legend, axes. */
function plotLayout(title, extra = {}) {
  return {
    title: { text: title, font: { size: 13 } },
    font: { size: 11 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    uirevision: "keep",
    ...extra,
  };
}
