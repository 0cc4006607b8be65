"""Builds the package with its protocol stubs generated from ../proto (never edited by
hand): protoc's Python generator and gRPC's Python plugin (Debian: protobuf-compiler and
protobuf-compiler-grpc), or grpc_tools where that is installed instead."""

import os
import shutil
import subprocess
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "proto")
FILES = ["deepevolve/v1/genome.proto", "deepevolve/v1/search.proto", "deepevolve/v1/service.proto"]


def generate():
    if not os.path.isdir(PROTO):
        if os.path.exists(os.path.join(HERE, "deepevolve", "v1", "service_pb2.py")):
            return  # a source distribution: generated when it was made
        sys.exit("deepevolve: ../proto not found: install from a checkout of the repository")
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if protoc and plugin:
        command = [protoc, f"--plugin=protoc-gen-grpc={plugin}", "--grpc_out", HERE]
    else:
        try:
            import grpc_tools  # noqa: F401
        except ImportError:
            sys.exit("deepevolve: generating the stubs needs protoc and grpc_python_plugin "
                     "(apt-get install protobuf-compiler protobuf-compiler-grpc) or grpcio-tools")
        command = [sys.executable, "-m", "grpc_tools.protoc", "--grpc_python_out", HERE]
    os.makedirs(os.path.join(HERE, "deepevolve", "v1"), exist_ok=True)
    subprocess.run(command + [f"--proto_path={PROTO}", "--python_out", HERE] + FILES, check=True)


# Before setup(): every step (the metadata's included) lists deepevolve.v1's files.
generate()
setup()
