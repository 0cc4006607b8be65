// The dashboard's gene importance (dashboard/importance.js) on tables whose important
// genes are known: a made-up grid with two genes that matter and two that do not, and
// the committed 2 016-genome Fashion-MNIST grid (bench/data/fashion_mnist_mlp_rich.csv),
// whose full-grid main effects are the truth its samples are held to.
//   node --test tests/dashboard/importance_test.mjs
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { mainEffects } = createRequire(import.meta.url)(path.join(root, "dashboard/importance.js"));

// A seeded generator (mulberry32): the same draws on every run.
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(rows, n, rnd) {
  const copy = [...rows];
  for (let i = copy.length - 1; i > 0; --i) {
    const j = Math.floor(rnd() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}

// Every genome of genes a (3 values), b (4), c (5), d (2): y = 0.2 when a is its first
// value, plus 0.05 per step of b, plus noise that depends on nothing.
function madeUpGrid() {
  const rnd = random(7);
  const rows = [];
  for (let a = 0; a < 3; ++a)
    for (let b = 0; b < 4; ++b)
      for (let c = 0; c < 5; ++c)
        for (let d = 0; d < 2; ++d)
          for (let repeat = 0; repeat < 2; ++repeat) {
            rows.push({ levels: [a, b, c, d], y: (a === 0 ? 0.2 : 0) + 0.05 * b + 0.02 * rnd() });
          }
  return rows;
}

test("on a made-up grid the two genes that matter come first, the others near 0", () => {
  const effects = mainEffects(madeUpGrid(), 4);
  assert.deepEqual(effects.map((e) => e.gene).slice(0, 2), [0, 1]);
  for (const e of effects.slice(2)) assert.ok(e.effect < 0.01, `gene ${e.gene}: ${e.effect}`);
  assert.ok(effects[0].effect + effects[1].effect > 0.95);
  // Each gene's values come best mean first: a's first value, b's last.
  assert.equal(effects[0].levels[0].key, 0);
  assert.equal(effects[1].levels[0].key, 3);
  assert.equal(effects[0].levels.reduce((s, l) => s + l.count, 0), 240);
});

test("chance alone is not importance: a gene of many values over few genomes", () => {
  const rnd = random(3);
  // 40 genomes whose y is pure noise; gene 0 takes 20 values (2 genomes each), gene 1
  // two. The share its means explain (eta squared) is 19/39 on average; epsilon squared
  // is 0 on average before it is cut at 0, and stays small after.
  let sum = 0, share = 0;
  for (let draw = 0; draw < 50; ++draw) {
    const rows = Array.from({ length: 40 }, (_, i) => ({ levels: [i % 20, i % 2], y: rnd() }));
    const gene = mainEffects(rows, 2).find((e) => e.gene === 0);
    sum += gene.effect;
    const mean = rows.reduce((s, r) => s + r.y, 0) / 40;
    const total = rows.reduce((s, r) => s + (r.y - mean) ** 2, 0);
    share += gene.levels.reduce((s, l) => s + l.count * (l.mean - mean) ** 2, 0) / total;
  }
  assert.ok(share / 50 > 0.4, `mean share ${share / 50}`);
  assert.ok(sum / 50 < 0.12, `mean effect ${sum / 50}`);
  assert.deepEqual(mainEffects([], 2).map((e) => e.effect), [0, 0]);
  assert.deepEqual(mainEffects([{ levels: ["x"], y: 1 }], 1).map((e) => e.effect), [0]);
});

function richGrid() {
  const lines = fs.readFileSync(path.join(root, "bench/data/fashion_mnist_mlp_rich.csv"), "utf8")
    .trim().split("\n").map((l) => l.split(","));
  const head = lines[0];
  const genes = head.slice(0, head.indexOf("hash"));
  const accuracy = head.indexOf("accuracy"), status = head.indexOf("status");
  const rows = lines.slice(1).filter((c) => c[status] === "ok")
    .map((c) => ({ levels: c.slice(0, genes.length).map((v) => v || "-"), y: Number(c[accuracy]) }));
  return { genes, rows };
}

test("on the committed 2 016-genome grid: learning rate, then batch norm; five genes nothing", () => {
  const { genes, rows } = richGrid();
  assert.equal(rows.length, 2016);
  const effects = mainEffects(rows, genes.length);
  const name = (e) => genes[e.gene];
  assert.deepEqual(effects.slice(0, 2).map(name), ["learning_rate", "batch_norm"]);
  for (const e of effects.filter((e) => ["nb_neurons_1", "nb_neurons_2", "activation", "dropout", "nb_layers"].includes(name(e)))) {
    assert.ok(e.effect < 0.002, `${name(e)}: ${e.effect}`);
  }
});

test("from 100 genomes of that grid, as a search has, the two that matter come first", () => {
  const { genes, rows } = richGrid();
  const rnd = random(11);
  const matter = ["learning_rate", "batch_norm"];
  let first = 0, both = 0;
  for (let draw = 0; draw < 20; ++draw) {
    const top = mainEffects(sample(rows, 100, rnd), genes.length).slice(0, 2).map((e) => genes[e.gene]);
    if (matter.includes(top[0])) ++first;
    if (matter.every((g) => top.includes(g))) ++both;
  }
  assert.equal(first, 20, "one of the two is first in every sample");
  assert.ok(both >= 15, `both are the top two in ${both} of 20 samples`);
});
