// evgrid_gym dashboard: plays an episode tick by tick through the JSON API of app.py.
"use strict";

const dashboard = { setup: null, episodeId: null, tick: 0, done: false, playing: true,
  busy: false, speed: 10, ticksShown: 0, errors: [] };
window.dashboard = dashboard;

const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = { displayModeBar: false, responsive: true };
const FONT = { family: "DejaVu Sans, system-ui, sans-serif", size: 11, color: "#1f2933" };
const OWN = "#16a34a", EXTERNAL = "#dc2626";

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(typeof data.detail === "string" ? data.detail : JSON.stringify(data));
    error.status = response.status;
    throw error;
  }
  return data;
}

function showStatus(text) { $("status").textContent = text; }

function hours(tick) { return tick * dashboard.setup.dt_h; }

function timeAxis() {
  const span = dashboard.setup.episode_ticks * dashboard.setup.dt_h;
  const step = Math.max(1, Math.round(span / 8));
  const values = [];
  for (let h = 0; h <= span; h += step) values.push(h);
  return { range: [0, span], tickvals: values, gridcolor: "#eef0f3",
    ticktext: values.map((h) => String(h % 24).padStart(2, "0") + ":00") };
}

// Own production on top, the community's consumption in the middle, the price below: each on
// its own scale, as wind can be a hundred times the EV charging.
const FLOW_AXIS = { wind_kw: "y", surplus_kw: "y", price_eur_per_kwh: "y3" };

function newFlowsPlot() {
  const traces = dashboard.setup.flows.map((flow) => ({
    x: [], y: [], name: flow.label, mode: "lines", line: { color: flow.colour, width: 2, shape: "hv" },
    yaxis: FLOW_AXIS[flow.name] || "y2",
    hovertemplate: flow.name === "price_eur_per_kwh" ? "%{y:.3f} EUR/kWh" : "%{y:.1f} kW",
  }));
  const axis = (title, domain) => ({ title: { text: title, font: { size: 10 } }, domain: domain,
    gridcolor: "#eef0f3", zeroline: true, zerolinecolor: "#d0d5dd" });
  const layout = {
    font: FONT, margin: { l: 62, r: 10, t: 6, b: 30 }, hovermode: "x unified",
    legend: { orientation: "h", y: 1.07, x: 0 },
    xaxis: { ...timeAxis(), anchor: "y3" },
    yaxis: axis("production (kW)", [0.66, 1]),
    yaxis2: axis("consumption (kW)", [0.27, 0.6]),
    yaxis3: axis("EUR/kWh", [0, 0.2]),
  };
  Plotly.newPlot("flows", traces, layout, PLOT_CONFIG);
}

function addFlows(frame) {
  const x = hours(frame.tick - 1);
  const names = dashboard.setup.flows.map((flow) => flow.name);
  Plotly.extendTraces("flows", { x: names.map(() => [x]), y: names.map((n) => [frame.flows[n]]) },
    names.map((_, i) => i));
}

// The merit order split at the own energy used: left of it own wind, right of it external.
function splitCurve(kwh, price, at) {
  const own = { x: [], y: [] }, ext = { x: [], y: [] };
  for (let i = 0; i < kwh.length; i++) {
    if (kwh[i] <= at) { own.x.push(kwh[i]); own.y.push(price[i]); }
    if (i > 0 && kwh[i - 1] < at && kwh[i] > at) {
      const f = (at - kwh[i - 1]) / (kwh[i] - kwh[i - 1]);
      const p = price[i - 1] + f * (price[i] - price[i - 1]);
      own.x.push(at); own.y.push(p); ext.x.push(at); ext.y.push(p);
    }
    if (kwh[i] >= at) { ext.x.push(kwh[i]); ext.y.push(price[i]); }
  }
  return [own, ext];
}

function drawMarket(market) {
  const curve = market.merit_order;
  const [own, ext] = splitCurve(curve.kwh, curve.price, market.own_used_kwh);
  const top = Math.max(1.05, ...curve.price);
  const demand = curve.kwh[curve.kwh.length - 1];
  // the x axis spans the demand; own supply far beyond it is marked at the right edge
  const right = Math.max(demand * 1.15, 1);
  const supplyX = Math.min(market.supply_kwh, right);
  const supplyText = `own supply ${market.supply_kwh.toFixed(1)} kWh` +
    (market.supply_kwh > right ? " \u25B6" : "");
  Plotly.react("merit", [
    { ...own, name: "own wind", fill: "tozeroy", mode: "lines", line: { color: OWN, width: 2 },
      fillcolor: "rgba(22,163,74,0.25)", hovertemplate: "%{x:.2f} kWh at %{y:.3f} EUR/kWh" },
    { ...ext, name: "external supplier", fill: "tozeroy", mode: "lines",
      line: { color: EXTERNAL, width: 2 }, fillcolor: "rgba(220,38,38,0.18)",
      hovertemplate: "%{x:.2f} kWh at %{y:.3f} EUR/kWh" },
  ], {
    font: FONT, margin: { l: 48, r: 10, t: 4, b: 34 }, showlegend: true,
    legend: { x: 0.99, xanchor: "right", y: 0.82, yanchor: "top", bgcolor: "rgba(255,255,255,0.8)" },
    xaxis: { title: { text: "energy bid at this price or above (kWh)", standoff: 2 },
      range: [0, right], gridcolor: "#eef0f3" },
    yaxis: { title: { text: "bid (EUR/kWh)" }, range: [Math.min(0, ...curve.price), top],
      gridcolor: "#eef0f3" },
    shapes: [{ type: "line", x0: supplyX, x1: supplyX, y0: 0, y1: top,
      line: { color: OWN, dash: "dot", width: 2 } }],
    annotations: [{ x: supplyX, y: top, text: supplyText, showarrow: false,
      xanchor: market.supply_kwh > right * 0.6 ? "right" : "left", yanchor: "top",
      font: { color: OWN, size: 10 }, bgcolor: "rgba(255,255,255,0.8)" }],
  }, PLOT_CONFIG);
  const names = market.consumers.map((c) => c.in_market
    ? `${c.name} (bid ${c.bid_eur_per_kwh.toFixed(2)})` : `${c.name} (link down)`);
  Plotly.react("consumers", [
    { type: "bar", orientation: "h", y: names, x: market.consumers.map((c) => c.own_kwh),
      name: "own wind", marker: { color: OWN }, hovertemplate: "%{x:.2f} kWh" },
    { type: "bar", orientation: "h", y: names, x: market.consumers.map((c) => c.external_kwh),
      name: "external", marker: { color: EXTERNAL }, hovertemplate: "%{x:.2f} kWh" },
  ], {
    font: FONT, barmode: "stack", margin: { l: 150, r: 10, t: 4, b: 30 }, showlegend: false,
    xaxis: { title: { text: "energy bought this tick (kWh)", standoff: 4 }, gridcolor: "#eef0f3" },
    yaxis: { autorange: "reversed" },
  }, PLOT_CONFIG);
  $("market-note").textContent =
    `own ${market.own_used_kwh.toFixed(1)} of ${market.supply_kwh.toFixed(1)} kWh used, ` +
    `external ${market.external_kwh.toFixed(1)} kWh, surplus ${market.surplus_kwh.toFixed(1)} kWh`;
}

