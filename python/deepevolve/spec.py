"""Keywords over a SearchSpec, as the CLI's flags go over a spec file (cli/spec_flags.cc).

A spec file itself is read by the master's parser (Client.read_spec), never here, so
that its log ranges and number identities are the CLI's to the digit.
"""

from deepevolve._stubs import search_pb2

_STRATEGY_ONEOF = search_pb2.SearchSpec.DESCRIPTOR.oneofs_by_name["strategy"]
STRATEGIES = tuple(f.name for f in _STRATEGY_ONEOF.fields)
# The strategies' own settings a keyword may set, as the CLI's flags.
_KNOBS = ("population", "generations", "trials", "ready_epochs", "tournament_size", "candidates", "warmup", "explore")
_TASK = ("epochs", "train_limit", "test_limit", "trainer", "dataset")
KEYWORDS = frozenset(
    _KNOBS + _TASK + ("strategy", "seed", "name", "pruner", "checkpoint_every", "objectives", "constraints", "retrain", "compat", "preset", "warm_start")
)


def parse_objective(text):
    """"params:min" -> Objective(metric="params", goal="min")."""
    metric, colon, goal = str(text).rpartition(":")
    if not colon or not metric or not goal:
        raise ValueError(f"objective {text!r}: write METRIC:max or METRIC:min (e.g. params:min)")
    return search_pb2.Objective(metric=metric, goal=goal)


def parse_constraint(text):
    """"params<=1e6" -> Constraint(metric="params", max=1e6); ">=" for a minimum."""
    for op in ("<=", ">="):
        metric, found, bound = str(text).partition(op)
        if found and metric.strip():
            try:
                value = float(bound)
            except ValueError:
                break
            c = search_pb2.Constraint(metric=metric.strip())
            if op == "<=":
                c.max = value
            else:
                c.min = value
            return c
    raise ValueError(f"constraint {text!r}: write METRIC<=NUMBER or METRIC>=NUMBER (e.g. params<=1e6)")


def _checkpoint(spec, every):
    spec.ClearField("checkpoint")
    text = str(every)
    if text == "none":
        spec.checkpoint.disabled = True
    elif text.isdigit() and int(text) > 0:
        spec.checkpoint.every_epochs = int(text)
    elif text.endswith("s") and _positive(text[:-1]):
        spec.checkpoint.every_seconds = float(text[:-1])
    else:
        raise ValueError(f"checkpoint_every {every!r}: N (every N epochs), 'Ns' (every N seconds) or 'none'")


def _warm_start(spec, value):
    """warm_start=SEARCH, "SEARCH" or "SEARCH:N": begin with search SEARCH's best N."""
    search, _, best = str(value).partition(":")
    if not search.isdigit() or int(search) <= 0 or (best and (not best.isdigit() or int(best) <= 0)):
        raise ValueError(f"warm_start {value!r}: SEARCH or 'SEARCH:N' (a search id, N genomes)")
    spec.ClearField("warm_start")
    spec.warm_start.search_id = int(search)
    spec.warm_start.best = int(best or 0)


def _positive(text):
    try:
        return float(text) > 0
    except ValueError:
        return False


def apply_keywords(spec, **keywords):
    """Sets `keywords` on the SearchSpec `spec` in place (see Client.submit). A keyword
    that does not apply to the search's strategy is a ValueError naming it, never
    taken to mean another strategy's setting."""
    unknown = sorted(set(keywords) - KEYWORDS)
    if unknown:
        raise TypeError(f"unknown keyword {', '.join(unknown)} (known: {', '.join(sorted(KEYWORDS))})")
    given = {k: v for k, v in keywords.items() if v is not None}
    if "preset" in given:
        spec.preset = given["preset"]
    if not spec.preset and not spec.space.genes:
        spec.preset = "fashion_mnist_mlp"
    if "name" in given:
        spec.name = given["name"]
    strategy = given.get("strategy")
    if strategy is not None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        if spec.WhichOneof("strategy") != strategy:
            getattr(spec, strategy).SetInParent()
    knobs = {k: given[k] for k in _KNOBS if k in given}
    if knobs:
        if spec.WhichOneof("strategy") is None:
            spec.generational.SetInParent()
        current = spec.WhichOneof("strategy")
        settings = getattr(spec, current)
        for knob, value in knobs.items():
            if knob not in settings.DESCRIPTOR.fields_by_name:
                takers = [s for s in STRATEGIES if knob in getattr(spec, s).DESCRIPTOR.fields_by_name]
                raise ValueError(f"{knob} does not apply to the {current} strategy (only to {', '.join(takers)})")
            setattr(settings, knob, value)
    for field in _TASK:
        if field in given:
            setattr(spec.task, field, given[field])
    if "seed" in given:
        spec.seed = int(given["seed"])
    if given.get("compat"):
        spec.deepevolve_compat = True
    if given.get("retrain"):
        spec.retrain = True
    pruner = given.get("pruner")
    if pruner == "none":
        spec.ClearField("pruner")
    elif pruner in ("median", "asha"):
        if spec.pruner.WhichOneof("kind") != pruner:
            getattr(spec.pruner, pruner).SetInParent()
    elif pruner is not None:
        raise ValueError(f"unknown pruner {pruner!r} (known: none, median, asha)")
    if "warm_start" in given:
        _warm_start(spec, given["warm_start"])
    if "checkpoint_every" in given:
        _checkpoint(spec, given["checkpoint_every"])
    if "objectives" in given:
        spec.ClearField("objectives")
        spec.objectives.extend(parse_objective(o) for o in _as_list(given["objectives"]))
    if "constraints" in given:
        spec.ClearField("constraints")
        spec.constraints.extend(parse_constraint(c) for c in _as_list(given["constraints"]))
    return spec


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)
