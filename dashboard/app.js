// deepevolve's live dashboard: polls the master's JSON API and draws each panel with
// ECharts. Each panel records what it drew in data-rendered (a count), which the browser
// test reads. Kept responsive at 10 000 genomes: charts are canvas, the lineage draws the
// ancestry of the best genomes when a search is large, the leaderboard shows 200 rows.
"use strict";

const POLL_MS = 2000;
const LINEAGE_FULL_LIMIT = 1500;   // above this many genomes, draw the best ones' ancestry
const LINEAGE_BEST = 60;
const CURVES_BEST = 30;
const TABLE_ROWS = 200;

const state = {
  token: null, searchId: null, search: null, trials: [], workers: [],
  ranked: [],               // the best TABLE_ROWS in the master's order (genome/trial_rank.h)
  byId: new Map(),          // genome id -> trial, kept up to date from the events
  events: new Map(),        // genome id -> [[elapsed_seconds, val_accuracy], ...]
  afterSequence: 0, sort: { key: "rank", asc: true }, charts: {}, gene: 0,
  fronts: new Map(),        // trial -> its front (several objectives), for the leaderboard
};

// --- the token: from #token=..., else sessionStorage, else asked for; the search from
// ?search=N or #search=N ---
(function readLocation() {
  const hash = new URLSearchParams(location.hash.slice(1));
  state.wanted = new URLSearchParams(location.search).get("search") || hash.get("search");
  if (hash.has("token")) {
    sessionStorage.setItem("deepevolve-token", hash.get("token"));
    // The token leaves the address bar (and the history); the search stays.
    hash.delete("token");
    const rest = hash.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  state.token = sessionStorage.getItem("deepevolve-token");
})();

async function api(path) {
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const res = await fetch("/api" + path, { headers });
  if (res.status === 401) {
    document.getElementById("token-form").hidden = false;
    throw new Error("the master wants its bearer token");
  }
  if (!res.ok) throw new Error(path + ": HTTP " + res.status);
  return res.json();
}

document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = document.getElementById("token-input").value.trim();
  sessionStorage.setItem("deepevolve-token", state.token);
  document.getElementById("token-form").hidden = true;
  refresh();
});

function chart(id) {
  if (!state.charts[id]) {
    state.charts[id] = echarts.init(document.querySelector("#" + id + " .chart"), null,
                                    { renderer: "canvas" });
  }
  return state.charts[id];
}
window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

function rendered(id, count) {
  document.getElementById(id).dataset.rendered = String(count);
}

const ok = (t) => (t.state === "DONE" || t.state === "CACHED") && !t.error;
// Stopped by the search's pruner: a result from an earlier epoch, ranked below every
// genome that trained fully.
const pruned = (t) => t.state === "PRUNED" && !t.error;
// The master ranks (GET .../leaderboard); the page only follows its order. `filter`
// picks among the ranked trials, as they are now.
const bestOf = (filter, n) => state.ranked.map((r) => state.byId.get(String(r.genome.id)) || r)
  .filter(filter).slice(0, n);
const pct = (x) => (100 * x).toFixed(2) + "%";
const geneNames = () => (state.search?.spec?.space?.genes || []).map((g) => g.name);
const geneValue = (v) => (v.intValue !== undefined ? String(v.intValue)
  : v.floatValue !== undefined ? String(v.floatValue) : v.stringValue);

// --- several objectives (genome/pareto.h ranks them on the master) ---

const spec = () => state.search?.spec || {};
// What the search optimizes: its objectives, or validation accuracy alone.
const objectives = () => (spec().objectives?.length ? spec().objectives
  : [{ metric: "accuracy", goal: "maximize" }]);
const multiObjective = () => {
  const o = spec().objectives || [];
  return (spec().constraints || []).length > 0 || o.length > 1 ||
    (o.length === 1 && !(o[0].metric === "accuracy" && o[0].goal === "maximize"));
};
function metricOf(t, name) {
  if (name === "accuracy") return t.accuracy;
  if (name === "test_accuracy") return t.testAccuracy;
  if (name === "train_seconds") return t.trainSeconds;
  const v = t.metrics?.[name];
  return v === undefined ? undefined : Number(v);
}
// Every constraint kept (a metric it lacks breaks it).
const feasible = (t) => (spec().constraints || []).every((c) => {
  const v = metricOf(t, c.metric);
  return v !== undefined && (c.min === undefined || v >= c.min) && (c.max === undefined || v <= c.max);
});
// An objective's value oriented so that larger is better.
const oriented = (o, v) => (o.goal === "minimize" ? -v : v);
const fmtMetric = (name, v) => (name.includes("accuracy") ? pct(v)
  : Number.isInteger(Number(v)) ? Number(v).toLocaleString("en") : Number(v).toPrecision(4));

