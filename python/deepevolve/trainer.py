"""The helper for training programs: the trial in, JSON lines out (README, "The protocol").

    from deepevolve.trainer import Trial

    with Trial() as trial:                       # reads the trial the worker wrote
        model = build(trial.genes, seed=trial.seed, device=trial.device)
        for epoch in trial.epoch_range():        # 1..epochs, or on from a checkpoint
            loss = train_one_epoch(model)
            trial.report(epoch, val_accuracy=evaluate(model), loss=loss)
            trial.check()                        # raises Pruned once the worker says stop
        trial.finish(evaluate(model), test_accuracy=test(model))

Standard library only, so that a program imports it under any Python a worker runs. An
exception inside the block becomes the failure line the worker understands (an import,
a missing file or a permission: the set-up's fault; anything else: the genome's), with
its traceback on stderr. While a Trial is open, what the program prints goes to stderr
(the worker's log), so that no print can break the protocol on stdout.
"""

import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import traceback

_METRIC_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_MAX_METRICS = 32
_RESERVED = ("accuracy", "test_accuracy", "train_seconds")
# Exceptions that say the machine or the program is not set up, not that the genome is bad:
# the worker retries such a trial elsewhere and never records it against the genome.
SETUP_ERRORS = (ImportError, FileNotFoundError, PermissionError, NotADirectoryError, ConnectionError)


class Pruned(Exception):
    """The worker asked this trial to stop: its search's pruner stopped the genome, or the
    search was cancelled. Its result is the last reported epoch's; raised by check()."""


class ProtocolError(ValueError):
    """A call that would break the protocol (an epoch out of order, an accuracy outside
    [0, 1], a metric named as no metric may be): the program's fault, not the genome's."""


class _Closed(SystemExit):
    """The worker is gone (the protocol's pipe is closed): nothing more can be said."""


