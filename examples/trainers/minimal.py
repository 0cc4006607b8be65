#!/usr/bin/env python3
# A whole trainer program, standard library only: logistic regression by gradient descent
# on a seeded synthetic task; genes learning_rate and l2. It reports one metric of its
# own, the weights that matter (|w| > 0.05), which l2 trades against accuracy: a second
# objective (`--objective nonzero_weights:min`). It checkpoints after each epoch and
# resumes from a checkpoint, so that a lost worker's trial goes on elsewhere. The helper
# (python/deepevolve/trainer.py) speaks the protocol: README, "Your own training program".
import json, math, os, random, sys

try:
    from deepevolve.trainer import Trial
except ImportError:  # run from this repository, the package not installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    from deepevolve.trainer import Trial

with Trial() as trial:
    rng = random.Random(trial.seed)
    w_true = [rng.gauss(0, 1) for _ in range(8)]
    def example():
        x = [rng.gauss(0, 1) for _ in w_true]
        return x, int(sum(a * b for a, b in zip(x, w_true)) + rng.gauss(0, 0.5) > 0)
    train, val = [example() for _ in range(400)], [example() for _ in range(200)]
    w = [0.0] * len(w_true)
    lr, l2 = float(trial.genes["learning_rate"]), float(trial.genes.get("l2", 0))
    if trial.resume_from:  # the state after epoch trial.resume_epoch, as saved below
        with open(trial.resume_from) as f:
            w = json.load(f)["w"]
    def accuracy(data):
        return sum((sum(a * b for a, b in zip(x, w)) > 0) == y for x, y in data) / len(data)
    for epoch in trial.epoch_range():
        loss = 0.0
        for x, y in train:
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, sum(a * b for a, b in zip(x, w))))))
            loss -= math.log(max(1e-12, p if y else 1 - p)) / len(train)
            w = [wi - lr * ((p - y) * xi + l2 * wi) for wi, xi in zip(w, x)]
        trial.report(epoch, accuracy(val), loss=loss)
        if trial.checkpoint_due(epoch):
            with trial.checkpoint(epoch) as f:
                f.write(json.dumps({"epoch": epoch, "w": w}).encode())
        trial.check()
    trial.finish(accuracy(val), nonzero_weights=sum(abs(wi) > 0.05 for wi in w))