// The points of `rows` ([x, y], larger better) that no other beats in both: by x
// falling, each that raises the best y so far.
function front2d(rows) {
  const sorted = [...rows].sort((a, b) => b.p[0] - a.p[0] || b.p[1] - a.p[1]);
  const out = [];
  let bestY = -Infinity;
  for (const r of sorted) {
    if (r.p[1] > bestY) { out.push(r); bestY = r.p[1]; }
  }
  return out;
}

// The area a front ([x, y] in [0, 1], larger better) bounds above (0, 0).
function area2d(front) {
  let a = 0, height = 0;
  for (const r of [...front].sort((u, v) => v.p[0] - u.p[0])) {
    if (r.p[1] > height) { a += r.p[0] * (r.p[1] - height); height = r.p[1]; }
  }
  return a;
}

function objectiveSelect(id, index, onChange) {
  const select = document.getElementById(id);
  const names = objectives().map((o) => o.metric);
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    select.value = names[Math.min(index, names.length - 1)];
    select.onchange = onChange;
  }
  return objectives().find((o) => o.metric === select.value);
}

// Two chosen objectives: every fully trained, feasible genome, the front of the two in
// colour as a step line, the rest grey.
function drawFront() {
  const panel = document.getElementById("front");
  panel.hidden = !multiObjective();
  if (panel.hidden) return;
  const redraw = () => { drawFront(); drawHypervolume(); };
  const ox = objectiveSelect("front-x", 1, redraw), oy = objectiveSelect("front-y", 0, redraw);
  const rows = [];
  for (const t of state.trials) {
    if (!ok(t) || !feasible(t)) continue;
    const x = metricOf(t, ox.metric), y = metricOf(t, oy.metric);
    if (x === undefined || y === undefined) continue;
    rows.push({ t, x, y, p: [oriented(ox, x), oriented(oy, y)] });
  }
  const front = front2d(rows);
  const onFront = new Set(front.map((r) => r.t));
  const label = (r) => `#${r.t.genome.id} ${r.t.description || ""}<br>` +
    `${ox.metric} ${fmtMetric(ox.metric, r.x)}, ${oy.metric} ${fmtMetric(oy.metric, r.y)}`;
  const point = (r) => ({ value: [r.x, r.y], tooltip: { formatter: label(r) } });
  chart("front").setOption({
    tooltip: { trigger: "item" },
    legend: { data: ["front", "dominated"] },
    xAxis: { type: "value", scale: true, name: ox.metric },
    yAxis: { type: "value", scale: true, name: oy.metric },
    series: [
      { name: "dominated", type: "scatter", symbolSize: 5, itemStyle: { color: "#c8c8c8" },
        data: rows.filter((r) => !onFront.has(r.t)).map(point), large: true },
      { name: "front", type: "line", step: "end", symbolSize: 8, itemStyle: { color: "#2563eb" },
        data: [...front].sort((a, b) => a.x - b.x).map(point) },
    ],
  }, true);
  panel.dataset.front = String(front.length);
  document.getElementById("front-note").textContent =
    `${front.length} on the front of ${rows.length} trained` +
    (spec().constraints?.length ? " and feasible" : "");
  rendered("front", rows.length);
}

