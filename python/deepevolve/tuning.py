"""tune(): a search over a Python function's hyperparameters.

    import deepevolve

    def objective(trial):
        model = build(trial.genes)
        for epoch in trial.epoch_range():
            trial.report(epoch, train_and_validate(model))
            trial.check()                      # pruned genomes stop here
        return validate(model)                 # the accuracy the search ranks by

    result = deepevolve.tune(objective, {"lr": {"log_range": [1e-4, 1e-1], "points": 7},
                                         "layers": [1, 2, 3]},
                             epochs=5, trials=40, pruner="asha", seed=1)
    result.best["genes"], result.best["accuracy"], result.directory

On this machine it runs the search as `deepevolve local` does (a master and workers on a
private socket, the function run once per trial as a trainer program, in its own process);
given a master (or a Client), it submits the same search there, to workers that offer the
function under `trainer` (deepevolve-worker --trainer NAME="python3 -m deepevolve.run
module:function").
"""

import dataclasses
import hashlib
import importlib.util
import inspect
import json
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPOSITORY_CLI = os.path.join(os.path.dirname(_PACKAGE_PARENT), "build", "cli", "deepevolve")
# genomes.json's "status" for each trial state (cli/results_files.cc, TrialStatus).
_STATUS = {"DONE": "ok", "CACHED": "ok", "TRIAL_FAILED": "failed", "ABANDONED": "abandoned", "PRUNED": "pruned"}


@dataclasses.dataclass
class TuneResult:
    """What a tune() found. Each genome is a dict as in genomes.json: id, hash, genes,
    status ("ok", "pruned", "failed", ...), accuracy and test_accuracy (trained ones),
    metrics, epochs_run, train_seconds, and rank (its place on the leaderboard)."""

    best: dict
    leaderboard: list
    trials: list
    search_id: int = 0  # on the master (a cluster's search)
    state: str = ""
    directory: str = ""  # a local search's results, logs and ledger
    spec: dict = None  # the search as run (a local search's, every default and the seed filled in)

    def dataframe(self):
        """Every genome, one row each: genes and metrics as columns (pandas)."""
        import pandas

        rows = []
        for t in self.trials:
            row = {k: v for k, v in t.items() if k not in ("genes", "metrics", "curve", "parents")}
            row.update(t.get("genes", {}))
            for name, value in t.get("metrics", {}).items():
                row.setdefault(name, value)
            rows.append(row)
        return pandas.DataFrame(rows)


def find_cli():
    """The deepevolve command: $DEEPEVOLVE_CLI, this repository's build, or PATH."""
    for candidate in (os.environ.get("DEEPEVOLVE_CLI"), _REPOSITORY_CLI, shutil.which("deepevolve")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "cannot find the deepevolve command (looked at $DEEPEVOLVE_CLI, "
        f"{_REPOSITORY_CLI} and PATH): build the tree or install deepevolve"
    )


def trainer_name(objective):
    """NAME@VERSION for the function: its name, and a version from its code, so that the
    ledger never answers a changed function with the old one's results."""
    name = re.sub(r"[^a-z0-9_.-]+", "-", getattr(objective, "__name__", "objective").lower()).strip("-.")
    try:
        code = inspect.getsource(objective).encode()
    except (OSError, TypeError):
        code = getattr(getattr(objective, "__code__", None), "co_code", b"") or repr(objective).encode()
    return f"{name or 'objective'}@{hashlib.sha256(code).hexdigest()[:12]}"


def _dump(objective, path):
    try:
        import cloudpickle

        data = cloudpickle.dumps(objective)
    except ImportError:
        try:
            data = pickle.dumps(objective)
        except (pickle.PicklingError, AttributeError) as e:
            raise TypeError(
                f"tune() cannot hand {objective!r} to its workers: a function defined in a notebook "
                "or script needs cloudpickle (apt-get install python3-cloudpickle); or define it in a module"
            ) from e
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)


def _spec(space, epochs, dataset, trainer, spec):
    if not isinstance(space, dict) or not space:
        raise TypeError("space: a dict of genes, each a list of values or {range: ...} / {log_range: ...}")
    out = json.loads(json.dumps(spec or {}))
    task = out.setdefault("task", {})
    task.update(trainer=trainer, epochs=int(epochs))
    if dataset:
        task["dataset"] = dataset
    out["genes"] = space
    return out


_FLAGS = {
    "strategy": "--strategy", "population": "--population", "generations": "--generations",
    "trials": "--trials", "ready_epochs": "--ready-epochs", "pruner": "--pruner", "seed": "--seed",
    "name": "--name", "checkpoint_every": "--checkpoint-every", "retrain": "--retrain",
    "warm_start": "--warm-start",
}


