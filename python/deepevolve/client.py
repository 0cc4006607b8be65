"""A client of a deepevolve master's SearchService (proto/deepevolve/v1/service.proto).

It reads the same environment as the `deepevolve` CLI: DEEPEVOLVE_MASTER (host:port, or
unix:PATH), DEEPEVOLVE_TOKEN (the bearer token itself), DEEPEVOLVE_TLS_CA (a PEM file of
the roots to trust) and DEEPEVOLVE_INSECURE=1 (plaintext). Every failed call raises
DeepevolveError with the gRPC code and the master's words.
"""

import json
import os
import time

import grpc

from deepevolve._stubs import search_pb2, service_pb2, service_pb2_grpc
from deepevolve.spec import apply_keywords

DEFAULT_MASTER = "127.0.0.1:50051"
# Trained models ride in one message (the master allows 256 MiB).
_MAX_MESSAGE = 256 << 20


class DeepevolveError(Exception):
    """A call the master refused or could not answer.

    `code` is the grpc.StatusCode (INVALID_ARGUMENT for a bad spec, NOT_FOUND for an
    unknown search, UNAUTHENTICATED for a missing or wrong token, UNAVAILABLE when the
    master cannot be reached), `details` the master's own words, `call` what was asked.
    """

    def __init__(self, call, code, details):
        self.call, self.code, self.details = call, code, details
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        super().__init__(f"{call}: {name}: {details}")


def _env_flag(name):
    return os.environ.get(name, "") == "1"