// The share of the observed range's box the front of the two chosen objectives covers,
// as each result arrived (each objective scaled between its worst and best value seen).
function drawHypervolume() {
  const panel = document.getElementById("hypervolume");
  panel.hidden = !multiObjective();
  if (panel.hidden) return;
  const ox = objectives().find((o) => o.metric === document.getElementById("front-x").value);
  const oy = objectives().find((o) => o.metric === document.getElementById("front-y").value);
  const rows = [];
  for (const t of state.trials) {
    if (!ok(t) || !feasible(t) || !t.finishedUnixMs) continue;
    const x = metricOf(t, ox.metric), y = metricOf(t, oy.metric);
    if (x !== undefined && y !== undefined) rows.push({ t, p: [oriented(ox, x), oriented(oy, y)] });
  }
  rows.sort((a, b) => Number(a.t.finishedUnixMs) - Number(b.t.finishedUnixMs));
  const lo = [0, 1].map((k) => Math.min(...rows.map((r) => r.p[k])));
  const hi = [0, 1].map((k) => Math.max(...rows.map((r) => r.p[k])));
  const scale = (p) => p.map((v, k) => (hi[k] > lo[k] ? (v - lo[k]) / (hi[k] - lo[k]) : 1));
  let front = [];
  const points = [];
  for (const r of rows) {
    const s = { p: scale(r.p) };
    if (!front.some((f) => f.p[0] >= s.p[0] && f.p[1] >= s.p[1])) {
      front = front.filter((f) => !(s.p[0] >= f.p[0] && s.p[1] >= f.p[1])).concat([s]);
    }
    points.push([Number(r.t.finishedUnixMs), area2d(front)]);
  }
  chart("hypervolume").setOption({
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" }, yAxis: { type: "value", min: 0, max: 1, name: "share" },
    series: [{ type: "line", step: "end", showSymbol: false, data: points, sampling: "lttb" }],
  }, true);
  document.getElementById("hypervolume-note").textContent =
    `${ox.metric} and ${oy.metric}, each scaled between its worst and best value seen`;
  rendered("hypervolume", points.length);
}

const PARALLEL_MAX = 2000;

// Each fully trained genome as a line across its genes and the search's objectives,
// coloured by the first objective: which values the good genomes share.
function drawParallel() {
  const genes = state.search?.spec?.space?.genes || [];
  const objs = objectives();
  let rows = state.trials.filter((t) => ok(t) && objs.every((o) => metricOf(t, o.metric) !== undefined));
  const first = objs[0];
  rows.sort((a, b) => oriented(first, metricOf(b, first.metric)) - oriented(first, metricOf(a, first.metric)));
  const total = rows.length;
  rows = rows.slice(0, PARALLEL_MAX);
  const axes = genes.map((g, i) => ({
    dim: i, name: g.name, type: "category",
    data: (g.values || []).map(geneValue).concat(["-"]),
  })).concat(objs.map((o, k) => ({
    dim: genes.length + k, name: o.metric + (o.goal === "minimize" ? " (min)" : ""),
    type: "value", scale: true, inverse: o.goal === "minimize",
  })));
  const data = rows.map((t) => genes.map((g, i) => {
    const v = t.genome.values?.[i];
    return v && Object.keys(v).length ? geneValue(v) : "-";
  }).concat(objs.map((o) => metricOf(t, o.metric))));
  const values = data.map((d) => d[genes.length]);
  chart("parallel").setOption({
    parallelAxis: axes,
    parallel: { left: 60, right: 80, bottom: 40, top: 50 },
    visualMap: { show: false, dimension: genes.length, min: values.length ? Math.min(...values) : 0,
                 max: values.length ? Math.max(...values) : 1, inRange: { color: first.goal === "minimize"
                   ? ["#08519c", "#c6dbef"] : ["#c6dbef", "#08519c"] } },
    series: [{ type: "parallel", lineStyle: { width: 1, opacity: 0.45 }, data,
               progressive: 500, smooth: false }],
  }, true);
  document.getElementById("parallel-note").textContent =
    total > PARALLEL_MAX ? `the best ${PARALLEL_MAX} of ${total} trained genomes by ${first.metric}`
      : `${total} trained genomes`;
  rendered("parallel", rows.length);
}

// --- panels ---

