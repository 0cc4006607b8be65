"""deepevolve.Client against a real master and a real worker running examples/trainers/minimal.py."""

import os
import subprocess
import sys
import textwrap

import grpc
import pytest

from conftest import MINIMAL, TOKEN, binary, wait_for
from deepevolve import Client, DeepevolveError, to_dataframe
from deepevolve._stubs import service_pb2

TOY = f"toy@1={sys.executable} {MINIMAL}"


def toy_spec(**more):
    spec = {
        "task": {"trainer": "toy@1", "dataset": "synthetic", "epochs": 3},
        "genes": {"learning_rate": {"log_range": [0.01, 1.0], "points": 5}, "l2": [0, 0.001, 0.01]},
        "random": {"trials": 6},
        "seed": 3,
    }
    spec.update(more)
    return spec


def test_a_search_from_a_dict_runs_to_its_end_through_watch(master, client):
    master.worker("w1", TOY)
    summary = client.submit(toy_spec(), name="from python")
    assert summary.search_id > 0
    assert summary.state == service_pb2.RUNNING
    events = list(client.watch(summary.search_id))
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences))
    assert events[-1].kind == service_pb2.Event.SEARCH_DONE
    assert events[-1].search.state == service_pb2.SUCCEEDED
    assert sum(e.kind == service_pb2.Event.GENOME_FINISHED for e in events) == 6
    done = client.get(summary.search_id)
    assert done.name == "from python" and done.trials_done == 6
    # The log range is the master's parser's: 5 points from 0.01 to 1, 3 digits each.
    values = [v.float_value for v in done.spec.space.genes[0].values]
    assert values == [0.01, 0.0316, 0.1, 0.316, 1.0]
    board = client.leaderboard(summary.search_id, n=3)
    assert len(board) == 3
    assert board[0].accuracy >= board[1].accuracy >= board[2].accuracy
    assert board[0].accuracy == done.best.accuracy
    # Every page of trials: 6 genomes two at a time.
    trials = client.trials(summary.search_id, page_size=2)
    assert [t.genome.id for t in trials] == [1, 2, 3, 4, 5, 6]
    assert all(t.state == service_pb2.DONE for t in trials)
    frame = to_dataframe(trials, done.spec.space)
    assert list(frame["genome_id"]) == [1, 2, 3, 4, 5, 6]
    assert {"learning_rate", "l2", "accuracy", "nonzero_weights"} <= set(frame.columns)
    assert frame["accuracy"].max() == done.best.accuracy
    assert len(client.dataframe(summary.search_id)) == 6


def test_a_spec_file_a_preset_and_keywords(tmp_path, master, client):
    path = tmp_path / "toy.yaml"
    path.write_text(textwrap.dedent("""\
        task: {trainer: toy@1, dataset: synthetic, epochs: 2}
        genes:
          learning_rate: {log_range: [1e-3, 1e-1], points: 3}
          l2: [0, 0.01]
        guided: {population: 4, trials: 10}
        """))
    spec = client.spec(str(path), trials=5, seed=9, pruner="asha", objectives=["accuracy:max"])
    assert spec.WhichOneof("strategy") == "guided"
    assert spec.guided.population == 4 and spec.guided.trials == 5
    assert spec.seed == 9 and spec.pruner.WhichOneof("kind") == "asha"
    assert [v.float_value for v in spec.space.genes[0].values] == [0.001, 0.01, 0.1]
    # Another strategy drops the file's settings for guided; a knob it lacks is refused.
    assert client.spec(str(path), strategy="random", trials=3).random.trials == 3
    with pytest.raises(ValueError, match="population does not apply to the random strategy"):
        client.spec(str(path), strategy="random", population=3)
    with pytest.raises(TypeError, match="unknown keyword popluation"):
        client.spec(str(path), popluation=3)
    # A preset's name with keywords.
    preset = client.spec("fashion_mnist_mlp", strategy="steady_state", trials=20, epochs=2)
    assert preset.preset == "fashion_mnist_mlp" and preset.steady_state.trials == 20
    assert preset.task.epochs == 2
    submitted = client.submit(str(path), seed=9)
    assert submitted.spec.seed == 9 and submitted.spec.guided.trials == 10


