"""Runs a Python function as a trainer program: `python3 -m deepevolve.run REF`.

REF is `module:function` (importable where the worker runs) or the path of a pickled
function (what tune() writes). The function is called with the trial (deepevolve.trainer's
Trial) and returns its validation accuracy, or a dict with "accuracy" and optionally
"test_accuracy" and metrics of its own; or it calls trial.finish() itself.

    deepevolve-worker --trainer mnist@1="python3 -m deepevolve.run mymodels:train_mlp"
"""

import importlib
import os
import pickle
import sys

from deepevolve.trainer import ProtocolError, Trial


def load(ref):
    """The function REF names."""
    if os.path.isfile(ref):
        with open(ref, "rb") as f:
            return pickle.load(f)  # cloudpickle's by-value functions load with pickle
    module_name, colon, name = ref.partition(":")
    if not colon or not module_name or not name:
        raise ValueError(f"{ref!r} is neither a file nor module:function")
    target = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def finish(trial, result):
    """Ends the trial with what the function returned."""
    if isinstance(result, dict):
        values = dict(result)
        if "accuracy" not in values:
            raise ProtocolError(f"the objective returned a dict without 'accuracy': {sorted(values)}")
        trial.finish(values.pop("accuracy"), test_accuracy=values.pop("test_accuracy", None), **values)
    elif isinstance(result, (int, float)) and not isinstance(result, bool):
        trial.finish(result)
    else:
        raise ProtocolError(
            f"the objective returned {type(result).__name__}: return the validation accuracy "
            "(a number in [0, 1]) or a dict with 'accuracy', or call trial.finish()"
        )


def main(argv):
    if len(argv) != 2:
        print("usage: python3 -m deepevolve.run module:function | FILE.pkl", file=sys.stderr)
        return 2
    with Trial() as trial:
        try:
            objective = load(argv[1])
        except Exception as e:  # nothing of the genome's: this worker cannot run it
            trial.fail(f"cannot load the objective {argv[1]}: {type(e).__name__}: {e}", kind="setup")
            return 0
        result = objective(trial)
        if not trial.ended and not trial.should_stop:
            finish(trial, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