function drawFitness() {
  const byGen = new Map();
  for (const t of state.trials) {
    if (!ok(t)) continue;
    const g = t.genome.generation || 1;
    if (!byGen.has(g)) byGen.set(g, []);
    byGen.get(g).push(t.accuracy);
  }
  const gens = [...byGen.keys()].sort((a, b) => a - b);
  const best = gens.map((g) => Math.max(...byGen.get(g)));
  const mean = gens.map((g) => byGen.get(g).reduce((a, b) => a + b, 0) / byGen.get(g).length);
  chart("fitness").setOption({
    tooltip: { trigger: "axis" }, legend: { data: ["best", "mean"] },
    xAxis: { type: "category", name: "generation", data: gens },
    yAxis: { type: "value", scale: true, name: "accuracy" },
    series: [{ name: "best", type: "line", data: best }, { name: "mean", type: "line", data: mean }],
  }, true);
  rendered("fitness", gens.length);

  const done = state.trials.filter((t) => ok(t) && t.finishedUnixMs)
    .sort((a, b) => Number(a.finishedUnixMs) - Number(b.finishedUnixMs));
  let top = -1;
  const points = [];
  for (const t of done) {
    if (t.accuracy > top) top = t.accuracy;
    points.push([Number(t.finishedUnixMs), top]);
  }
  chart("fitness-time").setOption({
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" }, yAxis: { type: "value", scale: true, name: "best accuracy" },
    series: [{ type: "line", step: "end", showSymbol: false, data: points, sampling: "lttb" }],
  }, true);
  rendered("fitness-time", points.length);
}

function drawGenes() {
  const names = geneNames();
  const select = document.getElementById("gene-select");
  if (select.options.length !== names.length) {
    select.replaceChildren(...names.map((n, i) => new Option(n, String(i))));
    select.onchange = () => { state.gene = Number(select.value); drawGenes(); };
  }
  const counts = new Map();   // value -> Map(generation -> count)
  const gens = new Set();
  for (const t of state.trials) {
    const v = t.genome.values?.[state.gene];
    if (!v || Object.keys(v).length === 0) continue;  // an inactive gene has no value
    const g = t.genome.generation || 1;
    gens.add(g);
    const key = geneValue(v);
    if (!counts.has(key)) counts.set(key, new Map());
    counts.get(key).set(g, (counts.get(key).get(g) || 0) + 1);
  }
  const xs = [...gens].sort((a, b) => a - b);
  const series = [...counts.entries()].map(([value, perGen]) => ({
    name: value, type: "line", stack: "all", areaStyle: {}, showSymbol: false,
    data: xs.map((g) => perGen.get(g) || 0),
  }));
  chart("genes").setOption({
    tooltip: { trigger: "axis" }, legend: { type: "scroll" },
    xAxis: { type: "category", name: "generation", data: xs },
    yAxis: { type: "value", name: "genomes" }, series,
  }, true);
  rendered("genes", series.length);
}

function drawCurves() {
  const byId = new Map(state.trials.map((t) => [String(t.genome.id), t]));
  const drawn = [...state.events.keys()].map((id) => byId.get(id)).filter(Boolean);
  const best = bestOf((t) => !pruned(t) && state.events.has(String(t.genome.id)), CURVES_BEST);
  // The latest pruned genomes, dashed, each ending in a cross where it was stopped.
  const stopped = drawn.filter(pruned)
    .sort((a, b) => Number(b.genome.id) - Number(a.genome.id)).slice(0, CURVES_BEST);
  const series = best.map((t) => ({
    name: `#${t.genome.id} ${t.description || ""}`, type: "line", showSymbol: true,
    data: state.events.get(String(t.genome.id)),
  })).concat(stopped.map((t) => {
    const data = state.events.get(String(t.genome.id));
    return {
      name: `#${t.genome.id} ${t.description || ""} (pruned at epoch ${t.prunedAtEpoch})`,
      type: "line", showSymbol: false, lineStyle: { type: "dashed", width: 1 }, data,
      markPoint: { symbol: "path://M0,0L10,10M10,0L0,10", symbolSize: 8,
                   data: [{ coord: data[data.length - 1] }] },
    };
  }));
  document.getElementById("curves").dataset.pruned = String(stopped.length);
  chart("curves").setOption({
    tooltip: { trigger: "item", formatter: (p) => `${p.seriesName}<br>${p.value[0].toFixed(1)} s: ${pct(p.value[1])}` },
    xAxis: { type: "value", name: "seconds" }, yAxis: { type: "value", scale: true, name: "val accuracy" },
    series,
  }, true);
  rendered("curves", series.length);
}

