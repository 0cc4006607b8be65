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
};

// --- the token: from #token=..., else sessionStorage, else asked for ---
(function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("deepevolve-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
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
const geneValue = (v) => (v.intValue !== undefined ? String(v.intValue) : v.stringValue);

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

function drawLeaderboard() {
  const table = document.querySelector("#leaderboard table");
  const head = table.tHead;
  if (!head.rows.length) {
    head.replaceChildren(el("tr", ...COLUMNS.map(([name]) => {
      const th = el("th", name);
      th.dataset.key = name;
      return th;
    })));
    head.onclick = (e) => {
      const key = e.target.dataset.key;
      if (!key) return;
      // Rank and genes read best first ascending; the numbers, largest first.
      const ascFirst = key === "rank" || key === "genes";
      state.sort = { key, asc: state.sort.key === key ? !state.sort.asc : ascFirst };
      drawLeaderboard();
    };
  }
  for (const th of head.rows[0].cells) {
    th.className = th.dataset.key === state.sort.key ? "sorted" + (state.sort.asc ? " asc" : "") : "";
  }
  const ranked = bestOf((t) => ok(t) || pruned(t), TABLE_ROWS);
  const col = COLUMNS.find(([name]) => name === state.sort.key)[1];
  const rows = ranked.map((t, i) => ({ t, i }));
  rows.sort((a, b) => {
    const x = col(a.t, a.i), y = col(b.t, b.i);
    const c = typeof x === "string" ? x.localeCompare(y) : x - y;
    return state.sort.asc ? c : -c;
  });
  const fmt = { accuracy: pct, test: pct, seconds: (x) => x.toFixed(1) };
  table.tBodies[0].replaceChildren(...rows.slice(0, TABLE_ROWS).map(({ t, i }) =>
    el("tr", ...COLUMNS.map(([name, get]) => {
      const v = get(t, i);
      return el("td", fmt[name] ? fmt[name](v) : v);
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
    const wanted = new URLSearchParams(location.search).get("search");
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
    drawSummary(); drawFitness(); drawGenes(); drawCurves(); drawLineage(); drawLeaderboard(); drawWorkers();
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