def _finite(value, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ProtocolError(f"{what} must be finite, not {value!r}")
    return number


def _accuracy(value, what):
    number = _finite(value, what)
    if not 0.0 <= number <= 1.0:
        raise ProtocolError(f"{what} must be in [0, 1] (a fraction, not a percentage), not {value!r}")
    return number


def _metrics(metrics):
    if len(metrics) > _MAX_METRICS:
        raise ProtocolError(f"at most {_MAX_METRICS} metrics, not {len(metrics)}")
    out = {}
    for name, value in metrics.items():
        if not _METRIC_NAME.match(name) or name in _RESERVED:
            raise ProtocolError(f"metric {name!r}: names are [a-z][a-z0-9_]* and not {', '.join(_RESERVED)}")
        out[name] = _finite(value, f"metric {name}")
    return out


class Trial:
    """One trial of a search, as the worker handed it over.

    Attributes: genes (dict by name, inactive genes left out), seed, epochs, device
    ("cpu", "cuda:0"), threads, dataset, data_dirs, model_path (where a model file is
    uploaded from), workdir, trainer, search_id, genome_id, genome_hash, and for
    checkpoints checkpoint_path, checkpoint_every, resume_from, resume_epoch.
    """

    def __init__(self, trial=None, *, out=None, redirect_stdout=None):
        """`trial`: the trial as a dict; by default read from stdin as the worker writes
        it (or from $DEEPEVOLVE_TRIAL when stdin is a terminal). `out`: where protocol
        lines go (default: this process's stdout, which prints then no longer reach)."""
        if trial is None:
            trial = _read_trial()
        if not isinstance(trial, dict) or not isinstance(trial.get("genes"), dict):
            raise ProtocolError("the trial must be a JSON object with its genes")
        self.raw = trial
        self.genes = dict(trial["genes"])
        self.seed = int(trial.get("seed", 0))
        self.epochs = int(trial.get("epochs", 1))
        self.device = trial.get("device", "cpu")
        self.threads = int(trial.get("threads", 0) or 0)
        self.dataset = trial.get("dataset", "")
        self.data_dirs = list(trial.get("data_dirs", []))
        self.model_path = trial.get("model_path", "")
        self.workdir = trial.get("workdir", "")
        self.trainer = trial.get("trainer", "")
        self.search_id = trial.get("search_id", 0)
        self.genome_id = trial.get("genome_id", 0)
        self.genome_hash = trial.get("genome_hash", "")
        self.checkpoint_path = trial.get("checkpoint_path", "") or ""
        self.checkpoint_every = int(trial.get("checkpoint_every", 0) or 0)
        self.resume_from = trial.get("resume_from", "") or ""
        self.resume_epoch = int(trial.get("resume_epoch", 0) or 0) if self.resume_from else 0
        self._last_epoch = self.resume_epoch
        self._last_accuracy = None
        self._stop = threading.Event()
        self._ended = False
        if redirect_stdout is None:
            redirect_stdout = out is None
        if out is None:
            sys.stdout.flush()
            out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
        self._out = out
        if redirect_stdout:
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: self._stop.set())

    def __repr__(self):
        return f"Trial(genome {self.genome_id}, genes={self.genes}, epochs={self.epochs}, seed={self.seed})"

    # What a training loop asks.

    @property
    def start_epoch(self):
        """The first epoch to train: 1, or the one after the checkpoint resumed from."""
        return self.resume_epoch + 1

    def epoch_range(self):
        """The epochs to train, start_epoch to epochs."""
        return range(self.start_epoch, self.epochs + 1)

    def discard_checkpoint(self, reason):
        """Trains from epoch 1 instead of resuming (a state this program cannot use); the
        worker records that the trial did not resume, and `reason` goes to its log."""
        if self._last_epoch != self.resume_epoch:
            raise ProtocolError("discard_checkpoint() after an epoch was reported")
        print(f"not resuming from {self.resume_from}: {reason}", file=sys.stderr)
        self.resume_from, self.resume_epoch, self._last_epoch = "", 0, 0

    @property
    def should_stop(self):
        """True once the worker asked the trial to stop (SIGTERM)."""
        return self._stop.is_set()

    def check(self):
        """Raises Pruned once the worker asked the trial to stop; call it between epochs."""
        if self._stop.is_set():
            raise Pruned(f"genome {self.genome_id} was stopped after epoch {self._last_epoch}")

    def seed_everything(self):
        """Seeds Python's random, and numpy's and torch's generators when those are
        imported, from the trial's seed."""
        import random

        random.seed(self.seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(self.seed)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(self.seed)
        return self.seed

    # What it tells the worker.

    def _emit(self, line):
        if self._ended:
            raise ProtocolError("the trial has already finished or failed: nothing more may be written")
        try:
            self._out.write(json.dumps(line, allow_nan=False) + "\n")
            self._out.flush()
        except BrokenPipeError:
            raise _Closed(1) from None

    def report(self, epoch, val_accuracy, loss=None, **metrics):
        """After each epoch: its validation accuracy in [0, 1], its training loss, and
        any metrics of your own (names [a-z][a-z0-9_]*, finite numbers). Epochs go up
        one at a time from start_epoch."""
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise ProtocolError(f"epoch must be an integer, not {epoch!r}")
        if epoch != self._last_epoch + 1 or epoch > self.epochs:
            raise ProtocolError(f"epoch {epoch} after epoch {self._last_epoch} (epochs go 1, 2, ... {self.epochs})")
        line = {"epoch": epoch, "val_accuracy": _accuracy(val_accuracy, "val_accuracy")}
        if loss is not None:
            line["loss"] = _finite(loss, "loss")
            if line["loss"] < 0:
                raise ProtocolError(f"loss must not be negative, not {loss!r}")
        if metrics:
            line["metrics"] = _metrics(metrics)
        self._emit(line)
        self._last_epoch, self._last_accuracy = epoch, line["val_accuracy"]

    def checkpoint_due(self, epoch):
        """Whether to save the state after `epoch`: the search takes checkpoints and this
        is one of its epochs (every epoch when it counts seconds), not the last."""
        if not self.checkpoint_path or epoch >= self.epochs:
            return False
        return self.checkpoint_every <= 0 or epoch % self.checkpoint_every == 0

    @contextlib.contextmanager
    def checkpoint(self, epoch):
        """Saves the training state after `epoch` (already reported): yields a binary
        file to write it to; on leaving the block the file is synced, renamed into place
        and announced, so that the worker never reads half of one.

            if trial.checkpoint_due(epoch):
                with trial.checkpoint(epoch) as f:
                    torch.save(state, f)
        """
        if not self.checkpoint_path:
            raise ProtocolError("this search takes no checkpoints (checkpoint_path is empty)")
        if epoch != self._last_epoch:
            raise ProtocolError(f"a checkpoint after epoch {epoch}, but the last epoch reported is {self._last_epoch}")
        partial = self.checkpoint_path + ".partial"
        with open(partial, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.checkpoint_path)
        self._emit({"checkpoint": epoch})

    def finish(self, accuracy, test_accuracy=None, **metrics):
        """The result: the accuracy the search ranks by (validation, in [0, 1]), the test
        accuracy if measured, and metrics of your own. The last thing a trial says."""
        line = {"accuracy": _accuracy(accuracy, "accuracy")}
        if test_accuracy is not None:
            line["test_accuracy"] = _accuracy(test_accuracy, "test_accuracy")
        if metrics:
            line["metrics"] = _metrics(metrics)
        self._emit(line)
        self._ended = True

    def fail(self, reason, kind="genome"):
        """Ends the trial as failed: kind "genome" (this genome cannot be trained: out of
        memory, a NaN loss) or "setup" (this machine cannot train it: a missing dataset;
        the genome is tried elsewhere and never recorded as failed)."""
        if kind not in ("genome", "setup"):
            raise ValueError(f"kind must be 'genome' or 'setup', not {kind!r}")
        self._emit({"error": str(reason)[:4000] or "failed", "kind": kind})
        self._ended = True

    @property
    def ended(self):
        """Whether finish() or fail() was called."""
        return self._ended

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is not None and not issubclass(kind, Exception):
            return False  # KeyboardInterrupt, SystemExit, the worker gone
        if self._stop.is_set() or kind is Pruned:
            return True  # stopped: the worker already has the last epoch's result
        if kind is None:
            if not self._ended:
                self.fail("the training ended without trial.finish(accuracy)", kind="setup")
            return False
        traceback.print_exception(kind, error, tb, file=sys.stderr)
        if self._ended:
            return False
        reason = f"{kind.__name__}: {error}" if str(error) else kind.__name__
        self.fail(reason, kind="setup" if issubclass(kind, SETUP_ERRORS + (ProtocolError,)) else "genome")
        return True


def _read_trial():
    text = sys.stdin.read() if sys.stdin is not None and not sys.stdin.isatty() else ""
    if not text.strip():
        text = os.environ.get("DEEPEVOLVE_TRIAL", "")
    if not text.strip():
        raise ProtocolError(
            "no trial: this program is run by a deepevolve worker, which writes the trial as "
            "JSON on stdin (to try it by hand: echo '{\"genes\": {...}, \"epochs\": 2}' | python3 PROGRAM)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"the trial on stdin is not JSON: {e}") from None