function drawLineage() {
  const byId = new Map(state.trials.map((t) => [t.genome.id, t]));
  let shown = state.trials;
  const note = document.getElementById("lineage-note");
  if (state.trials.length > LINEAGE_FULL_LIMIT) {
    // The ancestry of the best genomes: what led to them is what a reader looks for.
    const keep = new Set();
    const stack = bestOf(ok, LINEAGE_BEST).map((t) => t.genome.id);
    while (stack.length) {
      const id = stack.pop();
      if (keep.has(id) || !byId.has(id)) continue;
      keep.add(id);
      for (const p of byId.get(id).genome.parents || []) if (p !== "0" && p !== 0) stack.push(p);
    }
    shown = [...keep].map((id) => byId.get(id));
    note.textContent = `ancestry of the best ${LINEAGE_BEST} of ${state.trials.length} genomes`;
  } else {
    note.textContent = `${state.trials.length} genomes`;
  }
  // Generations left to right, better genomes higher up.
  const ids = new Set(shown.map((t) => t.genome.id));
  const nodes = shown.map((t) => ({
    id: String(t.genome.id), name: `#${t.genome.id}`,
    x: (t.genome.generation || 1) * 400, y: (1 - (ok(t) ? t.accuracy : 0)) * 2000,
    value: ok(t) ? t.accuracy : 0, symbolSize: 6,
    itemStyle: { color: ok(t) ? undefined : "#bbb" },
    tooltip: { formatter: `#${t.genome.id} ${t.description || ""}<br>${ok(t) ? pct(t.accuracy) : t.state}` },
  }));
  const links = [];
  for (const t of shown) {
    for (const p of t.genome.parents || []) {
      if (ids.has(p)) links.push({ source: String(p), target: String(t.genome.id) });
    }
  }
  chart("lineage").setOption({
    tooltip: {},
    visualMap: { show: false, min: 0, max: 1, dimension: 0, inRange: { color: ["#c6dbef", "#08519c"] } },
    series: [{ type: "graph", layout: "none", roam: true, data: nodes, links, large: true,
               edgeSymbol: ["none", "arrow"], edgeSymbolSize: 4,
               lineStyle: { opacity: 0.35, width: 0.6 }, emphasis: { focus: "adjacency" } }],
  }, true);
  rendered("lineage", nodes.length);
}

// An element whose children are nodes or text: strings from the master (search names,
// worker ids, devices) become text nodes, never markup.
function el(tag, ...children) {
  const e = document.createElement(tag);
  e.append(...children.map((c) => (c instanceof Node ? c : String(c))));
  return e;
}

const COLUMNS = [
  ["rank", (t, i) => i + 1], ["accuracy", (t) => t.accuracy], ["test", (t) => t.testAccuracy],
  ["genome", (t) => Number(t.genome.id)], ["generation", (t) => t.genome.generation || 1],
  ["genes", (t) => t.description || ""], ["seconds", (t) => t.trainSeconds || 0],
  ["state", (t) => t.state], ["hash", (t) => t.genome.hash],
];

// Each row's front among the rows of its tier (trained fully, or pruned) that keep the
// constraints, 1 first; 0 for the rest. The rows are a prefix of the master's Pareto
// order, so that is each row's front in the whole search (genome::FrontNumbers).
function frontNumbers(rows) {
  const objs = objectives();
  const numbers = new Map();
  for (const tier of [ok, pruned]) {
    let left = rows.filter((t) => tier(t) && feasible(t) &&
                                  objs.every((o) => metricOf(t, o.metric) !== undefined));
    const point = (t) => objs.map((o) => oriented(o, metricOf(t, o.metric)));
    const dominates = (a, b) => a.every((v, k) => v >= b[k]) && a.some((v, k) => v > b[k]);
    for (let front = 1; left.length; ++front) {
      const points = left.map(point);
      const on = left.filter((t, i) => !points.some((q) => dominates(q, points[i])));
      on.forEach((t) => numbers.set(t, front));
      left = left.filter((t) => !numbers.has(t));
    }
  }
  return numbers;
}

// The leaderboard's columns: with several objectives, each row's front and every
// objective beside the accuracies.
function leaderboardColumns() {
  if (!multiObjective()) return COLUMNS;
  const extra = [["front", (t) => state.fronts.get(t) || Infinity]].concat(
    objectives().filter((o) => !o.metric.includes("accuracy"))
      .map((o) => [o.metric, (t) => metricOf(t, o.metric) ?? NaN]));
  return COLUMNS.slice(0, 3).concat(extra, COLUMNS.slice(3));
}