function formatValue(value, unit) {
  if (unit === "-") return value.toFixed(3);
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${unit}`;
}

function drawSide(frame) {
  $("kpis").innerHTML = frame.kpis.map((k) =>
    `<tr><td>${k.name}</td><td>${formatValue(k.value, k.unit)}</td></tr>`).join("");
  $("reward").textContent = `reward ${frame.reward.toFixed(2)} ${frame.reward_unit}`;
  $("reward").classList.toggle("negative", frame.reward < 0);
  $("counters").innerHTML = frame.counters.map((c) =>
    `<div class="counter"><b>${c.value}</b><span>${c.name}</span></div>`).join("");
  const list = $("events");
  for (const event of frame.events) {
    const item = document.createElement("li");
    item.innerHTML = `<time>${event.time}</time><span class="kind ${event.kind}">` +
      `${event.kind.replace("_", "-")}</span><span></span>`;
    item.lastChild.textContent = event.text;
    list.prepend(item);
  }
  while (list.children.length > 300) list.lastChild.remove();
}

function show(frame) {
  dashboard.tick = frame.tick;
  dashboard.done = frame.done;
  dashboard.ticksShown += 1;
  $("grid").src = frame.grid_png;
  $("clock").textContent = `${frame.date} ${frame.time}`;
  $("tick").textContent = `tick ${frame.tick} / ${dashboard.setup.episode_ticks}`;
  drawSide(frame);
  if (frame.flows) addFlows(frame);
  if (frame.market) drawMarket(frame.market);
  if (frame.done) { setPlaying(false); showStatus("episode over: start a new one"); }
}

async function newEpisode() {
  const seed = Number($("seed").value);
  dashboard.busy = true;
  try {
    showStatus("");
    const started = await api("/api/episodes", { policy: $("policy").value, seed: seed });
    dashboard.episodeId = started.id;
    $("events").innerHTML = "";
    newFlowsPlot();
    Plotly.purge("merit"); Plotly.purge("consumers"); $("market-note").textContent = "";
    show(started.frame);
  } catch (error) {
    dashboard.errors.push(error.message);
    showStatus(error.message);
  } finally {
    dashboard.busy = false;
  }
}

async function stepOnce() {
  if (dashboard.busy || dashboard.done || dashboard.episodeId === null) return;
  dashboard.busy = true;
  try {
    show(await api(`/api/episodes/${dashboard.episodeId}/step`, {}));
  } catch (error) {
    dashboard.errors.push(error.message);
    showStatus(error.message);
    setPlaying(false);
  } finally {
    dashboard.busy = false;
  }
}

function setPlaying(playing) {
  dashboard.playing = playing;
  $("play").textContent = playing ? "Pause" : "Play";
}

async function loop() {
  const started = performance.now();
  if (dashboard.playing) await stepOnce();
  const wait = Math.max(0, 1000 / dashboard.speed - (performance.now() - started));
  setTimeout(loop, wait);
}

async function main() {
  dashboard.setup = await api("/api/setup");
  const setup = dashboard.setup;
  $("scenario").textContent = setup.scenario;
  $("scenario").title = setup.description;
  $("policy").innerHTML = setup.policies.map((p) => `<option>${p}</option>`).join("");
  $("policy").value = setup.policy;
  $("seed").value = setup.seed;
  dashboard.speed = setup.speed;
  $("speed").value = Math.min(60, Math.max(1, Math.round(setup.speed)));
  $("speed-label").textContent = `${setup.speed} ticks/s`;
  $("speed").addEventListener("input", () => {
    dashboard.speed = Number($("speed").value);
    $("speed-label").textContent = `${dashboard.speed} ticks/s`;
  });
  $("play").addEventListener("click", () => {
    if (dashboard.done) return;
    setPlaying(!dashboard.playing);
  });
  $("step").addEventListener("click", () => { setPlaying(false); stepOnce(); });
  $("new").addEventListener("click", async () => { await newEpisode(); setPlaying(true); });
  await newEpisode();
  loop();
}

main();