def _local(objective, spec, keywords, trainer, workers, threads, out, verbose, timeout):
    cli = find_cli()
    out = os.path.abspath(out or tempfile.mkdtemp(prefix="deepevolve-tune-"))
    os.makedirs(out, exist_ok=True)
    spec_path = os.path.join(out, "tune-spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=2)
    pickled = os.path.join(out, "objective.pkl")
    _dump(objective, pickled)
    command = f"exec {shlex.quote(sys.executable)} -m deepevolve.run {shlex.quote(pickled)}"
    args = [cli, "local", "--spec", spec_path, "--out", out, "--no-live", "--trainer", f"{trainer}={command}"]
    for key, flag in _FLAGS.items():
        value = keywords.pop(key, None)
        if value is True:
            args.append(flag)
        elif value not in (None, False):
            args += [flag, str(value)]
    for objective_text in _as_list(keywords.pop("objectives", None)):
        args += ["--objective", objective_text]
    for constraint in _as_list(keywords.pop("constraints", None)):
        args += ["--constraint", constraint]
    if keywords:
        raise TypeError(f"tune() got unexpected keywords: {', '.join(sorted(keywords))}")
    if workers:
        args += ["--trainers", str(workers)]
    if threads:
        args += ["--threads", str(threads)]
    # The workers run the function with this interpreter and this import path.
    paths = [_PACKAGE_PARENT] + [p for p in sys.path if p and os.path.isdir(p)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
    log_path = os.path.join(out, "tune.log")
    tail = []
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            for line in process.stdout:
                log.write(line)
                tail = (tail + [line])[-30:]
                if verbose:
                    print(line, end="", flush=True)
            code = process.wait(timeout=timeout)
        except BaseException:
            process.terminate()  # deepevolve local stops its master and workers
            process.wait()
            raise
    if code != 0:
        raise RuntimeError(f"the search failed (deepevolve local exited {code}); its output ends:\n" + "".join(tail))
    with open(os.path.join(out, "genomes.json")) as f:
        genomes = json.load(f)
    with open(os.path.join(out, "search.json")) as f:
        searched = json.load(f)
    ranked = sorted((g for g in genomes if "rank" in g), key=lambda g: g["rank"])
    return TuneResult(best=ranked[0] if ranked else None, leaderboard=ranked, trials=genomes,
                      state="SUCCEEDED", directory=out, spec=searched)


def _remote(client, spec, keywords, verbose):
    from deepevolve.client import genes_of

    search_id = client.submit(spec, **keywords).search_id
    final = client.wait(search_id, bar=verbose and importlib.util.find_spec("tqdm") is not None)
    space = final.spec.space
    ranked = client.leaderboard(search_id, n=10000)
    rank = {t.genome.id: i + 1 for i, t in enumerate(ranked)}
    entries = {}
    for t in client.trials(search_id):
        entries[t.genome.id] = _entry(t, genes_of(t.genome, space), rank.get(t.genome.id))
    board = [entries[t.genome.id] for t in ranked if t.genome.id in entries]
    from google.protobuf import json_format

    from deepevolve._stubs import service_pb2

    return TuneResult(best=board[0] if board else None, leaderboard=board, trials=list(entries.values()),
                      search_id=search_id, state=service_pb2.SearchState.Name(final.state),
                      spec=json_format.MessageToDict(final.spec, preserving_proto_field_name=True))


def _entry(trial, genes, rank):
    from deepevolve._stubs import service_pb2

    status = _STATUS.get(service_pb2.TrialState.Name(trial.state), "unfinished")
    if status == "ok" and trial.error:
        status = "failed"
    entry = {"id": trial.genome.id, "hash": trial.genome.hash, "genes": genes, "status": status,
             "generation": trial.genome.generation, "epochs_run": trial.epochs_run,
             "train_seconds": trial.train_seconds, "seed": trial.seed, "worker": trial.worker_id,
             "curve": [p.val_accuracy for p in trial.curve]}
    if trial.metrics:
        entry["metrics"] = dict(trial.metrics)
    if rank is not None:
        entry["rank"] = rank
    if status in ("ok", "pruned"):
        entry.update(accuracy=trial.accuracy, test_accuracy=trial.test_accuracy)
    elif trial.error:
        entry["error"] = trial.error
    return entry


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def tune(objective, space, *, epochs=1, strategy="guided", trials=None, population=None, generations=None,
         pruner=None, seed=None, objectives=None, constraints=None, dataset="", name=None, spec=None,
         checkpoint_every=None, workers=None, threads=None, out=None, master=None, client=None, trainer=None,
         verbose=True, timeout=None, **more):
    """Searches `space` for the genes that maximise `objective(trial)` (see the module's
    doc) and returns a TuneResult.

    space: genes as in a spec file's `genes:` (lists, {range: [a, b], step: n},
    {log_range: [a, b], points: n}). epochs: epochs per trial (trial.epochs).
    strategy, trials, population, generations, pruner, seed, objectives, constraints,
    checkpoint_every, name: as `deepevolve local`'s flags. spec: more of a spec file
    (e.g. {"guided": {"warmup": 8}}). dataset: text passed to each trial as is.

    On this machine: workers (processes; default cores / 2), threads (each), out (the
    results directory; default a new one under the temporary directory). Against a
    cluster: master ("host:port") or client (a Client), and trainer, the NAME[@VERSION]
    its workers offer this function under.
    """
    if not callable(objective):
        raise TypeError("objective: a function of the trial")
    keywords = dict(strategy=strategy, trials=trials, population=population, generations=generations,
                    pruner=pruner, seed=seed, objectives=objectives, constraints=constraints,
                    checkpoint_every=checkpoint_every, name=name, **more)
    keywords = {k: v for k, v in keywords.items() if v is not None}
    if master is None and client is None:
        name_version = trainer or trainer_name(objective)
        return _local(objective, _spec(space, epochs, dataset, name_version, spec), keywords, name_version,
                      workers, threads, out, verbose, timeout)
    if not trainer:
        raise ValueError(
            "tune() against a master needs trainer=NAME[@VERSION]: the name its workers offer this "
            "function under (deepevolve-worker --trainer NAME=\"python3 -m deepevolve.run module:function\")"
        )
    from deepevolve.client import Client

    own = client is None
    client = client or Client(master)
    try:
        return _remote(client, _spec(space, epochs, dataset, trainer, spec), keywords, verbose)
    finally:
        if own:
            client.close()
