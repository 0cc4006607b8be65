"""Finished trainings from elsewhere, as Client.import_trials takes them: another run's
genomes.json, or an Optuna study (Debian's python3-optuna reads its storage).

    from deepevolve import Client
    from deepevolve.imports import from_optuna, from_results
    import optuna

    study = optuna.load_study(study_name="mlp", storage="sqlite:///optuna.db")
    Client().import_trials("space.yaml", from_optuna(study), source="optuna study mlp")

`deepevolve import FILE --spec space.yaml` does the same for results files from the shell
(genomes.csv too).
"""

import json
import math
import re

_METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")


def from_results(path):
    """The finished trials (status "ok") of a genomes.json that `deepevolve local` or
    tune() wrote."""
    with open(path) as f:
        genomes = json.load(f)
    if not isinstance(genomes, list):
        raise ValueError(f"{path}: not a genomes.json (expected an array of genomes)")
    return [g for g in genomes if isinstance(g, dict) and g.get("status") == "ok" and "accuracy" in g]


def from_optuna(study, accuracy=None):
    """An Optuna study's completed trials: each trial's params are its genes and its value
    the accuracy (a study that maximizes a value in [0, 1]). `accuracy`, a function of the
    FrozenTrial, takes the accuracy from elsewhere (a user attribute, one of several
    values). Numeric user attributes become metrics. The params must be values of the
    deepevolve space (suggest_categorical, or suggest_int/suggest_float with the space's
    step): the master refuses one that is not, naming it."""
    import optuna

    if accuracy is None:
        if len(study.directions) != 1 or study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise ValueError(
                "the study does not maximize one value: pass accuracy=, a function of the trial "
                "that gives its accuracy in [0, 1]"
            )
        accuracy = lambda trial: trial.value  # noqa: E731
    out = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        metrics = {k: float(v) for k, v in trial.user_attrs.items()
                   if _METRIC.match(k) and isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)}
        seconds = trial.duration.total_seconds() if trial.duration is not None else 0.0
        out.append({"genes": dict(trial.params), "accuracy": float(accuracy(trial)), "metrics": metrics,
                    "train_seconds": seconds, "source_number": trial.number})
    return out