function drawLeaderboard() {
  const table = document.querySelector("#leaderboard table");
  const head = table.tHead;
  const columns = leaderboardColumns();
  if (head.rows.length && head.rows[0].cells.length !== columns.length) head.replaceChildren();
  if (!head.rows.length) {
    head.replaceChildren(el("tr", ...columns.map(([name]) => {
      const th = el("th", name);
      th.dataset.key = name;
      th.classList.add("col-" + name);
      return th;
    })));
    head.onclick = (e) => {
      const key = e.target.dataset.key;
      if (!key) return;
      // Rank and genes read best first ascending; the numbers, largest first.
      const ascFirst = key === "rank" || key === "genes" || key === "front";
      state.sort = { key, asc: state.sort.key === key ? !state.sort.asc : ascFirst };
      drawLeaderboard();
    };
  }
  for (const th of head.rows[0].cells) {
    th.className = "col-" + th.dataset.key +
      (th.dataset.key === state.sort.key ? " sorted" + (state.sort.asc ? " asc" : "") : "");
  }
  const ranked = bestOf((t) => ok(t) || pruned(t), TABLE_ROWS);
  state.fronts = multiObjective() ? frontNumbers(ranked) : new Map();
  const col = (columns.find(([name]) => name === state.sort.key) || columns[0])[1];
  const rows = ranked.map((t, i) => ({ t, i }));
  rows.sort((a, b) => {
    const x = col(a.t, a.i), y = col(b.t, b.i);
    const c = typeof x === "string" ? x.localeCompare(y) : x - y;
    return state.sort.asc ? c : -c;
  });
  const fmt = { accuracy: pct, test: pct, seconds: (x) => x.toFixed(1),
                front: (x) => (Number.isFinite(x) ? String(x) : "-") };
  for (const o of objectives()) {
    if (!(o.metric in fmt)) fmt[o.metric] = (x) => (Number.isFinite(x) ? fmtMetric(o.metric, x) : "-");
  }
  table.tBodies[0].replaceChildren(...rows.slice(0, TABLE_ROWS).map(({ t, i }) =>
    el("tr", ...columns.map(([name, get]) => {
      const v = get(t, i);
      const td = el("td", fmt[name] ? fmt[name](v) : v);
      td.className = "col-" + name;
      return td;
    }))));
  const trained = state.trials.filter(ok).length, stopped = state.trials.filter(pruned).length;
  document.getElementById("leaderboard-note").textContent =
    `${trained} trained` + (stopped ? `, ${stopped} pruned (listed after)` : "") +
    (trained + stopped > TABLE_ROWS ? `, showing ${TABLE_ROWS}` : "");
  rendered("leaderboard", Math.min(rows.length, TABLE_ROWS));
}

function drawWorkers() {
  const training = new Map();
  for (const t of state.trials) {
    if (t.state === "LEASED" && t.workerId) training.set(t.workerId, t);
  }
  const now = Date.now();
  document.querySelector("#workers tbody").replaceChildren(...state.workers.map((w) => {
    const t = training.get(w.worker_id);
    const seen = Math.max(0, Math.round((now - w.last_seen_unix_ms) / 1000));
    return el("tr", el("td", w.worker_id), el("td", (w.devices || []).join(", ") +
                           ((w.trainers || []).length ? `; trainers ${w.trainers.join(", ")}` : "")),
              el("td", t ? `#${t.genome.id} ${t.description || ""}` : "idle"),
              el("td", `${seen} s ago`));
  }));
  rendered("workers", state.workers.length);
}

function drawSummary() {
  const s = state.search;
  if (!s) return;
  document.getElementById("summary").textContent =
    `${s.name || "search " + s.searchId}: ${s.state.toLowerCase()}, generation ${s.generation}, ` +
    `${s.trialsDone}/${s.trialsPlanned} genomes, ${s.trialsRunning} running, ` +
    `${s.ledgerHits} ledger hits` +
    (s.spec?.pruner ? `, ${s.pruned || 0} pruned (${s.epochsTrained || 0} epochs trained, ` +
                      `${s.epochsSaved || 0} saved)` : "") +
    (s.best ? `, best ${pct(s.best.accuracy)}` : "") +
    (s.waiting ? ` (waiting: ${s.waiting})` : "");
}

