#!/usr/bin/env bash
# End to end: a tiny `deepevolve local` search on real Fashion-MNIST, then its outputs.
set -euo pipefail
bin=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" local --preset fashion_mnist_mlp --population 4 --generations 2 --epochs 1 \
  --train-limit 3000 --test-limit 1000 --seed 11 --trainers 2 --threads 1 --no-live \
  --out "$out" >"$out/stdout" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }

fail() { echo "FAIL: $*"; cat "$out/stdout" "$out/stderr"; exit 1; }
grep -q "Top 5 of" "$out/stdout" || fail "no leaderboard"
grep -q "^1 " "$out/stdout" || fail "no first place"
[ -s "$out/best_model.pt" ] || fail "no best model"
rows=$(($(wc -l <"$out/genomes.csv") - 1))
# 4 random genomes, then 2 elites kept, each other member kept with p 0.1, children for
# the rest: 5 or 6 trainings.
[ "$rows" -ge 5 ] && [ "$rows" -le 6 ] || fail "expected 5-6 genomes in genomes.csv, got $rows"
head -1 "$out/genomes.csv" | grep -q "^nb_neurons,nb_layers,activation,optimizer,hash,id" || fail "csv header"
# Only this user reaches the plaintext master: a Unix socket in a directory of mode 0700.
grep -q "listening on unix:$out/.master/grpc.sock" "$out/master.log" || fail "master not on its socket"
[ "$(stat -c %a "$out/.master")" = 700 ] || fail "socket directory open to others"
python3 -c "import json,sys; d=json.load(open('$out/genomes.json')); assert len(d)==$rows and len({r['hash'] for r in d})==len(d) and all(r['status']=='ok' for r in d), d" \
  || fail "genomes.json"
# The same seed reproduces the same leaderboard.
"$bin" local --preset fashion_mnist_mlp --population 4 --generations 2 --epochs 1 \
  --train-limit 3000 --test-limit 1000 --seed 11 --trainers 2 --threads 1 --no-live \
  --out "$out/again" >"$out/stdout2" 2>/dev/null
diff <(grep -A6 "Top 5" "$out/stdout") <(grep -A6 "Top 5" "$out/stdout2") || fail "not reproducible"
# The same output directory keeps the ledger: a second run trains nothing, and still
# exports its best genome's model (models are kept by ledger entry).
rm "$out/best_model.pt"
"$bin" local --preset fashion_mnist_mlp --population 4 --generations 2 --epochs 1 \
  --train-limit 3000 --test-limit 1000 --seed 11 --trainers 2 --threads 1 --no-live \
  --out "$out" >"$out/stdout3" 2>"$out/stderr3" || fail "second run in the same directory"
hits=$(python3 -c "import json; d=json.load(open('$out/genomes.json')); print(sum(r['ledger_hit'] for r in d), len(d))")
[ "$hits" = "$rows $rows" ] || fail "expected every genome from the ledger on the second run, got $hits"
[ -s "$out/best_model.pt" ] || fail "no best model after a run of ledger hits"
grep -q "best model: " "$out/stdout3" || fail "the run of ledger hits does not name its model"
diff <(grep -A6 "Top 5" "$out/stdout" | sed 's/ (ledger)//') <(grep -A6 "Top 5" "$out/stdout3" | sed 's/ (ledger)//') \
  || fail "ledger answers differ from the training results"
# A CNN search over the newer genes (the example spec, cut short): its genomes carry
# only their active genes, and it exports a model.
"$bin" local --spec "$(dirname "$0")/../../examples/own_cnn.yaml" --trials 3 \
  --epochs 1 --train-limit 2000 --test-limit 500 --seed 5 --trainers 2 --threads 1 --no-live \
  --out "$out/cnn" >"$out/stdout4" 2>"$out/stderr4" || fail "own_cnn.yaml: $(cat "$out/stderr4")"
