// deepevolve's live dashboard: polls the master's JSON API and draws each panel with
// ECharts. Each panel records what it drew in data-rendered (a count), which the browser
// test reads. Kept responsive at 10 000 genomes: charts are canvas, the lineage draws only
// the best genome's ancestry's links when a search is large, the leaderboard shows 200 rows.
"use strict";

const POLL_MS = 2000;
const LINEAGE_LINKS = 600;         // up to this many genomes, every parent link is drawn
const FAMILY_LINKS = 120;          // a larger family links only its main line
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

// Which genes matter to the chosen objective (dashboard/importance.js says how): a bar
// per gene, its values' mean objective in the tooltip.
function drawImportance() {
  const objs = objectives();
  const select = document.getElementById("importance-objective");
  if (select.options.length !== objs.length) {
    select.replaceChildren(...objs.map((o, i) => new Option(o.metric, String(i))));
    select.onchange = () => drawImportance();
  }
  const o = objs[Number(select.value) || 0];
  const genes = geneNames();
  // Genomes trained fully that keep the constraints: a pruned genome's result is from
  // an earlier epoch, a failed one's is no measurement.
  const trained = state.trials.filter((t) => ok(t) && feasible(t) && metricOf(t, o.metric) !== undefined);
  const rows = trained.map((t) => ({
    levels: genes.map((g, i) => {
      const v = t.genome.values?.[i];
      return v && Object.keys(v).length ? geneValue(v) : "-";
    }),
    y: oriented(o, metricOf(t, o.metric)),
  }));
  const effects = GeneImportance.mainEffects(rows, genes.length).reverse();  // largest on top
  const fmt = (v) => fmtMetric(o.metric, oriented(o, v));
  chart("importance").setOption({
    tooltip: { trigger: "item", formatter: (p) => {
      const e = effects[p.dataIndex];
      const levels = e.levels.slice(0, 8).map((l) => `${l.key}: ${fmt(l.mean)} (${l.count})`).join("<br>");
      return `${genes[e.gene]}: ${(100 * e.effect).toFixed(1)}% of the variance<br>${levels}`;
    } },
    grid: { left: 120, right: 40, top: 10, bottom: 30 },
    xAxis: { type: "value", name: "variance explained", axisLabel: { formatter: (v) => `${Math.round(100 * v)}%` } },
    yAxis: { type: "category", data: effects.map((e) => genes[e.gene]) },
    series: [{ type: "bar", data: effects.map((e) => e.effect), itemStyle: { color: "#3b6fb6" },
               label: { show: true, position: "right", formatter: (p) => {
                 const best = effects[p.dataIndex].levels[0];
                 return p.value > 0 && best ? `best ${best.key}` : "";
               } } }],
  }, true);
  document.getElementById("importance-note").textContent = rows.length < 2 * genes.length
    ? `${rows.length} trained genomes: too few to tell yet`
    : `${rows.length} trained genomes; each gene's main effect (epsilon squared), best value by mean`;
  document.getElementById("importance").dataset.top = effects.length && rows.length
    ? genes[effects[effects.length - 1].gene] : "";
  rendered("importance", effects.length);
}

