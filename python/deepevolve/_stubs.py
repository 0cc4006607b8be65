"""The protocol's generated modules, with an error that says how to make them."""

try:
    from deepevolve.v1 import genome_pb2, search_pb2, service_pb2, service_pb2_grpc
except ImportError as e:  # pragma: no cover - depends on the install
    if getattr(e, "name", "") and not str(getattr(e, "name", "")).startswith("deepevolve"):
        raise  # grpc or protobuf itself is missing: its own message says which
    raise ImportError(
        "deepevolve's protocol stubs (deepevolve/v1/*_pb2.py) are not generated: build the "
        "tree (cmake --build build makes them in python/deepevolve/v1/) or install the "
        "package (pip install ./python, which needs protoc and grpc_python_plugin)"
    ) from e

__all__ = ["genome_pb2", "search_pb2", "service_pb2", "service_pb2_grpc"]