// --- data ---

// A trial as it is now: kept by genome id, its curve (once it has one) drawn.
function putTrial(t) {
  const id = String(t.genome.id);
  state.byId.set(id, t);
  if (t.curve && t.curve.length) {
    state.events.set(id, t.curve.map((p) => [p.elapsedSeconds || 0, p.valAccuracy || 0]));
  }
}

// Every trial, a page at a time: when a search is first shown.
async function loadTrials() {
  state.byId = new Map();
  let after = "0";
  for (let page = 0; page < 1000; ++page) {
    const res = await api(`/searches/${state.searchId}/trials?limit=10000&after=${after}`);
    (res.trials || []).forEach(putTrial);
    after = res.nextAfterGenomeId || "0";
    if (after === "0") return;
  }
}

// What changed since the last poll: the events after the last one seen. A genome's
// events carry its trial (a progress event only its name and the epoch's point); with
// `applyTrials` false only the points are taken (the trials are read next).
async function loadEvents(applyTrials, pages = 50) {
  for (let page = 0; page < pages; ++page) {   // at most 1000 events a page
    const { events } = await api(`/searches/${state.searchId}/events?compact=1&after=${state.afterSequence}`);
    for (const e of events) {
      state.afterSequence = Math.max(state.afterSequence, Number(e.sequence));
      if (!e.trial) continue;
      const id = String(e.trial.genome.id);
      if (e.kind === "GENOME_PROGRESS") {
        if (!state.events.has(id)) state.events.set(id, []);
        state.events.get(id).push([e.elapsedSeconds || 0, e.valAccuracy || 0]);
        continue;
      }
      if (e.kind === "GENOME_STARTED") state.events.set(id, []);
      if (applyTrials) putTrial(e.trial);
    }
    if (events.length < 1000) return;
  }
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const { searches } = await api("/searches");
    const select = document.getElementById("search-select");
    const wanted = state.wanted;
    if (select.options.length !== searches.length) {
      select.replaceChildren(...searches.map((s) =>
        new Option(`${s.searchId} ${s.name || ""}`, String(s.searchId))));
      select.onchange = () => { switchTo(select.value); };
    }
    if (!state.searchId && searches.length) switchTo(wanted || searches[0].searchId);
    if (!state.searchId) { status.textContent = "no searches yet"; return; }
    select.value = state.searchId;
    const [search, workers] = await Promise.all([api(`/searches/${state.searchId}`), api("/workers")]);
    state.workers = workers.workers || [];
    // A finished search whose genomes are all here changes no more: draw only the workers.
    const settled = state.loaded === state.searchId && search.state !== "RUNNING" &&
                    state.search?.state === search.state;
    const ended = state.loaded === state.searchId && state.search?.state !== search.state;
    state.search = search;
    if (settled) {
      drawWorkers();
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      return;
    }
    if (state.loaded !== state.searchId || ended) {
      // Read whole when first shown, and once more when the search ends (its queue is
      // abandoned without an event each); in between the events bring every change.
      state.events = new Map();
      state.afterSequence = 0;
      await loadEvents(false, 1000);
      await loadTrials();
    } else {
      await loadEvents(true);
    }
    state.trials = [...state.byId.values()].sort((a, b) => Number(a.genome.id) - Number(b.genome.id));
    state.ranked = (await api(`/searches/${state.searchId}/leaderboard?limit=${TABLE_ROWS}`)).trials || [];
    state.loaded = state.searchId;
    const started = performance.now();
    drawSummary(); drawFitness(); drawGenes(); drawCurves(); drawFront(); drawHypervolume();
    drawParallel(); drawLineage(); drawLeaderboard(); drawWorkers();
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    document.body.dataset.trials = String(state.trials.length);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    status.textContent = String(err.message || err);
  }
}

function switchTo(id) {
  if (String(id) === String(state.searchId)) return;
  state.searchId = String(id);
  state.loaded = null;
  state.events = new Map();
  state.afterSequence = 0;
}

async function loop() {
  await refresh();
  // A finished search changes no more: look less often (another may start).
  setTimeout(loop, state.search && state.search.state !== "RUNNING" ? 5 * POLL_MS : POLL_MS);
}
loop();