// Generations left to right (genomes of a generation spread in the order they were
// bred), accuracy upward; every genome a faint point, the best genome's ancestors and
// children drawn over them in colour with their parent links. Below LINEAGE_LINKS genomes the others'
// links are drawn faintly too. Failed genomes and those far below the rest sit on the
// bottom edge.
function drawLineage() {
  const trials = state.trials;
  const byId = new Map(trials.map((t) => [String(t.genome.id), t]));
  const scored = trials.filter((t) => ok(t) || pruned(t)).map((t) => t.accuracy).sort((a, b) => a - b);
  const top = scored.length ? scored[scored.length - 1] : 1;
  // The axis starts at the 5th percentile, so that hopeless genomes do not squeeze the rest.
  const floor = scored.length ? scored[Math.floor(0.05 * (scored.length - 1))] : 0;
  const low = Math.max(0, floor - 0.05 * Math.max(top - floor, 0.01));
  const byGeneration = new Map();
  for (const t of trials) {
    const g = t.genome.generation || 1;
    if (!byGeneration.has(g)) byGeneration.set(g, []);
    byGeneration.get(g).push(t);
  }
  const at = new Map();  // id -> [x, y]
  for (const [g, members] of byGeneration) {
    members.forEach((t, i) => {
      const x = g - 0.4 + 0.8 * (i + 0.5) / members.length;
      const y = ok(t) || pruned(t) ? Math.max(low, t.accuracy) : low;
      at.set(String(t.genome.id), [x, y]);
    });
  }
  const parents = (t) => (t.genome.parents || []).map(String).filter((p) => p !== "0" && byId.has(p));
  const best = bestOf(ok, 1)[0];
  // The best genome's family: its ancestors, and its children (a best genome of the
  // first generation has no ancestors; what it led to is then the story).
  const ancestry = new Set();
  const stack = best ? [String(best.genome.id)] : [];
  while (stack.length) {
    const id = stack.pop();
    if (ancestry.has(id)) continue;
    ancestry.add(id);
    stack.push(...parents(byId.get(id)));
  }
  const ancestors = ancestry.size - 1;
  const children = best ? trials.filter((t) => parents(t).includes(String(best.genome.id))) : [];
  children.forEach((t) => ancestry.add(String(t.genome.id)));
  // A long search's ancestry is a web of hundreds: then only its main line (from the
  // best back through the fitter parent each time) and the children keep their links.
  let linked = ancestry;
  if (ancestry.size > FAMILY_LINKS) {
    linked = new Set(children.map((t) => String(t.genome.id)));
    const score = (id) => (ok(byId.get(id)) ? byId.get(id).accuracy : -1);
    for (let id = best && String(best.genome.id); id;) {
      linked.add(id);
      id = parents(byId.get(id)).sort((a, b) => score(b) - score(a))[0];
      if (linked.has(id)) break;
    }
  }
  // The links from each of `ids` to its parents that `keep` accepts.
  const edges = (ids, keep = () => true) => {
    const out = [];
    for (const id of ids) {
      for (const p of parents(byId.get(id))) if (keep(p)) out.push({ coords: [at.get(p), at.get(id)] });
    }
    return out;
  };
  const point = (t) => ({ value: at.get(String(t.genome.id)), id: String(t.genome.id) });
  const others = trials.filter((t) => !ancestry.has(String(t.genome.id)));
  const line = trials.filter((t) => ancestry.has(String(t.genome.id)));
  const label = (t) => `#${t.genome.id} gen ${t.genome.generation || 1} ${t.description || ""}<br>` +
    (t.schedule ? `member ${t.member}: ${t.schedule}<br>` : "") +
    (ok(t) ? pct(t.accuracy) : pruned(t) ? `${pct(t.accuracy)} (pruned)` : t.state);
  const series = [];
  if (trials.length <= LINEAGE_LINKS) {
    series.push({ type: "lines", coordinateSystem: "cartesian2d", silent: true, z: 1,
                  lineStyle: { color: "#9aa5b1", width: 0.5, opacity: 0.25 },
                  data: edges(others.map((t) => String(t.genome.id))) });
  }
  series.push({ type: "scatter", z: 2, symbolSize: trials.length > 2000 ? 3 : 5, large: trials.length > 2000,
                itemStyle: { color: "#9aa5b1", opacity: trials.length > 2000 ? 0.35 : 0.6 },
                data: others.map(point),
                tooltip: { formatter: (p) => label(byId.get(p.data.id)) } });
  series.push({ type: "lines", coordinateSystem: "cartesian2d", silent: true, z: 3,
                lineStyle: { color: "#d9480f", width: 1.5, opacity: 0.8 },
                data: edges([...linked], (p) => linked.has(p)) });
  series.push({ type: "scatter", z: 4, data: line.map((t) => ({
                  ...point(t),
                  symbolSize: t === best ? 14 : linked.has(String(t.genome.id)) ? 8 : 4,
                  itemStyle: { color: t === best ? "#d9480f" : "#f08c00",
                               opacity: linked.has(String(t.genome.id)) ? 1 : 0.45 },
                  label: t === best ? { show: true, position: "top", formatter: `best #${t.genome.id}` } : undefined })),
                tooltip: { formatter: (p) => label(byId.get(p.data.id)) } });
  const generations = [...byGeneration.keys()];
  chart("lineage").setOption({
    tooltip: { trigger: "item" }, animation: trials.length <= 2000,
    grid: { left: 60, right: 30, top: 30, bottom: 50 },
    xAxis: { type: "value", name: "generation", nameLocation: "middle", nameGap: 28,
             min: Math.min(...generations, 1) - 0.5, max: Math.max(...generations, 1) + 0.5,
             minInterval: 1, splitLine: { show: false } },
    yAxis: { type: "value", name: "accuracy", min: low, max: Math.min(1, top + 0.1 * Math.max(top - low, 0.01)),
             axisLabel: { formatter: (v) => `${(100 * v).toFixed(1)}%` } },
    dataZoom: [{ type: "inside", xAxisIndex: 0 }, { type: "inside", yAxisIndex: 0 }],
    series,
  }, true);
  document.getElementById("lineage-note").textContent = best
    ? `${trials.length} genomes; the best (#${best.genome.id}), its ${ancestors} ancestors and ` +
      `${children.length} children in colour` +
      (linked !== ancestry ? "; links of its main line (the fitter parent each time)" : "") +
      (trials.length > LINEAGE_LINKS ? "; other links not drawn" : "") + `; below ${pct(low)} on the bottom edge`
    : `${trials.length} genomes`;
  document.getElementById("lineage").dataset.family = String(ancestry.size);
  rendered("lineage", trials.length);
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
  // Population-based training: each round's member and the schedule it went through.
  if (spec().pbt) {
    return COLUMNS.slice(0, 6).concat([["member", (t) => t.member || 0],
                                       ["schedule", (t) => t.schedule || ""]], COLUMNS.slice(6));
  }
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
    (Number(s.preempted) > 0 ? `, ${s.preempted} preempted (${s.resumes || 0} resumed, ` +
                               `${s.epochsLost || 0} epochs lost)` : "") +
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
    drawParallel(); drawImportance(); drawLineage(); drawLeaderboard(); drawWorkers();
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
