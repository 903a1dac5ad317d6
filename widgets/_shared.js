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
