"""Warm starts against a real master and worker: another run's trials imported into the
ledger (deepevolve import from genomes.json and genomes.csv, Client.import_trials from an
Optuna study), checked against the space, and a search that begins with an earlier
search's best genomes."""

import json
import os
import subprocess
import sys

import grpc
import pytest

from conftest import MINIMAL, TOKEN, binary
from deepevolve import Client, DeepevolveError, tune
from deepevolve._stubs import service_pb2
from deepevolve.imports import from_optuna, from_results
import tune_objectives

GENES = {"lr": {"log_range": [1e-3, 1e-1], "points": 3}, "width": {"range": [16, 128], "step": 16}}


def spec(trainer="smooth@1", epochs=3, **strategy):
    return {"task": {"trainer": trainer, "epochs": epochs}, "genes": GENES, **(strategy or {"grid": {}})}


def cli(master, *args):
    return subprocess.run([binary("cli", "deepevolve"), *args, "--master", master.address, "--insecure"],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DEEPEVOLVE_TOKEN=TOKEN))


@pytest.fixture
def earlier_run(tmp_path_factory):
    """A local tune() of the same function and space: its results directory."""
    out = str(tmp_path_factory.mktemp("earlier") / "run")
    tune(tune_objectives.smooth, GENES, epochs=3, trials=10, seed=4, workers=1, out=out, verbose=False,
         trainer="smooth@1")
    return out


def smooth_worker(master):
    python_path = os.pathsep.join([os.path.join(os.path.dirname(MINIMAL), "..", "..", "python"),
                                   os.path.dirname(tune_objectives.__file__)])
    master.worker("w1", f"smooth@1={sys.executable} -m deepevolve.run tune_objectives:smooth",
                  env=dict(os.environ, PYTHONPATH=python_path))


def test_import_answers_the_imported_genomes_from_the_ledger(tmp_path, master, client, earlier_run):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec()))
    done = cli(master, "import", os.path.join(earlier_run, "genomes.json"), "--spec", str(spec_path),
               "--source", "run A")
    assert done.returncode == 0, done.stderr
    assert "imported 10 trials into the ledger (0 already recorded, 0 not finished" in done.stdout
    # The CSV of the same run holds the same trials: all already recorded.
    again = cli(master, "import", os.path.join(earlier_run, "genomes.csv"), "--spec", str(spec_path))
    assert again.returncode == 0, again.stderr
    assert "imported 0 trials into the ledger (10 already recorded" in again.stdout
    # A grid over the space trains only the genomes the earlier run did not.
    smooth_worker(master)
    search = client.submit(spec())
    final = client.wait(search.search_id)
    assert final.state == service_pb2.SUCCEEDED
    trials = client.trials(search.search_id)
    cached = [t for t in trials if t.state == service_pb2.CACHED]
    assert len(trials) == 24 and len(cached) == 10
    assert all(t.imported_from == "run A" for t in cached)
    earlier = {g["hash"]: g["accuracy"] for g in from_results(os.path.join(earlier_run, "genomes.json"))}
    assert {t.genome.hash: t.accuracy for t in cached} == earlier
    top = cli(master, "top", str(search.search_id), "-n", "24").stdout
    assert "(imported: run A)" in top


def test_a_trial_outside_the_space_refuses_the_import_and_stores_nothing(master, client, earlier_run):
    trials = from_results(os.path.join(earlier_run, "genomes.json"))
    trials[3] = dict(trials[3], genes={"lr": 0.5, "width": 64})
    with pytest.raises(DeepevolveError) as refused:
        client.import_trials(spec(), trials, source="bad")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "trials[3]" in refused.value.details and "lr" in refused.value.details
    with pytest.raises(DeepevolveError, match=r"trials\[0\]: accuracy: 87"):
        client.import_trials(spec(), [dict(trials[0], accuracy=87.0)])
    with pytest.raises(DeepevolveError, match="source"):
        client.import_trials(spec(), trials[:1], source="x" * 300)
    # Nothing of it reached the ledger; the good ones import now, once.
    assert client.import_trials(spec(), trials[:3] + trials[4:]) == (9, 0)
    assert client.import_trials(spec(), trials[:3] + trials[4:]) == (0, 9)


def test_an_optuna_study_imports(master, client):
    import optuna  # install-deps.sh --test installs Debian's python3-optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_categorical("lr", [0.001, 0.01, 0.1])
        width = trial.suggest_int("width", 16, 128, step=16)
        trial.set_user_attr("width_cost", width / 64)
        trial.set_user_attr("Note", "not a metric")
        return 0.9 - abs(width - 64) / 1000 - (0 if lr == 0.01 else 0.05)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=12)
    imported = from_optuna(study)
    assert all(t["metrics"] == {"width_cost": t["genes"]["width"] / 64} for t in imported)
    distinct = len({(t["genes"]["lr"], t["genes"]["width"]) for t in imported})
    assert client.import_trials(spec(), imported, source="optuna study") == (distinct, 12 - distinct)
    minimizing = optuna.create_study(direction="minimize")
    with pytest.raises(ValueError, match="accuracy="):
        from_optuna(minimizing)


def test_a_search_begins_with_an_earlier_search_s_best(master, client):
    smooth_worker(master)
    first = client.submit(spec(random={"trials": 8}), seed=3)
    client.wait(first.search_id)
    best = client.leaderboard(first.search_id, n=3)
    # The same task: its best three come first and are answered from the ledger.
    warm = client.spec(spec(guided={"population": 6, "trials": 10}), seed=5)
    warm.warm_start.search_id = first.search_id
    warm.warm_start.best = 3
    second = client.submit(warm)
    assert [len(g.genes) for g in second.spec.warm_start.genomes] == [2, 2, 2]
    client.wait(second.search_id)
    trials = client.trials(second.search_id)
    assert [t.genome.hash for t in trials[:3]] == [t.genome.hash for t in best]
    assert all(t.state == service_pb2.CACHED for t in trials[:3])
    # Another task (more epochs): the same genomes first, trained this time.
    third = client.submit(spec(epochs=4, steady_state={"population": 6, "trials": 8}), seed=5,
                          warm_start=f"{first.search_id}:2")
    client.wait(third.search_id)
    trials = client.trials(third.search_id)
    assert [t.genome.hash for t in trials[:2]] == [t.genome.hash for t in best[:2]]
    assert all(t.state == service_pb2.DONE and t.epochs_run == 4 for t in trials[:2])
    status = cli(master, "status", str(third.search_id)).stdout
    assert f"warm start: began with 2 genomes, the best of search {first.search_id}" in status
    # Refusals name the field.
    with pytest.raises(DeepevolveError, match="warm_start.search_id: no search with id 99"):
        client.submit(spec(random={"trials": 4}), warm_start="99")
    with pytest.raises(DeepevolveError, match="warm_start: grid"):
        client.submit(spec(), warm_start=str(first.search_id))
