"""deepevolve from Python: a client of a master, a helper for training programs, and
tune() for a Python function.

`deepevolve.trainer` needs nothing but the standard library (a training program imports
it on any worker); the client and tune() need grpcio and protobuf, imported when first
used.
"""

__all__ = ["Client", "DeepevolveError", "Trial", "Pruned", "tune", "TuneResult", "to_dataframe"]

_HOMES = {
    "Client": "deepevolve.client",
    "DeepevolveError": "deepevolve.client",
    "to_dataframe": "deepevolve.client",
    "Trial": "deepevolve.trainer",
    "Pruned": "deepevolve.trainer",
    "tune": "deepevolve.tuning",
    "TuneResult": "deepevolve.tuning",
}


def __getattr__(name):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'deepevolve' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
