"""Real processes for the Python package's tests: a deepevolve-master on 127.0.0.1 (port
0, a bearer token) and deepevolve-worker daemons offering trainer programs.

  DEEPEVOLVE_BUILD=build /usr/bin/python3 -m pytest tests/python

Waits are bounded polls, never fixed sleeps."""

import os
import signal
import subprocess
import sys

import pytest

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("DEEPEVOLVE_BUILD", os.path.join(SOURCE, "build")))
sys.path.insert(0, os.path.join(SOURCE, "python"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "e2e"))
import distributed_test  # noqa: E402  (the end-to-end tests' binary() and wait_for())

distributed_test.BUILD = BUILD
from distributed_test import binary, wait_for  # noqa: E402,F401
MINIMAL = os.path.join(SOURCE, "examples", "trainers", "minimal.py")
TOKEN = "s3cret-token"


class Master:
    """A real master; restart() keeps its port and database."""

    def __init__(self, directory, lease_seconds=2.0):
        self.dir = directory
        self.db = os.path.join(directory, "master.db")
        self.token_file = os.path.join(directory, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.port = 0
        self.lease_seconds = lease_seconds
        self.process = None
        self.workers = []
        self.start()

    def start(self):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        with open(os.path.join(self.dir, "master.log"), "a") as log:
            self.process = subprocess.Popen(
                [binary("master", "deepevolve-master"), "--db", self.db, "--listen", f"127.0.0.1:{self.port}",
                 "--port-file", port_file, "--lease-seconds", str(self.lease_seconds), "--durability",
                 "process", "--insecure", "--token-file", self.token_file],
                stdout=log, stderr=log)
        wait_for(lambda: os.path.exists(port_file) or self.process.poll() is not None, "the master to listen")
        assert self.process.poll() is None, self.log()
        with open(port_file) as f:
            self.port = int(f.read())

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def restart(self):
        self.kill()
        self.start()

    def worker(self, name, *trainers, env=None):
        args = [binary("worker", "deepevolve-worker"), "--master", self.address, "--id", name, "--insecure",
                "--threads", "1", "--slots-dir", os.path.join(self.dir, "slots"), "--no-builtin-trainer",
                "--trainer-work-dir", self.dir]
        for t in trainers:
            args += ["--trainer", t]
        with open(os.path.join(self.dir, f"{name}.log"), "a") as log:
            process = subprocess.Popen(args, stdout=log, stderr=log, env=env)
        self.workers.append(process)
        return process

    def log(self, name="master.log"):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        for p in self.workers + [self.process]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def master(tmp_path):
    m = Master(str(tmp_path))
    yield m
    m.close()


@pytest.fixture
def client(master):
    from deepevolve import Client

    with Client(master.address, token=TOKEN, insecure=True) as c:
        yield c