[ -s "$out/cnn/best_model.pt" ] || fail "no best model for the CNN search"
python3 - "$out/cnn/genomes.json" <<'PY' || fail "the CNN search's genomes"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), rows
for r in rows:
    g = r["genes"]
    layers = int(g["nb_layers"])
    # A block beyond nb_layers is inactive: no value in the record.
    assert (str(g.get("nb_neurons_3", "")) != "") == (layers == 3), r
PY
# retrain: the CNN search's best genome (by validation) trained again for longer, keeping
# its hash, with the best epoch's weights.
"$bin" retrain "$out/cnn" --epochs 3 --patience 2 --threads 2 --no-live \
  >"$out/stdout5" 2>"$out/stderr5" || fail "retrain: $(cat "$out/stderr5")"
python3 - "$out/cnn" "$out/stdout5" <<'PY' || fail "retrain's outputs"
import glob, json, sys
search = [r for r in json.load(open(sys.argv[1] + "/genomes.json")) if r["status"] == "ok"]
best = max(search, key=lambda r: r["accuracy"])
[dir] = glob.glob(sys.argv[1] + "/retrain-*-3")
[again] = json.load(open(dir + "/genomes.json"))
assert again["hash"] == best["hash"] and again["genes"] == best["genes"], (again, best)
assert again["status"] == "ok" and 1 <= again["epochs_run"] <= 3, again
spec = json.load(open(dir + "/search.json"))
assert spec["task"]["epochs"] == 3 and spec["task"]["restore_best_weights"], spec["task"]
text = open(sys.argv[2]).read()
assert "retrained " + best["hash"] in text and "best_model.pt" in text, text
PY
[ -s "$(ls -d "$out"/cnn/retrain-*-3)/best_model.pt" ] || fail "no model from the retrain"
if "$bin" retrain "$out/nothing-here" 2>"$out/err5"; then fail "retrained a missing search"; fi
grep -q "search.json does not exist" "$out/err5" || fail "retrain's missing-directory message"
# A pruned search (ASHA, rungs at 1 and 3 of 4 epochs) on real training: stopped
# genomes are 'pruned' at a rung with their curve, the others trained all 4 epochs, and
# the top table counts the epochs saved.
"$bin" local --preset fashion_mnist_mlp --strategy steady_state --population 5 --trials 10 \
  --epochs 4 --pruner asha --train-limit 2000 --test-limit 500 --seed 3 --trainers 2 \
  --threads 1 --no-live --out "$out/pruned" >"$out/stdout6" 2>"$out/stderr6" \
  || fail "pruned search: $(cat "$out/stderr6")"
python3 - "$out/pruned" <<'PY' || fail "the pruned search's genomes"
import csv, json, sys
rows = json.load(open(sys.argv[1] + "/genomes.json"))
assert len(rows) == 10, rows
pruned = [r for r in rows if r["status"] == "pruned"]
assert pruned and all(r["status"] in ("ok", "pruned") for r in rows), rows
for r in rows:
    assert len(r["curve"]) == r["epochs_run"], r
    if r["status"] == "pruned":
        assert r["epochs_run"] in (1, 3) and r["pruned_at_epoch"] == r["epochs_run"], r
        assert abs(r["accuracy"] - r["curve"][-1]) < 1e-9, r
table = list(csv.DictReader(open(sys.argv[1] + "/genomes.csv")))
assert [t["status"] for t in table] == [r["status"] for r in rows]
assert all(len(t["curve"].split(";")) == int(t["epochs_run"]) for t in table), table
PY
grep -q "pruned: .* epochs trained, .* saved" "$out/stdout6" || fail "no epochs saved in the top table"
# A bad spec is refused with the field named, and nothing runs.
if "$bin" local --preset nope --out "$out/bad" 2>"$out/err3"; then fail "accepted a bad preset"; fi
grep -q "preset: unknown preset 'nope'" "$out/err3" || fail "bad preset message"
echo "local search end to end: ok"