class Client:
    """A connection to one master. Cheap to make; close() (or `with`) ends it."""

    def __init__(self, master=None, token=None, tls_ca=None, insecure=None, timeout=30.0):
        self.master = master or os.environ.get("DEEPEVOLVE_MASTER") or DEFAULT_MASTER
        self.token = token if token is not None else os.environ.get("DEEPEVOLVE_TOKEN", "")
        tls_ca = tls_ca if tls_ca is not None else os.environ.get("DEEPEVOLVE_TLS_CA", "")
        self.insecure = _env_flag("DEEPEVOLVE_INSECURE") if insecure is None else bool(insecure)
        self.timeout = timeout
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ]
        if self.insecure:
            self._channel = grpc.insecure_channel(self.master, options=options)
        else:
            roots = None
            if tls_ca:
                with open(tls_ca, "rb") as f:  # a missing file's error names it
                    roots = f.read()
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(self.master, credentials, options=options)
        self._stub = service_pb2_grpc.SearchServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Client(master={self.master!r}{', insecure' if self.insecure else ''})"

    # The calls.

    def _metadata(self):
        return [("authorization", "Bearer " + self.token)] if self.token else None

    def _call(self, name, request, timeout=None):
        method = getattr(self._stub, name)
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata())
        except grpc.RpcError as e:
            raise DeepevolveError(name, e.code(), e.details()) from None

    def read_spec(self, text, source="spec"):
        """A spec file's text (YAML or JSON, `genes:` shorthand included) as the master's
        parser reads it: the SearchSpec message. Nothing is stored."""
        return self._call("ReadSpec", service_pb2.ReadSpecRequest(text=text, source=source))

    def spec(self, spec=None, **keywords):
        """The SearchSpec that submit() would send (see submit for the arguments)."""
        if spec is None:
            message = search_pb2.SearchSpec()
        elif isinstance(spec, search_pb2.SearchSpec):
            message = search_pb2.SearchSpec()
            message.CopyFrom(spec)
        elif isinstance(spec, dict):
            message = self.read_spec(json.dumps(spec), "spec")
        elif isinstance(spec, (str, os.PathLike)) and _is_spec_path(spec):
            path = os.fspath(spec)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            message = self.read_spec(text, path)
        elif isinstance(spec, str):
            message = search_pb2.SearchSpec(preset=spec)
        else:
            raise TypeError(f"spec: a dict, a YAML/JSON file's path, a preset name or a SearchSpec, not {type(spec).__name__}")
        apply_keywords(message, **keywords)
        return message

    def submit(self, spec=None, **keywords):
        """Starts a search and returns its SearchSummary (`.search_id`).

        `spec` is a dict in a spec file's form ({"task": {...}, "genes": {...},
        "guided": {...}}), the path of a YAML or JSON spec file, a preset's name, or a
        SearchSpec. Keywords override it as the CLI's flags do: strategy, population,
        generations, trials, ready_epochs, epochs, train_limit, test_limit, seed, name,
        trainer, pruner ("none", "median", "asha"), checkpoint_every (N, "Ns" or "none"),
        objectives (["params:min", ...]), constraints (["params<=1e6", ...]), retrain,
        compat.
        """
        message = self.spec(spec, **keywords)
        return self._call("Submit", service_pb2.SubmitRequest(spec=message)).search

    def import_trials(self, spec, trials, source="", **keywords):
        """Records finished trainings from elsewhere in the master's ledger under the task
        of `spec` (as submit takes it), so that its searches answer those genomes without
        training them. `trials`: dicts as genomes.json's entries ({"genes": {...},
        "accuracy": 0.87, "test_accuracy": ..., "metrics": {...}, "epochs_run": ...,
        "train_seconds": ...}): deepevolve.imports reads them from a results file or an
        Optuna study. Returns (imported, already_recorded); one trial the space or the
        checks refuse refuses all, naming it."""
        request = service_pb2.ImportTrialsRequest(spec=self.spec(spec, **keywords), source=source)
        for t in trials:
            imported = request.trials.add(
                accuracy=float(t["accuracy"]), test_accuracy=float(t.get("test_accuracy") or 0.0),
                epochs_run=int(t.get("epochs_run") or 0), train_seconds=float(t.get("train_seconds") or 0.0))
            for name, value in t["genes"].items():
                imported.genome.genes[name].CopyFrom(gene_value_proto(value))
            for name, value in (t.get("metrics") or {}).items():
                imported.metrics[name] = float(value)
        response = self._call("ImportTrials", request, timeout=max(self.timeout, 120))
        return response.imported, response.already_recorded

    def get(self, search_id):
        """The search's SearchSummary (state, progress, best trial so far)."""
        return self._call("Get", service_pb2.GetRequest(search_id=int(search_id)))

    def list(self, limit=None, page_size=1000):
        """Searches, newest first: every page, or the newest `limit`."""
        out, before = [], 0
        while limit is None or len(out) < limit:
            page = self._call("List", service_pb2.ListRequest(before_search_id=before, page_size=page_size))
            out.extend(page.searches)
            before = page.next_before_search_id
            if before == 0:
                break
        return out if limit is None else out[:limit]

    def cancel(self, search_id):
        return self._call("Cancel", service_pb2.CancelRequest(search_id=int(search_id)))

    def leaderboard(self, search_id, n=10):
        """The best n trials (trained or answered from the ledger), best first."""
        request = service_pb2.LeaderboardRequest(search_id=int(search_id), limit=int(n))
        return list(self._call("Leaderboard", request).trials)

    def trials(self, search_id, page_size=10000):
        """Every genome of the search in creation order, whatever its state (all pages)."""
        out, after = [], 0
        while True:
            request = service_pb2.ListTrialsRequest(search_id=int(search_id), after_genome_id=after, page_size=page_size)
            page = self._call("ListTrials", request)
            out.extend(page.trials)
            after = page.next_after_genome_id
            if after == 0:
                return out

    def export(self, search_id, path, genome=None):
        """Writes a trial's trained model to `path` (the best trial with a model, or the
        genome with this id) and returns that trial."""
        request = service_pb2.GetModelRequest(search_id=int(search_id), genome_id=int(genome or 0))
        model = self._call("GetModel", request, timeout=max(self.timeout, 300))
        tmp = f"{os.fspath(path)}.part"
        with open(tmp, "wb") as f:
            f.write(model.data)
        os.replace(tmp, path)
        return model.trial

    def watch(self, search_id, after=0, reconnect_for=120.0):
        """The search's events (service_pb2.Event), recorded ones first, then live ones,
        until SEARCH_DONE. A broken stream (the master restarted) is resumed after the
        last event seen; after `reconnect_for` seconds without an answer the UNAVAILABLE
        error is raised."""
        lost_since = None
        while True:
            request = service_pb2.WatchRequest(search_id=int(search_id), after_sequence=after)
            stream = self._stub.Watch(request, metadata=self._metadata())
            try:
                for event in stream:
                    lost_since = None
                    after = event.sequence
                    yield event
                    if event.kind == service_pb2.Event.SEARCH_DONE:
                        return
                return  # the search had already ended
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise DeepevolveError("Watch", e.code(), e.details()) from None
                now = time.monotonic()
                lost_since = lost_since or now
                if now - lost_since > reconnect_for:
                    raise DeepevolveError("Watch", e.code(), e.details()) from None
                time.sleep(min(2.0, 0.2 + (now - lost_since) / 10))
            finally:
                stream.cancel()

    def wait(self, search_id, progress=None, bar=False):
        """Watches the search to its end and returns its final SearchSummary. `progress`,
        when given, is called with each event; `bar` shows a progress bar (tqdm)."""
        shown = ProgressBar(self.get(search_id)) if bar else None
        try:
            for event in self.watch(search_id):
                if progress is not None:
                    progress(event)
                if shown is not None:
                    shown(event)
                if event.kind == service_pb2.Event.SEARCH_DONE:
                    return event.search
            return self.get(search_id)
        finally:
            if shown is not None:
                shown.close()

    def dataframe(self, search_id):
        """Every trial of the search as a pandas DataFrame (to_dataframe)."""
        space = self.get(search_id).spec.space
        return to_dataframe(self.trials(search_id), space)


