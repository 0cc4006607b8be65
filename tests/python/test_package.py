"""`pip install ./python` works where pip may install (a virtual environment here, with
Debian's packages for its dependencies and no index), generating the stubs from proto/."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import SOURCE


def test_pip_installs_the_package_with_stubs_generated_from_the_protocol(tmp_path):
    for tool in ("protoc", "grpc_python_plugin"):
        assert shutil.which(tool), f"{tool} (install-deps.sh installs it)"
    # A copy of what pip reads, so that the tree itself gets no build directory.
    shutil.copytree(os.path.join(SOURCE, "proto"), tmp_path / "proto")
    shutil.copytree(os.path.join(SOURCE, "python"), tmp_path / "python",
                    ignore=shutil.ignore_patterns("v1", "__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                                "--no-index", str(tmp_path / "python")], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    probe = subprocess.run(
        [python, "-c", "import deepevolve, deepevolve.v1.service_pb2 as s; "
                       "from deepevolve import Client, Trial, tune; "
                       "print(deepevolve.__file__); print(s.ReadSpecRequest.DESCRIPTOR.full_name)"],
        capture_output=True, text=True, cwd=str(tmp_path))
    assert probe.returncode == 0, probe.stderr
    where, name = probe.stdout.split()
    assert where.startswith(str(venv)) and name == "deepevolve.v1.ReadSpecRequest"
    usage = subprocess.run([python, "-m", "deepevolve.run"], capture_output=True, text=True, cwd=str(tmp_path))
    assert usage.returncode == 2 and "module:function" in usage.stderr


def test_the_stubs_are_generated_never_committed():
    tracked = subprocess.run(["git", "ls-files", "python"], capture_output=True, text=True, cwd=SOURCE)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert not [f for f in tracked.stdout.split() if f.endswith(("_pb2.py", "_pb2_grpc.py"))]
