// Which genes matter: each gene's main effect on an objective over the genomes trained
// so far — the first-order terms of a functional ANOVA, taken over the observations
// themselves rather than over a surrogate model of them (optuna-dashboard fits a random
// forest first). A gene's effect is epsilon squared: the share of the objective's
// variance that the means of its values explain, less what as many groups of random
// genomes would explain by chance, so a gene with many values and few genomes each does
// not look important for that alone. 0 for a gene that explains no more than chance.
//
// What it cannot see: effects that only show in combination (interactions), and genes
// that evolution moved together share the credit for what either did — a search's
// genomes are not a uniform sample. On a full grid it is the exact first-order fANOVA.
//
// Loaded by the page (window.GeneImportance) and by node's tests (require).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.GeneImportance = factory();
})(typeof self !== "undefined" ? self : this, () => {
  "use strict";

  // `rows`: [{ levels: [a value's key for each gene], y: number }]; `genes`: how many.
  // Returns [{ gene, effect, levels: [{ key, count, mean }] best mean first }] for every
  // gene, most important first (ties in gene order).
  function mainEffects(rows, genes) {
    const n = rows.length;
    const mean = n ? rows.reduce((s, r) => s + r.y, 0) / n : 0;
    const total = rows.reduce((s, r) => s + (r.y - mean) ** 2, 0);
    const out = [];
    for (let g = 0; g < genes; ++g) {
      const groups = new Map();  // key -> [count, sum]
      for (const r of rows) {
        const k = r.levels[g];
        const s = groups.get(k) || [0, 0];
        s[0] += 1;
        s[1] += r.y;
        groups.set(k, s);
      }
      let between = 0;
      for (const [count, sum] of groups.values()) between += count * (sum / count - mean) ** 2;
      const k = groups.size;
      const within = total - between;
      let effect = 0;
      if (k > 1 && n > k && total > 0) {
        effect = Math.max(0, (between - (k - 1) * (within / (n - k))) / total);
      }
      const levels = [...groups.entries()].map(([key, [count, sum]]) => ({ key, count, mean: sum / count }))
        .sort((a, b) => b.mean - a.mean);
      out.push({ gene: g, effect, levels });
    }
    return out.sort((a, b) => b.effect - a.effect || a.gene - b.gene);
  }

  return { mainEffects };
});
