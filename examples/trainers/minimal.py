#!/usr/bin/env python3
# A whole trainer program, standard library only: logistic regression by gradient descent
# on a seeded synthetic task; genes learning_rate and l2. It reports one metric of its
# own, the weights that matter (|w| > 0.05), which l2 trades against accuracy: a second
# objective (`--objective nonzero_weights:min`). It checkpoints after each epoch and
# resumes from a checkpoint, so that a lost worker's trial goes on elsewhere. Protocol:
# README, "Your own training program".
import json, math, os, random, sys

trial = json.load(sys.stdin)
genes, rng = trial["genes"], random.Random(trial["seed"])
w_true = [rng.gauss(0, 1) for _ in range(8)]
def example():
    x = [rng.gauss(0, 1) for _ in w_true]
    return x, int(sum(a * b for a, b in zip(x, w_true)) + rng.gauss(0, 0.5) > 0)
train, val = [example() for _ in range(400)], [example() for _ in range(200)]
w, lr, l2 = [0.0] * len(w_true), float(genes["learning_rate"]), float(genes.get("l2", 0))
first = 1
if trial.get("resume_from"):  # the state after epoch resume_epoch, as written below
    with open(trial["resume_from"]) as f:
        state = json.load(f)
    w, first = state["w"], state["epoch"] + 1
def accuracy(data):
    return sum((sum(a * b for a, b in zip(x, w)) > 0) == y for x, y in data) / len(data)
for epoch in range(first, trial["epochs"] + 1):
    loss = 0.0
    for x, y in train:
        p = 1 / (1 + math.exp(-max(-30.0, min(30.0, sum(a * b for a, b in zip(x, w))))))
        loss -= math.log(max(1e-12, p if y else 1 - p)) / len(train)
        w = [wi - lr * ((p - y) * xi + l2 * wi) for wi, xi in zip(w, x)]
    print(json.dumps({"epoch": epoch, "val_accuracy": accuracy(val), "loss": loss}), flush=True)
    if trial.get("checkpoint_path"):  # written whole, then named: never half a file
        with open(trial["checkpoint_path"] + ".new", "w") as f:
            json.dump({"epoch": epoch, "w": w}, f)
        os.replace(trial["checkpoint_path"] + ".new", trial["checkpoint_path"])
        print(json.dumps({"checkpoint": epoch}), flush=True)
nonzero = sum(abs(wi) > 0.05 for wi in w)
print(json.dumps({"accuracy": accuracy(val), "metrics": {"nonzero_weights": nonzero}}))