def test_errors_carry_the_grpc_code_and_the_master_s_words(master, client):
    with pytest.raises(DeepevolveError) as bad:
        client.submit({"genes": {"learning_rate": {"log_range": [0, 1], "points": 3}}})
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "log_range" in bad.value.details
    with pytest.raises(DeepevolveError) as unknown:
        client.submit("no_such_preset")
    assert unknown.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no_such_preset" in str(unknown.value)
    with pytest.raises(DeepevolveError) as missing:
        client.get(12345)
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(DeepevolveError) as garbled:
        client.read_spec("task: [unclosed", "broken.yaml")
    assert garbled.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "broken.yaml" in garbled.value.details
    with pytest.raises(DeepevolveError) as huge:
        client.read_spec("#" * (2 << 20))
    assert "at most 1048576" in huge.value.details
    with Client(master.address, token="wrong", insecure=True) as stranger:
        with pytest.raises(DeepevolveError) as refused:
            stranger.list()
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    # Nothing of that was stored.
    assert client.list() == []


def test_the_environment_configures_a_client(master, monkeypatch):
    monkeypatch.setenv("DEEPEVOLVE_MASTER", master.address)
    monkeypatch.setenv("DEEPEVOLVE_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPEVOLVE_INSECURE", "1")
    with Client() as c:
        assert c.master == master.address and c.insecure
        assert c.list() == []
    monkeypatch.setenv("DEEPEVOLVE_INSECURE", "0")
    monkeypatch.setenv("DEEPEVOLVE_TLS_CA", "/nonexistent/ca.pem")
    with pytest.raises(FileNotFoundError, match="/nonexistent/ca.pem"):
        Client()


def test_watch_goes_on_through_a_master_restart(master, client):
    master.worker("w1", TOY)
    summary = client.submit(toy_spec(random={"trials": 8}))
    seen = []
    for event in client.watch(summary.search_id):
        seen.append(event)
        if len(seen) == 3:
            master.restart()  # SIGKILL, then a new master on the same port and database
    sequences = [e.sequence for e in seen]
    assert sequences == sorted(set(sequences)), "an event twice or out of order"
    assert seen[-1].kind == service_pb2.Event.SEARCH_DONE
    assert seen[-1].search.trials_done == 8


def test_cancel_list_and_export(tmp_path, master, client):
    program = tmp_path / "saves_a_model.py"
    program.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {os.path.join(os.path.dirname(MINIMAL), '..', '..', 'python')!r})
        from deepevolve.trainer import Trial
        with Trial() as trial:
            for epoch in trial.epoch_range():
                trial.report(epoch, 0.5 + trial.genes["x"] / 100)
            with open(trial.model_path, "w") as f:
                f.write(f"model of x={{trial.genes['x']}}")
            trial.finish(0.5 + trial.genes["x"] / 100)
        """))
    master.worker("w1", f"saver={sys.executable} {program}")
    spec = {"task": {"trainer": "saver", "epochs": 1}, "genes": {"x": [1, 2, 3]}, "grid": {}}
    first = client.submit(spec)
    client.wait(first.search_id)
    best = client.export(first.search_id, tmp_path / "best")
    assert best.accuracy == pytest.approx(0.53)
    assert (tmp_path / "best").read_text() == "model of x=3"
    master.workers[0].kill()
    second = client.submit(spec, retrain=True)
    cancelled = client.cancel(second.search_id)
    assert cancelled.state == service_pb2.CANCELLED
    ids = [s.search_id for s in client.list()]
    assert ids == [second.search_id, first.search_id]
    assert [s.search_id for s in client.list(page_size=1)] == ids
    assert [s.search_id for s in client.list(limit=1)] == [second.search_id]
    with pytest.raises(DeepevolveError) as none:
        client.export(second.search_id, tmp_path / "none")
    assert none.value.code == grpc.StatusCode.NOT_FOUND
    assert not (tmp_path / "none").exists()
