"""deepevolve.tune(): a whole search of a Python function, on this machine (deepevolve
local's master and workers) and against a master whose workers offer the function."""

import json
import os
import sys

import pytest

from conftest import SOURCE, TOKEN
from deepevolve import Client, tune
import tune_objectives

SPACE = {"lr": {"log_range": [1e-3, 1e-1], "points": 3}, "width": {"range": [16, 128], "step": 16}}


def board(result):
    return [(g["genes"]["lr"], g["genes"]["width"], g["accuracy"]) for g in result.leaderboard]


def test_a_local_search_finds_the_best_genes_and_is_reproducible(tmp_path):
    first = tune(tune_objectives.smooth, SPACE, epochs=3, trials=10, seed=4, workers=1,
                 out=str(tmp_path / "one"), verbose=False)
    best = first.best
    assert (best["genes"]["lr"], best["genes"]["width"]) == board(first)[0][:2] and best["rank"] == 1
    assert len(first.trials) == 10 and all(t["status"] == "ok" for t in first.trials)
    assert [g["rank"] for g in first.leaderboard] == list(range(1, 11))
    accuracies = [a for _, _, a in board(first)]
    assert accuracies == sorted(accuracies, reverse=True)
    assert first.best["metrics"]["width_cost"] == first.best["genes"]["width"] / 64
    assert first.spec["seed"] == "4" or first.spec["seed"] == 4
    assert os.path.exists(os.path.join(first.directory, "genomes.csv"))
    # Each trial's curve is the function's reports.
    assert all(len(t["curve"]) == 3 for t in first.trials)
    again = tune(tune_objectives.smooth, SPACE, epochs=3, trials=10, seed=4, workers=1,
                 out=str(tmp_path / "two"), verbose=False)
    assert board(again) == board(first)
    frame = first.dataframe()
    assert {"lr", "width", "accuracy", "width_cost"} <= set(frame.columns) and len(frame) == 10


def test_a_function_defined_here_and_pruning(tmp_path):
    calls = {"offset": 0.05}  # a closure: pickled by value, not by name

    def quadratic(trial):
        x = trial.genes["x"]
        accuracy = 0.0
        for epoch in trial.epoch_range():
            accuracy = max(0.0, 0.9 - calls["offset"] * (x - 3) ** 2 / epoch ** 0.5)
            trial.report(epoch, accuracy)
            trial.check()
        return accuracy

    result = tune(quadratic, {"x": list(range(8))}, epochs=4, strategy="grid", pruner="asha", seed=2,
                  workers=2, out=str(tmp_path / "q"), verbose=False)
    assert result.best["genes"] == {"x": 3}
    assert result.best["accuracy"] == pytest.approx(0.9)
    statuses = [t["status"] for t in result.trials]
    assert statuses.count("pruned") >= 2, statuses  # ASHA stopped the hopeless ones
    assert "ok" in statuses
    assert result.leaderboard[0]["status"] == "ok"


def test_a_function_that_raises_fails_its_genomes_saying_why(tmp_path):
    result = tune(tune_objectives.fails_on_wide, SPACE, epochs=2, strategy="grid", seed=1, workers=2,
                  out=str(tmp_path / "f"), verbose=False)
    failed = [t for t in result.trials if t["status"] == "failed"]
    assert failed and all(t["genes"]["width"] > 64 for t in failed)
    assert all("MemoryError: does not fit" in t["error"] for t in failed)
    assert result.best["genes"]["width"] <= 64


def test_against_a_master_the_same_call_gives_the_same_search(tmp_path, master):
    python_path = os.pathsep.join([os.path.join(SOURCE, "python"), os.path.dirname(tune_objectives.__file__)])
    env = dict(os.environ, PYTHONPATH=python_path)
    master.worker("w1", f"smooth@1={sys.executable} -m deepevolve.run tune_objectives:smooth", env=env)
    with Client(master.address, token=TOKEN, insecure=True) as client:
        remote = tune(tune_objectives.smooth, SPACE, epochs=3, trials=10, seed=4, client=client,
                      trainer="smooth@1", verbose=False)
    assert remote.state == "SUCCEEDED" and remote.search_id == 1
    local = tune(tune_objectives.smooth, SPACE, epochs=3, trials=10, seed=4, workers=1,
                 out=str(tmp_path / "local"), verbose=False)
    assert board(remote) == board(local)
    assert remote.best["hash"] == local.best["hash"]
    with pytest.raises(ValueError, match="trainer="):
        tune(tune_objectives.smooth, SPACE, master=master.address)
