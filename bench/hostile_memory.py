#!/usr/bin/python3
"""The master's resident memory under hostile load on both of its ports, with no
credentials: 100 concurrent connections to each, each sending the largest message or
body the port accepts (gRPC: 256 MiB to Submit and to Report; HTTP: a POST whose body
claims 4 GiB, a header line without its end, endless headers, a byte a second). Prints
the master's peak resident memory (VmHWM) above its resident memory before, per
attack, the median of --repeats fresh masters. Needs Debian's python3-grpcio (so
/usr/bin/python3) and a build (bench/README.md, "Hostile load").

  /usr/bin/python3 bench/hostile_memory.py [--build build] [--repeats 3]"""
import argparse
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc

CONNECTIONS = 100
GRPC_MESSAGE = 256 << 20


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+) kB", f.read()).group(1))


class Master:
    def __init__(self, build):
        self.dir = tempfile.mkdtemp(prefix="deepevolve-hostile-")
        self.certs = os.path.join(self.dir, "certs")
        subprocess.run([os.path.join(build, "cli", "deepevolve"), "certs", "--out", self.certs,
                        "--hosts", "127.0.0.1"], check=True, capture_output=True)
        files = {n: os.path.join(self.dir, n) for n in ("port", "http-port", "log")}
        cert = lambda n: os.path.join(self.certs, n)  # noqa: E731
        self.log = open(files["log"], "w")
        self.process = subprocess.Popen(
            [os.path.join(build, "master", "deepevolve-master"), "--db",
             os.path.join(self.dir, "m.db"), "--listen", "127.0.0.1:0", "--port-file",
             files["port"], "--http-listen", "127.0.0.1:0", "--http-port-file", files["http-port"],
             "--tls-cert", cert("master.pem"), "--tls-key", cert("master.key"), "--tls-client-ca",
             cert("ca.pem"), "--token-file", cert("token")], stdout=self.log, stderr=self.log)
        for _ in range(600):
            if os.path.exists(files["http-port"]) and os.path.exists(files["port"]):
                break
            time.sleep(0.05)
        time.sleep(0.2)  # the files are written whole; let the port settle
        with open(files["port"]) as f:
            self.port = int(f.read())
        with open(files["http-port"]) as f:
            self.http_port = int(f.read())
        with open(cert("ca.pem"), "rb") as f:
            self.ca = f.read()
        self.before = rss_kib(self.process.pid, "VmRSS")

    def growth_mib(self):
        return (rss_kib(self.process.pid, "VmHWM") - self.before) / 1024

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def http_attack(master, kind, index):
    context = ssl.create_default_context(cadata=master.ca.decode())
    try:
        raw = socket.create_connection(("127.0.0.1", master.http_port), timeout=15)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            if kind == "body":
                s.sendall(b"POST /healthz HTTP/1.1\r\nContent-Length: 4294967296\r\n\r\n")
                chunk, limit = b"\0" * (1 << 20), 256 << 20
            elif kind == "line":
                s.sendall(b"GET /healthz HTTP/1.1\r\nX: ")
                chunk, limit = b"a" * (1 << 20), 256 << 20
            elif kind == "headers":
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
                chunk, limit = b"X-A: b\r\n" * 100000, 256 << 20
            else:  # slow: a byte a second for 5 s
                s.sendall(b"GET /healthz HTTP/1.1\r\nX: ")
                for _ in range(5):
                    s.sendall(b"a")
                    time.sleep(1)
                return
            sent = 0
            while sent < limit:
                s.sendall(chunk)
                sent += len(chunk)
    except (OSError, ssl.SSLError):
        pass


def grpc_attack(master, method, payload):
    channel = grpc.secure_channel(f"127.0.0.1:{master.port}",
                                  grpc.ssl_channel_credentials(master.ca),
                                  options=[("grpc.max_send_message_length", -1)])
    try:
        channel.unary_unary(method)(payload, timeout=120)
    except grpc.RpcError:
        pass
    finally:
        channel.close()


def run(build, attack):
    master = Master(build)
    try:
        if attack == "grpc":
            payload = b"\x0a" + b"\x80\x80\x80\x80\x01" + b"x" * (GRPC_MESSAGE - 16)
            targets = [(grpc_attack, (master, m, payload)) for m in
                       ["/deepevolve.v1.SearchService/Submit",
                        "/deepevolve.v1.WorkerService/Report"] * (CONNECTIONS // 2)]
        else:
            targets = [(http_attack, (master, attack, i)) for i in range(CONNECTIONS)]
        threads = [threading.Thread(target=f, args=a) for f, a in targets]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        alive = master.process.poll() is None
        return master.growth_mib(), elapsed, alive
    finally:
        master.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    print(f"{CONNECTIONS} connections at once, no credentials; peak resident memory above the "
          f"master's before, median of {args.repeats} fresh masters")
    print(f"{'attack':<34} {'growth MiB':>10} {'(min-max)':>14} {'seconds':>8}  master")
    names = {"grpc": "gRPC 256 MiB Submit/Report", "body": "HTTP POST, body of 4 GiB",
             "line": "HTTP header line without end", "headers": "HTTP headers without end",
             "slow": "HTTP a byte a second"}
    for attack, name in names.items():
        results = [run(build, attack) for _ in range(args.repeats)]
        growth = [r[0] for r in results]
        print(f"{name:<34} {statistics.median(growth):>10.1f} "
              f"{f'({min(growth):.1f}-{max(growth):.1f})':>14} "
              f"{statistics.median(r[1] for r in results):>8.1f}  "
              f"{'alive' if all(r[2] for r in results) else 'DIED'}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