class ProgressBar:
    """A search's genomes done out of those planned, and the best accuracy so far, as a
    tqdm bar (a widget in a notebook where ipywidgets is installed, text elsewhere)."""

    _COUNTED = (service_pb2.Event.GENOME_FINISHED, service_pb2.Event.GENOME_CACHED,
                service_pb2.Event.GENOME_PRUNED, service_pb2.Event.GENOME_FAILED)

    def __init__(self, summary):
        try:
            import ipywidgets  # noqa: F401  (a notebook's widget bar needs it)
            from tqdm.auto import tqdm
        except ImportError:
            try:
                from tqdm import tqdm
            except ImportError:
                raise ImportError("a progress bar needs tqdm (apt-get install python3-tqdm)") from None
        self.bar = tqdm(total=summary.trials_planned or None, desc=f"search {summary.search_id}", unit="genome")
        self.best = None

    def __call__(self, event):
        if event.kind not in self._COUNTED:
            return
        if event.kind != service_pb2.Event.GENOME_FAILED and (self.best is None or event.trial.accuracy > self.best):
            self.best = event.trial.accuracy
            self.bar.set_postfix(best=f"{self.best:.4f}")
        self.bar.update(1)

    def close(self):
        self.bar.close()


def _is_spec_path(spec):
    text = os.fspath(spec)
    return text.endswith((".yaml", ".yml", ".json")) or os.sep in text or os.path.exists(text)


def gene_value_proto(value):
    """A Python value as a GeneValue: an int, a float, or a name (YAML's booleans are the
    names "true" and "false", as in spec files)."""
    from deepevolve._stubs import genome_pb2

    if isinstance(value, bool):
        return genome_pb2.GeneValue(string_value="true" if value else "false")
    if isinstance(value, int):
        return genome_pb2.GeneValue(int_value=value)
    if isinstance(value, float):
        return genome_pb2.GeneValue(float_value=value)
    return genome_pb2.GeneValue(string_value=str(value))


def gene_value(value):
    """A GeneValue as a Python int, float or str."""
    which = value.WhichOneof("value")
    return None if which is None else getattr(value, which)


def genes_of(genome, space):
    """A genome's genes by name (inactive genes left out), given its search's space."""
    out = {}
    for gene, value in zip(space.genes, genome.values):
        if value.WhichOneof("value") is not None:
            out[gene.name] = gene_value(value)
    return out


def trial_record(trial, space):
    """One trial as a flat dict: ids, state, results, genes and metrics by name."""
    record = {
        "genome_id": trial.genome.id,
        "hash": trial.genome.hash,
        "generation": trial.genome.generation,
        "state": service_pb2.TrialState.Name(trial.state),
        "accuracy": trial.accuracy,
        "test_accuracy": trial.test_accuracy,
        "epochs_run": trial.epochs_run,
        "train_seconds": trial.train_seconds,
    }
    if trial.member:
        record.update(member=trial.member, schedule=trial.schedule)
    record.update(genes_of(trial.genome, space))
    for name in sorted(trial.metrics):
        record.setdefault(name, trial.metrics[name])
    return record


def to_dataframe(trials, space):
    """Trials as a pandas DataFrame, one row each (trial_record's columns)."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe needs pandas (apt-get install python3-pandas)") from None
    return pandas.DataFrame([trial_record(t, space) for t in trials])


def state_name(state):
    """A SearchState's name: "RUNNING", "SUCCEEDED", ..."""
    return service_pb2.SearchState.Name(state)
